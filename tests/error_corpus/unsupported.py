"""Constructs refscript cannot convert: a ConversionError (a SyntaxError) at decoration."""

import numpy as np

from error_corpus import case
from refscript.errors import ConversionError

X = np.arange(3.0)
COUNTER = 0.0


@case(ConversionError, X)
def generator(x):
    for i in range(3):
        yield x[i]  # error


@case(ConversionError, X)
def generator_delegating(x):
    yield from x  # error


@case(ConversionError, X)
async def coroutine(x):  # error
    return x


@case(ConversionError, X)
def nested_generator(x):
    def items():
        yield x[0]  # error

    return x


@case(ConversionError, X)
def try_in_loop(x):
    s = 0.0
    for i in range(3):
        try:  # error
            s += x[i]
        except ValueError:
            s = 0.0
    return s


@case(ConversionError, X)
def try_in_branch(x):
    if x[0] > 0:
        try:  # error
            x = x + 1
        finally:
            pass
    return x


@case(ConversionError, X)
def global_write(x):
    global COUNTER  # error
    COUNTER = x[0]
    return x


@case(ConversionError, X)
def nonlocal_write(x):
    total = 0.0

    def add(v):
        nonlocal total  # error
        total += v

    for i in range(3):
        add(x[i])
    return total


@case(ConversionError, X)
def with_in_loop(x, lock=None):
    for i in range(3):
        with lock:  # error
            x = x + 1
    return x


@case(ConversionError, X)
def del_in_branch(x):
    y = x
    if x[0] > 0:
        del y  # error
    return x


@case(ConversionError, X)
def match_statement(x):
    match x.ndim:  # error
        case 1:
            return x
    return x


@case(ConversionError, X)
def class_in_loop(x):
    for i in range(3):
        class Step:  # error
            pass
    return x


@case(ConversionError, X)
def walrus_in_loop(x):
    s = 0.0
    for i in range(3):
        if (v := x[i]) > 0:  # error
            s += v
    return s


@case(ConversionError, X)
def attribute_write_in_loop(x, state=None):
    for i in range(3):
        state.total = x[i]  # error
    return x


@case(ConversionError, np.ones((3, 3)))
def chained_subscript_write(a):
    for i in range(3):
        a[i][0] = 1.0  # error
    return a


@case(ConversionError, np.ones((3, 3)))
def write_into_loop_variable(a):
    for row in a:
        row[0] = 1.0  # error
    return a


@case(ConversionError, X)
def write_into_expression(x):
    for i in range(3):
        (x + 1)[i] = 0.0  # error
    return x


def fill_first(a):
    a[0] = 1.0  # error
    return a


@case(ConversionError, X, at=fill_first)
def helper_writes_its_argument(x):
    y = x.copy()
    return fill_first(y)
