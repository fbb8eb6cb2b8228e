"""Linear-time loops: a compiled loop's element reads and writes streamed through a `lax.scan`.

A compiled `for` loop is a scan over the iteration number whose body reads and
writes whole arrays held in Refs. After discharge, an array the loop writes is
carried from one iteration to the next and an array it reads is a constant of
the loop. That runs fast, but reverse-mode differentiation of it is quadratic:
the transpose of every element read `a[i]` is an array of zeros the size of `a`
with one element set, added into `a`'s cotangent, in every iteration.

When the trip count is static and an array is only ever read and written at
elements whose indices depend on nothing but the iteration number, refscript
knows before the loop runs which element each access touches in each iteration.
It evaluates those indices for all iterations (with NumPy, while tracing), finds
for every read which earlier write, if any, it sees, and lowers the loop to a
`lax.scan` whose per-iteration values are small:

- a read of an element the loop has not written yet (`b[i]`, `c[n - 1 - i]`, or
  `a[i + 1]` of an array the loop writes at `a[i]`) takes its value from an
  array of all iterations' elements gathered before the loop (`xs`);
- a read of the element written `d` iterations before (`a[i - 1]`, `a[i - 2]`,
  `d <= MAX_LAG`) takes it from the scan's carry, which holds the last `d`
  values that write produced (`d = 0`: the value written earlier in the same
  iteration);
- a write `a[i] = v` emits `v` per iteration (`ys`); after the loop, the last
  value written to each element is written back into the array once.

So each iteration reads and writes scalars (or rows), and the gradient's work is
linear in the trip count. In plain Python the lowering changes nothing:

    for k in range(length): iteration(k)

Only floating-point arrays are streamed (the others have no gradient). An
array accessed any other way in the body (a whole-array read, an index that
depends on data or on an inner loop, an access inside a branch or an inner loop,
a read whose source write or distance changes between iterations, an index out
of bounds) stays a Ref, lowered as before; a loop with nothing to stream is the
plain `lax.fori_loop`. `JitFunction.streamed_loops` lists the loops that were
streamed and which arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from refscript import _jax_internal
from refscript.errors import Location
from refscript.runtime import tracing
from refscript.runtime.boxes import Box

# The largest distance, in iterations, between a write and a read of its value
# that is carried (the carry holds that many values of the write).
MAX_LAG = 16

# Whether loops are streamed at all (tests compare against the plain lowering).
ENABLED = True

# Per-iteration values gathered before the loop, or emitted by it, may take this
# many elements (or 4 times the array's size, if more) before the array is left alone.
_SMALL = 1 << 22


class StreamedLoop(NamedTuple):
    """A loop lowered to a scan over per-iteration elements (see this module)."""

    location: Location
    arrays: tuple  # names of the arrays whose elements it streams
    gathered_reads: int  # reads of unchanged non-Ref arrays (`b[i]`) gathered before the loop

    def describe(self) -> str:
        parts = []
        if self.arrays:
            parts.append(f"elements of {', '.join(self.arrays)} carried per iteration")
        if self.gathered_reads:
            s = "s" if self.gathered_reads > 1 else ""
            parts.append(f"{self.gathered_reads} read{s} of unchanged arrays gathered before the loop")
        return "; ".join(parts) + " (linear-time gradient)"


def compiled_loop(length: int, iteration, names: dict, location: Location) -> None:
    """Emits a loop running `iteration(k)` for k in range(length) (a Python int >= 1).

    The iteration is traced once to a jaxpr with Refs; the loop is streamed
    (see the module docstring) where that applies, else `lax.fori_loop` runs the
    same jaxpr. `names` maps `id(ref)` to variable names, for the report.
    """
    counter = jax.ShapeDtypeStruct((), jax.dtypes.canonicalize_dtype(jnp.int64), weak_type=True)

    def one_iteration(k):
        iteration(k)
        return ()

    session = tracing.current()
    value_indexed = session.value_indexed
    closed = jax.make_jaxpr(one_iteration)(counter)
    plan = _plan(closed, length) if ENABLED else None
    if ENABLED and plan is None and session.value_indexed > value_indexed:
        # Elements indexed on values (forward-only): this trace cannot tell whether the
        # differentiable lowering streams the loop, so it must be traced as well.
        session.note_forward_only_choice(location, "elements indexed on the arrays' values")
    if plan is not None:
        consts = dict(zip(closed.jaxpr.constvars, closed.consts))
        arrays = tuple(names.get(id(consts[a.var]), "<array>") for a in plan.arrays)
        session.note_streamed_loop(StreamedLoop(location, arrays, len(plan.gathered)))
        if session.forward_only and not _carries_a_recurrence(plan, session):
            # Streaming is for reverse mode; a forward-only trace keeps the plain loop,
            # which runs as fast or faster (see `Session.forward_only`).
            session.note_forward_only_choice(location, "loop not streamed (a fori_loop over the Refs)")
            plan = None
    if plan is None:
        lax.fori_loop(0, length, lambda k, carry: (_jax_internal.eval_jaxpr(closed, [k]), carry)[1], None)
        return
    _emit(closed, plan, length)


def _carries_a_recurrence(plan, session) -> bool:
    """Whether a forward-only trace streams the loop too: it reads what an earlier
    iteration wrote (`out[i] = out[i - 1] + x[i]`), and no compiled loop or branch
    encloses it. The stream then carries that value from one iteration to the next,
    as a hand port's `lax.scan` does, instead of reading it back from the array
    (prefix sum, n = 300,000: 1.02x the hand port against 1.36x). Elsewhere the plain
    loop is as fast or faster: a stream inside another loop gathers its reads and
    scatters its writes once per outer iteration (Seidel 1-D: 1.74x against 1.0x),
    and a loop with no recurrence gains nothing from it (back substitution, whose
    streamed row reads made it 3.9x slower)."""
    return session.depth == 0 and any(
        read.lag > 0 for array in plan.arrays for read in array.reads.values())


# The plan: what each equation of the iteration's jaxpr becomes.


@dataclass
class _Read:
    """A read of an element of a streamed array (a `get`, or the old value of a swap/addupdate)."""

    source: int | None = None  # equation position of the write whose value it reads, if any
    lag: int = 0  # ... written that many iterations before (0: earlier in the same iteration)
    before: np.ndarray | None = None  # element read from the array as it was before the loop, per iteration
    flags: np.ndarray | None = None  # per iteration: read `before` (True) or the write (False)


@dataclass
class _Write:
    elements: np.ndarray  # element written, per iteration
    final: np.ndarray  # per iteration: whether no later write changes that element
    depth: int = 0  # how many of its past values the carry holds
    virtual: np.ndarray = None  # element (before the loop) that carry slot j starts with, or -1


@dataclass
class _Array:
    var: object
    axes: tuple  # the axes indexed by integers; an element is the rest
    reads: dict = field(default_factory=dict)  # equation position -> _Read
    writes: dict = field(default_factory=dict)  # equation position -> _Write


@dataclass
class _Gathered:
    """A `dynamic_slice` of a loop-invariant array at starts known for every iteration."""

    starts: np.ndarray  # (length, ndim)
    sizes: tuple


@dataclass
class _Plan:
    arrays: list
    gathered: dict  # equation position -> _Gathered
    hoisted: list  # positions of loop-invariant equations, computed once before the loop
    accesses: dict  # equation position -> _Array
    needed: set = field(default_factory=set)  # positions of the equations still evaluated
    live: set = field(default_factory=set)  # the values they read


def _plan(closed, length: int) -> _Plan | None:
    jaxpr = closed.jaxpr
    (counter,) = jaxpr.invars
    known = _known_indices(jaxpr, counter, length)
    arrays = [a for a in (_stream_array(var, accesses, known, length)
                          for var, accesses in _ref_accesses(jaxpr).items()) if a is not None]
    hoisted, invariant = _loop_invariant(jaxpr)
    gathered = {}
    for position, eqn in enumerate(jaxpr.eqns):
        if eqn.primitive.name == "dynamic_slice" and position not in hoisted and eqn.invars[0] in invariant:
            found = _gathered_read(eqn, known, length)
            if found is not None:
                gathered[position] = found
    if not arrays and not gathered:
        return None
    accesses = {position: a for a in arrays for position in (*a.reads, *a.writes)}
    plan = _Plan(arrays, gathered, hoisted, accesses)
    plan.needed, plan.live = _needed(jaxpr, plan)
    return plan


def _needed(jaxpr, plan: _Plan):
    """Returns the positions of the equations the streamed loop still evaluates (those with
    effects or whose results are used, leaving out the index arithmetic of the streamed
    accesses), and the values they read."""
    live, needed = set(), set()
    for position in reversed(range(len(jaxpr.eqns))):
        eqn = jaxpr.eqns[position]
        used = any(v in live for v in eqn.outvars)
        if position in plan.accesses:
            if eqn.primitive.name == "get" and not used:
                continue
            needed.add(position)
            ins = eqn.invars[1:2] if eqn.primitive.name != "get" else []
        elif position in plan.gathered:
            if not used:
                continue
            needed.add(position)
            ins = []
        elif eqn.effects or used:
            needed.add(position)
            ins = eqn.invars
        else:
            continue
        live.update(v for v in ins if not isinstance(v, _jax_internal.Literal))
    return needed, live


def _ref_accesses(jaxpr) -> dict:
    """Returns, for each Ref the iteration closes over and only reads or writes directly
    (never passes to an inner loop, branch or call), its accesses in order, as
    `(position, kind, index, reads)`: `reads` whether the access uses the old value."""
    used = {v for v in jaxpr.outvars if not isinstance(v, _jax_internal.Literal)}
    for eqn in jaxpr.eqns:
        used.update(v for v in eqn.invars if not isinstance(v, _jax_internal.Literal))
    refs = {v: [] for v in jaxpr.constvars if isinstance(v.aval, jax.ref.AbstractRef)}
    other_uses = set()
    for position, eqn in enumerate(jaxpr.eqns):
        access = _jax_internal.ref_access(eqn)
        if access is not None and eqn.invars[0] in refs:
            kind, _, index = access
            reads = kind != "swap" or eqn.outvars[0] in used
            refs[eqn.invars[0]].append((position, kind, index, reads))
            rest = eqn.invars[1:]
        else:
            rest = eqn.invars
        other_uses.update(v for v in rest if not isinstance(v, _jax_internal.Literal) and v in refs)
    return {v: accesses for v, accesses in refs.items() if v not in other_uses and accesses}


def _stream_array(var, accesses, known, length: int) -> _Array | None:
    """Returns how to stream the Ref `var`, or None if some access is not element-wise
    at indices known for every iteration, or some read has no single source."""
    shape = tuple(var.aval.shape)
    if var.aval.inner_aval.weak_type:
        return None  # its values' types would differ from what the body was traced with
    if not jnp.issubdtype(var.aval.dtype, jnp.inexact):
        return None  # no gradient to make linear; XLA runs the plain loop a little faster
    axes, elements = None, []
    for _, _, index, _ in accesses:
        if index is None or any(item is None for item in index):
            return None
        int_axes = tuple(d for d, item in enumerate(index) if not isinstance(item, slice))
        if axes is None:
            axes = int_axes
        if int_axes != axes or not axes:
            return None
        if any(isinstance(item, slice) and item != slice(0, shape[d], 1) for d, item in enumerate(index)):
            return None  # part of an axis: not an element of the same shape as the others
        columns = []
        for d in axes:
            values = _known_value(index[d], known, length)
            if values is None or values.shape != (length,):
                return None
            values = np.where(values < 0, values + shape[d], values).astype(np.int64)  # as discharge wraps
            if values.min() < 0 or values.max() >= shape[d]:
                return None  # out of bounds: the plain lowering keeps XLA's (and checks') behaviour
            columns.append(values)
        elements.append(np.ravel_multi_index(tuple(columns), tuple(shape[d] for d in axes)))
    element_size = int(np.prod([shape[d] for d in range(len(shape)) if d not in axes], dtype=np.int64))
    if length * element_size > max(_SMALL, 4 * int(np.prod(shape, dtype=np.int64))):
        return None
    array = _Array(var, axes)
    return array if _trace_values(array, accesses, elements, length) else None


def _trace_values(array: _Array, accesses, elements, length: int) -> bool:
    """Fills in, for every read, which write's value it sees in each iteration (or the
    array's value before the loop), and for every write, which of its values are final.
    Returns False when some read's source is not one write at one distance."""
    found = _sources_stepping(accesses, elements, length) if _common_step(elements) else None
    if found is None:
        found = _sources_sorted(accesses, elements, length)
    if found is None:
        return False
    sources, finals = found
    for m, final in finals.items():
        array.writes[accesses[m][0]] = _Write(elements[m], final)
    virtual = {}  # write position -> {carry slot: element it starts with}
    for m, (source, lag, sourced) in sources.items():
        if source is not None and lag > MAX_LAG:
            return False
        read = _Read(None if source is None else accesses[source][0], lag)
        if not sourced.all():
            read.before = elements[m]
            if read.source is not None and not _starts_carry(read, elements[m], sourced, virtual, length):
                read.flags = ~sourced
        array.reads[accesses[m][0]] = read
    for position, write in array.writes.items():
        write.depth = max((r.lag for r in array.reads.values() if r.source == position), default=0)
        slots = virtual.get(position, {})
        write.virtual = np.array([slots.get(j, -1) for j in range(write.depth)], dtype=np.int64)
    return True


