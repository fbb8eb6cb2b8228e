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

from refscript.runtime import bounds, deferred, indexing, promotion, tracing

# Switched off only to measure what it saves.
ENABLED = True


class Buffer:
    """The buffered element writes of one loop iteration, by box, in program order."""

    def __init__(self, depth: int):
        self.depth = depth
        self.entries: dict[int, tuple] = {}  # id(box) -> (box, [(index, value), ...])
        self.invariant: list = []  # (box, index) written at loop-invariant indices (promotion.py)


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
        promotion.end_of_iteration(buffer)
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


def takes(box, index) -> bool:
    """Whether `box[index] = value`, recorded now by the deferred branches being traced,
    ends in an iteration's buffer when they apply their writes (each enclosing level
    down to the buffer's defers it in turn)."""
    session = tracing.current()
    if not (ENABLED and session.forward_only and session.buffers):
        return False
    top = session.buffers[-1]
    if box.home_depth >= top.depth or element_index(box, index) is None:
        return False
    deferring = {d.depth for d in session.deferrals}
    return all(level in deferring for level in range(top.depth + 1, session.depth + 1))


def element_index(box, index):
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


def canonical_index(index, shape):
    return tuple(canonical_part(p, size) for p, size in zip(index, shape))


def canonical_part(part, size: int):
    """An index part as the element position it names (wrapped, clamped as JAX does)."""
    if isinstance(part, int):
        return part
    if bounds.within(part, 0, size - 1):
        return part  # needs no wrapping or clamping
    return jnp.clip(jnp.where(part < 0, part + size, part), 0, size - 1)


def same_objects(a, b) -> bool:
    return all(x is y or (isinstance(x, int) and isinstance(y, int) and x == y) for x, y in zip(a, b))


def equal(a, b, shape, canonical_a=None):
    """Whether indices `a` and `b` name the same element: a Python bool where that is
    known while tracing, else a traced bool (`canonical_a`: `a`'s parts as
    `canonical_part` gives them, if already computed)."""
    result = True
    for k, (x, y, size) in enumerate(zip(a, b, shape)):
        if x is y:
            continue
        if isinstance(x, int) and isinstance(y, int):
            if x != y:
                return False
            continue
        if bounds.apart(x, y, size):  # `table[i, k]` against `table[i, j]`: k < j
            return False
        x = canonical_a[k] if canonical_a is not None else canonical_part(x, size)
        same = x == canonical_part(y, size)
        result = same if result is True else result & same
    return result


def where(condition, a, b):
    """`jnp.where(condition, a, b)` for a condition `equal` gave (nothing when it is known)."""
    if condition is True or condition is False:
        return a if condition else b
    return jnp.where(condition, a, b)


def element_value(box, value):
    """`value` as one element of `box`'s array (cast as a write casts it), or None when
    it is not one: the real write reports that."""
    try:
        return jnp.broadcast_to(jnp.asarray(value), ()).astype(jax.typeof(box.ref).dtype)
    except (ValueError, TypeError):
        return None


def buffer_item(box, index, value, location) -> bool:
    """Buffers `box[index] = value` if an iteration buffer takes it; the caller writes
    the Ref otherwise (having flushed what the box has buffered)."""
    buffer = _active(box)
    if buffer is None:
        flush(box)
        return False
    element = element_index(box, index)
    if element is None:
        flush(box)
        return False
    value = element_value(box, value)
    if value is None:
        flush(box)
        return False  # the real write reports it
    _, writes = buffer.entries.setdefault(id(box), (box, []))
    writes[:] = [(i, v) for i, v in writes if not same_objects(i, element)]
    writes.append((element, value))
    promotion.note_write(buffer, box, element)
    return True


