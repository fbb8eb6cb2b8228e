"""Per-trace state of the runtime: how deep in traced bodies we are, and what we learned.

A *session* lives for one trace of a converted function (including restarts). It
holds type hints for boxes (a variable that must be wider than its first value,
or that is first bound inside a traced body) and records decisions worth showing
to the user: which loops got a run-time trip count, which were unrolled.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

from refscript.errors import Location


class Restart(BaseException):
    """Raised to restart a trace from the top after learning a box's type.

    A `BaseException` so user code's `except Exception` cannot swallow it.
    """


class LoopIndex(NamedTuple):
    """What is known of the index of a compiled loop being traced, in its body."""

    index: object  # the tracer
    values: object  # a range of Python ints holding every value it takes, or None
    # `(bound, offset)`: the index is at least (`low`) / at most (`high`) bound + offset,
    # where bound is a traced or Python int (`range(i + 1, j)`: low (i + 1, 0), high (j, -1)).
    low: tuple | None = None
    high: tuple | None = None


@dataclass(frozen=True)
class BoxType:
    shape: tuple
    dtype: object


@dataclass
class Session:
    hints: dict = field(default_factory=dict)
    dynamic_loops: list = field(default_factory=list)
    unrolled_loops: list = field(default_factory=list)  # (location, why) of loops unrolled
    # location of an unrolled loop -> (iterations, where the body needed a Python value or None)
    unrolled_iterations: dict = field(default_factory=dict)
    masked_slices: list = field(default_factory=list)  # locations of slices with traced bounds
    streamed_loops: list = field(default_factory=list)  # runtime/streaming.StreamedLoop records
    depth: int = 0
    checks: bool = False  # whether traced `assert`s are checked at run time
    argument_boxes: dict = field(default_factory=dict)  # parameter name -> its argument box
    unchecked_assertions: list = field(default_factory=list)
    # id(index tracer) -> its `LoopIndex`, for the indices of the compiled loops being
    # traced (see `bounded_range`, runtime/bounds.py).
    loop_indices: dict = field(default_factory=dict)
    # Branches being traced with their writes deferred (runtime/deferred.py), innermost
    # last; the sites that cannot be deferred, and the writes each deferred site made.
    deferrals: list = field(default_factory=list)
    # A forward-only trace: the function's primal, used where no derivative is taken
    # (refscript.jit wraps it in a custom_jvp whose rule traces the function again
    # without this flag). Loops whose trip count depends on enclosing loop indices
    # run their real trip count (a while loop) instead of a masked fixed-length loop,
    # and loops are not streamed; `forward_only_choices` lists where that happened.
    forward_only: bool = False
    forward_only_choices: list = field(default_factory=list)
    parallel_loops: list = field(default_factory=list)  # (location, what) of prange loops
    # refscript.jit(vectorize=True): independent range loops run vectorised; the functions the
    # code calls are converted so too.
    vectorize: bool = False
    undeferrable: set = field(default_factory=set)
    not_inline: set = field(default_factory=set)
    buffers: list = field(default_factory=list)  # runtime/coalesce.py, innermost last
    # runtime/promotion.py: loops traced a first time (innermost last), and the
    # elements promoted in the loops being traced now, by id(box).
    promotion_probes: list = field(default_factory=list)
    promoted: dict = field(default_factory=dict)
    bodies: list = field(default_factory=list)  # the `Body`s being traced, innermost last
    # How many element accesses indexed a Ref's value instead of the Ref (runtime/indexing.py
    # `_dynamic_window`, forward-only traces): a loop whose body made some cannot be planned
    # for streaming from its jaxpr, so the differentiable lowering is traced too.
    value_indexed: int = 0
    in_while: int = 0  # how many compiled while loops enclose the code being traced
    deferred_layouts: dict = field(default_factory=dict)

    def restart(self) -> None:
        """Forgets what one tracing attempt recorded; keeps the type hints it learned."""
        self.dynamic_loops.clear()
        self.unrolled_loops.clear()
        self.unrolled_iterations.clear()
        self.masked_slices.clear()
        self.streamed_loops.clear()
        self.unchecked_assertions.clear()
        self.argument_boxes.clear()
        self.forward_only_choices.clear()
        self.parallel_loops.clear()

    def note_parallel_loop(self, location: Location, what: str) -> None:
        if (location, what) not in self.parallel_loops:
            self.parallel_loops.append((location, what))

    def note_forward_only_choice(self, location: Location, what: str) -> None:
        if (location, what) not in self.forward_only_choices:
            self.forward_only_choices.append((location, what))

    def note_dynamic_loop(self, location: Location, kind: str) -> None:
        if (location, kind) not in self.dynamic_loops:
            self.dynamic_loops.append((location, kind))

    def note_unchecked_assertion(self, location: Location) -> None:
        if location not in self.unchecked_assertions:
            self.unchecked_assertions.append(location)

    def note_window(self, location: Location) -> None:
        if location is not None and location not in self.masked_slices:
            self.masked_slices.append(location)

    def note_streamed_loop(self, record) -> None:
        if all(r.location != record.location for r in self.streamed_loops):
            self.streamed_loops.append(record)

    def note_unrolled_loop(self, location: Location, reason: str, iterations: int | None = None,
                           forced_by: Location | None = None) -> None:
        """Records that the loop at `location` ran as Python while tracing, and why; `iterations`:
        how many times its body ran (the most of any one run); `forced_by`: the place in the
        body that needed a Python value."""
        if (location, reason) not in self.unrolled_loops:
            self.unrolled_loops.append((location, reason))
        if iterations is not None:
            before, where = self.unrolled_iterations.get(location, (0, None))
            self.unrolled_iterations[location] = (max(before, iterations), forced_by or where)


_local = threading.local()


def active() -> bool:
    """Whether refscript's driver is tracing converted code in this thread."""
    return getattr(_local, "session", None) is not None


