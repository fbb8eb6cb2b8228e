"""Slices with bounds that are not constants: read through the runtime.

    z = y_ref[:k] + r[:k]   ->   z = rs.subscript(y_ref, slice(None, k)) + rs.subscript(r, slice(None, k))

A bound may be traced when the code runs (a loop index, data), and jax.numpy
cannot slice with it; `rs.subscript` gives such a slice of one axis its masked
meaning (runtime/windows.py) and is plain `value[index]` otherwise. Writes
(`y[:k] = z`, `y[:k] += v`) go through the box's `__setitem__`, which does the
same. Runs after the loop and branch converters (whose bodies it reaches through
the functions they generate) and before the logical pass.
"""

from __future__ import annotations

import gast

from refscript.passes.context import Converter


def _is_literal(node) -> bool:
    if node is None or isinstance(node, gast.Constant):
        return True
    return isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)) and _is_literal(node.operand)


def _dynamic_slice(part) -> bool:
    return isinstance(part, gast.Slice) and not all(_is_literal(b) for b in (part.lower, part.upper, part.step))


def _as_expression(part):
    """A slice `a:b:c` as the expression `slice(a, b, c)`; other parts as they are."""
    if not isinstance(part, gast.Slice):
        return part
    none = gast.Constant(value=None, kind=None)
    call = gast.Call(
        func=gast.Name("slice", gast.Load(), None, None),
        args=[b if b is not None else none for b in (part.lower, part.upper, part.step)],
        keywords=[],
    )
    if part.step is None:
        call.args = call.args[:2]
    return gast.copy_location(call, part)


class SlicesPass(Converter):
    def visit_Lambda(self, node):
        return node  # the user's lambdas are converted when they are called

    def visit_Subscript(self, node):
        self.generic_visit(node)
        if not isinstance(node.ctx, gast.Load):
            return node
        parts = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if not any(_dynamic_slice(p) for p in parts):
            return node
        if isinstance(node.slice, gast.Tuple):
            index = gast.Tuple(elts=[_as_expression(p) for p in parts], ctx=gast.Load())
        else:
            index = _as_expression(node.slice)
        return self.runtime_call("subscript", [node.value, index], node)
