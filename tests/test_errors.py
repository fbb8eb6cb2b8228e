"""Errors name the user's file, line and construct, never refscript's internals."""

import inspect
import io
import os
import pdb
import sys
import traceback
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import narrowed
from refscript.errors import (
    CheckFailedError,
    ConversionError,
    IndexingError,
    LoopVariableTypeError,
    RefscriptError,
    UndefinedVariableError,
)

# refscript's own files: no message or frame shown to the user may point into them. (The
# checkout's folder is often itself named `refscript`, so a test must not look for the word.)
PACKAGE_DIR = os.path.dirname(os.path.abspath(refscript.__file__)) + os.sep


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
    assert PACKAGE_DIR not in message


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
        refscript.jit(changes_shape)(narrowed(np.arange(3.0)))
    message = str(info.value)
    assert "'v'" in message and "changes shape" in message
    assert info.value.location.lineno == _line_of(changes_shape, "v = jnp.append")


def defined_on_one_branch(x):
    if x[0] > 0:
        y = x[0] * 2
    return y + 1.0


def test_variable_bound_on_one_traced_branch_is_an_unbound_local_error():
    with pytest.raises(UndefinedVariableError) as info:
        refscript.jit(defined_on_one_branch)(narrowed(np.array([1.0, 2.0])))
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
        refscript.jit(static_index_past_end)(narrowed(np.arange(3.0)))
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


# Tracebacks, linecache, inspect and pdb see the user's code.


def shape_error_in_loop(x):
    s = x
    for i in range(3):
        s = s + jax.numpy.ones(5)
    return s


def test_traceback_frames_are_the_users_lines_and_function():
    with pytest.raises(TypeError) as info:
        refscript.jit(shape_error_in_loop)(narrowed(np.arange(3.0)))
    frames = [f for f in traceback.extract_tb(info.value.__traceback__) if f.filename == __file__]
    assert [f.name for f in frames][-2:] == ["shape_error_in_loop", "shape_error_in_loop"]
    assert [f.lineno for f in frames][-2:] == [
        _line_of(shape_error_in_loop, "for i in range(3)"), _line_of(shape_error_in_loop, "s = s + jax")]
    # The text comes from linecache: the user's own lines, not generated code.
    assert frames[-1].line == "s = s + jax.numpy.ones(5)"
    assert not any(f.filename.startswith(PACKAGE_DIR) for f in traceback.extract_tb(info.value.__traceback__))
    (note,) = [n for n in info.value.__notes__ if n.startswith("refscript:")]
    assert f"{__file__}:{_line_of(shape_error_in_loop, 's = s + jax')}:" in note


def test_traceback_filtering_off_keeps_refscript_frames():
    before = jax.config.jax_traceback_filtering
    jax.config.update("jax_traceback_filtering", "off")
    try:
        with pytest.raises(TypeError) as info:
            refscript.jit(shape_error_in_loop)(narrowed(np.arange(3.0)))
    finally:
        jax.config.update("jax_traceback_filtering", before)
    assert any(f.filename.startswith(PACKAGE_DIR) for f in traceback.extract_tb(info.value.__traceback__))


def test_converted_function_has_the_users_source_and_names():
    converted = refscript.jit(shape_error_in_loop)._conversion.function
    assert converted.__code__.co_filename == __file__
    assert inspect.getsource(converted) == inspect.getsource(shape_error_in_loop)
    assert converted.__code__.co_name == "shape_error_in_loop"
    nested = [c for c in converted.__code__.co_consts if isinstance(c, types.CodeType)]
    assert nested and all(c.co_name == "shape_error_in_loop" for c in nested)  # the loop body


def stops_in_loop(x):
    s = 0.0
    for i in range(x.shape[0]):
        breakpoint()
        s += x[i]
    return s


def test_pdb_stops_at_the_users_line(monkeypatch):
    out = io.StringIO()
    # The loop body is traced once per lowering (two here: plain calls do not stream it).
    debugger = pdb.Pdb(stdin=io.StringIO("where\nlist\ncontinue\ncontinue\n"), stdout=out, nosigint=True)
    monkeypatch.setattr(sys, "breakpointhook", debugger.set_trace)
    compiled = refscript.jit(stops_in_loop)
    result = compiled(narrowed(np.arange(3.0)))
    assert float(result) == 3.0
    assert compiled.lowerings == 2
    text = out.getvalue()
    line = _line_of(stops_in_loop, "s += x[i]")  # as in Python: the line after breakpoint()
    assert f"{__file__}({line})stops_in_loop()" in text  # `where`
    assert f"{line:>3}  ->\t        s += x[i]" in text  # `list`: the user's file, at the line
    # The user's function's frames show the user's lines (refscript's runtime frames are there too:
    # the debugger shows the whole stack), never generated code.
    assert f"{__file__}({_line_of(stops_in_loop, 'for i in range')})stops_in_loop()" in text
    assert "rs.for_stmt" not in text and "s_ref" not in text


