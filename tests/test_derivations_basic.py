"""The basic catalog entries: each result in the notes' notation, proven against components;
the layer's worked example; and wrong claims judged incorrect."""

from __future__ import annotations

import dataclasses
import functools
import re

import pytest
import sympy as sp

import derivations
from jacobian_lab.core.derivation import Claim, Derivation, Proof
from jacobian_lab.core.proof import prove
from jacobian_lab.language.functions import sigmoid
from jacobian_lab.language.latex import latex
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix.expr import DIM_N, T, diag, vector

BASIC = [
    "gradient", "jacobian", "scalar-chain", "jacobian-chain", "no-intermediate", "neuron",
    "layer", "elementwise", "hadamard", "scalar-expansion", "vector-sum", "dot-product",
    "sigmoid", "tanh", "softmax", "gradient-descent",
]

x, y = sp.symbols("x y", real=True)


@functools.cache
def proven(name: str) -> tuple[Derivation, Proof]:
    d = derivations.get(name)
    return d, prove(d)


def results(name: str) -> list[str]:
    """``lhs = rhs`` of every result, in the terminal notation."""
    d, p = proven(name)
    assert p.ok, [(notation(r.lhs), c.summary()) for r in p.results for _, c in r.checks
                  if not c.ok]
    return [f"{notation(r.lhs)} = {notation(r.expr)}" for r in d.results]


def step(name: str, lhs: str) -> sp.Basic:
    """The right-hand side of the last step whose left-hand side prints as ``lhs``."""
    d, _ = proven(name)
    return [s.rhs for s in d.steps if notation(s.lhs) == lhs][-1]


# --------------------------------------------------------------------------- component level


def test_gradient_of_x2_plus_cos_y_is_the_row_2x_minus_sin_y_and_4_0_at_2_0():
    d, _ = proven("gradient")
    assert results("gradient") == ["∇f = [2*x, -sin(y)]"]
    assert d.results[0].expr == sp.Matrix([[2 * x, -sp.sin(y)]])
    assert step("gradient", "∇f(2, 0)") == sp.Matrix([[4, 0]])


def test_jacobian_stacks_the_gradients_as_rows():
    d, _ = proven("jacobian")
    assert d.results[0].expr == sp.Matrix([[2, 3 * y**2], [-13, sp.exp(y)]])
    assert d.results[1].expr == sp.Matrix([[2, -3 * y**2], [sp.exp(x), -13]])
    assert step("jacobian", "∇f2") == sp.Matrix([[-13, sp.exp(y)]])
    assert results("jacobian")[0] == "∂f/∂(x, y) = [[2, 3*y**2], [-13, exp(y)]]"


def test_scalar_chain_of_sin_x2_is_2x_cos_x2_and_agrees_with_direct():
    assert results("scalar-chain") == ["dg/dx = 2*x", "df/dg = cos(g)", "df/dx = 2*x*cos(x**2)"]
    assert step("scalar-chain", "d/dx sin(x**2)") == 2 * x * sp.cos(x**2)


def test_jacobian_chain_has_a_diagonal_outer_jacobian_and_matches_direct():
    d, _ = proven("jacobian-chain")
    g1, g2 = sp.symbols("g1 g2", real=True)
    assert d.results[1].expr == sp.diag(sp.cos(g1), 1 / g2)
    product = sp.Matrix([[2 * x * sp.cos(x**2 + y), sp.cos(x**2 + y)], [0, 3 / y]])
    assert d.results[2].expr == product
    assert d.steps[-1].rhs == product  # the direct differentiation
    assert "the same matrix" in d.steps[-1].why


def test_no_intermediate_component_is_left_as_is():
    d, p = proven("no-intermediate")
    assert d.results[0].expr[1, :] == sp.Matrix([[0, 1]])
    assert results("no-intermediate")[1] == "∇f2 = [0, 1]"
    assert step("no-intermediate", "∂f/∂(g1, g2)")[1, 1] == 1
    assert all(v.correct for v in p.claims)


# --------------------------------------------------------------------------- matrix layer


def test_neuron_jacobians_are_x_transpose_w_transpose_and_1():
    assert results("neuron") == ["∂a/∂w = xᵀ", "∂a/∂x = wᵀ", "∂a/∂b = 1"]
    _, p = proven("neuron")
    assert p.sizes == ("n=1", "n=2", "n=3", "n=5")


def test_layer_jacobians_carry_diag_sigma_prime():
    assert results("layer")[:3] == [
        "∂z/∂a = W", "∂a'/∂a = diag(sigmoid′(z)) W", "∂a'/∂b = diag(sigmoid′(z))",
    ]


