"""Escape-time Mandelbrot set."""

import numpy as np


def mandelbrot(re, im, max_iter):
    """Escape-time Mandelbrot set: for each point c of a grid, iterate z = z*z + c
    from 0 until |z| > 2 or `max_iter` steps (a data-dependent `while`), and record
    the number of steps.
    """
    h = im.shape[0]
    w = re.shape[0]
    counts = np.zeros((h, w), dtype=np.int64)
    for py in range(h):
        for px in range(w):
            cr = re[px]
            ci = im[py]
            x = 0.0
            y = 0.0
            k = 0
            while x * x + y * y <= 4.0 and k < max_iter:
                x, y = x * x - y * y + cr, 2.0 * x * y + ci
                k += 1
            counts[py, px] = k
    return counts


def make_inputs(n, rng, dtype=np.float64):
    """An n x n grid over [-2, 0.5] x [-1.25, 1.25]."""
    re = np.linspace(-2.0, 0.5, n).astype(dtype)
    im = np.linspace(-1.25, 1.25, n).astype(dtype)
    return re, im, 30
