"""The value of a variable that is not bound on every path reaching a use."""

from __future__ import annotations

from refscript.errors import UndefinedVariableError, caller_location


class Undefined:
    """Stands for a variable not bound on this path; any use of it raises at the user's line.

    >>> x = Undefined("x")
    >>> x + 1   # doctest: +SKIP
    UndefinedVariableError: ... variable 'x' is used here but is not bound on every path ...
    """

    __slots__ = ("name", "bound_later", "where")

    def __init__(self, name: str, bound_later: bool = False, where=None):
        # `bound_later`: every path that reads the variable binds it first, which the
        # converter knows (the return slot) though tracing cannot see it.
        # `where`: the traced `if` that binds it on one branch only, if that is why.
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "bound_later", bound_later)
        object.__setattr__(self, "where", where)

    def explanation(self) -> str:
        """Why the variable is unbound, in the user's terms."""
        text = f"variable {self.name!r} is used here but is not bound on every path that reaches it"
        if self.where is not None:
            text += f": the `if` at {self.where} binds it on one branch only"
        return text

    def __repr__(self) -> str:
        return f"Undefined({self.name!r})"

    def _fail(self, *args, **kwargs):
        raise UndefinedVariableError(
            self.explanation(),
            caller_location(),
            f"assign {self.name!r} before the loop or branch, or on every branch of the `if`",
        )

    __getattr__ = __getitem__ = __setitem__ = __call__ = __iter__ = __len__ = _fail
    __bool__ = __index__ = __int__ = __float__ = __array__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail
    __pow__ = __rpow__ = __matmul__ = __rmatmul__ = __neg__ = __pos__ = __abs__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = _fail
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __invert__ = _fail
    __lshift__ = __rlshift__ = __rshift__ = __rrshift__ = _fail
