"""Store-to-load forwarding (refscript/runtime/boxes.py, `Box._forwarded`): a read of what
the last write wrote returns the written value, cast and broadcast as the array holds it,
and never where a branch may not have run or a loop writes the array again."""

import jax
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap
from refscript.runtime import boxes


def column_then_inner_loop(a):
    n = a.shape[1]
    q = np.zeros_like(a)
    r = np.zeros(n)
    for k in range(n):
        q[:, k] = a[:, k] * 0.5
        for j in range(k + 1, n):
            r[j] += np.dot(q[:, k], a[:, j])  # q is not written in this loop: forwarded
    return q, r


def loop_writes_it_later(x):
    y = np.zeros(3)
    y[0] = 1.0
    s = 0.0
    for k in range(x.shape[0]):
        s += y[0]  # the loop writes y[0] below: the next iteration reads the new value
        y[0] = s * x[k]
    return y, s


def written_in_a_branch(x):
    y = np.zeros(3)
    y[1] = 2.0
    for k in range(x.shape[0]):
        if x[k] > 0:
            y[1] = x[k]
        y[2] += y[1]  # after the if: the branch may not have run
    return y


def cast_and_broadcast(x):
    counts = np.zeros(4, dtype=int)
    t = 0.0
    for k in range(x.shape[0]):
        counts[1:3] = x[k] * 3.0  # float into an int array, broadcast
        t += np.sum(counts[1:3]) + x[k]
    return counts, t


def traced_index(x, i):
    y = x.copy()
    y[i] = 7.0
    return y[i] + y[0], y


@pytest.mark.parametrize("fn", [column_then_inner_loop, loop_writes_it_later, written_in_a_branch,
                                cast_and_broadcast])
def test_values_grads_vmap(fn, rng):
    x = rng.normal(size=(4, 5)) if fn is column_then_inner_loop else rng.normal(size=5)
    check(fn, x)

    def loss(v):
        # NumPy, not jax.numpy: the finite differences (plain Python) stay float64 in 32-bit mode.
        return sum(np.sum(np.asarray(r, float) ** 2) for r in jax.tree_util.tree_leaves(fn(v)))

    if fn is not cast_and_broadcast:  # piecewise constant in x
        check_grad(loss, x)
    check_vmap(fn, np.stack([x, -x, x * 2.0]))


def test_traced_index(rng):
    x = rng.normal(size=5)
    for i in (0, 3, -1):
        check(traced_index, x, np.int64(i))


def test_the_column_is_not_read_back(rng):
    a = rng.normal(size=(4, 5))
    forwarded = str(refscript.make_jaxpr(column_then_inner_loop)(a))
    boxes.FORWARDING = False
    try:
        plain = str(refscript.make_jaxpr(column_then_inner_loop)(a))
    finally:
        boxes.FORWARDING = True
    # One Ref read fewer: the inner loop's q[:, k].
    assert forwarded.count("<-") == plain.count("<-") - 1


def write_then_read_in_the_same_body(a, b):
    for t in range(2):
        b[1:-1] = 0.5 * (a[1:-1] + a[2:])
        a[1:-1] = b[1:-1] + b[:-2]  # the slice just written, in the same body: read back


def test_a_stored_value_is_not_forwarded_in_the_same_body(rng):
    # Forwarded there, XLA keeps the value alive beside the updated array (a stencil of
    # this form ran 4x slower than its hand port).
    a, b = rng.normal(size=8), rng.normal(size=8)
    check(write_then_read_in_the_same_body, a, b)
    forwarded = str(refscript.make_jaxpr(write_then_read_in_the_same_body)(a, b))
    boxes.FORWARDING = False
    try:
        plain = str(refscript.make_jaxpr(write_then_read_in_the_same_body)(a, b))
    finally:
        boxes.FORWARDING = True
    assert forwarded.count("<-") == plain.count("<-")
