"""Loops streamed element by element (refscript/runtime/streaming.py): values and gradients
as in Python and as the plain lowering, the lowering applied where its conditions hold and
not elsewhere, and a backward pass whose per-iteration work does not grow with the array."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from refscript.errors import OutOfBoundsError
from refscript.runtime import streaming
from tests.oracle import assert_tree_close, check, check_grad, check_vmap, narrowed, numerical_grad, tolerances, x64


# Kernels users write: recurrences, reads at affine offsets, accumulators.


def recurrence(b):
    a = np.zeros_like(b)
    a[0] = b[0]
    for i in range(1, b.shape[0]):
        a[i] = np.sin(a[i - 1]) + b[i]
    return a


def second_order(b):
    a = np.zeros_like(b)
    a[0] = b[0]
    a[1] = b[1]
    for i in range(2, b.shape[0]):
        a[i] = a[i - 1] + 0.5 * np.sin(a[i - 2]) + b[i]
    return a


def offsets(b):
    n = b.shape[0]
    out = np.zeros(n - 1)
    s = 0.0
    for i in range(n - 1):
        s += b[i + 1] * b[n - 1 - i]
        out[i] = s
    return out


def rows(B):
    A = np.zeros_like(B)
    A[0, :] = B[0, :]
    for i in range(1, B.shape[0]):
        A[i, :] = np.tanh(A[i - 1, :]) + B[i, :]
    return A


def columns(B):
    A = B.copy()
    for j in range(1, B.shape[1]):
        A[:, j] = A[:, j - 1] * 0.5 + B[:, j]
    return A


def diagonal(B):
    A = B.copy()
    for i in range(1, B.shape[0]):
        A[i, i] = A[i - 1, i - 1] * 0.5 + B[i, i]
    return A


def backwards(b):
    a = b.copy()
    for i in reversed(range(b.shape[0] - 1)):
        a[i] = a[i + 1] * 0.5 + b[i]
    return a


def coupled(b):
    x = b.copy()
    y = b * 2
    for i in range(1, b.shape[0]):
        x[i] = x[i - 1] + y[i - 1]
        y[i] = y[i - 1] - 0.1 * x[i]  # x[i]: written earlier in the same iteration
    return x + y


def reads_ahead(b):
    a = b.copy()
    for i in range(b.shape[0] - 1):
        a[i] = a[i + 1] * 0.5 + b[i]  # a[i + 1] is still the value before the loop
    return a


def written_twice(b):
    a = np.zeros(b.shape[0] // 2)
    for i in range(b.shape[0]):
        a[i // 2] += b[i] * b[i]  # each element written by two iterations in a row
    return a


def leapfrog(b):
    a = b.copy()
    for i in range(b.shape[0] - 1):
        a[i] = a[i] + b[i]  # a[i] was written by the iteration before (below), except a[0]
        a[i + 1] = np.cos(a[i]) * 0.5  # overwritten next iteration, except the last one
    return a


def items(b):
    out = np.zeros_like(b)
    for i, x in enumerate(b):
        out[i] = x * np.cos(x)
    return out


def in_place(a, b):
    for i in range(1, a.shape[0]):
        a[i] = a[i] + 0.5 * a[i - 1] * b[i]


STREAMED = [
    (recurrence, (12,), ("a",)),
    (second_order, (12,), ("a",)),
    (offsets, (12,), ("out",)),
    (rows, (6, 4), ("A",)),
    (columns, (4, 6), ("A",)),
    (diagonal, (5, 5), ("A",)),
    (backwards, (12,), ("a",)),
    (coupled, (12,), ("x", "y")),
    (reads_ahead, (12,), ("a",)),
    (written_twice, (12,), ("a",)),
    (leapfrog, (12,), ("a",)),
    (items, (12,), ("out",)),
]


def _data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def _loss(compiled):
    return lambda x: jnp.sum(compiled(x) ** 2)


@pytest.mark.parametrize("fn, shape, arrays", STREAMED, ids=[c[0].__name__ for c in STREAMED])
def test_streamed_values_and_gradients(fn, shape, arrays, monkeypatch):
    x = narrowed(_data(shape))
    compiled = refscript.jit(fn)
    assert_tree_close(compiled(x), fn(x.copy()))  # values and dtypes as in Python
    assert [loop.arrays for loop in compiled.streamed_loops] == [arrays]
    grad = jax.grad(_loss(compiled))(x)
    # The finite differences run in float64 whatever the mode: a float32 gradient in 32-bit
    # mode is compared with them at check_grad's tolerances.
    expected = numerical_grad(lambda v: np.sum(fn(v) ** 2), x)
    rtol, atol = (1e-6, 1e-7) if x64() else (1e-3, 1e-4)
    np.testing.assert_allclose(grad, expected, rtol=rtol, atol=atol)
    with monkeypatch.context() as m:
        m.setattr(streaming, "ENABLED", False)
        plain = refscript.jit(fn)
        plain_grad = jax.grad(_loss(plain))(x)
        assert plain.streamed_loops == []
    rtol, atol = tolerances(1e-12, 1e-14)
    np.testing.assert_allclose(grad, plain_grad, rtol=rtol, atol=atol)


def test_argument_written_in_place():
    a, b = narrowed(_data(10)), narrowed(_data(10, seed=1))
    check(in_place, a, b)
    compiled = refscript.jit(in_place, return_updates=True)
    compiled(a, b)
    assert [loop.arrays for loop in compiled.streamed_loops] == [("a",)]


def test_check_grad_of_recurrence():
    check_grad(lambda b: np.sum(recurrence(b) * np.arange(b.shape[0])), _data(9))


def test_float32():
    b = _data(50).astype(np.float32)
    got = refscript.jit(recurrence)(b)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, recurrence(b.copy()), rtol=1e-5)


def test_vmap():
    check_vmap(recurrence, _data((3, 10)))
    check_vmap(columns, _data((2, 4, 6)))


def test_forward_mode(monkeypatch):
    x = _data(10)
    compiled = refscript.jit(second_order)
    jacobian = jax.jacfwd(compiled)(x)
    monkeypatch.setattr(streaming, "ENABLED", False)
    np.testing.assert_allclose(jacobian, jax.jacfwd(refscript.jit(second_order))(x), rtol=1e-12, atol=1e-14)
    column = numerical_grad(lambda v: second_order(v)[7], x)
    np.testing.assert_allclose(jacobian[7], column, rtol=1e-6, atol=1e-8)


def test_integer_arrays_are_not_streamed():
    def counts(labels):
        seen = np.zeros(labels.shape[0], dtype=int)
        for i in range(1, labels.shape[0]):
            seen[i] = seen[i - 1] + labels[i]
        return seen

    check(counts, np.arange(8) % 3)
    compiled = refscript.jit(counts)
    compiled(narrowed(np.arange(8) % 3))
    assert compiled.streamed_loops == []  # nothing to differentiate: the plain loop


# Where the lowering must not apply: the array stays a Ref, values and gradients as before.


def data_dependent(b):
    a = np.zeros_like(b)
    for i in range(b.shape[0]):
        j = int(b[i] > 0)
        a[j] += b[i]
    return a


def changing_distance(b):
    a = b.copy()
    for i in range(b.shape[0]):
        a[i] = a[i % 3] * 0.5 + b[i]  # reads a[0] written 3, then 6, then 9 iterations before
    return a


def far_back(b):
    a = b.copy()
    for i in range(streaming.MAX_LAG + 1, b.shape[0]):
        a[i] = a[i - streaming.MAX_LAG - 1] * 0.5 + b[i]
    return a


def in_branch(b):
    a = b.copy()
    for i in range(1, b.shape[0]):
        if b[i] > 0:
            a[i] = a[i - 1] * 0.5
    return a


def whole_array(b):
    a = b.copy()
    for i in range(1, b.shape[0]):
        a[i] = a[i - 1] + np.sum(a) * 0.01
    return a


def inner_index(B):
    A = B.copy()
    for i in range(B.shape[0]):
        for j in range(1, B.shape[1]):
            A[i, j] = A[i, j - 1] * 0.5 + B[i, j]
    return A


NOT_STREAMED = [
    (data_dependent, (12,), "a"),
    (changing_distance, (12,), "a"),
    (far_back, (3 * streaming.MAX_LAG,), "a"),
    (in_branch, (12,), "a"),
    (whole_array, (12,), "a"),
    (inner_index, (4, 5), "A"),
]


@pytest.mark.parametrize("fn, shape, name", NOT_STREAMED, ids=[c[0].__name__ for c in NOT_STREAMED])
def test_not_streamed(fn, shape, name, monkeypatch):
    x = _data(shape)
    check(fn, x)
    compiled = refscript.jit(fn)
    grad = jax.grad(_loss(compiled))(x)
    assert all(name not in loop.arrays for loop in compiled.streamed_loops)
    monkeypatch.setattr(streaming, "ENABLED", False)
    np.testing.assert_allclose(grad, jax.grad(_loss(refscript.jit(fn)))(x), rtol=1e-12, atol=1e-14)


def test_reads_of_unchanged_arrays_still_gathered():
    compiled = refscript.jit(changing_distance)
    compiled(narrowed(_data(12)))
    (loop,) = compiled.streamed_loops
    assert loop.arrays == () and loop.gathered_reads == 1


def test_out_of_bounds_index_keeps_plain_lowering(monkeypatch):
    def past_the_end(b):
        a = b.copy()
        for i in range(b.shape[0]):
            a[i] = a[i + 1] * 0.5  # the last iteration reads past the end (clamped by XLA)
        return a

    b = narrowed(_data(8))
    compiled = refscript.jit(past_the_end)
    got = compiled(b)
    assert compiled.streamed_loops == []
    monkeypatch.setattr(streaming, "ENABLED", False)
    np.testing.assert_array_equal(got, refscript.jit(past_the_end)(b))
    with pytest.raises(OutOfBoundsError):
        refscript.jit(past_the_end, checks=True)(b)


def test_lowering_decisions_name_the_loop():
    decisions = refscript.api.lowering_decisions(recurrence, _data(6))
    # A recurrence through an array that no other loop encloses is streamed in plain
    # calls too (its carry holds a[i - 1], as a hand port's scan does): one decision.
    ((location, decision),) = decisions
    assert location.lineno == recurrence.__code__.co_firstlineno + 3
    assert decision.startswith("loop streamed: elements of a")


def sweeps(b, steps):
    a = b.copy()
    for t in range(steps):
        for i in range(1, a.shape[0]):
            a[i] = 0.5 * (a[i - 1] + a[i])
    return a


def elementwise(b):
    a = np.zeros_like(b)
    for i in range(b.shape[0]):
        a[i] = np.sin(b[i])
    return a


@pytest.mark.parametrize("fn, args", [(sweeps, (_data(6), 3)), (elementwise, (_data(6),))],
                         ids=["inside another loop", "no recurrence"])
def test_plain_calls_stream_only_outer_recurrences(fn, args):
    # Inside another loop a stream gathers and scatters once per outer iteration; without
    # a recurrence it carries nothing: plain calls keep the fori_loop there.
    check(fn, *args)
    decisions = [what for _, what in refscript.api.lowering_decisions(fn, *args)]
    assert any(what.startswith("loop streamed") for what in decisions)
    assert any(what.startswith("without derivatives: loop not streamed") for what in decisions)


# Scaling, without timing: the backward loop's per-iteration values are elements, not arrays.


def _largest_in_loops(jaxpr) -> int:
    """The most elements of any value computed inside a loop body of `jaxpr` (at any depth)."""
    largest = 0
    for eqn in jaxpr.eqns:
        for name, param in eqn.params.items():
            inner = getattr(param, "jaxpr", param)
            if not hasattr(inner, "eqns"):
                continue
            if eqn.primitive.name in ("scan", "while"):
                sizes = [int(np.prod(v.aval.shape)) for e in inner.eqns for v in e.outvars if hasattr(v.aval, "shape")]
                largest = max([largest, *sizes])
            largest = max(largest, _largest_in_loops(inner))
    return largest


@pytest.mark.parametrize("fn, shape", [(recurrence, (200,)), (second_order, (200,)), (rows, (200, 3))])
def test_backward_loop_works_on_elements(fn, shape, monkeypatch):
    x = jnp.asarray(_data(shape))
    grad_jaxpr = jax.make_jaxpr(jax.grad(_loss(refscript.jit(fn))))(x).jaxpr
    row = int(np.prod(shape[1:]))
    assert _largest_in_loops(grad_jaxpr) <= row
    monkeypatch.setattr(streaming, "ENABLED", False)  # the plain lowering: whole arrays per iteration
    plain = jax.make_jaxpr(jax.grad(_loss(refscript.jit(fn))))(x).jaxpr
    assert _largest_in_loops(plain) >= int(np.prod(shape))


def test_stepping_analysis_agrees_with_sorting():
    """The shortcut for accesses `c + step * k` gives what sorting all accesses gives."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        length = int(rng.integers(2, 12))
        step = int(rng.choice([1, -1, 2, -3]))
        kinds = rng.choice(["get", "swap", "addupdate"], size=int(rng.integers(1, 5)))
        accesses = [(m, str(kind), None, kind != "swap" or bool(rng.integers(2))) for m, kind in enumerate(kinds)]
        elements = [int(rng.integers(-4, 5)) + step * np.arange(length) for _ in accesses]
        assert streaming._common_step(elements) == step
        fast = streaming._sources_stepping(accesses, elements, length)
        general = streaming._sources_sorted(accesses, elements, length)
        assert general is not None
        assert fast[1].keys() == general[1].keys()
        for m in fast[1]:
            np.testing.assert_array_equal(fast[1][m], general[1][m])
        assert fast[0].keys() == general[0].keys()
        for m, (source, lag, sourced) in fast[0].items():
            np.testing.assert_array_equal(sourced, general[0][m][2])
            if sourced.any():
                assert (source, lag) == general[0][m][:2]
