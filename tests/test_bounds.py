"""Index bounds proven while tracing (refscript/runtime/bounds.py): two index parts that
never name the same element need no run-time comparison, and every other pair keeps
one. Plain Python is the oracle for the values, around the edges where the offsets
make the parts meet."""

import jax
import numpy as np
import pytest

import refscript
from oracle import check
from refscript.runtime import bounds


# What the k loop reads besides the accumulator `t[i, j]`:
ROW_AND_COLUMN = 0  # Nussinov's `t[i, k] + t[k + shift, j]`, which names it when k + shift == i
COLUMN_ONLY = 1  # only `t[k + shift, j]`
ROW_SHIFTED = 2  # `t[i, k + shift]`, which names it when k + shift == j


def accumulate(x, start, shift, descending=False, reads=ROW_AND_COLUMN):
    """Nussinov's k loop with its offsets as parameters."""
    n = x.shape[0]
    t = np.outer(x, np.ones(n))  # row i holds x[i]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            ks = range(j - 1, i + start - 1, -1) if descending else range(i + start, j)
            for k in ks:
                if reads == ROW_AND_COLUMN:
                    t[i, j] = max(t[i, j], t[i, k] + t[k + shift, j])
                elif reads == COLUMN_ONLY:
                    t[i, j] = max(t[i, j], 0.5 * t[k + shift, j] + 1.0)
                else:
                    t[i, j] = max(t[i, j], t[i, k + shift] - 0.5 * t[k, j])
    return t


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize("start", [0, 1, 2])
@pytest.mark.parametrize("shift", [-3, -2, -1, 0, 1])
def test_offsets_around_the_accumulator_match_python(rng, start, shift, descending):
    # shift < 0 reaches the accumulator's row (k + shift == i) or wraps below 0 as Python does.
    check(accumulate, rng.normal(size=6), start, shift, descending)


@pytest.mark.parametrize("shift", [-1, 0, 1])
def test_column_offsets_match_python(rng, shift):
    check(accumulate, rng.normal(size=6), 1, shift, False, ROW_SHIFTED)


def _selects(fn, *args):
    jax.clear_caches()  # trace again
    return jax.jit(refscript.jit(fn), static_argnums=tuple(range(1, len(args)))).lower(*args).as_text().count(
        "call @_where")


@pytest.mark.parametrize("start, shift", [(1, 1), (2, -1), (1, 0)])
def test_a_read_proven_apart_needs_no_select(rng, monkeypatch, start, shift):
    # k >= i + start, so k + shift >= i + start + shift > i never names row i: no comparison.
    x = rng.normal(size=6)
    assert _selects(accumulate, x, start, shift, False, COLUMN_ONLY) == 0
    monkeypatch.setattr(bounds, "apart", lambda p, q, size: False)
    assert _selects(accumulate, x, start, shift, False, COLUMN_ONLY) == 1


@pytest.mark.parametrize("start, shift", [(1, -1), (0, 0), (2, -2), (1, -2)])
def test_a_read_that_can_name_the_element_keeps_its_select(rng, monkeypatch, start, shift):
    # k + shift == i happens (or k + shift < 0 wraps, as in Python): nothing may be proven.
    x = rng.normal(size=6)
    check(accumulate, x, start, shift, False, COLUMN_ONLY)
    found = _selects(accumulate, x, start, shift, False, COLUMN_ONLY)
    monkeypatch.setattr(bounds, "apart", lambda p, q, size: False)
    assert found == _selects(accumulate, x, start, shift, False, COLUMN_ONLY) >= 1


def test_offset_forms_read_the_index_arithmetic():
    seen = {}

    def f(i):
        j = (i + 3) - 1
        seen["forms"] = [bounds.offset_form(v) for v in (i, j, 2 + i, j - i, 7)]
        return j

    jax.make_jaxpr(f)(1)
    (i_base, i_offset), (j_base, j_offset), (k_base, k_offset), (d_base, _), seven = seen["forms"]
    assert (i_offset, j_offset, k_offset) == (0, 2, 2)
    assert j_base is i_base and k_base is i_base
    assert d_base is not i_base  # a difference of two traced values is not an offset of one
    assert seven == (None, 7)
