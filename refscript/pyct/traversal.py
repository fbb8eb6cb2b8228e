"""Tree walks for the passes: the semantics of `ast.walk` and `ast.NodeTransformer`, faster.

Conversion walks the tree a few dozen times, and the standard library's walkers
spend most of their time in generic machinery (`iter_fields` generators, a
`getattr` per node to find its visitor). These give the same results in the same
order: `walk` is `ast.walk` (breadth first), `Transformer` is
`ast.NodeTransformer` with its visitor methods looked up once per node class.
`Transformer.statements_only` lets a pass whose visitors all handle statements
skip expressions, which can hold none.
"""

from __future__ import annotations

import ast

import gast

_AST = ast.AST
_MISSING = object()
_UNANNOTATED = "inert unless annotated"


def children(node) -> list:
    """The child nodes of `node`, in the order of `ast.iter_child_nodes`."""
    out = []
    state = node.__dict__
    for name in node._fields:
        value = state.get(name, _MISSING)
        if value is _MISSING:
            value = getattr(node, name, None)
        if isinstance(value, _AST):
            out.append(value)
        elif isinstance(value, list):
            out += [item for item in value if isinstance(item, _AST)]
    return out


def walk(node) -> list:
    """Every node under `node` (itself included), in the order of `ast.walk`."""
    found = [node]
    position = 0
    while position < len(found):
        found += children(found[position])
        position += 1
    return found


def child_statements(node) -> list:
    """The statements (and `except` handlers, `match` cases) directly in `node`'s fields, in
    the order of `children`."""
    out = []
    state = node.__dict__
    for name in node._fields:
        value = state.get(name, _MISSING)
        if value is _MISSING:
            value = getattr(node, name, None)
        if isinstance(value, list):
            out += [item for item in value if isinstance(item, _STATEMENT_HOLDERS)]
    return out


def walk_statements(node) -> list:
    """`node` and every statement under it (with `except` handlers and `match` cases), in the
    order `walk` gives them: what `walk` yields, less the expressions and other parts, for
    searches that only look for statements (which expressions cannot hold)."""
    found = [node]
    position = 0
    while position < len(found):
        found += child_statements(found[position])
        position += 1
    return found


class _Dispatch:
    """Visitor lookup shared by `Transformer` and `Visitor`: `visit_<Class>` once per class, and
    which nodes are *inert*, so that visiting one would do nothing: without a visitor for their
    class, contexts and operators (`Load`, `Add`: no fields), constants (no nodes inside), and
    names without an annotation (only parameters have one) if their contexts are inert. The
    generic visits skip them (a subclass that overrides `visit` does not see them either)."""

    _visitors: dict
    _inert: dict

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._visitors = {}
        cls._inert = {}

    def visit(self, node):
        cls = node.__class__
        visitors = self._visitors
        try:
            method = visitors[cls]
        except KeyError:
            method = visitors[cls] = getattr(type(self), "visit_" + cls.__name__, None)
        if method is None:
            return self.generic_visit(node)
        return method(self, node)

    def _is_inert(self, cls) -> bool:
        inert = self._inert.get(cls)
        if inert is None:
            visited = getattr(type(self), "visit_" + cls.__name__, None) is not None
            # Constants hold no nodes; a name holds its context (inert, unless visited) and, as
            # a parameter, perhaps an annotation: `_UNANNOTATED` says to look.
            if cls is gast.Name and not visited and all(
                    self._is_inert(ctx) for ctx in (gast.Load, gast.Store, gast.Del, gast.Param)):
                inert = _UNANNOTATED
            else:
                inert = not visited and (not cls._fields or cls is gast.Constant)
            self._inert[cls] = inert
        return inert


class Transformer(_Dispatch):
    """`ast.NodeTransformer`, faster: `visit` dispatches on the node's class to `visit_<Class>`
    or `generic_visit`, which visits the children and splices what the visits return (a node,
    None to remove it, or a list to splice into a list field).

    With `statements_only = True`, `generic_visit` leaves expressions (and the other parts of
    statements that cannot hold statements) alone: for passes with no visitor for them.
    """

    statements_only = False

    def generic_visit(self, node):
        statements_only = self.statements_only
        if statements_only and not isinstance(node, _STATEMENT_HOLDERS):
            return node
        inert = self._inert
        state = node.__dict__
        for name in node._fields:
            value = state.get(name, _MISSING)
            if value is _MISSING:
                value = getattr(node, name, _MISSING)
                if value is _MISSING:
                    continue
            if isinstance(value, list):
                new_values = []
                for item in value:
                    if isinstance(item, _AST):
                        if statements_only and not isinstance(item, _STATEMENT_HOLDERS):
                            new_values.append(item)
                            continue
                        kind = inert.get(item.__class__)
                        if kind is None:
                            kind = self._is_inert(item.__class__)
                        if kind is True or (kind is _UNANNOTATED and getattr(item, "annotation", None) is None):
                            new_values.append(item)
                            continue
                        item = self.visit(item)
                        if item is None:
                            continue
                        if not isinstance(item, _AST):
                            new_values.extend(item)
                            continue
                    new_values.append(item)
                value[:] = new_values
            elif isinstance(value, _AST):
                if statements_only:
                    continue  # statements are only ever in lists
                kind = inert.get(value.__class__)
                if kind is None:
                    kind = self._is_inert(value.__class__)
                if kind is True or (kind is _UNANNOTATED and getattr(value, "annotation", None) is None):
                    continue
                new_node = self.visit(value)
                if new_node is None:
                    delattr(node, name)
                elif new_node is not value:
                    setattr(node, name, new_node)
        return node


class Visitor(_Dispatch):
    """`ast.NodeVisitor`, faster (visitor methods looked up once per node class)."""

    def generic_visit(self, node):
        inert = self._inert
        for child in children(node):
            kind = inert.get(child.__class__)
            if kind is None:
                kind = self._is_inert(child.__class__)
            if kind is True or (kind is _UNANNOTATED and getattr(child, "annotation", None) is None):
                continue
            self.visit(child)


# What can hold statements: statements, `except` handlers and `match` cases (and modules).
_STATEMENT_HOLDERS = (ast.stmt, ast.excepthandler, ast.mod, gast.match_case) + (
    (ast.match_case,) if hasattr(ast, "match_case") else ())
