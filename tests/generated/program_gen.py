"""Random valid programs in refscript's supported subset, as Python source text.

`programs(config)` is a Hypothesis strategy of `Program`s: a module with a
function `f` (and small helper functions `h0`, `h1`, ... it calls) written in the
imperative subset `docs/supported.md` describes:

- nested `for` loops over `range` with static bounds (constants, shapes, Python
  int arguments, negative steps), bounds that depend on enclosing loop indices
  (triangular loops), run-time bounds (`np.int64` arguments, or Python ints
  traced with `static_scalars=False`); loops over arrays, rows of 2-D arrays,
  `enumerate`, `zip`, `reversed`, `refscript.static_range`; `for`/`else`;
- `while` loops with an iteration budget (`k < LIMIT and <data>`, `while True:`
  with a guarded `break`, `k *= 2` doubling from 1: unrolled), `while`/`else`;
- `if`/`elif`/`else` on traced and static predicates (comparisons, chained
  comparisons, `and`/`or`/`not`, bool variables), conditional expressions;
- `break`/`continue`/`return` at any depth, conditional or ending their block;
- float, int and bool variables, temporaries, tuple assignment, variables bound
  on every path of an `if`, an int accumulator turned float by `+=`, loop
  indices and while counters read after their loop, `+=` `-=` `*=` `/=` `%=`
  `//=`;
- in-place element updates of 1-D and 2-D float64/int64 arrays (arguments and
  locals, with negative and traced indices), static slices (with steps),
  `a[...]`, `a[mask] = v`, `a[[i, j]] op= v`, a float written into an int
  array, rebinding a local array, whole-array `a += v` / `a -= v` / `a *= c`
  (in place, as NumPy: on an argument the caller's array changes);
- calls to generated helpers (module level, with defaults and keywords; nested
  in `f` reading its arguments; a lambda), the builtins refscript gives a traced
  meaning (`abs`, `min`, `max`, `int`, `float`, `round`, `sum`), NumPy functions
  (`np.tanh`, `np.sqrt`, `np.exp`, `np.floor`, `np.maximum`, reductions).

The programs are valid by construction and stay inside the supported subset:

- every index is in bounds (`i % n`, `-1 - i % n`, or a loop index whose range
  is known to fit); index lists have distinct entries;
- no division except by `1.0 + abs(...)`, and floor division / modulo by
  positive constants, so no division by zero and no NaN;
- magnitudes stay bounded (no int64 overflow, no inf): expressions are split
  into *pure* ones (constants, loop indices, arguments, elements of arrays the
  program never writes: small by construction) and *state* ones (anything). An
  accumulator grows only by adding a pure value (`s += P`), by contracting
  (`s = s * 0.5 + P`), or is assigned a state value through a clamp
  (`s = min(max(S, -100.0), 100.0)`, `c = S % 7`);
- types are stable: float variables only ever hold floats, int variables ints,
  so the dtype of every result is the same on every path (NumPy's scalar types
  and Python's agree with JAX's in float64/int64; float32 is not generated: a
  Python float accumulator mixed with float32 data has a path-dependent type);
- none of the sharp bits: no aliasing (`b = a`), no writes into loop variables
  or arrays being iterated, no Python side effects, loop indices are read after
  their loop only when it surely ran, temporaries are read only later in the
  block that binds them, `break` / `continue` / `return` end their block, every
  path ends in a `return` of the same structure, no augmented masked writes
  (`a[mask] += v` is not in the documented subset).

`inputs(program, count)` draws argument tuples for a program; `fuzz_functions()`
draws syntactically valid functions from a much larger grammar (including
constructs refscript rejects) for the converter-robustness tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

# --------------------------------------------------------------------------------------
# Configuration and results


@dataclass(frozen=True)
class Config:
    """What a family of generated programs may contain."""

    name: str
    max_depth: int = 3  # nesting of loops and ifs in `f`
    max_block: int = 3  # statements per block (before the terminating jump, if any)
    max_statements: int = 11  # statements in `f`, over all blocks
    while_loops: bool = True
    traced_bounds: bool = True  # np.int64 loop bounds, and static_scalars=False
    int_array_args: bool = True
    helpers: bool = True
    early_returns: bool = True


VALUE = Config("value")
# Differentiable: float inputs, every loop with a static trip count (grad through
# run-time-length loops raises ReverseModeLoopError by design).
GRAD = Config("grad", while_loops=False, traced_bounds=False, int_array_args=False)
VMAP = Config("vmap")


@dataclass(frozen=True)
class Arg:
    """A parameter of `f`.

    kind: "farray" (float64 array), "iarray" (int64 array), "float" (Python float),
    "int" (Python int: static, or traced with `static_scalars=False`),
    "i64" (np.int64 scalar: traced).
    """

    name: str
    kind: str
    shape: tuple = ()


@dataclass(frozen=True)
class Program:
    source: str
    args: tuple
    static_scalars: bool
    features: frozenset
    entry: str = "f"

    def traced_positions(self):
        """Indices of the arguments refscript traces (the ones vmap batches)."""
        return [
            k for k, arg in enumerate(self.args)
            if not (arg.kind == "int" and self.static_scalars)
        ]

    def float_positions(self):
        """Indices of the float arguments (the ones grad differentiates)."""
        return [k for k, arg in enumerate(self.args) if arg.kind in ("farray", "float")]


# --------------------------------------------------------------------------------------
# Scope: what a statement may read and write


@dataclass(frozen=True)
class Arr:
    name: str
    dtype: str  # "f" or "i"
    shape: tuple
    written: bool  # the program may write it (then its elements are state, not pure)
    local: bool = False  # a local of `f` (may be rebound), not an argument


@dataclass(frozen=True)
class Helper:
    name: str
    params: tuple  # "f" / "i" per parameter; "f=" a float parameter with a default


@dataclass(frozen=True)
class IntVal:
    """A pure int: a loop index, a while counter, an int argument; lo..hi when known."""

    expr: str
    lo: int | None
    hi: int | None
    loop_index: bool = False  # a for-loop index (a triangular inner bound may use it)


@dataclass
class Scope:
    fvars: list  # float state variables (assignable)
    ivars: list  # int state variables (assignable)
    bvars: list  # bool variables (assignable)
    pure_ints: list  # IntVal
    pure_floats: list  # float arguments, values of `for v in arr`
    arrays: list  # Arr
    helpers: list  # Helper
    loop: str | None = None  # innermost loop: None, "for", "while"
    depth: int = 0
    returns: object = None  # callable(gen, scope) -> return statement text, or None
    in_helper: bool = False
    static_ints: tuple = ()  # names of static Python-int arguments (static predicates)

    def child(self, **changes):
        copy = dataclasses.replace(
            self, fvars=list(self.fvars), ivars=list(self.ivars), bvars=list(self.bvars),
            pure_ints=list(self.pure_ints),
            pure_floats=list(self.pure_floats), arrays=list(self.arrays), helpers=list(self.helpers),
        )
        for key, value in changes.items():
            setattr(copy, key, value)
        return copy

    def arrays_of(self, dtype=None, written=None, ndim=None):
        return [
            a for a in self.arrays
            if (dtype is None or a.dtype == dtype) and (written is None or a.written == written)
            and (ndim is None or len(a.shape) == ndim)
        ]


# Constants: dyadic, so arithmetic on them is exact where it can be.
FLOAT_CONSTS = ("0.5", "1.0", "-0.5", "2.0", "0.25", "-1.25", "1.5", "0.0", "-2.0", "0.75", "3.0")
CONTRACT = ("0.5", "-0.5", "0.75", "0.25", "-0.25", "0.875")  # |c| < 1
SCALE = ("0.5", "2.0", "-1.0", "1.5", "-0.5", "0.25")
FLOAT_CLAMP = ("100.0", "8.0", "1000.0")
INT_CLAMP = ("50", "9", "1000")
MODULI = (7, 5, 3, 13, 2)


def indent(lines, prefix="    "):
    return [prefix + line for line in lines]


class Gen:
    """Generation state: the Hypothesis `draw`, name counters, the statement budget."""

    def __init__(self, draw, config: Config):
        self.draw = draw
        self.config = config
        self.counts: dict = {}
        self.budget = config.max_statements
        self.features: set = set()

    def fresh(self, prefix):
        n = self.counts.get(prefix, 0)
        self.counts[prefix] = n + 1
        return f"{prefix}{n}"

    def pick(self, options):
        """A choice that shrinks toward the first option."""
        options = list(options)
        return options[self.draw(st.integers(0, len(options) - 1))]

    def integer(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def coin(self):
        return self.draw(st.booleans())

    def feature(self, name):
        self.features.add(name)


# --------------------------------------------------------------------------------------
# Indices


def index(g: Gen, sc: Scope, dim: int) -> str:
    """An index into an axis of length `dim` (>= 1), in bounds by construction."""
    kinds = ["const"]
    fits = [v for v in sc.pure_ints if v.lo is not None and v.hi is not None and v.lo <= v.hi
            and -dim <= v.lo and v.hi <= dim - 1]
    if fits:
        kinds += ["direct", "direct"]
    kinds += ["mod", "mod", "negmod"]
    kind = g.pick(kinds)
    if kind == "const":
        return str(g.integer(-dim, dim - 1))
    if kind == "direct":
        return g.pick(fits).expr
    inner = iexpr(g, sc, pure=False, depth=1)
    if kind == "mod":
        return f"{inner} % {dim}"
    g.feature("negative_index")
    return f"-1 - {inner} % {dim}"


def element(g: Gen, sc: Scope, arr: Arr) -> str:
    idx = [index(g, sc, d) for d in arr.shape]
    if len(idx) == 2 and g.integer(0, 5) == 0:
        return f"{arr.name}[{idx[0]}][{idx[1]}]"  # chained subscript: reads only
    return f"{arr.name}[{', '.join(idx)}]"


def write_target(g: Gen, sc: Scope, arr: Arr) -> str:
    return f"{arr.name}[{', '.join(index(g, sc, d) for d in arr.shape)}]"


# --------------------------------------------------------------------------------------
# Expressions. `pure=True`: the value is small whatever the program state is.


def fatom(g: Gen, sc: Scope, pure: bool) -> str:
    kinds = ["const"]
    ro = sc.arrays_of("f", written=False)
    if ro:
        kinds += ["ro", "ro"]
    if sc.pure_floats:
        kinds.append("pfloat")
    if sc.pure_ints:
        kinds.append("index")
    if not pure:
        if sc.fvars:
            kinds += ["fvar", "fvar", "fvar"]
        if sc.arrays_of("f", written=True):
            kinds += ["welem", "welem"]
        if sc.ivars:
            kinds.append("ivar")
    kind = g.pick(kinds)
    if kind == "const":
        return g.pick(FLOAT_CONSTS)
    if kind == "ro":
        return element(g, sc, g.pick(ro))
    if kind == "pfloat":
        return g.pick(sc.pure_floats)
    if kind == "index":
        return f"({g.pick(sc.pure_ints).expr} * 0.25)"
    if kind == "fvar":
        return g.pick(sc.fvars)
    if kind == "welem":
        return element(g, sc, g.pick(sc.arrays_of("f", written=True)))
    return f"({g.pick(sc.ivars)} * 0.5)"


def fexpr(g: Gen, sc: Scope, pure: bool, depth: int = 2) -> str:
    """A float expression (Python float or float64 on every path)."""
    kinds = ["atom"] * 8
    if depth > 0:
        kinds += ["add", "sub", "scale", "abs", "minmax", "div", "from_int", "ifexp", "mod", "mul"]
        if pure:
            kinds.append("square")
        if sc.helpers:
            kinds += ["call", "call"]
        kinds += ["numpy", "reduce"]
    kind = g.pick(kinds)
    if kind == "atom":
        return fatom(g, sc, pure)
    if kind == "numpy":
        fn = g.pick(["np.tanh({})", "np.sqrt(1.0 + abs({}))", "np.exp(-abs({}))", "np.floor({})",
                     "np.maximum({}, {})", "np.abs({})"])
        g.feature("numpy_call")
        return fn.format(*(fexpr(g, sc, pure, depth - 1) for _ in range(fn.count("{}"))))
    if kind == "reduce":
        arrays = sc.arrays_of("f", written=False if pure else None)
        if not arrays:
            return fatom(g, sc, pure)
        arr = g.pick(arrays)
        g.feature("reduction")
        if len(arr.shape) == 1 and g.coin():
            spec, _ = slice_spec(g, arr.shape[0])
            return f"{arr.name}[{spec}].{g.pick(['sum', 'max', 'min'])}()"
        forms = ["{}.sum()", "np.sum({})", "{}.max()", "{}.min()", "np.mean({})"]
        if len(arr.shape) == 1:
            forms += ["sum({})", "max({})", "min({})"]
        return g.pick(forms).format(arr.name)
    sub = lambda: fexpr(g, sc, pure, depth - 1)
    if kind == "add":
        return f"({sub()} + {sub()})"
    if kind == "sub":
        return f"({sub()} - {sub()})"
    if kind == "scale":
        return f"({sub()} * {g.pick(SCALE)})"
    if kind == "abs":
        return f"abs({sub()})"
    if kind == "minmax":
        g.feature("min_max")
        return f"{g.pick(['min', 'max'])}({sub()}, {sub()})"
    if kind == "div":
        g.feature("division")
        return f"({sub()} / (1.0 + abs({sub()})))"
    if kind == "from_int":
        inner = iexpr(g, sc, pure, depth - 1)
        if g.coin():
            g.feature("float_call")
            return f"float({inner})"
        return f"({inner} * 0.5)"
    if kind == "ifexp":
        g.feature("conditional_expression")
        return f"({sub()} if {cond(g, sc, 1)} else {sub()})"
    if kind == "mod":
        g.feature("float_mod")
        return f"({sub()} % 1.5)"
    if kind == "mul":
        # A product of a value of any size with a small one: bounded growth.
        return f"({sub()} * {fexpr(g, sc, True, depth - 1)})"
    if kind == "square":
        return f"({sub()} ** 2)"
    helper = g.pick(sc.helpers)
    g.feature("helper_call")
    args = []
    for p in helper.params:
        if p == "f=":
            style = g.pick(["positional", "omitted", "keyword"])
            if style == "omitted":
                g.feature("default_argument")
                break
            value = fexpr(g, sc, pure, 0)
            args.append(value if style == "positional" else f"v={value}")
        else:
            args.append(fexpr(g, sc, pure, 0) if p == "f" else iexpr(g, sc, pure, 0))
    return f"{helper.name}({', '.join(args)})"


def iatom(g: Gen, sc: Scope, pure: bool) -> str:
    kinds = ["const"]
    if sc.pure_ints:
        kinds += ["pint", "pint", "pint"]
    ro = sc.arrays_of("i", written=False)
    if ro:
        kinds += ["ro", "ro"]
    if sc.arrays:
        kinds.append("len")
    if g.integer(0, 2) == 0:
        kinds.append("conv")
    if not pure:
        if sc.ivars:
            kinds += ["ivar", "ivar", "ivar"]
        if sc.arrays_of("i", written=True):
            kinds += ["welem", "welem"]
    kind = g.pick(kinds)
    if kind == "const":
        return str(g.integer(-3, 5))
    if kind == "pint":
        return g.pick(sc.pure_ints).expr
    if kind == "ro":
        return element(g, sc, g.pick(ro))
    if kind == "len":
        arr = g.pick(sc.arrays)
        return g.pick([f"{arr.name}.shape[0]", f"len({arr.name})", f"{arr.name}.shape[-1]"])
    if kind == "conv":
        fn = g.pick(["int", "round"])
        g.feature(f"{fn}_call")
        bound = g.pick(["50.0", "4.0"])
        return f"{fn}(min(max({fexpr(g, sc, False, 1)}, -{bound}), {bound}))"
    if kind == "ivar":
        return g.pick(sc.ivars)
    return element(g, sc, g.pick(sc.arrays_of("i", written=True)))


def iexpr(g: Gen, sc: Scope, pure: bool, depth: int = 2) -> str:
    """An int expression (Python int or int64 on every path)."""
    kinds = ["atom"] * 6
    if depth > 0:
        kinds += ["add", "sub", "mulc", "mod", "floordiv", "abs", "minmax", "mul"]
    kind = g.pick(kinds)
    if kind == "atom":
        return iatom(g, sc, pure)
    sub = lambda: iexpr(g, sc, pure, depth - 1)
    if kind == "add":
        return f"({sub()} + {sub()})"
    if kind == "sub":
        return f"({sub()} - {sub()})"
    if kind == "mulc":
        return f"({sub()} * {g.integer(-2, 3)})"
    if kind == "mod":
        g.feature("int_mod")
        return f"({sub()} % {g.integer(2, 7)})"
    if kind == "floordiv":
        g.feature("floor_division")
        return f"({sub()} // {g.integer(2, 4)})"
    if kind == "abs":
        return f"abs({sub()})"
    if kind == "minmax":
        g.feature("min_max")
        return f"{g.pick(['min', 'max'])}({sub()}, {sub()})"
    return f"({sub()} * {iatom(g, sc, True)})"


def cond(g: Gen, sc: Scope, depth: int = 2) -> str:
    """A predicate: traced comparisons, static ones, and/or/not."""
    kinds = ["fcmp", "fcmp", "fcmp", "icmp", "imod", "chained"]
    if sc.static_ints:
        kinds.append("static")
    if sc.bvars:
        kinds += ["bvar", "bvar"]
    if depth > 0:
        kinds += ["and", "or", "not"]
    kind = g.pick(kinds)
    if kind == "fcmp":
        left = fexpr(g, sc, False, 1)
        right = fexpr(g, sc, False, 0) if g.coin() else g.pick(FLOAT_CONSTS)
        return f"{left} {g.pick(['<', '>', '<=', '>='])} {right}"
    if kind == "icmp":
        return f"{iexpr(g, sc, False, 1)} {g.pick(['<', '>', '==', '!=', '<=', '>='])} {iexpr(g, sc, False, 0)}"
    if kind == "imod":
        m = g.integer(2, 4)
        return f"{iexpr(g, sc, False, 1)} % {m} == {g.integer(0, m - 1)}"
    if kind == "chained":
        g.feature("chained_comparison")
        a, b, c = (fexpr(g, sc, False, 0) for _ in range(3))
        return f"{a} {g.pick(['<', '<='])} {b} {g.pick(['<', '<='])} {c}"
    if kind == "bvar":
        g.feature("bool_variable")
        return g.pick(["{}", "not {}"]).format(g.pick(sc.bvars))
    if kind == "static":
        g.feature("static_predicate")
        return f"{g.pick(sc.static_ints)} {g.pick(['>', '<', '=='])} {g.integer(0, 4)}"
    g.feature(f"logical_{kind}")
    if kind == "not":
        return f"not ({cond(g, sc, depth - 1)})"
    return f"({cond(g, sc, depth - 1)}) {kind} ({cond(g, sc, depth - 1)})"


# --------------------------------------------------------------------------------------
# Statements. Each returns (lines, terminal): terminal statements end their block.


def clamp_f(expr, bound):
    return f"min(max({expr}, -{bound}), {bound})"


def float_update(g: Gen, sc: Scope, target: str) -> str:
    kind = g.pick(["add", "add", "sub", "contract", "scale", "clamp", "assign", "divide", "mod"])
    if kind == "mod":
        g.feature("mod_assign")
        return f"{target} %= 1.5"
    if kind == "add":
        return f"{target} += {fexpr(g, sc, True)}"
    if kind == "sub":
        return f"{target} -= {fexpr(g, sc, True)}"
    if kind == "contract":
        return f"{target} = {target} * {g.pick(CONTRACT)} + {fexpr(g, sc, True)}"
    if kind == "scale":
        return f"{target} *= {g.pick(CONTRACT)}"
    if kind == "clamp":
        g.feature("clamp")
        return f"{target} = {clamp_f(fexpr(g, sc, False), g.pick(FLOAT_CLAMP))}"
    if kind == "assign":
        return f"{target} = {fexpr(g, sc, True)}"
    g.feature("divide_assign")
    return f"{target} /= 1.0 + abs({fexpr(g, sc, False, 1)})"


def int_update(g: Gen, sc: Scope, target: str) -> str:
    kind = g.pick(["add", "add", "sub", "mod", "clamp", "assign", "negate", "halve", "mod_assign"])
    if kind == "mod_assign":
        g.feature("mod_assign")
        return f"{target} %= {g.pick(MODULI)}"
    if kind == "add":
        return f"{target} += {iexpr(g, sc, True)}"
    if kind == "sub":
        return f"{target} -= {iexpr(g, sc, True)}"
    if kind == "mod":
        return f"{target} = {iexpr(g, sc, False)} % {g.pick(MODULI)}"
    if kind == "clamp":
        b = g.pick(INT_CLAMP)
        return f"{target} = min(max({iexpr(g, sc, False)}, -{b}), {b})"
    if kind == "assign":
        return f"{target} = {iexpr(g, sc, True)}"
    if kind == "negate":
        return f"{target} *= -1"
    return f"{target} //= 2"


def stmt_fvar(g, sc):
    return [float_update(g, sc, g.pick(sc.fvars))], False


def stmt_ivar(g, sc):
    return [int_update(g, sc, g.pick(sc.ivars))], False


def stmt_element(g, sc):
    arr = g.pick(sc.arrays_of(written=True))
    g.feature(f"write_{len(arr.shape)}d_{arr.dtype}")
    target = write_target(g, sc, arr)
    if arr.dtype == "f":
        if g.integer(0, 4) == 0:
            src = g.pick(sc.arrays_of("f", written=True))
            return [f"{target} = {element(g, sc, src)} * {g.pick(CONTRACT)} + {fexpr(g, sc, True, 1)}"], False
        return [float_update(g, sc, target)], False
    kind = g.pick(["int", "int", "float_into_int", "float_add_into_int"])
    if kind == "int":
        return [int_update(g, sc, target)], False
    g.feature("float_into_int_array")
    if kind == "float_into_int":
        return [f"{target} = {clamp_f(fexpr(g, sc, False, 1), g.pick(['50.0', '3.5']))}"], False
    return [f"{target} += {fexpr(g, sc, True, 1)}"], False


def slice_spec(g: Gen, dim: int):
    """A static slice of an axis of length dim, with its length (>= 1)."""
    forms = []
    for lo in range(dim):
        for hi in range(lo + 1, dim + 1):
            forms.append((lo, hi, 1))
    lo, hi, step = g.pick(forms)
    if hi - lo >= 3 and g.integer(0, 3) == 0:
        step = 2
    length = len(range(lo, hi, step))
    style = g.integer(0, 2)
    lo_s = "" if lo == 0 and style else str(lo)
    if hi == dim and style:
        hi_s = ""
    elif hi < dim and style == 2:
        hi_s = str(hi - dim)  # negative stop
    else:
        hi_s = str(hi)
    text = f"{lo_s}:{hi_s}" + (f":{step}" if step != 1 else "")
    return text, length


def stmt_slice(g, sc):
    arr = g.pick(sc.arrays_of(written=True))
    style = g.pick(["slice", "slice", "mask", "index_list"])
    if style == "mask":
        return mask_write(g, sc, arr), False
    if style == "index_list":
        return index_list_write(g, sc, arr), False
    g.feature(f"slice_write_{len(arr.shape)}d")
    if len(arr.shape) == 1:
        spec, length = slice_spec(g, arr.shape[0])
        target = f"{arr.name}[{spec}]"
        other, other_length = slice_spec(g, arr.shape[0])
        source = f"{arr.name}[{other}]" if other_length == length else None
    else:
        if g.coin():
            spec, length = slice_spec(g, arr.shape[0])
            target = f"{arr.name}[{spec}, {index(g, sc, arr.shape[1])}]"
        else:
            spec, length = slice_spec(g, arr.shape[1])
            target = f"{arr.name}[{index(g, sc, arr.shape[0])}, {spec}]"
        source = None
    if arr.dtype == "i":
        kind = g.pick(["add", "assign", "whole"])
        if kind == "whole":  # NumPy: in place on the whole array (the caller's, for an argument)
            g.feature("whole_array_op")
            return [f"{arr.name} {g.pick(['+=', '-='])} {iexpr(g, sc, True, 1)}"], False
        if kind == "add":
            return [f"{target} += {iexpr(g, sc, True, 1)}"], False
        return [f"{target} = {iexpr(g, sc, True, 1)}"], False
    kind = g.pick(["add", "scale", "assign", "copy", "ellipsis", "whole"])
    if kind == "whole":  # NumPy: in place on the whole array (the caller's, for an argument)
        g.feature("whole_array_op")
        if g.coin():
            return [f"{arr.name} *= {g.pick(CONTRACT)}"], False
        return [f"{arr.name} {g.pick(['+=', '-='])} {fexpr(g, sc, True, 1)}"], False
    if kind == "add":
        return [f"{target} += {fexpr(g, sc, True, 1)}"], False
    if kind == "scale":
        return [f"{target} *= {g.pick(CONTRACT)}"], False
    if kind == "assign" or (kind == "copy" and source is None):
        return [f"{target} = {fexpr(g, sc, True, 1)}"], False
    if kind == "copy":
        g.feature("slice_copy")
        return [f"{target} = {source} * {g.pick(CONTRACT)} + {fexpr(g, sc, True, 1)}"], False
    g.feature("ellipsis_write")
    return [f"{arr.name}[...] = {arr.name} * {g.pick(CONTRACT)}"], False


def mask_write(g, sc, arr):
    """`a[mask] = v` with a boolean mask of the array's shape."""
    g.feature("mask_write")
    same = [a for a in sc.arrays if a.shape == arr.shape and a.dtype == arr.dtype]
    src = g.pick(same)
    const = g.pick(FLOAT_CONSTS) if arr.dtype == "f" else str(g.integer(-2, 5))
    mask = f"{src.name} {g.pick(['>', '<', '>=', '!='])} {const}"
    # Only `a[mask] = v`: the augmented forms (`a[mask] += v`) read `a[mask]`, whose
    # size depends on the data; docs/supported.md lists only the assignment.
    if arr.dtype == "f":
        return [f"{arr.name}[{mask}] = {fexpr(g, sc, True, 1)}"]
    return [f"{arr.name}[{mask}] = {iexpr(g, sc, True, 1)}"]


