"""What a compiled `for` loop iterates over: ranges, arrays, and enumerate/zip/reversed of them.

A `Sequence` is `length` items (a Python int, or a traced int), item `k` given by
`item(k)`. `for_stmt` compiles a loop over any of them; anything else (a list, a
dict, a generator) is iterated by Python.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from refscript._jax_internal import is_tracer


@dataclass
class Sequence:
    length: object
    item: Callable
    # The loop indices inside item(k), each with the Python values it takes:
    # `indices(item)` -> [(index, range), ...]. Bounds of inner loops that depend only
    # on these indices get a static largest trip count (see `bounded_range`).
    indices: Callable | None = None
    max_length: int | None = None  # a static bound on a traced length
    # When set, `item(k)` is `counted_from + k` (a unit-step range): a loop of run-time
    # length may count from there and use its counter as the item, as `lax.fori_loop(start,
    # stop)` does, instead of adding the start to a counter from 0 in every iteration.
    counted_from: object = None


def _index_is(values, low=None, high=None) -> Callable:
    """`indices` of a sequence whose items are themselves the loop index, with its
    `tracing.LoopIndex` facts (`values`: a range holding every index, or None)."""
    return lambda item: [(item, values, low, high)]


def _range_limits(start, stop, step) -> tuple:
    """`(low, high)` of `tracing.LoopIndex` for the indices of `range(start, stop, step)`
    with a Python `step`; (None, None) for a traced step."""
    if is_tracer(step):
        return None, None
    if step > 0:
        return (start, 0), (stop, -1)
    return (stop, 1), (start, 0)


def _part_of(inner: Sequence, part: Callable) -> Callable | None:
    """`indices` of a sequence whose items contain an item of `inner` at `part(item)`."""
    if inner.indices is None:
        return None
    return lambda item: inner.indices(part(item))


class TracedRange:
    """`range(start, stop, step)` where some bound is a traced integer.

    `max_trip`, when known, is a static bound on the trip count: the loop then
    compiles to a fixed-length loop whose iterations past the real trip count do
    nothing, which (unlike a `while_loop`) reverse-mode differentiation can go through.
    """

    def __init__(self, start, stop, step, max_trip=None, values=None):
        self.start, self.stop, self.step = start, stop, step
        self.max_trip = max_trip
        self.values = values  # a range covering every index value, when known

    def trip_count(self):
        start, stop, step = self.start, self.stop, self.step
        if not is_tracer(step):
            if step == 1:
                return jnp.maximum(jnp.asarray(stop) - start, 0)
            if step > 0:
                return jnp.maximum((stop - start + step - 1) // step, 0)
            return jnp.maximum((start - stop - step - 1) // (-step), 0)
        start, stop, step = (jnp.asarray(v) for v in (start, stop, step))
        up = (stop - start + step - 1) // jnp.where(step == 0, 1, step)
        down = (start - stop - step - 1) // jnp.where(step == 0, 1, -step)
        return jnp.maximum(jnp.where(step > 0, up, down), 0)


class StaticRange:
    """A range that refscript unrolls: its body runs once per index, as Python."""

    def __init__(self, *args):
        self.range = builtins.range(*args)

    def __iter__(self):
        return iter(self.range)

    def __len__(self):
        return len(self.range)


class Enumerate:
    """`enumerate(x, start)` of something a compiled loop can iterate."""

    def __init__(self, inner, start=0):
        self.inner, self.start = inner, start

    def __iter__(self):
        return builtins.enumerate(self.inner, self.start)


class Zip:
    """`zip(*xs)` where some of `xs` are arrays or ranges."""

    def __init__(self, inners):
        self.inners = inners

    def __iter__(self):
        return builtins.zip(*self.inners)


class Reversed:
    """`reversed(x)` of something a compiled loop can iterate."""

    def __init__(self, inner):
        self.inner = inner

    def __iter__(self):
        if isinstance(self.inner, (jax.Array, np.ndarray)):
            return iter(self.inner[::-1])
        return builtins.reversed(self.inner)


def index_of(start, step):
    """Returns the map from iteration number to loop index, without no-op arithmetic."""
    static = not (is_tracer(start) or is_tracer(step))
    if static and start == 0 and step == 1:
        return lambda k: k
    if static and step == 1:
        return lambda k: start + k
    return lambda k: start + k * step


def loopable(value) -> bool:
    """Whether a compiled loop can iterate over `value` (else Python iterates it)."""
    return as_sequence(value) is not None


def as_sequence(value) -> Sequence | None:
    """Returns `value` as a `Sequence`, or None for what only Python can iterate."""
    if isinstance(value, builtins.range):
        return Sequence(len(value), index_of(value.start, value.step), _index_is(value))
    if isinstance(value, TracedRange):
        indices = _index_is(value.values, *_range_limits(value.start, value.stop, value.step))
        unit = not is_tracer(value.step) and value.step == 1
        return Sequence(value.trip_count(), index_of(value.start, value.step), indices, value.max_trip,
                        value.start if unit else None)
    if isinstance(value, (jax.Array, np.ndarray)) or is_tracer(value):
        if np.ndim(value) == 0:
            return None
        items = jnp.asarray(value)
        return Sequence(items.shape[0], lambda k: items[k])
    if isinstance(value, Enumerate):
        inner = as_sequence(value.inner)
        if inner is None:
            return None
        start = value.start
        bound = inner.length if not is_tracer(inner.length) else inner.max_length
        counter = None if bound is None or is_tracer(start) else builtins.range(start, start + bound)
        inner_indices = _part_of(inner, lambda item: item[1])

        def indices(item):
            found = [] if counter is None else [(item[0], counter)]
            return found + (inner_indices(item) if inner_indices else [])

        return Sequence(inner.length, lambda k: (start + k, inner.item(k)), indices, inner.max_length)
    if isinstance(value, Zip):
        inners = [as_sequence(v) for v in value.inners]
        if not inners or any(s is None for s in inners):
            return None
        lengths = [s.length for s in inners]
        if all(not is_tracer(n) for n in lengths):
            length = min(lengths)
        else:
            length = jnp.min(jnp.stack([jnp.asarray(n) for n in lengths]))
        bounds = [s.max_length if is_tracer(s.length) else s.length for s in inners]
        max_length = None if any(b is None for b in bounds) else min(bounds)
        parts = [_part_of(s, lambda item, p=p: item[p]) for p, s in enumerate(inners)]

        def indices(item):
            return [pair for part in parts if part is not None for pair in part(item)]

        return Sequence(length, lambda k: tuple(s.item(k) for s in inners), indices, max_length)
    if isinstance(value, Reversed):
        inner = as_sequence(value.inner)
        if inner is None:
            return None
        n = inner.length
        # A masked inner sequence (a traced length with a static bound): the masked
        # loop runs item(k) only for k < n, so item(n - 1 - k) stays in range.
        return Sequence(n, lambda k: inner.item(n - 1 - k), inner.indices, inner.max_length)
    return None
