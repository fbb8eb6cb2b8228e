"""Iterative radix-2 FFT."""

import numpy as np


def fft(x):
    """Iterative radix-2 Cooley–Tukey FFT: a bit-reversal permutation (swaps found by
    an inner `while` on integer bits), then log2(n) butterfly stages, in complex128.
    Equals `np.fft.fft(x)`; the length must be a power of two.
    """
    n = x.shape[0]
    a = x.astype(np.complex128)
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j ^= bit
        if i < j:
            a[i], a[j] = a[j], a[i]
    length = 2
    while length <= n:
        w = np.exp(-2j * np.pi / length)
        for start in range(0, n, length):
            wk = 1.0 + 0.0j
            for k in range(length // 2):
                u = a[start + k]
                v = a[start + k + length // 2] * wk
                a[start + k] = u + v
                a[start + k + length // 2] = u - v
                wk *= w
        length *= 2
    return a


def make_inputs(n, rng, dtype=np.float64):
    """A real signal whose length is n rounded up to a power of two."""
    size = 1 << max(1, (n - 1).bit_length())
    return (rng.standard_normal(size).astype(dtype),)
