"""Activity analysis: which names a piece of code reads, rebinds and modifies.

A write `a[i] = v` *modifies* `a` (its contents change, the name keeps its
object); `a = v` *rebinds* it. Nested scopes (defs, lambdas, comprehensions)
contribute the names they read from outside, never the names they bind.
"""

from __future__ import annotations

import gast

from refscript.pyct import traversal

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)


def target_names(target) -> set[str]:
    """Returns the names a target rebinds: `a`, `(a, b)`, `[a, *b]`; not `a[i]` or `a.x`."""
    if isinstance(target, gast.Name):
        return {target.id}
    if isinstance(target, (gast.Tuple, gast.List)):
        return set().union(*(target_names(e) for e in target.elts)) if target.elts else set()
    if isinstance(target, gast.Starred):
        return target_names(target.value)
    return set()


def subscript_base(target):
    """Returns the `Name` whose contents a target like `a[i]` or `a[i][j]` writes, else None."""
    while isinstance(target, gast.Subscript):
        target = target.value
    return target if isinstance(target, gast.Name) else None


def _all_targets(target):
    if isinstance(target, (gast.Tuple, gast.List)):
        for elt in target.elts:
            yield from _all_targets(elt)
    elif isinstance(target, gast.Starred):
        yield from _all_targets(target.value)
    else:
        yield target


def reads(node) -> set[str]:
    """Returns the names `node` reads (loads), including free reads of nested scopes."""
    visitor = _Reads()
    if isinstance(node, list):
        for n in node:
            visitor.visit(n)
    elif node is not None:
        visitor.visit(node)
    return visitor.names


class _Reads(traversal.Visitor):
    def __init__(self):
        self.names: set[str] = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, gast.Load):
            self.names.add(node.id)

    def visit_AugAssign(self, node):
        self.names |= target_names(node.target)
        self.generic_visit(node)

    def _nested(self, bound: set[str], children):
        inner = _Reads()
        for child in children:
            inner.visit(child)
        self.names |= inner.names - bound

    def visit_Lambda(self, node):
        self._nested(_params(node.args), [node.body])
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)

    def visit_FunctionDef(self, node):
        bound = _params(node.args) | assigned(node.body)
        self._nested(bound, node.body)
        for expr in node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(expr)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._nested(assigned(node.body), node.body)
        for expr in node.bases + node.decorator_list:
            self.visit(expr)

    def _comprehension(self, node, elements):
        bound = set().union(*(target_names(g.target) for g in node.generators))
        self._nested(bound, elements + [g for g in node.generators])

    def visit_ListComp(self, node):
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node, [node.key, node.value])


def _params(args: gast.arguments) -> set[str]:
    names = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            names.add(extra.id)
    return names


def parameters(fn: gast.FunctionDef) -> list[str]:
    """Returns the names of all parameters of `fn`, in order."""
    args = fn.args
    names = [a.id for a in args.posonlyargs + args.args]
    if args.vararg is not None:
        names.append(args.vararg.id)
    names += [a.id for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append(args.kwarg.id)
    return names


def assigned(stmts, memo: dict | None = None) -> set[str]:
    """Returns the names statements rebind, looking into compound statements, not nested scopes.

    `memo` (a dict kept by the caller) remembers the answer for each statement visited, so that
    asking again about a statement, or about one that contains it, does not walk it again: only
    for a tree whose statements are asked about before they change.
    """
    visitor = _Assigned(memo)
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        visitor.visit(stmt)
    return visitor.names


# Nodes that are statements or hold statements: the units `memo`s remember.
_STATEMENTS = (gast.stmt, gast.excepthandler, gast.match_case)


class _Assigned(traversal.Visitor):
    def __init__(self, memo: dict | None = None):
        self.names: set[str] = set()
        self.memo = memo

    def visit(self, node):
        memo = self.memo
        if memo is None or not isinstance(node, _STATEMENTS):
            return traversal.Visitor.visit(self, node)
        entry = memo.get(id(node))
        if entry is None or entry[0] is not node:
            inner = _Assigned(memo)
            traversal.Visitor.visit(inner, node)
            entry = memo[id(node)] = (node, frozenset(inner.names))
        self.names |= entry[1]

    def visit_Name(self, node):
        if isinstance(node.ctx, (gast.Store, gast.Del)):
            self.names.add(node.id)

    def visit_FunctionDef(self, node):
        self.names.add(node.name)
        for expr in node.decorator_list + node.args.defaults:
            self.visit(expr)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.names.add(node.name)
        for expr in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(expr)

    def visit_Lambda(self, node):
        pass

    def visit_ListComp(self, node):
        # Only walrus targets escape a comprehension.
        for sub in traversal.walk(node):
            if isinstance(sub, gast.NamedExpr):
                self.names |= target_names(sub.target)

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

    def visit_alias(self, node):
        self.names.add((node.asname or node.name).split(".")[0])


def modified(stmts, memo: dict | None = None) -> set[str]:
    """Returns the names whose contents statements change by subscript assignment (`a[i] = v`).

    `memo`: as for `assigned`.
    """
    names = set()
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        names |= _modified(stmt, memo)
    return names


def _modified(node, memo: dict | None) -> frozenset:
    if memo is not None:
        entry = memo.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
    names = set()
    if isinstance(node, gast.Assign):
        targets = node.targets
    elif isinstance(node, (gast.AugAssign, gast.AnnAssign)):
        targets = [node.target]
    else:
        targets = ()
    for target in targets:
        for leaf in _all_targets(target):
            if isinstance(leaf, gast.Subscript):
                base = subscript_base(leaf)
                if base is not None:
                    names.add(base.id)
    # Assignments are statements: only the statements nested in this one can hold more (not
    # expressions, and not nested scopes, whose writes are their own).
    for child in _nested_statements(node):
        if not isinstance(child, _SCOPES):
            names |= _modified(child, memo)
    names = frozenset(names)
    if memo is not None:
        memo[id(node)] = (node, names)
    return names


def _nested_statements(node) -> list:
    """The statements (and `except` handlers, `match` cases) directly inside `node`."""
    found = []
    for field in ("body", "orelse", "handlers", "finalbody", "cases"):
        value = getattr(node, field, None)
        if isinstance(value, list):
            found += value
    return found
