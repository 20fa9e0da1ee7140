"""The checker behind `verify`: is a claimed Jacobian right? If not, where, at which point, and why?

:func:`compare` is the one checker every proof in jacobian_lab goes through (user claims,
the catalog's matrix-layer results at concrete sizes, the notes' errata). It decides in two
ways and always says which:

* ``symbolic`` — every entry of ``claim − expected`` simplifies to 0;
* ``sampled`` — simplification could not decide, so both are evaluated with 30 significant
  digits at random points inside the domain (log, sqrt and division are respected by
  rejecting points where either side is undefined) and away from kinks (points within 1e-6
  of a ``Max``/``Min``/``Heaviside``/``Abs``/``sign``/``relu`` switch are rejected, and both
  sides of every switch are sampled when the variables allow it). Then, since the value ON a
  switch is a convention the claim must share (ReLU'(0) = 0), both sides are also evaluated
  exactly at points on each kink (found by solving a kink argument for a variable it is
  linear in).

A claim that differs at a sampled point is ``incorrect`` — with the differing entries, the
counterexample point, both values and a diagnosis (transpose / denominator layout, constant
factor, sign, missing term). A claim that could not be evaluated anywhere is ``undecided``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp

from .errors import ShapeError
from .functions import relu, to_elementary

Verdict = Literal["correct", "incorrect", "undecided"]
Method = Literal["symbolic", "sampled", "none"]

DIGITS = 30
REL_TOL = 1e-15  # at 30 significant digits a true identity agrees to ~1e-28
KINK_MARGIN = 1e-6
KINK_POINTS = 2  # points tried exactly on each kink
_SIMPLIFY_MAX_OPS = 300


@dataclass(frozen=True)
class Mismatch:
    """One entry where the claim differs from the truth (1-based row/col for people)."""

    row: int
    col: int
    expected: sp.Expr
    claimed: sp.Expr
    expected_value: float | None = None
    claimed_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "col": self.col,
            "expected": sp.sstr(self.expected),
            "claimed": sp.sstr(self.claimed),
            "expected_value": self.expected_value,
            "claimed_value": self.claimed_value,
        }


@dataclass(frozen=True)
class Check:
    """The outcome of comparing a claim with the truth."""

    verdict: Verdict
    method: Method
    expected: sp.Matrix
    claim: sp.Matrix
    mismatches: tuple[Mismatch, ...] = ()
    counterexample: dict[str, float] | None = None
    diagnosis: str | None = None
    points: int = 0
    max_error: float = 0.0
    kinks: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.verdict == "correct"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "method": self.method,
            "points": self.points,
            "max_error": self.max_error,
            "mismatches": [m.to_dict() for m in self.mismatches],
            "counterexample": self.counterexample,
            "diagnosis": self.diagnosis,
            "kinks": list(self.kinks),
            "notes": list(self.notes),
        }

    def _repr_markdown_(self) -> str:
        """Jupyter: the verdict, the matrices and the counterexample."""
        from .latex import latex

        lines = [f"**{self.verdict}** ({self.method}): {self.summary()}", ""]
        lines.append(f"$$\\text{{claimed}} = {latex(self.claim)} \\quad "
                     f"\\text{{correct}} = {latex(self.expected)}$$")
        if self.counterexample:
            at = ", ".join(f"{k} = {v:.6g}" for k, v in self.counterexample.items())
            lines.append(f"counterexample: {at}")
        return "\n".join(lines)

    def summary(self) -> str:
        if self.verdict == "correct":
            how = (
                "the difference simplifies to 0"
                if self.method == "symbolic"
                else f"equal to {DIGITS} digits at {self.points} random points in the domain"
            )
            return f"correct ({self.method}: {how})"
        if self.verdict == "undecided":
            return "undecided: " + (self.diagnosis or "no point of the domain could be evaluated")
        where = ", ".join(f"({m.row},{m.col})" for m in self.mismatches)
        return f"incorrect: entries {where} differ" + (
            f" — {self.diagnosis}" if self.diagnosis else ""
        )


# --------------------------------------------------------------------------- sampling


def kink_arguments(*objs: sp.Basic) -> list[sp.Expr]:
    """The expressions whose sign switches a non-smooth function (ReLU's 0, |x|'s 0, …)."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, relu | sp.Heaviside | sp.Abs | sp.sign):
                out.append(node.args[0])
            elif isinstance(node, sp.Max | sp.Min):
                a = node.args
                out.extend(a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a)))
            elif isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    if isinstance(cond, sp.core.relational.Relational):
                        out.append(cond.lhs - cond.rhs)
    uniq: list[sp.Expr] = []
    for e in out:
        if e.free_symbols and e not in uniq:
            uniq.append(e)
    return uniq


