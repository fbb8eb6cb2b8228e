"""Boxing: variables that live across loops and branches, and arrays written by subscript.

For each loop or `if`, the variables it rebinds or modifies that are live on
entry or exit get a box just before it; inside, every use goes through the box;
after it, live ones are read back:

    s = 0.0                       s = 0.0
    for i in range(n):     ->     s_ref = rs.box(s, 's')
        s += x[i]                 for i in range(n):
                                      s_ref.value += x[i]
                                  s = s_ref.value

An array written by subscript in a scope (the function, or a loop or branch body)
is boxed for that whole scope, so `a[i] = v` becomes `a_ref[i] = v`, a Ref write.
Each loop and `if` node is annotated with the boxes its bodies write (`BOX_WRITES`),
which the loop and conditional converters pass to the runtime. Bodies become
functions later, so each body is its own scope for deciding where boxes live.
"""

from __future__ import annotations

import gast

from refscript.passes.context import PassContext
from refscript.pyct import anno, templates, traversal
from refscript.pyct.analysis.activity import (
    annotated_assigned, annotated_modified, assigned, augmented, modified, parameters, rebound, target_names,
)

_CONSTRUCTS = (gast.For, gast.While, gast.If)
_ARRAY_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size"})


class _Scope:
    """One future Python function scope: what is boxed, what is bound so far."""

    def __init__(self, mapping: dict, defined: set, inits: list):
        self.mapping = mapping
        self.defined = set(defined)
        self.maybe = set(defined)
        self.inits = inits  # names to bind to rs.Undefined at the scope's start

    def derived(self, mapping: dict) -> "_Scope":
        scope = _Scope(mapping, self.defined, self.inits)
        scope.maybe = set(self.maybe)
        return scope