def _common_step(elements) -> int:
    """The step shared by all element sequences if each steps evenly by it (0 if not)."""
    first = elements[0]
    step = int(first[1] - first[0]) if len(first) > 1 else 0
    if step == 0:
        return 0
    ramp = step * np.arange(len(first), dtype=np.int64)
    return step if all(np.array_equal(e, e[0] + ramp) for e in elements) else 0


def _sources_stepping(accesses, elements, length: int):
    """`_sources_sorted` when every access touches element `c + step * k` in iteration k.

    Access w touches the element a read touches in iteration k in iteration
    k + delta (a constant). Of the writes that come before the read, the latest is
    the one with the largest delta (then the latest in the body), and it exists from
    iteration -delta on: so each read sees one write at one distance, or none."""
    step = int(elements[0][1] - elements[0][0])
    offsets = [int(e[0]) for e in elements]
    writes = [w for w, (_, kind, _, _) in enumerate(accesses) if kind != "get"]

    def delta(of, to):  # iterations from access `of`'s visit of an element to access `to`'s
        gap = offsets[of] - offsets[to]
        return gap // step if gap % step == 0 else None

    sources = {}
    for r, (_, _, _, reads) in enumerate(accesses):
        if not reads:
            continue
        before = [(d, w) for w in writes if (d := delta(r, w)) is not None and (d < 0 or (d == 0 and w < r))]
        if not before:
            sources[r] = (None, 0, np.zeros(length, bool))
            continue
        d, w = max(before)
        lag = -d
        sourced = np.arange(length) >= lag
        sources[r] = (w, lag, sourced) if sourced.any() else (None, 0, sourced)
    finals = {}
    for w in writes:
        later = [d for v in writes if (d := delta(w, v)) is not None and (d > 0 or (d == 0 and v > w))]
        finals[w] = np.arange(length) >= length - min(later) if later else np.ones(length, bool)
    return sources, finals


