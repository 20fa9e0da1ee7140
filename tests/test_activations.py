"""The activation registry: one entry per function, read by every layer; gelu and leaky_relu
added as one entry each, and the judge refutes wrong derivatives of both."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError, replace

import mpmath
import numpy as np
import pytest
import sympy as sp

from jacobian_lab.errors import UnknownNameError
from jacobian_lab.judge import sampler
from jacobian_lab.judge.checker import compare
from jacobian_lab.judge.verify import verify
from jacobian_lab.judge.witness import float_value, refute
from jacobian_lab.language.activations import (
    ACTIVATIONS,
    GELU_CUBIC,
    Activation,
    Kink,
    activation,
    gelu,
    leaky_relu,
    relu,
    sigmoid,
    to_elementary,
)
from jacobian_lab.language.latex import latex
from jacobian_lab.language.notation import notation
from jacobian_lab.language.parser import parse_expr
from jacobian_lab.matrix.explicit import Instantiator
from jacobian_lab.matrix.expr import DIM_K, DIM_N, ELEMENTWISE, apply, matrix, vector
from jacobian_lab.matrix.fastcheck import identical
from jacobian_lab.matrix.rules import jac
from jacobian_lab.matrix.simplify import simplify

x = sp.Symbol("x", real=True)
POINTS = (-7.5, -2.0, -0.3, 0.25, 1.0, 3.0, 40.0)
LEAKY_RIGHT = "1/100 + 99/100*Heaviside(x, 0)"
GELU_RIGHT = ("0.5*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3))) + 0.5*x*(1 - tanh(sqrt(2/pi)*"
              "(x + 0.044715*x^3))*tanh(sqrt(2/pi)*(x + 0.044715*x^3)))*sqrt(2/pi)*"
              "(1 + 0.134145*x^2)")
GELU_MISSING_TERM = "0.5*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3)))"


# --------------------------------------------------------------------------- an entry's facets


def _numpy_spelling(entry: Activation) -> object:
    """The entry's NumPy spelling as a function (the registry's own text, compiled here)."""
    code = f"lambda x: {entry.numpy_code('x')}"
    return eval(compile(code, "<registry>", "eval"), {"numpy": np})


def _exact(entry: Activation, v: float, order: int = 0) -> float:
    e = entry.elementary(x) if order == 0 else entry.derivative(x)
    return float(sp.N(to_elementary(e).subs(x, sp.Float(v, 40)), 30))


def inconsistencies(entry: Activation) -> list[str]:
    """What disagrees between an entry's facets: float64, NumPy spelling, the SymPy class,
    the elementary form, the derivative (against central differences) and the kink."""
    out: list[str] = []
    spelled = _numpy_spelling(entry)
    for v in POINTS:
        truth = _exact(entry, v)
        values = {"float64": float(entry.float64(v)), "numpy": float(spelled(np.float64(v))),
                  "sympy": float(sp.N(entry.function(sp.Float(v, 40)), 30))}
        for facet, got in values.items():
            # absolute 1e-14: GELU's tanh form rounds 1 + tanh(u) ≈ 0 far left (an absolute
            # error near 1e-16, relative 8e-8 at x = -5.9)
            if not math.isclose(got, truth, rel_tol=1e-12, abs_tol=1e-14):
                out.append(f"{facet} at {v}: {got} != {truth}")
        h = 1e-5 * max(1.0, abs(v))
        mp = mpmath.mp
        with mp.workdps(40):
            f = mpmath.mpf
            num = (_exact(entry, float(f(v) + f(h))) - _exact(entry, float(f(v) - f(h)))) / (2 * h)
        d = _exact(entry, v, 1)
        if not math.isclose(num, d, rel_tol=1e-6, abs_tol=1e-12):
            out.append(f"derivative at {v}: {d} != {num} (central difference)")
    if entry.kink is not None:
        left, right = (_exact(entry, -1e-3) / -1e-3), (_exact(entry, 1e-3) / 1e-3)
        if not (math.isclose(left, float(entry.kink.left)) and
                math.isclose(right, float(entry.kink.right))):
            out.append(f"kink slopes ({left}, {right}) != {entry.kink}")
        if float(entry.derivative(sp.S.Zero)) != float(entry.kink.at_zero):
            out.append("the derivative at the kink is not the convention")
    return out


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_entry_agrees_with_itself_in_float64_numpy_sympy_and_its_derivative(name):
    assert inconsistencies(ACTIVATIONS[name]) == []


@pytest.mark.parametrize(
    ("wrong", "facet"),
    [(replace(ACTIVATIONS["gelu"], float64=lambda z: 1.001 * np.tanh(z) * z), "float64"),
     (replace(ACTIVATIONS["gelu"], numpy="0.5*({x})*(1 + np.tanh({x}))"), "numpy"),
     (replace(ACTIVATIONS["leaky_relu"], numpy="np.maximum({x}, 0.1*({x}))"), "numpy"),
     (replace(ACTIVATIONS["leaky_relu"], kink=Kink(sp.S.Zero, sp.S.One, sp.S.Zero)), "kink"),
     (replace(ACTIVATIONS["relu"], float64=np.abs), "float64"),
     (replace(ACTIVATIONS["sigmoid"], elementary=lambda z: 1 / (1 + sp.exp(-2 * z))), "sympy")],
)
def test_the_consistency_check_catches_a_wrong_entry(wrong, facet):
    found = inconsistencies(wrong)
    assert found, f"a wrong {facet} passed"


def test_the_registry_is_read_only_and_its_entries_frozen():
    with pytest.raises(TypeError):
        ACTIVATIONS["swish"] = ACTIVATIONS["relu"]  # type: ignore[index]
    with pytest.raises(FrozenInstanceError):
        ACTIVATIONS["relu"].numpy = "np.abs({x})"  # type: ignore[misc]


def test_an_unknown_activation_gets_a_did_you_mean():
    with pytest.raises(UnknownNameError, match="Unknown activation `leaky_rlu` — did you mean "
                                               "`leaky_relu`"):
        activation("leaky_rlu")
    with pytest.raises(UnknownNameError, match="did you mean `gelu`"):
        ACTIVATIONS["gleu"]
    assert ACTIVATIONS.get("exp") is None and "exp" not in ACTIVATIONS


def test_the_parser_and_the_matrix_layer_know_every_entry():
    for name, entry in ACTIVATIONS.items():
        assert parse_expr(f"{name}(x)") == entry.function(x)
        assert ELEMENTWISE[name].func is entry.function


# --------------------------------------------------------------------------- gelu


def test_gelu_is_its_tanh_form():
    tanh_form = x * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + GELU_CUBIC * x**3))) / 2
    assert to_elementary(gelu(x)) == tanh_form
    assert sp.simplify(gelu(x).diff(x) - tanh_form.diff(x)) == 0
    assert gelu(0) == 0
    assert float(gelu(sp.Float(1.5, 30))) == pytest.approx(1.3995715769802329, rel=1e-15)


def test_gelu_right_derivative_is_correct():
    check = verify([parse_expr("gelu(x)")], [x], sp.Matrix([[parse_expr(GELU_RIGHT)]]))
    assert check.verdict == "correct"


def test_gelu_derivative_missing_a_term_is_refuted_with_a_counterexample():
    check = verify([parse_expr("gelu(x)")], [x], sp.Matrix([[parse_expr(GELU_MISSING_TERM)]]))
    assert check.verdict == "incorrect"
    assert check.counterexample is not None
    assert "missing the term" in (check.diagnosis or "")


def test_gelu_is_sampled_near_zero_where_it_saturates_elsewhere():
    assert sampler.saturating_arguments(gelu(2 * x - 1)) == [2 * x - 1]


# --------------------------------------------------------------------------- leaky ReLU


def test_leaky_relu_values_and_its_derivative_with_the_convention_at_zero():
    assert leaky_relu(-3) == sp.Rational(-3, 100) and leaky_relu(5) == 5
    d = leaky_relu(x).diff(x)
    assert d.subs(x, 0) == sp.Rational(1, 100)  # the left slope, as PyTorch's backward
    assert d.subs(x, -2) == sp.Rational(1, 100) and d.subs(x, 2) == 1


def test_leaky_relu_is_a_kink_for_the_sampler():
    assert sampler.kink_arguments(leaky_relu(2 * x - 1)) == [2 * x - 1]


def test_leaky_relu_right_derivative_is_correct():
    check = verify([leaky_relu(x)], [x], sp.Matrix([[parse_expr(LEAKY_RIGHT)]]))
    assert check.verdict == "correct"


def test_leaky_relu_derivative_with_the_wrong_convention_at_zero_is_refuted_on_the_kink():
    claim = sp.Matrix([[parse_expr("1/100 + 99/100*Heaviside(x, 1)")]])  # leaky'(0) = 1
    check = verify([leaky_relu(x)], [x], claim)
    assert check.verdict == "incorrect"
    assert check.counterexample == {"x": 0.0}
    assert "kink" in (check.diagnosis or "")


def test_leaky_relu_derivative_written_as_relus_is_refuted():
    check = verify([leaky_relu(x)], [x], sp.Matrix([[sp.Heaviside(x, 0)]]))
    assert check.verdict == "incorrect"
    assert check.counterexample is not None and check.counterexample["x"] < 0


def test_where_leaky_relus_one_sided_derivatives_agree_no_convention_is_applied():
    # leaky_relu(x) − leaky_relu(−x) = 1.01 x on both sides: differentiable at 0, where the
    # term-by-term derivative with the convention would give 1/100 + 1/100
    f = leaky_relu(x) - leaky_relu(-x)
    check = verify([f], [x], sp.Matrix([[sp.Rational(101, 100)]]))
    assert check.verdict == "correct"


# --------------------------------------------------------------------------- witness, fastcheck


def test_the_witness_evaluates_both_in_float64():
    memo = {x: -2.0}
    assert float_value(leaky_relu(x) + gelu(x), memo) == pytest.approx(
        -0.02 + ACTIVATIONS["gelu"].float64(-2.0), rel=1e-15)


def test_the_witness_refutes_a_wrong_leaky_convention_on_the_kink():
    expected = sp.Matrix([[leaky_relu(x).diff(x)]])
    claim = sp.Matrix([[sp.Rational(1, 100) + sp.Rational(99, 100) * sp.Heaviside(x, 1)]])
    found = refute(expected, claim)
    assert found is not None and found.verdict == "incorrect"
    assert found.counterexample == {"x": 0.0}


def test_the_witness_refutes_gelu_missing_a_term():
    found = refute(sp.Matrix([[gelu(x).diff(x)]]),
                   sp.Matrix([[parse_expr(GELU_MISSING_TERM)]]))
    assert found is not None and found.verdict == "incorrect"


def test_fastcheck_confirms_leaky_relu_by_its_gate_and_rejects_relu_in_its_place():
    y = sp.Symbol("y", real=True)
    truth = sp.Matrix([[leaky_relu(x).diff(x) * leaky_relu(y)]])
    same = sp.Matrix([[(sp.Rational(1, 100) + sp.Rational(99, 100) * sp.Heaviside(x, 0))
                       * leaky_relu(y)]])
    assert identical(truth, same) is not None
    wrong = sp.Matrix([[(sp.Rational(1, 100) + sp.Rational(99, 100) * sp.Heaviside(x, 0))
                        * relu(y)]])
    assert identical(truth, wrong) is None


def test_fastcheck_confirms_gelus_derivative_and_rejects_it_missing_a_term():
    truth = sp.Matrix([[gelu(x).diff(x)]])
    assert identical(truth, sp.Matrix([[to_elementary(gelu(x)).diff(x)]])) is not None
    assert identical(truth, sp.Matrix([[parse_expr(GELU_MISSING_TERM)]])) is None


# --------------------------------------------------------------------------- matrix layer, printers


def test_apply_instantiates_gelu_and_leaky_relus_derivative_entry_by_entry():
    z = vector("z")
    inst = Instantiator({DIM_N: 2})
    g, d = inst(apply("gelu", z)), inst(apply("leaky_relu", z, 1))
    zs = list(inst(z))
    assert list(g) == [gelu(zi) for zi in zs]
    assert list(d) == [leaky_relu(zi).diff(zi) for zi in zs]


@pytest.mark.parametrize(
    ("expr", "text", "tex"),
    [(apply("gelu", vector("z")), "gelu(z)", r"\operatorname{GELU}\left(\mathbf{z}\right)"),
     (apply("gelu", vector("z"), 1), "gelu′(z)",
      r"\operatorname{GELU}'\left(\mathbf{z}\right)"),
     (apply("leaky_relu", vector("z")), "leaky_relu(z)",
      r"\operatorname{LeakyReLU}\left(\mathbf{z}\right)"),
     (apply("leaky_relu", vector("z"), 1), "leaky_relu′(z)",
      r"\operatorname{LeakyReLU}'\left(\mathbf{z}\right)"),
     (apply("relu", vector("z"), 1), "step(z)", r"\operatorname{step}\left(\mathbf{z}\right)"),
     (apply("softplus", vector("z"), 1), "sigmoid(z)", r"\sigma\left(\mathbf{z}\right)")],
)
def test_the_printers_name_each_function_from_the_registry(expr, text, tex):
    assert notation(expr) == text
    assert latex(expr) == tex


def test_scalar_functions_print_their_registry_names():
    assert latex(gelu(x)) == r"\operatorname{GELU}\left(x\right)"
    assert latex(leaky_relu(x) ** 2) == r"\operatorname{LeakyReLU}\left(x\right)^{2}"
    assert latex(relu(x)) == r"\operatorname{ReLU}\left(x\right)"
    assert latex(sigmoid(x)) == r"\sigma\left(x\right)"
    assert sp.pretty(leaky_relu(x), use_unicode=True) == "leaky_relu(x)"


def test_lambdify_uses_the_registry_spelling_and_agrees_with_sympy(rng):
    f = sp.lambdify(x, [gelu(x), leaky_relu(x), gelu(x).diff(x), leaky_relu(x).diff(x)],
                    "numpy")
    for v in rng.normal(scale=3.0, size=20):
        got = f(v)
        want = [float(sp.N(e.subs(x, sp.Float(v, 30)), 20)) for e in
                (gelu(x), leaky_relu(x), gelu(x).diff(x), leaky_relu(x).diff(x))]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)  # see inconsistencies


@pytest.mark.parametrize("name", ["gelu", "leaky_relu"])
def test_the_rule_table_derives_a_gelu_or_leaky_layer_and_the_proof_agrees(name):
    W, xv, b = matrix("W", DIM_K, DIM_N), vector("x"), vector("b", DIM_K)
    layer = apply(name, sp.MatAdd(sp.MatMul(W, xv), b))
    result = simplify(jac(layer, xv))  # diag(f'(W x + b)) W
    for sizes in ({DIM_N: 2, DIM_K: 3}, {DIM_N: 3, DIM_K: 1}):
        inst = Instantiator(sizes)
        truth = sp.Matrix(inst(layer)).jacobian(list(inst(xv)))
        assert compare(truth, sp.Matrix(inst(result)), samples=4).verdict == "correct"
        wrong = sp.Matrix(inst(sp.MatMul(sp.DiagMatrix(apply(name, W * xv + b)), W)))  # f for f'
        assert compare(truth, wrong, samples=4, fast=True).verdict == "incorrect"


def test_a_kink_needs_two_slopes_and_one_of_them_at_zero():
    with pytest.raises(ValueError, match="two slopes"):
        Kink(sp.S.One, sp.S.One, sp.S.One)
    with pytest.raises(ValueError, match="one of them at 0"):
        Kink(sp.S.Zero, sp.S.One, sp.S.Half)


def test_the_numpy_spelling_qualifies_its_own_names_only():
    entry = ACTIVATIONS["gelu"]
    code = entry.numpy_code("np.exp(y)", lambda name: name.replace("numpy.", "NP."))
    assert code.startswith("0.5*(np.exp(y))*(1 + NP.tanh(NP.sqrt(2/NP.pi)*")
