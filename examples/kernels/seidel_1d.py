"""1-D Gauss–Seidel smoothing with a time loop."""

import numpy as np


def seidel_1d(a, tsteps):
    """1-D Gauss–Seidel smoothing: like Jacobi, but each point is overwritten at once,
    so the sweep reads the value it has just written at `i - 1`. In place, `tsteps` sweeps.
    """
    n = a.shape[0]
    for t in range(tsteps):
        for i in range(1, n - 1):
            a[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0


def make_inputs(n, rng, dtype=np.float64):
    return rng.standard_normal(n).astype(dtype), 4
