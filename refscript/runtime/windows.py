"""Slices whose bounds are traced (`x[:k]`, `A[i, :j]`, `A[k + 1:, k]`), as masked windows.

XLA's shapes are static, so `x[:k]` with a traced `k` has no array type. A slice
that selects a run of one axis (every other index an integer) becomes a
`Window`: the whole line along that axis (`capacity` elements), in which the
selection stays where it is, at the lanes `start <= m < end` of its `Span`
(`start` and `end` traced, or Python ints), and every other lane holds 1.
Windows combine elementwise with scalars and other windows, reduce (`np.sum`,
`np.dot`, `@`, `max`, `min`, `mean`), flip (`np.flip`, `w[::-1]`), and are
written back (`y[:k] = w`, `y[:k] += v`, `A[k + 1:, k] /= p`) with a select, so
the work is a full-length vector operation per slice, as in hand-written JAX
(`U[i] @ jnp.where(cols > i, x, 0.0)`).

Windows that start at the same lane combine without moving data: `x[:k] * y[:k]`,
`y[:k] = y[:k] + v` and `c[k + 1:, k] /= p` are elementwise operations and a
select. Whether two windows start at the same lane is decided while tracing,
from how their starts were computed (`Span.start_key`): the same bound object
(the loop index `k`, or the index object of an augmented assignment), or equal
Python ints. Windows at different lanes (`x[1:k] - x[:k - 1]`,
`np.flip(r[:k]) @ y[:k]`) meet after the right operand is shifted to the left
one's start: one `lax.dynamic_slice` of a copy padded with ones (a static slice
when both starts are Python ints), which XLA fuses into the operation using it.
`np.flip` reverses the line (a static reverse) and mirrors the span.

The lanes outside the span hold 1 after every operation: a division or a square
root there stays finite, so neither the values nor the gradients (which `where`
would otherwise turn into NaN) of the real lanes are touched by them.

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
from jax import lax

from refscript._jax_internal import is_tracer
from refscript.errors import TracedSliceError, caller_location
from refscript.runtime import bounds, tracing


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
    `TracedSliceError` for traced slices a window cannot represent. (Blocks, 2-D
    selections, are recognised first: `is_block`.)"""
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


# Spans: where a window's elements lie in its line.
#
# A position is a Python int or a traced int scalar; its *key* says how it was computed,
# so that two positions computed the same way are known to be equal while tracing:
# a Python int is its own key; ("bound", b, size) is the slice bound `b` (a traced
# object, compared by identity) normalised onto an axis of `size`; ("max", k1, k2) the
# larger of two positions; ("mirror", k, capacity) is `capacity - k`.


def _same(a, b) -> bool:
    """Whether the position keys `a` and `b` always denote the same lane."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, str)) and isinstance(b, (int, str)):
        return type(a) is type(b) and a == b
    return a is b


def _mirror_key(key, capacity: int):
    if isinstance(key, int):
        return capacity - key
    if key[0] == "mirror" and key[2] == capacity:
        return key[1]
    return ("mirror", key, capacity)


class Span:
    """The lanes `start <= m < end` of a line, with their keys (see above)."""

    __slots__ = ("start", "end", "start_key", "end_key")

    def __init__(self, start, end, start_key, end_key):
        self.start, self.end, self.start_key, self.end_key = start, end, start_key, end_key

    @property
    def length(self):
        return self.end - self.start

    def mask(self, capacity: int):
        """A boolean vector of `capacity` lanes, true inside the span."""
        lanes = jnp.arange(capacity)
        inside = jnp.ones(capacity, bool)
        if not (isinstance(self.end, int) and self.end >= capacity):
            inside = lanes < self.end
        if not (isinstance(self.start, int) and self.start <= 0):
            inside = inside & (lanes >= self.start)
        return inside

    def mirrored(self, capacity: int) -> Span:
        """The span of the same lanes in the reversed line."""
        return Span(capacity - self.end, capacity - self.start,
                    _mirror_key(self.end_key, capacity), _mirror_key(self.start_key, capacity))


def _position(bound, size: int, default: int):
    """Python's rules for one slice bound on an axis of `size`: (position, its key)."""
    if bound is None:
        return default, default
    if not is_tracer(bound):
        value = operator.index(bound)
        value = min(max(value + size if value < 0 else value, 0), size)
        return value, value
    key = ("bound", bound, size)
    if bounds.within(bound, 0, size):  # a slice bound may equal the size
        return bound, key
    return jnp.clip(jnp.where(bound < 0, bound + size, bound), 0, size), key


