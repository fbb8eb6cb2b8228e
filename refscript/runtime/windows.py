"""Slices whose bounds are traced (`x[:k]`, `A[i, :j]`, `A[k + 1:, k]`), as masked windows.

XLA's shapes are static, so `x[:k]` with a traced `k` has no array type. A slice
that selects a run of one axis (every other index an integer) becomes a
`Window`: an array of the axis' full length `capacity` whose element `m` is
element `start + m` of the selection for `m < length` (`length` traced), and 1
past it. Windows combine elementwise with scalars and other windows, reduce
(`np.sum`, `np.dot`, `@`, `max`, `min`, `mean`), flip (`np.flip`, `w[::-1]`), and
are written back (`y[:k] = w`, `y[:k] += v`, `A[k + 1:, k] /= p`) with a select,
so the work is a full-length vector operation per slice.

The lanes past `length` hold 1 after every operation: a division or a square root
there stays finite, so neither the values nor the gradients (which `where` would
otherwise turn into NaN) of the real lanes are touched by them.

Anything a window does not support (a 2-D selection, a step, a NumPy function
without a window meaning) raises `TracedSliceError`, and JAX refuses a window as
an argument (`jnp.asarray(window)`); either makes the enclosing static loop unroll
(its index becomes a Python int), as for any code that needs a Python index.
"""

from __future__ import annotations

import numbers
import operator

import jax.numpy as jnp
import numpy as np

from refscript._jax_internal import is_tracer
from refscript.errors import TracedSliceError, caller_location
from refscript.runtime import tracing


def _unsupported(what: str):
    return TracedSliceError(
        f"{what} is not supported on a slice with a traced bound",
        caller_location(),
        "slices with traced bounds support elementwise arithmetic, np.sum/np.dot/@, "
        "max/min/mean, np.flip or [::-1], and writing back into a slice of the same length",
    )


def _is_traced_bound(bound) -> bool:
    return bound is not None and is_tracer(bound)


def traced_slice_axis(index, ndim: int):
    """Returns the axis of `index`'s one slice with a traced bound, when the rest are
    integers (so the selection is 1-D); None when no slice bound is traced. Raises
    `TracedSliceError` for traced slices a window cannot represent."""
    parts = index if isinstance(index, tuple) else (index,)
    traced = [k for k, p in enumerate(parts)
              if isinstance(p, slice) and any(_is_traced_bound(b) for b in (p.start, p.stop, p.step))]
    if not traced:
        return None
    if len(traced) > 1 or len(parts) != ndim:
        raise _unsupported("a selection of more than one axis")
    part = parts[traced[0]]
    if part.step is not None and (is_tracer(part.step) or part.step != 1):
        raise _unsupported("a step")
    for k, p in enumerate(parts):
        if k != traced[0] and not _is_integer(p):
            raise _unsupported("a selection of more than one axis")
    return traced[0]


def _is_integer(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Integral):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and np.shape(value) == () and jnp.issubdtype(dtype, jnp.integer)


def _bounds(part: slice, size: int):
    """Python's slice rules on traced bounds: (start, length) of `part` on an axis of `size`."""
    def clip(bound, default):
        if bound is None:
            return jnp.asarray(default)
        bound = jnp.asarray(bound)
        return jnp.clip(jnp.where(bound < 0, bound + size, bound), 0, size)

    start, stop = clip(part.start, 0), clip(part.stop, size)
    return start, jnp.maximum(stop - start, 0)


def read(line, part: slice, location=None) -> "Window":
    """The window `line[part]` of the 1-D array `line`."""
    capacity = line.shape[0]
    start, length = _bounds(part, capacity)
    positions = jnp.minimum(start + jnp.arange(capacity), capacity - 1)
    tracing.current().note_window(location or caller_location())
    return Window(line[positions], length)


def split(index, axis: int):
    """`index` as (the index of the whole line along `axis`, the slice at `axis`)."""
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(slice(None) if k == axis else p for k, p in enumerate(parts)), parts[axis]


def write(ref, line_index, part: slice, value, location=None) -> None:
    """`ref[index] = value`, where `ref[line_index]` is the 1-D line `part` selects from."""
    line = ref[line_index]
    capacity = line.shape[0]
    start, length = _bounds(part, capacity)
    offset = jnp.arange(capacity) - start
    selected = (offset >= 0) & (offset < length)
    if isinstance(value, Window):
        new = value.data[jnp.clip(offset, 0, value.capacity - 1)]
    else:
        value = jnp.asarray(value)
        if value.size != 1:
            raise TracedSliceError(
                f"cannot write an array of shape {value.shape} into a slice with a traced bound",
                location,
                "write a scalar, or a value computed from slices of the same length",
            )
        new = value.reshape(())
    tracing.current().note_window(location or caller_location())
    ref[line_index] = jnp.where(selected, new, line).astype(line.dtype)


def any_traced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, slice) and any(_is_traced_bound(b) for b in (p.start, p.stop, p.step))
               for p in parts)


