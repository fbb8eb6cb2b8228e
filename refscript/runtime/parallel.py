"""Parallel loops: `for i in refscript.prange(n)` runs its iterations at once, as wide array operations.

The converter has checked (`pyct/analysis/dependence.py`) that no iteration sees
what another does, and tells `parallel_for` the role of each variable the body
writes:

- an **owned** array: iteration `i` reads and writes only `a[..., f(i), ...]`
  along one axis. Inside the body the array's box is replaced by a box holding
  just that element (a row, a column, a scalar), taken from the array before
  the loop; afterwards the elements of all iterations are written back at once
  (a slice update when `f(i)` runs over consecutive indices, else a scatter);
- a **reduction** `s += e` (or `*`, `min`, `max`): inside the body `s` starts at
  the operator's identity, so each iteration leaves its contribution; afterwards
  `s = s + sum(contributions)`.

The body is traced once, for one scalar index, into a jaxpr with Refs; its
state is discharged and the pure body is `jax.vmap`ped over the vector of loop
indices. So reads `x[i]` become gathers, every operation runs on whole vectors,
and the loop is gone from the compiled program. In plain Python:

    parallel_for(prange(n), body, ...)  ==  for i in range(n): body(i)

for any body the converter accepts; sums may differ by rounding (they are
added in another order).

With `refscript.jit(vectorize=True)` the converter also hands `parallel_for`
the `range` loops it found independent (`automatic=True`, never with
reductions); those run as the sequential loop (`control_flow.for_stmt`)
wherever vectorising would be an error or would change what is computed.
"""

from __future__ import annotations

import builtins
import types

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from refscript import _jax_internal
from refscript.errors import IndexingError, RefscriptError, TracedValueError, UndefinedVariableError, caller_location
from refscript.runtime import coalesce, control_flow, deferred, indexing, tracing
from refscript.runtime.boxes import Box
from refscript.runtime.undefined import Undefined


class ParallelRange:
    """`range(start, stop, step)` whose loop refscript runs with all iterations at once.

    Outside compiled code (and in plain Python) it is an ordinary range.
    """

    def __init__(self, *args):
        self.args = args
        traced = any(_jax_internal.is_tracer(a) for a in args)
        self.range = None if traced else builtins.range(*args)

    def _static(self) -> builtins.range:
        if self.range is None:
            raise TracedValueError(
                "refscript.prange bounds are traced values here; a prange loop needs Python ints",
                caller_location(),
                "pass the bounds as Python ints (static arguments), or use range for a sequential loop",
            )
        return self.range

    def __iter__(self):
        if tracing.active():  # compiled code is being traced
            # The converter lowers `for i in prange(...)` itself; iterating one anywhere
            # else would run the loop as Python, one traced copy of the body per index.
            raise RefscriptError(
                "refscript.prange(...) can only be the iterable of a for loop header",
                caller_location(),
                "write `for i in refscript.prange(n):` (not enumerate(prange(n)), a prange stored "
                "in a variable, or a prange iterated by a function refscript does not convert)",
            )
        return iter(self._static())

    def __len__(self):
        return len(self._static())

    def __getitem__(self, k):
        return self._static()[k]

    def __reversed__(self):
        return reversed(self._static())

    def __contains__(self, value):
        return value in self._static()

    def __repr__(self):
        return f"prange({', '.join(map(repr, self.args))})"


def prange(*args) -> ParallelRange:
    """Returns a range whose `for` loop refscript runs with all iterations at once (vectorised).

    Use it for loops whose iterations are independent: iteration `i` writes its
    own elements (`out[i] = ...`, `out[i, j] = ...` in an inner loop) and may
    accumulate into scalars with `+=`, `*=`, `min`, `max`. refscript rejects,
    at the line, a body where one iteration could see another's work. Outside
    `refscript.jit` it is `range`.

    >>> for i in prange(3):   # in plain Python: 0, 1, 2
    ...     pass
    """
    return ParallelRange(*args)


