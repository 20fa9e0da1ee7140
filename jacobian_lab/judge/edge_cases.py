"""Hard cases for the judge: functions at extreme scales, far-away shifts and kinks that are
not linear, with their true derivatives, wrong claims made from them and right claims
rewritten.

Used by the soundness tests (``tests/test_soundness.py``) and by ``jlab mutate --level
judge``. A case is ``scale · outer(inner) + smooth`` where

* ``scale`` spans 1e-30 … 1e30 (an exact rational, so nothing is lost to floats);
* ``inner`` is a kink or domain argument of one of these shapes: ``a·x − c`` (a shift ``c`` up
  to 1e4), ``x² − c``, ``exp(x) − c``, ``x·y − c`` (not linear in one variable);
* ``outer`` is relu, abs, sigmoid, tanh, sin, softplus, a square or a log;
* ``smooth`` is an optional second term (so a claim can drop one).

Mutants (each must be judged not ``correct``): ``scale`` (× (1 + 10⁻ᵏ), k = 3 … 12), ``sign``,
``transpose`` (two variables: a column for a row), ``drop-term``, ``shift`` (a constant of the
claim moved by a relative 10⁻⁶), ``relu'(0)`` (``Heaviside(z, 1)`` for the step, on linear
kinks) and ``nonlinear-kink`` (the same on a kink that is not linear). Rewrites (each must be
judged ``correct``): expanded, factored, exponentials, together.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sympy as sp

from jacobian_lab.judge.checker import compare
from jacobian_lab.judge.component import jacobian
from jacobian_lab.language.functions import relu, sigmoid, softplus

x, y = sp.symbols("x y", real=True)

OPERATORS = ("scale", "sign", "transpose", "drop-term", "shift", "relu'(0)", "nonlinear-kink")


@dataclass(frozen=True)
class Case:
    """A function, the variables, its true Jacobian and whether its kink is linear."""

    name: str
    f: sp.Expr
    wrt: tuple[sp.Symbol, ...]
    truth: sp.Matrix
    linear_kink: bool


_OUTER: dict[str, Callable[[sp.Expr], sp.Expr]] = {
    "relu": relu, "abs": sp.Abs, "sigmoid": sigmoid, "tanh": sp.tanh, "sin": sp.sin,
    "softplus": softplus, "square": lambda z: z**2, "log": lambda z: sp.log(z),
}


def _scale(rng: random.Random) -> sp.Rational:
    return sp.Rational(rng.randint(1, 9), rng.randint(1, 9)) * sp.Rational(10) ** rng.randint(
        -30, 30) * rng.choice([-1, 1])


def _shift(rng: random.Random) -> sp.Rational:
    return sp.Rational(rng.randint(-10**6, 10**6), 100)


def _inner(rng: random.Random) -> tuple[str, sp.Expr, tuple[sp.Symbol, ...], bool]:
    kind = rng.choice(["linear", "square", "exp", "product"])
    c = _shift(rng)
    if kind == "linear":
        a = sp.Rational(rng.randint(1, 50), rng.randint(1, 50)) * rng.choice([-1, 1])
        return kind, a * x - c, (x,), True
    if kind == "square":
        return kind, x**2 - abs(c), (x,), False
    if kind == "exp":
        return kind, sp.exp(x) - sp.Rational(rng.randint(1, 400), 100), (x,), False
    return kind, x * y - c / 100, (x, y), False


def generate(count: int, seed: int = 0) -> list[Case]:
    """``count`` cases, reproducible from ``seed``."""
    rng = random.Random(seed)
    cases: list[Case] = []
    while len(cases) < count:
        kind, inner, wrt, linear = _inner(rng)
        oname = rng.choice(sorted(_OUTER))
        f = _scale(rng) * _OUTER[oname](inner)
        if rng.random() < 0.5:
            other = wrt[-1]
            f = f + sp.Rational(rng.randint(1, 9), 7) * sp.sin(other) * _scale(rng)
        truth = jacobian([f], list(wrt))
        if truth.is_zero_matrix:
            continue
        cases.append(Case(f"{oname}({kind})#{len(cases)}", f, wrt, truth, linear))
    return cases


def _numbers(e: sp.Basic) -> list[sp.Number]:
    return [n for entry in e for n in sp.preorder_traversal(entry)
            if n.is_Number and n not in (sp.S.One, sp.S.NegativeOne, sp.S.Zero, sp.S.Half)]


def mutants(case: Case, rng: random.Random) -> Iterator[tuple[str, sp.Matrix]]:
    """Wrong claims made from the truth the ways hand derivations go wrong. A mutant that is
    equal to the truth (the sign of 0) is not produced."""
    t = case.truth
    k = rng.randint(3, 12)
    yield "scale", t * (1 + sp.Rational(1, 10**k))
    yield "sign", -t
    if t.cols > 1:
        yield "transpose", t.T
    for i, entry in enumerate(t):
        terms = sp.Add.make_args(entry)
        if len(terms) > 1:
            j = rng.randrange(len(terms))
            m = sp.Matrix(t)
            m[i] = sp.Add(*(a for n, a in enumerate(terms) if n != j))
            yield "drop-term", m
            break
    nums = [n for n in _numbers(t) if abs(n) > 1]
    if nums:
        n = rng.choice(nums)
        yield "shift", t.xreplace({n: n * (1 + sp.Rational(1, 10**6))})
    steps = [h for h in t.atoms(sp.Heaviside) if h.args[1:] == (0,)]
    if steps:
        swapped = t.xreplace({h: sp.Heaviside(h.args[0], 1) for h in steps})
        yield ("relu'(0)" if case.linear_kink else "nonlinear-kink"), swapped


def judge_outcomes(count: int = 25, seed: int = 0
                   ) -> Iterator[tuple[str, str, str, str, str, float]]:
    """``jlab mutate --level judge``: every mutant of ``count`` generated cases goes through
    :func:`jacobian_lab.judge.checker.compare`; (target, operator, detail, status, by, seconds)."""
    rng = random.Random(seed)
    for case in generate(count, seed):
        for op, claim in mutants(case, rng):
            t0 = time.perf_counter()
            c = compare(case.truth, claim, extra_exprs=[case.f])
            dt = time.perf_counter() - t0
            detail = f"d/d{','.join(map(str, case.wrt))} {sp.sstr(case.f)}"
            if c.verdict == "correct":
                yield case.name, op, detail, "missed", f"called correct ({c.method})", dt
            else:
                yield case.name, op, detail, "caught", f"{c.verdict}: {c.diagnosis or ''}", dt


def rewrites(case: Case) -> Iterator[tuple[str, sp.Matrix]]:
    """The truth written differently (each equal to it everywhere)."""
    t = case.truth
    yield "expanded", t.applyfunc(sp.expand)
    yield "factored", t.applyfunc(sp.factor)
    # only the trigonometric and hyperbolic functions: rewrite(exp) would also turn x**2
    # into exp(2*log(x)), which is not x**2 for x < 0
    yield "exponentials", t.applyfunc(
        lambda e: e.rewrite([sp.sin, sp.cos, sp.tanh, sp.sinh, sp.cosh], sp.exp))
    yield "together", t.applyfunc(sp.together)


__all__ = ["OPERATORS", "Case", "generate", "judge_outcomes", "mutants", "rewrites"]
