"""Annotations that analyses attach to AST nodes, under typed keys.

Analyses run on the user's tree before any rewriting; converters read the
annotations from the original node objects they keep (never from new nodes).
"""

from __future__ import annotations

import enum
from typing import Any


class Basic(enum.Enum):
    """Annotation keys. Each value documents what the annotation holds."""

    ASSIGNED = "names the statement (or block) rebinds, excluding nested scopes"
    MODIFIED = "names whose contents the statement changes by subscript assignment"
    LIVE_IN = "names live just before the statement"
    LIVE_OUT = "names live just after the statement"
    BOXED = "names the construct must hold in boxes across its bodies"
    BOX_WRITES = "box variable names written anywhere inside the construct"
    USER_FUNCTION = "a def the user wrote inside the converted function (left as it is)"
    JUMP_GUARD = "an `if not flag:` made by the jump converters, skipping code after a jump"
    AUGMENTED = "on `name op= value`: the user's name (the refs pass records it before boxing renames it)"
    BREAK_FLAGS = "the flags whose setting ends a `for` loop (`break`, `return`); after boxing, their boxes"

    # Members are their only instances: hashed by identity, in C (an Enum's own hash runs in
    # Python, and a conversion reads and writes annotations hundreds of times).
    __hash__ = object.__hash__


_FIELD = "__refscript_anno"


def setanno(node: Any, key: Basic, value: Any) -> None:
    annotations = getattr(node, _FIELD, None)
    if annotations is None:
        annotations = {}
        setattr(node, _FIELD, annotations)
        fields = getattr(node, "_attributes", ())
        if _FIELD not in fields:
            node._attributes = tuple(fields) + (_FIELD,)
    annotations[key] = value


def getanno(node: Any, key: Basic, default: Any = None) -> Any:
    return getattr(node, _FIELD, _NONE).get(key, default)


def hasanno(node: Any, key: Basic) -> bool:
    return key in getattr(node, _FIELD, _NONE)


def delanno(node: Any, key: Basic) -> None:
    """Removes the annotation `key` of `node`, if it has one."""
    getattr(node, _FIELD, {}).pop(key, None)


_NONE: dict = {}  # the annotations of a node without any (never written)
