"""Benchmark: what a kernel costs before its first result, against the same kernel hand-written in JAX.

    python benchmarks/conversion.py [--quick] [--only NAME,...] [--rounds N] [--budget SECONDS]

For every kernel of examples/kernels, two measurements:

- **conversion**: refscript's source-to-converted-function step alone
  (`refscript.transpiler.convert` without its per-function cache: reading the
  source, the passes, compiling the generated code), the time `refscript.jit(fn)`
  takes before any tracing. The generated source *text* (`converted_source`,
  `refscript.show`) is made on first use, not here; the column *with text*
  times the conversion with that text. Rounds convert every kernel once, in an
  order shuffled per round; each sample averages enough conversions to last a few
  milliseconds.
- **first call**: `refscript.jit(fn)(*inputs)` made from scratch (conversion,
  tracing, discharging the Refs, XLA compilation, one run), against the first
  call of the kernel's hand-written JAX port (benchmarks/hand_jax.py: `jax.jit`
  of lax loops; tracing, compilation, one run). Each sample starts with
  `jax.clear_caches()` and an empty conversion cache and makes a new
  `refscript.jit` / `jax.jit` object, so every sample pays the full first-call
  cost; rounds call refscript and the port (in a shuffled order)
  until the kernel's budget is spent. Inputs are `make_inputs(n)` at the small
  size of benchmarks/kernels.py (float64, JAX arrays on the device).

Before timing, both implementations' results are compared with the plain NumPy
call (as benchmarks/kernels.py does); one that differs or fails is not timed.
Times are medians over rounds; ratios are ratios of medians; geometric means
over kernels. Targets (issue 7): first call ≤ 1.5× the hand-written port's,
conversion < 5 ms for a 50-line function (the *lines* column: the `def` with
its docstring; *code lines*: without the docstring, blank and comment lines).

Writes first-call-benchmarks.md and first-call-benchmarks.png (needs matplotlib)
into a new temporary folder, `--out-dir DIR`, or docs/ with `--update-docs`. `--quick` is a smoke run (one round, short budgets) that writes
only where `--markdown`/`--chart` say.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import json
import math
import os
import statistics
import sys
import time
import tokenize
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import jax  # noqa: E402

import _timing  # noqa: E402
import hand_jax  # noqa: E402
import kernels  # noqa: E402  (loads the kernels, checks results; switches JAX's 64-bit mode on)

import refscript  # noqa: E402
from refscript import transpiler  # noqa: E402

CONVERSION_TARGET_S = 0.005  # for a 50-line function
FIRST_CALL_TARGET = 1.5  # refscript's first call / the hand-written port's


@dataclasses.dataclass(frozen=True)
class Settings:
    conversion_budget_s: float  # all kernels' conversions together
    first_call_budget_s: float  # per kernel
    min_rounds: int
    max_rounds: int
    sample_s: float  # a conversion sample averages calls until it lasts about this long


FULL = Settings(conversion_budget_s=60.0, first_call_budget_s=12.0, min_rounds=7, max_rounds=40, sample_s=0.02)
QUICK = Settings(conversion_budget_s=0.5, first_call_budget_s=0.0, min_rounds=1, max_rounds=1, sample_s=0.002)


# What is measured.


def line_counts(fn) -> tuple[int, int]:
    """(lines of the `def`, lines with code: without its docstring, blank lines and comments)."""
    lines, _ = inspect.getsourcelines(fn)
    doc_lines = set()
    code_lines = set()
    tokens = tokenize.generate_tokens(io.StringIO("".join(lines)).readline)
    previous = None
    for token in tokens:
        if token.type == tokenize.STRING and previous in (tokenize.INDENT, tokenize.NEWLINE) and \
                not doc_lines and fn.__doc__ is not None:
            doc_lines.update(range(token.start[0], token.end[0] + 1))
        elif token.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                                tokenize.DEDENT, tokenize.ENDMARKER):
            code_lines.update(range(token.start[0], token.end[0] + 1))
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return len(lines), len(code_lines - doc_lines)


def forget_conversions() -> None:
    """Empties refscript's conversion cache, so the next `refscript.jit` converts again."""
    transpiler.clear_cache()


