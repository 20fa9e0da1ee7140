"""The neural-network entries of the catalog: mse-neuron, softmax-cross-entropy, backprop,
mnist-network and errata — each result in the notes' notation, each proof passing, and the
notes' mistakes judged wrong with the right diagnosis."""

from __future__ import annotations

import functools
import re

import pytest
import sympy as sp

import derivations
from derivations.backprop import NETWORKS, general
from derivations.mnist_network import NOTES_SIZES, kernel_expressions
from jacobian_lab.core.derivation import Derivation, Proof, Result
from jacobian_lab.core.proof import prove, prove_result
from jacobian_lab.language.latex import latex
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix.explicit import explicit
from jacobian_lab.matrix.expr import DIM_M

NN = ["mse-neuron", "softmax-cross-entropy", "backprop", "mnist-network", "errata"]


@functools.cache
def proven(name: str) -> tuple[Derivation, Proof]:
    d = derivations.get(name)
    return d, prove(d)


def results(name: str) -> list[str]:
    """``lhs = rhs`` of every result in the terminal notation, after a passing proof."""
    d, p = proven(name)
    assert p.ok, [(notation(r.lhs), s, c.summary()) for r in p.results for s, c in r.checks
                  if not c.ok]
    return [f"{notation(r.lhs)} = {notation(r.expr)}" for r in d.results]


# --------------------------------------------------------------------------- the entries


def test_mse_neuron_per_sample_then_summed_then_batched():
    assert results("mse-neuron") == [
        "∂Cᵢ/∂w = eᵢ step(zᵢ) xᵢᵀ",
        "∂C/∂w = 1/m Σᵢ eᵢ step(zᵢ) xᵢᵀ",
        "∂C/∂w = 1/m (e ⊙ step(z))ᵀ Xᵀ",
        "∂Cᵢ/∂b = eᵢ step(zᵢ)",
        "∂C/∂b = 1/m Σᵢ eᵢ step(zᵢ)",
        "∂C/∂b = 1/m 𝟏ᵀ (e ⊙ step(z))",
    ]
    d, p = proven("mse-neuron")
    assert {s[m_] for s in d.sizes for m_ in s if m_ == DIM_M} == {1, 2, 3}
    assert all(v.correct for v in p.claims)
    written = [notation(s.rhs) for s in d.steps if s.rule == "substitute z and e"]
    assert written[0] == "1/m ((Xᵀ w + b 𝟏 - y) ⊙ step(Xᵀ w + b 𝟏))ᵀ Xᵀ"
    relu_step = next(s for s in d.steps if s.rule.startswith("on active samples"))
    assert "step(z) relu(z) = step(z) z" in relu_step.rule


def test_softmax_cross_entropy_is_s_minus_y_when_the_target_sums_to_one():
    assert results("softmax-cross-entropy") == [
        "∂C/∂s = -(y ⊘ s)ᵀ",
        "∂s/∂z = diag(s) - s sᵀ",
        "∂C/∂z = 𝟏ᵀ y sᵀ - yᵀ",
        "∂C/∂z = (s - y)ᵀ",
        "∇C = s - y",
    ]
    d, p = proven("softmax-cross-entropy")
    assert all(v.correct for v in p.claims)
    assert any("𝟏ᵀy = 1" in s.rule for s in d.steps)
    # Without the assumption (s − y)ᵀ is wrong: the general form is needed.
    r = d.results[3]
    bare = Result(r.lhs, r.expr, r.of, r.wrt, r.kind, r.defs)
    assert prove_result(bare, {sp.Symbol("n", integer=True, positive=True): 2}).verdict == (
        "incorrect")


