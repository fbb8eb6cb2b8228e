"""`refscript.prange`: parallel loops, vectorised over the loop index, checked against plain Python.

Plain Python runs the same functions with `refscript.prange` as a `range`; the
compiled version must give the same values, dtypes and mutated arrays, under
`jax.grad` and `jax.vmap` too, and must reject (at the user's line) every body
whose iterations could see each other's work.
"""

import inspect
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from refscript.errors import ConversionError, IndexingError, RefscriptError, UndefinedVariableError
from tests.oracle import check, check_grad, check_vmap, narrowed


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    for offset, line in enumerate(lines):
        if text in line:
            return first + offset
    raise AssertionError(f"{text!r} not in {fn.__name__}")


def _has_loop(jaxpr) -> bool:
    text = str(jaxpr)
    return "scan[" in text or "while[" in text


# prange outside compiled code is range.


@pytest.mark.parametrize("args", [(5,), (2, 9), (2, 11, 3), (10, 0, -2), (3, 3)])
def test_prange_is_range_outside_jit(args):
    r = refscript.prange(*args)
    assert list(r) == list(range(*args))
    assert len(r) == len(range(*args))
    assert list(reversed(r)) == list(reversed(range(*args)))
    if len(r):
        assert r[0] == range(*args)[0] and r[-1] == range(*args)[-1]


# Values against plain Python.


