"""Errors name the user's file, line and construct, never refscript's internals."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from refscript.errors import (
    ConversionError,
    IndexingError,
    LoopVariableTypeError,
    RefscriptError,
    UndefinedVariableError,
)


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    for offset, line in enumerate(lines):
        if text in line:
            return first + offset
    raise AssertionError(f"{text!r} not in {fn.__name__}")


def uses_with_in_loop(x, lock):
    for i in range(3):
        with lock:
            x = x + 1
    return x


def uses_del_in_branch(x):
    y = x
    if x[0] > 0:
        del y
    return x


def uses_walrus_in_loop(x):
    for i in range(3):
        if (y := x[i]) > 0:
            x = x + y
    return x


def sets_attribute_in_loop(x, state):
    for i in range(3):
        state.total = x[i]
    return x


def uses_match(x):
    match x.ndim:
        case 1:
            return x
    return x


def uses_yield(x):
    for i in range(3):
        yield x[i]


def uses_global(x):
    global COUNTER
    COUNTER = x
    return x


def uses_try_in_loop(x):
    for i in range(3):
        try:
            x = x + 1
        except ValueError:
            pass
    return x


def uses_chained_subscript(a):
    for i in range(3):
        a[i][0] = 1.0
    return a


def writes_loop_variable(a):
    for row in a:
        row[0] = 1.0
    return a


UNSUPPORTED = [
    (uses_with_in_loop, "with lock", "`with` inside a loop"),
    (uses_del_in_branch, "del y", "`del` inside a loop or branch"),
    (uses_walrus_in_loop, "(y := x[i])", "`:=` inside a loop"),
    (sets_attribute_in_loop, "state.total", "attribute assignment inside a loop"),
    (uses_match, "match x.ndim", "`match`"),
    (uses_yield, "yield x", "`yield`"),
    (uses_global, "global COUNTER", "`global`"),
    (uses_try_in_loop, "try:", "`try` inside a loop"),
    (uses_chained_subscript, "a[i][0]", "a[i][j] = v"),
    (writes_loop_variable, "row[0]", "loop variable 'row'"),
]


@pytest.mark.parametrize("fn, marker, words", UNSUPPORTED, ids=[u[0].__name__ for u in UNSUPPORTED])
def test_unsupported_construct_is_reported_at_the_users_line(fn, marker, words):
    with pytest.raises(ConversionError) as info:
        refscript.jit(fn)
    error = info.value
    assert isinstance(error, SyntaxError)
    assert error.filename == __file__
    assert error.lineno == _line_of(fn, marker)
    message = str(error)
    assert words in message
    assert f"{__file__}:{error.lineno}:" in message
    assert "hint:" in message
    assert "refscript/" not in message


def test_source_unavailable_says_what_to_do():
    namespace = {}
    exec("def made_by_exec(x):\n    return x\n", namespace)
    with pytest.raises(refscript.errors.SourceUnavailableError, match="source"):
        refscript.jit(namespace["made_by_exec"])


def changes_shape(x):
    v = x[:1]
    for i in range(x.shape[0]):
        v = jnp.append(v, x[i])
    return v


def test_variable_changing_shape_in_a_compiled_loop_is_named():
    with pytest.raises(LoopVariableTypeError) as info:
        refscript.jit(changes_shape)(np.arange(3.0))
    message = str(info.value)
    assert "'v'" in message and "changes shape" in message
    assert info.value.location.lineno == _line_of(changes_shape, "v = jnp.append")


def defined_on_one_branch(x):
    if x[0] > 0:
        y = x[0] * 2
    return y + 1.0


def test_variable_bound_on_one_traced_branch_is_an_unbound_local_error():
    with pytest.raises(UndefinedVariableError) as info:
        refscript.jit(defined_on_one_branch)(np.array([1.0, 2.0]))
    assert isinstance(info.value, UnboundLocalError)
    assert "'y'" in str(info.value)
    assert info.value.location.lineno == _line_of(defined_on_one_branch, "return y")
    assert f"the `if` at {__file__}:{_line_of(defined_on_one_branch, 'if x[0] > 0')}:" in str(info.value)


def static_out_of_bounds(x):
    out = x.copy()
    for i in range(x.shape[0]):
        out[i + 5] = 0.0
    return out


def static_index_past_end(x):
    out = x.copy()
    out[7] = 1.0
    return out


def test_static_out_of_bounds_write_raises_index_error_at_the_line():
    with pytest.raises(IndexingError) as info:
        refscript.jit(static_index_past_end)(np.arange(3.0))
    assert isinstance(info.value, IndexError)
    assert info.value.location.lineno == _line_of(static_index_past_end, "out[7]")


def traced_bound(x, n):
    s = 0.0
    k = 0
    while k < n:
        s += x[k] * x[k]
        k += 1
    return s


def test_reverse_mode_through_while_names_the_loop():
    compiled = refscript.jit(traced_bound, static_scalars=False)
    with pytest.raises(refscript.errors.ReverseModeLoopError) as info:
        jax.grad(compiled)(np.arange(3.0), 3)
    assert info.value.location.lineno == _line_of(traced_bound, "while k < n")
    assert "static" in info.value.hint
    # Forward mode works through the same loop.
    np.testing.assert_allclose(jax.jacfwd(compiled)(np.arange(3.0), 3), 2 * np.arange(3.0))


def test_errors_are_refscript_errors():
    for cls in (ConversionError, IndexingError, LoopVariableTypeError, UndefinedVariableError):
        assert issubclass(cls, RefscriptError)


def run_time_loop_inside_compiled_loop(x, m):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(m):
            s += x[i] * j
    return s


def test_reverse_mode_through_nested_run_time_loop_names_it():
    compiled = refscript.jit(run_time_loop_inside_compiled_loop, static_scalars=False)
    with pytest.raises(refscript.errors.ReverseModeLoopError) as info:
        jax.grad(compiled)(np.ones(3), 2)
    assert info.value.location.lineno == _line_of(run_time_loop_inside_compiled_loop, "for j in range(m)")
