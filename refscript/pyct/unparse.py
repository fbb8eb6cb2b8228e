"""Turns trees back into Python source text: the one place refscript unparses.

The standard library's `ast.unparse` is used: it exists on every Python refscript
supports (3.10+), handles every construct of the running interpreter (including
`match`) and adds no redundant parentheses. `astunparse` (a declared dependency)
is kept as the alternative backend because its output is stable across Python
versions; it fails on `match` statements. See docs/design.md.
"""

from __future__ import annotations

import ast

import gast

from refscript.pyct import gast_translation


def _as_ast(node):
    """`node` as a standard library tree (a copy if it is gast's: gast's classes are not the
    standard library's, though `gast.AST` is `ast.AST`)."""
    if type(node) is getattr(ast, type(node).__name__, None):
        return node
    return gast_translation.gast_to_ast(node)


def unparse(node, backend: str = "ast") -> str:
    """Returns the source text of a `gast` or `ast` node (or list of statements).

    >>> unparse(gast.parse("x = (1)"))
    'x = 1'
    """
    if isinstance(node, list):
        node = gast.Module(body=node, type_ignores=[])
    node = ast.fix_missing_locations(_as_ast(node))
    if backend == "ast":
        return ast.unparse(node)
    if backend == "astunparse":
        import astunparse

        return astunparse.unparse(node).strip("\n")
    raise ValueError(f"unknown unparse backend {backend!r}; use 'ast' or 'astunparse'")


def unparse_with_origins(node) -> tuple[str, tuple]:
    """Returns `(source, origins)`: `unparse(node)`, and for each line of it the line of the
    user's file its statement came from (None for lines where no statement starts).

    The unparsed text is parsed again; its statements come in the same order as the
    tree's, so each generated line is paired with the position its statement carries.
    """
    if isinstance(node, list):
        node = gast.Module(body=node, type_ignores=[])
    tree = ast.fix_missing_locations(_as_ast(node))
    source = ast.unparse(tree)
    origins = [None] * len(source.splitlines())
    produced = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.stmt)]
    original = [n for n in ast.walk(tree) if isinstance(n, ast.stmt)]
    if len(produced) == len(original):
        for made, user in zip(produced, original):
            if getattr(user, "lineno", None) and origins[made.lineno - 1] is None:
                origins[made.lineno - 1] = user.lineno
    return source, tuple(origins)
