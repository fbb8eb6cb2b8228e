"""Caching: a compiled function is converted once and traced once per signature.

`JitFunction.trace_count` counts traces; `refscript.transpiler.conversions`
counts conversions (parse and rewrite) across the process. Every function here
is used by this module only, so its first conversion happens in its test.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from refscript import transpiler
from oracle import assert_tree_close, check


def cache_scaled_cumsum(x, n):
    out = x.copy()
    for i in range(1, n):
        out[i] += out[i - 1] * 0.5
    return out


def cache_int_to_float(x):
    s = 0  # becomes a float: the trace restarts once to learn the type
    for i in range(x.shape[0]):
        s += x[i]
    return s


def cache_traced_bound(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i]
    return s


def cache_static_branch(x, mode):
    if mode == 0:
        y = x * 2.0
    else:
        y = x - 1.0
    return y


def cache_for_reuse(x):
    s = 0.0
    for i in range(x.shape[0]):
        s = s * 0.5 + x[i]
    return s


def cache_named_static(x, scale):
    out = x.copy()
    for i in range(x.shape[0]):
        out[i] *= scale
    return out


def _call(fn, *args, **kwargs):
    """Calls jitted `fn` and compares with plain Python on NumPy copies."""
    got = fn(*args, **kwargs)
    expected = fn.__wrapped__(*[np.array(a) if isinstance(a, (np.ndarray, jnp.ndarray)) else a for a in args], **kwargs)
    assert_tree_close(got, expected)
    return got


def test_same_shapes_and_static_values_do_not_retrace_or_reconvert(rng):
    before = transpiler.conversions
    fn = refscript.jit(cache_scaled_cumsum)
    assert transpiler.conversions == before + 1
    assert fn.trace_count == 0

    x = rng.normal(size=6)
    _call(fn, x, 6)
    assert fn.trace_count == 1
    _call(fn, rng.normal(size=6), 6)  # new values, same shape and static value
    _call(fn, x, 6)
    assert fn.trace_count == 1
    assert transpiler.conversions == before + 1


def test_new_shape_retraces(rng):
    fn = refscript.jit(cache_scaled_cumsum)
    base = fn.trace_count
    _call(fn, rng.normal(size=6), 4)
    assert fn.trace_count == base + 1
    _call(fn, rng.normal(size=7), 4)
    assert fn.trace_count == base + 2
    _call(fn, rng.normal(size=7), 4)
    _call(fn, rng.normal(size=6), 4)
    assert fn.trace_count == base + 2


def test_new_static_value_retraces(rng):
    fn = refscript.jit(cache_scaled_cumsum)
    base = fn.trace_count
    conversions = transpiler.conversions
    x = rng.normal(size=8)
    _call(fn, x, 3)
    _call(fn, x, 5)
    assert fn.trace_count == base + 2
    _call(fn, x, 3)
    _call(fn, x, 5)
    assert fn.trace_count == base + 2
    assert transpiler.conversions == conversions


def test_new_dtype_retraces(rng):
    fn = refscript.jit(cache_scaled_cumsum)
    x = rng.normal(size=5)
    _call(fn, x, 5)
    assert fn.trace_count == 1
    got = fn(x.astype(np.float32), 5)
    assert fn.trace_count == 2
    assert np.asarray(got).dtype == np.float32
    _call(fn, x + 1.0, 5)
    assert fn.trace_count == 2


def test_numpy_and_jax_arrays_share_a_trace(rng):
    fn = refscript.jit(cache_for_reuse)
    x = rng.normal(size=3)
    _call(fn, x)
    _call(fn, jnp.asarray(x))
    assert fn.trace_count == 1


def test_type_restart_counts_as_one_trace(rng):
    fn = refscript.jit(cache_int_to_float)
    _call(fn, rng.normal(size=4))
    _call(fn, rng.normal(size=4))
    assert fn.trace_count == 1


def test_traced_bound_values_do_not_retrace(rng):
    fn = refscript.jit(cache_traced_bound)
    x = rng.normal(size=9)
    for n in (0, 3, 9):
        _call(fn, x, np.int64(n))
    assert fn.trace_count == 1
    # The same bounds as Python ints are static: one trace per value.
    for n in (0, 3, 9, 3):
        _call(fn, x, n)
    assert fn.trace_count == 1 + 3


def test_static_scalars_false_traces_ints_once(rng):
    fn = refscript.jit(cache_traced_bound, static_scalars=False)
    x = rng.normal(size=9)
    for n in (1, 4, 8):
        _call(fn, x, n)
    assert fn.trace_count == 1


def test_static_branch_value_retraces(rng):
    fn = refscript.jit(cache_static_branch)
    x = rng.normal(size=3)
    _call(fn, x, 0)
    _call(fn, x, 1)
    _call(fn, x, 0)
    _call(fn, x, 1)
    assert fn.trace_count == 2


def test_python_float_argument_values_do_not_retrace(rng):
    fn = refscript.jit(cache_named_static)
    x = rng.normal(size=4)
    _call(fn, x, 2.0)
    _call(fn, x, -0.5)
    assert fn.trace_count == 1


def test_static_argnames_retrace_per_value(rng):
    fn = refscript.jit(cache_named_static, static_argnames="scale")
    x = rng.normal(size=4)
    _call(fn, x, 2.0)
    _call(fn, x, 2.0)
    assert fn.trace_count == 1
    _call(fn, x, 3.0)
    assert fn.trace_count == 2
    _call(fn, x, scale=2.0)
    assert fn.trace_count == 2  # arguments are bound to the signature: keyword or positional alike
    check(cache_named_static, x, 4.0, static_argnames="scale")


def test_jitting_the_same_function_again_does_not_reconvert():
    refscript.jit(cache_for_reuse)  # converted at most once (maybe earlier in this module)
    before = transpiler.conversions
    again = refscript.jit(cache_for_reuse)
    assert transpiler.conversions == before
    assert refscript.jit(again) is again
    assert refscript.converted_source(cache_for_reuse) == again.converted_source
    assert transpiler.conversions == before


@pytest.mark.parametrize("size", [2, 3])
def test_conversion_counter_untouched_by_calls(rng, size):
    fn = refscript.jit(cache_scaled_cumsum)
    before = transpiler.conversions
    _call(fn, rng.normal(size=size), size)
    assert transpiler.conversions == before
