"""Benchmark: every kernel of examples/kernels as NumPy, refscript, hand-written JAX and Numba.

    python benchmarks/kernels.py [--quick] [--sizes small,large] [--only NAME,...]

For each kernel and size the script builds the kernel's inputs (`make_inputs(n)`,
float64, JAX's 64-bit mode on) and runs, side by side:

- NumPy: the undecorated function from examples/kernels, on fresh NumPy copies
  of its inputs for every call (copying is not timed);
- refscript: `refscript.jit` of that same function, called warm (after its first
  call, which traces and compiles) on JAX arrays already on the device;
- hand JAX: the port of the kernel in benchmarks/hand_jax.py (`jax.jit` of lax
  loops with explicit carries), on the same JAX arrays;
- Numba: `numba.njit` of the same function, on fresh NumPy copies, when numba is
  installed (`pip install -e '.[bench]'`).

Every implementation's result, and every array its call writes into, is first
compared with NumPy's (floats to rtol 1e-8, integers exactly); one that differs
or fails is reported and not timed. Then rounds call every implementation once,
in an order shuffled from round to round, until the time budget of that
kernel and size is spent; each sample averages enough calls to last a few
milliseconds. The tables give medians, and ratios of medians.

Writes benchmarks.md (the tables, geometric means per size, the machine) and
benchmarks.png (speedups over NumPy; needs matplotlib, else only the table is
written) into a new temporary folder, `--out-dir DIR`, or, with `--update-docs`,
docs/ (the figures the README links to). `--quick` is a smoke run (small size, short budgets).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import importlib.util
import inspect
import json
import math
import os
import signal
import sys
import threading
import time
import types
import warnings
from pathlib import Path

import jax

import numpy as np  # noqa: E402

import refscript  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _timing  # noqa: E402
import hand_jax  # noqa: E402

IMPLEMENTATIONS = ("numpy", "refscript", "hand_jax", "numba")
LABELS = {"numpy": "NumPy", "refscript": "refscript", "hand_jax": "hand JAX", "numba": "Numba",
          "hand_jax_again": "hand JAX, compiled again"}

# (small, large) problem sizes passed to each kernel's make_inputs. Large sizes make the
# plain NumPy/Python call take roughly 0.05-1 s (less where NumPy already does the inner
# loop as one array operation, as in lu_partial_pivoting).
SIZES = {
    "back_substitution": (32, 2000),
    "cholesky": (24, 160),
    "crc16": (64, 20_000),
    "crc32": (64, 20_000),
    "durbin": (32, 2000),
    "fft": (64, 8192),
    "floyd_warshall": (16, 100),
    "forward_substitution": (32, 1000),
    "gauss_seidel_solve": (16, 250),
    "gram_schmidt": (16, 250),
    "histogram": (256, 200_000),
    "histogram_binned": (256, 100_000),
    "insertion_sort": (64, 1500),
    "jacobi_1d": (256, 50_000),
    "jacobi_2d": (32, 1000),
    "lu": (24, 150),
    "lu_partial_pivoting": (16, 150),
    "mandelbrot": (16, 200),
    "needleman_wunsch": (32, 500),
    "nussinov": (24, 150),
    "power_iteration": (32, 1000),
    "prefix_sum": (256, 300_000),
    "prefix_sum_doubling": (256, 1_000_000),
    "seidel_1d": (256, 50_000),
    "seidel_2d": (24, 250),
}
SIZE_NAMES = ("small", "large")

RTOL, ATOL = 1e-8, 1e-10


@dataclasses.dataclass(frozen=True)
class Settings:
    budget_s: dict  # size name -> seconds of timed rounds per kernel
    min_rounds: int
    max_rounds: int
    sample_s: float  # a sample averages calls until it lasts about this long
    compile_limit_s: float  # first call (trace + compile) of one implementation


FULL = Settings(budget_s={"small": 4.0, "large": 15.0}, min_rounds=5, max_rounds=300, sample_s=0.005,
                compile_limit_s=180.0)
QUICK = Settings(budget_s={"small": 0.4, "large": 1.0}, min_rounds=2, max_rounds=30, sample_s=0.001,
                 compile_limit_s=60.0)


def load_kernels(names=None):
    """Returns {name: module} of examples/kernels (through its runner, which knows how to load them)."""
    runner = load_runner()
    return runner.load_kernels(names)


def load_runner():
    name = "refscript_example_kernels_run"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / "kernels" / "run.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# Checking results.


def copy_args(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args)


def on_device(args):
    return tuple(jax.device_put(a) if isinstance(a, np.ndarray) else a for a in args)


def compare(got, expected) -> str | None:
    """Returns what differs between a result and NumPy's (None when they agree)."""
    problem, _ = load_runner().compare(got, expected, RTOL, ATOL)
    return problem


