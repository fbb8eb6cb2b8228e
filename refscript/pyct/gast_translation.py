"""`gast.parse`, `gast.ast_to_gast` and `gast.gast_to_ast`, faster.

gast translates between its trees and the standard library's with a
`NodeTransformer` that finds each node's visitor with a `getattr` and rebuilds
most nodes from a dict comprehension over `hasattr` checks. Conversion
translates twice (the user's source, the generated tree), so this module
translates with a table made once per node class instead: the other tree's
class, the fields to copy, the position attributes to copy. Most classes are
the same in both trees (same name, same fields); the few that differ have a
translation of their own here (names, parameters, `arguments`, the
`type_params` gast adds to defs), and any other class gast translates in a
special way (`ExceptHandler`, the type parameters of Python 3.12) is handed to
gast's own visitor, whose children come back here. The trees are the ones gast
makes (tests/pyct/test_fast_paths.py compares them on real code).

`gast_to_ast(node, locate=...)` also places the nodes of the new tree as it
builds them (the loader gives generated code its positions that way, without a
second walk). The translations made for a single use (`ast.parse`'s tree into
gast's, the generated tree for `compile`) are made *in place*: a node's class
changes and it keeps its dict, rather than a copy of each node being built.
"""

from __future__ import annotations

import ast

import gast

from refscript.pyct import traversal

_AST = ast.AST
_MISSING = object()
_POSITIONS = ("lineno", "col_offset", "end_lineno", "end_col_offset")

try:
    from gast.ast3 import Ast3ToGAst as _GastToGastVisitor
    from gast.ast3 import GAstToAst3 as _GastToAstVisitor
except ImportError:  # pragma: no cover - another gast layout
    _GastToGastVisitor = _GastToAstVisitor = None


def _copy_location(new_state: dict, old_node) -> None:
    """`ast.copy_location(new, old_node)` for nodes that both have positions, as gast uses it."""
    old_state = old_node.__dict__
    for attr in _POSITIONS:
        value = old_state.get(attr, _MISSING)
        if value is _MISSING:
            value = getattr(old_node, attr, _MISSING)
            if value is _MISSING:
                continue
        if value is not None or attr.startswith("end_"):
            new_state[attr] = value


