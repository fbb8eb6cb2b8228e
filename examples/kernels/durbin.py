"""Levinson–Durbin recursion (PolyBench `durbin`)."""

import numpy as np


def durbin(r):
    """Levinson–Durbin recursion (PolyBench `durbin`): solves the Yule–Walker
    equations for the autocorrelation sequence `r`, growing the solution `y[:k]`
    one element per step with loop-dependent slices.
    """
    n = r.shape[0]
    y = np.zeros_like(r)
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, n):
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + np.dot(np.flip(r[:k]), y[:k])) / beta
        z = y[:k] + alpha * np.flip(y[:k])
        y[:k] = z
        y[k] = alpha
    return y


def make_inputs(n, rng, dtype=np.float64):
    """A decaying sequence with |r[k]| < 1, so the recursion stays well defined."""
    r = 0.5 ** np.arange(1, n + 1) * (1 + 0.1 * rng.standard_normal(n))
    return (r.astype(dtype),)
