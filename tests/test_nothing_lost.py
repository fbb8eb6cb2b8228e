"""Nothing lost: a failed call leaves the caller's arrays as they were, conversion touches
nothing of the user's, and repeated calls do not trace again.

- Every array a failing call was given is unchanged byte for byte (compared with a
  copy taken before the call), including the arrays the function writes into
  before the point where it fails: bad arguments, errors while tracing, and
  failed run-time checks (`refscript.jit(f, checks=True)`).
- Converting, compiling and calling a function (successfully or not, under
  `grad`/`vmap` too) leaves its module's globals and the function object itself
  (code, defaults, `__dict__`, globals, closure cells) as they were.
- `trace_count`, and a Python side effect in a called helper (it runs once per
  trace), count traces across repeated calls.

Every function here runs as plain Python too: where a call succeeds, the arrays it
leaves are compared with what NumPy leaves (tests/oracle.py).
"""

from __future__ import annotations

import sys
import textwrap
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from refscript.errors import CheckFailedError, RefscriptError
from oracle import assert_tree_close, check, narrowed
from tests.modules import import_source


class Snapshot:
    """Copies of arrays (contents, dtype, shape, strides, writeable flag) to compare with later."""

    def __init__(self, *arrays):
        self.arrays = arrays
        self.copies = [(a.copy(), a.dtype, a.shape, a.strides, a.flags.writeable) for a in arrays]

    def assert_unchanged(self):
        for index, (array, (copy, dtype, shape, strides, writeable)) in enumerate(zip(self.arrays, self.copies)):
            assert (array.dtype, array.shape, array.strides) == (dtype, shape, strides), f"argument {index}"
            assert array.flags.writeable == writeable, f"argument {index}: writeable flag changed"
            assert array.tobytes() == copy.tobytes(), f"argument {index} changed by a failed call"


def assert_python_fails_too(fn, *args, error=Exception):
    """The oracle fails on copies as well (the failure is the program's, not refscript's)."""
    with pytest.raises(error):
        fn(*[np.array(a) if isinstance(a, np.ndarray) else a for a in args])


# --------------------------------------------------------------------------------------
# Failing calls leave every argument as it was


def fill_then_combine(a, b, x):
    """Writes into `a` and `b` in a loop, then needs `x` to have a compatible shape."""
    for i in range(a.shape[0]):
        a[i] = a[i] * 2.0 + 1.0
        b[i] += a[i]
    return a @ x


def writes_then_static_index(a, b, i):
    a[0] = 99.0
    b[0] = -1.0
    return a[i]  # static index: out of bounds for i >= len(a)


def writes_then_raises(a, n):
    for i in range(a.shape[0]):
        a[i] = i * 3.0
    if n > 2:  # static: Python's own raise, while tracing
        raise ValueError("n must be at most 2")
    return a.sum()


def writes_then_concretizes(a, x):
    for i in range(a.shape[0]):
        a[i] = x[i] + 1.0
    return a.tolist()  # a traced array cannot become a Python list


def writes_then_unbound(a, x):
    for i in range(a.shape[0]):
        a[i] = x[i]
    if x[0] > 0.0:
        y = 1.0
    return y  # noqa: F821 (bound on one path only: a refscript error while tracing)


def writes_then_bad_shape(a, x):
    for i in range(a.shape[0]):
        a[i] = -x[i]
    a[0] = x  # a whole array into one element
    return a


def _helper_writing_its_argument(v):
    v[0] = 0.0
    return v


def writes_then_calls_writing_helper(a, x):
    a[0] = 5.0
    return _helper_writing_its_argument(x)


def checked_accumulate(a, x):
    s = 0.0
    for i in range(x.shape[0]):
        a[i] = s
        assert x[i] >= 0.0, "negative entry"
        s += x[i]
    return s


def checked_two_outputs(a, b, x):
    for i in range(x.shape[0]):
        a[i] += x[i]
        b[i] -= x[i]
    assert x[0] < 100.0, "too large"
    return a.sum()


@pytest.fixture
def arrays(rng):
    return narrowed(rng.normal(size=4)), narrowed(rng.normal(size=4))


def test_shape_mismatch_after_writes(arrays):
    a, b = arrays
    x = narrowed(np.ones(5))  # a @ x needs 4 entries
    snapshot = Snapshot(a, b, x)
    assert_python_fails_too(fill_then_combine, a, b, x, error=ValueError)
    with pytest.raises(TypeError):
        refscript.jit(fill_then_combine)(a, b, x)
    snapshot.assert_unchanged()
    check(fill_then_combine, a, b, np.ones(4))  # the right shape: written as NumPy writes


