"""The exceptions refscript raises about the user's code, and how they point at it.

Every error names the user's file, line and column, shows the source line with a
caret under the place, and ends with a one-line hint:

    kernels.py:14:9: variable 'v' changes shape from float64[1] to float64[2] inside traced control flow
        v = jnp.append(v, x[i])
            ^^^^^^^^^^^^^^^^^^^
    hint: a variable carried through a loop or branch keeps one shape; allocate it at its final shape before the loop

Each class also derives from the built-in exception a Python programmer would
expect for the same mistake (`SyntaxError`, `TypeError`, `IndexError`, ...), so
existing `except TypeError:` code keeps working. The hierarchy is documented,
with an example of each error, in docs/errors.md.

Errors that are not refscript's (a `NameError` in the user's code, a JAX shape
error) keep their type; refscript only removes its own frames from their
traceback, and says which line of the user's called the library that raised.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import sysconfig
import types
import warnings
from dataclasses import dataclass

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Location:
    """A place in the user's source: file, 1-based line, 0-based column (and end column, if known)."""

    filename: str
    lineno: int
    col_offset: int = 0
    end_col_offset: int | None = None

    def source_line(self) -> str | None:
        line = linecache.getline(self.filename, self.lineno)
        return line.rstrip("\n") if line else None

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col_offset + 1}"

    def source_text(self) -> str | None:
        """Returns the code at this place: the columns it spans on its line, else the whole line."""
        line = self.source_line()
        if line is None:
            return None
        if self.end_col_offset is None:
            return line.strip()
        start, end = _display_column(line, self.col_offset), _display_column(line, self.end_col_offset)
        return line[start:end].strip() or line.strip()


# Modules whose frames are never the user's code.
_LIBRARY_MODULES = ("refscript.", "jax.", "jaxlib.", "numpy.", "importlib.")
_LIBRARY_NAMES = frozenset({"refscript", "jax", "jaxlib", "numpy"})


def _dirs(*keys) -> tuple:
    return tuple(os.path.realpath(p) + os.sep for p in {sysconfig.get_paths()[k] for k in keys})


# The standard library's files (in a virtual environment its directory holds site-packages,
# whose packages may be the user's own: a package built on refscript).
_STDLIB_DIRS, _SITE_DIRS = _dirs("stdlib", "platstdlib"), _dirs("purelib", "platlib")


def _is_library_frame(frame) -> bool:
    module = frame.f_globals.get("__name__", "") or ""
    if module in _LIBRARY_NAMES or module.startswith(_LIBRARY_MODULES):
        return True
    return _is_library_file(frame.f_code.co_filename)


@functools.lru_cache(maxsize=4096)
def _is_library_file(filename: str) -> bool:
    """Whether `filename` is refscript's, JAX's, NumPy's or the standard library's."""
    if filename.startswith("<frozen "):
        return True
    if _is_refscript_file(filename):
        return True
    path = os.path.realpath(filename)
    if path.startswith(_SITE_DIRS):
        package = path[len(next(d for d in _SITE_DIRS if path.startswith(d))):].split(os.sep)[0]
        return package in _LIBRARY_NAMES
    return path.startswith(_STDLIB_DIRS)


