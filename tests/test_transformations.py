"""Functions compiled by `refscript.jit` compose with JAX transformations.

Every expected value comes from an independent oracle: the undecorated Python
function run on NumPy float64 copies, differentiated by central finite
differences, or run once per batch element in a Python loop. Nothing is
hard-coded.

In 32-bit mode (`pytest --x32`) the compiled side gets 32-bit copies of the
inputs (`oracle.narrowed`), the finite differences still run in float64 on the
same values, and comparisons use float32's tolerances.
"""

from __future__ import annotations

import inspect
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from refscript.errors import ReverseModeLoopError

from oracle import check_grad, copies, narrowed, numerical_grad, tolerances, writes_not_returned, x64


def fd_tolerances(rtol, atol):
    """Tolerances of a derivative against float64 finite differences: in 32-bit mode the
    derivative is float32's, compared at `oracle.check_grad`'s tolerances."""
    if x64():
        return rtol, atol
    return max(rtol, 1e-3), max(atol, 1e-4)


RTOL, ATOL = fd_tolerances(1e-6, 1e-8)
# Compiled values against Python's (float32's tolerances in 32-bit mode, `oracle.tolerances`).
VALUE_RTOL, VALUE_ATOL = tolerances(1e-12, 0.0)


# --------------------------------------------------------------------------
# Functions under test (module level: refscript reads their source).
# --------------------------------------------------------------------------


def recurrence(a, b):
    a = a.copy()
    for i in range(1, a.shape[0]):
        a[i] = a[i - 1] * 0.5 + b[i]
    return a


def recurrence_total(b, a):
    a = a.copy()
    for i in range(1, a.shape[0]):
        a[i] = a[i - 1] * 0.5 + b[i]
    return (a * a).sum()


