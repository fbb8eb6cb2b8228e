"""Loops (`for` over ranges, `while`, nesting) compared against plain Python.

Every test runs the undecorated function as Python on NumPy copies and through
`refscript.jit` (see `oracle.check`). Bounds passed as Python ints are static;
bounds passed as `np.int64` (or with `static_scalars=False`) are traced.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed
from test_regressions import doubling_while_with_slices as doubling_scan

# ---------------------------------------------------------------------------
# for i in range(...)
# ---------------------------------------------------------------------------


def range_stop_sum(x, n):
    s = 0.0
    c = 0
    for i in range(n):
        s = s * 0.5 + x[i] * (i + 1)
        c += 1
    return s, c


def range_start_stop_sum(x, start, stop):
    s = 0.0
    c = 0
    for i in range(start, stop):
        s = s * 0.5 + x[i] * (i + 1)
        c += 1
    return s, c


def range_step_sum(x, start, stop, step):
    # Order dependent (s * 0.5), so the direction of the loop matters.
    s = 0.0
    c = 0
    last = -100
    for i in range(start, stop, step):
        s = s * 0.5 + x[i] * (c + 1)
        c += 1
        last = i
    return s, c, last


STOPS = [0, 1, 2, 8]
START_STOP = [(0, 8), (3, 8), (3, 4), (5, 5), (6, 2), (7, 8)]
START_STOP_STEP = [
    (0, 8, 1),
    (1, 8, 2),
    (0, 8, 3),
    (2, 3, 5),  # one trip, step > distance
    (7, -1, -1),  # 7..0
    (7, 0, -3),  # 7, 4, 1
    (7, -1, -2),  # 7, 5, 3, 1
    (3, 2, -1),  # one trip downwards
    (2, 2, 1),  # zero trip
    (5, 2, 1),  # zero trip: stop below start
    (2, 5, -1),  # zero trip: negative step upwards
    (2, 2, -1),  # zero trip
]


ALL_KINDS = ["static", "np.int64", "jnp", "static_scalars=False"]
MAIN_KINDS = ["static", "np.int64"]


def _cases(values, kinds, extra_kinds=(), extra_every=3):
    """Every value with `kinds`, and every `extra_every`-th value also with `extra_kinds`."""
    cases = [(v, k) for v in values for k in kinds]
    cases += [(v, k) for v in values[::extra_every] for k in extra_kinds]
    return cases


def _bounds(kind, *values):
    """Returns (args, jit_options) for the bounds `values` passed as `kind`."""
    if kind == "static":
        return tuple(values), {}
    if kind == "np.int64":
        return tuple(np.int64(v) for v in values), {}
    if kind == "jnp":
        return tuple(jnp.asarray(v, jax.dtypes.canonicalize_dtype(jnp.int64)) for v in values), {}
    return tuple(values), {"static_scalars": False}


@pytest.mark.parametrize("n,kind", _cases(STOPS, ALL_KINDS))
def test_range_stop(rng, n, kind):
    bounds, options = _bounds(kind, n)
    check(range_stop_sum, rng.normal(size=8), *bounds, **options)


@pytest.mark.parametrize("start_stop,kind", _cases(START_STOP, MAIN_KINDS, ALL_KINDS[2:]))
def test_range_start_stop(rng, start_stop, kind):
    bounds, options = _bounds(kind, *start_stop)
    check(range_start_stop_sum, rng.normal(size=8), *bounds, **options)


@pytest.mark.parametrize("start_stop_step,kind", _cases(START_STOP_STEP, MAIN_KINDS, ALL_KINDS[2:], 4))
def test_range_start_stop_step(rng, start_stop_step, kind):
    bounds, options = _bounds(kind, *start_stop_step)
    check(range_step_sum, rng.normal(size=8), *bounds, **options)


@pytest.mark.parametrize(
    "start,stop,step",
    [(np.int64(1), 8, 2), (1, np.int64(8), 2), (1, 8, np.int64(2)), (7, np.int64(-1), -2), (np.int64(7), 0, -3)],
)
def test_range_mixed_static_and_traced_bounds(rng, start, stop, step):
    check(range_step_sum, rng.normal(size=8), start, stop, step)


def loop_index_after_loop(x, n):
    for i in range(n):
        x = x + i
    return i, x


def loop_index_after_loop_step(x, n):
    for i in range(n, 0, -2):
        x = x * 0.5 + i
    return i, x


@pytest.mark.parametrize("kind", ["static", "np.int64"])
@pytest.mark.parametrize("n", [1, 2, 7])
def test_loop_index_used_after_loop(rng, n, kind):
    bounds, options = _bounds(kind, n)
    check(loop_index_after_loop, rng.normal(size=3), *bounds, **options)
    check(loop_index_after_loop_step, rng.normal(size=3), *bounds, **options)


def index_bound_before_loop(x, n):
    # A zero-trip loop leaves the earlier value of the loop variable.
    i = 10
    for i in range(n):
        x = x + i
    return i, x


@pytest.mark.parametrize("kind", ["static", "np.int64"])
@pytest.mark.parametrize("n", [0, 3])
def test_loop_variable_bound_before_loop(rng, n, kind):
    bounds, options = _bounds(kind, n)
    check(index_bound_before_loop, rng.normal(size=3), *bounds, **options)


def loop_variable_shadows_argument(x, n):
    for n in range(n):
        x = x * 0.5 + n
    return x, n


@pytest.mark.parametrize("n", [3, np.int64(3)])
def test_loop_variable_shadows_bound_argument(rng, n):
    check(loop_variable_shadows_argument, rng.normal(size=3), n)


def second_loop_starts_at_first_index(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i]
    for i in range(i, x.shape[0]):
        s = s * 2 + x[i]
    return s, i


@pytest.mark.parametrize("n", [3, np.int64(3)])
def test_range_bound_reads_loop_variable_of_previous_loop(rng, n):
    check(second_loop_starts_at_first_index, rng.normal(size=6), n)


def for_else(x, n):
    s = 0.0
    for i in range(n):
        s += x[i]
    else:
        s = s * 10
    return s


def while_else(x, n):
    k = 0
    while k < n:
        x = x + k
        k += 1
    else:
        k = k * 3
    return x, k


@pytest.mark.parametrize("n", [0, 3, np.int64(0), np.int64(3)])
def test_loop_else_clause(rng, n):
    check(for_else, rng.normal(size=4), n)
    check(while_else, rng.normal(size=4), n)


def negative_traced_index(x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.5 + x[i - n]
    return s


@pytest.mark.parametrize("n", [4, np.int64(4)])
def test_negative_index_computed_from_loop_index(rng, n):
    check(negative_traced_index, rng.normal(size=6), n)


def enumerate_loop(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s * 0.5 + v * i
    return s


def zip_loop(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * b
    return s


def range_len(x):
    s = 0.0
    for i in range(len(x)):
        s = s * 0.5 + x[i]
    return s


def test_other_iterables(rng):
    x = rng.normal(size=5)
    check(enumerate_loop, x)
    check(zip_loop, x, rng.normal(size=5))
    check(range_len, x)


def loop_index_from_int32_bound(x, n):
    for i in range(n):
        x = x + 1
    return i, x


def test_loop_index_from_int32_bound_is_python_int(rng):
    check(loop_index_from_int32_bound, rng.normal(size=2), np.int32(4))


def double_buffer_jacobi(u, steps):
    u = u.copy()
    v = u.copy()
    for _ in range(steps):
        for i in range(1, u.shape[0] - 1):
            v[i] = 0.5 * (u[i - 1] + u[i + 1])
        u, v = v, u
    return u, v


@pytest.mark.parametrize("steps", [0, 1, 3, np.int64(3)])
def test_double_buffer_swap_in_loop(rng, steps):
    check(double_buffer_jacobi, rng.normal(size=6), steps)


def range_over_shape(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s * 0.5 + x[i]
    return s


@pytest.mark.parametrize("size", [0, 1, 5, 50])
def test_range_over_array_shape(rng, size):
    check(range_over_shape, rng.normal(size=size))


def many_trips(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i % 7] * 1e-3
    return s


def test_many_trips_static_bound_beyond_unroll_limit(rng):
    check(many_trips, rng.normal(size=7), 5000)


def test_many_trips_traced_bound(rng):
    check(many_trips, rng.normal(size=7), np.int64(5000))


def range_traced_bound_from_data(x, counts):
    # The trip count comes from data read inside the function.
    s = 0.0
    for i in range(counts[0]):
        s += x[i]
    return s


@pytest.mark.parametrize("count", [0, 1, 4])
def test_range_bound_read_from_array(rng, count):
    check(range_traced_bound_from_data, rng.normal(size=6), np.array([count, 9]))


# ---------------------------------------------------------------------------
# Nested loops
# ---------------------------------------------------------------------------


def nested2(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s = s * 0.9 + a[i, j] * (i - 2 * j)
    return s


def nested2_triangular(a):
    # The inner bound depends on the outer (compiled) index.
    s = 0.0
    count = 0
    for i in range(a.shape[0]):
        for j in range(i):
            s = s * 0.9 + a[i, j]
            count += 1
    return s, count


def nested2_inner_start(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(i + 1, a.shape[1]):
            s = s + a[i, j] * (j - i)
    return s


def nested3(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            for k in range(a.shape[2]):
                s = s * 0.95 + a[i, j, k] * (i + 2 * j - k)
    return s


def nested3_traced_bounds(a, n, m, p):
    out = a.copy()
    for i in range(n):
        for j in range(m):
            for k in range(p):
                out[i, j, k] = out[i, j, k] * 2 + i * 100 + j * 10 + k
    return out


@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (3, 4), (5, 2)])
def test_nested2(rng, shape):
    a = rng.normal(size=shape)
    check(nested2, a)
    check(nested2_inner_start, a)


@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (6, 6)])
def test_nested2_triangular(rng, shape):
    check(nested2_triangular, rng.normal(size=shape))


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 3, 4), (3, 1, 2)])
def test_nested3(rng, shape):
    check(nested3, rng.normal(size=shape))


@pytest.mark.parametrize("kind", ["static", "np.int64"])
@pytest.mark.parametrize("nmp", [(0, 2, 2), (2, 3, 4), (2, 0, 1), (1, 1, 1)])
def test_nested3_traced_bounds(rng, nmp, kind):
    bounds, options = _bounds(kind, *nmp)
    check(nested3_traced_bounds, rng.normal(size=(2, 3, 4)), *bounds, **options)


# ---------------------------------------------------------------------------
# while
# ---------------------------------------------------------------------------


def while_traced_condition(x, limit):
    s = 0.0
    k = 0
    while s < limit:
        s += x[k % x.shape[0]]
        k += 1
    return s, k


@pytest.mark.parametrize("limit", [-1.0, 0.0, 0.5, 3.0, 40.0])
def test_while_traced_condition(rng, limit):
    x = rng.uniform(0.1, 1.0, size=5)
    check(while_traced_condition, x, limit)


def while_counting(x, n):
    i = 0
    s = 0.0
    while i < n:
        s = s * 0.5 + x[i]
        i += 1
    return s, i


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("n", [0, 1, 6])
def test_while_counting(rng, n, kind):
    bounds, options = _bounds(kind, n)
    check(while_counting, rng.normal(size=6), *bounds, **options)


def while_counting_down(x, n):
    out = x.copy()
    while n > 0:
        n -= 1
        out[n] = out[n] * 2 + n
    return out, n


@pytest.mark.parametrize("kind", ["static", "np.int64"])
@pytest.mark.parametrize("n", [0, 1, 4])
def test_while_counting_down_mutates_parameter(rng, n, kind):
    bounds, options = _bounds(kind, n)
    check(while_counting_down, rng.normal(size=4), *bounds, **options)


def while_zero_trip(x):
    s = x[0]
    while s > 1e9:
        s = s - 1.0
    return s


def test_while_zero_trip(rng):
    check(while_zero_trip, rng.normal(size=3))


def while_over_array(x):
    k = 0
    s = 0.0
    while k < x.shape[0]:
        s = s * 0.5 + x[k]
        k += 1
    return s, k


@pytest.mark.parametrize("size", [1, 5])
def test_while_over_array(rng, size):
    check(while_over_array, rng.normal(size=size))


def test_while_zero_trip_over_empty_array():
    check(while_over_array, np.zeros(0))


def while_condition_on_array_element(x):
    a = x.copy()
    k = 0
    while a[0] < 10.0:
        a[0] = a[0] * 2 + 1
        a[1] += 1
        k += 1
    return a, k


@pytest.mark.parametrize("first", [0.5, 20.0])
def test_while_condition_reads_written_array(rng, first):
    x = rng.normal(size=3)
    x[0] = first
    check(while_condition_on_array_element, x)


def while_collatz(n):
    steps = 0
    while n != 1:
        if n % 2 == 0:
            n = n // 2
        else:
            n = 3 * n + 1
        steps += 1
    return n, steps


@pytest.mark.parametrize("n", [1, 6, 27])
def test_while_collatz(n):
    check(while_collatz, n)  # static: runs as Python
    check(while_collatz, np.int64(n))  # traced condition and branch


def while_in_for(x, limit):
    counts = np.zeros(x.shape[0], dtype=int)
    for i in range(x.shape[0]):
        v = x[i]
        while v < limit:
            v = v * 2.0
            counts[i] += 1
    return counts


def test_while_nested_in_for(rng):
    check(while_in_for, rng.uniform(0.01, 2.0, size=6), 3.0)


def while_in_for_uses_index(x):
    total = 0
    for i in range(x.shape[0]):
        j = 0
        while j < i:
            total += j * i
            j += 1
    return total


@pytest.mark.parametrize("size", [0, 1, 5])
def test_while_bounded_by_for_index(rng, size):
    check(while_in_for_uses_index, rng.normal(size=size))


def for_in_while(x, limit):
    s = 0.0
    rounds = 0
    while s < limit:
        for i in range(x.shape[0]):
            s = s + x[i]
        rounds += 1
    return s, rounds


@pytest.mark.parametrize("limit", [0.0, 1.0, 10.0])
def test_for_nested_in_while(rng, limit):
    check(for_in_while, rng.uniform(0.1, 1.0, size=4), limit)


def nested_while(n, m):
    i = 0
    total = 0
    while i < n:
        j = 0
        while j < m:
            total += i * m + j
            j += 1
        i += 1
    return total, i


@pytest.mark.parametrize("n,m", [(0, 3), (3, 0), (3, 4)])
def test_nested_while(n, m):
    check(nested_while, n, m)
    check(nested_while, np.int64(n), np.int64(m))


def counted_from_traced_start(x, start, stop):
    # A run-time-length unit-step range: the compiled loop counts from `start` and uses
    # its counter as `i` (as lax.fori_loop(start, stop) does).
    total = 0.0
    last = -100
    for i in range(start, stop):
        total = total * 0.5 + x[i] * (i + 1)
        last = i
        if total > 50.0:
            break
    return total, last


@pytest.mark.parametrize("start, stop", [(0, 6), (2, 5), (-3, 2), (4, 4), (5, 1), (-6, -1)])
def test_run_time_range_counts_from_its_start(rng, start, stop):
    x = rng.uniform(1.0, 3.0, size=6)
    check(counted_from_traced_start, x, np.int64(start), np.int64(stop))
    check(counted_from_traced_start, x, start, np.int64(stop))


def while_writes_argument(x, y):
    # Found by the program generator: the loop's carried array is the caller's.
    k = 0
    while k < 1 and y[0] < 0.5:
        k += 1
        x[k % 1] += 0.5
    return k


def while_test_reads_written_array(a, key):
    j = a.shape[0] - 1
    while j >= 0 and a[j] > key:
        a[j] = a[j] * 0.5
        j -= 1
    return j


def while_weak_scalar(x):
    total = 0.0  # a Python float: float32 arithmetic keeps float32, as in NumPy
    k = 0
    while total < 3.0 and k < x.shape[0]:
        total = total + x[k]
        k += 1
    return total, k


def while_in_traced_branch(x, flag):
    k = 0
    s = 0.0
    if flag > 0:
        while s < 2.0 and k < x.shape[0]:
            s += x[k]
            k += 1
    return s, k


def test_while_carries_what_its_test_reads(rng):
    """The test is computed in the while_loop's cond_fun from the carried variables
    (`_carried_while`); it must see the body's writes, including array elements."""
    check(while_writes_argument, np.zeros(1), np.zeros(1), static_scalars=False)
    check(while_writes_argument, np.zeros(1), np.ones(1), static_scalars=False)
    for key in (-5.0, 0.0, 5.0):
        check(while_test_reads_written_array, rng.normal(size=6), key)
    check(while_weak_scalar, rng.uniform(0.5, 1.0, size=8).astype(np.float32))
    check(while_weak_scalar, rng.uniform(0.5, 1.0, size=8))
    for flag in (0.0, 1.0):
        check(while_in_traced_branch, rng.uniform(0.3, 1.0, size=8), flag)
    check_vmap(while_test_reads_written_array, rng.normal(size=(4, 6)), 0.0)
    jaxpr = str(refscript.make_jaxpr(while_test_reads_written_array)(rng.normal(size=6), 0.0))
    cond = jaxpr.split("cond_jaxpr=")[1].split("cond_nconsts")[0]
    assert " gt " in cond, "the test (a[j] > key) belongs in cond_fun"


