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


def unparse(node, backend: str = "ast") -> str:
    """Returns the source text of a `gast` or `ast` node (or list of statements).

    >>> unparse(gast.parse("x = (1)"))
    'x = 1'
    """
    if isinstance(node, list):
        node = gast.Module(body=node, type_ignores=[])
    if isinstance(node, gast.AST):
        node = gast.gast_to_ast(node)
    node = ast.fix_missing_locations(node)
    if backend == "ast":
        return ast.unparse(node)
    if backend == "astunparse":
        import astunparse

        return astunparse.unparse(node).strip("\n")
    raise ValueError(f"unknown unparse backend {backend!r}; use 'ast' or 'astunparse'")