def _sources_sorted(accesses, elements, length: int):
    """Returns `(sources, finals)`: for each reading access m, `(w, lag, sourced)`: it sees
    the value access w wrote `lag` iterations before in the iterations `sourced` (and the
    array's value before the loop in the others; w None if in all); for each writing access,
    in which iterations its write is final. None when a read's source or distance varies."""
    count = len(accesses)
    iterations = np.arange(length, dtype=np.int64)
    events = []  # (time, element, is_write, access number) for all iterations
    for m, (_, kind, _, reads) in enumerate(accesses):
        time = (iterations * count + m) * 2  # a read comes just before its own access's write
        if reads:
            events.append((time, elements[m], False, m))
        if kind != "get":
            events.append((time + 1, elements[m], True, m))
    time = np.concatenate([e[0] for e in events])
    element = np.concatenate([e[1] for e in events])
    is_write = np.concatenate([np.full(length, e[2]) for e in events])
    access = np.concatenate([np.full(length, e[3]) for e in events])
    k = np.tile(iterations, len(events))
    order = np.lexsort((time, element))  # by element, then time
    element, is_write, access, k = (a[order] for a in (element, is_write, access, k))
    # For each event, the last write of the same element at or before it.
    latest = np.maximum.accumulate(np.where(is_write, np.arange(len(order)), -1))
    found = (latest >= 0) & (element[np.maximum(latest, 0)] == element)
    # A write is final when the next write event of the same element does not exist.
    writes_at = np.flatnonzero(is_write)
    overwritten = np.zeros(len(order), bool)
    overwritten[writes_at[:-1]] = element[writes_at[1:]] == element[writes_at[:-1]]

    finals = {}
    for m, (_, kind, _, _) in enumerate(accesses):
        if kind != "get":
            mine = is_write & (access == m)
            finals[m] = np.zeros(length, bool)
            finals[m][k[mine]] = ~overwritten[mine]
    sources = {}
    for m, (_, _, _, reads) in enumerate(accesses):
        if not reads:
            continue
        mine = ~is_write & (access == m)
        sourced = np.zeros(length, bool)
        sourced[k[mine]] = found[mine]
        if not sourced.any():
            sources[m] = (None, 0, sourced)
            continue
        source_events = latest[mine & found]
        writers = np.unique(access[source_events])
        lags = np.unique(k[mine & found] - k[source_events])
        if len(writers) != 1 or len(lags) != 1:
            return None
        sources[m] = (int(writers[0]), int(lags[0]), sourced)
    return sources, finals