def index_list_write(g, sc, arr):
    """`a[[i, j]] = v` with distinct static indices (NumPy and JAX disagree on duplicates)."""
    g.feature("index_list_write")
    dim = arr.shape[0]
    chosen = g.draw(st.lists(st.integers(0, dim - 1), min_size=1, max_size=min(dim, 3), unique=True))
    spelled = [str(k - dim) if g.integer(0, 3) == 0 else str(k) for k in chosen]
    rest = ", :" if len(arr.shape) == 2 and g.coin() else ""
    target = f"{arr.name}[[{', '.join(spelled)}]{rest}]"
    if arr.dtype == "f":
        op = g.pick(["=", "+=", "*="])
        value = g.pick(CONTRACT) if op == "*=" else fexpr(g, sc, True, 1)
        return [f"{target} {op} {value}"]
    return [f"{target} {g.pick(['=', '+='])} {iexpr(g, sc, True, 1)}"]


def stmt_rebind(g, sc):
    """Rebinding a local array to a new array of the same shape."""
    arr = g.pick([a for a in sc.arrays if a.local])
    g.feature("array_rebind")
    if arr.dtype == "i":
        return [f"{arr.name} = ({arr.name} + {iexpr(g, sc, True, 1)}) % {g.pick(MODULI)}"], False
    same = [a for a in sc.arrays_of("f", written=False) if a.shape == arr.shape]
    other = f" + {g.pick(same).name} * {g.pick(SCALE)}" if same and g.coin() else ""
    return [f"{arr.name} = {arr.name} * {g.pick(CONTRACT)} + {fexpr(g, sc, True, 1)}{other}"], False


