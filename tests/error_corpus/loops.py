"""Loops: reverse mode through run-time trip counts, loops that need Python values, bad bounds."""

import jax
import numpy as np

from error_corpus import case
from refscript.errors import ReverseModeLoopError, StaticLoopError, TracedValueError

X = np.arange(1.0, 4.0)


@case(ReverseModeLoopError, X, 3, static_scalars=False, transform=jax.grad)
def grad_through_a_while_loop(x, n):
    s = 0.0
    k = 0
    while k < n:  # error
        s += x[k] * x[k]
        k += 1
    return s


@case(ReverseModeLoopError, X, 2, static_scalars=False, transform=jax.grad)
def grad_through_a_for_loop_of_traced_length(x, n):
    s = 0.0
    for i in range(n):  # error
        s += x[i] ** 2
    return s


@case(ReverseModeLoopError, X, static_scalars=False, transform=jax.grad)
def grad_through_a_data_dependent_while(x):
    s = x[0]
    while s < 100.0:  # error
        s = s * 2.0
    return s


WEIGHTS = [0.5] * 5000  # a Python list: only a Python int can index it


@case(StaticLoopError, np.ones(5000))
def list_indexed_in_a_long_loop(x):
    s = 0.0
    for i in range(5000):
        s += x[i] * WEIGHTS[i]  # error
    return s


@case(StaticLoopError, np.ones(3))
def python_while_that_runs_too_long(x):
    k = 0
    s = 0.0
    while k < 5000:  # error
        s += x[k % 3] * WEIGHTS[k]
        k += 1
    return s


@case(TracedValueError, X, 3.0)
def float_loop_bound(x, n):
    s = 0.0
    for i in range(n):  # error
        s += x[i]
    return s


@case(TracedValueError, X, np.array([1, 2]))
def array_loop_bound(x, n):
    s = 0.0
    for i in range(n):  # error
        s += x[i]
    return s