def _starts_carry(read: _Read, elements, sourced, virtual: dict, length: int) -> bool:
    """Whether the iterations in which `read` sees the array as it was before the loop are
    exactly the first `lag`: then the carry starts with those elements (no per-iteration
    choice). Slots another read already claimed for other elements make it False."""
    lag = read.lag
    if lag == 0 or not np.array_equal(~sourced, np.arange(length) < lag):
        return False
    slots = virtual.setdefault(read.source, {})
    wanted = {lag - 1 - k: int(elements[k]) for k in range(min(lag, length))}
    if any(slots.get(j, e) != e for j, e in wanted.items()):
        return False
    slots.update(wanted)
    read.before = None
    return True


# Index arithmetic, evaluated for every iteration with NumPy while tracing.


def _div(a, b):
    if (b == 0).any():
        return None
    quotient = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -quotient, quotient)  # XLA rounds towards zero


def _rem(a, b):
    return None if (b == 0).any() else np.fmod(a, b)  # the sign of the dividend, as XLA


def _select_n(which, *cases):
    return np.choose(which.astype(np.intp), cases)


_ELEMENTWISE = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "neg": np.negative,
    "max": np.maximum, "min": np.minimum, "abs": np.abs, "sign": np.sign,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "ne": np.not_equal, "and": np.bitwise_and, "or": np.bitwise_or,
    "xor": np.bitwise_xor, "not": np.invert, "convert_element_type": lambda x: x,
    "copy": lambda x: x, "copy_p": lambda x: x, "div": _div, "rem": _rem, "select_n": _select_n,
    "clamp": lambda low, x, high: np.minimum(np.maximum(x, low), high),
}

