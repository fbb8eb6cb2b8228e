"""2-D Gauss–Seidel stencil with a time loop."""

import numpy as np


def seidel_2d(a, tsteps):
    """2-D Gauss–Seidel stencil (PolyBench `seidel-2d`): nine-point average,
    overwritten in place point by point, for `tsteps` sweeps.
    """
    n = a.shape[0]
    for t in range(tsteps):
        for i in range(1, n - 1):
            for j in range(1, n - 1):
                a[i, j] = (a[i - 1, j - 1] + a[i - 1, j] + a[i - 1, j + 1]
                           + a[i, j - 1] + a[i, j] + a[i, j + 1]
                           + a[i + 1, j - 1] + a[i + 1, j] + a[i + 1, j + 1]) / 9.0


def make_inputs(n, rng, dtype=np.float64):
    return rng.standard_normal((n, n)).astype(dtype), 3
