"""`python -m refscript show`: print what refscript makes of a function, stage by stage.

The command loads the user's file or module, reads example arguments from
`--arg` specs (never evaluating them), and prints the stages `refscript.show`
renders. Every failure is reported on stderr with one prefix, and an exit
status, never with a traceback (unless `--traceback`): a mistake on the command
line in one line; an error in the user's code at its file, line and column, with
the source line, a caret and a hint. A Python programmer asked to see their
function, not refscript's internals.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import itertools
import os
import re
import sys
import traceback

import jax

from refscript import api, errors
from refscript.errors import RefscriptError
from refscript._show import (
    DEFAULT_STAGES,
    DTYPES,
    GUTTER,
    NUMPY_DTYPES,
    STAGES,
    UsageError,
    example_arguments,
    header,
    needs_x64,
    parse_arg,
    render_stages,
    resolve_stages,
)

PROG = "python -m refscript"

EXIT_OK = 0
EXIT_ERROR = 1  # the user's code failed: import, conversion or tracing
EXIT_USAGE = 2  # the command line is wrong, or names a file or function that does not exist

_ERROR = "refscript show: error:"
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_module_numbers = itertools.count()

_SHOW_DESCRIPTION = f"""\
Print what refscript makes of FUNCTION: the Python it is converted to, the jaxpr
with Refs that tracing gives, the pure (discharged) jaxpr and the HLO XLA gets.

TARGET is FILE.py:FUNCTION (the file is imported as a fresh module; its directory
is on sys.path only while it is imported) or package.module:FUNCTION (imported as
usual, from the current directory or the installed packages). FUNCTION may be a
dotted attribute path (Class.method).

Example arguments, one --arg per positional parameter, in order:
  f32[128,128]  i32[]  u8[64]    an abstract array (jax.ShapeDtypeStruct) of that
                                 dtype and shape; a 64-bit dtype turns on
                                 jax_enable_x64
  3  -2  2.5  True  False  None  a Python literal; ints and bools are static
                                 (refscript specialises on them), floats are traced
  dtypes: {", ".join(DTYPES)}
          or NumPy's names: {", ".join(NUMPY_DTYPES)}
Nothing else is accepted, and nothing is evaluated. Without --arg, the function's
`example_args` attribute is used; set it in the file with
    @refscript.examples(jax.ShapeDtypeStruct((128,), jnp.float32), 3)
A function without parameters needs neither.
"""

_SHOW_EPILOG = f"""\
stages (--stage, repeatable; default: {" and ".join(DEFAULT_STAGES)}):
  converted    the generated Python (refscript.converted_source), each line
               numbered with the line of FILE it comes from
  jaxpr        the jaxpr with Refs (refscript.make_jaxpr)
  discharged   the pure jaxpr (refscript.make_jaxpr(..., discharged=True))
  hlo          jax.jit(refscript.jit(fn)).lower(*args).as_text()
  all          all of the above
Each stage is printed under a line "== STAGE: TARGET ==". Python source is
coloured when stdout is a terminal and NO_COLOR is not set (--color overrides).

exit status: 0 printed; 1 the user's code failed to import, convert or trace
(on stderr: FILE:LINE:COL: the error, the source line, a caret under the place
and a hint); 2 bad command line, missing file, module or function, or missing
arguments (one line on stderr).

examples:
  {PROG} show examples/recurrence.py:smooth_with_resets --arg f32[1000] --arg 0.5 --arg 1.0
  {PROG} show mypackage.kernels:prefix_sum --arg 'f64[16]' --arg 4 --stage hlo
