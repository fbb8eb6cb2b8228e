"""`refscript.jit` and `refscript.make_jaxpr`: the user-facing entry points.

Calling a `refscript.jit` function:
1. splits the arguments into static ones (Python ints and bools by default, and
   any named in `static_argnums`/`static_argnames`) and traced ones;
2. under `jax.jit`, traces the converted function to a jaxpr with Refs,
   restarting when a box learns its type;
3. discharges the Refs into a pure jaxpr and evaluates that, so `grad`, `vmap`,
   `jacfwd` and the rest see only pure operations.
`jax.jit` caches step 2 per static values and argument shapes.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap

import jax
import numpy as np
from jax.experimental import checkify

from refscript import _jax_internal, errors, transpiler
from refscript.errors import (
    AliasedArgumentError,
    ArgumentError,
    CheckFailedError,
    Location,
    OutOfBoundsError,
    ReadOnlyArgumentError,
    UndefinedVariableError,
)
from refscript.runtime import tracing
from refscript.runtime.control_flow import UNROLL_WARNING
from refscript.runtime.undefined import Undefined

# A function whose trace keeps restarting is a refscript bug, not the user's.
_MAX_RESTARTS = 64


def trace_ref_program(fn, flat_args, checks: bool = False, forward_only: bool = False, vectorize: bool = False,
                      hints: dict | None = None):
    """Returns `(closed_jaxpr, out_tree, session)` for `fn` traced on flat arguments, with Refs.
    `hints`: the box types another trace of the same call learned (`tracing.Session.hints`)."""
    session = tracing.Session(checks=checks, forward_only=forward_only, vectorize=vectorize,
                              hints=dict(hints or {}))
    with tracing.session_scope(session):
        for _ in range(_MAX_RESTARTS):
            try:
                closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(*flat_args)
                return closed, jax.tree_util.tree_structure(out_shape), session
            except tracing.Restart:
                session.restart()
    raise RuntimeError(f"refscript: tracing {fn} did not settle on variable types (please report)")


class JitFunction:
    """A compiled imperative function; see `jit`.

    Attributes useful when inspecting it: `converted_source` (the Python refscript
    generated), `trace_count` (how many times it was traced), `options` (the keyword
    arguments of `jit` it was compiled with).
    """

    def __init__(
        self, fn, static_argnums=(), static_argnames=(), static_scalars=True, checks=False, return_updates=False,
        vectorize=False, disable=(),
    ):
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._vectorize = bool(vectorize)
        self._disable = _strategies_disabled(disable)
        self._conversion = transpiler.convert(fn, vectorize=self._vectorize)
        self._signature = inspect.signature(fn)
        parameters = self._signature.parameters.values()
        simple = all(p.kind == p.POSITIONAL_OR_KEYWORD for p in parameters)
        # Parameter names, when a plain positional call needs no binding.
        self._positional_names = tuple(p.name for p in parameters) if simple else None
        self._static_argnums = frozenset(_as_tuple(static_argnums))
        self._static_argnames = frozenset(_as_tuple(static_argnames))
        self._static_scalars = static_scalars
        self.unrolled_loops: list = []  # (location, why) of loops unrolled at the last trace
        self.masked_slices: list = []  # locations of slices with traced bounds (masked windows)
        self.streamed_loops: list = []  # StreamedLoop(location, arrays, ...) of loops streamed (linear-time grad)
        self.parallel_loops: list = []  # (location, what) of prange loops, and range loops with vectorize=True
        self.run_time_loops: list = []  # (location, kind) of loops with a run-time trip count
        self.trace_count = 0
        # Lowerings the last trace made: 2 when plain calls run a forward-only lowering
        # (the function's Python code then runs twice while tracing) of a function with
        # float or complex arguments (one of integers has no derivatives), else 1.
        self.lowerings = 0
        self.forward_only_choices: list = []  # (location, what) the forward-only lowering changed
        self.unchecked_assertions: list = []  # locations of traced asserts not checked (checks=False)
        self._checks = checks
        self._return_updates = return_updates
        self._warned: set = set()  # what this function has been warned of (each warning is given once)
        self._pending_warnings: list = []  # warnings a trace found, given when the call returns
        self._jitted = jax.jit(functools.partial(self._run_pure, checks=False), static_argnums=(0,))
        self._jitted_checked = jax.jit(self._run_checked, static_argnums=(0,))

    @property
    def converted_source(self) -> str:
        return self._conversion.source

    @property
    def options(self) -> dict:
        """The keyword arguments of `refscript.jit` this function was compiled with:
        `refscript.jit(f.__wrapped__, **{**f.options, "vectorize": True})` compiles it again
        with one option changed."""
        return dict(static_argnums=tuple(sorted(self._static_argnums)),
                    static_argnames=tuple(sorted(self._static_argnames)), static_scalars=self._static_scalars,
                    checks=self._checks, return_updates=self._return_updates, vectorize=self._vectorize,
                    disable=tuple(sorted(self._disable)))

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __call__(self, *args, **kwargs):
        try:
            static, dynamic = self._split(args, kwargs)
            if not jax.config.jax_enable_x64:
                self._warn_narrowed(static[1], dynamic)
            if self._conversion.argument_writes:
                _check_not_aliased(static[1], dynamic, self._conversion.argument_writes)
            # Under an outer transformation a failed check could not be raised here. (Whether
            # one is tracing is asked only where it matters: a call on small arrays takes a few
            # microseconds, and flattening the arguments to ask is a tenth of them.)
            checked = self._checks and not _traced(dynamic)
            try:
                if checked:
                    error, (out, updates) = self._jitted_checked(static, dynamic)
                else:
                    out, updates = self._jitted(static, dynamic)
            except TypeError:
                _check_traceable(static[1], jax.tree_util.tree_leaves(dynamic), dynamic, self.__name__)
                raise
            if checked:
                try:
                    error.throw()
                except checkify.JaxRuntimeError as failure:
                    raise _check_failed(failure) from None
            if self._return_updates:
                self._give_pending_warnings()
                return out, updates
            if updates:
                if _traced(dynamic):
                    # (A number updated by `u op= v` was rebound, as in Python: nothing is lost.)
                    arrays = [name for name, value in updates.items() if np.ndim(value) > 0]
                    self._warn_lost_writes(arrays, "the call is traced by an outer JAX transformation "
                                                   "(jax.jit, grad, vmap), which cannot write into the caller's arrays")
                else:
                    arguments = dict(zip(static[1], dynamic))
                    _write_back(arguments, updates, self._conversion.argument_writes)
                    # (A scalar argument updated by `x += v` was rebound, as in Python: nothing is lost.)
                    immutable = [name for name in updates
                                 if not isinstance(arguments.get(name), np.ndarray) and np.ndim(arguments.get(name)) > 0]
                    self._warn_lost_writes(immutable, "it is not a NumPy array (a JAX array is immutable)")
            self._give_pending_warnings()
            return out
        except Exception as error:
            _present(error)
            raise  # a bare raise adds no frame of refscript's to the traceback

    # Warnings: each once per function and place, after the call (a warning turned into an
    # error must not interrupt a trace or a write-back).

    def _warn_once(self, key, category, message, location, hint) -> None:
        if key not in self._warned:
            self._warned.add(key)
            errors.warn_at(category, message, location, hint)

    def _give_pending_warnings(self) -> None:
        pending, self._pending_warnings = self._pending_warnings, []
        for warning in pending:
            self._warn_once(*warning)

    def _warn_narrowed(self, names, values) -> None:
        """Warns that 64-bit NumPy arguments are computed in 32 bits (JAX's 64-bit mode is off)."""
        for name, value in zip(names, values):
            if isinstance(value, np.ndarray) and value.dtype in _NARROWED:
                narrow = _NARROWED[value.dtype]
                self._warn_once(
                    ("narrowed", name), errors.PrecisionWarning,
                    f"argument {name!r} of {self.__name__} is a {value.dtype} NumPy array, but JAX's 64-bit mode "
                    f"is off: it is computed as {narrow}, so results differ from NumPy's (what the function writes "
                    f"into it is rounded to {narrow}; elements it leaves alone keep their values)",
                    errors.caller_location(),
                    "turn 64-bit mode on before any JAX call: jax.config.update('jax_enable_x64', True) "
                    f"(or JAX_ENABLE_X64=1 in the environment), or pass {narrow} arrays",
                )

    def _warn_lost_writes(self, names, why: str) -> None:
        """Warns that the function's writes into the arguments `names` are lost."""
        for name in names:
            location = next((where for parameter, where in self._conversion.argument_writes if parameter == name),
                            None)
            self._warn_once(
                ("lost write", name), errors.LostWriteWarning,
                f"{self.__name__} writes into its argument {name!r}, and the caller's array does not change: {why}",
                location,
                f"compile with refscript.jit(..., return_updates=True) to get (result, updates), where "
                f"updates[{name!r}] is the argument's new contents",
            )

    # Arguments.

    def _split(self, args, kwargs):
        names = self._positional_names
        if not kwargs and names is not None and len(args) == len(names):
            arguments = zip(names, args)  # the common case, without binding
        else:
            try:
                bound = self._signature.bind(*args, **kwargs)
            except TypeError as error:
                raise ArgumentError(
                    f"{self.__name__}() called with the wrong arguments: {error}",
                    errors.caller_location(),
                    f"its signature is {self.__name__}{self._signature}",
                ) from None
            bound.apply_defaults()
            arguments = bound.arguments.items()
        static, dynamic_names, dynamic = [], [], []
        for index, (name, value) in enumerate(arguments):
            if self._is_static(index, name, value):
                try:
                    hash(value)
                except TypeError:
                    raise ArgumentError(
                        f"static argument {name!r} of {self.__name__} must be hashable, "
                        f"got {type(value).__name__}",
                        errors.caller_location(),
                        "the function is compiled once per value of a static argument: pass an int, "
                        "bool, str or tuple, or make the argument traced (leave it out of static_argnames)",
                    ) from None
                static.append((name, value))
            else:
                dynamic_names.append(name)
                dynamic.append(value)
        return (tuple(static), tuple(dynamic_names)), tuple(dynamic)

    def _is_static(self, index: int, name: str, value) -> bool:
        if index in self._static_argnums or name in self._static_argnames:
            return True
        return self._static_scalars and type(value) in (int, bool)

    def _call_converted(self, static, dynamic):
        static_values, dynamic_names = static
        arguments = dict(static_values)
        arguments.update(zip(dynamic_names, dynamic))
        bound = inspect.BoundArguments(self._signature, {
            name: arguments[name] for name in self._signature.parameters if name in arguments
        })
        return self._conversion.function(*bound.args, **bound.kwargs)

    # Tracing.

    def ref_jaxpr(self, static, dynamic, checks: bool = False, forward_only: bool = False, hints=None):
        """Returns `(closed_jaxpr, out_tree, session)` of the Ref program for these arguments
        (`forward_only`: the primal lowering, see `tracing.Session.forward_only`; `hints`: box
        types a trace of the other lowering learned)."""
        flat, tree = jax.tree_util.tree_flatten(dynamic)

        def ref_program(*flat_args):
            out = self._call_converted(static, jax.tree_util.tree_unflatten(tree, flat_args))
            session = tracing.current()
            # The entry function's own argument boxes (a called function's `u op= v` makes one too).
            entry = self._conversion.function.__code__
            updates = {name: b.value for name, b in session.argument_boxes.items() if b.is_ref and b.site[0] is entry}
            for leaf in jax.tree_util.tree_leaves(out):
                if isinstance(leaf, Undefined):
                    where = f" (the `if` at {leaf.where} binds it on one branch only)" if leaf.where else ""
                    raise UndefinedVariableError(
                        f"{self.__name__} returns variable {leaf.name!r}, which is not bound on "
                        f"every path that reaches the return{where}",
                        _return_location(self._fn, leaf.name),
                        f"assign {leaf.name!r} before the loop or branch, or on every branch of the `if`",
                    )
            return out, updates

        # JAX's messages name the traced function and its arguments: the user's, not refscript's.
        ref_program.__wrapped__ = self._fn
        names = static[1]
        if len(names) == len(flat) and all(name.isidentifier() for name in names):
            ref_program.__signature__ = inspect.Signature(
                [inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY) for name in names])
        return trace_ref_program(ref_program, flat, checks, forward_only, self._vectorize, hints)

    def _run_checked(self, static, dynamic):
        run = functools.partial(self._run_pure, static, checks=True)
        # Index checks make every out-of-bounds index an error, as in NumPy, instead of clamping.
        return checkify.checkify(run, errors=checkify.user_checks | checkify.index_checks)(dynamic)

    def _run_pure(self, static, dynamic, checks):
        self.trace_count += 1
        # Unchecked calls trace the forward-only lowering first: the function's value,
        # the fastest way. Where it differs from the differentiable lowering (loops with
        # triangular bounds run their real trip count, loops are not streamed), it
        # becomes the primal of a custom_jvp whose rule traces the differentiable one.
        forward_only = not checks and "forward_only" not in self._disable
        closed, out_tree, session = self.ref_jaxpr(static, dynamic, checks, forward_only=forward_only)
        self._record(session)
        self.forward_only_choices = list(session.forward_only_choices)
        pure = _jax_internal.discharge_state(closed)
        flat, tree = jax.tree_util.tree_flatten(dynamic)
        # One lowering where no derivative can be taken: the function reads only integers and
        # booleans (its traced arguments; no value an outer transformation traces is closed
        # over), so every derivative through it is zero (JAX's own float0 tangents).
        two = bool(session.forward_only_choices) and _has_derivatives(flat, closed.consts)
        self.lowerings = 2 if two else 1
        if not two:
            return jax.tree_util.tree_unflatten(out_tree, _jax_internal.eval_jaxpr(pure, flat))

        # Traced now, not when a derivative is first taken: both lowerings must see the
        # same values of the globals and closure cells the function reads (as jax.jit,
        # a trace keeps the values it was traced with).
        # With the box types the first trace learned: a box that must be wider than its first
        # value is made so at once, without tracing the function once more to learn it.
        closed_differentiable, _, session = self.ref_jaxpr(static, dynamic, checks, hints=session.hints)
        self._record(session)

        @jax.custom_jvp
        def run(*args):
            return _jax_internal.eval_jaxpr(pure, args)

        @run.defjvp
        def differentiate(primals, tangents):
            differentiable = _jax_internal.discharge_state(closed_differentiable)
            return jax.jvp(lambda *args: _jax_internal.eval_jaxpr(differentiable, args), primals, tangents)

        return jax.tree_util.tree_unflatten(out_tree, run(*flat))

    def _record(self, session) -> None:
        """Keeps what the last trace decided, for `show` and the inspection attributes, and the
        warnings it calls for."""
        self.unchecked_assertions = list(session.unchecked_assertions)
        self.unrolled_loops = list(session.unrolled_loops)
        for location, why in session.unrolled_loops:
            iterations, forced_by = session.unrolled_iterations.get(location, (0, None))
            if iterations > UNROLL_WARNING:
                self._pending_warnings.append((
                    ("unrolled", location), errors.UnrolledLoopWarning,
                    f"loop unrolled into {iterations} copies of its body while tracing ({_unrolled(why, forced_by)}): "
                    "the first call traces and compiles every copy, taking time that grows with the trip count",
                    location,
                    "compute that value from traced values (an array instead of a Python list, shapes that "
                    "do not depend on the index), or loop over refscript.static_range(...) to unroll on purpose",
                ))
        self.masked_slices = list(session.masked_slices)
        self.streamed_loops = list(session.streamed_loops)
        self.parallel_loops = list(session.parallel_loops)
        self.run_time_loops = list(session.dynamic_loops)


