"""Liveness: which names may still be read after (and before) each statement.

Computed structurally, backwards over the tree, with a fixpoint for loops: at a
loop's head the live names are those live after the loop plus those the body
reads before rebinding them. Every statement gets `LIVE_IN` and `LIVE_OUT`.
"""

from __future__ import annotations

import gast

from refscript.pyct import anno
from refscript.pyct.analysis.activity import annotated_assigned, reads, target_names


def analyze(fn: gast.FunctionDef) -> None:
    """Annotates every statement of `fn` with the names live before and after it."""
    _Liveness().live_before(fn.body, set())


def live_before(stmts: list, live_after: set[str]) -> set[str]:
    """Returns the names live before `stmts`, given those live after them."""
    return _Liveness().live_before(stmts, live_after)


class _Liveness:
    """One analysis of one tree. The fixpoints of loops go over their bodies more than once, so
    what each statement and expression reads and binds is remembered (the tree does not change
    during the analysis)."""

    def __init__(self):
        self._reads: dict = {}
        self._assigned: dict = {}

    def reads(self, node) -> set[str]:
        entry = self._reads.get(id(node))
        if entry is None or entry[0] is not node:
            entry = self._reads[id(node)] = (node, frozenset(reads(node)))
        return set(entry[1])

    def assigned(self, node) -> set[str]:
        entry = self._assigned.get(id(node))
        if entry is None or entry[0] is not node:
            entry = self._assigned[id(node)] = (node, frozenset(annotated_assigned(node)))
        return set(entry[1])

    def live_before(self, stmts: list, live_after: set[str]) -> set[str]:
        live = set(live_after)
        for stmt in reversed(stmts):
            anno.setanno(stmt, anno.Basic.LIVE_OUT, frozenset(live))
            live = self._transfer(stmt, live)
            anno.setanno(stmt, anno.Basic.LIVE_IN, frozenset(live))
        return live

    def _transfer(self, stmt, out: set[str]) -> set[str]:
        live_before, reads = self.live_before, self.reads
        if isinstance(stmt, gast.If):
            return reads(stmt.test) | live_before(stmt.body, out) | live_before(stmt.orelse, out)
        if isinstance(stmt, gast.For):
            exit_live = live_before(stmt.orelse, out)
            bound = target_names(stmt.target)
            head = set(exit_live)
            while True:
                body_in = live_before(stmt.body, head)
                new_head = exit_live | (body_in - bound) | (reads(stmt.target) - bound)
                if new_head == head:
                    return head | reads(stmt.iter)
                head = new_head
        if isinstance(stmt, gast.While):
            exit_live = live_before(stmt.orelse, out)
            head = exit_live | reads(stmt.test)
            while True:
                new_head = exit_live | reads(stmt.test) | live_before(stmt.body, head)
                if new_head == head:
                    return head
                head = new_head
        if isinstance(stmt, gast.Try):
            final = live_before(stmt.finalbody, out)
            handlers = set().union(set(), *(live_before(h.body, final) for h in stmt.handlers))
            after_body = live_before(stmt.orelse, final) | handlers
            return live_before(stmt.body, after_body) | handlers
        if isinstance(stmt, gast.With):
            inner = live_before(stmt.body, out)
            bound = set().union(set(), *(target_names(i.optional_vars) for i in stmt.items if i.optional_vars))
            return (inner - bound) | reads(stmt.items)
        if isinstance(stmt, gast.Return):
            return reads(stmt.value)
        if isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            return (out - {stmt.name}) | reads(stmt)
        if isinstance(stmt, gast.AugAssign):
            return out | reads(stmt)
        # Simple statements: what they bind dies, what they read lives.
        return (out - self.assigned(stmt)) | reads(stmt)
