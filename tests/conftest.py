import jax
import pytest

# The oracle is NumPy in float64; refscript must match it there. Float32 behaviour
# is covered by tests that pass float32 arrays (the default dtype of JAX users).
jax.config.update("jax_enable_x64", True)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)
