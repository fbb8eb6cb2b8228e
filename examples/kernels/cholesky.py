"""Cholesky factorisation of a symmetric positive definite matrix."""

import numpy as np


def cholesky(a):
    """Cholesky factorisation A = L L^T of a symmetric positive definite matrix (Cholesky–Banachiewicz)."""
    n = a.shape[0]
    L = np.zeros_like(a)
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                L[i, j] = np.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    return L


def make_inputs(n, rng, dtype=np.float64):
    """A random symmetric positive definite n x n matrix."""
    m = rng.standard_normal((n, n))
    a = m @ m.T + n * np.eye(n)
    return (a.astype(dtype),)