def stmt_bool(g, sc):
    target = g.pick(sc.bvars)
    g.feature("bool_variable")
    kind = g.pick(["cond", "or", "and", "not", "const"])
    if kind == "cond":
        return [f"{target} = {cond(g, sc, 1)}"], False
    if kind in ("or", "and"):
        return [f"{target} = {target} {kind} ({cond(g, sc, 0)})"], False
    if kind == "not":
        return [f"{target} = not {target}"], False
    return [f"{target} = {g.pick(['True', 'False'])}"], False


def stmt_if_bind(g, sc):
    """A variable bound on every path of an if/elif/else, used after it."""
    g.feature("bound_on_every_path")
    name = g.fresh("t")
    kind = g.pick(["f", "i", "b"])

    def value():
        if kind == "f":
            return fexpr(g, sc, False)
        if kind == "i":
            return f"{iexpr(g, sc, False)} % {g.pick(MODULI)}"
        return cond(g, sc, 1)

    lines = []
    for k in range(g.integer(1, 2)):
        lines.append(f"{'if' if k == 0 else 'elif'} {cond(g, sc)}:")
        lines += indent([f"{name} = {value()}"] + block(g, sc.child(depth=sc.depth + 1)))
    lines += ["else:"] + indent([f"{name} = {value()}"] + block(g, sc.child(depth=sc.depth + 1)))
    {"f": sc.fvars, "i": sc.ivars, "b": sc.bvars}[kind].append(name)
    return lines, False