# 64-bit dtypes, and what JAX computes them as while its 64-bit mode is off.
_NARROWED = {np.dtype(wide): np.dtype(narrow) for wide, narrow in (
    (np.float64, np.float32), (np.int64, np.int32), (np.uint64, np.uint32), (np.complex128, np.complex64))}


def _unrolled(why: str, forced_by) -> str:
    """Why a loop was unrolled, with the code in its body that needed a Python value."""
    code = forced_by.source_text() if forced_by is not None else None
    return f"{why}: `{code}` at line {forced_by.lineno}" if code else why


# Lowering strategies a function can be compiled without (`refscript.jit(fn, disable=...)`), and
# what each does. Without one, plain calls compute what they compute with it, more slowly.
STRATEGIES = {
    "forward_only": "plain calls run a lowering made for speed where it differs from the differentiable "
                    "one (JitFunction._run_pure); disabled, they run the differentiable lowering",
}


def _strategies_disabled(disable) -> frozenset:
    names = frozenset(_as_tuple(disable))
    unknown = sorted(names - set(STRATEGIES))
    if unknown:
        raise ArgumentError(
            f"refscript.jit(disable=...) names no strategy {unknown[0]!r}",
            errors.caller_location(),
            f"the strategies that can be disabled: {', '.join(sorted(STRATEGIES))}",
        )
    return names


