"""The component layer: explicit scalar symbols and exact Jacobians — the ground truth.

Everything else in jacobian_lab is checked against what this module computes with
``sympy.Matrix.jacobian`` on explicit scalar variables.

Layout: **numerator layout** by default — row *i* holds the derivatives of output *i*, so an
m-output function of n variables has an m × n Jacobian and a gradient is a 1 × n row.
``layout="denominator"`` returns the transpose (rows = inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import sympy as sp

from .errors import DomainError, ShapeError, UnknownNameError

Layout = Literal["numerator", "denominator"]
LAYOUTS: tuple[str, ...] = ("numerator", "denominator")

# Above this many operations SymPy's simplify() can take minutes; such entries are tidied
# with cheaper rewrites only.
_SIMPLIFY_MAX_OPS = 400


def tidy(expr: sp.Expr) -> sp.Expr:
    """Simplify one entry to a readable canonical form (cheaply for very large entries)."""
    expr = sp.sympify(expr)
    if expr.is_number and not expr.has(sp.Heaviside):
        return sp.nsimplify(expr) if expr.is_Float else sp.simplify(expr)
    if sp.count_ops(expr) > _SIMPLIFY_MAX_OPS:
        return sp.cancel(sp.expand(expr))
    return sp.simplify(expr)


def check_layout(layout: str) -> Layout:
    """Validate a layout name, naming the allowed ones."""
    if layout not in LAYOUTS:
        raise UnknownNameError(f"Unknown layout `{layout}`; choose one of: {', '.join(LAYOUTS)}")
    return layout  # type: ignore[return-value]


def _check_wrt(wrt: Sequence[sp.Symbol]) -> None:
    if not wrt:
        raise UnknownNameError("No variables given to differentiate with respect to (--wrt)")
    for v in wrt:
        if not isinstance(v, sp.Symbol):
            raise UnknownNameError(f"Can only differentiate with respect to a variable, not `{v}`")
    names = [str(v) for v in wrt]
    if len(set(names)) != len(names):
        raise UnknownNameError(f"Variables repeated in wrt: {', '.join(names)}")


def jacobian(
    exprs: Sequence[sp.Expr] | sp.Matrix,
    wrt: Sequence[sp.Symbol],
    layout: str = "numerator",
    simplify: bool = True,
) -> sp.Matrix:
    """The Jacobian of ``exprs`` with respect to ``wrt``.

    Numerator layout (default): ``len(exprs) × len(wrt)``, row i = gradient of output i.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> jacobian([2*x + y**3, sp.exp(y) - 13*x], [x, y])
    Matrix([
    [  2, 3*y**2],
    [-13, exp(y)]])
    """
    layout = check_layout(layout)
    outputs = list(exprs)
    if not outputs:
        raise ShapeError("No expressions to differentiate")
    _check_wrt(wrt)
    jac = sp.Matrix(outputs).jacobian(sp.Matrix(list(wrt)))
    if simplify:
        jac = jac.applyfunc(tidy)
    return jac.T if layout == "denominator" else jac


def gradient(
    expr: sp.Expr, wrt: Sequence[sp.Symbol], layout: str = "numerator", simplify: bool = True
) -> sp.Matrix:
    """The gradient of a scalar: a 1 × n row in numerator layout, an n × 1 column otherwise.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> gradient(x**2 + sp.cos(y), [x, y])
    Matrix([[2*x, -sin(y)]])
    """
    return jacobian([expr], wrt, layout=layout, simplify=simplify)


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
        raise ShapeError("The chain rule needs at least one inner definition g = ...")
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
    from .checker import compare  # local: verify builds on this module

    agrees = compare(direct, product).ok
    return ChainRule(
        outer_m, sp.Matrix(g_exprs), g, tuple(wrt), df_dg, dg_dx, product, direct, agrees
    )


def evaluate(matrix: sp.Matrix, point: Mapping[sp.Symbol, sp.Expr]) -> sp.Matrix:
    """Evaluate exactly at ``point``; raise :class:`DomainError` outside the domain.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> evaluate(sp.Matrix([[2*x, -sp.sin(y)]]), {x: 2, y: 0})
    Matrix([[4, 0]])
    """
    names = {str(s) for s in matrix.free_symbols}
    extra = [str(s) for s in point if str(s) not in names]
    by_name = {str(s): s for s in matrix.free_symbols}
    sub = {by_name[str(s)]: sp.sympify(v) for s, v in point.items() if str(s) in by_name}
    missing = sorted(names - {str(s) for s in point})
    if missing:
        raise DomainError(f"No value given for {', '.join(missing)} (use --at {missing[0]}=...)")
    del extra  # values for variables the result does not depend on are harmless
    out = matrix.xreplace(sub)
    out = out.applyfunc(lambda e: sp.simplify(e) if not e.is_number else e)
    for idx, val in enumerate(out):
        bad = (
            val.has(sp.zoo, sp.nan, sp.oo, -sp.oo)
            or val.is_real is False
            or (val.is_number and not val.is_extended_real)
        )
        if bad:
            i, j = divmod(idx, out.cols)
            at = ", ".join(f"{k}={v}" for k, v in sub.items())
            raise DomainError(
                f"Entry ({i + 1},{j + 1}) = {matrix[i, j]} is undefined at {at} "
                f"(outside the domain: gives {val})"
            )
    return out
