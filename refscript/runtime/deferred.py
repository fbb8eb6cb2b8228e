"""Writes inside traced branches, moved after the branch.

`lax.cond` over branches that write an element of an array Ref (`L[i, j] = v` under
a traced `if`, or the body of a masked loop, which runs under `k < length`) makes
the array an operand and a result of the conditional, and XLA copies the whole
array every time the conditional runs: a Cholesky factorisation with
`if i == j: L[i, j] = sqrt(s) else: L[i, j] = s / L[j, j]` in its inner loop ran
5x slower than the same loop with the write after the branch (n = 160, CPU).

So a traced branch is first traced with its writes *deferred*: a write to a box
that lives outside the branch is recorded (the index and the value, already
broadcast and cast) instead of done, and the conditional returns the recorded
indices and values of the branch that ran. After it, each write happens:

    cond(pred, true: L[i, j] = a, false: L[i, j] = b)
        ->  (index, value) = cond(pred, true: ((i, j), a), false: ((i, j), b))
            L[index] = value                       both branches write alike
    cond(pred, true: x[i] = a, false: nothing)
        ->  (index, value) = cond(pred, true: (i, a), false: (0, 0))
            x[index] = where(pred, value, x[index])

The branch that did not run gives zeros (valid indices, finite values), and the
select takes the old element: values and gradients are those of the branch that
ran. Only the taken branch is evaluated, as before.

A branch cannot be deferred when it reads what it has already written (the read
would see the old value), or writes it again through an operation that cannot be
recorded (a masked slice, a boolean mask). Then `CannotDefer` unwinds to the branch
that recorded the write, which is traced again as a plain conditional with Ref
writes, and its location is remembered so later traces do not try again.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from refscript._jax_internal import is_tracer, made_in_current_trace
from refscript.runtime import coalesce, indexing, tracing, windows

# Switched off only to measure what it saves (benchmarks/branch_writes.py).
ENABLED = True

# The outputs' layout depends on what both branches write: the first trace may
# find the two disagree (each wrote what the other did not know of); the second
# knows both.
_ATTEMPTS = 2


class CannotDefer(BaseException):
    """Raised when a deferred write would be observed inside its branch.

    A `BaseException` so user code's `except Exception` (and the runtime's retries
    on tracing errors) let it through to the branch that owns the write.
    """

    def __init__(self, deferral: "Deferral"):
        super().__init__()
        self.deferral = deferral


_WHOLE = "whole"  # the index of a write of the whole variable (`s = ...`)


class _Write:
    """One recorded write: `box[index] = value`, or the whole variable."""

    __slots__ = ("box", "index", "value", "_made_inside")

    def __init__(self, box, index, value, made_inside=None):
        self.box, self.index, self.value = box, index, value
        if made_inside is None:  # recorded in the branch: which index parts it computed
            made_inside = () if index is _WHOLE else tuple(
                not isinstance(p, (int, slice)) and (made_in_current_trace(p) or not is_tracer(p)) for p in index)
        self._made_inside = made_inside

    def traced_parts(self) -> list:
        """The index parts the conditional returns: those computed in the branch (an index
        captured from outside, a loop index, is used as it is)."""
        if self.index is _WHOLE:
            return []
        return [p for p, inside in zip(self.index, self._made_inside) if inside]

    def key(self):
        """What must agree for two branches' writes to share the conditional's outputs."""
        if self.index is _WHOLE:
            skeleton = _WHOLE
        else:
            skeleton = tuple(
                ("i", p) if isinstance(p, int) else ("s", p.start, p.stop, p.step) if isinstance(p, slice)
                else ("a",) + _aval(p) if inside else ("outer", id(p))
                for p, inside in zip(self.index, self._made_inside)
            )
        return id(self.box), skeleton, _aval(self.value)

    def outputs(self) -> tuple:
        return tuple(self.traced_parts()), self.value

    def zeros(self) -> tuple:
        return (tuple(jnp.zeros(np.shape(p), _dtype(p)) for p in self.traced_parts()),
                jnp.zeros(np.shape(self.value), self.value.dtype))

    def with_outputs(self, outputs) -> "_Write":
        parts, value = outputs
        if self.index is _WHOLE:
            return _Write(self.box, _WHOLE, value, ())
        parts = iter(parts)
        index = tuple(next(parts) if inside else p for p, inside in zip(self.index, self._made_inside))
        return _Write(self.box, index, value, self._made_inside)

    def apply(self, active) -> None:
        """Performs the write after the conditional; `active` (traced bool or None) selects
        between the new value and the element's old one. Goes through the box, so an
        enclosing deferred branch records it in turn."""
        box = self.box
        if self.index is _WHOLE:
            box.value = self.value if active is None else jnp.where(active, self.value, box.value)
        else:
            if active is None:
                box[self.index] = self.value
                return
            if tracing.current().checks:
                # Where the branch did not run, its index (computed before the branch: `if 0 <= b <
                # n: h[b] += 1`) may be out of bounds; the write keeps the old element there, and
                # must not fail the run-time index check either.
                self = _Write(box, tuple(_guarded(p, active) for p in self.index), self.value, self._made_inside)
            # The element's value now, including writes buffered in this iteration (not
            # done first: that would make two in-place updates, see coalesce.py).
            old = coalesce.read_item(box, self.index, None, forward=True)
            box[self.index] = jnp.where(active, self.value, box[self.index] if old is None else old)


def _guarded(part, active):
    """An index part that is 0 where `active` is false (a valid index into a non-empty axis)."""
    if isinstance(part, slice) or part is None or part is Ellipsis:
        return part
    dtype = jnp.result_type(part)
    if not (jnp.issubdtype(dtype, jnp.integer) and (is_tracer(part) or is_tracer(active))):
        return part
    return jnp.where(active, part, jnp.zeros((), dtype))


def _aval(value) -> tuple:
    return tuple(np.shape(value)), str(_dtype(value))


def _dtype(value):
    """`value`'s dtype as JAX holds it: a Python int is int32 in 32-bit mode (asking JAX for
    NumPy's int64 there is a warning; the 32-bit generated programs found it)."""
    return jax.dtypes.canonicalize_dtype(value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype)