# Integer values with more elements than this are not index arithmetic.
_INDEX_SIZE = 8


def _is_index(aval) -> bool:
    return (np.issubdtype(aval.dtype, np.integer) or aval.dtype == np.bool_) and aval.size <= _INDEX_SIZE


def _known_indices(jaxpr, counter, length: int) -> dict:
    """Returns the integer values of `jaxpr` computed from the iteration number `counter`
    and literals alone, each for every iteration (an array of `length` rows)."""
    known = {counter: np.arange(length, dtype=counter.aval.dtype)}
    _evaluate_known(jaxpr, known, length)
    return known


def _evaluate_known(jaxpr, known: dict, length: int) -> None:
    for eqn in jaxpr.eqns:
        # An equation without results (a conditional whose branches only check or write,
        # as vmap can leave) computes no index.
        if eqn.effects or not eqn.outvars or not all(_is_index(v.aval) for v in eqn.outvars):
            continue
        ins = [_known_value(v, known, length) for v in eqn.invars]
        if any(v is None for v in ins):
            continue
        outs = _evaluate_index_equation(eqn, ins, length)
        if outs is not None:
            known.update((var, np.asarray(out).astype(var.aval.dtype)) for var, out in zip(eqn.outvars, outs))


def _evaluate_index_equation(eqn, ins, length: int):
    name, params = eqn.primitive.name, eqn.params
    called = _jax_internal.called_jaxpr(eqn)
    if called is not None:
        inner = dict(zip(called.jaxpr.invars, ins))
        _evaluate_known(called.jaxpr, inner, length)
        outs = [_known_value(v, inner, length) for v in called.jaxpr.outvars]
        return None if any(o is None for o in outs) else outs
    out_shape = (length,) + tuple(eqn.outvars[0].aval.shape)
    with np.errstate(all="ignore"):  # integer wrap-around, as in XLA
        if name in _ELEMENTWISE:
            out = _ELEMENTWISE[name](*ins)
        elif name == "integer_pow":
            out = ins[0] ** params["y"] if params["y"] >= 0 else None
        elif name == "squeeze":
            out = ins[0].reshape(out_shape)
        elif name == "reshape" and params.get("dimensions") is None:
            out = ins[0].reshape(out_shape)
        elif name == "broadcast_in_dim":
            operand, dims = ins[0], params["broadcast_dimensions"]
            inner = [1] * len(params["shape"])
            for axis, d in enumerate(dims):
                inner[d] = operand.shape[1 + axis]
            out = np.broadcast_to(operand.reshape((length, *inner)), out_shape)
        else:
            return None
    return None if out is None else [out]