def parallel_for(iterable, body, writes=(), owned=None, reductions=None, automatic=False):
    """Runs `body(i)` for every `i` of a `prange` at once; see the module docstring.

    `owned` maps the name of each array the body writes to `(axis, f)`: iteration
    `i` owns index `f(i)` along `axis`. `reductions` maps names to operators.

    `automatic`: the loop is a `for` over `range` that the converter found independent
    (`refscript.jit(vectorize=True)`), not a `prange` the user wrote. It is vectorised
    only where that computes what the sequential loop does, exactly (its body has no
    branch on a traced value, which vectorised would compute both sides of, with their
    derivatives); else, and where a `prange` would be an error (a traced trip count,
    written indices not known when tracing), it runs as the sequential loop, and the
    reason is a lowering decision.
    """
    location = caller_location()
    try:
        plan = _plan(iterable, writes, owned or {}, reductions or {}, location, automatic)
        if plan is not None:
            _vectorise(plan, body, writes, location, automatic)
    except _Sequential as reason:  # (automatic loops; and any loop checkify could not check vectorised)
        tracing.current().note_parallel_loop(location, f"loop kept sequential: {reason}")
        sequence = iterable._static() if isinstance(iterable, ParallelRange) else iterable
        control_flow.for_stmt(sequence, body, writes=writes)


# The most memory a loop vectorised automatically may take for the values its iterations make
# at once (their sum over one iteration's equations, times the iterations: before XLA fuses
# them, so usually far more than it uses); beyond it the loop stays sequential.
AUTOMATIC_BYTES = 2**30


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} bytes"


class _Sequential(Exception):
    """Why an automatically found loop is not vectorised."""


def _why_sequential(jaxpr, iterations: int) -> str | None:
    """Why an automatic loop whose iteration is the pure `jaxpr` should run as the sequential loop,
    vectorised it would compute otherwise or far more; None if it should not."""
    if _jax_internal.has_cond(jaxpr):  # a prange's branches become selects instead
        return ("its body branches on a traced value (vectorised, it would compute both branches for "
                "every iteration)")
    if _jax_internal.runs_varying_while(jaxpr, [True] * len(jaxpr.invars)):
        # A `while` the converter did not see in the loop (in a function the body calls or
        # defines), or an inner loop with a traced trip count, that depends on the iteration: as
        # for a `while` written in the loop. (One that does not runs once for all iterations.)
        return ("its body runs a loop whose trip count depends on the iteration (vectorised, every "
                "iteration would run it as long as the longest one)")
    needed = _jax_internal.value_bytes(jaxpr) * iterations
    if needed > AUTOMATIC_BYTES:
        return (f"vectorised, the values of its {iterations} iterations would take up to {_size(needed)} "
                f"(more than refscript.runtime.parallel.AUTOMATIC_BYTES, {_size(AUTOMATIC_BYTES)})")
    return None


class _Plan:
    """What `parallel_for` found before tracing the body: the indices, the roles, the positions."""

    def __init__(self, indices, owned, reductions, roles, arrays, axes, positions):
        self.indices, self.owned, self.reductions, self.roles = indices, owned, reductions, roles
        self.arrays, self.axes, self.positions = arrays, axes, positions


def _plan(iterable, writes, owned, reductions, location, automatic: bool) -> "_Plan | None":
    """The indices and the written elements of a parallel loop, checked; None for no iterations.
    For an `automatic` loop, what would be an error raises `_Sequential`."""
    try:
        if automatic and not isinstance(iterable, builtins.range):
            raise _Sequential("its trip count is a traced value")
        coalesce.flush_all()  # the parallel body reads the arrays' Refs as a whole
        indices = _indices(iterable, location)
        roles = _roles(writes, owned, reductions, location)
        if len(indices) == 0:
            return None
        owned_boxes = [b for b in writes if roles[b] == "owned"]
        arrays = {b: jnp.asarray(b.value) for b in owned_boxes}
        # The owned axis in the array the box holds (one iteration's element, in a nested prange).
        axes = {b: _held_axis(b, owned[b.name][0]) for b in owned_boxes}
        positions = {b: _positions(b, arrays[b], axes[b], owned[b.name][1], indices, location)
                     for b in owned_boxes}
    except RefscriptError as error:
        if automatic:
            raise _Sequential(error.message) from None
        raise
    return _Plan(indices, owned, reductions, roles, arrays, axes, positions)


