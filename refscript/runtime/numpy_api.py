"""NumPy inside compiled code: `np.f` called from converted code becomes `jnp.f`.

NumPy functions cannot take traced values, so every NumPy function, ufunc, ufunc
method (`np.add.outer`) and scalar type (`np.float32(x)`) called from converted
code is replaced by its `jax.numpy` namesake, in `numpy`, `numpy.linalg` and
`numpy.fft`. One without a namesake is an error at the user's line. Dtypes
follow JAX: float32 unless x64 is enabled.
"""

from __future__ import annotations

import functools
import types

import jax.numpy as jnp
import numpy as np

from refscript._jax_internal import is_tracer
from refscript.errors import UnsupportedNumpyError, caller_location
from refscript.runtime import windows

_NAMESPACES = {"numpy": jnp, "numpy.linalg": jnp.linalg, "numpy.fft": jnp.fft}


def is_numpy(fn) -> bool:
    """Whether `fn` is a NumPy function, ufunc, ufunc method or scalar type."""
    if isinstance(fn, np.ufunc):
        return True
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):
        return True
    module = getattr(fn, "__module__", None) or ""
    return module == "numpy" or module.startswith("numpy.")


def to_jax(fn):
    """Returns the `jax.numpy` equivalent of the NumPy callable `fn`."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, np.ufunc):  # np.add.outer -> jnp.add.outer
        target = getattr(getattr(jnp, owner.__name__, None), fn.__name__, None)
        return target if target is not None else _unsupported(f"numpy.{owner.__name__}.{fn.__name__}")
    name = getattr(fn, "__name__", None)
    module = getattr(fn, "__module__", None) or "numpy"
    namespace = _NAMESPACES.get(module)
    if namespace is None and (isinstance(fn, (np.ufunc, type)) or module.startswith(("numpy._core", "numpy.lib"))):
        namespace = jnp
    target = getattr(namespace, name, None) if namespace is not None and name else None
    if target is None or isinstance(target, types.ModuleType):
        return _unsupported(f"{module}.{name}")
    if namespace is jnp and callable(target) and not isinstance(target, type):
        return _window_aware(name, target)
    return target


@functools.cache
def _window_aware(name: str, target):
    """`target`, which on slices with traced bounds (`np.dot(a[i, :j], a[j, :j])`) gives
    their masked meaning (see windows.py)."""
    @functools.wraps(target)
    def call(*args, **kwargs):
        if windows.involves_window(args, kwargs):
            return windows.call(name, args, kwargs)
        return target(*args, **kwargs)

    return call


def _unsupported(qualified: str):
    raise UnsupportedNumpyError(
        f"{qualified} has no jax.numpy equivalent, so compiled code cannot call it",
        caller_location(),
        "use a jax.numpy function (or jax.random for random numbers), or compute it before the call",
    )


def index_list(items: list):
    """`a[[i, j]]`: NumPy reads a list in an index as an index array; jax.numpy refuses
    lists there. Static entries give a NumPy array (the index stays static)."""
    if any(is_tracer(item) for item in items):
        return jnp.stack([jnp.asarray(item) for item in items]) if items else jnp.zeros((0,), int)
    return np.asarray(items) if items else np.zeros((0,), np.intp)
