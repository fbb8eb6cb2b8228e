"""What every pass shares: the user's file, the namer, and errors at the user's lines."""

from __future__ import annotations

from dataclasses import dataclass

from refscript.errors import ConversionError, Location
from refscript.pyct.naming import Namer


@dataclass
class PassContext:
    filename: str
    namer: Namer
    runtime_name: str

    def location(self, node) -> Location:
        return Location(self.filename, getattr(node, "lineno", 0) or 0, getattr(node, "col_offset", 0) or 0)

    def error(self, node, message: str, hint: str | None = None) -> ConversionError:
        return ConversionError(message, self.location(node), hint)