def current() -> Session:
    """Returns the active session (a fresh one when converted code runs outside refscript's driver)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = Session()
    return session


@contextlib.contextmanager
def session_scope(session: Session):
    previous = getattr(_local, "session", None)
    _local.session = session
    try:
        yield session
    finally:
        _local.session = previous


@contextlib.contextmanager
def loop_indices(entries):
    """Records, while a loop body is traced, what is known of its traced indices:
    `entries` are `LoopIndex`es, or tuples of their fields."""
    known = current().loop_indices
    entries = [LoopIndex(*entry) for entry in entries]
    added = [id(entry.index) for entry in entries if id(entry.index) not in known]
    for entry in entries:
        known.setdefault(id(entry.index), entry)
    try:
        yield
    finally:
        for key in added:
            known.pop(key, None)


@contextlib.contextmanager
def traced_body(loop_writes=None, runs_loops=False):
    """Marks that code runs inside a traced loop or branch body (one level deeper).
    A loop body passes the boxes the loop writes (`loop_writes`), and whether it runs
    loops of its own (`runs_loops`); a branch, which runs at most once each time the
    code around it runs, passes nothing."""
    session = current()
    session.depth += 1
    session.bodies.append(Body(None if loop_writes is None else frozenset(id(b) for b in loop_writes), runs_loops))
    try:
        yield
    finally:
        session.bodies.pop()
        session.depth -= 1


class Body:
    """A loop or branch body being traced (`traced_body`)."""

    __slots__ = ("loop_writes", "runs_loops")

    def __init__(self, loop_writes, runs_loops=False):
        self.loop_writes = loop_writes  # ids of the boxes a loop writes; None for a branch
        # A loop body that runs loops itself: its own reads of what it just wrote are
        # forwarded (`coalesce.read_item`, `Box._forwarded`).
        self.runs_loops = runs_loops
