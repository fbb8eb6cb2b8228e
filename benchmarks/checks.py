"""Benchmark: what `refscript.jit(fn, checks=True)` costs at run time.

Checked mode checks every index against NumPy's bounds and every traced
`assert`, and evaluates the right side of a traced `and`/`or` only when needed
(a `cond` instead of a `where`). Each kernel is compiled both ways, checked for
agreement, then timed with interleaved runs (unchecked, checked, ...) in one
process; the ratio of medians is printed.

    python benchmarks/checks.py [--n 100000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np

import refscript


def smooth(x):
    """A three-point stencil: three checked reads and one checked write per iteration."""
    out = x.copy()
    for i in range(1, x.shape[0] - 1):
        out[i] = (x[i - 1] + x[i] + x[i + 1]) / 3
    return out


def leading_positive(x):
    """A while loop guarded by `and`: a cond per iteration under checks."""
    k = 0
    while k < x.shape[0] and x[k] > 0:
        k += 1
    return k


def _time(fn, x) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(x))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    options = parser.parse_args()
    x = np.abs(np.random.default_rng(0).normal(size=options.n)).astype(np.float32) + 0.1
    print(f"n = {options.n}, {options.rounds} interleaved rounds, {jax.default_backend()}")
    for kernel in (smooth, leading_positive):
        plain, checked = refscript.jit(kernel), refscript.jit(kernel, checks=True)
        np.testing.assert_allclose(np.asarray(plain(x)), np.asarray(checked(x)))
        times = {plain: [], checked: []}
        for _ in range(options.rounds):
            for fn in (plain, checked):
                times[fn].append(_time(fn, x))
        unchecked_ms, checked_ms = (statistics.median(times[fn]) * 1e3 for fn in (plain, checked))
        print(f"{kernel.__name__:>18}: unchecked {unchecked_ms:8.3f} ms, checked {checked_ms:8.3f} ms, "
              f"ratio {checked_ms / unchecked_ms:5.2f}")


if __name__ == "__main__":
    main()
