"""The converter's fast paths give what the slow, standard ones give.

Conversion replaces `ast.walk`, `ast.NodeTransformer`, `copy.deepcopy`, gast's
translators and `inspect.getsourcelines` with faster code of its own (see
benchmarks/conversion.py for why). Each is compared here with the standard
function on real code: refscript's own modules, this test suite and the example
kernels.
"""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
import types
from pathlib import Path

import gast
import pytest

from refscript.errors import SourceUnavailableError
from refscript.pyct import anno, gast_translation, naming, parser, templates, traversal
from refscript.pyct.analysis import activity
from tests.modules import import_file

ROOT = Path(__file__).resolve().parents[2]
# Code to compare on: the converter's own tree code and the example kernels.
SOURCES = sorted((ROOT / "refscript" / "pyct").rglob("*.py")) + sorted((ROOT / "examples" / "kernels").glob("*.py"))


def _dump(node) -> str:
    if isinstance(node, gast.AST):
        return gast.dump(node, include_attributes=True)
    return ast.dump(node, include_attributes=True)


@pytest.fixture(scope="module")
def trees():
    return [(path.name, gast.parse(path.read_text())) for path in SOURCES]


def test_walk_and_children_are_the_standard_ones(trees):
    for name, tree in trees:
        assert traversal.walk(tree) == list(ast.walk(tree)), name
        for node in traversal.walk(tree)[:300]:
            assert traversal.children(node) == list(ast.iter_child_nodes(node)), name


_MARKERS = (gast.expr_context, gast.operator, gast.boolop, gast.unaryop, gast.cmpop)


def test_children_but_markers_are_children_less_contexts_and_operators(trees):
    for name, tree in trees:
        for node in traversal.walk(tree)[:300]:
            expected = [c for c in ast.iter_child_nodes(node) if not isinstance(c, _MARKERS)]
            assert traversal.children_but_markers(node) == expected, name
            pushed = ["already there"]
            traversal.push_children(pushed, node)
            assert [c for c in pushed[1:] if c is not None] == expected, name


def test_walk_statements_is_walk_without_the_expressions(trees):
    holders = (gast.stmt, gast.excepthandler, gast.match_case, gast.mod)
    for name, tree in trees:
        assert traversal.walk_statements(tree) == [n for n in ast.walk(tree) if isinstance(n, holders)], name


class _Renames:
    """The same transformer twice: on ast.NodeTransformer and on traversal.Transformer."""

    def visit_Name(self, node):
        if node.id.startswith("_"):
            return gast.copy_location(gast.Name("renamed", node.ctx, None, None), node)
        return node

    def visit_Pass(self, node):
        return None  # removed

    def visit_Expr(self, node):
        self.generic_visit(node)
        return [node, gast.Pass()]  # spliced


class _Standard(_Renames, gast.NodeTransformer):
    pass


class _Fast(_Renames, traversal.Transformer):
    pass


def test_transformer_is_node_transformer(trees):
    for name, tree in trees[:20]:
        expected = _Standard().visit(copy.deepcopy(tree))
        got = _Fast().visit(copy.deepcopy(tree))
        assert _dump(got) == _dump(expected), name


class _CountsContexts:
    """Visits contexts (which transformers without such a visitor skip): each is counted."""

    def __init__(self):
        self.count = 0

    def visit_Store(self, node):
        self.count += 1
        return node


class _StandardCounts(_CountsContexts, gast.NodeTransformer):
    pass


class _FastCounts(_CountsContexts, traversal.Transformer):
    pass


def test_transformer_visits_contexts_when_it_has_a_visitor_for_them(trees):
    total = 0
    for name, tree in trees[:5]:
        expected, got = _StandardCounts(), _FastCounts()
        expected.visit(copy.deepcopy(tree))
        got.visit(copy.deepcopy(tree))
        assert got.count == expected.count, name
        total += got.count
    assert total > 0


class _StatementsOnly(traversal.Transformer):
    statements_only = True

    def visit_Pass(self, node):
        return gast.copy_location(gast.Expr(gast.Constant(None, None)), node)


def test_statements_only_transformer_reaches_statements_in_every_block():
    tree = gast.parse("x = 1\nfor i in y:\n    pass\nelse:\n    if c:\n        pass\n"
                      "try:\n    pass\nexcept E:\n    pass\nfinally:\n    pass")
    _StatementsOnly().visit(tree)
    assert not any(isinstance(n, gast.Pass) for n in gast.walk(tree))


