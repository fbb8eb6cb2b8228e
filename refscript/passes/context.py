"""What every pass shares: the user's file, the namer, and errors at the user's lines."""

from __future__ import annotations

from dataclasses import dataclass, field

import gast

from refscript.errors import ConversionError, Location
from refscript.pyct import anno, templates, traversal
from refscript.pyct.naming import Namer


@dataclass
class PassContext:
    filename: str
    namer: Namer
    runtime_name: str
    # What to call generated variables in messages (`retval` -> "the return value").
    display_names: dict = field(default_factory=dict)

    def location(self, node) -> Location:
        lineno = getattr(node, "lineno", 0) or 0
        one_line = getattr(node, "end_lineno", None) == lineno
        end = getattr(node, "end_col_offset", None) if one_line else None
        return Location(self.filename, lineno, getattr(node, "col_offset", 0) or 0, end)

    def error(self, node, message: str, hint: str | None = None) -> ConversionError:
        return ConversionError(message, self.location(node), hint)


class Converter(traversal.Transformer):
    """Base of the converters: rewrites a function's body, leaving the user's nested defs alone."""

    def __init__(self, ctx: PassContext):
        self.ctx = ctx
        self.rs = ctx.runtime_name

    def transform(self, fn: gast.FunctionDef) -> gast.FunctionDef:
        out = []
        for stmt in fn.body:
            result = self.visit(stmt)
            out.extend(result if isinstance(result, list) else [result])
        fn.body = out
        return fn

    def visit_FunctionDef(self, node):
        if anno.getanno(node, anno.Basic.USER_FUNCTION):
            return node  # nested user functions are left as they are
        return self.generic_visit(node)

    def runtime_call(self, name: str, args: list, origin) -> gast.Call:
        """Returns the expression `rs.<name>(*args)`, positioned at `origin`."""
        # Built directly, not from a template: every routed call and operator comes here.
        module = gast.Name(id=self.rs, ctx=gast.Load(), annotation=None, type_comment=None)
        func = gast.Attribute(value=module, attr=name, ctx=gast.Load())
        lineno, col = getattr(origin, "lineno", 1), getattr(origin, "col_offset", 0)
        for node in (module, func):
            node.lineno = node.end_lineno = lineno
            node.col_offset = node.end_col_offset = col
        call = gast.Call(func=func, args=args, keywords=[])
        templates.copy_missing_locations(call, origin)
        return gast.copy_location(call, origin)
