"""The control-flow operators generated code calls: they decide, at trace time,
whether a loop or branch is static (run as Python) or traced (lowered to
`lax.fori_loop` / `lax.while_loop` / `lax.cond` over Ref-writing bodies).

Their meaning, in plain Python:

    for_stmt(iterable, body, writes)    ==  for item in iterable: body(item)
    while_stmt(test, body, writes)      ==  while test(): body()
    if_stmt(pred, if_true, if_false, writes)
                                        ==  if_true() if pred else (if_false and if_false())

`writes` lists the boxes the bodies may write. Before a traced loop or branch
they become Refs in the enclosing scope; bodies close over those Refs and carry
nothing, as JAX's Ref discipline wants.
"""

from __future__ import annotations

import builtins
import itertools
import math
import operator

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import checkify

from refscript._jax_internal import is_tracer, reverse_mode_guard
from refscript.errors import (
    Location,
    RefscriptError,
    ReverseModeLoopError,
    ShapeError,
    StaticLoopError,
    TracedSliceError,
    TracedValueError,
    caller_location,
    location_in_traceback,
)
from refscript.runtime import boxes as boxes_module
from refscript.runtime import coalesce, deferred, promotion, streaming, tracing
from refscript.runtime.sequences import Sequence, StaticRange, TracedRange, as_sequence

# Above this trip count a static loop whose body needs Python values is not
# unrolled automatically: tracing a million copies of the body would take minutes.
UNROLL_LIMIT = 1000

# A loop unrolled into more copies of its body than this is warned of
# (`errors.UnrolledLoopWarning`): its first call grows with the trip count.
UNROLL_WARNING = 32

# A `while` whose test reads a variable the body only scales (`offset *= 2`) runs as
# Python while its test is a Python value, for at most this many iterations (a doubling
# int64 stops within 64); the rest compiles to one while_loop.
GEOMETRIC_UNROLL = 64


def static_range(*args) -> StaticRange:
    """Returns a range whose loop refscript unrolls at trace time instead of compiling a loop.

    Use it when the body needs the index as a Python int (to index a list, build a
    shape, pick a parameter), or to unroll a short loop on purpose.

    >>> for k in static_range(3):   # k is 0, 1, 2 as Python ints
    ...     pass
    """
    return StaticRange(*args)


def range_(fn, *args):
    """Returns `fn(*args)`, except that builtin `range` with traced bounds gives a `TracedRange`."""
    if fn is not builtins.range or not any(is_tracer(a) for a in args):
        return fn(*args)
    for arg in args:
        dtype = getattr(arg, "dtype", None)
        if dtype is not None and not jnp.issubdtype(dtype, jnp.integer):
            raise TracedValueError(
                f"range() bound is a traced '{jnp.dtype(dtype).name}' value, which cannot be "
                "interpreted as an integer", caller_location(),
                "pass loop bounds as Python ints (static), or convert them with int(...)",
            )
        if getattr(arg, "shape", ()) != ():
            raise TracedValueError(
                f"range() bound is an array of shape {tuple(arg.shape)}; bounds must be scalars",
                caller_location(), "index the array to get one bound, e.g. range(n[0])",
            )
    # Python's range yields Python ints: make the index JAX's default integer type.
    index_type = jax.dtypes.canonicalize_dtype(jnp.int64)
    return TracedRange(*(jnp.asarray(a).astype(index_type) if is_tracer(a) else a for a in _range_args(args)))


def _range_args(args):
    if len(args) == 1:
        return 0, args[0], 1
    if len(args) == 2:
        return args[0], args[1], 1
    return tuple(args)


# Above this many combinations of enclosing index values, a range over loop
# indices is not searched for its largest trip count (it becomes a while loop).
BOUND_SEARCH_LIMIT = 100_000


