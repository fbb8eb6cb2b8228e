"""`if` / `elif` / `else`, on traced and on static predicates, compared against plain Python.

A predicate computed from array data is traced (both branches are traced, one
is selected at run time); a predicate on a Python int argument is static (only
the taken branch is traced, as Python runs it).
"""

import numpy as np
import pytest

import refscript
from oracle import check

# ---------------------------------------------------------------------------
# Traced predicates
# ---------------------------------------------------------------------------


def if_else_traced(x):
    if x[0] > 0:
        y = x * 2.0
        tag = 1
    else:
        y = x - 1.0
        tag = -1
    return y, tag


def if_without_else_traced(x):
    y = x[1]
    if x[0] > 0:
        y = y * 3.0
    return y


def if_elif_else_traced(x):
    if x[0] > 1.0:
        r = x[1] * 10.0
    elif x[0] > 0.0:
        r = x[1] + 100.0
    elif x[0] > -1.0:
        r = -x[1]
    else:
        r = x[1] * 0.0 + 7.0
    return r


def nested_ifs_traced(x):
    if x[0] > 0:
        if x[1] > 0:
            r = 1
        else:
            r = 2
    else:
        if x[1] > 0:
            r = 3
        elif x[2] > 0:
            r = 4
        else:
            r = 5
    return r


def if_on_bitwise_ops(x):
    r = 0.0
    if (x[0] > 0) & (x[1] > 0):
        r = r + 1.0
    if (x[0] > 0) | (x[1] > 0):
        r = r + 10.0
    if ~(x[2] > 0):
        r = r + 100.0
    return r


def if_and(x):
    r = 0.0
    if x[0] > 0 and x[1] > 0:
        r = r + 1.0
    return r


def if_or(x):
    r = 0.0
    if x[0] > 0 or x[1] > 0:
        r = r + 10.0
    return r


def if_not(x):
    r = 0.0
    if not x[2] > 0:
        r = r + 100.0
    return r


def while_and(x):
    k = 0
    while k < x.shape[0] and x[k] > 0:
        k += 1
    return k


FIRST_VALUES = [-2.0, -0.5, 0.0, 0.5, 2.0]


@pytest.mark.parametrize("first", FIRST_VALUES)
def test_if_else_traced(rng, first):
    x = rng.normal(size=4)
    x[0] = first
    check(if_else_traced, x)
    check(if_without_else_traced, x)
    check(if_elif_else_traced, x)


@pytest.mark.parametrize("signs", [(1, 1, 1), (1, -1, 1), (-1, 1, -1), (-1, -1, 1), (-1, -1, -1)])
def test_nested_ifs_traced(signs):
    x = np.array(signs, dtype=np.float64) * 0.5
    check(nested_ifs_traced, x)
    check(if_on_bitwise_ops, x)




@pytest.mark.parametrize("fn", [if_and, if_or, if_not])
@pytest.mark.parametrize("signs", [(1, 1, 1), (-1, 1, -1)])
def test_boolean_operators_on_traced_predicates(fn, signs):
    check(fn, np.array(signs, dtype=np.float64) * 0.5)


def test_while_condition_with_and(rng):
    x = np.array([0.5, 1.0, -1.0, 2.0])
    check(while_and, x)


def if_in_loop(x):
    pos = 0.0
    neg = 0.0
    n_pos = 0
    for i in range(x.shape[0]):
        if x[i] > 0:
            pos += x[i]
            n_pos += 1
        elif x[i] < -0.5:
            neg -= x[i]
        else:
            neg = neg * 0.5
    return pos, neg, n_pos


def if_in_loop_on_index(x, n):
    out = x.copy()
    for i in range(n):
        if i % 3 == 0:
            out[i] = -out[i]
        elif i % 3 == 1:
            out[i] *= 2
    return out


def if_in_while(x):
    k = 0
    lo = 0.0
    hi = 0.0
    while k < x.shape[0]:
        if x[k] > 0:
            hi = hi + x[k]
        else:
            lo = lo + x[k]
        k += 1
    return lo, hi


