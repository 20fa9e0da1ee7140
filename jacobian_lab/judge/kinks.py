"""The judge on a kink: the truth of an entry at a zero of a kink argument.

Where both one-sided derivatives agree the function is differentiable and that value is the
derivative (``relu(x) − relu(−x)`` has derivative 1 at 0); only where they differ does the
convention apply (ReLU'(0) = 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from jacobian_lab.judge.values import DIGITS, WORK_DIGITS, Point, TooCostly, tiny_at, value
from jacobian_lab.judge.verdict import KINK_DIAGNOSIS

_STEP_H = sp.Rational(1, 10**30)  # one-sided offset from a kink point, relative


def _sides(kink: sp.Expr, point: Point) -> tuple[Point, Point]:
    """Two points just off ``point``, on the negative and the positive side of ``kink``:
    along ∓/±∇kink, at a relative distance of 1e-30 (exact where the point is)."""
    grad = {v: value(sp.diff(kink, v), point, WORK_DIGITS) for v in point}
    if all(g is None or g == 0 for g in grad.values()):
        grad = {v: sp.S.One for v in point}
    norm = max(abs(g) for g in grad.values() if g is not None)
    left, right = ({v: x + s * _STEP_H * max(1, abs(x)) * (grad[v] or 0) / norm
                    for v, x in point.items()} for s in (-1, 1))
    return left, right


def _close(a: sp.Expr, b: sp.Expr) -> bool:
    return bool(abs(a - b) <= sp.Float("1e-12") * max(abs(a), abs(b)) + sp.Float("1e-40"))


def _switches(entry: sp.Expr) -> set[sp.Expr]:
    """The arguments whose sign switches ``entry`` discontinuously (steps, signs, the
    conditions of a Piecewise)."""
    out = {n.args[0] for n in entry.atoms(sp.Heaviside, sp.sign)}
    for pw in entry.atoms(sp.Piecewise):
        out |= {c.lhs - c.rhs for _, c in pw.args if isinstance(c, sp.core.relational.Relational)}
    return out


def kink_verdict(
    exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr], idx: Sequence[int], point: Point,
    kink: sp.Expr,
) -> tuple[dict[int, tuple[float | None, float | None]], str] | None:
    """Judge the claim ON a kink point: the truth of an entry with a step whose argument
    vanishes here is its one-sided limit where both agree (the function is differentiable
    there), else the convention's value; other entries are continuous here."""
    exact = all(v.is_Rational or v.is_algebraic for v in point.values())
    snap = () if exact else (kink,)
    digits = DIGITS if exact else WORK_DIGITS
    active: dict[sp.Expr, bool] = {}

    def vanishes(arg: sp.Expr) -> bool:
        if arg not in active:
            active[arg] = tiny_at(arg, point)
        return active[arg]

    sides: tuple[Point, Point] | None = None
    bad: dict[int, tuple[float | None, float | None]] = {}
    why = ""
    for i in idx:
        conv = value(exp_el[i], point, digits, snap=snap)
        smooth, truth = True, conv
        if any(vanishes(a) for a in _switches(exp_el[i])):
            sides = sides or _sides(kink, point)
            left, right = (value(exp_el[i], p, WORK_DIGITS) for p in sides)
            smooth = left is not None and right is not None and _close(left, right)
            truth = (left + right) / 2 if smooth else conv  # type: ignore[operator]
        if truth is None:
            continue
        try:
            cv = value(clm_el[i], point, digits, snap=snap, strict=True)
        except TooCostly:
            continue
        if cv is None:
            if smooth:
                bad[i] = (float(truth), None)
                why = why or "undefined"
            continue
        if not _close(truth, cv):
            bad[i] = (float(truth), float(cv))
            why = why or ("differentiable" if smooth else "convention")
    return (bad, why) if bad else None


def kink_diagnosis(why: str, kink: sp.Expr, point: Point,
                    bad: dict[int, tuple[float | None, float | None]]) -> str:
    at = point_text(point)
    truth = next(iter(bad.values()))[0]
    if why == "convention":
        return KINK_DIAGNOSIS.format(kink=sp.sstr(kink))
    if why == "undefined":
        return (f"the claim is undefined at {at} (on the kink {sp.sstr(kink)} = 0, where the "
                f"function is differentiable); the derivative is {truth:.10g}")
    return (f"at {at} (on the kink {sp.sstr(kink)} = 0) both one-sided derivatives are "
            f"{truth:.10g}, so the function is differentiable there and that is its "
            "derivative; the claim gives another value (a convention such as ReLU'(0) = 0 "
            "applies only where the function is not differentiable)")


def point_text(point: Point) -> str:
    return ", ".join(f"{k} = {float(sp.N(v)):.6g}" for k, v in point.items())
