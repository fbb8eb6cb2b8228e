import os
import sys

# The generator and harness are plain modules next to the tests.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_terminal_summary(terminalreporter):
    """How many generated programs each differential test ran (in one process: with
    pytest-xdist's workers, `-n 0` shows it)."""
    module = sys.modules.get("test_generated_programs")
    runs = getattr(module, "RUNS", None)
    if runs:
        counts = ", ".join(f"{kind} {count}" for kind, count in sorted(runs.items()))
        terminalreporter.write_line(f"generated programs run (including shrinking): {counts}")
    harness = sys.modules.get("harness")
    vectorized = getattr(harness, "VECTORIZED", None)
    if vectorized:
        terminalreporter.write_line(
            "calls compiled with vectorize=True: " + ", ".join(f"{kind} {n}" for kind, n in sorted(vectorized.items())))
