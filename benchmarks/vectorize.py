"""Benchmark: `refscript.jit(vectorize=True)` on every kernel of examples/kernels, against the default lowering.

    python benchmarks/vectorize.py [--quick] [--only NAME,...] [--budget SECONDS]

For each kernel, at the large size of benchmarks/kernels.py (`--quick`: the
small size), `refscript.jit(fn)` and `refscript.jit(fn, vectorize=True)` are
first checked against the plain NumPy call (the result, and what the call
writes into its arguments: floats to rtol 1e-8, integers exactly). Then the
loops `vectorize=True` vectorised, and those it kept sequential with the
reason, are listed (`JitFunction.parallel_loops` after the first call); the
kernels where it vectorised a loop are timed, both lowerings called warm on
JAX arrays in interleaved rounds (`_timing.interleaved`), until the budget of
the kernel is spent. Ratios are ratios of medians.

Writes vectorize-benchmarks.md into a new temporary folder, `--out-dir DIR`, or
docs/ with `--update-docs` (`--quick` writes only where told).
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from pathlib import Path

import jax

import refscript  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _timing  # noqa: E402
import kernels  # noqa: E402  (the kernels, their sizes and the comparison with NumPy)


def run_kernel(name, module, quick: bool, budget_s: float) -> dict:
    size = kernels.SIZES[name][0 if quick else 1]
    args, expected, expected_after, _ = kernels.numpy_reference(module, name, size)
    params = list(inspect.signature(getattr(module, name)).parameters)
    device_args = kernels.on_device(args)
    row = {"name": name, "n": size}
    candidates = {}
    for label, options in (("default", {}), ("vectorize", {"vectorize": True})):
        compiled = refscript.jit(getattr(module, name), return_updates=True, **options)
        result, updates = jax.block_until_ready(compiled(*device_args))
        problem = kernels.compare(result, expected) or kernels.check_updates(updates, args, expected_after, params)
        if problem:
            row["problem"] = f"{label}: {problem}"
            return row
        if options:
            row["vectorised"] = [(where.lineno, what) for where, what in compiled.parallel_loops
                                 if "vectorised automatically" in what]
            row["sequential"] = [(where.lineno, what) for where, what in compiled.parallel_loops
                                 if "kept sequential" in what]
        candidates[label] = _timing.Timed(lambda: device_args, lambda a, c=compiled: jax.block_until_ready(c(*a)))
    if not row["vectorised"]:
        return row
    for timed in candidates.values():
        timed.calls_per_sample = _timing.calls_per_sample(_timing.time_once(timed), 0.005)
    samples = _timing.interleaved(candidates, budget_s, min_rounds=5, max_rounds=200)
    row["medians"] = {label: _timing.median(values) for label, values in samples.items()}
    row["rounds"] = len(samples["default"])
    return row


def markdown(rows, machine: dict, command: str) -> str:
    timed = [r for r in rows if "medians" in r]
    speedups = [r["medians"]["default"] / r["medians"]["vectorize"] for r in timed]
    lines = [
        "# `vectorize=True` on the kernels",
        "",
        f"Written by `benchmarks/vectorize.py`; do not edit by hand. Regenerate with `{command}`.",
        "",
        "Every kernel of [examples/kernels](../examples/kernels), compiled with `refscript.jit(fn)` and",
        "with `refscript.jit(fn, vectorize=True)`, both checked against the plain NumPy call (results",
        "and the arrays the call writes into). Kernels where `vectorize=True` vectorised a loop are",
        "timed: both lowerings called warm on JAX arrays, in interleaved rounds; times are medians,",
        "the speedup is the ratio of the medians (above 1: `vectorize=True` is faster).",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()) + ".",
        "",
        f"`vectorize=True` vectorised loops in {len([r for r in rows if r.get('vectorised')])} of "
        f"{len(rows)} kernels; every kernel gave NumPy's results"
        + ("" if not any("problem" in r for r in rows) else " but those marked") + "."
        + (f" Geometric mean speedup over the timed kernels: {_timing.geomean(speedups):.2f}x." if timed else ""),
        "",
        "| kernel | n | loops vectorised (line) | kept sequential (line: why) | default | vectorize=True | speedup |",
        "|---|---:|---|---|---:|---:|---:|",
    ]
    for r in rows:
        if "problem" in r:
            lines.append(f"| {r['name']} | {r['n']} | **differs from NumPy**: {r['problem']} | | | | |")
            continue
        vectorised = ", ".join(str(line) for line, _ in r["vectorised"]) or "none"
        sequential = "; ".join(f"{line}: {what.split(': ', 1)[1]}" for line, what in r["sequential"]) or ""
        m = r.get("medians")
        cells = ([_timing.format_seconds(m["default"]), _timing.format_seconds(m["vectorize"]),
                  f"{m['default'] / m['vectorize']:.2f}x"] if m else ["", "", ""])
        lines.append(f"| {r['name']} | {r['n']:,} | {vectorised} | {sequential} | " + " | ".join(cells) + " |")
    lines += ["", "Loops that the dependence analysis does not accept (one iteration reads what another",
              "writes, reductions) are not listed: they are converted as without the option.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    # float64 throughout, as NumPy computes; scoped, so that importing this module (the tests do)
    # changes no one's JAX mode.
    with jax.enable_x64(True):
        return _main(argv)


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short budget; writes only with --out")
    parser.add_argument("--only", default=None, help="comma-separated kernel names")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per kernel")
    parser.add_argument("--out", default=None, help="Markdown file (default vectorize-benchmarks.md, "
                                                    "see --update-docs; --quick prints the table only)")
    _timing.add_report_arguments(parser)
    options = parser.parse_args(argv)
    budget = options.budget if options.budget is not None else (0.3 if options.quick else 8.0)
    modules = kernels.load_kernels(options.only.split(",") if options.only else None)
    machine = _timing.machine_description()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    start = time.perf_counter()
    rows = []
    for name in sorted(modules):
        row = run_kernel(name, modules[name], options.quick, budget)
        rows.append(row)
        m = row.get("medians")
        speed = f"{m['default'] / m['vectorize']:.2f}x" if m else "not timed"
        print(f"{name:22s} vectorised {[line for line, _ in row.get('vectorised', [])]} "
              f"sequential {[line for line, _ in row.get('sequential', [])]} {speed} {row.get('problem', '')}",
              flush=True)
    if load is not None:
        machine["load average at start"] = " / ".join(f"{v:.1f}" for v in load)
    machine["benchmark took"] = f"{time.perf_counter() - start:.0f} s"
    command = "python benchmarks/vectorize.py" + ("" if argv is None and len(sys.argv) == 1 else
                                                  " " + " ".join(argv if argv is not None else sys.argv[1:]))
    text = markdown(rows, machine, command)
    quiet = options.quick and not (options.out or options.update_docs or options.out_dir)
    out = None if quiet else _timing.report_path(options, "vectorize-benchmarks.md", options.out)
    if out is not None:
        out.write_text(text)
        print(f"wrote {out}")
    else:
        print(text)
    return 1 if any("problem" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
