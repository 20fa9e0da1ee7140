"""The judge behind `verify`: is a claimed Jacobian right? If not, where, at which point, why?

:func:`compare` is the one checker every proof in jacobian_lab goes through (user claims,
the catalog's results at concrete sizes, the notes' errata). Its rules (DESIGN.md, "the
judge"):

* ``symbolic`` — every entry of ``claim − truth`` simplifies to 0 (and the claim has no
  domain restriction the truth lacks, and agrees on every kink, see below);
* ``sampled`` — otherwise both sides are evaluated exactly (rational points) or to 30
  significant digits at points from :mod:`jacobian_lab.judge.sampler`: many magnitudes, both signs,
  the constants of the expressions, inside each function's domain, both sides of every sign
  change. Values are compared relative to their magnitude (exactly where both are
  rational), and an apparent difference is re-checked at 60 digits so cancellation cannot
  fake one.
* A claim **undefined** (or complex) where the true derivative is defined is wrong there.
* **On every kink** (a zero of a kink argument, solved exactly or refined to 60 digits) the
  truth is decided from the one-sided limits of the derivative: where they agree the
  function is differentiable and that value is the derivative (``relu(x) − relu(−x)`` has
  derivative 1 at 0); only where they differ does the convention apply (ReLU'(0) = 0).

A claim that differs anywhere is ``incorrect``, with the differing entries, the counterexample,
both values and a diagnosis; one that could not be evaluated is ``undecided``, with the reason.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import sympy as sp

from jacobian_lab import budget
from jacobian_lab.errors import BudgetExceeded, ShapeError
from jacobian_lab.judge import sampler
from jacobian_lab.judge.sampler import Point, differing, kink_arguments, value
from jacobian_lab.judge.verdict import KINK_DIAGNOSIS, Check, Evidence, Mismatch, mismatches
from jacobian_lab.judge.witness import refute
from jacobian_lab.language.functions import to_elementary

DIGITS = sampler.DIGITS
DEFAULT_BUDGET = 10.0  # seconds of sampling before an honest "undecided"
_SIMPLIFY_MAX_OPS = 300
_SIMPLIFY_SECONDS = 2.0  # per entry, at most half of what the caller's budget has left
_STEP_H = sp.Rational(1, 10**30)  # one-sided offset from a kink point, relative

__all__ = ["Check", "Evidence", "Mismatch", "compare", "kink_arguments", "sample_points",
           "verify"]


# --------------------------------------------------------------------------- comparing values


def sample_points(variables: Sequence[sp.Symbol], exprs: Sequence[sp.Expr], count: int = 12,
                  seed: int = 0) -> tuple[list[Point], list[sp.Expr]]:
    """Random points where every expression is defined, off every kink, both signs of every
    kink argument covered where possible; and the kink arguments."""
    s = sampler.Sampler(variables, exprs, seed=seed)
    return s.random_points(count)[0], s.kinks


# --------------------------------------------------------------------------- on kinks


def _sides(kink: sp.Expr, point: Point) -> tuple[Point, Point]:
    """Two points just off ``point``, on the negative and the positive side of ``kink``:
    along ∓/±∇kink, at a relative distance of 1e-30 (exact where the point is)."""
    grad = {v: value(sp.diff(kink, v), point, sampler.WORK_DIGITS) for v in point}
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


def _kink_verdict(
    exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr], idx: Sequence[int], point: Point,
    kink: sp.Expr,
) -> tuple[dict[int, tuple[float | None, float | None]], str] | None:
    """Judge the claim ON a kink point: the truth of an entry with a step whose argument
    vanishes here is its one-sided limit where both agree (the function is differentiable
    there), else the convention's value; other entries are continuous here."""
    exact = all(v.is_Rational or v.is_algebraic for v in point.values())
    snap = () if exact else (kink,)
    digits = sampler.DIGITS if exact else sampler.WORK_DIGITS
    active: dict[sp.Expr, bool] = {}

    def vanishes(arg: sp.Expr) -> bool:
        if arg not in active:
            active[arg] = sampler.tiny_at(arg, point)
        return active[arg]

    sides: tuple[Point, Point] | None = None
    bad: dict[int, tuple[float | None, float | None]] = {}
    why = ""
    for i in idx:
        conv = value(exp_el[i], point, digits, snap=snap)
        smooth, truth = True, conv
        if any(vanishes(a) for a in _switches(exp_el[i])):
            sides = sides or _sides(kink, point)
            left, right = (value(exp_el[i], p, sampler.WORK_DIGITS) for p in sides)
            smooth = left is not None and right is not None and _close(left, right)
            truth = (left + right) / 2 if smooth else conv  # type: ignore[operator]
        if truth is None:
            continue
        try:
            cv = value(clm_el[i], point, digits, snap=snap, strict=True)
        except sampler.TooCostly:
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


