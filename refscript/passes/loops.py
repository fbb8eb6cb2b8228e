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
with a run-time trip count; one whose bounds use enclosing loop indices goes
through `rs.bounded_range(range, lambda i: (i + 1, n), i)`, so the runtime can
find its largest trip count. A loop's `else` block runs after the loop (there is
no `break` to skip it). Runs after the boxing pass, which annotated `BOX_WRITES`.
"""

from __future__ import annotations

import gast

from refscript.passes import parallel
from refscript.passes.context import Converter
from refscript.pyct import anno, templates, traversal
from refscript.pyct.analysis.activity import reads


def _target_names(target) -> list[str]:
    if isinstance(target, gast.Name):
        return [target.id]
    if isinstance(target, (gast.Tuple, gast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    return []


def _box_name(node) -> str | None:
    """The box whose value `node` reads or writes (`offset_ref.value`: `offset_ref`), else None."""
    if isinstance(node, gast.Attribute) and node.attr == "value" and isinstance(node.value, gast.Name):
        return node.value.id
    return None


def _is_box_value(node) -> bool:
    return _box_name(node) is not None and isinstance(node.ctx, gast.Store)


def _binding(stmt, param: str):
    """The box `stmt` binds from `param` (`i_ref.value = param`), or None."""
    if (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and _is_box_value(stmt.targets[0])
            and isinstance(stmt.value, gast.Name) and stmt.value.id == param):
        return stmt.targets[0].value.id
    return None


def _only_read(box: str, body, binding) -> bool:
    """Whether `body` uses `box` only to read its value, apart from `binding`."""
    reading = set()
    for stmt in body:
        for node in traversal.walk(stmt):
            if node is binding.targets[0]:
                reading.add(id(node.value))
            elif isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) and node.value.id == box:
                if node.attr != "value" or not isinstance(node.ctx, gast.Load):
                    return False
                reading.add(id(node.value))
            elif isinstance(node, gast.Name) and node.id == box and id(node) not in reading:
                return False  # the box itself is used (passed, written through)
    return True


def _read_parameter_after_binding(stmts: list, param: str, body) -> bool:
    """Finds `i_ref.value = param` in `stmts` (or in the `if`s there: the jump
    lowering guards the binding) and, if nothing else in the loop body writes the
    box, makes the statements after it read `param`."""
    for k, stmt in enumerate(stmts):
        box = _binding(stmt, param)
        if box is not None:
            if not _only_read(box, body, stmt):
                return False
            reads_param = _ReadParameter(box, param)
            stmts[k + 1:] = [reads_param.visit(s) for s in stmts[k + 1:]]
            return True
        if isinstance(stmt, gast.If) and (_read_parameter_after_binding(stmt.body, param, body)
                                          or _read_parameter_after_binding(stmt.orelse, param, body)):
            return True
    return False


class _ReadParameter(traversal.Transformer):
    """Replaces reads of `box.value` with the loop body's parameter (not inside the
    user's nested functions, which may run after the loop and read the box)."""

    def __init__(self, box: str, param: str):
        self.box, self.param = box, param

    def visit_Attribute(self, node):
        if isinstance(node.value, gast.Name) and node.value.id == self.box and isinstance(node.ctx, gast.Load):
            return gast.copy_location(gast.Name(self.param, gast.Load(), None, None), node)
        return self.generic_visit(node)

    def visit_FunctionDef(self, node):
        return node

    visit_Lambda = visit_ClassDef = visit_FunctionDef


def writes_tuple(node) -> gast.Tuple:
    """Returns the tuple expression of the boxes a construct's bodies write."""
    names = anno.getanno(node, anno.Basic.BOX_WRITES, [])
    return gast.Tuple(elts=[gast.Name(n, gast.Load(), None, None) for n in names], ctx=gast.Load())