def _known_value(atom, known: dict, length: int):
    if isinstance(atom, _jax_internal.Literal):
        value = np.asarray(atom.val)
        return np.broadcast_to(value, (length,) + value.shape)
    return known.get(atom)


# Loop-invariant code and reads of loop-invariant arrays.


def _loop_invariant(jaxpr):
    """Returns `(positions, values)`: the equations that compute the same value in every
    iteration from what the loop closes over (no Ref, no effect), and the non-Ref
    values that are the same in every iteration."""
    invariant = {v for v in jaxpr.constvars if not isinstance(v.aval, jax.ref.AbstractRef)}
    positions = []
    for position, eqn in enumerate(jaxpr.eqns):
        if eqn.effects or any(isinstance(v.aval, jax.ref.AbstractRef) for v in eqn.outvars):
            continue
        if all(isinstance(v, _jax_internal.Literal) or v in invariant for v in eqn.invars):
            positions.append(position)
            invariant.update(eqn.outvars)
    return positions, invariant


def _gathered_read(eqn, known, length: int) -> _Gathered | None:
    """A `dynamic_slice` of a loop-invariant array: its windows of all iterations, when their
    starts are known and in bounds (XLA would clamp them: then the read stays as it is)."""
    operand, *starts = eqn.invars
    if not jnp.issubdtype(operand.aval.dtype, jnp.inexact):
        return None  # no gradient to make linear; XLA runs the plain loop a little faster
    sizes = tuple(eqn.params["slice_sizes"])
    columns = [_known_value(s, known, length) for s in starts]
    if any(c is None or c.shape != (length,) for c in columns):
        return None
    starts = np.stack(columns, axis=1).astype(np.int64)
    limit = np.asarray(operand.aval.shape) - np.asarray(sizes)
    if (starts < 0).any() or (starts > limit).any():
        return None
    if length * int(np.prod(sizes, dtype=np.int64)) > max(_SMALL, 4 * operand.aval.size):
        return None
    return _Gathered(starts, sizes)


# Emitting the scan.


