"""`assert` in converted code: Python's meaning on Python values, checked at run time on request."""

import inspect

import jax
import numpy as np
import pytest

import refscript
from oracle import narrowed
from refscript.errors import CheckFailedError


def checked_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        assert x[i] >= 0, f"entry {i} is negative"
        s += x[i]
    return s


def static_assert(x, n):
    assert n > 0, "n must be positive"
    return x * n


def _line(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, line in enumerate(lines) if text in line)


def test_static_assert_is_pythons_assert():
    compiled = refscript.jit(static_assert)
    x = narrowed(np.ones(2))
    np.testing.assert_allclose(compiled(x, 3), 3 * np.ones(2))
    with pytest.raises(AssertionError, match="n must be positive"):
        compiled(x, 0)


def test_traced_assert_is_checked_when_asked():
    compiled = refscript.jit(checked_sum, checks=True)
    assert float(compiled(narrowed(np.array([1.0, 2.0])))) == 3.0
    with pytest.raises(CheckFailedError) as info:
        compiled(narrowed(np.array([1.0, -2.0, 3.0])))
    assert isinstance(info.value, AssertionError)
    message = str(info.value)
    assert f"{__file__}:{_line(checked_sum, 'assert x[i]')}" in message
    assert "is negative" in message


def test_traced_assert_is_skipped_by_default_and_recorded():
    compiled = refscript.jit(checked_sum)
    assert float(compiled(narrowed(np.array([1.0, -2.0])))) == checked_sum(np.array([1.0, 2.0])) - 4.0
    (location,) = compiled.unchecked_assertions
    assert location.lineno == _line(checked_sum, "assert x[i]")


def test_checked_function_still_composes_with_transformations(rng):
    compiled = refscript.jit(checked_sum, checks=True)
    x = np.abs(rng.normal(size=4))
    np.testing.assert_allclose(jax.grad(compiled)(x), np.ones(4))
    np.testing.assert_allclose(jax.vmap(compiled)(np.stack([x, 2 * x])), [x.sum(), 2 * x.sum()])


def count_in_range(x, n):
    counts = np.zeros(n, dtype=int)
    for i in range(x.shape[0]):
        b = int(np.floor(x[i]))
        if 0 <= b < n:  # the index is computed before the branch, out of bounds where it is not taken
            counts[b] += 1
    return counts


def test_checks_do_not_fail_an_index_guarded_by_a_branch_not_taken():
    # The write, moved after the branch (runtime/deferred.py), kept the unguarded index: checks=True
    # raised OutOfBoundsError for values the `if` drops (found by the oracle's checked lowering).
    x = narrowed(np.array([0.5, 3.5, -1.5, 7.0, 1.2]))
    expected = count_in_range(x, 4)
    np.testing.assert_array_equal(refscript.jit(count_in_range, checks=True)(x, 4), expected)
    np.testing.assert_array_equal(refscript.jit(count_in_range)(x, 4), expected)
