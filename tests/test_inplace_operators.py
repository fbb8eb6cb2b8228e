"""`name op= value` on whole arrays: in place, as NumPy's in-place operators are.

The caller's array sees the write (a parameter updated this way is the caller's
buffer), the target keeps its shape and dtype, and what NumPy refuses (a result that
cannot be cast back under 'same_kind', a broadcast that would grow the target) is a
refscript error at the line. On numbers `op=` rebinds, as in Python. Every case is
compared with plain Python on NumPy copies (values, dtypes, every argument after).
"""

import operator

import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed
from tests.modules import import_source


def updates_then_scales(alpha, a, b):
    # Element writes in a loop, then the whole array scaled in place (NPBench's trmm ends so).
    for i in range(b.shape[0]):
        for j in range(b.shape[1]):
            b[i, j] += np.dot(a[i + 1:, i], b[i + 1:, j])
    b *= alpha


def write_then_add(x, y):
    x[0] = 5.0
    x += y


def add_and_return(x, y):
    x += y
    return x


def centre_columns(data):
    mean = np.mean(data, axis=0)
    data -= mean
    return data.T @ data


def halve_in_loop(x, n):
    for _ in range(n):
        x *= 0.5
    return x.sum()


def add_where_positive(x):
    if x[0] > 0.0:
        x += 1.0
    else:
        x -= 1.0


def scale_in_while(x):
    while x[0] < 100.0:
        x *= 2.0


def local_keeps_its_dtype(x):
    s = np.zeros(x.shape[0], dtype=np.float32)
    for i in range(3):
        s += x * i  # float64 + float32 in NumPy: written back into float32
    return s


def scalar_parameter_is_rebound(x, n, t):
    n += 1
    t *= 2.0
    x *= t
    return n, t


def count_in_place(counts, x):
    counts += (x > 0.0)  # bool into int: 'same_kind' allows it
    counts <<= 1


def matrix_power_in_place(m):
    for _ in range(2):
        m @= m


BINARY = {
    "+=": (operator.iadd, "float"), "-=": (operator.isub, "float"), "*=": (operator.imul, "float"),
    "/=": (operator.itruediv, "float"), "//=": (operator.ifloordiv, "float"), "%=": (operator.imod, "float"),
    "**=": (operator.ipow, "positive"), "&=": (operator.iand, "int"), "|=": (operator.ior, "int"),
    "^=": (operator.ixor, "int"), "<<=": (operator.ilshift, "shift"), ">>=": (operator.irshift, "shift"),
}


def _operator_kernel(symbol, directory):
    """`def kernel(x, y): x op= y; x op= y`, from a file (refscript converts source)."""
    source = f"def kernel(x, y):\n    x {symbol} y\n    x {symbol} y\n"
    return import_source(source, directory / "operator_kernel.py").kernel


def test_element_writes_then_a_whole_array_scale_reach_the_caller(rng):
    check(updates_then_scales, 1.5, rng.normal(size=(5, 5)), rng.normal(size=(5, 4)))


@pytest.mark.parametrize("fn", [write_then_add, add_and_return], ids=lambda f: f.__name__)
def test_argument_updated_in_place(fn, rng):
    check(fn, rng.normal(size=4), rng.normal(size=4))


def test_in_place_with_a_broadcast_operand(rng):
    check(add_and_return, rng.normal(size=(3, 4)), rng.normal(size=4))
    check(centre_columns, rng.normal(size=(6, 3)))


def test_in_loops_and_branches(rng):
    check(halve_in_loop, rng.normal(size=5), 3)
    for first in (1.0, -1.0):
        check(add_where_positive, np.array([first, 2.0, 3.0]))
    check(scale_in_while, np.array([1.5, 2.0]))


def unboxed_local_keeps_its_dtype(x):
    s = np.zeros(x.shape[0], dtype=np.float32)
    s += x  # not boxed (no loop): `s = rs.iadd(s, x, 's')` must cast back itself
    return s


def test_a_local_array_keeps_its_dtype(rng):
    for fn in (local_keeps_its_dtype, unboxed_local_keeps_its_dtype):
        result = check(fn, rng.normal(size=4))
        assert np.asarray(result).dtype == np.float32


def test_numbers_are_rebound_and_nothing_is_written_back_for_them(rng):
    check(scalar_parameter_is_rebound, rng.normal(size=3), 2, 1.5, static_scalars=False)
    check(scalar_parameter_is_rebound, rng.normal(size=3), 2, 1.5)


