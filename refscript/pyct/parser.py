"""Reads a function's source and parses it into a `gast` tree with the user's line numbers."""

from __future__ import annotations

import inspect
import linecache
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


# Name of the `def` a lambda is rewritten into (a valid identifier the loader can find).
LAMBDA_NAME = "lambda_"


def parse_lambda(fn) -> ParsedFunction | None:
    """Returns a lambda as `def lambda_(params): return body`, positioned in its file.

    The lambda is found in its file's syntax tree on its first line, by its
    parameters; None if that is ambiguous (two alike lambdas on one line) or the
    file cannot be read, and the lambda then runs as it is.
    """
    code = fn.__code__
    # As `inspect` does for a def: the file may have been edited and reloaded
    # since linecache read it, and the lambda must be found in the text it came from.
    linecache.checkcache(code.co_filename)
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    if not lines:
        return None
    try:
        module = gast.parse("".join(lines))
    except SyntaxError:
        return None
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    found = [
        node for node in gast.walk(module)
        if isinstance(node, gast.Lambda) and node.lineno == code.co_firstlineno
        and [a.id for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs] == params
    ]
    if len(found) != 1:
        return None
    (node,) = found
    body = gast.Return(value=node.body)
    gast.copy_location(body, node.body)
    fn_node = gast.FunctionDef(
        name=LAMBDA_NAME, args=node.args, body=[body], decorator_list=[], returns=None,
        type_comment=None, type_params=[],
    )
    gast.copy_location(fn_node, node)
    return ParsedFunction(node=fn_node, filename=code.co_filename, source="")


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
