"""The exceptions refscript raises about the user's code, and how they point at it.

Every error names the user's file, line and column, shows the source line with a
caret, and ends with a one-line hint. Each class also derives from the built-in
exception a Python programmer would expect for the same mistake, so existing
`except TypeError:` code keeps working.
"""

from __future__ import annotations

import linecache
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A place in the user's source: file, 1-based line, 0-based column."""

    filename: str
    lineno: int
    col_offset: int = 0

    def source_line(self) -> str | None:
        line = linecache.getline(self.filename, self.lineno)
        return line.rstrip("\n") if line else None

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col_offset + 1}"


_LIBRARY_MODULES = ("refscript.", "jax.", "jaxlib.", "numpy.")


def caller_location(depth: int = 2) -> Location:
    """Returns the location of the user's code that (through the runtime) called the caller.

    Generated code is compiled with the user's file name and line numbers, so the
    first frame outside refscript, JAX and NumPy is at the user's line.
    """
    frame = sys._getframe(depth)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith(_LIBRARY_MODULES):
        frame = frame.f_back
    column = 0
    positions = getattr(frame.f_code, "co_positions", None)  # Python 3.11+
    if positions is not None:
        for index, (_, _, col, _) in enumerate(positions()):
            if index == frame.f_lasti // 2:
                column = col or 0
                break
    return Location(frame.f_code.co_filename, frame.f_lineno, column)


def format_message(message: str, location: Location | None, hint: str | None) -> str:
    parts = [f"{location}: {message}" if location else message]
    if location is not None:
        text = location.source_line()
        if text is not None:
            stripped = text.lstrip()
            indent = len(text) - len(stripped)
            caret = max(location.col_offset - indent, 0)
            parts.append(f"    {stripped}")
            parts.append("    " + " " * caret + "^")
    if hint:
        parts.append(f"hint: {hint}")
    return "\n".join(parts)


class RefscriptError(Exception):
    """Base class of every error refscript raises about the user's code.

    **Arguments:**
    - `message`: what is wrong, in the user's terms.
    - `location`: where, as a `Location` (file, line, column).
    - `hint`: one line saying what to do instead.
    """

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(format_message(message, location, hint))

    def __str__(self) -> str:
        return format_message(self.message, self.location, self.hint)


class ConversionError(RefscriptError, SyntaxError):
    """The function uses a construct refscript cannot convert (raised at decoration or first call)."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        RefscriptError.__init__(self, message, location, hint)
        if location is not None:
            self.filename = location.filename
            self.lineno = location.lineno
            self.offset = location.col_offset + 1
            self.text = location.source_line()
        self.msg = message


class SourceUnavailableError(RefscriptError, OSError):
    """The function's source code cannot be read (defined in a REPL or through exec)."""


class LoopVariableTypeError(RefscriptError, TypeError):
    """A variable changes shape, or holds a non-array value, across traced control flow."""


class UndefinedVariableError(RefscriptError, UnboundLocalError):
    """A variable is used where it is not defined on every path through traced control flow."""


class ReverseModeLoopError(RefscriptError, ValueError):
    """Reverse-mode differentiation met a loop whose trip count is only known at run time."""


class StaticLoopError(RefscriptError, TypeError):
    """A loop needs Python values for its index but is too long to unroll."""


class UnsupportedNumpyError(RefscriptError, TypeError):
    """A NumPy function with no `jax.numpy` equivalent was called from compiled code."""


class CheckFailedError(RefscriptError, AssertionError):
    """An `assert` on traced values failed when the compiled code ran (`checks=True`)."""


class IndexingError(RefscriptError, IndexError):
    """An index out of bounds (known at trace time), or of a kind compiled code cannot take."""


class TracedSliceError(IndexingError):
    """A slice of an array the function writes has bounds that are traced values."""


class ShapeError(RefscriptError, ValueError):
    """A value whose shape cannot be broadcast into the place it is written."""