def signed_square_sum(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            s += x[i] * x[i]
        else:
            s -= x[i]
    return s


def signed_square_cubic(x):
    # Same traced `if` inside a loop, with non-zero second derivatives in both branches.
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0:
            s += x[i] * x[i] * x[i]
        else:
            s -= x[i] * x[i]
    return s


def branch_write(x):
    y = x.copy()
    for i in range(x.shape[0]):
        if x[i] < 0:
            y[i] = -2.0 * x[i] * x[i]
        elif x[i] < 1.0:
            y[i] = x[i] + 1.0
        else:
            y[i] = 3.0 * x[i]
    return y


def nested_quadratic(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            s += w[i, j] * x[i] * x[j]
    return s


def nested_matvec(w, x):
    out = np.zeros(w.shape[0])
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            out[i] += w[i, j] * x[j]
    return out


def nested_triangular(x):
    # The inner loop's bound depends on the outer index.
    out = x.copy()
    for i in range(x.shape[0]):
        for j in range(i):
            out[i] += out[j] * x[i] * 0.25
    return out


def horner(c, t):
    s = 0.0
    for i in range(c.shape[0]):
        s = s * t + c[i]
    return s


def product_accumulator(x):
    p = 1.0
    for i in range(x.shape[0]):
        p *= 1.0 + 0.5 * x[i]
    return p


def inplace_argument(a, b):
    # Writes into its argument without copying: the caller's array changes, as in NumPy.
    for i in range(1, a.shape[0]):
        a[i] = a[i - 1] * 0.5 + b[i] * b[i]
    return a


def inplace_argument_total(a, b):
    for i in range(1, a.shape[0]):
        a[i] = a[i - 1] * 0.5 + b[i] * b[i]
    return a.sum()


def halve_until(x, threshold):
    n = 0
    while x > threshold:
        x = x * 0.5
        n += 1
    return x, n


def first_exceed(x, limit):
    s = 0.0
    i = 0
    while s < limit:
        s += x[i]
        i += 1
    return s, i


def prefix_square_sum(x, n):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s


def prefix_cumsum(x, n):
    out = x.copy()
    for i in range(1, n):
        out[i] = out[i - 1] + x[i]
    return out


def positive_prefix(x):
    # Loop bound derived from data.
    n = (x > 0).sum()
    s = 0.0
    for i in range(n):
        s += x[i] * 2.0
    return s


def traced_while_sum(x, limit):
    s = 0.0
    i = 0
    while i < limit:
        s += x[i] * x[i]
        i += 1
    return s


def triangular_total(x):
    # Only static bounds (x.shape[0] and the loop index), yet the inner bound is the outer index.
    out = x.copy()
    for i in range(x.shape[0]):
        for j in range(i):
            out[i] += out[j] * x[i] * 0.25
    return (out * out).sum()


def loop_and_plain_output(x, n):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    return s, (x * x * x).sum()


def while_fill(x, limit):
    out = x * 0.0
    i = 0
    total = 0.0
    while total < limit:
        out[i] = total
        total += x[i]
        i += 1
    return out


def _line_of(fn, text):
    """The absolute line number in this file of the first line of `fn` containing `text`."""
    lines, start = inspect.getsourcelines(fn)
    for offset, line in enumerate(lines):
        if text in line:
            return start + offset
    raise AssertionError(f"{text!r} not in {fn.__name__}")


# --------------------------------------------------------------------------
# Oracle helpers.
# --------------------------------------------------------------------------


def float64_copies(args):
    """Copies of `args`, floating arrays as float64 (in 32-bit mode: float64 copies of their
    32-bit values, so Python's finite differences stay float64)."""
    return [np.array(a, dtype=np.float64) if isinstance(a, (np.ndarray, jax.Array)) and
            np.issubdtype(np.asarray(a).dtype, np.floating) else a for a in copies(args)]


def py(fn, *args):
    """Runs the undecorated `fn` on NumPy float64 copies of `args`."""
    return fn(*float64_copies(args))


def fd_jacobian(f, x, eps=1e-6):
    """Central-difference Jacobian of `f` at float64 `x`, shape `out.shape + x.shape`."""
    x = np.asarray(x, dtype=np.float64)
    out_shape = np.shape(f(x.copy()))
    jac = np.zeros(out_shape + x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        diff = (np.asarray(f(x + step), np.float64) - np.asarray(f(x - step), np.float64)) / (2 * eps)
        jac[(Ellipsis,) + idx] = diff
    return jac


def fd_hessian(f, x, eps=1e-4):
    """Second-order central-difference Hessian of scalar `f` at float64 vector `x`."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    hess = np.zeros((n, n))
    eye = np.eye(n) * eps
    for i in range(n):
        for j in range(n):
            fpp = float(f(x + eye[i] + eye[j]))
            fpm = float(f(x + eye[i] - eye[j]))
            fmp = float(f(x - eye[i] + eye[j]))
            fmm = float(f(x - eye[i] - eye[j]))
            hess[i, j] = (fpp - fpm - fmp + fmm) / (4 * eps * eps)
    return hess


def away_from_zero(rng, shape, margin=0.2):
    """Random normals with |x| >= margin, so finite differences never cross a branch kink."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < margin, np.sign(x + 1e-300) * margin + x, x)


def python_vmap(fn, args, in_axes):
    """Runs `fn` once per batch element (Python loop), stacking the outputs."""
    sizes = {np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None}
    assert len(sizes) == 1
    (size,) = sizes
    results = []
    for k in range(size):
        call = []
        for a, ax in zip(args, in_axes):
            if ax is None:
                call.append(copies([a])[0])
            else:
                item = np.take(np.asarray(a), k, axis=ax)
                call.append(item.copy() if item.ndim else item[()])
        results.append(fn(*call))
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *results)


def check_vmap_axes(fn, args, in_axes, rtol=1e-12, atol=0.0, **jit_options):
    """Asserts `jax.vmap(refscript.jit(fn), in_axes)` equals a Python loop over the batch (both
    on 32-bit copies of `args` in 32-bit mode, `oracle.narrowed`)."""
    args = narrowed(args)
    rtol, atol = tolerances(rtol, atol)
    snapshot = copies(args)
    compiled = refscript.jit(fn, **jit_options)
    got = jax.vmap(compiled, in_axes=in_axes)(*args)
    expected = python_vmap(fn, snapshot, in_axes)
    got_leaves, got_tree = jax.tree_util.tree_flatten(got)
    exp_leaves, exp_tree = jax.tree_util.tree_flatten(expected)
    assert got_tree == exp_tree
    for g, e in zip(got_leaves, exp_leaves):
        assert np.shape(g) == np.shape(e), (np.shape(g), np.shape(e))
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=rtol, atol=atol)
    assert_unchanged(snapshot, args)
    return got


def assert_unchanged(snapshot, args):
    for before, after in zip(snapshot, args):
        if isinstance(before, np.ndarray):
            np.testing.assert_array_equal(after, before, err_msg="the caller's array was modified")


# --------------------------------------------------------------------------
# Reverse mode: grad, value_and_grad, vjp, jacrev.
# --------------------------------------------------------------------------

SCALAR_CASES = [
    pytest.param(recurrence_total, lambda rng: (rng.normal(size=6), rng.normal(size=6)), id="recurrence"),
    pytest.param(signed_square_sum, lambda rng: (away_from_zero(rng, 7),), id="traced_if"),
    pytest.param(signed_square_cubic, lambda rng: (away_from_zero(rng, 7),), id="traced_if_cubic"),
    pytest.param(nested_quadratic, lambda rng: (rng.normal(size=4), rng.normal(size=(4, 4))), id="nested"),
    pytest.param(horner, lambda rng: (rng.normal(size=5), 0.7), id="horner"),
    pytest.param(product_accumulator, lambda rng: (rng.normal(size=6) * 0.5,), id="product"),
]


@pytest.mark.parametrize("fn, make_args", SCALAR_CASES)
def test_grad_matches_finite_differences(fn, make_args, rng):
    args = make_args(rng)
    check_grad(fn, args[0], *args[1:])


@pytest.mark.parametrize("fn, make_args", SCALAR_CASES)
def test_value_and_grad_matches_oracle(fn, make_args, rng):
    x, *rest = narrowed(make_args(rng))
    snapshot = copies([x, *rest])
    compiled = refscript.jit(fn)
    value, grad = jax.value_and_grad(lambda v: compiled(v, *rest))(x)
    np.testing.assert_allclose(float(value), float(py(fn, x, *rest)), rtol=VALUE_RTOL, atol=VALUE_ATOL)
    expected = numerical_grad(lambda v: fn(v.copy(), *float64_copies(rest)), x)
    np.testing.assert_allclose(np.asarray(grad), expected, rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, [x, *rest])


def test_grad_with_respect_to_scalar_and_two_arguments(rng):
    c, t = rng.normal(size=5), 0.7
    compiled = refscript.jit(horner)
    gc, gt = jax.grad(compiled, argnums=(0, 1))(c, t)
    np.testing.assert_allclose(np.asarray(gc), numerical_grad(lambda v: horner(v, t), c), rtol=RTOL, atol=ATOL)
    expected_t = numerical_grad(lambda v: horner(c.copy(), float(v)), np.array(t))
    np.testing.assert_allclose(float(gt), float(expected_t), rtol=RTOL, atol=ATOL)

    x, w = rng.normal(size=4), rng.normal(size=(4, 4))
    gx, gw = jax.grad(refscript.jit(nested_quadratic), argnums=(0, 1))(x, w)
    np.testing.assert_allclose(np.asarray(gx), numerical_grad(lambda v: nested_quadratic(v, w.copy()), x),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.asarray(gw), numerical_grad(lambda v: nested_quadratic(x.copy(), v), w),
                               rtol=RTOL, atol=ATOL)


VECTOR_CASES = [
    pytest.param(recurrence, lambda rng: (rng.normal(size=6), rng.normal(size=6)), 1, id="recurrence_wrt_b"),
    pytest.param(recurrence, lambda rng: (rng.normal(size=6), rng.normal(size=6)), 0, id="recurrence_wrt_a"),
    pytest.param(branch_write, lambda rng: (away_from_zero(rng, 6) * 1.3 + 0.05,), 0, id="traced_if_write"),
    pytest.param(nested_matvec, lambda rng: (rng.normal(size=(3, 4)), rng.normal(size=4)), 0, id="nested_wrt_w"),
    pytest.param(nested_matvec, lambda rng: (rng.normal(size=(3, 4)), rng.normal(size=4)), 1, id="nested_wrt_x"),
]

FORWARD_ONLY_CASES = [
    pytest.param(nested_triangular, lambda rng: (rng.normal(size=5),), 0, id="nested_triangular"),
]


def _wrt(fn, args, argnum, wrap=lambda f: f):
    """`v -> fn(args with args[argnum] = v)`, `fn` optionally wrapped (e.g. compiled)."""
    f = wrap(fn)

    def call(v):
        full = float64_copies(args) if wrap is _identity else list(args)
        full[argnum] = v.copy() if isinstance(v, np.ndarray) else v
        return f(*full)

    return call


def _identity(f):
    return f


def _branch_safe(args):
    # branch_write has kinks at 0 and 1: keep points away from them.
    return all(np.min(np.abs(np.asarray(a) - 1.0)) > 0.05 and np.min(np.abs(np.asarray(a))) > 0.05 for a in args)


@pytest.mark.parametrize("fn, make_args, argnum", VECTOR_CASES)
def test_jacrev_matches_finite_differences(fn, make_args, argnum, rng):
    args = narrowed(make_args(rng))
    if fn is branch_write:
        assert _branch_safe(args)
    snapshot = copies(args)
    got = jax.jacrev(_wrt(fn, args, argnum, refscript.jit))(jnp.asarray(args[argnum]))
    expected = fd_jacobian(_wrt(fn, args, argnum, _identity), args[argnum])
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, args)