def test_namer_for_nodes_is_for_tree(trees):
    for name, tree in trees:
        assert naming.Namer.for_nodes(traversal.walk(tree))._taken == naming.Namer.for_tree(tree)._taken, name


def test_copy_tree_is_deepcopy(trees):
    for name, tree in trees[:20]:
        for k, node in enumerate(gast.walk(tree)):
            if isinstance(node, gast.stmt) and k % 3 == 0:
                anno.setanno(node, anno.Basic.LIVE_IN, frozenset({"a", "b"}))
                anno.setanno(node, anno.Basic.BOX_WRITES, ["a_ref"])
        expected, got = copy.deepcopy(tree), templates.copy_tree(tree)
        assert _dump(got) == _dump(expected), name
        for original, copied in zip(gast.walk(tree), gast.walk(got)):
            assert copied is not original
            assert anno.getanno(copied, anno.Basic.LIVE_IN) == anno.getanno(original, anno.Basic.LIVE_IN)
            writes = anno.getanno(original, anno.Basic.BOX_WRITES)
            if writes is not None:  # a mutable annotation is the copy's own
                assert anno.getanno(copied, anno.Basic.BOX_WRITES) == writes
                assert anno.getanno(copied, anno.Basic.BOX_WRITES) is not writes


# Every construct whose translation is not field for field (names, parameters, defs, handlers).
_CONSTRUCTS = """
import os.path as p, sys
@decorator(1)
def f(a, /, b: int = 1, *args: str, c, d=2, **kwargs) -> None:
    global g
    x: int = 1
    y = z = lambda q, *r, s=3, **t: q
    try:
        pass
    except (OSError, ValueError) as error:
        raise ValueError(f"{error!r:>10}") from error
    except Exception:
        pass
    else:
        del x
    finally:
        pass
    with open(p) as (h, i), other():
        [k async for k in j if k]
    match y:
        case [1, *rest] | {"k": rest}:
            pass
        case Point(x=0) as point if point:
            pass
    return (n := a[1:2, ::3]), *args

class C(Base, metaclass=Meta):
    def method(self):
        nonlocal m
        yield from self

async def g():
    async with a as b:
        await b
    async for c in d:
        yield c
"""


def test_translations_are_gasts():
    for path in SOURCES + [None]:
        text = path.read_text() if path is not None else _CONSTRUCTS
        tree = gast.parse(text)
        name = path.name if path is not None else "constructs"
        assert _dump(gast_translation.parse(text)) == _dump(tree), name
        assert _dump(gast_translation.gast_to_ast(tree)) == _dump(gast.gast_to_ast(tree)), name
        in_place = gast_translation.gast_to_ast_in_place(copy.deepcopy(tree))
        assert _dump(in_place) == _dump(gast.gast_to_ast(tree)), name
        expected = _dump(gast.ast_to_gast(ast.parse(text)))
        assert _dump(gast_translation.ast_to_gast(ast.parse(text))) == expected, name  # (parses used up)
    assert _dump(ast.parse("x = y + 1")) == _dump(ast.parse("x = y + 1"))  # its shared Load, Add unchanged


def test_template_replacements_are_moved_and_copied_when_placed_twice():
    value = gast.Name("v", gast.Load(), None, None)
    (moved,) = templates.replace("x = value", value=value)
    assert moved.value is value  # handed over, not copied
    (twice,) = templates.replace("x = (value, value)", value=value)
    first, second = twice.value.elts
    assert first is value and second is not value and _dump(second) == _dump(value)
    body = [gast.Pass()]
    (guard,) = templates.replace("if c:\n    body\nelse:\n    body", body=body)
    assert guard.body[0] is body[0] and guard.orelse[0] is not body[0]


def _state(node) -> list:
    """Every node's class and dict items, in order (so the order of fields and positions counts)."""
    return [(sub.__class__.__name__, [(k, v) for k, v in sub.__dict__.items() if not isinstance(v, (gast.AST, list))])
            for sub in gast.walk(node)]


