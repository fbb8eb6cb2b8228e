"""refscript: imperative Python loops, branches and in-place updates, compiled with JAX Refs."""

import os as _os

from refscript import _jax_internal
from refscript import errors as errors
from refscript.api import (
    JitFunction as JitFunction,
    converted_source as converted_source,
    jit as jit,
    make_jaxpr as make_jaxpr,
)
from refscript._show import examples as examples, show as show
from refscript.runtime.control_flow import static_range as static_range
from refscript.runtime.parallel import prange as prange

__version__ = "0.1.0"

_jax_internal.hide_frames_of(_os.path.dirname(__file__))
