"""Importing code from files for the tests: refscript reads a function's source from its file,
so code a test writes (and the examples and benchmarks it runs) is imported from a file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def import_file(path, name: str, register: bool = False):
    """The module of the file `path`, imported as `name` (each call imports it again). With
    `register`, it is also `sys.modules[name]`, as an imported module is (dataclasses and
    pickling look modules up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_source(source: str, path, name: str | None = None):
    """The module of `source`, written to the file `path` and imported (as `name`, by default
    the file's name)."""
    path = Path(path)
    path.write_text(source)
    return import_file(path, name or path.stem)
