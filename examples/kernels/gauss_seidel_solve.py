"""Gauss–Seidel iteration for A x = b until convergence."""

import numpy as np


def gauss_seidel_solve(A, b, tol, max_sweeps):
    """Gauss–Seidel iteration for A x = b, run until the largest update falls below
    `tol` (a data-dependent `while`) or `max_sweeps` sweeps have been made.
    Returns the solution and the number of sweeps.
    """
    n = b.shape[0]
    x = np.zeros_like(b)
    change = tol + 1.0
    sweeps = 0
    while change > tol and sweeps < max_sweeps:
        change = 0.0
        for i in range(n):
            s = b[i]
            for j in range(n):
                if j != i:
                    s -= A[i, j] * x[j]
            new = s / A[i, i]
            change = max(change, abs(new - x[i]))
            x[i] = new
        sweeps += 1
    return x, sweeps


def make_inputs(n, rng, dtype=np.float64):
    """A strictly diagonally dominant system (so the iteration converges)."""
    A = rng.standard_normal((n, n)) + 2 * n * np.eye(n)
    b = rng.standard_normal(n)
    return A.astype(dtype), b.astype(dtype), 1e-10, 100
