"""Logical expressions: `and`, `or`, `not`, `a if c else b` and chained comparisons,
on static or traced operands.

    x[0] > 0 and x[1] > 0      ->  rs.and_(lambda: x[0] > 0, lambda: x[1] > 0)
    not done                   ->  rs.not_(done)
    a if c else b              ->  rs.if_exp(c, lambda: a, lambda: b)
    0 <= x[i] < n              ->  rs.compare(lambda: 0, 'LtE', lambda: x[i], 'Lt', lambda: n)

Operands are wrapped in lambdas so the runtime can keep Python's short-circuit
evaluation when they are Python values; traced operands give `jnp.where` /
`jnp.logical_not` / `lax.cond` with the same meaning.
"""

from __future__ import annotations

import gast

from refscript.passes.context import Converter


def _thunk(expr) -> gast.Lambda:
    return gast.Lambda(
        args=gast.arguments(
            args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
        ),
        body=expr,
    )


class LogicalPass(Converter):
    def visit_Lambda(self, node):
        return node  # a user's lambda is a nested function: left as it is

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        name = "and_" if isinstance(node.op, gast.And) else "or_"
        return self.runtime_call(name, [_thunk(v) for v in node.values], node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.Not):
            return self.runtime_call("not_", [node.operand], node)
        return node

    def visit_IfExp(self, node):
        self.generic_visit(node)
        return self.runtime_call("if_exp", [node.test, _thunk(node.body), _thunk(node.orelse)], node)

    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) == 1:
            return node
        args = [_thunk(node.left)]
        for op, right in zip(node.ops, node.comparators):
            args += [gast.Constant(type(op).__name__, None), _thunk(right)]
        return self.runtime_call("compare", args, node)
