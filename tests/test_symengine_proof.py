"""Proofs through SymEngine (core/symengine_proof.py) and in parallel processes (core/parallel.py)
check what the pure-SymPy proof checks: a right result is proven, a wrong one never is — it is
handed to SymPy's comparison, which finds and explains the mismatch."""

from __future__ import annotations

import dataclasses

import pytest
import sympy as sp

import derivations
from jacobian_lab.core import parallel, symengine_proof
from jacobian_lab.core.proof import component_truth, prove, prove_result
from jacobian_lab.judge.verdict import Check
from jacobian_lab.matrix.explicit import Instantiator
from jacobian_lab.matrix.expr import Apply, apply

pytest.importorskip("symengine")


@pytest.fixture(scope="module")
def backprop():
    return derivations.get("backprop")


def _sizes(d, r):
    return (r.sizes or tuple(d.sizes))[0]


@pytest.mark.parametrize("index", [0, 5, 9, 14, 20])
def test_symengine_proves_the_backprop_results_sympy_proves(backprop, index, monkeypatch):
    r = backprop.results[index]
    s = _sizes(backprop, r)
    fast = symengine_proof.prove_fast(r, Instantiator(s))
    assert isinstance(fast, Check) and fast.ok and fast.method == "symbolic"
    monkeypatch.setenv("JLAB_NO_SYMENGINE", "1")
    assert symengine_proof.prove_fast(r, Instantiator(s)) is None
    assert prove_result(r, s, inst=Instantiator(s)).ok


@pytest.mark.parametrize("index", [0, 3, 9])  # sigmoid + MSE, ReLU + cross-entropy, 3 layers
def test_a_wrong_backprop_result_is_not_proven_by_symengine_and_is_caught(backprop, index):
    r = backprop.results[index]
    wrong = dataclasses.replace(r, expr=sp.MatMul(2, r.expr))
    s = _sizes(backprop, r)
    fast = symengine_proof.prove_fast(wrong, Instantiator(s))
    assert isinstance(fast, sp.MatrixBase)  # SymEngine's truth, for SymPy to judge
    check = prove_result(wrong, s, inst=Instantiator(s))
    assert not check.ok  # never proven (incorrect, or undecided as on the SymPy path)


def test_a_wrong_activation_derivative_is_caught():
    """σ′ = σ (forgetting the factor 1 − σ) in backprop's δs: SymEngine does not prove
    it — the truth's σ′ is the registry's, not whatever the claim wrote."""
    d = derivations.get("backprop")
    r = d.results[0]  # 2-3-2 sigmoid, MSE: ∂C/∂W⁽¹⁾
    # replace every σ′ in the claim's definitions (the δs) by σ itself
    defs = tuple((k, v.replace(lambda e: isinstance(e, Apply) and e.order == 1,
                               lambda e: apply(e.fname, e.arg))) for k, v in r.defs)
    assert defs != r.defs
    wrong = dataclasses.replace(r, defs=defs)
    s = _sizes(d, r)
    assert not isinstance(symengine_proof.prove_fast(wrong, Instantiator(s)), Check)
    assert not prove_result(wrong, s, inst=Instantiator(s)).ok


def test_the_truth_symengine_hands_back_equals_sympys(backprop):
    r = backprop.results[3]  # a ReLU network: Heaviside steps in the truth
    s = _sizes(backprop, r)
    wrong = dataclasses.replace(r, expr=sp.MatMul(3, r.expr))
    fast = symengine_proof.prove_fast(wrong, Instantiator(s))
    slow, _ = component_truth(r, s)
    assert isinstance(fast, sp.MatrixBase) and fast.shape == slow.shape
    assert all(sp.simplify(a - b) == 0 for a, b in zip(fast, slow, strict=True))


def test_relu_gating_proves_a_relu_result():
    d = derivations.get("neuron-relu")
    r = d.results[0]
    s = d.sizes[-1]
    symengine_proof.available()  # loaded: small results then go through SymEngine too
    fast = symengine_proof.prove_fast(r, Instantiator(s))
    assert isinstance(fast, Check) and fast.ok


def test_parallel_proofs_match_the_sequential_ones(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_CHECKS", 1)
    d = derivations.get("mse-neuron")
    alone, forked = prove(d, workers=1), prove(d, workers=2)
    assert alone.sizes == forked.sizes
    assert [(r.ok, r.method, [lab for lab, _ in r.checks]) for r in alone.results] == [
        (r.ok, r.method, [lab for lab, _ in r.checks]) for r in forked.results]
    assert [v.correct for v in alone.claims] == [v.correct for v in forked.claims]


def test_a_wrong_result_proved_in_a_worker_fails_the_proof(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_CHECKS", 1)
    d = derivations.get("mse-neuron")
    d.results[0] = dataclasses.replace(d.results[0], expr=sp.MatMul(2, d.results[0].expr))
    proof = prove(d, workers=2)
    assert not proof.ok and not proof.results[0].ok and proof.results[1].ok


def test_a_task_that_raises_in_a_worker_raises_here():
    def boom(k: int) -> int:
        if k == 1:
            raise ValueError("task 1")
        return k

    with pytest.raises(ValueError, match="task 1"):
        parallel.run(boom, range(3), workers=2, checks=parallel.MIN_CHECKS)
    assert parallel.run(lambda k: k * k, range(4), workers=2, checks=99) == {
        0: 0, 1: 1, 2: 4, 3: 9}


@pytest.mark.parametrize("index", [0, 2])  # dW2, dW1: softmax fractions, a one-hot assumption
def test_with_an_assumption_symengine_hands_back_the_truth_and_sympy_decides(index):
    """mnist-network's results hold for a one-hot Y (an `assume`): SymEngine differentiates
    (exp written E**u on its side) but never declares them proven itself; its truth equals
    SymPy's, the right result is proven and a doubled one refuted."""
    d = derivations.get("mnist-network")
    r = d.results[index]
    s = d.sizes[2]  # n0 = n1 = n2 = 2, m = 1: small enough for simplify
    fast = symengine_proof.prove_fast(r, Instantiator(s))
    assert isinstance(fast, sp.MatrixBase)  # the truth, not a Check
    slow, _ = component_truth(r, s)
    assert all(sp.simplify(a - b) == 0 for a, b in zip(fast, slow, strict=True))
    assert prove_result(r, s, inst=Instantiator(s)).ok
    wrong = dataclasses.replace(r, expr=sp.MatMul(2, r.expr))
    assert not prove_result(wrong, s, inst=Instantiator(s)).ok