def _has_derivatives(flat_args, consts) -> bool:
    """Whether a derivative of a function of `flat_args` (the traced arguments) whose jaxpr closes
    over `consts` can be other than zero: an argument is of a float or complex type, or a value
    closed over is traced by an outer transformation."""
    for leaf in flat_args:
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:  # a Python scalar
            if not isinstance(leaf, (bool, int)):
                return True
        elif jax.numpy.issubdtype(dtype, jax.numpy.inexact):  # (bfloat16 too, unlike NumPy's)
            return True
    return any(_jax_internal.is_tracer(c) for c in consts)


def _traced(dynamic) -> bool:
    """Whether some traced argument is a tracer: the call is being traced by an outer
    transformation (jax.jit, vmap, grad of the caller)."""
    return any(_jax_internal.is_tracer(leaf) for leaf in jax.tree_util.tree_leaves(dynamic))


def _write_back(arguments: dict, updates: dict, writes: tuple = ()) -> None:
    """Gives the caller's NumPy arrays the contents the function wrote into them, as NumPy would.

    `writes` lists `(parameter, location)` of the function's writes into its parameters."""
    targets = {name: arguments.get(name) for name in updates}
    targets = {name: a for name, a in targets.items() if isinstance(a, np.ndarray)}
    for name, array in targets.items():
        if not array.flags.writeable:
            # NumPy would have raised at the first write; nothing has been written.
            where = next((location for parameter, location in writes if parameter == name), None)
            raise ReadOnlyArgumentError(
                f"assignment destination is read-only: argument {name!r} is a read-only NumPy array, "
                "and the function writes into it",
                where,
            )
    for name, array in targets.items():
        new = np.asarray(updates[name])
        if _NARROWED.get(array.dtype) == new.dtype:
            # Computed in 32 bits (JAX's 64-bit mode is off): an element whose 32-bit value the
            # function did not change keeps its own 64-bit value instead of coming back rounded.
            with np.errstate(over="ignore", invalid="ignore"):
                changed = new != array.astype(new.dtype)
            np.copyto(array, new, casting="unsafe", where=changed)
        else:
            np.copyto(array, new, casting="unsafe")


