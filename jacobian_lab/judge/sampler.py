"""Where the judge looks: points that cover the input space, and points on every kink.

A sampled verdict is only as good as its points. A claim that is wrong far from the origin
(``relu(x - 500)``), only for tiny or huge values, only where a kink argument that is not
linear vanishes (``relu(x^2 - 1)`` at x = ±1) or only inside a narrow domain
(``asin(x)``, ``log(T - 273.15)``) must meet a point where it is wrong. So the sampler draws
each variable from several families and keeps the points where the function and its true
derivative are defined:

* moderate values (uniform in [−3, 3]) and magnitudes across many decades, log-uniform in
  [1e-3, 1e6] with both signs;
* values built from the constants of the expressions (500, 273.15, 1e-9 …): the constant
  itself, nearby, its reciprocal;
* for each variable, a value inside the set its one-variable domain conditions allow
  (``asin(x1)``: x1 ∈ [−1, 1]; ``log(T − 273.15)``: T > 273.15), solved with SymPy;
* both sides of every sign change of a kink argument, a denominator or a log/sqrt argument
  along each variable (the roots found exactly with SymPy, else from sign changes on a
  logarithmic grid refined by mpmath's ``findroot``), at distances from 1e-6 to 1 relative.

Points are exact rationals (short dyadic fractions), so polynomial and rational expressions
evaluate exactly. Points ON a kink (see :func:`kink_points`) are exact where SymPy can solve
the kink argument for a variable, else refined to 60 digits; there a step or sign whose
argument is zero to within that accuracy is evaluated as at 0 (:func:`value`).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp

from jacobian_lab import budget
from jacobian_lab.errors import BudgetExceeded
from jacobian_lab.language.activations import KINKED, SATURATING

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
KINK_POINTS = 2
"""Points tried exactly on each kink (0 switches the on-kink checks off, for tests)."""
MAGNITUDES = (-3.0, 6.0)
"""Decades spanned by the log-uniform family: 1e-3 … 1e6, both signs."""

EVAL_SECONDS = 1.0
"""Time one evaluation may take before the point is given up."""

Point = dict[sp.Symbol, sp.Expr]


class TooCostly(Exception):
    """An evaluation that would take more than :data:`EVAL_SECONDS`."""


# --------------------------------------------------------------------------- what to look at


_KINKED: tuple[type[sp.Expr], ...] = (*KINKED, sp.Heaviside, sp.Abs, sp.sign)  # relu, …
_SATURATING: tuple[type[sp.Expr], ...] = (sp.atan, *SATURATING)  # tanh, sigmoid, …


def kink_arguments(*objs: sp.Basic) -> list[sp.Expr]:
    """The expressions whose sign switches a non-smooth function (ReLU's 0, |x|'s 0, …)."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, _KINKED):
                out.append(node.args[0])
            elif isinstance(node, sp.Max | sp.Min):
                a = node.args
                out.extend(a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a)))
            elif isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    if isinstance(cond, sp.core.relational.Relational):
                        out.append(cond.lhs - cond.rhs)
    return _unique(out)


def domain_conditions(*objs: sp.Basic) -> list[sp.Expr]:
    """Expressions that must be ≥ 0 (or > 0) for the objects to be real: the argument of
    log, the base of a fractional power, 1 ± a under asin/acos."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, sp.log):
                out.append(node.args[0])
            elif isinstance(node, sp.Pow) and node.exp.is_Rational and not node.exp.is_Integer:
                out.append(node.base)
            elif isinstance(node, sp.asin | sp.acos):
                out.extend([1 - node.args[0], 1 + node.args[0]])
    return _unique(out)


def singular_arguments(*objs: sp.Basic) -> list[sp.Expr]:
    """Denominators: expressions whose zeros make the objects undefined."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, sp.Pow) and node.exp.is_negative:
                out.append(node.base)
    return _unique(out)


