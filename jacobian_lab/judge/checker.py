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

import time
from collections.abc import Sequence
from typing import Any

import sympy as sp

from jacobian_lab import budget
from jacobian_lab.errors import ShapeError
from jacobian_lab.judge import diagnosis, sampler
from jacobian_lab.judge.arguments import domain_conditions, kink_arguments, singular_arguments
from jacobian_lab.judge.diagnosis import TRANSPOSE_DIAGNOSIS, plainness, rounded
from jacobian_lab.judge.kinks import kink_diagnosis, kink_verdict
from jacobian_lab.judge.symbolic import is_zero
from jacobian_lab.judge.values import Point, differing, value
from jacobian_lab.judge.verdict import Check, Evidence, Mismatch, mismatches
from jacobian_lab.judge.witness import refute

__all__ = ["Check", "Evidence", "Mismatch", "compare", "kink_arguments", "sample_points"]


def sample_points(variables: Sequence[sp.Symbol], exprs: Sequence[sp.Expr], count: int = 12,
                  seed: int = 0) -> tuple[list[Point], list[sp.Expr]]:
    """Random points where every expression is defined, off every kink, both signs of every
    kink argument covered where possible; and the kink arguments."""
    s = sampler.Sampler(variables, exprs, seed=seed)
    return s.random_points(count)[0], s.kinks


# --------------------------------------------------------------------------- compare


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


