"""Histogram of float data in equal bins."""

import numpy as np


def histogram_binned(x, lo, hi, nbins):
    """Histogram of float data in `nbins` equal bins over [lo, hi]: the bin is computed
    from the value (`int(np.floor(...))`), `hi` itself goes in the last bin, and
    values outside the range are dropped (`if 0 <= b < nbins`).
    """
    hist = np.zeros(nbins, dtype=np.int64)
    width = (hi - lo) / nbins
    for i in range(x.shape[0]):
        b = int(np.floor((x[i] - lo) / width))
        if x[i] == hi:
            b = nbins - 1
        if 0 <= b < nbins:
            hist[b] += 1
    return hist


def make_inputs(n, rng, dtype=np.float64):
    """Values in [-0.25, 1.25] (some out of range) plus the end point 1.0; range [0, 1], 4 bins."""
    x = rng.uniform(-0.25, 1.25, size=n)
    x[0] = 1.0
    return x.astype(dtype), 0.0, 1.0, 4