def _vectorise(plan: _Plan, body, writes, location, automatic: bool) -> None:
    indices, owned, reductions, roles = plan.indices, plan.owned, plan.reductions, plan.roles
    arrays, axes, positions = plan.arrays, plan.axes, plan.positions
    session = tracing.current()
    index_type = jax.dtypes.canonicalize_dtype(jnp.int64)
    owned_boxes = [b for b in writes if roles[b] == "owned"]
    reduction_boxes = [b for b in writes if roles[b] == "reduction"]
    starts = {b: _reduction_start(b, session, location) for b in reduction_boxes}
    # Variables the body only reads are read once, before the loop.
    snapshots = {b: _Snapshot(b) for b in _boxes_in(body) if b not in roles}

    def one_iteration(i, *owned_positions):
        local = dict(snapshots)
        for b, p in zip(owned_boxes, owned_positions):
            local[b] = _OwnedElement(b, arrays[b], owned[b.name][0], axes[b], p)
        for b in reduction_boxes:
            local[b] = _Contribution(b, starts[b], reductions[b.name])
        with tracing.traced_body(writes), tracing.loop_indices([(i, indices)]):
            _with_boxes(body, local)(i)
        return [local[b].result() for b in owned_boxes + reduction_boxes]

    scalar = jax.ShapeDtypeStruct((), index_type)
    closed = jax.make_jaxpr(one_iteration)(scalar, *[scalar for _ in owned_boxes])
    pure = _jax_internal.dead_code_removed(_jax_internal.discharge_state(closed))
    if automatic:
        reason = _why_sequential(pure.jaxpr, len(indices))
        if reason is not None:
            raise _Sequential(reason)
    if session.checks and _jax_internal.has_primitive(pure.jaxpr, "while"):
        # JAX's checkify cannot check a vectorised while_loop (checkify-of-vmap-of-while, JAX 0.10):
        # checked, the iterations run one after another, which their independence makes the same.
        raise _Sequential("checks=True cannot check a while loop run for every iteration at once (JAX's "
                          "checkify), so the iterations run one after another, with the same values")
    if _jax_internal.has_cond(pure.jaxpr):  # else vmap would broadcast what the branches read
        pure = _jax_internal.branches_to_selects(pure, checked=session.checks)
    lanes = [np.asarray(indices, dtype=np.int64)] + [positions[b] for b in owned_boxes]
    results = _jax_internal.vmap_over_lanes(pure, lanes)
    what = (f"loop vectorised automatically over {len(indices)} iterations (they are independent)"
            if automatic else f"prange vectorised over {len(indices)} iterations")
    if owned_boxes:
        what += ", writes " + ", ".join(b.name for b in owned_boxes)
    if reduction_boxes:
        what += ", reduces " + ", ".join(f"{b.name} ({reductions[b.name]})" for b in reduction_boxes)
    session.note_parallel_loop(location, what)

    for b, elements in zip(owned_boxes, results):
        b[...] = _write_back(arrays[b], elements, axes[b], positions[b])
    for b, contributions in zip(reduction_boxes, results[len(owned_boxes):]):
        b.value = _combine(reductions[b.name], starts[b].outer, contributions)


def _indices(iterable, location) -> builtins.range:
    if isinstance(iterable, ParallelRange):
        if iterable.range is None:
            raise RefscriptError(
                "a prange loop needs a trip count known when the function is traced, "
                "but its bounds are traced values",
                location,
                "pass the bounds as Python ints (ints are static arguments by default, or name them in "
                "static_argnames), or use range(...) for a sequential loop (also for an inner loop whose "
                "bounds depend on an enclosing prange's index)",
            )
        return iterable.range
    if isinstance(iterable, builtins.range):  # numba.prange, outside Numba, is range
        return iterable
    raise RefscriptError(
        f"a prange loop must iterate over refscript.prange(...), not a {type(iterable).__name__}",
        location,
        "write `for i in refscript.prange(n):`",
    )


