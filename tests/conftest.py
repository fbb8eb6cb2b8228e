"""The test session's JAX mode.

By default every test runs with JAX's 64-bit mode on: the oracle is NumPy in float64 and
refscript must match it at rtol 1e-12. `pytest --x32` runs the session in JAX's default
32-bit mode instead, the mode users get: `oracle.check` and its siblings then pass
float32/int32/complex64 copies of the arguments to both Python and refscript and compare
with float32 tolerances, and tests marked `x64_only` (they assert 64-bit dtypes or
precision) are skipped. CI runs the construct tests and the generator both ways
(docs/testing.md).
"""

import jax
import pytest


def pytest_addoption(parser):
    parser.addoption("--x32", action="store_true", default=False,
                     help="run with JAX's 64-bit mode off (its default), against NumPy on 32-bit copies")


def pytest_configure(config):
    config.addinivalue_line("markers", "x64_only: needs JAX's 64-bit mode; skipped with --x32")
    jax.config.update("jax_enable_x64", not config.getoption("--x32"))


def _session_mode(config) -> bool:
    return not config.getoption("--x32")


def pytest_collection_modifyitems(config, items):
    # A module that changes the mode when imported (a benchmark script once did) would
    # silently run every later test in the other mode.
    assert jax.config.jax_enable_x64 == _session_mode(config), "a test module changed JAX's 64-bit mode on import"
    if config.getoption("--x32"):
        skip = pytest.mark.skip(reason="needs JAX's 64-bit mode (run without --x32)")
        for item in items:
            if "x64_only" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _mode_kept(request):
    """Fails a test that leaves JAX's 64-bit mode changed (and restores it for the next)."""
    yield
    expected = _session_mode(request.config)
    if jax.config.jax_enable_x64 != expected:
        jax.config.update("jax_enable_x64", expected)
        pytest.fail(f"the test left jax_enable_x64 set to {not expected}")


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
