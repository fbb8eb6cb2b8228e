"""Indices compiled code cannot take, and static indices out of bounds (NumPy's IndexError)."""

import jax.numpy as jnp
import numpy as np

from error_corpus import case
from refscript.errors import IndexingError, ShapeError, TracedSliceError

X = np.arange(4.0)


@case(IndexingError, X)
def static_index_past_the_end(x):
    out = x.copy()
    out[7] = 1.0  # error
    return out


@case(IndexingError, X)
def static_negative_index_past_the_start(x):
    out = x.copy()
    out[-5] = 1.0  # error
    return out


@case(IndexingError, X)
def static_index_from_loop_bound_past_the_end(x):
    out = x.copy()
    for i in range(x.shape[0]):
        out[i] = out[x.shape[0]]  # error
    return out


@case(IndexingError, X, 5)
def static_parameter_index_past_the_end(x, n):
    return x[0] + x[n]  # error


@case(IndexingError, X, 3)
def static_computed_index_past_the_end_inside_a_loop(x, n):
    k = n + 1
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[k]  # error
    return s


@case(IndexingError, X)
def static_read_past_the_end_of_an_argument(x):
    return x[10]  # error


@case(IndexingError, np.ones((2, 2)))
def too_many_indices(a):
    out = a.copy()
    out[0, 1, 0] = 2.0  # error
    return out


@case(IndexingError, X, 1.5)
def float_index(x, k):
    out = x.copy()
    out[k] = 0.0  # error
    return out


@case(IndexingError, X)
def mask_read_of_a_written_array(x):
    out = x.copy()
    out[0] = -1.0
    return out[out > 0]  # error


@case(TracedSliceError, X, 2, static_scalars=False)
def traced_slice_step(x, k):
    out = x.copy()
    out[::k] = 0.0  # error
    return out


@case(ShapeError, np.ones((3, 3)))
def row_of_the_wrong_length(a):
    out = a.copy()
    for i in range(3):
        out[i] = jnp.ones(4)  # error
    return out
