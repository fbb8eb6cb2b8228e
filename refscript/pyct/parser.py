"""Reads a function's source and parses it into a `gast` tree with the user's line numbers."""

from __future__ import annotations

import __future__
import inspect
import linecache
import textwrap
import types
from dataclasses import dataclass

import gast

from refscript.errors import Location, SourceUnavailableError
from refscript.pyct.unparse import unparse


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
    lines, first_line = _source_lines(fn)
    source = "".join(lines)
    dedented = textwrap.dedent(source)
    if not _matches_code(dedented, code):
        # linecache may hold text older than the file (an edit within one tick of the
        # file system's clock): read the file again. A function loaded before its file
        # was edited cannot be converted from the new text.
        linecache.cache.pop(code.co_filename, None)
        lines, first_line = _source_lines(fn)
        source = "".join(lines)
        dedented = textwrap.dedent(source)
        if not _matches_code(dedented, code):
            raise SourceUnavailableError(
                f"the source of {fn.__qualname__!r} in {code.co_filename} has changed since the "
                "function was loaded, so refscript cannot read the code Python runs",
                Location(code.co_filename, code.co_firstlineno),
                "reload the module (importlib.reload) or restart, so the function and its "
                "source agree",
            )
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


def _source_lines(fn):
    code = fn.__code__
    try:
        return inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__!r}",
            Location(code.co_filename, code.co_firstlineno),
            "refscript converts source code: define the function in a .py file "
            "(not a bare REPL or exec) and decorate it there",
        ) from exc


_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


def _matches_code(source: str, code: types.CodeType) -> bool:
    """Whether compiling `source` (a def, dedented) gives code like `code`: the same
    names, local variables and constants, recursively. `code` is what Python runs; the
    source is what refscript would convert."""
    if "__class__" in code.co_freevars or "assert" in source:
        # super() needs the class; pytest rewrites the asserts of test modules.
        return True
    text = _enclosed(source, code)
    try:
        outer = compile(text, code.co_filename, "exec", flags=code.co_flags & _FUTURE_FLAGS,
                        dont_inherit=True)
    except SyntaxError:
        return False
    found = [c for c in _code_objects(outer) if c.co_name == code.co_name]
    return any(_same_code(c, code) for c in found)


def _enclosed(source: str, code: types.CodeType) -> str:
    """`source` inside a function binding `code`'s free variables, so a closure compiles
    alike; at module level for a function without any (its names are globals there)."""
    if not code.co_freevars:
        return source
    header = "def __refscript_outer__():\n" + "".join(f"    {name} = None\n" for name in code.co_freevars)
    return header + textwrap.indent(source, "    ")


def _code_objects(code):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _code_objects(const)


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    if (a.co_names, a.co_varnames, a.co_argcount, a.co_kwonlyargcount) != (
            b.co_names, b.co_varnames, b.co_argcount, b.co_kwonlyargcount):
        return False
    if len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) or isinstance(y, types.CodeType):
            if not (isinstance(x, types.CodeType) and isinstance(y, types.CodeType) and _same_code(x, y)):
                return False
        elif type(x) is not type(y) or not _equal_constant(x, y):
            return False
    return True


def _equal_constant(x, y) -> bool:
    try:
        return bool(x == y) or (x != x and y != y)  # NaN constants
    except Exception:
        return False


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
    found = _find_lambda(fn)
    if found is None or not _matches_lambda(found, code):
        linecache.cache.pop(code.co_filename, None)  # an edit linecache did not notice
        found = _find_lambda(fn)
        if found is None or not _matches_lambda(found, code):
            return None
    node = found
    body = gast.Return(value=node.body)
    gast.copy_location(body, node.body)
    fn_node = gast.FunctionDef(
        name=LAMBDA_NAME, args=node.args, body=[body], decorator_list=[], returns=None,
        type_comment=None, type_params=[],
    )
    gast.copy_location(fn_node, node)
    return ParsedFunction(node=fn_node, filename=code.co_filename, source="")


def _matches_lambda(node: gast.Lambda, code: types.CodeType) -> bool:
    text = _enclosed(f"({unparse(node)})\n", code)
    try:
        outer = compile(text, code.co_filename, "exec",
                        flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True)
    except SyntaxError:
        return False
    return any(_same_code(c, code) for c in _code_objects(outer) if c.co_name == "<lambda>")


def _find_lambda(fn):
    """The lambda of `fn` in its file's text as linecache holds it; None when not found
    or ambiguous (two alike lambdas on one line)."""
    code = fn.__code__
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
    return found[0] if len(found) == 1 else None


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
