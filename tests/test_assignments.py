"""Assignments: locals rebound in loops and branches, and in-place array updates,
compared against plain Python on NumPy copies (which also checks that the
caller's arrays are left untouched)."""

import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import assert_tree_close, check, narrowed

# ---------------------------------------------------------------------------
# Locals: =, +=, -=, *=, /=, tuple targets
# ---------------------------------------------------------------------------


def augmented_locals(x, n):
    a = 1.0
    b = 0.0
    c = 2.0
    d = 100.0
    e = 0.0
    for i in range(n):
        a *= 1.0 + x[i] * 0.1
        b += x[i]
        c -= x[i] * i
        d /= 1.5 + i
        e = b - c
    return a, b, c, d, e


@pytest.mark.parametrize("n", [0, 1, 6, np.int64(6)])
def test_augmented_assignment_on_locals(rng, n):
    check(augmented_locals, rng.normal(size=6), n)


def augmented_in_while(x, limit):
    s = 1.0
    k = 0
    while s < limit:
        s *= 1.5
        s += x[k % x.shape[0]] ** 2
        s -= 0.1
        k += 1
    return s, k


@pytest.mark.parametrize("limit", [0.5, 10.0, 1e4])
def test_augmented_assignment_in_while(rng, limit):
    check(augmented_in_while, rng.normal(size=4), limit)


def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a, b


# fib(50) is beyond int32: Python ints are int32 in 32-bit mode.
@pytest.mark.parametrize("n", [0, 1, 2, 10, pytest.param(50, marks=pytest.mark.x64_only)])
def test_fibonacci_tuple_assignment(n):
    check(fibonacci, n)


# fib(50) is beyond int32: Python ints are int32 in 32-bit mode.
@pytest.mark.parametrize("n", [0, 1, 10, pytest.param(50, marks=pytest.mark.x64_only)])
def test_fibonacci_traced_trip_count(n):
    check(fibonacci, np.int64(n))


def float_recurrence_tuple(x):
    a, b = x[0], x[1]
    for i in range(2, x.shape[0]):
        a, b = b, 0.5 * a - 0.25 * b + x[i]
    return a, b


def test_float_tuple_recurrence(rng):
    check(float_recurrence_tuple, rng.normal(size=9))


def tuple_swap_in_branch(x):
    lo, hi = x[0], x[1]
    for i in range(x.shape[0]):
        if lo > hi:
            lo, hi = hi, lo
        lo, hi = lo + x[i] * 0.1, hi - x[i] * 0.2
    return lo, hi


def test_tuple_swap_in_branch(rng):
    check(tuple_swap_in_branch, rng.normal(size=7))


def nested_tuple_target(x):
    s, (p, q) = 0.0, (1.0, 2.0)
    for i in range(x.shape[0]):
        s, (p, q) = s + p * x[i], (q, p + q * 0.5)
    return s, p, q


def test_nested_tuple_target(rng):
    check(nested_tuple_target, rng.normal(size=5))


def int_accumulator_receives_floats(x):
    s = 0
    for i in range(x.shape[0]):
        s += x[i]
    return s


def int_accumulator_receives_python_floats(n):
    s = 0
    for i in range(n):
        s += 0.5 * i
    return s


def int_accumulator_divided(n):
    s = 1
    for i in range(n):
        s /= 2
    return s


def int_accumulator_stays_int(x, n):
    s = 0
    t = 1
    for i in range(n):
        s += i * i
        t *= 2
        t -= 1
    return s, t


def int_counter_in_traced_branch(x):
    count = 0
    for i in range(x.shape[0]):
        if x[i] > 0:
            count += 1
    return count


@pytest.mark.parametrize("size", [1, 5])
def test_int_accumulator_receiving_array_floats_becomes_float(rng, size):
    check(int_accumulator_receives_floats, rng.normal(size=size))


@pytest.mark.parametrize("n", [1, 5, np.int64(5)])
def test_int_accumulator_receiving_python_floats_becomes_float(n):
    check(int_accumulator_receives_python_floats, n)


