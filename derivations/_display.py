"""Display-only nodes for the catalog's left-hand sides: ``∇f``, ``∇f(2, 0)``, ``(v + w)``,
``df/dx``, ``v ⊘ w``.

They are never differentiated nor instantiated: a step's or result's left-hand side only
names what is computed. The printers render them by class name (``_print_Nabla`` … in
:mod:`jacobian_lab.language.notation` and :mod:`jacobian_lab.language.latex`).
"""

from __future__ import annotations

import sympy as sp


class Nabla(sp.Expr):
    """The gradient ∇f of a scalar function (a row in numerator layout)."""

    def __new__(cls, f: sp.Basic) -> Nabla:
        return super().__new__(cls, sp.sympify(f))


class At(sp.Expr):
    """``head`` evaluated at the given values: ``∇f(2, 0)``, ``C(θ₁)``."""

    def __new__(cls, head: sp.Basic, *values: sp.Basic) -> At:
        return super().__new__(cls, sp.sympify(head), *(sp.sympify(v) for v in values))


class Paren(sp.Expr):
    """An expression kept in parentheses, as in ∂(v + w)/∂v."""

    def __new__(cls, e: sp.Basic) -> Paren:
        return super().__new__(cls, e)


class Total(sp.Expr):
    """The ordinary derivative df/dx of a function of one variable."""

    def __new__(cls, of: sp.Basic, wrt: sp.Basic) -> Total:
        return super().__new__(cls, sp.sympify(of), sp.sympify(wrt))


class Quotient(sp.Expr):
    """Element-wise division ``u ⊘ v`` as the notes write it (it means u ⊙ v^∘(−1))."""

    def __new__(cls, u: sp.Basic, v: sp.Basic) -> Quotient:
        return super().__new__(cls, u, v)


def symbols(names: str) -> tuple[sp.Symbol, ...]:
    """Real scalar symbols (the parser and the component layer make them real too)."""
    out = sp.symbols(names, real=True)
    return out if isinstance(out, tuple) else (out,)
