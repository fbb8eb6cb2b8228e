"""Activity analysis: which names a piece of code reads, rebinds and modifies.

A write `a[i] = v` *modifies* `a` (its contents change, the name keeps its
object); `a = v` *rebinds* it. Nested scopes (defs, lambdas, comprehensions)
contribute the names they read from outside, never the names they bind.
"""

from __future__ import annotations

import gast

from refscript.pyct import anno, traversal

_SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.Lambda, gast.ClassDef)


def target_names(target) -> set[str]:
    """Returns the names a target rebinds: `a`, `(a, b)`, `[a, *b]`; not `a[i]` or `a.x`."""
    if isinstance(target, gast.Name):
        return {target.id}
    if isinstance(target, (gast.Tuple, gast.List)):
        return set().union(*(target_names(e) for e in target.elts)) if target.elts else set()
    if isinstance(target, gast.Starred):
        return target_names(target.value)
    return set()


def subscript_base(target):
    """Returns the `Name` whose contents a target like `a[i]` or `a[i][j]` writes, else None."""
    while isinstance(target, gast.Subscript):
        target = target.value
    return target if isinstance(target, gast.Name) else None


def _all_targets(target):
    if isinstance(target, (gast.Tuple, gast.List)):
        for elt in target.elts:
            yield from _all_targets(elt)
    elif isinstance(target, gast.Starred):
        yield from _all_targets(target.value)
    else:
        yield target


def reads(node) -> set[str]:
    """Returns the names `node` reads (loads), including free reads of nested scopes."""
    names: set[str] = set()
    for n in node if isinstance(node, list) else [node] if node is not None else []:
        _add_reads(n, names)
    return names


def _add_reads(node, names: set) -> None:
    """Adds to `names` what `node` reads. One walk with a stack; a nested scope adds its free
    reads (what it reads less what it binds), and its defaults and decorators, which the
    enclosing scope evaluates."""
    stack = [node]
    pop, push = stack.pop, traversal.push_children
    while stack:
        current = pop()
        cls = current.__class__
        if cls is gast.Name:
            if isinstance(current.ctx, gast.Load):
                names.add(current.id)
            continue
        scope = _READ_SCOPES.get(cls)
        if scope is not None:
            stack += scope(current, names)
            continue
        if cls is gast.AugAssign:
            names |= target_names(current.target)
        push(stack, current)


def _free_reads(names: set, bound: set, parts) -> None:
    inner: set[str] = set()
    for part in parts:
        _add_reads(part, inner)
    names |= inner - bound


def _lambda_reads(node, names: set) -> list:
    _free_reads(names, _params(node.args), [node.body])
    return node.args.defaults + [d for d in node.args.kw_defaults if d]


def _function_reads(node, names: set) -> list:
    _free_reads(names, _params(node.args) | assigned(node.body), node.body)
    return node.decorator_list + node.args.defaults + [d for d in node.args.kw_defaults if d]


def _class_reads(node, names: set) -> list:
    _free_reads(names, assigned(node.body), node.body)
    return node.bases + node.decorator_list


def _comprehension_reads(node, names: set) -> list:
    bound = set().union(*(target_names(g.target) for g in node.generators))
    elements = [node.key, node.value] if isinstance(node, gast.DictComp) else [node.elt]
    _free_reads(names, bound, elements + node.generators)
    return []


_READ_SCOPES = {
    gast.Lambda: _lambda_reads, gast.FunctionDef: _function_reads, gast.AsyncFunctionDef: _function_reads,
    gast.ClassDef: _class_reads, gast.ListComp: _comprehension_reads, gast.SetComp: _comprehension_reads,
    gast.GeneratorExp: _comprehension_reads, gast.DictComp: _comprehension_reads,
}


def _params(args: gast.arguments) -> set[str]:
    names = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            names.add(extra.id)
    return names


def parameters(fn: gast.FunctionDef) -> list[str]:
    """Returns the names of all parameters of `fn`, in order."""
    args = fn.args
    names = [a.id for a in args.posonlyargs + args.args]
    if args.vararg is not None:
        names.append(args.vararg.id)
    names += [a.id for a in args.kwonlyargs]
    if args.kwarg is not None:
        names.append(args.kwarg.id)
    return names


def assigned(stmts, memo: dict | None = None) -> set[str]:
    """Returns the names statements rebind, looking into compound statements, not nested scopes.

    `memo` (a dict kept by the caller) remembers the answer for each statement visited, so that
    asking again about a statement, or about one that contains it, does not walk it again: only
    for a tree whose statements are asked about before they change.
    """
    names: set[str] = set()
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        names |= _assigned(stmt, memo)
    return names


# Nodes that are statements or hold statements: the units `memo`s remember.
_STATEMENTS = (gast.stmt, gast.excepthandler, gast.match_case)
_STATEMENT_CLASSES = frozenset(
    cls for cls in vars(gast).values() if isinstance(cls, type) and issubclass(cls, _STATEMENTS))
# What binds names in a way of its own: defs, classes, imports; lambdas and comprehensions,
# scopes of their own.
_BINDERS = frozenset({gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.alias, gast.Lambda,
                      gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp})


