"""A NumPy-style recurrence, run as plain Python and compiled with `refscript.jit`.

The function below is written the way a NumPy user would write it: copy the input,
loop over it, branch, and write results back in place. Nothing in it mentions JAX.
`refscript.jit` turns the same function into a compiled JAX function; this script
checks that both give the same numbers and compares their speed.

    python examples/recurrence.py [--n 100000]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import refscript


def smooth_with_resets(x, alpha, threshold):
    """Exponential moving average of `x` that restarts at any jump larger than `threshold`."""
    out = x.copy()
    for i in range(1, x.shape[0]):
        prev = out[i - 1]
        if abs(x[i] - prev) > threshold:
            value = x[i]  # a level shift: start again from the new value
        else:
            value = alpha * x[i] + (1 - alpha) * prev
        out[i] = value
    return out


# Writing `out[i] = ...` inside both branches instead runs as fast: refscript moves
# writes in a traced branch after the conditional (benchmarks/branch_writes.py).


smooth_compiled = refscript.jit(smooth_with_resets)


def make_signal(n: int, seed: int = 0) -> np.ndarray:
    """Noisy piecewise-constant signal: small noise, a few large level shifts."""
    rng = np.random.default_rng(seed)
    levels = np.cumsum(rng.choice([-10.0, 10.0], size=n) * (rng.random(n) < 1e-3))
    return (levels + 0.5 * rng.standard_normal(n)).astype(np.float32)


def best_time(fn, *args, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        if hasattr(result, "block_until_ready"):
            result.block_until_ready()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="signal length (default 100,000)")
    args = parser.parse_args(argv)

    x = make_signal(args.n)
    alpha, threshold = 0.1, 4.0

    # Plain Python on NumPy (the reference), then the compiled version.
    plain_s = best_time(smooth_with_resets, x, alpha, threshold, repeats=3)
    expected = smooth_with_resets(x, alpha, threshold)

    start = time.perf_counter()
    result = np.asarray(smooth_compiled(x, alpha, threshold))  # first call traces and compiles
    first_s = time.perf_counter() - start
    compiled_s = best_time(smooth_compiled, x, alpha, threshold, repeats=5)

    max_diff = float(np.max(np.abs(result - expected)))
    match = result.shape == expected.shape and np.allclose(result, expected, rtol=1e-5, atol=1e-5)

    np.set_printoptions(precision=4, suppress=True)
    print(f"n = {args.n:,}, alpha = {alpha}, threshold = {threshold}")
    print(f"plain Python head: {expected[:6]}")
    print(f"refscript.jit head: {result[:6]}")
    print(f"max abs difference: {max_diff:.3g}")
    print(f"match: {match}")
    print(f"plain Python call:     {plain_s * 1e3:10.2f} ms")
    print(f"refscript first call:  {first_s * 1e3:10.2f} ms  (trace + compile + run)")
    print(f"refscript warm call:   {compiled_s * 1e3:10.2f} ms  ({plain_s / compiled_s:.0f}x faster)")
    return 0 if match else 1


if __name__ == "__main__":
    sys.exit(main())
