"""Naming the mistake of an incorrect claim, and presenting its counterexample.

Every diagnosis is a true statement about the claim at the points the judge evaluated: a
transpose, a named constant factor (exact where the values were), a sign, a missing or extra
term, an undefined value, the region (one sign of a kink argument) where it differs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import sympy as sp

from jacobian_lab.judge import sampler
from jacobian_lab.judge.kinks import point_text
from jacobian_lab.judge.symbolic import is_zero
from jacobian_lab.judge.values import Point, differing, near_kink, value

TRANSPOSE_DIAGNOSIS = (
    "transposed (denominator layout): the claim{shapes} is the transpose of the Jacobian "
    "written in denominator layout (rows = variables); numerator layout puts one row per "
    "output — use --layout denominator if you meant it"
)



def plainness(point: Point) -> float:
    """How far the coordinates are from magnitude 1 (in decades); 0 counts as plain."""
    mags = [abs(float(sp.N(v))) for v in point.values()]
    return max((abs(math.log10(m)) for m in mags if m > 0), default=0.0)


def rounded(point: Point, bad: dict[int, tuple[float | None, float | None]],
             exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr], idx: Sequence[int],
             s: sampler.Sampler) -> tuple[Point, dict[int, tuple[float | None, float | None]]]:
    """The counterexample with its coordinates rounded to 1, 2 or 3 significant digits, if
    that is still a counterexample (off every kink, in the domain); else as it was."""
    for digits in (1, 2, 3):
        nicer = {v: _round(x, digits) for v, x in point.items()}
        if near_kink(s.kinks, nicer) or not s.defined(nicer):
            continue
        again = differing(exp_el, clm_el, idx, nicer)
        if again:
            return nicer, again
    return point, bad


def _round(x: sp.Expr, digits: int) -> sp.Expr:
    """``x`` rounded to ``digits`` significant decimal digits, as an exact decimal rational."""
    xf = float(sp.N(x))
    if xf == 0 or not math.isfinite(xf):
        return x
    return sp.Rational(repr(round(xf, digits - 1 - math.floor(math.log10(abs(xf))))))


def simplest_rational(x: Fraction, tol: Fraction) -> Fraction:
    """The rational with the smallest denominator in [x − tol, x + tol] (Stern–Brocot).

    >>> simplest_rational(Fraction(1000000000001, 1000000000000), Fraction(1, 10**26))
    Fraction(1000000000001, 1000000000000)
    >>> simplest_rational(Fraction(3333333333333, 10**13), Fraction(1, 10**12))
    Fraction(1, 3)
    """
    lo, hi = x - tol, x + tol
    if lo <= 0 <= hi:
        return Fraction(0)
    if hi < 0:
        return -simplest_rational(-x, tol)
    # continued fractions of lo and hi until they part
    p0, q0, p1, q1 = 0, 1, 1, 0
    a, b = lo, hi
    while True:
        fa = a.numerator // a.denominator
        if Fraction(fa) == a or fa + 1 <= b:
            n = fa if Fraction(fa) == a else fa + 1
            return Fraction(n * p1 + p0, n * q1 + q0)
        p0, q0, p1, q1 = p1, q1, fa * p1 + p0, fa * q1 + q0
        a, b = 1 / (b - fa), 1 / (a - fa)


def _factor(ratios: list[sp.Expr]) -> sp.Rational | None:
    """The common ratio claim/truth, exact where the values were, else the simplest rational
    within 30-digit accuracy; ``None`` when the ratios differ."""
    r0 = ratios[0]
    if all(r.is_Rational for r in ratios):
        return r0 if all(r == r0 for r in ratios) else None
    if not all(abs(r - r0) <= sp.Float("1e-20") * max(1, abs(r0)) for r in ratios):
        return None
    if not sp.Float("1e-30") < abs(r0) < sp.Float("1e30"):
        return None  # not a factor anyone wrote (and its digits would be astronomically many)
    x = Fraction(str(sp.Float(r0, 30)))
    k = simplest_rational(x, Fraction(1, 10**26) * max(Fraction(1), abs(x)))
    return sp.Rational(k.numerator, k.denominator)


def diagnose(
    expected: sp.Matrix, claim: sp.Matrix, exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr],
    points: Sequence[Point], bad_point: Point, bad: dict[int, tuple[float | None, float | None]],
    good: Sequence[Point], bad_found: Sequence[tuple[Point, Any]], kinks: Sequence[sp.Expr],
) -> str | None:
    """Name the likely mistake: transpose, constant factor, sign, missing term, undefined, or
    the region where it differs."""
    if any(c is None for _, c in bad.values()):
        i = next(i for i, (_, c) in bad.items() if c is None)
        e = bad[i][0]
        return (f"the claim is undefined at {point_text(bad_point)}; the derivative is "
                f"{e:.10g} there (entry ({i // expected.cols + 1},{i % expected.cols + 1}))")
    if expected.is_square and expected.rows > 1 and transposed(expected, claim, points):
        return TRANSPOSE_DIAGNOSIS.format(shapes="")
    ratios: list[sp.Expr] = []
    consistent = True
    for sub in points[:6]:
        for i in range(len(expected)):
            ev, cv = value(exp_el[i], sub), value(clm_el[i], sub)
            if ev is None or cv is None:
                continue
            if ev == 0:
                consistent = consistent and cv == 0
                continue
            ratios.append(cv / ev)
    if consistent and ratios:
        k = _factor(ratios)
        if k is not None and k != 1:
            if k == 0:
                e = next(e for e, _ in bad.values() if e is not None)
                return (f"the claim is 0 where the derivative is not (it is {e:.3g} at "
                        f"{point_text(bad_point)})")
            if k == -1:
                return "every entry has the wrong sign (the claim is −1 × the Jacobian)"
            return f"the claim is the Jacobian times a constant factor {sp.sstr(k)}"
    parts = _entry_diagnoses(expected, claim, sorted(bad))
    region = _region(kinks, good, [p for p, _ in bad_found])
    if region:
        parts.append(region)
    return "; ".join(parts) if parts else None


def transposed(expected: sp.Matrix, claim: sp.Matrix, points: Sequence[Point]) -> bool:
    """The claim equals the transpose of the truth at every point where both are defined
    (and at one point at least)."""
    exp_t, clm = list(expected.T), list(claim)
    idx = range(len(clm))
    seen = 0
    for p in points:
        if any(value(exp_t[i], p) is None for i in idx):
            continue
        if differing(exp_t, clm, idx, p):
            return False
        seen += 1
    return seen > 0


def _entry_diagnoses(expected: sp.Matrix, claim: sp.Matrix, bad: list[int]) -> list[str]:
    parts: list[str] = []
    cols = expected.cols
    for idx in bad:
        at = f"({idx // cols + 1},{idx % cols + 1})"
        e, c = expected[idx], claim[idx]
        if is_zero(c + e):
            parts.append(f"{at} has the wrong sign")
            continue
        missing = sp.simplify(e - c)
        e_terms = sp.Add.make_args(sp.expand(e))
        m_terms = sp.Add.make_args(sp.expand(missing))
        if m_terms and all(t in e_terms for t in m_terms):
            parts.append(f"{at} is missing the term(s) {sp.sstr(missing)}")
            continue
        extra = -missing
        c_terms = sp.Add.make_args(sp.expand(c))
        x_terms = sp.Add.make_args(sp.expand(extra))
        if x_terms and all(t in c_terms for t in x_terms):
            parts.append(f"{at} has the extra term(s) {sp.sstr(extra)}")
            continue
        ratio = sp.simplify(c / e) if e != 0 else None
        if ratio is not None and ratio.is_number:
            parts.append(f"{at} is off by the factor {sp.sstr(ratio)}")
    return parts


def _region(kinks: Sequence[sp.Expr], good: Sequence[Point],
            bad: Sequence[Point]) -> str | None:
    """"wrong only where k > 0" when every differing point has one sign of a kink argument
    and every agreeing point the other."""
    for k in kinks:
        def sign(p: Point, k: sp.Expr = k) -> int:
            v = value(k, p)
            return 0 if v is None else (1 if v > 0 else -1)

        bs, gs = {sign(p) for p in bad}, {sign(p) for p in good}
        if len(bs) == 1 and gs and bs.isdisjoint(gs) and 0 not in bs | gs:
            (sb,) = bs
            rel, other = (">", "<") if sb > 0 else ("<", ">")
            return (f"it differs only where {sp.sstr(k)} {rel} 0 (it agrees where "
                    f"{sp.sstr(k)} {other} 0)")
    return None
