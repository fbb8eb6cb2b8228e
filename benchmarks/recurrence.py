"""Benchmark: refscript vs a hand-written JAX port of a 1-D linear recurrence.

    a[i] = a[i-1] * 0.5 + b[i]    for i in 1 .. n-1

(a) refscript: a plain Python loop with in-place writes, decorated with `refscript.jit`.
(b) expert JAX: `jax.jit` of `lax.fori_loop` carrying the array, updated with `.at[i].set`.

Both are checked for agreement, compiled (first-call time recorded), then timed with
interleaved runs (a, b, a, b, ...) in one process so machine noise hits both alike.

    python benchmarks/recurrence.py [--n 1000000] [--rounds 30] [--output results.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import jax
import numpy as np
from jax import lax

import refscript


@refscript.jit
def recurrence_refscript(a, b):
    a = a.copy()
    n = a.shape[0]
    for i in range(1, n):
        a[i] = a[i - 1] * 0.5 + b[i]
    return a


@jax.jit
def recurrence_jax(a, b):
    def body(i, a):
        return a.at[i].set(a[i - 1] * 0.5 + b[i])

    return lax.fori_loop(1, a.shape[0], body, a)


def _timed_call(fn, *args):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    return f"{seconds * 1e3:.2f} ms"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="array length (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=30, help="timed calls of each (default 30)")
    parser.add_argument("--output", metavar="PATH", help="also write a Markdown table to PATH")
    args = parser.parse_args(argv)
    if args.n < 2 or args.rounds < 1:
        parser.error("need --n >= 2 and --rounds >= 1")

    device = jax.devices()[0]
    print(f"device: {device} ({device.platform}), jax {jax.__version__}")
    print(f"n = {args.n:,} float32, rounds = {args.rounds} (interleaved)")

    rng = np.random.default_rng(0)
    a_np = rng.standard_normal(args.n).astype(np.float32)
    b_np = rng.standard_normal(args.n).astype(np.float32)
    a = jax.device_put(a_np)
    b = jax.device_put(b_np)

    # First call of each: tracing + compilation + one run.
    compile_rs = _timed_call(recurrence_refscript, a, b)
    compile_jx = _timed_call(recurrence_jax, a, b)

    # Correctness first.
    out_rs = np.asarray(recurrence_refscript(a, b))
    out_jx = np.asarray(recurrence_jax(a, b))
    max_diff = float(np.max(np.abs(out_rs - out_jx)))
    match = np.allclose(out_rs, out_jx, rtol=1e-5, atol=1e-6)
    # And against a plain NumPy loop on a prefix (the recurrence only looks backwards).
    m = min(args.n, 20_000)
    ref = a_np[:m].copy()
    for i in range(1, m):
        ref[i] = ref[i - 1] * np.float32(0.5) + b_np[i]
    match_ref = np.allclose(out_rs[:m], ref, rtol=1e-5, atol=1e-6)
    print(f"allclose: {match} (max abs diff {max_diff:.3g}); "
          f"first {m:,} vs NumPy loop: {match_ref}")
    match = match and match_ref
    if not match:
        print("refscript and hand-written JAX disagree; not timing", file=sys.stderr)
        return 1

    # Warm-up (a few calls each after compilation).
    for _ in range(3):
        _timed_call(recurrence_refscript, a, b)
        _timed_call(recurrence_jax, a, b)

    # Interleaved timing; alternate which goes first each round.
    times_rs, times_jx = [], []
    for r in range(args.rounds):
        if r % 2 == 0:
            times_rs.append(_timed_call(recurrence_refscript, a, b))
            times_jx.append(_timed_call(recurrence_jax, a, b))
        else:
            times_jx.append(_timed_call(recurrence_jax, a, b))
            times_rs.append(_timed_call(recurrence_refscript, a, b))

    med_rs = statistics.median(times_rs)
    med_jx = statistics.median(times_jx)
    ratio = med_rs / med_jx
    # Per-round ratios are less sensitive to drift in machine load than the ratio of medians.
    paired = statistics.median(r / j for r, j in zip(times_rs, times_jx))
    traces = recurrence_refscript.trace_count

    rows = [
        ("refscript.jit", med_rs, min(times_rs), compile_rs),
        ("jax.jit + lax.fori_loop", med_jx, min(times_jx), compile_jx),
    ]
    print()
    print(f"{'implementation':<26}{'median':>12}{'min':>12}{'first call':>14}")
    for name, med, best, first in rows:
        print(f"{name:<26}{_fmt(med):>12}{_fmt(best):>12}{_fmt(first):>14}")
    print()
    print(f"ratio refscript / hand-written (medians): {ratio:.3f}")
    print(f"median of per-round ratios:               {paired:.3f}")
    print(f"refscript trace count: {traces}")
    verdict = "within" if ratio <= 1.05 else "OUTSIDE"
    print(f"target ratio <= 1.05: {verdict}")

    if args.output:
        lines = [
            f"Recurrence `a[i] = a[i-1]*0.5 + b[i]`, n = {args.n:,} float32, "
            f"{args.rounds} interleaved rounds, device `{device}`, jax {jax.__version__}.",
            "",
            "| implementation | median | min | first call (compile) |",
            "|---|---:|---:|---:|",
        ]
        lines += [f"| {name} | {_fmt(med)} | {_fmt(best)} | {_fmt(first)} |" for name, med, best, first in rows]
        lines += [
            "",
            f"Ratio refscript / hand-written (medians): **{ratio:.3f}** "
            f"(median of per-round ratios {paired:.3f}).",
            "",
        ]
        with open(args.output, "w") as f:
            f.write("\n".join(lines))
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
