"""Element writes in a loop iteration, coalesced into one update per array.

XLA:CPU (jaxlib 0.10.2) copies a whole array in every loop iteration that updates
it in place twice: a pure-JAX model of the Nussinov recurrence with two
`dynamic_update_slice`s of one cell per iteration ran in 103 ms against 0.14 ms
with one (n = 150), and an FFT butterfly writes two elements per iteration. So in
the forward-only lowering (`Session.forward_only`: plain calls, no derivative taken
of it) a compiled loop's iteration buffers its writes of single elements of arrays
that live outside the loop, instead of writing the Refs:

- a read of a buffered array's element inside a branch is forwarded: the buffered
  value where an earlier write used the same index objects, else the Ref's element
  selected against each buffered write's index (`where(i == j, value, element)`);
  at the iteration's own level a read does the buffered writes of that array first;
- a second write to the same element (same index objects) replaces the first;
- at the end of the iteration, and before anything else touches the array (a
  whole read, a slice, a nested loop or branch that is not deferred), the writes
  are done: one `dynamic_update_slice` for one element, one scatter for several
  (an element written twice under different index objects gets the last value).

Indices are wrapped and clamped as JAX's Ref indexing does before they are compared.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from refscript.runtime import deferred, indexing, tracing

# Switched off only to measure what it saves.
ENABLED = True


class Buffer:
    """The buffered element writes of one loop iteration, by box, in program order."""

    def __init__(self, depth: int):
        self.depth = depth
        self.entries: dict[int, tuple] = {}  # id(box) -> (box, [(index, value), ...])


@contextlib.contextmanager
def iteration():
    """Buffers element writes while one loop iteration is traced (the caller is already
    inside the iteration's `traced_body`), and does them at its end."""
    session = tracing.current()
    if not (ENABLED and session.forward_only):
        yield
        return
    buffer = Buffer(session.depth)
    session.buffers.append(buffer)
    try:
        yield
        flush_all()
    finally:
        session.buffers.pop()


def _active(box):
    """The buffer that takes `box`'s element writes now, or None."""
    session = tracing.current()
    if not session.buffers:
        return None
    top = session.buffers[-1]
    if top.depth != session.depth or box.home_depth >= top.depth:
        return None
    return top


def _element_index(box, index, location):
    """`index` as a tuple of scalar integers (wrapped and clamped as JAX does), if it
    selects one element of `box`'s array; else None."""
    aval = jax.typeof(box.ref)
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) != len(aval.shape) or any(p is Ellipsis or p is None or isinstance(p, (slice, list, np.ndarray))
                                            for p in parts):
        return None
    result = []
    for part, size in zip(parts, aval.shape):
        if isinstance(part, (bool, np.bool_)):
            return None
        if isinstance(part, (int, np.integer)):
            if not -size <= part < size:
                return None  # the real write reports it
            result.append(int(part) % size)
            continue
        dtype = getattr(part, "dtype", None)
        if dtype is None or np.shape(part) != () or not jnp.issubdtype(dtype, jnp.integer):
            return None
        result.append(part)  # wrapped and clamped when compared or written
    return tuple(result)


def _canonical(index, shape):
    return tuple(p if isinstance(p, int) else jnp.clip(jnp.where(p < 0, p + size, p), 0, size - 1)
                 for p, size in zip(index, shape))


def _same_objects(a, b) -> bool:
    return all(x is y or (isinstance(x, int) and isinstance(y, int) and x == y) for x, y in zip(a, b))


def _equal(a, b, shape):
    """A traced bool: whether indices `a` and `b` name the same element."""
    result = jnp.asarray(True)
    for x, y in zip(_canonical(a, shape), _canonical(b, shape)):
        if isinstance(x, int) and isinstance(y, int):
            if x != y:
                return jnp.asarray(False)
            continue
        result = result & (x == y)
    return result