def _roles(writes, owned, reductions, location) -> dict:
    roles = {}
    for b in writes:
        if b.name in reductions:
            roles[b] = "reduction"
        elif b.name in owned:
            roles[b] = "owned"
        else:
            raise RefscriptError(
                f"variable {b.name!r} is assigned in this prange loop and used after it: which "
                "iteration's value it would keep depends on the order of iterations",
                location,
                f"compute {b.name!r} after the loop, make it a reduction ({b.name} += ..., "
                f"{b.name} = max({b.name}, ...)), or use range(...) for a sequential loop",
            )
    return roles


def _positions(box, array, axis, index_of, indices, location) -> np.ndarray:
    """Returns the index each iteration owns along `axis` (static, non-negative, all different)."""
    if not 0 <= axis < array.ndim:
        raise IndexingError(
            f"too many indices for array {box.name!r}: it is {array.ndim}-dimensional, "
            f"but a prange loop writes it at axis {axis}",
            location,
        )
    try:
        owned = np.asarray(index_of(np.asarray(indices, dtype=np.int64)))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        raise RefscriptError(
            f"the index at which a prange loop writes {box.name!r} depends on a traced value",
            location,
            "build that index from the loop variable and Python ints, so refscript can check that "
            "iterations write different elements",
        ) from None
    owned = np.broadcast_to(owned, (len(indices),)).astype(np.int64)
    size = array.shape[axis]
    outside = (owned < -size) | (owned >= size)
    if outside.any():
        bad = int(owned[outside][0])
        raise IndexingError(f"index {bad} is out of bounds for axis {axis} with size {size}", location)
    owned = np.where(owned < 0, owned + size, owned)
    values, counts = np.unique(owned, return_counts=True)
    if (counts > 1).any():
        raise RefscriptError(
            f"different iterations of this prange loop write {box.name!r} at the same index "
            f"{int(values[counts > 1][0])} along axis {axis}",
            location,
            "negative indices wrap around: keep the written indices within the array",
        )
    return owned


def _write_back(array, elements, axis, positions):
    """Returns `array` with `elements[k]` written at `positions[k]` along `axis`."""
    elements = jnp.moveaxis(elements.astype(array.dtype), 0, axis)
    n, size = positions.shape[0], array.shape[axis]
    first, step = int(positions[0]), int(positions[1] - positions[0]) if n > 1 else 1
    consecutive = np.array_equal(positions, first + step * np.arange(n)) and step in (1, -1)
    if consecutive and step == -1:
        elements, first = jnp.flip(elements, axis), first - n + 1
    if consecutive and first == 0 and n == size:
        return elements
    if consecutive:  # a concatenation: XLA's CPU backend is slow on an update-slice of an update-slice
        before = lax.slice_in_dim(array, 0, first, axis=axis)
        after = lax.slice_in_dim(array, first + n, size, axis=axis)
        return jnp.concatenate([part for part in (before, elements, after) if part.shape[axis]], axis=axis)
    where = (slice(None),) * axis + (positions,)
    return array.at[where].set(elements, unique_indices=True, indices_are_sorted=bool(np.all(np.diff(positions) > 0)))


# Reductions.

_IDENTITY = {"+": 0, "*": 1}


def _extreme(dtype, largest: bool):
    if jnp.issubdtype(dtype, jnp.bool_):
        return largest
    if jnp.issubdtype(dtype, jnp.integer):
        info = jnp.iinfo(dtype)
        return info.max if largest else info.min
    return np.inf if largest else -np.inf


class _Start:
    """A reduction variable's value before the loop, and an array of the type its contributions take."""

    def __init__(self, outer, like):
        self.outer, self.like = outer, like


def _reduction_start(box, session, location) -> _Start:
    value = box.value
    if isinstance(value, Undefined) or not box.defined:
        raise UndefinedVariableError(
            f"the reduction variable {box.name!r} of this prange loop is not bound before the loop",
            location,
            f"assign {box.name!r} (for a sum, {box.name} = 0) before the loop",
        )
    like = jnp.asarray(value)  # weakly typed for a Python number, as a box would be
    hint = session.hints.get(box.site)
    if hint is not None and hint.dtype != like.dtype:  # a wider type learned by a restarted trace
        like = like.astype(hint.dtype)
    return _Start(value, like)


