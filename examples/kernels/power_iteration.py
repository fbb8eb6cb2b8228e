"""Power iteration for the dominant eigenvalue of a symmetric matrix."""

import numpy as np


def power_iteration(a, tol, max_iter):
    """Power iteration for the dominant eigenvalue of a symmetric matrix: repeat
    v <- A v / |A v| until the Rayleigh quotient changes by less than `tol`
    (`break`), or `max_iter` steps. Returns the eigenvalue, the unit eigenvector
    and the number of iterations made.
    """
    n = a.shape[0]
    v = np.ones(n) / np.sqrt(n)
    lam = 0.0
    for it in range(max_iter):
        w = a @ v
        v = w / np.linalg.norm(w)
        new_lam = v @ a @ v
        if abs(new_lam - lam) < tol:
            break
        lam = new_lam
    return new_lam, v, it + 1


def make_inputs(n, rng, dtype=np.float64):
    """A symmetric matrix with eigenvalues in [1, 2] and one at 4 (fast convergence)."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eigenvalues = np.linspace(1.0, 2.0, n)
    eigenvalues[-1] = 4.0
    a = (q * eigenvalues) @ q.T
    return a.astype(dtype), 1e-10, 500
