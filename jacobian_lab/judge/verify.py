"""The judge applied to the component calculus: ``verify`` a claimed Jacobian of scalar
expressions, and the vector ``chain`` rule checked against direct differentiation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from jacobian_lab.errors import UnknownNameError, UsageError
from jacobian_lab.judge.checker import compare
from jacobian_lab.judge.component import jacobian, tidy
from jacobian_lab.judge.verdict import Check


@dataclass(frozen=True)
class ChainRule:
    """The vector chain rule ∂f/∂x = ∂f/∂g · ∂g/∂x with every factor kept for display."""

    outer: sp.Matrix  # f as a function of g
    inner: sp.Matrix  # g as a function of x
    g: tuple[sp.Symbol, ...]
    x: tuple[sp.Symbol, ...]
    df_dg: sp.Matrix  # in terms of g
    dg_dx: sp.Matrix
    product: sp.Matrix  # ∂f/∂g (with g substituted) · ∂g/∂x, simplified
    direct: sp.Matrix  # ∂f(g(x))/∂x differentiated directly
    agrees: bool

    @property
    def composed(self) -> sp.Matrix:
        return self.outer.xreplace(dict(zip(self.g, self.inner, strict=True)))


def chain(
    outer: Sequence[sp.Expr],
    inner: Sequence[tuple[sp.Symbol, sp.Expr]],
    wrt: Sequence[sp.Symbol],
) -> ChainRule:
    """Differentiate ``outer(g(x))`` by the chain rule and check it against direct differentiation.

    >>> import sympy as sp
    >>> x, y, g1, g2 = sp.symbols("x y g1 g2", real=True)
    >>> r = chain([sp.sin(g1), sp.log(g2)], [(g1, x**2 + y), (g2, y**3)], [x, y])
    >>> r.df_dg
    Matrix([
    [cos(g1),    0],
    [      0, 1/g2]])
    >>> r.agrees
    True
    """
    if not inner:
        raise UsageError("The chain rule needs at least one inner definition g = ...")
    g = tuple(s for s, _ in inner)
    g_exprs = [e for _, e in inner]
    clash = [str(s) for s in g if s in set(wrt)]
    if clash:
        raise UnknownNameError(f"Inner variables cannot also be in wrt: {', '.join(clash)}")
    outer_m = sp.Matrix(list(outer))
    df_dg = sp.Matrix(list(outer)).jacobian(sp.Matrix(list(g))).applyfunc(tidy)
    dg_dx = jacobian(g_exprs, wrt)
    sub = dict(zip(g, g_exprs, strict=True))
    product = (df_dg.xreplace(sub) * dg_dx).applyfunc(tidy)
    composed = outer_m.xreplace(sub)
    direct = jacobian(list(composed), wrt)

    agrees = compare(direct, product).ok
    return ChainRule(
        outer_m, sp.Matrix(g_exprs), g, tuple(wrt), df_dg, dg_dx, product, direct, agrees
    )


def verify(
    exprs: Sequence[sp.Expr],
    wrt: Sequence[sp.Symbol],
    claim: Any,
    layout: str = "numerator",
    samples: int = 12,
    seed: int = 0,
    seconds: float | None = None,
) -> Check:
    """Is ``claim`` the Jacobian of ``exprs`` w.r.t. ``wrt`` (in ``layout``)?

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> verify([x**2 + sp.cos(y)], [x, y], [[2*x, -sp.sin(y)]]).verdict
    'correct'
    >>> check = verify([x**2 + sp.cos(y)], [x, y], [[2*x, sp.sin(y)]])
    >>> check.verdict, check.diagnosis
    ('incorrect', '(1,2) has the wrong sign')
    """
    expected = jacobian(list(exprs), wrt, layout=layout)
    return compare(expected, claim, samples=samples, seed=seed, extra_exprs=list(exprs),
                   seconds=seconds)
