"""`refscript.show` and `python -m refscript show`: specs, stages, and what the command prints."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import refscript
from oracle import narrowed
from refscript._show import UsageError, examples, needs_x64, parse_arg, resolve_stages, show


def running_sum(x, n):
    out = x.copy()
    s = 0.0
    for i in range(n):
        s += x[i]
        out[i] = s
    return out


def no_parameters():
    total = 0.0
    for i in range(3):
        total += i
    return total


F32_8 = jax.ShapeDtypeStruct((8,), jnp.float32)


# Specs.


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("f32[128,128]", jax.ShapeDtypeStruct((128, 128), np.float32)),
        ("f32[128, 128]", jax.ShapeDtypeStruct((128, 128), np.float32)),
        ("f64[16]", jax.ShapeDtypeStruct((16,), np.float64)),
        ("i32[]", jax.ShapeDtypeStruct((), np.int32)),
        ("u8[64]", jax.ShapeDtypeStruct((64,), np.uint8)),
        ("bool[]", jax.ShapeDtypeStruct((), np.bool_)),
        ("bf16[2,0,3]", jax.ShapeDtypeStruct((2, 0, 3), jnp.bfloat16)),
        ("c128[4]", jax.ShapeDtypeStruct((4,), np.complex128)),
        ("float32[4]", jax.ShapeDtypeStruct((4,), np.float32)),
        ("int64[]", jax.ShapeDtypeStruct((), np.int64)),
        ("bfloat16[2]", jax.ShapeDtypeStruct((2,), jnp.bfloat16)),
        ("complex64[3]", jax.ShapeDtypeStruct((3,), np.complex64)),
    ],
)
def test_array_specs_are_shape_dtype_structs(spec, expected):
    assert parse_arg(spec) == expected


@pytest.mark.parametrize(
    "spec, expected",
    [("3", 3), ("-2", -2), ("+7", 7), ("2.5", 2.5), ("-.5", -0.5), ("1e-3", 1e-3), ("2.", 2.0),
     ("True", True), ("False", False), ("None", None)],
)
def test_literal_specs_are_python_values(spec, expected):
    value = parse_arg(spec)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "spec",
    ["__import__('os')", "f32[a]", "1+1", "f33[4]", "float33[4]", "object[4]", "f32[-1]", "f32[1.5]", "f32[4]]",
     "f32[4", "'text'", "[1, 2]", "(3,)", "1e", "0x10", "true", "True or False", "", "3 if x else 4"],
)
def test_anything_else_is_rejected_in_one_line(spec):
    with pytest.raises(UsageError) as raised:
        parse_arg(spec)
    assert "\n" not in str(raised.value) and repr(spec) in str(raised.value)


def test_64_bit_specs_ask_for_x64():
    assert needs_x64((parse_arg("f64[16]"), 3))
    assert needs_x64(parse_arg("i64[]"))
    assert not needs_x64((parse_arg("f32[16]"), parse_arg("c64[2]"), 3, 2.5))


def test_stages_resolve_in_compilation_order():
    assert resolve_stages(None) == ("converted", "jaxpr")
    assert resolve_stages("all") == ("converted", "jaxpr", "discharged", "hlo")
    assert resolve_stages(["hlo", "converted"]) == ("converted", "hlo")
    with pytest.raises(UsageError, match="unknown stage 'ir'"):
        resolve_stages("ir")


# The Python API.


def test_each_stage_shows_what_it_is():
    text = show(running_sum, F32_8, 3, stage="all", label="running_sum")
    converted, jaxpr, discharged, hlo = text.split("\n\n== ")
    assert converted.startswith("== converted: running_sum ==\n")
    assert "def running_sum(x, n):" in converted and "rs." in converted
    assert jaxpr.startswith("jaxpr: running_sum ==\n") and "Ref{f32[8]}" in jaxpr and "length=3" in jaxpr
    assert discharged.startswith("discharged: ") and "Ref{" not in discharged and "f32[8]" in discharged
    assert hlo.startswith("hlo: ") and "while" in hlo and ("module @" in hlo or "HloModule" in hlo)
    assert "\x1b[" not in text


def test_default_stages_are_converted_and_jaxpr():
    text = show(running_sum, F32_8, 3)
    assert "== converted: running_sum ==" in text and "== jaxpr: running_sum ==" in text
    assert "== discharged" not in text and "== hlo" not in text


def test_takes_concrete_arrays_and_jit_functions():
    text = show(refscript.jit(running_sum), np.zeros(4, np.float32), 2, stage="jaxpr")
    assert "Ref{f32[4]}" in text


def test_converted_lines_are_numbered_with_the_users_lines():
    import inspect

    text = show(running_sum, stage="converted")
    lines, first = inspect.getsourcelines(running_sum)
    user = {first + k: line.strip() for k, line in enumerate(lines)}
    numbered = {}
    for line in text.splitlines()[1:]:
        number, bar, code = line.partition("|")
        assert bar, line
        if number.strip():
            numbered.setdefault(code.strip(), int(number))
    assert numbered["def running_sum(x, n):"] == first
    assert user[numbered["out = x.copy()"]] == "out = x.copy()"
    assert user[numbered["s_ref.iadd(x[i])"]] == "s += x[i]"
    assert user[numbered["out_ref[i] = s_ref.value"]] == "out[i] = s"
    assert user[numbered["def loop_body(i):"]] == "for i in range(n):"
    assert "\x1b[" not in text


def test_converted_needs_no_arguments():
    assert "def running_sum" in show(running_sum, stage="converted")


def test_example_args_are_used_when_none_are_given():
    @examples(jax.ShapeDtypeStruct((5,), jnp.int32), 2)
    def prefix(x, n):
        for i in range(1, n):
            x[i] += x[i - 1]
        return x

    assert prefix.example_args == (jax.ShapeDtypeStruct((5,), jnp.int32), 2)
    assert "Ref{i32[5]}" in show(prefix, stage="jaxpr")
    assert "Ref{f32[3]}" in show(prefix, jax.ShapeDtypeStruct((3,), jnp.float32), 2, stage="jaxpr")
    assert "Ref{i32[5]}" in show(refscript.jit(prefix), stage="jaxpr")  # jit keeps the attribute


def test_missing_arguments_are_named():
    with pytest.raises(UsageError, match="no example argument for n of running_sum"):
        show(running_sum, F32_8)
    with pytest.raises(UsageError, match="takes 2 positional parameter"):
        show(running_sum, F32_8, 3, 4)


def test_a_function_without_parameters_needs_no_arguments():
    assert "== discharged: no_parameters ==\n{ lambda ; . let" in show(no_parameters, stage="discharged")


def test_a_64_bit_abstract_array_turns_on_x64_while_tracing():
    with jax.enable_x64(False):
        text = show(running_sum, jax.ShapeDtypeStruct((4,), jnp.float64), 2, stage="jaxpr")
        assert not jax.config.jax_enable_x64
    assert "Ref{f64[4]}" in text


# The command line.

USER_FILE = '''
import jax
import jax.numpy as jnp
from refscript._show import examples


def running_sum(x, n):
    out = x.copy()
    s = 0.0
    for i in range(n):
        s += x[i]
        out[i] = s
    return out


@examples(jax.ShapeDtypeStruct((6,), jnp.float32))
def doubled(x):
    for i in range(x.shape[0]):
        x[i] *= 2
    return x


def uses_yield(x):
    for i in range(3):
        yield x[i]


def bad_shapes(x):
    return x + jnp.ones(5)


def raises(x):
    raise ValueError("no negative input")
'''

BROKEN_FILE = '''
def f(x)
    return x
'''


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("user")
    (directory / "kernels.py").write_text(USER_FILE)
    (directory / "broken.py").write_text(BROKEN_FILE)
    (directory / "pkg").mkdir()
    (directory / "pkg" / "__init__.py").write_text("")
    (directory / "pkg" / "ops.py").write_text(USER_FILE)
    return directory


def line_of(text):
    """Returns the line number of `text` in USER_FILE."""
    return next(number for number, line in enumerate(USER_FILE.splitlines(), 1) if text in line)


def cli_environment(**overrides):
    environment = {**os.environ, "JAX_PLATFORMS": "cpu"}
    environment.pop("NO_COLOR", None)
    environment.update(overrides)
    return environment


def run_cli(directory, *args):
    return subprocess.run(
        [sys.executable, "-m", "refscript", "show", *args],
        cwd=directory, env=cli_environment(), capture_output=True, text=True, timeout=120, check=False,
    )


def test_cli_prints_every_stage_of_a_file(user_dir):
    result = run_cli(user_dir, "kernels.py:running_sum", "--arg", "f32[8]", "--arg", "3", "--stage", "all")
    assert result.returncode == 0, result.stderr
    for stage in ("converted", "jaxpr", "discharged", "hlo"):
        assert f"== {stage}: kernels.py:running_sum ==" in result.stdout
    assert "Ref{f32[8]}" in result.stdout and "stablehlo.while" in result.stdout
    assert "\x1b[" not in result.stdout  # piped: no colour
    assert "Traceback" not in result.stderr


def test_cli_imports_a_dotted_module_and_uses_its_example_args(user_dir):
    result = run_cli(user_dir, "pkg.ops:doubled")
    assert result.returncode == 0, result.stderr
    assert "== converted: pkg.ops:doubled ==" in result.stdout and "def doubled(x):" in result.stdout
    assert "Ref{f32[6]}" in result.stdout


def test_cli_64_bit_spec_enables_x64(user_dir):
    result = run_cli(user_dir, "kernels.py:running_sum", "--arg", "f64[4]", "--arg", "2", "--stage", "discharged")
    assert result.returncode == 0, result.stderr
    assert "f64[4]" in result.stdout and "Ref{" not in result.stdout


def run_in_process(directory, monkeypatch, capsys, *args):
    """Runs the command in this process (faster than a subprocess): (status, stdout, stderr)."""
    from refscript import cli

    monkeypatch.chdir(directory)
    status = cli.main(["show", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    "args, status, message",
    [
        (["kernels.py:running_sum", "--arg", "__import__('os')", "--arg", "3"], 2, "--arg"),
        (["kernels.py:running_sum", "--arg", "f32[8]"], 2, "no example argument for n"),
        (["missing.py:f"], 2, "no such file: missing.py"),
        (["kernels.py:nope"], 2, "has no function 'nope'"),
        (["no_such_package.mod:f"], 2, "no module named 'no_such_package'"),
        (["kernels.py:running_sum", "--stage", "ir"], 2, "invalid choice: 'ir'"),
        (["kernels.py:running_sum", "--arg", "float33[8]", "--arg", "3"], 2, "unknown dtype 'float33'"),
    ],
)
def test_cli_command_line_errors_are_one_line_with_one_prefix(user_dir, monkeypatch, capsys, args, status, message):
    code, out, err = run_in_process(user_dir, monkeypatch, capsys, *args)
    assert code == status
    assert message in err
    assert len(err.splitlines()) == 1 and err.startswith("refscript show: error: ") and "Traceback" not in err


@pytest.mark.parametrize("args, place, message, hint", [
    (["kernels.py:bad_shapes", "--arg", "f32[3]"], ("jnp.ones(5)", 12, "           ^^^^^^^^^^^^^^^"),
     "TypeError: add got incompatible shapes for broadcasting: (3,), (5,).", "jax raised this"),
    (["kernels.py:raises", "--arg", "f32[3]"], ("raise ValueError", 5, "    " + "^" * 37),
     "ValueError: no negative input", "your code raised this"),
    (["broken.py:f"], ("def f(x)", 9, "            ^"), "importing broken.py: SyntaxError: expected ':'",
     "Python could not import the file"),
])
def test_cli_errors_in_the_users_code_point_at_the_line_with_a_caret_and_a_hint(
        user_dir, monkeypatch, capsys, args, place, message, hint):
    code, out, err = run_in_process(user_dir, monkeypatch, capsys, *args)
    assert code == 1
    text, column, caret = place
    source = BROKEN_FILE if args[0].startswith("broken") else USER_FILE
    line = next(number for number, line in enumerate(source.splitlines(), 1) if text in line)
    first, shown, under, hint_line = err.splitlines()
    assert first.startswith("refscript show: error: ")
    assert f"{args[0].split(':')[0]}:{line}:{column}: {message}" in first
    assert shown.strip() in source and text in shown
    assert under == caret
    assert hint_line.startswith("hint: " + hint) and "--traceback" in hint_line


def test_cli_numpy_dtype_names_are_specs_too(user_dir, monkeypatch, capsys):
    code, out, err = run_in_process(user_dir, monkeypatch, capsys, "kernels.py:running_sum", "--arg", "float32[8]",
                                    "--arg", "3", "--stage", "jaxpr")
    assert code == 0, err
    assert "a:f32[8]" in out


def test_cli_refscript_errors_point_at_the_users_line(user_dir):
    result = run_cli(user_dir, "kernels.py:uses_yield", "--arg", "f32[3]")
    assert result.returncode == 1
    first, source, caret, hint = result.stderr.splitlines()
    assert f"kernels.py:{line_of('yield x[i]')}:9:" in first and "yield" in first
    assert source == "    yield x[i]" and caret == "    ^^^^^^^^^^"
    assert hint.startswith("hint: ")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("no_color", [None, "1"])
def test_cli_colours_a_terminal_unless_no_color(user_dir, no_color):
    import pty

    environment = cli_environment() if no_color is None else cli_environment(NO_COLOR=no_color)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "refscript", "show", "kernels.py:running_sum", "--stage", "converted"],
        cwd=user_dir, env=environment, stdout=terminal, stderr=subprocess.DEVNULL,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=120) == 0
    assert b"running_sum" in output
    assert (b"\x1b[" in output) == (no_color is None)


def test_cli_help_documents_specs_stages_and_examples(user_dir):
    result = run_cli(user_dir, "--help")
    assert result.returncode == 0
    for text in ("f32[128,128]", "bf16", "True", "example_args", "refscript.examples", "discharged",
                 "hlo", "NO_COLOR", "FILE.py:FUNCTION", "package.module:FUNCTION", "exit status"):
        assert text in result.stdout, text



def test_jaxpr_stage_lists_lowering_decisions():
    text = refscript.show(_decisions_kernel, np.zeros(6), np.int64(3), stage="jaxpr")
    tail = text.split("# how refscript lowered this function:\n")[1].splitlines()
    first = _decisions_kernel.__code__.co_firstlineno
    assert tail == [
        f"# line {first + 3}, column 21: slice with traced bounds: masked window",
        f"# line {first + 4}, column 5: for loop with a run-time trip count (while_loop; "
        "forward-mode differentiation only)",
    ]
    assert "# how refscript lowered" not in refscript.show(_decisions_kernel, np.zeros(6), 2, stage="discharged")


def _decisions_kernel(x, m):
    s = 0.0
    for k in range(x.shape[0]):
        s += np.sum(x[:k])
    for j in range(m):
        s += x[j]
    return s


def test_cli_vectorize_shows_the_vectorised_loop(user_dir):
    (user_dir / "maps.py").write_text(
        "import numpy as np\n\n\n"
        "def axpy(a, x, y):\n"
        "    out = np.zeros_like(x)\n"
        "    for i in range(x.shape[0]):\n"
        "        out[i] = a * x[i] + y[i]\n"
        "    return out\n"
    )
    args = ("maps.py:axpy", "--arg", "2.0", "--arg", "f32[16]", "--arg", "f32[16]", "--stage", "converted",
            "--stage", "jaxpr")
    plain = run_cli(user_dir, *args)
    vectorized = run_cli(user_dir, *args, "--vectorize")
    assert plain.returncode == 0 and vectorized.returncode == 0, (plain.stderr, vectorized.stderr)
    assert "rs.for_stmt(" in plain.stdout and "vectorised automatically" not in plain.stdout
    assert "rs.parallel_for(" in vectorized.stdout and "automatic=True" in vectorized.stdout
    assert ("# line 6, column 5: loop vectorised automatically over 16 iterations (they are independent), "
            "writes out") in vectorized.stdout


def scaled_map(x, scale):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = scale * x[i]
    return out


def test_options_recompile_a_function_and_the_cli_keeps_them_with_vectorize():
    from refscript import cli

    compiled = refscript.jit(scaled_map, static_argnames="scale", static_scalars=False, checks=True)
    assert compiled.options == dict(static_argnums=(), static_argnames=("scale",), static_scalars=False,
                                    checks=True, return_updates=False, vectorize=False, disable=())
    assert refscript.jit(compiled.__wrapped__, **compiled.options).options == compiled.options
    compiled.example_args = (np.ones(4), 2.0)
    vectorized = cli._vectorized(compiled)
    assert vectorized.options == {**compiled.options, "vectorize": True}
    assert vectorized.example_args == compiled.example_args
    assert "automatic=True" in vectorized.converted_source
    x = narrowed(np.arange(4.0))
    np.testing.assert_array_equal(vectorized(x, 3.0), 3.0 * x)
