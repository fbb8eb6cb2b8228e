"""LU decomposition without pivoting, in place."""

import numpy as np


def lu(a):
    """LU decomposition without pivoting, in place (Doolittle; PolyBench `lu`).

    On return `a` holds U on and above the diagonal and the multipliers of L (whose
    diagonal is 1) below it. Returns None: the caller reads the factors from `a`.
    """
    n = a.shape[0]
    for k in range(n):
        for i in range(k + 1, n):
            a[i, k] /= a[k, k]
            for j in range(k + 1, n):
                a[i, j] -= a[i, k] * a[k, j]


def make_inputs(n, rng, dtype=np.float64):
    """A diagonally dominant n x n matrix, so no pivoting is needed."""
    a = rng.standard_normal((n, n)) + n * np.eye(n)
    return (a.astype(dtype),)