def read_item(box, index, location, forward: bool = False):
    """`box[index]` with buffered writes forwarded; None when the box has none buffered
    (the caller reads the Ref). `forward`: also at the iteration's own level (the old
    element a deferred branch write selects against)."""
    buffer, pending = _buffered(box)
    if pending is None:
        return None
    session = tracing.current()
    if not forward and buffer.depth == session.depth:
        # At the iteration's own level a read does the buffered writes first, as the
        # uncoalesced program would: forwarding there made XLA:CPU run an insertion
        # sort's inner loop 20x slower (its test reads the element just shifted). An
        # innermost loop body is a handful of XLA:CPU thunks run per iteration, and
        # one more of them can cost more than the read it saves: XLA:CPU runs a
        # sequence of at most 8 thunks in order, and a longer one through its
        # dataflow executor (jaxlib 0.10.2), which took Gram-Schmidt's inner loop
        # with `R[k, j]` forwarded from 8 thunks to 9 and from 1.0x the hand port to
        # 1.8x. A body that runs loops is not such a body, and there a read of the
        # element just written gets the written value (the writes are still done):
        # Gram-Schmidt's `Q[:, k] = a[:, k] / R[k, k]` after `R[k, k] = ...`, read
        # back, let XLA fuse `a[:, k] * (1 / R[k, k])` into the write of Q after the
        # inner loop, which then keeps two copies of `a` per column (1.35x the hand
        # port; 1.0x forwarded).
        last_index, last_value = pending[-1]
        runs_loops = bool(session.bodies) and session.bodies[-1].runs_loops
        element = element_index(box, index) if runs_loops else None
        flush(box)
        return last_value if element is not None and same_objects(last_index, element) else None
    element = element_index(box, index)
    if element is None:
        flush(box)
        return None
    last = max((k for k, (buffered, _) in enumerate(pending) if same_objects(buffered, element)), default=None)
    shape = jax.typeof(box.ref).shape
    if last is None:
        result, later = indexing.get(box.ref, element, location), pending
    else:
        result, later = pending[last][1], pending[last + 1:]
    for written, value in later:
        result = where(equal(written, element, shape), value, result)
    return result


def _buffered(box):
    """(the buffer holding `box`'s buffered writes, those writes), or (None, None)."""
    for buffer in tracing.current().buffers:
        entry = buffer.entries.get(id(box))
        if entry is not None and entry[1]:
            return buffer, entry[1]
    return None, None


def pending() -> bool:
    """Whether any iteration buffer holds writes not done yet."""
    return any(writes for buffer in tracing.current().buffers for _, writes in buffer.entries.values())


def set_aside() -> list:
    """Empties the buffers (for a trace that is thrown away, whose values do not matter)
    and returns their contents, for `restore` after it."""
    saved = []
    for buffer in tracing.current().buffers:
        saved.append((buffer, buffer.entries, buffer.invariant))
        buffer.entries, buffer.invariant = {}, []
    return saved


def restore(saved: list) -> None:
    for buffer, entries, invariant in saved:
        buffer.entries, buffer.invariant = entries, invariant


def take(box, element):
    """`box[element]` with buffered writes forwarded, the buffered writes of that very
    element (the same index objects) dropped: the caller writes it later."""
    value = read_item(box, element, None, forward=True)
    if value is None:
        return indexing.get(box.ref, element, None)
    for buffer in tracing.current().buffers:
        entry = buffer.entries.get(id(box))
        if entry is not None:
            entry[1][:] = [(i, v) for i, v in entry[1] if not same_objects(i, element)]
    return value


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
        # The index as the element's reads use it (wrapped and clamped as they are):
        # XLA then fuses a read-modify-write of the element into one in-place update.
        indexing.put(ref, index, value)
        return
    # One scatter. An element written under two different index objects gets the
    # value of the last write in every position that names it (a scatter applies
    # duplicates in no set order).
    values = []
    for k, (index, value) in enumerate(writes):
        for later, later_value in writes[k + 1:]:
            value = where(equal(index, later, shape), later_value, value)
        values.append(value)
    canonical = [canonical_index(index, shape) for index, _ in writes]
    columns = tuple(jnp.stack([jnp.asarray(c[axis]) for c in canonical]) for axis in range(len(shape)))
    ref[columns] = jnp.stack(values)