class _Translator:
    """Translates trees into the classes of `target_module`; one instance per direction.

    `_specs` maps a node class to `(target class, fields, markers, kept, has_position,
    special)`: the new node gets the target's `fields` and `markers` (translated) and the
    positions the old one has (`kept`: all three), unless `special` (a function of the
    translator, its visit function, the node, `locate` and the inherited position) makes it.
    `markers` are the fields that hold contexts and operators (`ctx`, `op`, `ops`), translated
    by a look-up in `markers` (a source class: its one translation) rather than a visit: a
    third of the nodes of ordinary code are contexts and operators.
    """

    def __init__(self, target_module, gast_visitor, specials: dict, absent: dict, in_place: bool):
        self.target_module = target_module
        # Whether the nodes of the tree translated become the new tree's (a tree made for it,
        # `ast.parse`'s): their class changes, their dicts are kept. Contexts and operators
        # are never changed (`ast.parse` shares one of each), only replaced.
        self.in_place = in_place
        self.gast_visitor = gast_visitor
        self.specials = specials
        self.absent = absent  # target fields the source class lacks: their value (a factory)
        self._specs: dict = {}
        self._gast_methods = _own_visitors(gast_visitor) if gast_visitor is not None else {}
        self._shared: dict = {}
        self.markers: dict = {}  # a context or operator class: the one instance it becomes
        self._plain = None
        self._shim = None

    def _spec(self, cls) -> tuple:
        name = cls.__name__
        target = getattr(self.target_module, name, None)
        special = None
        if name in self.specials:
            special = self.specials[name]
        elif target is None:
            special = _dropped  # not part of the other tree (gast's generic visit gives None)
        elif name in self._gast_methods and name not in _GENERIC_IN_GAST:
            special = _by_gast(self._gast_methods[name])
        elif any(field not in cls._fields and field not in self.absent for field in target._fields):
            special = _by_gast(None)  # a field to make up: gast's generic visit knows how
        fields = target._fields if target is not None else ()
        positions = tuple(a for a in _POSITIONS if a in cls._attributes and a in getattr(target, "_attributes", ()))
        markers = tuple(field for field in fields if field in traversal.MARKER_FIELDS)
        spec = (target, tuple(field for field in fields if field not in traversal.MARKER_FIELDS), markers,
                frozenset(fields + positions), bool(positions), special)
        self._specs[cls] = spec
        return spec

    def translate(self, node, locate=None, inherited=None):
        """The translation of `node`; `locate(new_node, inherited)`, if given, places each new
        node that has positions before its children are made, and returns what they inherit."""
        if locate is None:
            visit = self._plain
            if visit is None:
                visit = self._plain = self._visitor(None)
            return visit(node, None)
        return self._visitor(locate)(node, inherited)

    def _visitor(self, locate):
        """The translating function, placing with `locate` (None: not placing)."""
        specs = self._specs
        absent = self.absent
        shared = self._shared
        translated_markers = self.markers
        in_place = self.in_place

        def visit(node, inherited):
            cls = node.__class__
            spec = specs.get(cls)
            if spec is None:
                spec = self._spec(cls)
            target, fields, markers, kept, has_position, special = spec
            if special is not None:
                return special(self, visit, node, locate, inherited)
            if not kept:  # contexts and operators: no fields, no positions
                new = shared.get(target)
                if new is None:
                    new = shared[target] = target()
                if target is not None:
                    translated_markers[cls] = new
                return new
            state = node.__dict__
            if in_place:  # (what the other class lacks stays in the dict, unread)
                node.__class__ = target
                new, new_state = node, state
            elif kept.issuperset(state):  # as a node of a parsed tree: fields and positions only
                new = target.__new__(target)
                new_state = new.__dict__
                new_state.update(state)
            else:  # without what the other class lacks, and annotations
                new = target.__new__(target)
                new_state = new.__dict__
                for key in kept:
                    if key in state:
                        new_state[key] = state[key]
            if locate is not None and has_position:
                inherited = locate(new, inherited)
            for field in fields:
                value = new_state.get(field, _MISSING)
                if value is _MISSING:
                    value = getattr(node, field, _MISSING)
                    if value is _MISSING:
                        if field in absent:
                            new_state[field] = absent[field]()
                        continue
                    new_state[field] = value
                if value.__class__ is list:
                    new_state[field] = [visit(item, inherited) if isinstance(item, _AST) else item for item in value]
                elif isinstance(value, _AST):
                    new_state[field] = visit(value, inherited)
            for field in markers:
                value = new_state.get(field)
                if value.__class__ is list:  # the operators of a comparison
                    new_state[field] = [translated_markers.get(item.__class__) or visit(item, inherited)
                                        for item in value]
                elif isinstance(value, _AST):
                    new_state[field] = translated_markers.get(value.__class__) or visit(value, inherited)
            return new

        return visit

    def shim(self):
        """An instance of gast's visitor class whose visits of children come back here (not
        placing them: what it makes is placed as a whole)."""
        if self._shim is None:
            translator = self

            class Shim(self.gast_visitor):
                def visit(self, node):
                    return translator.translate(node)

                def _visit(self, node):
                    if isinstance(node, _AST):
                        return translator.translate(node)
                    if isinstance(node, list):
                        return [self._visit(n) for n in node]
                    return node

            self._shim = Shim()
        return self._shim


def _own_visitors(visitor_class) -> dict:
    """gast's `visit_<Class>` methods of `visitor_class` (not those of `ast.NodeTransformer`)."""
    found = {}
    for cls in reversed(visitor_class.__mro__):
        if cls in (object, ast.NodeVisitor, ast.NodeTransformer):
            continue
        for key, value in vars(cls).items():
            if key.startswith("visit_"):
                found[key[len("visit_"):]] = value
    return found


# gast visitors that only do, on the Pythons refscript supports, what the generic translation
# does: build the other class from the fields it has (dropping gast's `type_params` on 3.10 and
# 3.11, whose defs have none; `type_comment` of an assignment is None either way).
_GENERIC_IN_GAST = frozenset({"Assign", "FunctionDef", "AsyncFunctionDef", "ClassDef"})


def _dropped(translator, visit, node, locate, inherited):
    return None


def _by_gast(method):
    """A special translation by gast's visitor `method` (its generic visit if None), whose
    children come back to the fast translation; the result is placed afterwards."""

    def special(translator, visit, node, locate, inherited):
        shim = translator.shim()
        new = method(shim, node) if method is not None else shim.generic_visit(node)
        if locate is not None and new is not None:
            _locate_tree(new, locate, inherited)
        return new

    return special


def _locate_tree(node, locate, inherited) -> None:
    """Calls `locate` on every node of the finished tree `node` that has positions, top down."""
    if node._attributes:
        inherited = locate(node, inherited)
    for child in ast.iter_child_nodes(node):
        _locate_tree(child, locate, inherited)


# Translations of the classes that differ between the trees.

def _visit_value(visit, value, inherited):
    """`value` (a node, a list, None or a plain value) with its nodes translated by `visit`."""
    if isinstance(value, _AST):
        return visit(value, inherited)
    if value.__class__ is list:
        return [visit(item, inherited) if isinstance(item, _AST) else item for item in value]
    return value