def _check_not_aliased(names, values, writes: tuple) -> None:
    """Refuses a NumPy array the function writes into that shares memory with another argument."""
    arrays = [(name, value) for name, value in zip(names, values) if isinstance(value, np.ndarray)]
    if len(arrays) < 2:
        return
    written = {parameter: location for parameter, location in reversed(writes)}
    for name, value in arrays:
        if name not in written:
            continue
        for other, other_value in arrays:
            if other != name and np.may_share_memory(value, other_value):
                raise AliasedArgumentError(
                    f"arguments {name!r} and {other!r} share memory, and the function writes into "
                    f"{name!r}: NumPy would see those writes through {other!r}, the compiled "
                    "function cannot",
                    written[name],
                )


def _return_location(fn, name: str) -> Location:
    """Returns where `fn` returns variable `name` (else its `def` line), to point an error there."""
    code = fn.__code__
    try:
        lines, first = inspect.getsourcelines(fn)
        source = "".join(lines)
        dedented = textwrap.dedent(source)
        tree = ast.parse(dedented)
    except (OSError, TypeError, SyntaxError):
        return Location(code.co_filename, code.co_firstlineno)
    indent = len(source) - len(source.lstrip()) - (len(dedented) - len(dedented.lstrip()))
    found = tree.body[0]
    stack = list(ast.iter_child_nodes(found))
    while stack:
        node = stack.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue  # another scope
        if isinstance(node, ast.Return) and any(
                isinstance(sub, ast.Name) and sub.id == name for sub in ast.walk(node.value or ast.Pass())):
            found = node
            break
        stack.extend(ast.iter_child_nodes(node))
    end = found.end_col_offset + indent if found.end_lineno == found.lineno else None
    return Location(code.co_filename, first - 1 + found.lineno, found.col_offset + indent, end)


