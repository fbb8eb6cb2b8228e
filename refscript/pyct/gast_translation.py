"""`gast.parse`, `gast.ast_to_gast` and `gast.gast_to_ast`, faster.

gast translates between its trees and the standard library's with a
`NodeTransformer` whose generic path (most nodes) finds its visitor with a
`getattr` and rebuilds each node from a dict comprehension over `hasattr`
checks. Conversion translates twice (the user's source, the generated tree), so
this module subclasses gast's translators and replaces only that generic
machinery: visitors are looked up once per class, fields read from the node's
`__dict__`. gast's own visitors for the nodes that differ between the two trees
(names, arguments, function definitions, ...) run unchanged, so the trees are
the ones gast makes. If gast's translator classes are not where this module
expects them (another gast version), gast's functions are used as they are.
"""

from __future__ import annotations

import ast

import gast

_AST = ast.AST
_MISSING = object()

try:
    from gast.ast3 import Ast3ToGAst as _ToGast
    from gast.ast3 import GAstToAst3 as _ToAst
except ImportError:  # pragma: no cover - another gast layout
    _ToGast = _ToAst = None


def _fast(base, target_module):
    """A subclass of gast's translator `base` into the classes of `target_module`, with the
    generic path rewritten; its results are those of `base`."""

    class Translator(base):
        _visitors: dict = {}
        _targets: dict = {}

        def visit(self, node):
            cls = node.__class__
            try:
                method = self._visitors[cls]
            except KeyError:
                method = getattr(type(self), "visit_" + cls.__name__, None)
                if method is ast.NodeVisitor.visit_Constant and not any(
                        hasattr(type(self), "visit_" + old) for old in _OLD_CONSTANT_VISITORS):
                    method = None  # ast.NodeVisitor's shim for visit_Num & co., with none to call
                self._visitors[cls] = method
            if method is None:
                return self.generic_visit(node)
            return method(self, node)

        def _visit(self, node):
            if isinstance(node, _AST):
                return self.visit(node)
            if isinstance(node, list):
                return [self._visit(n) for n in node]
            return node

        def generic_visit(self, node):
            cls = node.__class__
            try:
                target = self._targets[cls]
            except KeyError:
                target = self._targets[cls] = getattr(target_module, cls.__name__, None)
            if target is None:  # not part of the other tree
                return None
            state = node.__dict__
            fields = {}
            for field in node._fields:
                value = state.get(field, _MISSING)
                if value is _MISSING:
                    value = getattr(node, field, _MISSING)
                    if value is _MISSING:
                        continue
                if isinstance(value, _AST):
                    value = self.visit(value)
                elif isinstance(value, list):
                    value = [self._visit(item) for item in value]
                fields[field] = value
            if len(fields) == len(target._fields) and _PLAIN_INIT:
                # What `target(**fields)` does when it is given every field (see _PLAIN_INIT).
                new_node = target.__new__(target)
                new_node.__dict__.update(fields)
            else:
                new_node = target(**fields)
            for attr in node._attributes:
                value = state.get(attr, _MISSING)
                if value is _MISSING:
                    value = getattr(node, attr, _MISSING)
                    if value is _MISSING:
                        continue
                try:
                    setattr(new_node, attr, value)
                except AttributeError:
                    pass
            return new_node

    return Translator


_OLD_CONSTANT_VISITORS = ("Num", "Str", "Bytes", "NameConstant", "Ellipsis")


def _plain_init() -> bool:
    """Whether building a node from all its fields as keywords (`Name(id=..., ctx=...)`) only
    stores them in the node's `__dict__`, for gast's classes and the standard library's (as on
    the Pythons and gast versions refscript supports): the translators then build nodes that
    way, skipping the constructors. Checked on samples, so another version falls back."""
    try:
        for module in (gast, ast):
            for cls in (module.Name, module.Constant, module.BinOp, module.Assign):
                values = {field: f"value of {field}" for field in cls._fields}
                if cls(**values).__dict__ != values:
                    return False
    except Exception:  # noqa: BLE001 -- a constructor that checks its arguments: not plain
        return False
    return True


_PLAIN_INIT = _plain_init()


_POSITIONS = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def _copy_location(new_node, old_node):
    """`ast.copy_location(new_node, old_node)` for two nodes that both have positions (names)."""
    old_state, new_state = old_node.__dict__, new_node.__dict__
    for attr in _POSITIONS:
        value = old_state.get(attr, _MISSING)
        if value is _MISSING:
            value = getattr(old_node, attr, _MISSING)
            if value is _MISSING:
                continue
        if value is not None or attr.startswith("end_"):
            new_state[attr] = value
    return new_node


def _with_names(translator, target_module, extra_fields: tuple):
    """`translator` with a faster `visit_Name` (names are a third of a tree): gast's builds the
    other tree's name from `id` and `ctx` (and `extra_fields`, None) and copies the position."""
    name_class = target_module.Name

    class Translator(translator):
        def visit_Name(self, node):
            new_node = name_class.__new__(name_class)
            state = new_node.__dict__
            state["id"] = node.id
            state["ctx"] = self._visit(node.ctx)
            for field in extra_fields:
                state[field] = None
            return _copy_location(new_node, node)

    return Translator


def _same_names(fast, slow) -> bool:
    """Whether `fast` and gast's `slow` translate sample names alike (else gast's is used)."""
    source = ast.parse("x = y + f(z)\ndel w")
    samples = [n for n in ast.walk(source) if isinstance(n, ast.Name)]
    if slow is _ToAst:
        samples = [n for n in gast.walk(gast.ast_to_gast(source)) if isinstance(n, gast.Name)]
    try:
        for sample in samples:
            a, b = fast().visit(sample), slow().visit(sample)
            if type(a) is not type(b) or ast.dump(a, include_attributes=True) != ast.dump(b, include_attributes=True) \
                    or a.__dict__.keys() != b.__dict__.keys():
                return False
    except Exception:  # noqa: BLE001 -- then gast's own visit_Name
        return False
    return True


if _ToGast is not None and _ToAst is not None:
    _FastToGast = _fast(_ToGast, gast)
    _FastToAst = _fast(_ToAst, ast)
    if _PLAIN_INIT:
        _named = _with_names(_FastToGast, gast, ("annotation", "type_comment"))
        if _same_names(_named, _ToGast):
            _FastToGast = _named
        _named = _with_names(_FastToAst, ast, ())
        if _same_names(_named, _ToAst):
            _FastToAst = _named

    def ast_to_gast(node):
        """`gast.ast_to_gast(node)`."""
        return _FastToGast().visit(node)

    def gast_to_ast(node):
        """`gast.gast_to_ast(node)`."""
        return _FastToAst().visit(node)

else:  # pragma: no cover
    ast_to_gast = gast.ast_to_gast
    gast_to_ast = gast.gast_to_ast


def parse(source: str):
    """`gast.parse(source)`."""
    return ast_to_gast(ast.parse(source))