# ---------------------------------------------------------------------------
# while loops whose test reads a variable the body scales: unrolled while Python
# ---------------------------------------------------------------------------


def halving_sum(x, n):
    total = 0.0
    while n > 0:
        total = total * 0.5 + x[n % x.shape[0]]
        n //= 2
    return total, n


def shifting_bits(x):
    bits = np.zeros(8, dtype=int)
    bit = 1 << 7
    k = 0
    while bit:
        bits[k] = bit
        x = x * 2.0 + bit
        bit >>= 1
        k += 1
    return bits, x


def scaled_by_assignment(x):
    step = x.shape[0]
    count = 0
    while step > 1:
        x[:step] += 1.0
        step = step // 2
        count = count + 1
    return count


def long_doubling(x):
    v = 1.0
    count = 0
    while v < 2.0 ** 100:
        v *= 2.0
        count += 1
        x = x * 0.5 + count
    return v, count, x


def traced_scale(scale):
    v = 1.0
    count = 0
    while v < 100.0:
        v *= scale
        count += 1
    return v, count


def _while_loops(jitted, *args):
    text = str(refscript.make_jaxpr(jitted)(*args))
    return text.count("while[")


@pytest.mark.parametrize("size", [1, 2, 5, 16])
def test_while_scaling_python_int_unrolls(rng, size):
    x = narrowed(rng.normal(size=size))
    check(doubling_scan, x)
    jitted = refscript.jit(doubling_scan)
    jitted(x.copy())
    assert _while_loops(jitted, x) == 0, "the doubling loop should be unrolled, each step with static slices"
    assert jitted.masked_slices == [] and jitted.run_time_loops == []
    if size > 1:
        assert [why for _, why in jitted.unrolled_loops] == [
            "its test reads a variable the body scales (logarithmically many iterations)"]