def test_backprop_general_equations_bp1_to_bp4_and_batched():
    g = general()
    assert [notation(e) for e in (g.bp1, g.bp2, g.bp3, g.bp4)] == [
        "∇ₐC ⊙ σ′(z⁽ᴸ⁾)", "(W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ σ′(z⁽ˡ⁾)", "δ⁽ˡ⁾", "δ⁽ˡ⁾ a⁽ˡ⁻¹⁾ᵀ"]
    assert {k: notation(v) for k, v in g.batched.items()} == {
        "W": "1/m Δ⁽ˡ⁾ A⁽ˡ⁻¹⁾ᵀ", "b": "1/m Δ⁽ˡ⁾ 𝟏", "DL": "∇ᴬC ⊙ σ′(Z⁽ᴸ⁾)",
        "D": "(W⁽ˡ⁺¹⁾ᵀ Δ⁽ˡ⁺¹⁾) ⊙ σ′(Z⁽ˡ⁾)"}
    assert any(s.rule.startswith("BP4: affine map w.r.t. its matrix") for s in g.steps)


def test_backprop_is_proven_on_every_network_and_the_batch():
    out = results("backprop")
    assert len(out) == sum(2 * (len(widths) - 1) for _, widths, *_ in NETWORKS) + 4
    assert out[:4] == [
        "∂C/∂W⁽¹⁾ (2-3-2 sigmoid, MSE) = δ⁽¹⁾ xᵀ",
        "(∂C/∂b⁽¹⁾)ᵀ (2-3-2 sigmoid, MSE) = δ⁽¹⁾",
        "∂C/∂W⁽²⁾ (2-3-2 sigmoid, MSE) = δ⁽²⁾ a⁽¹⁾ᵀ",
        "(∂C/∂b⁽²⁾)ᵀ (2-3-2 sigmoid, MSE) = δ⁽²⁾",
    ]
    assert out[-4:] == [
        "∂C/∂W⁽¹⁾ (2-3-2 sigmoid, MSE, m samples) = 1/m Δ⁽¹⁾ Xᵀ",
        "(∂C/∂b⁽¹⁾)ᵀ (2-3-2 sigmoid, MSE, m samples) = 1/m Δ⁽¹⁾ 𝟏",
        "∂C/∂W⁽²⁾ (2-3-2 sigmoid, MSE, m samples) = 1/m Δ⁽²⁾ A⁽¹⁾ᵀ",
        "(∂C/∂b⁽²⁾)ᵀ (2-3-2 sigmoid, MSE, m samples) = 1/m Δ⁽²⁾ 𝟏",
    ]
    d, p = proven("backprop")
    assert {"n0=2,n1=3,n2=2", "n0=3,n1=4,n2=3,n3=2"} <= set(p.sizes)
    assert all(len(r.checks) >= 3 for r in p.results)
    steps = {f"{notation(s.lhs)} = {notation(s.rhs)}" for s in d.steps}
    assert {"δ⁽¹⁾ = (W⁽²⁾ᵀ δ⁽²⁾) ⊙ step(z⁽¹⁾)", "∇ₐC = -(y ⊘ a⁽³⁾)", "∇ₐC = a⁽²⁾ - y"} <= steps
    assert {("sigmoid" in lbl, "ReLU" in lbl, cost) for lbl, _, _, cost, _ in NETWORKS} >= {
        (True, False, "mse"), (True, True, "ce"), (True, True, "mse")}


def test_mnist_network_batched_gradients():
    assert results("mnist-network") == [
        "∂C/∂W2 = 1/m dZ2 A1ᵀ",
        "(∂C/∂b2)ᵀ = 1/m dZ2 𝟏",
        "∂C/∂W1 = 1/m dZ1 Xᵀ",
        "(∂C/∂b1)ᵀ = 1/m dZ1 𝟏",
        "dZ2 (= m ∂C/∂Z2) = A2 - Y",
        "dZ1 (= m ∂C/∂Z1) = (W2ᵀ dZ2) ⊙ step(Z1)",
    ]
    d, _ = proven("mnist-network")
    assert len(d.sizes) >= 3 and all(s[DIM_M] >= 1 for s in d.sizes)