"""


class _Exit(Exception):
    """Ends the command with `status` after printing `lines` to stderr."""

    def __init__(self, status: int, *lines: str):
        super().__init__(*lines)
        self.status = status
        self.lines = lines


class _Parser(argparse.ArgumentParser):
    # argparse prints its usage and then the error; one line, with the prefix of every error, is enough.
    def error(self, message):
        raise _Exit(EXIT_USAGE, f"{_ERROR} {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """Returns the command-line parser of `python -m refscript`."""
    parser = _Parser(prog=PROG, description="refscript command-line tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser(
        "show",
        help="print the converted source, jaxprs or HLO of a function",
        description=_SHOW_DESCRIPTION,
        epilog=_SHOW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("target", metavar="TARGET", help="FILE.py:FUNCTION or package.module:FUNCTION")
    show.add_argument(
        "--arg", dest="args", action="append", default=[], metavar="SPEC",
        help="an example argument: f32[128,128], i32[], 3, 2.5, True, None (one per parameter)",
    )
    show.add_argument(
        "--stage", dest="stages", action="append", choices=(*STAGES, "all"), metavar="STAGE",
        help=f"{', '.join(STAGES)} or all (repeatable; default: {' and '.join(DEFAULT_STAGES)})",
    )
    show.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="colour the output: auto (a terminal, NO_COLOR unset), always or never",
    )
    show.add_argument(
        "--vectorize", action="store_true",
        help="compile as refscript.jit(..., vectorize=True): independent range loops vectorised",
    )
    show.add_argument("--traceback", action="store_true", help="on an error, print the full traceback")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs `python -m refscript` with `argv` (default: `sys.argv[1:]`); returns the exit status."""
    options = None
    try:
        options = build_parser().parse_args(argv)
        return _show(options)
    except _Exit as done:
        for line in done.lines:
            print(line, file=sys.stderr)
        if options is not None and options.traceback and done.__cause__ is not None:
            traceback.print_exception(done.__cause__)
        return done.status
    except BrokenPipeError:
        # The reader went away (`| head`); say nothing more, and keep Python from
        # complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


def _show(options) -> int:
    stages = resolve_stages(options.stages)  # argparse has checked the names
    try:
        args = tuple(parse_arg(spec) for spec in options.args)
    except UsageError as error:
        raise _Exit(EXIT_USAGE, f"{_ERROR} --arg {error}") from None
    # 64-bit mode for the command's own work only (`main` may run inside a user's process).
    with jax.enable_x64(True) if needs_x64(args) else contextlib.nullcontext():
        return _show_target(options, stages, args)


def _show_target(options, stages, args) -> int:
    fn = _load_target(options.target)
    if options.vectorize:
        fn = _vectorized(fn)
    if stages != ("converted",):
        try:
            args = example_arguments(fn, args)
        except UsageError as error:
            raise _Exit(EXIT_USAGE, f"{_ERROR} {error}") from None
    colour = _colour_wanted(options.color)
    for index, (stage, text) in enumerate(_render(fn, args, stages)):
        if index:
            print()
        print(_bold(header(stage, options.target)) if colour else header(stage, options.target))
        print(_highlight_python(text) if colour and stage == "converted" else text, flush=True)
    return EXIT_OK


def _render(fn, args, stages):
    """Yields what `render_stages` does; an error in the user's code ends the command."""
    rendered = render_stages(fn, args, stages)
    while True:
        try:
            item = next(rendered)
        except StopIteration:
            return
        except Exception as error:  # the user's code failed while refscript converted or traced it
            raise _Exit(EXIT_ERROR, *_describe(error)) from error
        yield item


def _vectorized(fn):
    """`fn` compiled with `vectorize=True` (a `refscript.jit` function keeps its other options)."""
    compiled = isinstance(fn, api.JitFunction)
    options = {**fn.options, "vectorize": True} if compiled else {"vectorize": True}
    try:
        vectorized = api.jit(fn.__wrapped__ if compiled else fn, **options)
    except Exception as error:  # the user's function could not be converted
        raise _Exit(EXIT_ERROR, *_describe(error)) from error
    if hasattr(fn, "example_args"):
        vectorized.example_args = fn.example_args
    return vectorized


# Loading the user's function.


def _load_target(target: str):
    where, colon, attribute = target.rpartition(":")
    if not colon or not where or not _DOTTED_NAME.fullmatch(attribute):
        raise _Exit(EXIT_USAGE, f"{_ERROR} TARGET must be FILE.py:FUNCTION or package.module:FUNCTION, got {target!r}")
    if where.endswith(".py") or "/" in where or os.sep in where:
        module = _import_file(where)
    elif _DOTTED_NAME.fullmatch(where):
        module = _import_module(where)
    else:
        raise _Exit(EXIT_USAGE, f"{_ERROR} {where!r} is neither a .py file nor a dotted module name")
    fn = module
    for name in attribute.split("."):
        fn = getattr(fn, name, None)
        if fn is None:
            raise _Exit(EXIT_USAGE, f"{_ERROR} {where} has no function {attribute!r}")
    if not callable(fn):
        raise _Exit(EXIT_USAGE, f"{_ERROR} {where}:{attribute} is a {type(fn).__name__}, not a function")
    return fn