def bounded_range(fn, bounds, *indices):
    """Returns `range_(fn, *bounds(*indices))`, with a static bound on the trip count when
    the range depends only on indices of enclosing compiled loops (`range(i + 1, n)`).

    The bound is the largest trip count over every combination of the values those
    indices take, found by evaluating `bounds` on Python ints.
    """
    result = range_(fn, *bounds(*indices))
    if not isinstance(result, TracedRange):
        return result
    session = tracing.current()
    if session.forward_only:
        # The real trip count runs faster than a masked loop of the largest one; the
        # masked loop is for reverse mode, which the forward-only trace never sees.
        session.note_forward_only_choice(
            caller_location(), "loop runs its real trip count (a while_loop, not a masked loop of the largest)")
    known = session.loop_indices
    ranges = []
    for index in indices:
        entry = known.get(id(index))
        if not is_tracer(index):
            ranges.append((index,))
        elif entry is not None and entry.index is index and entry.values is not None:
            ranges.append(entry.values)
        else:
            return result
    if math.prod(len(r) for r in ranges) > BOUND_SEARCH_LIMIT:
        return result
    max_trip, low, high = 0, None, None
    for values in itertools.product(*ranges):
        args = bounds(*values)
        if any(is_tracer(a) for a in args):
            return result  # the bounds also depend on data
        r = builtins.range(*args)
        max_trip = max(max_trip, len(r))
        if len(r):
            low = min(r[0], r[-1]) if low is None else min(low, r[0], r[-1])
            high = max(r[0], r[-1]) if high is None else max(high, r[0], r[-1])
    if not session.forward_only:
        result.max_trip = max_trip
    # The values the loop index takes (in either lowering: windows and coalescing use them).
    result.values = builtins.range(low, high + 1) if low is not None else builtins.range(0)
    return result


def _is_static(value) -> bool:
    return not is_tracer(value)


def _predicate(value, location: Location):
    value = jnp.asarray(value)
    if value.shape != ():
        if value.size != 1:
            raise ShapeError(
                f"the truth value of an array with shape {value.shape} is ambiguous",
                location,
                "use a scalar condition, or reduce the array with .any() or .all()",
            ) from None
        value = value.reshape(())
    return value if value.dtype == jnp.bool_ else value != 0


def _materialize(writes, location: Location) -> None:
    for b in writes:
        b.materialize(location)


# Switched off only to measure what it saves: `for` loops stopping at their `break`
# where no derivative is taken (`_breaking_loop`).
BREAKING_LOOPS = True


def for_stmt(iterable, body, writes=(), broke=None):
    """Runs `body(item)` for each item of `iterable`, as a compiled loop where it can.

    `broke`: the box of the flag the loop's `break` (or `return`) sets, or a tuple of
    them (passes/break_continue.py, passes/returns.py); the body does nothing once
    one is set. Where no derivative is taken the loop stops there (`_breaking_loop`)."""
    location = caller_location()
    sequence = as_sequence(iterable)
    if sequence is None:
        for item in iterable:
            body(item)
    elif not _is_static(sequence.length):
        if sequence.max_length is not None:
            _masked_loop(sequence, body, writes, location)
            return
        tracing.current().note_dynamic_loop(location, "for")
        _compiled_loop(sequence, body, writes, location, broke)
        _guard_reverse_mode(writes, location, "for")
    else:
        _static_length_loop(sequence, body, writes, location, broke)


_CONCRETIZATION_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerArrayConversionError,
)


def needs_python_value(error: BaseException) -> bool:
    """Whether tracing failed because code needed a Python value where it got a traced one."""
    if isinstance(error, (_CONCRETIZATION_ERRORS, TracedSliceError)):
        return True
    # jax.numpy's own slicing with traced bounds (`x[:i]`) raises a plain IndexError.
    if isinstance(error, IndexError) and "must be static integers" in str(error):
        return True
    # A JAX function given a slice with traced bounds (runtime/windows.py) it cannot take.
    return isinstance(error, TypeError) and ("windows.Window" in str(error) or "windows.Block" in str(error))


def _static_length_loop(sequence: Sequence, body, writes, location: Location, broke=None) -> None:
    trip = sequence.length
    if trip == 0:
        return
    if all(b.can_materialize() for b in writes):
        session = tracing.current()
        windows_before = len(session.masked_slices)
        try:
            _compiled_loop(sequence, body, writes, location, broke)
            return
        except Exception as error:
            if not needs_python_value(error):
                raise
            del session.masked_slices[windows_before:]  # the unrolled body slices statically
            if trip > UNROLL_LIMIT:
                detail = f" ({error.message})" if isinstance(error, RefscriptError) else ""
                raise StaticLoopError(
                    f"this needs a Python value where the compiled loop at line {location.lineno} gives "
                    f"a traced one{detail}, and its {trip} iterations are too many to unroll automatically",
                    location_in_traceback(error.__traceback__) or location,
                    "use refscript.static_range to unroll it anyway, or compute this from traced "
                    "values (an array instead of a Python list, shapes that do not depend on the index)",
                ) from None
            reason = "the body needs the index as a Python value"
            forced_by = location_in_traceback(error.__traceback__)
    else:
        reason, forced_by = "it changes variables that hold Python objects", None
    tracing.current().note_unrolled_loop(location, reason, trip, forced_by)
    for k in builtins.range(trip):
        body(sequence.item(k))