def test_mnist_kernel_expressions_for_the_code_generator():
    ex = kernel_expressions()
    assert {k: notation(v) for k, v in ex.items()} == {
        "Z1": "W1 X + b1 𝟏ᵀ", "A1": "relu(Z1)", "Z2": "W2 A1 + b2 𝟏ᵀ", "A2": "softmax(Z2)",
        "dZ2": "A2 - Y", "dZ1": "(W2ᵀ dZ2) ⊙ step(Z1)", "dW2": "1/m dZ2 A1ᵀ",
        "db2": "1/m dZ2 𝟏", "dW1": "1/m dZ1 Xᵀ", "db1": "1/m dZ1 𝟏"}
    symbols = {s.name for e in ex.values() for s in e.atoms(sp.MatrixSymbol)}
    assert symbols == {"X", "Y", "W1", "b1", "W2", "b2", "Z1", "A1", "Z2", "A2", "dZ1", "dZ2"}
    shapes = {s.name: s.shape for e in ex.values() for s in e.atoms(sp.MatrixSymbol)}
    sizes = {**NOTES_SIZES, DIM_M: 32}
    assert [tuple(int(d.xreplace(sizes)) for d in shapes[k]) for k in ("X", "W1", "dZ2")] == [
        (784, 32), (10, 784), (10, 32)]
    # The same expressions evaluate at a concrete size.
    assert explicit(ex["db2"], {**dict.fromkeys(NOTES_SIZES, 2), DIM_M: 2}).shape == (2, 1)


# --------------------------------------------------------------------------- errata


def verdicts() -> list[tuple[str, bool, str | None, str]]:
    _, p = proven("errata")
    return [(v.claim.text, v.correct, v.check.diagnosis, v.claim.explanation)
            for v in p.claims]


def test_errata_every_claim_is_judged_wrong_and_explained():
    out = verdicts()
    assert len(out) == 7
    for text, correct, _, explanation in out:
        assert not correct, text
        assert explanation, text
    assert results("errata") == [
        "∂a'/∂a = diag(sigmoid′(z)) W",
        "∂(v ⊙ w)/∂v = diag(w)",
        "∂(A b)/∂b = A",
        "z = [6, 4]ᵀ",
        "∂C′/∂w = (2/m) (e ⊙ step(z))ᵀ Xᵀ",
        "∂C/∂w = 1/m (e ⊙ step(z))ᵀ Xᵀ",
    ]


@pytest.mark.parametrize(("index", "diagnosis"), [
    (0, r"transpose of the Jacobian .* denominator layout"),  # Wᵀ diag(σ′(z))
    (2, r"transpose of the Jacobian .* denominator layout"),  # ∂(Ab)/∂b = Aᵀ
    (3, r"entry \(1,1\) is 8, not 6; entry \(2,1\) is 10, not 4"),  # z = [8, 10]ᵀ
    (4, r"^entry \(2,1\) is 3, not 4$"),  # aᵀW + bᵀ
    (5, r"constant factor 1/2"),  # the missing 2 under C = 1/m Σ (y − a)²
])
def test_errata_diagnoses(index, diagnosis):
    _, _, got, _ = verdicts()[index]
    assert got is not None and re.search(diagnosis, got), got


def test_errata_wrong_diagonal_and_missing_bias_differ_where_they_should():
    _, p = proven("errata")
    diagonal, bias = p.claims[1].check, p.claims[6].check
    assert diagonal.verdict == bias.verdict == "incorrect"
    assert {(mm.row, mm.col) for mm in diagonal.mismatches} <= {(i, i) for i in range(1, 4)}
    assert bias.counterexample  # a point where the error without b changes the gradient


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("name", NN)
def test_entry_is_complete_and_reads_well(name):
    d, p = proven(name)
    assert p.ok
    assert d.name == name and d.title and d.summary and d.givens and d.steps and d.results
    assert len(d.sizes) >= 3 or all(len(r.sizes) >= 3 or r.kind == "value" for r in d.results)
    for s in [*d.definitions, *d.steps]:
        text = f"{notation(s.lhs)} = {notation(s.rhs)} {s.rule} {s.why}"
        for raw in ("Matrix(", "HadamardProduct", "Apply(", "Scalar(", "OneMatrix", "*",
                    "Identity", ".T"):
            assert raw not in text, (name, text)
        assert s.rule
        latex(s.lhs), latex(s.rhs)
    for r in d.results:
        assert "\\" in latex(r.expr) or latex(r.expr)


def test_nn_entries_are_registered_in_the_notes_order():
    names = derivations.names()
    assert [n for n in names if n in NN] == NN