def _kink_diagnosis(why: str, kink: sp.Expr, point: Point,
                    bad: dict[int, tuple[float | None, float | None]]) -> str:
    at = _point_text(point)
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


def _point_text(point: Point) -> str:
    return ", ".join(f"{k} = {float(sp.N(v)):.6g}" for k, v in point.items())


# --------------------------------------------------------------------------- compare


def _is_zero(expr: sp.Expr) -> bool:
    expr = to_elementary(expr)
    if expr == 0:
        return True
    # simplification is an optimisation: past its share of the time, sample instead
    seconds = min(_SIMPLIFY_SECONDS, budget.remaining() / 2)
    try:
        with budget.deadline(seconds):
            if sp.count_ops(expr) > _SIMPLIFY_MAX_OPS:
                return bool(sp.expand(expr) == 0)
            return bool(sp.simplify(expr) == 0)
    except (TypeError, ValueError, NotImplementedError, RecursionError, BudgetExceeded):
        return False


def _as_matrix(m: Any) -> sp.Matrix:
    if isinstance(m, sp.MatrixBase):
        return sp.Matrix(m)
    if isinstance(m, list | tuple):
        if m and isinstance(m[0], list | tuple):
            return sp.Matrix(m)
        return sp.Matrix([list(m)])
    return sp.Matrix([[m]])


def _shape_text(shape: tuple[int, int]) -> str:
    return f"{shape[0]}×{shape[1]}"


_TRANSPOSE_DIAGNOSIS = (
    "transposed (denominator layout): the claim{shapes} is the transpose of the Jacobian "
    "written in denominator layout (rows = variables); numerator layout puts one row per "
    "output — use --layout denominator if you meant it"
)


def _restrictions(objs: Sequence[sp.Expr]) -> set[sp.Expr]:
    return {*sampler.domain_conditions(*objs), *sampler.singular_arguments(*objs)}


