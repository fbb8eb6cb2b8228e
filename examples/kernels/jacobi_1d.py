"""1-D Jacobi stencil with a time loop."""

import numpy as np


def jacobi_1d(a, b, tsteps):
    """1-D Jacobi stencil (PolyBench `jacobi-1d`): `tsteps` sweeps, each averaging
    three neighbours of A into B and then of B back into A. Updates `a` and `b` in place.
    """
    n = a.shape[0]
    for t in range(tsteps):
        for i in range(1, n - 1):
            b[i] = 0.33333 * (a[i - 1] + a[i] + a[i + 1])
        for i in range(1, n - 1):
            a[i] = 0.33333 * (b[i - 1] + b[i] + b[i + 1])


def make_inputs(n, rng, dtype=np.float64):
    a = rng.standard_normal(n).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    return a, b, 4
