"""Iteration forms: arrays, enumerate, zip, reversed, unpacking targets, Python sequences; print."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import check, check_grad, check_vmap, narrowed, numerical_grad


def over_array(x):
    s = 0.0
    for v in x:
        s = s * 0.5 + v
    return s


def over_rows(a):
    total = 0.0
    for row in a:
        total += row.sum() * row[0]
    return total


def with_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s += i * v
    return s


def with_enumerate_start(x):
    s = 0.0
    for i, v in enumerate(x, 2):
        s += i * v
    return s


def with_zip(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s += a * b
    return s


def with_zip_of_range(x):
    s = 0.0
    for i, v in zip(range(x.shape[0]), x):
        s += i - v
    return s


def with_reversed_range(x):
    out = x.copy()
    for i in reversed(range(x.shape[0] - 1)):
        out[i] = out[i] + out[i + 1] * 0.5
    return out


def with_reversed_traced_range(x, n):
    s = 0.0
    k = 0
    for i in reversed(range(n)):
        s = s * 2.0 + x[i]
        k += 1
    return s, k


def with_reversed_array(x):
    s = 0.0
    for v in reversed(x):
        s = s * 0.5 + v
    return s


def over_python_list_of_arrays(x):
    weights = [x * 2.0, x - 1.0, x * x]
    s = 0.0
    for w in weights:
        s = s + w.sum()
    return s


def nested_unpacking(x):
    pairs = ((0, 1), (1, 2))
    s = 0.0
    for (i, j), sign in zip(pairs, (1.0, -1.0)):
        s += sign * x[i] * x[j]
    return s


RNG = np.random.default_rng(0)


@pytest.mark.parametrize("fn", [over_array, with_enumerate, with_enumerate_start, with_zip_of_range,
                                with_reversed_range, with_reversed_array, over_python_list_of_arrays,
                                nested_unpacking])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_iteration_forms(fn, n):
    if fn is nested_unpacking and n < 3:
        n = 3
    check(fn, RNG.normal(size=n))


@pytest.mark.parametrize("n", [0, 1, 4])
def test_zip_and_rows(n):
    check(with_zip, RNG.normal(size=n), RNG.normal(size=n + 1))
    check(over_rows, RNG.normal(size=(n, 3)))


@pytest.mark.parametrize("n", [0, 1, 3])
def test_reversed_traced_range(n):
    check(with_reversed_traced_range, RNG.normal(size=4), np.int64(n))


def test_loops_over_arrays_compile_to_one_loop():
    jaxpr = str(refscript.make_jaxpr(with_enumerate)(np.ones(100)))
    assert "scan[" in jaxpr and jaxpr.count("mul") < 10


def test_grad_and_vmap_of_iteration_forms(rng):
    check_grad(with_enumerate, rng.normal(size=4))
    check_grad(over_array, rng.normal(size=5))
    check_vmap(with_zip_of_range, rng.normal(size=(3, 4)))


# Triangular loops whose bounds are indices of reversed/enumerate/zip loops: a
# fixed-length masked loop, so reverse mode goes through them.


def triangular_under_reversed(x):
    s = 0.0
    for i in reversed(range(x.shape[0])):
        for j in range(i + 1, x.shape[0]):
            s += x[j] * x[i]
    return s


def triangular_under_enumerate(x):
    out = x.copy()
    for i, v in enumerate(x, 1):
        for j in range(i - 1):
            out[i - 1] += x[j] * v
    return out


def triangular_under_zip(x):
    s = 0.0
    for k, (i, v) in enumerate(zip(range(x.shape[0]), x)):
        for j in range(k, i + 1):
            s += v * x[j] - 0.25 * j
    return s


def reversed_triangular_inner(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        t = 0.0
        for j in reversed(range(i)):
            t = t * 0.5 + x[j]
        out[i] = t
    return out


TRIANGULAR = [triangular_under_reversed, triangular_under_enumerate, triangular_under_zip,
              reversed_triangular_inner]


@pytest.mark.parametrize("fn", TRIANGULAR)
@pytest.mark.parametrize("n", [0, 1, 4])
def test_triangular_loops_under_iteration_forms(fn, n):
    check(fn, RNG.normal(size=n))


@pytest.mark.parametrize("fn", TRIANGULAR)
def test_triangular_loops_under_iteration_forms_are_differentiable(fn, rng):
    weights = rng.normal(size=4)

    def weighted(x):
        return np.sum(np.asarray(fn(x)) * weights)

    weighted_compiled = refscript.jit(fn)
    x = rng.normal(size=4)
    got = jax.grad(lambda v: jnp.sum(weighted_compiled(v) * weights))(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got), numerical_grad(weighted, x), rtol=1e-6, atol=1e-8)
    jaxpr = str(refscript.make_jaxpr(fn, discharged=True)(np.ones(4)))
    assert "while[" not in jaxpr


def prints_each_iteration(x):
    for i in range(x.shape[0]):
        print("step", i, x[i])
    return x.sum()


def test_print_of_traced_values_prints_at_run_time(capfd):
    result = refscript.jit(prints_each_iteration)(narrowed(np.array([1.5, 2.5])))
    jax.block_until_ready(result)
    jax.effects_barrier()
    out = capfd.readouterr().out
    assert "step 0 1.5" in out and "step 1 2.5" in out
