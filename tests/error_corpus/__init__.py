"""A corpus of bad and unsupported programs, each marked with the line its error must name.

Every case is a function in one of this package's modules, registered with `case`
(compile it with `refscript.jit` and call it) or `scenario` (call it as it is: for
mistakes made at the call site). Both get the arguments they are registered with
through `Case.inputs`, narrowed to 32 bits in 32-bit mode (`oracle.narrowed`, `pytest
--x32`), so each case fails with the same error at the same line in both modes. The
line the error must point at carries the comment `# error`, in the case function or,
for errors inside a function it calls, in the function named by `at`.
tests/test_error_corpus.py checks each.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import numpy as np

import refscript
from oracle import narrowed

CASES: list = []
_MARKER = re.compile(r"#\s*error\b")


@dataclass
class Case:
    fn: object
    error: type
    args: tuple = ()
    options: dict = field(default_factory=dict)  # refscript.jit options
    at: object = None  # the function whose `# error` line the error names (default: fn)
    transform: object = None  # applied to the compiled function before the call (jax.grad)
    run_as_is: bool = False
    xfail: str | None = None

    @property
    def name(self) -> str:
        return f"{self.fn.__module__.rpartition('.')[2]}.{self.fn.__name__}"

    def expected(self) -> tuple[str, int]:
        """The file and line the error must name: the `# error` line of `at`."""
        target = self.at or self.fn
        lines, first = inspect.getsourcelines(target)
        marked = [first + k for k, line in enumerate(lines) if _MARKER.search(line)]
        assert len(marked) == 1, f"{self.name}: {len(marked)} `# error` lines in {target.__name__}"
        return inspect.getsourcefile(target), marked[0]

    def inputs(self) -> tuple:
        """The arguments, as a user of the session's mode passes them: 32-bit copies in 32-bit
        mode (`oracle.narrowed`), still read-only where the case's array is."""

        def narrow(value):
            copy = narrowed(value)
            if copy is not value and isinstance(value, np.ndarray) and not value.flags.writeable:
                copy.setflags(write=False)
            return copy

        return tuple(narrow(value) for value in self.args)

    def trigger(self):
        if self.run_as_is:
            return self.fn(*self.inputs())
        compiled = refscript.jit(self.fn, **self.options)
        if self.transform is not None:
            compiled = self.transform(compiled)
        return compiled(*self.inputs())


def case(error, *args, at=None, transform=None, xfail=None, **options):
    """Registers a function that `refscript.jit(fn, **options)(*args)` must fail on with `error`."""

    def register(fn):
        CASES.append(Case(fn, error, args, options, at, transform, False, xfail))
        return fn

    return register


def scenario(error, *args, at=None, xfail=None):
    """Registers a function that, called as it is on `args`, must fail with `error` (call-site
    mistakes)."""

    def register(fn):
        CASES.append(Case(fn, error, args, at=at, run_as_is=True, xfail=xfail))
        return fn

    return register
