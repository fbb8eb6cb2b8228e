"""`refscript.jit(vectorize=True)`: independent `range` loops run as wide array operations.

Plain Python is the oracle for values, dtypes and mutated arrays, `jax.grad` is
checked against finite differences and `jax.vmap` against a Python loop. Every
test also checks the lowering decision, so that a loop silently left sequential
(which gives the same numbers) fails it.
"""

import atexit
import hashlib
import pathlib
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import refscript
from refscript.api import lowering_decisions
from tests import oracle
from tests.modules import import_source
from tests.oracle import check, check_grad, check_vmap

VECTORISED = "loop vectorised automatically"
SEQUENTIAL = "loop kept sequential"


def _decisions(fn, *args, **options):
    return [what for _, what in lowering_decisions(refscript.jit(fn, vectorize=True, **options), *args)]


def _loops_in(fn, *args, **options) -> int:
    text = str(refscript.api.make_jaxpr(fn, discharged=True, vectorize=True, **options)(*args))
    return text.count("scan[") + text.count("while[")


def axpy(a, x, y):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = a * x[i] + y[i] + 1.0
    return out


def smooth(x):
    y = x.copy()
    for i in range(1, x.shape[0] - 1):
        y[i] = (x[i - 1] + x[i] + x[i + 1]) / 3.0
    return y


def jacobi_sweeps(a, steps):
    n = a.shape[0]
    b = a.copy()
    for t in range(steps):  # each sweep reads the last: sequential
        for i in range(1, n - 1):
            b[i] = 0.5 * (a[i - 1] + a[i + 1])
        for i in range(1, n - 1):
            a[i] = b[i]
    return a


def scale_grid(a, b):
    c = np.zeros_like(a)
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            c[i, j] = a[i, j] * b[i, j] + 1.0
    return c


def matvec(m, x):
    y = np.zeros(m.shape[0])
    for i in range(m.shape[0]):
        s = 0.0  # private to each row: the rows are independent, the sum over j is not
        for j in range(m.shape[1]):
            s += m[i, j] * x[j]
        y[i] = s
    return y


