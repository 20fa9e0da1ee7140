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

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from jacobian_lab.judge.arguments import (
    constants,
    domain_conditions,
    kink_arguments,
    saturating_arguments,
    singular_arguments,
    unique,
)
from jacobian_lab.judge.roots import on_kink, roots_along
from jacobian_lab.judge.values import (
    Point,
    dyadic,
    near_kink,
    value,
)

KINK_POINTS = 2
"""Points tried exactly on each kink (0 switches the on-kink checks off, for tests)."""
MAGNITUDES = (-3.0, 6.0)
"""Decades spanned by the log-uniform family: 1e-3 … 1e6, both signs."""


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
        critical = unique([*self.kinks, *singular_arguments(*self._elementary),
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


def magnitude_range(points: Iterable[Point]) -> tuple[float, float] | None:
    """The smallest and largest non-zero |coordinate| over the points."""
    mags = [abs(float(sp.N(x))) for p in points for x in p.values()]
    mags = [m for m in mags if m > 0]
    return (min(mags), max(mags)) if mags else None