def _value(expr: sp.Expr, sub: dict[sp.Symbol, sp.Float]) -> sp.Expr | None:
    """Evaluate to a real Float with DIGITS digits, or None where undefined."""
    try:
        val = expr.xreplace(sub).evalf(DIGITS)
    except (ZeroDivisionError, ValueError, TypeError, OverflowError):
        return None
    if val.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I) or not val.is_number:
        return None
    if not (val.is_Float or val.is_Integer or val.is_Rational):
        try:
            val = sp.Float(val, DIGITS)
        except TypeError:
            return None
    return val


def _error(ev: sp.Expr, cv: sp.Expr) -> float:
    """The checker's error between two 30-digit values: relative above 1, absolute below."""
    return float(abs(cv - ev) / max(1, abs(ev)))


def _differing(
    exp_el: Sequence[sp.Expr], clm_el: Sequence[sp.Expr], idx: Sequence[int],
    point: dict[sp.Symbol, sp.Expr],
) -> dict[int, tuple[float, float]]:
    """The entries (of ``idx``) whose two sides differ at ``point``: index → (expected,
    claimed). Entries undefined there are skipped."""
    bad: dict[int, tuple[float, float]] = {}
    for i in idx:
        ev, cv = _value(exp_el[i], point), _value(clm_el[i], point)
        if ev is not None and cv is not None and _error(ev, cv) > REL_TOL:
            bad[i] = (float(ev), float(cv))
    return bad


