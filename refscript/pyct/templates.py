"""Quoted-Python templates: write the generated code as it should read, then splice nodes in.

    replace("target = rs.box(value, name)", target="x_ref", value=node, name=gast.Constant("x", None))

Placeholders are plain names in the template. A replacement may be:
- a `str`: becomes a name (or a def's name, or a parameter);
- an expression node: moved into place, its Load/Store context fixed to fit;
- a list of statements: moved in where the placeholder stands alone as a statement.
Replacement nodes are moved, not copied: the caller hands them over (a pass
passes the parts of the construct it replaces) and must not use them elsewhere;
a node placed twice in one result is copied the second time. Nodes without a
position take the position of `origin`, so generated code reports the user's line;
a node with a position is taken to be placed with all it holds (a spliced user body
is not walked again), and a node a pass made without one inside it gets its parent's
start when the tree is compiled (`loader`).

Conversion runs templates thousands of times: each template text is parsed once
(`_parsed`), and made, with the placeholders of a call, into a Python function that
builds its statements directly (`_builder`), which runs for each use.
"""

from __future__ import annotations

import copy
import enum
import functools
import textwrap

import gast

from refscript.pyct import gast_translation, traversal

_AST = gast.AST


def copy_tree(node, memo: dict | None = None, locate=None):
    """Returns a deep copy of `node` (a `gast` node, or a list of them): what `copy.deepcopy`
    returns, several times faster. Annotations are deep-copied with the same memo, so one that
    refers to a node inside the tree refers to that node's copy, as with `copy.deepcopy`.

    `locate`, if given, is called on every node of the copy (to give it a position).
    """
    return _copy(node, {} if memo is None else memo, locate)


_ATOMIC = frozenset({type(None), str, int, float, bool, complex, bytes})
# Values a copy may share with the original: a frozenset (of names) cannot change.
_IMMUTABLE = _ATOMIC | {frozenset}


def _copy(value, memo: dict, locate):
    if value.__class__ is list:
        return [_copy(item, memo, locate) for item in value]
    if isinstance(value, _AST):
        return _copy_node(value, memo, locate)
    if value.__class__ in _ATOMIC:
        return value
    return _copy_other(value, memo)


def _copy_other(value, memo: dict):
    """Copies what nodes hold besides nodes: the `_attributes` tuple of an annotated node (kept:
    immutable) and its annotations (a dict of mostly immutable values, copied without the
    generic machinery where it can be); anything else with `copy.deepcopy`."""
    kind = value.__class__
    if kind is tuple and all(item.__class__ in _ATOMIC for item in value):
        return value
    if kind is dict and all(item.__class__ in _IMMUTABLE for item in value.values()) and all(
            isinstance(key, enum.Enum) or key.__class__ in _ATOMIC for key in value):
        return dict(value)  # deepcopy keeps enums and atomic values as they are
    return copy.deepcopy(value, memo)


def _copy_node(node, memo: dict, locate):
    # The originals stay alive while they are copied (the caller holds the tree), so their
    # id()s in `memo` cannot be reused meanwhile.
    found = memo.get(id(node))
    if found is not None:
        return found
    cls = node.__class__
    new = cls.__new__(cls)
    memo[id(node)] = new
    state = new.__dict__
    for key, item in node.__dict__.items():
        kind = item.__class__
        if kind is list:
            item = [_copy_node(x, memo, locate) if isinstance(x, _AST) else _copy(x, memo, locate) for x in item]
        elif isinstance(item, _AST):
            item = _copy_node(item, memo, locate)
        elif kind not in _ATOMIC:
            item = _copy_other(item, memo)
        state[key] = item
    if locate is not None:
        locate(new)
    return new


@functools.lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple:
    """The statements of `template`, without positions (copy them before use)."""
    module = gast_translation.parse(textwrap.dedent(template))
    for sub in traversal.walk(module):
        if "lineno" in getattr(sub, "_attributes", ()):
            sub.lineno = sub.end_lineno = None
    return tuple(module.body)


def with_context(node, ctx):
    """Returns `node` with the Load/Store/Del context `ctx` where a target needs it."""
    if isinstance(node, (gast.Name, gast.Attribute, gast.Subscript, gast.Starred)):
        node.ctx = ctx
    if isinstance(node, (gast.Tuple, gast.List)):
        node.ctx = ctx
        for elt in node.elts:
            with_context(elt, ctx)
    if isinstance(node, gast.Starred):
        with_context(node.value, ctx)
    return node


def replace(template: str, origin=None, **replacements) -> list:
    """Returns the statements of `template` with placeholders replaced.

    >>> [s.__class__.__name__ for s in replace("x = y", x="a", y="b")]
    ['Assign']
    """
    if origin is not None:  # as passes call it: built by the template's own function
        build = _builders.get((template, *replacements))
        if build is None:
            build = _builder(template, tuple(replacements))
        return build(replacements, getattr(origin, "lineno", 1), getattr(origin, "col_offset", 0), set())
    return _interpreted(template, None, replacements)


