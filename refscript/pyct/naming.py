"""Hands out readable names for generated code that never clash with the user's."""

from __future__ import annotations

import gast

from refscript.pyct import traversal

# The name generated code uses for refscript's runtime module.
RUNTIME_MODULE = "rs"


_DEFINITIONS = frozenset({gast.FunctionDef, gast.ClassDef, gast.AsyncFunctionDef})


class Namer:
    """Gives out unique names: the wanted one if free, else `wanted_1`, `wanted_2`, ...

    >>> namer = Namer({"loop_body"})
    >>> namer.new("loop_body")
    'loop_body_1'
    """

    def __init__(self, taken: set[str]):
        self._taken = set(taken)

    @classmethod
    def for_tree(cls, tree) -> "Namer":
        """A namer for code in `tree`: the names the tree uses are taken."""
        return cls.for_nodes(traversal.walk(tree))

    @classmethod
    def for_nodes(cls, nodes) -> "Namer":
        """`for_tree(tree)`, given `traversal.walk(tree)`."""
        taken = set()
        for node in nodes:
            kind = node.__class__
            if kind is gast.Name:
                taken.add(node.id)
            elif kind in _DEFINITIONS:
                taken.add(node.name)
            elif kind is gast.alias:
                taken.add((node.asname or node.name).split(".")[0])
        return cls(taken)

    def new(self, wanted: str) -> str:
        name, n = wanted, 0
        while name in self._taken:
            n += 1
            name = f"{wanted}_{n}"
        self._taken.add(name)
        return name
