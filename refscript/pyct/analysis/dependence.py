"""Dependence analysis of a parallel loop body: can its iterations run at once?

A `for i in prange(...)` body is accepted when, syntactically, no iteration can
see what another one did. Each name the body touches gets one role:

- **read-only**: never rebound nor written by subscript in the body;
- **private**: rebound in the body, and every use comes after this iteration
  has assigned it (a temporary, an inner loop's accumulator, a scratch array);
- **reduction**: changed only by `s += e`, `s -= e`, `s *= e`, `s = s + e`,
  `s = s * e`, `s = min(s, e)`, `s = max(s, e)` (one kind per name), and read
  nowhere else in the body: iterations combine their contributions;
- **owned array**: written by subscript and never rebound, where every access
  `a[..., f(i), ...]` has, at one axis, the same index `f(i) = c*i + k` with
  `c` a non-zero integer constant and `k` built from names the body does not
  change: iteration `i` owns `a[..., f(i), ...]` and no other iteration reads
  or writes it.

Anything else, and `break` or `return` in the body, is a `Dependence`: the
analysis is conservative, never optimistic. It reads the user's tree as written
(before jumps become flags), so it runs before the converters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import gast

from refscript.pyct import anno
from refscript.pyct.analysis.activity import target_names
from refscript.pyct.unparse import unparse

_SCOPES = (gast.FunctionDef, gast.Lambda)
_COMPREHENSIONS = (gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)
_ARRAY_ATTRIBUTES = frozenset({"shape", "dtype", "ndim", "size"})

# The reduction statements, by operator: what kind of reduction each one is.
_AUGMENTED = {gast.Add: "+", gast.Sub: "+", gast.Mult: "*"}
_COMMUTATIVE = {gast.Add: "+", gast.Mult: "*"}
_EXTREMA = {"min": "min", "max": "max"}

_SEQUENTIAL_HINT = "use range(...) for a loop whose iterations depend on each other"


class Key(enum.Enum):
    """Annotation keys this analysis leaves on the tree."""

    PLAN = "the ParallelPlan of a prange loop (on its For node)"
    OWNED_ACCESS = "{prange loop: (array name, axis)} on a subscript that accesses an owned element"


@dataclass(frozen=True)
class ParallelPlan:
    """What a prange loop's iterations share, by the user's variable names.

    `owned` maps each array the body writes to the axis along which iteration
    `i` owns one index; `reductions` maps each reduction variable to its
    operator (`"+"`, `"*"`, `"min"`, `"max"`). `loop` is the loop's (line,
    column), which names it in the `OWNED_ACCESS` annotations of its body.
    """

    index: str
    loop: tuple = ()
    owned: dict = field(default_factory=dict)
    reductions: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Dependence:
    """Why a prange body cannot run its iterations at once, at `node`."""

    node: object
    message: str
    hint: str = _SEQUENTIAL_HINT


def is_prange_call(node) -> bool:
    """Whether a `for` header is `prange(...)` or `<module>.prange(...)` (how refscript spots parallel loops)."""
    if not isinstance(node, gast.Call) or node.keywords:
        return False
    func = node.func
    return (isinstance(func, gast.Name) and func.id == "prange") or (
        isinstance(func, gast.Attribute) and func.attr == "prange"
    )


def analyze(loop: gast.For) -> ParallelPlan | Dependence:
    """Returns the plan of a prange loop, or the first dependence that forbids running it in parallel.

    Annotates the owned-array accesses of the body with `Key.OWNED_ACCESS`.
    """
    if not isinstance(loop.target, gast.Name):
        return Dependence(loop.target, "a prange loop variable must be a single name",
                          "write `for i in prange(n):`")
    walker = _Walker(loop.target.id, loop.body)
    walker.block(loop.body, frozenset())
    if walker.problems:
        return walker.problems[0]
    return _Roles(walker, (loop.lineno, loop.col_offset)).plan()


# Affine indices: f(i) = c*i + k, as (c, k) with k a sorted tuple of (term, coefficient).


def affine(node, index: str, changing: set[str]):
    """Returns `(c, k)` if `node` is `c*index + k` with integer `c` and `k` free of
    names in `changing`; `k` is a canonical tuple of `(term, coefficient)`. Else None."""
    terms = _linear(node, index, changing)
    if terms is None:
        return None
    coefficient = terms.pop(index, 0)
    return coefficient, tuple(sorted((t, c) for t, c in terms.items() if c != 0))


def _linear(node, index, changing):
    if isinstance(node, gast.Name) and node.id == index:
        return {index: 1}
    if isinstance(node, gast.Constant) and type(node.value) is int:
        return {"": node.value}
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        inner = _linear(node.operand, index, changing)
        if inner is None:
            return None
        return {t: -c for t, c in inner.items()} if isinstance(node.op, gast.USub) else inner
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Add, gast.Sub)):
        left = _linear(node.left, index, changing)
        right = _linear(node.right, index, changing)
        if left is None or right is None:
            return None
        sign = -1 if isinstance(node.op, gast.Sub) else 1
        out = dict(left)
        for t, c in right.items():
            out[t] = out.get(t, 0) + sign * c
        return out
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        left = _linear(node.left, index, changing)
        right = _linear(node.right, index, changing)
        if left is None or right is None:
            return None
        for scale, other in ((left, right), (right, left)):
            if set(scale) <= {""}:  # an integer constant times a linear form
                factor = scale.get("", 0)
                return {t: factor * c for t, c in other.items()}
        return None
    names = {n.id for n in gast.walk(node) if isinstance(n, gast.Name)}
    if index in names or names & changing:
        return None
    if any(isinstance(n, (gast.NamedExpr, gast.Lambda) + _COMPREHENSIONS) for n in gast.walk(node)):
        return None
    return {gast.dump(node): 1}  # a loop-invariant term (a name, `x.shape[0]`, `len(x)`)


def index_elements(subscript: gast.Subscript):
    """Returns the index expressions of `subscript` by axis, or None when axes cannot be
    counted from the left (an `...` or a starred index)."""
    items = subscript.slice.elts if isinstance(subscript.slice, gast.Tuple) else [subscript.slice]
    for item in items:
        if isinstance(item, gast.Starred) or (isinstance(item, gast.Constant) and item.value is Ellipsis):
            return None
    return items


# The walk: definite assignment per iteration, accesses, reductions, jumps.


@dataclass
class _Reduction:
    name: str
    op: str
    stmt: object
    defined: bool  # whether the name was assigned earlier in this iteration


def _reduction_form(stmt):
    """Returns `(name, op, operand)` if `stmt` is a reduction statement, else None."""
    if isinstance(stmt, gast.AugAssign) and isinstance(stmt.target, gast.Name):
        op = _AUGMENTED.get(type(stmt.op))
        if op is not None and not _mentions(stmt.value, stmt.target.id):
            return stmt.target.id, op, stmt.value
        return None
    if not (isinstance(stmt, gast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], gast.Name)):
        return None
    name, value = stmt.targets[0].id, stmt.value
    if isinstance(value, gast.BinOp):
        sides = [(value.left, value.right)]
        if isinstance(value.op, gast.Sub):
            op = "+"
        else:
            op = _COMMUTATIVE.get(type(value.op))
            sides.append((value.right, value.left))
        if op is not None:
            for accumulator, operand in sides:
                if _is_name(accumulator, name) and not _mentions(operand, name):
                    return name, op, operand
        return None
    if (
        isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and value.func.id in _EXTREMA
        and len(value.args) == 2 and not value.keywords
    ):
        for accumulator, operand in (value.args, value.args[::-1]):
            if _is_name(accumulator, name) and not _mentions(operand, name):
                return name, _EXTREMA[value.func.id], operand
    return None


def _is_name(node, name: str) -> bool:
    return isinstance(node, gast.Name) and node.id == name


def _mentions(node, name: str) -> bool:
    return any(_is_name(n, name) for n in gast.walk(node))


def _rebound(stmts) -> set[str]:
    """Names rebound anywhere in `stmts`, not counting the locals of nested scopes."""
    names = set()

    def visit(node):
        if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Store):
            names.add(node.id)
        if isinstance(node, gast.FunctionDef):
            names.add(node.name)
            return
        if isinstance(node, (gast.Lambda,) + _COMPREHENSIONS):
            return
        if isinstance(node, gast.alias):
            names.add((node.asname or node.name).split(".")[0])
        for child in gast.iter_child_nodes(node):
            visit(child)

    for stmt in stmts:
        visit(stmt)
    return names


def _subscript_written(stmts) -> set[str]:
    names = set()
    for stmt in stmts:
        for node in gast.walk(stmt):
            if isinstance(node, gast.Subscript) and isinstance(node.ctx, gast.Store):
                base = node.value
                if isinstance(base, gast.Name):
                    names.add(base.id)
    return names


class _Walker:
    """Walks a prange body in execution order, tracking what each iteration has assigned."""

    def __init__(self, index: str, body):
        self.index = index
        self.rebound = _rebound(body)
        self.shared = _subscript_written(body) - self.rebound  # arrays living across iterations
        self.changing = self.rebound | self.shared | {index}
        self.problems: list[Dependence] = []
        self.loads: dict[str, list] = {}  # rebound name -> [(node, defined)] in order
        self.binds: dict[str, list] = {}  # rebound name -> [stmt or node]
        self.reductions: list[_Reduction] = []
        self.accesses: dict[str, list] = {}  # shared array -> [(subscript, is_write)]
        self.bare: dict[str, list] = {}  # shared array -> [node] used other than element-wise
        self._loop_depth = 0

    def problem(self, node, message, hint=_SEQUENTIAL_HINT):
        self.problems.append(Dependence(node, message, hint))

    # Statements.

    def block(self, stmts, defined: frozenset) -> frozenset:
        for stmt in stmts:
            defined = self.statement(stmt, defined)
        return defined

    def statement(self, stmt, defined: frozenset) -> frozenset:
        if isinstance(stmt, gast.Return):
            self.problem(stmt, "`return` inside a prange loop: its iterations run at once, in no order, "
                         "so no iteration can end the function",
                         "compute the result with the loop, and return after it")
            return defined
        if isinstance(stmt, gast.Break) and self._loop_depth == 0:
            self.problem(stmt, "`break` inside a prange loop: its iterations run at once, in no order, "
                         "so there are no later iterations to skip",
                         "use range(...) to stop early, or `continue` to skip the rest of one iteration")
            return defined
        form = _reduction_form(stmt)
        if form is not None and form[0] in self.rebound:
            name, op, operand = form
            if name == self.index:
                self.bind_name(name, stmt, defined)
            self.expression(operand, defined)
            self.reductions.append(_Reduction(name, op, stmt, name in defined))
            self.binds.setdefault(name, []).append(stmt)
            return defined
        if isinstance(stmt, gast.Assign):
            self.expression(stmt.value, defined)
            for target in stmt.targets:
                defined = self.target(target, defined, stmt)
            return defined
        if isinstance(stmt, gast.AugAssign):
            self.expression(stmt.value, defined)
            if isinstance(stmt.target, gast.Name):
                self.load(stmt.target, defined)
            return self.target(stmt.target, defined, stmt, augmented=True)
        if isinstance(stmt, gast.AnnAssign):
            if stmt.value is None:
                return defined
            self.expression(stmt.value, defined)
            return self.target(stmt.target, defined, stmt)
        if isinstance(stmt, gast.If):
            self.expression(stmt.test, defined)
            return self.block(stmt.body, defined) & self.block(stmt.orelse, defined)
        if isinstance(stmt, gast.For):
            self.expression(stmt.iter, defined)
            inner = self.target(stmt.target, defined, stmt)
            self._loop_depth += 1
            self.block(stmt.body, inner)
            self._loop_depth -= 1
            return self.block(stmt.orelse, defined)  # the body may run no iteration
        if isinstance(stmt, gast.While):
            self.expression(stmt.test, defined)
            self._loop_depth += 1
            self.block(stmt.body, defined)
            self._loop_depth -= 1
            return self.block(stmt.orelse, defined)
        if isinstance(stmt, gast.FunctionDef):
            self.nested(stmt, defined)
            return self.bind_name(stmt.name, stmt, defined)
        if isinstance(stmt, (gast.Import, gast.ImportFrom)):
            for alias in stmt.names:
                defined = self.bind_name((alias.asname or alias.name).split(".")[0], stmt, defined)
            return defined
        # Expr, Assert, Pass, Continue, Break (of an inner loop), and the rest: expressions only.
        for child in gast.iter_child_nodes(stmt):
            if isinstance(child, gast.expr):
                self.expression(child, defined)
        return defined

    def target(self, target, defined: frozenset, stmt, augmented: bool = False) -> frozenset:
        if isinstance(target, gast.Name):
            return self.bind_name(target.id, stmt, defined)
        if isinstance(target, (gast.Tuple, gast.List)):
            for elt in target.elts:
                defined = self.target(elt, defined, stmt)
            return defined
        if isinstance(target, gast.Starred):
            return self.target(target.value, defined, stmt)
        if isinstance(target, gast.Subscript):
            self.subscript(target, defined, write=True, read=augmented)
            return defined
        self.expression(target, defined)
        return defined

    def bind_name(self, name: str, stmt, defined: frozenset) -> frozenset:
        if name == self.index:
            self.problem(stmt, f"the prange loop variable {name!r} is assigned inside the loop",
                         "use another name for the new value")
        self.binds.setdefault(name, []).append(stmt)
        return defined | {name}

    # Expressions.

    def expression(self, node, defined: frozenset, shadowed: frozenset = frozenset()) -> None:
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load) and node.id not in shadowed:
                self.load(node, defined)
            return
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) and node.value.id not in shadowed:
            self.subscript(node, defined, write=False, read=True, shadowed=shadowed)
            return
        if (
            isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name)
            and node.value.id in self.shared and node.attr in _ARRAY_ATTRIBUTES
        ):
            return  # the shape of an owned array does not change
        if (
            isinstance(node, gast.Call) and _is_name(node.func, "len") and len(node.args) == 1
            and isinstance(node.args[0], gast.Name) and node.args[0].id in self.shared
        ):
            return
        if isinstance(node, _SCOPES + _COMPREHENSIONS):
            self.nested(node, defined, shadowed)
            return
        for child in gast.iter_child_nodes(node):
            self.expression(child, defined, shadowed)

    def nested(self, node, defined: frozenset, shadowed: frozenset = frozenset()) -> None:
        """A nested scope: its free reads count as reads where it is defined."""
        if isinstance(node, (gast.FunctionDef, gast.Lambda)):
            args = node.args
            bound = {a.id for a in args.posonlyargs + args.args + args.kwonlyargs}
            bound |= {a.id for a in (args.vararg, args.kwarg) if a is not None}
            if isinstance(node, gast.FunctionDef):
                bound |= _rebound(node.body)
                for default in args.defaults + [d for d in args.kw_defaults if d]:
                    self.expression(default, defined, shadowed)
            children = node.body if isinstance(node.body, list) else [node.body]
        else:
            bound = set().union(*(target_names(g.target) for g in node.generators))
            children = [g for g in node.generators]
            children += [node.key, node.value] if isinstance(node, gast.DictComp) else [node.elt]
        inner = shadowed | bound
        if self.index in bound or bound & self.shared:
            names = sorted((bound & self.shared) | ({self.index} & bound))
            self.problem(node, f"a nested scope inside a prange loop rebinds {names[0]!r}",
                         "use another name inside the nested scope")
        for child in children:
            for sub in gast.iter_child_nodes(child) if isinstance(child, gast.comprehension) else [child]:
                if isinstance(sub, gast.stmt):
                    self.nested_statement(sub, defined, inner)
                else:
                    self.expression(sub, defined, inner)

    def nested_statement(self, stmt, defined, shadowed) -> None:
        for sub in gast.walk(stmt):
            if isinstance(sub, gast.Subscript) and isinstance(sub.ctx, gast.Store):
                base = sub.value
                if isinstance(base, gast.Name) and base.id not in shadowed and base.id in self.changing:
                    self.problem(sub, f"a nested function inside a prange loop writes into {base.id!r}",
                                 "write into arrays in the loop body itself")
        for child in gast.iter_child_nodes(stmt):
            if isinstance(child, gast.stmt):
                self.nested_statement(child, defined, shadowed)
            elif isinstance(child, gast.expr):
                self.expression(child, defined, shadowed)

    def load(self, node, defined: frozenset) -> None:
        name = node.id
        if name in self.shared:
            self.bare.setdefault(name, []).append(node)
        elif name in self.rebound:
            self.loads.setdefault(name, []).append((node, name in defined))

    def subscript(self, node, defined, write: bool, read: bool, shadowed=frozenset()) -> None:
        base = node.value
        if isinstance(base, gast.Name) and base.id in self.shared and base.id not in shadowed:
            self.accesses.setdefault(base.id, []).append((node, write))
        elif isinstance(base, gast.Name):
            if base.id not in shadowed:
                self.load(base, defined)
        else:
            self.expression(base, defined, shadowed)
        self.expression(node.slice, defined, shadowed)


class _Roles:
    """Gives each name the body changes its role, or finds the dependence that forbids it."""

    def __init__(self, walker: _Walker, loop: tuple):
        self.w = walker
        self.loop = loop

    def plan(self) -> ParallelPlan | Dependence:
        reductions = {}
        for name in sorted(self.w.rebound):
            found = self._scalar(name)
            if isinstance(found, Dependence):
                return found
            if found is not None:
                reductions[name] = found
        owned = {}
        for name in sorted(self.w.shared):
            found = self._array(name)
            if isinstance(found, Dependence):
                return found
            owned[name] = found
        return ParallelPlan(self.w.index, self.loop, owned, reductions)

    def _scalar(self, name: str):
        """Returns the reduction operator of `name`, None for a private variable, or a Dependence."""
        reductions = [r for r in self.w.reductions if r.name == name]
        loads = self.w.loads.get(name, [])
        binds = self.w.binds.get(name, [])
        if reductions and len(reductions) == len(binds):
            ops = {r.op for r in reductions}
            if loads:
                node = loads[0][0]
                return Dependence(
                    node,
                    f"{name!r} is a reduction in this prange loop (line {reductions[0].stmt.lineno}) and is "
                    "also read here: its value in the middle of the loop depends on the order of iterations",
                    f"read {name!r} after the loop, or accumulate into a separate variable",
                )
            if len(ops) > 1:
                return Dependence(
                    reductions[-1].stmt,
                    f"{name!r} is combined with more than one operator ({', '.join(sorted(ops))}) in this prange "
                    "loop: the result would depend on the order of iterations",
                    "use one reduction operator per variable",
                )
            return ops.pop()
        uses = [(node, defined) for node, defined in loads] + [(r.stmt, r.defined) for r in reductions]
        uses.sort(key=lambda use: (use[0].lineno, use[0].col_offset))
        for node, defined in uses:
            if not defined:
                return Dependence(
                    node,
                    f"{name!r} is read before this iteration assigns it, so it would see the value another "
                    "iteration left: a loop-carried dependence in a prange loop",
                    f"assign {name!r} at the start of each iteration, make it a reduction "
                    f"({name} += ..., {name} = max({name}, ...)), or use range(...) for a sequential loop",
                )
        return None

    def _array(self, name: str):
        """Returns the axis along which each iteration owns `name`'s elements, or a Dependence."""
        bare = self.w.bare.get(name)
        accesses = self.w.accesses[name]
        if bare:
            return Dependence(
                bare[0],
                f"{name!r} is written element by element in this prange loop and used here as a whole: "
                "it would see elements other iterations write",
                f"read only the elements of {name!r} this iteration writes, or use range(...)",
            )
        first_write = next((sub for sub, write in accesses if write), accesses[0][0])
        candidates = self._owned_axes(first_write)
        if not candidates:
            return Dependence(first_write, self._shared_write_message(name, first_write), self._owned_hint(name))
        for axis, form in candidates:
            if all(self._form_at(sub, axis) == form for sub, _ in accesses):
                for sub, _ in accesses:
                    marks = dict(anno.getanno(sub, Key.OWNED_ACCESS, {}))  # nested pranges mark it too
                    marks[self.loop] = (name, axis)
                    anno.setanno(sub, Key.OWNED_ACCESS, marks)
                return axis
        axis, form = candidates[0]
        for sub, write in accesses:
            if self._form_at(sub, axis) != form:
                written = _source(first_write)
                if write:
                    message = (f"`{_source(sub)}` and `{written}` (line {first_write.lineno}) write elements of "
                               f"{name!r} that different iterations of this prange loop may share")
                else:
                    message = (f"`{_source(sub)}` reads an element of {name!r} that another iteration of this "
                               f"prange loop writes (`{written}`, line {first_write.lineno}): a loop-carried "
                               "dependence")
                return Dependence(sub, message, self._owned_hint(name, written))
        raise AssertionError("unreachable")

    def _owned_axes(self, sub):
        items = index_elements(sub)
        if items is None:
            return []
        found = []
        for axis, item in enumerate(items):
            form = affine(item, self.w.index, self.w.changing)
            if form is not None and form[0] != 0:
                found.append((axis, form))
        return found

    def _form_at(self, sub, axis):
        items = index_elements(sub)
        if items is None or axis >= len(items):
            return None
        return affine(items[axis], self.w.index, self.w.changing)

    def _shared_write_message(self, name, sub) -> str:
        return (f"`{_source(sub)}`: different iterations of this prange loop may write the same element of "
                f"{name!r} (no index of the form c*{self.w.index} + k, c a non-zero integer, with k unchanged "
                "by the loop)")

    def _owned_hint(self, name, written=None) -> str:
        i = self.w.index
        return (f"in a prange loop, iteration {i} may only read and write the elements of {name!r} "
                f"it owns ({name}[{i}], {name}[{i}, j], {name}[2*{i} + 1], ...), the same index every time; "
                "accumulate into a scalar with += for a sum, or use range(...)")


def _source(node) -> str:
    return unparse(node).strip()
