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

from jax.extend.core import Primitive
from jax.interpreters import ad as _ad_public
from jax.interpreters import batching as _batching
from jax.interpreters import mlir as _mlir
from jax._src import core as _core
from jax._src import traceback_util as _traceback_util
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
    # `lower=False` keeps the user's custom_jvp/custom_vjp calls instead of
    # inlining them (losing their derivative rules). JAX's discharge rules for
    # loop and cond bodies still trace those bodies with the default
    # `lower=True`, so custom rules *inside* loops and branches are inlined.
    return _discharge.discharge_state(closed_jaxpr, lower=False)


def eval_jaxpr(closed_jaxpr, args):
    """Returns the flat outputs of evaluating `closed_jaxpr` on flat `args` (traced or concrete)."""
    return _core.eval_jaxpr(closed_jaxpr.jaxpr, closed_jaxpr.consts, *args)


def is_tracer(value) -> bool:
    """Whether `value` is an abstract value being traced (so Python cannot branch on it)."""
    return isinstance(value, _core.Tracer)


# A guard on the values that leave a loop with a run-time trip count.
#
# JAX cannot transpose such a loop, and says so only when it transposes it, with
# no hint of which loop. `reverse_mode_guard(x, on_transpose)` is the identity on
# values and on tangents, but transposing it (which happens before the loop's
# own transpose, and only if a cotangent really flows into the loop's results)
# raises `on_transpose()`: refscript's error at the user's loop line. Being part
# of the jaxpr, it also works under jit, vmap and checkpoint inside grad, and for
# loops nested in other loops.
# Defining a primitive uses `jax.extend.core.Primitive` and the `ad`, `batching`
# and `mlir` registries (tested on 0.10.2).
_tangent_guard_p = Primitive("refscript_loop_tangent")
_tangent_guard_p.def_impl(lambda t, *, on_transpose: t)
_tangent_guard_p.def_abstract_eval(lambda t, *, on_transpose: t)


def _tangent_guard_transpose(ct, t, *, on_transpose):
    raise on_transpose()


_ad_public.deflinear2(_tangent_guard_p, _tangent_guard_transpose)
_batching.primitive_batchers[_tangent_guard_p] = lambda args, dims, **params: (
    _tangent_guard_p.bind(*args, **params), dims[0])
_mlir.register_lowering(_tangent_guard_p, _mlir.lower_fun(lambda t, *, on_transpose: t, multiple_results=False))


# The guard on values: the identity, whose tangent goes through `_tangent_guard_p`.
# A primitive rather than a `custom_jvp`: state discharge of loop bodies inlines
# custom_jvp calls (it traces them with `lower=True`), which would drop the guard.
_guard_p = Primitive("refscript_loop_guard")
_guard_p.def_impl(lambda x, *, on_transpose: x)
_guard_p.def_abstract_eval(lambda x, *, on_transpose: x)


def _guard_jvp(primals, tangents, *, on_transpose):
    (x,), (t,) = primals, tangents
    out = _guard_p.bind(x, on_transpose=on_transpose)
    if type(t) is _ad_public.Zero:
        return out, t
    return out, _tangent_guard_p.bind(t, on_transpose=on_transpose)


_ad_public.primitive_jvps[_guard_p] = _guard_jvp
_batching.primitive_batchers[_guard_p] = lambda args, dims, **params: (_guard_p.bind(*args, **params), dims[0])
_mlir.register_lowering(_guard_p, _mlir.lower_fun(lambda x, *, on_transpose: x, multiple_results=False))


def reverse_mode_guard(value, on_transpose):
    """Returns `value`; reverse-mode differentiation through it raises `on_transpose()`."""
    return _guard_p.bind(value, on_transpose=on_transpose)


def check_failure(failure) -> tuple:
    """Returns `(kind, frames)` of a `checkify.JaxRuntimeError`: kind "index" for an
    out-of-bounds index (`checkify.index_checks`), "check" for a `checkify.check`; frames
    the `(code, lasti)` pairs, outermost first, of where the failing operation was traced.

    checkify raises `JaxRuntimeError(str(error)) from error`, where `error` is one of
    its (unexported) `JaxException` classes, holding the trace-time jaxlib `Traceback`
    as `traceback_info`; `Traceback.raw_frames()` gives its code objects and
    instruction offsets, innermost first. Tested on 0.10.2.
    """
    cause = failure.__cause__
    kind = "index" if type(cause).__name__ == "OOBError" else "check"
    info = getattr(cause, "traceback_info", None)
    try:
        codes, lastis = info.raw_frames()
    except Exception:  # no traceback recorded: a clear message still, without the line
        return kind, []
    return kind, list(zip(codes, lastis))[::-1]


# Vectorising a parallel loop body (refscript.prange).
#
# `jax.vmap` turns a `cond` whose predicate varies across the batch into a
# select between both branches, but first broadcasts *every* operand of the
# cond to the batch size, including arrays the body only reads: a prange body
# with an `if` over n iterations reading an n-element array would build an
# n-by-n array (and its gradient one more). Rewriting each `cond` of the
# (pure) body into both branches followed by `select_n` before vmapping keeps
# read-only operands unbatched. Walking jaxpr equations and re-binding them
# uses `Primitive.get_bind_params`, `core.Literal` and the `cond`/`while`/
# `scan`/`pjit`/`closed_call` parameter names of 0.10.2.

_SUBJAXPR_PARAMS = {"scan": ("jaxpr",), "while": ("cond_jaxpr", "body_jaxpr"), "pjit": ("jaxpr",),
                    "jit": ("jaxpr",), "closed_call": ("call_jaxpr",)}


def branches_to_selects(closed_jaxpr):
    """Returns a ClosedJaxpr computing what the pure `closed_jaxpr` computes, with every `cond`
    (also inside loops and calls) evaluated as both branches and a `select_n` of their results."""
    import jax

    def run(*args):
        return _eval_selecting(closed_jaxpr.jaxpr, closed_jaxpr.consts, args)

    avals = [v.aval for v in closed_jaxpr.jaxpr.invars]
    specs = [jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in avals]
    return jax.make_jaxpr(run)(*specs)


def _eval_selecting(jaxpr, consts, args):
    from jax import lax

    env = {}

    def read(v):
        return v.val if isinstance(v, _core.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name == "cond":
            index, *operands = values
            branches = eqn.params["branches"]
            results = [_eval_selecting(b.jaxpr, b.consts, operands) for b in branches]
            index = lax.clamp(lax.full_like(index, 0), index, lax.full_like(index, len(branches) - 1))
            outs = [lax.select_n(index, *cases) if len(cases) > 1 else cases[0] for cases in zip(*results)]
        else:
            params = dict(eqn.params)
            for key in _SUBJAXPR_PARAMS.get(name, ()):
                if isinstance(params.get(key), _core.ClosedJaxpr) and has_cond(params[key].jaxpr):
                    params[key] = branches_to_selects(params[key])
            outs = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(params))
            if not eqn.primitive.multiple_results:
                outs = [outs]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def has_cond(jaxpr) -> bool:
    """Whether `jaxpr` has a `cond`, also inside loops and calls."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "cond":
            return True
        for key in _SUBJAXPR_PARAMS.get(eqn.primitive.name, ()):
            sub = eqn.params.get(key)
            if isinstance(sub, _core.ClosedJaxpr) and has_cond(sub.jaxpr):
                return True
    return False
