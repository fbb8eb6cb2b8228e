"""Parallel loops: `for i in prange(n)` is checked for dependences, then handed to `rs.parallel_for`.

    for i in refscript.prange(n):        def loop_body(i):
        out[i] = x[i] * 2           ->       out_ref[i] = x[i] * 2
        total += x[i]                        total_ref.value += x[i]
                                         rs.parallel_for(rs.convert(refscript.prange)(n), loop_body,
                                             writes=(out_ref, total_ref),
                                             owned={'out': (0, lambda i: i)}, reductions={'total': '+'})

`check` runs on the user's tree, before the jump converters (a `break` in a
prange body is an error, not a flag): it finds the loops whose header calls
`prange`, runs the dependence analysis on each and raises the first dependence
as a `ConversionError` at its line; an accepted loop is annotated with its plan.
`lower` is called by the loop converter for annotated loops: `owned` gives, for
each array the body writes, the axis and the index each iteration owns (taken
from the rewritten body, so names held in boxes are read through them).

With `refscript.jit(vectorize=True)`, `check` also annotates the `range` loops
the analysis accepts without reductions (and without a `while` inside), and
`lower` passes `automatic=True`: the runtime vectorises them
where it can and runs the others as the sequential loop.
"""

from __future__ import annotations

import copy
import enum

import gast

from refscript.passes.context import PassContext
from refscript.pyct import anno, templates, traversal
from refscript.pyct.analysis import dependence


class Key(enum.Enum):
    """Annotation keys of this pass."""

    AUTOMATIC = "True on a range loop found independent (vectorize=True), not a prange"


def check(fn: gast.FunctionDef, ctx: PassContext, vectorize: bool = False) -> None:
    """Raises `ConversionError` at the first loop-carried dependence in a prange loop of `fn`.

    With `vectorize`, a `for` over `range(...)` (not inside a prange loop) whose body the
    analysis accepts without reductions (they would add in another order) is annotated as a
    prange loop would be, and `Key.AUTOMATIC`; one it does not accept stays as it is, and so
    does one holding a `while` loop: vectorised, every iteration would run that loop as long
    as the longest one does (mandelbrot's loops as prange loops: 2.0x the time of the range
    loops at 200 x 200, 3.2x at 16 x 16, on CPU). (A `while` this cannot see, in a function
    the body calls or defines, keeps the loop sequential when it runs: runtime/parallel.py.)
    """
    automatic = []
    # Breadth first, statements only (a loop is one): the first dependence reported is that of
    # the outermost, first loop. Entries: (statement, whether a prange loop holds it).
    queue = [(stmt, False) for stmt in fn.body]
    position = 0
    while position < len(queue):
        node, in_prange = queue[position]
        position += 1
        if isinstance(node, (gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            continue  # converted on their own, when called
        if isinstance(node, gast.For) and dependence.is_prange_call(node.iter):
            result = dependence.analyze(node)
            if isinstance(result, dependence.Dependence):
                raise ctx.error(result.node, result.message, result.hint)
            anno.setanno(node, dependence.Key.PLAN, result)
            in_prange = True
        elif vectorize and not in_prange and isinstance(node, gast.For) and is_range_call(node.iter):
            result = dependence.analyze(node)
            if isinstance(result, dependence.ParallelPlan) and result.owned and not result.reductions:
                anno.setanno(node, dependence.Key.PLAN, result)
                anno.setanno(node, Key.AUTOMATIC, True)
                automatic.append(node)
        queue += [(stmt, in_prange) for stmt in traversal.child_statements(node)]
    for node in automatic:
        if any(isinstance(sub, gast.While) for sub in _statements_in(node.body)):
            keep_sequential(node)


def _statements_in(stmts) -> list:
    """The statements in `stmts` and under them, but not in nested defs and classes."""
    found = []
    for stmt in stmts:
        found.append(stmt)
        if not isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
            found += _statements_in(traversal.child_statements(stmt))
    return found


def is_range_call(node) -> bool:
    """Whether `node` (a `for` header, or a call in one) is a plain `range(...)` call."""
    return (isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "range"
            and not node.keywords and not any(isinstance(a, gast.Starred) for a in node.args))


def is_parallel(node) -> bool:
    """Whether `node` is a prange loop the dependence analysis accepted (or, with vectorize=True,
    a range loop it found independent)."""
    return anno.hasanno(node, dependence.Key.PLAN)


def is_automatic(node) -> bool:
    """Whether `node` is a range loop `check` found independent (vectorize=True)."""
    return anno.getanno(node, Key.AUTOMATIC, False)


def keep_sequential(node) -> None:
    """Makes a range loop `check` found independent an ordinary loop again (the loop converter
    found what the analysis could not see: its variable is read after the loop)."""
    anno.delanno(node, dependence.Key.PLAN)
    anno.delanno(node, Key.AUTOMATIC)


def lower(converter, node: gast.For, body_name: str, body: list, iterable, writes) -> list:
    """Returns the statements running an annotated prange loop (its `else` excluded)."""
    plan = anno.getanno(node, dependence.Key.PLAN)
    ctx = converter.ctx
    if not isinstance(node.target, gast.Name):
        raise ctx.error(
            node, f"the prange loop variable {plan.index!r} is read after the loop, which would give "
            "the last index only in a sequential loop",
            "use the loop's last index explicitly after the loop (n - 1)",
        )
    owned = _owned_indices(node, plan)
    keywords = [gast.keyword("writes", writes)]
    if owned:
        keywords.append(gast.keyword("owned", gast.Dict(
            keys=[gast.Constant(name, None) for name in owned],
            values=[gast.Tuple([gast.Constant(axis, None), _index_function(plan.index, index)], gast.Load())
                    for name, (axis, index) in owned.items()],
        )))
    if is_automatic(node):
        keywords.append(gast.keyword("automatic", gast.Constant(True, None)))
    if plan.reductions:
        keywords.append(gast.keyword("reductions", gast.Dict(
            keys=[gast.Constant(name, None) for name in plan.reductions],
            values=[gast.Constant(op, None) for op in plan.reductions.values()],
        )))
    call = converter.runtime_call("parallel_for", [iterable, gast.Name(body_name, gast.Load(), None, None)], node)
    call.keywords = keywords
    templates.copy_missing_locations(call, node)
    return templates.replace(
        """
        def body_name(index):
            body
        """,
        origin=node, body_name=body_name, index=plan.index, body=body,
    ) + [gast.copy_location(gast.Expr(value=call), node)]


def _owned_indices(node, plan) -> dict:
    """Returns `{array: (axis, index expression)}`, the expressions as the rewritten body has them."""
    found = {}
    for sub in traversal.walk(gast.Module(body=node.body, type_ignores=[])):
        marks = anno.getanno(sub, dependence.Key.OWNED_ACCESS, {}) if isinstance(sub, gast.Subscript) else {}
        key = marks.get(plan.loop)
        if key is not None and key[0] not in found:
            name, axis = key
            found[name] = (axis, copy.deepcopy(dependence.index_elements(sub)[axis]))
    return {name: found[name] for name in plan.owned if name in found}


def _index_function(index: str, expression) -> gast.Lambda:
    return gast.Lambda(
        args=gast.arguments(
            args=[gast.Name(index, gast.Param(), None, None)], posonlyargs=[], vararg=None,
            kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[],
        ),
        body=expression,
    )