@pytest.mark.parametrize("n", [1, 4, np.int64(4)])
def test_int_accumulator_true_division_becomes_float(n):
    check(int_accumulator_divided, n)


@pytest.mark.parametrize("n", [0, 1, 7, np.int64(7)])
def test_int_accumulator_stays_int(rng, n):
    check(int_accumulator_stays_int, rng.normal(size=3), n)


def test_int_counter_in_traced_branch_stays_int(rng):
    check(int_counter_in_traced_branch, rng.normal(size=8))


def int_floor_division_and_modulo(n):
    # Negative operands: Python floors (-7 // 2 == -4, -7 % 3 == 2).
    a = -1000
    b = -7
    c = 5
    for i in range(n):
        a //= 3
        b = (b * 3 - i) % 11
        c = (c - 9) % -4
    return a, b, c


@pytest.mark.parametrize("n", [0, 3, np.int64(3)])
def test_int_floor_division_and_modulo(n):
    check(int_floor_division_and_modulo, n)


def first_defined_in_loop(x, n):
    for i in range(n):
        t = x[i] * 2.0
        k = i * 3
    return t, k


@pytest.mark.parametrize("n", [1, 4, np.int64(4)])
def test_variable_first_defined_inside_loop(rng, n):
    check(first_defined_in_loop, rng.normal(size=5), n)


def first_defined_in_while(x):
    k = 0
    while k < 3:
        last = x[k] + k
        k += 1
    return last


def test_variable_first_defined_inside_while(rng):
    check(first_defined_in_while, rng.normal(size=5))


def first_defined_in_branch_both_sides(x):
    if x[0] > 0:
        m = x[1]
    else:
        m = -x[1]
    return m


@pytest.mark.parametrize("first", [-1.0, 1.0])
def test_variable_first_defined_in_both_branches(rng, first):
    x = rng.normal(size=3)
    x[0] = first
    check(first_defined_in_branch_both_sides, x)


def defined_in_loop_then_updated_in_loop(x, n):
    for i in range(n):
        t = x[i]
    for j in range(3):
        t = t + j
    return t


def defined_in_loop_then_updated_in_branch(x, n):
    for i in range(n):
        t = x[i]
    if x[0] > 0:
        t = t * 2.0
    return t


def defined_in_loop_then_updated_in_while(x, n):
    for i in range(n):
        k = i
    while k < 10:
        k += 3
    return k




@pytest.mark.parametrize(
    "fn",
    [defined_in_loop_then_updated_in_loop, defined_in_loop_then_updated_in_branch, defined_in_loop_then_updated_in_while],
)
@pytest.mark.parametrize("n", [2, np.int64(2)])
def test_variable_defined_in_loop_updated_by_later_construct(rng, fn, n):
    x = np.abs(rng.normal(size=3))
    check(fn, x, n)


def scalar_argument_accumulator(x, s):
    for i in range(x.shape[0]):
        s += x[i]
    return s


def test_augmented_assignment_on_float_argument(rng):
    check(scalar_argument_accumulator, rng.normal(size=4), 1.5)


def python_list_elements_accumulate(x):
    acc = [0.0, 0.0]
    for i in range(x.shape[0]):
        acc[i % 2] = acc[i % 2] + x[i]
    return acc[0], acc[1]


def test_python_list_element_accumulators(rng):
    check(python_list_elements_accumulate, rng.normal(size=5))


def copy_inside_loop(a):
    a = a.copy()
    for i in range(a.shape[0]):
        b = a.copy()
        a[i] = b[i] * 2 + b[0]
    return a, b


def test_copy_made_inside_loop(rng):
    check(copy_inside_loop, rng.normal(size=4))


def rebinding_whole_array_in_loop(x, n):
    y = x
    for i in range(n):
        y = y * 0.5 + x[i]
    return y


@pytest.mark.parametrize("n", [0, 3, np.int64(3)])
def test_rebinding_whole_array_variable(rng, n):
    check(rebinding_whole_array_in_loop, rng.normal(size=4), n)


# ---------------------------------------------------------------------------
# Arrays: element writes
# ---------------------------------------------------------------------------


