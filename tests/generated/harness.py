"""Running generated programs: load the source as a real module, run it as plain
Python on NumPy copies and through `refscript.jit`, and compare.

Used by `test_generated_programs.py` and `test_regressions.py`.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import copy
import hashlib
import os
import shutil
import signal
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

import refscript
from tests.modules import import_file
from tests.oracle import LOWERINGS, narrowed, run_lowering, writes_not_returned, x64

# float64 results within this relative tolerance; ints, bools and dtypes exactly.
RTOL = 1e-12
# Below this magnitude a float64 result is compared absolutely (a cancellation
# can leave a value that is a rounding error of large intermediates).
ATOL = 1e-12

_DIR = tempfile.mkdtemp(prefix="refscript-generated-")
atexit.register(shutil.rmtree, _DIR, True)

_modules: collections.OrderedDict[str, object] = collections.OrderedDict()
_jitted: collections.OrderedDict[tuple, object] = collections.OrderedDict()
_CACHE_SIZE = 32


def load(source: str):
    """Imports `source` from a file (refscript reads functions' source files); cached."""
    key = hashlib.sha1(source.encode()).hexdigest()[:16]
    module = _modules.get(key)
    if module is not None:
        _modules.move_to_end(key)
        return module
    path = os.path.join(_DIR, f"gen_{key}.py")
    with open(path, "w") as file:
        file.write(source)
    module = import_file(path, f"refscript_generated_{key}")
    _modules[key] = module
    while len(_modules) > _CACHE_SIZE:
        _modules.popitem(last=False)
    return module


# `refscript.jit(vectorize=...)` for the programs: the tests of vectorize=True set it
# (`vectorizing`); VECTORIZED counts the programs in which a loop was vectorised.
OPTIONS = {"vectorize": False}
VECTORIZED = collections.Counter()


@contextlib.contextmanager
def vectorizing():
    """Compiles the programs with `vectorize=True` while it is active."""
    OPTIONS["vectorize"] = True
    try:
        yield
    finally:
        OPTIONS["vectorize"] = False


class _Counting:
    """A `refscript.jit(vectorize=True)` function that counts, in `VECTORIZED`, the calls whose
    trace vectorised a loop ("vectorised") and those that did not ("sequential")."""

    def __init__(self, jitted):
        self.jitted = jitted

    def __call__(self, *args, **kwargs):
        out = self.jitted(*args, **kwargs)
        vectorised = any("vectorised automatically" in what for _, what in self.jitted.parallel_loops)
        VECTORIZED["vectorised" if vectorised else "sequential"] += 1
        return out

    def __getattr__(self, name):
        return getattr(self.jitted, name)


def compiled(source: str, static_scalars: bool = True, entry: str = "f"):
    """`refscript.jit` of the entry point of `source`; cached so replays reuse the compilation."""
    vectorize = OPTIONS["vectorize"]
    key = (source, static_scalars, entry, vectorize)
    fn = _jitted.get(key)
    if fn is None:
        fn = refscript.jit(getattr(load(source), entry), static_scalars=static_scalars, vectorize=vectorize)
        if vectorize:
            fn = _Counting(fn)
        _jitted[key] = fn
        while len(_jitted) > _CACHE_SIZE:
            _jitted.popitem(last=False)
    else:
        _jitted.move_to_end(key)
    return fn


def copies(args):
    """Deep copies of `args`; in JAX's 32-bit mode (`pytest --x32`) their 64-bit NumPy arrays and
    scalars are narrowed to 32 bits, as a user of that mode passes them (tests/oracle.py)."""
    return [narrowed(copy.deepcopy(a)) for a in args]


def tolerances(rtol, atol):
    """float64's tolerances, or float32's in 32-bit mode (random programs chain a few dozen
    operations, each rounding in its own order in NumPy and XLA)."""
    return (rtol, atol) if x64() else (max(rtol, 1e-4), max(atol, 1e-4))


def expected_dtype(value):
    """The dtype JAX gives a value the plain-Python function returned (64-bit dtypes narrowed in
    32-bit mode)."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(value, int):
        return jax.dtypes.canonicalize_dtype(np.int64)
    if isinstance(value, float):
        return jax.dtypes.canonicalize_dtype(np.float64)
    return jax.dtypes.canonicalize_dtype(np.asarray(value).dtype)


def describe(args) -> str:
    return "(" + ", ".join(_repr(a) for a in args) + ")"


def _repr(value):
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype})"
    if isinstance(value, np.generic):
        return f"np.{value.dtype}({value.item()!r})"
    return repr(value)


class GeneratorError(Exception):
    """The plain-Python run of a generated program failed: the generator is wrong, not refscript."""


class PythonTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds, exception=PythonTimeout):
    """Raises `exception` in the main thread after `seconds` (only while Python code runs)."""

    def expire(signum, frame):
        raise exception(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_python(fn, args, return_arguments=False, narrow=True):
    """`fn(*copies of args)`; with `return_arguments`, also the copies as the call left them.
    `narrow=False`: copies as they are, never narrowed to 32 bits (finite differences).

    Runs before refscript's run on the same arguments, under a time limit, so that a
    generated program that does not terminate (a generator bug) fails instead of hanging."""
    mine = copies(args) if narrow else [copy.deepcopy(a) for a in args]
    try:
        with time_limit(20):
            result = fn(*mine)
        return (result, mine) if return_arguments else result
    except Exception as error:
        raise GeneratorError(f"plain Python raised {type(error).__name__}: {error}") from error


def compare(got, expected, rtol=RTOL, atol=ATOL, batched=False) -> str | None:
    """Returns why `got` (from refscript) differs from `expected` (plain Python), or None."""
    rtol, atol = tolerances(rtol, atol)
    got_leaves, got_tree = jax.tree_util.tree_flatten(got)
    exp_leaves, exp_tree = jax.tree_util.tree_flatten(expected)
    if got_tree != exp_tree:
        return f"structure {got_tree} != {exp_tree}"
    for k, (g, e) in enumerate(zip(got_leaves, exp_leaves)):
        g_arr = np.asarray(g)
        e_dtype = jax.dtypes.canonicalize_dtype(np.asarray(e).dtype) if batched else expected_dtype(e)
        e_arr = np.asarray(e)
        if g_arr.dtype != e_dtype:
            return f"result {k}: dtype {g_arr.dtype} != {e_dtype} (got {g_arr!r}, expected {e!r})"
        if g_arr.shape != e_arr.shape:
            return f"result {k}: shape {g_arr.shape} != {e_arr.shape} (got {g_arr!r}, expected {e!r})"
        if np.issubdtype(g_arr.dtype, np.inexact):
            if not np.allclose(g_arr, e_arr, rtol=rtol, atol=atol, equal_nan=False):
                return f"result {k}: got {g_arr!r}, expected {e_arr!r}"
        elif not np.array_equal(g_arr, e_arr):
            return f"result {k}: got {g_arr!r}, expected {e_arr!r}"
    return None


def failure(kind, source, args, detail) -> str:
    return f"{kind}: {detail}\narguments: {describe(args)}\nprogram:\n{source}"


def check_values(source, args_list, static_scalars=True, entry="f", lowerings=LOWERINGS):
    """Asserts refscript and plain Python agree on every argument tuple, through each of
    `lowerings` (tests/oracle.py: the plain call, `checks=True`, and the differentiable
    lowering's primal where it is another program): returned values and dtypes, and the
    final contents of the NumPy array arguments (refscript writes back into a NumPy argument
    the function writes into, as NumPy would leave it)."""
    fn = getattr(load(source), entry)
    jitted = compiled(source, static_scalars, entry)
    options = {"static_scalars": static_scalars, "vectorize": OPTIONS["vectorize"]}
    for args in args_list:
        args = copies(args)  # narrowed in 32-bit mode: Python and refscript get the same values
        expected, python_args = run_python(fn, args, return_arguments=True)
        before = copies(args)
        for lowering in lowerings:
            if lowering == "plain":
                got, after = jitted(*args), args
            elif lowering == "differentiable" and jitted.lowerings == 1:
                continue  # the plain call ran the same program
            else:  # (the oracle keeps the compiled function for a program drawn again)
                got, after, _ = run_lowering(lowering, fn, before, **options)
            why = compare(got, expected)
            assert why is None, failure(f"refscript ({lowering} lowering) differs from Python", source, before, why)
            for k, (arg, python_arg) in enumerate(zip(after, python_args)):
                if isinstance(arg, np.ndarray):
                    why = compare(arg, python_arg, batched=True)
                    assert why is None, failure(
                        f"argument {k} after the call ({lowering} lowering) differs from Python's", source, before,
                        why)


# Gradients.

FD_EPS = 1e-6


def _float_leaves(expected):
    leaves = jax.tree_util.tree_leaves(expected)
    return [k for k, leaf in enumerate(leaves) if np.issubdtype(expected_dtype(leaf), np.floating)]


def _objective(out, positions, xp):
    leaves = jax.tree_util.tree_leaves(out)
    total = 0.0
    for weight, k in enumerate(positions):
        total = total + (1.0 + 0.5 * weight) * xp.sum(xp.asarray(leaves[k]))
    return total


def check_grad(source, args, diff_positions, static_scalars=True, entry="f", outer_jit=True):
    """Asserts `jax.grad` of a weighted sum of the float results, with respect to the
    float arguments, matches central finite differences of the plain-Python function.

    Coordinates where the function is not smooth (the one-sided differences disagree:
    a branch boundary, a kink of abs/min/max, a jump of int()) are skipped. `outer_jit`:
    differentiate under an outer `jax.jit` (one compilation) or eagerly."""
    fn = getattr(load(source), entry)
    jitted = compiled(source, static_scalars, entry)
    expected = run_python(fn, args)
    positions = _float_leaves(expected)
    if not positions or not diff_positions:
        return 0

    def python_objective(args):
        return float(_objective(run_python(fn, args, narrow=False), positions, np))

    narrowed_args = copies(args)

    def with_values(values):
        full = list(narrowed_args)
        for p, v in zip(diff_positions, values):
            full[p] = v
        return full

    def jax_objective(*values):
        return _objective(jitted(*with_values(values)), positions, jnp)

    f0 = python_objective(args)
    # In 32-bit mode the gradient is taken at the float32 point and compared with float64 finite
    # differences at float32's tolerance.
    primal = [jnp.asarray(narrowed(np.asarray(args[p], np.float64))) for p in diff_positions]
    rel, absolute = (1e-5, 1e-9) if x64() else (2e-3, 1e-4)
    check_grad.last = (jax_objective, primal)  # for check_second_order
    grad = jax.grad(jax_objective, argnums=tuple(range(len(primal))))
    with writes_not_returned():
        grads = (jax.jit(grad) if outer_jit else grad)(*primal)
    checked = skipped = 0
    for which, p in enumerate(diff_positions):
        base = np.asarray(args[p], dtype=np.float64)
        got = np.asarray(grads[which])
        for idx in np.ndindex(base.shape):
            def at(delta, base=base, idx=idx, p=p):
                moved = base.copy()
                moved[idx] += delta
                value = moved if isinstance(args[p], np.ndarray) else float(moved)
                full = list(args)
                full[p] = value
                return python_objective(full)

            plus, minus = at(FD_EPS), at(-FD_EPS)
            forward, backward = (plus - f0) / FD_EPS, (f0 - minus) / FD_EPS
            central = (plus - minus) / (2 * FD_EPS)
            scale = 1.0 + abs(central)
            if abs(forward - backward) > 1e-3 * scale:
                skipped += 1
                continue  # not differentiable here
            tol = rel * scale + absolute * (1.0 + abs(f0))
            g = float(got[idx])
            assert abs(g - central) <= tol, failure(
                "jax.grad differs from finite differences", source, args,
                f"d/d {p}th argument{list(idx)}: grad {g!r}, finite differences {central!r}")
            checked += 1
    check_grad.smooth = skipped == 0
    return checked


def check_second_order(source, args):
    """`jax.test_util.check_grads` of order 2, forward and reverse mode, on the objective
    of the last `check_grad` (call it right after one that found the function smooth
    along every coordinate: the numerical derivatives along random directions would
    otherwise cross a branch boundary)."""
    from jax.test_util import check_grads

    objective, primal = check_grad.last
    try:
        if x64():
            check_grads(objective, tuple(primal), order=2, modes=("fwd", "rev"), eps=1e-4, atol=1e-4, rtol=1e-4)
        else:  # float32: a wider step (rounding error / eps) and float32's tolerance
            check_grads(objective, tuple(primal), order=2, modes=("fwd", "rev"), eps=1e-2, atol=2e-2, rtol=2e-2)
    except AssertionError as error:
        raise AssertionError(failure("jax.test_util.check_grads (order 2, fwd and rev) failed", source, args,
                                     str(error)[:2000])) from None


# vmap.


def check_vmap(source, batch, static_scalars, batched_positions, entry="f", axes=None, size=None):
    """Asserts `jax.vmap` of the compiled program over the traced arguments equals a
    Python loop over the batch. `batch` lists argument tuples that agree on the static
    (unbatched) arguments. `axes` maps a traced position to its batch axis: 0, 1 (arrays
    only) or None (not batched: every element of the batch gets `batch[0]`'s value);
    default 0. `size=0` checks an empty batch (shapes and dtypes of the results)."""
    fn = getattr(load(source), entry)
    jitted = compiled(source, static_scalars, entry)
    batch = [tuple(copies(args)) for args in batch]  # narrowed in 32-bit mode
    first = batch[0]
    axes = {p: (axes or {}).get(p, 0) for p in batched_positions}
    batch = [tuple(first[p] if axes.get(p, 0) is None else a for p, a in enumerate(args)) for args in batch]
    empty = size == 0

    def stacked(p):
        if axes[p] is None:
            return narrowed(np.asarray(first[p]))
        values = [np.asarray(args[p]) for args in batch]
        array = narrowed(np.stack(values, axis=axes[p]))  # Python floats stack to float64
        return np.take(array, np.arange(0), axis=axes[p]) if empty else array

    def call(*values):
        full = list(first)
        for p, v in zip(batched_positions, values):
            full[p] = v
        return jitted(*full)

    results = [run_python(fn, args) for args in batch]
    in_axes = tuple(axes[p] for p in batched_positions)
    with writes_not_returned():
        got = jax.vmap(call, in_axes=in_axes)(*[stacked(p) for p in batched_positions])
    expected = jax.tree_util.tree_map(
        lambda *xs: np.stack([np.asarray(x, dtype=expected_dtype(x)) for x in xs]), *results)
    if empty:
        expected = jax.tree_util.tree_map(lambda x: x[:0], expected)
    why = compare(got, expected, batched=True)
    assert why is None, failure(
        f"jax.vmap (batch of {0 if empty else len(batch)}, in_axes {in_axes}) differs from a Python loop",
        source, batch, why)
