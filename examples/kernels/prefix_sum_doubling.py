"""Inclusive prefix scan by recursive doubling."""

import numpy as np


def prefix_sum_doubling(x):
    """Inclusive prefix scan by recursive doubling (Hillis–Steele): log2(n) whole-array
    steps, each adding the array shifted by the current offset. The `while` depends
    only on the Python int `offset`.
    """
    out = x.copy()
    offset = 1
    while offset < x.shape[0]:
        out[offset:] = out[offset:] + out[:-offset]
        offset *= 2
    return out


def make_inputs(n, rng, dtype=np.float64):
    return (rng.standard_normal(n).astype(dtype),)
