"""Parse -> analyse -> rewrite -> unparse -> load: from a user's function to converted Python."""

from __future__ import annotations

import inspect
import threading
import weakref
from dataclasses import dataclass, field

import gast

from refscript import runtime
from refscript.passes import break_continue, parallel, returns, unsupported
from refscript.passes.asserts import AssertsPass
from refscript.passes.calls import CallsPass
from refscript.passes.conditionals import ConditionalsPass
from refscript.passes.context import PassContext
from refscript.passes.logical import LogicalPass
from refscript.passes.inplace import InPlacePass
from refscript.passes.loops import LoopsPass
from refscript.passes.refs import RefsPass
from refscript.passes.slices import SlicesPass
from refscript.pyct import anno, loader, naming, parser, traversal
from refscript.pyct.analysis import activity, liveness
from refscript.pyct.unparse import unparse_with_origins


@dataclass(frozen=True)
class Conversion:
    """A converted function: the callable and its generated source.

    It holds no reference to the user's function, the cache's weak key: a
    conversion (and what the function captured) is freed with the function.

    `argument_writes` lists `(parameter, location)` for each parameter the function
    writes into by subscript: fine for the function the user compiles (its
    arguments are copied in), not for one it calls (the caller would not see it).

    `source` and `source_origins` are made from `tree` (the converted `def` as it was
    compiled, an `ast` tree, kept until then) when first read: only `refscript.show`
    and `converted_source` need them.
    """

    function: object
    filename: str
    argument_writes: tuple = ()
    tree: object = field(default=None, repr=False, compare=False)
    _text: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def source(self) -> str:
        """The generated Python source."""
        return self._unparsed()[0]

    @property
    def source_origins(self) -> tuple:
        """For each line of `source`, the user's line it comes from (or None)."""
        return self._unparsed()[1]

    def _unparsed(self) -> tuple:
        text = self._text
        if "source" not in text:
            with _UNPARSING:  # one thread unparses, then frees the tree
                if "source" not in text:
                    source, text["origins"] = unparse_with_origins(self.tree)
                    text["source"] = source
                    object.__setattr__(self, "tree", None)
        return text["source"], text["origins"]


_UNPARSING = threading.Lock()

_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

# How many times a function was converted (parsed and rewritten); tests check the cache with it.
conversions = 0


def convert(fn, cache: bool = True, vectorize: bool = False) -> Conversion:
    """Returns the conversion of `fn`, cached per function object and its current code.

    A function whose `__code__` was replaced (as IPython's autoreload does with
    the functions of an edited module) is converted again from its new source.
    `cache=False` converts again and leaves the cache as it is (for benchmarks).
    `vectorize`: `for` loops over `range` that the dependence analysis finds
    independent are lowered like `prange` loops, and vectorised where the runtime
    can (`refscript.jit(vectorize=True)`; see passes/parallel.py).
    """
    if not cache:
        return _convert(fn, vectorize)
    cached = _cache.get(fn)
    if cached is None or cached[0] is not fn.__code__:
        cached = _cache[fn] = (fn.__code__, {})  # {vectorize: conversion}
    result = cached[1].get(vectorize)
    if result is None:
        result = cached[1][vectorize] = _convert(fn, vectorize)
    return result


def clear_cache() -> None:
    """Forgets every conversion: the next `convert` of any function converts it again."""
    _cache.clear()


def _convert(fn, vectorize: bool = False) -> Conversion:
    global conversions
    conversions += 1
    if fn.__name__ == "<lambda>":
        parsed = parser.parse_lambda(fn)
        if parsed is None:  # cannot be told apart from another lambda on its line: run it as it is
            return Conversion(function=fn, filename=fn.__code__.co_filename,
                              _text={"source": _lambda_source(fn), "origins": ()})
    else:
        parsed = parser.parse_function(fn)
    node = parsed.node
    node.decorator_list = []
    nodes = traversal.walk(node)  # the user's tree, for the namer and the allow-list
    namer = naming.Namer.for_nodes(nodes)
    ctx = PassContext(parsed.filename, namer, namer.new(naming.RUNTIME_MODULE))

    # The passes, in order. Analyses read the user's tree; converters rewrite it.
    # Reject what cannot be converted before touching anything.
    unsupported.check(node, ctx, kinds={sub.__class__ for sub in nodes})
    parallel.check(node, ctx, vectorize)  # prange loops, as written: a `break` there is an error, not a flag
    argument_writes = _argument_writes(node, ctx)
    for sub in traversal.walk_statements(node):
        if isinstance(sub, (gast.FunctionDef, gast.ClassDef)) and sub is not node:
            anno.setanno(sub, anno.Basic.USER_FUNCTION, True)
    # Jumps become flags and `if`s before any analysis, so the flags are carried
    # like any other variable. Returns first: a `return` inside a loop ends it the
    # way a `break` does, and the `break` converter must see loops as they end up.
    node = CallsPass(ctx).transform(node)  # first: later passes generate calls of their own
    node = AssertsPass(ctx).transform(node)
    node = returns.transform(node, ctx)
    node = break_continue.transform(node, ctx)
    activity.analyze(node)  # ASSIGNED/MODIFIED, read by liveness and the boxing pass
    liveness.analyze(node)  # LIVE_IN/LIVE_OUT, read by the boxing pass
    # Boxing first: it needs the loops and ifs as the user wrote them, and it leaves
    # on each of them the boxes its bodies write (BOX_WRITES) for the two passes below.
    node = RefsPass(ctx).transform(node)
    node = LoopsPass(ctx).transform(node)
    node = ConditionalsPass(ctx).transform(node)
    node = InPlacePass(ctx).transform(node)  # after the loops pass: it reads `offset *= 2` as written
    node = _SlicesAndLogicalPass(ctx).transform(node)

    function, tree = loader.load_function(node, fn, ctx.runtime_name, runtime)
    return Conversion(function=function, filename=parsed.filename, argument_writes=argument_writes, tree=tree)


class _SlicesAndLogicalPass(SlicesPass, LogicalPass):
    """The slices pass and then the logical pass, in one walk of the tree: each node's parts
    are rewritten before it, so a subscript is decided before the logical operators in it
    (`SlicesPass.visit_Subscript`), and an operator's operands are rewritten before they are
    wrapped in lambdas. The logical pass comes last: the passes before it would take the
    lambdas it adds for the user's own nested scopes (both leave the user's lambdas alone)."""


def _argument_writes(fn: gast.FunctionDef, ctx: PassContext) -> tuple:
    params = set(activity.parameters(fn))
    writes = []
    for node in traversal.walk_statements(fn):  # assignments are statements
        targets = node.targets if isinstance(node, gast.Assign) else (
            [node.target] if isinstance(node, (gast.AugAssign, gast.AnnAssign)) else [])
        for target in targets:
            for sub in traversal.walk(target):
                base = activity.subscript_base(sub) if isinstance(sub, gast.Subscript) else None
                if base is not None and base.id in params and isinstance(sub.ctx, gast.Store):
                    writes.append((base.id, ctx.location(sub)))
    return tuple(writes)


def _lambda_source(fn) -> str:
    try:
        return inspect.getsource(fn).strip()
    except (OSError, TypeError):
        return "<lambda>"
