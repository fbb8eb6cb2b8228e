"""Benchmark: forward pass and gradient of a recurrence written as a refscript loop, against
the best hand-written JAX.

    a[0] = b[0];  a[i] = sin(a[i - 1]) + b[i]    for i in 1 .. n-1;   loss = sum(a)

    python benchmarks/grad_recurrence.py [--sizes 1000 10000 100000] [--budget SECONDS] [--out PATH]
                                         [--chart PATH] [--json PATH] [--replot JSON]

Implementations, each under `jax.jit`:

- `refscript`: the plain Python loop with `a[i] = ...`, `refscript.jit` (streamed:
  the loop becomes a scan over elements, see refscript/runtime/streaming.py);
- `refscript, plain lowering`: the same with streaming switched off (every
  iteration carries the whole array), the lowering before issue 7;
- `lax.scan`: a hand-written scan emitting one element per step (`ys`), the
  fastest reverse-mode form in JAX;
- `fori_loop`: a hand-written `lax.fori_loop` carrying the array, updated with
  `.at[i].set` (the usual forward form; its gradient is quadratic).

Forward: `f(b)`; gradient: `jax.grad(lambda b: f(b).sum())(b)`. Every
implementation's values and gradients are first compared with `lax.scan`'s.
Then rounds call each implementation once, in an order shuffled from round
to round, until the budget of the size is spent; a sample averages enough calls
to last ~20 ms. Tables give medians and ratios of medians. An implementation
whose gradient is quadratic is skipped at a size where one call would take more
than `--skip-over` seconds (predicted from the smaller size). Writes
grad-benchmarks.md unless `--out -`, and the chart grad-benchmarks.png (time per
call against n, log-log; needs matplotlib, `pip install -e '.[bench]'`), into a
new temporary folder, `--out-dir DIR`, or docs/ with `--update-docs`.
`--json` keeps the measurements, `--replot` writes the table and chart from them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing  # noqa: E402

import refscript  # noqa: E402
from refscript.runtime import streaming  # noqa: E402


def recurrence(b):
    a = np.zeros_like(b)
    a[0] = b[0]
    for i in range(1, b.shape[0]):
        a[i] = np.sin(a[i - 1]) + b[i]
    return a


def hand_scan(b):
    def step(previous, b_i):
        new = jnp.sin(previous) + b_i
        return new, new

    _, rest = lax.scan(step, b[0], b[1:])
    return jnp.concatenate([b[:1], rest])


def hand_fori(b):
    def body(i, a):
        return a.at[i].set(jnp.sin(a[i - 1]) + b[i])

    return lax.fori_loop(1, b.shape[0], body, jnp.zeros_like(b).at[0].set(b[0]))


def _refscript(streamed: bool):
    compiled = refscript.jit(recurrence)

    def run(b):  # traced (once per shape) with streaming on or off
        before = streaming.ENABLED
        streaming.ENABLED = streamed
        try:
            return compiled(b)
        finally:
            streaming.ENABLED = before

    return run


IMPLEMENTATIONS = {
    "refscript": lambda: _refscript(True),
    "refscript, plain lowering": lambda: _refscript(False),
    "lax.scan": lambda: hand_scan,
    "fori_loop": lambda: hand_fori,
}
QUADRATIC_GRADIENT = {"refscript, plain lowering", "fori_loop"}
MIN_ROUNDS = 5


def _compiled(kind: str, fn):
    if kind == "forward":
        return jax.jit(fn)
    return jax.jit(jax.grad(lambda b: jnp.sum(fn(b))))


def _run_one(fn, b):
    return jax.block_until_ready(fn(b))


def measure(dtype, sizes, budget, skip_over, log):
    """Returns {(kind, n): {name: median seconds or None (skipped)}}."""
    results = {}
    last = {}  # (kind, name) -> (n, seconds per call)
    for n in sizes:
        b = jnp.asarray(np.random.default_rng(0).normal(size=n).astype(dtype))
        for kind in ("forward", "gradient"):
            functions, skipped = {}, []
            for name, make in IMPLEMENTATIONS.items():
                previous = last.get((kind, name))
                if kind == "gradient" and name in QUADRATIC_GRADIENT and previous is not None:
                    predicted = previous[1] * (n / previous[0]) ** 2
                    if predicted * MIN_ROUNDS > skip_over:
                        skipped.append(name)
                        log(f"  {kind} {name}: skipped at n={n:,} (about {predicted:.0f} s per call)")
                        continue
                functions[name] = _compiled(kind, make())
            outputs = {name: _run_one(f, b) for name, f in functions.items()}  # compile + check
            reference = np.asarray(outputs["lax.scan"], dtype=np.float64)
            tolerance = 1e-4 if dtype == np.float32 else 1e-10
            for name, out in outputs.items():
                np.testing.assert_allclose(np.asarray(out, dtype=np.float64), reference, rtol=tolerance,
                                           atol=tolerance, err_msg=f"{name} {kind} n={n}")
            candidates = {}
            for name, f in functions.items():
                start = time.perf_counter()
                _run_one(f, b)
                seconds = time.perf_counter() - start
                candidates[name] = _timing.Timed(lambda: b, lambda args, f=f: _run_one(f, args),
                                                 _timing.calls_per_sample(seconds, 0.02))
            samples = _timing.interleaved(candidates, budget, min_rounds=MIN_ROUNDS, max_rounds=200)
            medians = {name: _timing.median(s) for name, s in samples.items()}
            for name, seconds in medians.items():
                last[kind, name] = (n, seconds)
            medians.update({name: None for name in skipped})
            results[kind, n] = medians
            shown = ", ".join(f"{name} {_timing.format_seconds(s)}" for name, s in medians.items())
            log(f"{np.dtype(dtype).name} n={n:,} {kind}: {shown}")
    return results


def _ratio(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}x"


_CHART_STYLE = {  # name: (label, colour, line style, marker); lines that coincide are equal times
    "refscript": ("refscript", "#1f77b4", "-", "o"),
    "lax.scan": ("hand-written lax.scan", "#2ca02c", "--", "x"),
    "fori_loop": ("hand-written fori_loop", "#ff7f0e", ":", "s"),
    "refscript, plain lowering": ("refscript, plain lowering (before issue 7)", "#d62728", "-.", "+"),
}


def chart(all_results, sizes, path) -> str | None:
    """Draws time per call against n (log-log), forward and gradient, a row per dtype; returns
    why not, if it cannot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (`pip install -e '.[bench]'`), so no chart was drawn."
    dtypes = list(all_results)
    fig, axes = plt.subplots(len(dtypes), 2, figsize=(11, 3.6 * len(dtypes)), squeeze=False)
    for row, dtype in zip(axes, dtypes):
        for ax, kind in zip(row, ("forward", "gradient")):
            for name, (label, colour, style, marker) in _CHART_STYLE.items():
                points = [(n, all_results[dtype][kind, n].get(name)) for n in sizes]
                points = [(n, s) for n, s in points if s is not None]
                if points:
                    ax.plot([n for n, _ in points], [s for _, s in points], marker=marker, markersize=8,
                            markerfacecolor="none", color=colour, linestyle=style, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("n (array length)")
            ax.set_ylabel("seconds per call (median)")
            ax.set_title(f"{kind}, {dtype}" + (": jax.grad of sum(f(b))" if kind == "gradient" else ": f(b)"))
            ax.grid(which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def _to_json(all_results) -> dict:
    return {dtype: [[kind, n, medians] for (kind, n), medians in results.items()]
            for dtype, results in all_results.items()}


def _from_json(data) -> dict:
    return {dtype: {(kind, n): medians for kind, n, medians in rows} for dtype, rows in data.items()}


def markdown(all_results, sizes, command, machine, chart_note=None) -> str:
    lines = [
        "# Gradients through in-place loops: linear, not quadratic",
        "",
        "Forward pass and `jax.grad` of a recurrence written as a refscript loop, against",
        "hand-written JAX. Generated by `benchmarks/grad_recurrence.py`:",
        "",
        "```python",
        "def recurrence(b):",
        "    a = np.zeros_like(b)",
        "    a[0] = b[0]",
        "    for i in range(1, b.shape[0]):",
        "        a[i] = np.sin(a[i - 1]) + b[i]",
        "    return a",
        "```",
        "",
        "- **refscript**: `refscript.jit(recurrence)`; its loop is *streamed* (a scan whose",
        "  per-iteration values are elements; see [design.md](design.md#linear-time-loops)).",
        "- **plain lowering**: the same function with streaming off (`refscript.runtime.streaming.ENABLED",
        "  = False`): the whole array is carried by each iteration, as before issue 7.",
        "- **lax.scan**: a hand-written `lax.scan` emitting one element per step.",
        "- **fori_loop**: a hand-written `lax.fori_loop` carrying the array (`a.at[i].set(...)`).",
        "",
        "Medians of interleaved rounds in one process (each sample averages enough calls to",
        "last ~20 ms); ratios are of medians. The gradient is `jax.grad(lambda b: f(b).sum())`,",
        "all under `jax.jit`. A dash: skipped, its rounds would take over a minute (quadratic).",
        "",
        "refscript's forward pass is the hand-written scan's program (carry, per-step input and",
        "output); where it differs from `fori_loop`'s time, so does the hand-written scan's: on",
        "XLA's CPU backend a scan with per-step inputs and outputs costs a few nanoseconds more",
        "per iteration than a `fori_loop` updating its carry in place, which is what the linear",
        "gradient costs. Timings on a shared machine vary from run to run by about 10%.",
        "",
        f"Command: `{command}`",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()),
        "",
    ]
    if chart_note:
        lines += [chart_note, ""]
    for dtype, results in all_results.items():
        lines += [
            f"## {dtype}",
            "",
            "| n | forward: refscript | lax.scan | fori_loop | refscript / fori_loop "
            "| gradient: refscript | lax.scan | fori_loop | plain lowering | refscript / lax.scan |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for n in sizes:
            fwd, grad = results["forward", n], results["gradient", n]
            cells = [f"{n:,}"]
            cells += [_timing.format_seconds(fwd[k]) for k in ("refscript", "lax.scan", "fori_loop")]
            cells.append(_ratio(fwd["refscript"], fwd["fori_loop"]))
            cells += [_timing.format_seconds(grad[k])
                      for k in ("refscript", "lax.scan", "fori_loop", "refscript, plain lowering")]
            cells.append(_ratio(grad["refscript"], grad["lax.scan"]))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    # float64 runs need 64-bit mode (float32 arrays stay float32); scoped, so that importing and
    # running this module (the tests do) changes no one's JAX mode.
    with jax.enable_x64(True):
        return _main(argv)


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--budget", type=float, default=6.0, help="seconds of timing per size and kind")
    parser.add_argument("--skip-over", type=float, default=60.0,
                        help="skip a quadratic implementation when its rounds would take longer (seconds)")
    parser.add_argument("--out", help="Markdown output ('-': print only; default grad-benchmarks.md, "
                                      "see --update-docs)")
    parser.add_argument("--chart", help="PNG chart ('-': none; default grad-benchmarks.png)")
    _timing.add_report_arguments(parser)
    parser.add_argument("--json", metavar="PATH", help="also write the measurements here")
    parser.add_argument("--replot", metavar="JSON", help="run nothing: write the table and chart from a --json file")
    args = parser.parse_args(argv)
    if args.chart != "-":
        args.chart = str(_timing.report_path(args, "grad-benchmarks.png", args.chart))
    if args.out != "-":
        args.out = str(_timing.report_path(args, "grad-benchmarks.md", args.out))
    if args.replot:
        saved = json.loads(Path(args.replot).read_text())
        all_results, sizes = _from_json(saved["results"]), saved["sizes"]
        machine, command = saved["machine"], saved["command"]
    else:
        machine = _timing.machine_description()
        print("; ".join(f"{k}: {v}" for k, v in machine.items()))
        all_results, sizes = {}, args.sizes
        for dtype in args.dtypes:
            all_results[dtype] = measure(np.dtype(dtype).type, sizes, args.budget, args.skip_over, print)
        command = ("python benchmarks/grad_recurrence.py "
                   + " ".join(argv if argv is not None else sys.argv[1:])).strip()
        if args.json:
            Path(args.json).write_text(json.dumps(
                {"results": _to_json(all_results), "sizes": sizes, "machine": machine, "command": command}))
    chart_note = None
    if args.chart != "-":
        chart_note = chart(all_results, sizes, args.chart)
        if chart_note is None:
            chart_note = (f"![Time per call against n]({Path(args.chart).name})\n\n"
                          "Where lines coincide (equal times), the markers tell them apart.")
            print(f"wrote {args.chart}")
    text = markdown(all_results, sizes, command, machine, chart_note)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
