"""Calls from converted code: the user's functions are converted too; builtins work on traced values."""

import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed


def clamp(v, low, high):
    if v < low:
        return low
    if v > high:
        return high
    return v


def clamp_all(x):
    out = x.copy()
    for i in range(x.shape[0]):
        out[i] = clamp(x[i], -0.5, 0.5)
    return out


def dot_loop(a, b, scale=1.0):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s * scale


def uses_defaults_and_keywords(x):
    return dot_loop(x, x) + dot_loop(x, x, scale=2.0)


def make_power(k):
    def power(v):
        r = 1.0
        for _ in range(k):
            r = r * v
        return r

    return power


cube = make_power(3)


def uses_closure(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += cube(x[i])
    return s


def uses_nested_function(x):
    def step(v):
        if v > 0:
            return v * 2.0
        return -v

    s = 0.0
    for i in range(x.shape[0]):
        s += step(x[i])
    return s


def uses_lambda(x):
    f = lambda v: v * 3.0  # noqa: E731
    s = 0.0
    for i in range(x.shape[0]):
        s += f(x[i])
    return s


class Smoother:
    def __init__(self, alpha):
        self.alpha = alpha

    def step(self, prev, v):
        if v > prev:
            return prev + self.alpha * (v - prev)
        return v

    def run(self, x):
        out = x.copy()
        for i in range(1, x.shape[0]):
            out[i] = self.step(out[i - 1], x[i])
        return out


def uses_method(x):
    return Smoother(0.5).run(x)


def smoothed_total(x):
    smoother = Smoother(0.25)
    return smoother.run(x).sum()


def builtins_on_traced(x):
    s = 0.0
    m = x[0]
    for i in range(x.shape[0]):
        s += abs(x[i]) + max(x[i], 0.0) - min(x[i], 1.0)
        m = max(m, x[i])
    return s, m, round(s), int(m * 10), float(m), bool(m > 0), sum(x), max(x), min(x), len(x)


def writes_into_argument(a):
    a[0] = 1.0
    return a


def calls_argument_writer(x):
    y = x.copy()
    return writes_into_argument(y)


SEEDS = range(3)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    "fn",
    [clamp_all, uses_defaults_and_keywords, uses_closure, uses_nested_function, uses_lambda, uses_method,
     smoothed_total],
)
def test_calls_into_user_functions(fn, seed):
    check(fn, np.random.default_rng(seed).normal(size=6))


@pytest.mark.parametrize("seed", SEEDS)
def test_builtins_on_traced_values(seed):
    check(builtins_on_traced, np.random.default_rng(seed).normal(size=5) * 3)


def test_called_functions_are_converted_and_cached():
    text = refscript.converted_source(clamp_all)
    assert "rs.convert(clamp)(x[i], -0.5, 0.5)" in text
    compiled = refscript.jit(clamp_all)
    compiled(narrowed(np.ones(3)))
    from refscript import transpiler

    before = transpiler.conversions
    refscript.jit(clamp_all)(narrowed(np.ones(4)))  # a new trace converts nothing again
    assert transpiler.conversions == before


def test_grad_and_vmap_through_calls(rng):
    check_grad(uses_closure, rng.normal(size=4))
    check_grad(smoothed_total, np.array([0.1, 0.5, 0.3, 0.9]))  # away from the kinks
    check_vmap(uses_nested_function, rng.normal(size=(3, 4)))


def test_called_function_writing_its_argument_is_reported():
    with pytest.raises(refscript.errors.ConversionError) as info:
        refscript.jit(calls_argument_writer)(narrowed(np.ones(3)))
    assert "writes into its argument 'a'" in str(info.value)
    assert info.value.lineno == writes_into_argument.__code__.co_firstlineno + 1


relu = lambda v: v if v > 0 else 0.0 * v  # noqa: E731


def uses_converted_lambdas(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += relu(x[i])
    larger = lambda a, b: a if a > b else b  # noqa: E731
    return s, larger(x[0], x[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_lambdas_with_traced_conditions_are_converted(seed):
    check(uses_converted_lambdas, np.random.default_rng(seed).normal(size=4))
    assert "rs.if_exp(v > 0" in refscript.converted_source(relu)


def test_two_alike_lambdas_on_one_line_run_as_they_are():
    f, g = (lambda v: v + 1), (lambda v: v * 2)  # noqa: E731
    assert refscript.converted_source(f).startswith("f, g = (lambda v: v + 1)")
    assert g(2) == 4


def power(x, k):
    if k == 0:
        return 1.0 + 0.0 * x
    return x * power(x, k - 1)


def uses_recursion(x):
    return power(x, 3)


def test_recursive_functions_convert(rng):
    check(uses_recursion, rng.normal(size=3))
    check(power, rng.normal(size=3), 2)


def _halve_positive(x):
    out = x.copy()
    for i in range(x.shape[0]):
        if out[i] > 0:
            out[i] = out[i] * 0.5
    return out


STEPS = [_halve_positive]
STEPS_BY_NAME = {"halve": _halve_positive}


def calls_through_subscripts(x):
    return STEPS[0](x) + STEPS_BY_NAME["halve"](x * 2.0)


def test_calls_through_subscripts_are_converted(rng):
    # The callee's traced `if` only works converted: run as Python it would raise.
    check(calls_through_subscripts, rng.normal(size=5))
    assert "rs.convert(STEPS[0])" in refscript.converted_source(calls_through_subscripts)