def _restrictions(objs: Sequence[sp.Expr]) -> set[sp.Expr]:
    return {*domain_conditions(*objs), *singular_arguments(*objs)}


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
    ``seconds``: time for sampling (default :data:`jacobian_lab.budget.DEFAULT_BUDGET`, and
    never more than an enclosing :func:`jacobian_lab.budget.deadline` leaves); past it the
    verdict is ``undecided`` unless a counterexample was found.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> compare(sp.Matrix([[2*x]]), sp.Matrix([[x + x]])).summary()
    'correct (symbolic: the difference simplifies to 0)'
    >>> compare(sp.Matrix([[2*x]]), sp.Matrix([[3*x]])).verdict
    'incorrect'
    """
    start = time.monotonic()
    seconds = budget.DEFAULT_BUDGET if seconds is None else seconds
    deadline = start + min(seconds, budget.remaining())
    expected, claim = _as_matrix(expected), _as_matrix(claim)
    if claim.shape != expected.shape:
        return _wrong_shape(expected, claim, samples, seed, extra_exprs, diagnose and not fast)
    truth_exprs = [*expected, *extra_exprs]
    diffs = [claim[i] - expected[i] for i in range(len(expected))]
    undecided = [i for i, d in enumerate(diffs) if not (d == 0 if fast else is_zero(d))]
    kinks = kink_arguments(*truth_exprs, *claim)
    if not undecided and _symbolically_settled(expected, claim, truth_exprs, kinks, fast):
        return Check("correct", "symbolic", expected, claim)
    if fast and witness:
        quick = refute(expected, claim, seed=seed, extra_exprs=extra_exprs,
                       kink_search=sampler.KINK_POINTS > 0)
        if quick is not None:
            return quick
    judgement = _Sampling(expected, claim, truth_exprs, extra_exprs, undecided, kinks,
                          seed=seed, deadline=deadline, fast=fast)
    return judgement.verdict(samples, diagnose and not fast,
                             sampler.KINK_POINTS if kink_points is None else kink_points,
                             spent=deadline - start)


def _symbolically_settled(expected: sp.Matrix, claim: sp.Matrix, truth_exprs: list[sp.Expr],
                          kinks: list[sp.Expr], fast: bool) -> bool:
    """Every entry's difference simplified to 0: that settles it unless the claim has a
    domain restriction the truth lacks, or steps whose kinks must be checked point by point."""
    extra_domain = _restrictions(list(claim)) - _restrictions(truth_exprs)
    discontinuous = expected.has(sp.Heaviside, sp.sign) or claim.has(sp.Heaviside, sp.sign)
    return not extra_domain and not (discontinuous and kinks and not fast)


Bad = dict[int, tuple[float | None, float | None]]


class _Sampling:
    """One sampled judgement: random points (and points beside the roots of kink, domain and
    saturating arguments), then points exactly on the kinks; a verdict with its evidence."""

    def __init__(self, expected: sp.Matrix, claim: sp.Matrix, truth_exprs: list[sp.Expr],
                 extra_exprs: Sequence[sp.Expr], undecided: list[int], kinks: list[sp.Expr],
                 seed: int, deadline: float, fast: bool) -> None:
        self.expected, self.claim, self.fast, self.deadline = expected, claim, fast, deadline
        self.symbolic = not undecided
        self.idx = list(range(len(expected))) if self.symbolic else undecided
        # relu, sigmoid and softplus evaluate themselves: no rewriting (building the Max of a
        # rewrite costs seconds on a network's explicit gradient)
        self.exp_el, self.clm_el = list(expected), list(claim)
        self.variables = sorted(set().union(*(e.free_symbols for e in [*truth_exprs, *claim])),
                                key=str)
        self.s = sampler.Sampler(self.variables, truth_exprs, list(claim), seed=seed,
                                 deadline=deadline, known_kinks=kinks,
                                 domain=list(extra_exprs) or None)
        self.kink_text = tuple(sp.sstr(k) for k in self.s.kinks)
        self.points: list[Point] = []
        self.tries = 0
        self.good: list[Point] = []
        self.bad_found: list[tuple[Point, Bad]] = []

    def _incorrect(self, point: Point, bad: Bad, why: str | None, evidence: Evidence) -> Check:
        return Check("incorrect", "sampled", self.expected, self.claim,
                     mismatches=mismatches(self.expected, self.claim, bad),
                     counterexample={str(k): float(sp.N(v)) for k, v in point.items()},
                     diagnosis=why, points=evidence.points, kinks=self.kink_text,
                     evidence=evidence)

    def _sample(self, samples: int) -> int:
        """Evaluate at the sampled points; the number where the truth was defined."""
        s = self.s
        self.points, self.tries = s.random_points(samples) if self.variables else ([{}], 1)
        if self.variables and self.points:
            self.points += s.root_side_points(self.points, count=4 if self.fast else samples)
        evaluated = 0
        for p in self.points:
            if time.monotonic() > self.deadline:
                break
            bad = differing(self.exp_el, self.clm_el, self.idx, p,
                            thorough=s.exact and not self.fast)
            evaluated += any(value(self.exp_el[i], p) is not None for i in self.idx)
            if bad:
                self.bad_found.append((p, bad))
                if self.fast:
                    break
            else:
                self.good.append(p)
        return evaluated

    def _counterexample(self, diagnose: bool, evidence: Evidence) -> Check:
        # the counterexample closest to magnitude 1, rounded where it stays one, is the
        # easiest to check by hand
        p, bad = min(self.bad_found, key=lambda pb: plainness(pb[0]))
        p, bad = rounded(p, bad, self.exp_el, self.clm_el, self.idx, self.s)
        why = None
        if diagnose:
            why = diagnosis.diagnose(self.expected, self.claim, self.exp_el, self.clm_el,
                                     self.points, p, bad, self.good, self.bad_found,
                                     self.s.kinks)
        return self._incorrect(p, bad, why, evidence)

    def _on_kinks(self, per_kink: int, magnitudes: Any) -> tuple[Check | None, int]:
        """Points exactly on each kink: the first wrong one, and how many were judged."""
        on_kinks = 0
        if not (per_kink and self.s.kinks):
            return None, 0
        for point, kink in self.s.kink_points(self.good or self.points, per_kink):
            if time.monotonic() > self.deadline:
                break
            on_kinks += 1
            found = kink_verdict(self.exp_el, self.clm_el, self.idx, point, kink)
            if found is not None:
                bad, why = found
                ev = Evidence(len(self.points) + on_kinks, on_kinks, magnitudes, self.tries)
                return self._incorrect(point, bad, kink_diagnosis(why, kink, point, bad),
                                       ev), on_kinks
        return None, on_kinks

    def verdict(self, samples: int, diagnose: bool, per_kink: int, spent: float) -> Check:
        evaluated = self._sample(samples)
        magnitudes = sampler.magnitude_range(self.points)
        evidence = Evidence(len(self.points), 0, magnitudes, self.tries)
        if self.bad_found:
            return self._counterexample(diagnose, evidence)
        if self.variables and evaluated == 0:
            return _undecided(self.expected, self.claim, self.s, self.tries, self.deadline,
                              self.kink_text)
        wrong, on_kinks = self._on_kinks(per_kink, magnitudes)
        if wrong is not None:
            return wrong
        evidence = Evidence(len(self.points) + on_kinks, on_kinks, magnitudes, self.tries)
        expected, claim = self.expected, self.claim
        if time.monotonic() > self.deadline and len(self.good) < samples:
            return Check("undecided", "none", expected, claim, kinks=self.kink_text,
                         evidence=evidence,
                         diagnosis=f"budget ({spent:.0f} s) spent after {len(self.good)} "
                                   "agreeing points (no counterexample found)")
        return Check("correct", "symbolic" if self.symbolic else "sampled", expected, claim,
                     points=evidence.points, kinks=self.kink_text, evidence=evidence)


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
        text = TRANSPOSE_DIAGNOSIS.format(
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


