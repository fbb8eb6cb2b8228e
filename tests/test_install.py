"""refscript works wherever its checkout lives and whatever the folder is called.

`git clone` makes a folder named `refscript`; a user starts Python in it or in the folder
above it. Neither may change what `import refscript` gives or what the tests see.
"""

import os
import subprocess
import sys

import refscript


def _python(code: str, cwd) -> subprocess.CompletedProcess:
    # The environment without PYTHONPATH: pytest's `pythonpath` setting must not help.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_folder_named_refscript_in_the_current_directory_does_not_shadow_the_package(tmp_path):
    # What Python started in the parent of a checkout named `refscript` sees: a folder of that
    # name without an __init__.py, which must not win over the installed package (an editable
    # install through an import hook lost to it and gave an empty namespace package).
    (tmp_path / "refscript").mkdir()
    result = _python("import refscript; print(refscript.__file__); refscript.jit", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == refscript.__file__

