"""Loop-invariant array elements held in a scalar across a compiled loop.

NumPy loop code accumulates into an array element whose index does not change in
the loop: `C[i, j] += A[i, k] * B[k, j]`, Nussinov's
`table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])`. Compiled as
written, every iteration reads the element and updates the whole array in place
(a `dynamic_update_slice`), and XLA:CPU runs such a loop several times slower
than one carrying the element as a scalar, the way a hand port is written
(Nussinov, n = 150: 16.3 ms against 3.2 ms for the same function with a local
`best`; jaxlib 0.10.2).

So in the forward-only lowering (`tracing.Session.forward_only`) a compiled loop is
traced once; if its iteration wrote (`coalesce.buffer_item`) an element of an array
from outside the loop at an index made only of Python ints and values from outside
the loop, the loop is traced again with that element *promoted*: a scalar Ref
(the cell) holds it, read from the array before the loop and written back once
after it. While the loop is traced, the array's box routes accesses:

- the element itself (the same index objects): the cell;
- another single element: the array, then `where(index == element, cell, value)`
  for a read (the indices may be equal at run time), and for a write the array is
  written and the cell updated the same way;
- anything else (a slice, the whole array): the cell is written into the array
  first, and after a write the cell is read back from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from refscript._jax_internal import made_in_current_trace
from refscript.errors import Location
from refscript.runtime import coalesce, indexing, tracing

# Switched off only to measure what it saves.
ENABLED = True

# At most this many elements are promoted in one loop (each is a carried scalar).
MAX_ELEMENTS = 8


@dataclass
class Promoted:
    box: object
    element: tuple  # scalar index parts: Python ints, or tracers from outside the loop
    cell: object  # a scalar Ref
    canonical: tuple = ()  # the element's parts as coalesce.canonical_part gives them


class _Probe:
    """A compiled loop being traced for the first time: what its iteration writes."""

    def __init__(self, depth: int):
        self.depth = depth


class _Found(BaseException):
    """Ends the first trace of a loop whose iteration writes loop-invariant elements.

    A BaseException, as `deferred.CannotDefer`: user code converted inside the loop
    must not catch it."""

    def __init__(self, probe: _Probe, elements: list):
        super().__init__()
        self.probe = probe
        self.elements = elements


def compiled_loop(trace_loop, location: Location) -> None:
    """Emits one compiled loop by calling `trace_loop()` (its iterations traced under
    `coalesce.iteration()`), with the loop-invariant elements its iteration writes
    promoted, if there are any; does the buffered writes of enclosing iterations first.

    Which elements those are is learned by tracing the loop: for real, ended early
    if it finds some; or, where an enclosing iteration has buffered writes, in a trace
    that is thrown away, so that an element's buffered write goes into its cell
    instead of into the array before the loop."""
    session = tracing.current()
    if not (ENABLED and session.forward_only and coalesce.ENABLED):
        coalesce.flush_all()
        trace_loop()
        return
    if coalesce.pending():
        elements = _probe(lambda: jax.make_jaxpr(trace_loop)(), dry=True)
        if not elements:
            coalesce.flush_all()
            trace_loop()
            return
    else:
        elements = _probe(trace_loop, dry=False)
        if not elements:
            return  # emitted
    initial = [coalesce.take(box, element) for box, element in elements]
    coalesce.flush_all()
    promoted = [Promoted(box, element, jax.new_ref(value), coalesce.canonical_index(element, jax.typeof(box.ref).shape))
                for (box, element), value in zip(elements, initial)]
    for p in promoted:
        session.promoted.setdefault(id(p.box), []).append(p)
    try:
        trace_loop()
    finally:
        for p in promoted:
            entries = session.promoted[id(p.box)]
            entries.remove(p)
            if not entries:
                del session.promoted[id(p.box)]
    for p in promoted:
        p.box[p.element] = p.cell[...]
    names = ", ".join(sorted({p.box.name for p in promoted}))
    session.note_forward_only_choice(location, f"element of {names} held in a scalar across the loop")


def _probe(trace, dry: bool) -> list:
    """Calls `trace()` with the loop probed: the elements to promote, or []. A `dry`
    trace is thrown away: the enclosing iterations' buffered writes are set aside
    while it runs (its values do not matter, only which elements it writes)."""
    session = tracing.current()
    probe = _Probe(session.depth + 1)
    saved = coalesce.set_aside() if dry else None
    session.promotion_probes.append(probe)
    try:
        trace()
        return []
    except _Found as found:
        if found.probe is not probe:
            raise
        return found.elements
    finally:
        session.promotion_probes.remove(probe)
        if dry:
            coalesce.restore(saved)


def note_write(buffer, box, element) -> None:
    """Called as an iteration buffers `box[element] = ...`: remembers loop-invariant
    elements for the loop's probe."""
    if all(isinstance(p, int) or not made_in_current_trace(p) for p in element):
        if not any(b is box and coalesce.same_objects(e, element) for b, e in buffer.invariant):
            buffer.invariant.append((box, element))


def end_of_iteration(buffer) -> None:
    """At the end of an iteration's trace: ends a probed loop's first trace if its
    iteration wrote loop-invariant elements."""
    session = tracing.current()
    if not session.promotion_probes or not buffer.invariant:
        return
    probe = session.promotion_probes[-1]
    if probe.depth != buffer.depth:
        return
    elements = [(b, e) for b, e in buffer.invariant if id(b) not in session.promoted]
    if elements:
        raise _Found(probe, elements[:MAX_ELEMENTS])


# The box's accesses while elements of it are promoted (see the module docstring).


def _entries(box):
    return tracing.current().promoted.get(id(box))


def read_item(box, index, location):
    """`box[index]` where the box has promoted elements; None where it has none."""
    entries = _entries(box)
    if not entries:
        return None
    element = coalesce.element_index(box, index)
    if element is None:
        sync(box)
        return None
    for p in entries:
        if coalesce.same_objects(p.element, element):
            return p.cell[...]
    value = coalesce.read_item(box, index, location)
    if value is None:
        value = indexing.get(box.ref, index, location)
    return _select(entries, element, value, jax.typeof(box.ref).shape)


def write_item(box, index, value, location, write) -> bool:
    """Performs `box[index] = value` where the box has promoted elements (`write(index,
    value, location)` writes the array); False where it has none."""
    entries = _entries(box)
    if not entries:
        return False
    aval = jax.typeof(box.ref)
    element = coalesce.element_index(box, index)
    scalar = None if element is None else coalesce.element_value(box, value)
    if scalar is None:  # not one element: a slice, or a value the real write reports
        sync(box)
        write(index, value, location)
        reload(box)
        return True
    for p in entries:
        if coalesce.same_objects(p.element, element):
            p.cell[...] = scalar
            return True
    write(index, scalar, location)
    for p in entries:
        same = coalesce.equal(p.element, element, aval.shape, p.canonical)
        if same is not False:
            p.cell[...] = coalesce.where(same, scalar, p.cell[...])
    return True


def _select(entries, element, value, shape):
    for p in entries:
        value = coalesce.where(coalesce.equal(p.element, element, shape, p.canonical), p.cell[...], value)
    return value


def sync(box) -> None:
    """Writes `box`'s promoted elements into its array (before the array is used whole)."""
    for p in _entries(box) or ():
        indexing.put(box.ref, p.element, p.cell[...])


def reload(box) -> None:
    """Reads `box`'s promoted elements back from its array (after it was written whole)."""
    for p in _entries(box) or ():
        p.cell[...] = indexing.get(box.ref, p.element, None)