# Checked mode.


def guarded_scan(x, n):
    k = 0
    while k < n and x[k] > 0:
        k += 1
    return k


def test_checks_do_not_report_an_index_python_would_not_evaluate():
    # `x[k]` with k == n is out of bounds, but Python never evaluates it: `k < n` is False.
    compiled = refscript.jit(guarded_scan, checks=True, static_scalars=False)
    for x in narrowed((np.ones(3), np.array([1.0, -1.0, 1.0]))):
        assert int(compiled(x, 3)) == guarded_scan(x, 3)


def read_at(x, k):
    return x[k]


def test_out_of_bounds_check_follows_numpys_negative_index_rule():
    compiled = refscript.jit(read_at, checks=True, static_scalars=False)
    x = narrowed(np.arange(3.0))
    for k in range(-3, 3):
        assert float(compiled(x, k)) == read_at(x, k)
    for k in (-5, -4, 3, 4):
        with pytest.raises(IndexError, match=f"index {k} is out of bounds for axis 0 with size 3"):
            read_at(x, k)  # the oracle
        with pytest.raises(refscript.errors.OutOfBoundsError) as info:
            compiled(x, k)
        assert isinstance(info.value, IndexError) and isinstance(info.value, CheckFailedError)
        assert f"index {k} is out of bounds for axis 0 with size 3" in str(info.value)
        assert info.value.location.lineno == _line_of(read_at, "return x[k]")


def test_without_checks_traced_indices_are_clamped():
    # Documented in docs/errors.md: JAX's rule, not NumPy's.
    compiled = refscript.jit(read_at, static_scalars=False)
    x = narrowed(np.arange(3.0))
    assert float(compiled(x, 7)) == x[-1] and float(compiled(x, -7)) == x[0]


def test_checked_function_composes_with_transformations():
    compiled = refscript.jit(read_at, checks=True, static_scalars=False)
    np.testing.assert_allclose(jax.grad(compiled)(np.arange(3.0), 1), [0.0, 1.0, 0.0])


# The hierarchy.


def test_every_error_class_is_a_refscript_error_a_builtin_and_has_a_hint():
    classes = [c for c in vars(refscript.errors).values()
               if isinstance(c, type) and issubclass(c, RefscriptError) and c is not RefscriptError]
    assert len(classes) >= 15
    for cls in classes:
        builtins_ = [b for b in cls.__mro__ if b.__module__ == "builtins" and b not in (Exception, BaseException, object)]
        assert builtins_, cls
        assert cls.hint and "\n" not in cls.hint, cls


def test_source_unavailable_error_says_why_and_what_to_do():
    namespace = {}
    exec("def made_by_exec(x):\n    return x\n", namespace)
    with pytest.raises(refscript.errors.SourceUnavailableError) as info:
        refscript.jit(namespace["made_by_exec"])
    assert isinstance(info.value, OSError)
    message = str(info.value)
    assert "cannot read the source of 'made_by_exec'" in message
    assert "hint:" in message and ".py file" in message


def logical_mix(x, n):
    a = (x[0] > 0) and (x[1] * 2.0)
    b = (x[0] < 0) or (x[2] + 1)
    c = x[0] > 0 and x[1] > 0 and x[2] > 0
    d = n > 1 or x[0]
    k = 0
    while k < n and x[k] > 0 or k == 0:
        k += 1
    return a, b, c, d, k


@pytest.mark.parametrize("checks", [False, True])
def test_and_or_give_pythons_values_with_and_without_checks(checks):
    compiled = refscript.jit(logical_mix, checks=checks, static_scalars=False)
    for x in narrowed((np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 5.0]))):
        for n in (0, 2, 3):
            for got, want in zip(compiled(x, n), logical_mix(x, n)):
                np.testing.assert_allclose(np.asarray(got), np.asarray(want))
