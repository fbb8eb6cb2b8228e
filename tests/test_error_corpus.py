"""The error corpus (tests/error_corpus/): every bad or unsupported program fails with the
expected exception, naming the user's file and the exact line marked `# error`, and nothing
the user reads (message, notes, traceback) shows refscript's internals."""

import os
import pathlib
import re
import traceback

import pytest

import error_corpus
import refscript
from error_corpus import arguments, calls, checks, indexing, loops, unsupported, variables  # noqa: F401
from refscript.errors import RefscriptError

TESTS = pathlib.Path(__file__).resolve().parent
PACKAGE = os.path.dirname(os.path.abspath(refscript.__file__))
# Names refscript gives to what it generates; none may reach the user.
GENERATED = re.compile(r"__refscript|\b(loop_body|loop_test|if_true|if_false|ref_program|rs\.\w+)\b")


def _params():
    for case in error_corpus.CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        yield pytest.param(case, id=case.name, marks=marks)


def test_the_corpus_is_large_enough():
    assert len(error_corpus.CASES) >= 40
    assert len({case.name for case in error_corpus.CASES}) == len(error_corpus.CASES)


def _user_frames(error):
    return [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename.startswith(str(TESTS))]


def _reported(error):
    """The (file, line) an error names: a refscript error's location, or else the innermost
    frame of the user's code in the traceback."""
    if isinstance(error, RefscriptError):
        return error.location.filename, error.location.lineno
    frame = _user_frames(error)[-1]
    return frame.filename, frame.lineno


@pytest.mark.parametrize("case", list(_params()))
def test_error_names_the_users_line(case):
    filename, line = case.expected()
    with pytest.raises(Exception) as info:
        case.trigger()
    error = info.value
    assert type(error) is case.error, f"{type(error).__name__}: {error}"
    assert _reported(error) == (filename, line)

    # Everything the user reads: the traceback, the message and its notes.
    text = "".join(traceback.format_exception(error))
    assert PACKAGE not in text
    assert GENERATED.search(text) is None, GENERATED.search(text)
    for frame in traceback.extract_tb(error.__traceback__):
        assert not frame.filename.startswith(PACKAGE)

    if isinstance(error, RefscriptError):
        _check_refscript_message(error, filename, line)
    elif _user_frames(error)[-1] != traceback.extract_tb(error.__traceback__)[-1]:
        # Raised inside a library: a note names the user's line that called it.
        assert f"refscript: {filename}:{line}:" in "\n".join(getattr(error, "__notes__", ()))


def _check_refscript_message(error, filename, line):
    """`file:line:col: message`, the source line, a caret under the column, `hint: ...`."""
    first, source, caret, *rest = str(error).splitlines()
    column = error.location.col_offset
    assert first.startswith(f"{filename}:{line}:{column + 1}: ")
    text = pathlib.Path(filename).read_text().splitlines()[line - 1]
    assert source == "    " + text.strip()
    indent = len(text) - len(text.lstrip())
    assert caret.startswith("    " + " " * (column - indent) + "^")
    assert caret.strip() == "^" * len(caret.strip())
    assert rest and rest[-1].startswith("hint: ") and len(rest[-1]) > len("hint: ")