@pytest.mark.parametrize("bad", [np.array(["a", "b", "c", "d"]), np.array([object()] * 4, dtype=object)],
                         ids=["str", "object"])
def test_argument_of_untraceable_dtype(arrays, bad):
    a, b = arrays
    snapshot = Snapshot(a, b)
    with pytest.raises(TypeError):
        refscript.jit(fill_then_combine)(a, b, bad)
    snapshot.assert_unchanged()


def test_wrong_arguments(arrays):
    a, b = arrays
    snapshot = Snapshot(a, b)
    compiled = refscript.jit(fill_then_combine)
    with pytest.raises(TypeError):
        compiled(a, b)
    with pytest.raises(TypeError):
        compiled(a, b, np.ones(4), np.ones(4))
    with pytest.raises(TypeError):
        compiled(a, b, y=np.ones(4))
    snapshot.assert_unchanged()


@pytest.mark.parametrize("read_only", [0, 1])
def test_read_only_argument_among_written_ones(arrays, read_only):
    """One read-only array makes the call fail like NumPy; the writable ones are not written either."""
    a, b = arrays
    (a, b)[read_only].setflags(write=False)
    snapshot = Snapshot(a, b)
    with pytest.raises(ValueError, match="read-only"):
        refscript.jit(fill_then_combine)(a, b, narrowed(np.ones(4)))
    snapshot.assert_unchanged()


def test_static_index_out_of_bounds_after_writes(arrays):
    a, b = arrays
    snapshot = Snapshot(a, b)
    assert_python_fails_too(writes_then_static_index, a, b, 7, error=IndexError)
    with pytest.raises(IndexError):
        refscript.jit(writes_then_static_index)(a, b, 7)
    snapshot.assert_unchanged()
    check(writes_then_static_index, a, b, 3)


def test_python_raise_while_tracing(arrays):
    a, _ = arrays
    snapshot = Snapshot(a)
    compiled = refscript.jit(writes_then_raises)
    with pytest.raises(ValueError, match="at most 2"):
        compiled(a, 3)
    snapshot.assert_unchanged()
    check(writes_then_raises, a, 2)


def test_concretization_error_while_tracing(arrays):
    a, x = arrays
    snapshot = Snapshot(a, x)
    with pytest.raises(jax.errors.ConcretizationTypeError):
        refscript.jit(writes_then_concretizes)(a, x)
    snapshot.assert_unchanged()


def test_refscript_error_while_tracing(arrays):
    a, x = arrays
    x[0] = 1.0  # Python itself succeeds on this path; the compiled function cannot know the path
    snapshot = Snapshot(a, x)
    with pytest.raises(RefscriptError):
        refscript.jit(writes_then_unbound)(a, x)
    snapshot.assert_unchanged()


def test_shape_error_in_an_element_write(arrays):
    a, x = arrays
    snapshot = Snapshot(a, x)
    assert_python_fails_too(writes_then_bad_shape, a, x, error=ValueError)
    with pytest.raises((TypeError, ValueError)):
        refscript.jit(writes_then_bad_shape)(a, x)
    snapshot.assert_unchanged()


def test_conversion_error_in_a_called_function(arrays):
    a, x = arrays
    snapshot = Snapshot(a, x)
    with pytest.raises(RefscriptError, match="writes into its argument"):
        refscript.jit(writes_then_calls_writing_helper)(a, x)
    snapshot.assert_unchanged()


def test_failed_run_time_check(rng):
    a = narrowed(rng.normal(size=5))
    x = narrowed(np.abs(rng.normal(size=5)))
    x[3] = -1.0
    snapshot = Snapshot(a, x)
    assert_python_fails_too(checked_accumulate, a, x, error=AssertionError)
    compiled = refscript.jit(checked_accumulate, checks=True)
    with pytest.raises(CheckFailedError, match="negative entry"):
        compiled(a, x)
    snapshot.assert_unchanged()
    # The same compiled function still writes back when the check passes.
    good = np.abs(x)
    expected_a = a.copy()
    expected = checked_accumulate(expected_a, good.copy())
    assert_tree_close(compiled(a, good), expected)
    np.testing.assert_array_equal(a, expected_a)
    assert compiled.trace_count == 1  # the failed run and the good one share a trace


