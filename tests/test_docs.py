"""Every example in docs/ runs, and every "refscript output" block is what the converter produces."""

import ast
import pathlib
import re

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


@pytest.mark.parametrize("path, index", list(_cases()))
def test_doc_block(path, index, tmp_path):
    blocks = _blocks(path)
    block = blocks[index]
    if not block.startswith(OUTPUT_MARKER):
        _load(block, tmp_path, f"doc_example_{index}")  # runs the example, with its asserts
        return
    source = blocks[index - 1]
    expected = ast.parse(block)
    function_name = expected.body[0].name
    if "import " not in source:
        source = "import numpy as np\n" + source
    module = _load(source, tmp_path, f"doc_source_{index}")
    produced = ast.parse(refscript.converted_source(getattr(module, function_name)))
    assert ast.dump(produced) == ast.dump(expected)
