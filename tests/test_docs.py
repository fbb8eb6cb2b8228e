"""Every example in docs/ runs, and every "refscript output" block is what the converter produces."""

import ast
import os
import pathlib
import re
import subprocess
import sys

import jax
import pytest

import refscript
from tests.modules import import_source

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
OUTPUT_MARKER = "# refscript output"


def _blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def _cases():
    # Top-level pages first (ids `supported.md[0]`), then subfolders (`constructs/loops.md[0]`).
    for path in sorted(DOCS.rglob("*.md"), key=lambda p: (len(p.relative_to(DOCS).parts), p)):
        name = path.relative_to(DOCS).as_posix()
        for index, block in enumerate(_blocks(path)):
            yield pytest.param(path, index, id=f"{name}[{index}]")


def _load(source, directory, name):
    return import_source(source, directory / f"{name}.py")


# Runs the examples (and, for an output block, the example before it) in this process, in
# 64-bit mode; test_doc_pages_run_in_a_fresh_interpreter_in_32_bit_mode runs them in 32-bit mode.
@pytest.mark.x64_only
@pytest.mark.parametrize("path, index", list(_cases()))
def test_doc_block(path, index, tmp_path):
    blocks = _blocks(path)
    block = blocks[index]
    if not block.startswith(OUTPUT_MARKER):
        mode = jax.config.jax_enable_x64
        try:
            _load(block, tmp_path, f"doc_example_{index}")  # runs the example, with its asserts
        finally:
            jax.config.update("jax_enable_x64", mode)  # a block may set the mode it needs
        return
    source = blocks[index - 1]
    expected = ast.parse(block)
    function_name = expected.body[0].name
    if "import " not in source:
        source = "import numpy as np\n" + source
    module = _load(source, tmp_path, f"doc_source_{index}")
    produced = ast.parse(refscript.converted_source(getattr(module, function_name)))
    assert ast.dump(produced) == ast.dump(expected)


# The commands docs show (```console blocks, `$ ` lines) run as a user runs them: in a fresh
# shell, in a folder holding the files the page shows (a "`name.py`:" line before a python
# block), printing exactly what the page says they print.

def _page_files(text):
    return dict(re.findall(r"^`([\w.]+\.py)`:\n\n```python\n(.*?)```", text, flags=re.S | re.M))


def _commands():
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text()
        for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
            for command, output in re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", block, flags=re.M):
                yield pytest.param(path, command, output, id=f"{path.relative_to(DOCS).as_posix()}: {command[:60]}")


@pytest.mark.parametrize("path, command, shown", list(_commands()))
def test_doc_command(path, command, shown, tmp_path):
    files = _page_files(path.read_text())
    assert files, f"{path.name} runs commands on files it does not show"
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    environment = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
                   "JAX_PLATFORMS": "cpu"}
    for variable in ("JAX_ENABLE_X64", "NO_COLOR", "PYTHONPATH"):
        environment.pop(variable, None)
    result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=environment, capture_output=True,
                            text=True, timeout=300)
    printed = (result.stdout + result.stderr).replace(str(tmp_path), "/home/user")
    assert printed.rstrip("\n") == shown.rstrip("\n")


# The same examples as a user runs them: a fresh interpreter per page, JAX's default 32-bit mode
# (the tests above run in this process, with 64-bit mode on: tests/conftest.py).

def _pages_with_examples():
    from tests.doc_pages import runnable_blocks

    return [path for path in sorted(DOCS.rglob("*.md")) if runnable_blocks(path.read_text())]


def test_doc_pages_run_in_a_fresh_interpreter_in_32_bit_mode():
    pages = _pages_with_examples()
    assert len(pages) > 10
    environment = {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64", "PYTHONPATH")}
    script = pathlib.Path(__file__).with_name("doc_pages.py")
    result = subprocess.run([sys.executable, str(script), *map(str, pages)],
                            env={**environment, "JAX_PLATFORMS": "cpu"}, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
