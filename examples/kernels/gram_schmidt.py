"""Modified Gram–Schmidt QR factorisation."""

import numpy as np


def gram_schmidt(a):
    """Modified Gram–Schmidt QR (PolyBench `gramschmidt`): A = Q R with orthonormal
    columns in Q. Each column of `a` is orthogonalised in place against the columns
    already done, so `a` ends holding the residuals.
    """
    n = a.shape[1]
    Q = np.zeros_like(a)
    R = np.zeros((n, n), dtype=a.dtype)
    for k in range(n):
        R[k, k] = np.sqrt(np.sum(a[:, k] * a[:, k]))
        Q[:, k] = a[:, k] / R[k, k]
        for j in range(k + 1, n):
            R[k, j] = np.dot(Q[:, k], a[:, j])
            a[:, j] -= Q[:, k] * R[k, j]
    return Q, R


def make_inputs(n, rng, dtype=np.float64):
    """A random (n + 2) x n matrix (full column rank)."""
    return (rng.standard_normal((n + 2, n)).astype(dtype),)
