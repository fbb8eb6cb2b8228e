"""Sequential inclusive prefix scan."""

import numpy as np


def prefix_sum(x):
    """Inclusive prefix scan: `out[i] = x[0] + ... + x[i]`, one element at a time."""
    out = np.zeros_like(x)
    out[0] = x[0]
    for i in range(1, x.shape[0]):
        out[i] = out[i - 1] + x[i]
    return out


def make_inputs(n, rng, dtype=np.float64):
    return (rng.standard_normal(n).astype(dtype),)
