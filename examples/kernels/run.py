"""Runs every kernel in this folder as plain Python/NumPy and through `refscript.jit`, and compares.

    python examples/kernels/run.py [--n 6] [--float32] [--only lu cholesky ...]

Each module `NAME.py` here defines an undecorated function `NAME` and
`make_inputs(n, rng)`. For every kernel this script builds its inputs at size
`n`, calls the function on NumPy copies as plain Python (the reference) and
through `refscript.jit` on other copies, then compares the returned values,
their dtypes, and the arrays each call leaves in its arguments (a kernel that
writes into an argument must leave it as NumPy does). It prints one row per
kernel (match, largest absolute difference, time of the plain call and of the
first compiled call, which includes tracing and compiling) and exits 1 if any
kernel mismatches or fails to compile.

JAX's 64-bit mode is switched on, so dtypes follow NumPy's (float64, int64);
`--float32` builds the floating-point inputs in float32 instead.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np

import refscript

HERE = Path(__file__).resolve().parent
NOT_KERNELS = {"run"}


def load_kernels(names=None):
    """Returns {name: module} for the kernel modules here (all, or those in `names`)."""
    kernels = {}
    for path in sorted(HERE.glob("*.py")):
        name = path.stem
        if name in NOT_KERNELS or name.startswith("_") or (names and name not in names):
            continue
        module_name = f"refscript_example_kernels_{name}"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        kernels[name] = module
    missing = set(names or ()) - set(kernels)
    if missing:
        raise SystemExit(f"no such kernel: {', '.join(sorted(missing))}")
    return kernels


def expected_dtype(value):
    """The dtype refscript gives a value the plain function returned (Python scalars as JAX types them)."""
    if isinstance(value, bool):
        return np.dtype(bool)
    if isinstance(value, int):
        return np.dtype(np.int64)
    if isinstance(value, float):
        return np.dtype(np.float64)
    if isinstance(value, complex):
        return np.dtype(np.complex128)
    return np.asarray(value).dtype


def compare(got, expected, rtol, atol):
    """Returns (problem or None, max abs difference) between two results of one call."""
    got_leaves, got_tree = jax.tree_util.tree_flatten(got)
    exp_leaves, exp_tree = jax.tree_util.tree_flatten(expected)
    if got_tree != exp_tree:
        return f"structure {got_tree} != {exp_tree}", float("nan")
    worst = 0.0
    for g, e in zip(got_leaves, exp_leaves):
        g, e_arr = np.asarray(g), np.asarray(e)
        if g.dtype != expected_dtype(e):
            return f"dtype {g.dtype} != {expected_dtype(e)}", float("nan")
        if g.shape != e_arr.shape:
            return f"shape {g.shape} != {e_arr.shape}", float("nan")
        if g.size == 0:
            continue
        if g.dtype == bool:
            g, e_arr = g.astype(np.int8), e_arr.astype(np.int8)
        g_wide = g.astype(np.complex128 if np.iscomplexobj(g) else np.float64)
        e_wide = e_arr.astype(g_wide.dtype)
        with np.errstate(invalid="ignore"):
            diff = np.abs(g_wide - e_wide)
        same_inf = (g_wide == e_wide)  # inf == inf, where the difference is nan
        diff = np.where(same_inf, 0.0, diff)
        worst = max(worst, float(np.nanmax(diff)) if not np.all(np.isnan(diff)) else float("nan"))
        if np.issubdtype(g.dtype, np.inexact):
            ok = np.allclose(g, e_arr, rtol=rtol, atol=atol, equal_nan=True)
        else:
            ok = np.array_equal(g, e_arr)
        if not ok:
            return "values differ", worst
    return None, worst


def run_kernel(name, module, n, dtype, rtol, atol, seed=0):
    """Runs one kernel both ways; returns a dict for one row of the table."""
    fn = getattr(module, name)
    args = module.make_inputs(n, np.random.default_rng(seed), dtype=dtype)
    row = {"kernel": name, "match": False, "error": False, "max_diff": float("nan"), "note": ""}

    python_args = copy.deepcopy(args)
    start = time.perf_counter()
    expected = fn(*python_args)
    row["plain_ms"] = (time.perf_counter() - start) * 1e3

    compiled = refscript.jit(fn)
    compiled_args = copy.deepcopy(args)
    start = time.perf_counter()
    try:
        got = compiled(*compiled_args)
        jax.block_until_ready(got)
    except Exception as error:  # noqa: BLE001 -- report it and go on to the next kernel
        row["jit_ms"] = (time.perf_counter() - start) * 1e3
        row["error"] = True
        first_line = (str(error).strip().splitlines() or [""])[0].replace(f"{HERE}/", "")
        row["note"] = f"{type(error).__name__}: {first_line}"
        return row
    row["jit_ms"] = (time.perf_counter() - start) * 1e3

    problem, worst = compare(got, expected, rtol, atol)
    for i, (after_python, after_compiled) in enumerate(zip(python_args, compiled_args)):
        if problem is None and isinstance(after_python, np.ndarray):
            arg_problem, arg_worst = compare(after_compiled, after_python, rtol, atol)
            worst = max(worst, arg_worst)
            if arg_problem is not None:
                problem = f"argument {i} ends differently: {arg_problem}"
    row["max_diff"] = worst
    row["match"] = problem is None
    row["note"] = problem or ""
    return row


def main(argv=None) -> int:
    # 64-bit mode while the kernels run (importing this module changes nothing).
    with jax.enable_x64(True):
        return _main(argv)


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=6, help="problem size passed to make_inputs (default 6)")
    parser.add_argument("--float32", action="store_true", help="floating-point inputs in float32")
    parser.add_argument("--only", nargs="+", metavar="KERNEL", help="run only these kernels")
    args = parser.parse_args(argv)

    dtype = np.float32 if args.float32 else np.float64
    rtol, atol = (1e-4, 1e-5) if args.float32 else (1e-9, 1e-12)
    kernels = load_kernels(args.only)

    print(f"n = {args.n}, floating-point inputs {np.dtype(dtype).name}, rtol = {rtol:g}, atol = {atol:g}")
    header = f"{'kernel':<22} {'match':<8} {'max |diff|':>11} {'plain ms':>9} {'jit 1st ms':>10}  note"
    print(header)
    print("-" * len(header))
    failures = 0
    for name, module in kernels.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row = run_kernel(name, module, args.n, dtype, rtol, atol)
        failures += not row["match"]
        verdict = "yes" if row["match"] else ("ERROR" if row["error"] else "NO")
        print(f"{name:<22} {verdict:<8} {row['max_diff']:>11.3g} {row['plain_ms']:>9.1f} {row['jit_ms']:>10.1f}  {row['note']}")
    print(f"{len(kernels) - failures} of {len(kernels)} kernels match" + (f"; {failures} do not" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