class LoopsPass(Converter):
    statements_only = True  # its visitors all handle statements

    def transform(self, fn: gast.FunctionDef) -> gast.FunctionDef:
        # Names the enclosing `for` targets bind: candidate loop indices (`i` of
        # `range`, `reversed(range)`, `enumerate`); the runtime knows which really are.
        self._loop_indices: list[list[str]] = []
        return super().transform(fn)

    def visit_For(self, node):
        if parallel.is_automatic(node) and not isinstance(node.target, gast.Name):
            # Its variable is boxed, read after the loop: the last index, as only a
            # sequential loop leaves it.
            parallel.keep_sequential(node)
        if _is_box_value(node.target) and not parallel.is_parallel(node):  # prange: an error in lower()
            # The loop variable is boxed (read after the loop): bind the box from the
            # body function's parameter.
            box = node.target.value.id
            param = self.ctx.namer.new(box[:-len("_ref")] if box.endswith("_ref") else "loop_item")
            node.body = templates.replace("target = param", origin=node, target=node.target, param=param) + node.body
            node.target = gast.Name(param, gast.Store(), None, None)
        if isinstance(node.target, gast.Name):
            # Where the body binds a box from the parameter and nothing else writes
            # it, read the parameter: inner loops then see a known loop index
            # (`range(i)` stays a fixed-length masked loop) and reads are cheaper.
            _read_parameter_after_binding(node.body, node.target.id, node.body)
        self._loop_indices.append(_target_names(node.target))
        self.generic_visit(node)
        self._loop_indices.pop()
        body_name = self.ctx.namer.new("loop_body")
        if isinstance(node.target, gast.Name):
            param, body = node.target.id, node.body
        else:
            param = self.ctx.namer.new("loop_item")
            body = templates.replace("target = item", origin=node, target=node.target, item=param) + node.body
        iterable = self._ranges(node.iter)
        if parallel.is_parallel(node):  # a prange loop the dependence analysis accepted
            return parallel.lower(self, node, body_name, body, iterable, writes_tuple(node)) + node.orelse
        flags = anno.getanno(node, anno.Basic.BREAK_FLAGS)
        broke = f", broke={flags[0]}" if flags and len(flags) == 1 else f", broke=({', '.join(flags)})" if flags else ""
        return templates.replace(
            f"""
            def body_name(param):
                body
            {self.rs}.for_stmt(iterable, body_name, writes=writes{broke})
            """,
            origin=node, body_name=body_name, param=param, body=body, iterable=iterable,
            writes=writes_tuple(node),
        ) + node.orelse

    def _ranges(self, header):
        """Routes the `range(...)` calls of a `for` header (the calls pass left them
        bare, also inside `reversed`/`enumerate`/`zip`) through the runtime."""
        if parallel.is_range_call(header):
            return self._range(header)
        if isinstance(header, gast.Call):
            header.args = [self._ranges(a) for a in header.args]
        return header

    def _range(self, call):
        """Routes `range(...)` through the runtime; bounds that use enclosing loop
        indices (`range(i + 1, n)`) are also given as a function of those indices,
        so the runtime can find the largest trip count."""
        indices = [i for names in self._loop_indices for i in names]
        used = [i for i in dict.fromkeys(reversed(indices)) if i in reads(call.args)]
        if not used:
            return self.runtime_call("range_", [call.func] + call.args, call)
        bounds = gast.Lambda(
            args=gast.arguments(
                args=[gast.Name(i, gast.Param(), None, None) for i in used], posonlyargs=[],
                vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[],
            ),
            body=gast.Tuple(elts=call.args, ctx=gast.Load()),
        )
        return self.runtime_call(
            "bounded_range", [call.func, bounds] + [gast.Name(i, gast.Load(), None, None) for i in used], call
        )

    def visit_While(self, node):
        geometric = _scales_tested_box(node)
        self.generic_visit(node)
        test_name = self.ctx.namer.new("loop_test")
        body_name = self.ctx.namer.new("loop_body")
        flag = ", geometric=True" if geometric else ""
        return templates.replace(
            f"""
            def test_name():
                return test
            def body_name():
                body
            {self.rs}.while_stmt(test_name, body_name, writes=writes{flag})
            """,
            origin=node, test_name=test_name, test=node.test, body_name=body_name, body=node.body,
            writes=writes_tuple(node),
        ) + node.orelse


_SCALING = (gast.Mult, gast.Div, gast.FloorDiv, gast.LShift, gast.RShift)


def _box_value(node, boxes) -> str | None:
    """The box `node` reads or writes (`offset_ref.value`) if it is one of `boxes`, else None."""
    box = _box_name(node)
    return box if box in boxes else None


def _scales_tested_box(node: gast.While) -> bool:
    """Whether the `while` `node`'s test reads a box that its body only scales (`offset *= 2`,
    `bit >>= 1`, `n = n // 2`): then the loop runs logarithmically many times, and the
    runtime unrolls it while its test is a Python value (`rs.while_stmt(geometric=True)`)."""
    written = set(anno.getanno(node, anno.Basic.BOX_WRITES, []))
    tested = {_box_value(sub, written) for sub in traversal.walk(node.test)} - {None}
    if not tested:
        return False
    scaled, other = set(), set()
    scaling_targets = set()
    for stmt in node.body:
        # One walk: an assignment comes before its target, so a scaling target is known as one
        # by the time the walk reaches it.
        for sub in traversal.walk(stmt):
            kind = sub.__class__
            if kind is gast.Attribute:
                box = _box_value(sub, tested)
                if box is not None and isinstance(sub.ctx, gast.Store) and id(sub) not in scaling_targets:
                    other.add(box)
                continue
            target = box = None
            if kind is gast.AugAssign and isinstance(sub.op, _SCALING):
                target = sub.target
                box = _box_value(target, tested)
            elif (kind is gast.Assign and len(sub.targets) == 1 and isinstance(sub.value, gast.BinOp)
                  and isinstance(sub.value.op, _SCALING)):
                target = sub.targets[0]
                box = _box_value(target, tested)
                if box not in (_box_value(sub.value.left, tested), _box_value(sub.value.right, tested)):
                    box = None
            if box is not None:
                scaled.add(box)
                scaling_targets.add(id(target))
    return bool(scaled - other)