def stmt_temp(g, sc):
    name = g.fresh("t")
    if g.coin():
        line = f"{name} = {fexpr(g, sc, False)}"
        sc.fvars.append(name)
    else:
        kind = g.pick(["pure", "mod", "clamp"])
        if kind == "pure":
            line = f"{name} = {iexpr(g, sc, True)}"
        elif kind == "mod":
            line = f"{name} = {iexpr(g, sc, False)} % {g.pick(MODULI)}"
        else:
            line = f"{name} = min(max({iexpr(g, sc, False)}, -1000), 1000)"
        sc.ivars.append(name)
    g.feature("temporary")
    return [line], False


def stmt_swap(g, sc):
    g.feature("tuple_assign")
    if len(sc.fvars) >= 2 and (len(sc.ivars) < 2 or g.coin()):
        a, b = g.draw(st.permutations(sc.fvars))[:2]
        if g.coin():
            return [f"{a}, {b} = {b}, {a}"], False
        return [f"{a}, {b} = {b} * {g.pick(CONTRACT)}, {a} + {fexpr(g, sc, True, 1)}"], False
    a, b = g.draw(st.permutations(sc.ivars))[:2]
    return [f"{a}, {b} = {b}, {a}"], False


def stmt_if(g, sc):
    g.feature("if")
    shape = g.pick(["if", "if_else", "if_elif", "if_elif_else"])
    lines = [f"if {cond(g, sc)}:"] + indent(block(g, sc.child(depth=sc.depth + 1)))
    if shape in ("if_elif", "if_elif_else"):
        g.feature("elif")
        lines += [f"elif {cond(g, sc)}:"] + indent(block(g, sc.child(depth=sc.depth + 1)))
    if shape in ("if_else", "if_elif_else"):
        g.feature("else")
        lines += ["else:"] + indent(block(g, sc.child(depth=sc.depth + 1)))
    return lines, False


def range_text(*args):
    return f"range({', '.join(str(a) for a in args)})"


