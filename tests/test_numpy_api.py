"""NumPy calls inside compiled code run as their jax.numpy namesakes, matching NumPy's results."""

import inspect

import numpy as np
import pytest

import refscript
from oracle import check, check_grad, narrowed


def numpy_inside(x, n):
    a = np.zeros(n)
    b = np.empty_like(x)
    for i in range(n):
        a[i] = np.sqrt(np.abs(x[i])) + np.maximum(x[i], 0.0)
        b[i] = np.exp(-x[i]) * float(2)
    m = np.add.outer(a, a)
    return (np.sum(m) + np.dot(a, b[:n]), np.flip(a), np.where(a > 1, a, 0.0),
            np.linalg.norm(a), np.arange(n, dtype=int), np.ones((2, n)) @ a, x.T.shape)


def normalised_rows(a):
    out = a.copy()
    for i in range(a.shape[0]):
        out[i, :] = a[i, :] / np.sqrt(np.sum(a[i, :] * a[i, :]))
    return out


def uses_numpy_random(x):
    return np.random.rand(3) + x


@pytest.mark.parametrize("n", [1, 4])
def test_numpy_functions_inside_compiled_code(rng, n):
    check(numpy_inside, rng.normal(size=5), n)


def test_numpy_inside_loops_is_differentiable(rng):
    check(normalised_rows, rng.normal(size=(3, 4)))
    check_grad(weighted_total, rng.normal(size=(2, 3)))


def weighted_total(a):
    out = a.copy()
    for i in range(a.shape[0]):
        out[i, :] = a[i, :] / np.sqrt(np.sum(a[i, :] * a[i, :]))
    return np.sum(out * out * np.arange(a.shape[1]))


def test_numpy_function_without_jax_equivalent_is_named():
    with pytest.raises(refscript.errors.UnsupportedNumpyError) as info:
        refscript.jit(uses_numpy_random)(narrowed(np.ones(3)))
    assert "numpy.random.rand" in str(info.value)
    lines, first = inspect.getsourcelines(uses_numpy_random)
    assert info.value.location.lineno == first + 1