def test_integer_arrays_and_bool_operands(rng):
    check(count_in_place, np.zeros(5, dtype=int), rng.normal(size=5))


def test_matrix_product_in_place(rng):
    check(matrix_power_in_place, rng.normal(size=(3, 3)) * 0.5)


@pytest.mark.parametrize("symbol", list(BINARY))
def test_every_operator_writes_into_the_argument(symbol, rng, tmp_path):
    _, kind = BINARY[symbol]
    if kind == "int":
        x, y = rng.integers(-50, 50, size=5), rng.integers(-50, 50, size=5)
    elif kind == "shift":
        x, y = rng.integers(0, 50, size=5), rng.integers(0, 4, size=5)
    elif kind == "positive":
        x, y = rng.uniform(0.5, 1.5, size=5), rng.uniform(0.5, 1.5, size=5)
    else:
        x, y = rng.normal(size=5), rng.uniform(1.0, 2.0, size=5)
    check(_operator_kernel(symbol, tmp_path), x, y)


def divide_integers(x):
    x /= 2


def grow(x, y):
    x += y


def test_a_result_that_cannot_be_cast_back_is_numpys_error_at_the_line():
    with pytest.raises(TypeError):  # NumPy: UFuncTypeError (Cannot cast ufunc 'divide' output ...)
        divide_integers(np.arange(3))
    x = narrowed(np.arange(3))
    with pytest.raises(refscript.errors.CastingError, match="same_kind") as info:
        refscript.jit(divide_integers)(x)
    assert info.value.location.lineno == divide_integers.__code__.co_firstlineno + 1
    np.testing.assert_array_equal(x, np.arange(3))  # nothing written


def test_a_broadcast_that_would_grow_the_target_is_numpys_error_at_the_line():
    with pytest.raises(ValueError, match="non-broadcastable output"):
        grow(np.ones(3), np.ones((2, 3)))
    x = narrowed(np.ones(3))
    with pytest.raises(refscript.errors.ShapeError, match="non-broadcastable") as info:
        refscript.jit(grow)(x, narrowed(np.ones((2, 3))))
    assert info.value.location.lineno == grow.__code__.co_firstlineno + 1
    np.testing.assert_array_equal(x, np.ones(3))


def test_a_read_only_argument_is_refused_as_numpy_refuses_it(rng):
    x = narrowed(rng.normal(size=3))
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        add_and_return(x, 1.0)
    with pytest.raises(refscript.errors.ReadOnlyArgumentError):
        refscript.jit(add_and_return)(x, 1.0)


def scaled_copy_total(x):
    y = x.copy()
    for i in range(3):
        y *= x[i] + 2.0
        y += x
    return y.sum()


def doubled_plus_one(x):
    y = x * 2.0
    y += 1.0
    return y


def test_gradient_and_vmap_through_whole_array_updates(rng):
    check_grad(scaled_copy_total, rng.normal(size=4))
    check_vmap(scaled_copy_total, rng.normal(size=(3, 4)))
    check_vmap(doubled_plus_one, rng.normal(size=(3, 4)))


def test_the_converted_code_reads_as_an_in_place_update():
    text = refscript.converted_source(write_then_add)
    assert "x_ref = rs.argument_box(x, 'x')" in text
    assert "x_ref.iadd(y)" in text
    assert "data_ref.isub(mean)" in refscript.converted_source(centre_columns)
    assert "y = rs.iadd(y, 1.0, 'y')" in refscript.converted_source(doubled_plus_one)  # a local not boxed


def written_then_rebound(x):
    x[0] = 5.0
    x = x * 2.0
    return x


def rebound_then_written(x):
    x = x.copy()
    x[0] = 5.0
    return x


def written_and_rebound_in_a_loop(x, n):
    for i in range(n):
        x[i] = 1.0
        x = x * 2.0
    return x


def test_a_parameter_written_before_it_is_rebound_is_an_error_not_a_silent_difference():
    # NumPy gives the caller's x the write made before the rebinding; refscript cannot yet.
    for fn, line in [(written_then_rebound, 2), (written_and_rebound_in_a_loop, 3)]:
        with pytest.raises(refscript.errors.ConversionError, match="written in place and also rebound") as info:
            refscript.jit(fn)(narrowed(np.ones(3)), 2) if fn is written_and_rebound_in_a_loop else \
                refscript.jit(fn)(narrowed(np.ones(3)))
        assert info.value.location.lineno == fn.__code__.co_firstlineno + line
    check(rebound_then_written, np.ones(3))  # the writes go to the new array: fine