def _present(error: BaseException) -> None:
    """Readies an error leaving refscript for the user: refscript's frames removed, and a library's
    error (JAX, NumPy) noted with the line of the user's code that called the library."""
    errors.note_user_line(error)
    errors.hide_internal_frames(error)


def _check_traceable(names, leaves, dynamic, function_name: str) -> None:
    """Raises `ArgumentError` if a traced argument is not something JAX can trace (a str, an object)."""
    for name, value in zip(names, dynamic):
        for leaf in jax.tree_util.tree_leaves(value):
            if not (_jax_internal.is_tracer(leaf) or isinstance(leaf, (jax.Array, np.ndarray, np.generic))
                    or type(leaf) in (bool, int, float, complex)):
                raise ArgumentError(
                    f"argument {name!r} of {function_name} is a {type(leaf).__name__}, which compiled code "
                    "cannot take as a traced value",
                    errors.caller_location(),
                    "pass arrays and numbers, or name the argument in static_argnames if the function "
                    "should be compiled for each of its values",
                ) from None


_OUT_OF_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")
_LOCATION_PREFIX = re.compile(r"^.+?:\d+:\d+: ", re.S)


def _check_failed(failure) -> CheckFailedError:
    """Returns the refscript error for a failed run-time check, at the user's line that traced it."""
    kind, frames = _jax_internal.check_failure(failure)
    location = errors.location_in_code_frames(frames)
    text = str(failure)
    match = _OUT_OF_BOUNDS.search(text)
    if kind == "index" and match is not None:
        index, axis, size = (int(group) for group in match.groups())
        if index < 0:
            index -= size  # JAX adds the size to a negative index before checking it, as NumPy does
        return OutOfBoundsError(f"index {index} is out of bounds for axis {axis} with size {size}", location)
    text = text.removesuffix(" (`check` failed)")
    return CheckFailedError(_LOCATION_PREFIX.sub("", text) if location is not None else text, location)


