"""`break` and `continue` become flags that guard the rest of the loop body.

    for i in range(n):              broke = False
        if x[i] < 0:                for i in range(n):
            break           ->          if not broke:
        s += x[i]                           if x[i] < 0:
                                                broke = True
                                            if not broke:
                                                s += x[i]

A `for` loop keeps its trip count (iterations after `break` do nothing, so a
static-length loop stays differentiable; the loop passes its flag to the
runtime, which stops the loop there where no derivative is taken); a `while`
loop also tests the flag.
`continue` sets a flag reset at the start of each iteration. A loop's `else`
runs only if the loop did not break. Each loop has its own flags, so a `break`
in an inner loop leaves only that loop. Runs after the `return` converter.
"""

from __future__ import annotations

import gast

from refscript.passes.context import PassContext
from refscript.passes.jumps import FlagLowering, contains
from refscript.pyct import anno, templates, traversal
from refscript.pyct.analysis.activity import target_names


class _JumpLowering(FlagLowering):
    def __init__(self, kind, flag: str, origin):
        super().__init__(flag, origin)
        self.kind = kind

    def is_jump(self, stmt) -> bool:
        return isinstance(stmt, self.kind)

    def lower_jump(self, stmt) -> list:
        return self.set_flag(stmt)


class _Loops(traversal.Transformer):
    statements_only = True  # loops are statements (a lambda holds none)

    def __init__(self, ctx: PassContext, fn: gast.FunctionDef):
        self.ctx = ctx
        self.fn = fn

    def _read_elsewhere(self, loop: gast.For) -> bool:
        """Whether the loop's variables are read outside the loop."""
        names = target_names(loop.target)
        stack = list(self.fn.body)
        while stack:
            node = stack.pop()
            if node is loop:
                continue
            if isinstance(node, gast.Name) and node.id in names and isinstance(node.ctx, gast.Load):
                return True
            stack.extend(traversal.children_but_markers(node))
        return False

    def visit_FunctionDef(self, node):
        return node  # the user's nested functions are left as they are

    visit_Lambda = visit_ClassDef = visit_FunctionDef

    def _loop(self, node):
        self.generic_visit(node)  # inner loops first: their jumps are their own
        before = []
        if contains(node.body, gast.Continue, into_loops=False):
            flag = self.ctx.namer.new("continued")
            body, _ = _JumpLowering(gast.Continue, flag, node).block(node.body)
            node.body = templates.replace("flag = False", origin=node, flag=flag) + body
        if contains(node.body, gast.Break, into_loops=False):
            flag = self.ctx.namer.new("broke")
            lowering = _JumpLowering(gast.Break, flag, node)
            body, _ = lowering.block(node.body)
            if isinstance(node, gast.For) and self._read_elsewhere(node):
                # After a `break` the loop variable keeps the value it had then:
                # bind it only in iterations that run.
                item = self.ctx.namer.new("loop_item")
                body = templates.replace("target = item", origin=node, target=node.target, item=item) + body
                node.target = gast.Name(item, gast.Store(), None, None)
            node.body = lowering.guard(body)
            if isinstance(node, gast.While):
                node.test = templates.replace_as_expression(
                    "not flag and test", origin=node.test, flag=flag, test=node.test
                )
            else:  # where no derivative is taken, the runtime can stop the loop at the break
                anno.setanno(node, anno.Basic.BREAK_FLAGS, anno.getanno(node, anno.Basic.BREAK_FLAGS, []) + [flag])
            if node.orelse:
                node.orelse = lowering.guard(node.orelse)
            before = templates.replace("flag = False", origin=node, flag=flag)
        return before + [node]

    visit_For = visit_While = _loop


def transform(fn: gast.FunctionDef, ctx: PassContext) -> gast.FunctionDef:
    """Lowers every `break` and `continue` in `fn` to flags."""
    loops = _Loops(ctx, fn)
    body = []
    for stmt in fn.body:
        result = loops.visit(stmt)
        body.extend(result if isinstance(result, list) else [result])
    fn.body = body
    return fn