def stmt_for(g, sc, promote=None):
    """A for loop. Loops that surely run (a static trip count >= 1) leave their index
    (and values) bound after them, as in Python. `promote`: an int variable (`p = 0`)
    the first statement of the body turns into a float (`p += 0.5`)."""
    cfg = g.config
    forms = ["const", "shape"]
    loop_indices = [v for v in sc.pure_ints if v.loop_index and v.lo is not None and v.lo >= 0]
    if g.int_args and not sc.in_helper and promote is None:
        forms.append("int_arg")
    if loop_indices and promote is None:
        forms += ["triangular"]
    if cfg.traced_bounds and g.i64_args and not sc.in_helper and promote is None:
        forms += ["traced", "traced"]
    if sc.arrays_of(written=False, ndim=1) and not sc.in_helper:
        forms += ["iterate", "enumerate"]
    if len(sc.arrays_of(written=False, ndim=1)) >= 2 and not sc.in_helper:
        forms.append("zip")
    if sc.arrays_of(written=False, ndim=2) and not sc.in_helper:
        forms.append("rows")
    if not sc.in_helper:
        forms += ["reversed", "static_range"]
    form = g.pick(forms)
    i = g.fresh("i")
    values = []  # (name, dtype) bound to elements
    rows = []  # Arr bound to rows
    loop_index = True
    runs = True  # surely at least one iteration
    if form == "const":
        k = g.integer(1 if promote else 0, 4)
        if g.coin() or sc.in_helper:
            header, lo, hi = f"for {i} in {range_text(k)}:", 0, k - 1
        else:
            start = g.integer(-2, 2)
            step = g.pick([1, 2, -1])
            stop = start + step * k
            header = f"for {i} in {range_text(start, stop, step) if step != 1 else range_text(start, stop)}:"
            lo, hi = min(start, start + step * (k - 1)), max(start, start + step * (k - 1))
        if k == 0:
            lo = hi = None
            runs = False
        g.feature("for_const")
    elif form == "shape":
        arr = g.pick(sc.arrays) if sc.arrays else None
        if arr is None:
            n, dim = "3", 3
        else:
            axis = g.integer(0, len(arr.shape) - 1)
            n, dim = f"{arr.name}.shape[{axis}]", arr.shape[axis]
        variant = g.pick(["plain", "from1", "rev", "step2"])
        if variant == "plain":
            header, lo, hi = f"for {i} in range({n}):", 0, dim - 1
        elif variant == "from1":
            header, lo, hi = f"for {i} in range(1, {n}):", 1, dim - 1
            runs = dim >= 2
        elif variant == "rev":
            g.feature("for_negative_step")
            header, lo, hi = f"for {i} in range({n} - 1, -1, -1):", 0, dim - 1
        else:
            header, lo, hi = f"for {i} in range(0, {n}, 2):", 0, dim - 1
        if promote and not runs:
            header, lo, hi, runs = f"for {i} in range({n}):", 0, dim - 1, True
        g.feature("for_shape")
    elif form == "int_arg":
        n = g.pick(g.int_args)
        if g.coin():
            header, lo, hi = f"for {i} in range({n}):", 0, 3
        else:
            header, lo, hi = f"for {i} in range(1, {n} + 1):", 1, 4
        runs = False
        g.feature("for_int_arg" if not g.static_scalars_off else "for_traced_int_arg")
    elif form == "triangular":
        outer = g.pick(loop_indices)
        variant = g.pick(["below", "above"])
        if variant == "below" or not sc.arrays:
            header, lo, hi = f"for {i} in range({outer.expr}):", 0, outer.hi - 1
        else:
            arr = g.pick(sc.arrays)
            header = f"for {i} in range({outer.expr} + 1, {arr.name}.shape[0]):"
            lo, hi = outer.lo + 1, arr.shape[0] - 1
        runs = False
        g.feature("for_triangular")
    elif form == "traced":
        t = g.pick(g.i64_args)
        variant = g.pick(["stop", "start", "min"])
        if variant == "stop":
            header, lo, hi = f"for {i} in range({t}):", 0, 3
        elif variant == "start":
            header, lo, hi = f"for {i} in range({t}, 4):", -1, 3
        else:
            header, lo, hi = f"for {i} in range(min({t}, 2), {t} + 2):", -1, 5
        runs = False
        g.feature("for_traced_bound")
    elif form in ("iterate", "enumerate"):
        arr = g.pick(sc.arrays_of(written=False, ndim=1))
        v = g.fresh("v")
        values.append((v, arr.dtype))
        if form == "iterate":
            header = f"for {v} in {arr.name}:"
            loop_index = False
            lo = hi = None
            i = None
        else:
            header, lo, hi = f"for {i}, {v} in enumerate({arr.name}):", 0, arr.shape[0] - 1
        g.feature(f"for_{form}")
    elif form == "zip":
        first, second = g.draw(st.permutations(sc.arrays_of(written=False, ndim=1)))[:2]
        v, w = g.fresh("v"), g.fresh("v")
        values += [(v, first.dtype), (w, second.dtype)]
        header = f"for {v}, {w} in zip({first.name}, {second.name}):"
        i, lo, hi, loop_index = None, None, None, False
        g.feature("for_zip")
    elif form == "rows":
        arr = g.pick(sc.arrays_of(written=False, ndim=2))
        row = g.fresh("row")
        rows.append(Arr(row, arr.dtype, arr.shape[1:], False))
        header = f"for {row} in {arr.name}:"
        i, lo, hi, loop_index = None, None, None, False
        g.feature("for_rows")
    elif form == "reversed":
        arr = g.pick(sc.arrays) if sc.arrays else None
        n = f"{arr.name}.shape[0]" if arr else "3"
        header, lo, hi = f"for {i} in reversed(range({n})):", 0, (arr.shape[0] if arr else 3) - 1
        g.feature("for_reversed")
    else:
        k = g.integer(1 if promote else 0, 3)
        header, lo, hi = f"for {i} in refscript.static_range({k}):", 0, k - 1
        runs = k >= 1
        g.feature("for_static_range")
    body_scope = sc.child(depth=sc.depth + 1, loop="for")
    if i is not None:
        body_scope.pure_ints.append(IntVal(i, lo, hi, loop_index))
    for v, dtype in values:
        if dtype == "f":
            body_scope.pure_floats.append(v)
        else:
            body_scope.pure_ints.append(IntVal(v, None, None))
    body_scope.arrays += rows
    body = []
    if promote is not None:
        body.append(f"{promote} += {fexpr(g, body_scope, True, 1)}")
        body_scope.fvars.append(promote)
    lines = [header] + indent(body + block(g, body_scope))
    if g.integer(0, 6) == 0:
        g.feature("for_else")
        lines += ["else:"] + indent(block(g, sc.child(depth=sc.depth + 1)))
    if runs and g.coin():
        # The loop ran: its variables keep their last values (or the values at a break).
        g.feature("loop_variable_after_loop")
        if i is not None:
            sc.pure_ints.append(IntVal(i, lo, hi, False))
        for v, dtype in values:
            if dtype == "f":
                sc.pure_floats.append(v)
            else:
                sc.pure_ints.append(IntVal(v, None, None))
    return lines, False


def stmt_promote(g, sc):
    """`p = 0` and a loop that surely runs whose body starts `p += <float>`: p is a float after."""
    g.feature("int_to_float_accumulator")
    name = g.fresh("p")
    lines, _ = stmt_for(g, sc, promote=name)
    sc.fvars.append(name)
    return [f"{name} = 0"] + lines, False


def stmt_while(g, sc):
    k = g.fresh("k")
    limit = g.integer(1, 4)
    form = g.pick(["and", "and_swapped", "while_true", "counter", "doubling"])
    body_scope = sc.child(depth=sc.depth + 1, loop="while")
    lines = [f"{k} = 0"]
    if form == "doubling":  # a test on a variable the body scales: unrolled (geometric=True)
        limit = g.integer(2, 9)
        lines = [f"{k} = 1", f"while {k} < {limit}:"]
    elif form == "and":
        lines.append(f"while {k} < {limit} and ({cond(g, sc, 1)}):")
    elif form == "and_swapped":
        lines.append(f"while ({cond(g, sc, 1)}) and {k} < {limit}:")
    elif form == "counter":
        lines.append(f"while {k} < {limit}:")
    else:
        lines.append("while True:")
    body = [f"{k} *= 2"] if form == "doubling" else [f"{k} += 1"]
    if form == "while_true":
        body += [f"if {k} > {limit} or ({cond(g, sc, 1)}):", "    break"]
    body_scope.pure_ints.append(IntVal(k, 2, 2 * limit - 2) if form == "doubling" else IntVal(k, 1, limit))
    body += block(g, body_scope)
    lines += indent(body)
    if g.integer(0, 6) == 0:
        g.feature("while_else")
        lines += ["else:"] + indent(block(g, sc.child(depth=sc.depth + 1)))
    g.feature(f"while_{form}")
    if g.coin():
        g.feature("while_counter_after_loop")
        sc.pure_ints.append(IntVal(k, 1, 2 * limit - 2) if form == "doubling" else IntVal(k, 0, limit + 1))
    return lines, False


def stmt_jump(g, sc):
    kinds = []
    if sc.loop is not None:
        kinds += ["break", "continue"]
    if sc.returns is not None:
        kinds.append("return")
    kind = g.pick(kinds)
    text = sc.returns(g, sc) if kind == "return" else kind
    g.feature(f"{kind}_in_{sc.loop or 'function'}")
    if sc.depth > 0 and g.integer(0, 3) == 0:
        return [text], True  # unconditional: ends the block
    return [f"if {cond(g, sc)}:", "    " + text], False


