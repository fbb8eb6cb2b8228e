"""Differential tests on generated programs (issue 6).

Random valid imperative programs in refscript's supported subset (`program_gen`)
run as plain Python on NumPy copies and through `refscript.jit`, and must agree:

- values, dtypes and the final contents of the arrays they write;
- `jax.grad` against central finite differences in float64 (programs whose loops
  all have static trip counts);
- `jax.vmap` (in_axes 0, 1 or None per argument, batches of 0, 1 and 3) against a Python
  loop over the batch;

and random syntactically valid functions from a larger grammar either convert or
raise a `refscript.errors.RefscriptError`, never another exception, never a hang.

The default tests are deterministic (`derandomize=True`); a failure prints the
shrunk program and its arguments. The `test_slow_*` tests are a survey of 10,000
fresh programs (value 6,000, grad 2,000, vmap 2,000, plus 10,000 converter
fuzz cases; scale with REFSCRIPT_GEN_EXAMPLES): they record every failure
without shrinking, fail at the end listing the kinds of failure, and write a
JSON summary (counts, features covered, the smallest failing program of each
kind) to REFSCRIPT_GEN_SUMMARY (default: refscript-generated-summary.json in
the temporary directory).
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import random
import re
import tempfile
import time
import traceback

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import harness
import program_gen
import refscript
from refscript.errors import RefscriptError

# The default run: deterministic programs, in the default `pytest` run (budget: the whole
# default suite within 5 minutes on 2 idle cores; each value program runs through three
# lowerings, see tests/oracle.py). The `test_slow_*` surveys below run on demand. (A count
# changed draws other programs: 80 gradient examples drew the two open bugs in
# test_generator_regressions.py.)
VALUE_EXAMPLES = 120
GRAD_EXAMPLES = 100
VMAP_EXAMPLES = 70
FUZZ_EXAMPLES = 300

_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.large_base_example]
DEFAULT = {"deadline": None, "derandomize": True, "database": None, "suppress_health_check": _HEALTH}

# How many programs each test ran (printed at the end of the session by conftest.py).
RUNS: collections.Counter = collections.Counter()


# --------------------------------------------------------------------------------------
# Bodies, shared by the default and the slow tests


# The program being run, for the survey's failure report.
_CURRENT = {"source": ""}


def _note_program(source):
    _CURRENT["source"] = source
    note(source)


def value_body(case, stats=None):
    program, args_list = case
    _note_program(program.source)
    RUNS["value"] += 1
    if stats is not None:
        stats.record(program)
    harness.check_values(program.source, args_list, program.static_scalars)


def grad_body(case, stats=None, second_order_share=1):
    """`second_order_share`: second-order derivatives are checked on one in this many of the
    programs that qualify (chosen by the program's text; 1.4 s each on a 2-core CPU)."""
    (program, (args,)), outer_jit = case
    _note_program(program.source)
    note(f"outer jax.jit: {outer_jit}")
    RUNS["grad"] += 1
    if stats is not None:
        stats.record(program)
    checked = harness.check_grad(program.source, args, program.float_positions(), program.static_scalars,
                                 outer_jit=outer_jit)
    chosen = hashlib.sha1(program.source.encode()).digest()[0] % second_order_share == 0
    if checked and harness.check_grad.smooth and outer_jit and chosen:
        RUNS["check_grads order 2"] += 1
        harness.check_second_order(program.source, args)


def vmap_body(case, stats=None):
    program, batch = case
    _note_program(program.source)
    RUNS["vmap"] += 1
    if stats is not None:
        stats.record(program)
    positions = program.traced_positions()
    # Batch axes drawn from the program text: 0, 1 for arrays, None (not batched) for
    # some, with at least one argument batched.
    pick = random.Random(program.source)
    axes = {}
    for p in positions:
        ndim = np.ndim(batch[0][p])
        axes[p] = pick.choice([0, 0, None] + ([1] if ndim >= 1 else []))
    if positions and all(a is None for a in axes.values()):
        axes[positions[0]] = 0
    note(f"in_axes: {axes}")
    for size in (1, 3):
        harness.check_vmap(program.source, batch[:size], program.static_scalars, positions, axes=axes)
    harness.check_vmap(program.source, batch[:1], program.static_scalars, positions, axes=axes, size=0)


class ConversionTimeout(Exception):
    pass


def fuzz_body(source, stats=None):
    _note_program(source)
    RUNS["fuzz"] += 1
    compile(source, "<generated>", "exec")  # the grammar makes valid Python
    outcome = "converted"
    with harness.time_limit(10, ConversionTimeout):
        try:
            # A `@refscript.jit` decorator converts at import.
            module = harness.load(source)
            refscript.converted_source(module.f)
        except RefscriptError as error:
            outcome = type(error).__name__
        except ConversionTimeout:
            raise AssertionError(f"conversion hung\nprogram:\n{source}") from None
        except Exception as error:
            raise AssertionError(
                f"converted_source raised {type(error).__name__} (not a RefscriptError): {error}\n"
                f"program:\n{source}") from error
    if stats is not None:
        stats.outcomes[outcome] += 1


# --------------------------------------------------------------------------------------
# Default run


@settings(max_examples=VALUE_EXAMPLES, **DEFAULT)
@given(case=program_gen.cases(program_gen.VALUE, count=2))
def test_generated_programs_match_python(case):
    value_body(case)


@settings(max_examples=GRAD_EXAMPLES, **DEFAULT)
@given(case=st.tuples(program_gen.cases(program_gen.GRAD, count=1, smooth=True), st.booleans()))
def test_generated_gradients_match_finite_differences(case):
    grad_body(case, second_order_share=4)  # the survey checks every program


@settings(max_examples=VMAP_EXAMPLES, **DEFAULT)
@given(case=program_gen.cases(program_gen.VMAP, count=3))
def test_generated_programs_under_vmap_match_python_loop(case):
    vmap_body(case)


@settings(max_examples=FUZZ_EXAMPLES, **DEFAULT)
@given(source=program_gen.fuzz_functions())
def test_converter_converts_or_raises_refscript_error(source):
    fuzz_body(source)


# The same programs compiled with `refscript.jit(vectorize=True)`: the loops it vectorises
# must leave the values as Python has them. Few generated loops are independent (about 2% of
# the calls vectorise one, `harness.VECTORIZED`); tests/test_vectorize.py generates loops
# that are, and checks gradients and vmap on them.
@settings(max_examples=VALUE_EXAMPLES // 6, **DEFAULT)
@given(case=program_gen.cases(program_gen.VALUE, count=2))
def test_generated_programs_match_python_vectorized(case):
    with harness.vectorizing():
        value_body(case)


# --------------------------------------------------------------------------------------
# Long runs: `pytest -m slow tests/generated`


SLOW_TOTAL = int(os.environ.get("REFSCRIPT_GEN_EXAMPLES", "10000"))
SUMMARY = os.environ.get("REFSCRIPT_GEN_SUMMARY",
                         os.path.join(tempfile.gettempdir(), "refscript-generated-summary.json"))
# A survey: fresh programs each run, every failure recorded (no shrinking, no stop at the
# first), the smallest program of each kind of failure kept in the summary.
SLOW = {"deadline": None, "derandomize": False, "database": None, "suppress_health_check": _HEALTH,
        "phases": [Phase.generate]}


class Stats:
    def __init__(self, kind):
        self.kind = kind
        self.examples = 0
        self.sources = set()
        self.features = collections.Counter()
        self.outcomes = collections.Counter()
        self.lines = 0
        self.failures = collections.Counter()  # signature -> count
        self.smallest = {}  # signature -> the shortest failing report

    def record(self, program):
        self.examples += 1
        self.sources.add(program.source)
        self.features.update(program.features)
        self.lines += program.source.count("\n")

    def failed(self, error):
        frames = traceback.extract_tb(error.__traceback__)
        where = f"\n--- raised at: {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].name})" if frames else ""
        text = f"{type(error).__name__}: {error}{where}\n--- program:\n{_CURRENT['source']}"
        first = re.sub(r"/\S+\.py(:\d+)*", "FILE", text.splitlines()[0])
        signature = re.sub(r"(got|expected|grad|differences) .*", r"\1 ...", first)[:160]
        self.failures[signature] += 1
        if signature not in self.smallest or len(text) < len(self.smallest[signature]):
            self.smallest[signature] = text[:6000]


def _run_slow(kind, strategy, body, examples):
    stats = Stats(kind)
    start = time.perf_counter()

    @settings(max_examples=examples, **SLOW)
    @given(strategy)
    def run(case):
        try:
            body(case, stats)
        except Exception as error:  # noqa: BLE001 - recorded, reported at the end
            stats.failed(error)

    try:
        run()
    finally:
        _write_summary(kind, stats, time.perf_counter() - start)
    if stats.failures:
        kinds = "\n".join(f"{count:6d}  {signature}" for signature, count in stats.failures.most_common())
        pytest.fail(f"{sum(stats.failures.values())} of {stats.examples or sum(stats.outcomes.values())} "
                    f"{kind} examples failed; by kind:\n{kinds}\n(smallest program of each kind in {SUMMARY})")


def _write_summary(kind, stats, seconds):
    try:
        with open(SUMMARY) as file:
            summary = json.load(file)
    except (OSError, ValueError):
        summary = {}
    summary[kind] = {
        "examples": stats.examples or sum(stats.outcomes.values()) + sum(stats.failures.values()),
        "distinct_programs": len(stats.sources),
        "mean_lines": round(stats.lines / stats.examples, 1) if stats.examples else None,
        "seconds": round(seconds, 1),
        "failures": dict(stats.failures.most_common()),
        "smallest_failure_of_each_kind": stats.smallest,
        "features": dict(stats.features.most_common()),
        "fuzz_outcomes": dict(stats.outcomes.most_common()),
    }
    with open(SUMMARY, "w") as file:
        json.dump(summary, file, indent=2, sort_keys=True)
    print(f"\nsummary of the {kind} run written to {SUMMARY}")


@pytest.mark.slow
def test_slow_generated_programs_match_python():
    _run_slow("value", program_gen.cases(program_gen.VALUE, count=2), value_body, SLOW_TOTAL * 6 // 10)


@pytest.mark.slow
def test_slow_generated_gradients_match_finite_differences():
    _run_slow("grad", st.tuples(program_gen.cases(program_gen.GRAD, count=1, smooth=True), st.booleans()),
              grad_body,
              SLOW_TOTAL * 2 // 10)


@pytest.mark.slow
def test_slow_generated_programs_under_vmap_match_python_loop():
    _run_slow("vmap", program_gen.cases(program_gen.VMAP, count=3), vmap_body, SLOW_TOTAL * 2 // 10)


@pytest.mark.slow
def test_slow_converter_converts_or_raises_refscript_error():
    _run_slow("fuzz", program_gen.fuzz_functions(), fuzz_body, SLOW_TOTAL)
