"""Quoted-Python templates: write the generated code as it should read, then splice nodes in.

    replace("target = rs.box(value, name)", target="x_ref", value=node, name=gast.Constant("x", None))

Placeholders are plain names in the template. A replacement may be:
- a `str`: becomes a name (or a def's name, or a parameter);
- an expression node: deep-copied into place, its Load/Store context fixed to fit;
- a list of statements: spliced where the placeholder stands alone as a statement.
Template nodes take their line numbers from `origin`, so generated code reports
the user's line.
"""

from __future__ import annotations

import copy
import textwrap

import gast


class _Replacer(gast.NodeTransformer):
    def __init__(self, replacements):
        self.replacements = replacements

    def visit_Expr(self, node):
        if isinstance(node.value, gast.Name) and node.value.id in self.replacements:
            repl = self.replacements[node.value.id]
            if isinstance(repl, list):
                return [copy.deepcopy(s) for s in repl]
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id not in self.replacements:
            return node
        repl = self.replacements[node.id]
        if isinstance(repl, str):
            return gast.Name(id=repl, ctx=node.ctx, annotation=None, type_comment=None)
        if isinstance(repl, gast.AST):
            return with_context(copy.deepcopy(repl), node.ctx)
        raise ValueError(f"cannot put a {type(repl).__name__} where the name {node.id!r} stands")

    def visit_FunctionDef(self, node):
        repl = self.replacements.get(node.name)
        if isinstance(repl, str):
            node.name = repl
        return self.generic_visit(node)


def with_context(node, ctx):
    """Returns `node` with the Load/Store/Del context `ctx` where a target needs it."""
    if isinstance(node, (gast.Name, gast.Attribute, gast.Subscript, gast.Starred)):
        node.ctx = ctx
    if isinstance(node, (gast.Tuple, gast.List)):
        node.ctx = ctx
        for elt in node.elts:
            with_context(elt, ctx)
    if isinstance(node, gast.Starred):
        with_context(node.value, ctx)
    return node


def replace(template: str, origin=None, **replacements) -> list:
    """Returns the statements of `template` with placeholders replaced.

    >>> [s.__class__.__name__ for s in replace("x = y", x="a", y="b")]
    ['Assign']
    """
    module = gast.parse(textwrap.dedent(template))
    for sub in gast.walk(module):
        if "lineno" in getattr(sub, "_attributes", ()):
            sub.lineno = sub.end_lineno = None
    replacer = _Replacer(replacements)
    body = []
    for stmt in module.body:
        result = replacer.visit(stmt)
        body.extend(result if isinstance(result, list) else [result])
    if origin is not None:
        for stmt in body:
            copy_missing_locations(stmt, origin)
    return body


def replace_as_expression(template: str, origin=None, **replacements):
    """Returns the single expression of `template` with placeholders replaced."""
    (stmt,) = replace(template, origin=origin, **replacements)
    assert isinstance(stmt, gast.Expr), template
    return stmt.value


def copy_missing_locations(node, origin) -> None:
    """Gives every node under `node` without a position the position of `origin`."""
    lineno = getattr(origin, "lineno", 1)
    col = getattr(origin, "col_offset", 0)
    for sub in gast.walk(node):
        if "lineno" in getattr(sub, "_attributes", ()):
            if getattr(sub, "lineno", None) is None:
                sub.lineno, sub.col_offset = lineno, col
                sub.end_lineno, sub.end_col_offset = lineno, col

