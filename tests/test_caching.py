"""Caching: a compiled function is converted once and traced once per signature.

`JitFunction.trace_count` counts traces; `refscript.transpiler.conversions`
counts conversions (parse and rewrite) across the process. Every function here
is used by this module only, so its first conversion happens in its test.
"""

import gc
import importlib
import os
import sys
import types
import uuid
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from refscript import transpiler
from oracle import assert_tree_close, check, check_grad, narrowed, numerical_grad, tolerances, x64
from tests.modules import import_file


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


def _assert_close(got, expected, rtol=1e-12, atol=0.0):
    """`np.testing.assert_allclose` at `rtol`, `atol` (float32's tolerances in 32-bit mode)."""
    rtol, atol = tolerances(rtol, atol)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


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

    x = narrowed(rng.normal(size=6))
    _call(fn, x, 6)
    assert fn.trace_count == 1
    _call(fn, narrowed(rng.normal(size=6)), 6)  # new values, same shape and static value
    _call(fn, x, 6)
    assert fn.trace_count == 1
    assert transpiler.conversions == before + 1


def test_new_shape_retraces(rng):
    fn = refscript.jit(cache_scaled_cumsum)
    base = fn.trace_count
    _call(fn, narrowed(rng.normal(size=6)), 4)
    assert fn.trace_count == base + 1
    _call(fn, narrowed(rng.normal(size=7)), 4)
    assert fn.trace_count == base + 2
    _call(fn, narrowed(rng.normal(size=7)), 4)
    _call(fn, narrowed(rng.normal(size=6)), 4)
    assert fn.trace_count == base + 2


def test_new_static_value_retraces(rng):
    fn = refscript.jit(cache_scaled_cumsum)
    base = fn.trace_count
    conversions = transpiler.conversions
    x = narrowed(rng.normal(size=8))
    _call(fn, x, 3)
    _call(fn, x, 5)
    assert fn.trace_count == base + 2
    _call(fn, x, 3)
    _call(fn, x, 5)
    assert fn.trace_count == base + 2
    assert transpiler.conversions == conversions


def test_new_dtype_retraces(rng):
    fn = refscript.jit(cache_scaled_cumsum)
    x = narrowed(rng.normal(size=5))
    # Another float dtype than x's: float32 after float64, float16 after 32-bit mode's float32.
    other = np.float32 if x64() else np.float16
    _call(fn, x, 5)
    assert fn.trace_count == 1
    got = fn(x.astype(other), 5)
    assert fn.trace_count == 2
    assert np.asarray(got).dtype == other
    _call(fn, x + 1.0, 5)
    assert fn.trace_count == 2


def test_numpy_and_jax_arrays_share_a_trace(rng):
    fn = refscript.jit(cache_for_reuse)
    x = narrowed(rng.normal(size=3))
    _call(fn, x)
    _call(fn, jnp.asarray(x))
    assert fn.trace_count == 1


def test_type_restart_counts_as_one_trace(rng):
    fn = refscript.jit(cache_int_to_float)
    _call(fn, narrowed(rng.normal(size=4)))
    _call(fn, narrowed(rng.normal(size=4)))
    assert fn.trace_count == 1


def test_traced_bound_values_do_not_retrace(rng):
    fn = refscript.jit(cache_traced_bound)
    x = narrowed(rng.normal(size=9))
    for n in (0, 3, 9):
        _call(fn, x, narrowed(np.int64(n)))
    assert fn.trace_count == 1
    # The same bounds as Python ints are static: one trace per value.
    for n in (0, 3, 9, 3):
        _call(fn, x, n)
    assert fn.trace_count == 1 + 3


def test_static_scalars_false_traces_ints_once(rng):
    fn = refscript.jit(cache_traced_bound, static_scalars=False)
    x = narrowed(rng.normal(size=9))
    for n in (1, 4, 8):
        _call(fn, x, n)
    assert fn.trace_count == 1