def _compiled_loop(sequence: Sequence, body, writes, location: Location, broke=None) -> None:
    """Emits `fori_loop(0, length)` running `body(item(k))`; with a static length, a scan
    streaming element reads and writes where it can (`runtime/streaming.py`); a loop
    with a `break`, where no derivative is taken, a while loop (`_breaking_loop`)."""
    _materialize(writes, location)

    runs_loops = _runs_loops(body)

    def iteration(item):  # returns None, the loops' carry: the body works on the Refs
        with tracing.traced_body(writes, runs_loops), coalesce.iteration():
            _run_body(body, item, sequence.indices)

    def trace_loop():
        session = tracing.current()
        if broke is not None and session.forward_only and BREAKING_LOOPS:
            session.note_forward_only_choice(location, "loop stops at its break (a while_loop)")
            _breaking_loop(sequence, body, writes, broke, location, runs_loops)
        elif _is_static(sequence.length):
            names = streaming.box_names(body, writes)
            streaming.compiled_loop(sequence.length, lambda k: iteration(sequence.item(k)), names, location)
        elif sequence.counted_from is not None:  # the counter is the item, as in fori_loop(start, stop)
            start = sequence.counted_from
            lax.fori_loop(start, start + sequence.length, lambda k, carry: iteration(k), None)
        else:
            lax.fori_loop(0, sequence.length, lambda k, carry: iteration(sequence.item(k)), None)

    promotion.compiled_loop(trace_loop, location)


def _breaking_loop(sequence: Sequence, body, writes, broke, location: Location, runs_loops: bool) -> None:
    """A `for` loop with a `break`, as a `while` loop that also tests the loop's flags,
    counting in a box of its own: the iterations after the break are not run, as a
    hand port's `while_loop` stops (Newton's square root in `range(100_000)`,
    converging in 6 steps: 0.26 ms with the fixed trip count, 0.017 ms this way;
    CPU). Only without derivatives: reverse mode needs the fixed trip count."""
    length = sequence.length
    counter = boxes_module.box(jnp.zeros((), jnp.asarray(length).dtype), "the loop counter")
    counter.materialize(location)
    flags = broke if isinstance(broke, tuple) else (broke,)

    def test():
        go = counter.value < length
        for flag in flags:
            go = go & ~_predicate(flag.value, location)
        return go

    def step():
        k = counter.value
        counter.value = k + 1
        _run_body(body, sequence.item(k), sequence.indices)

    _while_loop(test(), test, step, (*writes, counter), location, runs_loops)


def _runs_loops(body) -> bool:
    """Whether a converted loop body runs loops itself (`tracing.Body.runs_loops`): it
    calls `for_stmt` or `while_stmt` (passes/loops.py; the bodies of the loops it runs
    are functions of their own, constants of its code)."""
    code = getattr(body, "__code__", None)
    return (boxes_module.FORWARDING_AROUND_LOOPS and code is not None
            and ("for_stmt" in code.co_names or "while_stmt" in code.co_names))


def _masked_loop(sequence: Sequence, body, writes, location: Location) -> None:
    """A loop of `max_length` iterations, of which those past the real length do nothing."""
    _materialize(writes, location)
    coalesce.flush_all()

    def loop_body(k, carry):
        def run():
            with tracing.traced_body():
                _run_body(body, sequence.item(k), sequence.indices)

        def skip():
            pass

        active = k < sequence.length
        with tracing.traced_body(writes):  # the loop body's own level, where `active` selects writes
            if not deferred.cond(active, (run, skip), ("masked loop", location)):
                lax.cond(active, run, skip)
        return carry

    lax.fori_loop(0, sequence.max_length, loop_body, None)


