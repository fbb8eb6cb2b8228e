"""Shared by the `return`, `break` and `continue` converters: jumps become flags.

A jump statement becomes an assignment to a flag (`broke = True`); every
statement that could run after it in the same loop body (or function) is then
guarded by `if not flag:`. The loop and conditional converters turn those guards
into `lax.cond` when the flag is traced, and into plain Python otherwise.
"""

from __future__ import annotations

import gast

from refscript.pyct import anno, templates

_LOOPS = (gast.For, gast.While)


class FlagLowering:
    """Rewrites blocks so that the statements `is_jump` selects set `flag` and skip the rest.

    Subclasses say what a jump becomes (`lower_jump`) and what to do with a
    loop that contains one (`lower_loop`); by default loops are opaque (a `break`
    belongs to its own loop).
    """

    def __init__(self, flag: str, origin):
        self.flag = flag
        self.origin = origin

    def is_jump(self, stmt) -> bool:
        raise NotImplementedError

    def lower_jump(self, stmt) -> list:
        raise NotImplementedError

    def lower_loop(self, loop) -> tuple[list, bool]:
        # A nested loop's body has jumps of its own; its `else` runs in our loop.
        loop.orelse, may_jump = self.block(loop.orelse)
        return [loop], may_jump

    def block(self, stmts) -> tuple[list, bool]:
        """Returns the rewritten statements and whether they may jump."""
        out = []
        for position, stmt in enumerate(stmts):
            new, may_jump = self.statement(stmt)
            out += new
            if may_jump:
                rest, _ = self.block(stmts[position + 1:])
                if rest:
                    out += self.guard(rest)
                return out, True
        return out, False

    def statement(self, stmt) -> tuple[list, bool]:
        if self.is_jump(stmt):
            return self.lower_jump(stmt), True
        if isinstance(stmt, _LOOPS):
            return self.lower_loop(stmt)
        if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            return [stmt], False
        may_jump = False
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(stmt, field, None)
            if isinstance(stmts, list) and stmts:
                new, jumps = self.block(stmts)
                setattr(stmt, field, new)
                may_jump |= jumps
        for handler in getattr(stmt, "handlers", []) or []:
            handler.body, jumps = self.block(handler.body)
            may_jump |= jumps
        return [stmt], may_jump

    def guard(self, stmts) -> list:
        """Returns `if not flag: stmts`, marked as a jump guard.

        Its `else` path is taken only after a jump, so a variable the guarded
        code binds counts as bound after it (see `rs.if_stmt(..., after_jump=True)`).
        """
        (guard,) = templates.replace("if not flag:\n    body", origin=stmts[0], flag=self.flag, body=stmts)
        anno.setanno(guard, anno.Basic.JUMP_GUARD, True)
        return [guard]

    def set_flag(self, origin) -> list:
        return templates.replace("flag = True", origin=origin, flag=self.flag)


def contains(stmts, kinds, into_loops: bool) -> bool:
    """Whether `stmts` contain a statement of `kinds` (not inside nested defs; loops if asked)."""
    for stmt in stmts:
        if isinstance(stmt, kinds):
            return True
        if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            continue
        if isinstance(stmt, _LOOPS) and not into_loops:
            if contains(stmt.orelse, kinds, into_loops):
                return True
            continue
        children = []
        for field in ("body", "orelse", "finalbody"):
            children += getattr(stmt, field, None) or []
        for handler in getattr(stmt, "handlers", []) or []:
            children += handler.body
        if contains(children, kinds, into_loops):
            return True
    return False