def _interpreted(template: str, origin, replacements: dict) -> list:
    """`replace`, by copying the parsed template (the builders' reference: the tests compare)."""
    filler = None if origin is None else _Locator(getattr(origin, "lineno", 1), getattr(origin, "col_offset", 0))
    placed: set = set()
    body = []
    for stmt in _parsed(template):
        result = _instantiate(stmt, replacements, filler, placed)
        body.extend(result if isinstance(result, list) else [result])
    return body


class _Locator:
    """Gives nodes without a position the position `lineno`, `col` (as `copy_missing_locations`)."""

    __slots__ = ("lineno", "col")

    def __init__(self, lineno: int, col: int):
        self.lineno, self.col = lineno, col

    def __call__(self, node):
        if "lineno" in getattr(node, "_attributes", ()) and getattr(node, "lineno", None) is None:
            node.lineno, node.col_offset = self.lineno, self.col
            node.end_lineno, node.end_col_offset = self.lineno, self.col
        return node


def _instantiate(node, replacements: dict, filler, placed: set):
    """A copy of the template node `node` with its placeholders replaced (a list: statements to
    splice); every node of the result without a position gets `filler`'s. Replacement nodes are
    moved in, or copied if `placed` (their ids) says they are in the result already."""
    cls = node.__class__
    if cls is gast.Name and node.id in replacements:
        repl = replacements[node.id]
        ctx = _copy_node(node.ctx, {}, None)
        if isinstance(repl, str):
            new = gast.Name(id=repl, ctx=ctx, annotation=None, type_comment=None)
            return filler(new) if filler is not None else new
        if isinstance(repl, gast.AST):
            return with_context(_place(repl, filler, placed), ctx)
        raise ValueError(f"cannot put a {type(repl).__name__} where the name {node.id!r} stands")
    if cls is gast.Expr and isinstance(node.value, gast.Name) and node.value.id in replacements:
        repl = replacements[node.value.id]
        if isinstance(repl, list):
            return [_place(stmt, filler, placed) for stmt in repl]
    new = cls.__new__(cls)
    state = new.__dict__
    for key, item in node.__dict__.items():
        if item.__class__ is list:
            items = []
            for element in item:
                if isinstance(element, _AST):
                    element = _instantiate(element, replacements, filler, placed)
                    if isinstance(element, list):
                        items += element
                        continue
                items.append(element)
            item = items
        elif isinstance(item, _AST):
            item = _instantiate(item, replacements, filler, placed)
        state[key] = item
    if cls is gast.FunctionDef and isinstance(replacements.get(node.name), str):
        new.name = replacements[node.name]
    return filler(new) if filler is not None else new


# Builders: each template, with the placeholders of a call, made into a Python function that
# builds its result directly, with the same nodes `_instantiate` makes from the parsed template
# (the same classes, fields in the same order, positions, contexts; tests/pyct/test_fast_paths.py
# compares the two). Interpreting the template's tree again at each use cost conversion about a
# tenth of its time.

_builders: dict = {}  # (template, *placeholders): its builder
_MAX_BUILDERS = 4096


def _builder(template: str, keys: tuple):
    """The function `build(replacements, lineno, col, placed)` returning `template`'s statements
    with the placeholders `keys` replaced, every new node positioned at `lineno`, `col`."""
    namespace = {"_node": _node, "_name": _name, "_splice": _splice, "_def_name": _def_name}
    emitter = _Emitter(set(keys), namespace)
    body = emitter.statements(list(_parsed(template)))
    source = f"def build(R, L, C, placed):\n    return {body}\n"
    exec(compile(source, "<refscript template>", "exec"), namespace)
    if len(_builders) >= _MAX_BUILDERS:  # templates vary little (the runtime's name): never in practice
        _builders.clear()
    build = _builders[(template, *keys)] = namespace["build"]
    return build


