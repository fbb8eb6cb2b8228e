"""Tree walks for the passes: the semantics of `ast.walk` and `ast.NodeTransformer`, faster.

Conversion walks the tree a few dozen times, and the standard library's walkers
spend most of their time in generic machinery (`iter_fields` generators, a
`getattr` per node to find its visitor). These give the same results in the same
order: `walk` is `ast.walk` (breadth first), `Transformer` is
`ast.NodeTransformer` with its visitor methods looked up once per node class.
Both read only the fields that can hold nodes (`child_fields`).
`Transformer.statements_only` lets a pass whose visitors all handle statements
skip expressions, which can hold none.
"""

from __future__ import annotations

import ast

import gast

_AST = ast.AST
_MISSING = object()
_UNANNOTATED = "inert unless annotated"


# Fields that hold identifiers, numbers or strings in the grammar, never nodes (in gast's trees
# and the standard library's): walks skip them, as they skip `type_comment`s. (The name of an
# `except` handler is a node in gast's trees.)
_PLAIN_FIELDS = frozenset({
    ("Name", "id"), ("Attribute", "attr"), ("Constant", "value"), ("Constant", "kind"),
    ("FunctionDef", "name"), ("AsyncFunctionDef", "name"), ("ClassDef", "name"), ("keyword", "arg"),
    ("alias", "name"), ("alias", "asname"), ("arg", "arg"), ("Global", "names"), ("Nonlocal", "names"),
    ("ImportFrom", "module"), ("ImportFrom", "level"), ("AnnAssign", "simple"), ("comprehension", "is_async"),
    ("FormattedValue", "conversion"), ("MatchSingleton", "value"), ("MatchStar", "name"), ("MatchAs", "name"),
    ("MatchMapping", "rest"), ("MatchClass", "kwd_attrs"), ("TypeVar", "name"), ("ParamSpec", "name"),
    ("TypeVarTuple", "name"), ("TypeIgnore", "tag"),
})
_CHILD_FIELDS: dict = {}


def child_fields(cls) -> tuple:
    """The fields of the node class `cls` that may hold nodes, in order (none: a leaf)."""
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        name = cls.__name__
        fields = _CHILD_FIELDS[cls] = tuple(
            field for field in cls._fields if (name, field) not in _PLAIN_FIELDS and field != "type_comment")
    return fields


def children(node) -> list:
    """The child nodes of `node`, in the order of `ast.iter_child_nodes`."""
    fields = _CHILD_FIELDS.get(node.__class__)
    if fields is None:
        fields = child_fields(node.__class__)
    return _nodes_in(node, fields) if fields else []


def children_but_markers(node) -> list:
    """`children(node)` less the contexts and operators (`Load`, `Add`), which hold nothing: for
    searches that never look for them."""
    fields = _POSITIONED_FIELDS.get(node.__class__)
    if fields is None:
        fields = positioned_fields(node.__class__)
    return _nodes_in(node, fields) if fields else []


def push_children(stack: list, node) -> None:
    """Appends `children_but_markers(node)` to `stack` (and, from a list field, its Nones:
    `kw_defaults`, the keys of `{**d}`; a walk skips what is not a node): for stack walks, one call
    per node rather than two and a list."""
    fields = _POSITIONED_FIELDS.get(node.__class__)
    if fields is None:
        if not isinstance(node, _AST):
            return
        fields = positioned_fields(node.__class__)
    state = node.__dict__
    for name in fields:
        value = state.get(name)
        if value.__class__ is list:
            stack += value
        elif isinstance(value, _AST):
            stack.append(value)


def _nodes_in(node, fields) -> list:
    """The nodes that `node`'s `fields` hold, in order."""
    out = []
    state = node.__dict__
    for name in fields:
        value = state.get(name, _MISSING)
        if value is _MISSING:
            value = getattr(node, name, None)
        if isinstance(value, _AST):
            out.append(value)
        elif value.__class__ is list:
            out += [item for item in value if isinstance(item, _AST)]
    return out


