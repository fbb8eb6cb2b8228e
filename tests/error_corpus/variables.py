"""Variables that traced loops and branches cannot carry: shapes that change, values that are
not arrays, names bound on one path only."""

import jax.numpy as jnp
import numpy as np

from error_corpus import case
from refscript.errors import LoopVariableTypeError, ShapeError, UndefinedVariableError

X = np.array([1.0, -2.0, 3.0])


@case(LoopVariableTypeError, X)
def grows_each_iteration(x):
    v = x[:1]
    for i in range(x.shape[0]):
        v = jnp.append(v, x[i])  # error
    return v


@case(LoopVariableTypeError, X)
def shrinks_in_a_branch(x):
    v = x
    if x[0] > 0:
        v = x[:2]  # error
    return v


@case(LoopVariableTypeError, np.ones((2, 2)))
def reshaped_in_a_while_loop(x):
    k = 0
    while x[0, 0] * k < 10.0:
        x = x.reshape(4)  # error
        k += 1
    return x


@case(LoopVariableTypeError, X)
def none_then_array(x):
    best = None
    for i in range(3):
        if x[i] > 0:  # error
            best = x[i]
    return best


@case(LoopVariableTypeError, X)
def list_in_traced_branch(x):
    found = []
    for i in range(3):
        if x[i] > 0:  # error
            found = found + [i]
    return found


@case(LoopVariableTypeError, X)
def string_in_traced_branch(x):
    label = "negative"
    if x[0] > 0:  # error
        label = "positive"
    return x, label


@case(LoopVariableTypeError, X)
def returns_none_on_one_path(x):
    if x[0] > 0:  # error
        return x * 2


@case(UndefinedVariableError, X)
def bound_on_one_branch_then_returned(x):
    if x[0] > 0:
        y = x[0] * 2
    return y  # error


@case(UndefinedVariableError, X)
def bound_on_one_branch_then_used(x):
    if x[0] > 0:
        y = x[0] * 2
    z = y + 1.0  # error
    return z


@case(ShapeError, X)
def array_as_a_condition(x):
    if x > 0:  # error
        return x
    return -x


@case(ShapeError, X)
def array_as_a_loop_condition(x):
    s = 0.0
    while x > s:  # error
        s += 1.0
    return s
