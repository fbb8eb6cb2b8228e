"""Bugs found by the example kernels and the program generator, each kept as a named test."""

import numpy as np

from oracle import check


def empty_tail_slice_of_written_array(x):
    y = x.copy()
    for i in range(x.shape[0]):
        y[i] = y[i + 1:].sum()
    return y


def test_empty_tail_slice_of_written_array():
    check(empty_tail_slice_of_written_array, np.ones(3))


def reversed_and_clipped_slices(x):
    y = x.copy()
    y[::-1] = x * 2
    y[1:100] += 1
    y[5:2] = 7
    return y, y[::-2]


def test_reversed_and_clipped_slices_of_written_array():
    check(reversed_and_clipped_slices, np.arange(5.0))


def chained_comparison_in_branch(x, n):
    count = 0
    for i in range(x.shape[0]):
        if 0 <= x[i] < n:
            count += 1
    return count


def test_chained_comparison_on_traced_values():
    check(chained_comparison_in_branch, np.array([-1, 0, 3, 5]), 4)


def bound_before_break(x):
    for i in range(x.shape[0]):
        y = x[i] * 2
        if y > 3:
            break
    return y


def test_variable_bound_before_break():
    check(bound_before_break, np.array([1.0, 2.0, 3.0]))
    check(bound_before_break, np.array([1.0, 1.0]))


def index_after_break(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            break
    return i


def test_loop_variable_keeps_its_value_at_break():
    check(index_after_break, np.array([0.0, 5.0, 1.0, 2.0]), 3.0)
    check(index_after_break, np.array([0.0, 1.0]), 3.0)


def for_else_binding(x, t):
    for i in range(x.shape[0]):
        if x[i] > t:
            found = i
            break
    else:
        found = -1
    return found


def test_for_else_binds_on_break_and_else_paths():
    check(for_else_binding, np.array([0.0, 5.0, 1.0]), 3.0)
    check(for_else_binding, np.array([0.0, 1.0]), 3.0)


def complex_of_traced(re, im):
    z = complex(re[0], im[0])
    return z * z


def test_complex_builtin_on_traced_values():
    check(complex_of_traced, np.array([1.5]), np.array([-0.5]))


def doubling_while_with_slices(x):
    out = x.copy()
    offset = 1
    while offset < x.shape[0]:
        out[offset:] = out[offset:] + out[:-offset]
        offset *= 2
    return out


def test_while_over_python_values_whose_body_needs_them_runs_as_python():
    check(doubling_while_with_slices, np.arange(1.0, 8.0))


def return_in_loop_else(x):
    c = 0
    for i in range(0, 0):
        c += 1
    else:
        if not (0.5 < 0.5):
            return c + 1
    return c


def break_in_inner_loop_else(x):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(2):
            s += x[i]
        else:
            if s > 1.0:
                break
    return s


def test_return_in_a_loop_else():
    check(return_in_loop_else, np.zeros(2))


def test_break_in_an_inner_loop_else_leaves_the_outer_loop():
    check(break_in_inner_loop_else, np.array([0.2, 0.7, 3.0, 1.0]))
