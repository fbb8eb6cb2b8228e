"""The loop kernels of examples/kernels, compiled by refscript.jit, against themselves as plain NumPy.

Every kernel is checked with `oracle.check` at two small sizes in float64 (returned
values, dtypes, and the arrays it writes into), a few also in float32. A kernel that
fails because of a refscript bug or limitation keeps its natural NumPy form and is
marked xfail (strict) with the reason. `test_plain_kernels_are_right` checks the
plain functions themselves against NumPy/zlib references, so a "match" means
matching a correct answer.
"""

from __future__ import annotations

import binascii
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from oracle import check
from tests.modules import import_file

KERNELS_DIR = Path(__file__).resolve().parent.parent / "examples" / "kernels"


def _load_runner():
    name = "refscript_example_kernels_run"
    if name not in sys.modules:
        import_file(KERNELS_DIR / "run.py", name, register=True)
    return sys.modules[name]


runner = _load_runner()
KERNELS = runner.load_kernels()

# Two small sizes per kernel (passed to its make_inputs); loops with loop-dependent
# slices unroll, so those kernels stay smaller.
SIZES = {
    "durbin": (4, 7),
    "fft": (4, 8),
    "lu_partial_pivoting": (3, 5),
    "mandelbrot": (4, 6),
}
DEFAULT_SIZES = (4, 6)

TOLERANCES = {}  # name -> (rtol, atol); float64 kernels match to rounding
DEFAULT_TOLERANCE = (1e-12, 1e-14)

XFAIL = {
}

# Kernels that need JAX's 64-bit mode (skipped with --x32), and why. Their bodies name a
# 64-bit type (JAX warns of each without x64), or their stopping test is below float32's
# resolution; the other kernels run in both modes, on 32-bit copies with --x32 (`oracle.check`).
X64_ONLY = {
    "fft": "computes in complex128 by name (x.astype(np.complex128))",
    "histogram": "counts in an int64 array by name",
    "histogram_binned": "counts in an int64 array by name",
    "mandelbrot": "counts in an int64 array by name",
    "needleman_wunsch": "scores in int64 arrays by name",
    "nussinov": "fills an int64 table by name",
    "power_iteration": "stops at tol 1e-10, below float32's resolution: the iteration count depends on rounding",
}

FLOAT32_KERNELS = ("lu", "cholesky", "forward_substitution", "durbin", "jacobi_2d", "seidel_2d",
                   "mandelbrot", "prefix_sum")


def _params():
    params = []
    for name in KERNELS:
        marks = [pytest.mark.xfail(reason=XFAIL[name], strict=True)] if name in XFAIL else []
        marks += [pytest.mark.x64_only] if name in X64_ONLY else []
        for n in SIZES.get(name, DEFAULT_SIZES):
            params.append(pytest.param(name, n, marks=marks, id=f"{name}-n{n}"))
    return params


def test_every_kernel_module_is_complete():
    assert len(KERNELS) >= 12
    for name, module in KERNELS.items():
        fn = getattr(module, name)
        assert module.__doc__ and fn.__doc__, name
        assert callable(module.make_inputs), name
        assert not hasattr(fn, "__wrapped__"), f"{name} must be undecorated"
    assert set(XFAIL) <= set(KERNELS)
    assert set(SIZES) <= set(KERNELS) and set(FLOAT32_KERNELS) <= set(KERNELS) and set(X64_ONLY) <= set(KERNELS)


@pytest.mark.parametrize("name, n", _params())
def test_kernel_matches_numpy(name, n):
    module = KERNELS[name]
    args = module.make_inputs(n, np.random.default_rng(n))
    rtol, atol = TOLERANCES.get(name, DEFAULT_TOLERANCE)
    check(getattr(module, name), *args, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.x64_only] if name in X64_ONLY else [])
                                  for name in FLOAT32_KERNELS])
def test_kernel_matches_numpy_float32(name):
    module = KERNELS[name]
    args = module.make_inputs(6, np.random.default_rng(1), dtype=np.float32)
    assert any(getattr(a, "dtype", None) == np.float32 for a in args)
    check(getattr(module, name), *args, rtol=1e-5, atol=1e-6)


def test_runner_reports_a_table_and_exit_status(capsys):
    assert runner.main(["--n", "4", "--only", "lu", "crc16"]) == 0
    out = capsys.readouterr().out
    assert "lu " in out and "crc16 " in out and "2 of 2 kernels match" in out


def _plain(name, n, seed=0, **kwargs):
    module = KERNELS[name]
    args = module.make_inputs(n, np.random.default_rng(seed), **kwargs)
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    return args, copies, getattr(module, name)(*copies)