def nested_if_in_nested_loop(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            if a[i, j] > 0:
                if i > j:
                    s = s + a[i, j]
                else:
                    s = s - 2 * a[i, j]
            else:
                s = s * 0.5
    return s


@pytest.mark.parametrize("size", [0, 1, 7])
def test_if_inside_for(rng, size):
    check(if_in_loop, rng.normal(size=size))


@pytest.mark.parametrize("size", [1, 7])
def test_if_inside_while(rng, size):
    # (size 0 is test_loops.py::test_while_zero_trip_over_empty_array)
    check(if_in_while, rng.normal(size=size))


@pytest.mark.parametrize("n", [0, 5, np.int64(7)])
def test_if_on_loop_index(rng, n):
    check(if_in_loop_on_index, rng.normal(size=7), n)


def test_nested_if_in_nested_loop(rng):
    check(nested_if_in_nested_loop, rng.normal(size=(4, 5)))


def running_max_argmax(x):
    best = x[0]
    where = 0
    for i in range(1, x.shape[0]):
        if x[i] > best:
            best = x[i]
            where = i
    return best, where


@pytest.mark.parametrize("size", [1, 2, 9])
def test_running_max_argmax(rng, size):
    check(running_max_argmax, rng.normal(size=size))


def defined_in_both_branches_used_later(x):
    total = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            w = 2.0
            b = 1
        else:
            w = -0.5
            b = 0
        total = total * w + b
    return total


def test_variables_assigned_in_both_branches(rng):
    check(defined_in_both_branches_used_later, rng.normal(size=8))


def branch_on_integer_value(x, k):
    if k > 2:
        y = x + k
    else:
        y = x - k
    return y


@pytest.mark.parametrize("k", [np.int64(1), np.int64(5)])
def test_branch_on_traced_int_argument(rng, k):
    check(branch_on_integer_value, rng.normal(size=3), k)


def branch_on_size1_array(x):
    if x[:1] > 0:
        r = 1.0
    else:
        r = 2.0
    return r


@pytest.mark.parametrize("first", [-1.0, 1.0])
def test_branch_on_size1_array(first):
    check(branch_on_size1_array, np.array([first, 3.0]))


def branch_on_integer_truthiness(x, idx):
    r = x[0]
    if idx[0]:
        r = r + 1.0
    if idx[1] % 2:
        r = r * 3.0
    return r


@pytest.mark.parametrize("idx", [[0, 0], [2, 3], [0, 1]])
def test_branch_on_integer_truthiness(idx):
    check(branch_on_integer_truthiness, np.array([1.5, 2.0]), np.array(idx))


def branch_writes_array(x):
    out = x.copy()
    for i in range(x.shape[0]):
        if out[i] < 0:
            out[i] = 0.0
        else:
            out[i] = out[i] ** 2
    return out


def branch_writes_slices(a):
    out = a.copy()
    if a.sum() > 0:
        out[0, :] = 1.0
        out[:, -1] *= 3
    else:
        out[1:, 0] = -a[1:, 0]
    return out


def test_branch_writes_array(rng):
    check(branch_writes_array, rng.normal(size=9))


@pytest.mark.parametrize("sign", [1, -1])
def test_branch_writes_slices(rng, sign):
    a = np.abs(rng.normal(size=(3, 4))) * sign
    check(branch_writes_slices, a)


# ---------------------------------------------------------------------------
# Static predicates: only the taken branch is traced, as in Python
# ---------------------------------------------------------------------------


def static_mode(x, mode):
    if mode == 0:
        y = x * 2.0
    elif mode == 1:
        # .item() of a traced value fails: must never be traced unless taken.
        y = x * x[0].item()
    else:
        y = x + 1.0
    return y


@pytest.mark.parametrize("mode", [0, 2])
def test_static_predicate_traces_only_taken_branch(rng, mode):
    check(static_mode, rng.normal(size=3), mode)


def test_static_predicate_untaken_branch_would_fail(rng):
    # Counterpart of the test above: taking mode 1 does fail to trace, so the
    # passing cases really prove the branch was not traced.
    with pytest.raises(Exception):
        refscript.jit(static_mode)(rng.normal(size=3), 1)


def static_flag_python_value(x, flag):
    # The taken branch gives `scale` a Python object (a tuple), usable as such afterwards.
    if flag:
        scale = (2.0, 3.0)
    else:
        scale = (0.5, 0.25)
    return x * scale[0] + scale[1]


@pytest.mark.parametrize("flag", [True, False])
def test_static_bool_predicate(rng, flag):
    check(static_flag_python_value, rng.normal(size=3), flag)


def static_shape_predicate(x):
    if x.ndim == 1:
        r = x.sum()
    elif x.shape[1] > 2:
        r = x[:, 2].sum()  # would be an IndexError for narrower arrays
    else:
        r = x[:, 0].sum() * 10
    return r


@pytest.mark.parametrize("shape", [(4,), (2, 3), (3, 2)])
def test_static_shape_predicate(rng, shape):
    check(static_shape_predicate, rng.normal(size=shape))


def static_predicate_in_traced_loop(x, mode):
    s = 0.0
    for i in range(x.shape[0]):
        if mode == 1:
            s = s + x[i]
        elif mode == 2:
            s = s * x[i]
        else:
            s = s - x[i] * i
    return s


@pytest.mark.parametrize("mode", [1, 2, 3])
def test_static_predicate_inside_loop(rng, mode):
    check(static_predicate_in_traced_loop, rng.normal(size=5), mode)


def static_predicate_around_loop(x, n, reverse):
    out = x.copy()
    if reverse:
        for i in range(n - 1, 0, -1):
            out[i - 1] += out[i]
    else:
        for i in range(1, n):
            out[i] += out[i - 1]
    return out


@pytest.mark.parametrize("reverse", [True, False])
def test_static_predicate_around_loop(rng, reverse):
    check(static_predicate_around_loop, rng.normal(size=6), 6, reverse)


def static_python_none_check(x, w=None):
    if w is None:
        y = x * 2.0
    else:
        y = x * w
    return y


def test_static_none_predicate(rng):
    x = rng.normal(size=3)
    check(static_python_none_check, x)
    check(static_python_none_check, x, rng.normal(size=3))


def static_branch_assigns_python_list(x, n):
    # A static branch may rebind a variable holding a Python object.
    items = [1.0]
    if n > 1:
        items = [1.0, 2.0, 3.0]
    s = 0.0
    for k in range(len(items)):
        s = s + x[k] * items[k]
    return s


@pytest.mark.parametrize("n", [0, 2])
def test_static_branch_python_object(rng, n):
    check(static_branch_assigns_python_list, rng.normal(size=4), n)


def traced_if_in_static_if(x, mode):
    r = 0.0
    if mode > 0:
        if x[0] > 0:
            r = 1.0
        else:
            r = 2.0
    return r


def static_if_in_traced_if(x, mode):
    r = x[1]
    if x[0] > 0:
        if mode > 0:
            r = r * 10.0
        else:
            r = r - 10.0
    return r


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("first", [-1.0, 1.0])
def test_static_and_traced_ifs_nested(rng, mode, first):
    x = rng.normal(size=2)
    x[0] = first
    check(traced_if_in_static_if, x, mode)
    check(static_if_in_traced_if, x, mode)


# ---------------------------------------------------------------------------
# Dtypes through branches
# ---------------------------------------------------------------------------


def branch_int_and_float(x):
    if x[0] > 0:
        r = 1.5
    else:
        r = 2.5
    k = 0
    if x[1] > 0:
        k = 3
    return r, k


@pytest.mark.parametrize("signs", [(1, 1), (-1, -1), (1, -1)])
def test_branch_result_dtypes(signs):
    check(branch_int_and_float, np.array(signs, dtype=np.float64))


def branch_float32(x):
    y = x.copy()
    if x[0] > 0:
        y = y * 2
    else:
        y[1] = x[0] - 1
    return y


@pytest.mark.parametrize("first", [-1.0, 1.0])
def test_branch_float32_stays_float32(rng, first):
    x = rng.normal(size=3).astype(np.float32)
    x[0] = first
    got = check(branch_float32, x, rtol=1e-6)
    assert np.asarray(got).dtype == np.float32
