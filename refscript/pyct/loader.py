"""Compiles a converted function's tree into a live function object.

The code is compiled with the user's file name and the user's line numbers, so
tracebacks, `pdb` and JAX's source information point at the user's source. The
new function shares the original's globals and closure cells (so it sees later
changes to them, as the original would) and never writes into the user's module.
"""

from __future__ import annotations

import ast
import linecache
import types

import gast

from refscript.pyct import anno, gast_translation, traversal

_FACTORY = "__refscript_factory"
_CONVERTED = "__refscript_converted"


def load_function(fn_node: gast.FunctionDef, original, runtime_name: str, runtime_module) -> tuple:
    """Returns `(function, tree)`: a function made from `fn_node`, closing over `original`'s
    cells and the runtime, and the `ast` tree it was compiled from (the `def`).

    **Arguments:**
    - `fn_node`: the converted `def`; it is used up (its nodes become `tree`'s).
    - `original`: the user's function, for globals, closure cells, defaults and names.
    - `runtime_name`: the name generated code uses for `runtime_module`.
    """
    freevars = original.__code__.co_freevars
    params = [runtime_name, *freevars]
    generated = _generated_function_names(fn_node)
    # Renamed inside the factory, so that the function's references to its own
    # name (recursion) still go where the original's go: its globals or closure.
    name, fn_node.name = fn_node.name, _CONVERTED
    factory = gast.FunctionDef(
        name=_FACTORY,
        args=gast.arguments(
            args=[gast.Name(p, gast.Param(), None, None) for p in params],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[],
        ),
        body=[fn_node, gast.Return(gast.Name(_CONVERTED, gast.Load(), None, None))],
        decorator_list=[], returns=None, type_comment=None, type_params=[],
    )
    module = gast_translation.gast_to_ast_in_place(
        gast.Module(body=[factory], type_ignores=[]),
        locate=_placer(fn_node.lineno, linecache.getlines(original.__code__.co_filename)), inherited=None)
    module_code = compile(module, original.__code__.co_filename, "exec", dont_inherit=True)
    tree = module.body[0].body[0]
    tree.name = name
    factory_code = _const_code(module_code, _FACTORY)
    fn_code = _named_as_user(
        _const_code(factory_code, _CONVERTED), generated, original.__name__, original.__qualname__)

    cells = dict(zip(freevars, original.__closure__ or ()))
    cells[runtime_name] = types.CellType(runtime_module)
    closure = tuple(cells[name] for name in fn_code.co_freevars)
    converted = types.FunctionType(
        fn_code, original.__globals__, original.__name__, original.__defaults__, closure or None
    )
    converted.__kwdefaults__ = original.__kwdefaults__
    converted.__qualname__ = original.__qualname__
    converted.__doc__ = original.__doc__
    converted.__module__ = original.__module__
    return converted, tree


def _placer(lineno: int, lines: list):
    """Returns the function that gives each node of the generated module a position, as the
    module is translated for `compile` (`gast_translation.gast_to_ast(locate=...)`): a node
    without one stands where its parent starts (the factory around the user's def: at the start
    of line `lineno`), and a node missing only some attributes takes them from its parent, as
    `ast.fix_missing_locations` would fill them. (Templates give generated nodes their
    construct's position; those without one are the few a pass built inside a placed node.)

    Generated statements stand at their construct's first position with no width
    (`rs.for_stmt(...)` at the `for`); spanning the rest of that line instead makes
    tracebacks print the user's line without a stray empty caret line under it.
    A node is widened after its children took its position, as when done after the walk.
    """
    widths: dict = {}  # line number -> its width in bytes, without the line's end

    def place(node, inherited: tuple) -> tuple:
        get = node.__dict__.get
        first, last, end = get("lineno"), get("end_lineno"), get("end_col_offset")
        column = get("col_offset", _MISSING)
        if first is None or last is None or column is _MISSING or end is None:
            first, column, last, end = _complete(node, inherited, lineno)
        if first == last and column == end:
            width = widths.get(first)
            if width is None:
                text = lines[first - 1].rstrip() if 1 <= first <= len(lines) else ""
                width = widths[first] = len(text.encode("utf-8"))
            node.end_col_offset = max(width, column)
        return first, column, last, end

    return place


def _complete(node, inherited: tuple | None, place: int) -> tuple:
    """Gives `node` the position attributes it lacks, from its parent's position `inherited`
    (None above the user's def: the start of line `place`); returns its position."""
    if inherited is None:
        inherited = (place, 0, place, 0)
    lineno, col_offset, end_lineno, end_col_offset = inherited
    attributes = node._attributes
    get = node.__dict__.get
    if "lineno" in attributes:
        value = get("lineno")
        if value is None:  # no position: where its parent starts
            node.lineno = node.end_lineno = value = lineno
            node.col_offset = node.end_col_offset = col_offset
            return lineno, col_offset, lineno, col_offset
        lineno = value
    if "end_lineno" in attributes:
        value = get("end_lineno")
        if value is None:
            node.end_lineno = end_lineno
        else:
            end_lineno = value
    if "col_offset" in attributes:
        value = get("col_offset", _MISSING)
        if value is _MISSING:
            node.col_offset = col_offset
        else:
            col_offset = value
    if "end_col_offset" in attributes:
        value = get("end_col_offset")
        if value is None:
            node.end_col_offset = end_col_offset
        else:
            end_col_offset = value
    return lineno, col_offset, end_lineno, end_col_offset


_MISSING = object()


def _generated_function_names(fn_node: gast.FunctionDef) -> set:
    """The names of the bodies refscript generated inside `fn_node` (not the user's own defs)."""
    return {
        sub.name for sub in traversal.walk_statements(fn_node)
        if isinstance(sub, gast.FunctionDef) and sub is not fn_node
        and not anno.getanno(sub, anno.Basic.USER_FUNCTION)
    }


def _named_as_user(code: types.CodeType, generated: set, name: str, qualname: str) -> types.CodeType:
    """Returns `code` named `name` (qualified: `qualname`), and so are the loop and branch
    bodies generated inside it: tracebacks and `pdb` then say `in running_sum`, not
    `in loop_body`. The user's own nested defs and lambdas keep their names, qualified as
    in the original (`running_sum.<locals>.<lambda>`), which Python's messages print."""
    consts = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name in generated:  # a body refscript made: it stands for the user's scope
                const = _named_as_user(const, generated, name, qualname)
            else:  # the user's own def or lambda
                const = _named_as_user(const, generated, const.co_name, f"{qualname}.<locals>.{const.co_name}")
        consts.append(const)
    if _HAS_QUALNAME:
        return code.replace(co_name=name, co_qualname=qualname, co_consts=tuple(consts))
    return code.replace(co_name=name, co_consts=tuple(consts))


_HAS_QUALNAME = hasattr(types.CodeType, "co_qualname")  # Python 3.11+


def _const_code(code: types.CodeType, name: str) -> types.CodeType:
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and const.co_name == name:
            return const
    raise LookupError(f"no code object named {name!r} in {code.co_name!r}")