class RefsPass:
    def __init__(self, ctx: PassContext):
        self.ctx = ctx
        self.rs = ctx.runtime_name
        self._collectors: list[set] = []

    # What statements rebind and modify, as activity analysis annotated them: every statement
    # is asked about (with the constructs around it) before it is rewritten.
    assigned = staticmethod(annotated_assigned)
    modified = staticmethod(annotated_modified)

    def transform(self, fn: gast.FunctionDef) -> gast.FunctionDef:
        # A parameter written by subscript and never rebound is, in NumPy, the
        # caller's array: box it for the whole function as an *argument box*, so
        # the caller's array can be updated after the call.
        params = parameters(fn)
        # So is one updated by `p op= v` (NumPy writes into an array; on a number it rebinds, and
        # the box then holds the new number: nothing is written back for it).
        subscripted = self.modified(fn.body)
        written = subscripted | augmented(fn.body)
        body_rebound = rebound(fn.body)
        in_place = [p for p in params if p in written and p not in body_rebound]
        for name in params:
            # (Only subscript writes: `p op= v` may be a number's rebinding, which is fine.)
            if name in body_rebound and name in subscripted:
                self._check_rebound_after_writes(fn.body, name)
        mapping, prelude = {}, []
        for name in in_place:
            mapping[name] = self.ctx.namer.new(f"{name}_ref")
            prelude += templates.replace(
                f"box = {self.rs}.argument_box(name, label)", origin=fn, box=mapping[name], name=name,
                label=gast.Constant(name, None),
            )
        fn.body = prelude + self._scope_body(fn.body, mapping, set(params), origin=fn)
        return fn

    def _check_rebound_after_writes(self, body, name: str) -> None:
        """A parameter both written in place and rebound: fine where every write follows the first
        rebinding (`a = a.copy(); a[0] = v`: the writes go to the new array). A write that may come
        first goes, in NumPy, to the caller's array, which refscript does not yet give it once the
        name is rebound: an error at the rebinding, never a silent difference."""
        rebinding = next(stmt for stmt in body if name in rebound(stmt))
        for stmt in body:
            if stmt is rebinding:
                if name not in self.modified(stmt) and not isinstance(stmt, _CONSTRUCTS):
                    return  # a plain rebinding at the function's level, before any write
                break
            if name in self.modified(stmt):
                break
        # The error points at the rebinding: the first `name` stored there (not by `name op= v`),
        # else the statement (a `def` or `import` of that name).
        augmented_targets = {id(s.target) for s in traversal.walk(rebinding) if isinstance(s, gast.AugAssign)}
        where = next((s for s in traversal.walk(rebinding)
                      if isinstance(s, gast.Name) and s.id == name and isinstance(s.ctx, gast.Store)
                      and id(s) not in augmented_targets), rebinding)
        raise self.ctx.error(
            where,
            f"parameter {name!r} is written in place and also rebound: NumPy gives the caller's array the "
            f"writes made before the rebinding, which refscript does not do yet",
            f"give the new array a name of its own (`{name}2 = ...`), so that {name!r} stays the caller's "
            "array throughout",
        )

    # Scopes and blocks.

    def _scope_body(self, stmts, mapping: dict, defined: set, origin) -> list:
        """Returns a scope's statements: initialisations, scope-wide boxes, then the rewritten body."""
        mapping = dict(mapping)
        inits: list[str] = []
        prelude = []
        for name in _in_order(stmts, _modified_here(stmts, self.modified) - mapping.keys()):
            box = self.ctx.namer.new(f"{name}_ref")
            mapping[name] = box
            prelude += self._box_statement(box, name, name in defined, origin)
        scope = _Scope(mapping, defined, inits)
        body = self._block(stmts, scope)
        init_stmts = []
        for name in inits:
            init_stmts += templates.replace(
                f"name = {self.rs}.Undefined(label)", origin=origin, name=name, label=gast.Constant(name, None)
            )
        return init_stmts + prelude + body

    def _box_statement(self, box: str, name: str, is_defined: bool, origin) -> list:
        label = gast.Constant(self.ctx.display_names.get(name, name), None)
        if is_defined:
            return templates.replace(f"box = {self.rs}.box(name, label)", origin=origin, box=box, name=name, label=label)
        return templates.replace(f"box = {self.rs}.box_undefined(label)", origin=origin, box=box, label=label)

    def _block(self, stmts, scope: _Scope) -> list:
        out = []
        for stmt in stmts:
            # Read what the statement binds before rewriting hides it behind boxes.
            defined, maybe = _definitely_assigned(stmt, self.assigned), self.assigned(stmt)
            if isinstance(stmt, _CONSTRUCTS):
                rewritten = self._construct(stmt, scope)
                # Names read back from boxes after the construct are bound (perhaps
                # to an `rs.Undefined`, which reports a use on a path that missed them).
                defined |= self.assigned(rewritten[rewritten.index(stmt) + 1:])
                out += rewritten
            else:
                out.append(self._simple(stmt, scope))
            scope.defined |= defined
            scope.maybe |= maybe
        return out

    def _simple(self, stmt, scope: _Scope):
        for field in ("body", "orelse", "finalbody"):
            if isinstance(getattr(stmt, field, None), list) and not isinstance(stmt, (gast.FunctionDef, gast.ClassDef)):
                setattr(stmt, field, self._block(getattr(stmt, field), scope))
        for handler in getattr(stmt, "handlers", []) or []:
            handler.body = self._block(handler.body, scope)
        return _Rename(scope.mapping, self).visit(stmt)

    # Loops and branches.

    def _construct(self, node, scope: _Scope) -> list:
        live = anno.getanno(node, anno.Basic.LIVE_IN, frozenset()) | anno.getanno(node, anno.Basic.LIVE_OUT, frozenset())
        changed = self.assigned(node) | self.modified(node)
        if isinstance(node, gast.For):
            changed |= target_names(node.target)
        new = _in_order([node], (changed & live) - scope.mapping.keys())

        before = []
        mapping = dict(scope.mapping)
        for name in new:
            box = self.ctx.namer.new(f"{name}_ref")
            mapping[name] = box
            is_defined = name in scope.defined
            if not is_defined and name in scope.maybe:
                scope.inits.append(name)
                is_defined = True
            before += self._box_statement(box, name, is_defined, node)

        existing = set(mapping.values())
        collector: set[str] = set()
        self._collectors.append(collector)
        renamer = _Rename(mapping, self)
        if isinstance(node, gast.For):
            node.iter = renamer.visit(node.iter)
            node.target = renamer.visit(node.target)
            loop_defined = target_names(node.target)
            node.body = self._scope_body(node.body, mapping, loop_defined, node)
        else:
            node.test = renamer.visit(node.test)
            node.body = self._scope_body(node.body, mapping, set(), node)
        if isinstance(node, gast.If):
            node.orelse = self._scope_body(node.orelse, mapping, set(), node)
        else:  # a loop's `else` runs in the enclosing scope, after the loop
            node.orelse = self._block(node.orelse, scope.derived(mapping))
        self._collectors.pop()
        anno.setanno(node, anno.Basic.BOX_WRITES, sorted(collector & existing))
        flags = anno.getanno(node, anno.Basic.BREAK_FLAGS)
        if flags:  # the boxes holding the flags now (the runtime is told of boxed ones only)
            anno.setanno(node, anno.Basic.BREAK_FLAGS, [mapping[f] for f in flags if f in mapping])

        after = []
        live_out = anno.getanno(node, anno.Basic.LIVE_OUT, frozenset())
        for name in new:
            if name in live_out:
                after += templates.replace("name = box.value", origin=node, name=name, box=mapping[name])
        return before + [node] + after

    def record_write(self, box: str) -> None:
        for collector in self._collectors:
            collector.add(box)


