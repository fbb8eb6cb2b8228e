"""`refscript.show`: the stages refscript compiles a function through, as text.

A function goes through four stages, each printable:

- `converted`: the Python source refscript generates (`refscript.converted_source`),
  each line numbered with the line of the user's file it comes from;
- `jaxpr`: the jaxpr with Refs that tracing the converted source gives;
- `discharged`: the pure jaxpr, Refs turned into values, that JAX transforms;
- `hlo`: what XLA receives (`jax.jit(refscript.jit(fn)).lower(*args).as_text()`).

Tracing needs example arguments. They are values (arrays, Python scalars) or
abstract arrays, `jax.ShapeDtypeStruct`; on the command line they are written as
*specs* (`f32[128,128]`, `3`), read by `parse_arg`. A function can carry its own
examples, set with `@refscript.examples(...)`.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import warnings
from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from refscript import api, errors

STAGES = ("converted", "jaxpr", "discharged", "hlo")
DEFAULT_STAGES = ("converted", "jaxpr")

# The dtype names of a spec are those jaxprs print.
DTYPES = {
    "bool": np.dtype(np.bool_),
    "i8": np.dtype(np.int8),
    "i16": np.dtype(np.int16),
    "i32": np.dtype(np.int32),
    "i64": np.dtype(np.int64),
    "u8": np.dtype(np.uint8),
    "u16": np.dtype(np.uint16),
    "u32": np.dtype(np.uint32),
    "u64": np.dtype(np.uint64),
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(jnp.bfloat16),
    "f32": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "c64": np.dtype(np.complex64),
    "c128": np.dtype(np.complex128),
}

# The same dtypes under NumPy's names (`float32[16]`, `int64[]`, `bfloat16[8]`).
NUMPY_DTYPES = {dtype.name: dtype for dtype in DTYPES.values()}

# JAX narrows these to 32 bits unless `jax_enable_x64` is on.
_X64_DTYPES = frozenset(DTYPES[name] for name in ("i64", "u64", "f64", "c128"))

_ARRAY_SPEC = re.compile(r"(?P<dtype>[a-z]+[0-9]*)\[(?P<dims>[^\]]*)\]")
_DIMENSION = re.compile(r"\s*[0-9]+\s*")
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][+-]?[0-9]+)?")
_KEYWORDS = {"True": True, "False": False, "None": None}

_SPEC_HELP = "an array type like f32[128,128] or i32[], or a literal: an integer, a float, True, False or None"


class UsageError(ValueError):
    """Example arguments or stages that `show` cannot use, said in one line."""


def parse_arg(spec: str):
    """Returns the example argument a command-line spec describes.

    `f32[128,128]` or `float32[128,128]` is a `jax.ShapeDtypeStruct` (dtypes: the keys of
    `DTYPES`, as jaxprs print them, or NumPy's names);
    `3`, `-2`, `2.5`, `True`, `False`, `None` are those Python values. Nothing
    else is accepted, and nothing is evaluated.

    >>> parse_arg("f32[2,3]")
    ShapeDtypeStruct(shape=(2, 3), dtype=float32)
    """
    text = spec.strip()
    if text in _KEYWORDS:
        return _KEYWORDS[text]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    array = _ARRAY_SPEC.fullmatch(text)
    if array is None:
        raise UsageError(f"{spec!r} is not {_SPEC_HELP}")
    dtype = DTYPES.get(array["dtype"]) or NUMPY_DTYPES.get(array["dtype"])
    if dtype is None:
        raise UsageError(f"{spec!r}: unknown dtype {array['dtype']!r} (known: {', '.join(DTYPES)}, "
                         f"or NumPy's names: {', '.join(NUMPY_DTYPES)})")
    dims = array["dims"]
    if dims.strip() == "":
        return jax.ShapeDtypeStruct((), dtype)
    if not all(_DIMENSION.fullmatch(dim) for dim in dims.split(",")):
        raise UsageError(f"{spec!r}: a shape is non-negative integers separated by commas, as in f32[128,128]")
    return jax.ShapeDtypeStruct(tuple(int(dim) for dim in dims.split(",")), dtype)


def needs_x64(args) -> bool:
    """Returns whether an abstract array among `args` asks for a 64-bit dtype (`f64[16]`)."""
    return any(
        isinstance(leaf, jax.ShapeDtypeStruct) and np.dtype(leaf.dtype) in _X64_DTYPES
        for leaf in jax.tree_util.tree_leaves(args)
    )


def examples(*args):
    """Returns a decorator that stores example arguments on a function, for `show`.

    `refscript.show(fn)` and `python -m refscript show file.py:fn` use them when
    given no arguments. They are kept as `fn.example_args`.

    ```python
    @refscript.examples(jax.ShapeDtypeStruct((128,), jnp.float32), 3)
    def prefix_sum(x, n):
        ...
    ```
    """

    def decorate(fn):
        fn.example_args = args
        return fn

    return decorate


def resolve_stages(stage: str | Sequence[str] | None) -> tuple[str, ...]:
    """Returns the stages `stage` names, in compilation order: `"all"` is every stage, `None` the default."""
    if stage is None:
        return DEFAULT_STAGES
    names = {stage} if isinstance(stage, str) else set(stage)
    unknown = names - set(STAGES) - {"all"}
    if unknown:
        raise UsageError(f"unknown stage {min(unknown)!r} (choose from {', '.join(STAGES)}, all)")
    if "all" in names:
        return STAGES
    return tuple(name for name in STAGES if name in names)


def example_arguments(fn, args: tuple) -> tuple:
    """Returns `args`, or `fn.example_args` when `args` is empty, checked against `fn`'s parameters."""
    if not args:
        args = getattr(fn, "example_args", ())
        if not isinstance(args, (tuple, list)):
            raise UsageError(f"{_name(fn)}.example_args must be a tuple, got {type(args).__name__}")
        args = tuple(args)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return args
    parameters = list(signature.parameters.values())
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(args) > len(positional) and not any(p.kind is p.VAR_POSITIONAL for p in parameters):
        raise UsageError(
            f"{_name(fn)} takes {len(positional)} positional parameter(s), got {len(args)} example argument(s)"
        )
    missing = [p.name for p in positional[len(args):] if p.default is p.empty]
    missing += [p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if missing:
        raise UsageError(
            f"no example argument for {', '.join(missing)} of {_name(fn)}: give one per parameter "
            "(--arg SPEC on the command line) or set them with @refscript.examples(...)"
        )
    return args


def render_stages(fn, args: tuple, stages: Sequence[str]) -> Iterator[tuple[str, str]]:
    """Yields `(stage, text)` for each of `stages`, computing each only when it is asked for.

    `args` are used as given (see `example_arguments`); the `converted` stage needs none.
    """
    jitted = api.jit(fn)
    x64 = needs_x64(args)
    for stage in stages:
        if stage == "converted":
            conversion = jitted._conversion
            yield stage, numbered_source(conversion.source, conversion.source_origins)
            continue
        with jax.enable_x64(True) if x64 else contextlib.nullcontext():
            if stage == "hlo":
                text = _hlo(jitted, args)
            else:
                text = str(api.make_jaxpr(jitted, discharged=stage == "discharged")(*args))
                if stage == "jaxpr":
                    text = text.rstrip("\n") + _decisions(api.lowering_decisions(jitted, *args))
        yield stage, text.rstrip("\n")


def _decisions(decisions) -> str:
    """The lowering decisions under the jaxpr, one `# line N: ...` comment each."""
    if not decisions:
        return ""
    lines = [f"# line {location.lineno}, column {location.col_offset + 1}: {what}" for location, what in decisions]
    return "\n\n# how refscript lowered this function:\n" + "\n".join(lines)


# Between the user's line number and a line of generated source.
GUTTER = " | "


def numbered_source(source: str, origins: Sequence) -> str:
    """Returns `source` with each line prefixed by the user's line it comes from (`origins`).

    >>> print(numbered_source("def f(x):\n    return x", (3, 4)))
    3 | def f(x):
    4 |     return x
    """
    lines = source.rstrip("\n").splitlines()
    origins = list(origins)[: len(lines)] + [None] * (len(lines) - len(origins))
    width = max((len(str(n)) for n in origins if n), default=1)
    return "\n".join(
        (f"{origin or '':>{width}}{GUTTER}{text}" if text else f"{origin or '':>{width}}{GUTTER}".rstrip())
        for text, origin in zip(lines, origins)
    )


def header(stage: str, label: str) -> str:
    """Returns the line printed above a stage: `== jaxpr: file.py:fn ==`."""
    return f"== {stage}: {label} =="


def show(fn, *example_args, stage: str | Sequence[str] | None = None, label: str | None = None) -> str:
    """Returns what refscript makes of `fn` at each stage, each under a header line.

    **Arguments:**
    - `fn`: a function, or a `refscript.jit` function.
    - `example_args`: one per parameter: arrays, Python scalars (ints and bools
      are static) or `jax.ShapeDtypeStruct`s. Default: `fn.example_args`
      (`@refscript.examples(...)`). An abstract array with a 64-bit dtype turns
      on `jax_enable_x64` while it is traced.
    - `stage`: `"converted"`, `"jaxpr"`, `"discharged"`, `"hlo"`, `"all"`, or a
      list of them. Default: converted and jaxpr.
    - `label`: the name in the headers. Default: `fn`'s qualified name.

    **Returns:** plain text (no colour).

    ```python
    print(refscript.show(running_sum, jax.ShapeDtypeStruct((8,), jnp.float32), stage="jaxpr"))
    ```
    """
    stages = resolve_stages(stage)
    args = example_arguments(fn, example_args) if stages != ("converted",) else example_args
    label = label or _name(fn)
    return "\n\n".join(f"{header(name, label)}\n{text}" for name, text in render_stages(fn, args, stages))


def _hlo(jitted, args) -> str:
    # Python scalars and other values without array leaves are what refscript
    # specialises on; jax.jit must pass them through as Python values too.
    static = tuple(index for index, arg in enumerate(args) if _is_static(arg))
    with warnings.catch_warnings():
        # Lowering traces the function under jax.jit, where writes into its arguments cannot
        # reach them; the user asked for the program, not to run it.
        warnings.simplefilter("ignore", errors.LostWriteWarning)
        return jax.jit(jitted, static_argnums=static).lower(*args).as_text()


def _is_static(arg) -> bool:
    try:
        hash(arg)
    except TypeError:
        return False
    array_like = (jax.ShapeDtypeStruct, jax.Array, np.ndarray, np.generic, float, complex)
    return not any(isinstance(leaf, array_like) for leaf in jax.tree_util.tree_leaves(arg))


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