def conversion_candidates(functions: dict) -> dict:
    """{name: Timed} converting each function (uncached), and with the generated source text."""
    candidates = {}
    for name, fn in functions.items():
        candidates[name] = _timing.Timed(lambda: None, lambda _, fn=fn: transpiler.convert(fn, cache=False))
        candidates[name + " (with text)"] = _timing.Timed(
            lambda: None, lambda _, fn=fn: transpiler.convert(fn, cache=False).source)
    return candidates


def measure_conversions(functions: dict, settings: Settings, rounds=None) -> dict:
    """{name: (median seconds per conversion, median with the source text, rounds)}."""
    candidates = conversion_candidates(functions)
    for timed in candidates.values():
        once = min(_timing.time_once(timed) for _ in range(3))
        timed.calls_per_sample = _timing.calls_per_sample(once, settings.sample_s)
    if rounds is None:
        samples = _timing.interleaved(candidates, settings.conversion_budget_s, settings.min_rounds,
                                      settings.max_rounds)
    else:
        samples = _timing.interleaved(candidates, 0.0, rounds, rounds)
    return {name: (_timing.median(samples[name]), _timing.median(samples[name + " (with text)"]),
                   len(samples[name])) for name in functions}


def first_call_candidates(name, fn, args) -> dict:
    """{kind: Timed} making refscript's and the port's first call from nothing, one per sample."""
    device_args = kernels.on_device(args)
    port = hand_jax.PORTS[name]

    def fresh():
        jax.clear_caches()
        forget_conversions()
        return device_args

    def refscript_first(a):
        # return_updates: what the kernel writes comes back with the result, so waiting for the
        # result waits for all of its work (as in benchmarks/kernels.py).
        jax.block_until_ready(refscript.jit(fn, return_updates=True)(*a))

    def port_first(a):
        jax.block_until_ready(port.jit_again()(*a))

    return {"refscript": _timing.Timed(fresh, refscript_first), "hand_jax": _timing.Timed(fresh, port_first)}


