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

import contextlib
import functools

import numpy as np

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


def made_in_current_trace(value) -> bool:
    """Whether `value` is a tracer of the trace being built now (not one captured from an
    enclosing trace, such as a loop index used inside a branch). refscript's deferred
    branch writes (runtime/deferred.py) return from the conditional only the index parts
    made inside the branch, so an index captured from outside keeps its identity (which
    the write coalescing of runtime/coalesce.py compares). `Tracer._trace` and
    `core.trace_ctx.trace` are internal (0.10.2)."""
    return isinstance(value, _core.Tracer) and value._trace is _core.trace_ctx.trace


def usable_here(value) -> bool:
    """Whether `value` may be used in the trace being built now: not a tracer, or a
    tracer of that trace or of one enclosing it (not of a branch or loop body whose
    trace has ended). Store-to-load forwarding (runtime/boxes.py) checks what it kept.
    `core.trace_ctx.trace`, `Tracer._trace` and `DynamicJaxprTrace.parent_trace` are
    internal (0.10.2)."""
    if not isinstance(value, _core.Tracer):
        return True
    trace = _core.trace_ctx.trace
    while trace is not None:
        if value._trace is trace:
            return True
        trace = getattr(trace, "parent_trace", None)
    return False


def is_tracer(value) -> bool:
    """Whether `value` is an abstract value being traced (so Python cannot branch on it)."""
    return isinstance(value, _core.Tracer)


def producer(value):
    """Returns `(primitive name, inputs)` of the operation that computed the traced
    `value` in the jaxpr being built, or None (an argument, a loop counter, not a tracer).

    Inputs are given as the user's code saw them: a literal as a Python int or float,
    and a tracer of an enclosing trace that the operation captured (JAX makes such a
    value a constant of the inner jaxpr) as that enclosing tracer, so identity
    comparisons with values from outside the loop hold. runtime/bounds.py reads
    index arithmetic (`k + 1`, `i - 1`) with it. `DynamicJaxprTracer.parent` (a
    `TracingEqn` with `primitive` and `in_tracers`), `.val` (a `Var` or `Literal`)
    and `JaxprStackFrame.constvar_to_val` are internal (0.10.2).
    """
    eqn = getattr(value, "parent", None) if isinstance(value, _core.Tracer) else None
    if eqn is None or not hasattr(eqn, "in_tracers"):
        return None
    return eqn.primitive.name, [_as_user_value(t) for t in eqn.in_tracers]


def _as_user_value(tracer):
    for _ in range(64):  # captured through at most as many enclosing traces
        atom = getattr(tracer, "val", None)
        if isinstance(atom, _core.Literal):
            return atom.val
        frame = getattr(getattr(tracer, "_trace", None), "frame", None)
        captured = frame.constvar_to_val.get(atom) if frame is not None and isinstance(atom, _core.Var) else None
        if captured is None:
            return tracer
        if not isinstance(captured, _core.Tracer):
            return captured
        tracer = captured
    return tracer


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


# Differentiating a vmapped custom_jvp whose rule has a `cond` (refscript.jit's
# forward-only primal, see `JitFunction._run_pure`, under `grad(vmap(f))`).
#
# Batching a `cond` whose predicate varies across the batch makes it a select of
# both branches, feeding each branch `select(taken, x, stop_gradient(x))`. For a
# custom_jvp, JAX batches the rule's already-differentiated jaxpr, so `x` can be a
# tangent, and linearizing then puts `stop_gradient` in the linear program, where
# JAX 0.10.2 has no transpose rule for it ("Transpose rule ... for 'stop_gradient'
# not implemented"). On values `stop_gradient` is the identity, so as a linear map
# its transpose is the identity (the cotangent reaching the untaken side is zero
# anyway: the branch outputs are selected away). Registered only if JAX has none;
# `ad.primitive_transposes` and `ad_util.stop_gradient_p` are internal (0.10.2).
def _register_stop_gradient_transpose() -> None:
    from jax._src import ad_util
    from jax._src.interpreters import ad

    if ad_util.stop_gradient_p not in ad.primitive_transposes:
        ad.primitive_transposes[ad_util.stop_gradient_p] = lambda ct, x: [ct]