def _bounds(part: slice, size: int) -> Span:
    """The span `part` selects on an axis of `size` (an empty span when start >= stop)."""
    start, start_key = _position(part.start, size, 0)
    stop, stop_key = _position(part.stop, size, size)
    # end = max(start, stop), computed only when neither side is known to be the larger.
    if isinstance(start, int) and isinstance(stop, int):
        end = end_key = max(start, stop)
    elif isinstance(start, int) and start == 0:
        end, end_key = stop, stop_key
    elif isinstance(stop, int) and stop == size:
        end = end_key = size
    elif _same(start_key, stop_key):
        end, end_key = start, start_key
    else:
        end, end_key = jnp.maximum(start, stop), ("max", start_key, stop_key)
    return Span(start, end, start_key, end_key)


def read(line, part: slice, location=None) -> "Window":
    """The window `line[part]` of the 1-D array `line`."""
    tracing.current().note_window(location or caller_location())
    return Window(line, _bounds(part, line.shape[0]))


def split(index, axis: int):
    """`index` as (the index of the whole line along `axis`, the slice at `axis`)."""
    parts = index if isinstance(index, tuple) else (index,)
    return tuple(slice(None) if k == axis else p for k, p in enumerate(parts)), parts[axis]


def write(ref, line_index, part: slice, value, location=None) -> None:
    """`ref[index] = value`, where `ref[line_index]` is the 1-D line `part` selects from."""
    line = ref[line_index]
    capacity = line.shape[0]
    span = _bounds(part, capacity)
    new = value.aligned(span, capacity) if isinstance(value, Window) else _scalar_written(value, location)
    tracing.current().note_window(location or caller_location())
    ref[line_index] = jnp.where(span.mask(capacity), new, line).astype(line.dtype)


def _scalar_written(value, location):
    """A value written into a selection of traced extent that is not itself one: a scalar."""
    value = jnp.asarray(value)
    if value.size != 1:
        raise TracedSliceError(
            f"cannot write an array of shape {value.shape} into a slice with a traced bound",
            location,
            "write a scalar, or a value computed from slices of the same length",
        )
    return value.reshape(())


def any_traced(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, slice) and any(_is_traced_bound(b) for b in (p.start, p.stop, p.step))
               for p in parts)


def _resized(data, axis: int, capacity: int):
    """`data` cut to `capacity` lanes along `axis`, or padded with ones up to it."""
    size = data.shape[axis]
    if size >= capacity:
        return lax.slice_in_dim(data, 0, capacity, axis=axis)
    widths = [(0, 0)] * data.ndim
    widths[axis] = (0, capacity - size)
    return jnp.pad(data, widths, constant_values=1)


def _moved(data, axis: int, span: Span, to: Span, capacity: int):
    """`data`, whose elements along `axis` lie in `span`, moved so that they start at
    `to.start`, in `capacity` lanes (ones outside the moved elements)."""
    if _same(span.start_key, to.start_key):
        return _resized(data, axis, capacity)
    shift = to.start - span.start  # in [-data.shape[axis], capacity]
    widths = [(0, 0)] * data.ndim
    widths[axis] = (capacity, capacity)
    padded = jnp.pad(data, widths, constant_values=1)
    begin = capacity - shift
    if isinstance(begin, int):
        return lax.slice_in_dim(padded, begin, begin + capacity, axis=axis)
    return lax.dynamic_slice_in_dim(padded, begin, capacity, axis=axis)


class _Selection:
    """What windows (1-D) and blocks (2-D) share: arithmetic through `_combine`, and
    errors for what needs a static shape."""

    __slots__ = ()

    # NumPy arrays and JAX arrays defer to the selection's own operators.
    __array_ufunc__ = None

    @property
    def shape(self):
        raise _unsupported("the shape (its length is only known at run time)")

    def __len__(self):
        raise _unsupported("len() (its length is only known at run time)")

    def __array__(self, *args, **kwargs):
        raise _unsupported("turning it into an array of static shape")

    def __iter__(self):
        raise _unsupported("iteration")

    def __bool__(self):
        raise _unsupported("truth testing")

    @property
    def dtype(self):
        return self.data.dtype

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
        return self._with(-self.data)

    def __pos__(self):
        return self

    def __abs__(self):
        return self._with(jnp.abs(self.data), filled=True)

    def copy(self):
        return self

    def _scalar(self, other):
        other = jnp.asarray(other) if not isinstance(other, (int, float, bool, complex)) else other
        if np.ndim(other) != 0:
            raise _unsupported("combining with an array of static shape")
        return other