class Deferral:
    """The writes one branch body recorded. `depth` is the session depth inside it;
    `inline`: the branch is traced in the enclosing program, not in a conditional."""

    def __init__(self, depth: int, inline: bool = False):
        self.depth = depth
        self.inline = inline
        self.writes: list[_Write] = []
        self.pending: set[int] = set()  # ids of the boxes with recorded writes


def _recording(box):
    """The deferral that records a write to `box` now, or None for a real write
    (after `_allow_real_write`)."""
    session = tracing.current()
    if not session.deferrals:
        return None
    top = session.deferrals[-1]
    if top.depth == session.depth and box.home_depth < top.depth:
        return top
    before_real_write(box)
    return None


def before_real_write(box) -> None:
    """Raises `CannotDefer` when a real write to `box` now would be wrong: the box has
    recorded writes (the real one would be undone by them), or a branch traced inline
    (whose writes must all be selected) encloses the write and not the box."""
    for deferral in tracing.current().deferrals:
        if deferral.inline and box.home_depth < deferral.depth:
            raise CannotDefer(deferral)
    check_read(box)


def check_read(box) -> None:
    """Raises `CannotDefer` if `box` has writes recorded by a branch being traced."""
    for deferral in tracing.current().deferrals:
        if id(box) in deferral.pending:
            raise CannotDefer(deferral)


def record_whole(box, value) -> bool:
    """Records `box.value = value` (cast already) if a deferring branch is being traced."""
    deferral = _recording(box)
    if deferral is None:
        return False
    if not box.defined and not deferral.inline:  # nothing to select against: a real write, if allowed
        before_real_write(box)
        return False
    deferral.writes.append(_Write(box, _WHOLE, value))
    deferral.pending.add(id(box))
    return True


def record_item(box, index, value, location) -> bool:
    """Records `box[index] = value` if a deferring branch is being traced and the write
    is one that can be recorded; otherwise the caller writes the Ref."""
    deferral = _recording(box)
    if deferral is None:
        return False
    if deferral.inline and not coalesce.takes(box, index):
        # Selecting array element writes means another in-place update of the array
        # in the iteration, which makes XLA:CPU copy the whole array (see _selected),
        # unless the iteration's buffer coalesces it with the others.
        raise CannotDefer(deferral)
    ref = box.ref
    aval = jax.typeof(ref)
    if windows.any_traced(index) or indexing.is_mask(index, aval.shape):
        before_real_write(box)
        return False
    index = indexing.normalize(index, aval.shape, location)
    target = indexing.indexed_shape(aval.shape, index)
    try:
        value = jnp.broadcast_to(jnp.asarray(value), target).astype(aval.dtype)
    except (ValueError, TypeError):
        before_real_write(box)
        return False  # the real write reports it
    if 0 in target:
        return True  # writes nothing
    deferral.writes.append(_Write(box, index, value))
    deferral.pending.add(id(box))
    return True


def _same_layout(first: list, second: list) -> bool:
    return len(first) == len(second) and all(a.key() == b.key() for a, b in zip(first, second))