def _mismatches(expected: sp.Matrix, claim: sp.Matrix,
                bad: dict[int, tuple[float, float]]) -> tuple[Mismatch, ...]:
    """:class:`Mismatch` records (1-based row and column) for the differing entries."""
    cols = expected.cols
    return tuple(Mismatch(i // cols + 1, i % cols + 1, expected[i], claim[i], *bad[i])
                 for i in sorted(bad))


def _candidate(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random point: mostly moderate values, sometimes small or large magnitudes."""
    scale = rng.choice([0.5, 2.0, 2.0, 3.0, 10.0, 100.0], size=n)
    return rng.uniform(-1.0, 1.0, size=n) * scale


def sample_points(
    variables: Sequence[sp.Symbol],
    exprs: Sequence[sp.Expr],
    count: int = 12,
    seed: int = 0,
    max_tries: int = 600,
) -> tuple[list[dict[sp.Symbol, sp.Float]], list[sp.Expr]]:
    """Random points where every expression is defined and no kink argument is near 0.

    Returns the points and the kink arguments. Both signs of every kink argument are sought:
    sampling continues (within ``max_tries``) until each sign has been seen where possible.
    """
    rng = np.random.default_rng(seed)
    kinks = kink_arguments(*exprs)
    elementary = [to_elementary(e) for e in exprs]
    points: list[dict[sp.Symbol, sp.Float]] = []
    signs_seen: list[set[int]] = [set() for _ in kinks]
    tries = 0
    while tries < max_tries:
        tries += 1
        covered = all(len(s) == 2 for s in signs_seen)
        if len(points) >= count and covered:
            break
        if len(points) >= 4 * count:
            break
        sub = {
            v: sp.Float(float(c), DIGITS)
            for v, c in zip(variables, _candidate(rng, len(variables)), strict=True)
        }
        maybe = [_value(k, sub) for k in kinks]
        if any(kv is None or abs(kv) < KINK_MARGIN for kv in maybe):
            continue
        kink_vals = [kv for kv in maybe if kv is not None]
        new_sign = any(
            (1 if kv > 0 else -1) not in seen
            for kv, seen in zip(kink_vals, signs_seen, strict=True)
        )
        if len(points) >= count and not new_sign:
            continue
        if any(_value(e, sub) is None for e in elementary):
            continue
        for kv, seen in zip(kink_vals, signs_seen, strict=True):
            seen.add(1 if kv > 0 else -1)
        points.append(sub)
    return points, kinks


def _on_kink(
    kink: sp.Expr, base: dict[sp.Symbol, sp.Float]
) -> dict[sp.Symbol, sp.Expr] | None:
    """A point exactly on the kink (``kink`` = 0), near ``base``, in exact rationals.

    The base point is rounded to multiples of 1/64 and one variable the kink argument is
    linear in (with a non-zero rational coefficient there) is solved for; ``None`` when no
    variable allows it (e.g. a kink at sigmoid(x)·w = 0 has no rational solution).
    """
    sub: dict[sp.Symbol, sp.Expr] = {
        v: sp.Rational(round(float(x) * 64), 64) for v, x in base.items()
    }
    for v in sorted(kink.free_symbols, key=str):
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
    return None


def _kink_mismatch(
    variables: Sequence[sp.Symbol],
    exprs: Sequence[sp.Expr],
    kinks: Sequence[sp.Expr],
    points: Sequence[dict[sp.Symbol, sp.Float]],
    idx: Sequence[int],
    exp_el: Sequence[sp.Expr],
    clm_el: Sequence[sp.Expr],
) -> tuple[dict[sp.Symbol, sp.Expr], dict[int, tuple[float, float]], sp.Expr] | None:
    """Evaluate both sides exactly ON each kink (a few points per kink).

    Sampling stays away from kinks, so a claim that differs only there — ReLU'(0) = 1 where
    the convention is ReLU'(0) = 0 — would pass unseen. Points where either side is
    undefined (x/|x| at 0) are skipped. Returns the point, the differing entries and the
    kink, or ``None`` when the claim agrees on every kink point tried.
    """
    for kink in kinks:
        for base in points:
            point = _on_kink(kink, {v: base[v] for v in variables if v in base})
            if point is None:
                continue
            if any(_value(e, point) is None for e in exprs):
                continue
            bad = _differing(exp_el, clm_el, idx, point)
            if bad:
                return point, bad, kink
    return None


_KINK_DIAGNOSIS = (
    "the claim agrees with the derivative away from the kink {kink} = 0 but not on it: "
    "the value at the switch follows a convention (here ReLU'(0) = step(0) = 0, as in the "
    "notes and PyTorch); the claim uses another"
)


# --------------------------------------------------------------------------- compare


def _is_zero(expr: sp.Expr) -> bool:
    expr = to_elementary(expr)
    if expr == 0:
        return True
    if sp.count_ops(expr) > _SIMPLIFY_MAX_OPS:
        return bool(sp.expand(expr) == 0)
    try:
        return bool(sp.simplify(expr) == 0)
    except (TypeError, ValueError, NotImplementedError, RecursionError):
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
) -> Check:
    """Compare a claimed matrix with the expected one, entry by entry.

    ``extra_exprs`` (e.g. the original function) take part in choosing sample points, so
    their domains and kinks are respected too. ``kink_points`` points are tried exactly on
    each kink (default :data:`KINK_POINTS`). ``fast`` (for mutation testing, where most
    claims are wrong) skips the symbolic simplification and the diagnosis and stops at the
    first differing point; it first looks for a quick float64 witness
    (:func:`jacobian_lab.witness.refute`) unless ``witness=False`` (the caller already did).

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> compare(sp.Matrix([[2*x]]), sp.Matrix([[x + x]])).summary()
    'correct (symbolic: the difference simplifies to 0)'
    >>> compare(sp.Matrix([[2*x]]), sp.Matrix([[3*x]])).verdict
    'incorrect'
    """
    expected = _as_matrix(expected)
    claim = _as_matrix(claim)
    if claim.shape != expected.shape:
        if claim.shape == expected.T.shape and diagnose and not fast:
            inner = compare(
                expected.T, claim, samples, seed, diagnose=False, extra_exprs=extra_exprs
            )
            if inner.ok:
                return Check(
                    "incorrect",
                    inner.method,
                    expected,
                    claim,
                    diagnosis=_TRANSPOSE_DIAGNOSIS.format(
                        c=_shape_text(claim.shape), e=_shape_text(expected.shape)
                    ),
                    points=inner.points,
                )
        raise ShapeError(
            f"The claim is {_shape_text(claim.shape)} but the Jacobian is "
            f"{_shape_text(expected.shape)} (numerator layout: one row per output, "
            "one column per variable)"
        )

    diffs = [claim[i] - expected[i] for i in range(len(expected))]
    undecided_idx = [i for i, d in enumerate(diffs) if not (d == 0 if fast else _is_zero(d))]
    diagnose = diagnose and not fast
    if not undecided_idx:
        return Check("correct", "symbolic", expected, claim)

    variables = sorted(
        set().union(
            expected.free_symbols, claim.free_symbols, *(e.free_symbols for e in extra_exprs)
        ),
        key=str,
    )
    exprs = [*expected, *claim, *extra_exprs]
    if fast and witness:
        from .witness import refute  # checker ← witness: imported when used

        quick = refute(expected, claim, seed=seed, extra_exprs=extra_exprs)
        if quick is not None:
            return quick
    points, kinks = sample_points(variables, exprs, count=samples, seed=seed)
    kink_text = tuple(sp.sstr(k) for k in kinks)
    if not points:
        return Check(
            "undecided",
            "none",
            expected,
            claim,
            diagnosis="no point of the domain found where both sides are defined",
            kinks=kink_text,
        )
    exp_el = [to_elementary(e) for e in expected]
    clm_el = [to_elementary(c) for c in claim]
    max_err = 0.0
    bad_point: dict[sp.Symbol, sp.Float] | None = None
    bad_points: list[dict[sp.Symbol, sp.Float]] = []
    for sub in points:
        for idx in undecided_idx:
            ev, cv = _value(exp_el[idx], sub), _value(clm_el[idx], sub)
            if ev is None or cv is None:
                continue
            err = _error(ev, cv)
            max_err = max(max_err, err)
            if err > REL_TOL:
                bad_points.append(sub)
                if fast:
                    break
        if fast and bad_points:
            break
    if bad_points:
        # The smallest counterexample is the easiest to check by hand.
        bad_point = min(
            bad_points, key=lambda p: max((abs(float(v)) for v in p.values()), default=0.0)
        )
    if bad_point is None:
        per_kink = KINK_POINTS if kink_points is None else kink_points
        at_kink = _kink_mismatch(variables, exprs, kinks, points[:per_kink], undecided_idx,
                                 exp_el, clm_el)
        if at_kink is not None:
            point, idx_bad, kink = at_kink
            return Check(
                "incorrect",
                "sampled",
                expected,
                claim,
                mismatches=_mismatches(expected, claim, idx_bad),
                counterexample={str(k): float(v) for k, v in point.items()},
                diagnosis=_KINK_DIAGNOSIS.format(kink=sp.sstr(kink)),
                points=len(points),
                max_error=max_err,
                kinks=kink_text,
            )
        return Check(
            "correct",
            "sampled",
            expected,
            claim,
            points=len(points),
            max_error=max_err,
            kinks=kink_text,
        )
    # Re-evaluate every entry at the counterexample so all differing entries are listed.
    bad = _differing(exp_el, clm_el, undecided_idx, bad_point)
    mismatches = _mismatches(expected, claim, bad)
    diagnosis = _diagnose(expected, claim, points, sorted(bad), extra_exprs) if diagnose else None
    return Check(
        "incorrect",
        "sampled",
        expected,
        claim,
        mismatches=mismatches,
        counterexample={str(k): float(v) for k, v in bad_point.items()},
        diagnosis=diagnosis,
        points=len(points),
        max_error=max_err,
        kinks=kink_text,
    )


_TRANSPOSE_DIAGNOSIS = (
    "the claim is the transpose of the Jacobian ({c} instead of {e}): it is written in "
    "denominator layout (rows = variables); numerator layout puts one row per output"
)


def _diagnose(
    expected: sp.Matrix,
    claim: sp.Matrix,
    points: list[dict[sp.Symbol, sp.Float]],
    bad: list[int],
    extra_exprs: Sequence[sp.Expr],
) -> str | None:
    """Name the likely mistake: transpose, constant factor, sign, missing terms."""
    if expected.is_square and expected.rows > 1:
        t = compare(expected.T, claim, seed=1, diagnose=False, extra_exprs=extra_exprs)
        if t.ok:
            return (
                "the claim is the transpose of the Jacobian: it is written in denominator "
                "layout (rows = variables); numerator layout puts one row per output"
            )
    # A constant factor over the whole matrix (1.001, 2, 1/2, -1 …).
    ratios: list[sp.Expr] = []
    consistent = True
    for sub in points[:6]:
        for i in range(len(expected)):
            ev = _value(to_elementary(expected[i]), sub)
            cv = _value(to_elementary(claim[i]), sub)
            if ev is None or cv is None:
                continue
            if abs(ev) < 1e-20:
                if abs(cv) > 1e-20:
                    consistent = False
                continue
            ratios.append(cv / ev)
    if consistent and ratios:
        r0 = ratios[0]
        if all(abs(r - r0) <= 1e-12 * max(1, abs(r0)) for r in ratios):
            k = sp.nsimplify(sp.Float(r0, 15), rational=True, tolerance=1e-12)
            if k == -1:
                return "every entry has the wrong sign (the claim is −1 × the Jacobian)"
            return f"the claim is the Jacobian times a constant factor {sp.sstr(k)}"
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
    return "; ".join(parts) if parts else None


def verify(
    exprs: Sequence[sp.Expr],
    wrt: Sequence[sp.Symbol],
    claim: Any,
    layout: str = "numerator",
    samples: int = 12,
    seed: int = 0,
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
    from .component import jacobian

    expected = jacobian(list(exprs), wrt, layout=layout)
    return compare(expected, claim, samples=samples, seed=seed, extra_exprs=list(exprs))


__all__ = ["Check", "Mismatch", "compare", "kink_arguments", "sample_points", "verify"]