def compare_arguments(after, expected_after, names) -> str | None:
    """Returns which array argument a call left differently from NumPy's call (None if none)."""
    for name, got, expected in zip(names, after, expected_after):
        if isinstance(expected, np.ndarray):
            problem = compare(np.asarray(got), expected)
            if problem:
                return f"argument {name!r} ends differently: {problem}"
    return None


def check_updates(updates: dict, args, expected_after, params) -> str | None:
    """Returns how the new contents of written arguments, {name: array}, differ from what NumPy's call
    left in them, or which argument NumPy wrote into is missing (None if all agree)."""
    written = [p for p, before, after in zip(params, args, expected_after)
               if isinstance(before, np.ndarray) and not np.array_equal(before, after, equal_nan=True)]
    missing = sorted(set(written) - set(updates))
    if missing:
        return f"the update of {', '.join(missing)} is missing"
    for param, update in updates.items():
        problem = compare(update, expected_after[params.index(param)])
        if problem:
            return f"update of {param!r}: {problem}"
    return None


def check_port(name, port, args, expected, expected_after, params) -> str | None:
    """Returns how a hand-JAX port's `(result, updates)` differs from the NumPy call (None if it agrees)."""
    result, updates = port.fn(*on_device(args))
    problem = compare(result, expected)
    if problem:
        return f"result: {problem}"
    if len(updates) != len(port.mutates):
        return f"the port returns {len(updates)} updates for {len(port.mutates)} written arguments"
    return check_updates(dict(zip(port.mutates, updates)), args, expected_after, params)


def numpy_reference(module, name, n):
    """Returns (inputs, result, arguments after the call, seconds) of the plain kernel at size n."""
    fn = getattr(module, name)
    args = module.make_inputs(n, np.random.default_rng(0))
    after = copy_args(args)
    start = time.perf_counter()
    result = fn(*after)
    return args, result, after, time.perf_counter() - start


# The implementations.


