"""Evaluating both sides of a claim at a point, to 30 significant digits (exactly where the
point and the expression allow), and comparing the values relative to their magnitude."""

from __future__ import annotations

import math
from collections.abc import Sequence

import sympy as sp

from jacobian_lab import budget
from jacobian_lab.errors import BudgetExceeded

DIGITS = 30
"""Significant digits of every sampled value."""
WORK_DIGITS = 60
"""Digits of the points found numerically on kinks, and of the cancellation re-check."""
SNAP = sp.Float("1e-40")
"""A step's argument smaller than this (relative to its terms) at a kink point is 0 there."""
REL_TOL = 1e-15
FINE_TOL = sp.Float("1e-27")
"""A relative difference above this is re-checked as the difference itself at 30 and 60
digits: it counts when it keeps its value (a cancellation artefact shrinks)."""
"""Values closer than this, relative to their magnitude, are equal (30 digits agree to ~1e-28)."""

EVAL_SECONDS = 1.0
"""Time one evaluation may take before the point is given up."""

Point = dict[sp.Symbol, sp.Expr]


class TooCostly(Exception):
    """An evaluation that would take more than :data:`EVAL_SECONDS`."""


def value(expr: sp.Expr, point: Point, digits: int = DIGITS,
          snap: Sequence[sp.Expr] = (), strict: bool = False,
          digitless_zero: bool = False) -> sp.Expr | None:
    """``expr`` at ``point`` as an exact Rational or a real Float of ``digits`` digits;
    ``None`` where it is undefined (a pole, a log of a negative, a complex value).

    ``snap``: kink arguments that vanish at the point (a kink point found numerically): a
    step or sign of such an argument takes its value at 0 (its convention) there. Past
    :data:`EVAL_SECONDS` (``sin(exp(x))`` at x = 1e6 needs exp(1e6) to 434,000 digits) the
    result is ``None``, or with ``strict`` :class:`TooCostly` (a claim too costly to evaluate
    is not an undefined claim: such a point is no evidence either way). So is a value of no
    significant digit (SymPy's ``0.e-139``: a cancellation it could not resolve), unless
    ``digitless_zero`` (the cancellation re-check, where it means "zero to this precision").
    """
    if snap:
        expr = _snapped(expr, point)
    if any(isinstance(x, sp.Float) for x in point.values()):
        # a Float evaluates sigmoid(z), sin(z) … at once, at its own precision: 30 more
        # digits (the same binary value) keep 1 − sigmoid(46) exact to ``digits`` digits
        point = {v: sp.Float(x, digits + 30) if isinstance(x, sp.Float) else x
                 for v, x in point.items()}
    try:
        with budget.deadline(EVAL_SECONDS):
            val = expr.xreplace(point)
            if val.is_Rational:
                return val
            val = val.evalf(digits)
            if val.is_Float and (val == 0 or val._prec < 10) and not digitless_zero:
                # no significant digit: a cancellation SymPy could not resolve (tanh(5000)^2
                # - 1 needs 4,300 digits); one more try, then the value is unknown
                val = expr.xreplace(point).evalf(digits, maxn=max(400, 4 * digits))
                if val.is_Float and (val == 0 or val._prec < 10):
                    raise BudgetExceeded(0.0, "a value with no significant digit", "")
    except (ZeroDivisionError, ValueError, TypeError, OverflowError, RecursionError):
        return None
    except (BudgetExceeded, MemoryError, KeyError):  # too costly (exp(-exp(1e6)) runs out of
        if strict:                                    # memory; SymPy then says KeyError)
            raise TooCostly(sp.sstr(expr)[:80]) from None
        return None
    if val.has(sp.zoo, sp.nan, sp.oo, -sp.oo) or not val.is_number:
        return None
    if val.has(sp.I):  # complex: real only if the imaginary part is rounding (exp(I x) forms)
        re, im = val.as_real_imag()
        if not (re.is_number and im.is_number) or abs(im) > sp.Float("1e-25") * max(
                abs(re), sp.Float("1e-300")):
            return None
        val = re
    if not (val.is_Float or val.is_Rational):
        try:
            val = sp.Float(val, digits)
        except (TypeError, ValueError):
            return None
    return val


def tiny_at(arg: sp.Expr, point: Point) -> bool:
    """Is ``arg`` zero at ``point``, exactly or to 40 digits relative to its terms?"""
    v = value(arg, point, WORK_DIGITS)
    if v is None:
        return False
    if v == 0:
        return True
    return bool(abs(v) <= SNAP * _scale(arg, point))