def _as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, (int, str)):
        return (value,)
    return tuple(value)


def jit(fn=None, *, static_argnums=(), static_argnames=(), static_scalars=True, checks=False,
        return_updates=False, vectorize=False, disable=()):
    """Returns `fn` compiled: its loops, branches and in-place updates traced to JAX.

    **Arguments:**
    - `fn`: an ordinary Python function (decorator use: `@refscript.jit`).
    - `static_argnums`, `static_argnames`: arguments to specialise on, as in `jax.jit`.
    - `static_scalars`: whether Python `int` and `bool` arguments are static by
      default (so `range(n)` and `np.zeros(n)` work). Set `False` to trace them.
    - `checks`: check `assert`s on traced values when the code runs, raising
      `refscript.errors.CheckFailedError` with the message and the user's line.
      Off by default (like `python -O`); applies when the function is called
      directly, not under an outer `jax.jit`/`grad`/`vmap`.
    - `return_updates`: return `(result, updates)`, where `updates` maps each
      parameter the function writes into to its new contents, instead of
      writing them into the caller's NumPy arrays (JAX arrays are immutable:
      this is how to get their updated values).
    - `vectorize`: also run as wide array operations the `for` loops over
      `range(...)` whose iterations are independent, as if written with
      `refscript.prange`: those that write their own elements (`c[i] = a[i] * b[i]`,
      a stencil into another array) and accumulate nothing. A loop the analysis
      cannot prove independent, or whose body branches on traced values or holds
      a `while` loop (or calls one whose length depends on the iteration), stays
      sequential; `refscript.show` lists each decision.
      The functions it calls are converted the same way.
    - `disable`: names of lowering strategies to compile this function without
      (`refscript.api.STRATEGIES`): `"forward_only"` makes plain calls run the
      differentiable lowering, the program `jax.grad` and `jax.jvp` run, instead of
      the faster one made for calls that take no derivative. For tests and for
      measuring what a strategy saves; the values are the same.

    A NumPy array argument that the function writes into (and never rebinds)
    holds, after the call, what NumPy would have left in it; if the call fails
    it is untouched.

    **Returns:** a callable that behaves like `fn` on NumPy and JAX arrays and
    composes with `jax.jit`, `jax.grad`, `jax.vmap` and the rest of JAX.

    ```python
    @refscript.jit
    def cumsum(x):
        out = x.copy()
        for i in range(1, x.shape[0]):
            out[i] += out[i - 1]
        return out
    ```
    """
    if fn is None:
        return functools.partial(
            jit, static_argnums=static_argnums, static_argnames=static_argnames,
            static_scalars=static_scalars, checks=checks, return_updates=return_updates,
            vectorize=vectorize, disable=disable,
        )
    if isinstance(fn, JitFunction):
        return fn
    try:
        return JitFunction(fn, static_argnums, static_argnames, static_scalars, checks, return_updates, vectorize,
                           disable)
    except Exception as error:
        # The message points at the user's code; refscript's own frames are noise.
        _present(error)
        raise


