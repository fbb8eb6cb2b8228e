"""Plain Python is the oracle: run the undecorated function on NumPy copies and compare.

`check(fn, *args)` runs `fn` as plain Python on copies of the arguments and
through `refscript.jit` on other copies, then compares returned values and
dtypes, and the arrays each call leaves behind.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import refscript


@contextlib.contextmanager
def writes_not_returned():
    """Runs a transformation of a compiled function whose writes into its arguments cannot reach
    them (`refscript.errors.LostWriteWarning`): expected where only values are compared."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", refscript.errors.LostWriteWarning)
        yield


def x64() -> bool:
    """Whether the session runs with JAX's 64-bit mode on (tests/conftest.py; off with --x32)."""
    return bool(jax.config.jax_enable_x64)


def tolerances(rtol, atol):
    """The tolerances a comparison asked for, widened to float32's in 32-bit mode: NumPy and XLA
    round float32 sums in different orders."""
    if x64():
        return rtol, atol
    return max(rtol, 1e-4), max(atol, 1e-5)


def narrowed(value):
    """`value` as a 32-bit-mode user would pass it: a NumPy array or scalar of a 64-bit dtype
    becomes its 32-bit copy (float32, int32, uint32, complex64); anything else is returned as
    is. In 64-bit mode, `value` itself."""
    if x64():
        return value
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype != jax.dtypes.canonicalize_dtype(value.dtype):
        return value.astype(jax.dtypes.canonicalize_dtype(value.dtype))
    if isinstance(value, (list, tuple)):
        return type(value)(narrowed(v) for v in value)
    if isinstance(value, dict):
        return {k: narrowed(v) for k, v in value.items()}
    return value


def copies(args):
    """Deep copies of `args`, narrowed to 32 bits in 32-bit mode (`narrowed`): Python and refscript
    each get their own."""
    return [narrowed(copy.deepcopy(a)) for a in args]