def augmented(stmts) -> set[str]:
    """Returns the names statements update with a whole-name in-place operator (`a += v`),
    looking into compound statements, not nested scopes. On an array that is a write into its
    buffer, as `a[...] = a + v` (NumPy); on a number, a rebinding (`assigned` counts it too)."""
    names = set()
    stack = list(stmts) if isinstance(stmts, list) else [stmts]
    while stack:
        node = stack.pop()
        if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name):
            names.add(node.target.id)
        elif not isinstance(node, _SCOPES):
            stack += traversal.child_statements(node)
    return names


def rebound(stmts) -> set[str]:
    """`assigned(stmts)` without the names only `name op= value` binds: the names given a new
    object by assignment, `for`, `with`, `import`, `def` and the rest."""
    names: set[str] = set()
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        names |= _assigned(stmt, None, augmented_too=False)
    return names


def _assigned(node, memo: dict | None, augmented_too: bool = True):
    """The names `node` rebinds. One walk with a stack; with a `memo`, each statement inside is
    asked about on its own (and remembered). `augmented_too=False`: not the target of
    `name op= value` (see `rebound`)."""
    if memo is not None and isinstance(node, _STATEMENTS):
        entry = memo.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
    names = set()
    stack = [node]
    pop = stack.pop
    statements = _STATEMENT_CLASSES if memo is not None else ()
    push = traversal.push_children
    while stack:
        current = pop()
        cls = current.__class__
        if cls is gast.Name:
            if isinstance(current.ctx, (gast.Store, gast.Del)):
                names.add(current.id)
        elif cls in statements and current is not node:
            names |= _assigned(current, memo)
        elif cls is gast.AugAssign and not augmented_too and current.target.__class__ is gast.Name:
            stack.append(current.value)
        elif cls in _BINDERS:
            if cls is gast.FunctionDef or cls is gast.AsyncFunctionDef:
                names.add(current.name)  # its body is its own scope; the decorators and defaults run here
                stack += current.decorator_list + current.args.defaults
            elif cls is gast.ClassDef:
                names.add(current.name)
                stack += current.decorator_list + current.bases + [k.value for k in current.keywords]
            elif cls is gast.alias:
                names.add((current.asname or current.name).split(".")[0])
            elif cls is not gast.Lambda:  # a comprehension: only walrus targets escape it
                for sub in traversal.walk(current):
                    if isinstance(sub, gast.NamedExpr):
                        names |= target_names(sub.target)
        else:
            push(stack, current)
    if memo is not None and isinstance(node, _STATEMENTS):
        names = frozenset(names)
        memo[id(node)] = (node, names)
    return names


def modified(stmts, memo: dict | None = None) -> set[str]:
    """Returns the names whose contents statements change by subscript assignment (`a[i] = v`).

    `memo`: as for `assigned`.
    """
    names = set()
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        names |= _modified(stmt, memo)
    return names


def _modified(node, memo: dict | None) -> frozenset:
    if memo is not None:
        entry = memo.get(id(node))
        if entry is not None and entry[0] is node:
            return entry[1]
    names = set()
    if isinstance(node, gast.Assign):
        targets = node.targets
    elif isinstance(node, (gast.AugAssign, gast.AnnAssign)):
        targets = [node.target]
    else:
        targets = ()
    for target in targets:
        for leaf in _all_targets(target):
            if isinstance(leaf, gast.Subscript):
                base = subscript_base(leaf)
                if base is not None:
                    names.add(base.id)
    # Assignments are statements: only the statements nested in this one can hold more (not
    # expressions, and not nested scopes, whose writes are their own).
    for child in _nested_statements(node):
        if not isinstance(child, _SCOPES):
            names |= _modified(child, memo)
    names = frozenset(names)
    if memo is not None:
        memo[id(node)] = (node, names)
    return names


def _nested_statements(node) -> list:
    """The statements (and `except` handlers, `match` cases) directly inside `node`."""
    found = []
    for field in ("body", "orelse", "handlers", "finalbody", "cases"):
        value = getattr(node, field, None)
        if isinstance(value, list):
            found += value
    return found


def analyze(fn: gast.FunctionDef) -> None:
    """Annotates every statement in `fn` with the names it rebinds (`ASSIGNED`) and modifies by
    subscript (`MODIFIED`): one walk, for the analyses and converters that ask about many
    statements (and about the constructs around them) before the tree changes."""
    assigned_by, modified_by = {}, {}
    for stmt in fn.body:
        _assigned(stmt, assigned_by)
        _modified(stmt, modified_by)
    for stmt, names in assigned_by.values():
        anno.setanno(stmt, anno.Basic.ASSIGNED, names)
    for stmt, names in modified_by.values():
        anno.setanno(stmt, anno.Basic.MODIFIED, names)


def annotated_assigned(stmts) -> set[str]:
    """`assigned(stmts)`, read from the `ASSIGNED` annotations `analyze` left (computed for a
    statement made since). Only for statements not changed since `analyze`."""
    names: set[str] = set()
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        found = anno.getanno(stmt, anno.Basic.ASSIGNED)
        names |= found if found is not None else _assigned(stmt, None)
    return names


def annotated_modified(stmts) -> set[str]:
    """`modified(stmts)`, read from the `MODIFIED` annotations: as `annotated_assigned`."""
    names: set[str] = set()
    for stmt in stmts if isinstance(stmts, list) else [stmts]:
        found = anno.getanno(stmt, anno.Basic.MODIFIED)
        names |= found if found is not None else _modified(stmt, None)
    return names
