"""Back substitution for an upper-triangular system, with row-tail dot products."""

import numpy as np


def back_substitution(U, b):
    """Back substitution: solves U x = b for upper-triangular U, with the NumPy-style
    dot product of a row tail and the solved part of `x` (`U[i, i+1:] @ x[i+1:]`).
    """
    n = b.shape[0]
    x = np.zeros_like(b)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - U[i, i + 1:] @ x[i + 1:]) / U[i, i]
    return x


def make_inputs(n, rng, dtype=np.float64):
    """A well-conditioned upper-triangular n x n matrix and a right-hand side."""
    U = np.triu(rng.standard_normal((n, n))) + n * np.eye(n)
    b = rng.standard_normal(n)
    return U.astype(dtype), b.astype(dtype)