def test_failed_run_time_check_with_several_written_arguments(rng):
    a, b = narrowed(rng.normal(size=3)), narrowed(rng.normal(size=3))
    x = narrowed(np.array([200.0, 1.0, 2.0]))
    snapshot = Snapshot(a, b, x)
    compiled = refscript.jit(checked_two_outputs, checks=True)
    with pytest.raises(CheckFailedError, match="too large"):
        compiled(a, b, x)
    snapshot.assert_unchanged()
    with pytest.raises(CheckFailedError):
        refscript.jit(checked_two_outputs, checks=True, return_updates=True)(a, b, x)
    snapshot.assert_unchanged()


def test_failed_call_with_jax_and_numpy_arguments(rng):
    a = narrowed(rng.normal(size=4))
    b = jnp.asarray(rng.normal(size=4))
    b_before = np.asarray(b).copy()
    snapshot = Snapshot(a)
    with pytest.raises(TypeError):
        refscript.jit(fill_then_combine)(a, b, narrowed(np.ones(2)))
    snapshot.assert_unchanged()
    np.testing.assert_array_equal(np.asarray(b), b_before)


def test_failure_then_success_writes_exactly_once(arrays):
    """A failed call leaves no pending writes behind that a later call would apply."""
    a, b = arrays
    compiled = refscript.jit(fill_then_combine)
    with pytest.raises(TypeError):
        compiled(a.copy(), b.copy(), narrowed(np.ones(3)))
    expected_a, expected_b = a.copy(), b.copy()
    expected = fill_then_combine(expected_a, expected_b, narrowed(np.ones(4)))
    assert_tree_close(compiled(a, b, narrowed(np.ones(4))), expected)
    np.testing.assert_array_equal(a, expected_a)
    np.testing.assert_array_equal(b, expected_b)


# --------------------------------------------------------------------------------------
# Arguments that share memory

def write_both(a, b):
    a[0] = 1.0
    b[1] = 2.0


def write_then_read_other(a, b):
    a[0] = 5.0
    return b[0] * 1.0


def test_one_array_passed_twice_keeps_both_writes():
    # Each argument would be compiled as its own array and written back whole, so the
    # last write-back would erase the other's writes: refused, nothing written.
    check(write_both, np.zeros(3), np.zeros(3))  # distinct arrays: fine
    x = narrowed(np.zeros(3))
    with pytest.raises(refscript.errors.AliasedArgumentError, match="share memory") as info:
        refscript.jit(write_both)(x, x)
    assert isinstance(info.value, ValueError)
    np.testing.assert_array_equal(x, np.zeros(3))
    with pytest.raises(refscript.errors.AliasedArgumentError):
        refscript.jit(write_both)(x[:2], x[1:])  # overlapping views of one buffer


def test_one_array_passed_twice_reads_its_own_write():
    # Python sees the write through the other name; the compiled function could not.
    x = narrowed(np.zeros(3))
    with pytest.raises(refscript.errors.AliasedArgumentError, match="writes into 'a'"):
        refscript.jit(write_then_read_other)(x, x)
    np.testing.assert_array_equal(x, np.zeros(3))
    assert refscript.jit(write_then_read_other)(x, x.copy()) == 0.0
    assert x[0] == 5.0


# --------------------------------------------------------------------------------------
# Conversion touches nothing of the user's

USER_MODULE = '''
import jax
import numpy as np

FLOAT = jax.dtypes.canonicalize_dtype(np.float64)  # float32 in JAX's 32-bit mode
SCALE = 2.0
TABLE = np.arange(4.0)
CALLS = []


def helper(v, k=3.0):
    return v * k + TABLE[0]


def make_scaled(factor):
    offset = np.ones(4)

    def scaled(x, *, shift=0.5):
        s = 0.0
        for i in range(x.shape[0]):
            s += helper(x[i]) * factor + offset[i] * shift
        return s

    return scaled


def kernel(x, n=2, weights=np.linspace(0.0, 1.0, 4, dtype=FLOAT)):
    """Docstring kept."""
    out = x.copy()
    for i in range(1, x.shape[0]):
        if out[i - 1] > 0.0:
            out[i] += out[i - 1] * weights[i] * SCALE
        else:
            out[i] -= TABLE[i] * n
    square = lambda v: v * v
    return out, square(out[0])


kernel.attribute = {"kept": True}
scaled = make_scaled(1.5)
'''