class Window(_Selection):
    """A 1-D selection of traced length: `data[m]` for `m` in `span`, 1 elsewhere."""

    __slots__ = ("data", "span")

    def __init__(self, data, span: Span):
        self.span = span
        self.data = jnp.where(span.mask(data.shape[0]), data, jnp.ones((), data.dtype))

    @classmethod
    def _of_filled(cls, data, span: Span) -> Window:
        """A window of `data` whose lanes outside `span` already hold 1."""
        window = cls.__new__(cls)
        window.data, window.span = data, span
        return window

    def _with(self, data, filled: bool = False) -> Window:
        return Window._of_filled(data, self.span) if filled else Window(data, self.span)

    @property
    def length(self):
        return self.span.length

    @property
    def capacity(self) -> int:
        return self.data.shape[0]

    @property
    def ndim(self) -> int:
        return 1

    def aligned(self, span: Span, capacity: int):
        """The window's data moved so that its first element lies at `span.start`, in a
        line of `capacity` lanes (ones outside the moved elements)."""
        return _moved(self.data, 0, self.span, span, capacity)

    # Elementwise arithmetic.

    def _combine(self, other, op, reflected=False):
        if isinstance(other, Window):
            mine, theirs = self.data, other.aligned(self.span, self.capacity)
        else:
            mine, theirs = self.data, self._scalar(other)
        result = op(theirs, mine) if reflected else op(mine, theirs)
        return Window(result, self.span)

    def __matmul__(self, other):
        if not isinstance(other, Window):
            raise _unsupported("@ with an array of static shape")
        return dot(self, other)

    # Element access: `w[j]`, `w[::-1]`.

    def __getitem__(self, index):
        if isinstance(index, slice) and index == slice(None, None, -1):
            return flip(self)
        if _is_integer(index):
            if not is_tracer(index):
                index = operator.index(index)
                return self.data[self.span.start + index if index >= 0 else self.span.end + index]
            return self.data[jnp.where(index < 0, self.span.end + index, self.span.start + index)]
        raise _unsupported("this index")

    # Reductions.

    def _selected(self, outside):
        """The data with `outside` in the lanes outside the span."""
        return jnp.where(self.span.mask(self.capacity), self.data, jnp.asarray(outside, self.dtype))

    def sum(self, axis=None, dtype=None):
        if axis not in (None, 0, -1):
            raise _unsupported(f"sum over axis {axis}")
        return jnp.sum(self._selected(0), dtype=dtype)

    def mean(self):
        return self.sum() / self.length

    def max(self):
        low = jnp.finfo(self.dtype).min if jnp.issubdtype(self.dtype, jnp.floating) else jnp.iinfo(self.dtype).min
        return jnp.max(self._selected(low))

    def min(self):
        high = jnp.finfo(self.dtype).max if jnp.issubdtype(self.dtype, jnp.floating) else jnp.iinfo(self.dtype).max
        return jnp.min(self._selected(high))

    def argmax(self, axis=None):
        return self._position_of(jnp.argmax, axis, lowest=True)

    def argmin(self, axis=None):
        return self._position_of(jnp.argmin, axis, lowest=False)

    def _position_of(self, fn, axis, lowest: bool):
        """The position in the selection (from 0) that `fn` picks, the first of equal
        values as in NumPy: the elements moved to the front of the line, the lanes past
        the length filled with the value `fn` never prefers. (NumPy raises for an empty
        selection; here its length is only known at run time, and the result is 0.)"""
        if axis not in (None, 0, -1):
            raise _unsupported(f"arg-reduction over axis {axis}")
        front = self.aligned(Span(0, self.length, 0, ("length", self.span.start_key, self.span.end_key)),
                             self.capacity)
        dtype = self.dtype
        if jnp.issubdtype(dtype, jnp.floating):
            fill = -jnp.inf if lowest else jnp.inf
        elif jnp.issubdtype(dtype, jnp.integer):
            fill = jnp.iinfo(dtype).min if lowest else jnp.iinfo(dtype).max
        else:
            raise _unsupported(f"arg-reduction of {dtype}")
        valid = jnp.arange(self.capacity) < self.length
        return fn(jnp.where(valid, front, jnp.asarray(fill, dtype)))