STATEMENTS = [
    # kind, weight
    ("fvar", 5), ("element", 4), ("ivar", 3), ("if", 4), ("for", 6), ("temp", 2),
    ("slice", 2), ("while", 3), ("jump", 3), ("swap", 1), ("bool", 2), ("if_bind", 1),
    ("rebind", 1), ("promote", 1),
]


def statement(g: Gen, sc: Scope):
    g.budget -= 1
    compound_ok = g.budget > 0 and sc.depth < (2 if sc.in_helper else g.config.max_depth)
    kinds = []
    for kind, weight in STATEMENTS:
        if kind == "fvar" and not sc.fvars:
            continue
        if kind == "ivar" and not sc.ivars:
            continue
        if kind in ("element", "slice") and not sc.arrays_of(written=True):
            continue
        if kind == "slice" and not any(max(a.shape) >= 2 for a in sc.arrays_of(written=True)):
            continue
        if kind in ("if", "for", "while") and not compound_ok:
            continue
        if kind == "while" and not g.config.while_loops:
            continue
        if kind == "jump" and sc.loop is None and (sc.returns is None or sc.depth == 0):
            continue
        if kind == "swap" and len(sc.fvars) < 2 and len(sc.ivars) < 2:
            continue
        if kind == "bool" and not sc.bvars:
            continue
        if kind in ("if_bind", "promote") and not compound_ok:
            continue
        if kind == "rebind" and not any(a.local for a in sc.arrays):
            continue
        kinds += [kind] * weight
    kind = g.pick(kinds)
    return globals()[f"stmt_{kind}"](g, sc)


def block(g: Gen, sc: Scope, min_len: int = 1, max_len: int | None = None):
    lines = []
    n = g.integer(min_len, (max_len or g.config.max_block) if g.budget > 0 else min_len)
    for _ in range(n):
        new, terminal = statement(g, sc)
        lines += new
        if terminal:
            break
    return lines


# --------------------------------------------------------------------------------------
# Helpers and the main function


def helper_function(g: Gen, name: str, earlier: list, closure: Scope | None = None) -> tuple[list, Helper]:
    """A helper `def`: at module level, or nested in `f` (`closure`: what it may read of f:
    arguments f never writes)."""
    params = g.pick([("f",), ("f", "f"), ("f", "i"), ("f", "f=")])
    names = ["u", "v"][: len(params)]
    sc = Scope(fvars=[], ivars=[], bvars=[], pure_ints=[], pure_floats=[], arrays=[],
               helpers=list(earlier), in_helper=True, depth=0)
    if closure is not None:
        sc.arrays = [a for a in closure.arrays if not a.written and not a.local]
        sc.pure_floats = list(closure.pure_floats)
        sc.pure_ints = [v for v in closure.pure_ints if not v.loop_index]
        g.feature("nested_function")
    for p, n in zip(params, names):
        (sc.fvars if p.startswith("f") else sc.ivars).append(n)
    spelled = [f"{n}={g.pick(['0.5', '-1.0'])}" if p == "f=" else n for p, n in zip(params, names)]
    lines = [f"def {name}({', '.join(spelled)}):"]
    body = []
    if g.coin():
        body.append(f"r = {g.pick(['0.0', 'u', '1.0'])}")
        sc.fvars.append("r")

    def ret(g, sc):
        return f"return {fexpr(g, sc, False, 1)}"

    sc.returns = ret
    saved = g.budget
    g.budget = 3
    body += block(g, sc)
    g.budget = saved
    body.append(ret(g, sc))
    return lines + indent(body), Helper(name, params)


@st.composite
def programs(draw, config: Config = VALUE) -> Program:
    g = Gen(draw, config)
    g.static_scalars_off = config.traced_bounds and g.integer(0, 3) == 0
    # Arguments.
    args = [Arg("x", "farray", (g.integer(1, 5),))]
    arrays = []
    written_args = []
    extra = g.draw(st.sets(st.sampled_from(["y", "M", "a", "z", "n", "t"])))
    if "y" in extra:
        args.append(Arg("y", "farray", (g.integer(1, 4),)))
    if "M" in extra:
        args.append(Arg("M", "farray", (g.integer(1, 3), g.integer(1, 3))))
    if "a" in extra and config.int_array_args:
        args.append(Arg("a", "iarray", (g.integer(1, 4),)))
    if "z" in extra:
        args.append(Arg("z", "float"))
    if "n" in extra:
        args.append(Arg("n", "int"))
    if "t" in extra and config.traced_bounds:
        args.append(Arg("t", "i64"))
    for arg in args:
        if arg.kind in ("farray", "iarray"):
            written = g.integer(0, 2) == 0
            arrays.append(Arr(arg.name, "f" if arg.kind == "farray" else "i", arg.shape, written))
            if written:
                written_args.append(arg.name)
                g.feature("write_argument")
    g.int_args = [a.name for a in args if a.kind == "int"]
    g.i64_args = [a.name for a in args if a.kind == "i64"]
    static_ints = tuple(g.int_args) if not g.static_scalars_off else ()
    if g.static_scalars_off:
        g.feature("static_scalars_off")

    # Helpers.
    helpers, helper_lines = [], []
    if config.helpers:
        for k in range(g.pick([0, 1, 0, 1, 2])):
            lines, helper = helper_function(g, f"h{k}", helpers)
            helper_lines += lines + ["", ""]
            helpers.append(helper)

    # Locals.
    body = []
    fvars, ivars = [], []
    x_len = args[0].shape[0]
    for k in range(g.integer(1, 2)):
        name = f"s{k}"
        init = g.pick(["0.0", "1.0", "x[0]"] + (["z"] if "z" in extra else []))
        body.append(f"{name} = {init}")
        fvars.append(name)
    for k in range(g.integer(0, 2)):
        name = f"c{k}"
        init = g.pick(["0", "1"] + ([g.int_args[0]] if g.int_args else []))
        body.append(f"{name} = {init}")
        ivars.append(name)
    bvars = []
    for k in range(g.pick([0, 0, 1])):
        name = f"ok{k}"
        body.append(f"{name} = {g.pick(['False', 'True', 'x[0] > 0.0'])}")
        bvars.append(name)
    local_arrays = []
    for k in range(g.integer(0, 2)):
        kind = g.pick(["copy", "zeros", "int_zeros", "zeros_like"])
        if kind == "copy":
            src = g.pick([a for a in arrays])
            name = f"w{k}"
            body.append(f"{name} = {src.name}.copy()")
            local_arrays.append(Arr(name, src.dtype, src.shape, True, local=True))
        elif kind == "zeros":
            n = g.integer(1, 4)
            name = f"w{k}"
            body.append(f"{name} = np.zeros({n})")
            local_arrays.append(Arr(name, "f", (n,), True, local=True))
        elif kind == "zeros_like":
            name = f"w{k}"
            body.append(f"{name} = np.zeros_like(x)")
            local_arrays.append(Arr(name, "f", (x_len,), True, local=True))
        else:
            n = g.integer(1, 4)
            name = f"b{k}"
            # dtype=int: int64 in NumPy and JAX, int32 in JAX's 32-bit mode without a warning.
            body.append(f"{name} = np.zeros({n}, dtype=int)")
            local_arrays.append(Arr(name, "i", (n,), True, local=True))
    arrays += local_arrays
    returned_arrays = [a for a in arrays if a.written]

    pure_ints = [IntVal(n, 0, 4) for n in g.int_args] + [IntVal(t, -1, 4) for t in g.i64_args]
    pure_floats = ["z"] if "z" in extra else []
    sc = Scope(fvars=list(fvars), ivars=list(ivars), bvars=list(bvars), pure_ints=pure_ints,
               pure_floats=pure_floats, arrays=arrays, helpers=list(helpers), static_ints=static_ints)

    # Functions local to f: a lambda, or a nested def reading f's arguments.
    local_kind = g.pick(["none", "none", "none", "lambda", "def"]) if config.helpers else "none"
    if local_kind == "lambda":
        g.feature("lambda")
        lam_scope = sc.child(fvars=["u"], ivars=[], bvars=[], helpers=list(helpers),
                             arrays=[a for a in arrays if not a.written and not a.local],
                             pure_ints=[v for v in sc.pure_ints])
        body.append(f"lam0 = lambda u: {fexpr(g, lam_scope, False, 2)}")
        sc.helpers.append(Helper("lam0", ("f",)))
    elif local_kind == "def":
        lines, helper = helper_function(g, "inner0", list(helpers), closure=sc)
        body += lines
        sc.helpers.append(helper)

    style = g.pick(["tuple", "tuple", "expr"])

    def final_return(g, sc, early=False):
        if style == "tuple":
            parts = []
            for v in fvars:
                parts.append(f"{v} * {g.pick(SCALE)}" if early and g.coin() else v)
            for v in ivars:
                parts.append(f"{v} + {g.integer(1, 3)}" if early and g.coin() else v)
            for v in bvars:
                parts.append(f"not {v}" if early and g.coin() else v)
            for a in returned_arrays:
                parts.append(a.name)
            return "return " + ", ".join(parts) + ("," if len(parts) == 1 else "")
        parts = [fexpr(g, sc, False, 2)] + [a.name for a in returned_arrays]
        return "return " + ", ".join(parts)

    if config.early_returns:
        sc.returns = lambda g, sc: final_return(g, sc, early=True)
    # Most programs are about loops: lead with one.
    lead = g.pick(["for", "for", "while", "if", "any"])
    if lead == "while" and not config.while_loops:
        lead = "for"
    if lead != "any":
        g.budget -= 1
        body += globals()[f"stmt_{lead}"](g, sc)[0]
    body += block(g, sc, min_len=1, max_len=3)
    body.append(final_return(g, sc.child(fvars=list(fvars), ivars=list(ivars))))

    params = ", ".join(a.name for a in args)
    lines = ["import numpy as np", "", "import refscript", "", ""] + helper_lines
    lines += [f"def f({params}):"] + indent(body)
    source = "\n".join(lines) + "\n"
    g.feature(f"return_{style}")
    if helpers:
        g.feature("helpers")
    return Program(source=source, args=tuple(args), static_scalars=not g.static_scalars_off,
                   features=frozenset(g.features))