class _Emitter:
    """Writes the Python expression that builds a template node (see `_builder`): classes and
    plain values are names in `namespace`, placeholders calls of `_name` and `_splice`."""

    def __init__(self, keys: set, namespace: dict):
        self.keys = keys
        self.namespace = namespace

    def value(self, value) -> str:
        name = f"v{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def statements(self, items: list) -> str:
        parts = []
        for item in items:
            if not isinstance(item, _AST):
                parts.append(self.value(item))
            elif item.__class__ is gast.Expr and item.value.__class__ is gast.Name and item.value.id in self.keys:
                # A placeholder standing alone: a list of statements is spliced in its place.
                key = item.value.id
                expr = self.node(item, {"value": "value"})
                parts.append(f"*_splice(R[{key!r}], L, C, placed, lambda value: {expr}, "
                             f"{self.value(item.value.ctx.__class__)}, {key!r})")
            else:
                parts.append(self.node(item))
        return "[" + ", ".join(parts) + "]"

    def node(self, node, given: dict | None = None) -> str:
        cls = node.__class__
        if cls is gast.Name and node.id in self.keys:
            return f"_name(R[{node.id!r}], L, C, placed, {self.value(node.ctx.__class__)}, {node.id!r})"
        positioned = "lineno" in cls._attributes
        items = []
        for key, item in node.__dict__.items():
            if given is not None and key in given:
                text = given[key]
            elif positioned and key in ("lineno", "end_lineno"):
                text = "L"
            elif positioned and key in ("col_offset", "end_col_offset"):
                text = "C"
            elif item.__class__ is list:
                text = self.statements(item)
            elif isinstance(item, _AST):
                text = self.node(item)
            elif key == "name" and cls is gast.FunctionDef and item in self.keys:
                text = f"_def_name(R[{item!r}], {item!r})"
            else:
                text = self.value(item)
            items.append(f"{key!r}: {text}")
        return f"_node({self.value(cls)}, {{{', '.join(items)}}})"


def _node(cls, state: dict):
    new = cls.__new__(cls)
    new.__dict__ = state
    return new


def _name(replacement, lineno: int, col: int, placed: set, ctx_class, key: str):
    """What a placeholder name becomes (see `_instantiate`)."""
    if isinstance(replacement, str):
        return _node(gast.Name, {"id": replacement, "ctx": _node(ctx_class, {}), "annotation": None,
                                 "type_comment": None, "lineno": lineno, "col_offset": col,
                                 "end_lineno": lineno, "end_col_offset": col})
    if isinstance(replacement, _AST):
        return with_context(_place(replacement, _Locator(lineno, col), placed), _node(ctx_class, {}))
    raise ValueError(f"cannot put a {type(replacement).__name__} where the name {key!r} stands")


def _splice(replacement, lineno: int, col: int, placed: set, expression, ctx_class, key: str) -> list:
    """What a placeholder standing as a statement becomes: statements, or an expression."""
    if isinstance(replacement, list):
        filler = _Locator(lineno, col)
        return [_place(stmt, filler, placed) for stmt in replacement]
    return [expression(_name(replacement, lineno, col, placed, ctx_class, key))]


def _def_name(replacement, name: str) -> str:
    return replacement if isinstance(replacement, str) else name


def _place(node, filler, placed: set):
    """`node`, moved into a template's result (a copy if it is there already), its nodes without
    a position given `filler`'s."""
    if id(node) in placed:
        return copy_tree(node, locate=filler)
    placed.add(id(node))
    if filler is not None:
        _locate_all(node, filler)
    return node


def _locate_all(node, filler) -> None:
    """Gives the nodes under `node` without a position `filler`'s (see `_fill_positions`)."""
    _fill_positions(node, filler.lineno, filler.col)


def _fill_positions(node, lineno: int, col: int) -> None:
    """Gives `node` and the nodes under it that have no position the position `lineno`, `col`,
    zero wide, not looking under a node that has one: it was placed with what it holds (a user's
    statement, a template's result). (A node has no position when its `lineno` is missing or
    None.) Templates placed the bodies they splice again at each enclosing construct without
    this; the few nodes a pass builds without a position inside a placed one are placed by the
    loader instead."""
    found = [node]
    table = traversal._POSITIONED_FIELDS
    # Contexts and operators are not visited (`positioned_fields`): they have no positions and
    # no children, and they are a third of the nodes of ordinary code.
    for current in found:
        state = current.__dict__
        if "lineno" in current._attributes:
            if state.get("lineno") is not None:
                continue  # placed already, and so is everything under it
            current.lineno = current.end_lineno = lineno
            current.col_offset = current.end_col_offset = col
        fields = table.get(current.__class__)
        if fields is None:
            fields = traversal.positioned_fields(current.__class__)
        for field in fields:
            value = state.get(field)
            if isinstance(value, _AST):
                found.append(value)
            elif value.__class__ is list:
                found += [item for item in value if isinstance(item, _AST)]


def replace_as_expression(template: str, origin=None, **replacements):
    """Returns the single expression of `template` with placeholders replaced."""
    (stmt,) = replace(template, origin=origin, **replacements)
    assert isinstance(stmt, gast.Expr), template
    return stmt.value


def copy_missing_locations(node, origin) -> None:
    """Gives the nodes under `node` without a position the position of `origin` (see
    `_fill_positions`)."""
    _fill_positions(node, getattr(origin, "lineno", 1), getattr(origin, "col_offset", 0))
