"""How a kernel's formula is written: sums with the added terms first (``Y - A``), and the
LaTeX of each output for the kernel's docstring, in the notes' notation.

Both printers of :mod:`jacobian_lab.codegen` (the NumPy one and the LaTeX one) order a
sum's terms with :func:`signed_terms` and join them with :func:`join_signed`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp
from sympy.printing.precedence import PRECEDENCE

from jacobian_lab.language.latex import JlabLatexPrinter


def signed_terms(terms: Iterable[sp.Basic]) -> list[tuple[bool, sp.Basic]]:
    """(subtracted?, term without its minus sign), the added terms first: ``Y - A``."""
    out = []
    for t in terms:
        coeff, fs = t.as_coeff_matrices() if isinstance(t, sp.MatMul) else (sp.S.One, [t])
        if coeff.could_extract_minus_sign():
            out.append((True, sp.MatMul(-coeff, *fs) if -coeff != 1 or len(fs) > 1 else fs[0]))
        else:
            out.append((False, t))
    return sorted(out, key=lambda st: st[0])


def join_signed(signed: Sequence[tuple[bool, str]]) -> str:
    """Printed terms joined with their signs: ``[(False, "Y"), (True, "A")]`` → ``Y - A``."""
    signs = [(" - " if neg else " + ") if i else ("-" if neg else "")
             for i, (neg, _) in enumerate(signed)]
    return "".join(sign + text for sign, (_, text) in zip(signs, signed, strict=True))


class _Latex(JlabLatexPrinter):
    """The notes' LaTeX, with sums written positive terms first (``Y - A``)."""

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        return join_signed([(neg, self.parenthesize(t, PRECEDENCE["Add"] + neg, strict=True))
                            for neg, t in signed_terms(expr.args)])


def latex(expr: sp.Basic) -> str:
    """LaTeX of a kernel's formula (``Y - A``, not ``-A + Y``)."""
    return _Latex().doprint(expr)


__all__ = ["join_signed", "latex", "signed_terms"]
