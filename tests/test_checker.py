"""The verifier must pass right claims and catch every kind of wrong one."""

from __future__ import annotations

import pytest
import sympy as sp

from jacobian_lab.errors import ShapeError
from jacobian_lab.judge.checker import compare, kink_arguments, sample_points
from jacobian_lab.judge.verify import verify
from jacobian_lab.language.functions import relu

x, y = sp.symbols("x y", real=True)
F = [2 * x + y**3, sp.exp(y) - 13 * x]
J = sp.Matrix([[2, 3 * y**2], [-13, sp.exp(y)]])


def test_correct_claim_is_proven_symbolically():
    c = verify(F, [x, y], J)
    assert (c.verdict, c.method) == ("correct", "symbolic")


def test_equal_but_differently_written_claim_is_correct():
    c = verify([sp.log(y**3)], [y], [[3 * y**2 / y**3]])
    assert c.ok


def test_claim_off_by_factor_1001_over_1000_is_caught_with_the_factor():
    c = verify(F, [x, y], J * sp.Rational(1001, 1000))
    assert c.verdict == "incorrect"
    assert "constant factor 1001/1000" in c.diagnosis
    assert len(c.mismatches) == 4


def test_float_factor_1_001_is_caught():
    c = verify(F, [x, y], J * sp.Float("1.001"))
    assert c.verdict == "incorrect"


def test_transposed_claim_is_diagnosed_as_denominator_layout():
    c = verify(F, [x, y], J.T)
    assert c.verdict == "incorrect"
    assert "denominator layout" in c.diagnosis
    assert {(m.row, m.col) for m in c.mismatches} == {(1, 2), (2, 1)}


def test_transposed_gradient_column_is_diagnosed_as_denominator_layout():
    c = verify([x**2 + sp.cos(y)], [x, y], sp.Matrix([2 * x, -sp.sin(y)]))
    assert c.verdict == "incorrect"
    assert "denominator layout" in c.diagnosis


def test_dropped_term_is_named():
    claim = sp.Matrix([[2, 0], [-13, sp.exp(y)]])
    c = verify(F, [x, y], claim)
    assert c.verdict == "incorrect"
    assert [(m.row, m.col) for m in c.mismatches] == [(1, 2)]
    assert "missing the term(s) 3*y**2" in c.diagnosis


def test_sign_flip_of_one_entry_is_named():
    c = verify([x**2 + sp.cos(y)], [x, y], [[2 * x, sp.sin(y)]])
    assert c.verdict == "incorrect"
    assert c.diagnosis == "(1,2) has the wrong sign"


def test_sign_flip_of_everything_is_named():
    c = verify(F, [x, y], -J)
    assert "wrong sign" in c.diagnosis


def test_wrong_shape_is_a_shape_error_naming_both_shapes():
    with pytest.raises(ShapeError, match=r"1×3 but the Jacobian is 2×2"):
        verify(F, [x, y], [[1, 2, 3]])


def test_counterexample_point_gives_both_values():
    c = verify([x**2], [x], [[3 * x]])
    assert c.counterexample is not None
    m = c.mismatches[0]
    px = c.counterexample["x"]
    assert m.expected_value == pytest.approx(2 * px)
    assert m.claimed_value == pytest.approx(3 * px)


def test_sampling_respects_the_domain_of_log():
    # log(y**3) exists only for y > 0, where 3/|y| equals 3/y: the claim is right there.
    c = verify([sp.log(y**3)], [y], [[3 / sp.Abs(y)]])
    assert (c.verdict, c.method) == ("correct", "sampled")


def test_relu_claim_ignoring_the_kink_is_caught_on_the_inactive_side():
    c = verify([relu(x * y)], [x, y], [[y, x]])
    assert c.verdict == "incorrect"
    cx = c.counterexample
    assert cx["x"] * cx["y"] < 0  # found where the neuron is off


def test_right_relu_claim_passes_and_both_sides_of_the_kink_are_sampled():
    h = sp.Heaviside(x * y, 0)
    c = compare(sp.Matrix([[y * h, x * h]]), sp.Matrix([[y * h, x * h + 0 * x]]))
    assert c.ok
    points, kinks = sample_points([x, y], [relu(x * y)], count=8)
    signs = {bool(p[x] * p[y] > 0) for p in points}
    assert signs == {True, False}
    assert kinks == [x * y]


def test_no_sample_point_is_on_a_kink():
    points, _ = sample_points([x], [sp.Abs(x - 1)], count=20)
    assert all(abs(p[x] - 1) > 1e-6 for p in points)


def test_kink_arguments_of_max_and_heaviside():
    ks = kink_arguments(sp.Max(x, y) + sp.Heaviside(x - 2, 0))
    assert set(ks) == {x - y, x - 2}


def test_claim_undefined_where_the_truth_is_defined_is_incorrect():
    # sqrt(-x^2 - 1) is complex everywhere, the truth x is defined everywhere
    c = compare(sp.Matrix([[x]]), sp.Matrix([[sp.sqrt(-(x**2) - 1)]]))
    assert c.verdict == "incorrect"
    assert "the claim is undefined at" in c.diagnosis


def test_truth_undefined_everywhere_is_undecided_with_a_true_reason():
    c = compare(sp.Matrix([[sp.sqrt(-(x**2) - 1)]]), sp.Matrix([[x]]))
    assert c.verdict == "undecided"
    assert "undefined at all" in c.diagnosis


def test_verdict_serialises_to_json_friendly_dict():
    d = verify(F, [x, y], J.T).to_dict()
    assert set(d) >= {"verdict", "method", "mismatches", "counterexample", "diagnosis"}
    assert d["mismatches"][0]["expected"] == "3*y**2"


# --------------------------------------------------------------------------- on the kink

w, b = sp.symbols("w b", real=True)


def test_relu_derivative_with_relu_prime_of_0_equal_1_is_caught_on_the_kink():
    truth = sp.Matrix([[relu(w * x + b).diff(w)]])  # x·Heaviside(w x + b, 0)
    c = compare(truth, sp.Matrix([[x * sp.Heaviside(w * x + b, 1)]]))
    assert c.verdict == "incorrect", "ReLU'(0) = 1 agrees away from the kink; it must be seen ON it"
    assert "kink b + w*x = 0" in c.diagnosis and "ReLU'(0)" in c.diagnosis
    point = {sp.Symbol(k, real=True): sp.Rational(v) for k, v in c.counterexample.items()}
    assert (w * x + b).xreplace(point) == 0, "the counterexample lies on the kink"


def test_the_same_convention_on_the_kink_is_correct():
    truth = sp.Matrix([[relu(w * x + b).diff(w)]])
    assert compare(truth, sp.Matrix([[x * sp.Heaviside(w * x + b, 0)]])).ok


def test_a_claim_undefined_on_the_kink_is_not_judged_there():
    # d|x|/dx = sign(x); x/|x| is undefined at 0 but equal everywhere else: not a mismatch
    assert compare(sp.Matrix([[sp.Abs(x).diff(x)]]), sp.Matrix([[x / sp.Abs(x)]])).ok
