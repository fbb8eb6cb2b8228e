"""`and`, `or`, `not` and conditional expressions, on Python and traced operands."""

import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed


def count_in_band(x, low, high):
    n = 0
    for i in range(x.shape[0]):
        if x[i] > low and x[i] < high:
            n += 1
        elif not x[i] > -high or x[i] == 0:
            n -= 1
    return n


def clipped_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] if x[i] > 0 else 0.5 * x[i]
    return s


def short_circuit_on_static(x, items):
    # `items[0]` would fail on an empty list: Python's short-circuit must be kept.
    y = x
    if len(items) > 0 and items[0] > 1:
        y = x * 2.0
    return y


def chained_values(x):
    a = x[0] > 0 or x[1] > 0
    b = x[0] > 0 and x[1] > 0 and x[2] > 0
    return a, b, not b


@pytest.mark.parametrize("seed", range(4))
def test_and_or_not_in_traced_branches(seed):
    x = np.random.default_rng(seed).normal(size=9)
    check(count_in_band, x, -0.5, 0.7)


@pytest.mark.parametrize("seed", range(3))
def test_conditional_expression_on_traced_values(seed):
    check(clipped_sum, np.random.default_rng(seed).normal(size=6))


def test_static_operands_keep_short_circuit():
    compiled = refscript.jit(short_circuit_on_static, static_argnames="items")
    x = narrowed(np.ones(2))
    np.testing.assert_allclose(compiled(x, ()), np.ones(2))
    np.testing.assert_allclose(compiled(x, (3,)), 2 * np.ones(2))


@pytest.mark.parametrize("x", [[1.0, -1.0, 2.0], [-1.0, -2.0, 3.0], [1.0, 2.0, 3.0]])
def test_boolean_values(x):
    check(chained_values, np.array(x))


def test_conditional_expression_grad_and_vmap(rng):
    check_grad(clipped_sum, rng.normal(size=5))
    check_vmap(clipped_sum, rng.normal(size=(3, 5)))


def test_converted_source_uses_runtime_logic():
    text = refscript.converted_source(count_in_band)
    assert "rs.and_(lambda: x[i] > low, lambda: x[i] < high)" in text
    assert "rs.not_(" in text and "rs.or_(" in text
    assert "rs.if_exp(" in refscript.converted_source(clipped_sum)


def test_traced_and_is_computed_in_the_jaxpr():
    jaxpr = str(refscript.make_jaxpr(chained_values)(np.ones(3)))
    assert "select_n" in jaxpr and "not" in jaxpr