def _load_module(tmp_path, name, source):
    return import_source(textwrap.dedent(source), tmp_path / f"{name}.py")


def _function_state(fn):
    """What a function object holds, by identity where identity matters."""
    return {
        "code": fn.__code__,
        "code_fields": (fn.__code__.co_code, fn.__code__.co_consts, fn.__code__.co_names,
                        fn.__code__.co_firstlineno, fn.__code__.co_filename),
        "defaults": fn.__defaults__,
        "default_values": [np.array(d).tobytes() for d in fn.__defaults__ or ()],
        "kwdefaults": None if fn.__kwdefaults__ is None else dict(fn.__kwdefaults__),
        "dict": dict(fn.__dict__),
        "globals": fn.__globals__,
        "closure": fn.__closure__,
        "cells": [cell.cell_contents for cell in fn.__closure__ or ()],
        "names": (fn.__name__, fn.__qualname__, fn.__module__, fn.__doc__),
        "annotations": dict(fn.__annotations__),
    }


def _assert_same_state(before, after):
    for key in before:
        if key in ("code", "defaults", "globals", "closure"):
            assert after[key] is before[key], key
        elif key == "cells":
            assert len(after[key]) == len(before[key])
            assert all(x is y for x, y in zip(after[key], before[key])), key
        else:
            assert after[key] == before[key], key


def test_conversion_and_calls_leave_module_and_functions_alone(tmp_path, rng):
    module = _load_module(tmp_path, "nothing_lost_user_module", USER_MODULE)
    functions = [module.kernel, module.scaled, module.helper, module.make_scaled]
    namespace = dict(vars(module))
    table = module.TABLE.copy()
    states = [_function_state(fn) for fn in functions]

    x = narrowed(rng.normal(size=4))
    kernel = refscript.jit(module.kernel)
    scaled = refscript.jit(module.scaled)
    check(module.kernel, x, 3)
    check(module.scaled, x)
    kernel(x, 2)
    scaled(x, shift=2.0)
    jax.grad(lambda v: kernel(v)[1])(x)
    jax.vmap(scaled)(np.stack([x, 2 * x]))
    refscript.make_jaxpr(kernel)(x)
    refscript.converted_source(module.helper)
    with pytest.raises((TypeError, ValueError)):
        kernel(narrowed(np.ones((2, 2))), narrowed(np.ones(3)))  # a branch on a row: ambiguous truth value
    with pytest.raises(TypeError):
        scaled(x, shift="a")  # a str static argument, multiplied while tracing

    assert vars(module).keys() == namespace.keys()
    for name, value in namespace.items():
        assert vars(module)[name] is value, name
    np.testing.assert_array_equal(module.TABLE, table)
    assert module.CALLS == []
    for fn, state in zip(functions, states):
        _assert_same_state(state, _function_state(fn))
    assert "nothing_lost_user_module" not in sys.modules  # never imported by name, nor registered


GLOBAL_BUFFER = np.zeros(3)


def writes_a_global_array(x):
    for i in range(3):
        GLOBAL_BUFFER[i] = x[i]
    return x.sum()


def test_write_into_a_global_array_is_an_error_and_writes_nothing(rng):
    """Python would fill the global; compiled code cannot, and says so instead of dropping the writes."""
    before = GLOBAL_BUFFER.copy()
    with pytest.raises(RefscriptError):
        refscript.jit(writes_a_global_array)(narrowed(rng.normal(size=3)))
    np.testing.assert_array_equal(GLOBAL_BUFFER, before)


def test_decorating_leaves_the_original_reachable_and_unchanged(tmp_path):
    module = _load_module(tmp_path, "nothing_lost_decorated", '''
        import refscript

        def original(x):
            s = 0.0
            for i in range(x.shape[0]):
                s = s * 0.5 + x[i]
            return s

        compiled = refscript.jit(original)
    ''')
    state = _function_state(module.original)
    assert module.compiled.__wrapped__ is module.original
    assert isinstance(module.compiled, refscript.JitFunction)
    x = narrowed(np.arange(3.0))
    assert module.compiled(x) == module.original(x.copy())
    _assert_same_state(state, _function_state(module.original))
    assert not any(isinstance(v, types.FunctionType) and v.__name__.startswith("__refscript")
                   for v in vars(module).values())


# --------------------------------------------------------------------------------------
# Repeated calls do not trace again

TRACED_HELPER_CALLS = []


def counted_helper(v):
    TRACED_HELPER_CALLS.append(1)  # a Python side effect: runs when the caller is traced
    return v * 2.0


