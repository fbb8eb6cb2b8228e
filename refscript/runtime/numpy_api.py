"""NumPy inside compiled code: `np.f` called from converted code becomes `jnp.f`.

NumPy functions cannot take traced values, so every NumPy function, ufunc, ufunc
method (`np.add.outer`) and scalar type (`np.float32(x)`) called from converted
code is replaced by its `jax.numpy` namesake, in `numpy`, `numpy.linalg` and
`numpy.fft`. One without a namesake is an error at the user's line, and so is one
that cannot have NumPy's meaning in compiled code: a result whose shape depends on
the values (`np.nonzero`), a write into an argument (`np.put`, `out=`). Where the
namesake differs from NumPy in a way a wrapper can mend (lists as array arguments,
the dtype of `np.cumsum` on small integers), it is mended here. Dtypes follow JAX:
float32 unless x64 is enabled. The supported set, and the differences that
remain: docs/numpy.md.
"""

from __future__ import annotations

import functools
import operator
import types

import jax
import jax.numpy as jnp
import numpy as np

from refscript._jax_internal import is_tracer
from refscript.errors import UnsupportedNumpyError, caller_location
from refscript.runtime import windows

_NAMESPACES = {"numpy": jnp, "numpy.linalg": jnp.linalg, "numpy.fft": jnp.fft}

# NumPy functions without a jax.numpy namesake that another jax.numpy function does exactly.
_ALIASES = {
    "asanyarray": jnp.asarray, "ascontiguousarray": jnp.asarray, "asfortranarray": jnp.asarray,
    "fix": jnp.trunc, "row_stack": jnp.vstack,
}
# NumPy functions that only look at static values (shapes, NumPy's warning state): NumPy runs them.
_RUN_BY_NUMPY = frozenset({"ndindex", "errstate"})
# Results whose shape depends on the values; XLA's shapes are fixed when the code is compiled.
_VALUE_DEPENDENT_SHAPES = frozenset({
    "nonzero", "argwhere", "flatnonzero", "extract", "compress", "trim_zeros", "bincount",
    "unique", "unique_all", "unique_counts", "unique_inverse", "unique_values",
    "setdiff1d", "union1d", "intersect1d", "setxor1d",
})
# Functions that write into an argument, which compiled code cannot do to its caller's array.
_IN_PLACE = frozenset({"put", "put_along_axis", "fill_diagonal", "place", "putmask", "copyto"})
# Functions whose first argument is a shape: a traced size must make an enclosing loop unroll.
_SHAPE_FIRST = frozenset({"zeros", "ones", "empty", "full", "eye", "identity", "tri"})
# Integer results that jax.numpy gives as int32 where NumPy gives its default integer.
_INDEX_RESULTS = frozenset({"searchsorted", "digitize"})
# Accumulations that NumPy computes in the default integer for smaller integers and bools;
# jax.numpy keeps the input's dtype (so uint8 sums would wrap).
_ACCUMULATIONS = frozenset({
    "cumsum", "cumprod", "nancumsum", "nancumprod", "cumulative_prod", "add.accumulate", "multiply.accumulate",
})
# jax.numpy's sorts are stable, which meets every `kind` NumPy offers; jax.numpy refuses the argument.
_SORTS = frozenset({"sort", "argsort", "partition", "argpartition"})
# NumPy's older keyword names that jax.numpy does not take.
_KEYWORD_NAMES = {"clip": {"a_min": "min", "a_max": "max"}}
# Keyword arguments that take tuples of ints, which stay tuples when lists become arrays.
_TUPLE_KEYWORDS = frozenset({"axis", "axes", "shape", "newshape", "s"})


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
        qualified = f"numpy.{owner.__name__}.{fn.__name__}"
        if fn.__name__ == "at":
            raise _in_place(qualified, "a loop: `for j in range(len(idx)): a[idx[j]] += v[j]`")
        target = getattr(getattr(jnp, owner.__name__, None), fn.__name__, None)
        if target is None:
            raise _unsupported(qualified)
        return _numpy_meaning(qualified, f"{owner.__name__}.{fn.__name__}", target)
    name = getattr(fn, "__name__", None)
    module = getattr(fn, "__module__", None) or "numpy"
    namespace = _NAMESPACES.get(module)
    if namespace is None and (isinstance(fn, (np.ufunc, type)) or module.startswith(("numpy._core", "numpy.lib"))):
        namespace = jnp
    qualified = f"{module}.{name}"
    if namespace is jnp and name in _RUN_BY_NUMPY:
        return fn
    if namespace is jnp and name in _VALUE_DEPENDENT_SHAPES:
        raise _value_dependent_shape(f"numpy.{name}")
    if namespace is jnp and name in _IN_PLACE:
        raise _in_place(f"numpy.{name}", "an indexed write: `a[idx] = v`")
    target = _ALIASES.get(name) if namespace is jnp else None
    if target is None:
        target = getattr(namespace, name, None) if namespace is not None and name else None
    if target is None or isinstance(target, types.ModuleType):
        raise _unsupported(qualified)
    if callable(target) and not isinstance(target, type):
        return _numpy_meaning(qualified, name, target, windowed=namespace is jnp)
    return target


