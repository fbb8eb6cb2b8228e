"""Benchmark: array writes inside a traced `if`, with and without refscript's deferred writes.

The smoothing loop of examples/recurrence.py written two ways: the branches choose a
value and the array is written once after the `if` ("write after"), or each branch
writes `out[i]` itself ("write inside"). refscript moves the writes inside a traced
branch after the conditional (refscript/runtime/deferred.py); with that switched off
(`deferred.ENABLED = False`) the conditional takes and returns the whole array, which
XLA copies on every iteration. Interleaved medians in one process.

    python benchmarks/branch_writes.py [--n 100000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np

import refscript
from refscript.runtime import deferred

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402


def write_after(x, alpha, threshold):
    out = x.copy()
    for i in range(1, x.shape[0]):
        prev = out[i - 1]
        if abs(x[i] - prev) > threshold:
            value = x[i]
        else:
            value = alpha * x[i] + (1 - alpha) * prev
        out[i] = value
    return out


def write_inside(x, alpha, threshold):
    out = x.copy()
    for i in range(1, x.shape[0]):
        prev = out[i - 1]
        if abs(x[i] - prev) > threshold:
            out[i] = x[i]
        else:
            out[i] = alpha * x[i] + (1 - alpha) * prev
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=args.n)) + 5.0 * (rng.random(args.n) < 0.01)
    x_device = jax.device_put(x)
    expected = write_after(x.copy(), 0.1, 4.0)
    compiled = {}
    for name, fn, enabled in (("write after", write_after, True), ("write inside", write_inside, True),
                              ("write inside, not deferred", write_inside, False)):
        deferred.ENABLED = enabled
        jitted = refscript.jit(fn)
        np.testing.assert_allclose(np.asarray(jitted(x_device, 0.1, 4.0)), expected, rtol=1e-5, atol=1e-6)
        compiled[name] = jitted
    deferred.ENABLED = True
    candidates = {
        name: _timing.Timed(lambda: None, lambda _, f=f: f(x_device, 0.1, 4.0).block_until_ready(), 1)
        for name, f in compiled.items()
    }
    samples = _timing.interleaved(candidates, budget_s=0.0, min_rounds=args.rounds, max_rounds=args.rounds)
    medians = {name: _timing.median(s) for name, s in samples.items()}
    base = medians["write after"]
    machine = _timing.machine_description()
    print(f"n = {args.n:,}, {args.rounds} interleaved rounds; "
          + ", ".join(f"{k} {v}" for k, v in machine.items() if k in ("cpu", "jax", "device")))
    for name, seconds in medians.items():
        print(f"  {name:28s} {_timing.format_seconds(seconds):>10s}  {seconds / base:5.2f}x of write after")
    return 0


if __name__ == "__main__":
    sys.exit(main())