_register_stop_gradient_transpose()


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


def branches_to_selects(closed_jaxpr, checked: bool = False):
    """Returns a ClosedJaxpr computing what the pure `closed_jaxpr` computes, with every `cond`
    (also inside loops and calls) evaluated as both branches and a `select_n` of their results.

    With `checked` (the function runs under `checks=True`: its asserts are `check`s, and
    checkify's automatic index checks will run over the result), a `check` in a branch
    fails only where the branch is taken, and the indices a branch uses where it is not
    taken are replaced by 0, so they cannot fail (also in its calls and inner scans; a
    cond with a check inside a while loop is kept as a cond).
    """
    import jax

    def run(*args):
        return _eval_selecting(closed_jaxpr.jaxpr, closed_jaxpr.consts, args, None, checked)

    avals = [v.aval for v in closed_jaxpr.jaxpr.invars]
    specs = [jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in avals]
    return jax.make_jaxpr(run)(*specs)


_CALLS = {"pjit": "jaxpr", "jit": "jaxpr", "closed_call": "call_jaxpr"}


# Operands that are indices, by primitive: (first, last + 1) in the equation's operands.
_INDEX_OPERANDS = {"gather": (1, 2), "dynamic_slice": (1, None), "dynamic_update_slice": (2, None),
                   "scatter": (1, 2), "scatter-add": (1, 2), "scatter_add": (1, 2), "scatter-mul": (1, 2),
                   "scatter_mul": (1, 2), "scatter-min": (1, 2), "scatter_min": (1, 2),
                   "scatter-max": (1, 2), "scatter_max": (1, 2)}