def test_plain_kernels_are_right():
    """The undecorated kernels compute what they claim (so matching them means being right)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy overflow or cast warnings in the plain runs
        n = 7

        (a,), (lu_a,), out = _plain("lu", n)
        assert out is None
        np.testing.assert_allclose((np.tril(lu_a, -1) + np.eye(n)) @ np.triu(lu_a), a, atol=1e-12)

        (a,), (lu_a,), perm = _plain("lu_partial_pivoting", n)
        np.testing.assert_allclose((np.tril(lu_a, -1) + np.eye(n)) @ np.triu(lu_a), a[perm], atol=1e-12)
        assert np.all(np.abs(np.tril(lu_a, -1)) <= 1.0)

        (a,), _, L = _plain("cholesky", n)
        np.testing.assert_allclose(L, np.linalg.cholesky(a), rtol=1e-12)
        for name in ("forward_substitution", "back_substitution"):
            (m, b), _, x = _plain(name, n)
            np.testing.assert_allclose(x, np.linalg.solve(m, b), rtol=1e-12)
        (A, b, _, _), _, (x, sweeps) = _plain("gauss_seidel_solve", n)
        np.testing.assert_allclose(x, np.linalg.solve(A, b), atol=1e-9)
        assert 1 < sweeps < 100

        (r,), _, y = _plain("durbin", n)  # Yule-Walker: Toeplitz(1, r[0], r[1], ...) y = -r
        toeplitz = np.array([[1.0 if i == j else r[abs(i - j) - 1] for j in range(n)] for i in range(n)])
        np.testing.assert_allclose(toeplitz @ y, -r, atol=1e-12)

        (a,), _, (Q, R) = _plain("gram_schmidt", n)
        np.testing.assert_allclose(Q @ R, a, atol=1e-12)
        np.testing.assert_allclose(Q.T @ Q, np.eye(n), atol=1e-12)

        (a, _, _), _, (lam, v, iterations) = _plain("power_iteration", n)
        assert abs(lam - 4.0) < 1e-8 and 1 < iterations < 500
        np.testing.assert_allclose(a @ v, lam * v, atol=1e-4)

        (dist,), (shortest,), _ = _plain("floyd_warshall", n)
        expected = dist.copy()
        for _ in range(n):
            expected = np.minimum(expected, (expected[:, :, None] + expected[None, :, :]).min(axis=1))
        np.testing.assert_array_equal(shortest, expected)

        (a, b, match, mismatch, gap), _, (score, aligned_a, aligned_b, length) = _plain("needleman_wunsch", n)
        pairs = list(zip(aligned_a[:length], aligned_b[:length]))
        recomputed = sum(gap if -1 in p else (match if p[0] == p[1] else mismatch) for p in pairs)
        assert recomputed == score[-1, -1]
        assert [x for x, _ in pairs[::-1] if x >= 0] == list(a) and [y for _, y in pairs[::-1] if y >= 0] == list(b)

        _, _, table = _plain("nussinov", n)
        assert table[0, -1] <= n // 2 and np.all(np.diff(table, axis=1)[np.triu_indices(n - 1)] >= 0)

        (data,), _, crc = _plain("crc32", 11)
        assert crc.dtype == np.uint32 and int(crc) == zlib.crc32(data.tobytes())
        (data,), _, crc = _plain("crc16", 11)
        assert crc.dtype == np.uint16 and int(crc) == binascii.crc_hqx(data.tobytes(), 0xFFFF)

        for name in ("prefix_sum", "prefix_sum_doubling"):
            (x,), _, out = _plain(name, 11)
            np.testing.assert_allclose(out, np.cumsum(x), rtol=1e-12, atol=1e-14)
        (x, nbins), _, hist = _plain("histogram", 20)
        np.testing.assert_array_equal(hist, np.bincount(x, minlength=nbins))
        (x, lo, hi, nbins), _, hist = _plain("histogram_binned", 20)
        np.testing.assert_array_equal(hist, np.histogram(x, bins=nbins, range=(lo, hi))[0])
        (x,), (sorted_x,), _ = _plain("insertion_sort", 11)
        np.testing.assert_array_equal(sorted_x, np.sort(x))
        (x,), _, spectrum = _plain("fft", 16)
        np.testing.assert_allclose(spectrum, np.fft.fft(x), atol=1e-12)

        (_, _, max_iter), _, counts = _plain("mandelbrot", 9)
        assert counts[4, 4] == max_iter  # c = -0.75 + 0j is in the set
        assert counts[0, 0] == 1  # c = -2 - 1.25j escapes after one step