def set_elements(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i] - i
    return out


def add_2d(a):
    out = a.copy()
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i, j] += i * 10 + j
            out[i, j] *= 0.5
            out[i, j] -= a[i, j] ** 2
            out[i, j] /= 1.0 + j
    return out


def test_element_set(rng):
    check(set_elements, rng.normal(size=6))


@pytest.mark.parametrize("shape", [(1, 1), (3, 4)])
def test_element_augmented_2d(rng, shape):
    check(add_2d, rng.normal(size=shape))


def write_argument_array(a, n):
    for i in range(n):
        a[i] = a[i] * 2 + i
    a[0] += 100.0
    return a


def write_argument_array_2d(a):
    for i in range(a.shape[0]):
        a[i, i] = -a[i, i]
        a[i, :] += 1.0
    return a.sum(), a


@pytest.mark.parametrize("n", [0, 3, np.int64(3)])
def test_write_into_argument_array(rng, n):
    check(write_argument_array, rng.normal(size=5), n)


def test_write_into_argument_array_2d(rng):
    check(write_argument_array_2d, rng.normal(size=(3, 3)))


def test_write_into_jax_argument_array(rng):
    # Plain Python cannot write into a JAX array, so the oracle runs on a NumPy copy.
    x_np = narrowed(rng.normal(size=5))
    x = jnp.asarray(x_np)
    expected = write_argument_array(x_np.copy(), 3)
    with pytest.warns(refscript.errors.LostWriteWarning, match="a JAX array is immutable"):
        got = refscript.jit(write_argument_array)(x, 3)
    assert_tree_close(got, expected)
    np.testing.assert_array_equal(np.asarray(x), x_np)