def compare(
    expected: Any,
    claim: Any,
    samples: int = 12,
    seed: int = 0,
    diagnose: bool = True,
    extra_exprs: Sequence[sp.Expr] = (),
    kink_points: int | None = None,
    fast: bool = False,
    witness: bool = True,
    seconds: float | None = None,
) -> Check:
    """Compare a claimed matrix with the expected one (the truth), entry by entry.

    ``extra_exprs`` (e.g. the original function) take part in choosing sample points, so
    their domains and kinks are respected too. ``kink_points`` points are tried exactly on
    each kink (default :data:`jacobian_lab.judge.sampler.KINK_POINTS`). ``fast`` (for mutation
    testing, where most claims are wrong) skips the symbolic simplification and the
    diagnosis and stops at the first differing point; it first looks for a quick float64 witness
    (:func:`jacobian_lab.judge.witness.refute`) unless ``witness=False`` (the caller already did).
    ``seconds``: time for sampling (default :data:`DEFAULT_BUDGET`, and never more than an
    enclosing :func:`jacobian_lab.budget.deadline` leaves); past it the verdict is
    ``undecided`` unless a counterexample was found.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> compare(sp.Matrix([[2*x]]), sp.Matrix([[x + x]])).summary()
    'correct (symbolic: the difference simplifies to 0)'
    >>> compare(sp.Matrix([[2*x]]), sp.Matrix([[3*x]])).verdict
    'incorrect'
    """
    start = time.monotonic()
    deadline = start + min(DEFAULT_BUDGET if seconds is None else seconds, budget.remaining())
    expected, claim = _as_matrix(expected), _as_matrix(claim)
    if claim.shape != expected.shape:
        return _wrong_shape(expected, claim, samples, seed, extra_exprs, diagnose and not fast)
    truth_exprs = [*expected, *extra_exprs]
    diagnose = diagnose and not fast
    diffs = [claim[i] - expected[i] for i in range(len(expected))]
    undecided = [i for i, d in enumerate(diffs) if not (d == 0 if fast else _is_zero(d))]
    kinks = kink_arguments(*truth_exprs, *claim)
    discontinuous = expected.has(sp.Heaviside, sp.sign) or claim.has(sp.Heaviside, sp.sign)
    if not undecided:
        extra_domain = _restrictions(list(claim)) - _restrictions(truth_exprs)
        if not extra_domain and not (discontinuous and kinks and not fast):
            return Check("correct", "symbolic", expected, claim)
    variables = sorted(set().union(*(e.free_symbols for e in [*truth_exprs, *claim])), key=str)
    if fast and witness:
        quick = refute(expected, claim, seed=seed, extra_exprs=extra_exprs,
                       kink_search=sampler.KINK_POINTS > 0)
        if quick is not None:
            return quick
    symbolic = not undecided
    idx = list(range(len(expected))) if symbolic else undecided
    # relu, sigmoid and softplus evaluate themselves: no rewriting (building the Max of a
    # rewrite costs seconds on a network's explicit gradient)
    exp_el, clm_el = list(expected), list(claim)
    s = sampler.Sampler(variables, truth_exprs, list(claim), seed=seed, deadline=deadline,
                        known_kinks=kinks,
                        domain=list(extra_exprs) or None)
    kink_text = tuple(sp.sstr(k) for k in s.kinks)

    def incorrect(point: Point, bad: dict[int, tuple[float | None, float | None]],
                  diagnosis: str | None, evidence: Evidence) -> Check:
        return Check("incorrect", "sampled", expected, claim,
                     mismatches=mismatches(expected, claim, bad),
                     counterexample={str(k): float(sp.N(v)) for k, v in point.items()},
                     diagnosis=diagnosis, points=evidence.points, kinks=kink_text,
                     evidence=evidence)

    points, tries = s.random_points(samples) if variables else ([{}], 1)
    if variables and points:
        points += s.root_side_points(points, count=4 if fast else samples)
    good: list[Point] = []
    bad_found: list[tuple[Point, dict[int, tuple[float | None, float | None]]]] = []
    evaluated = 0
    for p in points:
        if time.monotonic() > deadline:
            break
        bad = differing(exp_el, clm_el, idx, p, thorough=s.exact and not fast)
        evaluated += any(value(exp_el[i], p) is not None for i in idx)
        if bad:
            bad_found.append((p, bad))
            if fast:
                break
        else:
            good.append(p)
    evidence = Evidence(len(points), 0, sampler.magnitude_range(points), tries)
    if bad_found:
        # the counterexample closest to magnitude 1, rounded where it stays one, is the
        # easiest to check by hand
        p, bad = min(bad_found, key=lambda pb: _plainness(pb[0]))
        p, bad = _rounded(p, bad, exp_el, clm_el, idx, s)
        why = None
        if diagnose:
            why = _diagnose(expected, claim, exp_el, clm_el, points, p, bad, good, bad_found,
                            s.kinks)
        return incorrect(p, bad, why, evidence)
    if variables and evaluated == 0:
        return _undecided(expected, claim, s, tries, deadline, kink_text)

    per_kink = sampler.KINK_POINTS if kink_points is None else kink_points
    on_kinks = 0
    if per_kink and s.kinks:
        for point, kink in s.kink_points(good or points, per_kink):
            if time.monotonic() > deadline:
                break
            on_kinks += 1
            found = _kink_verdict(exp_el, clm_el, idx, point, kink)
            if found is not None:
                bad, why = found
                ev = Evidence(len(points) + on_kinks, on_kinks, evidence.magnitudes, tries)
                return incorrect(point, bad, _kink_diagnosis(why, kink, point, bad), ev)
    evidence = Evidence(len(points) + on_kinks, on_kinks, evidence.magnitudes, tries)
    if time.monotonic() > deadline and len(good) < samples:
        return Check("undecided", "none", expected, claim, kinks=kink_text, evidence=evidence,
                     diagnosis=f"budget ({deadline - start:.0f} s) spent after "
                               f"{len(good)} agreeing points (no counterexample found)")
    if symbolic:
        return Check("correct", "symbolic", expected, claim, kinks=kink_text,
                     evidence=evidence, points=evidence.points)
    return Check("correct", "sampled", expected, claim, points=evidence.points,
                 kinks=kink_text, evidence=evidence)


def _plainness(point: Point) -> float:
    """How far the coordinates are from magnitude 1 (in decades); 0 counts as plain."""
    mags = [abs(float(sp.N(v))) for v in point.values()]
    return max((abs(math.log10(m)) for m in mags if m > 0), default=0.0)


