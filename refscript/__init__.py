"""refscript: imperative Python loops, branches and in-place updates, compiled with JAX Refs."""

from refscript import errors as errors
from refscript.api import (
    JitFunction as JitFunction,
    converted_source as converted_source,
    jit as jit,
    make_jaxpr as make_jaxpr,
)
from refscript.runtime.control_flow import static_range as static_range

__version__ = "0.1.0"