class _Rename(traversal.Transformer):
    """Rewrites uses of boxed names into box accesses, recording writes."""

    def __init__(self, mapping: dict, refs_pass: RefsPass):
        self.mapping = mapping
        self.refs_pass = refs_pass

    def _box_name(self, name: str, origin):
        """The box of `name`, read, standing where `origin` stands (so pdb steps stay on the line):
        `gast.copy_location(gast.Name(box, Load()), origin)`, built directly (every use of a boxed
        name makes one)."""
        return _located(gast.Name, {"id": self.mapping[name], "ctx": gast.Load(), "annotation": None,
                                    "type_comment": None}, origin)

    def visit_AugAssign(self, node):
        if isinstance(node.target, gast.Name):  # for passes/inplace.py, which sees it boxed
            anno.setanno(node, anno.Basic.AUGMENTED, self.refs_pass.ctx.display_names.get(node.target.id, node.target.id))
        return self.generic_visit(node)

    def visit_Name(self, node):
        if node.id not in self.mapping:
            return node
        if isinstance(node.ctx, gast.Del):
            raise self.refs_pass.ctx.error(node, f"`del {node.id}` is not supported here", "assign a new value instead")
        if isinstance(node.ctx, gast.Store):
            self.refs_pass.record_write(self.mapping[node.id])
        return _located(gast.Attribute, {"value": self._box_name(node.id, node), "attr": "value", "ctx": node.ctx},
                        node)

    def visit_Subscript(self, node):
        if isinstance(node.value, gast.Name) and node.value.id in self.mapping:
            if isinstance(node.ctx, gast.Store):
                self.refs_pass.record_write(self.mapping[node.value.id])
            node.value = self._box_name(node.value.id, node.value)
            node.slice = self.visit(node.slice)
            return node
        return self.generic_visit(node)

    def visit_Attribute(self, node):
        if (
            isinstance(node.value, gast.Name)
            and node.value.id in self.mapping
            and node.attr in _ARRAY_ATTRIBUTES
            and isinstance(node.ctx, gast.Load)
        ):
            node.value = self._box_name(node.value.id, node.value)
            return node
        return self.generic_visit(node)

    def _shadowed(self, bound: set[str], node):
        inner = _Rename({k: v for k, v in self.mapping.items() if k not in bound}, self.refs_pass)
        return inner.generic_visit(node)

    def visit_Lambda(self, node):
        args = node.args
        bound = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
        return self._shadowed(bound, node)

    def visit_FunctionDef(self, node):
        args = node.args
        bound = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs} | assigned(node.body)
        return self._shadowed(bound, node)

    def _comprehension(self, node):
        bound = set().union(*(target_names(g.target) for g in node.generators))
        return self._shadowed(bound, node)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


_POSITIONS = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def _located(cls, state: dict, origin):
    """A new `cls` node of fields `state` with `origin`'s positions, as `gast.copy_location` gives
    them (the positions `origin` has, in order after the fields)."""
    node = cls.__new__(cls)
    found = origin.__dict__
    for attr in _POSITIONS:
        if attr in found:
            state[attr] = found[attr]
    node.__dict__ = state
    return node


def _modified_here(stmts, modified=modified) -> set[str]:
    """Names modified by subscript directly in `stmts`, not inside nested loops or branches."""
    names = set()
    for stmt in stmts:
        if isinstance(stmt, _CONSTRUCTS):
            continue
        names |= modified(stmt)
    return names


def _definitely_assigned(stmt, assigned=assigned) -> set[str]:
    if isinstance(stmt, gast.If):
        return _block_definitely_assigned(stmt.body, assigned) & _block_definitely_assigned(stmt.orelse, assigned)
    if isinstance(stmt, (gast.For, gast.While)):
        return _block_definitely_assigned(stmt.orelse, assigned)
    if isinstance(stmt, gast.With):
        return _block_definitely_assigned(stmt.body, assigned)
    if isinstance(stmt, gast.Try):
        return set()
    if isinstance(stmt, gast.AnnAssign) and stmt.value is None:
        return set()
    return assigned(stmt)


def _block_definitely_assigned(stmts, assigned=assigned) -> set[str]:
    names = set()
    for stmt in stmts:
        names |= _definitely_assigned(stmt, assigned)
    return names


def _in_order(nodes, names: set[str]) -> list[str]:
    """Returns `names` in the order they first appear in `nodes` (readable generated code)."""
    order = []
    if names:
        for node in nodes:
            # `traversal.walk`'s order, stopping once every name is found.
            found, position = [node], 0
            while position < len(found):
                sub = found[position]
                position += 1
                if sub.__class__ is gast.Name and sub.id in names and sub.id not in order:
                    order.append(sub.id)
                    if len(order) == len(names):
                        return order
                found += traversal.children_but_markers(sub)
    return order + sorted(names - set(order))