def cond(pred, branches, site) -> bool:
    """`lax.cond(pred, *branches)` with the branches' writes moved after it.

    `branches` are the true and false functions, each running its body under
    `tracing.traced_body()`; `site` names the construct (for what later traces
    remember). Returns False, having emitted nothing, when the branches cannot
    be deferred; the caller then emits the plain conditional.
    """
    session = tracing.current()
    if not ENABLED or site in session.undeferrable:
        return False
    if session.forward_only and site[0] == "if" and site not in session.not_inline:
        if _selected(pred, branches, site):
            return True
    known = session.deferred_layouts.get(site, [None, None])
    for _ in range(_ATTEMPTS):
        recorded = [None, None]
        mine = []

        def traced(k):
            def run():
                deferral = Deferral(session.depth + 1)
                mine.append(deferral)
                session.deferrals.append(deferral)
                try:
                    branches[k]()
                finally:
                    session.deferrals.pop()
                recorded[k] = deferral.writes
                return _outputs(k, recorded, known)
            return run

        try:
            outputs = lax.cond(pred, traced(0), traced(1))
        except CannotDefer as error:
            if error.deferral not in mine:
                raise
            break
        except TypeError:
            if recorded[0] is None or recorded[1] is None:
                raise  # an error in the user's code, not in the layouts
            # The branches returned different layouts: each wrote what the other did
            # not know of when it was traced. Try again, knowing both.
            known = recorded
            continue
        session.deferred_layouts[site] = recorded
        _apply(pred, recorded, outputs)
        return True
    session.undeferrable.add(site)
    return False


def _selected(pred, branches, site) -> bool:
    """Traces both branches inline and selects their writes: no conditional at all.

    Only in the forward-only lowering (no derivative is taken of it, so the untaken
    branch's values, even NaN, are discarded harmlessly; XLA's arithmetic does not
    trap), and only for branches that rebind variables and write no array elements.
    A conditional costs about a microsecond on XLA:CPU, more than a few scalar
    operations of both branches (crc32: 1.85x of the hand port with conds, 0.49x
    selected). Array element writes keep the conditional: selected, they add
    in-place updates of the array to the iteration, and XLA:CPU (jaxlib 0.10.2)
    copies the whole array in a loop iteration that updates it twice (measured on a
    pure-JAX model of the Nussinov recurrence: 103 ms against 0.14 ms, n = 150)."""
    session = tracing.current()
    recorded = []
    for branch in branches:
        deferral = Deferral(session.depth + 1, inline=True)
        session.deferrals.append(deferral)
        try:
            branch()
        except CannotDefer as error:
            if error.deferral is not deferral:
                raise
            # What was traced so far only read: it is dead code, removed by XLA.
            session.not_inline.add(site)
            return False
        finally:
            session.deferrals.pop()
        recorded.append(deferral.writes)
    true_writes, false_writes = recorded
    merged = _merged(true_writes, false_writes)
    if not merged and any(not w.box.defined for w in true_writes + false_writes):
        # A variable first bound in the branches, on one of them only (or as another
        # layout): nothing to select against. The conditional binds it.
        session.not_inline.add(site)
        return False
    session.note_forward_only_choice(site[1], "branch selected (both sides computed, no conditional)")
    if merged:
        # An index part both branches took from before the `if` keeps its identity
        # (traced inline, it counts as made in the branch), which coalescing compares.
        chosen = [(tuple(a if a is b else jnp.where(pred, a, b) for a, b in zip(t.outputs()[0], f.outputs()[0])),
                   jnp.where(pred, t.outputs()[1], f.outputs()[1])) for t, f in zip(true_writes, false_writes)]
        for write, out in zip(true_writes, chosen):
            write.with_outputs(out).apply(None)
        return True
    for writes, active in ((true_writes, pred), (false_writes, jnp.logical_not(pred))):
        for write in writes:
            write.apply(active)
    return True


def _merged(writes: list, other: list | None) -> bool:
    return other is not None and bool(writes) and _same_layout(writes, other)


def _outputs(k: int, recorded: list, known: list):
    """What branch `k` returns: its writes' index parts and values, in a layout both
    branches agree on when they know each other's writes."""
    own = recorded[k]
    other = recorded[1 - k] if recorded[1 - k] is not None else known[1 - k]
    if _merged(own, other):
        return [w.outputs() for w in own]
    layout = [own, other or []] if k == 0 else [other or [], own]
    return [[w.outputs() if side == k else w.zeros() for w in writes] for side, writes in enumerate(layout)]


def _apply(pred, recorded: list, outputs) -> None:
    true_writes, false_writes = recorded
    if _merged(true_writes, false_writes):
        for write, out in zip(true_writes, outputs):
            write.with_outputs(out).apply(None)
        return
    for writes, outs, active in ((true_writes, outputs[0], pred), (false_writes, outputs[1], jnp.logical_not(pred))):
        for write, out in zip(writes, outs):
            write.with_outputs(out).apply(active)
