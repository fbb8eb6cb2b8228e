"""Loop-invariant array elements held in a scalar across a compiled loop (plain calls,
refscript/runtime/promotion.py): every other access of the array, through other index
objects that may name the element at run time, slices and whole-array uses, sees the
element's current value, and arrays end as in Python.
"""

import re

import jax
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed, tolerances
from refscript.runtime import promotion


def matmul(a, b):
    n, m = a.shape[0], b.shape[1]
    c = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            for k in range(a.shape[1]):
                c[i, j] += a[i, k] * b[k, j]
    return c


def triangular_max(x):
    """Nussinov's shape: the element, and other elements of its row and column, which
    never name it."""
    n = x.shape[0]
    t = np.zeros((n, n))
    for i in range(n):
        t[i, i] = x[i]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            if j - 1 >= 0:
                t[i, j] = max(t[i, j], t[i, j - 1])
            for k in range(i + 1, j):
                t[i, j] = max(t[i, j], t[i, k] + t[k + 1, j])
    return t


def aliasing_reads_and_writes(x, idx):
    """Reads and writes of `acc[idx[k]]`, which names `acc[j]` when idx[k] == j (or the
    negative index of j)."""
    acc = x.copy()
    total = 0.0
    for j in range(2):
        for k in range(x.shape[0]):
            acc[j] += x[k]
            total += acc[idx[k]]
            acc[idx[k]] *= 0.5
            total += acc[j]
    return acc, total


def slices_and_whole_uses(x):
    acc = x.copy()
    s = 0.0
    for k in range(x.shape[0]):
        acc[1] += x[k]
        s += np.sum(acc[:3])  # reads the promoted element through a slice
        acc[2:4] = acc[2:4] * 0.5 + acc[1]  # a slice write after it
        acc[1] = acc[1] - 0.25 * acc[3]
        if k == 2:
            acc = acc * 0.9  # the whole array rebound in the loop: not promoted
    return acc, s


def branch_and_inner_loop(x):
    acc = np.zeros(3)
    for j in range(3):
        for k in range(x.shape[0]):
            if x[k] > 0:
                acc[j] = acc[j] + x[k]
            else:
                acc[j] -= 1.0
            for m in range(2):
                acc[j] *= 0.75  # written in a nested loop
    return acc


def while_on_element(x, limit):
    acc = np.zeros(2)
    for j in range(2):
        acc[j] = x[j]
        while acc[j] < limit:
            acc[j] += 1.5
    return acc


def negative_int_index(x):
    acc = np.zeros(4)
    for k in range(x.shape[0]):
        acc[-1] += x[k] * x[k]
        acc[0] = acc[3] + 1.0  # names the promoted element as 3
    return acc


CASES = [
    (matmul, lambda rng: (rng.normal(size=(3, 4)), rng.normal(size=(4, 2)))),
    (triangular_max, lambda rng: (rng.normal(size=6),)),
    (slices_and_whole_uses, lambda rng: (rng.normal(size=6),)),
    (branch_and_inner_loop, lambda rng: (rng.normal(size=5),)),
    (negative_int_index, lambda rng: (rng.normal(size=5),)),
]


def _promoted(fn, *args):
    jitted = refscript.jit(fn)
    jitted(*narrowed(args))
    return [what for _, what in jitted.forward_only_choices if "held in a scalar" in what]


@pytest.mark.parametrize("fn, make", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_grads_vmap(fn, make, rng):
    args = make(rng)
    check(fn, *args)
    assert _promoted(fn, *args), "the test no longer exercises promotion"

    def loss(*xs):
        # NumPy, not jax.numpy: the finite differences (plain Python) stay float64 in 32-bit mode.
        return sum(np.sum(np.asarray(r) ** 2) for r in jax.tree_util.tree_leaves(fn(*xs)))

    check_grad(loss, *args)
    first, *rest = args
    check_vmap(fn, np.stack([first, first * 0.5 - 0.25, -first]), *rest)


def test_aliasing_indices(rng):
    x = rng.normal(size=5)
    for idx in (np.array([2, 3, 4, 2, 3]), np.array([0, 1, -5, -4, 1]), np.array([1, 1, 0, -1, 0])):
        check(aliasing_reads_and_writes, x, idx)
    assert _promoted(aliasing_reads_and_writes, x, np.zeros(5, np.int64))


def test_while_loop(rng):
    check(while_on_element, rng.normal(size=2), 4.0)
    assert _promoted(while_on_element, rng.normal(size=2), 4.0)


@pytest.mark.parametrize("fn, make", CASES, ids=[c[0].__name__ for c in CASES])
def test_matches_the_unpromoted_lowering(fn, make, rng):
    args = narrowed(make(rng))
    promotion.ENABLED = False
    try:
        plain = refscript.jit(fn)(*[a.copy() for a in args])
    finally:
        promotion.ENABLED = True
    rtol, atol = tolerances(1e-7, 0.0)  # assert_allclose's own, float32's in 32-bit mode
    jax.tree_util.tree_map(lambda got, expected: np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol),
                           refscript.jit(fn)(*[a.copy() for a in args]), plain)


def _innermost_updates(fn, *args):
    """In-place updates of arrays (fusions XLA names after them) in the bodies of the
    innermost loops of the compiled primal."""
    text = jax.jit(refscript.jit(fn)).lower(*args).compile().as_text()
    computations, name = {}, None
    for line in text.splitlines():
        header = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if header:
            name = header.group(1)
            computations[name] = []
        elif name is not None and line.startswith("  "):
            computations[name].append(line)
    bodies = [re.search(r"body=%?([\w.\-]+)", line).group(1)
              for lines in computations.values() for line in lines if " while(" in line]
    innermost = [b for b in bodies if not any(" while(" in line or "to_apply=%while" in line for line in computations[b])]
    assert innermost
    return max(sum(("dynamic-update-slice" in line or "scatter" in line) and "fusion(" in line
                   or " dynamic-update-slice(" in line or " scatter(" in line for line in computations[b])
               for b in innermost)


def test_inner_loop_carries_a_scalar(rng):
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3))
    assert _innermost_updates(matmul, a, b) == 0
    promotion.ENABLED = False
    try:
        assert _innermost_updates(matmul, a, b) == 1
    finally:
        promotion.ENABLED = True


def test_show_names_the_promotion(rng):
    decisions = refscript.api.lowering_decisions(triangular_max, rng.normal(size=5))
    assert any("element of t held in a scalar across the loop" in what for _, what in decisions)


def test_an_index_below_the_element_index_needs_no_equality_test(rng, monkeypatch):
    # `t[i, k]` with k in range(i + 1, j) never names the promoted `t[i, j]`: no select.
    from refscript.runtime import bounds

    x = rng.normal(size=6)

    def selects():
        jax.clear_caches()  # trace again
        return jax.jit(refscript.jit(triangular_max)).lower(x).as_text().count("call @_where")

    proven = selects()
    monkeypatch.setattr(bounds, "apart", lambda p, q, size: False)
    assert proven < selects()
