"""`assert` becomes `rs.assert_`, which checks traced conditions when the code runs.

    assert x[i] >= 0, "negative"   ->   rs.assert_(x[i] >= 0, lambda: 'negative')

On a Python value it is Python's `assert`. On a traced value it is checked at run
time when the function was compiled with `refscript.jit(..., checks=True)`
(through `jax.experimental.checkify`), and skipped otherwise.
"""

from __future__ import annotations

import gast

from refscript.passes.context import Converter


class AssertsPass(Converter):
    statements_only = True  # its visitors all handle statements

    def visit_Assert(self, node):
        message = gast.Constant(None, None)
        if node.msg is not None:
            message = gast.Lambda(
                args=gast.arguments(
                    args=[], posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                    defaults=[],
                ),
                body=node.msg,
            )
        call = self.runtime_call("assert_", [node.test, message], node)
        return gast.copy_location(gast.Expr(value=call), node)