def test_template_builders_build_what_the_templates_give(monkeypatch):
    """Every template call the passes make converting the example kernels, built by the
    template's builder and by copying the parsed template, from copies of the same replacements:
    the same trees, positions, field order and sharing of replacement nodes."""
    import refscript.transpiler

    calls = []
    original = templates.replace

    def recording(template, origin=None, **replacements):
        if origin is not None:
            calls.append((template, copy.deepcopy(origin), copy.deepcopy(replacements)))
        return original(template, origin, **replacements)

    monkeypatch.setattr(templates, "replace", recording)
    for path in sorted((ROOT / "examples" / "kernels").glob("*.py")):
        if path.stem != "run":
            module = _load(path)
            refscript.transpiler.convert(getattr(module, path.stem), cache=False)
    monkeypatch.undo()
    assert len({template for template, _, _ in calls}) >= 10
    for template, origin, replacements in calls:
        given = copy.deepcopy(replacements)
        built = templates.replace(template, origin, **given)
        expected = templates._interpreted(template, origin, copy.deepcopy(replacements))
        assert [_dump(s) for s in built] == [_dump(s) for s in expected], template
        assert [_state(s) for s in built] == [_state(s) for s in expected], template
        for key, value in given.items():  # replacements are moved in, not copied
            if isinstance(value, gast.AST) and len(template.split(key)) == 2:
                assert any(sub is value for s in built for sub in gast.walk(s)), (template, key)


def _functions(module):
    for value in vars(module).values():
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            yield value
        elif isinstance(value, type) and value.__module__ == module.__name__:
            yield from (v for v in vars(value).values() if isinstance(v, types.FunctionType))


def _load(path: Path):
    return import_file(path, f"fast_paths_{path.stem}")


def test_quick_source_lines_are_inspects():
    import refscript.api

    modules = [refscript.api, refscript.errors, parser, templates] + [
        _load(path) for path in sorted((ROOT / "examples" / "kernels").glob("*.py")) if path.stem != "run"]
    count = 0
    for module in modules:
        for fn in _functions(module):
            try:
                exact = inspect.getsourcelines(fn)
            except OSError:  # made by exec (dataclasses): refscript says so
                with pytest.raises(SourceUnavailableError):
                    parser._source_lines(fn)
                continue
            quick = parser._source_lines(fn)
            # The same lines, but for comments after the last statement, which inspect keeps
            # and which change neither the tree nor its positions.
            assert quick[1] == exact[1] and quick[0] == exact[0][:len(quick[0])], fn
            assert all(line.strip().startswith("#") or not line.strip() for line in exact[0][len(quick[0]):]), fn
            count += 1
    assert count > 50


def ends_in_dead_code():
    x = 1
    return x
    print([  # unreachable, no instructions: its lines are found by indentation, and this one ends it
0])


def test_a_def_cut_short_by_the_quick_search_is_read_by_inspect():
    lines, _ = parser._source_lines(ends_in_dead_code)
    assert "0])" not in "".join(lines)  # cut short: the text does not compile
    parsed = parser.parse_function(ends_in_dead_code)
    exact, first = inspect.getsourcelines(ends_in_dead_code)
    assert len(parsed.node.body) == 3 and parsed.node.body[-1].end_lineno == first + len(exact) - 1


def test_parsed_positions_are_the_files():
    def nested(x):
        return x + 1

    for fn in (nested, ends_in_dead_code):
        lines, first = inspect.getsourcelines(fn)
        node = parser.parse_function(fn).node
        assert node.lineno == first and node.col_offset == len(lines[0]) - len(lines[0].lstrip())
        ret = node.body[0]
        assert lines[ret.lineno - first][ret.col_offset:].startswith(textwrap.dedent(lines[1]).split()[0])


def test_translation_places_each_node_as_a_walk_after_it_would():
    tree = gast.parse(_CONSTRUCTS)
    for k, node in enumerate(gast.walk(tree)):
        if k % 3 == 0 and "lineno" in node._attributes:
            node.lineno = None

    def locate(node, inherited):
        if getattr(node, "lineno", None) is None:
            node.lineno = inherited
        return node.lineno + 1

    def walk_after(node, inherited):
        if node._attributes:
            inherited = locate(node, inherited)
        for child in ast.iter_child_nodes(node):
            walk_after(child, inherited)

    expected = gast.gast_to_ast(tree)
    walk_after(expected, 100)
    assert _dump(gast_translation.gast_to_ast(tree, locate=locate, inherited=100)) == _dump(expected)