def _run_body(body, item, indices) -> None:
    if indices is None:
        body(item)
        return
    with tracing.loop_indices(indices(item)):
        body(item)


def while_stmt(test, body, writes=(), geometric=False):
    """Runs `body()` while `test()` holds, as a `lax.while_loop` when the test is traced.

    What the body changes becomes traced first, so a counting loop (`while k < n`)
    compiles to one while_loop instead of unrolling. If the body then needs those
    variables as Python values (a slice `x[k:]`, a shape), and they were Python
    values before the loop, the loop runs as Python instead (at most `UNROLL_LIMIT`
    iterations). The loop carries what the body writes, and its `cond_fun` computes
    the test from the carry, never from a Ref the body writes (it would see a
    stale value; `_carried_while`).

    `geometric`: the test reads a variable the body only scales (`offset *= 2`), so
    the loop runs logarithmically many times. While its test is a Python value it is
    unrolled, as a hand port would (each step then slices statically), for at most
    `GEOMETRIC_UNROLL` iterations; what is left compiles as above.
    """
    location = caller_location()
    condition = test()
    if _is_static(condition) and not condition:
        return  # no iteration: nothing to trace
    saved = _python_values(writes)
    if geometric and saved is not None:
        condition = _unrolled_while(condition, test, body, location)
        if _is_static(condition) and not condition:
            return
        saved = _python_values(writes)
    if all(b.can_materialize() for b in writes):
        _materialize(writes, location)
        condition = test()
    if not _is_static(condition):
        try:
            _compiled_while(condition, test, body, writes, location)
            return
        except Exception as error:
            if saved is None or not needs_python_value(error):
                raise
            for b, value in saved:
                b.value = value  # back to the Python values the loop started with
            forced_by = location_in_traceback(error.__traceback__)
        # (Out of the `except`: an error of the Python loop is not one "during" the compiled one.)
        condition = test()
        iterations = _python_while(condition, test, body, location)
        tracing.current().note_unrolled_loop(
            location, "the body needs its variables as Python values", iterations, forced_by)
        return
    _python_while(condition, test, body, location)


def _unrolled_while(condition, test, body, location: Location):
    """Runs `body()` as Python while `test()` is a true Python value, at most
    `GEOMETRIC_UNROLL` times; returns the last condition (False, traced, or still true)."""
    for _ in builtins.range(GEOMETRIC_UNROLL):
        if not _is_static(condition) or not condition:
            break
        tracing.current().note_unrolled_loop(
            location, "its test reads a variable the body scales (logarithmically many iterations)")
        body()
        condition = test()
    return condition


def _python_values(writes):
    """The boxes' values, to run the loop as Python after all (None if they already are Refs)."""
    depth = tracing.current().depth
    if any(b.is_ref or b.home_depth != depth for b in writes):
        return None
    return [(b, b.value) for b in writes]


def _python_while(condition, test, body, location: Location) -> int:
    """Runs the loop as Python while its test is a Python value; returns how many iterations ran."""
    iterations = 0
    while condition:
        body()
        iterations += 1
        if iterations > UNROLL_LIMIT:
            raise StaticLoopError(
                f"this while loop ran {UNROLL_LIMIT} iterations as Python while tracing",
                location,
                "make its condition depend on traced values, or bound it with a for loop",
            )
        condition = test()
        if not _is_static(condition):
            raise TracedValueError(
                "the loop condition became a traced value after it started as a Python value",
                location,
                "make the condition depend on traced values from the start, "
                "or keep it a Python value throughout",
            )
    return iterations


def _compiled_while(condition, test, body, writes, location: Location) -> None:
    _materialize(writes, location)

    runs_loops = _runs_loops(body)
    promotion.compiled_loop(lambda: _while_loop(condition, test, body, writes, location, runs_loops), location)
    tracing.current().note_dynamic_loop(location, "while")
    _guard_reverse_mode(writes, location, "while")


def _while_loop(condition, test, body, writes, location: Location, runs_loops: bool) -> None:
    """A `lax.while_loop` running `body()` while `test()` holds (`condition`: its value
    before the loop), over the Refs of `writes`."""
    session = tracing.current()
    if all(b.ref is not None and not session.promoted.get(id(b)) for b in writes):
        _carried_while(test, body, writes, location, runs_loops)
    else:
        _predicate_carried_while(condition, test, body, writes, location, runs_loops)