def rows_then_while(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        k = 0
        while k < 3:
            out[i] += x[i] * k
            k += 1
    return out


def with_temporary(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        t = x[i] * x[i]
        out[i] = t + np.sin(t)
    return out


def reversed_copy(x):
    out = np.zeros_like(x)
    n = x.shape[0]
    for i in range(n):
        out[n - 1 - i] = x[i]
    return out


def in_place_scale(x):
    for i in range(x.shape[0]):
        x[i] = 2 * x[i] + 1
    return x


def squares(n):
    out = np.zeros(n, dtype=int)
    for i in range(n):
        out[i] = i * i
    return out


@pytest.mark.parametrize("fn, make_args, loops", [
    (axpy, lambda r: (2.5, r.standard_normal(11), r.standard_normal(11)), 1),
    (smooth, lambda r: (r.standard_normal(12),), 1),
    (scale_grid, lambda r: (r.standard_normal((5, 6)), r.standard_normal((5, 6))), 2),
    (matvec, lambda r: (r.standard_normal((4, 7)), r.standard_normal(7)), 1),
    (with_temporary, lambda r: (r.standard_normal(9),), 1),
    (reversed_copy, lambda r: (r.standard_normal(8),), 1),
    (in_place_scale, lambda r: (r.standard_normal(6),), 1),
    (squares, lambda r: (7,), 1),
])
def test_independent_loops_are_vectorised(rng, fn, make_args, loops):
    args = make_args(rng)
    check(fn, *args, vectorize=True)
    decisions = _decisions(fn, *args)
    assert sum(what.startswith(VECTORISED) for what in decisions) == loops, decisions
    assert not any(what.startswith(SEQUENTIAL) for what in decisions), decisions


def test_vectorised_code_has_no_loop_left(rng):
    a, b = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    assert _loops_in(scale_grid, a, b) == 0
    assert _loops_in(smooth, a[0]) == 0
    # The inner sum over j stays a loop, run once for all rows.
    assert _loops_in(matvec, a, b[0]) == 1


def test_dependent_loop_stays_sequential_inside(rng):
    a = rng.standard_normal(10)
    check(jacobi_sweeps, a, 4, vectorize=True)
    decisions = _decisions(jacobi_sweeps, a, 4)
    assert sum(what.startswith(VECTORISED) for what in decisions) == 2, decisions
    assert _loops_in(jacobi_sweeps, a, 4) == 1  # the sweeps


def prefix_sum(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[i] = out[i - 1] + x[i]
    return out


def total(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]  # a reduction: vectorised, it would add in another order
    return s


def last_index_after(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] + 1
    return out, i


def early_exit(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] < -10:
            break
        out[i] = x[i]
    return out


@pytest.mark.parametrize("fn, make_args", [
    (prefix_sum, lambda r: (r.standard_normal(8),)),
    (total, lambda r: (r.standard_normal(8),)),
    (last_index_after, lambda r: (r.standard_normal(8),)),
    (early_exit, lambda r: (r.standard_normal(8),)),
    # Independent rows, but a `while` inside: vectorised, every row would run it as long as
    # the longest row does.
    (rows_then_while, lambda r: (r.standard_normal(5),)),
])
def test_loops_left_sequential_are_converted_as_written(rng, fn, make_args):
    args = make_args(rng)
    check(fn, *args, vectorize=True)
    assert not any(VECTORISED in what for what in _decisions(fn, *args))
    # Converted exactly as without vectorize=True.
    assert refscript.converted_source(refscript.jit(fn, vectorize=True)) == refscript.converted_source(fn)


def absolute(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0:
            out[i] = x[i]
        else:
            out[i] = -x[i]
    return out


def first_n(x, n):
    out = np.zeros_like(x)
    for i in range(n):
        out[i] = 2 * x[i]
    return out


def shifted(x, k):
    out = np.zeros(x.shape[0] + 4)
    for i in range(x.shape[0]):
        out[i + k] = x[i]
    return out


def test_traced_branch_keeps_the_loop_sequential(rng):
    x = rng.standard_normal(9)
    check(absolute, x, vectorize=True)
    decisions = _decisions(absolute, x)
    assert any(what.startswith(SEQUENTIAL) and "branches on a traced value" in what for what in decisions), decisions
    assert not any(what.startswith(VECTORISED) for what in decisions)


def test_traced_trip_count_keeps_the_loop_sequential(rng):
    x = rng.standard_normal(9)
    check(first_n, x, 5, vectorize=True, static_scalars=False)
    decisions = _decisions(first_n, x, 5, static_scalars=False)
    assert any(what.startswith(SEQUENTIAL) and "trip count is a traced value" in what for what in decisions)
    check(first_n, x, 5, vectorize=True)  # static n: vectorised
    assert any(what.startswith(VECTORISED) for what in _decisions(first_n, x, 5))


def test_traced_written_index_keeps_the_loop_sequential(rng):
    x = rng.standard_normal(6)
    check(shifted, x, 2, vectorize=True, static_scalars=False)
    decisions = _decisions(shifted, x, 2, static_scalars=False)
    assert any(what.startswith(SEQUENTIAL) and "depends on a traced value" in what for what in decisions), decisions


def halvings(v):
    k = 0
    while v > 1.0:  # traced: a `while` with a run-time trip count
        v = v / 2
        k += 1
    return k


def rows_call_a_while(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = halvings(abs(x[i]) * 40.0)
    return out


def rows_define_a_while(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        def halve(v):
            while v > 1.0:
                v = v / 2
            return v
        out[i] = halve(abs(x[i]) * 40.0)
    return out


@pytest.mark.parametrize("fn", [rows_call_a_while, rows_define_a_while])
def test_a_while_in_a_called_or_defined_function_keeps_the_loop_sequential(rng, fn):
    # The converter sees no `while` in the loop; the traced body has one, and vectorised every
    # row would run it as long as the longest row.
    x = rng.standard_normal(6)
    check(fn, x, vectorize=True)
    decisions = _decisions(fn, x)
    assert any(what.startswith(SEQUENTIAL) and "trip count depends on the iteration" in what
               for what in decisions), decisions
    assert not any(what.startswith(VECTORISED) for what in decisions)
    assert "automatic=True" in refscript.converted_source(refscript.jit(fn, vectorize=True))


def rows_of_traced_length(m, n):
    out = np.zeros(m.shape[0])
    for i in range(m.shape[0]):
        for j in range(n):  # n traced: a while_loop, the same number of steps for every row
            out[i] += m[i, j] * j
    return out


def test_an_inner_loop_of_traced_length_the_same_for_every_iteration_is_vectorised(rng):
    m = rng.standard_normal((5, 6))
    check(rows_of_traced_length, m, 4, vectorize=True, static_scalars=False)
    decisions = _decisions(rows_of_traced_length, m, 4, static_scalars=False)
    assert any(what.startswith(VECTORISED) for what in decisions), decisions
    jaxpr = str(jax.make_jaxpr(refscript.jit(rows_of_traced_length, vectorize=True, static_scalars=False))(m, 4))
    assert "while[" in jaxpr


def test_without_vectorize_loops_stay_sequential(rng):
    x, y = rng.standard_normal(11), rng.standard_normal(11)
    decisions = [what for _, what in lowering_decisions(refscript.jit(axpy), 2.0, x, y)]
    assert not any(VECTORISED in what for what in decisions)
    assert "parallel_for" not in refscript.converted_source(axpy)
    assert "automatic=True" in refscript.converted_source(refscript.jit(axpy, vectorize=True))


def loss(x):
    return (with_temporary(x) * smooth(x)).sum()


def test_grad_against_finite_differences(rng):
    x = rng.standard_normal(8)
    check_grad(loss, x, vectorize=True)
    assert sum(what.startswith(VECTORISED) for what in _decisions(loss, x)) == 2


def grid_loss(a, b):
    return (scale_grid(a, b) ** 2).sum() + (reversed_copy(a[0]) * b[1]).sum()


def test_grad_equals_the_sequential_lowering(rng):
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    vectorised = jax.grad(refscript.jit(grid_loss, vectorize=True))(jnp.asarray(a), jnp.asarray(b))
    sequential = jax.grad(refscript.jit(grid_loss))(jnp.asarray(a), jnp.asarray(b))
    rtol, atol = oracle.tolerances(1e-12, 0.0)
    np.testing.assert_allclose(np.asarray(vectorised), np.asarray(sequential), rtol=rtol, atol=atol)
    check_grad(grid_loss, a, b, vectorize=True)
    assert sum(what.startswith(VECTORISED) for what in _decisions(grid_loss, a, b)) == 3


def test_vmap_against_python_loop(rng):
    check_vmap(smooth, rng.standard_normal((3, 10)), vectorize=True)
    check_vmap(scale_grid, rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)), vectorize=True)
    check_vmap(lambda x: axpy(1.5, x, x), rng.standard_normal((5, 7)), vectorize=True)


def helper_map(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * 3.0
    return out


def calls_helper(x):
    y = helper_map(x)
    return y + 1


def test_called_functions_are_vectorised_too(rng):
    x = rng.standard_normal(7)
    check(calls_helper, x, vectorize=True)
    assert any(what.startswith(VECTORISED) for what in _decisions(calls_helper, x))
    # The same helper, called from code compiled without vectorize, stays sequential.
    decisions = [what for _, what in lowering_decisions(refscript.jit(calls_helper), x)]
    assert not any(VECTORISED in what for what in decisions)


def test_show_reports_the_decision(rng):
    x = rng.standard_normal(12)
    text = refscript.show(refscript.jit(smooth, vectorize=True), x, stage="converted")
    assert "rs.parallel_for(" in text and "automatic=True" in text
    jitted = refscript.jit(smooth, vectorize=True)
    (location, what), = lowering_decisions(jitted, x)
    assert what == "loop vectorised automatically over 10 iterations (they are independent), writes y"
    assert location.lineno == smooth.__code__.co_firstlineno + 2


# Generated independent loops: every one must be vectorised, and agree with Python.

N = 12
_GENERATED = pathlib.Path(tempfile.mkdtemp(prefix="refscript_vectorize_"))  # their modules
atexit.register(shutil.rmtree, _GENERATED, ignore_errors=True)
_SETTINGS = {"deadline": None, "derandomize": True, "database": None,
             "suppress_health_check": [HealthCheck.too_slow]}


def _expressions(temporary: bool):
    reads = ["a[i]", "a[i - 1]", "a[i + 2]", "b[i]", "b[i - 2]", "c", "1.5", "i"]
    leaves = st.sampled_from(reads + (["t"] * 3 if temporary else []))
    return st.recursive(leaves, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        st.tuples(st.sampled_from(["np.sin", "np.cos", "np.tanh"]), inner).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"max({p[0]}, {p[1]})"),
    ), max_leaves=5)


@st.composite
def independent_loops(draw):
    """The source of `f(a, b, c)`: one `range` loop whose iteration `i` writes its own elements."""
    start, stop, step = draw(st.sampled_from([2, 3])), draw(st.sampled_from([N - 2, N - 3])), draw(st.sampled_from([1, 2]))
    owned = draw(st.sampled_from(["i", "i + 1", "2 * i", f"{2 * N - 1} - i"]))
    temporary = draw(st.booleans())
    lines = []
    if temporary:
        lines.append(f"t = {draw(_expressions(False))}")
    lines.append(f"out[{owned}] = {draw(_expressions(temporary))}")
    if draw(st.booleans()):
        lines.append(f"out[{owned}] += {draw(_expressions(temporary))}")  # reads its own element
    if draw(st.booleans()):
        lines.append(f"w[i] = out[{owned}] * {draw(_expressions(temporary))}")
    body = "\n".join("        " + line for line in lines)
    return (
        "import numpy as np\n\n\n"
        "def f(a, b, c):\n"
        f"    out = np.zeros({2 * N})\n"
        "    w = a.copy()\n"
        f"    for i in range({start}, {stop}, {step}):\n{body}\n"
        "    return out, w\n\n\n"
        "def g(a, b, c):\n"
        "    out, w = f(a, b, c)\n"
        f"    return (np.sin(out) * np.arange(1.0, {2 * N + 1})).sum() + (w * w * np.arange(1.0, {N + 1})).sum()\n"
    )


def _load(source):
    name = "vectorize_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    return import_source(source, _GENERATED / f"{name}.py")


def _arguments(source):
    r = np.random.default_rng(int(hashlib.sha1(source.encode()).hexdigest()[:8], 16))
    return r.standard_normal(N) * 0.5, r.standard_normal(N) * 0.5, float(r.uniform(-1, 1))


@settings(max_examples=40, **_SETTINGS)
@given(source=independent_loops())
def test_generated_independent_loops_match_python(source):
    module = _load(source)
    args = _arguments(source)
    check(module.f, *args, vectorize=True, rtol=1e-10, atol=1e-12)
    decisions = _decisions(module.f, *args)
    assert len(decisions) == 1 and decisions[0].startswith(VECTORISED), (source, decisions)


@settings(max_examples=15, **_SETTINGS)
@given(source=independent_loops())
def test_generated_independent_loops_gradients(source):
    module = _load(source)
    a, b, c = _arguments(source)
    check_grad(module.g, a, b, c, vectorize=True, rtol=1e-5, atol=1e-7)
    assert any(what.startswith(VECTORISED) for what in _decisions(module.g, a, b, c)), source


@settings(max_examples=15, **_SETTINGS)
@given(source=independent_loops())
def test_generated_independent_loops_under_vmap(source):
    module = _load(source)
    a, b, c = _arguments(source)
    batch = np.stack([a, b, a * b])
    check_vmap(module.f, batch, b, c, vectorize=True, rtol=1e-10, atol=1e-12)


def asserted(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        assert x[i] > -100, "too small"
        out[i] = x[i] * 2
    return out


def test_checks_run_in_vectorised_loops(rng):
    x = oracle.narrowed(rng.standard_normal(6))
    check(asserted, x, vectorize=True, checks=True)
    jitted = refscript.jit(asserted, vectorize=True, checks=True)
    assert any(what.startswith(VECTORISED) for _, what in lowering_decisions(jitted, x))
    with pytest.raises(refscript.errors.CheckFailedError, match="too small"):
        jitted(x - 1000)


def rows_of_prange(a):
    c = np.zeros_like(a)
    for i in range(a.shape[0]):
        for j in refscript.prange(a.shape[1]):
            c[i, j] = a[i, j] + 1
    return c


def test_range_loop_around_a_prange(rng):
    a = rng.standard_normal((3, 4))
    check(rows_of_prange, a, vectorize=True)
    decisions = _decisions(rows_of_prange, a)
    assert decisions[0].startswith(VECTORISED) and decisions[1].startswith("prange vectorised"), decisions


def outer_rows(x, y):
    out = np.zeros((x.shape[0], y.shape[0]))
    for i in range(x.shape[0]):
        out[i] = np.sin(x[i] * y) + np.cos(x[i] - y)
    return out


def test_loops_whose_values_would_not_fit_stay_sequential(rng, monkeypatch):
    from refscript.runtime import parallel

    x, y = rng.standard_normal(8), rng.standard_normal(50)
    assert _decisions(outer_rows, x, y)[0].startswith(VECTORISED)
    # Each iteration makes a few rows of 50 float64 values: 8 iterations take some KiB.
    monkeypatch.setattr(parallel, "AUTOMATIC_BYTES", 1024)
    check(outer_rows, x, y, vectorize=True)
    (what,) = [what for what in _decisions(outer_rows, x, y) if "vectoris" in what or "sequential" in what]
    assert what.startswith(SEQUENTIAL) and "KiB (more than" in what and "AUTOMATIC_BYTES, 1.0 KiB" in what, what


def test_which_while_loops_vary_between_lanes():
    """`_jax_internal.runs_varying_while` and the outputs it finds varying, on `lax.while_loop`s
    whose first input varies between lanes (the iteration) and second does not."""
    from refscript import _jax_internal

    def fixed_trip_count(lane, n):  # the test reads only n: one loop for all lanes
        return jax.lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * lane), (0, 1.0))

    def lane_trip_count(lane, n):  # the test reads the lane's value
        return jax.lax.while_loop(lambda c: c[1] < lane, lambda c: (c[0] + 1, c[1] * 2.0), (0, 1.0))

    def counter_only(lane, n):  # nothing varies: the lane is not read
        return jax.lax.while_loop(lambda c: c < n, lambda c: c + 1, 0)

    cases = [(fixed_trip_count, False, [False, True]), (lane_trip_count, True, [True, True]),
             (counter_only, False, [False])]
    for fn, varying, outputs in cases:
        jaxpr = jax.make_jaxpr(fn)(2.0, 5).jaxpr
        assert _jax_internal.runs_varying_while(jaxpr, [True, False]) is varying, fn.__name__
        assert _jax_internal._varying_outputs(jaxpr, [True, False]) == outputs, fn.__name__
