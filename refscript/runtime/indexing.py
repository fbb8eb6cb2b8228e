"""Reading and writing Refs with NumPy's indexing rules.

JAX Ref indexing accepts ints, traced ints, static slices, `...` and integer
arrays, but it does not broadcast the right-hand side, and it clamps
out-of-bounds indices silently. Here static indices are checked (IndexError at
the user's line, as NumPy raises); traced ones are checked when the code runs
under `refscript.jit(fn, checks=True)` (JAX's index checks, on the discharged
program, after negative indices have been wrapped as NumPy wraps them); the
right-hand side is broadcast and cast to the array's dtype (NumPy's same-kind-or-
truncate assignment), and a boolean mask the size of the array becomes a select.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jax import lax

from refscript._jax_internal import is_tracer
from refscript.errors import IndexingError, Location, ShapeError, TracedSliceError, caller_location
from refscript.runtime import tracing, windows


# Element accesses on values in forward-only traces (`_dynamic_window`); switched off only
# to measure what they change.
VALUE_INDEXING = True


def _static_int(value):
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    return None


def normalize(index, shape: tuple, location: Location | None):
    """Returns `index` as a tuple Refs accept, with negative and out-of-bounds ints handled."""
    if not isinstance(index, tuple):
        index = (index,)
    n_explicit = sum(1 for i in index if i is not Ellipsis and i is not None)
    if any(i is None for i in index):
        raise IndexingError(
            "`None` (np.newaxis) cannot index an array being written", location,
            "leave out the None: it adds an axis of length 1, which a write does not need",
        )
    if n_explicit > len(shape):
        raise IndexingError(
            f"too many indices for array: array is {len(shape)}-dimensional, "
            f"but {n_explicit} were indexed",
            location,
        )
    # Index arrays (or lists) elsewhere in the index: a slice turned into an index array
    # would broadcast against them instead of making an axis of its own.
    arrays_elsewhere = any(
        isinstance(item, (list, np.ndarray)) or (hasattr(item, "shape") and np.ndim(item) > 0) for item in index
    )
    result, dim = [], 0
    for item in index:
        if item is Ellipsis:
            skip = len(shape) - n_explicit
            result.extend([slice(None)] * skip)
            dim += skip
            continue
        size = shape[dim]
        static = _static_int(item)
        if static is not None:
            if not -size <= static < size:
                raise IndexingError(
                    f"index {static} is out of bounds for axis {dim} with size {size}", location
                )
            result.append(static + size if static < 0 else static)
        elif isinstance(item, slice):
            for bound in (item.start, item.stop, item.step):
                if bound is not None and _static_int(bound) is None:
                    raise TracedSliceError(
                        "a slice of an array the function writes has a traced bound; its length "
                        "would depend on the data, and compiled arrays have static shapes",
                        location,
                        "use a loop over the elements, or jax.lax.dynamic_slice with a fixed size; "
                        "or pass the bound as a Python int (static)",
                    )
            result.append(_clip_slice(item, size, arrays_elsewhere))
        else:
            value = jnp.asarray(item)
            if not jnp.issubdtype(value.dtype, jnp.integer):
                raise IndexingError(
                    f"arrays used as indices must be of integer type, got {value.dtype}", location,
                    "convert the index with int(...) or .astype(int), as NumPy requires too",
                )
            result.append(value)  # JAX's Ref indexing wraps negative traced indices itself
        dim += 1
    return tuple(result)


def _clip_slice(item: slice, size: int, arrays_elsewhere: bool = False):
    """Returns a static slice as NumPy reads it: clipped to the axis, empty when it selects
    nothing, and a static index array when its step is not 1 (unless index arrays elsewhere
    would broadcast against it)."""
    start, stop, step = item.indices(size)
    count = len(range(start, stop, step))
    if count == 0:
        return slice(0, 0, 1)
    if arrays_elsewhere:
        if step < 0:
            raise IndexingError(
                "a slice with a negative step next to an index array is not supported in an "
                "array being written", None, "reverse with np.flip, or index with one array",
            )
        return slice(start, start + (count - 1) * step + 1, step)
    if step != 1:
        # Refs take forward slices only, and JAX 0.10's state discharge fails on a strided
        # slice next to an integer index (`a[0, ::2] = v` in a traced branch: "Invalid type
        # of idxer: TypedInt"): a static index array selects the same elements.
        return np.arange(start, start + count * step, step)
    return slice(start, start + count, 1)


def indexed_shape(shape: tuple, index: tuple) -> tuple:
    """Returns the shape of `x[index]` for an array of `shape`, without touching data."""
    probe = []
    for item in index:
        if isinstance(item, slice) or isinstance(item, int):
            probe.append(item)
        else:
            probe.append(np.zeros(np.shape(item), dtype=np.int64))
    return np.broadcast_to(np.empty((), np.int8), shape)[tuple(probe)].shape


def is_mask(index, shape) -> bool:
    """Whether `index` is a single boolean array the shape of the array (NumPy's `a[mask]`)."""
    if isinstance(index, tuple) or isinstance(index, (bool, np.bool_)):
        return False
    dtype = getattr(index, "dtype", None)
    return dtype is not None and jnp.issubdtype(dtype, jnp.bool_) and tuple(np.shape(index)) == tuple(shape)


def get(ref, index, location: Location | None):
    """Returns `ref[index]` with NumPy's rules."""
    aval = jax.typeof(ref)
    if is_mask(index, aval.shape):
        raise IndexingError(
            "reading `a[mask]` with a boolean mask gives a result whose size depends on the data",
            location,
            "compiled code needs static shapes: use np.where(mask, a, 0) instead",
        )
    if windows.is_block(index, len(aval.shape)):  # `A[k:, k:]` with traced bounds
        return windows.read_block(ref[...], index, location)
    axis = windows.traced_slice_axis(index, len(aval.shape))
    if axis is not None:  # `x[:k]`, `A[i, :j]` with traced bounds: a masked window
        line_index, part = windows.split(index, axis)
        return windows.read(ref[normalize(line_index, aval.shape, location)], part, location)
    index = normalize(index, aval.shape, location)
    shape = indexed_shape(aval.shape, index)
    if 0 in shape:  # an empty selection: Refs reject zero-length slices
        return jnp.zeros(shape, aval.dtype)
    window = _dynamic_window(index, aval.shape) if _on_values() else None
    if window is not None:
        starts, sizes, axes = window
        return lax.squeeze(lax.dynamic_slice(ref[...], starts, sizes), axes)
    return ref[index]


def put(ref, index, value, normalized: bool = False) -> None:
    """`ref[index] = value` for an index and value already checked (one element, or what
    a Ref takes as it is): through `_dynamic_window` where that applies, so that the
    write takes its index in the form the reads of `get` do."""
    aval = jax.typeof(ref)
    window = None
    if _on_values():
        window = _dynamic_window(index if normalized else normalize(index, aval.shape, None), aval.shape)
    if window is None:
        ref[index] = value
        return
    starts, sizes, _ = window
    ref[...] = lax.dynamic_update_slice(ref[...], jnp.asarray(value).astype(aval.dtype).reshape(sizes), starts)


def _on_values() -> bool:
    """Whether element accesses index values (`_dynamic_window`): inside a compiled while
    loop, in a trace without derivatives."""
    session = tracing.current()
    return VALUE_INDEXING and session.forward_only and session.in_while > 0


def _dynamic_window(index, shape):
    """`(starts, sizes, axes)` of a normalized index of ints, static unit-step slices and at
    least one traced scalar int (the indexed `axes`), else None; where `_on_values()`.

    Such an access is done on the Ref's value (`lax.dynamic_slice` /
    `dynamic_update_slice`), as a hand port indexes its carry: JAX's discharge of
    `ref[i]` converts each index to int32 first, a conversion XLA keeps in the loop
    (insertion sort's three accesses per step: 1.17x the hand port, 1.0x this way).
    Only in while loops: in `for` loops, measured with `benchmarks/kernels.py`, the
    int64 index made XLA fuse differently and run slower as often as faster (durbin
    0.77x -> 1.13x the hand port, histogram_binned 0.53x -> 1.19x; histogram 1.24x ->
    1.03x). Only without derivatives: `runtime/streaming.py` reads the Refs' accesses
    from the jaxpr to stream loops for linear-time gradients; a loop whose body indexes
    values here has the differentiable lowering traced as well (`Session.value_indexed`)."""
    if len(index) > len(shape):
        return None
    starts, sizes, axes, traced = [], [], [], False
    for axis, item in enumerate(index):
        if isinstance(item, int):
            starts.append(item)
            sizes.append(1)
            axes.append(axis)
        elif isinstance(item, slice):
            start, stop, step = item.indices(shape[axis])
            if step != 1:
                return None
            starts.append(start)
            sizes.append(max(stop - start, 0))
        elif is_tracer(item) and np.shape(item) == () and jnp.issubdtype(item.dtype, jnp.integer):
            starts.append(item)  # lax.dynamic_slice wraps a negative index, as Ref indexing does
            sizes.append(1)
            axes.append(axis)
            traced = True
        else:
            return None
    if not traced:
        return None
    tracing.current().value_indexed += 1
    for size in shape[len(index):]:
        starts.append(0)
        sizes.append(size)
    return tuple(starts), tuple(sizes), tuple(axes)


def set(ref, index, value, location: Location | None):
    """Performs `ref[index] = value` with NumPy's broadcasting and casting. Returns what a
    read of `index` gives now, where that is the value written as it is (an index of ints,
    traced ints and static slices); else None."""
    aval = jax.typeof(ref)
    if windows.is_block(index, len(aval.shape)):  # `A[k + 1:, k + 1:] -= np.outer(u, v)`
        windows.write_block(ref, index, value, location)
        return
    axis = windows.traced_slice_axis(index, len(aval.shape))
    if axis is not None:  # `y[:k] = w`, `A[k + 1:, k] /= p` with traced bounds
        line_index, part = windows.split(index, axis)
        windows.write(ref, normalize(line_index, aval.shape, location), part, value, location)
        return
    value = jnp.asarray(value)
    if is_mask(index, aval.shape):
        whole = ref[...]
        ref[...] = jnp.where(index, jnp.broadcast_to(value, aval.shape).astype(aval.dtype), whole)
        return
    index = normalize(index, aval.shape, location)
    target = indexed_shape(aval.shape, index)
    try:
        value = jnp.broadcast_to(value, target)
    except ValueError:
        raise ShapeError(
            f"could not broadcast input array from shape {value.shape} into shape {target}", location
        ) from None
    if 0 in target:
        return None  # writes nothing, as NumPy does
    value = value.astype(aval.dtype)
    put(ref, index, value, normalized=True)
    return value



def subscript(value, index):
    """`value[index]` read in converted code, for an index with a literal integer, a
    parameter, or a slice whose bounds are not constants (see passes/slices.py).

    A slice of one axis with traced bounds gives a masked window (windows.py); a static
    integer out of bounds raises `IndexingError` at the user's line, as NumPy's
    IndexError, where jax.numpy would clamp it."""
    if not hasattr(value, "ndim") or isinstance(value, windows._Selection) or getattr(value, "is_ref", None) is not None:
        return value[index]  # Python sequences, windows, boxes (which check themselves)
    if windows.any_traced(index):
        if windows.is_block(index, value.ndim):
            return windows.read_block(jnp.asarray(value), index)
        axis = windows.traced_slice_axis(index, value.ndim)
        line_index, part = windows.split(index, axis)
        return windows.read(jnp.asarray(value)[line_index], part)
    if not isinstance(value, np.ndarray):  # NumPy raises by itself
        if is_mask(index, tuple(value.shape)) and not isinstance(index, np.ndarray):
            raise IndexingError(
                "reading `a[mask]` with a traced boolean mask gives a result whose size depends "
                "on the data (also in `a[mask] += v`, which reads it first)",
                caller_location(),
                "compiled code needs static shapes: use np.where(mask, a, 0), or "
                "a[...] = np.where(mask, a * v, a) for an update",
            )
        _check_static_ints(index, tuple(value.shape))
    return value[index]


def _check_static_ints(index, shape: tuple) -> None:
    parts = index if isinstance(index, tuple) else (index,)
    explicit = sum(1 for p in parts if p is not Ellipsis and p is not None)
    dim = 0
    for part in parts:
        if part is Ellipsis:
            dim += len(shape) - explicit
            continue
        if part is None:
            continue
        if dim >= len(shape):
            return  # too many indices: jax.numpy's own error names it
        static = _static_int(part)
        if static is not None and not -shape[dim] <= static < shape[dim]:
            raise IndexingError(
                f"index {static} is out of bounds for axis {dim} with size {shape[dim]}",
                caller_location(),
                "NumPy raises IndexError here; compiled code would clamp the index into the array",
            )
        if getattr(part, "dtype", None) is not None and jnp.issubdtype(part.dtype, jnp.bool_):
            return  # a mask spans several axes
        dim += 1
