"""The judge at the edges: no wrong claim called correct, right claims confirmed.

Every example of issue 11 ("sound verdicts") is a test here, plus properties over generated
cases (:mod:`jacobian_lab.judge.edge_cases`): functions at scales from 1e-30 to 1e30, shifted up to
1e4, with kinks that are not linear.
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
import sympy as sp

from jacobian_lab.judge import edge_cases
from jacobian_lab.judge.checker import compare
from jacobian_lab.judge.diagnosis import simplest_rational
from jacobian_lab.judge.verify import verify
from jacobian_lab.language.parser import parse_exprs, parse_matrix, parse_symbols


def judge(exprs: str, wrt: str, claim: str):
    return verify(parse_exprs(exprs), parse_symbols(wrt), parse_matrix(claim))


# --------------------------------------------------------------------------- wrong claims

WRONG = [
    # 1. kinks whose argument is not linear: ReLU'(0) = 1 on x^2 - 1 = 0 and exp(x) - 1 = 0
    ("relu(x^2 - 1)", "x", "[[2*x*Heaviside(x^2 - 1, 1)]]", "kink x**2 - 1 = 0"),
    ("relu(exp(x) - 1)", "x", "[[exp(x)*Heaviside(exp(x) - 1, 1)]]", "kink exp(x) - 1 = 0"),
    # 2. far from the origin
    ("relu(x - 500)", "x", "[[0]]", "x - 500 > 0"),
    # 3. tiny or huge values: compared relative to their magnitude
    ("1e-20*x^2", "x", "[[3e-20*x]]", "constant factor 3/2"),
    ("6.62607015e-34*nu", "nu", "[[6.62607015e-33]]", "constant factor 10"),
    ("sigmoid(x - 300)", "x", "[[0]]", "the claim is 0 where the derivative is not"),
    ("1e30*x^3", "x", "[[3e30*x^2*(1 + 1e-12)]]", "1000000000001/1000000000000"),
    # 4. undefined on part of the domain
    ("x^2", "x", "[[2*x + log(x) - log(Abs(x))]]", "the claim is undefined at x = -"),
    ("(x^2)^(1/3)", "x", "[[2/(3*x^(1/3))]]", "the claim is undefined at x = -"),
    # conventions: differentiable where both one-sided derivatives agree
    ("relu(x) - relu(-x)", "x", "[[Heaviside(x, 0) + Heaviside(-x, 0)]]",
     "both one-sided derivatives are 1"),
    # diagnoses say where it differs
    ("Min(x, 150)", "x", "[[1]]", "differs only where 150 - x < 0"),
]


@pytest.mark.parametrize(("f", "wrt", "claim", "diagnosis"), WRONG,
                         ids=[f"{f} | {c}" for f, _, c, _ in WRONG])
def test_a_wrong_claim_at_the_edges_is_incorrect_with_a_counterexample(f, wrt, claim, diagnosis):
    c = judge(f, wrt, claim)
    assert c.verdict == "incorrect", f"{claim} for d/d{wrt} {f} was called {c.verdict}"
    assert c.counterexample is not None and c.mismatches
    assert diagnosis in (c.diagnosis or ""), c.diagnosis


def test_a_row_for_a_column_is_never_transposed_silently():
    c = judge("x^2, x^3", "x", "[[2*x, 3*x^2]]")
    assert c.verdict == "incorrect"
    assert "transposed (denominator layout)" in c.diagnosis
    assert "--layout denominator" in c.diagnosis


def test_the_counterexample_lies_on_the_nonlinear_kink():
    c = judge("relu(x^2 - 1)", "x", "[[2*x*Heaviside(x^2 - 1, 1)]]")
    assert abs(c.counterexample["x"]) == pytest.approx(1.0)


# --------------------------------------------------------------------------- right claims

RIGHT = [
    ("log(T - 273.15)", "T", "[[1/Abs(T - 273.15)]]"),  # the domain lies beyond 273.15
    ("asin(x1) + asin(x2) + asin(x3) + asin(x4) + asin(x5) + asin(x6) + asin(x7) + asin(x8)",
     "x1 x2 x3 x4 x5 x6 x7 x8",
     "[[" + ", ".join(f"1/sqrt(1 - x{i}^2)" for i in range(1, 9)) + "]]"),
    ("relu(x*1e-9)", "x", "[[Heaviside(x, 0)*1e-9]]"),  # the kink margin scales
    ("Max(0, x)", "x", "[[Heaviside(x, 0)]]"),  # Max(0, x) is relu(x)
    ("relu(x) - relu(-x)", "x", "[[1]]"),  # differentiable at 0: the derivative is 1
    ("Abs(x)", "x", "[[x/Abs(x)]]"),  # undefined only where |x| is not differentiable
    ("sqrt(Abs(x))", "x", "[[sign(x)/(2*sqrt(Abs(x)))]]"),  # a cusp: no derivative at 0
    ("log(y^3)", "y", "[[3/Abs(y)]]"),
]


@pytest.mark.parametrize(("f", "wrt", "claim"), RIGHT, ids=[c for _, _, c in RIGHT])
def test_a_right_claim_at_the_edges_is_correct(f, wrt, claim):
    c = judge(f, wrt, claim)
    assert c.verdict == "correct", (c.verdict, c.diagnosis, c.counterexample)


def test_a_sampled_correct_says_how_strong_it_is():
    c = judge("log(T - 273.15)", "T", "[[1/Abs(T - 273.15)]]")
    assert c.method == "sampled" and c.evidence is not None
    assert c.evidence.points >= 12
    assert "no counterexample at" in c.summary()
    assert c.to_dict()["evidence"]["points"] == c.evidence.points


def test_points_on_kinks_are_counted_in_the_evidence():
    c = judge("relu(x) - relu(-x)", "x", "[[1]]")
    assert c.evidence is not None and c.evidence.on_kinks >= 1


def test_sampling_spans_many_decades():
    c = judge("log(T - 273.15)", "T", "[[1/Abs(T - 273.15)]]")
    lo, hi = c.evidence.magnitudes
    assert hi / lo > 1e3


def test_an_undecided_verdict_gives_a_true_specific_reason():
    x = sp.Symbol("x", real=True)
    c = compare(sp.Matrix([[sp.log(-(x**2) - 1)]]), sp.Matrix([[x]]))
    assert c.verdict == "undecided"
    assert "points tried" in c.diagnosis and "undefined" in c.diagnosis


def test_a_spent_budget_is_undecided_never_correct():
    # log(T - 273.15) needs sampling (no symbolic proof); with no time left nothing is sampled
    f = parse_exprs("log(T - 273.15)")
    c = verify(f, parse_symbols("T"), parse_matrix("[[1/Abs(T - 273.15)]]"), seconds=0)
    assert c.verdict == "undecided", c.summary()
    assert "budget" in c.diagnosis


# --------------------------------------------------------------------------- diagnoses


def test_a_constant_factor_is_named_by_its_simplest_rational():
    assert simplest_rational(Fraction(1000000000001, 10**12), Fraction(1, 10**26)) == \
        Fraction(1000000000001, 10**12)
    assert simplest_rational(Fraction(-2, 3) + Fraction(1, 10**25), Fraction(1, 10**20)) == \
        Fraction(-2, 3)


# --------------------------------------------------------------------------- properties

CASES = edge_cases.generate(12, seed=11)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_mutant_of_a_hard_case_is_called_correct(case):
    rng = random.Random(case.name)
    for op, claim in edge_cases.mutants(case, rng):
        c = compare(case.truth, claim, extra_exprs=[case.f])
        assert c.verdict != "correct", f"{op} mutant of d/d{case.wrt} {case.f} passed: {claim}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_rewritten_right_claim_is_correct(case):
    # never incorrect; and not bought by retreating to undecided: every rewrite of these cases
    # is confirmed (the issue asks for at least 99 % of generated right claims)
    for how, claim in edge_cases.rewrites(case):
        c = compare(case.truth, claim, extra_exprs=[case.f])
        assert c.verdict == "correct", (how, case.f, claim, c.verdict, c.diagnosis,
                                        c.counterexample)