@pytest.mark.parametrize("fn, make_args, argnum", VECTOR_CASES)
def test_vjp_matches_finite_differences(fn, make_args, argnum, rng):
    args = narrowed(make_args(rng))
    snapshot = copies(args)
    primal, pullback = jax.vjp(_wrt(fn, args, argnum, refscript.jit), jnp.asarray(args[argnum]))
    expected_primal = py(fn, *args)
    np.testing.assert_allclose(np.asarray(primal), expected_primal, rtol=VALUE_RTOL, atol=VALUE_ATOL)
    cotangent = narrowed(rng.normal(size=np.shape(expected_primal)))
    (got,) = pullback(jnp.asarray(cotangent))
    jac = fd_jacobian(_wrt(fn, args, argnum, _identity), args[argnum])
    expected = np.tensordot(cotangent, jac, axes=cotangent.ndim)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, args)




def test_grad_nested_loop_with_index_dependent_static_bound(rng):
    check_grad(triangular_total, rng.normal(size=5))


def test_jacrev_nested_loop_with_index_dependent_static_bound(rng):
    x = rng.normal(size=5)
    got = jax.jacrev(refscript.jit(nested_triangular))(x)
    np.testing.assert_allclose(np.asarray(got), fd_jacobian(nested_triangular, x), rtol=RTOL, atol=ATOL)