def _import_file(path: str):
    if not os.path.isfile(path):
        raise _Exit(EXIT_USAGE, f"{_ERROR} no such file: {path}")
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    # A name of our own, so that a file called `numpy.py` or `test.py` shadows nothing.
    name = f"_refscript_show_{stem}_{next(_module_numbers)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise _Exit(EXIT_USAGE, f"{_ERROR} cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise _Exit(EXIT_ERROR, *_describe(error, f"importing {path}: ", _IMPORT_HINT)) from error
    finally:
        if directory in sys.path:
            sys.path.remove(directory)
    return module


def _import_module(name: str):
    try:
        return importlib.import_module(name)
    except Exception as error:
        # The named module itself missing is the command line's fault; a module
        # it imports missing is the user's code's.
        missing = error.name if isinstance(error, ModuleNotFoundError) else None
        if missing is not None and (name == missing or name.startswith(missing + ".")):
            raise _Exit(EXIT_USAGE, f"{_ERROR} no module named {missing!r}") from error
        raise _Exit(EXIT_ERROR, *_describe(error, f"importing {name}: ", _IMPORT_HINT)) from error


# Reporting errors.

_IMPORT_HINT = "Python could not import the file; fix the line shown (--traceback prints the whole traceback)"
# The note JAX appends to messages whose traceback it filtered, and its separator line.
_JAX_FILTERING_NOTE = re.compile(r"\n-{20}\nFor simplicity, JAX has removed its internal frames.*", re.S)


def _describe(error: BaseException, context: str = "", hint: str | None = None) -> list[str]:
    """Returns the lines on stderr for an error raised while importing, converting or tracing the
    user's code: `file:line:col: message`, the source line with a caret under the place, a hint.

    A refscript error carries all of these. Any other error (the user's own, or a library's
    called from the user's code) is placed at the innermost line of the user's code in its
    traceback, or where a SyntaxError points, and given a hint of what to do."""
    if isinstance(error, RefscriptError):
        first, *rest = str(error).splitlines()
        return [f"{_ERROR} {context}{first}", *rest]
    location = _error_location(error)
    text = _JAX_FILTERING_NOTE.sub("", str(error)).strip()
    message = f"{context}{type(error).__name__}" + (f": {text}" if text else "")
    if hint is None:
        hint = _hint(error, location)
    first, *rest = errors.format_message(message, location, hint).splitlines()
    return [f"{_ERROR} {first}", *rest]


def _error_location(error: BaseException) -> errors.Location | None:
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        column = max((error.offset or 1) - 1, 0)
        same_line = error.end_lineno == error.lineno and error.end_offset
        return errors.Location(error.filename, error.lineno, column, error.end_offset - 1 if same_line else None)
    return errors.location_in_traceback(error.__traceback__)


def _hint(error: BaseException, location: errors.Location | None) -> str:
    """What to do about a non-refscript error: whose it is, and where to see more."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    library = None
    if tb is not None and location is not None:
        module = tb.tb_frame.f_globals.get("__name__", "") or ""
        if tb.tb_frame.f_code.co_filename != location.filename:
            library = module.split(".")[0] or "a library"
    if library == "refscript":
        return ("refscript failed on this line of your code: please report it with the line and the example "
                "arguments (--traceback prints the whole traceback)")
    if library:
        return (f"{library} raised this, called from this line of your code with the example arguments "
                "(--arg); --traceback prints the whole traceback")
    return ("your code raised this while refscript traced it with the example arguments (--arg); "
            "--traceback prints the whole traceback")


# Colour.


def _colour_wanted(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    # https://no-color.org: an empty NO_COLOR counts as unset.
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _bold(text: str) -> str:
    return f"\x1b[1m{text}\x1b[0m"


def _highlight_python(numbered: str) -> str:
    """Colours the source of `numbered` (lines `N | code`), dimming the line numbers."""
    from pygments import highlight
    from pygments.formatters import TerminalFormatter
    from pygments.lexers import PythonLexer

    gutters, code = [], []
    for line in numbered.splitlines():
        gutter, _, text = line.partition(GUTTER.rstrip())
        gutters.append(gutter + GUTTER.rstrip())
        code.append(text[1:] if text.startswith(" ") else text)
    coloured = highlight("\n".join(code), PythonLexer(), TerminalFormatter()).rstrip("\n").split("\n")
    if len(coloured) != len(code):  # the lexer joined or split lines: keep them plain
        coloured = code
    return "\n".join(
        f"\x1b[2m{gutter}\x1b[0m {text}" if text else f"\x1b[2m{gutter}\x1b[0m"
        for gutter, text in zip(gutters, coloured)
    )