def scaled_sum(a, b):
    c = np.zeros_like(a)
    for i in refscript.prange(a.shape[0]):
        c[i] = a[i] * b[i] + 1
    return c


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_elementwise_map(rng, dtype):
    a = (rng.standard_normal(17) * 10).astype(dtype)
    b = (rng.standard_normal(17) * 10).astype(dtype)
    check(scaled_sum, a, b, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_elementwise_map_has_no_loop(rng):
    a = rng.standard_normal(8)
    assert not _has_loop(refscript.make_jaxpr(scaled_sum)(a, a))
    assert not _has_loop(refscript.make_jaxpr(scaled_sum, discharged=True)(a, a))


def row_sums(x):
    out = np.zeros(x.shape[0])
    total = 0.0
    for i in refscript.prange(x.shape[0]):
        acc = 0.0
        for j in range(x.shape[1]):
            acc += x[i, j]
        out[i] = acc
        total += acc
    return out, total


def test_row_reduction_with_inner_loop(rng):
    check(row_sums, rng.standard_normal((6, 5)))


def reductions(x):
    total, product, low, high, count, shrink = 0.0, 1.0, np.inf, -np.inf, 0, 100.0
    for i in refscript.prange(x.shape[0]):
        total += x[i]
        product *= 1.0 + x[i] / 10
        low = min(low, x[i])
        high = max(x[i], high)
        if x[i] > 0:
            count += 1
        shrink -= x[i] * 2
    return total, product, low, high, count, shrink


def test_reductions(rng):
    check(reductions, rng.standard_normal(23), rtol=1e-10)


def alternative_reduction_forms(x):
    s, p, q = 1.5, 2.0, 0.0
    for i in refscript.prange(x.shape[0]):
        s = s + x[i]
        p = x[i] * p
        q = q - x[i]
    return s, p, q


def test_reduction_written_as_assignment(rng):
    check(alternative_reduction_forms, rng.standard_normal(9), rtol=1e-10)


def integer_reductions(x):
    count, biggest = 0, 0
    for i in refscript.prange(x.shape[0]):
        count += x[i] % 3
        biggest = max(biggest, x[i])
    return count, biggest


def test_integer_reductions(rng):
    check(integer_reductions, rng.integers(0, 100, 31).astype(np.int32))
    check(integer_reductions, rng.integers(0, 100, 31))


def widening_reduction(x):
    s = 0
    for i in refscript.prange(x.shape[0]):
        s += x[i] * 0.5
    return s


def test_reduction_accumulator_widens_like_python(rng):
    check(widening_reduction, rng.standard_normal(7))


def shifted_writes(x):
    y = np.zeros(x.shape[0] + 1)
    z = np.zeros(2 * x.shape[0])
    w = np.zeros(x.shape[0])
    n = x.shape[0]
    for i in refscript.prange(n):
        y[i + 1] = x[i] * 2
        z[2 * i + 1] = x[i]
        w[n - 1 - i] = x[i] + i
    return y, z, w


def test_owned_index_offsets_and_strides(rng):
    check(shifted_writes, rng.standard_normal(8))


def stepped(x):
    y = x.copy()
    for i in refscript.prange(1, x.shape[0], 3):
        y[i] = -x[i]
    for i in refscript.prange(x.shape[0] - 1, 0, -2):
        y[i] += 100.0
    return y


def test_steps_and_negative_steps(rng):
    check(stepped, rng.standard_normal(11))


def empty_prange(x, n):
    y = x.copy()
    s = 2.0
    for i in refscript.prange(n):
        y[i] = 0.0
        s += x[i]
    return y, s


def test_empty_prange_changes_nothing(rng):
    check(empty_prange, rng.standard_normal(4), 0)


def columns(x):
    out = np.zeros_like(x)
    for j in refscript.prange(x.shape[1]):
        for i in range(x.shape[0]):
            out[i, j] = x[i, j] * (j + 1)
        out[0, j] += 1.0
    return out


def test_owned_column_axis_one(rng):
    check(columns, rng.standard_normal((4, 6)))


def rows_by_slices(x):
    out = np.zeros_like(x)
    for i in refscript.prange(1, x.shape[0] - 1):
        out[i, 1:-1] = 0.25 * (x[i - 1, 1:-1] + x[i + 1, 1:-1] + x[i, :-2] + x[i, 2:])
    return out


def test_stencil_rows_with_slices(rng):
    check(rows_by_slices, rng.standard_normal((7, 6)))


def jacobi(x, sweeps):
    a = x.copy()
    b = x.copy()
    for t in range(sweeps):
        for i in refscript.prange(1, a.shape[0] - 1):
            for j in range(1, a.shape[1] - 1):
                b[i, j] = 0.25 * (a[i - 1, j] + a[i + 1, j] + a[i, j - 1] + a[i, j + 1])
        a, b = b, a
    return a


def test_prange_inside_sequential_loop(rng):
    check(jacobi, rng.standard_normal((6, 5)), 3)


def read_modify_write(a, b):
    for i in refscript.prange(a.shape[0]):
        a[i] += b[i]
        a[i] *= 2
    return a


def test_read_modify_write_of_owned_element(rng):
    check(read_modify_write, rng.standard_normal(6), rng.standard_normal(6))


def in_place(a, b):
    for i in refscript.prange(a.shape[0]):
        a[i] = a[i] * b[i]


def test_numpy_argument_written_in_place(rng):
    check(in_place, rng.standard_normal(5), rng.standard_normal(5))


def branches(x, limit):
    y = np.zeros_like(x)
    z = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        if x[i] < 0:
            y[i] = -x[i]
        elif x[i] > limit:
            y[i] = limit
        else:
            y[i] = x[i] * 2
        z[i] = x[i] if x[i] > 0 else 0.0
    return y, z


def test_if_elif_else_and_conditional_expression(rng):
    check(branches, rng.standard_normal(12), 0.7)


def test_branch_does_not_broadcast_what_it_reads():
    x = np.linspace(-1, 1, 64)
    for jaxpr in (refscript.make_jaxpr(branches)(x, 0.5), refscript.make_jaxpr(branches, discharged=True)(x, 0.5)):
        assert "64,64" not in str(jaxpr)
        assert "cond[" not in str(jaxpr)


def triangular(x):
    out = np.zeros(x.shape[0])
    for i in refscript.prange(x.shape[0]):
        s = 0.0
        for j in range(i + 1):
            s += x[j]
        out[i] = s
    return out


def test_triangular_inner_loop(rng):
    check(triangular, rng.standard_normal(7))


def while_inside(x):
    steps = np.zeros(x.shape[0], dtype=int)
    for i in refscript.prange(x.shape[0]):
        v = x[i]
        k = 0
        while v > 1.0:
            v = v / 2
            k += 1
        steps[i] = k
    return steps


def test_while_loop_inside(rng):
    check(while_inside, np.abs(rng.standard_normal(9)) * 20)


def test_checked_prange_with_a_while_runs_its_iterations_in_turn_and_says_so(rng):
    # JAX's checkify cannot check a vectorised while_loop: it raised a raw ValueError.
    x = narrowed(np.abs(rng.standard_normal(9)) * 20)
    compiled = refscript.jit(while_inside, checks=True)
    np.testing.assert_array_equal(compiled(x), while_inside(x.copy()))
    ((_, what),) = compiled.parallel_loops
    assert what.startswith("loop kept sequential: checks=True cannot check a while loop")
    assert refscript.jit(while_inside).parallel_loops == []  # not yet traced


def scratch(x):
    out = np.zeros(x.shape[0])
    for i in refscript.prange(x.shape[0]):
        tmp = np.zeros(3)
        for k in range(3):
            tmp[k] = x[i, k] ** 2
        out[i] = tmp.sum()
    return out


def test_scratch_array_allocated_per_iteration(rng):
    check(scratch, rng.standard_normal((5, 3)))


def skips(x):
    y = np.zeros_like(x)
    total = 0.0
    for i in refscript.prange(x.shape[0]):
        if x[i] < 0:
            continue
        y[i] = x[i]
        total += x[i]
    return y, total


def test_continue_skips_one_iteration(rng):
    check(skips, rng.standard_normal(10))


def reads_outer_variable(x, steps):
    scale = 1.0
    out = np.zeros_like(x)
    for t in range(steps):
        scale = scale * 2
        for i in refscript.prange(x.shape[0]):
            out[i] += x[i] * scale
    return out


def test_reads_a_variable_an_enclosing_loop_changes(rng):
    check(reads_outer_variable, rng.standard_normal(5), 3)


def pairwise(points):
    n = points.shape[0]
    d = np.zeros((n, n))
    for i in refscript.prange(n):
        for j in range(n):
            s = 0.0
            for k in range(points.shape[1]):
                diff = points[i, k] - points[j, k]
                s += diff * diff
            d[i, j] = np.sqrt(s)
    return d


def test_pairwise_distances(rng):
    check(pairwise, rng.standard_normal((6, 3)))


def helper_with_prange(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        y[i] = x[i] ** 2
    return y


def calls_helper(x):
    return helper_with_prange(x) + 1


def test_prange_in_a_called_function(rng):
    check(calls_helper, rng.standard_normal(5))


def owned_scalar_dtype(x):
    out = np.zeros(x.shape[0], dtype=np.int32)
    for i in refscript.prange(x.shape[0]):
        out[i] = x[i] * 3.7  # truncated, as NumPy does
    return out


def test_write_casts_to_array_dtype(rng):
    check(owned_scalar_dtype, rng.standard_normal(6) * 5)


def float32_everywhere(x):
    y = np.zeros_like(x)
    s = np.float32(0)
    for i in refscript.prange(x.shape[0]):
        y[i] = x[i] * x[i]
        s += y[i]
    return y, s


def test_float32(rng):
    check(float32_everywhere, rng.standard_normal(16).astype(np.float32), rtol=1e-5)


def index_forms(x, k):
    n = x.shape[0]
    out = np.zeros((n - 2, 6))
    for i in refscript.prange(1, n - 1):
        out[i - 1, 0] = x[i - 1, 0] + x[i + 1, 1]
        out[i - 1, 1] = x[n - 1 - i, 2]  # steps backwards
        out[i - 1, 2] = x[(2 * i) % n, 0]  # not evenly stepped
        out[i - 1, 3] = x[-1, 1] + x[i][2]  # the same element in every iteration; chained
        out[i - 1, 4] = x[i + k, 0]  # shifted by a traced amount
        out[i - 1, 5] = x[i - 2, 1]  # wraps around at i = 1
    return out


def test_read_index_forms(rng):
    check(index_forms, rng.standard_normal((7, 3)), np.int64(1))


def strided(x):
    y = np.zeros(x.shape[0] // 2)
    for i in refscript.prange(y.shape[0]):
        y[i] = x[2 * i] - x[2 * i + 1]
    return y


def test_strided_reads(rng):
    check(strided, rng.standard_normal(11))


def test_evenly_stepped_reads_are_slices_not_gathers(rng):
    for fn, args in ((scaled_sum, (rng.standard_normal(8),) * 2), (strided, (rng.standard_normal(9),)),
                     (rows_by_slices, (rng.standard_normal((5, 4)),)), (row_sums, (rng.standard_normal((5, 4)),))):
        assert "gather[" not in str(refscript.make_jaxpr(fn, discharged=True)(*args)), fn.__name__


def vector_reduction(x):
    acc = np.zeros(x.shape[1])
    for i in refscript.prange(x.shape[0]):
        acc += x[i] * (i + 1)
    return acc


def test_reduction_into_a_vector(rng):
    check(vector_reduction, rng.standard_normal((6, 3)))


def inside_traced_if(x):
    y = np.zeros_like(x)
    s = 0.0
    if x[0] > 0:
        for i in refscript.prange(x.shape[0]):
            y[i] = x[i] + 1
            s += x[i]
    return y, s


def test_prange_inside_a_traced_branch(rng):
    check(inside_traced_if, np.abs(rng.standard_normal(5)))
    check(inside_traced_if, -np.abs(rng.standard_normal(5)))


def checked(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        assert x[i] > -10, "too small"
        y[i] = x[i] * 2
    return y


def test_assert_in_prange_body_is_checked():
    compiled = refscript.jit(checked, checks=True)
    x = narrowed(np.array([1.0, -2.0]))
    np.testing.assert_allclose(compiled(x), checked(x.copy()))
    with pytest.raises(AssertionError, match="too small"):
        compiled(narrowed(np.array([1.0, -20.0])))


def nested_grid(x):
    out = np.zeros_like(x)
    total = 0.0
    for i in refscript.prange(x.shape[0]):
        s = 0.0
        for j in refscript.prange(x.shape[1]):
            out[i, j] = x[i, j] * (i + 1) + j
            s += x[i, j]
            total += x[i, j] * 2
        out[i, 0] += s
    return out, total


def nested_jacobi(u):
    v = u.copy()
    for i in refscript.prange(1, u.shape[0] - 1):
        for j in refscript.prange(1, u.shape[1] - 1):
            v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return v


def nested_columns(x):
    out = np.zeros((x.shape[1], x.shape[0]))
    for j in refscript.prange(x.shape[1]):
        for i in refscript.prange(x.shape[0]):
            out[j, i] = x[i, j] - x[0, j]
    return out


def test_prange_inside_prange(rng):
    check(nested_grid, rng.standard_normal((4, 5)), rtol=1e-12, atol=1e-12)
    check(nested_jacobi, rng.standard_normal((5, 6)))
    check(nested_columns, rng.standard_normal((3, 4)))
    jaxpr = str(refscript.make_jaxpr(nested_jacobi, discharged=True)(rng.standard_normal((5, 6))))
    assert "gather[" not in jaxpr and "scan[" not in jaxpr and "while[" not in jaxpr


@pytest.mark.slow
def test_grad_and_vmap_of_nested_prange(rng):
    check_grad(lambda u: (nested_jacobi(u) ** 2).sum(), rng.standard_normal((4, 5)))
    check_vmap(nested_jacobi, rng.standard_normal((2, 4, 5)))


def inner_bound_from_outer_index(x):
    out = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        for j in refscript.prange(i):  # <- here
            out[i, j] = x[i, j]
    return out


def test_inner_prange_bounded_by_outer_index_is_an_error():
    with pytest.raises(RefscriptError, match="trip count") as info:
        refscript.jit(inner_bound_from_outer_index)(narrowed(np.ones((3, 3))))
    assert info.value.location.lineno == _line_of(inner_bound_from_outer_index, "# <- here")


def guarded(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        if x[i] > 0:
            assert x[i] > 0, "never fails where the branch runs"
            y[i] = x[i]
        if i + 1 < x.shape[0]:
            y[i] += x[i + 1]  # out of bounds only where the branch does not run
            for k in range(2):
                y[i] += x[i + k] * k
        for j in range(x.shape[0] - i):  # a masked loop: its extra steps would read past the end
            y[i] += x[i + j] * 0.5
    return y


def unguarded(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        y[i] = x[i + 1]
    return y


def test_checks_only_fail_where_code_runs(rng):
    x = narrowed(rng.standard_normal(5))
    check(guarded, x, checks=True)
    with pytest.raises(IndexError):
        unguarded(x.copy())
    with pytest.raises(IndexError, match="out of bounds"):
        refscript.jit(unguarded, checks=True)(x)


# Transformations.


def energy(x):
    out = np.zeros_like(x)
    total = 0.0
    for i in refscript.prange(x.shape[0]):
        if x[i] > 0:
            out[i] = x[i] * x[i]
        else:
            out[i] = np.sin(x[i])
        total += out[i] * (i + 1)
    return total + out.sum()


def test_grad_against_finite_differences(rng):
    check_grad(energy, rng.standard_normal(8))


def stencil_energy(x):
    y = np.zeros(x.shape[0])
    for i in refscript.prange(1, x.shape[0] - 1):
        y[i] = x[i - 1] - 2 * x[i] + x[i + 1]
    return (y * y).sum()


def test_grad_of_stencil(rng):
    check_grad(stencil_energy, rng.standard_normal(9))


def test_grad_of_row_reduction(rng):
    check_grad(lambda x: row_sums(x)[1] ** 2, rng.standard_normal((3, 4)))


def test_vmap_against_python_loop(rng):
    check_vmap(branches, rng.standard_normal((4, 10)), 0.5)
    check_vmap(jacobi, rng.standard_normal((2, 5, 5)), 2)


def test_vmap_over_second_axis(rng):
    check_vmap(scaled_sum, rng.standard_normal((6, 3)), np.arange(6.0), in_axis=1)


def test_grad_under_jit_and_vmap(rng):
    compiled = refscript.jit(energy)
    xs = rng.standard_normal((3, 8))
    got = jax.jit(jax.vmap(jax.grad(compiled)))(jnp.asarray(xs))
    expected = np.stack([np.asarray(jax.grad(compiled)(jnp.asarray(x))) for x in xs])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# Dependences: each is a ConversionError at the user's line.


def carried_read(a):
    for i in refscript.prange(1, a.shape[0]):
        a[i] = a[i - 1] + 1  # <- here
    return a


def carried_scalar(x):
    y = np.zeros_like(x)
    t = 0.0
    for i in refscript.prange(x.shape[0]):
        y[i] = t  # <- here
        t = x[i]
    return y


def same_element(a):
    for i in refscript.prange(a.shape[0]):
        a[0] = a[i]  # <- here
    return a


def halved_index(a, b):
    for i in refscript.prange(b.shape[0]):
        a[i // 2] = b[i]  # <- here
    return a


def index_from_data(a, idx):
    for i in refscript.prange(idx.shape[0]):
        a[idx[i]] = 1.0  # <- here
    return a


def two_indices(a):
    for i in refscript.prange(a.shape[0] - 1):
        a[i] = 1.0
        a[i + 1] = 2.0  # <- here
    return a


def breaks(x):
    y = x.copy()
    for i in refscript.prange(x.shape[0]):
        if x[i] < 0:
            break  # <- here
        y[i] = 0.0
    return y


def returns(x):
    for i in refscript.prange(x.shape[0]):
        if x[i] < 0:
            return i  # <- here
    return -1


def reduction_read(x):
    s = 0.0
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        s += x[i]
        y[i] = s  # <- here
    return y


def mixed_reduction(x):
    s = 1.0
    for i in refscript.prange(x.shape[0]):
        s += x[i]
        s *= 2  # <- here
    return s


def whole_array(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        y[i] = y.sum() + x[i]  # <- here
    return y


def rebinds_index(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0] - 1):
        i = i + 1  # <- here
        y[i] = x[i]
    return y


def conditional_private(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):
        if x[i] > 0:
            t = x[i]
        y[i] = t  # <- here
    return y


def scratch_outside(x):
    tmp = np.zeros(3)
    out = np.zeros(x.shape[0])
    for i in refscript.prange(x.shape[0]):
        tmp[0] = x[i]  # <- here
        out[i] = tmp[0]
    return out


def inner_loop_carry_from_previous_iteration(x):
    out = np.zeros(x.shape[0])
    acc = 0.0
    for i in refscript.prange(x.shape[0]):
        for j in range(3):
            acc = acc + x[i]
            out[i] = acc  # <- here
    return out


def index_read_after(x):
    y = np.zeros_like(x)
    for i in refscript.prange(x.shape[0]):  # <- here
        y[i] = x[i]
    return y, i


@pytest.mark.parametrize("fn, words", [
    (carried_read, ["a[i - 1]", "another iteration", "a[i]"]),
    (carried_scalar, ["'t'", "before this iteration assigns it"]),
    (same_element, ["a[0]", "same element"]),
    (halved_index, ["a[i // 2]", "same element"]),
    (index_from_data, ["a[idx[i]]", "same element"]),
    (two_indices, ["a[i + 1]", "a[i]"]),
    (breaks, ["`break`"]),
    (returns, ["`return`"]),
    (reduction_read, ["'s' is a reduction", "also read"]),
    (mixed_reduction, ["more than one operator"]),
    (whole_array, ["'y'", "as a whole"]),
    (rebinds_index, ["loop variable 'i'"]),
    (conditional_private, ["'t'", "before this iteration assigns it"]),
    (scratch_outside, ["tmp[0]", "same element"]),
    (inner_loop_carry_from_previous_iteration, ["'acc' is a reduction", "also read"]),
    (index_read_after, ["'i'", "read after the loop"]),
])
def test_dependence_is_an_error_at_the_line(fn, words):
    with pytest.raises(ConversionError) as info:
        refscript.jit(fn)
    error = info.value
    assert error.location.lineno == _line_of(fn, "# <- here"), str(error)
    assert error.location.filename == __file__
    for word in words:
        assert word in error.message, error.message
    assert error.hint


def assigned_and_used_after(x):
    y = np.zeros_like(x)
    last = 0.0
    for i in refscript.prange(x.shape[0]):  # <- here
        last = x[i] * 2
        y[i] = last
    return y, last


def test_private_variable_read_after_loop_is_an_error():
    with pytest.raises(RefscriptError, match="'last' is assigned in this prange loop and used after it") as info:
        refscript.jit(assigned_and_used_after)(narrowed(np.ones(3)))
    assert info.value.location.lineno == _line_of(assigned_and_used_after, "# <- here")


def traced_bound(x, n):
    y = x.copy()
    for i in refscript.prange(n):  # <- here
        y[i] = 0.0
    return y


def test_traced_trip_count_is_an_error():
    with pytest.raises(RefscriptError, match="trip count") as info:
        refscript.jit(traced_bound, static_scalars=False)(narrowed(np.ones(3)), 2)
    assert info.value.location.lineno == _line_of(traced_bound, "# <- here")


def out_of_bounds(x):
    y = np.zeros(x.shape[0])
    for i in refscript.prange(x.shape[0]):
        y[i + 1] = x[i]  # <- here
    return y


def test_out_of_bounds_owned_index_is_an_index_error():
    with pytest.raises(IndexError):
        out_of_bounds(np.ones(3))  # as Python
    with pytest.raises(IndexingError, match="out of bounds") as info:
        refscript.jit(out_of_bounds)(narrowed(np.ones(3)))
    assert info.value.location.lineno == _line_of(out_of_bounds, "for i in refscript.prange")


def wraps_onto_itself(x):
    y = np.zeros(3)
    for i in refscript.prange(x.shape[0]):
        y[i - 2] = x[i]
    return y


def test_negative_indices_that_collide_are_an_error():
    with pytest.raises(RefscriptError, match="same index"):
        refscript.jit(wraps_onto_itself)(narrowed(np.ones(4)))  # y[-2] and y[1] are one element
    check(wraps_onto_itself, np.arange(3.0) + 1)  # y[-2], y[-1], y[0]: all different


def prange_not_in_header(x):
    y = x.copy()
    r = refscript.prange(x.shape[0])
    for i in r:  # <- here
        y[i] = 0.0
    return y


def test_prange_not_in_for_header_is_an_error():
    with pytest.raises(RefscriptError, match="for loop header") as info:
        refscript.jit(prange_not_in_header)(narrowed(np.ones(3)))
    assert info.value.location.lineno == _line_of(prange_not_in_header, "# <- here")


def unbound_reduction(x):
    for i in refscript.prange(x.shape[0]):
        s = s + x[i]  # noqa: F821
    return s


def test_reduction_variable_unbound_before_loop():
    with pytest.raises(UnboundLocalError):
        unbound_reduction(np.ones(2))
    with pytest.raises((UndefinedVariableError, UnboundLocalError, NameError)):
        refscript.jit(unbound_reduction)(narrowed(np.ones(2)))


def test_converted_source_shows_roles():
    source = refscript.converted_source(row_sums)
    assert "rs.parallel_for(" in source
    assert "owned={'out': (0, lambda i: i)}" in source
    assert "reductions={'total': '+'}" in source


def numba_prange_loop(x):
    import numba

    y = np.zeros_like(x)
    for i in numba.prange(x.shape[0]):
        y[i] = x[i] * 2
    return y


def test_numba_prange_is_recognised(rng, monkeypatch):
    # The converter recognises the name `numba.prange`; where Numba is not installed (CI installs
    # the test extra only) a stand-in module gives plain Python its meaning, a range.
    try:
        import numba  # noqa: F401
    except ImportError:
        import types

        monkeypatch.setitem(sys.modules, "numba", types.SimpleNamespace(prange=range))
    check(numba_prange_loop, rng.standard_normal(5))
    assert "rs.parallel_for(" in refscript.converted_source(numba_prange_loop)


def test_show_names_the_vectorised_loops(rng):
    decisions = refscript.api.lowering_decisions(reductions, rng.normal(size=5))
    ((line, what),) = [(location.lineno, what) for location, what in decisions if what.startswith("prange")]
    assert line == _line_of(reductions, "refscript.prange")
    assert what == ("prange vectorised over 5 iterations, reduces count (+), high (max), low (min), "
                    "product (*), shrink (+), total (+)"), what
    decisions = refscript.api.lowering_decisions(scaled_sum, rng.normal(size=4), rng.normal(size=4))
    assert any(what == "prange vectorised over 4 iterations, writes c" for _, what in decisions), decisions