def test_forward_mode_nested_loop_with_index_dependent_static_bound(rng):
    x = rng.normal(size=5)
    got = jax.jacfwd(refscript.jit(triangular_total))(x)
    np.testing.assert_allclose(np.asarray(got), numerical_grad(triangular_total, x), rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------
# Forward mode: jvp, jacfwd, hessian (JAX fails natively on functions creating Refs).
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fn, make_args, argnum", VECTOR_CASES + FORWARD_ONLY_CASES)
def test_jvp_and_jacfwd_match_finite_differences(fn, make_args, argnum, rng):
    args = narrowed(make_args(rng))
    snapshot = copies(args)
    x = args[argnum]
    f = _wrt(fn, args, argnum, refscript.jit)
    jac = fd_jacobian(_wrt(fn, args, argnum, _identity), x)

    tangent = narrowed(rng.normal(size=np.shape(x)))
    primal, out_tangent = jax.jvp(f, (jnp.asarray(x),), (jnp.asarray(tangent),))
    np.testing.assert_allclose(np.asarray(primal), py(fn, *args), rtol=VALUE_RTOL, atol=VALUE_ATOL)
    expected_tangent = np.tensordot(jac, tangent, axes=tangent.ndim)
    np.testing.assert_allclose(np.asarray(out_tangent), expected_tangent, rtol=RTOL, atol=ATOL)

    np.testing.assert_allclose(np.asarray(jax.jacfwd(f)(jnp.asarray(x))), jac, rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, args)


@pytest.mark.parametrize("fn, make_args", SCALAR_CASES)
def test_jvp_scalar_functions(fn, make_args, rng):
    x, *rest = narrowed(make_args(rng))
    f = refscript.jit(fn)
    tangent = narrowed(rng.normal(size=np.shape(x)))
    primal, out_tangent = jax.jvp(lambda v: f(v, *rest), (jnp.asarray(x),), (jnp.asarray(tangent),))
    np.testing.assert_allclose(float(primal), float(py(fn, x, *rest)), rtol=VALUE_RTOL, atol=VALUE_ATOL)
    grad = numerical_grad(lambda v: fn(v.copy(), *float64_copies(rest)), x)
    np.testing.assert_allclose(float(out_tangent), float(np.vdot(grad, tangent)), rtol=RTOL, atol=ATOL)


HESSIAN_CASES = [
    pytest.param(recurrence_total, lambda rng: (rng.normal(size=5), rng.normal(size=5)), id="recurrence"),
    pytest.param(signed_square_cubic, lambda rng: (away_from_zero(rng, 5),), id="traced_if"),
    pytest.param(nested_quadratic, lambda rng: (rng.normal(size=4), rng.normal(size=(4, 4))), id="nested"),
    pytest.param(product_accumulator, lambda rng: (rng.normal(size=5) * 0.5,), id="product"),
]


@pytest.mark.parametrize("fn, make_args", HESSIAN_CASES)
def test_hessian_matches_finite_differences(fn, make_args, rng):
    x, *rest = narrowed(make_args(rng))
    snapshot = copies([x, *rest])
    f = refscript.jit(fn)
    got = jax.hessian(lambda v: f(v, *rest))(jnp.asarray(x))
    expected = fd_hessian(lambda v: fn(v.copy(), *float64_copies(rest)), x)
    rtol, atol = fd_tolerances(1e-5, 1e-6)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=rtol, atol=atol)
    assert_unchanged(snapshot, [x, *rest])


