"""Benchmark: `refscript.prange` loops against the sequential `range` lowering, NumPy and Numba.

    python benchmarks/prange.py [--quick] [--budget SECONDS]

Four kernels, each written as the loop a Numba user would write:

- `map`: an elementwise map, `c[i] = a[i] * b[i] + 1` (n = 1,000,000);
- `rows`: a row-wise reduction with an inner loop, `out[i] = sum_j x[i, j]**2`
  (2,000 x 500); `rows_nested`, the same with the inner loop a prange (its
  sequential and Numba versions are those of `rows`);
- `jacobi`: one Jacobi sweep of a 2-D grid, prange over rows, inner loop over
  columns (1,000 x 1,000); `jacobi_nested`, the same with the inner loop a
  prange too (its sequential and Numba versions are those of `jacobi`); and
  `jacobi_rows`, the sweep written with row slices;
- `pairwise`: pairwise distances of 1,000 points in 3-D, prange over points.

Each kernel runs as: NumPy vectorised code; `refscript.jit` of the loop with
`range` (the sequential lowering, a compiled loop); `refscript.jit` of the same
loop with `refscript.prange` (vectorised over the loop index);
`refscript.jit(vectorize=True)` of the `range` loop (the loops it finds
independent run as prange loops, the others stay sequential); `numba.njit` of
the `range` loop; and `numba.njit(parallel=True)` with `numba.prange`. Numba
runs only if it is installed. Float64 throughout (JAX's 64-bit mode).

Every implementation's result is first compared with NumPy's (rtol 1e-9); then
rounds call every implementation once, in an order shuffled from round to
round, until the budget of the kernel is spent (each sample averages enough
calls to last ~20 ms). Tables give medians and ratios of medians. Compiled
functions are called warm (after a first call that traces and compiles), on
arguments already in place (JAX arrays for refscript, NumPy arrays otherwise).

Writes prange-benchmarks.md (and prange-benchmarks.png when matplotlib is
installed) into a new temporary folder, `--out-dir DIR`, or docs/ with
`--update-docs`; `--quick` is a smoke run (small sizes, short budget) that
prints its table and writes nothing unless told where.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import jax

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import refscript  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _timing  # noqa: E402
from _timing import format_seconds  # noqa: E402  (the benchmarks' one formatter)

try:
    import numba
except ImportError:  # Numba is optional
    numba = None

ROOT = Path(__file__).resolve().parent.parent


# The kernels: the prange loop, the same loop with range, the NumPy version.


def map_prange(a, b):
    c = np.empty_like(a)
    for i in refscript.prange(a.shape[0]):
        c[i] = a[i] * b[i] + 1.0
    return c


def map_range(a, b):
    c = np.empty_like(a)
    for i in range(a.shape[0]):
        c[i] = a[i] * b[i] + 1.0
    return c


def map_numpy(a, b):
    return a * b + 1.0


def rows_prange(x):
    out = np.empty(x.shape[0])
    for i in refscript.prange(x.shape[0]):
        s = 0.0
        for j in range(x.shape[1]):
            s += x[i, j] * x[i, j]
        out[i] = s
    return out


def rows_nested_prange(x):
    out = np.empty(x.shape[0])
    for i in refscript.prange(x.shape[0]):
        s = 0.0
        for j in refscript.prange(x.shape[1]):
            s += x[i, j] * x[i, j]
        out[i] = s
    return out


def rows_range(x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        s = 0.0
        for j in range(x.shape[1]):
            s += x[i, j] * x[i, j]
        out[i] = s
    return out


def rows_numpy(x):
    return (x * x).sum(axis=1)


def jacobi_prange(u):
    v = u.copy()
    for i in refscript.prange(1, u.shape[0] - 1):
        for j in range(1, u.shape[1] - 1):
            v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return v


def jacobi_range(u):
    v = u.copy()
    for i in range(1, u.shape[0] - 1):
        for j in range(1, u.shape[1] - 1):
            v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return v


def jacobi_nested_prange(u):
    v = u.copy()
    for i in refscript.prange(1, u.shape[0] - 1):
        for j in refscript.prange(1, u.shape[1] - 1):
            v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return v


def jacobi_rows_prange(u):
    v = u.copy()
    for i in refscript.prange(1, u.shape[0] - 1):
        v[i, 1:-1] = 0.25 * (u[i - 1, 1:-1] + u[i + 1, 1:-1] + u[i, :-2] + u[i, 2:])
    return v


def jacobi_rows_range(u):
    v = u.copy()
    for i in range(1, u.shape[0] - 1):
        v[i, 1:-1] = 0.25 * (u[i - 1, 1:-1] + u[i + 1, 1:-1] + u[i, :-2] + u[i, 2:])
    return v


def jacobi_numpy(u):
    v = u.copy()
    v[1:-1, 1:-1] = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    return v


def pairwise_prange(p):
    n = p.shape[0]
    d = np.empty((n, n))
    for i in refscript.prange(n):
        for j in range(n):
            s = 0.0
            for k in range(p.shape[1]):
                diff = p[i, k] - p[j, k]
                s += diff * diff
            d[i, j] = np.sqrt(s)
    return d


def pairwise_range(p):
    n = p.shape[0]
    d = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(p.shape[1]):
                diff = p[i, k] - p[j, k]
                s += diff * diff
            d[i, j] = np.sqrt(s)
    return d


def pairwise_numpy(p):
    diff = p[:, None, :] - p[None, :, :]
    return np.sqrt((diff * diff).sum(axis=-1))


# Numba's parallel versions: the same loops over numba.prange (defined only with Numba).

NUMBA_PARALLEL_SOURCE = """
def map_parallel(a, b):
    c = np.empty_like(a)
    for i in prange(a.shape[0]):
        c[i] = a[i] * b[i] + 1.0
    return c

