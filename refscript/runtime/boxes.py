"""Boxes: how a converted function's variables live across loops and branches.

The converter turns every variable that a loop or branch rebinds and that is used
across it (and every array written by subscript) into a box: `s = 0.0` before a
loop becomes `s_ref = rs.box(s, 's')`, `s += x[i]` inside becomes
`s_ref.iadd(x[i])` (an array written in place, a number rebound: runtime/inplace.py),
and after the loop `s = s_ref.value`.

A box holds a plain Python value until traced control flow needs it; then it is
*materialized* into a JAX Ref (`jax.new_ref`) that loop and branch bodies read
and write. So a variable keeps Python semantics under static control flow (a
static `if`, an unrolled loop) and becomes `Ref{f32[]}` under traced control flow.

Rebinding a box in the scope that created it replaces its value, as Python does.
Rebinding it inside a traced body writes the Ref: the new value must keep the
variable's shape; if its dtype is wider (an int accumulator receiving floats),
the trace restarts with the box created at the wider type.
"""

from __future__ import annotations

import contextlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

from refscript._jax_internal import is_tracer, usable_here
from refscript.errors import Location, LoopVariableTypeError, caller_location
from refscript.runtime import coalesce, deferred, indexing, inplace, promotion, tracing
from refscript.runtime.undefined import Undefined


# Store-to-load forwarding (`Box._forwarded`); switched off only to measure what it saves.
FORWARDING = True
# Forwarding at a loop body's own level where the body runs loops of its own
# (`tracing.Body.runs_loops`); switched off only to measure what it saves.
FORWARDING_AROUND_LOOPS = True


def is_array_like(value) -> bool:
    """Whether `value` can live in a Ref: a number or an array (NumPy, JAX, traced)."""
    if isinstance(value, (bool, int, float, complex, np.generic, np.ndarray, jax.Array)):
        return True
    return is_tracer(value)