@pytest.mark.parametrize("n", [0, 1, 6, 1000])
def test_while_halving_static_unrolls_traced_compiles(rng, n):
    x = narrowed(rng.normal(size=7))
    check(halving_sum, x, n)
    assert _while_loops(refscript.jit(halving_sum), x, n) == 0
    check(halving_sum, x, n, static_scalars=False)
    traced = refscript.jit(halving_sum, static_scalars=False)
    if n:
        assert _while_loops(traced, x, n) == 1, "a traced test compiles to a while_loop"
        traced(x.copy(), n)
        assert traced.unrolled_loops == [], "no iteration ran unrolled: show must not say it did"


def test_while_shifting_and_assigned_scaling(rng):
    check(shifting_bits, 0.25)
    x = narrowed(rng.normal(size=9))
    check(scaled_by_assignment, x)
    assert _while_loops(refscript.jit(scaled_by_assignment), x) == 0


def test_while_scaling_past_the_unroll_limit_compiles_the_rest(rng):
    from refscript.runtime import control_flow

    x = rng.normal(size=3)
    v, count, _ = check(long_doubling, x)
    assert count == 100 > control_flow.GEOMETRIC_UNROLL
    assert _while_loops(refscript.jit(long_doubling), x) == 1, "the iterations past the limit run in one compiled loop"