def test_static_branch_value_retraces(rng):
    fn = refscript.jit(cache_static_branch)
    x = narrowed(rng.normal(size=3))
    _call(fn, x, 0)
    _call(fn, x, 1)
    _call(fn, x, 0)
    _call(fn, x, 1)
    assert fn.trace_count == 2


def test_python_float_argument_values_do_not_retrace(rng):
    fn = refscript.jit(cache_named_static)
    x = narrowed(rng.normal(size=4))
    _call(fn, x, 2.0)
    _call(fn, x, -0.5)
    assert fn.trace_count == 1


def test_static_argnames_retrace_per_value(rng):
    fn = refscript.jit(cache_named_static, static_argnames="scale")
    x = narrowed(rng.normal(size=4))
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
    _call(fn, narrowed(rng.normal(size=size)), size)
    assert transpiler.conversions == before


# --------------------------------------------------------------------------------------
# Closures: one code object, many captured values


def make_weighted(weight, thresholds):
    def weighted(x):
        s = 0.0
        for i in range(x.shape[0]):
            if x[i] > thresholds[i % thresholds.shape[0]]:
                s += x[i] * x[i] * weight
            else:
                s -= x[i] * weight
        return s

    return weighted


def make_caller(helper):
    def caller(x):
        out = x.copy()
        for i in range(1, x.shape[0]):
            out[i] = helper(out[i - 1]) + x[i]
        return out

    return caller


def make_scaler(k):
    return lambda v: v * k


def test_closures_sharing_code_are_not_confused(rng):
    light, heavy = make_weighted(0.5, np.array([0.0, 0.3])), make_weighted(3.0, np.array([-0.2, 0.1, 0.4]))
    assert light.__code__ is heavy.__code__
    before = transpiler.conversions
    compiled = [refscript.jit(light), refscript.jit(heavy)]
    assert transpiler.conversions == before + 2  # one conversion per function object
    x, batch = narrowed(rng.normal(size=6)), narrowed(rng.normal(size=(3, 6)))
    # One gradient and one vmap of both together: confusing them would change the result.
    both = lambda v: compiled[0](v) + 10.0 * compiled[1](v)  # noqa: E731
    _assert_close(jax.grad(both)(x), numerical_grad(lambda v: light(v) + 10.0 * heavy(v), x),
                  rtol=1e-6, atol=1e-8)
    _assert_close(jax.vmap(both)(batch), [light(row) + 10.0 * heavy(row) for row in batch])
    for _ in range(2):  # interleaved, after both are cached
        for fn, jitted in zip((light, heavy), compiled):
            assert_tree_close(jitted(x), fn(x.copy()))
    assert [c.trace_count for c in compiled] == [1, 1]


def test_called_closures_sharing_code_are_not_confused(rng):
    """Callers and helpers both share code; each caller calls its own helper."""
    callers = [make_caller(make_scaler(k)) for k in (0.5, -1.5, 2.0)]
    assert len({c.__code__ for c in callers}) == 1
    x = narrowed(rng.normal(size=5))
    for caller in callers:
        check(caller, x)
    second = callers[1]
    check_grad(lambda v: second(v).sum(), x)


def test_closures_made_in_a_loop_share_the_cell_as_in_python(rng):
    """Python's late binding: all three closures see the loop variable's last value."""
    scalers = []
    for k in (1.0, 2.0, 3.0):
        def scaled_sum(x):
            s = 0.0
            for i in range(x.shape[0]):
                s += x[i] * k
            return s
        scalers.append(scaled_sum)
    x = narrowed(rng.normal(size=4))
    results = [check(fn, x) for fn in scalers]
    _assert_close(results, [3.0 * x.sum()] * 3)


# --------------------------------------------------------------------------------------
# Captured values that change between calls: as in jax.jit, a trace keeps the values it
# saw; a new trace (new shapes, new static values, a new refscript.jit) sees the current ones.