def negative_indices(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[-i] = out[-i] + out[-i - 1] * 0.5
    out[-1] *= 3
    out[-2] = out[-1] - 1
    return out


def negative_indices_2d(a):
    out = a.copy()
    out[-1, -1] = 7.0
    out[0, -2] += out[-1, 0]
    for j in range(a.shape[1]):
        out[-1, j] -= out[-2, -j - 1]
    return out


def test_negative_indices(rng):
    check(negative_indices, rng.normal(size=6))


def test_negative_indices_2d(rng):
    check(negative_indices_2d, rng.normal(size=(3, 4)))


def traced_integer_indices(idx, n_bins):
    counts = np.zeros(n_bins, dtype=int)
    for k in range(idx.shape[0]):
        counts[idx[k]] += 1
    return counts


def traced_index_2d(a, rows, cols):
    out = a.copy()
    for k in range(rows.shape[0]):
        out[rows[k], cols[k]] = out[rows[k], cols[k]] * 2 + k
    return out


def test_traced_integer_indices_histogram(rng):
    idx = rng.integers(0, 5, size=20)
    check(traced_integer_indices, idx, 5)


def test_traced_negative_integer_indices(rng):
    idx = rng.integers(-5, 5, size=20)
    check(traced_integer_indices, idx, 5)


def test_traced_integer_indices_2d_with_repeats(rng):
    rows = np.array([0, 2, 0, -1, 1])
    cols = np.array([1, 1, 1, 0, -2])
    check(traced_index_2d, rng.normal(size=(3, 3)), rows, cols)


def float_into_int_array(x):
    out = np.zeros(x.shape[0], dtype=int)
    for i in range(x.shape[0]):
        out[i] = x[i] * 3.7
    return out


def float_added_into_int_array(x):
    out = np.arange(x.shape[0]) * 10
    for i in range(x.shape[0]):
        out[i] += x[i]
    return out


def float_into_int_array_traced_branch(x):
    out = np.ones(x.shape[0], dtype=int)
    for i in range(x.shape[0]):
        if x[i] > 0:
            out[i] = x[i] * 2.5
    return out


def float_into_int32_array(x):
    out = np.zeros(x.shape[0], dtype=np.int32)
    for i in range(x.shape[0]):
        out[i] = x[i] * 10
    return out


@pytest.mark.parametrize(
    "fn", [float_into_int_array, float_added_into_int_array, float_into_int_array_traced_branch, float_into_int32_array]
)
def test_float_written_into_int_array_truncates(rng, fn):
    check(fn, rng.normal(size=8) * 3)


def mask_assignment(x):
    out = x.copy()
    out[x > 0] = 0.0
    for i in range(2):
        out[out < -0.5] = out[0] - i
    return out


def test_boolean_mask_assignment(rng):
    check(mask_assignment, rng.normal(size=8))


def index_array_assignment(x, idx):
    out = x.copy()
    out[idx] = -1.0
    for k in range(2):
        out[idx] += 1.0 + k
    return out


def test_integer_index_array_assignment(rng):
    check(index_array_assignment, rng.normal(size=6), np.array([0, 3, 3, -1]))


def int_into_float_array(n):
    out = np.zeros(n)
    for i in range(n):
        out[i] = i * i
    return out


def test_int_written_into_float_array(rng):
    check(int_into_float_array, 5)


def bool_array_writes(x):
    flags = np.zeros(x.shape[0], dtype=bool)
    for i in range(x.shape[0]):
        flags[i] = x[i] > 0
    return flags


def test_bool_array_writes(rng):
    check(bool_array_writes, rng.normal(size=6))


# ---------------------------------------------------------------------------
# Arrays: static slices
# ---------------------------------------------------------------------------


def slice_assign(x):
    out = x.copy()
    out[1:-1] = (x[:-2] + x[2:]) / 2
    out[0] = out[-1]
    return out


def slice_assign_in_loop(x, n):
    out = x.copy()
    for _ in range(n):
        out[1:-1] = (out[:-2] + out[2:]) / 2
    return out


def slice_overlapping_augmented(x):
    out = x.copy()
    out[1:] += out[:-1]
    out[::2] *= -1
    out[:2] = 0.5
    return out


def column_scale(a):
    out = a.copy()
    for j in range(a.shape[1]):
        out[:, j] *= 2 + j
    for i in range(a.shape[0]):
        out[i, 1:] -= out[i, :-1]
    return out


def slice_broadcast(a):
    out = a.copy()
    out[:, 0] = 0.0
    out[1, :] = a[0, :]
    out[:, -1] += a[:, 0] * 2
    out[..., 1] = -1.0
    return out


@pytest.mark.parametrize("size", [3, 8])
def test_static_slice_assignment(rng, size):
    x = rng.normal(size=size)
    check(slice_assign, x)
    check(slice_overlapping_augmented, x)


@pytest.mark.parametrize("n", [0, 1, 5, np.int64(5)])
def test_static_slice_assignment_in_loop(rng, n):
    check(slice_assign_in_loop, rng.normal(size=7), n)


def test_column_and_row_slices_in_loops(rng):
    check(column_scale, rng.normal(size=(4, 3)))


def test_slice_broadcasting(rng):
    check(slice_broadcast, rng.normal(size=(3, 4)))


def read_unwritten_slice_with_loop_index(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[i] = x[:i].sum() + x[i:].mean()
    return out


def read_written_slice_with_loop_index(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[i] = out[:i].sum()
    return out


def write_slice_with_loop_index(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[:i] += x[i]
    return out


def test_slice_of_argument_bounded_by_loop_index(rng):
    # docs/supported.md: a static loop whose body slices with the index is unrolled.
    check(read_unwritten_slice_with_loop_index, rng.normal(size=6))


@pytest.mark.parametrize("fn", [read_written_slice_with_loop_index, write_slice_with_loop_index])
def test_slice_of_written_array_bounded_by_loop_index(rng, fn):
    check(fn, rng.normal(size=6))


# ---------------------------------------------------------------------------
# Whole algorithms
# ---------------------------------------------------------------------------


def stencil_jacobi(u, steps):
    u = u.copy()
    for _ in range(steps):
        new = u.copy()
        for i in range(1, u.shape[0] - 1):
            for j in range(1, u.shape[1] - 1):
                new[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        u = new
    return u


def stencil_gauss_seidel(u):
    # In place: reads values written earlier in the same sweep.
    u = u.copy()
    for i in range(1, u.shape[0] - 1):
        for j in range(1, u.shape[1] - 1):
            u[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return u


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_jacobi_stencil(rng, steps):
    check(stencil_jacobi, rng.normal(size=(5, 6)), steps)


def test_gauss_seidel_stencil(rng):
    check(stencil_gauss_seidel, rng.normal(size=(6, 5)))


def prefix_sum(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[i] += out[i - 1]
    return out


def prefix_sum_2d(a):
    out = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            out[i + 1, j + 1] = a[i, j] + out[i, j + 1] + out[i + 1, j] - out[i, j]
    return out


@pytest.mark.parametrize("size", [1, 2, 10])
def test_prefix_sum(rng, size):
    check(prefix_sum, rng.normal(size=size))


def test_prefix_sum_int_keeps_int(rng):
    check(prefix_sum, rng.integers(-10, 10, size=8))


def test_prefix_sum_2d(rng):
    check(prefix_sum_2d, rng.normal(size=(3, 4)))


def matvec(a, x):
    y = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            y[i] += a[i, j] * x[j]
    return y


def matvec_scalar_accumulator(a, x):
    y = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        acc = 0.0
        for j in range(a.shape[1]):
            acc += a[i, j] * x[j]
        y[i] = acc
    return y


def matmul(a, b):
    c = np.zeros((a.shape[0], b.shape[1]))
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            for k in range(a.shape[1]):
                c[i, j] += a[i, k] * b[k, j]
    return c


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (5, 3)])
def test_matvec(rng, shape):
    a, x = rng.normal(size=shape), rng.normal(size=shape[1])
    check(matvec, a, x, rtol=1e-10)
    check(matvec_scalar_accumulator, a, x, rtol=1e-10)


def test_matmul_three_loops(rng):
    check(matmul, rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rtol=1e-10)


def forward_substitution(L, b):
    x = np.zeros(b.shape[0])
    for i in range(b.shape[0]):
        s = b[i]
        for j in range(i):
            s -= L[i, j] * x[j]
        x[i] = s / L[i, i]
    return x


def back_substitution_in_place(U, b):
    x = b.copy()
    n = b.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            x[i] -= U[i, j] * x[j]
        x[i] /= U[i, i]
    return x


def _triangular(rng, n, lower):
    a = rng.normal(size=(n, n)) + np.eye(n) * (n + 2)
    return np.tril(a) if lower else np.triu(a)


@pytest.mark.parametrize("n", [1, 4, 7])
def test_triangular_solves(rng, n):
    b = rng.normal(size=n)
    check(forward_substitution, _triangular(rng, n, True), b, rtol=1e-10)
    check(back_substitution_in_place, _triangular(rng, n, False), b, rtol=1e-10)


def bubble_sort(x):
    a = x.copy()
    n = a.shape[0]
    for i in range(n):
        for j in range(n - 1 - i):
            if a[j] > a[j + 1]:
                a[j], a[j + 1] = a[j + 1], a[j]
    return a


@pytest.mark.parametrize("size", [1, 2, 7])
def test_bubble_sort_tuple_swap_of_elements(rng, size):
    check(bubble_sort, rng.normal(size=size))


# ---------------------------------------------------------------------------
# float32 stays float32
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [prefix_sum, negative_indices, slice_assign, column_scale])
def test_float32_array_updates_stay_float32(rng, fn):
    shape = (4, 3) if fn is column_scale else (6,)
    got = check(fn, rng.normal(size=shape).astype(np.float32), rtol=1e-6)
    assert np.asarray(got).dtype == np.float32


def f32_matvec(a, x):
    y = np.zeros(a.shape[0], dtype=np.float32)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            y[i] += a[i, j] * x[j]
    return y


def test_float32_matvec(rng):
    a = rng.normal(size=(3, 4)).astype(np.float32)
    x = rng.normal(size=4).astype(np.float32)
    got = check(f32_matvec, a, x, rtol=1e-5)
    assert np.asarray(got).dtype == np.float32