def _emit(closed, plan: _Plan, length: int) -> None:
    jaxpr = closed.jaxpr
    (counter,) = jaxpr.invars
    outer = dict(zip(jaxpr.constvars, closed.consts))
    hoisted = set(plan.hoisted)

    def read(env, atom):
        return atom.val if isinstance(atom, _jax_internal.Literal) else env[atom]

    for position in plan.hoisted:
        if position not in plan.needed:
            continue
        eqn = jaxpr.eqns[position]
        outer.update(zip(eqn.outvars, _jax_internal.bind_equation(eqn, [read(outer, v) for v in eqn.invars])))

    xs = []  # per-iteration inputs of the scan
    inputs = {}  # (position, what) -> ("x", number in xs) or ("value", the same in every iteration)
    for position, gathered in plan.gathered.items():
        operand = outer[jaxpr.eqns[position].invars[0]]
        inputs[position, "window"] = _windows(xs, operand, gathered, length)
    elements, registers = {}, {}

    def before_loop(array):
        """The array's elements as they are before the loop (read when first needed)."""
        if array.var not in elements:
            elements[array.var] = _elements(outer[array.var][...], array.axes)
        return elements[array.var]

    for array in plan.arrays:
        shape, dtype = _element_type(array)
        for position, r in array.reads.items():
            if r.before is not None:
                inputs[position, "before"] = _per_iteration(xs, before_loop(array), r.before)
            if r.flags is not None:
                xs.append(jnp.asarray(r.flags))
                inputs[position, "flags"] = ("x", len(xs) - 1)
        for position, w in array.writes.items():
            if w.depth:
                registers[position] = tuple(
                    before_loop(array)[int(e)] if e >= 0 else jnp.zeros(shape, dtype) for e in w.virtual)
    emitted = [position for a in plan.arrays for position, w in a.writes.items() if w.final.any()]

    # The iteration number is carried only if the body still computes with it.
    counts = counter in plan.live

    def step(carry, x):
        k, past = carry if counts else (None, carry)
        env = dict(outer)
        env[counter] = k
        written = {}  # write position -> value written in this iteration

        def stream_input(key):
            kind, value = inputs[key]
            return x[value] if kind == "x" else value

        def old_value(position):
            r = plan.accesses[position].reads[position]
            if r.source is None:
                return stream_input((position, "before"))
            found = written[r.source] if r.lag == 0 else past[r.source][r.lag - 1]
            if r.before is None:
                return found
            return jnp.where(stream_input((position, "flags")), stream_input((position, "before")), found)

        for position, eqn in enumerate(jaxpr.eqns):
            if position in hoisted or position not in plan.needed:
                continue
            if position in plan.gathered:
                outs = [stream_input((position, "window")).reshape(eqn.outvars[0].aval.shape)]
            elif position in plan.accesses:
                array = plan.accesses[position]
                kind = eqn.primitive.name
                old = old_value(position) if position in array.reads else None
                outs = [old] if kind != "addupdate" else []
                if kind != "get":
                    new = read(env, eqn.invars[1])
                    new = new if kind == "swap" else old + new
                    written[position] = lax.convert_element_type(new, array.var.aval.dtype)
            else:
                outs = _jax_internal.bind_equation(eqn, [read(env, v) for v in eqn.invars])
            env.update(zip(eqn.outvars, outs))
        shifted = {p: (written[p],) + values[:-1] for p, values in past.items()}
        return ((k + 1, shifted) if counts else shifted), [written[p] for p in emitted]

    _, ys = lax.scan(step, (0, registers) if counts else registers, xs, length=length)

    emitted_values = dict(zip(emitted, ys))
    for array in plan.arrays:
        finals = [(w.elements[w.final], _take(emitted_values[p], np.flatnonzero(w.final)))
                  for p, w in array.writes.items() if w.final.any()]
        if finals:
            count = int(np.prod([array.var.aval.shape[d] for d in array.axes], dtype=np.int64))
            flat = _write_back(lambda: before_loop(array), count, finals)
            outer[array.var][...] = _unflatten(flat, array.axes, tuple(array.var.aval.shape))


def _elements(whole, axes):
    """`whole` with the indexed axes first and flattened: element e is row e."""
    moved = jnp.moveaxis(whole, axes, tuple(range(len(axes))))
    return moved.reshape((-1,) + moved.shape[len(axes):])