@functools.cache
def _numpy_meaning(qualified: str, name: str, target, windowed: bool = False):
    """`target` with NumPy's meaning where jax.numpy's differs and a wrapper can mend it; on
    slices with traced bounds (`np.dot(a[i, :j], a[j, :j])`), their masked meaning (windows.py)."""
    @functools.wraps(target)
    def call(*args, **kwargs):
        if windowed and windows.involves_window(args, kwargs):
            return windows.call(name, args, kwargs)
        kwargs = _numpy_keywords(qualified, name, args, kwargs)
        if name in _SHAPE_FIRST and args:
            args = (_static_shape(args[0]),) + args[1:]
        try:
            result = target(*args, **kwargs)
        except TypeError as error:
            # NumPy takes lists and tuples wherever it takes arrays; jax.numpy refuses them with
            # this message (jax 0.10's check_arraylike; tests/test_numpy_table.py passes lists).
            if "requires ndarray or scalar arguments" not in str(error):
                raise
            result = target(*map(_list_as_array, args),
                            **{key: v if key in _TUPLE_KEYWORDS else _list_as_array(v) for key, v in kwargs.items()})
        return _numpy_result(name, args, kwargs, result)

    return call


def _numpy_keywords(qualified: str, name: str, args, kwargs) -> dict:
    """The keyword arguments jax.numpy's `name` needs to do what NumPy's does with `kwargs`."""
    if kwargs.get("out") is not None:
        raise _in_place(f"{qualified}(..., out=...)", "an assignment: `y[...] = np.f(x)`")
    if name == "where" and len(args) + len(kwargs) == 1:
        raise _value_dependent_shape("numpy.where with one argument")
    kwargs = {key: value for key, value in kwargs.items() if key != "out"}
    if name in _SORTS:
        kwargs.pop("kind", None)
    for old, new in _KEYWORD_NAMES.get(name, {}).items():
        if old in kwargs:
            kwargs[new] = kwargs.pop(old)
    if name in _ACCUMULATIONS and kwargs.get("dtype") is None and args:
        kwargs["dtype"] = _accumulation_dtype(args[0])
    if name == "tri" and kwargs.get("dtype") is None and len(args) < 4:
        kwargs["dtype"] = jax.dtypes.canonicalize_dtype(np.float64)  # jax.numpy's default is float32
    return kwargs


def _numpy_result(name: str, args, kwargs, result):
    """jax.numpy's `result` in the dtype NumPy gives."""
    if name in _INDEX_RESULTS:
        return result.astype(jax.dtypes.canonicalize_dtype(np.intp))
    if name == "histogram" and not kwargs.get("density") and len(args) < 4:
        counts, edges = result  # NumPy counts in integers, or in the weights' dtype
        weights = kwargs.get("weights")
        counts_dtype = np.intp if weights is None else jnp.result_type(weights)
        return counts.astype(jax.dtypes.canonicalize_dtype(counts_dtype)), edges
    return result


def _static_shape(shape):
    """`shape` as Python ints; a traced size raises JAX's TracerIntegerConversionError, which makes
    an enclosing static loop unroll (its index becomes a Python int), as other shapes do."""
    if isinstance(shape, (tuple, list)) or np.ndim(shape) > 0:
        return tuple(operator.index(size) for size in shape)
    return operator.index(shape)


def _accumulation_dtype(values):
    """NumPy's dtype for `np.cumsum(values)`: the default integer for smaller integers and bools."""
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        return None
    default = jnp.uint64 if jnp.issubdtype(dtype, jnp.unsignedinteger) else jnp.int64
    if dtype == jnp.bool_ or (jnp.issubdtype(dtype, jnp.integer) and dtype.itemsize < np.dtype(default).itemsize):
        return jax.dtypes.canonicalize_dtype(default)
    return None


def _list_as_array(value):
    """A list or tuple as an array: a NumPy one when its entries are static, so that it stays
    static (`np.repeat(x, [2, 1])` needs its counts when it is compiled)."""
    if not isinstance(value, (list, tuple)):
        return value
    return jnp.asarray(value) if any(map(is_tracer, jax.tree_util.tree_leaves(value))) else np.asarray(value)


def _unsupported(qualified: str) -> UnsupportedNumpyError:
    return UnsupportedNumpyError(
        f"{qualified} has no jax.numpy equivalent, so compiled code cannot call it",
        caller_location(),
        "use a jax.numpy function (or jax.random for random numbers), or compute it before the call",
    )


def _value_dependent_shape(what: str) -> UnsupportedNumpyError:
    return UnsupportedNumpyError(
        f"{what} gives an array whose shape depends on the values, which compiled code cannot have "
        "(XLA fixes every shape when it compiles)",
        caller_location(),
        "keep the full shape: select with np.where(mask, a, b), count or add up with a mask "
        "(np.sum(mask), np.sum(np.where(mask, a, 0))), or loop over the elements",
    )


def _in_place(what: str, instead: str) -> UnsupportedNumpyError:
    return UnsupportedNumpyError(
        f"{what} writes into an existing array, which compiled code cannot do through a NumPy call",
        caller_location(),
        f"write it as {instead}",
    )


def index_list(items: list):
    """`a[[i, j]]`: NumPy reads a list in an index as an index array; jax.numpy refuses
    lists there. Static entries give a NumPy array (the index stays static)."""
    if any(is_tracer(item) for item in items):
        return jnp.stack([jnp.asarray(item) for item in items]) if items else jnp.zeros((0,), int)
    return np.asarray(items) if items else np.zeros((0,), np.intp)