class Box:
    """A variable of the user's function that may become a Ref. See the module docstring.

    Generated code uses `box.value` to read or rebind the variable, `box[i]` to read
    or write its elements, and `box.shape` (`dtype`, `ndim`, `size`) without reading it.
    """

    __slots__ = ("name", "site", "home_depth", "defined", "unbound_by", "_value", "_ref", "_awaiting_type",
                 "_written")

    def __init__(self, value, name: str, site):
        self.name = name
        self.site = site
        self.home_depth = tracing.current().depth
        self._value = value
        self._ref = None
        self._awaiting_type = False
        self._written = None  # see `_forwarded`
        self.defined = not isinstance(value, Undefined)
        self.unbound_by = None  # the traced `if` that left the variable bound on one branch only

    def __repr__(self) -> str:
        state = "Ref" if self._ref is not None else "value"
        return f"<box {self.name!r} ({state})>"

    @property
    def ref(self):
        """The JAX Ref holding the variable, once it has one and it is bound; else None."""
        return self._ref if self.defined else None

    @property
    def is_ref(self) -> bool:
        return self._ref is not None or self._awaiting_type

    # Whole-variable access.

    @property
    def value(self):
        if not self.is_ref:
            return self._value
        if not self.defined or self._ref is None:
            return self._undefined()
        deferred.check_read(self)
        forwarded = self._forwarded(Ellipsis)
        if forwarded is not None:
            return forwarded
        coalesce.flush(self)
        promotion.sync(self)
        value = self._ref[...]
        if FORWARDING:  # the next read gives the same value (the same tracer), until a write
            self._written = (Ellipsis, value, tuple(tracing.current().bodies), False)
        return value

    def _undefined(self) -> Undefined:
        return Undefined(self.name, where=self.unbound_by)

    @value.setter
    def value(self, new):
        self._written = None
        if tracing.current().depth == self.home_depth:
            self._ref, self._awaiting_type = None, False
            self._value = new
            self.defined = not isinstance(new, Undefined)
            return
        self._write_in_traced_body(new, caller_location())

    def _write_in_traced_body(self, new, location: Location) -> None:
        if not self.is_ref:
            raise not_an_array_error(self.name, self._value, location)
        if not is_array_like(new):
            raise not_an_array_error(self.name, new, location)
        new = jnp.asarray(new)
        session = tracing.current()
        if self._ref is None:  # first bound inside a traced body: learn its type, restart
            session.hints[self.site] = tracing.BoxType(new.shape, new.dtype)
            raise tracing.Restart()
        aval = jax.typeof(self._ref)
        if new.shape != aval.shape:
            raise LoopVariableTypeError(
                f"variable {self.name!r} changes shape from {_describe(aval)} to {_describe(new)} "
                "inside traced control flow",
                location,
                "a variable carried through a loop or branch keeps one shape; "
                "allocate it at its final shape before the loop",
            )
        wanted = jnp.result_type(_promotion_operand(aval), new)
        if wanted != aval.dtype:
            session.hints[self.site] = tracing.BoxType(aval.shape, wanted)
            raise tracing.Restart()
        new = new.astype(aval.dtype)
        if not deferred.record_whole(self, new):
            coalesce.flush(self)
            self._ref[...] = new
            promotion.reload(self)
            if FORWARDING:
                self._written = (Ellipsis, new, tuple(session.bodies), True)
        self.defined = True

    # Element access.

    def __getitem__(self, index):
        if not self.is_ref:
            return indexing.subscript(self._value, index)
        if not self.defined or self._ref is None:
            return self._undefined()[index]
        deferred.check_read(self)
        forwarded = self._forwarded(index)
        if forwarded is not None:
            return forwarded
        location = caller_location()
        forwarded = promotion.read_item(self, index, location)
        if forwarded is None:
            forwarded = coalesce.read_item(self, index, location)
        if forwarded is not None:
            return forwarded
        return indexing.get(self._ref, index, location)

    def __setitem__(self, index, new):
        self._written = None
        location = caller_location()
        if not self.is_ref:
            if not is_array_like(self._value) or isinstance(self._value, (bool, int, float, complex)):
                self._value[index] = new  # a Python container: plain Python semantics
                return
            self.materialize(location)
        if not self.defined or self._ref is None:
            self._undefined()[index]
        if deferred.record_item(self, index, new, location):
            return
        if not promotion.write_item(self, index, new, location, self._write_item):
            self._write_item(index, new, location)

    def _write_item(self, index, new, location) -> None:
        if not coalesce.buffer_item(self, index, new, location):
            self._remember(index, indexing.set(self._ref, index, new, location))

    # Store-to-load forwarding. A read, in a loop or branch body, of what the last write
    # before it wrote (the same index) returns the written value instead of reading the
    # Ref: XLA keeps both the array before and after an in-place update alive when a
    # loop reads the updated part, and copies the whole array to do so (Gram-Schmidt
    # writes `Q[:, k]` and reads it in every iteration of the next loop: four copies of
    # the matrix per column, 1.65x the hand port, which keeps the column it computed).
    # A repeated read of the whole variable returns the same value (tracer) anywhere.

    def _remember(self, index, written) -> None:
        """After `ref[index] = ...`: keeps what a read of `index` gives now (`written`, as
        `indexing.set` returns it; None where it does not know)."""
        if written is None or not (FORWARDING and _forwardable(index)):
            return
        self._written = (index, written, tuple(tracing.current().bodies), True)

    def _forwarded(self, index):
        """The value the last write put at `index`, if it is still there (no write to
        the box since, in a body that encloses this read, and no loop between them
        that writes the box); else None."""
        if self._written is None:
            return None
        written_index, value, bodies, stored = self._written
        if not _same_index(written_index, index):
            return None
        session = tracing.current()
        current = session.bodies
        if len(current) < len(bodies) or any(a is not b for a, b in zip(bodies, current)):
            return None  # written in a branch or loop body that has ended
        if stored and len(current) == len(bodies) and not (current and current[-1].runs_loops):
            # In the same body a stored value is not forwarded: XLA then keeps it alive
            # beside the updated array (jacobi_2d, whose next statement reads the slice
            # it just wrote among others, ran 4x slower than the hand port). A body
            # that runs loops is the exception (`coalesce.read_item` says why).
            return None
        if any(body.loop_writes is not None and id(self) in body.loop_writes for body in current[len(bodies):]):
            return None  # a loop between writes the box: a later iteration sees other values
        if session.promoted.get(id(self)) or not usable_here(value):
            return None  # (a value computed inside a conditional expression's branch)
        return value

    @property
    def shape(self):
        return tuple(self._aval_or_value().shape)

    @property
    def dtype(self):
        return self._aval_or_value().dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def _aval_or_value(self):
        if self._ref is not None and self.defined:
            return jax.typeof(self._ref)
        value = self.value
        return value if hasattr(value, "shape") else np.asarray(value)

    # Becoming a Ref.

    def can_materialize(self) -> bool:
        return self.is_ref or isinstance(self._value, Undefined) or is_array_like(self._value)

    def materialize(self, location: Location | None = None) -> None:
        """Turns the box into a Ref, created in the scope that owns the box."""
        if self.is_ref:
            return
        hint = tracing.current().hints.get(self.site)
        if isinstance(self._value, Undefined):
            if hint is None:
                self._awaiting_type = True
            else:
                self._ref = jax.new_ref(jnp.zeros(hint.shape, hint.dtype))
                self.defined = self._value.bound_later
            return
        if not is_array_like(self._value):
            raise not_an_array_error(self.name, self._value, location)
        initial = jnp.asarray(self._value)
        if hint is not None and hint.dtype != initial.dtype:
            initial = initial.astype(hint.dtype)
        self._ref = jax.new_ref(initial)
        self._value = None