@pytest.mark.parametrize("scale", [1.5, 3.0, 200.0])
def test_while_scaling_by_traced_value_compiles_after_first_iteration(scale):
    check(traced_scale, scale)
    assert _while_loops(refscript.jit(traced_scale), scale) == 1


def test_while_scaling_gradient(rng):
    x = rng.normal(size=6)
    check_grad(lambda v: jnp.sum(doubling_scan(v) * jnp.arange(6.0)), x)


# The finite differences are taken of the compiled function itself: in 32-bit mode it would be
# given float64 arrays (a PrecisionWarning) and compute in float32.
@pytest.mark.x64_only
def test_while_scaling_gradient_of_a_compiled_function(rng):
    x = rng.normal(size=6)
    check_grad(refscript.jit(lambda v: doubling_scan(v) @ np.arange(6.0)), x)


def test_while_scaling_vmap(rng):
    rng.normal(size=6)  # the gradient test's x: the batch is the same as when both were one test
    check_vmap(doubling_scan, rng.normal(size=(3, 6)))


def test_while_not_scaling_is_not_flagged():
    from refscript import converted_source

    def counting(x, n):
        k = 1
        while k < n:
            k += 1
        return k

    def reset(x, n):
        k = 1
        while k < n:
            k *= 2
            if x > 0:
                k = n
        return k

    def scaled(x, n):
        k = 1
        while k < n:
            k = 3 * k
        return k

    assert "geometric" not in converted_source(counting)
    assert "geometric" not in converted_source(reset)
    assert "geometric=True" in converted_source(scaled)


