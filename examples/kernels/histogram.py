"""Histogram of integer data."""

import numpy as np


def histogram(x, nbins):
    """Histogram of integer data: `hist[x[i]] += 1`, with the bin chosen by the data."""
    hist = np.zeros(nbins, dtype=np.int64)
    for i in range(x.shape[0]):
        hist[x[i]] += 1
    return hist


def make_inputs(n, rng, dtype=None):
    return rng.integers(0, 5, size=n), 5