def buffer_item(box, index, value, location) -> bool:
    """Buffers `box[index] = value` if an iteration buffer takes it; the caller writes
    the Ref otherwise (having flushed what the box has buffered)."""
    buffer = _active(box)
    if buffer is None:
        flush(box)
        return False
    element = _element_index(box, index, location)
    if element is None:
        flush(box)
        return False
    aval = jax.typeof(box.ref)
    try:
        value = jnp.broadcast_to(jnp.asarray(value), ()).astype(aval.dtype)
    except (ValueError, TypeError):
        flush(box)
        return False  # the real write reports it
    _, writes = buffer.entries.setdefault(id(box), (box, []))
    writes[:] = [(i, v) for i, v in writes if not _same_objects(i, element)]
    writes.append((element, value))
    return True


def read_item(box, index, location, forward: bool = False):
    """`box[index]` with buffered writes forwarded; None when the box has none buffered
    (the caller reads the Ref). `forward`: also at the iteration's own level (the old
    element a deferred branch write selects against)."""
    buffer, pending = _buffered(box)
    if pending is None:
        return None
    if not forward and buffer.depth == tracing.current().depth:
        # At the iteration's own level a read does the buffered writes first, as the
        # uncoalesced program would: forwarding there made XLA:CPU run an insertion
        # sort's inner loop 20x slower (its test reads the element just shifted).
        flush(box)
        return None
    element = _element_index(box, index, location)
    if element is None:
        flush(box)
        return None
    last = max((k for k, (buffered, _) in enumerate(pending) if _same_objects(buffered, element)), default=None)
    shape = jax.typeof(box.ref).shape
    if last is None:
        result, later = indexing.get(box.ref, element, location), pending
    else:
        result, later = pending[last][1], pending[last + 1:]
    for written, value in later:
        result = jnp.where(_equal(written, element, shape), value, result)
    return result


def _buffered(box):
    """(the buffer holding `box`'s buffered writes, those writes), or (None, None)."""
    for buffer in tracing.current().buffers:
        entry = buffer.entries.get(id(box))
        if entry is not None and entry[1]:
            return buffer, entry[1]
    return None, None


def flush(box) -> None:
    """Does `box`'s buffered writes now."""
    for buffer in tracing.current().buffers:
        entry = buffer.entries.get(id(box))
        if entry is not None and entry[1]:
            _outside_branches(buffer)
            del buffer.entries[id(box)]
            _write(box, entry[1])


def flush_all() -> None:
    """Does every buffered write now (at the end of an iteration, before a nested
    loop, a conditional that writes Refs, a parallel loop)."""
    for buffer in tracing.current().buffers:
        if any(writes for _, writes in buffer.entries.values()):
            _outside_branches(buffer)
        entries, buffer.entries = buffer.entries, {}
        for box, writes in entries.values():
            if writes:
                _write(box, writes)


def _outside_branches(buffer) -> None:
    """Buffered writes are done at the iteration's own level: asked for inside a branch
    being traced with deferred writes (which would do them on one path only), the
    branch gives up deferring (and the plain conditional flushes first)."""
    session = tracing.current()
    if session.depth == buffer.depth:
        return
    for deferral in reversed(session.deferrals):
        if deferral.depth > buffer.depth:
            raise deferred.CannotDefer(deferral)
    raise AssertionError("refscript: buffered writes flushed inside a nested body (please report)")


def _write(box, writes) -> None:
    ref = box.ref
    shape = jax.typeof(ref).shape
    if len(writes) == 1:
        index, value = writes[0]
        ref[_canonical(index, shape)] = value
        return
    # One scatter. An element written under two different index objects gets the
    # value of the last write in every position that names it (a scatter applies
    # duplicates in no set order).
    values = []
    for k, (index, value) in enumerate(writes):
        for later, later_value in writes[k + 1:]:
            value = jnp.where(_equal(index, later, shape), later_value, value)
        values.append(value)
    canonical = [_canonical(index, shape) for index, _ in writes]
    columns = tuple(jnp.stack([jnp.asarray(c[axis]) for c in canonical]) for axis in range(len(shape)))
    ref[columns] = jnp.stack(values)
