"""`break`, `continue` and `return` inside loops and branches, against plain Python."""

import jax
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed


def first_negative(x):
    for i in range(x.shape[0]):
        if x[i] < 0:
            return i
    return -1


def sum_until_negative(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0:
            break
        if x[i] > 2:
            continue
        s += x[i]
    else:
        s = -s
    return s


def while_true_break(x):
    k = 0
    while True:
        if k >= x.shape[0] - 1 or x[k] > 1:
            break
        k += 1
    return k


def inner_break_leaves_inner_loop(x):
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] < 0:
                break
            total += x[i, j]
    return total


def return_from_nested_loops(x):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] > 1.5:
                return i, j
    return -1, -1


def return_in_branches(x):
    if x[0] > 0:
        if x[1] > 0:
            return x[0] + x[1]
        return x[0] - x[1]
    else:
        return -x[0]


def while_with_continue_inside_for_with_break(x):
    found = 0
    for i in range(x.shape[0]):
        k = 0
        while k < 4:
            k += 1
            if (k + i) % 2 == 0:
                continue
            found += 1
        if x[i] > 2:
            break
    return found


def falls_off_on_static_path(x, flag):
    if flag:
        return x * 2.0


def early_return_accumulator(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
        if s > 3.0:
            return s
    return -s


def return_or_break(x):
    for i in range(x.shape[0]):
        if x[i] > 3.0:
            return i, x[i]
        if x[i] < 0:
            break
    return -1, x[0]


def converging(x, tol):
    # Power iteration's shape: variables first bound in the loop, read after the break.
    lam = 0.0
    for it in range(50):
        v = 0.5 * (x + lam)
        new_lam = np.sum(v * v) / np.sum(v)
        if abs(new_lam - lam) < tol:
            break
        lam = new_lam
    return new_lam, v, it + 1


def converged_value(x):
    lam, _, _ = converging(x, 1e-9)
    return lam


def break_in_inner_loop_of_scan(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] * 2.0
            if x[i, j] < 0:
                break
    return out


def break_over_rows(a, t):
    s = 0.0
    for row in a:
        if np.sum(row) > t:
            break
        s += np.sum(row)
    return s


def break_in_enumerate(x):
    last = -1
    for i, v in enumerate(x):
        if v < 0:
            break
        last = i
    return last, i


def break_with_traced_length(x, n):
    s = 0.0
    for i in range(n):
        if x[i] > 2.0:
            break
        s += x[i]
    return s


def break_in_triangular_loop(a):
    out = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        for j in range(i):
            if a[i, j] > 1.0:
                break
            out[i] += a[i, j]
    return out


ARRAYS_1D = [
    np.array([1.0, 2.0, -1.0, 3.0]),
    np.array([1.0, 3.0, 0.5]),
    np.array([-1.0, 2.0]),
    np.zeros(0),
    np.array([5.0]),
]


@pytest.mark.parametrize("x", ARRAYS_1D, ids=lambda x: str(x.tolist()))
@pytest.mark.parametrize("fn", [first_negative, sum_until_negative, early_return_accumulator])
def test_jumps_in_for_loops(fn, x):
    check(fn, x)


@pytest.mark.parametrize("x", [np.array([0.0, 0.5, 2.0, 3.0]), np.array([3.0]), np.array([0.0, 0.0])])
def test_while_true_with_break(x):
    check(while_true_break, x)


@pytest.mark.parametrize("seed", range(4))
def test_nested_loops(seed):
    x = np.random.default_rng(seed).normal(size=(3, 4)) * 2
    check(inner_break_leaves_inner_loop, x)
    check(return_from_nested_loops, x)


@pytest.mark.parametrize("x", [[1.0, 2.0], [1.0, -2.0], [-1.0, 2.0]])
def test_returns_in_traced_branches(x):
    check(return_in_branches, np.array(x))


@pytest.mark.parametrize("x", [[1.0, 3.0, 0.0], [0.0, 0.0, 0.0], [5.0]])
def test_combination_of_while_continue_and_for_break(x):
    check(while_with_continue_inside_for_with_break, np.array(x))


def test_falling_off_the_end_returns_none_on_static_paths():
    compiled = refscript.jit(falls_off_on_static_path)
    x = narrowed(np.ones(2))
    assert compiled(x, False) is None
    np.testing.assert_allclose(compiled(x, True), 2 * np.ones(2))


def test_break_keeps_static_loops_differentiable(rng):
    check_grad(sum_until_negative, np.abs(rng.normal(size=5)) + 0.1)
    check_grad(early_return_accumulator, rng.normal(size=5))
    jaxpr = str(refscript.make_jaxpr(sum_until_negative)(np.ones(3)))
    assert "while[" not in jaxpr


def test_jumps_under_vmap(rng):
    batch = rng.normal(size=(3, 5)) * 2
    check_vmap(sum_until_negative, batch)
    check_vmap(first_negative, batch)
    check_vmap(early_return_accumulator, batch.T, in_axis=1)
    check_vmap(while_true_break, np.abs(batch))


def test_converted_source_shows_flags():
    text = refscript.converted_source(sum_until_negative)
    assert "broke = False" in text and "continued = False" in text
    assert "rs.not_(broke_ref.value)" in text
    text = refscript.converted_source(first_negative)
    assert "returned = False" in text and "return retval" in text


def test_jit_of_compiled_function_with_jumps(rng):
    x = rng.normal(size=6)
    got = jax.jit(refscript.jit(first_negative))(x)
    assert int(got) == first_negative(x.copy())


def returns_only_on_a_traced_path(x):
    if x[0] > 0:
        return x * 2.0


def test_value_on_one_traced_path_and_none_on_another_is_explained():
    with pytest.raises(refscript.errors.LoopVariableTypeError) as info:
        refscript.jit(returns_only_on_a_traced_path)(narrowed(np.ones(2)))
    assert "the return value" in str(info.value)
    assert "None on one path" in info.value.hint


@pytest.mark.parametrize("x", ARRAYS_1D + [np.array([1.0, 4.0, -1.0]), np.array([1.0, -4.0, 5.0])],
                         ids=lambda x: str(x.tolist()))
def test_return_or_break(x):
    if x.size:
        check(return_or_break, x)


@pytest.mark.parametrize("tol", [1e-6, -1.0, 10.0])  # a few iterations, all 50 (never converged), the first
def test_break_after_variables_first_bound_in_the_loop(tol, rng):
    check(converging, np.abs(rng.normal(size=4)) + 0.5, tol)


def test_gradient_through_a_converging_loop(rng):
    check_grad(converged_value, np.abs(rng.normal(size=4)) + 0.5)
    check_vmap(converged_value, np.abs(rng.normal(size=(3, 4))) + 0.5)


def test_break_in_an_inner_loop(rng):
    x = rng.normal(size=(4, 5))
    check(break_in_inner_loop_of_scan, x)
    check_vmap(break_in_inner_loop_of_scan, rng.normal(size=(3, 4, 5)))


@pytest.mark.parametrize("fn, args", [
    (sum_until_negative, (np.array([1.0, 2.0, -1.0, 3.0]),)),
    (first_negative, (np.array([1.0, -2.0, 3.0]),)),
    (converging, (np.array([1.0, 2.0]), 1e-6)),
    (break_in_inner_loop_of_scan, (np.array([[1.0, -1.0, 2.0], [3.0, 4.0, -5.0]]),)),
])
def test_plain_calls_stop_at_the_break(fn, args):
    # Without derivatives a `for` loop with a `break` (or `return`) is a while_loop that
    # tests the flag: the iterations after it do not run. The lowering for derivatives
    # keeps the fixed trip count (test_break_keeps_static_loops_differentiable).
    from refscript.api import lowering_decisions
    from refscript.runtime import control_flow

    decisions = [what for _, what in lowering_decisions(fn, *args)]
    assert "without derivatives: loop stops at its break (a while_loop)" in decisions
    assert "while[" in str(jax.make_jaxpr(refscript.jit(fn))(*args))
    control_flow.BREAKING_LOOPS = False
    try:
        refscript.transpiler.clear_cache()
        assert "while[" not in str(jax.make_jaxpr(refscript.jit(fn))(*args))
    finally:
        control_flow.BREAKING_LOOPS = True


@pytest.mark.parametrize("seed", range(3))
def test_loops_stopping_at_their_break(seed):
    # Iterating rows and enumerate, a traced trip count, a triangular inner loop: each
    # stops at its break in plain calls (test_plain_calls_stop_at_the_break).
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(5, 4)) * 2
    check(break_over_rows, a, 1.0)
    check(break_in_enumerate, a[0])
    check(break_with_traced_length, a[:, 0], np.int64(4))
    check(break_in_triangular_loop, rng.normal(size=(6, 6)))
    check_vmap(break_in_triangular_loop, rng.normal(size=(3, 6, 6)))