def _carried_while(test, body, writes, location: Location, runs_loops: bool) -> None:
    """The `while_loop` of a hand port: what the body writes is carried, and `cond_fun`
    computes the test from the carry. (A `cond_fun` reading the Refs would see stale
    values; carrying the test's value instead costs a loop like Mandelbrot's 16%.)"""
    boxes = sorted(writes, key=_carry_rank)

    def cond_fun(carry):
        with tracing.traced_body(), boxes_module.carried(boxes, carry):
            return _predicate(test(), location)

    def body_fun(carry):
        with tracing.traced_body(writes, runs_loops), boxes_module.carried(boxes, carry) as values:
            with coalesce.iteration():
                body()
            return values()

    session = tracing.current()
    session.in_while += 1
    try:
        final = lax.while_loop(cond_fun, body_fun, [b.value for b in boxes])
    finally:
        session.in_while -= 1
    for b, value in zip(boxes, final):
        boxes_module.store(b, value)


def _carry_rank(box) -> int:
    """Orders a while loop's carry: inexact values, then integers, then booleans. XLA:CPU
    ran Mandelbrot's escape loop 10% slower with its counter first in the carry tuple
    than after the two floats (a hand port's order; `benchmarks/kernels.py`)."""
    kind = jnp.dtype(jax.typeof(box.ref).dtype).kind
    return {"c": 0, "f": 0, "i": 1, "u": 1, "b": 2}.get(kind, 1)


def _predicate_carried_while(condition, test, body, writes, location: Location, runs_loops: bool) -> None:
    """A `while_loop` over the Refs, its body computing the next test and carrying it:
    where some of them are not plain bound Refs (a variable first bound in the loop,
    an element promoted to a scalar), which `_carried_while` cannot carry."""

    def loop_body(go):
        with tracing.traced_body(writes, runs_loops), coalesce.iteration():
            body()
            return _predicate(test(), location)

    lax.while_loop(lambda go: go, loop_body, _predicate(condition, location))


def _guard_reverse_mode(writes, location: Location, kind: str) -> None:
    """Marks what a run-time-length loop wrote, so reverse mode through it names the loop."""

    def error():
        what = "its trip count" if kind == "for" else "its condition"
        return ReverseModeLoopError(
            f"reverse-mode differentiation (jax.grad, jax.vjp, jax.jacrev) cannot go through this "
            f"{kind} loop: {what} depends on traced values, and JAX cannot reverse a loop whose "
            "length is only known at run time",
            location,
            "give the loop static bounds (pass them as Python ints, or name them in "
            "static_argnames), or differentiate in forward mode (jax.jvp, jax.jacfwd)",
        )

    for b in writes:
        ref = b.ref
        if ref is not None and jnp.issubdtype(jax.typeof(ref).dtype, jnp.inexact):
            ref[...] = reverse_mode_guard(ref[...], error)


def if_stmt(pred, if_true, if_false, writes=(), after_jump=False):
    """Runs the branch `pred` selects; a traced `pred` becomes `lax.cond` over both branches.

    `after_jump` marks the `if not flag:` guards that stand for `break`,
    `continue` and `return`: their untaken side is reached only after a jump, so
    what the guarded code binds counts as bound afterwards (as Python's flow
    ensures wherever the variable is then read).
    """
    location = caller_location()
    if _is_static(pred):
        if pred:
            if_true()
        elif if_false is not None:
            if_false()
        return
    pred = _predicate(pred, location)
    _materialize(writes, location)
    entry = {b: b.defined for b in writes}
    exits = []

    def branch(fn):
        def run():
            for b in writes:
                b.defined = entry[b]
            if fn is not None:
                with tracing.traced_body():
                    fn()
            exits.append({b: b.defined for b in writes})

        return run

    if not deferred.cond(pred, (branch(if_true), branch(if_false)), ("if", location)):
        exits.clear()
        coalesce.flush_all()  # the branches write the Refs themselves
        lax.cond(pred, branch(if_true), branch(if_false))
    for b in writes:
        bound_on = [state[b] for state in exits]
        b.defined = any(bound_on) if after_jump else all(bound_on)
        if not b.defined and any(bound_on):
            b.unbound_by = location


def _truth(value, location: Location):
    """Returns `bool(value)` for a Python value, or a traced boolean scalar."""
    if _is_static(value):
        return bool(value)
    return _predicate(value, location)


