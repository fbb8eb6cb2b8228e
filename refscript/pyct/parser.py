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
from refscript.pyct import gast_translation, traversal
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
    matches = _matches_code(dedented, code)
    if not matches:
        exact = _source_lines(fn, exact=True)  # the quick search may have cut the def short
        if exact != (lines, first_line):
            lines, first_line = exact
            source = "".join(lines)
            dedented = textwrap.dedent(source)
            matches = _matches_code(dedented, code)
    if not matches:
        # linecache may hold text older than the file (an edit within one tick of the
        # file system's clock): read the file again. A function loaded before its file
        # was edited cannot be converted from the new text.
        linecache.cache.pop(code.co_filename, None)
        lines, first_line = _source_lines(fn, exact=True)
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
    line_offset = max(first_line, 1) - 1
    try:
        # Blank lines first: the tree has the file's line numbers without renumbering it.
        module = gast_translation.parse("\n" * line_offset + dedented)
    except SyntaxError:
        # Only text `_matches_code` did not compile gets here, perhaps cut short by the quick
        # search: inspect's lines parse, or raise the error numbered as in that text.
        lines, first_line = _source_lines(fn, exact=True)
        source = "".join(lines)
        dedented = textwrap.dedent(source)
        module = gast_translation.parse(dedented)
        line_offset = max(first_line, 1) - 1
        _move(module, line_offset, 0)
    node = _find_function(module, fn)
    if node is None:
        raise SourceUnavailableError(
            f"the source found for {fn.__qualname__!r} does not define it",
            Location(code.co_filename, code.co_firstlineno),
            "lambdas and functions created by exec cannot be converted; write a def",
        )
    _move(module, 0, _indent_width(source) - _indent_width(dedented))
    return ParsedFunction(node=node, filename=code.co_filename, source=dedented)


def _move(module, lines: int, columns: int) -> None:
    """Moves the positions in `module` down by `lines` and right by `columns`."""
    if not lines and not columns:
        return
    for sub in traversal.walk(module):
        if hasattr(sub, "lineno") and sub.lineno is not None:
            sub.lineno += lines
            if getattr(sub, "end_lineno", None) is not None:
                sub.end_lineno += lines
            if getattr(sub, "col_offset", None) is not None:
                sub.col_offset += columns
            if getattr(sub, "end_col_offset", None) is not None:
                sub.end_col_offset += columns


def _source_lines(fn, exact: bool = False):
    """`inspect.getsourcelines(fn)`: the lines of the def and where they start. Unless `exact`,
    the def's end is found from its code and the indentation of the lines after it, which is
    much faster than `inspect`'s tokenizing; a search it cannot be sure of gives `inspect`'s
    answer, and one cut short gives text that does not compile (see `parse_function`)."""
    code = fn.__code__
    try:
        if exact:
            return inspect.getsourcelines(fn)
        target = inspect.unwrap(fn)  # as inspect.getsourcelines does
        lines, start = inspect.findsource(target)
        block = _quick_block(lines, start, getattr(target, "__code__", None))
        return (block if block is not None else inspect.getblock(lines[start:])), start + 1
    except (OSError, TypeError) as exc:
        raise SourceUnavailableError(
            f"cannot read the source of {fn.__qualname__!r}",
            Location(code.co_filename, code.co_firstlineno),
            "refscript converts source code: define the function in a .py file "
            "(not a bare REPL or exec) and decorate it there",
        ) from exc


def _quick_block(lines: list, start: int, code) -> list | None:
    """The lines of the def starting at `lines[start]`, through its last line with code (the
    last position in `code`) and the deeper-indented lines after it; None if unsure (tabs in
    the indentation, positions outside the lines)."""
    if code is None:
        return None
    last = _last_line(code) - 1
    if not start <= last < len(lines):
        return None
    base = _indent_of(lines[start])
    if base is None:
        return None
    for index in range(last + 1, len(lines)):
        text = lines[index]
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank lines and comments neither end the def nor belong to it at its end
        width = _indent_of(text)
        if width is None:
            return None
        if width <= base:
            break
        last = index
    return lines[start:last + 1]


def _indent_of(line: str) -> int | None:
    width = len(line) - len(line.lstrip(" "))
    return None if line[width:width + 1] in ("\t", "\f") else width


def _last_line(code) -> int:
    """The last line any instruction of `code` (or of the code nested in it) comes from."""
    if hasattr(code, "co_positions"):
        ends = [end if end is not None else line for line, end, _, _ in code.co_positions() if line is not None]
    else:  # Python 3.10
        ends = [line for _, _, line in code.co_lines() if line is not None]
    last = max(ends, default=code.co_firstlineno)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _last_line(const))
    return last


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
        module = gast_translation.parse("".join(lines))
    except SyntaxError:
        return None
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    found = [
        node for node in traversal.walk(module)
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
    for sub in traversal.walk(module):
        if isinstance(sub, (gast.FunctionDef, gast.AsyncFunctionDef)) and sub.name == fn.__name__:
            return sub
    return None
