"""Errors raised while tracing: the user's own mistakes (NameError, a wrong-arity call), JAX's
shape errors and NumPy functions without a jax.numpy namesake, inside loops, helpers and
lambdas. Python's and JAX's exceptions keep their type; the traceback ends at the user's line."""

import math

import jax
import jax.numpy as jnp
import numpy as np

from error_corpus import case
from refscript.errors import UnsupportedNumpyError

X = np.arange(3.0)


def add(a, b):
    return a + b


@case(TypeError, X)
def wrong_arity_call_in_a_loop(x):
    s = 0.0
    for i in range(3):
        s += add(x[i])  # error
    return s


def scaled(a, factor):
    return a * facto  # error  # noqa: F821


@case(NameError, X, at=scaled)
def name_error_in_a_helper(x):
    s = 0.0
    for i in range(3):
        s += scaled(x[i], 2.0)
    return s


@case(NameError, X)
def name_error_in_a_traced_branch(x):
    if x[0] > 0:
        y = x * undefined_scale  # error  # noqa: F821
    else:
        y = x
    return y


@case(TypeError, X)
def shapes_that_do_not_broadcast_in_a_loop(x):
    s = x
    for i in range(3):
        s = s + jnp.ones(5)  # error
    return s


def project(v):
    return v @ jnp.ones(7)  # error


@case(TypeError, X, at=project)
def shape_error_in_a_helper_called_in_a_loop(x):
    s = 0.0
    for i in range(3):
        s += project(x)
    return s


@case(TypeError, X)
def shape_error_in_a_lambda(x):
    widen = lambda v: v + jnp.ones(9)  # error  # noqa: E731
    s = 0.0
    for i in range(3):
        s += widen(x)[0]
    return s


@case(TypeError, X)
def wrong_arity_call_of_a_lambda(x):
    double = lambda v: 2 * v  # noqa: E731
    s = 0.0
    for i in range(3):
        s += double(x[i], 1.0)  # error
    return s


@case(AttributeError, X)
def missing_attribute_of_a_traced_value(x):
    s = 0.0
    for i in range(3):
        s += x[i].no_such_attribute  # error
    return s


@case(jax.errors.ConcretizationTypeError, X)
def math_function_on_a_traced_value(x):
    s = 0.0
    for i in range(3):
        s += math.floor(x[i])  # error
    return s


@case(UnsupportedNumpyError, X)
def numpy_random(x):
    return x + np.random.rand(3)  # error


@case(UnsupportedNumpyError, X)
def numpy_io_in_a_loop(x):
    for i in range(3):
        np.savetxt("x.txt", x)  # error
    return x


def noisy(v):
    return v + np.random.normal(size=v.shape)  # error


@case(UnsupportedNumpyError, X, at=noisy)
def numpy_random_in_a_helper(x):
    return noisy(x)
