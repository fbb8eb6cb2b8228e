"""2-D Jacobi stencil with a time loop, written with slices."""

import numpy as np


def jacobi_2d(a, b, tsteps):
    """2-D Jacobi stencil (PolyBench `jacobi-2d`), written with NumPy slices: each of
    the `tsteps` steps averages the five-point neighbourhood of A into the interior of
    B, then of B back into A. Updates `a` and `b` in place.
    """
    for t in range(tsteps):
        b[1:-1, 1:-1] = 0.2 * (a[1:-1, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] + a[2:, 1:-1] + a[:-2, 1:-1])
        a[1:-1, 1:-1] = 0.2 * (b[1:-1, 1:-1] + b[1:-1, :-2] + b[1:-1, 2:] + b[2:, 1:-1] + b[:-2, 1:-1])


def make_inputs(n, rng, dtype=np.float64):
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    return a, b, 5