def check(name, module, n) -> str | None:
    """Compares refscript's and the port's results with NumPy's; returns what differs (None if both agree)."""
    fn = getattr(module, name)
    params = list(inspect.signature(fn).parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args, expected, expected_after, _ = kernels.numpy_reference(module, name, n)
        try:
            result, updates = refscript.jit(fn, return_updates=True)(*kernels.on_device(args))
        except Exception as error:  # noqa: BLE001 -- reported, the kernel is not timed
            return f"refscript fails: {kernels.short_error(error)}"
        problem = kernels.compare(result, expected) or kernels.check_updates(updates, args, expected_after, params)
        if problem:
            return f"refscript differs from NumPy: {problem}"
        try:
            problem = kernels.check_port(name, hand_jax.PORTS[name], args, expected, expected_after, params)
        except Exception as error:  # noqa: BLE001
            return f"hand JAX fails: {kernels.short_error(error)}"
        if problem:
            return f"hand JAX differs from NumPy: {problem}"
    return None


def measure_first_call(name, module, n, settings: Settings, rounds=None) -> dict:
    """{"status", "median_s": {kind: seconds}, "rounds"} for one kernel."""
    problem = check(name, module, n)
    if problem:
        return {"status": problem, "median_s": {}, "rounds": 0}
    args = module.make_inputs(n, kernels.np.random.default_rng(0))
    candidates = first_call_candidates(name, getattr(module, name), args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if rounds is None:
            samples = _timing.interleaved(candidates, settings.first_call_budget_s, settings.min_rounds,
                                          settings.max_rounds)
        else:
            samples = _timing.interleaved(candidates, 0.0, rounds, rounds)
    return {"status": "ok", "median_s": {k: _timing.median(v) for k, v in samples.items()},
            "rounds": len(samples["refscript"])}


# Reports.


def ratio(a, b):
    return kernels.ratio(a, b)


def summary(rows) -> dict:
    timed = [r for r in rows if r["status"] == "ok"]
    return {
        "kernels": len(rows),
        "first-call ratio": _timing.geomean(ratio(r["first_s"]["refscript"], r["first_s"]["hand_jax"]) for r in timed),
        "first-call ratio counted": len(timed),
        "conversion": _timing.geomean(r["conversion_s"] for r in rows),
        "conversion share": _timing.geomean(ratio(r["conversion_s"], r["first_s"]["refscript"]) for r in timed),
        "per code line": statistics.median(r["conversion_s"] / r["code_lines"] for r in rows) if rows else None,
        "largest": max(rows, key=lambda r: r["lines"]) if rows else None,
        "slowest conversion": max(rows, key=lambda r: r["conversion_s"]) if rows else None,
    }


def _x(value, digits=2):
    return kernels._x(value, digits)


def markdown(rows, machine, command, chart_note) -> str:
    fmt = _timing.format_seconds
    ms = lambda s: "—" if s is None or not math.isfinite(s) else f"{s * 1e3:.2f}"  # noqa: E731
    g = summary(rows)
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    lines = [
        "# First-call benchmarks: conversion, tracing and compilation against hand-written JAX",
        "",
        "Written by `benchmarks/conversion.py`; do not edit by hand. Regenerate with",
        "",
        "```bash",
        command,
        "```",
        "",
        "For each kernel of [examples/kernels](../examples/kernels):",
        "",
        "- **conversion**: refscript's source-to-function step alone (`refscript.transpiler.convert` without "
        "its cache: reading the source, the passes, compiling the generated Python), which `refscript.jit(fn)` "
        "runs before any tracing. The text of the generated source (`refscript.converted_source`, "
        "`refscript.show`) is made on first use; *with text* times the conversion with it. Rounds convert every "
        "kernel once, in an order shuffled per round; each sample averages enough conversions to last "
        "about 20 ms.",
        "- **first call**: `refscript.jit(fn)(*inputs)` from scratch (conversion, tracing, discharging the Refs, "
        "XLA compilation and one run), against the first call of the kernel's hand-written port in "
        "[benchmarks/hand_jax.py](../benchmarks/hand_jax.py) (a new `jax.jit` of lax loops: tracing, compilation "
        "and one run). Every sample starts from `jax.clear_caches()` and an empty conversion cache with a new "
        "`refscript.jit` / `jax.jit` object; rounds call the two in a shuffled order. Inputs: "
        "`make_inputs(n)` at the small size of [benchmarks.md](benchmarks.md), float64, JAX arrays.",
        "",
        "Both results are checked against the plain NumPy call before timing. Times are medians over rounds, "
        "ratios are ratios of medians, summaries are geometric means over kernels. *lines*: the `def` with its "
        "docstring; *code lines*: without the docstring, blank lines and comments.",
        "",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine.items()) + ".",
        "",
    ]
    if rows:
        lines += [
            "## Summary",
            "",
            "| kernels | first call, refscript / hand JAX | conversion | conversion / refscript's first call |",
            "|---:|---:|---:|---:|",
            f"| {g['kernels']} | {_x(g['first-call ratio'])} ({g['first-call ratio counted']}) "
            f"| {ms(g['conversion'])} ms | {g['conversion share'] * 100:.1f}% |"
            if math.isfinite(g["conversion share"]) else
            f"| {g['kernels']} | — | {ms(g['conversion'])} ms | — |",
            "",
            f"Targets (issue 7): first call ≤ {FIRST_CALL_TARGET}× the hand-written port's "
            f"({met(g['first-call ratio'] <= FIRST_CALL_TARGET)} here, geometric mean), and conversion under "
            f"{CONVERSION_TARGET_S * 1e3:.0f} ms for a 50-line function. The longest kernel here, "
            f"{g['largest']['kernel']} ({g['largest']['lines']} lines, {g['largest']['code_lines']} with code), "
            f"converts in {ms(g['largest']['conversion_s'])} ms"
            + (" (the slowest to convert)" if g["slowest conversion"] is g["largest"] else
               f"; the slowest to convert, {g['slowest conversion']['kernel']} "
               f"({g['slowest conversion']['lines']} lines), in {ms(g['slowest conversion']['conversion_s'])} ms")
            + f". Per line of code the kernels take {ms(g['per code line'])} ms (median over kernels): "
            f"{ms(g['per code line'] * 50)} ms for 50 lines at that rate.",
            "",
            "Times are wall-clock medians on the machine described above, whose cores other jobs shared "
            "during the run (see the load averages).",
            "",
        ]
    if chart_note:
        lines += [chart_note, ""]
    lines += [
        "## Per kernel",
        "",
        "| kernel | lines | code lines | conversion (ms) | with text (ms) | n | refscript 1st call "
        "| hand JAX 1st call | refscript / hand JAX | conversion share | rounds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        t = r["first_s"]
        lines.append(
            f"| {r['kernel']} | {r['lines']} | {r['code_lines']} | {ms(r['conversion_s'])} "
            f"| {ms(r['conversion_text_s'])} | {r['n']} | {fmt(t.get('refscript'))} | {fmt(t.get('hand_jax'))} "
            f"| {_x(ratio(t.get('refscript'), t.get('hand_jax')))} "
            f"| {_percent(ratio(r['conversion_s'], t.get('refscript')))} | {r['first_rounds']} |")
    lines.append("")
    lines.append(f"Conversion rounds: {rows[0]['conversion_rounds'] if rows else 0}.")
    lines.append("")
    notes = [f"- {r['kernel']}: {r['status']}" for r in rows if r["status"] != "ok"]
    if notes:
        lines += ["## Not timed", "", *notes, ""]
    return "\n".join(lines)


def _percent(value) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value * 100:.1f}%"


def chart(rows, path) -> str | None:
    """Draws conversion times and first-call ratios per kernel; returns why not, if it cannot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (`pip install -e '.[bench]'`), so no chart was drawn."
    names = [r["kernel"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.32 * len(rows) + 1.8), sharey=True, squeeze=True)
    ys = range(len(rows))
    left.barh(ys, [r["conversion_s"] * 1e3 for r in rows], color="#1f77b4", label="conversion")
    left.barh(ys, [max(r["conversion_text_s"] - r["conversion_s"], 0.0) * 1e3 for r in rows],
              left=[r["conversion_s"] * 1e3 for r in rows], color="#aec7e8", label="generated source text")
    for y, r in zip(ys, rows):
        left.text(max(r["conversion_text_s"], r["conversion_s"]) * 1e3, y, f" {r['lines']} lines", va="center",
                  fontsize=7)
    left.axvline(CONVERSION_TARGET_S * 1e3, color="grey", linewidth=0.8, linestyle="--")
    left.set_xlabel("ms")
    left.set_title("conversion time (target: < 5 ms for 50 lines)")
    left.legend(loc="lower right", fontsize=8)
    left.set_yticks(list(ys))
    left.set_yticklabels(names)
    ratios = [ratio(r["first_s"].get("refscript"), r["first_s"].get("hand_jax")) for r in rows]
    shown = [(y, q) for y, q in zip(ys, ratios) if q is not None]
    # Bars grow from 1 (as fast as the port), leftwards where refscript's first call is faster.
    right.barh([y for y, _ in shown], [q - 1 for _, q in shown], left=1, color="#ff7f0e")
    for y, q in shown:
        right.text(max(q, 1.0), y, f" {q:.2f}×", va="center", fontsize=7)
    right.set_xscale("log")
    right.set_xlim(min([0.5] + [q / 1.5 for _, q in shown]), max([3.0] + [q * 2 for _, q in shown]))
    right.axvline(1.0, color="black", linewidth=0.8)
    right.axvline(FIRST_CALL_TARGET, color="grey", linewidth=0.8, linestyle="--")
    right.set_title("first call: refscript / hand-written JAX (target ≤ 1.5)")
    right.set_xlabel("ratio of medians (log scale)")
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
    left.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def write_reports(rows, machine, command, markdown_path, chart_path) -> None:
    chart_note = None
    if chart_path is not None:
        chart_note = chart(rows, chart_path)
        if chart_note is None:
            chart_note = f"![Conversion times and first-call ratios]({Path(chart_path).name})"
        else:
            print(chart_note)
    text = markdown(rows, machine, command, chart_note)
    if markdown_path is not None:
        Path(markdown_path).write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one round, short budgets, writes nothing "
                        "unless --markdown/--chart say where")
    parser.add_argument("--only", help="comma-separated kernel names (default all)")
    parser.add_argument("--rounds", type=int, help="exactly this many rounds (conversion and first calls)")
    parser.add_argument("--budget", type=float, help="seconds of first-call rounds per kernel")
    parser.add_argument("--conversions-only", action="store_true", help="time the conversions only")
    parser.add_argument("--markdown", metavar="PATH", help="the table (default first-call-benchmarks.md, see --update-docs)")
    parser.add_argument("--chart", metavar="PATH", help="the chart (default first-call-benchmarks.png, see --update-docs)")
    _timing.add_report_arguments(parser)
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--replot", metavar="JSON", help="run nothing: write the table and chart from a --json file")
    args = parser.parse_args(argv)
    if args.replot:
        saved = json.loads(Path(args.replot).read_text())
        write_reports(saved["rows"], saved["machine"], saved["command"],
                      str(_timing.report_path(args, "first-call-benchmarks.md", args.markdown)),
                      str(_timing.report_path(args, "first-call-benchmarks.png", args.chart)))
        return 0
    settings = QUICK if args.quick else FULL
    if args.budget is not None:
        settings = dataclasses.replace(settings, first_call_budget_s=args.budget)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    markdown_path, chart_path = args.markdown, args.chart
    if not args.quick or args.update_docs or args.out_dir:
        markdown_path = str(_timing.report_path(args, "first-call-benchmarks.md", markdown_path))
        chart_path = str(_timing.report_path(args, "first-call-benchmarks.png", chart_path))

    modules = kernels.load_kernels(args.only.split(",") if args.only else None)
    machine = _timing.machine_description()
    machine.pop("numba", None)
    machine["refscript"] = kernels.refscript_revision()
    print("; ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    started = time.perf_counter()

    functions = {name: getattr(module, name) for name, module in modules.items()}
    conversions = measure_conversions(functions, settings, args.rounds)
    rows = []
    print(f"{'kernel':<22}{'lines':>6}{'conv ms':>9}{'+text':>8}{'refscript':>11}{'hand JAX':>11}{'ratio':>8}",
          flush=True)
    for name, module in modules.items():
        n = kernels.SIZES[name][0]
        lines, code_lines = line_counts(functions[name])
        converted, with_text, conversion_rounds = conversions[name]
        if args.conversions_only:
            first = {"status": "not run (--conversions-only)", "median_s": {}, "rounds": 0}
        else:
            first = measure_first_call(name, module, n, settings, args.rounds)
        row = {"kernel": name, "lines": lines, "code_lines": code_lines, "n": n, "conversion_s": converted,
               "conversion_text_s": with_text, "conversion_rounds": conversion_rounds,
               "first_s": first["median_s"], "first_rounds": first["rounds"], "status": first["status"]}
        rows.append(row)
        t = row["first_s"]
        print(f"{name:<22}{lines:>6}{converted * 1e3:>9.2f}{with_text * 1e3:>8.2f}"
              f"{_timing.format_seconds(t.get('refscript')):>11}{_timing.format_seconds(t.get('hand_jax')):>11}"
              f"{_x(ratio(t.get('refscript'), t.get('hand_jax'))):>8}", flush=True)
        if first["status"] != "ok":
            print(f"    {first['status']}", flush=True)

    if hasattr(os, "getloadavg"):
        machine["load average at end"] = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    machine["benchmark took"] = f"{time.perf_counter() - started:.0f} s"
    command = "python benchmarks/conversion.py" + "".join(
        f" --{option} {getattr(args, option)}" for option in ("only", "rounds", "budget")
        if getattr(args, option) is not None)
    command += " --quick" * args.quick + " --conversions-only" * args.conversions_only
    write_reports(rows, machine, command, markdown_path, chart_path)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "command": command, "rows": rows}, indent=1))
    g = summary(rows)
    print(f"geomean: first call refscript / hand JAX {_x(g['first-call ratio'])} "
          f"({g['first-call ratio counted']} kernels), conversion {g['conversion'] * 1e3:.2f} ms")
    if markdown_path:
        print(f"wrote {markdown_path}")
    failed = [r["kernel"] for r in rows if r["status"] not in ("ok", "not run (--conversions-only)")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