class _StandardReads(gast.NodeVisitor):
    """`activity.reads` as a plain visitor: the reference its one-walk version is checked against."""

    def __init__(self):
        self.names = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, gast.Load):
            self.names.add(node.id)

    def visit_AugAssign(self, node):
        self.names |= activity.target_names(node.target)
        self.generic_visit(node)

    def _nested(self, bound, parts):
        inner = _StandardReads()
        for part in parts:
            inner.visit(part)
        self.names |= inner.names - bound

    def _visit_all(self, nodes):
        for node in nodes:
            if node is not None:
                self.visit(node)

    def visit_Lambda(self, node):
        self._nested(activity._params(node.args), [node.body])
        self._visit_all(node.args.defaults + node.args.kw_defaults)

    def visit_FunctionDef(self, node):
        self._nested(activity._params(node.args) | _standard_assigned(node.body), node.body)
        self._visit_all(node.decorator_list + node.args.defaults + node.args.kw_defaults)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self._nested(_standard_assigned(node.body), node.body)
        self._visit_all(node.bases + node.decorator_list)

    def visit_ListComp(self, node):
        bound = set().union(*(activity.target_names(g.target) for g in node.generators))
        elements = [node.key, node.value] if isinstance(node, gast.DictComp) else [node.elt]
        self._nested(bound, elements + node.generators)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp


class _StandardAssigned(gast.NodeVisitor):
    def __init__(self):
        self.names = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, (gast.Store, gast.Del)):
            self.names.add(node.id)

    def visit_FunctionDef(self, node):
        self.names.add(node.name)
        for expr in node.decorator_list + node.args.defaults:
            self.visit(expr)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.names.add(node.name)
        for expr in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(expr)

    def visit_Lambda(self, node):
        pass

    def visit_ListComp(self, node):
        for sub in gast.walk(node):
            if isinstance(sub, gast.NamedExpr):
                self.names |= activity.target_names(sub.target)

    visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_ListComp

    def visit_alias(self, node):
        self.names.add((node.asname or node.name).split(".")[0])


def _standard_assigned(stmts):
    visitor = _StandardAssigned()
    for stmt in stmts:
        visitor.visit(stmt)
    return visitor.names


def test_activity_walks_are_plain_visitors(trees):
    for name, tree in trees + [("constructs", gast.parse(_CONSTRUCTS))]:
        memo = {}
        for node in gast.walk(tree):
            if isinstance(node, (gast.stmt, gast.expr, gast.excepthandler)):
                expected = _StandardReads()
                expected.visit(node)
                assert activity.reads(node) == expected.names, (name, gast.dump(node)[:200])
            if isinstance(node, (gast.stmt, gast.excepthandler)):
                assert activity.assigned(node) == _standard_assigned([node]), name
                assert activity.assigned(node, memo) == _standard_assigned([node]), name


def test_activity_annotations_are_what_the_walks_give(trees):
    for name, tree in trees:
        for fn in [n for n in gast.walk(tree) if isinstance(n, gast.FunctionDef)]:
            activity.analyze(fn)
            for stmt in traversal.walk_statements(fn)[1:]:
                if anno.hasanno(stmt, anno.Basic.ASSIGNED):
                    assert anno.getanno(stmt, anno.Basic.ASSIGNED) == activity.assigned(stmt), name
                if anno.hasanno(stmt, anno.Basic.MODIFIED):
                    assert anno.getanno(stmt, anno.Basic.MODIFIED) == activity.modified(stmt), name
                assert activity.annotated_assigned(stmt) == activity.assigned(stmt), name
                assert activity.annotated_modified(stmt) == activity.modified(stmt), name
            assert activity.annotated_assigned(fn.body) == activity.assigned(fn.body), name
            assert activity.annotated_modified(fn.body) == activity.modified(fn.body), name


_REJECTED = [
    "def f(x):\n    def g():\n        yield x\n    return g",
    "def f(x):\n    for i in x:\n        if (y := i):\n            pass",
    "def f(x):\n    def g():\n        nonlocal x\n    return x",
    "def f(x):\n    return [(yield) for i in x]",
    "def f(x):\n    y = x\n    return y  # nothing to reject",
]


@pytest.mark.parametrize("source", _REJECTED)
def test_allow_list_given_the_kinds_rejects_what_it_rejects_without(source):
    from refscript.errors import ConversionError
    from refscript.passes import unsupported
    from refscript.passes.context import PassContext

    def outcome(kinds):
        fn = gast.parse(source).body[0]
        ctx = PassContext("f.py", naming.Namer.for_tree(fn), "rs")
        try:
            unsupported.check(fn, ctx, kinds={sub.__class__ for sub in traversal.walk(fn)} if kinds else None)
        except ConversionError as error:
            return str(error), error.location
        return None

    assert outcome(kinds=True) == outcome(kinds=False)
    assert (outcome(kinds=True) is None) == ("nothing to reject" in source)