def _marker(translator, visit, value, inherited):
    """The translation of a context (or operator) `value`: `_visit_value`, with the look-up."""
    translated = translator.markers.get(value.__class__)
    return translated if translated is not None else _visit_value(visit, value, inherited)


def _name_to_ast(translator, visit, node, locate, inherited):
    if translator.in_place:
        new = node
        new.__class__ = ast.Name
        state = new.__dict__
        for attr in ("lineno", "col_offset"):  # as ast.copy_location: None is no position
            if attr in state and state[attr] is None:
                del state[attr]
    else:
        new = ast.Name.__new__(ast.Name)
        state = new.__dict__
        state["id"] = node.id
        _copy_location(state, node)
    if locate is not None:
        inherited = locate(new, inherited)
    state["ctx"] = _marker(translator, visit, node.ctx, inherited)
    return new


def _parameter_to_ast(translator, visit, node, locate, inherited):
    """A gast parameter (a `Name` in `Param` context) as an `ast.arg`."""
    if node is None:
        return None
    new = ast.arg.__new__(ast.arg)
    state = new.__dict__
    state["arg"] = node.id
    _copy_location(state, node)
    if locate is not None:
        inherited = locate(new, inherited)
    state["annotation"] = _visit_value(visit, node.annotation, inherited)
    state["type_comment"] = node.type_comment
    return new


def _arguments_to_ast(translator, visit, node, locate, inherited):
    def parameter(name):
        return _parameter_to_ast(translator, visit, name, locate, inherited)

    new = ast.arguments.__new__(ast.arguments)
    new.__dict__.update(
        posonlyargs=[parameter(a) for a in node.posonlyargs],
        args=[parameter(a) for a in node.args],
        vararg=parameter(node.vararg),
        kwonlyargs=[parameter(a) for a in node.kwonlyargs],
        kw_defaults=_visit_value(visit, node.kw_defaults, inherited),
        kwarg=parameter(node.kwarg),
        defaults=_visit_value(visit, node.defaults, inherited),
    )
    return new


def _name_to_gast(translator, visit, node, locate, inherited):
    if translator.in_place:  # (a parsed tree's names have all their positions)
        new = node
        new.__class__ = gast.Name
        state = new.__dict__
    else:
        new = gast.Name.__new__(gast.Name)
        state = new.__dict__
        state["id"] = node.id
        _copy_location(state, node)
    state["ctx"] = _marker(translator, visit, node.ctx, inherited)
    state["annotation"] = state["type_comment"] = None
    return new


def _arg_to_gast(translator, visit, node, locate, inherited):
    new = gast.Name.__new__(gast.Name)
    state = new.__dict__
    state["id"] = node.arg
    state["ctx"] = gast.Param()
    state["annotation"] = _visit_value(visit, node.annotation, inherited)
    state["type_comment"] = node.type_comment
    _copy_location(state, node)
    return new


if _GastToAstVisitor is not None and _GastToGastVisitor is not None:
    _TO_AST, _TO_AST_IN_PLACE = (
        _Translator(ast, _GastToAstVisitor, {"Name": _name_to_ast, "arguments": _arguments_to_ast},
                    absent={}, in_place=in_place)
        for in_place in (False, True))
    _TO_GAST = _Translator(gast, _GastToGastVisitor, {"Name": _name_to_gast, "arg": _arg_to_gast},
                           absent={"type_params": list}, in_place=True)

    def ast_to_gast(node):
        """`gast.ast_to_gast(node)`, made of `node`'s own nodes: `node` is used up."""
        return _TO_GAST.translate(node)

    def gast_to_ast(node, locate=None, inherited=None):
        """`gast.gast_to_ast(node)`. With `locate`, each new node that has positions is passed
        to `locate(new_node, inherited)` before its children are made (its fields are not set
        yet); what it returns is what its children inherit (`inherited` for the root's)."""
        return _TO_AST.translate(node, locate, inherited)

    def gast_to_ast_in_place(node, locate=None, inherited=None):
        """`gast_to_ast(node, locate, inherited)`, made of `node`'s own nodes (but for names of
        parameters and contexts): `node` is used up."""
        return _TO_AST_IN_PLACE.translate(node, locate, inherited)

else:  # pragma: no cover
    ast_to_gast = gast.ast_to_gast

    def gast_to_ast(node, locate=None, inherited=None):
        new = gast.gast_to_ast(node)
        if locate is not None:
            _locate_tree(new, locate, inherited)
        return new

    gast_to_ast_in_place = gast_to_ast


def parse(source: str):
    """`gast.parse(source)`. (One instance of each context and operator class is shared in the
    tree, as in `ast.parse`'s.)"""
    return ast_to_gast(ast.parse(source))