def expected_dtype(value):
    """The dtype JAX gives a value the Python function returned (64-bit dtypes narrowed in
    32-bit mode)."""
    if isinstance(value, bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return jax.dtypes.canonicalize_dtype(np.int64)
    if isinstance(value, float):
        return jax.dtypes.canonicalize_dtype(np.float64)
    if isinstance(value, complex):
        return jax.dtypes.canonicalize_dtype(np.complex128)
    return jax.dtypes.canonicalize_dtype(np.asarray(value).dtype)


def assert_tree_close(got, expected, rtol=1e-12, atol=0.0):
    rtol, atol = tolerances(rtol, atol)
    got_leaves, got_tree = jax.tree_util.tree_flatten(got)
    exp_leaves, exp_tree = jax.tree_util.tree_flatten(expected)
    assert got_tree == exp_tree, f"structure differs: {got_tree} != {exp_tree}"
    for g, e in zip(got_leaves, exp_leaves):
        g_arr = np.asarray(g)
        assert g_arr.dtype == expected_dtype(e), f"dtype {g_arr.dtype} != {expected_dtype(e)} ({g!r} vs {e!r})"
        assert g_arr.shape == np.shape(e), f"shape {g_arr.shape} != {np.shape(e)}"
        if np.issubdtype(g_arr.dtype, np.inexact):
            np.testing.assert_allclose(g_arr, np.asarray(e), rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g_arr, np.asarray(e))


# The lowerings a compiled function runs, each compared with Python by `check`:
# - "plain": a direct call, the forward-only lowering where it differs (api.JitFunction._run_pure);
# - "checked": `checks=True`, the lowering with run-time checks;
# - "differentiable": the lowering that jax.jvp, grad and value_and_grad run, forced for a direct
#   call with `disable=("forward_only",)` (its primal, without compiling derivatives).
LOWERINGS = ("plain", "checked", "differentiable")


def lowering_options(lowering, jit_options) -> dict:
    """The options of `refscript.jit` that `run_lowering` compiles with for `lowering`."""
    if lowering == "checked":
        return {**jit_options, "checks": True}
    if lowering == "differentiable":
        return {**jit_options, "disable": tuple(jit_options.get("disable", ())) + ("forward_only",)}
    return dict(jit_options)


_cache: collections.OrderedDict = collections.OrderedDict()


def _compiled(fn, options: dict):
    """`refscript.jit(fn, **options)`, kept for the next check of the same function with the same
    options (a parametrised test checks one function on many arguments: one compilation per
    shape and static value, as a user's program would make)."""
    try:
        key = (fn, tuple(sorted(options.items())))
        hash(key)
    except TypeError:
        return refscript.jit(fn, **options)
    compiled = _cache.pop(key, None) or refscript.jit(fn, **options)
    _cache[key] = compiled
    while len(_cache) > 64:
        _cache.popitem(last=False)
    return compiled


def run_lowering(lowering, fn, args, compiled=None, **jit_options):
    """Returns `(result, arguments after, compiled function)` of `fn` compiled and run on copies
    of `args` through `lowering` (one of `LOWERINGS`). `compiled`:
    `refscript.jit(fn, **lowering_options(lowering, jit_options))` made already."""
    mine = copies(args)
    if compiled is None:
        compiled = _compiled(fn, lowering_options(lowering, jit_options))
    return compiled(*mine), mine, compiled


def check(fn, *args, rtol=1e-12, atol=0.0, lowerings=LOWERINGS, **jit_options):
    """Asserts `refscript.jit(fn)` does what `fn` does on copies of `args`, through each of
    `lowerings`; returns the first one's result.

    Compares the returned values and dtypes, and the arrays each call leaves behind: a NumPy
    array the function writes into must end as NumPy leaves it. The arrays in `args`
    themselves are never passed, so they stay as they are. The differentiable lowering is
    skipped where the plain call ran it already (`JitFunction.lowerings == 1`: plain calls and
    derivatives run the same program).
    """
    python_args = copies(args)
    expected = fn(*python_args)
    rtol, atol = tolerances(rtol, atol)
    first, one_program = None, False
    for lowering in lowerings:
        if lowering == "differentiable" and one_program:
            continue
        got, compiled_args, compiled = run_lowering(lowering, fn, args, **jit_options)
        try:
            assert_tree_close(got, expected, rtol=rtol, atol=atol)
            for after_python, after_compiled in zip(python_args, compiled_args):
                if isinstance(after_python, np.ndarray):
                    np.testing.assert_allclose(after_compiled, after_python, rtol=rtol, atol=atol,
                                               err_msg="an argument array ends differently than in Python")
        except AssertionError as error:
            raise AssertionError(f"the {lowering} lowering differs from Python: {error}") from None
        if lowering == "plain":
            one_program = compiled.lowerings == 1
        first = got if first is None else first
    return first


def numerical_grad(f, x, eps=1e-6):
    """Central finite differences of scalar `f` at float64 array `x`."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = eps
        grad[idx] = (float(f(x + step)) - float(f(x - step))) / (2 * eps)
    return grad


def check_grad(fn, x, *rest, argnum=0, rtol=1e-6, atol=1e-8, **jit_options):
    """Asserts `jax.grad` of the compiled `fn` (a scalar function) matches finite differences."""
    compiled = refscript.jit(fn, **jit_options)
    narrowed_rest = copies(rest)

    def scalar(v):
        args = list(narrowed_rest)
        args.insert(argnum, v)
        return compiled(*args)

    with writes_not_returned():
        got = jax.grad(scalar)(jnp.asarray(narrowed(np.asarray(x, np.float64))))
    # The finite differences are Python's, in float64 whatever the mode: in 32-bit mode the
    # float32 gradient is compared with them at float32's tolerance.
    # (A function that computes through JAX, jax.numpy or a compiled call, gives float32 values in
    # 32-bit mode: a step of 1e-6 would leave rounding noise, so the step is 1e-3 there.)
    expected = numerical_grad(lambda v: fn(*_insert(rest, argnum, v.copy())), x, eps=1e-6 if x64() else 1e-3)
    if not x64():
        rtol, atol = max(rtol, 1e-3), max(atol, 1e-4)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=rtol, atol=atol)
    return got


def _insert(rest, argnum, value):
    args = [copy.deepcopy(a) for a in rest]
    args.insert(argnum, value)
    return args


def check_vmap(fn, batched, *rest, in_axis=0, rtol=1e-12, atol=0.0, **jit_options):
    """Asserts `jax.vmap` of the compiled `fn` over `batched` equals a Python loop over the batch."""
    compiled = refscript.jit(fn, **jit_options)
    rtol, atol = tolerances(rtol, atol)
    batched, rest = narrowed(np.asarray(batched)), copies(rest)
    with writes_not_returned():
        got = jax.vmap(lambda b: compiled(b, *rest), in_axes=in_axis)(batched)
    moved = np.moveaxis(batched, in_axis, 0)
    expected = [fn(np.array(b), *copies(rest)) for b in moved]
    expected = jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *expected) if expected else None
    got_leaves = jax.tree_util.tree_leaves(got)
    exp_leaves = jax.tree_util.tree_leaves(expected)
    assert len(got_leaves) == len(exp_leaves)
    for g, e in zip(got_leaves, exp_leaves):
        np.testing.assert_allclose(np.asarray(g), e, rtol=rtol, atol=atol)
    return got
