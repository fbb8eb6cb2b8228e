"""Slices whose bounds are traced loop indices (`A[i, :j] @ A[:j, j]`, `y[:k] += ...`):
compiled as masked full-length windows that stay in place in their line
(runtime/windows.py), not unrolled."""

import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed, tolerances


def dot_products(A, x):
    n = A.shape[0]
    out = np.zeros(n)
    for i in range(n):
        for j in range(n):
            out[i] += A[i, :j] @ A[:j, j] + np.dot(A[i, :j], A[j, :j]) + np.sum(x[:j] * x[:j])
    return out


def flips(r):
    y = r.copy()
    alpha = 0.5
    for k in range(1, r.shape[0]):
        y[:k] += alpha * y[:k][::-1]
        alpha = -(r[k] + np.dot(np.flip(r[:k]), y[:k])) / (2.0 + abs(alpha))
    return y


def column_and_row_updates(c, beta):
    for k in range(c.shape[0]):
        c[k + 1:, k] /= c[k, k] + 2.0
        c[k, :k + 1] *= beta
        c[k, k:] -= c[k, :c.shape[0] - k][::-1] * 0.25
    return c


def column_updates_total(c0):
    c = c0 * 1.0
    for k in range(c.shape[0]):
        c[k + 1:, k] /= c[k, k] + 2.0
        c[k, :k + 1] *= 0.75
    return np.sum(c * c0)


def reductions(x):
    n = x.shape[0]
    out = np.zeros((n, 4))
    for k in range(1, n):
        w = x[:k]
        out[k, 0] = np.max(w)
        out[k, 1] = w.min()
        out[k, 2] = np.mean(w * w)
        out[k, 3] = (np.sqrt(np.abs(x[n - k:])) / (1.0 + x[n - k:] ** 2)).sum()
    return out


def shifted_slices(x):
    # A stencil on a growing prefix: slices of equal length at different offsets.
    out = np.zeros(x.shape[0])
    for k in range(2, x.shape[0] + 1):
        d = x[1:k] - x[:k - 1]
        out[k - 1] = np.sum(d * d)
    return out


def negative_and_reversed_bounds(x):
    out = np.zeros(x.shape[0])
    for k in range(x.shape[0]):
        out[k] = np.sum(x[-k - 1:]) - np.sum(x[:-k - 1]) + x[k:].sum() * 0.5
    return out


def durbin(r):
    n = r.shape[0]
    y = np.zeros_like(r)
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, n):
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + np.dot(np.flip(r[:k]), y[:k])) / beta
        z = y[:k] + alpha * np.flip(y[:k])
        y[:k] = z
        y[k] = alpha
    return y