def and_(*operands):
    """`a and b and ...` with each operand a thunk: short-circuits on Python values."""
    return _bool_op(operands, stop_when=False, location=caller_location())


def or_(*operands):
    """`a or b or ...` with each operand a thunk: short-circuits on Python values."""
    return _bool_op(operands, stop_when=True, location=caller_location())


def _bool_op(operands, stop_when: bool, location: Location):
    """Python's `and` (stops at the first falsy operand) or `or` (at the first truthy one)."""
    value = operands[0]()
    if len(operands) == 1:
        return value
    truth = _truth(value, location)
    if _is_static(truth):
        return value if truth == stop_when else _bool_op(operands[1:], stop_when, location)
    if tracing.current().checks:
        rest = _only_if_needed(truth != stop_when, lambda: _bool_op(operands[1:], stop_when, location))
    else:
        rest = _bool_op(operands[1:], stop_when, location)
    return jnp.where(truth, value, rest) if stop_when else jnp.where(truth, rest, value)


def _only_if_needed(needed, rest):
    """`rest()` computed at run time only where `needed` (zeros elsewhere), as Python evaluates
    the right side of `and`/`or` only when needed. Used under `checks=True`, where an index
    out of bounds on the side Python would skip (`k < n and x[k] > 0`) must not be reported."""
    shapes = jax.eval_shape(_as_branch(rest))
    return lax.cond(needed, _as_branch(rest),
                    lambda: jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))


_COMPARISONS = {
    "Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le,
    "Gt": operator.gt, "GtE": operator.ge, "Is": operator.is_, "IsNot": operator.is_not,
    "In": lambda a, b: a in b, "NotIn": lambda a, b: a not in b,
}


def compare(first, *chain):
    """`a < b <= c ...` (operands as thunks, operators by AST name): each operand is
    evaluated once, and evaluation stops at the first comparison that is False."""
    location = caller_location()
    left = first()

    def link(left, chain):
        name, right_thunk, rest = chain[0], chain[1], chain[2:]
        right = right_thunk()
        result = _COMPARISONS[name](left, right)
        if not rest:
            return result
        return _bool_op((lambda: result, lambda: link(right, rest)), stop_when=False, location=location)

    return link(left, chain)


def not_(value):
    """`not value`: a traced value gives a traced boolean."""
    truth = _truth(value, caller_location())
    return (not truth) if _is_static(truth) else jnp.logical_not(truth)


def if_exp(pred, if_true, if_false):
    """`if_true() if pred else if_false()`; a traced `pred` evaluates the taken side with `lax.cond`."""
    location = caller_location()
    truth = _truth(pred, location)
    if _is_static(truth):
        return if_true() if truth else if_false()
    session = tracing.current()
    if session.forward_only:
        # No derivative is taken of the forward-only lowering: compute both sides and
        # select, cheaper than a conditional (see deferred._selected).
        chosen, other = if_true(), if_false()
        chosen_avals = jax.tree_util.tree_map(jax.typeof, chosen)
        if jax.tree_util.tree_structure(chosen) == jax.tree_util.tree_structure(other) and \
                chosen_avals == jax.tree_util.tree_map(jax.typeof, other):
            session.note_forward_only_choice(location, "branch selected (both sides computed, no conditional)")
            return jax.tree_util.tree_map(lambda a, b: lax.select(truth, a, b), chosen, other)
    coalesce.flush_all()  # the sides may read arrays in ways that flush (in the branches)
    return lax.cond(truth, _as_branch(if_true), _as_branch(if_false))


def _as_branch(side):
    def branch():
        with tracing.traced_body():
            return side()
    return branch


def assert_(condition, message=None):
    """`assert condition, message()`: on a traced condition, checked when the code runs
    if the function was compiled with `checks=True` (else not checked, as under `python -O`).
    """
    location = caller_location()
    truth = _truth(condition, location)
    if _is_static(truth):
        if not truth:
            raise AssertionError(message() if message is not None else None)
        return
    session = tracing.current()
    if not session.checks:
        session.note_unchecked_assertion(location)
        return
    text = f"{location}: assertion failed"
    if message is not None:
        text += f": {message()}"
    checkify.check(truth, text.replace("{", "{{").replace("}", "}}"))