# --------------------------------------------------------------------------------------
# Inputs


def float_values(smooth: bool = False):
    """Floats in [-2, 2]: a dyadic grid (exact ties, interesting for branches) and
    general floats (no subnormals: XLA on CPU flushes them to zero)."""
    general = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False).filter(
        lambda v: v == 0.0 or abs(v) >= 1e-3)
    if smooth:
        return general
    return st.one_of(st.integers(-8, 8).map(lambda k: k / 4), general)


def _value(draw, arg: Arg, smooth: bool):
    if arg.kind == "farray":
        n = int(np.prod(arg.shape))
        values = draw(st.lists(float_values(smooth), min_size=n, max_size=n))
        return np.array(values, dtype=np.float64).reshape(arg.shape)
    if arg.kind == "iarray":
        n = int(np.prod(arg.shape))
        values = draw(st.lists(st.integers(-5, 9), min_size=n, max_size=n))
        return np.array(values, dtype=np.int64).reshape(arg.shape)
    if arg.kind == "float":
        return float(draw(float_values(smooth)))
    if arg.kind == "int":
        return int(draw(st.integers(0, 4)))
    return np.int64(draw(st.integers(-1, 4)))


@st.composite
def inputs(draw, program: Program, count: int = 1, smooth: bool = False):
    """`count` argument tuples for `program`; static arguments are the same in all of them
    (so one compilation serves them all)."""
    static = {}
    result = []
    for _ in range(count):
        args = []
        for k, arg in enumerate(program.args):
            if arg.kind == "int" and program.static_scalars:
                if k not in static:
                    static[k] = _value(draw, arg, smooth)
                args.append(static[k])
            else:
                args.append(_value(draw, arg, smooth))
        result.append(tuple(args))
    return result


@st.composite
def cases(draw, config: Config, count: int = 1, smooth: bool = False):
    program = draw(programs(config))
    return program, draw(inputs(program, count, smooth))


# --------------------------------------------------------------------------------------
# Converter fuzzing: random syntactically valid functions from a larger grammar


FUZZ_NAMES = ("x", "y", "i", "acc", "out", "n")


class FuzzGen:
    def __init__(self, draw):
        self.draw = draw
        self.budget = 14
        self.counter = 0

    def pick(self, options):
        options = list(options)
        return options[self.draw(st.integers(0, len(options) - 1))]

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"


def fuzz_expr(g: FuzzGen, depth=2, ctx=None) -> str:
    ctx = ctx or {}
    atoms = ["name", "int", "float", "subscript", "subscript2", "attr", "str", "none", "bool", "call"]
    kinds = atoms + (["binop", "unop", "compare", "boolop", "ifexp", "lambda", "listcomp", "genexp",
                      "dictcomp", "tuple", "list", "slice", "walrus", "fstring", "call_args",
                      "method", "starred_call", "chained", "await_or_yield", "set"] if depth > 0 else [])
    kind = g.pick(kinds)
    sub = lambda: fuzz_expr(g, depth - 1, ctx)
    if kind == "name":
        return g.pick(FUZZ_NAMES)
    if kind == "int":
        return str(g.pick([0, 1, 2, -1, 10]))
    if kind == "float":
        return g.pick(["0.5", "1.0", "-2.5", "1e3"])
    if kind == "subscript":
        return f"{g.pick(FUZZ_NAMES)}[{sub()}]"
    if kind == "subscript2":
        return f"{g.pick(FUZZ_NAMES)}[{sub()}, {sub()}]"
    if kind == "attr":
        return f"{g.pick(FUZZ_NAMES)}.{g.pick(['shape', 'T', 'dtype', 'real', 'value'])}"
    if kind == "str":
        return g.pick(["'s'", '"t"', "b'b'"])
    if kind == "none":
        return "None"
    if kind == "bool":
        return g.pick(["True", "False"])
    if kind == "call":
        return f"{g.pick(['len', 'abs', 'range', 'np.sum', 'print', 'int', 'helper', 'min', 'max', 'float', 'enumerate', 'zip', 'reversed', 'refscript.static_range', 'sum', 'round', 'bool'])}({g.pick(FUZZ_NAMES)})"
    if kind == "binop":
        return f"({sub()} {g.pick(['+', '-', '*', '/', '//', '%', '**', '@', '&', '|', '^', '<<', '>>'])} {sub()})"
    if kind == "unop":
        return f"({g.pick(['-', '+', 'not ', '~'])}{sub()})"
    if kind == "compare":
        return f"({sub()} {g.pick(['<', '>', '==', '!=', '<=', '>=', 'in', 'not in'])} {sub()})"
    if kind == "chained":
        return f"({sub()} < {sub()} <= {sub()})"
    if kind == "boolop":
        return f"({sub()} {g.pick(['and', 'or'])} {sub()})"
    if kind == "ifexp":
        return f"({sub()} if {sub()} else {sub()})"
    # No yield/await/walrus inside lambdas and comprehensions (SyntaxErrors there).
    closed = lambda: fuzz_expr(g, depth - 1, {"no_walrus": True})
    if kind == "lambda":
        return f"(lambda {g.pick(['q', 'q, r=1', '*q', 'q, **kw'])}: {closed()})"
    if kind == "listcomp":
        return f"[{closed()} for q in {closed()} if {closed()}]"
    if kind == "genexp":
        return f"sum({closed()} for q in range(3))"
    if kind == "dictcomp":
        return f"{{q: {closed()} for q in {closed()}}}"
    if kind == "set":
        return f"{{{sub()}, {sub()}}}"
    if kind == "tuple":
        return f"({sub()}, {sub()})"
    if kind == "list":
        return f"[{sub()}, *{sub()}]"
    if kind == "slice":
        return f"{g.pick(FUZZ_NAMES)}[{g.pick(['', '1', 'i'])}:{g.pick(['', '-1', 'n'])}:{g.pick(['', '2', '-1'])}]"
    if kind == "walrus":
        if ctx.get("no_walrus"):
            return sub()
        return f"({g.fresh('w')} := {sub()})"
    if kind == "fstring":
        return f"f\"{{{g.pick(FUZZ_NAMES)}}}!{{{g.pick(FUZZ_NAMES)}!r:>4}}\""
    if kind == "call_args":
        return f"helper({sub()}, key={sub()})"
    if kind == "method":
        return f"{g.pick(FUZZ_NAMES)}.{g.pick(['copy', 'sum', 'append', 'at[0].set', 'reshape'])}({sub()})"
    if kind == "starred_call":
        return f"helper(*{sub()}, **{{'k': {sub()}}})"
    # await/yield only where valid
    if ctx.get("async"):
        return f"(await ({sub()}))"
    if ctx.get("generator"):
        return f"(yield ({sub()}))"
    return sub()


