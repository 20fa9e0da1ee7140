"""Reverse mode with matrix adjoints (jacobian_lab.matrix.adjoint): every rule of its table is
exercised by an expression whose gradient is proven, and a wrong rule — each share doubled,
or transposed where the shape allows — makes that proof fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix

from jacobian_lab.core.from_text import diff
from jacobian_lab.core.proof import prove
from jacobian_lab.errors import RuleError
from jacobian_lab.language.matrix_shapes import parse_shapes
from jacobian_lab.matrix import adjoint
from jacobian_lab.matrix.adjoint import ADJOINTS, backprop
from jacobian_lab.matrix.expr import Apply, Softmax, SquareFunction, matrix

# One expression per rule of the table, with a matrix variable so the adjoints are used.
USES: dict[type, tuple[str, tuple[str, ...], str]] = {
    sp.MatAdd: ("tr(A*X + X)", ("A=n,n", "X=n,n"), "X"),
    sp.MatMul: ("tr(A*X*B)", ("A=n,n", "X=n,n", "B=n,n"), "X"),
    sp.Transpose: ("tr(A*X')", ("A=n,n", "X=n,n"), "X"),
    sp.HadamardProduct: ("sum((A*X) .* X)", ("A=n,n", "X=n,n"), "X"),
    sp.HadamardPower: ("sum(X .^ 3)", ("X=n,m",), "X"),
    Apply: ("sum(tanh(W*X))", ("W=n,m", "X=m,k"), "W"),
    Softmax: ("sum(log_softmax(W*X) .* Y)", ("W=n,m", "X=m,k", "Y=n,k"), "W"),
    DiagMatrix: ("tr(diag(W*x)*A)", ("W=n,m", "x=m", "A=n,n"), "W"),
    SquareFunction: ("det(X) + logdet(X) + tr(X)", ("X=n,n",), "X"),
    sp.Inverse: ("tr(inv(X)*A)", ("A=n,n", "X=n,n"), "X"),
    sp.MatPow: ("tr(X*X*A) + tr(inv(X*X))", ("A=n,n", "X=n,n"), "X"),  # X*X is SymPy's X²
}


def test_every_adjoint_rule_has_an_expression_that_uses_it() -> None:
    assert set(USES) == set(ADJOINTS)


@pytest.mark.parametrize("node", list(USES), ids=[c.__name__ for c in USES])
def test_each_adjoint_rule_gives_a_proven_gradient(node: type) -> None:
    text, shapes, wrt = USES[node]
    d = diff(text, [wrt], parse_shapes(list(shapes)))
    assert any("adjoint" in s.rule for s in d.steps), [s.rule for s in d.steps]
    proof = prove(d)
    assert proof.ok, [c.diagnosis for r in proof.results for _, c in r.checks]


def _doubled(rule: Callable) -> Callable:
    return lambda e, g: [(child, sp.MatMul(2, share)) for child, share in rule(e, g)]


@pytest.mark.parametrize("node", list(USES), ids=[c.__name__ for c in USES])
def test_a_wrong_adjoint_rule_fails_the_proof(node: type,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof, not the table, stands behind a result: double what one rule passes back
    and the gradient that uses it is refuted."""
    text, shapes, wrt = USES[node]
    name, rule = ADJOINTS[node]
    monkeypatch.setitem(ADJOINTS, node, (name, _doubled(rule)))
    d = diff(text, [wrt], parse_shapes(list(shapes)))
    assert not prove(d).ok, node.__name__


def test_a_transposed_product_rule_fails_the_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    name, rule = ADJOINTS[sp.MatMul]
    monkeypatch.setitem(ADJOINTS, sp.MatMul, (name, lambda e, g: [
        (c, sp.Transpose(s) if s.shape[0] == s.shape[1] else s) for c, s in rule(e, g)]))
    d = diff("tr(A*X*B)", ["X"], parse_shapes(["A=n,n", "X=n,n", "B=n,n"]))
    assert not prove(d).ok


def test_a_node_without_an_adjoint_rule_is_named() -> None:
    X = matrix("X", 2, 2)
    with pytest.raises(RuleError, match=r"No adjoint rule for the node .*KroneckerProduct"):
        backprop(sp.KroneckerProduct(X, X), sp.Identity(4), {X})
    with pytest.raises(RuleError, match="whole exponents up to 64"):
        backprop(sp.MatPow(X, 100), sp.Identity(2), {X})


def test_constants_receive_nothing_and_a_leaf_used_twice_adds_its_shares() -> None:
    A, X = matrix("A", 3, 3), matrix("X", 3, 3)
    got = backprop(SquareFunction("tr", A * X + X * A), sp.Identity(1), {X})
    assert set(got) == {X}
    assert isinstance(got[X], sp.MatAdd)


def test_the_step_names_the_rules_that_fired() -> None:
    d = diff("logdet(X)", ["X"], parse_shapes(["X=n,n"]))
    assert d.steps[-1].rule.startswith("adjoint: logdet: ∂log |det(X)|/∂X = X⁻ᵀ")
    assert "tr:" not in d.steps[-1].rule  # only the function that fired
    assert adjoint.rule_of(SquareFunction("tr", matrix("X", 2, 2)))[0].startswith("tr:")