class Block(_Selection):
    """A 2-D selection of traced extent (`m[i:, j:]`, `np.outer(w, v)`): `data[r, c]`
    for `r` in `rows` and `c` in `cols`, 1 elsewhere. Combines elementwise with scalars
    and other blocks (moved onto its rows and columns), sums, and is written back."""

    __slots__ = ("data", "rows", "cols")

    def __init__(self, data, rows: Span, cols: Span):
        self.rows, self.cols = rows, cols
        self.data = jnp.where(_block_mask(rows, cols, data.shape), data, jnp.ones((), data.dtype))

    def _with(self, data, filled: bool = False) -> Block:
        if filled:
            block = Block.__new__(Block)
            block.data, block.rows, block.cols = data, self.rows, self.cols
            return block
        return Block(data, self.rows, self.cols)

    @property
    def ndim(self) -> int:
        return 2

    def aligned(self, rows: Span, cols: Span, shape):
        """The block's data moved so that its first element lies at (`rows.start`,
        `cols.start`), in an array of `shape` (ones outside the moved elements)."""
        moved = _moved(self.data, 0, self.rows, rows, shape[0])
        return _moved(moved, 1, self.cols, cols, shape[1])

    def _combine(self, other, op, reflected=False):
        if isinstance(other, Block):
            theirs = other.aligned(self.rows, self.cols, self.data.shape)
        elif isinstance(other, Window):
            raise _unsupported("combining a 1-D and a 2-D selection")
        else:
            theirs = self._scalar(other)
        mine = self.data
        return Block(op(theirs, mine) if reflected else op(mine, theirs), self.rows, self.cols)

    def sum(self, axis=None, dtype=None):
        if axis is not None:
            raise _unsupported(f"sum over axis {axis} of a 2-D selection")
        inside = _block_mask(self.rows, self.cols, self.data.shape)
        return jnp.sum(jnp.where(inside, self.data, jnp.zeros((), self.dtype)), dtype=dtype)


def _block_mask(rows: Span, cols: Span, shape):
    return rows.mask(shape[0])[:, None] & cols.mask(shape[1])[None, :]


def outer(a, b) -> Block:
    """`np.outer` of two windows: a block over their spans."""
    if not (isinstance(a, Window) and isinstance(b, Window)):
        raise _unsupported("np.outer with an array of static shape")
    return Block(a.data[:, None] * b.data[None, :], a.span, b.span)


def is_block(index, ndim: int) -> bool:
    """Whether `index` selects a 2-D block with traced bounds (`m[i:, :j]`): two slices
    of a 2-D array, without steps, at least one bound traced."""
    parts = index if isinstance(index, tuple) else (index,)
    if ndim != 2 or len(parts) != 2 or not all(isinstance(p, slice) for p in parts):
        return False
    if not any(_is_traced_bound(b) for p in parts for b in (p.start, p.stop)):
        return False
    return all(p.step is None or (not is_tracer(p.step) and p.step == 1) for p in parts)


def read_block(array, index, location=None) -> Block:
    """The block `array[index]` of a 2-D array (`is_block(index, 2)`)."""
    tracing.current().note_window(location or caller_location())
    rows, cols = index
    return Block(array, _bounds(rows, array.shape[0]), _bounds(cols, array.shape[1]))


def write_block(ref, index, value, location=None) -> None:
    """`ref[index] = value` for a block index (`is_block`)."""
    array = ref[...]
    rows, cols = _bounds(index[0], array.shape[0]), _bounds(index[1], array.shape[1])
    if isinstance(value, Window):
        raise _unsupported("writing a 1-D selection into a 2-D one")
    new = value.aligned(rows, cols, array.shape) if isinstance(value, Block) else _scalar_written(value, location)
    tracing.current().note_window(location or caller_location())
    ref[...] = jnp.where(_block_mask(rows, cols, array.shape), new, array).astype(array.dtype)


def flip(window: Window) -> Window:
    """The window's elements in reverse order: the reversed line, the span mirrored."""
    return Window._of_filled(jnp.flip(window.data), window.span.mirrored(window.capacity))


def dot(a: Window, b: Window):
    """The sum of the products of the elements of two windows of the same length."""
    products = a.data * b.aligned(a.span, a.capacity)
    return jnp.sum(jnp.where(a.span.mask(a.capacity), products, jnp.zeros((), products.dtype)))


def _dot(a, b):
    if not (isinstance(a, Window) and isinstance(b, Window)):
        raise _unsupported("a dot product with an array of static shape")
    return dot(a, b)


def _elementwise(fn):
    def apply(window, *rest, **kwargs):
        if rest or kwargs:
            raise _unsupported(f"np.{fn.__name__} with more arguments")
        return Window(fn(window.data), window.span)
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
    "outer": outer,
    "argmax": lambda w, axis=None: w.argmax(axis),
    "argmin": lambda w, axis=None: w.argmin(axis),
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
    return any(isinstance(a, _Selection) for a in args) or any(isinstance(v, _Selection) for v in kwargs.values())


def call(name: str, args, kwargs):
    """Calls NumPy's `name` on arguments among which are windows."""
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise _unsupported(f"np.{name}")
    return fn(*args, **kwargs)
