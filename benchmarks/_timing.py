"""Timing helpers shared by the benchmark scripts: interleaved rounds, medians, the machine's description.

Speed claims in this project are ratios of medians of interleaved runs made in
one process: every round calls each implementation once, in an order shuffled
from round to round, so drift in the machine's load hits all of them alike, and
so does whatever a call leaves behind for the next one (caches filled or flushed).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gc
import math
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

DOCS = Path(__file__).resolve().parent.parent / "docs"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds where a benchmark writes its reports (tables, charts): a new temporary folder by
    default, so a run never changes the checkout; `--update-docs` writes the files in docs/
    that the README links to; `--out-dir DIR` writes into DIR."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--update-docs", action="store_true",
                       help="write the reports into docs/ (the checked-in figures); default: a temporary folder")
    where.add_argument("--out-dir", metavar="DIR", help="write the reports into DIR (default: a temporary folder)")


def report_path(args: argparse.Namespace, name: str, explicit: str | None = None) -> Path:
    """Where to write the report `name` (`benchmarks.md`): `explicit` when given, else docs/ with
    `--update-docs`, else `--out-dir`, else a temporary folder made once per run."""
    if explicit:
        return Path(explicit)
    if args.update_docs:
        return DOCS / name
    if not args.out_dir:
        args.out_dir = tempfile.mkdtemp(prefix="refscript-benchmarks-")
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    return Path(args.out_dir) / name


@dataclasses.dataclass
class Timed:
    """One implementation to time: `prepare()` makes the arguments of one call (not timed, e.g.
    fresh copies of arrays the call writes into); `call(args)` makes the call and returns once
    its result is ready."""

    prepare: Callable[[], Any]
    call: Callable[[Any], Any]
    calls_per_sample: int = 1


def time_once(timed: Timed) -> float:
    """Returns the seconds one call takes (its arguments prepared beforehand)."""
    args = timed.prepare()
    start = time.perf_counter()
    timed.call(args)
    return time.perf_counter() - start


def calls_per_sample(seconds_per_call: float, sample_seconds: float, most: int = 1000) -> int:
    """Returns how many calls one sample should average so that it lasts about `sample_seconds`."""
    if seconds_per_call <= 0:
        return most
    return max(1, min(most, math.ceil(sample_seconds / seconds_per_call)))


def _sample(timed: Timed) -> float:
    args = [timed.prepare() for _ in range(timed.calls_per_sample)]
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for a in args:
            timed.call(a)
        elapsed = time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / timed.calls_per_sample


def interleaved(candidates: dict[str, Timed], budget_s: float, min_rounds: int, max_rounds: int):
    """Returns {name: [seconds per call, one per round]} from rounds that call every candidate once.

    Rounds continue until `max_rounds`, or until `budget_s` seconds have passed and at least
    `min_rounds` rounds have run. Each round calls the candidates in a new random order (the
    same orders every run): a rotating order keeps who runs after whom, and what runs before
    a candidate changes its time. In `benchmarks/kernels.py` with the order rotating, the
    candidate after NumPy (which sweeps large arrays) ran `jacobi_2d` 7% slower, and a second
    copy of the hand port after the first one 6% faster, than the hand port itself, though
    all three compile to the same program.
    """
    names = list(candidates)
    samples: dict[str, list[float]] = {name: [] for name in names}
    order = random.Random(0)
    start = time.perf_counter()
    rounds = 0
    while rounds < max_rounds and (rounds < min_rounds or time.perf_counter() - start < budget_s):
        for name in order.sample(names, len(names)):
            samples[name].append(_sample(candidates[name]))
        rounds += 1
    return samples


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def geomean(values) -> float:
    """Geometric mean of the finite positive values (nan when there are none)."""
    kept = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not kept:
        return float("nan")
    return math.exp(sum(math.log(v) for v in kept) / len(kept))


def format_seconds(seconds: float | None) -> str:
    """`1.23 s`, `45.6 ms`, `789 µs`, or `—` for a missing value."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what `platform` says elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_description() -> dict[str, str]:
    """What ran the benchmark: CPU, cores, Python and library versions, JAX device, date."""
    import jax
    import numpy as np

    described = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_model(),
        "cores": f"{usable_cores()} usable of {os.cpu_count()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "jax": f"{jax.__version__} (jaxlib {_version('jaxlib')}), device {jax.devices()[0].platform}",
    }
    numba_version = _version("numba")
    described["numba"] = numba_version or "not installed"
    if hasattr(os, "getloadavg"):
        described["load average at start"] = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    return described


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