# ---------------------------------------------------------------------------
# Loops whose body needs the index as a Python value
# ---------------------------------------------------------------------------


def python_list_of_arrays(x, ws):
    y = x
    for k in range(3):
        y = y * ws[k] + k
    return y


def test_range_indexing_python_list_of_arrays(rng):
    ws = [rng.normal(size=4) for _ in range(3)]
    check(python_list_of_arrays, rng.normal(size=4), ws)


def test_range_indexing_python_tuple_of_arrays(rng):
    ws = tuple(rng.normal(size=4) for _ in range(3))
    check(python_list_of_arrays, rng.normal(size=4), ws)


def python_shape_index(x):
    total = 0
    s = 0.0
    for k in range(x.ndim):
        total += x.shape[k]
        s = s + x.sum(axis=k).sum() * (k + 1)
    return total, s


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_range_indexing_shape(rng, shape):
    check(python_shape_index, rng.normal(size=shape))


def python_local_list(x):
    scales = [1.0, -2.0, 0.5]
    names = (3, 1, 2)
    out = x.copy()
    for k in range(len(scales)):
        out[names[k]] = out[names[k]] * scales[k]
    return out


def test_range_indexing_local_python_list(rng):
    check(python_local_list, rng.normal(size=5))


def python_list_append_static_range(x):
    parts = []
    for k in refscript.static_range(3):
        parts.append(x * k)
    return parts[0] + parts[1] + parts[2]