class TimeLimit(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds):
    """Raises TimeLimit in the block after `seconds` (on the main thread of a Unix process; elsewhere
    no limit). Time spent inside XLA's compiler counts but is not interrupted."""
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TimeLimit

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def short_error(error) -> str:
    """The error's type and first line, and for Numba's typing errors the signature it could not type."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    message = lines[0] if lines else ""
    detail = next((line for line in lines if line.startswith((">>>", "Untyped global", "Cannot"))), None)
    if detail:
        message = detail.lstrip("> ")
    return f"{type(error).__name__}: {message[:160]}"


def numba_module():
    """Returns numba, or None when it cannot be imported."""
    try:
        import numba
    except Exception:  # noqa: BLE001 -- missing, or built for another NumPy
        return None
    return numba


_NUMBA_CACHE: dict = {}


def numba_compiled(fn):
    """Returns `numba.njit` of `fn`, with the plain functions of its module that it calls compiled too."""
    if fn in _NUMBA_CACHE:
        return _NUMBA_CACHE[fn]
    numba = numba_module()
    namespace = dict(fn.__globals__)
    for global_name in fn.__code__.co_names:
        helper = namespace.get(global_name)
        if isinstance(helper, types.FunctionType) and helper.__module__ == fn.__module__:
            namespace[global_name] = numba.njit(helper)
    rebuilt = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    _NUMBA_CACHE[fn] = numba.njit(rebuilt)
    return _NUMBA_CACHE[fn]


def compiled_candidate(kind, fn, args, expected, expected_after, params, settings):
    """Returns (Timed, first-call seconds, notes) for refscript or Numba, after checking it against NumPy."""
    if kind == "refscript":
        # Called on JAX arrays, which refscript never writes into; `return_updates` hands back
        # what the kernel wrote, so that waiting for the result waits for all of its work.
        compiled = refscript.jit(fn, return_updates=True)
        device_args = on_device(args)
        timed = _timing.Timed(lambda: device_args, lambda a: jax.block_until_ready(compiled(*a)))
        first_args = device_args
    else:
        compiled = numba_compiled(fn)
        timed = _timing.Timed(lambda: copy_args(args), lambda a: compiled(*a))
        first_args = copy_args(args)
    with time_limit(settings.compile_limit_s):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*first_args))
        first = time.perf_counter() - start
    if kind == "refscript":
        result, updates = out
        problem = compare(result, expected) or check_updates(updates, args, expected_after, params)
    else:
        problem = compare(out, expected) or compare_arguments(first_args, expected_after, params)
    if problem:
        raise Mismatch(problem)
    notes = []
    if kind == "refscript":
        if compiled.unrolled_loops:
            lines = ", ".join(str(where.lineno) for where, _ in compiled.unrolled_loops)
            notes.append(f"refscript unrolled {len(compiled.unrolled_loops)} loop(s) (line {lines})")
        if getattr(compiled, "masked_slices", None):
            notes.append(f"refscript compiled {len(compiled.masked_slices)} slice(s) with loop-dependent bounds "
                         "as masked windows")
    return timed, first, notes


class Mismatch(Exception):
    pass


def hand_candidate(name, args, expected, expected_after, params, settings):
    port = hand_jax.PORTS.get(name)
    if port is None:
        raise Mismatch("no port in benchmarks/hand_jax.py")
    with time_limit(settings.compile_limit_s):
        start = time.perf_counter()
        problem = check_port(name, port, args, expected, expected_after, params)
        first = time.perf_counter() - start
    if problem:
        raise Mismatch(problem)
    timed_args = on_device(args)
    return _timing.Timed(lambda: timed_args, lambda a: jax.block_until_ready(port.fn(*a))), first, []


def hand_again_candidate(name, args):
    """The hand port compiled a second time: timing two compilations of one program shows how much
    the executable's placement in memory alone moves a tight loop's time (an A/A comparison)."""
    again = hand_jax.PORTS[name].jit_again()
    timed_args = on_device(args)
    jax.block_until_ready(again(*timed_args))
    return _timing.Timed(lambda: timed_args, lambda a: jax.block_until_ready(again(*a)))


def run_job(name, module, size, n, settings, rounds=None, use_numba=True):
    """Checks and times every implementation of one kernel at one size; returns a row of the table."""
    fn = getattr(module, name)
    params = list(inspect.signature(fn).parameters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. NumPy's overflow warnings never decide a benchmark
        args, expected, expected_after, numpy_first = numpy_reference(module, name, n)
    row = {"kernel": name, "size": size, "n": n, "median_s": {}, "first_call_s": {"numpy": numpy_first},
           "status": {}, "notes": [], "rounds": 0, "calls_per_sample": {}}
    candidates = {"numpy": _timing.Timed(lambda: copy_args(args), lambda a: fn(*a))}
    for kind in IMPLEMENTATIONS[1:]:
        if kind == "numba" and not use_numba:
            row["status"][kind] = "not run (--no-numba)"
            continue
        if kind == "numba" and numba_module() is None:
            row["status"][kind] = "numba not installed"
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Numba's performance hints, JAX's dtype notices
                if kind == "hand_jax":
                    timed, first, notes = hand_candidate(name, args, expected, expected_after, params, settings)
                else:
                    timed, first, notes = compiled_candidate(kind, fn, args, expected, expected_after, params,
                                                             settings)
        except TimeLimit:
            row["status"][kind] = f"first call over {settings.compile_limit_s:g} s"
            continue
        except Mismatch as mismatch:
            row["status"][kind] = f"differs from NumPy: {mismatch}"
            continue
        except Exception as error:  # noqa: BLE001 -- report it; the other implementations still run
            row["status"][kind] = f"fails: {short_error(error)}"
            continue
        candidates[kind] = timed
        row["first_call_s"][kind] = first
        row["status"][kind] = "ok"
        row["notes"] += notes
        if kind == "hand_jax":
            candidates["hand_jax_again"] = hand_again_candidate(name, args)
    row["status"]["numpy"] = "ok"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind, timed in candidates.items():
            once = numpy_first if kind == "numpy" else _timing.time_once(timed)
            timed.calls_per_sample = _timing.calls_per_sample(once, settings.sample_s)
            row["calls_per_sample"][kind] = timed.calls_per_sample
        if rounds is None:
            samples = _timing.interleaved(candidates, settings.budget_s[size], settings.min_rounds,
                                          settings.max_rounds)
        else:
            samples = _timing.interleaved(candidates, 0.0, rounds, rounds)
    row["rounds"] = len(samples["numpy"])
    row["median_s"] = {kind: _timing.median(values) for kind, values in samples.items()}
    return row


# Reports.


def ratio(numerator, denominator):
    if numerator is None or denominator is None or not (denominator > 0):
        return None
    return numerator / denominator


def spread(a, b):
    """max(a/b, b/a): how far apart two timings of the same program are (None if one is missing)."""
    r = ratio(a, b)
    return None if r is None else max(r, 1 / r)


def summary(rows):
    """Returns {size: {name: geometric mean}} of the ratios the targets are stated in."""
    out = {}
    for size in SIZE_NAMES:
        sized = [r for r in rows if r["size"] == size]
        if not sized:
            continue
        m = [r["median_s"] for r in sized]
        out[size] = {
            "kernels": len(sized),
            "refscript / hand JAX": _timing.geomean(ratio(t.get("refscript"), t.get("hand_jax")) for t in m),
            "refscript speedup vs NumPy": _timing.geomean(ratio(t["numpy"], t.get("refscript")) for t in m),
            "hand JAX speedup vs NumPy": _timing.geomean(ratio(t["numpy"], t.get("hand_jax")) for t in m),
            "Numba speedup vs NumPy": _timing.geomean(ratio(t["numpy"], t.get("numba")) for t in m),
            "refscript / Numba": _timing.geomean(ratio(t.get("refscript"), t.get("numba")) for t in m),
            "A/A spread": _timing.geomean(spread(t.get("hand_jax_again"), t.get("hand_jax")) for t in m),
            "counted": {
                "refscript / hand JAX": sum(ratio(t.get("refscript"), t.get("hand_jax")) is not None for t in m),
                "refscript speedup vs NumPy": sum(t.get("refscript") is not None for t in m),
                "hand JAX speedup vs NumPy": sum(t.get("hand_jax") is not None for t in m),
                "Numba speedup vs NumPy": sum(t.get("numba") is not None for t in m),
                "refscript / Numba": sum(ratio(t.get("refscript"), t.get("numba")) is not None for t in m),
            },
        }
    return out


def _x(value, digits=2):
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}f}×"


def markdown(rows, machine, command, chart_note):
    fmt = _timing.format_seconds
    lines = [
        "# Benchmarks: the example kernels as NumPy, refscript, hand-written JAX and Numba",
        "",
        "Written by `benchmarks/kernels.py`; do not edit by hand. Regenerate with",
        "",
        "```bash",
        f"{command}",
        "```",
        "",
        "Each kernel of [examples/kernels](../examples/kernels) runs four ways on the same inputs "
        "(float64, JAX's 64-bit mode on):",
        "",
        "- **NumPy**: the undecorated function, run by Python and NumPy, on fresh copies of its inputs;",
        "- **refscript**: `refscript.jit` of that same function, warm calls (after the first call, which "
        "traces and compiles), on JAX arrays already on the device;",
        "- **hand JAX**: the port in [benchmarks/hand_jax.py](../benchmarks/hand_jax.py), written the way "
        "someone fluent in JAX ports the kernel (`jax.jit` of `lax.fori_loop`/`scan`/`while_loop` with explicit "
        "carries, `jnp` ops, masks or padded dynamic slices for loop-dependent slices). The ports keep the "
        "kernel's loops: they measure what refscript costs over the same loops written in lax by hand, not how "
        "fast the problem can be solved in JAX;",
        "- **Numba**: `numba.njit` of the same function, on fresh copies (when numba is installed).",
        "",
        "Before timing, every implementation's result and every array it writes into are compared with "
        "NumPy's (floats to rtol 1e-8, integers exactly); one that differs or fails is not timed and the "
        "reason is listed below the tables. Timing interleaves the implementations (each round calls each one "
        "once, in an order shuffled per round; a sample averages enough calls to last a few milliseconds) until the "
        "kernel's time budget is spent. Times are medians over rounds; ratios are ratios of medians. "
        "*refscript / hand JAX* below 1 means refscript is faster; *speedup* is NumPy's time over "
        "refscript's. *1st call* is refscript's first call at that size (tracing and XLA compilation).",
        "",
        "*A/A* is an honesty check: the hand port is compiled a second time, as a separate `jax.jit`, and "
        "timed alongside; the column gives the second compilation's median over the first's. The two run the "
        "same program, so any distance from 1.00× is noise: the machine's load, and where the compiled code "
        "happens to sit in memory, which moves tight scalar loops by tens of percent. A refscript / hand JAX "
        "ratio within that distance of 1 says nothing either way. The geometric-mean table gives the typical "
        "A/A spread, max(A/A, 1/(A/A)).",
        "",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in machine.items()) + ".",
        "",
    ]
    geo = summary(rows)
    if geo:
        lines += ["## Geometric means", "",
                  "| size | kernels | refscript / hand JAX | refscript speedup vs NumPy | hand JAX speedup "
                  "vs NumPy | Numba speedup vs NumPy | refscript / Numba | hand JAX A/A spread |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for size, g in geo.items():
            c = g["counted"]
            lines.append(
                f"| {size} | {g['kernels']} "
                f"| {_x(g['refscript / hand JAX'])} ({c['refscript / hand JAX']}) "
                f"| {_x(g['refscript speedup vs NumPy'], 1)} ({c['refscript speedup vs NumPy']}) "
                f"| {_x(g['hand JAX speedup vs NumPy'], 1)} ({c['hand JAX speedup vs NumPy']}) "
                f"| {_x(g['Numba speedup vs NumPy'], 1)} ({c['Numba speedup vs NumPy']}) "
                f"| {_x(g['refscript / Numba'])} ({c['refscript / Numba']}) | {_x(g['A/A spread'])} |")
        lines += ["", "In parentheses: how many kernels each geometric mean is taken over (those where both "
                  "implementations ran and matched NumPy).", "",
                  "Targets (issue 4, at the large size): refscript / hand JAX ≤ 1.0 and refscript at least 5× "
                  "faster than NumPy.", ""]
        if "large" in geo:
            g = geo["large"]
            met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
            lines.append(f"Measured here at the large size: refscript / hand JAX {_x(g['refscript / hand JAX'])} "
                         f"({met(g['refscript / hand JAX'] <= 1.0)}), refscript speedup vs NumPy "
                         f"{_x(g['refscript speedup vs NumPy'], 1)} ({met(g['refscript speedup vs NumPy'] >= 5)}).")
            lines.append("")
    if chart_note:
        lines += [chart_note, ""]
    for size in SIZE_NAMES:
        sized = [r for r in rows if r["size"] == size]
        if not sized:
            continue
        lines += [f"## {size.capitalize()} size", "",
                  "| kernel | n | NumPy | refscript | hand JAX | Numba | refscript / hand JAX "
                  "| speedup vs NumPy | Numba speedup | A/A | 1st call | rounds |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in sized:
            t = r["median_s"]
            lines.append(
                f"| {r['kernel']} | {r['n']} | {fmt(t['numpy'])} | {fmt(t.get('refscript'))} "
                f"| {fmt(t.get('hand_jax'))} | {fmt(t.get('numba'))} "
                f"| {_x(ratio(t.get('refscript'), t.get('hand_jax')))} "
                f"| {_x(ratio(t['numpy'], t.get('refscript')), 1)} | {_x(ratio(t['numpy'], t.get('numba')), 1)} "
                f"| {_x(ratio(t.get('hand_jax_again'), t.get('hand_jax')))} "
                f"| {fmt(r['first_call_s'].get('refscript'))} | {r['rounds']} |")
        lines.append("")
    notes = []
    for r in rows:
        for kind in IMPLEMENTATIONS:
            status = r["status"].get(kind, "ok")
            if status != "ok":
                notes.append(f"- {r['kernel']} ({r['size']}, n = {r['n']}), {LABELS[kind]}: {status}")
        for note in r["notes"]:
            notes.append(f"- {r['kernel']} ({r['size']}, n = {r['n']}): {note}")
    if notes:
        lines += ["## Not timed, and other notes", "", *notes, ""]
    return "\n".join(lines)


def chart(rows, path) -> str | None:
    """Draws speedups over NumPy per kernel and size into `path`; returns why not, if it cannot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (`pip install -e '.[bench]'`), so no chart was drawn."
    sizes = [s for s in SIZE_NAMES if any(r["size"] == s for r in rows)]
    kernels = sorted({r["kernel"] for r in rows})
    kinds = ("refscript", "hand_jax", "numba")
    colours = {"refscript": "#1f77b4", "hand_jax": "#ff7f0e", "numba": "#2ca02c"}
    fig, axes = plt.subplots(1, len(sizes), figsize=(6.5 * len(sizes), 0.32 * len(kernels) + 1.6),
                             sharey=True, squeeze=False)
    for ax, size in zip(axes[0], sizes):
        by_kernel = {r["kernel"]: r for r in rows if r["size"] == size}
        height = 0.8 / len(kinds)
        lowest = 1.0
        for offset, kind in enumerate(kinds):
            ys, xs = [], []
            for y, kernel in enumerate(kernels):
                r = by_kernel.get(kernel)
                speedup = ratio(r["median_s"]["numpy"], r["median_s"].get(kind)) if r else None
                if speedup is not None:
                    ys.append(y + (offset - 1) * height)
                    xs.append(speedup)
            # Bars grow from 1 (as fast as NumPy), leftwards for a slowdown.
            ax.barh(ys, [x - 1 for x in xs], height=height, color=colours[kind], label=LABELS[kind], left=1)
            lowest = min([lowest, *xs])
        ax.set_xscale("log")
        ax.set_xlim(left=min(0.5, lowest / 1.5))
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.axvline(5.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_title(f"{size} size: speedup over NumPy (log scale)")
        ax.set_yticks(range(len(kernels)))
        ax.set_yticklabels(kernels)
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0][0].invert_yaxis()  # the axes share y: inverting one inverts all; first kernel on top
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(kinds), frameon=False)
    fig.tight_layout(rect=(0, 0.6 / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return None


def write_reports(rows, machine, command, markdown_path, chart_path):
    """Writes the Markdown table and, with matplotlib, the chart it links to."""
    chart_note = chart(rows, chart_path)
    if chart_note is None:
        chart_note = f"![Speedups over NumPy]({Path(chart_path).name})"
    else:
        print(chart_note)
    Path(markdown_path).write_text(markdown(rows, machine, command, chart_note))


def refscript_revision() -> str:
    """The commit of the refscript being measured, and whether refscript/ has uncommitted changes."""
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "refscript"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"commit {commit}" + (" with uncommitted changes in refscript/" if dirty else "")


def main(argv=None) -> int:
    # float64 throughout, as NumPy computes; scoped, so that importing this module (the tests do)
    # changes no one's JAX mode.
    with jax.enable_x64(True):
        return _main(argv)


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small size only, short budgets")
    parser.add_argument("--sizes", help="comma-separated: small,large (default both; small with --quick)")
    parser.add_argument("--only", help="comma-separated kernel names (default all)")
    parser.add_argument("--rounds", type=int, help="exactly this many timed rounds per kernel and size")
    parser.add_argument("--no-numba", action="store_true", help="do not run Numba even if it is installed")
    parser.add_argument("--markdown", metavar="PATH", help="where to write the table (default benchmarks.md, "
                                                             "see --update-docs)")
    parser.add_argument("--chart", metavar="PATH", help="where to draw the chart (default benchmarks.png)")
    _timing.add_report_arguments(parser)
    parser.add_argument("--json", metavar="PATH", help="also write the raw rows as JSON")
    parser.add_argument("--replot", metavar="JSON", help="run nothing: write the table and chart from a --json file")
    args = parser.parse_args(argv)
    args.markdown = str(_timing.report_path(args, "benchmarks.md", args.markdown))
    args.chart = str(_timing.report_path(args, "benchmarks.png", args.chart))
    if args.replot:
        saved = json.loads(Path(args.replot).read_text())
        write_reports(saved["rows"], saved["machine"], saved.get("command", "python benchmarks/kernels.py"),
                      args.markdown, args.chart)
        return 0

    settings = QUICK if args.quick else FULL
    sizes = args.sizes.split(",") if args.sizes else (["small"] if args.quick else list(SIZE_NAMES))
    unknown = set(sizes) - set(SIZE_NAMES)
    if unknown:
        parser.error(f"unknown size {', '.join(sorted(unknown))}; use small,large")
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    kernels = load_kernels(args.only.split(",") if args.only else None)
    unsized = set(kernels) - set(SIZES)
    if unsized:
        parser.error(f"no sizes for {', '.join(sorted(unsized))}: add them to SIZES in {__file__}")

    use_numba = not args.no_numba
    machine = _timing.machine_description()
    machine["refscript"] = refscript_revision()
    print("; ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    if use_numba and numba_module() is None:
        print("numba is not importable: its column will be empty (pip install -e '.[bench]')", flush=True)
    header = (f"{'kernel':<22}{'size':>6}{'n':>8}{'NumPy':>11}{'refscript':>11}{'hand JAX':>11}"
              f"{'Numba':>11}{'rs/hand':>9}{'speedup':>9}{'A/A':>7}{'rounds':>7}")
    print(header)
    rows = []
    started = time.perf_counter()
    for size in sizes:
        for name, module in kernels.items():
            n = SIZES[name][SIZE_NAMES.index(size)]
            row = run_job(name, module, size, n, settings, rounds=args.rounds, use_numba=use_numba)
            rows.append(row)
            t = row["median_s"]
            fmt = _timing.format_seconds
            print(f"{name:<22}{size:>6}{n:>8}{fmt(t['numpy']):>11}{fmt(t.get('refscript')):>11}"
                  f"{fmt(t.get('hand_jax')):>11}{fmt(t.get('numba')):>11}"
                  f"{_x(ratio(t.get('refscript'), t.get('hand_jax'))):>9}"
                  f"{_x(ratio(t['numpy'], t.get('refscript')), 1):>9}"
                  f"{_x(ratio(t.get('hand_jax_again'), t.get('hand_jax'))):>7}{row['rounds']:>7}", flush=True)
            for kind, status in row["status"].items():
                if status != "ok":
                    print(f"    {LABELS[kind]}: {status}", flush=True)

    if hasattr(os, "getloadavg"):
        machine["load average at end"] = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    machine["benchmark took"] = f"{time.perf_counter() - started:.0f} s"
    command = "python benchmarks/kernels.py" + (" --quick" if args.quick else "")
    if args.sizes:
        command += f" --sizes {args.sizes}"
    if args.only:
        command += f" --only {args.only}"
    write_reports(rows, machine, command, args.markdown, args.chart)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "command": command, "rows": rows}, indent=1))
    for size, g in summary(rows).items():
        print(f"geomean {size}: refscript/hand JAX {_x(g['refscript / hand JAX'])}, refscript speedup vs NumPy "
              f"{_x(g['refscript speedup vs NumPy'], 1)}, hand JAX speedup {_x(g['hand JAX speedup vs NumPy'], 1)}, "
              f"Numba speedup {_x(g['Numba speedup vs NumPy'], 1)}, hand JAX A/A spread {_x(g['A/A spread'])}")
    print(f"wrote {args.markdown} in {time.perf_counter() - started:.0f} s")
    broken = [r["kernel"] for r in rows if r["status"].get("hand_jax", "ok") != "ok"]
    if broken:
        print(f"hand-JAX ports that do not match NumPy: {', '.join(sorted(set(broken)))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
