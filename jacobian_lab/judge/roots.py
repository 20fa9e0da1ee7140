"""Roots of kink and domain arguments along one variable: exact with SymPy where it can, else
from sign changes on a logarithmic grid refined by mpmath's ``findroot`` to 60 digits."""

from __future__ import annotations

import itertools
import math
import time

import mpmath
import numpy as np
import sympy as sp

from jacobian_lab.judge.values import WORK_DIGITS, Point, dyadic, tiny_at, value


def roots_along(expr: sp.Expr, v: sp.Symbol, base: Point, deadline: float = math.inf,
                limit: int = 6) -> list[sp.Expr]:
    """Real zeros of ``expr`` as a function of ``v`` alone (the other variables at ``base``):
    exact where ``expr`` is a polynomial of degree ≤ 4 in ``v`` (or linear with rational
    coefficients), else refined to :data:`WORK_DIGITS` digits from the sign changes on a
    logarithmic grid from 1e-4 to 1e7, both signs."""
    others = {w: val for w, val in base.items() if w != v}
    e = expr.xreplace(others)
    if not e.has(v):
        return []
    try:
        if e.is_polynomial(v):
            poly = sp.Poly(e, v)
            if poly.degree() <= 4 and all(c.is_Rational for c in poly.all_coeffs()):
                return [r for r in sp.real_roots(poly)][:limit]
    except (sp.PolynomialError, NotImplementedError, ValueError):
        pass
    return _numeric_roots(e, v, deadline)[:limit]


_GRID = sorted({0.0, *(s * 10.0 ** k for s in (-1.0, 1.0) for k in np.linspace(-4, 7, 34))})


def _numeric_roots(e: sp.Expr, v: sp.Symbol, deadline: float) -> list[sp.Expr]:
    el = e
    vals: list[tuple[float, float]] = []
    for t in _GRID:
        if time.monotonic() > deadline:
            return []
        y = value(el, {v: dyadic(t)}, 15)
        if y is not None:
            vals.append((t, float(y)))
    roots: list[sp.Expr] = []
    for (a, fa), (b, fb) in itertools.pairwise(vals):
        if fa == 0:
            roots.append(dyadic(a))
            continue
        if fa * fb < 0:
            r = _refine(el, v, a, b)
            if r is not None:
                roots.append(r)
    return roots


def _refine(el: sp.Expr, v: sp.Symbol, a: float, b: float) -> sp.Expr | None:
    """A zero of ``el`` in (a, b) to :data:`WORK_DIGITS` digits (mpmath's Illinois method
    from the bracketing sign change), or ``None`` if it does not converge."""
    def f(t: mpmath.mpf) -> mpmath.mpf:
        y = value(el, {v: sp.Float(t, WORK_DIGITS + 10)}, WORK_DIGITS + 10)
        return mpmath.mpf(0) if y is None else mpmath.mpf(y)

    with mpmath.workdps(WORK_DIGITS + 10):
        try:
            r = mpmath.findroot(f, (mpmath.mpf(a), mpmath.mpf(b)), solver="illinois",
                                tol=mpmath.mpf(10) ** (-2 * WORK_DIGITS), maxsteps=200)
        except (ValueError, ZeroDivisionError, TypeError):
            return None
    root = sp.Float(r, WORK_DIGITS + 10)
    return root if tiny_at(el, {v: root}) else None


def on_kink(kink: sp.Expr, base: Point, deadline: float = math.inf) -> Point | None:
    """A point on ``kink`` = 0 near ``base``: the base rounded to multiples of 1/64, then one
    variable solved for, exactly where the argument is linear in it with a rational
    coefficient, else by :func:`roots_along`; ``None`` when no variable gives a root."""
    sub: Point = {v: sp.Rational(round(float(x) * 64), 64) for v, x in base.items()}
    syms = sorted(kink.free_symbols & set(sub), key=str)
    for v in syms:  # exact and cheap first: linear with a rational coefficient
        coeff = sp.diff(kink, v)
        if coeff.has(v):
            continue
        others = {w: val for w, val in sub.items() if w != v}
        c = coeff.xreplace(others)
        rest = (kink - coeff * v).expand().xreplace(others)
        if not (c.is_Rational and rest.is_Rational) or c == 0:
            continue
        point = {**sub, v: -rest / c}
        if kink.xreplace(point) == 0:
            return point
    for v in syms:
        roots = roots_along(kink, v, sub, deadline)
        if roots:
            nearest = min(roots, key=lambda r: abs(float(sp.N(r)) - float(sub[v])))
            point = {**sub, v: nearest}
            if tiny_at(kink, point):
                return point
    return None
