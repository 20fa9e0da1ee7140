"""Unicode pretty printing for the terminal (SymPy's PrettyPrinter with the notes' names)."""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.pretty.pretty import PrettyPrinter


class JlabPrettyPrinter(PrettyPrinter):
    """Prints ``Heaviside(z, 0)`` — ReLU'(z) — as ``step(z)``, the notes' name for it."""

    def _print_Heaviside(self, e: sp.Expr) -> Any:
        return self._print_Function(sp.Function("step")(e.args[0]))


def pretty(expr: Any) -> str:
    """A Unicode drawing of a SymPy object, as wide as it needs.

    >>> import sympy as sp
    >>> print(pretty(sp.Heaviside(sp.Symbol("z"), 0)))
    step(z)
    """
    return JlabPrettyPrinter({"use_unicode": True, "wrap_line": False}).doprint(expr)
