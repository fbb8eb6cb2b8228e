"""The kernel benchmark harness (benchmarks/kernels.py) and its hand-written JAX ports.

Every port in benchmarks/hand_jax.py is checked against the NumPy kernel it
ports (result and written arguments), so the ports cannot rot; the harness is
run end to end in its quick mode on two small kernels, with one round.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import jax.numpy as jnp
import pytest
from tests.modules import import_file

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load_harness():
    name = "refscript_benchmarks_kernels"
    if name not in sys.modules:
        import_file(BENCHMARKS / "kernels.py", name, register=True)
    return sys.modules[name]


harness = _load_harness()
hand_jax = harness.hand_jax
KERNELS = harness.load_kernels()

# Sizes passed to make_inputs: odd and even, and past the trivial cases.
PORT_SIZES = {"fft": 16, "histogram": 30, "histogram_binned": 30, "prefix_sum_doubling": 13}


HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def assert_chart_or_its_absence_said(chart, text):
    """With matplotlib a chart is drawn; without it the report says so, and there is no file. (Either
    branch can fail: neither is taken for granted.)"""
    if HAVE_MATPLOTLIB:
        assert chart.exists() and chart.stat().st_size > 1_000 and "matplotlib is not installed" not in text
    else:
        assert not chart.exists() and "matplotlib is not installed" in text


def test_every_kernel_has_a_port_and_sizes():
    assert set(hand_jax.PORTS) == set(KERNELS)
    assert set(harness.SIZES) == set(KERNELS)
    for name, (small, large) in harness.SIZES.items():
        assert 0 < small < large, name


@pytest.mark.x64_only  # the hand-written ports compute in float64 (int64, complex128), as the NumPy kernels do
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_port_matches_numpy(name):
    module = KERNELS[name]
    params = list(harness.inspect.signature(getattr(module, name)).parameters)
    args, expected, expected_after, _ = harness.numpy_reference(module, name, PORT_SIZES.get(name, 7))
    assert harness.check_port(name, hand_jax.PORTS[name], args, expected, expected_after, params) is None


def test_a_benchmark_run_writes_outside_the_checkout_unless_told_to_update_docs(tmp_path, monkeypatch, capsys):
    docs = BENCHMARKS.parent / "docs"
    before = {path: path.stat().st_mtime_ns for path in docs.iterdir()}
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # made again from TMPDIR
    assert harness.main(["--quick", "--only", "prefix_sum", "--rounds", "1", "--no-numba"]) == 0
    assert {path: path.stat().st_mtime_ns for path in docs.iterdir()} == before
    (folder,) = tmp_path.iterdir()
    assert (folder / "benchmarks.md").exists() and f"wrote {folder / 'benchmarks.md'}" in capsys.readouterr().out
    parse = harness.argparse.ArgumentParser()
    harness._timing.add_report_arguments(parse)
    assert harness._timing.report_path(parse.parse_args(["--update-docs"]), "benchmarks.md") == docs / "benchmarks.md"
    assert harness._timing.report_path(parse.parse_args(["--out-dir", str(tmp_path)]), "x.md") == tmp_path / "x.md"


@pytest.mark.x64_only  # compares the float64 ports with NumPy's float64 (32-bit mode fails on the dtype first)
def test_check_port_notices_a_wrong_port():
    module = KERNELS["prefix_sum"]
    args, expected, expected_after, _ = harness.numpy_reference(module, "prefix_sum", 7)
    wrong = hand_jax.Port("prefix_sum", lambda x: (jnp.cumsum(x) + 1e-6, ()), ())
    assert "values differ" in harness.check_port("prefix_sum", wrong, args, expected, expected_after, ["x"])

    module = KERNELS["lu"]
    args, expected, expected_after, _ = harness.numpy_reference(module, "lu", 5)
    forgets_update = hand_jax.Port("lu", lambda a: (None, ()), ())
    problem = harness.check_port("lu", forgets_update, args, expected, expected_after, ["a"])
    assert "the update of a is missing" in problem


def test_quick_run_writes_the_table(tmp_path, capsys):
    markdown, chart, rows = tmp_path / "benchmarks.md", tmp_path / "benchmarks.png", tmp_path / "rows.json"
    status = harness.main(["--quick", "--only", "prefix_sum,histogram", "--rounds", "1",
                           "--markdown", str(markdown), "--chart", str(chart), "--json", str(rows)])
    assert status == 0
    text = markdown.read_text()
    for name in ("prefix_sum", "histogram"):
        n = harness.SIZES[name][0]
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} | {n} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(cells[i] != "—" for i in (2, 3, 4)), row  # NumPy, refscript and hand JAX were timed
    assert "differs from NumPy" not in text and "fails:" not in text.replace("Numba: fails:", "")
    assert "## Geometric means" in text and "| small | 2 |" in text
    assert_chart_or_its_absence_said(chart, text)
    out = capsys.readouterr().out
    assert "geomean small" in out

    again = tmp_path / "again.md"
    assert harness.main(["--replot", str(rows), "--markdown", str(again), "--chart", str(tmp_path / "a.png")]) == 0
    assert again.read_text() == text.replace("(benchmarks.png)", "(a.png)")


def test_a_mismatching_port_is_not_timed_and_fails_the_run(tmp_path, monkeypatch):
    wrong = hand_jax.Port("prefix_sum", lambda x: (x, ()), ())
    monkeypatch.setitem(hand_jax.PORTS, "prefix_sum", wrong)
    markdown = tmp_path / "benchmarks.md"
    status = harness.main(["--quick", "--only", "prefix_sum", "--rounds", "1", "--no-numba",
                           "--markdown", str(markdown), "--chart", str(tmp_path / "b.png")])
    assert status == 1
    assert "hand JAX: differs from NumPy" in markdown.read_text()


def test_geomeans_are_ratios_of_medians():
    rows = [
        {"size": "large", "median_s": {"numpy": 8.0, "refscript": 1.0, "hand_jax": 2.0}},
        {"size": "large", "median_s": {"numpy": 2.0, "refscript": 1.0, "hand_jax": 0.5, "numba": 0.25}},
    ]
    g = harness.summary(rows)["large"]
    assert g["refscript / hand JAX"] == pytest.approx(1.0)  # sqrt(0.5 * 2)
    assert g["refscript speedup vs NumPy"] == pytest.approx(4.0)  # sqrt(8 * 2)
    assert g["Numba speedup vs NumPy"] == pytest.approx(8.0) and g["counted"]["Numba speedup vs NumPy"] == 1
    assert harness.summary([]) == {}


def test_branch_writes_benchmark_runs(capsys):
    """benchmarks/branch_writes.py checks its three variants against NumPy, then times them."""
    module = import_file(BENCHMARKS / "branch_writes.py", "branch_writes")
    assert module.main(["--n", "200", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "write inside, not deferred" in out
    from refscript.runtime import deferred
    assert deferred.ENABLED


@pytest.mark.x64_only  # checks float64 kernels against NumPy in the session's mode (main does not turn x64 on)
def test_conversion_benchmark_quick_run_writes_the_table(tmp_path):
    """benchmarks/conversion.py checks two kernels, times their conversion and first calls (one
    round in its quick mode) and writes the table and chart."""
    module = import_file(BENCHMARKS / "conversion.py", "refscript_benchmarks_conversion", register=True)
    markdown, chart = tmp_path / "first-call.md", tmp_path / "first-call.png"
    assert module.main(["--quick", "--only", "prefix_sum,lu", "--markdown", str(markdown),
                        "--chart", str(chart)]) == 0
    text = markdown.read_text()
    for name in ("prefix_sum", "lu"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        # lines, conversion, with text, both first calls and their ratio were measured
        assert all(cells[i] != "—" for i in (1, 3, 4, 6, 7, 8)), row
        assert float(cells[3]) > 0 and float(cells[4]) > 0
    assert "## Summary" in text and "| 2 | " in text and "Not timed" not in text
    assert_chart_or_its_absence_said(chart, text)


def test_vectorize_benchmark_quick_run_writes_the_table(tmp_path):
    """benchmarks/vectorize.py checks kernels under both lowerings against NumPy, lists the loops
    vectorize=True vectorised and times the kernels where it did."""
    module = import_file(BENCHMARKS / "vectorize.py", "refscript_benchmarks_vectorize", register=True)
    markdown = tmp_path / "vectorize.md"
    assert module.main(["--quick", "--only", "jacobi_1d,prefix_sum", "--budget", "0.05",
                        "--out", str(markdown)]) == 0
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
            for line in markdown.read_text().splitlines() if line.startswith("| ") and "---" not in line}
    jacobi, prefix = rows["jacobi_1d"], rows["prefix_sum"]
    assert jacobi[2] == "12, 14" and jacobi[6].endswith("x"), jacobi  # both sweeps vectorised, timed
    assert prefix[2] == "none" and prefix[6] == "", prefix  # a carried loop: left alone, not timed
    assert "vectorised loops in 1 of 2 kernels" in markdown.read_text()


def test_gradient_benchmark_quick_run_writes_the_table_and_chart(tmp_path):
    """benchmarks/grad_recurrence.py checks every implementation's values and gradients against
    the hand-written scan, times them and writes the table, the chart and its measurements, from
    which --replot writes the same table again."""
    module = import_file(BENCHMARKS / "grad_recurrence.py", "refscript_benchmarks_grad_recurrence", register=True)
    markdown, chart, saved = tmp_path / "grad.md", tmp_path / "grad.png", tmp_path / "grad.json"
    assert module.main(["--sizes", "50", "200", "--dtypes", "float32", "--budget", "0.05", "--out", str(markdown),
                        "--chart", str(chart), "--json", str(saved)]) == 0
    text = markdown.read_text()
    assert "| 50 |" in text and "| 200 |" in text
    assert_chart_or_its_absence_said(chart, text)
    if not HAVE_MATPLOTLIB:  # (CI installs the test extra only)
        note = "matplotlib is not installed (`pip install -e '.[bench]'`), so no chart was drawn."
    else:
        note = "![Time per call against n](grad.png)"
        assert chart.stat().st_size > 10_000
    replotted = tmp_path / "again.md"
    assert module.main(["--replot", str(saved), "--out", str(replotted), "--chart", "-"]) == 0
    assert note in text and note not in replotted.read_text()
    tables = [t.split("\n## ", 1)[1] for t in (text, replotted.read_text())]
    assert tables[0] == tables[1] and "| 50 |" in tables[0]
