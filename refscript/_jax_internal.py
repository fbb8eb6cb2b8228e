"""Every use of JAX internals in refscript, in one place.

Tested with jax/jaxlib 0.10.2 (pyproject pins `jax>=0.10,<0.11`). Re-check each
entry when that range moves: these are not public APIs and have changed
signature between releases.

Why refscript needs them: JAX 0.10's native Ref support fails exactly where
imperative code needs it (a Ref-writing `cond` under `vmap`, under `grad` inside
a loop, `jacfwd`/`hessian` of a function that creates a Ref). refscript traces
the converted function to a jaxpr with Refs, then *discharges* the state into a
pure jaxpr (Refs become ordinary values threaded through loops and branches)
before any transformation sees it. Discharge and evaluating the resulting jaxpr
are internal operations.
"""

from __future__ import annotations

import jax
from jax._src import core as _core
from jax._src import traceback_util as _traceback_util
from jax._src.interpreters import ad as _ad
from jax._src.state import discharge as _discharge

TESTED_JAX_VERSIONS = ("0.10.2",)


def hide_frames_of(directory: str) -> None:
    """Hides frames of files under `directory` in the tracebacks JAX filters for users.

    JAX removes its own frames from tracebacks of errors raised while tracing
    (`JAX_TRACEBACK_FILTERING`); registering refscript's package there means a
    user's error inside a compiled loop shows the user's lines, not refscript's
    runtime. `jax._src.traceback_util.register_exclusion(path)` in 0.10.
    """
    _traceback_util.register_exclusion(directory)


def discharge_state(closed_jaxpr):
    """Returns a pure ClosedJaxpr computing what `closed_jaxpr` computes with Refs.

    The input jaxpr takes no Ref arguments (refscript creates every Ref inside the
    traced function), so the discharged jaxpr has the same inputs and outputs.
    `jax._src.state.discharge.discharge_state(closed_jaxpr, *, should_discharge, lower)`
    in 0.10; earlier releases took `(jaxpr, consts)`.
    """
    return _discharge.discharge_state(closed_jaxpr)


def eval_jaxpr(closed_jaxpr, args):
    """Returns the flat outputs of evaluating `closed_jaxpr` on flat `args` (traced or concrete)."""
    return _core.eval_jaxpr(closed_jaxpr.jaxpr, closed_jaxpr.consts, *args)


def is_tracer(value) -> bool:
    """Whether `value` is an abstract value being traced (so Python cannot branch on it)."""
    return isinstance(value, _core.Tracer)


def is_reverse_mode_tracer(value) -> bool:
    """Whether `value` is being traced for reverse-mode differentiation (`grad`, `vjp`, `jacrev`).

    With direct linearization (the default since JAX 0.5), reverse mode traces
    with `LinearizeTracer`; forward mode (`jvp`, `jacfwd`) uses `JVPTracer`.
    """
    return isinstance(value, _ad.LinearizeTracer)


def needs_python_value(error: BaseException) -> bool:
    """Whether tracing failed because code needed a concrete Python value from a traced one."""
    if isinstance(error, CONCRETIZATION_ERRORS):
        return True
    # Slicing with traced bounds (`x[:i]` inside a compiled loop) raises a plain IndexError.
    return isinstance(error, IndexError) and "must be static integers" in str(error)


# The message JAX raises when reverse-mode differentiation meets a while loop
# (jax/_src/lax/control_flow/loops.py, `_while_partial_eval`).
REVERSE_MODE_WHILE_MESSAGE = "Reverse-mode differentiation does not work for lax.while_loop"

CONCRETIZATION_ERRORS = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerArrayConversionError,
)
