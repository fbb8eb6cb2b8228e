"""Element writes in a loop iteration, coalesced into one update per array (plain calls,
refscript/runtime/coalesce.py): reads see every earlier write of the iteration, also
through different index objects that name the same element, and arrays end as in Python.
"""

import jax
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed


def same_element_twice(x):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        if x[i] > 0:
            y[i] = x[i] * 2.0
        if x[i] < 1.0:
            y[i] = y[i] + 1.0  # reads the write above, then writes the same element again
    return y


def aliased_indices(x, idx):
    y = x.copy()
    s = 0.0
    for i in range(x.shape[0]):
        j = idx[i]  # sometimes equal to i, sometimes negative
        y[i] = x[i] + 1.0
        y[j] = y[j] * 3.0  # reads the element just written when j names i
        s += y[i] + y[i - x.shape[0]]  # a negative index naming i again
    return y, s


def two_elements(x):
    a = x.copy()
    n = x.shape[0]
    for k in range(n // 2):
        u = a[k]
        v = a[k + n // 2]
        a[k] = u + v
        a[k + n // 2] = u - v
    return a


def write_then_slice(x):
    y = np.zeros_like(x)
    t = 0.0
    for i in range(x.shape[0]):
        y[i] = x[i] * x[i]
        t += np.sum(y[:3])  # a slice read: the buffered write is done first
    return y, t


def write_then_inner_loop(x):
    y = x.copy()
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] + x[i]
        for k in range(i):
            y[k] *= 0.5
    return y


def read_back_around_inner_loop(x):
    # Gram-Schmidt's shape: an element written, read back at once, then an inner loop.
    y = x.copy()
    z = np.zeros_like(x)
    for i in range(1, x.shape[0]):
        y[i] = y[i - 1] * 0.5 + x[i]
        z[i] = y[i] * 2.0  # the element just written: forwarded, as the body runs a loop
        for k in range(i):
            y[k] += z[i] * 0.1
            z[k] = z[k] + y[k]  # read back in the innermost body
    return y, z


@pytest.mark.parametrize("fn", [same_element_twice, two_elements, write_then_slice, write_then_inner_loop,
                                read_back_around_inner_loop])
def test_values_grads_vmap(fn, rng):
    x = rng.normal(size=6)
    check(fn, x)
    # NumPy, not jax.numpy: the finite differences (plain Python) stay float64 in 32-bit mode.
    check_grad(lambda v: sum(np.sum(np.asarray(r) ** 2) for r in jax.tree_util.tree_leaves(fn(v))), x)
    check_vmap(fn, rng.normal(size=(3, 6)))


def test_aliased_indices(rng):
    x = rng.normal(size=5)
    for idx in (np.array([0, 1, 2, 3, 4]), np.array([4, -5, 1, -1, 0]), np.array([2, 2, 2, -3, -1])):
        check(aliased_indices, x, idx)


@pytest.mark.parametrize("fn", [same_element_twice, two_elements, write_then_slice, read_back_around_inner_loop])
def test_coalescing_matches_the_uncoalesced_lowering(fn, rng):
    from refscript.runtime import coalesce

    x = narrowed(rng.normal(size=8))
    coalesce.ENABLED = False
    try:
        plain = refscript.jit(fn)(x.copy())
    finally:
        coalesce.ENABLED = True
    jax.tree_util.tree_map(np.testing.assert_array_equal, refscript.jit(fn)(x.copy()), plain)


def _updates_per_iteration(fn, *args):
    """The in-place updates of arrays in the innermost loop body of the primal (plain calls)."""
    text = jax.jit(refscript.jit(fn)).lower(*args).as_text()
    bodies = text.split("stablehlo.while")[1:]
    return max(body.count("dynamic_update_slice") + body.count("stablehlo.scatter") for body in bodies)


def test_one_update_per_iteration(rng):
    # Two writes of one element per iteration: one dynamic_update_slice (without coalescing,
    # XLA:CPU copies the whole array to do two in place).
    assert _updates_per_iteration(same_element_twice, rng.normal(size=6)) == 1
    from refscript.runtime import coalesce

    coalesce.ENABLED = False
    try:
        assert _updates_per_iteration(same_element_twice, rng.normal(size=6)) == 2
    finally:
        coalesce.ENABLED = True


def _element_reads(fn, *args):
    """The dynamic_slice ops (element and slice reads) of the primal (plain calls)."""
    return jax.jit(refscript.jit(fn)).lower(*args).as_text().count("stablehlo.dynamic_slice")


def test_read_back_forwarded_only_around_loops(rng):
    # In a body that runs loops, `z[i] = y[i] * 2.0` after `y[i] = ...` takes the written
    # value instead of reading y[i] again; the innermost body's `z[k] + y[k]` after
    # `y[k] += ...` reads it back (an extra XLA:CPU thunk there costs more than a read).
    from refscript.runtime import boxes

    x = rng.normal(size=6)
    forwarded = _element_reads(read_back_around_inner_loop, x)
    boxes.FORWARDING_AROUND_LOOPS = False
    try:
        refscript.transpiler.clear_cache()
        read_back = _element_reads(read_back_around_inner_loop, x)
        check(read_back_around_inner_loop, x)  # values do not depend on it
    finally:
        boxes.FORWARDING_AROUND_LOOPS = True
    assert forwarded == read_back - 1