def test_layer_worked_example_z_is_6_4_and_sigma_is_exact_and_decimal():
    d, _ = proven("layer")
    z_steps = [s for s in d.steps if notation(s.lhs) == "z"]
    assert z_steps[0].rhs == sp.Matrix([6, 4])
    exact, decimal = (s.rhs for s in d.steps if notation(s.lhs) == "a'")
    assert exact == sp.Matrix([1 / (1 + sp.exp(-6)), 1 / (1 + sp.exp(-4))])
    assert notation(decimal) == "[0.997527, 0.982014]ᵀ"
    slope = step("layer", "∂a'/∂a(1, 0)")
    s6, s4 = (sigmoid(t) * (1 - sigmoid(t)) for t in (6, 4))
    expected = sp.Matrix([[5 * s6, 2 * s6], [3 * s4, 6 * s4]])
    assert all(abs(a - b.evalf()) < 1e-6 for a, b in zip(slope, expected, strict=True))
    # The component-level check at the example's W and b, for a symbolic input a.
    assert notation(d.results[3].lhs) == "∂a'/∂(a1, a2)"


def test_elementwise_table_for_plus_minus_times_divide():
    assert results("elementwise")[3:] == [
        "∂(v + w)/∂v = I", "∂(v + w)/∂w = I", "∂(v - w)/∂v = I", "∂(v - w)/∂w = -I",
        "∂(v ⊙ w)/∂v = diag(w)", "∂(v ⊙ w)/∂w = diag(v)",
        "∂(v ⊘ w)/∂v = diag(w^∘(-1))", "∂(v ⊘ w)/∂w = -diag(v ⊙ w^∘(-2))",
    ]
    _, p = proven("elementwise")
    assert len(p.claims) == 8 and all(v.correct for v in p.claims)


def test_elementwise_jacobian_is_diagonal_only_under_the_elementwise_condition():
    d, _ = proven("elementwise")
    general, _, counter = (r.expr for r in d.results[:3])
    assert general.is_diagonal()
    assert not counter.is_diagonal()
    v1, v2, w1 = sp.symbols("v1 v2 w1", real=True)
    assert counter[0, 1] == v1 * w1 and counter[0, 0] == v2 * w1


def test_hadamard_jacobians_are_diag_w_and_diag_v():
    assert results("hadamard") == ["∂y/∂v = diag(w)", "∂y/∂w = diag(v)"]
    w1, w2, w3 = sp.symbols("w1 w2 w3", real=True)
    assert step("hadamard", "∂y/∂v") == diag(vector("w"))
    assert proven("hadamard")[0].steps[1].rhs == sp.diag(w1, w2, w3)


def test_scalar_expansion_jacobians():
    assert results("scalar-expansion") == [
        "∂(v + x 𝟏)/∂v = I", "∂(v + x 𝟏)/∂x = 𝟏", "∂(x v)/∂v = x I", "∂(x v)/∂x = v",
    ]


def test_vector_sum_jacobians():
    assert results("vector-sum") == [
        "∂sum(v)/∂v = 𝟏ᵀ",
        "∂y/∂v = tanh′(v)ᵀ",
        "∂sum(g(v))/∂(v1, v2, v3) = [g′(v1), g′(v2), g′(v3)]",
        "∂(sum(v z))/∂v = z 𝟏ᵀ",
        "∂(sum(v z))/∂z = 𝟏ᵀ v",
    ]
    assert "𝟏ᵀ diag(tanh′(v))" in [notation(s.rhs) for s in proven("vector-sum")[0].steps]


def test_dot_product_goes_through_the_sum_of_the_hadamard_product():
    d, _ = proven("dot-product")
    assert results("dot-product") == ["∂y/∂w = xᵀ", "∂y/∂x = wᵀ"]
    shown = [f"{notation(s.lhs)} = {notation(s.rhs)}" for s in d.steps]
    assert shown[:4] == ["∂u/∂w = diag(x)", "∂y/∂u = 𝟏ᵀ", "∂y/∂w = 𝟏ᵀ diag(x)", "∂y/∂w = xᵀ"]


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma():
    z = sp.Symbol("z", real=True)
    d, _ = proven("sigmoid")
    assert d.results[0].expr == sigmoid(z) * (1 - sigmoid(z))
    assert results("sigmoid")[1:] == [
        "∂a/∂z = diag(sigmoid′(z))", "∂a/∂z = diag(sigmoid(z) ⊙ (𝟏 - sigmoid(z)))",
    ]