def test_jacfwd_of_scalar_functions_matches_grad_oracle(rng):
    x = away_from_zero(rng, 6)
    got = jax.jacfwd(refscript.jit(signed_square_sum))(x)
    np.testing.assert_allclose(np.asarray(got), numerical_grad(signed_square_sum, x), rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------
# vmap.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axis", [0, 1])
def test_vmap_traced_if_writing_array(batch, axis, rng):
    x = rng.normal(size=(batch, 6)) * 1.5
    if axis == 1:
        x = np.ascontiguousarray(x.T)
    check_vmap_axes(branch_write, (x,), (axis,))


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axes", [(0, None), (1, None), (0, 0), (None, 0), (1, 0)])
def test_vmap_recurrence_axes(batch, axes, rng):
    n = 6
    args = []
    for ax in axes:
        if ax is None:
            args.append(rng.normal(size=n))
        elif ax == 0:
            args.append(rng.normal(size=(batch, n)))
        else:
            args.append(rng.normal(size=(n, batch)))
    check_vmap_axes(recurrence, tuple(args), axes)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axes", [(0, None), (1, None), (0, 0)])
def test_vmap_nested_loops(batch, axes, rng):
    w = rng.normal(size=(batch, 3, 4)) if axes[0] == 0 else rng.normal(size=(3, batch, 4))
    x = rng.normal(size=(batch, 4)) if axes[1] == 0 else rng.normal(size=4)
    check_vmap_axes(nested_matvec, (w, x), axes)


@pytest.mark.parametrize("batch", [1, 3])
def test_vmap_while_with_batched_condition(batch, rng):
    x = rng.uniform(1.0, 300.0, size=batch)
    if batch > 1:
        x[:3] = [1.5, 40.0, 250.0]  # different trip counts per element
    got = check_vmap_axes(halve_until, (x, 1.0), (0, None))
    if batch > 1:
        assert len(set(np.asarray(got[1]).tolist())) == 3


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axes", [(0, None), (1, None), (0, 0), (None, 0)])
def test_vmap_while_over_array(batch, axes, rng):
    n = 8
    x = rng.uniform(0.2, 1.0, size=(batch, n)) if axes[0] == 0 else rng.uniform(0.2, 1.0, size=(n, batch))
    if axes[0] is None:
        x = rng.uniform(0.2, 1.0, size=n)
    limit = rng.uniform(0.5, 1.5, size=batch) if axes[1] == 0 else 1.2
    check_vmap_axes(first_exceed, (x, limit), axes)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axes", [(0, 0), (1, None), (None, 0)])
def test_vmap_while_writing_array(batch, axes, rng):
    n = 6
    x = {0: rng.uniform(0.2, 1.0, size=(batch, n)), 1: rng.uniform(0.2, 1.0, size=(n, batch)),
         None: rng.uniform(0.2, 1.0, size=n)}[axes[0]]
    limit = np.array([0.1, 1.0, 2.5][:batch] if batch == 3 else [1.3]) if axes[1] == 0 else 1.3
    check_vmap_axes(while_fill, (x, limit), axes)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axes", [(0, 0), (None, 0), (1, 0)])
def test_vmap_for_with_batched_traced_bound(batch, axes, rng):
    n = 7
    x = {0: rng.normal(size=(batch, n)), 1: rng.normal(size=(n, batch)), None: rng.normal(size=n)}[axes[0]]
    bounds = np.array([2, 7, 0][:batch] if batch == 3 else [5], dtype=np.int64)
    got = check_vmap_axes(prefix_square_sum, (x, bounds), axes, static_scalars=False)
    assert np.shape(got) == (batch,)
    got = check_vmap_axes(prefix_cumsum, (x, bounds), axes, static_scalars=False)
    assert np.shape(got) == (batch, n)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("axis", [0, 1])
def test_vmap_for_with_bound_derived_from_data(batch, axis, rng):
    x = rng.normal(size=(batch, 6))
    x = np.sort(x, axis=1)[:, ::-1].copy()  # positive entries first
    if batch == 3:
        x[0] = np.abs(x[0])
        x[1] = -np.abs(x[1])
    if axis == 1:
        x = np.ascontiguousarray(x.T)
    check_vmap_axes(positive_prefix, (x,), (axis,))


def test_vmap_scalar_traced_if(rng):
    x = away_from_zero(rng, (3, 5))
    check_vmap_axes(signed_square_sum, (x,), (0,))
    check_vmap_axes(signed_square_sum, (np.ascontiguousarray(x.T),), (1,))


def test_vmap_out_axes_and_nested_vmap(rng):
    x = narrowed(rng.normal(size=(2, 3, 6)))
    b = narrowed(rng.normal(size=6))
    compiled = refscript.jit(recurrence)
    got = jax.vmap(jax.vmap(compiled, in_axes=(0, None)), in_axes=(0, None))(x, b)
    expected = np.stack([np.stack([recurrence(r.copy(), b.copy()) for r in row]) for row in x])
    np.testing.assert_allclose(np.asarray(got), expected, rtol=VALUE_RTOL, atol=VALUE_ATOL)
    got = jax.vmap(compiled, in_axes=(0, None), out_axes=1)(x[0], b)
    np.testing.assert_allclose(np.asarray(got), expected[0].T, rtol=VALUE_RTOL, atol=VALUE_ATOL)


# --------------------------------------------------------------------------
# jit nesting and transformation combinations.
# --------------------------------------------------------------------------


def test_jax_jit_of_refscript_jit(rng):
    a, b = narrowed(rng.normal(size=6)), narrowed(rng.normal(size=6))
    snapshot = copies([a, b])
    f = jax.jit(refscript.jit(recurrence))
    np.testing.assert_allclose(np.asarray(f(a, b)), recurrence(a.copy(), b.copy()),
                               rtol=VALUE_RTOL, atol=VALUE_ATOL)
    x = narrowed(away_from_zero(rng, 5))
    g = jax.jit(refscript.jit(branch_write))
    np.testing.assert_allclose(np.asarray(g(x)), branch_write(x.copy()), rtol=VALUE_RTOL, atol=VALUE_ATOL)
    assert_unchanged(snapshot, [a, b])


def test_jax_jit_with_traced_bound(rng):
    x = narrowed(rng.normal(size=7))
    f = jax.jit(refscript.jit(prefix_square_sum, static_scalars=False))
    for n in (0, 3, 7):
        np.testing.assert_allclose(float(f(x, n)), prefix_square_sum(x.copy(), n), rtol=VALUE_RTOL, atol=VALUE_ATOL)
    # jax.jit's own static_argnums keeps the bound static.
    g = jax.jit(refscript.jit(prefix_square_sum), static_argnums=1)
    np.testing.assert_allclose(float(g(x, 4)), prefix_square_sum(x.copy(), 4), rtol=VALUE_RTOL, atol=VALUE_ATOL)


_compiled_recurrence = refscript.jit(recurrence)
_compiled_signed = refscript.jit(signed_square_sum)


@jax.jit
def _outer(a, b):
    y = _compiled_recurrence(a, b)
    return _compiled_signed(jnp.sin(y)) + jnp.sum(y)


def _outer_python(a, b):
    y = recurrence(a.copy(), b.copy())
    return signed_square_sum(np.sin(y)) + np.sum(y)


def test_refscript_inside_jax_jit(rng):
    a, b = narrowed(rng.normal(size=6)), narrowed(rng.normal(size=6))
    np.testing.assert_allclose(float(_outer(a, b)), _outer_python(a, b), rtol=VALUE_RTOL, atol=VALUE_ATOL)
    a64, b64 = float64_copies([a, b])
    grad = jax.grad(_outer, argnums=1)(a, b)
    np.testing.assert_allclose(np.asarray(grad), numerical_grad(lambda v: _outer_python(a64, v), b),
                               rtol=RTOL, atol=ATOL)
    jac = jax.jacfwd(_outer, argnums=0)(a, b)
    np.testing.assert_allclose(np.asarray(jac), numerical_grad(lambda v: _outer_python(v, b64), a),
                               rtol=RTOL, atol=ATOL)


def test_grad_of_vmap(rng):
    x = away_from_zero(rng, (3, 5))
    compiled = refscript.jit(signed_square_cubic)

    def total(v):
        return jnp.sum(jax.vmap(compiled)(v) ** 2)

    def total_python(v):
        return sum(signed_square_cubic(row.copy()) ** 2 for row in v)

    np.testing.assert_allclose(np.asarray(jax.grad(total)(x)), numerical_grad(total_python, x),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(total))(x)), numerical_grad(total_python, x),
                               rtol=RTOL, atol=ATOL)