def rows_parallel(x):
    out = np.empty(x.shape[0])
    for i in prange(x.shape[0]):
        s = 0.0
        for j in range(x.shape[1]):
            s += x[i, j] * x[i, j]
        out[i] = s
    return out

def jacobi_parallel(u):
    v = u.copy()
    for i in prange(1, u.shape[0] - 1):
        for j in range(1, u.shape[1] - 1):
            v[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    return v

def jacobi_rows_parallel(u):
    v = u.copy()
    for i in prange(1, u.shape[0] - 1):
        v[i, 1:-1] = 0.25 * (u[i - 1, 1:-1] + u[i + 1, 1:-1] + u[i, :-2] + u[i, 2:])
    return v

def pairwise_parallel(p):
    n = p.shape[0]
    d = np.empty((n, n))
    for i in prange(n):
        for j in range(n):
            s = 0.0
            for k in range(p.shape[1]):
                diff = p[i, k] - p[j, k]
                s += diff * diff
            d[i, j] = np.sqrt(s)
    return d
"""


def _numba_parallel():
    namespace = {"np": np, "prange": numba.prange}
    exec(compile(NUMBA_PARALLEL_SOURCE, "<numba kernels>", "exec"), namespace)
    return {name: numba.njit(parallel=True)(namespace[name]) for name in namespace if name.endswith("_parallel")}


KERNELS = {
    # name: (prange loop, range loop, NumPy, Numba parallel name, inputs(size), size, quick size, label)
    "map": (map_prange, map_range, map_numpy, "map_parallel",
            lambda n, rng: (rng.standard_normal(n), rng.standard_normal(n)), 1_000_000, 10_000,
            "elementwise map, n = {n:,}"),
    "rows": (rows_prange, rows_range, rows_numpy, "rows_parallel",
             lambda n, rng: (rng.standard_normal((n, 500)),), 2_000, 50, "row-wise reduction, {n:,} x 500"),
    "rows_nested": (rows_nested_prange, rows_range, rows_numpy, "rows_parallel",
                    lambda n, rng: (rng.standard_normal((n, 500)),), 2_000, 50,
                    "row-wise reduction (prange over rows and columns), {n:,} x 500"),
    "jacobi": (jacobi_prange, jacobi_range, jacobi_numpy, "jacobi_parallel",
               lambda n, rng: (rng.standard_normal((n, n)),), 1_000, 40,
               "Jacobi sweep (inner loop over columns), {n:,} x {n:,}"),
    "jacobi_nested": (jacobi_nested_prange, jacobi_range, jacobi_numpy, "jacobi_parallel",
                      lambda n, rng: (rng.standard_normal((n, n)),), 1_000, 40,
                      "Jacobi sweep (prange over rows and columns), {n:,} x {n:,}"),
    "jacobi_rows": (jacobi_rows_prange, jacobi_rows_range, jacobi_numpy, "jacobi_rows_parallel",
                    lambda n, rng: (rng.standard_normal((n, n)),), 1_000, 40,
                    "Jacobi sweep (row slices), {n:,} x {n:,}"),
    "pairwise": (pairwise_prange, pairwise_range, pairwise_numpy, "pairwise_parallel",
                 lambda n, rng: (rng.standard_normal((n, 3)),), 1_000, 30, "pairwise distances, {n:,} points in 3-D"),
}

COLUMNS = ["NumPy", "refscript range", "refscript prange", "refscript vectorize", "Numba njit", "Numba parallel"]


# Timing: interleaved rounds, medians.


def _block(value):
    return jax.block_until_ready(value)


def _calls_per_sample(fn, sample_s: float) -> int:
    start = time.perf_counter()
    _block(fn())
    once = time.perf_counter() - start
    return max(1, min(1000, math.ceil(sample_s / max(once, 1e-9))))


def interleaved(candidates: dict, budget_s: float, min_rounds: int = 5, max_rounds: int = 200) -> dict:
    """Returns {name: [seconds per call, one per round]}; each round calls every candidate,
    in an order shuffled from round to round."""
    repeats = {name: _calls_per_sample(fn, 0.02) for name, fn in candidates.items()}
    names = list(candidates)
    samples = {name: [] for name in names}
    order = random.Random(0)  # as _timing.interleaved: what runs before a candidate moves its time
    start, rounds = time.perf_counter(), 0
    while rounds < max_rounds and (rounds < min_rounds or time.perf_counter() - start < budget_s):
        for name in order.sample(names, len(names)):
            fn, count = candidates[name], repeats[name]
            gc.disable()
            try:
                begin = time.perf_counter()
                for _ in range(count):
                    _block(fn())
                samples[name].append((time.perf_counter() - begin) / count)
            finally:
                gc.enable()
        rounds += 1
    return samples


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    device = jax.devices()[0]
    load = ", load average {:.1f} when the run started".format(LOAD_AT_START) if LOAD_AT_START is not None else ""
    return (f"{cpu}, {cores} usable cores{load}; JAX {jax.__version__} on {device.platform} "
            f"({device.device_kind}); NumPy {np.__version__}; "
            f"Numba {numba.__version__ if numba else 'not installed'}; Python {platform.python_version()}")


# The run.


def run_kernel(name, quick: bool, budget_s: float, parallel_numba: dict) -> dict:
    prange_fn, range_fn, numpy_fn, numba_name, inputs, size, quick_size, label = KERNELS[name]
    n = quick_size if quick else size
    args = inputs(n, np.random.default_rng(0))
    device_args = [jnp.asarray(a) for a in args]
    compiled_prange, compiled_range = refscript.jit(prange_fn), refscript.jit(range_fn)
    compiled_vectorize = refscript.jit(range_fn, vectorize=True)
    candidates = {
        "NumPy": lambda: numpy_fn(*args),
        "refscript range": lambda: compiled_range(*device_args),
        "refscript prange": lambda: compiled_prange(*device_args),
        "refscript vectorize": lambda: compiled_vectorize(*device_args),
    }
    if numba is not None:
        sequential = numba.njit(range_fn)
        candidates["Numba njit"] = lambda: sequential(*args)
        candidates["Numba parallel"] = lambda: parallel_numba[numba_name](*args)
    expected = numpy_fn(*args)
    first_call = {}
    for label_, fn in candidates.items():
        start = time.perf_counter()
        got = np.asarray(_block(fn()))
        first_call[label_] = time.perf_counter() - start
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=f"{name}: {label_}")
    samples = interleaved(candidates, budget_s)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    return {"name": name, "label": label.format(n=n), "medians": medians, "rounds": len(samples["NumPy"]),
            "first_call": first_call}


def ratio(a, b) -> str:
    if a is None or b is None:
        return "—"
    return f"{a / b:.3g}x"


def markdown(results, command: str) -> str:
    lines = [
        "# prange benchmarks",
        "",
        "Written by `benchmarks/prange.py` (run: `" + command + "`). Medians of interleaved runs in one",
        "process; ratios are ratios of those medians. Float64, JAX's 64-bit mode; compiled functions",
        "called warm, refscript on JAX arrays, NumPy and Numba on NumPy arrays. Every result was",
        "checked against NumPy's first (rtol 1e-9).",
        "",
        f"Machine: {machine()}.",
        "",
        "| kernel | " + " | ".join(COLUMNS)
        + " | range / prange | range / vectorize | prange / NumPy | prange / Numba parallel |",
        "|---|" + "---:|" * (len(COLUMNS) + 4),
    ]
    for r in results:
        m = r["medians"]
        cells = [format_seconds(m.get(c)) for c in COLUMNS]
        lines.append(
            f"| {r['label']} | " + " | ".join(cells)
            + f" | {ratio(m['refscript range'], m['refscript prange'])}"
            + f" | {ratio(m['refscript range'], m['refscript vectorize'])}"
            + f" | {ratio(m['refscript prange'], m['NumPy'])}"
            + f" | {ratio(m['refscript prange'], m.get('Numba parallel'))} |"
        )
    lines += [
        "",
        "`range / prange` is the speedup of the prange lowering over the sequential lowering of the",
        "same loop, `range / vectorize` that of `refscript.jit(vectorize=True)` of the `range` loop",
        "(which vectorises the loops it finds independent; a reduction, as the sum over `j` of `rows`,",
        "stays a loop, run once for all rows); `prange / NumPy` and `prange / Numba parallel` are time",
        "ratios (below 1: prange is faster).",
        "",
        "Rounds per kernel: " + ", ".join(f"{r['name']} {r['rounds']}" for r in results) + ".",
        "",
    ]
    return "\n".join(lines)


def chart(results, path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    shown = [c for c in COLUMNS if all(c in r["medians"] for r in results)]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(shown)
    for k, column in enumerate(shown):
        speedups = [r["medians"]["refscript range"] / r["medians"][column] for r in results]
        ax.bar([x + k * width for x in range(len(results))], speedups, width, label=column)
    ax.set_xticks([x + width * (len(shown) - 1) / 2 for x in range(len(results))])
    ax.set_xticklabels([r["name"] for r in results])
    ax.set_yscale("log")
    ax.axhline(1.0, color="gray", linewidth=0.8)
    ax.set_ylabel("speedup over refscript range (log)")
    ax.set_title("prange kernels (CPU, float64; higher is faster)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


LOAD_AT_START = None


def main(argv=None) -> int:
    # float64 throughout, as NumPy computes; scoped, so that importing this module (the tests do)
    # changes no one's JAX mode.
    with jax.enable_x64(True):
        return _main(argv)


def _main(argv) -> int:
    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and a short budget (smoke run)")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per kernel")
    parser.add_argument("--only", default=None, help="comma-separated kernel names")
    parser.add_argument("--out", default=None, help="Markdown file to write (default prange-benchmarks.md, "
                                                    "see --update-docs; --quick prints the table only)")
    _timing.add_report_arguments(parser)
    options = parser.parse_args(argv)
    budget = options.budget if options.budget is not None else (0.5 if options.quick else 20.0)
    names = options.only.split(",") if options.only else list(KERNELS)
    parallel_numba = _numba_parallel() if numba is not None else {}
    results = []
    for name in names:
        result = run_kernel(name, options.quick, budget, parallel_numba)
        results.append(result)
        m = result["medians"]
        print(f"{result['label']}: " + ", ".join(f"{k} {format_seconds(v)}" for k, v in m.items()), flush=True)
    command = "python benchmarks/prange.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    text = markdown(results, command.strip())
    quiet = options.quick and not (options.out or options.update_docs or options.out_dir)
    out = None if quiet else _timing.report_path(options, "prange-benchmarks.md", options.out)
    if out is not None:
        out.write_text(text)
        if chart(results, out.with_suffix(".png")):
            text_with_chart = text + f"\n![speedups]({out.with_suffix('.png').name})\n"
            out.write_text(text_with_chart)
        print(f"wrote {out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
