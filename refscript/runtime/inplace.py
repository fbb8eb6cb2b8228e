"""`name op= value` on a whole name: NumPy's in-place operators.

On an array (one or more dimensions) `a += v` writes into `a`'s buffer, as
`np.add(a, v, out=a)` does: `a` keeps its shape and dtype, so the result must
broadcast to `a`'s shape without growing it (`ValueError` in NumPy) and must cast
to `a`'s dtype under the "same_kind" rule (`int_array /= 2` is NumPy's
UFuncTypeError). The caller's array, when `a` is a parameter, sees the write.
On anything else (a Python or NumPy scalar, a 0-d value, a list, a tuple) it is
Python's `a = a + v`.

The converter rewrites every `name op= value` into `name = rs.iadd(name, value,
'name')` (`isub`, `imul`, ... as Python's `operator` module names them), or
`name_ref.iadd(value)` where the name lives in a box (passes/inplace.py). A box's array is written in place
(`name_ref[...] = result`): for a parameter that box is the argument box
(passes/refs.py), whose contents are written back to the caller's NumPy array.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np

from refscript.errors import CastingError, ShapeError, caller_location

# Python's names of the in-place operators -> (the operator, its binary form). The first is
# what `name op= value` runs on anything but an array (a list's `+=` extends it in place); on an
# array refscript computes the second and writes it into the buffer (a NumPy array captured from
# outside is never mutated by the runtime itself).
OPERATORS = {
    "iadd": (operator.iadd, operator.add), "isub": (operator.isub, operator.sub),
    "imul": (operator.imul, operator.mul), "itruediv": (operator.itruediv, operator.truediv),
    "ifloordiv": (operator.ifloordiv, operator.floordiv), "imod": (operator.imod, operator.mod),
    "ipow": (operator.ipow, operator.pow), "imatmul": (operator.imatmul, operator.matmul),
    "iand": (operator.iand, operator.and_), "ior": (operator.ior, operator.or_),
    "ixor": (operator.ixor, operator.xor), "ilshift": (operator.ilshift, operator.lshift),
    "irshift": (operator.irshift, operator.rshift),
}
SYMBOLS = {
    "iadd": "+=", "isub": "-=", "imul": "*=", "itruediv": "/=", "ifloordiv": "//=", "imod": "%=", "ipow": "**=",
    "imatmul": "@=", "iand": "&=", "ior": "|=", "ixor": "^=", "ilshift": "<<=", "irshift": ">>=",
}


def _is_buffer(value) -> bool:
    """Whether `value` is an array whose in-place operators write into it (NumPy's ndarray, or
    what refscript traces one as): one or more dimensions. A 0-d value is a scalar here, as
    `x[i]` of a NumPy array is (`np.float64`, immutable)."""
    if isinstance(value, (np.ndarray, jax.Array)):
        return value.ndim > 0
    return False


def augmented(target, value, op: str, name: str):
    """Returns what `name` holds after `name op= value` (`target`: its value before)."""
    in_place, binary = OPERATORS[op]
    if not _is_buffer(target):
        return in_place(target, value)
    result = binary(target, value)
    if not isinstance(result, (np.ndarray, jax.Array)):
        return result  # the operand's own __rop__ answered (NotImplemented rules): Python's meaning
    if result.shape != target.shape:
        try:
            grown = np.broadcast_shapes(result.shape, target.shape) != target.shape
        except ValueError:
            grown = True
        if grown:
            raise ShapeError(
                f"`{name} {SYMBOLS[op]} ...` would change {name!r}'s shape from {target.shape} to "
                f"{result.shape}: an in-place operator writes into the array, as NumPy's does "
                "(non-broadcastable output operand)",
                caller_location(),
                f"to make a new array of the broadcast shape, write `{name} = {name} {SYMBOLS[op][:-1]} ...`",
            )
        result = jnp.broadcast_to(result, target.shape)
    if result.dtype != target.dtype:
        if not np.can_cast(result.dtype, target.dtype, casting="same_kind"):
            raise CastingError(
                f"`{name} {SYMBOLS[op]} ...` gives {result.dtype}, which cannot be written into "
                f"{name!r} ({target.dtype}) under NumPy's 'same_kind' casting rule: NumPy raises "
                "UFuncTypeError here",
                caller_location(),
                f"write `{name} = {name} {SYMBOLS[op][:-1]} ...` for a new array of the result's "
                f"dtype, or cast explicitly",
            )
        result = result.astype(target.dtype)
    return result


def augment_box(box, value, op: str) -> None:
    """`name op= value` where `name` lives in `box`: an array is written in place (the box's
    Ref, or the caller's array for an argument box), anything else rebound."""
    current = box.value
    result = augmented(current, value, op, box.name)
    if _is_buffer(current):
        box[...] = result
    else:
        box.value = result


def _operator(op):
    def apply(target, value, name: str):
        return augmented(target, value, op, name)

    apply.__name__ = apply.__qualname__ = op
    apply.__doc__ = f"`name {SYMBOLS[op]} value` on `target`, the value of `name`: see `augmented`."
    return apply


iadd, isub, imul, itruediv, ifloordiv, imod, ipow, imatmul, iand, ior, ixor, ilshift, irshift = (
    _operator(op) for op in OPERATORS)
