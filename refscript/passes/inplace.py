"""In-place operators on whole names: `name op= value`.

    x += y              ->  x = rs.iadd(x, y, 'x')
    s_ref.value *= 2.0  ->  s_ref.imul(2.0)              (a boxed name)

The operators go by the names Python's `operator` module gives them. At run
time they give NumPy's meaning on an array (the result written into the buffer,
keeping its shape and dtype) and Python's on anything else (runtime/inplace.py). Writes into the caller's array reach it because the refs
pass makes a parameter updated this way an argument box. Subscripted targets
(`a[i] += v`) are element writes, which the box's `__setitem__` does with
NumPy's casting; they stay as they are.

Runs after the loop converter, whose geometric-loop test reads `offset *= 2` as
written, and before the slices pass.
"""

from __future__ import annotations

import gast

from refscript.passes.context import Converter
from refscript.pyct import anno, templates

# gast's operator classes -> the runtime's in-place operators (runtime/inplace.py), as Python's
# `operator` module names them.
_OPERATORS = {
    gast.Add: "iadd", gast.Sub: "isub", gast.Mult: "imul", gast.Div: "itruediv", gast.FloorDiv: "ifloordiv",
    gast.Mod: "imod", gast.Pow: "ipow", gast.MatMult: "imatmul", gast.BitAnd: "iand", gast.BitOr: "ior",
    gast.BitXor: "ixor", gast.LShift: "ilshift", gast.RShift: "irshift",
}


class InPlacePass(Converter):
    def visit_AugAssign(self, node):
        name = anno.getanno(node, anno.Basic.AUGMENTED)
        if name is None:  # a subscript or attribute target
            return self.generic_visit(node)
        node = self.generic_visit(node)
        op = _OPERATORS[type(node.op)]
        target = node.target
        if isinstance(target, gast.Attribute) and target.attr == "value" and isinstance(target.value, gast.Name):
            return templates.replace(f"box.{op}(value)", origin=node, box=target.value.id, value=node.value)
        load = templates.with_context(templates.copy_tree(node.target), gast.Load())
        return templates.replace(
            f"target = {self.rs}.{op}(current, value, label)", origin=node,
            target=node.target, current=load, value=node.value, label=gast.Constant(name, None),
        )
