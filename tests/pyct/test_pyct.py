"""The Python-to-Python layer, without JAX: templates, naming, analyses, unparsing, loading."""

import ast
import inspect
import textwrap

import gast
import pytest

from refscript.pyct import anno, loader, naming, parser, templates
from refscript.pyct.analysis import activity, liveness
from refscript.pyct.unparse import unparse


def _fn(source):
    return gast.parse(textwrap.dedent(source)).body[0]


def test_template_splices_names_expressions_and_statements():
    origin = gast.parse("pass").body[0]
    origin.lineno = 42
    body = gast.parse("y = 1\nz = 2").body
    stmts = templates.replace(
        """
        def name(arg):
            body
        target = value
        """,
        origin=origin, name="loop_body", arg="i", body=body,
        target=gast.parse("a[i]").body[0].value, value="v",
    )
    text = unparse(stmts)
    assert "def loop_body(i):" in text and "y = 1" in text and "z = 2" in text
    assert "a[i] = v" in text
    assign = stmts[1]
    assert isinstance(assign.targets[0].ctx, gast.Store)
    assert stmts[0].lineno == 42 and assign.lineno == 42


def test_template_fixes_store_context_of_tuples():
    target = gast.parse("(a, b)").body[0].value
    (stmt,) = templates.replace("t = 1", t=target)
    assert all(isinstance(e.ctx, gast.Store) for e in stmt.targets[0].elts)


def test_namer_avoids_user_names():
    tree = _fn("def f(loop_body, rs):\n    loop_body_1 = rs\n")
    namer = naming.Namer.for_tree(tree)
    assert namer.new("loop_body") == "loop_body_2"
    assert namer.new("rs") == "rs_1"
    assert namer.new("if_true") == "if_true"
    assert namer.new("if_true") == "if_true_1"


def test_activity_separates_rebinding_from_modification():
    fn = _fn(
        """
        def f(a, x):
            s = 0
            a[0] = 1
            b, (c, d) = x
            for i in range(3):
                a[i, 1] += s
            g = lambda q: q + s
            return [k for k in x]
        """
    )
    assert activity.assigned(fn.body) == {"s", "b", "c", "d", "i", "g"}
    assert activity.modified(fn.body) == {"a"}
    assert "q" not in activity.reads(fn.body) and "k" not in activity.reads(fn.body)
    assert {"s", "x", "a", "range"} <= activity.reads(fn.body)


def test_liveness_of_loop_carried_and_dead_variables():
    fn = _fn(
        """
        def f(x, n):
            s = 0.0
            t = 1.0
            for i in range(n):
                tmp = x[i] * 2
                s += tmp
                t = 5.0
            return s
        """
    )
    liveness.analyze(fn)
    loop = fn.body[2]
    assert "s" in anno.getanno(loop, anno.Basic.LIVE_IN)
    assert "tmp" not in anno.getanno(loop, anno.Basic.LIVE_IN)
    assert "t" not in anno.getanno(loop, anno.Basic.LIVE_OUT)
    assert anno.getanno(loop, anno.Basic.LIVE_OUT) == {"s"}


def test_liveness_of_while_condition_and_branches():
    fn = _fn(
        """
        def f(x):
            k = 0
            while k < 3:
                if x > 0:
                    y = 1
                else:
                    y = 2
                k += y
            return 0
        """
    )
    liveness.analyze(fn)
    loop = fn.body[1]
    branch = loop.body[0]
    assert "k" in anno.getanno(loop, anno.Basic.LIVE_IN)
    assert anno.getanno(branch, anno.Basic.LIVE_OUT) >= {"y", "k"}
    assert "y" not in anno.getanno(branch, anno.Basic.LIVE_IN)


GENERATED = textwrap.dedent(
    """
    def f(a, x, n):
        s_ref = rs.box(s, 's')

        def loop_body(i):
            s_ref.value += x[i, 1]
            a_ref[i, ...] = (x[i:-1] if i > 0 else -x[i])
        rs.for_stmt(rs.range_(range, 0, n, 2), loop_body, writes=(s_ref, a_ref))
        p, q = (lambda z: z + 1)(n), [k * 2 for k in range(3)]
        return s_ref.value
    """
)


@pytest.mark.parametrize("backend", ["ast", "astunparse"])
def test_unparse_round_trips_the_constructs_refscript_emits(backend):
    text = unparse(gast.parse(GENERATED), backend=backend)
    assert ast.dump(ast.parse(text)) == ast.dump(ast.parse(GENERATED))


def test_default_unparser_handles_what_astunparse_cannot():
    # astunparse 1.6.3 writes `x[(i, 1:(- 1))]` (invalid) for a slice inside a tuple index,
    # and fails on `match`; this is why `ast.unparse` is the default backend.
    source = "y = x[i, 1:-1]\nmatch y:\n    case 0:\n        pass\n"
    text = unparse(gast.parse(source))
    assert ast.dump(ast.parse(text)) == ast.dump(ast.parse(source))


def test_unparse_rejects_unknown_backend():
    with pytest.raises(ValueError, match="unknown unparse backend"):
        unparse(gast.parse("x = 1"), backend="nope")


def sample(x, y=2):
    return x + y + OFFSET  # noqa: F821  (a global looked up at call time)


def test_parser_keeps_file_positions():
    parsed = parser.parse_function(sample)
    assert parsed.filename == __file__
    _, first = inspect.getsourcelines(sample)
    assert parsed.node.lineno == first
    assert parsed.node.body[0].lineno == first + 1


def test_loader_shares_globals_closure_and_defaults():
    offset = 10

    def closure(x, y=2):
        return x + y + offset

    parsed = parser.parse_function(closure)
    loaded, _ = loader.load_function(parsed.node, closure, "rs", object())
    assert loaded(1) == 13
    assert loaded.__code__.co_filename == __file__
    offset = 20  # closures see later rebinding, as the original does
    assert loaded(1) == 23
    assert "__refscript_factory" not in globals()