def tails_of_lines_of_other_lengths(A, x):
    # Windows at different traced starts (two `i + 1` objects, `i` and `i + 1`), of lines
    # of different lengths (a column of A is longer than x), flipped, and indexed.
    n = x.shape[0]
    out = np.zeros((n, 4))
    for i in range(n):
        out[i, 0] = A[0, i + 1:] @ x[i + 1:]
        out[i, 1] = np.dot(A[:n - i, -1], x[i:]) + np.sum(A[i:n, n // 2] * np.flip(x[:n - i]))
        out[i, 2] = x[:i + 1][-1] + np.flip(x[i:])[0] + x[i:][1 % (n - i)]
        out[i, 3] = np.sum(np.abs(A[i + 3:, 0] - x[i:]))
    return out


def loop_indices_past_the_ends(x):
    # Loop indices that are negative or beyond the axis: Python's slice rules apply.
    n = x.shape[0]
    out = np.zeros(3 * n)
    for k in range(-n - 2, 2 * n - 2):
        out[k + n + 2] = np.sum(x[:k]) + 2.0 * np.sum(x[k:]) + np.dot(x[:k], np.flip(x[:k]))
    return out


def traced_bound_from_data(x, m):
    s = 0.0
    for k in range(x.shape[0]):
        s += np.sum(x[:m]) * x[k]
    return s


def arg_reductions(x):
    n = x.shape[0]
    out = np.zeros(n, dtype=int)
    for k in range(n):
        out[k] = np.argmax(x[k:]) + 10 * np.argmin(x[:k + 1]) + 100 * np.argmax(np.abs(x[k:] - 0.5))
        out[k] += 1000 * (k + x[k:].argmin())
    return out


def rank_one_updates(a):
    """LU with partial pivoting's elimination, and other uses of two-axis traced slices."""
    n = a.shape[0]
    s = 0.0
    for k in range(n - 1):
        a[k + 1:, k] /= a[k, k] + 3.0
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
        s += np.sum(a[:k + 1, k:]) + np.sum(np.outer(a[k, :k], a[:k, k]))
        a[k:, :k] = a[k:, :k] * 0.5 + 1.0 - a[k:, :k] / 4.0
    return a, s


FUNCTIONS = [
    (dot_products, lambda rng, n: (rng.normal(size=(n, n)), rng.normal(size=n))),
    (flips, lambda rng, n: (rng.normal(size=n) * 0.3,)),
    (column_and_row_updates, lambda rng, n: (rng.normal(size=(n, n)), 0.75)),
    (reductions, lambda rng, n: (rng.normal(size=n),)),
    (shifted_slices, lambda rng, n: (rng.normal(size=n),)),
    (negative_and_reversed_bounds, lambda rng, n: (rng.normal(size=n),)),
    (durbin, lambda rng, n: (0.5 ** np.arange(1, n + 1) * (1 + 0.1 * rng.normal(size=n)),)),
    (tails_of_lines_of_other_lengths, lambda rng, n: (rng.normal(size=(n + 3, n)), rng.normal(size=n))),
    (loop_indices_past_the_ends, lambda rng, n: (rng.normal(size=n),)),
    (arg_reductions, lambda rng, n: (rng.integers(0, 3, size=n).astype(np.float64),)),
    (rank_one_updates, lambda rng, n: (rng.normal(size=(n, n)),)),
]


@pytest.mark.parametrize("fn, make", FUNCTIONS, ids=[f.__name__ for f, _ in FUNCTIONS])
@pytest.mark.parametrize("n", [1, 2, 7])
def test_traced_slices_match_python(fn, make, n, rng):
    check(fn, *make(rng, n))


@pytest.mark.parametrize("fn, make", FUNCTIONS, ids=[f.__name__ for f, _ in FUNCTIONS])
def test_traced_slices_are_masked_not_unrolled(fn, make, rng):
    jitted = refscript.jit(fn)
    jitted(*narrowed(make(rng, 6)))
    assert jitted.unrolled_loops == []
    assert jitted.masked_slices, "no slice was compiled as a masked window"
    # One loop per source loop, whatever n is: the jaxpr does not grow with n.
    small = str(refscript.make_jaxpr(fn, discharged=True)(*narrowed(make(rng, 6))))
    large = str(refscript.make_jaxpr(fn, discharged=True)(*narrowed(make(rng, 40))))
    assert large.count(" = ") == small.count(" = ")  # equations (long ones print on several lines)


def aligned_updates(x, y):
    for k in range(1, x.shape[0]):
        y[:k] += x[:k] * y[k]
        y[k] -= np.dot(x[:k], y[:k]) / (1.0 + np.sum(x[:k] * x[:k]))
    return y


def primitives(jaxpr) -> list:
    """Names of the primitives `jaxpr` runs, those of the jaxprs its equations call included."""
    names = []
    for eqn in jaxpr.eqns:
        names.append(eqn.primitive.name)
        for param in eqn.params.values():
            for sub in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    names += primitives(inner)
    return names


def test_windows_at_the_same_start_move_no_data(rng):
    # `y[:k]`, `x[:k]` and the write back share their start: selects, no shift, no gather.
    # Windows at other starts are shifted by one padded dynamic_slice each, never gathered.
    check(aligned_updates, rng.normal(size=6), rng.normal(size=6))
    aligned = primitives(refscript.make_jaxpr(aligned_updates, discharged=True)(np.ones(6), np.ones(6)).jaxpr)
    assert "gather" not in aligned and "pad" not in aligned
    shifted = primitives(refscript.make_jaxpr(durbin, discharged=True)(np.ones(6)).jaxpr)
    assert "gather" not in shifted and shifted.count("pad") == 2  # the two np.flip(...) operands


def test_traced_slice_bound_from_data(rng):
    check(traced_bound_from_data, rng.normal(size=5), np.int64(3))
    check(traced_bound_from_data, rng.normal(size=5), np.int64(-2))
    check(traced_bound_from_data, rng.normal(size=5), np.int64(9))


def test_gradients_through_traced_slices(rng):
    check_grad(lambda r: durbin(r).sum(), 0.5 ** np.arange(1, 7) * (1 + 0.1 * rng.normal(size=6)))
    check_grad(lambda x: shifted_slices(x) @ np.arange(1.0, 6.0), rng.normal(size=5))
    check_grad(lambda x: (reductions(x) * np.arange(20.0).reshape(5, 4)).sum(), rng.normal(size=5) + 3.0)
    check_grad(column_updates_total, rng.normal(size=(4, 4)))
    A = rng.normal(size=(7, 4))
    check_grad(lambda x: (tails_of_lines_of_other_lengths(A, x) * np.arange(16.0).reshape(4, 4)).sum(),
               rng.normal(size=4))


def test_vmap_of_traced_slices(rng):
    check_vmap(flips, rng.normal(size=(3, 6)) * 0.3)
    check_vmap(lambda x: shifted_slices(x), rng.normal(size=(3, 5)))
    check_vmap(lambda x: traced_bound_from_data(x, np.array(3)), rng.normal(size=(3, 5)))
    check_vmap(lambda m: traced_bound_from_data(np.arange(1.0, 6.0), m), np.array([-2, 0, 3, 9]))


def unsupported_on_windows(x):
    out = np.zeros(x.shape[0])
    for k in range(x.shape[0]):
        out[k] = np.median(x[:k + 1]) + jnp.sum(x[:k + 1])
    return out


def test_unsupported_uses_of_traced_slices_unroll_the_loop(rng):
    # np.median and jnp.sum have no masked meaning: the loop unrolls, k a Python int,
    # and the result is still NumPy's.
    x = narrowed(rng.normal(size=5))
    jitted = refscript.jit(unsupported_on_windows)
    rtol, atol = tolerances(1e-7, 0.0)
    np.testing.assert_allclose(jitted(x), [np.median(x[:k + 1]) + np.sum(x[:k + 1]) for k in range(5)],
                               rtol=rtol, atol=atol)
    assert [why for _, why in jitted.unrolled_loops] == ["the body needs the index as a Python value"]
    assert jitted.masked_slices == []


def two_dimensional_traced_slice(a):
    s = 0.0
    for k in range(a.shape[0]):
        s += np.sum(a[:k, :k]) + np.sum(a[:k, ::2])
    return s


def test_two_axis_slices_with_a_step_unroll(rng):
    # A block (two traced axes) has no step: `a[:k, ::2]` unrolls the loop.
    jitted = refscript.jit(two_dimensional_traced_slice)
    a = narrowed(rng.normal(size=(4, 4)))
    rtol, atol = tolerances(1e-7, 0.0)
    np.testing.assert_allclose(jitted(a), two_dimensional_traced_slice(a), rtol=rtol, atol=atol)
    assert jitted.unrolled_loops


def rank_one_loss(a0):
    a = a0 * 1.0
    s = 0.0
    for k in range(a.shape[0] - 1):
        a[k + 1:, k] /= a[k, k] + 3.0
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
        s += np.sum(a[:k + 1, k:] * a[:k + 1, k:])
    return np.sum(a * a) + s


def test_two_axis_slices_gradients_and_vmap(rng):
    check_grad(rank_one_loss, rng.normal(size=(5, 5)))
    check_vmap(rank_one_updates, rng.normal(size=(3, 5, 5)))


def writes_array_into_traced_slice(x, y):
    for k in range(x.shape[0]):
        x[:k] = y
    return x


def test_writing_a_static_array_into_a_traced_slice_of_a_long_loop_is_an_error(rng):
    # Too long to unroll (refscript.static_range would): the error names the write.
    with pytest.raises(refscript.errors.StaticLoopError, match="1200 iterations are too many") as info:
        refscript.jit(writes_array_into_traced_slice)(narrowed(np.zeros(1200)), narrowed(np.ones(1200)))
    assert "cannot write an array of shape (1200,) into a slice with a traced bound" in str(info.value)
    assert info.value.location.lineno == writes_array_into_traced_slice.__code__.co_firstlineno + 2
