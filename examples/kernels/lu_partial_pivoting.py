"""LU decomposition with partial pivoting, in place, written with slices."""

import numpy as np


def lu_partial_pivoting(a):
    """LU decomposition with partial pivoting, in place, written with NumPy slices:
    at step k the largest entry of column k (from row k down) is swapped onto the
    diagonal (fancy-index row swap `a[[k, p]] = a[[p, k]]`), then the trailing
    block gets a rank-one update.

    On return `a` holds U and the multipliers of unit-lower-triangular L, with
    `a_original[perm] == L @ U`; returns `perm`.
    """
    n = a.shape[0]
    perm = np.arange(n)
    for k in range(n - 1):
        p = k + np.argmax(np.abs(a[k:, k]))
        if p != k:
            a[[k, p]] = a[[p, k]]
            perm[[k, p]] = perm[[p, k]]
        a[k + 1:, k] /= a[k, k]
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    return perm


def make_inputs(n, rng, dtype=np.float64):
    """A random n x n matrix (pivoting happens at almost every step)."""
    return (rng.standard_normal((n, n)).astype(dtype),)