def walk(node) -> list:
    """Every node under `node` (itself included), in the order of `ast.walk`."""
    found = [node]
    table = _CHILD_FIELDS
    for current in found:  # breadth first: the list grows as it is read
        fields = table.get(current.__class__)
        if fields is None:
            fields = child_fields(current.__class__)
        if fields:
            # `children(current)`, inline: walks run over whole trees, a call per node shows.
            # (A field missing from the dict is missing from the node: no class gives one a
            # node or list by default.)
            state = current.__dict__
            for name in fields:
                value = state.get(name)
                if isinstance(value, _AST):
                    found.append(value)
                elif value.__class__ is list:
                    found += [item for item in value if isinstance(item, _AST)]
    return found


# Fields that hold only contexts and operators (`Load`, `Add`, the `ops` of a comparison):
# nodes without positions or children.
MARKER_FIELDS = frozenset({"ctx", "op", "ops"})
_POSITIONED_FIELDS: dict = {}


def positioned_fields(cls) -> tuple:
    """The fields of the node class `cls` that may hold nodes with positions or with children of
    their own: `child_fields(cls)` less those holding only contexts and operators."""
    fields = _POSITIONED_FIELDS.get(cls)
    if fields is None:
        fields = _POSITIONED_FIELDS[cls] = tuple(
            field for field in child_fields(cls) if field not in MARKER_FIELDS)
    return fields


# The fields that hold statements (or `except` handlers, `match` cases).
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
_STATEMENT_FIELDS: dict = {}


def _statement_fields(cls) -> tuple:
    fields = _STATEMENT_FIELDS.get(cls)
    if fields is None:
        fields = _STATEMENT_FIELDS[cls] = tuple(field for field in cls._fields if field in _BLOCKS)
    return fields


def child_statements(node) -> list:
    """The statements (and `except` handlers, `match` cases) directly in `node`'s fields, in
    the order of `children`."""
    fields = _STATEMENT_FIELDS.get(node.__class__)
    if fields is None:
        fields = _statement_fields(node.__class__)
    if not fields:
        return []
    return [item for item in _nodes_in(node, fields) if isinstance(item, _STATEMENT_HOLDERS)]


def walk_statements(node) -> list:
    """`node` and every statement under it (with `except` handlers and `match` cases), in the
    order `walk` gives them: what `walk` yields, less the expressions and other parts, for
    searches that only look for statements (which expressions cannot hold)."""
    found = [node]
    position = 0
    while position < len(found):
        found += child_statements(found[position])
        position += 1
    return found


