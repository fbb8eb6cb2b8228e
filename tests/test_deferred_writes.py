"""Writes inside traced branches moved after the branch (refscript/runtime/deferred.py), and
the forward-only lowering plain calls run (triangular loops with their real trip count).

Every function is checked against plain Python (values, dtypes, arrays written), under
`jax.grad` against finite differences and under `jax.vmap` against a Python loop; the
jaxpr checks show what the lowering is for: no conditional carries a whole array.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed, numerical_grad, x64
from tests.modules import import_file


def _equations(jaxpr):
    """Every equation of `jaxpr`, in its sub-jaxprs too."""
    for eqn in jaxpr.eqns:
        yield eqn
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple) else (param,):
                inner = getattr(sub, "jaxpr", None)
                if inner is not None:
                    yield from _equations(getattr(inner, "jaxpr", inner))


def _conds_carrying(fn, args, shape):
    """The `cond` equations of the discharged jaxpr with an output of `shape`."""
    jaxpr = refscript.make_jaxpr(fn, discharged=True)(*args)
    return [eqn for eqn in _equations(jaxpr.jaxpr)
            if eqn.primitive.name == "cond" and any(tuple(v.aval.shape) == shape for v in eqn.outvars)]


def _kernel(name):
    """The function of examples/kernels/NAME.py (the kernels the examples test and benchmark)."""
    path = Path(__file__).resolve().parent.parent / "examples" / "kernels" / f"{name}.py"
    return getattr(import_file(path, f"refscript_example_{name}"), name)


# ---------------------------------------------------------------------------
# Which writes are deferred


def same_write_both_branches(a):
    n = a.shape[0]
    L = np.zeros_like(a)
    for i in range(n):
        for j in range(n):
            if i == j:
                L[i, j] = np.sqrt(a[i, j])
            else:
                L[i, j] = a[i, j] / (1.0 + a[j, j])
    return L


def one_sided_write(x):
    y = x.copy()
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            y[i] = x[i] * x[i]
    return y


def different_writes(x):
    y = np.zeros_like(x)
    z = np.ones_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            y[i] = x[i] * 2.0
            z[i - 1] += x[i]
        else:
            z[i] = -x[i]
    return y, z


def nested_branches(x):
    y = np.zeros_like(x)
    z = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            if x[i] > 1.0:
                y[i] = x[i] ** 2
            else:
                y[i] = x[i] * 3.0
            z[i] += 0.5
        else:
            y[i] = -x[i]
    return y, z


def scalar_and_array_writes(x):
    s = 0.0
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s += x[i] * x[i]
            y[i] = s
        else:
            s -= x[i]
    return s, y


def row_writes(a):
    b = a.copy()
    for i in range(a.shape[0]):
        if a[i, 0] > 0.0:
            b[i, :] = a[i, :] * 2.0
        else:
            b[i, 1:] = 0.5
    return b


def integer_table(seq):
    n = seq.shape[0]
    table = np.zeros((n, n), dtype=int)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            if seq[i] + seq[j] == 3:
                table[i, j] = table[i + 1, j - 1] + 1
            else:
                table[i, j] = max(table[i + 1, j], table[i, j - 1])
    return table


def _positive_matrix(rng, n=5):
    m = rng.normal(size=(n, n))
    return m @ m.T + n * np.eye(n)


@pytest.mark.parametrize("fn", [one_sided_write, different_writes, nested_branches, scalar_and_array_writes])
def test_vector_values_grads_vmap(fn, rng):
    x = rng.normal(size=7) + np.where(np.arange(7) % 2, 0.9, -0.9)
    check(fn, x)
    # NumPy, not jax.numpy, in the losses: the finite differences (plain Python) stay float64
    # in 32-bit mode.
    check_grad(lambda v: sum(np.sum(np.asarray(r) ** 2) for r in jax.tree_util.tree_leaves(fn(v))), x)
    check_vmap(fn, rng.normal(size=(3, 7)))


def test_same_write_in_both_branches(rng):
    a = _positive_matrix(rng)
    check(same_write_both_branches, a)
    check_grad(lambda v: np.sum(same_write_both_branches(v) ** 2), a)
    check_vmap(same_write_both_branches, np.stack([_positive_matrix(rng) for _ in range(3)]))


def test_row_writes(rng):
    a = rng.normal(size=(4, 3))
    check(row_writes, a)
    check_grad(lambda v: np.sum(row_writes(v) ** 2), a)


def test_integer_table(rng):
    check(integer_table, rng.integers(0, 4, size=9))


@pytest.mark.parametrize("fn, shape", [(same_write_both_branches, (5, 5)), (one_sided_write, (7,)),
                                       (nested_branches, (7,)), (integer_table, (9, 9))])
def test_no_conditional_carries_the_array(fn, shape, rng):
    args = (_positive_matrix(rng),) if shape == (5, 5) else (
        rng.integers(0, 4, size=9) if shape == (9, 9) else rng.normal(size=7),)
    assert _conds_carrying(fn, args, shape) == []


# ---------------------------------------------------------------------------
# Branches that cannot be deferred: still right, with the plain conditional


def reads_after_write(x):
    y = x.copy()
    for i in range(1, x.shape[0]):
        if x[i] > 0.0:
            y[i] = x[i] * 2.0
            y[i - 1] = y[i] + 1.0  # reads the element just written
    return y


def nested_then_read(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            if x[i] > 1.0:
                y[i] = x[i] ** 2
            y[0] += 0.5  # reads y after the inner branch's write
    return y


def loop_in_branch(x):
    y = x.copy()
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            y[i] = 0.0
            for k in range(3):
                y[k] += x[i]
    return y


def window_write_after_write(x, k):
    y = x.copy()
    if x[0] > 0.0:
        y[0] = 5.0
        y[:k] += 1.0
    return y


def local_box_in_branch(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            t = np.zeros(2)
            for k in range(2):
                if x[k] > 0.0:
                    t[k] = x[i]
            y[i] = t[0] + t[1]
    return y


@pytest.mark.parametrize("fn", [reads_after_write, nested_then_read, loop_in_branch, local_box_in_branch])
def test_undeferrable_branches(fn, rng):
    x = rng.normal(size=6)
    check(fn, x)
    check_grad(lambda v: np.sum(fn(v) ** 2), x)
    check_vmap(fn, rng.normal(size=(3, 6)))


def test_window_write_after_write():
    x = narrowed(np.array([1.0, -2.0, 3.0, 4.0]))
    compiled = refscript.jit(window_write_after_write, static_scalars=False)
    for k in (0, 2, 4):
        np.testing.assert_allclose(compiled(x, k), window_write_after_write(x.copy(), k))


# ---------------------------------------------------------------------------
# The forward-only lowering of plain calls


forward_substitution = _kernel("forward_substitution")


def _lower_triangular(rng, n=6):
    return np.tril(rng.normal(size=(n, n))) + n * np.eye(n)


def _primitives(closed):
    return {eqn.primitive.name for eqn in _equations(closed.jaxpr)}


def test_plain_calls_run_the_real_trip_count(rng):
    L, b = _lower_triangular(rng), rng.normal(size=6)
    compiled = refscript.jit(forward_substitution)
    # What a plain call runs: the inner loop as a while loop of i iterations.
    primal = jax.make_jaxpr(compiled)(L, b)
    assert "custom_jvp_call" in _primitives(primal) and "while" in str(primal)
    # What derivatives see: the fixed-length masked loop, no while loop.
    assert "while" not in _primitives(refscript.make_jaxpr(forward_substitution, discharged=True)(L, b))
    decisions = [what for _, what in refscript.api.lowering_decisions(compiled, L, b)]
    assert any(what.startswith("without derivatives: loop runs its real trip count") for what in decisions)


def test_forward_only_primal_under_transformations(rng):
    L, b = _lower_triangular(rng), rng.normal(size=6)
    check(forward_substitution, L, b)
    check_grad(lambda v: np.sum(forward_substitution(L, v) ** 2), b)
    check_grad(lambda m: np.sum(forward_substitution(m, b) ** 2), L)
    check_vmap(lambda v: forward_substitution(L, v), rng.normal(size=(3, 6)))
    compiled = refscript.jit(forward_substitution)
    # Forward mode, and reverse mode of a vmapped call, against finite differences: those of
    # Python in float64, the compiled function on 32-bit copies in 32-bit mode (compared at
    # check_grad's tolerances there).
    rtol, atol = (1e-6, 1e-8) if x64() else (1e-3, 1e-4)
    L32 = narrowed(L)
    tangent = rng.normal(size=6)
    _, jvp = jax.jvp(lambda v: compiled(L32, v), (jnp.asarray(narrowed(b)),), (jnp.asarray(narrowed(tangent)),))
    eps = 1e-6
    expected = (forward_substitution(L, b + eps * tangent) - forward_substitution(L, b - eps * tangent)) / (2 * eps)
    np.testing.assert_allclose(jvp, expected, rtol=rtol, atol=atol)
    batch = rng.normal(size=(3, 6))
    got = jax.grad(lambda v: jnp.sum(jax.vmap(lambda r: compiled(L32, r))(v) ** 3))(narrowed(batch))
    np.testing.assert_allclose(
        got, numerical_grad(lambda v: sum(np.sum(forward_substitution(L, r.copy()) ** 3) for r in v), batch),
        rtol=rtol, atol=atol)
    # Inside an outer jax.jit that is differentiated.
    got = jax.grad(jax.jit(lambda v: jnp.sum(compiled(L32, v) ** 2)))(jnp.asarray(narrowed(b)))
    np.testing.assert_allclose(
        got, numerical_grad(lambda v: np.sum(forward_substitution(L, v.copy()) ** 2), b), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------
# Branches that only rebind variables: selected, without a conditional, in plain calls


def sqrt_branch(x):
    s = 0.0
    count = 0
    for i in range(x.shape[0]):
        if x[i] > 0:
            s += np.sqrt(x[i])  # NaN on the untaken side: must not reach values or gradients
            count += 1
        else:
            s -= x[i] * 0.5
    return s, count


bit_loop = _kernel("crc32")


def test_selected_branches_values_and_gradients(rng):
    x = rng.normal(size=8)
    check(sqrt_branch, x)
    compiled = refscript.jit(sqrt_branch)
    # The primal (what plain calls run) has no conditional; the rule (derivatives) does.
    primal = jax.make_jaxpr(compiled)(x)
    assert "custom_jvp_call" in str(primal) and "cond" not in str(primal) and "select_n" in str(primal)
    decisions = [what for _, what in refscript.api.lowering_decisions(compiled, x)]
    assert "without derivatives: branch selected (both sides computed, no conditional)" in decisions
    grad = jax.grad(lambda v: compiled(v)[0])(x)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, numerical_grad(lambda v: sqrt_branch(v)[0], x), rtol=1e-6, atol=1e-8)
    check_vmap(sqrt_branch, rng.normal(size=(3, 8)))


def test_selected_integer_branches(rng):
    data = rng.integers(0, 256, size=16).astype(np.uint8)
    check(bit_loop, data)
    decisions = [what for _, what in refscript.api.lowering_decisions(bit_loop, data)]
    assert "without derivatives: branch selected (both sides computed, no conditional)" in decisions
