"""Rewrites every "refscript output" block in docs/ with what the converter produces now.

    python tests/update_doc_outputs.py        # then review `git diff docs/`

tests/test_docs.py fails when a block and the converter disagree; run this after a
change to the converter's output, and read the diff before committing it.
"""

import pathlib
import re
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import jax  # noqa: E402

import refscript  # noqa: E402
from test_docs import DOCS, OUTPUT_MARKER, _load  # noqa: E402

_BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)


def update(path: pathlib.Path, directory: pathlib.Path) -> bool:
    text = path.read_text()
    blocks = _BLOCK.findall(text)
    pieces, last, changed = [], 0, False
    for index, match in enumerate(_BLOCK.finditer(text)):
        block = match.group(1)
        if not block.startswith(OUTPUT_MARKER):
            continue
        source = blocks[index - 1]
        if "import " not in source:
            source = "import numpy as np\n" + source
        name = re.search(r"^def (\w+)", block, flags=re.M).group(1)
        module = _load(source, directory, f"doc_update_{index}")
        new = f"{OUTPUT_MARKER}\n{refscript.converted_source(getattr(module, name)).rstrip()}\n"
        changed |= new != block
        pieces += [text[last:match.start(1)], new]
        last = match.end(1)
    if changed:
        path.write_text("".join(pieces) + text[last:])
    return changed


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)  # as tests/conftest.py runs the examples
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(DOCS.rglob("*.md")):
            if update(path, pathlib.Path(tmp)):
                print(f"updated {path.relative_to(DOCS.parent)}")
