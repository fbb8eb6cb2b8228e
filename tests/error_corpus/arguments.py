"""Mistakes at the call: arguments a compiled function cannot take."""

import numpy as np

import refscript
from error_corpus import case, scenario
from refscript.errors import ArgumentError, ReadOnlyArgumentError


def scale(x, factor):
    out = x.copy()
    for i in range(x.shape[0]):
        out[i] = x[i] * factor
    return out


def frozen():
    x = np.arange(3.0)
    x.setflags(write=False)
    return x


@case(ReadOnlyArgumentError, frozen())
def writes_into_a_read_only_argument(x):
    for i in range(x.shape[0]):
        x[i] = 0.0  # error


@scenario(ArgumentError, np.ones(3))
def unhashable_static_argument(x):
    compiled = refscript.jit(scale, static_argnames="factor")
    return compiled(x, factor=np.array([2.0]))  # error


@scenario(ArgumentError, np.ones(3))
def too_many_arguments(x):
    compiled = refscript.jit(scale)
    return compiled(x, 2.0, 3.0)  # error


@scenario(ArgumentError, np.ones(3))
def missing_argument(x):
    compiled = refscript.jit(scale)
    return compiled(x)  # error


@scenario(ArgumentError, np.ones(3))
def string_as_a_traced_argument(x):
    compiled = refscript.jit(scale)
    return compiled(x, "2.0")  # error
