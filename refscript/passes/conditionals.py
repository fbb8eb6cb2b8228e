"""Conditionals: `if`/`elif`/`else` become branch functions handed to `rs.if_stmt`.

    if x[i] > 0:                    def if_true():
        s_ref.value += x[i]   ->        s_ref.value += x[i]
    else:                           def if_false():
        s_ref.value -= 1.0              s_ref.value -= 1.0
                                    rs.if_stmt(x[i] > 0, if_true, if_false, writes=(s_ref,))

`elif` is an `if` inside `else`, converted the same way. A static predicate runs
one branch as plain Python at trace time; a traced one becomes `lax.cond`.
"""

from __future__ import annotations

from refscript.passes.context import Converter
from refscript.passes.loops import writes_tuple
from refscript.pyct import anno, templates


class ConditionalsPass(Converter):
    statements_only = True  # its visitors all handle statements

    def visit_If(self, node):
        self.generic_visit(node)
        true_name = self.ctx.namer.new("if_true")
        if not node.orelse:
            # A jump guard's `else` is reached only after a jump: see rs.if_stmt.
            after_jump = ", after_jump=True" if anno.getanno(node, anno.Basic.JUMP_GUARD) else ""
            return templates.replace(
                f"""
                def true_name():
                    body
                {self.rs}.if_stmt(test, true_name, None, writes=writes{after_jump})
                """,
                origin=node, true_name=true_name, body=node.body, test=node.test, writes=writes_tuple(node),
            )
        false_name = self.ctx.namer.new("if_false")
        return templates.replace(
            f"""
            def true_name():
                body
            def false_name():
                orelse
            {self.rs}.if_stmt(test, true_name, false_name, writes=writes)
            """,
            origin=node, true_name=true_name, false_name=false_name, body=node.body,
            orelse=node.orelse, test=node.test, writes=writes_tuple(node),
        )
