"""The allow-list: constructs refscript converts, and a precise error for the rest.

Runs first, on the user's tree. Anything not converted correctly is rejected here
at the user's line, never run silently as Python over traced values.
"""

from __future__ import annotations

import gast

from refscript.passes.context import PassContext
from refscript.pyct import traversal
from refscript.pyct.analysis.activity import subscript_base, target_names

_CONSTRUCTS = (gast.For, gast.While, gast.If)

_ANYWHERE = {
    gast.Yield: ("`yield`", "a generator cannot be compiled; return an array instead"),
    gast.YieldFrom: ("`yield from`", "a generator cannot be compiled; return an array instead"),
    gast.Await: ("`await`", "compiled functions are synchronous"),
    gast.AsyncFor: ("`async for`", "compiled functions are synchronous"),
    gast.AsyncWith: ("`async with`", "compiled functions are synchronous"),
    gast.AsyncFunctionDef: ("`async def`", "compiled functions are synchronous"),
    gast.Global: ("`global`", "pass the value in as an argument and return the result"),
    gast.Nonlocal: ("`nonlocal`", "pass the value in as an argument and return the result"),
    gast.Match: ("`match`", "use if/elif/else"),
}

_IN_CONSTRUCT = {
    gast.Try: ("`try` inside a loop or branch", "move the `try` outside the loop or branch"),
    gast.With: ("`with` inside a loop or branch", "move the `with` outside the loop or branch"),
    gast.ClassDef: ("a class definition inside a loop or branch", "define the class at module level"),
    gast.Delete: ("`del` inside a loop or branch", "assign a new value instead"),
    gast.NamedExpr: ("`:=` inside a loop or branch", "use a separate assignment statement"),
}


def check(fn: gast.FunctionDef, ctx: PassContext, kinds: set | None = None) -> None:
    """Raises `ConversionError` at the first construct of `fn` that refscript cannot convert.

    `kinds`, if given, are the classes of all the nodes in `fn` (the caller walked it): when
    none of them is an expression or statement rejected wherever it stands, the search of
    expressions and nested scopes for one is skipped (it would find nothing; most code has
    none).
    """
    checker = _Checker(ctx, searches_expressions=kinds is None or not kinds.isdisjoint(_SEARCHED))
    checker._reject(fn, {gast.AsyncFunctionDef: _ANYWHERE[gast.AsyncFunctionDef]})
    checker.check_body(fn.body, in_construct=False, loop_targets=set())


class _Checker:
    def __init__(self, ctx: PassContext, searches_expressions: bool = True):
        self.ctx = ctx
        self.searches_expressions = searches_expressions

    def check_body(self, stmts, in_construct: bool, loop_targets: set[str]) -> None:
        for stmt in stmts:
            self.check_stmt(stmt, in_construct, loop_targets)

    def check_stmt(self, stmt, in_construct: bool, loop_targets: set[str]) -> None:
        self._reject(stmt, _ANYWHERE)
        if in_construct:
            self._reject(stmt, _IN_CONSTRUCT)
        if isinstance(stmt, (gast.FunctionDef, gast.Lambda)):
            if self.searches_expressions:
                self._check_nested_scope(stmt)
            return
        self._check_targets(stmt, in_construct, loop_targets)
        if isinstance(stmt, _CONSTRUCTS):
            inner_targets = loop_targets
            if isinstance(stmt, gast.For):
                inner_targets = loop_targets | target_names(stmt.target)
            self._check_expressions(stmt, in_construct=True)
            self.check_body(stmt.body, True, inner_targets)
            self.check_body(stmt.orelse, True, inner_targets)
            return
        for field in ("body", "orelse", "finalbody"):
            self.check_body(getattr(stmt, field, []) or [], in_construct, loop_targets)
        for handler in getattr(stmt, "handlers", []) or []:
            self.check_body(handler.body, in_construct, loop_targets)
        self._check_expressions(stmt, in_construct)

    def _check_expressions(self, stmt, in_construct: bool) -> None:
        if not self.searches_expressions:
            return
        table = _EXPRESSIONS_IN_CONSTRUCT if in_construct else _EXPRESSIONS
        for node in _expressions_of(stmt):
            if node.__class__ in table:
                self._reject(node, table)

    def _check_nested_scope(self, node) -> None:
        # A nested function's `nonlocal`/`global` rebinds the converted function's
        # variables behind the back of its loops and branches (which carry only what
        # they assign themselves).
        table = {kind: _ANYWHERE[kind] for kind in (gast.Yield, gast.Await, gast.Nonlocal, gast.Global)}
        for sub in traversal.walk(node):
            self._reject(sub, table)

    def _check_targets(self, stmt, in_construct: bool, loop_targets: set[str]) -> None:
        targets = []
        if isinstance(stmt, gast.Assign):
            targets = stmt.targets
        elif isinstance(stmt, (gast.AugAssign, gast.AnnAssign)):
            targets = [stmt.target]
        for target in targets:
            for leaf in traversal.walk(target):
                if isinstance(leaf, gast.Subscript) and isinstance(leaf.ctx, gast.Store):
                    if isinstance(leaf.value, gast.Subscript):
                        raise self.ctx.error(
                            leaf, "chained subscript assignment `a[i][j] = v` is not supported",
                            "write a single subscript: a[i, j] = v",
                        )
                    base = subscript_base(leaf)
                    if base is None:
                        raise self.ctx.error(
                            leaf, "assignment into a subscript of an expression is not supported",
                            "assign into a named array: a[i] = v",
                        )
                    if base.id in loop_targets:
                        raise self.ctx.error(
                            leaf, f"writing into the loop variable {base.id!r} is not supported",
                            "in NumPy it is a view of the iterated array; index that array instead",
                        )
                if in_construct and isinstance(leaf, gast.Attribute) and isinstance(leaf.ctx, gast.Store):
                    raise self.ctx.error(
                        leaf, "attribute assignment inside a loop or branch is not supported",
                        "use a local variable inside the loop and set the attribute after it",
                    )

    def _reject(self, node, table) -> None:
        found = table.get(node.__class__)  # (gast's node classes have no subclasses)
        if found is not None:
            what, hint = found
            raise self.ctx.error(node, f"{what} is not supported by refscript", hint)


# What `_check_expressions` rejects in the expressions of a statement (outside and inside a
# loop or branch).
_EXPRESSIONS = {k: v for k, v in _ANYWHERE.items() if issubclass(k, gast.expr)}
_EXPRESSIONS_IN_CONSTRUCT = {**_EXPRESSIONS, gast.NamedExpr: _IN_CONSTRUCT[gast.NamedExpr]}


# What `_check_expressions` and `_check_nested_scope` search for.
_SEARCHED = frozenset(_EXPRESSIONS_IN_CONSTRUCT) | {gast.Nonlocal, gast.Global}


def _expressions_of(stmt) -> list:
    """The expression nodes of `stmt` itself, not of the statements nested in it (depth first)."""
    found = []
    stack = [c for c in traversal.children_but_markers(stmt) if not isinstance(c, gast.stmt)]
    while stack:
        node = stack.pop()
        if isinstance(node, gast.stmt):
            continue
        found.append(node)
        stack += traversal.children_but_markers(node)
    return found