def test_loop_building_python_list_with_static_range(rng):
    # docs/supported.md ("Sharp bits"): Python side effects such as list.append in a
    # compiled loop run once; static_range gives Python semantics.
    check(python_list_append_static_range, rng.normal(size=4))


def for_over_array_rows(a):
    s = 0.0
    for row in a:
        s = s * 0.5 + row.sum()
    return s


@pytest.mark.parametrize("shape", [(1, 3), (4, 3)])
def test_for_over_array_rows(rng, shape):
    check(for_over_array_rows, rng.normal(size=shape))


# ---------------------------------------------------------------------------
# refscript.static_range
# ---------------------------------------------------------------------------


def static_range_sum(x, n):
    s = 0.0
    for i in refscript.static_range(n):
        s = s * 0.5 + x[i] * (i + 1)
    return s, i


def static_range_step(x):
    out = x.copy()
    for i in refscript.static_range(x.shape[0] - 1, -1, -2):
        out[i] = out[i] + out[(i + 1) % x.shape[0]]
    return out


def static_range_python_index(x, ws):
    y = x
    for k in refscript.static_range(len(ws)):
        y = y @ ws[k]
    return y


def _has_loop_primitive(jaxpr) -> bool:
    text = str(jaxpr)
    return "while[" in text or "scan[" in text or "while_loop" in text


