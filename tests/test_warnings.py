"""Nothing slow or lost happens silently: refscript's warnings, each once, at the user's line.

- `PrecisionWarning`: 64-bit NumPy arrays while JAX's 64-bit mode is off (the default);
- `UnrolledLoopWarning`: a loop unrolled into many copies of its body;
- `LostWriteWarning`: writes into an argument that cannot reach the caller.
"""

import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import narrowed
from refscript.errors import LostWriteWarning, PrecisionWarning, RefscriptWarning, UnrolledLoopWarning


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


@pytest.fixture
def x32():
    """JAX's default mode, 64-bit off (tests/conftest.py turns it on for the other tests)."""
    with jax.enable_x64(False):
        yield


def _no_warning(call, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefscriptWarning)
        return call(*args)


# 64-bit arrays in 32-bit mode.


def bump_first(x):
    x[0] += 1.0
    return x.sum()


def count_first(x):
    x[0] += 1
    return x[0]


def test_64_bit_arrays_in_32_bit_mode_are_warned_of_once_naming_the_argument(x32):
    compiled = refscript.jit(bump_first)
    x = np.array([0.0, 0.1, 2.0])
    with pytest.warns(PrecisionWarning, match=r"argument 'x' of bump_first is a float64 NumPy array.*float32") as info:
        compiled(x)
    (record,) = info.list
    assert record.filename == __file__  # the caller's line
    assert "jax_enable_x64" in str(record.message)
    _no_warning(compiled, x)  # once per function and argument
    _no_warning(compiled, x.astype(np.float32))
    _no_warning(refscript.jit(bump_first), np.zeros(3, np.float32))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # NumPy's, for 1e300
def test_in_32_bit_mode_elements_the_function_did_not_write_keep_their_64_bit_values(x32):
    x = np.array([0.0, 0.1, 1e300, 1e-50, np.nan])
    before = x.copy()
    with pytest.warns(PrecisionWarning):
        refscript.jit(bump_first)(x)
    assert x[0] == 1.0
    np.testing.assert_array_equal(x[1:], before[1:])  # not rounded: 0.1 stays 0.1, 1e300 is not inf
    n = np.array([3, 2**40 + 5], dtype=np.int64)
    with pytest.warns(PrecisionWarning, match="int64.*int32"):
        assert int(refscript.jit(count_first)(n)) == 4
    assert n.tolist() == [4, 2**40 + 5]


@pytest.mark.x64_only  # its subject is 64-bit mode itself
def test_64_bit_mode_on_gives_no_precision_warning():
    assert jax.config.jax_enable_x64  # tests/conftest.py
    _no_warning(refscript.jit(bump_first), np.zeros(3))


# Long unrolled loops.


def running_median(x, k):
    out = np.zeros_like(x)
    for i in range(k, x.shape[0]):
        out[i] = np.median(x[i - k:i])  # the window's length is k: np.median needs its shape
    return out


def test_a_long_unrolled_loop_is_warned_of_once_with_its_line_the_code_and_the_count():
    compiled = refscript.jit(running_median)
    x = narrowed(np.arange(40.0))
    with pytest.warns(UnrolledLoopWarning) as info:
        np.testing.assert_allclose(compiled(x, 3), running_median(x.copy(), 3))
    (record,) = info.list
    message = str(record.message)
    assert record.filename == __file__
    assert record.lineno == _line_of(running_median, "for i in range")
    assert "37 copies" in message
    assert f"`np.median(x[i - k:i])` at line {_line_of(running_median, 'np.median')}" in message
    assert "static_range" in message
    _no_warning(compiled, x, 3)  # the same loop again, also with another count: once per loop
    _no_warning(compiled, narrowed(np.arange(50.0)), 3)
    # show says the same
    text = refscript.show(running_median, x, 3, stage="jaxpr")
    assert "np.median(x[i - k:i])" in text and "37 iterations" in text


def test_a_short_unrolled_loop_or_static_range_is_not_warned_of():
    short = refscript.jit(running_median)
    _no_warning(short, narrowed(np.arange(20.0)), 3)
    assert short.unrolled_loops  # unrolled, 17 times: under the threshold

    def meant(x):
        out = np.zeros_like(x)
        for i in refscript.static_range(40):
            out[i] = x[i] * 2.0
        return out

    np.testing.assert_allclose(_no_warning(refscript.jit(meant), narrowed(np.arange(40.0))), np.arange(40.0) * 2)


# Writes that cannot reach the caller.


def scale(x, factor):
    x[1] *= factor
    x[0] = factor
    return x.sum()


def test_writes_into_a_jax_array_are_warned_of_at_the_write_with_return_updates_as_the_fix():
    compiled = refscript.jit(scale)
    x = jnp.arange(3.0)
    with pytest.warns(LostWriteWarning, match="a JAX array is immutable") as info:
        compiled(x, 2.0)
    (record,) = info.list
    assert (record.filename, record.lineno) == (__file__, _line_of(scale, "x[1] *= factor"))
    assert "return_updates=True" in str(record.message) and "updates['x']" in str(record.message)
    np.testing.assert_array_equal(x, np.arange(3.0))
    _, updates = _no_warning(refscript.jit(scale, return_updates=True), x, 2.0)
    np.testing.assert_allclose(updates["x"], [2.0, 2.0, 2.0])


def test_writes_under_an_outer_transformation_are_warned_of():
    compiled = refscript.jit(scale)
    x = narrowed(np.arange(3.0))
    with pytest.warns(LostWriteWarning, match="outer JAX transformation"):
        jax.jit(compiled)(x, 2.0)
    np.testing.assert_array_equal(x, np.arange(3.0))
    _no_warning(refscript.jit(scale), x, 2.0)  # a direct call writes into the NumPy array
    np.testing.assert_allclose(x, [2.0, 2.0, 2.0])


def test_a_function_that_writes_nothing_is_not_warned_of_under_transformations():
    def total(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * x[i]
        return s

    compiled = refscript.jit(total)
    _no_warning(jax.grad(compiled), jnp.arange(3.0))
    _no_warning(jax.jit(compiled), narrowed(np.arange(3.0)))