def _combine(op, before, contributions):
    if op == "+":
        return before + jnp.sum(contributions, axis=0, dtype=contributions.dtype)
    if op == "*":
        return before * jnp.prod(contributions, axis=0, dtype=contributions.dtype)
    if op == "min":
        return jnp.minimum(before, jnp.min(contributions, axis=0))
    return jnp.maximum(before, jnp.max(contributions, axis=0))


# The boxes a vectorised body sees.


def _held_axis(box, axis: int) -> int:
    """Returns where `axis` of the user's array is in the array `box` holds."""
    dropped = getattr(box, "dropped", ())
    return axis - sum(1 for d in dropped if d < axis)


def _element_index(index, dropped):
    """Returns the index into one iteration's element for the user's `index` into the whole array."""
    if index is Ellipsis:
        return ...
    items = index if isinstance(index, tuple) else (index,)
    rest = tuple(item for k, item in enumerate(items) if k not in dropped)
    return rest if rest else ...


class _OwnedElement(Box):
    """The element of an owned array that one iteration reads and writes (a row, a column, a scalar).

    The body indexes it with the array's full index; the owned axis is dropped
    (the owned axes of every enclosing prange, in a nested one).
    """

    __slots__ = ("dropped", "full_shape")

    def __init__(self, outer: Box, array, axis: int, held_axis: int, position):
        super().__init__(None, outer.name, outer.site)
        self._ref = jax.new_ref(lax.dynamic_index_in_dim(array, position, held_axis, keepdims=False))
        self.dropped = tuple(sorted(getattr(outer, "dropped", ()) + (axis,)))
        self.full_shape = getattr(outer, "full_shape", tuple(array.shape))

    def __getitem__(self, index):
        return indexing.get(self._ref, _element_index(index, self.dropped), caller_location())

    def __setitem__(self, index, new):
        deferred.before_real_write(self)  # its writes are not recorded: never selected inline
        indexing.set(self._ref, _element_index(index, self.dropped), new, caller_location())

    @property
    def shape(self):
        return self.full_shape

    def result(self):
        return self._ref[...]


class _Contribution(Box):
    """A reduction variable inside one iteration: starts at the operator's identity."""

    __slots__ = ()

    def __init__(self, outer: Box, start: _Start, op: str):
        super().__init__(None, outer.name, outer.site)
        dtype = start.like.dtype
        identity = _IDENTITY[op] if op in _IDENTITY else _extreme(dtype, op == "min")
        self._ref = jax.new_ref(lax.full_like(start.like, identity))

    def result(self):
        return self._ref[...]


class _Snapshot(Box):
    """A variable the body only reads: its value before the loop, as a plain value (indexed like
    the whole array when it is an element an enclosing prange iteration owns)."""

    __slots__ = ("dropped", "full_shape")

    def __init__(self, outer: Box):
        super().__init__(outer.value, outer.name, outer.site)
        self.defined = outer.defined
        self.dropped = getattr(outer, "dropped", ())
        self.full_shape = getattr(outer, "full_shape", None)

    def __getitem__(self, index):
        if not self.dropped:
            return super().__getitem__(index)
        return self.value[_element_index(index, self.dropped)]

    @property
    def shape(self):
        return self.full_shape if self.full_shape is not None else super().shape


def _boxes_in(body) -> list:
    found = []
    for cell in body.__closure__ or ():
        try:
            content = cell.cell_contents
        except ValueError:  # a cell not bound yet
            continue
        if isinstance(content, Box):
            found.append(content)
    return found


def _with_boxes(body, replacements: dict):
    """Returns `body` with the boxes it closes over replaced; functions it defines as it runs
    (inner loop bodies, branches) close over the same cells, so they see the replacements too."""
    cells = []
    for cell in body.__closure__ or ():
        try:
            content = cell.cell_contents
        except ValueError:
            cells.append(cell)
            continue
        cells.append(types.CellType(replacements[content]) if isinstance(content, Box) else cell)
    function = types.FunctionType(body.__code__, body.__globals__, body.__name__, body.__defaults__, tuple(cells))
    function.__kwdefaults__ = body.__kwdefaults__
    return function