def make_jaxpr(fn, *, discharged: bool = False, **jit_options):
    """Returns a function that gives the jaxpr refscript makes of `fn` for example arguments.

    By default the jaxpr is the Ref program (`Ref{f32[8]}` types, `get`/`swap`/
    `addupdate` equations, loops over Ref-writing bodies); `discharged=True` gives
    the pure jaxpr that transformations and XLA see.

    >>> refscript.make_jaxpr(cumsum)(np.arange(4.0))   # doctest: +SKIP
    """
    jitted = fn if isinstance(fn, JitFunction) else jit(fn, **jit_options)

    def make(*args, **kwargs):
        try:
            static, dynamic = jitted._split(args, kwargs)
            closed, _, _ = jitted.ref_jaxpr(static, dynamic)
            return _jax_internal.discharge_state(closed) if discharged else closed
        except Exception as error:
            _present(error)
            raise

    return make


def lowering_decisions(fn, *args, **kwargs) -> list:
    """Returns `(location, decision)` for the choices refscript made tracing `fn` on these
    arguments that change how code runs: loops unrolled, loops with a run-time trip count,
    slices compiled as masked windows, loops streamed, prange loops vectorised, and where a call that takes no
    derivative runs a faster lowering than the one shown (see `JitFunction._run_pure`)."""
    jitted = fn if isinstance(fn, JitFunction) else jit(fn)
    static, dynamic = jitted._split(args, kwargs)
    _, _, session = jitted.ref_jaxpr(static, dynamic)
    decisions = []
    for location, why in session.unrolled_loops:
        iterations, forced_by = session.unrolled_iterations.get(location, (None, None))
        count = f", {iterations} iterations" if iterations else ""
        decisions.append((location, f"loop unrolled: {_unrolled(why, forced_by)}{count}"))
    decisions += [(location, f"{kind} loop with a run-time trip count (while_loop; forward-mode "
                             "differentiation only)") for location, kind in session.dynamic_loops]
    decisions += [(location, "slice with traced bounds: masked window") for location in session.masked_slices]
    decisions += [(loop.location, "loop streamed: " + loop.describe()) for loop in session.streamed_loops]
    decisions += list(session.parallel_loops)
    _, _, forward = jitted.ref_jaxpr(static, dynamic, forward_only=True, hints=session.hints)
    decisions += [(location, f"without derivatives: {what}") for location, what in forward.forward_only_choices]
    return sorted(decisions, key=lambda item: (item[0].lineno, item[0].col_offset))


def converted_source(fn) -> str:
    """Returns the Python source refscript generates for `fn`."""
    if isinstance(fn, JitFunction):
        return fn.converted_source
    try:
        return transpiler.convert(fn).source
    except Exception as error:
        _present(error)
        raise