def _rounded(point: Point, bad: dict[int, tuple[float | None, float | None]],
             exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr], idx: Sequence[int],
             s: sampler.Sampler) -> tuple[Point, dict[int, tuple[float | None, float | None]]]:
    """The counterexample with its coordinates rounded to 1, 2 or 3 significant digits, if
    that is still a counterexample (off every kink, in the domain); else as it was."""
    for digits in (1, 2, 3):
        nicer = {v: _round(x, digits) for v, x in point.items()}
        if sampler.near_kink(s.kinks, nicer) or not s.defined(nicer):
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


def _undecided(expected: sp.Matrix, claim: sp.Matrix, s: sampler.Sampler, tries: int,
               deadline: float, kink_text: tuple[str, ...]) -> Check:
    """No point where the truth is defined: say what was tried and why it failed."""
    if time.monotonic() > deadline:
        why = f"budget spent before a point of the domain was found ({tries} points tried)"
    else:
        why = (f"the derivative is undefined at all {tries} points tried (magnitudes 1e-3 … "
               f"1e6, both signs, the constants of the expressions, both sides of every sign "
               f"change of {len(s.kinks)} kink and domain arguments): its domain may be empty "
               "or too thin to sample")
    return Check("undecided", "none", expected, claim, diagnosis=why, kinks=kink_text,
                 evidence=Evidence(0, 0, None, tries))


def _wrong_shape(expected: sp.Matrix, claim: sp.Matrix, samples: int, seed: int,
                 extra_exprs: Sequence[sp.Expr], diagnose: bool) -> Check:
    """A claim of another shape is never reshaped: the transpose of the Jacobian is
    ``incorrect`` (denominator layout); any other shape is a :class:`ShapeError`."""
    if claim.shape == expected.T.shape:
        inner = compare(expected.T, claim, samples, seed, diagnose=False,
                        extra_exprs=extra_exprs) if diagnose else None
        text = _TRANSPOSE_DIAGNOSIS.format(
            shapes=f" ({_shape_text(claim.shape)}; the Jacobian is {_shape_text(expected.shape)})")
        if inner is None or inner.ok:
            return Check("incorrect", inner.method if inner else "none", expected, claim,
                         diagnosis=text, points=inner.points if inner else 0)
    raise ShapeError(
        f"The claim is {_shape_text(claim.shape)} but the Jacobian is "
        f"{_shape_text(expected.shape)} (numerator layout: one row per output, "
        "one column per variable)"
    )


# --------------------------------------------------------------------------- diagnosis


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


def _diagnose(
    expected: sp.Matrix, claim: sp.Matrix, exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr],
    points: Sequence[Point], bad_point: Point, bad: dict[int, tuple[float | None, float | None]],
    good: Sequence[Point], bad_found: Sequence[tuple[Point, Any]], kinks: Sequence[sp.Expr],
) -> str | None:
    """Name the likely mistake: transpose, constant factor, sign, missing term, undefined, or
    the region where it differs."""
    if any(c is None for _, c in bad.values()):
        i = next(i for i, (_, c) in bad.items() if c is None)
        e = bad[i][0]
        return (f"the claim is undefined at {_point_text(bad_point)}; the derivative is "
                f"{e:.10g} there (entry ({i // expected.cols + 1},{i % expected.cols + 1}))")
    if expected.is_square and expected.rows > 1:
        t = compare(expected.T, claim, seed=1, diagnose=False, kink_points=0)
        if t.ok:
            return _TRANSPOSE_DIAGNOSIS.format(shapes="")
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
                        f"{_point_text(bad_point)})")
            if k == -1:
                return "every entry has the wrong sign (the claim is −1 × the Jacobian)"
            return f"the claim is the Jacobian times a constant factor {sp.sstr(k)}"
    parts = _entry_diagnoses(expected, claim, sorted(bad))
    region = _region(kinks, good, [p for p, _ in bad_found])
    if region:
        parts.append(region)
    return "; ".join(parts) if parts else None


def _entry_diagnoses(expected: sp.Matrix, claim: sp.Matrix, bad: list[int]) -> list[str]:
    parts: list[str] = []
    cols = expected.cols
    for idx in bad:
        at = f"({idx // cols + 1},{idx % cols + 1})"
        e, c = expected[idx], claim[idx]
        if _is_zero(c + e):
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
    from jacobian_lab.judge.component import (
        jacobian,  # component builds on the checker (chain's check)
    )

    expected = jacobian(list(exprs), wrt, layout=layout)
    return compare(expected, claim, samples=samples, seed=seed, extra_exprs=list(exprs),
                   seconds=seconds)
