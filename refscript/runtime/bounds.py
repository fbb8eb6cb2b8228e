"""What refscript can prove about traced integer indices while tracing: their bounds.

A loop index is known to lie in its range: `for k in range(i + 1, j)` gives
`i + 1 <= k <= j - 1`, and, through the ranges of `i` and `j`, numbers. Index
arithmetic the user wrote (`k + 1`, `j - 1`) is read from the jaxpr being built
(`_jax_internal.producer`) as an *offset form*: a base value plus a Python int.
From the two, `apart(p, q, size)` proves that two index parts never name the same
element (Nussinov's `table[k + 1, j]` is never its accumulator `table[i, j]`: k + 1
>= i + 2), and `within(p, low, high)` that an index needs no wrapping or clamping.

What cannot be proven is not assumed: callers then compare or clamp at run time.
"""

from __future__ import annotations

import numpy as np

from refscript import _jax_internal
from refscript.runtime import tracing

# How many loop ranges a bound is followed through (`k` >= `i + 1`, `i` >= 0, ...).
MAX_DEPTH = 4


def offset_form(value) -> tuple:
    """Returns `(base, offset)` with `value == base + offset`: base None for an int, else
    the value after taking off additions and subtractions of constants."""
    return offset_chain(value)[-1]


def offset_chain(value) -> list:
    """`[(value, 0), ..., (base, offset)]`: `value` as each operand of the additions and
    subtractions of constants that computed it, plus an offset (see `offset_form`)."""
    chain = []
    offset = 0
    for _ in range(32):
        if _is_int(value):
            chain.append((None, offset + int(value)))
            return chain
        chain.append((value, offset))
        found = _jax_internal.producer(value)
        if found is None:
            break
        name, inputs = found
        if name == "add" and _is_int(inputs[1]):
            value, offset = inputs[0], offset + int(inputs[1])
        elif name == "add" and _is_int(inputs[0]):
            value, offset = inputs[1], offset + int(inputs[0])
        elif name == "sub" and _is_int(inputs[1]):
            value, offset = inputs[0], offset - int(inputs[1])
        elif name == "convert_element_type" and _widens(inputs[0], value):
            value = inputs[0]
        else:
            break
    return chain


def _is_int(value) -> bool:
    """Whether `value` is a known integer: a Python or NumPy int, or a 0-d integer array
    (how JAX gives some literals)."""
    if isinstance(value, (bool, np.bool_)) or _jax_internal.is_tracer(value):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and np.ndim(value) == 0 and np.issubdtype(dtype, np.integer)


def _widens(source, result) -> bool:
    """Whether converting `source` to `result`'s dtype keeps every value (int to wider int)."""
    source_dtype, result_dtype = getattr(source, "dtype", None), getattr(result, "dtype", None)
    if source_dtype is None or result_dtype is None:
        return False
    if not (np.issubdtype(source_dtype, np.integer) and np.issubdtype(result_dtype, np.integer)):
        return False
    return np.can_cast(source_dtype, result_dtype, casting="safe")


def lower_bounds(value, depth: int = MAX_DEPTH) -> list:
    """Offset forms `(base, c)` each at most `value` (base None: the number c)."""
    return _bounds(value, depth, lower=True)


def upper_bounds(value, depth: int = MAX_DEPTH) -> list:
    """Offset forms `(base, c)` each at least `value` (base None: the number c)."""
    return _bounds(value, depth, lower=False)


def _bounds(value, depth: int, lower: bool) -> list:
    chain = offset_chain(value)
    found = list(chain)
    if depth == 0:
        return found
    loop_indices = tracing.current().loop_indices
    for base, offset in chain:
        entry = loop_indices.get(id(base)) if base is not None else None
        if entry is None or entry.index is not base:
            continue
        if entry.values is not None and len(entry.values):
            values = entry.values
            found.append((None, (min if lower else max)(values[0], values[-1]) + offset))
        limit = entry.low if lower else entry.high
        if limit is not None:
            bound, limit_offset = limit
            found += [(b, c + limit_offset + offset) for b, c in _bounds(bound, depth - 1, lower)]
    return found


def below(p, q) -> bool:
    """Whether `p < q` holds for every value they take (as far as can be proven)."""
    highs = upper_bounds(p)
    lows = lower_bounds(q)
    return any(hb is lb and hc < lc for hb, hc in highs for lb, lc in lows)


def within(value, low: int, high: int) -> bool:
    """Whether every value of the integer `value` lies in [low, high]."""
    return (any(b is None and c >= low for b, c in lower_bounds(value))
            and any(b is None and c <= high for b, c in upper_bounds(value)))


def apart(p, q, size: int) -> bool:
    """Whether index parts `p` and `q` on an axis of `size` never name the same element:
    one is always smaller, and both are in bounds (so neither wraps nor is clamped)."""
    return ((below(p, q) or below(q, p))
            and within(p, 0, size - 1) and within(q, 0, size - 1))