def test_grad_of_vmap_with_unbatched_argument(rng):
    a = narrowed(rng.normal(size=(3, 6)))
    b = narrowed(rng.normal(size=6))
    snapshot = copies([a, b])
    compiled = refscript.jit(recurrence)
    (a64,) = float64_copies([a])

    def total(b):
        return jnp.sum(jnp.cos(jax.vmap(compiled, in_axes=(0, None))(a, b)))

    def total_python(b):
        return sum(np.sum(np.cos(recurrence(row.copy(), b.copy()))) for row in a64)

    np.testing.assert_allclose(np.asarray(jax.grad(total)(b)), numerical_grad(total_python, b),
                               rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, [a, b])


def test_vmap_of_grad(rng):
    x = away_from_zero(rng, (3, 5))
    got = jax.vmap(jax.grad(refscript.jit(signed_square_cubic)))(x)
    expected = np.stack([numerical_grad(signed_square_cubic, row) for row in x])
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL, atol=ATOL)

    w = rng.normal(size=(3, 3, 3))
    v = rng.normal(size=3)
    got = jax.vmap(jax.grad(refscript.jit(nested_quadratic), argnums=0), in_axes=(None, 0))(v, w)
    expected = np.stack([numerical_grad(lambda u: nested_quadratic(u, wk.copy()), v) for wk in w])
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL, atol=ATOL)


def test_vmap_of_jacfwd_with_while(rng):
    x = rng.uniform(0.2, 1.0, size=(3, 8))
    limit = np.array([0.5, 1.5, 3.0])
    f = refscript.jit(first_exceed)
    got = jax.vmap(jax.jacfwd(lambda v, lim: f(v, lim)[0]))(x, limit)
    expected = np.stack([numerical_grad(lambda v: first_exceed(v, lim)[0], row) for row, lim in zip(x, limit)])
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL, atol=ATOL)


