"""Minimal reproducers of refscript bugs found by the program generator.

Open bugs are `xfail(strict=True)`: when one is fixed its test passes, strict
xfail turns that into a failure, and the marker should be removed (the test then
stays as an ordinary regression test, as the fixed ones below are).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

import harness
import refscript


def check(fn, *args, **jit_options):
    """refscript.jit(fn) agrees with plain Python: values, dtypes, arguments after the call."""
    args = harness.copies(args)  # 32-bit copies in JAX's 32-bit mode (pytest --x32)
    expected, python_args = harness.run_python(fn, args, return_arguments=True)
    got = refscript.jit(fn, **jit_options)(*args)
    why = harness.compare(got, expected)
    assert why is None, why
    for arg, python_arg in zip(args, python_args):
        if isinstance(arg, np.ndarray):
            assert harness.compare(arg, python_arg, batched=True) is None


# --------------------------------------------------------------------------------------
# Found by the generator and fixed in 834ea80 (kept as regression tests):
# a `return` inside the `else` clause of a loop, nested in a traced `if` or in a loop,
# was dropped (the function went on and returned what its end returns).


def return_in_if_in_for_else(x):
    for i in range(2):
        pass
    else:  # noqa: PLW0120 (the loop's else clause is the point)
        if x[0] < 0.0:
            return 1.0
    return 0.0


def return_in_if_in_while_else(x):
    k = 0
    while k < 2:
        k += 1
    else:  # noqa: PLW0120 (the loop's else clause is the point)
        if x[0] < 0.0:
            return 1.0
    return 0.0


def return_in_while_in_for_else(x):
    for i in range(0):
        pass
    else:  # noqa: PLW0120 (the loop's else clause is the point)
        k = 0
        while k < 2:
            k += 1
            return x[0]
    return -1.0


def test_return_in_if_in_for_else_clause():
    check(return_in_if_in_for_else, np.array([-2.0, 1.0]))


def test_return_in_if_in_while_else_clause():
    check(return_in_if_in_while_else, np.array([-2.0, 1.0]))


def test_return_in_while_in_for_else_clause():
    check(return_in_while_in_for_else, np.array([-2.0, 1.0]))


# --------------------------------------------------------------------------------------
# Found by the generator and fixed in 834ea80 (kept as regression tests):
# `break` / `continue` in the `else` clause of an inner loop (they belong to the outer
# loop: valid Python) made the converted code invalid (a SyntaxError escaped from the
# converter).


def break_in_inner_for_else(x):
    s = 0.0
    for i in range(2):
        for j in range(2):
            s += x[j]
        else:  # noqa: PLW0120 (the loop's else clause is the point)
            break
    return s


def continue_in_inner_for_else(x):
    s = 0.0
    for i in range(2):
        for j in range(2):
            s += x[j]
        else:  # noqa: PLW0120 (the loop's else clause is the point)
            continue
    return s


def test_break_in_else_clause_of_inner_loop():
    check(break_in_inner_for_else, np.array([1.0, 2.0]))


def test_continue_in_else_clause_of_inner_loop():
    check(continue_in_inner_for_else, np.array([1.0, 2.0]))


# --------------------------------------------------------------------------------------
# Found by the generator and fixed in 9f9addf (kept as regression tests):
# returning 1-tuples on traced paths raised LoopVariableTypeError "variable 'return value
# 0' holds a tuple" (tuples of two or more elements were carried element by element), and
# on static paths gave a 1-tuple inside a 1-tuple.


def one_tuple_on_traced_path(x):
    if x[0] > 0.0:
        return x[0],
    return x[1],


def one_tuple_in_loop(x):
    s = 0.0
    for i in range(2):
        if x[i] > 0.0:
            return s,
        s += 1.0
    return s,


def test_one_element_tuple_returned_on_traced_paths():
    check(one_tuple_on_traced_path, np.array([1.0, -2.0]))


def test_one_element_tuple_returned_from_compiled_loop():
    check(one_tuple_in_loop, np.array([-1.0, 2.0]))


def one_tuple_on_static_paths(x, n):
    if n == 1:
        return x[0],
    return x[1],


def test_one_element_tuple_returned_on_static_paths():
    check(one_tuple_on_static_paths, np.array([-2.0, 1.0]), 2)


# --------------------------------------------------------------------------------------
# Augmented assignment through a list of indices outside compiled control flow was a raw
# JAX TypeError ("Using a non-tuple sequence for multidimensional indexing"), while the
# plain assignment, and the same augmented assignment inside a loop, worked. Lists in
# an index are now index arrays everywhere, as NumPy reads them.


def index_list_add(x):
    w = np.zeros(4)
    w[[0, 2]] += 1.0
    return w


def index_list_add_in_loop(x):
    w = np.zeros(4)
    for i in range(2):
        w[[0, 2]] += x[i]
    return w


def test_index_list_add_in_loop_works():
    check(index_list_add_in_loop, np.array([-2.0, 1.0, 0.5]))


def test_index_list_augmented_assignment_outside_loops():
    check(index_list_add, np.array([-2.0, 1.0, 0.5]))


# --------------------------------------------------------------------------------------
# `a[mask] *= v` (not in the documented subset, which lists `a[mask] = v`): inside a loop
# it is refscript's IndexingError with a hint; outside loops JAX's
# NonConcreteBooleanIndexError escapes instead of a RefscriptError.


def mask_scale(x):
    w = x.copy()
    w[w > 0.0] *= 0.5
    return w


def test_masked_augmented_assignment_outside_loops_is_reported():
    # Was JAX's NonConcreteBooleanIndexError. Now the same IndexingError as inside a
    # loop, at the line, with what to write instead.
    with pytest.raises(refscript.errors.IndexingError, match="traced boolean mask") as info:
        refscript.jit(mask_scale)(*harness.copies([np.array([-2.0, 1.0, 0.5])]))
    assert info.value.location.lineno == mask_scale.__code__.co_firstlineno + 2


# --------------------------------------------------------------------------------------
# A triangular inner loop whose bound is the index of an enclosing `reversed(range(n))`
# or `enumerate(x)` loop compiled to a run-time-length loop, so jax.grad raised
# ReverseModeLoopError. docs/supported.md: bounds that depend only on the indices of
# enclosing loops compile to a fixed-length loop that reverse mode goes through (it was
# true only for `range(...)` targets; now for reversed/enumerate/zip indices too).


def triangular_under_reversed(x):
    s = 0.0
    for i in reversed(range(x.shape[0])):
        for j in range(i + 1, x.shape[0]):
            s += x[j] * x[i]
    return s


def triangular_under_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        for j in range(i):
            s += x[j] * v
    return s


def _check_grad(fn, x):
    got = jax.grad(refscript.jit(fn))(x)
    eps = 1e-6
    expected = [(fn(x + eps * e) - fn(x - eps * e)) / (2 * eps) for e in np.eye(x.shape[0])]
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-8)


def test_triangular_under_negative_step_range_is_differentiable():
    # The working control: the same loop written as range(n - 1, -1, -1).
    def triangular_negative_step(x):
        s = 0.0
        for i in range(x.shape[0] - 1, -1, -1):
            for j in range(i + 1, x.shape[0]):
                s += x[j] * x[i]
        return s

    _check_grad(triangular_negative_step, np.array([-2.0, 1.0, 0.5]))


def test_triangular_loop_under_reversed_range_is_differentiable():
    _check_grad(triangular_under_reversed, np.array([-2.0, 1.0, 0.5]))


def test_triangular_loop_under_enumerate_is_differentiable():
    _check_grad(triangular_under_enumerate, np.array([-2.0, 1.0, 0.5]))


# --------------------------------------------------------------------------------------
# Found by the converter fuzzing: the converter crashes with an exception that is not a
# RefscriptError on valid Python (it must convert, or raise a RefscriptError).


def class_in_function_body(x):
    class C:
        z = 1

    return x


def nonlocal_rebinds_written_array(x):
    out = x.copy()
    out[0] = 1.0

    def scale():
        nonlocal out
        out = out * 2.0

    scale()
    return out


def test_class_definition_in_function_body_converts():
    # Was: AttributeError 'ClassDef' object has no attribute 'args' (the assigned-names
    # analysis treated a class like a function).
    check(class_in_function_body, np.array([1.0, -2.0]))


def test_nonlocal_in_nested_function_is_a_conversion_error():
    # Was: the converted code was invalid ("no binding for nonlocal 'out' found"): the
    # outer `out` was boxed. A nested function's nonlocal/global is rejected at its line.
    with pytest.raises(refscript.errors.ConversionError, match="`nonlocal` is not supported") as info:
        refscript.jit(nonlocal_rebinds_written_array)(np.array([3.0, 4.0]))
    assert info.value.lineno == nonlocal_rebinds_written_array.__code__.co_firstlineno + 5



# --------------------------------------------------------------------------------------
# Found by the grad survey: a strided slice next to an integer index written inside a
# traced branch (`w0[0, ::2] = 0.5`) failed in JAX's state discharge ("Invalid type of
# idxer: TypedInt"). Strided slices are now static index arrays (kept as slices when
# other index arrays would broadcast against them).


def strided_writes_in_traced_branch(a, x):
    b = a.copy()
    if x[0] > 0:
        b[0, ::2] = 0.5
        b[[0, 1], ::2] += 1.0
        b[1, ::-1] *= 2.0
    for i in range(2):
        b[i, 1::2] -= x[i]
    return b, b[[0, 1], ::2]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_strided_slice_writes_in_traced_branch(sign):
    check(strided_writes_in_traced_branch, np.arange(12.0).reshape(3, 4), np.array([sign, 2.0]))


# --------------------------------------------------------------------------------------
# Found by the grad survey: a triangular inner loop whose bound is the index of an outer
# loop that contains a `break` and whose index is read after the loop: the outer index is
# then carried in a box (for its value after the loop), the inner bound was no longer a
# known loop index, and the inner loop had a run-time trip count (no reverse mode). The
# loop body now reads its parameter wherever the box only holds it.


def triangular_with_break_and_index_after_loop(x):
    s = x[0]
    for i0 in range(0, x.shape[0], 2):
        for i1 in range(i0):
            if s > x[i0]:
                break
            s = s * 0.5 + x[i1]
    return s + i0


def test_triangular_with_break_and_index_after_loop_is_differentiable():
    _check_grad(triangular_with_break_and_index_after_loop, np.array([-2.0, 1.0, 0.5, 0.25]))


def test_triangular_with_break_and_index_after_loop_values():
    check(triangular_with_break_and_index_after_loop, np.array([-2.0, 1.0, 0.5, 0.25]))


def triangular_under_outer_break_with_index_after_loop(x):
    s = x[0]
    for i in range(x.shape[0]):
        if s > 3.0:
            break
        for j in range(i):
            s = s * 0.5 + x[j]
    return s + i


@pytest.mark.parametrize("first", [-2.0, 5.0])
def test_triangular_under_outer_break_with_index_after_loop(first):
    x = np.array([first, 1.0, 2.5, 0.25, 4.0])
    check(triangular_under_outer_break_with_index_after_loop, x)
    _check_grad(triangular_under_outer_break_with_index_after_loop, x)


# --------------------------------------------------------------------------------------
# Found by the vmap survey (IndexError "list index out of range" in 5 of 4,000 programs):
# under vmap, a loop body's jaxpr can hold an equation without results (a `cond` that
# only writes), and the streaming analysis took its first result's shape.


def conditional_expression_in_static_loops(u):
    for i0 in range(0, 3, 2):
        p0 = 0
        for i1 in range(1):
            p0 += (2.0 if u < -0.5 else (i1 * 0.25))
            u /= 1.0 + abs((1.0 * -0.5))
        if ((i0 * 5) % 4 == 3) or (not ((i0 * 0) % 3 == 0)):
            continue
    return u


def test_equation_without_results_in_a_vmapped_loop_body():
    check(conditional_expression_in_static_loops, np.float64(0.3))
    batch = np.array([0.3, -0.9, 2.0])
    got = jax.vmap(refscript.jit(conditional_expression_in_static_loops))(batch)
    expected = np.array([conditional_expression_in_static_loops(v) for v in batch])
    assert harness.compare(got, expected, batched=True) is None


# --------------------------------------------------------------------------------------
# Found by the gradient programs when their default count changed (session of 2026-12-07),
# open: reverse mode fails where forward values are right.


def chained_index_in_streamed_loop(x, M):
    for i in range(x.shape[0]):
        x[i] -= 0.1
        x[3] = x[3] * 0.5 + M[0][i % 1]  # a row, then an element at a traced index
    return x.sum()


@pytest.mark.xfail(strict=True, raises=KeyError,
                   reason="streaming.py _emit: KeyError on a Var when a row is indexed again at a traced index")
def test_gradient_through_a_chained_index_in_a_streamed_loop():
    x, M = np.array([1.5, 1.0, 0.03, -0.31]), np.array([[-0.6]])
    check(chained_index_in_streamed_loop, x.copy(), M)
    with harness.writes_not_returned():
        got = jax.grad(refscript.jit(chained_index_in_streamed_loop))(x.copy(), M)
    eps = 1e-6
    expected = [(chained_index_in_streamed_loop(x + eps * e, M) - chained_index_in_streamed_loop(x - eps * e, M))
                / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-8)


TRIANGULAR_IN_ENUMERATE_UNDER_IF = '''
import numpy as np


def h0(u, v=0.5):
    u += 0.5
    u, v = v, u
    return (0.5 * 0.5)


def h1(u, v):
    return u


def f(x, y, M, n):
    s0 = 1.0
    if (int(min(max(h1(s0, 0), -50.0), 50.0)) % 3 == 1) and ((0.5 * y[0 % 2]) < 0.5):
        p0 = 0
        for i0, v0 in enumerate(y):
            p0 += h0(M[-1 - M.shape[-1] % 1, -1 - i0 % 1], v=(i0 * 0.25))
            x[i0] = x[i0] * 0.5 + (v0 * abs(M[max(i0, 5) % 1, max(x.shape[0], n) % 1]))
            for i1 in range(i0 + 1, x.shape[0]):
                t1 = min((n - i1), (i0 * 1)) % 2
                x[i1] += v0
            else:
                x[-2] += (-1.25 - v0)
            p0 %= 1.5
        for i2, v1 in enumerate(y):
            if (x[i2] - p0) <= p0:
                x[[2]] = 0.75
                p0 = ((M[-1 - i2 % 1, i0 % 1] ** 2) * 1.5)
            x[i0] = x[-2] * 0.5 + -0.5
        x[i0] = min(max(M[(M.shape[-1] - -2) % 1][-1 - (i0 - i0) % 1], -100.0), 100.0)
    x[x.shape[0] % 4] = x[-2] * 0.75 + (-2.0 ** 2)
    return s0, x
'''


@pytest.mark.xfail(strict=True, raises=refscript.errors.ReverseModeLoopError,
                   reason="a triangular loop over an enumerate index, under a traced if, gets a run-time trip count")
def test_gradient_through_a_triangular_loop_in_an_enumerate_under_a_traced_if():
    args = (np.array([0.0, 0.0, -0.52236929, -0.24042548]), np.array([-1.07452137, -0.18020238]),
            np.array([[1.0]]), 0)
    harness.check_values(TRIANGULAR_IN_ENUMERATE_UNDER_IF, [args])
    with harness.writes_not_returned():
        harness.check_grad(TRIANGULAR_IN_ENUMERATE_UNDER_IF, args, [0, 1, 2], outer_jit=False)


# --------------------------------------------------------------------------------------
# Found by the generated vmap programs in JAX's 32-bit mode (pytest --x32), fixed on
# 2026-12-08: a deferred write whose index holds a Python int asked JAX for int64 zeros on
# the branch that does not write (a JAX UserWarning in 32-bit mode, an error under the
# suite's filterwarnings).


def deferred_write_index_from_a_python_int(x):
    c0 = 0
    w0 = np.zeros_like(x)
    k0 = 0
    while k0 < 2:
        k0 += 1
        k1 = 0
        while k1 < 2 and (0.5 < x[0]):
            k1 += 1
            if np.tanh(0.5) < 0.5:
                pass
            elif (w0[-1 - c0 % 4] - (c0 * 0.5)) < 0.25:
                c0 += min(k0, (k0 + k1))
                w0[::2] = x[0]
    return c0, w0


def test_deferred_write_with_a_python_int_index_under_vmap():
    batch = harness.copies([np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 3.0], [0.75, 0.0, 0.0, 1.0]])])[0]
    got = jax.vmap(refscript.jit(deferred_write_index_from_a_python_int))(batch)
    expected = [deferred_write_index_from_a_python_int(row.copy()) for row in batch]
    expected = (np.array([e[0] for e in expected]), np.stack([e[1] for e in expected]))
    assert harness.compare(got, expected, batched=True) is None
