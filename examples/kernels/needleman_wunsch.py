"""Needleman–Wunsch global sequence alignment."""

import numpy as np


def needleman_wunsch(a, b, match, mismatch, gap):
    """Needleman–Wunsch global sequence alignment: fills the score matrix by dynamic
    programming, then traces back from the bottom-right corner (a data-dependent
    `while`) to recover the alignment. Sequences are integer codes (0..3 for ACGT).

    Returns the score matrix, the two aligned sequences (-1 marks a gap), written
    back to front from index 0, and the alignment length.
    """
    n = a.shape[0]
    m = b.shape[0]
    score = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(1, n + 1):
        score[i, 0] = i * gap
    for j in range(1, m + 1):
        score[0, j] = j * gap
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:
                s = match
            else:
                s = mismatch
            score[i, j] = max(score[i - 1, j - 1] + s, score[i - 1, j] + gap, score[i, j - 1] + gap)

    aligned_a = np.full(n + m, -1, dtype=np.int64)
    aligned_b = np.full(n + m, -1, dtype=np.int64)
    i, j, k = n, m, 0
    while i > 0 or j > 0:
        if i > 0 and j > 0 and score[i, j] == score[i - 1, j - 1] + (match if a[i - 1] == b[j - 1] else mismatch):
            aligned_a[k] = a[i - 1]
            aligned_b[k] = b[j - 1]
            i -= 1
            j -= 1
        elif i > 0 and score[i, j] == score[i - 1, j] + gap:
            aligned_a[k] = a[i - 1]
            i -= 1
        else:
            aligned_b[k] = b[j - 1]
            j -= 1
        k += 1
    return score, aligned_a, aligned_b, k


def make_inputs(n, rng, dtype=None):
    a = rng.integers(0, 4, size=n)
    b = rng.integers(0, 4, size=n + 2)
    return a, b, 2, -1, -2
