"""Nussinov RNA folding."""

import numpy as np


def pairs(b1, b2):
    return 1 if b1 + b2 == 3 else 0


def nussinov(seq):
    """Nussinov RNA folding (PolyBench `nussinov`): the maximum number of nested base
    pairs of every subsequence, by dynamic programming over a triangular table.
    Bases are codes 0..3 (A C G U); A-U and C-G pair (codes summing to 3).
    """
    n = seq.shape[0]
    table = np.zeros((n, n), dtype=np.int64)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            if j - 1 >= 0:
                table[i, j] = max(table[i, j], table[i, j - 1])
            if i + 1 < n:
                table[i, j] = max(table[i, j], table[i + 1, j])
            if j - 1 >= 0 and i + 1 < n:
                if i < j - 1:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1] + pairs(seq[i], seq[j]))
                else:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])
    return table


def make_inputs(n, rng, dtype=None):
    return (rng.integers(0, 4, size=n),)