def _scale(expr: sp.Expr, point: Point) -> sp.Expr:
    """The largest magnitude among the terms of ``expr`` at ``point`` (at least 1e-300)."""
    terms = sp.Add.make_args(expr)
    best = sp.Float("1e-300")
    for t in terms:
        v = value(t, point, 15)
        if v is not None and abs(v) > best:
            best = abs(v)
    return best


def _snapped(expr: sp.Expr, point: Point) -> sp.Expr:
    """``expr`` with every step/sign whose argument vanishes at ``point`` replaced by its
    value at 0."""
    def at_zero(node: sp.Basic) -> sp.Basic:
        if isinstance(node, sp.Heaviside):
            return node.args[1] if len(node.args) > 1 else sp.S.Half
        return sp.S.Zero

    return expr.replace(
        lambda n: isinstance(n, sp.Heaviside | sp.sign) and tiny_at(n.args[0], point),
        at_zero,
    )


def near_kink(kinks: Sequence[sp.Expr], point: Point) -> bool:
    """Is some kink argument zero at ``point`` to 20 digits relative to its terms? Such a
    point belongs to :func:`kink_points`, not to the random samples."""
    for k in kinks:
        v = value(k, point, DIGITS)
        if v is None:  # complex or undefined there (Abs(x**(4/3)) at x < 0): no switch
            continue
        if v == 0:
            return True
        if v.is_Rational:  # exact and not 0
            continue
        if abs(v) < 1e-3 and abs(v) <= sp.Float("1e-20") * _scale(k, point):
            return True
    return False


def differs(ev: sp.Expr, cv: sp.Expr, diff: sp.Expr | None = None,
            point: Point | None = None, thorough: bool = False) -> bool:
    """Do two values differ? Exactly for rationals; else any relative difference above
    :data:`FINE_TOL` is confirmed by evaluating ``diff`` (claim − truth) at 30 and 60
    digits: a true difference keeps its value, a cancellation artefact shrinks with the
    precision. ``thorough``: the difference is evaluated even when the values agree to 30
    digits (a term 1e-38 of the total is seen; one more evaluation per entry). Without
    ``diff``: relative to their magnitude, above :data:`REL_TOL`."""
    if ev.is_Rational and cv.is_Rational:
        return bool(ev != cv)
    if ev == cv and not thorough:  # equal to 30 digits (thorough: look at the difference)
        return False
    big = max(abs(ev), abs(cv))
    if diff is None or point is None:
        return bool(abs(cv - ev) > REL_TOL * big)
    # two 30-digit values of one number agree to ~1e-29; anything more may be a real
    # difference however small beside the values (a dropped term 1e-19 of the total)
    if abs(cv - ev) <= FINE_TOL * big and not thorough:
        return False
    d1 = value(diff, point, DIGITS, strict=True, digitless_zero=True)
    if thorough and d1 is not None and (d1 == 0 or (d1.is_Float and d1._prec < 10)):
        return False  # zero to 30 digits of the difference itself
    d2 = value(diff, point, WORK_DIGITS, strict=True, digitless_zero=True)
    if d1 is None or d2 is None:
        return bool(abs(cv - ev) > REL_TOL * big)
    digits = d2.is_Rational or d2._prec >= 10
    return bool(digits and d2 != 0 and abs(d2 - d1) <= sp.Float("1e-10") * abs(d2))


def differing(exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr], idx: Sequence[int],
              point: Point, thorough: bool = False
              ) -> dict[int, tuple[float | None, float | None]]:
    """The entries (of ``idx``) whose two sides differ at ``point``, index → (truth, claim);
    a claim undefined where the truth is defined differs (its value is ``None``); entries
    whose truth is undefined there, or too costly to evaluate, are skipped."""
    bad: dict[int, tuple[float | None, float | None]] = {}
    for i in idx:
        try:
            ev = value(exp_el[i], point, strict=True)
            if ev is None:
                continue
            cv = value(clm_el[i], point, strict=True)
            if cv is None:
                bad[i] = (float(ev), None)
            elif differs(ev, cv, clm_el[i] - exp_el[i], point, thorough):
                bad[i] = (float(ev), float(cv))
        except TooCostly:
            continue
    return bad


def dyadic(x: float, bits: int = 24) -> sp.Rational:
    """``x`` rounded to ``bits`` significant bits, as an exact Rational (short, so that
    polynomials in it evaluate exactly and fast)."""
    if x == 0 or not math.isfinite(x):
        return sp.S.Zero
    e = math.frexp(x)[1] - bits
    return sp.Rational(round(math.ldexp(x, -e))) * sp.Rational(2) ** e
