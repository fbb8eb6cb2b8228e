"""refscript functions under JAX's distributed execution, on 8 simulated CPU devices.

The work is done by tests/distributed_script.py in one subprocess (the device
count must be set before JAX is imported): each refscript function there runs
under `jax.jit` with a `NamedSharding` of its argument, inside `jax.shard_map`,
under `jax.vmap` of a sharded batch, and under `jax.grad` with a sharded argument,
and is compared with the same function run as plain Python on NumPy copies. Each
(function, mode) pair is one test here.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).with_name("distributed_script.py")

FUNCTIONS = ["recurrence", "triangular", "halvings", "accumulate", "clipped_sum"]
MODES = ["jit-sharded", "shard_map", "shard_map-unchecked", "vmap-sharded", "grad-sharded"]
NOT_DIFFERENTIABLE = {"halvings", "accumulate"}  # not run in grad-sharded mode by the script

_VMA_REASON = (
    "inside shard_map (check_vma=True, the default) a variable that starts as a Python constant is "
    "the same on every device, and its Ref keeps that type; a loop or traced if that writes a "
    "per-device value into it fails JAX's check ('Scan carry input and output got mismatched "
    "varying manual axes' / 'The branches of cond produced mismatched varying manual axes'). "
    "Hand-written lax loops fail the same way unless the initial value is cast with "
    "jax.lax.pcast(..., to='varying'); refscript could widen the Ref's type as it widens dtypes")
EXPECTED_FAILURES = {("accumulate", "shard_map"): _VMA_REASON, ("clipped_sum", "shard_map"): _VMA_REASON}


@pytest.fixture(scope="module")
def outcomes():
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)  # the script sets the device count itself
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=240, env=env,
                          cwd=SCRIPT.parent)
    lines = done.stdout.splitlines()
    results = {}
    for line in lines:
        status, _, rest = line.partition(" ")
        if status in ("OK", "FAIL"):
            name, mode = rest.split(":")[0].split(" ")
            results[(name, mode)] = line
    return done, results


def test_script_ran_every_check_on_eight_devices(outcomes):
    done, results = outcomes
    assert "DONE" in done.stdout, done.stdout + done.stderr
    count = int(done.stdout.split("DONE ")[1].split()[0])
    assert count == len(results) == len(FUNCTIONS) * len(MODES) - len(NOT_DIFFERENTIABLE)
    # Exit status 1 exactly when a check failed (only the expected failures fail).
    assert done.returncode == (1 if any(r.startswith("FAIL") for r in results.values()) else 0), done.stderr


def _cases():
    for name in FUNCTIONS:
        for mode in MODES:
            if mode == "grad-sharded" and name in NOT_DIFFERENTIABLE:
                continue
            marks = []
            if (name, mode) in EXPECTED_FAILURES:
                marks = [pytest.mark.xfail(strict=True, reason=EXPECTED_FAILURES[(name, mode)])]
            yield pytest.param(name, mode, id=f"{name}-{mode}", marks=marks)


@pytest.mark.parametrize("name, mode", list(_cases()))
def test_distributed(outcomes, name, mode):
    _, results = outcomes
    line = results.get((name, mode))
    assert line is not None, f"{name} {mode} did not run"
    assert line.startswith("OK "), line.replace(" | ", "\n")