class Transformer:
    """`ast.NodeTransformer`, faster: `visit` dispatches on the node's class to `visit_<Class>`
    (looked up once per class) or `generic_visit`, which visits the children and splices what
    the visits return (a node, None to remove it, or a list to splice into a list field).

    The generic visit dispatches children itself, without calling `visit`, and skips those
    that are *inert*, whose visit would do nothing: without a visitor for their class,
    contexts and operators (`Load`, `Add`: no fields), constants (no nodes inside), and names
    without an annotation (only parameters have one) if their contexts are inert. A
    transformer without a visitor for any context or operator does not even read the fields
    that hold them (`positioned_fields`).

    With `statements_only = True`, `generic_visit` leaves expressions (and the other parts of
    statements that cannot hold statements) alone: for passes with no visitor for them. Then
    statements that hold none (`x = y`) are inert too.
    """

    statements_only = False
    _visitors: dict
    _inert: dict
    _fields: dict  # a node class: the fields its generic visit reads (made by `_fields_of`)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._visitors = {}
        cls._inert = {}
        visits_markers = any(getattr(cls, "visit_" + name, None) is not None for name in _MARKER_CLASS_NAMES)
        cls._fields, cls._fields_of = (
            (_CHILD_FIELDS, staticmethod(child_fields)) if visits_markers
            else (_POSITIONED_FIELDS, staticmethod(positioned_fields)))

    def visit(self, node):
        method = self._visitors.get(node.__class__, _MISSING)
        if method is _MISSING:
            method = self._visitor(node.__class__)
        if method is None:
            return self.generic_visit(node)
        return method(self, node)

    def _visitor(self, cls):
        method = self._visitors[cls] = getattr(type(self), "visit_" + cls.__name__, None)
        return method

    def _is_inert(self, cls) -> bool:
        inert = self._inert.get(cls)
        if inert is None:
            visited = getattr(type(self), "visit_" + cls.__name__, None) is not None
            # Constants hold no nodes; a name holds its context (inert, unless visited) and, as
            # a parameter, perhaps an annotation: `_UNANNOTATED` says to look.
            if cls is gast.Name and not visited and all(
                    self._is_inert(ctx) for ctx in (gast.Load, gast.Store, gast.Del, gast.Param)):
                inert = _UNANNOTATED
            elif self.statements_only:  # nothing to visit in what holds no statements
                inert = not visited and not _statement_fields(cls)
            else:
                inert = not visited and (not cls._fields or cls is gast.Constant)
            self._inert[cls] = inert
        return inert

    def generic_visit(self, node):
        statements_only = self.statements_only
        if statements_only:
            if not isinstance(node, _STATEMENT_HOLDERS):
                return node
            fields = _STATEMENT_FIELDS.get(node.__class__)
            if fields is None:
                fields = _statement_fields(node.__class__)
        else:
            fields = self._fields.get(node.__class__)
            if fields is None:
                fields = self._fields_of(node.__class__)
        inert = self._inert
        visitors = self._visitors
        state = node.__dict__
        for name in fields:
            value = state.get(name, _MISSING)
            if value is _MISSING:
                value = getattr(node, name, _MISSING)
                if value is _MISSING:
                    continue
            if value.__class__ is list:
                new_values = None  # made at the first change: most lists stay as they are
                for index, item in enumerate(value):
                    if not isinstance(item, _AST) or (statements_only and not isinstance(item, _STATEMENT_HOLDERS)):
                        if new_values is not None:
                            new_values.append(item)
                        continue
                    cls = item.__class__
                    kind = inert.get(cls)
                    if kind is None:
                        kind = self._is_inert(cls)
                    if kind is True or (kind is _UNANNOTATED and getattr(item, "annotation", None) is None):
                        if new_values is not None:
                            new_values.append(item)
                        continue
                    method = visitors.get(cls, _MISSING)
                    if method is _MISSING:
                        method = self._visitor(cls)
                    result = self.generic_visit(item) if method is None else method(self, item)
                    if result is item:
                        if new_values is not None:
                            new_values.append(item)
                        continue
                    if new_values is None:
                        new_values = value[:index]
                    if result is None:
                        continue
                    if isinstance(result, _AST):
                        new_values.append(result)
                    else:
                        new_values.extend(result)
                if new_values is not None:
                    value[:] = new_values
            elif isinstance(value, _AST):
                if statements_only:
                    continue  # statements are only ever in lists
                cls = value.__class__
                kind = inert.get(cls)
                if kind is None:
                    kind = self._is_inert(cls)
                if kind is True or (kind is _UNANNOTATED and getattr(value, "annotation", None) is None):
                    continue
                method = visitors.get(cls, _MISSING)
                if method is _MISSING:
                    method = self._visitor(cls)
                new_node = self.generic_visit(value) if method is None else method(self, value)
                if new_node is None:
                    delattr(node, name)
                elif new_node is not value:
                    setattr(node, name, new_node)
        return node


# The classes of contexts and operators, what `MARKER_FIELDS` hold.
_MARKER_CLASS_NAMES = tuple(
    cls.__name__ for cls in vars(gast).values()
    if isinstance(cls, type) and issubclass(cls, (gast.expr_context, gast.operator, gast.boolop, gast.unaryop, gast.cmpop)))


# What can hold statements: statements, `except` handlers and `match` cases (and modules).
_STATEMENT_HOLDERS = (ast.stmt, ast.excepthandler, ast.mod, gast.match_case) + (
    (ast.match_case,) if hasattr(ast, "match_case") else ())
