"""Insertion sort, in place."""

import numpy as np


def insertion_sort(a):
    """Insertion sort, in place: each element is shifted left past the larger ones
    before it (an inner `while` whose condition reads the array).
    """
    for i in range(1, a.shape[0]):
        key = a[i]
        j = i - 1
        while j >= 0 and a[j] > key:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = key


def make_inputs(n, rng, dtype=np.float64):
    return (rng.standard_normal(n).astype(dtype),)
