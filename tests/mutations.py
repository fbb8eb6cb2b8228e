"""Mutation testing: small deliberate bugs put into a copy of refscript, and the tests that must
catch each one.

    python tests/mutations.py               # every mutation (a few minutes)
    python tests/mutations.py --only NAME   # one (names: --list)

For each mutation the script copies the checkout into a temporary folder, replaces one
exact piece of source with a wrong one (the script stops if the piece is not found
exactly once: a mutation that no longer applies is reported, never skipped), runs the
named test files there in one process (`pytest -x -n 0`), and reports whether they
failed (caught) or passed (survived: the tests are blind to that bug). It exits 1 if any
mutation survived or no longer applies. docs/testing.md records the last run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # relative to the checkout
    old: str
    new: str
    tests: tuple  # test files (relative to the checkout) that must fail
    why: str  # the bug it stands for


MUTATIONS = (
    Mutation("select_sides_swapped", "refscript/runtime/control_flow.py",
             "lax.select(truth, a, b)", "lax.select(truth, b, a)",
             ("tests/test_logical.py", "tests/test_conditionals.py"),
             "a traced `a if c else b` takes the other side in the forward-only lowering"),
    Mutation("or_sides_swapped", "refscript/runtime/control_flow.py",
             "return jnp.where(truth, value, rest) if stop_when else jnp.where(truth, rest, value)",
             "return jnp.where(truth, rest, value) if stop_when else jnp.where(truth, value, rest)",
             ("tests/test_logical.py",), "a traced `and`/`or` returns the wrong operand"),
    Mutation("not_ignored", "refscript/runtime/control_flow.py",
             "else jnp.logical_not(truth)", "else truth",
             ("tests/test_logical.py",), "a traced `not` is the identity"),
    # (Not wrapping a static negative index here survives, an equivalent mutant: JAX's Ref
    # indexing counts a negative int from the end itself.)
    Mutation("static_index_one_past_the_end_accepted", "refscript/runtime/indexing.py",
             "if not -size <= static < size:", "if not -size <= static <= size:",
             ("tests/test_slices.py", "tests/test_bounds.py", "tests/test_error_corpus.py"),
             "a write at a static index equal to the length is not NumPy's IndexError"),
    Mutation("write_back_skipped", "refscript/api.py",
             '            np.copyto(array, new, casting="unsafe")\n', "            pass\n",
             ("tests/test_inplace.py",), "the caller's NumPy array is not given the function's writes"),
    Mutation("narrowed_write_back_rounds_everything", "refscript/api.py",
             'np.copyto(array, new, casting="unsafe", where=changed)', 'np.copyto(array, new, casting="unsafe")',
             ("tests/test_warnings.py",),
             "in 32-bit mode, elements the function did not write come back rounded to 32 bits"),
    Mutation("whole_array_op_rebinds", "refscript/runtime/inplace.py",
             "return value.ndim > 0", "return value.ndim > 99",
             ("tests/test_inplace_operators.py",), "`x += y` on an array rebinds the name instead of writing"),
    Mutation("whole_array_op_changes_dtype", "refscript/runtime/inplace.py",
             "        result = result.astype(target.dtype)\n", "",
             ("tests/test_inplace_operators.py",), "`s += float64` changes a float32 array's dtype"),
    Mutation("augmented_parameter_not_written_back", "refscript/passes/refs.py",
             "written = subscripted | augmented(fn.body)", "written = subscripted",
             ("tests/test_inplace_operators.py",), "`x *= a` on an argument does not reach the caller"),
    Mutation("write_then_rebind_accepted", "refscript/passes/refs.py",
             "                self._check_rebound_after_writes(fn.body, name)\n", "                pass\n",
             ("tests/test_inplace_operators.py",),
             "a parameter written then rebound silently loses the caller's writes"),
)


def _copy_checkout(destination: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", ".ci-venv", "__pycache__", "*.egg-info", ".pytest_cache",
                                    ".hypothesis")
    for entry in ROOT.iterdir():
        if entry.name in {".git", ".venv", ".ci-venv"}:
            continue
        if entry.is_dir():
            shutil.copytree(entry, destination / entry.name, ignore=ignore)
        else:
            shutil.copy2(entry, destination / entry.name)


def _apply(copy: Path, mutation: Mutation) -> str | None:
    """Applies `mutation` in `copy`; returns why it cannot be applied, or None."""
    path = copy / mutation.path
    text = path.read_text()
    count = text.count(mutation.old)
    if count != 1:
        return f"the piece to replace occurs {count} times in {mutation.path} (the code changed: update the mutation)"
    path.write_text(text.replace(mutation.old, mutation.new))
    return None


# Runs pytest with the copy first on sys.path, after checking that `refscript` is the copy's.
_RUNNER = """
import sys, pathlib
sys.path.insert(0, ".")
import refscript
assert pathlib.Path(refscript.__file__).resolve().is_relative_to(pathlib.Path(".").resolve()), refscript.__file__
import pytest
sys.exit(pytest.main(["-x", "-q", "-n", "0", "-p", "no:cacheprovider", *sys.argv[1:]]))
"""


def run(mutation: Mutation) -> tuple[str, float]:
    """Returns (`caught`, `survived` or `does not apply: ...`, seconds)."""
    with tempfile.TemporaryDirectory(prefix="refscript-mutation-") as tmp:
        copy = Path(tmp)
        _copy_checkout(copy)
        problem = _apply(copy, mutation)
        if problem:
            return f"does not apply: {problem}", 0.0
        start = time.perf_counter()
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run([sys.executable, "-c", _RUNNER, *mutation.tests], cwd=copy, env=env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode == 1:
            return "caught", seconds
        if done.returncode == 0:
            return "survived", seconds
        return f"error (pytest exit {done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}", seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutation names")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    args = parser.parse_args(argv)
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name}: {m.why} ({', '.join(m.tests)})")
        return 0
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only.split(",")]
    print("| mutation | the bug | caught by | result | seconds |")
    print("|---|---|---|---|---:|")
    bad = 0
    for mutation in chosen:
        result, seconds = run(mutation)
        bad += result != "caught"
        tests = ", ".join(Path(t).name for t in mutation.tests)
        print(f"| `{mutation.name}` | {mutation.why} | {tests} | {result} | {seconds:.0f} |", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
