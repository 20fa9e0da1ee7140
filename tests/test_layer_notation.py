"""Layer indices print as bracketed superscripts (a⁽²⁾, LaTeX a^{(2)}) so they never read as
powers, and an element-wise reciprocal prints as the notes' division ⊘."""

from __future__ import annotations

import sympy as sp

import derivations
from derivations.backprop import sup
from jacobian_lab.language.latex import latex
from jacobian_lab.language.notation import notation, split_reciprocals
from jacobian_lab.matrix.expr import hadamard, vector


def test_layer_index_is_a_bracketed_superscript():
    assert sup(2) == "⁽²⁾"
    assert sup(12) == "⁽¹²⁾"


def test_layer_indexed_names_in_latex_are_bracketed_superscripts():
    assert latex(sp.MatrixSymbol("W⁽ˡ⁺¹⁾", 3, 2)) == "W^{(l+1)}"
    assert latex(vector("a⁽²⁾")) == "\\mathbf{a^{(2)}}"
    assert latex(sp.Transpose(sp.MatrixSymbol("W⁽²⁾", 3, 2))) == "{W^{(2)}}^{\\top}"


def test_reciprocal_in_a_hadamard_product_prints_as_division():
    a, y = vector("a⁽²⁾"), vector("y")
    e = hadamard(sp.HadamardPower(a, -1), y)
    assert notation(e) == "y ⊘ a⁽²⁾"
    assert notation(sp.MatMul(-1, e)) == "-(y ⊘ a⁽²⁾)"
    assert latex(e) == "\\mathbf{y} \\oslash \\mathbf{a^{(2)}}"


def test_power_of_a_layer_indexed_name_brackets_its_base():
    a = vector("a⁽²⁾")
    assert notation(sp.HadamardPower(a, 2)) == "(a⁽²⁾)^∘(2)"
    assert latex(sp.HadamardPower(a, 2)) == "\\left(\\mathbf{a^{(2)}}\\right)^{\\circ 2}"
    w = vector("w")
    assert notation(sp.HadamardPower(w, -2)) == "w^∘(-2)"  # a plain name needs no bracket


def test_split_reciprocals_keeps_other_powers_as_factors():
    a, y = vector("a"), vector("y")
    num, den = split_reciprocals([sp.HadamardPower(a, -1), y, sp.HadamardPower(a, 2)])
    assert den == [a] and num == [y, sp.HadamardPower(a, 2)]


def test_backprop_prints_layer_indices_and_the_cross_entropy_gradient_readably():
    d = derivations.get("backprop")
    steps = {f"{notation(s.lhs)} = {notation(s.rhs)}" for s in d.steps}
    assert "∇ₐC = a⁽²⁾ - y" in steps          # a⁽²⁾ is layer 2's output, not a squared
    assert "∇ₐC = -(y ⊘ a⁽²⁾)" in steps        # −y ⊘ a, not -(a²^∘(-1) ⊙ y)
    assert not any("²^" in s or "a² " in s for s in steps)
    text = " ".join([d.summary, *(s.rule + s.why for s in d.steps)])
    assert "δ⁽ˡ⁾ = (∂C/∂z⁽ˡ⁾)ᵀ" in d.summary and "aˡ⁻¹" not in text