@functools.lru_cache(maxsize=4096)
def _is_refscript_file(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


def _code_location(code: types.CodeType, lasti: int, lineno: int | None = None) -> Location:
    """The location of the instruction at byte offset `lasti` of `code` (its line, and its
    columns on Python 3.11+); `lineno` when the caller knows the line already."""
    column, end_column = 0, None
    positions = getattr(code, "co_positions", None)  # Python 3.11+
    if positions is not None and lasti >= 0:
        for index, (start_line, end_line, col, end_col) in enumerate(positions()):
            if index == lasti // 2:
                lineno = lineno if lineno is not None else start_line
                if start_line == lineno and col is not None:
                    column = col
                    end_column = end_col if end_line == start_line else None
                break
    return Location(code.co_filename, lineno or 0, column, end_column)


def caller_location(depth: int = 2) -> Location:
    """Returns the location of the user's code that (through the runtime) called the caller.

    Generated code is compiled with the user's file name and line numbers, so the
    first frame outside refscript, JAX and NumPy is at the user's line.
    """
    frame = sys._getframe(depth)
    while frame.f_back is not None and _is_library_frame(frame):
        frame = frame.f_back
    return _code_location(frame.f_code, frame.f_lasti, frame.f_lineno)


def location_in_traceback(tb: types.TracebackType | None) -> Location | None:
    """Returns the location of the innermost frame of `tb` that is the user's code, or None."""
    found = None
    while tb is not None:
        if not _is_library_frame(tb.tb_frame):
            found = _code_location(tb.tb_frame.f_code, tb.tb_lasti, tb.tb_lineno)
        tb = tb.tb_next
    return found


def location_in_code_frames(frames) -> Location | None:
    """Returns the location of the innermost of `frames`, `(code, lasti)` pairs from the outermost
    call inwards, that is the user's code (decided by file), or None."""
    found = None
    for code, lasti in frames:
        if not _is_library_file(code.co_filename):
            found = _code_location(code, lasti)
    return found


def _display_column(text: str, byte_offset: int) -> int:
    """Python reports columns as UTF-8 byte offsets; carets are placed by characters."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="replace"))


def format_message(message: str, location: Location | None, hint: str | None) -> str:
    """Returns `file:line:col: message`, the source line with a caret under the place, and the hint."""
    parts = [f"{location}: {message}" if location else message]
    if location is not None:
        text = location.source_line()
        if text is not None:
            stripped = text.lstrip()
            indent = len(text) - len(stripped)
            start = _display_column(text, location.col_offset)
            end = start + 1
            if location.end_col_offset is not None:
                end = max(_display_column(text, location.end_col_offset), start + 1)
            end = min(end, len(text)) if len(text) > start else start + 1
            parts.append(f"    {stripped.rstrip()}")
            parts.append("    " + " " * max(start - indent, 0) + "^" * (end - start))
    if hint:
        parts.append(f"hint: {hint}")
    return "\n".join(parts)


class RefscriptError(Exception):
    """Base class of every error refscript raises about the user's code.

    **Arguments:**
    - `message`: what is wrong, in the user's terms.
    - `location`: where, as a `Location` (file, line, column).
    - `hint`: one line saying what to do instead (default: the class's `hint`).
    """

    hint: str | None = None

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location
        if hint is not None:
            self.hint = hint
        super().__init__(format_message(message, location, self.hint))

    def __str__(self) -> str:
        return format_message(self.message, self.location, self.hint)

    def __reduce__(self):
        return (type(self), (self.message, self.location, self.hint))


class ConversionError(RefscriptError, SyntaxError):
    """The function uses a construct refscript cannot convert (raised at decoration or first call)."""

    hint = "see docs/supported.md for what converts"

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

    hint = "refscript converts source code: define the function in a .py file and decorate it there"


class ArgumentError(RefscriptError, TypeError):
    """A compiled function was called with arguments it cannot take (wrong number, or a static
    argument that is not hashable, or a value JAX cannot trace)."""

    hint = "call the function as the undecorated one would be called, with arrays and numbers"


class ReadOnlyArgumentError(RefscriptError, ValueError):
    """The function writes into a NumPy array argument that is read-only (NumPy raises too)."""

    hint = "pass a writeable copy (x.copy()), or have the function copy it before writing"


class AliasedArgumentError(RefscriptError, ValueError):
    """One NumPy array (or two views of one buffer) passed as two arguments, one of which the
    function writes into: the compiled function gives each argument its own copy, so it could
    not see its own writes through the other name as NumPy would."""

    hint = "pass a copy for one of them (x.copy())"


class LoopVariableTypeError(RefscriptError, TypeError):
    """A variable changes shape, or holds a non-array value, across traced control flow."""

    hint = "a variable carried through a loop or branch keeps one shape and holds a number or an array"


class TracedValueError(RefscriptError, TypeError):
    """A traced value is used where Python needs a value of another kind: a non-integer
    `range()` bound, a loop condition that is not a scalar."""

    hint = "use a scalar integer for loop bounds and a scalar condition for `if` and `while`"


class UndefinedVariableError(RefscriptError, UnboundLocalError):
    """A variable is used where it is not defined on every path through traced control flow."""

    hint = "assign the variable before the loop or branch, or on every branch of the `if`"


class ReverseModeLoopError(RefscriptError, ValueError):
    """Reverse-mode differentiation met a loop whose trip count is only known at run time."""

    hint = "give the loop static bounds, or differentiate in forward mode (jax.jvp, jax.jacfwd)"


class StaticLoopError(RefscriptError, TypeError):
    """A loop needs Python values for its index but is too long to unroll."""

    hint = "use refscript.static_range to unroll it anyway, or keep the index traced"


class UnsupportedNumpyError(RefscriptError, TypeError):
    """A NumPy function with no `jax.numpy` equivalent was called from compiled code."""

    hint = "use a jax.numpy function, or compute the value before calling the compiled function"


class IndexingError(RefscriptError, IndexError):
    """An index out of bounds (known at trace time), or of a kind compiled code cannot take."""

    hint = "NumPy raises IndexError for this index too; check it against the array's shape"


class TracedSliceError(IndexingError):
    """A slice of an array the function writes has bounds that are traced values."""

    hint = "a slice whose length depends on a traced value has no static shape; loop over the elements"


class ShapeError(RefscriptError, ValueError):
    """A value whose shape cannot be broadcast into the place it is written."""

    hint = "the value written must broadcast to the shape of the selection, as in NumPy"


class CastingError(RefscriptError, TypeError):
    """A value written in place into an array whose dtype it cannot be cast to under NumPy's
    'same_kind' rule (`int_array /= 2`), where NumPy raises UFuncTypeError."""

    hint = "write `a = a / v` for a new array of the result's dtype, or cast explicitly (`v.astype(a.dtype)`)"


class CheckFailedError(RefscriptError, AssertionError):
    """A run-time check failed when the compiled code ran (`refscript.jit(fn, checks=True)`):
    an `assert` on traced values, or an out-of-bounds index (`OutOfBoundsError`)."""

    hint = ("the values of this call break the check; fix the inputs or the code "
            "(without checks=True, traced asserts are not checked)")


class OutOfBoundsError(CheckFailedError, IndexingError):
    """A traced index was out of bounds when the code ran with `checks=True` (NumPy would raise
    `IndexError`; without checks JAX clamps the index, or drops the write)."""

    hint = ("NumPy raises IndexError here; without checks=True compiled code clamps the index into "
            "the array (or drops an index-array write) instead")


def hide_internal_frames(error: BaseException) -> None:
    """Removes refscript's own frames from `error`'s traceback (and its cause's), so what the
    user reads is their code and the libraries it calls. `JAX_TRACEBACK_FILTERING=off`
    keeps every frame, for debugging refscript itself."""
    if _filtering_mode() == "off":
        return
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        error.with_traceback(_filtered(error.__traceback__))
        error = error.__cause__


def _filtering_mode() -> str:
    jax = sys.modules.get("jax")
    mode = getattr(getattr(jax, "config", None), "jax_traceback_filtering", None) if jax else None
    return str(mode or os.environ.get("JAX_TRACEBACK_FILTERING", "auto")).lower()


def _filtered(tb: types.TracebackType | None) -> types.TracebackType | None:
    entries = []
    while tb is not None:
        if not _is_refscript_file(tb.tb_frame.f_code.co_filename):
            entries.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        tb = tb.tb_next
    out = None
    for frame, lasti, lineno in reversed(entries):
        out = types.TracebackType(out, frame, lasti, lineno)
    return out


_NOTE_PREFIX = "refscript: "


def note_user_line(error: BaseException) -> None:
    """Adds to a library's exception (JAX, NumPy) a note naming the line of the user's code that
    called it, with that line and a caret, when the traceback's last frames are the library's."""
    if isinstance(error, RefscriptError) or error.__traceback__ is None:
        return
    if any(note.startswith(_NOTE_PREFIX) for note in getattr(error, "__notes__", ())):
        return
    tb, last = error.__traceback__, None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    location = location_in_traceback(error.__traceback__)
    if location is None or not _is_library_frame(last.tb_frame):
        return  # raised by the user's own line, which the traceback already ends with
    library = (last.tb_frame.f_globals.get("__name__", "") or "a library").split(".")[0]
    error.add_note(_NOTE_PREFIX + format_message(f"raised by {library}, called from here", location, None))


# Warnings: what refscript does that a user should know of, though the code runs.


class RefscriptWarning(UserWarning):
    """Base class of the warnings refscript gives about the user's code. Each is given once per
    compiled function and place, at the user's line, with a hint."""


class UnrolledLoopWarning(RefscriptWarning):
    """A loop ran as Python while tracing (its body needed a Python value), so every iteration
    was traced and compiled: the first call takes time that grows with the trip count."""


class PrecisionWarning(RefscriptWarning):
    """A 64-bit NumPy array (float64, int64, uint64, complex128) was passed while JAX's 64-bit
    mode is off: JAX computes it in 32 bits, so results differ from NumPy's."""


class LostWriteWarning(RefscriptWarning):
    """The function writes into an argument whose caller cannot see the write: a JAX array
    (immutable), or any array under an outer `jax.jit`/`grad`/`vmap`."""


def warn_at(category: type[RefscriptWarning], message: str, location: Location | None, hint: str) -> None:
    """Gives warning `category` with `message` and `hint`, reported at the user's `location`."""
    text = f"{message}\nhint: {hint}"
    if location is None:
        warnings.warn(text, category, stacklevel=3)
    else:
        warnings.warn_explicit(text, category, location.filename, location.lineno)
