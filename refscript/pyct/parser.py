"""Reads a function's source and parses it into a `gast` tree with the user's line numbers."""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass

import gast

from refscript.errors import Location, SourceUnavailableError


@dataclass(frozen=True)
class ParsedFunction:
    """A user function's tree, with line and column numbers as in the user's file."""

    node: gast.FunctionDef
    filename: str
    source: str


def parse_function(fn) -> ParsedFunction:
    """Returns the `gast.FunctionDef` of `fn`, positioned at its lines in its file.

    >>> def f(x):
    ...     return x
    >>> parse_function(f).node.name   # doctest: +SKIP
    'f'
    """
    code = fn.__code__
    try:
        lines, first_line = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__!r}",
            Location(code.co_filename, code.co_firstlineno),
            "refscript converts source code: define the function in a .py file "
            "(not a bare REPL or exec) and decorate it there",
        ) from exc
    source = "".join(lines)
    dedented = textwrap.dedent(source)
    indent = _indent_width(source) - _indent_width(dedented)
    module = gast.parse(dedented)
    node = _find_function(module, fn)
    if node is None:
        raise SourceUnavailableError(
            f"the source found for {fn.__qualname__!r} does not define it",
            Location(code.co_filename, code.co_firstlineno),
            "lambdas and functions created by exec cannot be converted; write a def",
        )
    line_offset = max(first_line, 1) - 1
    for sub in gast.walk(module):
        if hasattr(sub, "lineno") and sub.lineno is not None:
            sub.lineno += line_offset
            if getattr(sub, "end_lineno", None) is not None:
                sub.end_lineno += line_offset
            if getattr(sub, "col_offset", None) is not None:
                sub.col_offset += indent
            if getattr(sub, "end_col_offset", None) is not None:
                sub.end_col_offset += indent
    return ParsedFunction(node=node, filename=code.co_filename, source=dedented)


def _indent_width(text: str) -> int:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return len(first) - len(first.lstrip())


def _find_function(module: gast.Module, fn):
    for stmt in module.body:
        if isinstance(stmt, (gast.FunctionDef, gast.AsyncFunctionDef)) and stmt.name == fn.__name__:
            return stmt
    for sub in gast.walk(module):
        if isinstance(sub, (gast.FunctionDef, gast.AsyncFunctionDef)) and sub.name == fn.__name__:
            return sub
    return None