def _unflatten(flat, axes, shape):
    moved = flat.reshape(tuple(shape[a] for a in axes) + flat.shape[1:])
    return jnp.moveaxis(moved, tuple(range(len(axes))), axes)


def _per_iteration(xs, flat, ids):
    """Rows `ids` of `flat`, one per iteration: a scan input, or one value if always the same."""
    if (ids == ids[0]).all():
        return "value", flat[int(ids[0])]
    xs.append(_take(flat, ids))
    return "x", len(xs) - 1


def _take(flat, ids):
    """`flat[ids]` for static indices: a (strided, reversed) slice when they step evenly."""
    n = len(ids)
    step = int(ids[1] - ids[0]) if n > 1 else 1
    if step != 0 and np.array_equal(ids, ids[0] + step * np.arange(n)):
        if step > 0 and ids[0] == 0 and n == flat.shape[0]:
            return flat
        low = int(min(ids[0], ids[-1]))
        rest = flat.shape[1:]
        part = lax.slice(flat, (low,) + (0,) * len(rest), (low + (n - 1) * abs(step) + 1,) + rest,
                         (abs(step),) + (1,) * len(rest))
        return part if step > 0 else lax.rev(part, (0,))
    return flat[ids]


def _windows(xs, operand, gathered: _Gathered, length: int):
    """The windows `dynamic_slice(operand, starts[k], sizes)` of all iterations: one window
    if they are all the same, a (strided) slice when one axis' start steps evenly, else a gather."""
    starts, sizes = gathered.starts, gathered.sizes
    if (starts == starts[0]).all():
        first = tuple(int(s) for s in starts[0])
        return "value", lax.slice(operand, first, tuple(f + s for f, s in zip(first, sizes)))
    moving = [d for d in range(starts.shape[1]) if not (starts[:, d] == starts[0, d]).all()]
    if len(moving) == 1 and sizes[moving[0]] == 1:
        axis = moving[0]
        others = [d for d in range(starts.shape[1]) if d != axis]
        moved = jnp.moveaxis(operand, axis, 0)
        low = (0,) + tuple(int(starts[0, d]) for d in others)
        high = (moved.shape[0],) + tuple(int(starts[0, d]) + sizes[d] for d in others)
        window = moved if high == moved.shape and not any(low) else lax.slice(moved, low, high)
        windows = _take(window, starts[:, axis])
    else:
        windows = jax.vmap(lambda s: lax.dynamic_slice(operand, s, sizes))(jnp.asarray(starts))
    # Without the window's axes of length 1, which XLA's CPU loops index slowly.
    xs.append(windows.reshape((length,) + tuple(n for n in sizes if n != 1)))
    return "x", len(xs) - 1


def _element_type(array: _Array):
    """`(shape, dtype)` of one element of a streamed array."""
    shape = tuple(array.var.aval.shape)
    return tuple(n for d, n in enumerate(shape) if d not in array.axes), array.var.aval.dtype


def _write_back(before_loop, count: int, finals):
    """The `count` elements of an array after the loop: for the (positions, values) in `finals`
    (positions all different), `values` at `positions`, the rest `before_loop()`'s: one
    array of values when they cover the array, a slice update when they are one run, else
    a scatter."""
    positions = np.concatenate([p for p, _ in finals])
    values = finals[0][1] if len(finals) == 1 else jnp.concatenate([v for _, v in finals])
    order = np.argsort(positions, kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        positions, values = positions[order], _take(values, order)
    low, n = int(positions[0]), len(positions)
    if n == count:
        return values
    if int(positions[-1]) - low + 1 == n:  # an update in place (the loop may be inside another)
        return lax.dynamic_update_slice_in_dim(before_loop(), values, low, 0)
    return before_loop().at[positions].set(values, unique_indices=True, indices_are_sorted=True)


def box_names(body, writes) -> dict:
    """Returns `id(ref) -> variable name` for the boxes a loop writes and those its body reads."""
    boxes = list(writes)
    for cell in body.__closure__ or ():
        try:
            boxes.append(cell.cell_contents)
        except ValueError:  # a cell not bound yet
            continue
    return {id(b.ref): b.name for b in boxes if isinstance(b, Box) and b.ref is not None}
