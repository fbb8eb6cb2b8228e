"""Run-time checks (`refscript.jit(fn, checks=True)`): failed asserts and out-of-bounds traced
indices, reported at the line that indexes when the compiled code runs."""

import numpy as np

from error_corpus import case
from refscript.errors import CheckFailedError, IndexingError, OutOfBoundsError

X = np.arange(3.0)


@case(OutOfBoundsError, X, 1, checks=True, static_scalars=False)
def read_past_the_end(x, k):
    s = 0.0
    for i in range(3):
        s += x[i + k]  # error
    return s


@case(OutOfBoundsError, X, 1, checks=True, static_scalars=False)
def write_past_the_end(x, k):
    out = x.copy()
    for i in range(3):
        out[i + k] = 0.0  # error
    return out


@case(OutOfBoundsError, X, -4, checks=True, static_scalars=False)
def negative_index_past_the_start(x, k):
    return x[k]  # error


@case(OutOfBoundsError, X, 4, checks=True, static_scalars=False)
def read_of_a_written_array(x, k):
    out = x.copy()
    s = 0.0
    for i in range(3):
        out[i] = 2.0
        s += out[i - k]  # error
    return s


@case(OutOfBoundsError, X, np.array([0, 5]), checks=True)
def index_array_read(x, idx):
    return x[idx].sum()  # error


@case(OutOfBoundsError, X, np.array([0, -4]), checks=True)
def index_array_write(x, idx):
    out = x.copy()
    out[idx] = 0.0  # error
    return out


def shifted(x, i):
    return x[i + 1]  # error


@case(OutOfBoundsError, X, checks=True, at=shifted)
def read_past_the_end_in_a_helper(x):
    s = 0.0
    for i in range(3):
        s += shifted(x, i)
    return s


@case(IndexingError, X, checks=True)  # static: found when tracing, checks or not
def static_read_past_the_end(x):
    return x[10]  # error


@case(CheckFailedError, np.array([1.0, -2.0, 3.0]), checks=True)
def failed_assert(x):
    s = 0.0
    for i in range(3):
        assert x[i] >= 0, "negative entry"  # error
        s += x[i]
    return s


@case(AssertionError, X, 0)
def static_assert(x, n):
    assert n > 0, "n must be positive"  # error
    return x * n