def saturating_arguments(*objs: sp.Basic) -> list[sp.Expr]:
    """Arguments of atan and the registry's saturating activations (tanh, sigmoid, …): away
    from their zero crossing these functions saturate and their derivatives underflow
    (sech²(5000)), so points near the crossing are where a claim's value has digits to
    compare."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, _SATURATING):
                out.append(node.args[0])
    return _unique(out)


def constants(*objs: sp.Basic) -> list[float]:
    """The non-trivial numbers written in the expressions (500, 273.15, 1e-9 …)."""
    seen: set[float] = set()
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if node.is_Number and node.is_extended_real and node.is_finite:
                v = abs(float(node))
                if v not in (0.0, 1.0, 2.0, 0.5) and 1e-300 < v < 1e300:
                    seen.add(v)
    return sorted(seen)[:12]


def _unique(exprs: Iterable[sp.Expr]) -> list[sp.Expr]:
    uniq: list[sp.Expr] = []
    for e in exprs:
        if e.free_symbols and e not in uniq:
            uniq.append(e)
    return uniq


# --------------------------------------------------------------------------- evaluation


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


# --------------------------------------------------------------------------- comparing values


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


# --------------------------------------------------------------------------- drawing values


def dyadic(x: float, bits: int = 24) -> sp.Rational:
    """``x`` rounded to ``bits`` significant bits, as an exact Rational (short, so that
    polynomials in it evaluate exactly and fast)."""
    if x == 0 or not math.isfinite(x):
        return sp.S.Zero
    e = math.frexp(x)[1] - bits
    return sp.Rational(round(math.ldexp(x, -e))) * sp.Rational(2) ** e


@dataclass
class Sampler:
    """Draws points for ``variables``; ``truth`` are the expressions that must be defined
    (the function and its true derivative), ``claims`` are only scanned for kinks and
    constants (a claim undefined where the truth is defined is wrong there, so the claim's
    own domain must not steer the sampling); ``domain`` (default: ``truth``) are the
    expressions whose domain conditions confine each variable."""

    variables: Sequence[sp.Symbol]
    truth: Sequence[sp.Expr]
    claims: Sequence[sp.Expr] = ()
    seed: int = 0
    domain: Sequence[sp.Expr] | None = None
    deadline: float = math.inf
    known_kinks: Sequence[sp.Expr] | None = None  # the caller's, when it has them already
    kinks: list[sp.Expr] = field(init=False)
    _rng: np.random.Generator = field(init=False)
    _consts: list[float] = field(init=False)
    _sets: dict[sp.Symbol, sp.Set] = field(init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self.kinks = (kink_arguments(*self.truth, *self.claims) if self.known_kinks is None
                      else list(self.known_kinks))
        self._consts = constants(*self.truth, *self.claims)
        # the function's own domain (a derivative formula may be written with a restriction
        # the function does not have: Abs(x**(4/3)) is real for every x)
        # relu, sigmoid and softplus evaluate themselves and add no domain condition (softplus
        # is the log of a positive number): they are not rewritten
        self._elementary = list(self.truth)
        # exact rational points where the expressions are small; above that, exact rational
        # arithmetic grows with every product, and 40-digit floats (holding the same dyadic
        # values exactly) keep the cost of one evaluation linear in the size
        self.exact = _size_at_most([*self._elementary, *self.claims], 4000)
        domain = self._elementary if self.domain is None else list(self.domain)
        self._sets = _feasible_sets(self.variables, domain_conditions(*domain), self.deadline)

    # -- one coordinate
    def _draw(self, v: sp.Symbol) -> float:
        rng = self._rng
        family = rng.integers(0, 4 if self._consts else 3)
        if family == 0:
            x = rng.uniform(-3.0, 3.0)
        elif family == 1:
            x = float(rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(*MAGNITUDES))
        elif family == 2:
            x = rng.uniform(-1.0, 1.0) * rng.choice([0.5, 2.0, 10.0, 100.0])
        else:
            c = float(rng.choice(self._consts))
            c = c if rng.random() < 0.5 else -c
            x = float(rng.choice([c, 1 / c, c * (1 + rng.uniform(-0.5, 0.5)),
                                  c + rng.choice([-1, 1]) * 10.0 ** rng.uniform(-3, 2)]))
        feasible = self._sets.get(v)
        if feasible is not None and not _contains(feasible, x):
            x = _inside(feasible, x, rng)
        return x

    def _point(self, p: Point) -> Point:
        return p if self.exact else {v: sp.Float(x, 45) for v, x in p.items()}

    def defined(self, point: Point) -> bool:
        """Are the truth expressions all defined (real, finite) at ``point``?"""
        return all(value(e, point) is not None for e in self._elementary)

    def random_points(self, count: int, max_tries: int = 400) -> tuple[list[Point], int]:
        """Up to ``count`` points where the truth is defined, off every kink, covering both
        signs of every kink argument where possible; and the number of tries."""
        points: list[Point] = []
        signs_seen: list[set[int]] = [set() for _ in self.kinks]
        tries = 0
        while tries < max_tries and time.monotonic() < self.deadline:
            tries += 1
            covered = all(len(s) == 2 for s in signs_seen)
            if len(points) >= count and (covered or tries > 8 * count):
                break
            point = self._point({v: dyadic(self._draw(v)) for v in self.variables})
            if near_kink(self.kinks, point):
                continue
            signs = [_sign(value(k, point)) for k in self.kinks]
            new = any(s not in seen for s, seen in zip(signs, signs_seen, strict=True))
            if len(points) >= count and not new:
                continue
            if not self.defined(point):
                continue
            for s, seen in zip(signs, signs_seen, strict=True):
                seen.update({s} if s else {1, -1})  # undefined there: nothing to cover
            points.append(point)
        return points, tries

    def root_side_points(self, bases: Sequence[Point], count: int = 8) -> list[Point]:
        """Up to ``count`` points on both sides of the zeros of the kink arguments,
        denominators and domain boundaries (at most ``count`` of them, chosen at random),
        along one or two of their variables, at relative distances from 1e-6 to 1."""
        out: list[Point] = []
        critical = _unique([*self.kinks, *singular_arguments(*self._elementary),
                            *domain_conditions(*self._elementary),
                            *saturating_arguments(*self._elementary)])
        if not bases:
            return out
        self._rng.shuffle(critical)
        for n, expr in enumerate(critical[:count]):
            base = bases[n % len(bases)]
            syms = sorted(expr.free_symbols & set(self.variables), key=str)
            self._rng.shuffle(syms)
            for v in syms[:2]:
                if time.monotonic() > self.deadline or len(out) >= count:
                    return out
                for r in roots_along(expr, v, base, self.deadline)[:2]:
                    rf = float(sp.re(sp.N(r, 17)))
                    for side in (-1, 1):
                        d = 10.0 ** self._rng.uniform(-6, 0) * max(1.0, abs(rf))
                        p = self._point({**base, v: dyadic(rf + side * d, 40)})
                        if not near_kink(self.kinks, p) and self.defined(p):
                            out.append(p)
        return out

    def kink_points(self, bases: Sequence[Point], per_kink: int = 2
                    ) -> list[tuple[Point, sp.Expr]]:
        """Points exactly on each kink (``kink`` = 0), near the given base points: exact where
        the kink argument can be solved for a variable, else to :data:`WORK_DIGITS` digits."""
        out: list[tuple[Point, sp.Expr]] = []
        for kink in self.kinks:
            found = 0
            for base in bases:
                if found >= per_kink or time.monotonic() > self.deadline:
                    break
                point = on_kink(kink, base, self.deadline)
                if point is not None and self.defined(point):
                    out.append((point, kink))
                    found += 1
        return out


def _sign(v: sp.Expr | None) -> int:
    return 0 if v is None else (1 if v > 0 else -1)


def _size_at_most(exprs: Sequence[sp.Basic], limit: int) -> bool:
    """Do the expressions have at most ``limit`` nodes in all (counting stops there)?"""
    n = 0
    for e in exprs:
        for _ in sp.preorder_traversal(e):
            n += 1
            if n > limit:
                return False
    return True


def _contains(s: sp.Set, x: float) -> bool:
    try:
        return bool(s.contains(dyadic(x)) == sp.true)
    except (TypeError, ValueError):
        return True


def _inside(s: sp.Set, x: float, rng: np.random.Generator) -> float:
    """A value inside ``s`` (an interval or a union of intervals), spread like ``x``."""
    parts = list(s.args) if isinstance(s, sp.Union) else [s]
    parts = [p for p in parts if isinstance(p, sp.Interval)]
    if not parts:
        return x
    part = parts[int(rng.integers(0, len(parts)))]
    lo, hi = float(part.start), float(part.end)
    mag = abs(x) if x != 0 else 1.0
    if math.isinf(lo) and math.isinf(hi):
        return x
    if math.isinf(hi):
        return lo + mag
    if math.isinf(lo):
        return hi - mag
    return lo + (hi - lo) * rng.uniform(0.02, 0.98)


def _feasible_sets(variables: Sequence[sp.Symbol], conditions: Sequence[sp.Expr],
                   deadline: float) -> dict[sp.Symbol, sp.Set]:
    """For each variable, the set its one-variable domain conditions allow (e.g. [−1, 1] for
    ``asin(x)``), solved by SymPy; variables whose conditions involve others are left free."""
    sets: dict[sp.Symbol, sp.Set] = {}
    for cond in conditions:
        syms = cond.free_symbols
        if len(syms) != 1 or time.monotonic() > deadline:
            continue
        (v,) = syms
        if v not in variables or sp.count_ops(cond) > 30:
            continue
        try:
            allowed = sp.solveset(cond >= 0, v, sp.S.Reals)
        except (NotImplementedError, ValueError, TypeError):
            continue
        if isinstance(allowed, sp.ConditionSet) or allowed.is_empty:
            continue
        sets[v] = sets[v].intersect(allowed) if v in sets else allowed
    return {v: s for v, s in sets.items() if not s.is_empty}


# --------------------------------------------------------------------------- roots


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


def magnitude_range(points: Iterable[Point]) -> tuple[float, float] | None:
    """The smallest and largest non-zero |coordinate| over the points."""
    mags = [abs(float(sp.N(x))) for p in points for x in p.values()]
    mags = [m for m in mags if m > 0]
    return (min(mags), max(mags)) if mags else None


__all__ = [
    "DIGITS",
    "KINK_POINTS",
    "REL_TOL",
    "Sampler",
    "constants",
    "differing",
    "differs",
    "domain_conditions",
    "dyadic",
    "kink_arguments",
    "magnitude_range",
    "near_kink",
    "on_kink",
    "roots_along",
    "singular_arguments",
    "tiny_at",
    "value",
]