def _eval_selecting(jaxpr, consts, args, taken, checked):
    """Evaluates `jaxpr` with conds as selects; `taken` (a traced bool, or None for always)
    says whether the code runs at all: checks are masked with it (and, if `checked`, indices)."""
    from jax import lax

    env = {}

    def read(v):
        return v.val if isinstance(v, _core.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        params = dict(eqn.params)
        outs = None
        if name == "cond" and not any(_check_in_while(b.jaxpr) for b in params["branches"]):
            index, *operands = values
            branches = params["branches"]
            index = lax.clamp(lax.full_like(index, 0), index, lax.full_like(index, len(branches) - 1))
            results = []
            for k, branch in enumerate(branches):
                runs = index == k if taken is None else lax.bitwise_and(index == k, taken)
                results.append(_eval_selecting(branch.jaxpr, branch.consts, operands, runs, checked))
            outs = [lax.select_n(index, *cases) if len(cases) > 1 else cases[0] for cases in zip(*results)]
        elif name in _CALLS and taken is not None and checked:  # inlined, so what is inside is masked
            sub = params[_CALLS[name]]
            outs = _eval_selecting(sub.jaxpr, sub.consts, values, taken, checked)
        elif name == "check" and taken is not None:
            values = _masked_check(values, params["err_tree"], taken)
        elif checked and taken is not None and name in _INDEX_OPERANDS:
            first, last = _INDEX_OPERANDS[name]
            last = len(values) if last is None else last
            values = values[:first] + [_zero_unless(taken, v) for v in values[first:last]] + values[last:]
        elif checked and taken is not None and name == "scan":
            outs = _scan_when(eqn.primitive, taken, values, params, checked)
        if outs is None:
            for key in _SUBJAXPR_PARAMS.get(name, ()) if name != "cond" else ():
                if isinstance(params.get(key), _core.ClosedJaxpr) and has_cond(params[key].jaxpr):
                    params[key] = branches_to_selects(params[key], checked)
            outs = eqn.primitive.bind(*values, **eqn.primitive.get_bind_params(params))
            if not eqn.primitive.multiple_results:
                outs = [outs]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def _zero_unless(taken, index):
    """`index` where `taken`, else 0 (an index every non-empty axis has)."""
    import jax.numpy as jnp

    return jnp.where(taken, index, jnp.zeros_like(index))


def _scan_when(scan, taken, values, params, checked):
    """A `scan` inside a branch evaluated as a select: its body told whether the branch is taken."""
    import jax
    from jax import lax

    body = params["jaxpr"]
    avals = [v.aval for v in body.jaxpr.invars]

    def run(flag, *args):
        return _eval_selecting(body.jaxpr, body.consts, args, flag, checked)

    specs = [jax.ShapeDtypeStruct((), bool)]
    specs += [jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in avals]
    new_body = jax.make_jaxpr(run)(*specs)
    new_params = dict(params, jaxpr=new_body, num_consts=params["num_consts"] + 1)
    return scan.bind(lax.convert_element_type(taken, bool), *values, **new_params)


def _masked_check(values, err_tree, taken):
    """The operands of a `check` that fails only where `taken`: checkify's `Error` pytree
    (`jax._src.checkify.Error`, its `_pred` dict of failure flags, in 0.10.2)."""
    import dataclasses

    from jax import lax
    from jax import tree_util

    error = tree_util.tree_unflatten(err_tree, values)
    flags = {key: lax.bitwise_and(flag, taken) for key, flag in error._pred.items()}
    return tree_util.tree_leaves(dataclasses.replace(error, _pred=flags))


def _check_in_while(jaxpr, in_while: bool = False) -> bool:
    """Whether `jaxpr` has a `check` inside a while loop (where a branch cannot mask it)."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "check" and in_while:
            return True
        subs = [eqn.params.get(key) for key in _SUBJAXPR_PARAMS.get(eqn.primitive.name, ())]
        subs += list(eqn.params.get("branches", ()))
        inner = in_while or eqn.primitive.name == "while"
        if any(isinstance(sub, _core.ClosedJaxpr) and _check_in_while(sub.jaxpr, inner) for sub in subs):
            return True
    return False


def has_cond(jaxpr) -> bool:
    """Whether `jaxpr` has a `cond`, also inside loops and calls."""
    return has_primitive(jaxpr, "cond")


def has_primitive(jaxpr, name: str) -> bool:
    """Whether `jaxpr` has an equation of the primitive `name` (`cond`, `while`), also inside
    loops and calls (not inside a `cond`'s branches)."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == name:
            return True
        for key in _SUBJAXPR_PARAMS.get(eqn.primitive.name, ()):
            sub = eqn.params.get(key)
            if isinstance(sub, _core.ClosedJaxpr) and has_primitive(sub.jaxpr, name):
                return True
    return False


def value_bytes(jaxpr) -> int:
    """The bytes of all the values the equations of `jaxpr` make (not inside loops and calls:
    their outputs only), a bound on what one evaluation holds before XLA fuses anything.
    `jaxpr.eqns[k].outvars[m].aval` (shape, dtype) as in 0.10.2."""
    total = 0
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            aval = getattr(var, "aval", None)
            shape, dtype = getattr(aval, "shape", None), getattr(aval, "dtype", None)
            if shape is not None and dtype is not None:
                total += int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return total


def dead_code_removed(closed_jaxpr):
    """Returns `closed_jaxpr` without the equations no output needs (its inputs all kept).
    `jax._src.interpreters.partial_eval.dce_jaxpr(jaxpr, used_outputs, instantiate)` in 0.10.2."""
    from jax._src.interpreters import partial_eval as pe

    jaxpr, _ = pe.dce_jaxpr(closed_jaxpr.jaxpr, True, instantiate=True)
    return _core.ClosedJaxpr(jaxpr, closed_jaxpr.consts)


# Evaluating a parallel loop body for all its iterations at once.
#
# Every input of a prange body is an integer known for every iteration when the
# function is traced (the loop index and the indices the iterations own), so
# the index arithmetic of the body can be done then, with NumPy, for all
# iterations. A read `x[i]`, `x[i + 1, :]`, `x[i, j]` (j the index of an inner
# loop, the same in every iteration) of an array the loop does not change then
# has a start known per iteration along one axis: when those starts step evenly,
# the reads of all iterations together are one (strided) slice of `x`, not the
# gather `jax.vmap` would make, which XLA runs element by element. Inner `scan`
# loops are evaluated the same way, step by step, their carries batched only
# when they differ between iterations. Everything else is vmapped equation by
# equation, as `jax.vmap` would. Uses `jax.ensure_compile_time_eval`, the
# `gather`/`dynamic_slice`/`scan` parameters of 0.10.2, `Primitive.get_bind_params`.


class _Lanes:
    """An integer value known per iteration up to a shift that is the same in all iterations:
    `values[k] + offset` in iteration k (`offset` None for zero, else an array, maybe traced)."""

    def __init__(self, values, offset=None):
        self.values = values
        self.offset = offset

    @property
    def static(self) -> bool:
        return self.offset is None

    def array(self):
        """Returns the value in every iteration as a JAX array (from an iota when it steps evenly)."""
        import jax.numpy as jnp
        from jax import lax

        values = self.values
        n = values.shape[0]
        stepping = n > 1 and values.dtype != np.bool_
        step = values[1] - values[0] if stepping else None
        ramp = np.arange(n).reshape((n,) + (1,) * (values.ndim - 1))
        if stepping and np.array_equal(values, values[0] + ramp * step):
            iota = lax.broadcasted_iota(values.dtype, values.shape, 0)
            array = iota * jnp.asarray(step, values.dtype) + jnp.asarray(values[0], values.dtype)
        else:
            array = jnp.asarray(values)
        return array if self.offset is None else array + self.offset


class _Batched:
    """A value that differs between iterations: `array[k]` in iteration k."""

    def __init__(self, array):
        self.array = array


def _varies(value) -> bool:
    return isinstance(value, (_Lanes, _Batched))


def vmap_over_lanes(closed_jaxpr, lanes):
    """Returns the outputs of `closed_jaxpr` for every iteration at once (a leading axis of
    length n), input j being the integer `lanes[j][k]` in iteration k."""
    n = len(lanes[0])
    args = [_Lanes(np.asarray(v, dtype=var.aval.dtype)) for v, var in zip(lanes, closed_jaxpr.jaxpr.invars)]
    outs = _eval_lanes(closed_jaxpr.jaxpr, closed_jaxpr.consts, args, n)
    return [_batched_array(value, var.aval, n) for value, var in zip(outs, closed_jaxpr.jaxpr.outvars)]


def _batched_array(value, aval, n):
    import jax.numpy as jnp

    if isinstance(value, _Batched):
        return value.array
    if isinstance(value, _Lanes):
        return value.array().astype(aval.dtype)
    return jnp.broadcast_to(jnp.asarray(value, aval.dtype), (n,) + tuple(aval.shape))


def _as_array(value):
    if isinstance(value, _Lanes):
        return value.array()
    if isinstance(value, _Batched):
        return value.array
    return value


def _known(value) -> bool:
    """Whether `value` is known when tracing (a static lane value, a literal, a concrete constant)."""
    if isinstance(value, _Lanes):
        return value.static
    return not (isinstance(value, _Batched) or is_tracer(value))


def _is_index_type(aval) -> bool:
    return np.issubdtype(aval.dtype, np.integer) or aval.dtype == np.bool_


# Equations that move a shifted lane value without changing the shift's meaning.
_SHAPE_PRIMITIVES = frozenset({"broadcast_in_dim", "reshape", "squeeze", "expand_dims", "convert_element_type"})


def _eval_lanes(jaxpr, consts, args, n):
    import jax

    env = {}

    def read(v):
        return v.val if isinstance(v, _core.Literal) else env[v]

    env.update(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        values = [read(v) for v in eqn.invars]
        prim, params = eqn.primitive, eqn.params
        bind = functools.partial(_bind, prim, params)
        index_outputs = not eqn.effects and all(_is_index_type(v.aval) for v in eqn.outvars)
        outs = None
        if not any(_varies(v) for v in values):
            # Index arithmetic on literals stays a Python-side constant (a read's start index).
            eager = index_outputs and all(_known(v) for v in values)
            with jax.ensure_compile_time_eval() if eager else contextlib.nullcontext():
                outs = bind(*values)
        elif prim.name in ("pjit", "jit", "closed_call"):
            sub = params["call_jaxpr" if prim.name == "closed_call" else "jaxpr"]
            outs = _eval_lanes(sub.jaxpr, sub.consts, values, n)
        elif index_outputs and all(_known(v) for v in values):
            outs = [_Lanes(o) for o in _eager_lanes(bind, values)]
        elif index_outputs and prim.name not in ("gather", "dynamic_slice", "scan"):
            outs = _shifted(prim.name, bind, values)
        elif prim.name in ("gather", "dynamic_slice") and not _varies(values[0]):
            whole = _sliced_reads(prim.name, values, params, eqn.outvars[0].aval, n)
            outs = None if whole is None else [whole]
        elif prim.name == "scan":
            outs = _scan_lanes(eqn, values, n)
        if outs is None:
            found = jax.vmap(bind, in_axes=[0 if _varies(v) else None for v in values])(
                *[_as_array(v) for v in values])
            outs = [_Batched(o) for o in found]
        env.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars]


def _bind(prim, params, *args):
    """Binds `prim` as its equation did; returns a list of outputs."""
    outs = prim.bind(*args, **prim.get_bind_params(params))
    return outs if prim.multiple_results else [outs]


def _eager_lanes(bind, values):
    """Returns the outputs of `bind` for every iteration, as NumPy arrays, computed now."""
    import jax

    with jax.ensure_compile_time_eval():
        found = jax.vmap(bind, in_axes=[0 if isinstance(v, _Lanes) else None for v in values])(
            *[v.values if isinstance(v, _Lanes) else v for v in values])
    return [np.asarray(o) for o in found]


def _shifted(name, bind, values):
    """Index arithmetic on lane values shifted by traced amounts (`i` and an inner loop's `j`):
    returns shifted lane values where the shift stays lane-independent, else None."""
    if name in _SHAPE_PRIMITIVES and isinstance(values[0], _Lanes):
        lanes = values[0]
        (moved,) = _eager_lanes(bind, [_Lanes(lanes.values)] + list(values[1:]))
        offset = None if lanes.offset is None else bind(lanes.offset, *values[1:])[0]
        return [_Lanes(moved, offset)]
    if name in ("add", "sub", "concatenate"):
        if any(isinstance(v, _Batched) for v in values):
            return None
        return _combine_shifted(bind, [(v.values, v.offset) if isinstance(v, _Lanes) else (None, v) for v in values])
    return None


def _combine_shifted(bind, parts):
    """`add`/`sub`/`concatenate` of (static lane values or None, lane-independent shift or None) pairs."""
    import jax.numpy as jnp

    n = next(values.shape[0] for values, _ in parts if values is not None)
    dtype = next(values.dtype for values, _ in parts if values is not None)
    statics, shifts = [], []
    for values, shift in parts:
        shape = values.shape[1:] if values is not None else np.shape(shift)
        statics.append(values if values is not None else np.zeros((n,) + tuple(shape), dtype))
        shifts.append(shift if shift is not None else jnp.zeros(shape, dtype))
    (static,) = _eager_lanes(bind, [_Lanes(s) for s in statics])
    if all(shift is None for _, shift in parts):
        return [_Lanes(static)]
    (shift,) = bind(*[jnp.asarray(s).astype(dtype) for s in shifts])
    return [_Lanes(static, shift)]


def _sliced_reads(kind, values, params, out_aval, n):
    """Returns the reads of all iterations as one slice of the operand (a `_Batched`, or the
    plain value when every iteration reads the same window), or None if they are not one."""
    import jax.numpy as jnp
    from jax import lax

    operand = values[0]
    shape = tuple(operand.shape)
    static = np.zeros((n, len(shape)), dtype=np.int64)  # start of each iteration's window
    shift = [0] * len(shape)  # plus a lane-independent (maybe traced) amount
    sizes = tuple(params["slice_sizes"])
    if kind == "gather":
        numbers, indices = params["dimension_numbers"], values[1]
        if not isinstance(indices, _Lanes) or numbers.operand_batching_dims or indices.values.ndim != 2:
            return None
        if "CLIP" not in str(params["mode"]) and "PROMISE" not in str(params["mode"]):
            return None
        for component, axis in enumerate(numbers.start_index_map):
            static[:, axis] = indices.values[:, component]
            if indices.offset is not None:
                shift[axis] = indices.offset[component]
    else:
        for axis, start in enumerate(values[1:]):
            if isinstance(start, _Lanes):
                static[:, axis] = start.values
                shift[axis] = 0 if start.offset is None else start.offset
            elif isinstance(start, _Batched):
                return None
            else:
                shift[axis] = start
    moving = [axis for axis in range(len(shape)) if not (static[:, axis] == static[0, axis]).all()]
    if len(moving) > 1 or (moving and (sizes[moving[0]] != 1 or not _is_zero(shift[moving[0]]))):
        return None
    if not moving:  # every iteration reads the same window
        starts = [static[0, axis] + shift[axis] for axis in range(len(shape))]
        return jnp.reshape(_window(operand, starts, sizes), out_aval.shape)
    axis = moving[0]
    column = np.clip(static[:, axis], 0, shape[axis] - 1)  # XLA clamps windows into the array
    step = int(column[1] - column[0])
    if step == 0 or not np.array_equal(column, column[0] + step * np.arange(n)):
        return None
    starts = [static[0, d] + shift[d] for d in range(len(shape))]
    starts[axis] = int(min(column[0], column[-1]))
    extent = list(sizes)
    extent[axis] = (n - 1) * abs(step) + 1
    window = _window(operand, starts, extent)
    if abs(step) > 1:
        window = lax.slice_in_dim(window, 0, extent[axis], abs(step), axis=axis)
    if step < 0:
        window = lax.rev(window, (axis,))
    return _Batched(jnp.reshape(jnp.moveaxis(window, axis, 0), (n,) + tuple(out_aval.shape)))


def _window(operand, starts, sizes):
    """`operand[starts : starts + sizes]`, clamped into the array as XLA clamps a window."""
    from jax import lax

    if any(is_tracer(s) for s in starts):
        return lax.dynamic_slice(operand, starts, sizes)
    shape = np.asarray(operand.shape)
    first = np.clip(np.asarray([int(s) for s in starts]), 0, shape - np.asarray(sizes))
    if (first == 0).all() and tuple(sizes) == tuple(operand.shape):
        return operand
    return lax.slice(operand, tuple(int(v) for v in first), tuple(int(v) for v in first + np.asarray(sizes)))


def _is_zero(value) -> bool:
    return not is_tracer(value) and not np.any(np.asarray(value))


def _scan_lanes(eqn, values, n):
    """A `scan` over all iterations at once: its body evaluated like the loop body, its carries
    batched only when they differ between iterations (so an inner loop's index stays shared)."""
    import jax.numpy as jnp
    from jax import lax

    params = eqn.params
    n_consts, n_carry = params["num_consts"], params["num_carry"]
    body = params["jaxpr"]
    consts, init, xs = values[:n_consts], values[n_consts:n_consts + n_carry], values[n_consts + n_carry:]
    carry_varies = [_varies(v) for v in init]
    while True:
        out_varies = _varying_outputs(body.jaxpr, [_varies(v) for v in consts] + carry_varies + [_varies(v) for v in xs])
        settled = [a or b for a, b in zip(carry_varies, out_varies[:n_carry])]
        if settled == carry_varies:
            break
        carry_varies = settled
    ys_vary = out_varies[n_carry:]
    carry_avals = [v.aval for v in body.jaxpr.invars[n_consts:n_consts + n_carry]]
    start = [_batched_array(v, a, n) if vary else jnp.asarray(v, a.dtype)
             for v, vary, a in zip(init, carry_varies, carry_avals)]
    xs_varies = [_varies(v) for v in xs]
    sequences = [jnp.moveaxis(_as_array(v), 0, 1) if vary else v for v, vary in zip(xs, xs_varies)]
    out_avals = [v.aval for v in body.jaxpr.outvars]

    def step(carry, x):
        args = list(consts)
        args += [_Batched(c) if vary else c for c, vary in zip(carry, carry_varies)]
        args += [_Batched(v) if vary else v for v, vary in zip(x, xs_varies)]
        outs = _eval_lanes(body.jaxpr, body.consts, args, n)
        fixed = [_batched_array(o, a, n) if vary else jnp.asarray(o, a.dtype)
                 for o, vary, a in zip(outs, carry_varies + ys_vary, out_avals)]
        return fixed[:n_carry], fixed[n_carry:]

    final, ys = lax.scan(step, start, sequences, length=params["length"], reverse=params["reverse"],
                         unroll=params["unroll"])
    return ([_Batched(c) if vary else c for c, vary in zip(final, carry_varies)]
            + [_Batched(jnp.moveaxis(y, 0, 1)) if vary else y for y, vary in zip(ys, ys_vary)])


def _varying_outputs(jaxpr, in_varies):
    """Which outputs of `jaxpr` may differ between iterations, given which inputs do."""
    return _varying(jaxpr, in_varies)[0]


def runs_varying_while(jaxpr, in_varies) -> bool:
    """Whether `jaxpr` runs a `while` (also inside loops, calls and branches) whose test may
    differ between lanes, given which inputs do: vectorised, such a loop runs for every lane
    as long as for the longest one. (A `while` in a branch counts if the branch's operands may
    differ.)"""
    return _varying(jaxpr, in_varies)[1]


def _varying(jaxpr, in_varies):
    """`(outputs, varying_while)`: which outputs of `jaxpr` may differ between lanes (iterations,
    batch elements), given which inputs do; whether a `while` loop's test may (see
    `runs_varying_while`). Reads `eqn.params` of `pjit`/`jit`/`closed_call` (`jaxpr`,
    `call_jaxpr`), `scan` (`jaxpr`, `num_consts`, `num_carry`), `while` (`cond_jaxpr`,
    `body_jaxpr`, `cond_nconsts`, `body_nconsts`) and `cond` (`branches`), as in 0.10.2."""
    varies = {}
    varying_while = False

    def read(v):
        return False if isinstance(v, _core.Literal) else varies.get(v, False)

    varies.update(zip(jaxpr.invars, in_varies))
    for eqn in jaxpr.eqns:
        ins = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name in ("pjit", "jit", "closed_call"):
            sub = eqn.params["call_jaxpr" if name == "closed_call" else "jaxpr"]
            outs, inner = _varying(sub.jaxpr, ins)
            varying_while = varying_while or inner
        elif name == "scan":
            k, c = eqn.params["num_consts"], eqn.params["num_carry"]
            carry = ins[k:k + c]
            while True:
                outs, inner = _varying(eqn.params["jaxpr"].jaxpr, ins[:k] + carry + ins[k + c:])
                settled = [a or b for a, b in zip(carry, outs[:c])]
                if settled == carry:
                    break
                carry = settled
            varying_while = varying_while or inner
            outs = carry + outs[c:]
        elif name == "while":  # its carry may vary; whether its test does decides
            params = eqn.params
            nc, nb = params["cond_nconsts"], params["body_nconsts"]
            carry = ins[nc + nb:]
            while True:
                outs, inner = _varying(params["body_jaxpr"].jaxpr, ins[nc:nc + nb] + carry)
                settled = [a or b for a, b in zip(carry, outs)]
                if settled == carry:
                    break
                carry = settled
            (test,), in_test = _varying(params["cond_jaxpr"].jaxpr, ins[:nc] + carry)
            varying_while = varying_while or inner or in_test or test
            outs = [True] * len(carry) if test else carry  # (a varying test: a varying trip count)
        else:
            if any(ins) and name == "cond" and any(
                    has_primitive(branch.jaxpr, "while") for branch in eqn.params["branches"]):
                varying_while = True
            outs = [any(ins)] * len(eqn.outvars)
        varies.update(zip(eqn.outvars, outs))
    return [read(v) for v in jaxpr.outvars], varying_while


# Reading the jaxpr of one loop iteration (refscript/runtime/streaming.py).
#
# The linear-time lowering of loops reads the jaxpr of one iteration of a loop
# body: which Refs it reads and writes at which indices, and which equations
# compute those indices from the iteration number; then it evaluates that jaxpr
# itself, equation by equation, inside a `lax.scan`. This uses the `tree`
# parameter of the state primitives `get`/`swap`/`addupdate` (the treedef of
# their index transforms, whose leaves follow the Ref, and the value for
# swap/addupdate, in `invars`), the `NDIndexer`/`Slice` classes of
# `jax._src.state.indexing`, `core.Literal`, and re-binding an equation with its
# source information and context as `core.eval_jaxpr` does, so errors and
# checks still name the user's line. Tested on 0.10.2.

Literal = _core.Literal


def ref_access(eqn):
    """Returns `(kind, value, index)` for an equation that reads or writes a Ref (else None):
    kind "get", "swap" or "addupdate"; `value` the atom written or added (None for get);
    `index` one entry per axis of the Ref: an atom (an integer index), a Python
    `slice` with static bounds, or None (a slice with traced bounds). `index` is None
    for an access through more than one index transform (a view of a view)."""
    from jax._src.state import indexing as _indexing

    kind = eqn.primitive.name
    if kind not in ("get", "swap", "addupdate"):
        return None
    value = None if kind == "get" else eqn.invars[1]
    leaves = eqn.invars[1:] if kind == "get" else eqn.invars[2:]
    transforms = _tree_unflatten(eqn.params["tree"], leaves)
    shape = eqn.invars[0].aval.shape
    if len(transforms) == 0:
        return kind, value, tuple(slice(0, size, 1) for size in shape)
    if len(transforms) != 1 or not isinstance(transforms[0], _indexing.NDIndexer):
        return kind, value, None
    index = []
    for item in transforms[0].indices:
        if isinstance(item, _indexing.Slice):
            start, size = (_static_int(v) for v in (item.start, item.size))
            stride = item.stride
            if start is None or size is None:
                index.append(None)
            else:
                index.append(slice(start, start + (size - 1) * stride + 1, stride))
        else:
            index.append(item)
    return kind, value, tuple(index)


def _tree_unflatten(treedef, leaves):
    import jax

    return jax.tree_util.tree_unflatten(treedef, leaves)


def _static_int(value):
    if isinstance(value, Literal):
        value = value.val
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.ndarray) and value.shape == ():
        return int(value)
    return None


def bind_equation(eqn, values) -> list:
    """Returns the outputs of `eqn`'s primitive applied to `values`, bound with the equation's
    parameters, source line and context (as `core.eval_jaxpr` binds it)."""
    from jax._src import source_info_util as _source_info

    params = eqn.primitive.get_bind_params(eqn.params)
    name_stack = _source_info.current_name_stack() + eqn.source_info.name_stack
    with _source_info.user_context(eqn.source_info.traceback, name_stack=name_stack), eqn.ctx.manager:
        outs = eqn.primitive.bind(*values, **params)
    return list(outs) if eqn.primitive.multiple_results else [outs]


def called_jaxpr(eqn):
    """Returns the ClosedJaxpr a call equation (`pjit`/`jit`/`closed_call`) runs, else None."""
    name = eqn.primitive.name
    if name in ("pjit", "jit"):
        return eqn.params["jaxpr"]
    if name == "closed_call":
        return eqn.params["call_jaxpr"]
    return None
