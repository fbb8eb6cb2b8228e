"""Arguments written in place: NumPy arrays end as NumPy leaves them; failures lose nothing."""

import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import check, narrowed


def scale_rows(a, factors):
    for i in range(a.shape[0]):
        a[i, :] *= factors[i]


def lu_in_place(a):
    n = a.shape[0]
    for k in range(n):
        for i in range(k + 1, n):
            a[i, k] /= a[k, k]
            for j in range(k + 1, n):
                a[i, j] -= a[i, k] * a[k, j]


def copies_first(a):
    a = a.copy()
    a[0] = -1.0
    return a


def writes_then_fails(a, i):
    a[0] = 99.0
    a[i] = 1.0  # static index: out of bounds for i >= len(a)
    return a


def truncating_write(counts, x):
    for i in range(x.shape[0]):
        counts[i] = x[i] * 2.5


def test_kernels_returning_none_update_numpy_arguments(rng):
    check(scale_rows, rng.normal(size=(3, 4)), rng.normal(size=3))
    a = rng.normal(size=(4, 4)) + 4 * np.eye(4)
    check(lu_in_place, a)


def test_rebound_parameter_is_not_written_back(rng):
    a = narrowed(rng.normal(size=3))
    before = a.copy()
    out = refscript.jit(copies_first)(a)
    np.testing.assert_array_equal(a, before)
    assert float(out[0]) == -1.0


def test_failed_call_leaves_arguments_untouched():
    a = narrowed(np.arange(3.0))
    with pytest.raises(IndexError):
        refscript.jit(writes_then_fails)(a, 5)
    np.testing.assert_array_equal(a, np.arange(3.0))


def test_numpy_casting_of_in_place_writes(rng):
    check(truncating_write, np.zeros(4, dtype=np.int32), rng.normal(size=4))


def test_jax_arrays_are_not_mutated_and_updates_can_be_returned(rng):
    a = jnp.asarray(rng.normal(size=(2, 3)))
    factors = narrowed(np.array([2.0, 3.0]))
    with pytest.warns(refscript.errors.LostWriteWarning, match="return_updates=True"):
        result = refscript.jit(scale_rows)(a, factors)
    assert result is None
    result, updates = refscript.jit(scale_rows, return_updates=True)(a, factors)
    assert result is None and set(updates) == {"a"}
    np.testing.assert_allclose(updates["a"], np.asarray(a) * factors[:, None])


def test_read_only_numpy_argument_is_an_error_as_in_numpy(rng):
    a = narrowed(rng.normal(size=(2, 2)))
    a.setflags(write=False)
    before = a.copy()
    factors = narrowed(np.array([2.0, 3.0]))
    with pytest.raises(ValueError, match="read-only"):
        scale_rows(a, factors)
    with pytest.raises(ValueError, match="read-only: argument 'a'"):
        refscript.jit(scale_rows)(a, factors)
    np.testing.assert_array_equal(a, before)


# Lists in an index are index arrays, as in NumPy (jax.numpy refuses them).


def list_indices(x, n):
    w = np.zeros(4)
    w[[0, 1, -1]] += x[0]
    for i in range(x.shape[0]):
        w[[i % 4, (i + 2) % 4]] = w[[(i + 1) % 4, i % 4]] * 0.5 + x[i]
    if n < 0:
        w[[0, 2]] = 5.0
    return w, w[[2, 0]], x[[n % x.shape[0], 0]]


def list_indices_2d(a):
    b = a.copy()
    b[[0, 1], [1, 0]] -= 1.0
    b[[1, 0]] = a[[0, 1]]
    return b, a[[0, 1], [1, 1]]


@pytest.mark.parametrize("n", [2, np.int64(-1), np.int64(3)])
def test_list_indices_are_index_arrays(n, rng):
    check(list_indices, rng.normal(size=5), n)
    check(list_indices_2d, rng.normal(size=(2, 3)))