def test_hessian_of_vmap_sum(rng):
    x = rng.normal(size=(2, 3)) * 0.5
    compiled = refscript.jit(product_accumulator)

    def total(v):
        return jnp.sum(jax.vmap(compiled)(v.reshape(2, 3)))

    def total_python(v):
        return sum(product_accumulator(row.copy()) for row in v.reshape(2, 3))

    got = jax.hessian(total)(jnp.asarray(x.reshape(-1)))
    np.testing.assert_allclose(np.asarray(got), fd_hessian(total_python, x.reshape(-1)), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# Loops with traced trip counts: reverse mode refuses with a precise error,
# forward mode works.
# --------------------------------------------------------------------------

FOR_LINE = _line_of(prefix_square_sum, "for i in range(n)")
WHILE_LINE = _line_of(traced_while_sum, "while i < limit")
FILE = os.path.basename(__file__)


def assert_points_at(error, lineno):
    message = str(error)
    assert FILE in message, message
    match = re.search(re.escape(FILE) + r":(\d+)", message)
    assert match is not None, message
    assert int(match.group(1)) == lineno, message


def _reverse_mode_calls(f, x, bound):
    def grad():
        jax.grad(f)(x, bound)

    def value_and_grad():
        jax.value_and_grad(f)(x, bound)

    def vjp():
        _, pullback = jax.vjp(lambda v: f(v, bound), x)
        pullback(jnp.ones(()))

    def jacrev():
        jax.jacrev(f)(x, bound)

    def jit_grad():
        jax.jit(jax.grad(f))(x, bound)

    return dict(grad=grad, value_and_grad=value_and_grad, vjp=vjp, jacrev=jacrev, jit_grad=jit_grad)


REVERSE_MODES = ["grad", "value_and_grad", "vjp", "jacrev", "jit_grad"]

@pytest.mark.parametrize("mode", REVERSE_MODES)
def test_reverse_mode_traced_for_bound_raises(mode, rng):
    x = rng.normal(size=6)
    f = refscript.jit(prefix_square_sum, static_scalars=False)
    with pytest.raises(ReverseModeLoopError) as info:
        _reverse_mode_calls(f, x, 4)[mode]()
    assert_points_at(info.value, FOR_LINE)


@pytest.mark.parametrize("mode", REVERSE_MODES)
def test_reverse_mode_traced_while_raises(mode, rng):
    x = rng.normal(size=6)
    f = refscript.jit(traced_while_sum, static_scalars=False)
    with pytest.raises(ReverseModeLoopError) as info:
        _reverse_mode_calls(f, x, 4)[mode]()
    assert_points_at(info.value, WHILE_LINE)


def test_reverse_mode_traced_loop_raises_value_error(rng):
    # Whatever the exception class, reverse mode must refuse (ReverseModeLoopError is a ValueError).
    x = rng.normal(size=6)
    f = refscript.jit(prefix_square_sum, static_scalars=False)
    with pytest.raises(ValueError):
        jax.grad(f)(x, 4)


@pytest.mark.parametrize("fn, line", [(prefix_square_sum, FOR_LINE), (traced_while_sum, WHILE_LINE)])
def test_forward_mode_through_traced_loop(fn, line, rng):
    x = narrowed(rng.normal(size=6))
    snapshot = copies([x])
    f = refscript.jit(fn, static_scalars=False)
    for bound in (0, 3, 6):
        expected = numerical_grad(lambda v: fn(v.copy(), bound), x)
        np.testing.assert_allclose(np.asarray(jax.jacfwd(f)(x, bound)), expected, rtol=RTOL, atol=ATOL)
        tangent = narrowed(rng.normal(size=6))
        primal, out = jax.jvp(lambda v: f(v, bound), (x,), (tangent,))
        np.testing.assert_allclose(float(primal), fn(x.copy(), bound), rtol=VALUE_RTOL, atol=VALUE_ATOL)
        np.testing.assert_allclose(float(out), float(expected @ tangent), rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, [x])


def test_forward_mode_through_data_dependent_bound(rng):
    x = np.sort(rng.normal(size=6))[::-1].copy()
    f = refscript.jit(positive_prefix)
    np.testing.assert_allclose(np.asarray(jax.jacfwd(f)(x)), numerical_grad(positive_prefix, x),
                               rtol=RTOL, atol=ATOL)
    y = np.abs(rng.normal(size=5)) + 0.1
    g = refscript.jit(first_exceed)
    np.testing.assert_allclose(np.asarray(jax.jacfwd(lambda v: g(v, 1.0)[0])(y)),
                               numerical_grad(lambda v: first_exceed(v, 1.0)[0], y), rtol=RTOL, atol=ATOL)


def test_jacfwd_of_vector_output_with_traced_bound(rng):
    x = rng.normal(size=6)
    f = refscript.jit(prefix_cumsum, static_scalars=False)
    got = jax.jacfwd(f)(x, 4)
    np.testing.assert_allclose(np.asarray(got), fd_jacobian(lambda v: prefix_cumsum(v, 4), x),
                               rtol=RTOL, atol=ATOL)


def test_forward_over_forward_and_hessian_with_traced_bound(rng):
    x = rng.normal(size=5)
    f = refscript.jit(prefix_square_sum, static_scalars=False)
    got = jax.jacfwd(jax.jacfwd(f))(x, 3)
    np.testing.assert_allclose(np.asarray(got), fd_hessian(lambda v: prefix_square_sum(v, 3), x),
                               rtol=1e-5, atol=1e-6)
    # jax.hessian is jacfwd(jacrev(...)): reverse mode, so it must refuse with the location.
    with pytest.raises(ReverseModeLoopError) as info:
        jax.hessian(f)(x, 3)
    assert_points_at(info.value, FOR_LINE)


_compiled_prefix = refscript.jit(prefix_square_sum, static_scalars=False)


@jax.jit
def _jitted_prefix_user(x, n):
    return _compiled_prefix(x, n) * 2.0


def _wrapped_grad_calls():
    def grad_of_jax_jit(x):
        jax.grad(jax.jit(_compiled_prefix))(x, 4)

    def grad_of_jitted_caller(x):
        jax.grad(_jitted_prefix_user)(x, 4)

    def grad_of_vmap(x):
        jax.grad(lambda v: jnp.sum(jax.vmap(_compiled_prefix, in_axes=(0, None))(v, 4)))(jnp.stack([x, x]))

    def grad_of_checkpoint(x):
        jax.grad(jax.checkpoint(_compiled_prefix))(x, 4)

    return dict(jit=grad_of_jax_jit, jitted_caller=grad_of_jitted_caller, vmap=grad_of_vmap,
                checkpoint=grad_of_checkpoint)


@pytest.mark.parametrize("wrapper", ["jit", "jitted_caller", "vmap", "checkpoint"])
def test_reverse_mode_traced_loop_under_wrapper_raises(wrapper, rng):
    x = rng.normal(size=6)
    with pytest.raises(ReverseModeLoopError) as info:
        _wrapped_grad_calls()[wrapper](x)
    assert_points_at(info.value, FOR_LINE)


@pytest.mark.parametrize("wrapper", ["jit", "jitted_caller", "vmap", "checkpoint"])
def test_reverse_mode_traced_loop_under_wrapper_refuses(wrapper, rng):
    # Whatever the exception class, reverse mode must refuse rather than return a wrong gradient.
    x = rng.normal(size=6)
    with pytest.raises(ValueError):
        _wrapped_grad_calls()[wrapper](x)


def test_grad_of_output_not_through_traced_loop(rng):
    x = rng.normal(size=6)
    f = refscript.jit(loop_and_plain_output, static_scalars=False)
    got = jax.grad(lambda v: f(v, 4)[1])(x)
    expected = numerical_grad(lambda v: loop_and_plain_output(v, 4)[1], x)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL, atol=ATOL)