def store(box, value) -> None:
    """Writes `value`, of the Ref's type (a loop's final carry, `carried`), into the
    bound Ref of `box`: the box stays a Ref, as after a loop over the Refs."""
    box._written = None
    box._ref[...] = value


@contextlib.contextmanager
def carried(boxes, values):
    """Within: each of `boxes` (all bound Refs) reads and writes a Ref of its own, made
    from its entry of `values` (a loop's carry), instead of its Ref; yields a function
    that reads them (after the iteration's writes are flushed). For a `while_loop`
    whose `cond_fun` must see what the body wrote: a Ref the body writes would reach
    it stale (shared/JAX-REFS.md), a carry does not."""
    saved = [(b._ref, b._written) for b in boxes]
    try:
        for b, value in zip(boxes, values):
            b._ref, b._written = jax.new_ref(value), None
        yield lambda: [b.value for b in boxes]
    finally:
        for b, (ref, written) in zip(boxes, saved):
            b._ref, b._written = ref, written


def _forwardable(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if part is Ellipsis or (isinstance(part, int) and not isinstance(part, bool)):
            continue
        if isinstance(part, slice):
            if any(b is not None and (isinstance(b, bool) or not isinstance(b, int))
                   for b in (part.start, part.stop, part.step)):
                return False
            continue
        if not (is_tracer(part) and np.shape(part) == () and jnp.issubdtype(part.dtype, jnp.integer)):
            return False
    return True


def _same_index(a, b) -> bool:
    """Whether two indices are the same: equal ints and static slices, identical tracers."""
    a = a if isinstance(a, tuple) else (a,)
    b = b if isinstance(b, tuple) else (b,)
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is y:
            continue
        if isinstance(x, slice) and isinstance(y, slice):
            if not all(_same_int(p, q) for p, q in ((x.start, y.start), (x.stop, y.stop), (x.step, y.step))):
                return False
        elif not _same_int(x, y):
            return False
    return True


def _same_int(x, y) -> bool:
    return x is y or (type(x) is int and type(y) is int and x == y)


def not_an_array_error(name: str, value, location: Location | None) -> LoopVariableTypeError:
    """The error for a variable holding a Python object where traced control flow changes it."""
    hint = "only numbers and arrays can change inside traced control flow"
    if value is None:
        hint = ("a variable (or a function's result) must have one type on every path; "
                "None on one path and an array on another cannot be compiled")
    return LoopVariableTypeError(
        f"variable {name!r} holds a {type(value).__name__}, which cannot change inside a loop or "
        "branch that depends on traced values",
        location,
        hint,
    )


def _promotion_operand(aval):
    """What takes part in type promotion for a Ref's value: a weakly typed Ref (one
    made from a Python number) promotes like a Python number, as JAX does."""
    if not aval.weak_type:
        return aval.dtype
    kind = jnp.dtype(aval.dtype).kind
    return {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}[kind]


def _describe(value) -> str:
    dtype = jnp.dtype(value.dtype).name
    return f"{dtype}{list(value.shape)}"


def box(value, name: str) -> Box:
    """Returns a new box for variable `name`, holding `value` (refscript's generated code calls this)."""
    frame = sys._getframe(1)
    return Box(value, name, (frame.f_code, frame.f_lasti, name))


def box_undefined(name: str) -> Box:
    """Returns a new box for variable `name`, not yet bound."""
    frame = sys._getframe(1)
    return Box(Undefined(name), name, (frame.f_code, frame.f_lasti, name))


def _in_place_method(op: str):
    def method(self, value) -> None:
        inplace.augment_box(self, value, op)

    method.__name__ = method.__qualname__ = op
    method.__doc__ = f"`name {inplace.SYMBOLS[op]} value` on the boxed variable (runtime/inplace.py)."
    return method


# `s_ref.iadd(v)` for `s += v`, and the other in-place operators by their `operator` module names.
for _op in inplace.OPERATORS:
    setattr(Box, _op, _in_place_method(_op))


def argument_box(value, name: str) -> Box:
    """Returns a box for parameter `name`, which the function writes into and never rebinds.

    In NumPy such a parameter is the caller's array; the driver reads the box's
    final value after the call to update the caller's array (see `refscript.jit`).
    """
    frame = sys._getframe(1)
    result = Box(value, name, (frame.f_code, frame.f_lasti, name))
    tracing.current().argument_boxes.setdefault(name, result)
    return result