class Window:
    """A 1-D selection of traced length: `data[m]` for `m < length`; 1 past it."""

    __slots__ = ("data", "length")

    def __init__(self, data, length):
        self.length = length
        self.data = jnp.where(self.valid(data.shape[0]), data, jnp.ones((), data.dtype))

    @staticmethod
    def _valid(capacity, length):
        return jnp.arange(capacity) < length

    def valid(self, capacity=None):
        return self._valid(self.data.shape[0] if capacity is None else capacity, self.length)

    @property
    def capacity(self) -> int:
        return self.data.shape[0]

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return 1

    @property
    def shape(self):
        raise _unsupported("the shape (its length is only known at run time)")

    def __len__(self):
        raise _unsupported("len() (its length is only known at run time)")

    # NumPy arrays and JAX arrays defer to the window's own operators.
    __array_ufunc__ = None

    def __array__(self, *args, **kwargs):
        raise _unsupported("turning it into an array of static shape")

    def __iter__(self):
        raise _unsupported("iteration")

    def __bool__(self):
        raise _unsupported("truth testing")

    # Elementwise arithmetic.

    def _combine(self, other, op, reflected=False):
        if isinstance(other, Window):
            capacity = min(self.capacity, other.capacity)
            mine, theirs = self.data[:capacity], other.data[:capacity]
        else:
            other = jnp.asarray(other) if not isinstance(other, (int, float, bool, complex)) else other
            if np.ndim(other) != 0:
                raise _unsupported("combining with an array of static shape")
            mine, theirs = self.data, other
        result = op(theirs, mine) if reflected else op(mine, theirs)
        return Window(result, self.length)

    def __add__(self, other):
        return self._combine(other, operator.add)

    def __radd__(self, other):
        return self._combine(other, operator.add, True)

    def __sub__(self, other):
        return self._combine(other, operator.sub)

    def __rsub__(self, other):
        return self._combine(other, operator.sub, True)

    def __mul__(self, other):
        return self._combine(other, operator.mul)

    def __rmul__(self, other):
        return self._combine(other, operator.mul, True)

    def __truediv__(self, other):
        return self._combine(other, operator.truediv)

    def __rtruediv__(self, other):
        return self._combine(other, operator.truediv, True)

    def __pow__(self, other):
        return self._combine(other, operator.pow)

    def __neg__(self):
        return Window(-self.data, self.length)

    def __pos__(self):
        return self

    def __abs__(self):
        return Window(jnp.abs(self.data), self.length)

    def __matmul__(self, other):
        if not isinstance(other, Window):
            raise _unsupported("@ with an array of static shape")
        return dot(self, other)

    # Element access: `w[j]`, `w[::-1]`.

    def __getitem__(self, index):
        if isinstance(index, slice) and index == slice(None, None, -1):
            return flip(self)
        if _is_integer(index):
            return self.data[index]
        raise _unsupported("this index")

    # Reductions.

    def sum(self, axis=None, dtype=None):
        if axis not in (None, 0, -1):
            raise _unsupported(f"sum over axis {axis}")
        return jnp.sum(jnp.where(self.valid(), self.data, jnp.zeros((), self.dtype)), dtype=dtype)

    def mean(self):
        return self.sum() / self.length

    def max(self):
        low = jnp.finfo(self.dtype).min if jnp.issubdtype(self.dtype, jnp.floating) else jnp.iinfo(self.dtype).min
        return jnp.max(jnp.where(self.valid(), self.data, low))

    def min(self):
        high = jnp.finfo(self.dtype).max if jnp.issubdtype(self.dtype, jnp.floating) else jnp.iinfo(self.dtype).max
        return jnp.min(jnp.where(self.valid(), self.data, high))

    def copy(self):
        return self


def flip(window: Window) -> Window:
    reversed_positions = jnp.clip(window.length - 1 - jnp.arange(window.capacity), 0, window.capacity - 1)
    return Window(window.data[reversed_positions], window.length)


def dot(a: Window, b: Window):
    return (a * b).sum()


def _dot(a, b):
    if not (isinstance(a, Window) and isinstance(b, Window)):
        raise _unsupported("a dot product with an array of static shape")
    return dot(a, b)


def _elementwise(fn):
    def apply(window, *rest, **kwargs):
        if rest or kwargs:
            raise _unsupported(f"np.{fn.__name__} with more arguments")
        return Window(fn(window.data), window.length)
    return apply


# NumPy functions with a meaning on windows, by name (see numpy_api.to_jax).
FUNCTIONS = {
    "sum": lambda w, axis=None: w.sum(axis),
    "mean": lambda w: w.mean(),
    "max": lambda w: w.max(),
    "amax": lambda w: w.max(),
    "min": lambda w: w.min(),
    "amin": lambda w: w.min(),
    "dot": lambda a, b: _dot(a, b),
    "vdot": lambda a, b: _dot(a, b),
    "inner": lambda a, b: _dot(a, b),
    "matmul": lambda a, b: a @ b,
    "flip": lambda w, axis=None: flip(w),
    "copy": lambda w: w,
    "abs": lambda w: abs(w),
    "absolute": lambda w: abs(w),
    "negative": lambda w: -w,
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "divide": operator.truediv,
    "true_divide": operator.truediv,
}
for _name in ("sqrt", "exp", "log", "sin", "cos", "tanh", "square", "floor", "ceil"):
    FUNCTIONS[_name] = _elementwise(getattr(jnp, _name))


def involves_window(args, kwargs) -> bool:
    return any(isinstance(a, Window) for a in args) or any(isinstance(v, Window) for v in kwargs.values())


def call(name: str, args, kwargs):
    """Calls NumPy's `name` on arguments among which are windows."""
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise _unsupported(f"np.{name}")
    return fn(*args, **kwargs)

