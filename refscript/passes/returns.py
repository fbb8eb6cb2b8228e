"""`return` inside loops and branches becomes a flag and a return slot.

    def f(x):                       def f(x):
        for i in range(n):              returned = False
            if x[i] > 0:                retval = rs.Undefined('the return value', bound_later=True)
                return i      ->        for i in range(n):
        return -1                           if not returned:
                                                if x[i] > 0:
                                                    retval = i
                                                    returned = True
                                        if not returned:
                                            retval = -1
                                            returned = True
                                        return retval

A loop containing a return stops doing anything once `returned` is set (a
`while` also tests it). When every `return` gives a tuple of one length, each
element gets its own slot, so traced control flow can carry them. A function that
may end without `return` starts with `retval = None`, as Python returns None.
Runs first among the converters, before `break`/`continue` and the analyses.
"""

from __future__ import annotations

import gast

from refscript.passes.context import PassContext
from refscript.passes.jumps import FlagLowering, contains
from refscript.pyct import anno, templates, traversal

_CONSTRUCTS = (gast.For, gast.While, gast.If, gast.Try, gast.With)


class _ReturnLowering(FlagLowering):
    def __init__(self, flag: str, slots: list[str], origin, tuple_width):
        super().__init__(flag, origin)
        self.slots = slots
        self.tuple_width = tuple_width  # None: one slot holds the whole value

    def is_jump(self, stmt) -> bool:
        return isinstance(stmt, gast.Return)

    def lower_jump(self, stmt) -> list:
        value = stmt.value if stmt.value is not None else gast.Constant(None, None)
        if self.tuple_width is None:
            targets = gast.Name(self.slots[0], gast.Store(), None, None)
        else:
            targets = gast.Tuple([gast.Name(s, gast.Store(), None, None) for s in self.slots], gast.Store())
        assign = gast.Assign(targets=[targets], value=value, type_comment=None)
        gast.copy_location(assign, stmt)
        templates.copy_missing_locations(assign, stmt)
        return [assign] + self.set_flag(stmt)

    def lower_loop(self, loop):
        loop.body, body_returns = self.block(loop.body)
        loop.orelse, else_returns = self.block(loop.orelse)
        if not body_returns:
            return [loop], else_returns
        loop.body = self.guard(loop.body)  # iterations after a return do nothing
        if isinstance(loop, gast.While):
            loop.test = templates.replace_as_expression(
                "not flag and test", origin=loop.test, flag=self.flag, test=loop.test
            )
        else:  # as after a `break` (passes/break_continue.py)
            anno.setanno(loop, anno.Basic.BREAK_FLAGS, [self.flag])
        if loop.orelse:
            loop.orelse = self.guard(loop.orelse)
        return [loop], True


def transform(fn: gast.FunctionDef, ctx: PassContext) -> gast.FunctionDef:
    """Lowers `fn`'s returns to a flag when some `return` is inside a loop or branch."""
    if not any(contains([s], gast.Return, into_loops=True) for s in fn.body if isinstance(s, _CONSTRUCTS)):
        return fn
    returns = [n for n in _walk_function(fn) if isinstance(n, gast.Return)]
    width = _common_tuple_width(returns)
    namer = ctx.namer
    slots = [namer.new("retval")] if width is None else [namer.new(f"retval_{k}") for k in range(width)]
    for k, slot in enumerate(slots):
        ctx.display_names[slot] = "the return value" if width is None else f"return value {k}"
    flag = namer.new("returned")
    if _may_fall_off(fn.body):
        initial = "None"
    else:
        initial = f"{ctx.runtime_name}.Undefined('the return value', bound_later=True)"
    body, _ = _ReturnLowering(flag, slots, fn, width).block(fn.body)
    prelude = templates.replace("flag = False", origin=fn, flag=flag)
    for slot in slots:
        prelude += templates.replace(f"slot = {initial}", origin=fn, slot=slot)
    result = slots[0] if width is None else "(" + ", ".join(slots) + ",)"
    epilogue = templates.replace(f"return {result}", origin=fn)
    fn.body = prelude + body + epilogue
    return fn


def _walk_function(fn):
    """Nodes of `fn`'s own scope (not of nested defs or lambdas)."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            continue
        stack.extend(traversal.children_but_markers(node))


def _common_tuple_width(returns):
    widths = {len(r.value.elts) if isinstance(r.value, gast.Tuple) else None for r in returns}
    if len(widths) == 1:
        (width,) = widths
        if width and not any(isinstance(e, gast.Starred) for r in returns for e in r.value.elts):
            return width
    return None


def _may_fall_off(stmts) -> bool:
    """Whether control can reach the end of `stmts` without a `return` or `raise`."""
    for stmt in stmts:
        if isinstance(stmt, (gast.Return, gast.Raise)):
            return False
        if isinstance(stmt, gast.If) and stmt.orelse:
            if not _may_fall_off(stmt.body) and not _may_fall_off(stmt.orelse):
                return False
        if _is_endless(stmt):
            return False
    return True


def _is_endless(stmt) -> bool:
    """`while True:` with no `break`: it ends only by returning or raising."""
    return (
        isinstance(stmt, gast.While)
        and isinstance(stmt.test, gast.Constant)
        and stmt.test.value is True
        and not contains(stmt.body, gast.Break, into_loops=False)
    )