def test_tanh_derivative_is_one_minus_tanh_squared():
    assert results("tanh") == [
        "d/dz tanh(z) = 1 - tanh(z)**2",
        "∂a/∂z = diag(tanh′(z))",
        "∂a/∂z = diag(𝟏 - tanh(z)^∘(2))",
    ]


def test_softmax_jacobian_is_diag_s_minus_s_s_transpose_for_n_2_3_4():
    assert results("softmax") == ["∂s/∂z = diag(s) - s sᵀ"]
    _, p = proven("softmax")
    assert p.sizes == ("n=2", "n=3", "n=4")
    (claim,) = p.claims
    assert claim.claim.text == "∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ)" and claim.correct


def test_gradient_descent_gradient_and_one_step_lowers_the_cost():
    assert results("gradient-descent")[:2] == ["∂C/∂θ = 1/m rᵀ Xᵀ", "∇C = 1/m X r"]
    c0, c1 = step("gradient-descent", "C(θ0)"), step("gradient-descent", "C(θ1)")
    assert (c0, c1) == (sp.Rational(3, 2), sp.Rational(1769, 5400))
    assert c1 < c0
    third = sp.Rational(1, 3)
    assert step("gradient-descent", "∇C(θ0)") == sp.Matrix([-11 * third, -5 * third])
    assert step("gradient-descent", "θ1") == sp.Matrix([sp.Rational(11, 30), sp.Rational(1, 6)])
    alpha = sp.Symbol("α", positive=True)
    phi = step("gradient-descent", "C(θ0 - α ∇C)")
    assert sp.diff(phi, alpha).subs(alpha, 0) == sp.Rational(-146, 9)


def test_mean_minibatch_gradient_is_the_full_gradient():
    d, p = proven("gradient-descent")
    assert notation(d.results[2].lhs) == "mean(∇C_12, ∇C_13, ∇C_23)"
    assert p.results[2].ok


# --------------------------------------------------------------------------- the checker bites


def test_a_transposed_neuron_gradient_is_judged_incorrect():
    d = derivations.get("neuron")
    d.claims = [Claim("∂a/∂w = x  (a column: denominator layout)", vector("x"), 0)]
    (verdict,) = prove(d).claims
    assert not verdict.correct
    assert "transpose" in (verdict.check.diagnosis or "")


def test_a_transposed_jacobian_claim_is_judged_incorrect():
    d = derivations.get("jacobian")
    d.claims = [Claim("∂f/∂(x, y) transposed", d.results[0].expr.T, 0)]
    (verdict,) = prove(d).claims
    assert not verdict.correct
    assert "transpose" in (verdict.check.diagnosis or "")


def test_a_wrong_result_fails_the_proof():
    d = derivations.get("hadamard")
    wrong = dataclasses.replace(d.results[0], expr=diag(vector("v")))  # ∂(v ⊙ w)/∂v ≠ diag(v)
    d.results = [wrong, *d.results[1:]]
    p = prove(d)
    assert not p.ok and not p.results[0].ok and p.results[1].ok


def test_a_claim_off_by_a_factor_is_judged_incorrect():
    d = derivations.get("dot-product")
    d.claims = [Claim("∂(w · x)/∂w = 2 xᵀ", 2 * T(vector("x")), 0)]
    (verdict,) = prove(d).claims
    assert not verdict.correct


# --------------------------------------------------------------------------- every entry


@pytest.mark.parametrize("name", BASIC)
def test_entry_is_complete_proven_and_reads_well(name):
    d, p = proven(name)
    assert d.name == name and d.title and d.summary and d.steps and d.results
    assert p.ok and all(v.correct for v in p.claims)
    if any(isinstance(r.wrt, sp.MatrixSymbol) for r in d.results):
        assert len(d.sizes) >= 3
    for s in [*d.definitions, *d.steps]:
        text = f"{notation(s.lhs)} = {notation(s.rhs)} {s.why}"
        for raw in ("Matrix(", "HadamardProduct", "Apply(", "Derivative(", "OneMatrix"):
            assert raw not in text, (name, text)
        assert not re.search(r"(?<![\w.])1\*", text), (name, text)  # SymPy's 1*H
        assert s.rule
        latex(s.lhs), latex(s.rhs)


def test_basic_entries_are_registered_in_the_notes_order():
    names = derivations.names()
    assert [n for n in names if n in BASIC] == BASIC
    assert DIM_N in derivations.get("hadamard").sizes[0]
