"""Reads the runtime must see: slices with bounds that are not constants, and
indices that may be static integers out of bounds.

    z = y[:k] + r[:k]   ->   z = rs.subscript(y_ref, slice(None, k)) + rs.subscript(r, slice(None, k))
    a = -r[0] + x[n]    ->   a = -rs.subscript(r, 0) + rs.subscript(x, n)     (n a parameter)

A slice bound may be traced when the code runs (a loop index, data), and
jax.numpy cannot slice with it; `rs.subscript` gives such a slice of one axis its
masked meaning (runtime/windows.py). An index that may be a static int (a
literal, or arithmetic on literals, parameters and names bound at the function's
own level) is checked against the shape as NumPy would: jax.numpy would clamp
it. Reads indexed by loop indices (`x[i]`, `x[i - 1]`) stay as they are, and reads of boxes (`y_ref[0]`) check themselves. Writes go
through the box's `__setitem__`, which does the same. Runs after the loop and
branch converters (whose bodies it reaches through the functions they generate)
and before the logical pass.
"""

from __future__ import annotations

import gast

from refscript.passes.context import Converter
from refscript.pyct import traversal
from refscript.pyct.analysis import activity


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


def _is_int_literal(node) -> bool:
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        node = node.operand
    return isinstance(node, gast.Constant) and type(node.value) is int


class SlicesPass(Converter):
    def transform(self, fn: gast.FunctionDef) -> gast.FunctionDef:
        # Names that may hold static ints: parameters and names bound at the function's own
        # level (loop and branch bodies are nested functions by now, so their names, loop
        # indices among them, are not). Boxes: names bound to rs.box*(...).
        self._locals = set(activity.parameters(fn)) | activity.assigned(fn.body)
        self._top_level = set(self._locals)
        self._boxes = {
            target.id
            for node in traversal.walk_statements(fn) if isinstance(node, gast.Assign) and self._is_box_call(node.value)
            for target in node.targets if isinstance(target, gast.Name)
        }
        return super().transform(fn)

    def _is_box_call(self, node) -> bool:
        return (isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute)
                and isinstance(node.func.value, gast.Name) and node.func.value.id == self.rs
                and node.func.attr in ("box", "box_undefined", "argument_box"))

    def _maybe_static(self, part) -> bool:
        """An index that may be a static int: a literal, or arithmetic on literals and
        names bound at the function's level (`x[n]`, `x[n - 1]`, `A[k, 0]`)."""
        if isinstance(part, gast.Constant):
            return type(part.value) is int
        if isinstance(part, gast.Name):
            return part.id in self._top_level and part.id not in self._boxes
        if isinstance(part, gast.UnaryOp):
            return self._maybe_static(part.operand)
        if isinstance(part, gast.BinOp):
            return self._maybe_static(part.left) and self._maybe_static(part.right)
        return False

    def visit_Lambda(self, node):
        return node  # the user's lambdas are converted when they are called

    def visit_Subscript(self, node):
        # Decided on the index as written, before its own parts are rewritten (by this pass,
        # or by the logical pass when the two share a walk: `x[not n]`).
        routed = self._routed(node)
        self.generic_visit(node)
        if not routed:
            return node
        parts = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if isinstance(node.slice, gast.Tuple):
            index = gast.Tuple(elts=[_as_expression(p) for p in parts], ctx=gast.Load())
        else:
            index = _as_expression(node.slice)
        return self.runtime_call("subscript", [node.value, index], node)

    def _routed(self, node) -> bool:
        """Whether the read `node` goes through `rs.subscript`."""
        if not isinstance(node.ctx, gast.Load):
            return False
        parts = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
        if isinstance(node.value, gast.Name) and node.value.id in self._boxes:
            return any(_dynamic_slice(p) for p in parts)
        # Not `x.shape[0]` or a global table: Python and NumPy check their own indices.
        return any(_dynamic_slice(p) for p in parts) or (
            isinstance(node.value, gast.Name) and node.value.id in self._locals
            and any(self._maybe_static(p) for p in parts))
