"""Forward substitution for a lower-triangular system."""

import numpy as np


def forward_substitution(L, b):
    """Forward substitution: solves L x = b for lower-triangular L, one scalar at a time."""
    n = b.shape[0]
    x = np.zeros_like(b)
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= L[i, j] * x[j]
        x[i] = s / L[i, i]
    return x


def make_inputs(n, rng, dtype=np.float64):
    """A well-conditioned lower-triangular n x n matrix and a right-hand side."""
    L = np.tril(rng.standard_normal((n, n))) + n * np.eye(n)
    b = rng.standard_normal(n)
    return L.astype(dtype), b.astype(dtype)
