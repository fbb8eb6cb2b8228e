"""Runs the Python examples of pages of docs/ as a user runs them: in this fresh interpreter, in
JAX's default mode (64-bit off), each block in a module of its own, in the pages' order.

    python tests/doc_pages.py docs/constructs/loops.md [more pages]

A block that needs 64-bit mode says so by turning it on itself
(`jax.config.update("jax_enable_x64", True)`); it is turned off again after the block, as a
fresh interpreter would have it. A refscript warning other than `PrecisionWarning` (float64
NumPy data in 32-bit mode: the examples' arrays, which the warning is right to mention) fails
the block. Prints one line per failed block and exits 1 if any failed.
(One interpreter for all pages: starting JAX once per page cost a tenth of the doc tests.)
"""

from __future__ import annotations

import re
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

OUTPUT_MARKER = "# refscript output"


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """`(index, source)` of the page's python blocks that are examples, not converter output."""
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return [(index, block) for index, block in enumerate(blocks) if not block.startswith(OUTPUT_MARKER)]


def main(pages: list[str]) -> int:
    import jax

    import refscript
    from tests.modules import import_source

    assert not jax.config.jax_enable_x64, "run without JAX_ENABLE_X64: the default mode is the point"
    failed = 0
    with tempfile.TemporaryDirectory() as directory:
        for number, page in enumerate(pages):
            for index, source in runnable_blocks(Path(page).read_text()):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("error", refscript.errors.RefscriptWarning)
                        warnings.simplefilter("default", refscript.errors.PrecisionWarning)
                        import_source(source, Path(directory) / f"doc_{number}_block_{index}.py")
                except BaseException as error:  # noqa: BLE001 (reported, whatever it is)
                    failed += 1
                    where = traceback.extract_tb(error.__traceback__)[-1]
                    print(f"{page}[{index}] line {where.lineno}: {type(error).__name__}: {error}".splitlines()[0])
                finally:
                    jax.config.update("jax_enable_x64", False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