def test_grad_of_output_not_through_traced_loop_native_jax_works(rng):
    # The same program written with lax directly: JAX differentiates it (so refscript could too).
    x = rng.normal(size=6)

    def native(v, n):
        s = jax.lax.fori_loop(0, n, lambda i, s: s + v[i] * v[i], 0.0)
        return s, jnp.sum(v * v * v)

    got = jax.grad(lambda v: native(v, jnp.asarray(4))[1])(x)
    expected = numerical_grad(lambda v: loop_and_plain_output(v, 4)[1], x)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------
# The caller's arrays are never modified.
# --------------------------------------------------------------------------


def test_inplace_argument_updated_by_call_untouched_by_grad_and_vmap(rng):
    a, b = narrowed(rng.normal(size=6)), narrowed(rng.normal(size=6))
    python_args = copies([a, b])
    compiled = refscript.jit(inplace_argument)
    total = refscript.jit(inplace_argument_total)

    # A direct call leaves the NumPy argument as NumPy would (written in place).
    np.testing.assert_allclose(np.asarray(compiled(a, b)), inplace_argument(*python_args),
                               rtol=VALUE_RTOL, atol=VALUE_ATOL)
    np.testing.assert_allclose(a, python_args[0], rtol=VALUE_RTOL, atol=VALUE_ATOL)
    np.testing.assert_array_equal(b, python_args[1])
    # Under transformations the arguments are traced: nothing to write back into.
    snapshot = copies([a, b])

    with pytest.warns(refscript.errors.LostWriteWarning, match="writes into its argument 'a'"):
        got = jax.grad(total, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(np.asarray(got[0]), numerical_grad(lambda v: inplace_argument_total(v, b.copy()), a),
                               rtol=RTOL, atol=ATOL)
    (a64,) = float64_copies([a])  # the finite differences in float64 whatever the mode
    expected = numerical_grad(lambda v: inplace_argument_total(a64.copy(), v), b)
    np.testing.assert_allclose(np.asarray(got[1]), expected, rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, [a, b])

    with pytest.warns(refscript.errors.LostWriteWarning, match="outer JAX transformation"):
        jac = jax.jacfwd(compiled)(a, b)
    np.testing.assert_allclose(np.asarray(jac), fd_jacobian(lambda v: inplace_argument(v, b.copy()), a),
                               rtol=RTOL, atol=ATOL)
    assert_unchanged(snapshot, [a, b])

    batch = narrowed(rng.normal(size=(3, 6)))
    batch_snapshot = batch.copy()
    with writes_not_returned():
        check_vmap_axes(inplace_argument, (batch, b), (0, None))
    np.testing.assert_array_equal(batch, batch_snapshot)
    assert_unchanged(snapshot, [a, b])