def make_with_cell(k):
    def loop_scale(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * k
        return s

    def jax_scale(x):
        return jnp.sum(x * k)

    def set_k(value):
        nonlocal k
        k = value

    return loop_scale, jax_scale, set_k


CACHE_GLOBAL_SCALE = 2.0


def global_loop_scale(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * CACHE_GLOBAL_SCALE
    return s


def global_jax_scale(x):
    return jnp.sum(x * CACHE_GLOBAL_SCALE)


def _assert_like_jax_jit(loop_fn, jax_fn, change, old, new, rng):
    """Changes a captured value, then compares refscript with jax.jit and with Python."""
    compiled, jitted = refscript.jit(loop_fn), jax.jit(jax_fn)
    x, longer = narrowed(rng.normal(size=3)), narrowed(rng.normal(size=4))
    _assert_close(compiled(x), loop_fn(x))
    jitted(x)
    change(new)
    python_now = loop_fn(x)
    _assert_close(python_now, x.sum() * new)  # Python sees the new value
    # The same compiled function, same shapes: the value traced with (as jax.jit).
    _assert_close(compiled(x), jitted(x))
    _assert_close(compiled(x), x.sum() * old)
    # A new shape traces again and sees the new value (as jax.jit).
    _assert_close(compiled(longer), jitted(longer))
    _assert_close(compiled(longer), loop_fn(longer))
    # A new refscript.jit traces again: the new value. (jax.jit(f) again would not:
    # JAX caches traces per function, not per jit wrapper.)
    _assert_close(refscript.jit(loop_fn)(x), python_now)
    # Gradients follow the same rule.
    _assert_close(jax.grad(compiled)(x), np.full(3, old))


def test_changed_closure_cell_behaves_like_jax_jit(rng):
    loop_scale, jax_scale, set_k = make_with_cell(2.0)
    _assert_like_jax_jit(loop_scale, jax_scale, set_k, 2.0, 5.0, rng)


def test_changed_global_behaves_like_jax_jit(rng):
    global CACHE_GLOBAL_SCALE

    def set_scale(value):
        global CACHE_GLOBAL_SCALE
        CACHE_GLOBAL_SCALE = value

    try:
        _assert_like_jax_jit(global_loop_scale, global_jax_scale, set_scale, 2.0, -3.0, rng)
    finally:
        CACHE_GLOBAL_SCALE = 2.0


def test_captured_array_changed_in_place_behaves_like_jax_jit(rng):
    weights = np.array([1.0, 2.0, 3.0])

    def weighted(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * weights[i]
        return s

    compiled, jitted = refscript.jit(weighted), jax.jit(lambda x: jnp.sum(x * weights))
    x = narrowed(rng.normal(size=3))
    before = weighted(x)
    _assert_close(compiled(x), before)
    jitted(x)
    weights[1] = 10.0
    assert abs(weighted(x) - before) > 1e-6 * abs(x[1])
    _assert_close(compiled(x), jitted(x))  # a constant of the trace
    _assert_close(compiled(x), before)
    _assert_close(refscript.jit(weighted)(x), weighted(x))


# --------------------------------------------------------------------------------------
# Editing a function's source and loading it again

EDITED_SOURCE = '''
import refscript


def helper(v):
    return v * {scale}


@refscript.jit
def kernel(x):
    out = x.copy()
    for i in range(1, x.shape[0]):
        if out[i - 1] {op} 0.0:
            out[i] += helper(out[i - 1])
    return out


square = refscript.jit(lambda v: v * {scale})
'''


@pytest.fixture
def edited_module(tmp_path, monkeypatch):
    """Writes, loads and edits a module of `EDITED_SOURCE` (no bytecode cache: Python compiles each text)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"cache_edited_{uuid.uuid4().hex}"
    path = tmp_path / f"{name}.py"

    def write(scale, op, keep_mtime=False):
        old = path.stat() if path.exists() else None
        path.write_text(EDITED_SOURCE.format(scale=scale, op=op))
        if old is not None:
            # A real edit comes later than the last one: one second later on the file's clock
            # (or, with keep_mtime, the same size at the very same time stamp).
            mtime = old.st_mtime_ns if keep_mtime else old.st_mtime_ns + 1_000_000_000
            os.utime(path, ns=(mtime, mtime))

    def load_fresh():
        return import_file(path, f"{name}_{uuid.uuid4().hex}")

    write("2.0", ">")
    yield types.SimpleNamespace(write=write, module=importlib.import_module(name), load_fresh=load_fresh)
    sys.modules.pop(name, None)


def _check_kernel(module, rng, grad=False):
    """The module's compiled functions against its Python functions (values; gradients on request)."""
    x = narrowed(rng.normal(size=6))
    kernel, python_kernel = module.kernel, module.kernel.__wrapped__
    assert_tree_close(kernel(x), python_kernel(x.copy()))
    assert_tree_close(module.square(x), module.square.__wrapped__(x))
    if grad:
        _assert_close(jax.grad(lambda v: kernel(v).sum())(x),
                      numerical_grad(lambda v: python_kernel(v).sum(), x), rtol=1e-6, atol=1e-8)


def test_edit_and_reload_gives_the_new_function(edited_module, rng):
    module = edited_module.module
    old_kernel = module.kernel
    _check_kernel(module, rng)
    edited_module.write("-0.25", "<")  # another constant, another comparison, another size
    importlib.reload(module)
    assert module.kernel is not old_kernel
    _check_kernel(module, rng, grad=True)
    x = narrowed(rng.normal(size=6))
    assert not np.allclose(module.kernel(x), old_kernel(x))
    # The function compiled before the reload is the old function, as in Python.
    assert_tree_close(old_kernel(x), old_kernel.__wrapped__(x.copy()))


def test_same_size_edit_and_reload(edited_module, rng):
    module = edited_module.module
    _check_kernel(module, rng)
    edited_module.write("3.0", ">")  # the same length of text
    importlib.reload(module)
    _check_kernel(module, rng)
    assert float(module.square(2.0)) == 6.0


def test_same_size_edit_at_the_same_time_stamp(edited_module, rng):
    # linecache.checkcache cannot see an edit that keeps the file's size and time stamp
    # (two writes within one tick of the file system's clock); refscript compares the
    # source it reads with the function's code object and reads the file again.
    _check_kernel(edited_module.module, rng)
    edited_module.write("3.0", ">", keep_mtime=True)
    _check_kernel(edited_module.load_fresh(), rng)


def test_fresh_module_from_the_same_file_with_the_same_names(edited_module, rng):
    first = edited_module.load_fresh()
    _check_kernel(first, rng)
    edited_module.write("-1.5", "<")
    second = edited_module.load_fresh()
    assert first.kernel.__wrapped__.__qualname__ == second.kernel.__wrapped__.__qualname__
    for module in (second, first, second):  # both stay themselves, in any order
        _check_kernel(module, rng)


def test_helper_first_converted_after_its_file_was_edited(edited_module, rng):
    # `helper` is first converted when `kernel` is first traced, after the edit: its file
    # no longer holds the code Python runs, so it cannot be converted (it would silently
    # compute the edited function). Refused, with what to do.
    module = edited_module.load_fresh()
    edited_module.write("-1.5", "<")
    with pytest.raises(refscript.errors.SourceUnavailableError, match="has changed since the function was loaded"):
        module.kernel(narrowed(rng.normal(size=4)))
    # The lambda cannot be found in the edited text either: it runs as it is, as Python would.
    x = narrowed(rng.normal(size=4))
    np.testing.assert_allclose(module.square(x), x * 2.0)


def test_replaced_code_is_converted_again(edited_module, rng):
    """IPython's autoreload gives old function objects the new `__code__`; a new compile follows it."""
    module = edited_module.module
    old_helper, old_kernel = module.helper, module.kernel.__wrapped__
    refscript.jit(old_kernel)(narrowed(rng.normal(size=4)))  # both converted and cached
    edited_module.write("-0.75", "<")
    fresh = edited_module.load_fresh()
    old_helper.__code__ = fresh.helper.__code__
    old_kernel.__code__ = fresh.kernel.__wrapped__.__code__
    x = narrowed(rng.normal(size=5))
    check(old_kernel, x)
    assert_tree_close(refscript.jit(old_kernel)(x), fresh.kernel(x))


def test_functions_freed_and_made_again_are_not_confused(tmp_path, rng):
    """A conversion dies with its function, so a new function at a reused address is converted anew."""
    x = narrowed(rng.normal(size=4))
    path = tmp_path / "cache_reused_ids.py"
    seen_ids = set()
    for scale in (1.0, -2.0, 3.5, 0.25):
        path.write_text(EDITED_SOURCE.format(scale=scale, op=">"))
        namespace = {"__name__": "cache_reused_ids"}
        exec(compile(path.read_text(), str(path), "exec"), namespace)
        kernel = namespace["kernel"]
        seen_ids.add(id(kernel.__wrapped__))
        assert_tree_close(kernel(x), kernel.__wrapped__(x.copy()))
        assert float(namespace["square"](2.0)) == 2.0 * scale
        del namespace, kernel
        gc.collect()


def test_conversion_is_freed_with_its_function(rng):
    weighted = make_weighted(2.0, np.zeros(3))
    alive = weakref.ref(weighted)
    refscript.jit(weighted)(narrowed(rng.normal(size=3)))
    assert len([f for f in list(transpiler._cache.keys()) if f is weighted]) == 1
    del weighted
    gc.collect()
    assert alive() is None


_WIDENING_RUNS = []


def widening_sum(x):
    _WIDENING_RUNS.append(1)  # runs only while refscript traces it
    s = 0  # an int, then a float: the first trace restarts to learn the wider type
    for i in range(x.shape[0]):
        for j in range(i):  # a triangular loop: plain calls run a second lowering
            s += x[j]
    return s


def test_the_second_lowering_starts_with_the_types_the_first_learned():
    x = narrowed(np.arange(5.0))
    compiled = refscript.jit(widening_sum)
    _WIDENING_RUNS.clear()
    assert_tree_close(compiled(x), widening_sum(x))
    assert compiled.lowerings == 2
    # The forward-only trace runs the function twice (the restart), the differentiable one once.
    assert len(_WIDENING_RUNS) - 1 == 3  # less the plain call just above
    check_grad(widening_sum, x)


_INTEGER_RUNS = []


def triangular_count(a):
    _INTEGER_RUNS.append(1)  # runs only while refscript traces it
    s = 0
    for i in range(a.shape[0]):
        for j in range(i):  # a triangular loop: a forward-only lowering exists
            s += a[j] * a[i]
    return s


def test_a_function_of_integers_is_lowered_once():
    """Its derivatives are zero (JAX's float0 tangents): the differentiable lowering is not traced.
    The same function of floats is lowered twice."""
    a = np.arange(1, 7, dtype=np.int32)
    compiled = refscript.jit(triangular_count)
    _INTEGER_RUNS.clear()
    out = compiled(a)
    # One lowering: its trace runs the function twice (it restarts once to learn that `s`,
    # first 0, holds int32s; in 32-bit mode 0 is an int32 already: no restart); the floats'
    # below run it once more.
    assert compiled.lowerings == 1 and len(_INTEGER_RUNS) == (2 if x64() else 1)
    assert compiled.forward_only_choices  # of the forward-only lowering
    assert out == triangular_count(a)
    check(triangular_count, a)
    # jvp gives float0 tangents; vmap runs the same lowering.
    out, tangent = jax.jvp(compiled, (a,), (np.zeros(a.shape, jax.dtypes.float0),))
    assert out == triangular_count(a) and tangent.dtype == jax.dtypes.float0
    batch = np.stack([a, a[::-1], 2 * a])
    np.testing.assert_array_equal(jax.vmap(compiled)(batch), [triangular_count(row) for row in batch])
    floats = refscript.jit(triangular_count)
    x = narrowed(a.astype(np.float64))
    _INTEGER_RUNS.clear()
    assert floats(x) == triangular_count(x) and floats.lowerings == 2 and len(_INTEGER_RUNS) - 1 == 3
    check_grad(triangular_count, x)
