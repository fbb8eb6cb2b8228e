"""What users see of their converted code: the generated Python and the Ref jaxpr."""

import jax
import numpy as np

import refscript
from oracle import narrowed


def running_sum(x):
    out = x.copy()
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
        out[i] = s
    return out


def test_converted_source_reads_like_the_users_code():
    text = refscript.converted_source(running_sum)
    assert "def loop_body(i):" in text
    assert "s_ref.iadd(x[i])" in text
    assert "out_ref[i] = s_ref.value" in text
    assert "rs.for_stmt(" in text
    compile(text, "<converted>", "exec")


def test_make_jaxpr_shows_refs_and_discharged_shows_none():
    x = narrowed(np.arange(5.0))
    ref_jaxpr = str(refscript.make_jaxpr(running_sum)(x))
    floats = jax.dtypes.canonicalize_dtype(np.float64)  # f64, or f32 in 32-bit mode (pytest --x32)
    short = f"{floats.kind}{8 * floats.itemsize}"
    assert f"Ref{{{short}[]}}" in ref_jaxpr and f"Ref{{{short}[5]}}" in ref_jaxpr
    assert "new_ref" in ref_jaxpr and "<-" in ref_jaxpr
    assert "scan[" in ref_jaxpr  # a static trip count keeps reverse mode possible
    pure = str(refscript.make_jaxpr(running_sum, discharged=True)(x))
    assert "Ref{" not in pure and "new_ref" not in pure


def test_traced_bounds_lower_to_a_while_loop():
    def prefix_total(x, n):
        s = 0.0
        for i in range(n):
            s += x[i]
        return s

    text = str(refscript.make_jaxpr(prefix_total, static_scalars=False)(narrowed(np.arange(5.0)), 3))
    assert "while[" in text and "scan[" not in text


def test_jitted_function_lowers_to_hlo():
    compiled = refscript.jit(running_sum)
    hlo = jax.jit(compiled).lower(narrowed(np.arange(5.0))).as_text()
    assert "while" in hlo
