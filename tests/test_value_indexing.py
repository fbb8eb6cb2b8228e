"""Element accesses at traced indices inside compiled while loops, in the forward-only
lowering, index the array's value (`lax.dynamic_slice` / `dynamic_update_slice` with the
index as it is), not the Ref, whose discharge converts every index to int32
(runtime/indexing.py `_dynamic_window`). Values against plain Python; the differentiable
lowering keeps Ref accesses (and streaming)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import check, check_vmap, numerical_grad, writes_not_returned
from refscript import _jax_internal


def shifts(a, key):
    for i in range(1, a.shape[0]):
        j = i - 1
        while j >= 0 and a[j] > key:
            a[j + 1] = a[j]
            j -= 1
    return a


def negative_indices(x, offset):
    out = np.zeros((3, x.shape[0]))
    i = 0
    while i < x.shape[0]:
        j = i - offset  # negative for the first iterations: wraps, as in NumPy
        out[1, j] += x[i]
        out[:, j] = out[:, j] * 0.5 + x[j]
        out[..., i] -= x[i - 1]
        for k in range(2):  # a static loop inside: its accesses index values too
            out[k, i] += out[k + 1, j] * 0.25
        i += 1
    return out


def histogram(x, bins):
    counts = np.zeros(bins, dtype=int)
    i = 0
    while i < x.shape[0]:
        counts[x[i]] += 1
        i += 1
    return counts


def forward_only_jaxpr(fn, *args):
    jitted = refscript.jit(fn)
    static, dynamic = jitted._split(args, {})
    closed, _, _ = jitted.ref_jaxpr(static, dynamic, forward_only=True)
    return str(_jax_internal.discharge_state(closed))


@pytest.mark.parametrize("key", [-1.0, 0.0, 1.0])
def test_values_match_python(rng, key):
    check(shifts, rng.normal(size=9), key)
    check(negative_indices, rng.normal(size=7), 2, static_scalars=False)
    check(negative_indices, rng.normal(size=7), 2)
    check(histogram, rng.integers(0, 5, size=40), 5)


# The subject is int64 indices kept int64 (not converted to int32): with 32-bit mode every index is int32.
@pytest.mark.x64_only
def test_indices_keep_their_type():
    text = forward_only_jaxpr(histogram, np.arange(8) % 3, 3)
    assert "dynamic_update_slice" in text
    assert "new_dtype=int32" not in text, "the Ref's discharge would convert the index to int32"


def test_derivatives_and_batches(rng):
    x = rng.normal(size=6)
    compiled = refscript.jit(negative_indices)
    with writes_not_returned():
        forward = jax.jacfwd(lambda v: jnp.sum(compiled(v, 1) ** 2))(x)  # while loops: forward mode
    expected = numerical_grad(lambda v: np.sum(negative_indices(v, 1) ** 2), x)
    np.testing.assert_allclose(forward, expected, rtol=1e-6, atol=1e-8)
    check_vmap(negative_indices, rng.normal(size=(3, 6)), 1)
    check_vmap(shifts, rng.normal(size=(4, 7)), 0.0)
    # jvp through the forward-only lowering's custom_jvp rule
    compiled = refscript.jit(shifts)
    with writes_not_returned():
        primal, tangent = jax.jvp(lambda v: compiled(v, 0.0), (x,), (np.ones(6),))
    np.testing.assert_allclose(primal, shifts(x.copy(), 0.0))