@pytest.mark.parametrize("n", [1, 3, 6])
def test_static_range_unrolls(rng, n):
    x = rng.normal(size=6)
    check(static_range_sum, x, n)
    assert not _has_loop_primitive(refscript.make_jaxpr(static_range_sum)(x, n))


def test_plain_range_compiles_a_loop(rng):
    # Counterpart of the test above: the same loop with `range` is not unrolled.
    x = rng.normal(size=6)
    assert _has_loop_primitive(refscript.make_jaxpr(range_stop_sum)(x, 6))


@pytest.mark.parametrize("size", [1, 4, 5])
def test_static_range_negative_step(rng, size):
    check(static_range_step, rng.normal(size=size))


def test_static_range_python_index(rng):
    ws = [rng.normal(size=(3, 3)) for _ in range(4)]
    check(static_range_python_index, rng.normal(size=3), ws, rtol=1e-10)


# ---------------------------------------------------------------------------
# float32 stays float32
# ---------------------------------------------------------------------------


def f32_prefix_sum(x, n):
    out = x.copy()
    for i in range(1, n):
        out[i] = out[i] + out[i - 1] * 0.5
    return out


def f32_int_literal_accumulator(x):
    # `total = 0` (a Python int) plus float32 elements is float32 in NumPy.
    total = 0
    for i in range(x.shape[0]):
        total += x[i] * i
    return total


def f32_float_literal_accumulator_for(x):
    # `total = 0.0` (a Python float, weakly typed) plus float32 elements is float32 in NumPy.
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i]
    return total


def f32_float_literal_accumulator_while(x):
    total = 0.0
    k = 0
    while k < x.shape[0]:
        total = total + x[k] * 2.0
        k += 1
    return total


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_float32_prefix_sum_stays_float32(rng, kind):
    bounds, options = _bounds(kind, 6)
    got = check(f32_prefix_sum, rng.normal(size=7).astype(np.float32), *bounds, rtol=1e-5, **options)
    assert np.asarray(got).dtype == np.float32


def test_float32_int_literal_accumulator_stays_float32(rng):
    got = check(f32_int_literal_accumulator, rng.normal(size=7).astype(np.float32), rtol=1e-5)
    assert np.asarray(got).dtype == np.float32


@pytest.mark.parametrize("fn", [f32_float_literal_accumulator_for, f32_float_literal_accumulator_while])
def test_float32_float_literal_accumulator_stays_float32(rng, fn):
    check(fn, rng.normal(size=7).astype(np.float32), rtol=1e-5)
