"""Calls from converted code: `rs.convert(f)(*args)` decides what `f` becomes.

- the user's own functions (and methods, and `refscript.jit` functions) are
  converted too, recursively, and cached, so their loops and branches compile;
- Python builtins whose meaning on traced numbers differs from JAX's default
  (`abs`, `min`, `max`, `int`, `float`, `complex`, `bool`, `round`, `sum`, `print`, `range`,
  `enumerate`, `zip`, `reversed`) get refscript's versions, which behave as
  Python does on Python values;
- NumPy functions become their `jax.numpy` namesakes (see `numpy_api`);
- everything else (jax, the standard library, other installed packages) runs
  as it is.
"""

from __future__ import annotations

import builtins
import functools
import os
import sysconfig
import types

import jax
import jax.numpy as jnp

from refscript._jax_internal import is_tracer
from refscript.errors import ConversionError
from refscript.runtime import numpy_api, sequences, tracing

# Packages whose functions are never converted, even when installed from source.
_LIBRARY_PACKAGES = frozenset({
    "refscript", "jax", "jaxlib", "numpy", "scipy", "builtins", "math", "functools", "itertools",
    "operator", "collections", "typing", "abc", "equinox", "flax", "optax", "chex", "numba",
})
_LIBRARY_DIRS = tuple(
    os.path.realpath(p) for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _is_user_function(fn) -> bool:
    if not isinstance(fn, types.FunctionType):
        return False
    module = (getattr(fn, "__module__", None) or "").split(".")[0]
    if module in _LIBRARY_PACKAGES:
        return False
    filename = os.path.realpath(fn.__code__.co_filename)
    return not filename.startswith(_LIBRARY_DIRS)


def convert(fn):
    """Returns what a call to `fn` from converted code should call."""
    override = _OVERRIDES.get(id(fn))
    if override is not None and override[0] is fn:
        return override[1]
    if numpy_api.is_numpy(fn):
        return numpy_api.to_jax(fn)
    from refscript import api, transpiler  # the compiler calls the runtime, and back

    if isinstance(fn, api.JitFunction):
        fn = fn.__wrapped__
    if isinstance(fn, types.MethodType) and _is_user_function(fn.__func__):
        return types.MethodType(_converted(fn.__func__, transpiler), fn.__self__)
    if _is_user_function(fn):
        return _converted(fn, transpiler)
    return fn


def _converted(fn, transpiler):
    conversion = transpiler.convert(fn, vectorize=tracing.current().vectorize)
    if conversion.argument_writes:
        name, location = conversion.argument_writes[0]
        raise ConversionError(
            f"{fn.__qualname__} writes into its argument {name!r}, and is called from compiled code",
            location,
            "arrays passed to a called function are copies in compiled code: return the "
            "updated array from the function and assign it in the caller",
        )
    return conversion.function


# Builtins with traced-aware meanings.


def _any_traced(*values) -> bool:
    return any(is_tracer(v) for v in jax.tree_util.tree_leaves(values))


def abs_(x):
    return jnp.abs(x) if is_tracer(x) else builtins.abs(x)


def _extremum(python_fn, jax_pair, jax_reduce, args, kwargs):
    if kwargs or not _any_traced(args):
        return python_fn(*args, **kwargs)
    if len(args) == 1:
        (values,) = args
        if is_tracer(values) or hasattr(values, "shape"):
            return jax_reduce(jnp.asarray(values), axis=0)
        args = tuple(values)
    return functools.reduce(jax_pair, args)


def min_(*args, **kwargs):
    return _extremum(builtins.min, jnp.minimum, jnp.min, args, kwargs)


def max_(*args, **kwargs):
    return _extremum(builtins.max, jnp.maximum, jnp.max, args, kwargs)


def _default(dtype):
    return jax.dtypes.canonicalize_dtype(dtype)


def int_(x=0, *args):
    if args or not is_tracer(x):
        return builtins.int(x, *args)
    return jnp.asarray(x).astype(_default(jnp.int64))  # truncates toward zero, as int() does


def float_(x=0.0):
    if not is_tracer(x):
        return builtins.float(x)
    return jnp.asarray(x).astype(_default(jnp.float64))


def complex_(real=0, imag=0):
    if not _any_traced(real, imag):
        return builtins.complex(real, imag)
    return jnp.asarray(real) + 1j * jnp.asarray(imag)


def bool_(x=False):
    if not is_tracer(x):
        return builtins.bool(x)
    x = jnp.asarray(x)
    return x if x.dtype == jnp.bool_ else x != 0


def round_(x, ndigits=None):
    if not is_tracer(x):
        return builtins.round(x, ndigits) if ndigits is not None else builtins.round(x)
    if ndigits is None:
        return jnp.round(x).astype(_default(jnp.int64))  # halves to even, as Python
    return jnp.round(x, ndigits)


def sum_(iterable, start=0):
    if is_tracer(iterable) or (hasattr(iterable, "shape") and _any_traced(start)):
        return jnp.sum(jnp.asarray(iterable), axis=0) + start
    if _any_traced(tuple(iterable) if isinstance(iterable, (list, tuple)) else (), start):
        return functools.reduce(lambda a, b: a + b, iterable, start)
    return builtins.sum(iterable, start)


def print_(*args, sep=" ", end="\n", **kwargs):
    """`print`; with traced arguments it prints when the compiled code runs (every iteration)."""
    if kwargs or not _any_traced(args):
        return builtins.print(*args, sep=sep, end=end, **kwargs)
    jax.debug.print(sep.join("{}" for _ in args), *args, ordered=True)


def range_(*args):
    from refscript.runtime.control_flow import range_ as traced_range

    return traced_range(builtins.range, *args)


def enumerate_(iterable, start=0):
    if sequences.loopable(iterable):
        return sequences.Enumerate(iterable, start)
    return builtins.enumerate(iterable, start)


def zip_(*iterables, **kwargs):
    if not kwargs and iterables and all(sequences.loopable(i) for i in iterables):
        return sequences.Zip(iterables)
    return builtins.zip(*iterables, **kwargs)


def reversed_(sequence):
    if isinstance(sequence, builtins.range):
        return sequence[::-1]
    if isinstance(sequence, sequences.TracedRange) and sequence.max_trip is None:
        last = sequence.start + (sequence.trip_count() - 1) * sequence.step
        return sequences.TracedRange(last, sequence.start - sequence.step, -sequence.step)
    if sequences.loopable(sequence):
        return sequences.Reversed(sequence)
    return builtins.reversed(sequence)


_OVERRIDES = {
    id(original): (original, replacement)
    for original, replacement in [
        (builtins.abs, abs_), (builtins.min, min_), (builtins.max, max_), (builtins.int, int_),
        (builtins.float, float_), (builtins.bool, bool_), (builtins.complex, complex_), (builtins.round, round_),
        (builtins.sum, sum_), (builtins.print, print_), (builtins.range, range_),
        (builtins.enumerate, enumerate_), (builtins.zip, zip_), (builtins.reversed, reversed_),
    ]
}