def fuzz_target(g: FuzzGen, single: bool = False) -> str:
    kinds = ["name", "name", "subscript", "subscript2", "chain", "attr", "slice"]
    kind = g.pick(kinds + ([] if single else ["tuple", "starred"]))
    if kind == "name":
        return g.pick(FUZZ_NAMES)
    if kind == "subscript":
        return f"{g.pick(FUZZ_NAMES)}[{fuzz_expr(g, 1)}]"
    if kind == "subscript2":
        return f"{g.pick(FUZZ_NAMES)}[{fuzz_expr(g, 0)}, {fuzz_expr(g, 0)}]"
    if kind == "chain":
        return f"{g.pick(FUZZ_NAMES)}[{fuzz_expr(g, 0)}][{fuzz_expr(g, 0)}]"
    if kind == "attr":
        return f"{g.pick(FUZZ_NAMES)}.{g.pick(['attr', 'value'])}"
    if kind == "tuple":
        return f"{g.pick(FUZZ_NAMES)}, {g.pick(FUZZ_NAMES)}"
    if kind == "starred":
        return f"{g.pick(FUZZ_NAMES)}, *{g.pick(FUZZ_NAMES)}"
    return f"{g.pick(FUZZ_NAMES)}[{g.pick(['1:', ':-1', '::2', '...'])}]"


def fuzz_block(g: FuzzGen, ctx: dict, depth: int) -> list:
    lines = []
    for _ in range(g.draw(st.integers(1, 3))):
        lines += fuzz_stmt(g, ctx, depth)
    return lines


def fuzz_stmt(g: FuzzGen, ctx: dict, depth: int) -> list:
    g.budget -= 1
    simple = ["assign", "augassign", "annassign", "expr", "pass", "assert", "raise", "del", "print",
              "return_value", "return_none", "multi_assign", "import"]
    if ctx.get("loop") and not ctx.get("finally"):
        simple += ["break", "continue", "break", "continue"]
    compound = ["if", "if", "for", "for", "while", "try", "with", "def", "class", "match", "for_target",
                "async_for"]
    kinds = simple + (compound if depth < 3 and g.budget > 0 else [])
    kind = g.pick(kinds)
    e = lambda d=1: fuzz_expr(g, d, ctx)
    inner = lambda **c: fuzz_block(g, {**ctx, **c}, depth + 1)
    if kind == "assign":
        return [f"{fuzz_target(g)} = {e()}"]
    if kind == "multi_assign":
        return [f"{g.pick(FUZZ_NAMES)} = {fuzz_target(g)} = {e()}"]
    if kind == "augassign":
        target = fuzz_target(g, single=True)  # a tuple target cannot be augmented
        return [f"{target} {g.pick(['+=', '-=', '*=', '/=', '//=', '%=', '**=', '|=', '&=', '@=', '>>='])} {e()}"]
    if kind == "annassign":
        return [f"{g.fresh('an')}: {g.pick(['int', 'float', 'np.ndarray'])} = {e()}"]
    if kind == "expr":
        return [e(2)]
    if kind == "pass":
        return ["pass"]
    if kind == "assert":
        return [f"assert bool({e()}), {e(0)}"]
    if kind == "raise":
        return [f"raise {g.pick(['ValueError', 'ValueError(x)', 'StopIteration'])}"]
    if kind == "del":
        return [f"del {g.pick(FUZZ_NAMES)}"]
    if kind == "print":
        return [f"print({e()}, end='')"]
    if kind == "import":
        return [g.pick(["import math", "from math import sqrt"])]
    if kind == "return_value":
        if ctx.get("async") and ctx.get("generator"):
            return ["return"]
        return [f"return {e()}"]
    if kind == "return_none":
        return ["return"]
    if kind in ("break", "continue"):
        return [kind]
    if kind == "if":
        lines = [f"if {e()}:"] + indent(inner())
        if g.pick([0, 1]):
            lines += [f"elif {e()}:"] + indent(inner())
        if g.pick([0, 1]):
            lines += ["else:"] + indent(inner())
        return lines
    if kind == "for":
        it = g.pick(["range(n)", "range(1, n, 2)", "x", "enumerate(x)", "zip(x, y)", "reversed(range(n))",
                     "refscript.static_range(3)", "[1, 2]", "range(x.shape[0])", "range(i)"])
        target = g.pick(["i", "j", "i, j", "(i, j)", "_"])
        lines = [f"for {target} in {it}:"] + indent(inner(loop=True))
        if g.pick([0, 0, 1]):
            lines += ["else:"] + indent(inner())
        return lines
    if kind == "for_target":
        return [f"for {g.pick(['x[0]', 'out.value', 'a, *b'])} in {e()}:"] + indent(inner(loop=True))
    if kind == "async_for":
        if ctx.get("async"):
            return [f"async for q in {e()}:"] + indent(inner(loop=True))
        return [f"while {e()}:"] + indent(inner(loop=True))
    if kind == "while":
        lines = [f"while {e()}:"] + indent(inner(loop=True))
        if g.pick([0, 0, 1]):
            lines += ["else:"] + indent(inner())
        return lines
    if kind == "try":
        lines = ["try:"] + indent(inner())
        shape = g.pick(["except", "finally", "except_else_finally"])
        if shape in ("except", "except_else_finally"):
            lines += [f"except {g.pick(['ValueError', '(TypeError, KeyError) as err', 'Exception as err'])}:"]
            lines += indent(inner())
        if shape == "except_else_finally":
            lines += ["else:"] + indent(inner())
        if shape in ("finally", "except_else_finally"):
            lines += ["finally:"] + indent(fuzz_block(g, {**ctx, "loop": False, "finally": True}, depth + 1))
        return lines
    if kind == "with":
        opener = "async with" if ctx.get("async") else "with"
        return [f"{opener} {g.pick(['open(x)', 'ctx()', 'a as b, c'])}:"] + indent(inner())
    if kind == "def":
        name = g.fresh("inner")
        kind2 = g.pick(["plain", "nonlocal", "generator", "decorated", "defaults"])
        header = {
            "plain": f"def {name}(q):",
            "nonlocal": f"def {name}():",
            "generator": f"def {name}(q):",
            "decorated": f"@refscript.jit\ndef {name}(q):",
            "defaults": f"def {name}(q, r=1, *s, t, **u):",
        }[kind2]
        sub_ctx = {"loop": False, "generator": kind2 == "generator", "async": False}
        body = []
        if kind2 == "nonlocal":
            body.append("nonlocal acc")
        body += fuzz_block(g, sub_ctx, depth + 1)
        if kind2 == "generator":
            body.append("yield q")
        return header.split("\n") + indent(body) + [f"{g.pick(FUZZ_NAMES)} = {name}"]
    if kind == "class":
        return [f"class {g.fresh('C')}:"] + indent(["z = 1", "def m(self):", "    return self.z"])
    # match
    return ([f"match {e()}:", "    case 0:"] + indent(inner(), "        ")
            + ["    case [a, *rest]:"] + indent(inner(), "        ")
            + ["    case {'k': v} | {'j': v}:"] + indent(inner(), "        ")
            + ["    case _:"] + indent(inner(), "        "))


@st.composite
def fuzz_functions(draw) -> str:
    g = FuzzGen(draw)
    kind = g.pick(["plain", "plain", "plain", "generator", "async", "global", "decorated"])
    ctx = {"loop": False, "generator": kind == "generator", "async": kind == "async"}
    body = ["acc = 0"]
    if kind == "global":
        body.insert(0, "global G")
        body.append("G = acc")
    body += fuzz_block(g, ctx, 0)
    if kind == "generator":
        body.append("yield acc")
    header = {"plain": "def f(x, y, i=0, n=3, *args, out=None, **kw):", "generator": "def f(x, y, n=3):",
              "async": "async def f(x, y, n=3):", "global": "def f(x, y, n=3):",
              "decorated": "@refscript.jit\ndef f(x, y, n=3):"}[kind]
    lines = ["import numpy as np", "", "import refscript", "", "", "def helper(*args, **kw):",
             "    return 0", "", ""] + header.split("\n") + indent(body)
    return "\n".join(lines) + "\n"