def counted(x, n):
    s = 0.0
    for i in range(n):
        s += counted_helper(x[i])
    return s


def counted_writes(a, x):
    for i in range(x.shape[0]):
        a[i] = counted_helper(x[i])
    return a.sum()


def _traces():
    return len(TRACED_HELPER_CALLS)


def test_repeated_calls_trace_once_per_signature(rng):
    compiled = refscript.jit(counted)
    x = narrowed(rng.normal(size=5))
    expected = counted(x, 3)  # plain Python calls the helper too: before counting starts
    start = _traces()
    for _ in range(3):
        got = compiled(x, 3)
        compiled(jnp.asarray(rng.normal(size=5)), 3)  # JAX array, same shape and dtype
    # One trace per signature; it runs the Python code once per lowering (two when plain
    # calls get a forward-only lowering, here: the loop is streamed for gradients only).
    assert compiled.lowerings == 2
    assert (compiled.trace_count, _traces() - start) == (1, compiled.lowerings)
    assert_tree_close(got, expected)

    # Each new signature traces once more; the helper may run more than once in one
    # trace (a restart when a variable learns its type, here for a narrower float: float32,
    # or float16 in 32-bit mode, where x is float32 already).
    narrower = np.float32 if x.dtype == np.float64 else np.float16
    signatures = [(narrowed(rng.normal(size=6)), 3), (x, 4), (x.astype(narrower), 4)]
    for count, args in enumerate(signatures, start=2):
        before = _traces()
        compiled(*args)
        assert compiled.trace_count == count
        assert _traces() > before
    traced = _traces()
    for args in [(x, 3), *signatures]:
        compiled(*args)
    assert (compiled.trace_count, _traces()) == (1 + len(signatures), traced)


def test_failed_calls_do_not_disturb_the_cache(rng):
    compiled = refscript.jit(counted)
    x = narrowed(rng.normal(size=4))
    expected = counted(x, 4)
    compiled(x, 4)
    start = compiled.trace_count
    with pytest.raises(Exception):
        compiled(np.array(["a", "b", "c", "d"]), 4)
    with pytest.raises(TypeError):
        compiled(x)
    helper_traces = _traces()
    compiled(x, 4)
    assert compiled.trace_count - start <= 1  # at most the failed attempt traced
    assert _traces() == helper_traces  # the good signature is still cached
    assert_tree_close(compiled(x, 4), expected)


def test_written_arguments_do_not_retrace(rng):
    compiled = refscript.jit(counted_writes)
    cases = []
    for _ in range(3):
        a, x = narrowed(rng.normal(size=4)), narrowed(rng.normal(size=4))
        expected_a = a.copy()
        cases.append((a, x, counted_writes(expected_a, x), expected_a))
    start = _traces()  # after plain Python's own calls of the helper
    for a, x, expected, expected_a in cases:
        assert_tree_close(compiled(a, x), expected)
        np.testing.assert_array_equal(a, expected_a)
    assert (compiled.trace_count, _traces() - start) == (1, compiled.lowerings)


def test_checked_function_traces_once(rng):
    compiled = refscript.jit(checked_accumulate, checks=True)
    x = narrowed(np.abs(rng.normal(size=3)))
    for _ in range(3):
        compiled(narrowed(np.zeros(3)), x)
    assert compiled.trace_count == 1


def test_transformations_do_not_retrace_on_repeated_calls(rng):
    compiled = refscript.jit(counted)
    x = rng.normal(size=4)
    grad = jax.grad(compiled)
    vmapped = jax.vmap(compiled, in_axes=(0, None))
    jitted = jax.jit(compiled, static_argnums=1)
    batch = rng.normal(size=(3, 4))
    for _ in range(3):
        grad(x, 4)
        vmapped(batch, 4)
        jitted(x, 4)
    assert compiled.trace_count == 1
    np.testing.assert_allclose(grad(x, 4), 2.0 * np.ones(4))


@pytest.mark.xfail(strict=True, reason=(
    "each refscript.jit(f) call makes a new JitFunction with its own jax.jit cache, so compiling the "
    "same function again traces it again; jax.jit(f) twice traces f once"))
def test_jitting_the_same_function_twice_shares_traces(rng):
    x = narrowed(rng.normal(size=3))
    start = _traces()
    refscript.jit(counted)(x, 3)
    refscript.jit(counted)(x, 3)
    assert _traces() - start == 1
