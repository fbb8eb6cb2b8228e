"""Loops: `for` and `while` become body functions handed to the runtime's loop operators.

    for i in range(n):            def loop_body(i):
        s_ref.value += x[i]  ->       s_ref.value += x[i]
                                  rs.for_stmt(rs.range_(range, n), loop_body, writes=(s_ref,))

    while k_ref.value < n:        def loop_test():
        k_ref.value += 1     ->       return k_ref.value < n
                                  def loop_body():
                                      k_ref.value += 1
                                  rs.while_stmt(loop_test, loop_body, writes=(k_ref,))

A `range(...)` call is routed through `rs.range_` so traced bounds give a loop
with a run-time trip count. A loop's `else` block runs after the loop (there is
no `break` to skip it). Runs after the boxing pass, which annotated `BOX_WRITES`.
"""

from __future__ import annotations

import gast

from refscript.passes.context import PassContext
from refscript.pyct import anno, templates


def writes_tuple(node) -> gast.Tuple:
    """Returns the tuple expression of the boxes a construct's bodies write."""
    names = anno.getanno(node, anno.Basic.BOX_WRITES, [])
    return gast.Tuple(elts=[gast.Name(n, gast.Load(), None, None) for n in names], ctx=gast.Load())


class LoopsPass(gast.NodeTransformer):
    def __init__(self, ctx: PassContext):
        self.ctx = ctx
        self.rs = ctx.runtime_name

    def transform(self, fn: gast.FunctionDef) -> gast.FunctionDef:
        fn.body = self._visit_block(fn.body)
        return fn

    def _visit_block(self, stmts):
        out = []
        for stmt in stmts:
            result = self.visit(stmt)
            out.extend(result if isinstance(result, list) else [result])
        return out

    def visit_FunctionDef(self, node):
        if anno.getanno(node, anno.Basic.USER_FUNCTION):
            return node  # nested user functions are left as they are
        return self.generic_visit(node)

    def visit_For(self, node):
        self.generic_visit(node)
        body_name = self.ctx.namer.new("loop_body")
        if isinstance(node.target, gast.Name):
            param, body = node.target.id, node.body
        else:
            param = self.ctx.namer.new("loop_item")
            body = templates.replace("target = item", origin=node, target=node.target, item=param) + node.body
        iterable = node.iter
        if (
            isinstance(iterable, gast.Call)
            and isinstance(iterable.func, gast.Name)
            and iterable.func.id == "range"
            and not iterable.keywords
        ):
            iterable = gast.Call(
                func=templates.replace_as_expression(f"{self.rs}.range_", origin=iterable),
                args=[iterable.func] + iterable.args,
                keywords=[],
            )
            gast.copy_location(iterable, node.iter)
        return templates.replace(
            f"""
            def body_name(param):
                body
            {self.rs}.for_stmt(iterable, body_name, writes=writes)
            """,
            origin=node, body_name=body_name, param=param, body=body, iterable=iterable,
            writes=writes_tuple(node),
        ) + node.orelse

    def visit_While(self, node):
        self.generic_visit(node)
        test_name = self.ctx.namer.new("loop_test")
        body_name = self.ctx.namer.new("loop_body")
        return templates.replace(
            f"""
            def test_name():
                return test
            def body_name():
                body
            {self.rs}.while_stmt(test_name, body_name, writes=writes)
            """,
            origin=node, test_name=test_name, test=node.test, body_name=body_name, body=node.body,
            writes=writes_tuple(node),
        ) + node.orelse
