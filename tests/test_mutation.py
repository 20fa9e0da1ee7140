"""Mutation testing: every check must fail when its formula is mutated in a way that changes
the value (× 1.001, sign, transpose, a dropped term, ReLU'(0) = 1, a dropped 1/m), and a
mutant that keeps the value must be recognised as equivalent, not counted as missed."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sympy as sp

import derivations
from jacobian_lab import mutation
from jacobian_lab.core import proof
from jacobian_lab.judge import checker, sampler
from jacobian_lab.matrix.expr import DIM_M, DIM_N, apply, matrix, vector

JLAB = [sys.executable, "-m", "jacobian_lab"]


def _report(score: mutation.Score) -> str:
    return "\n".join(f"{o.level} {o.target} · {o.operator} ({o.detail}): {o.by}"
                     for o in score.missed)


# --------------------------------------------------------------------------- the operators


def test_operators_produce_each_kind_of_mutant_of_a_matrix_expression():
    W, x, b = matrix("W", DIM_N, DIM_N), vector("x"), vector("b")
    z = sp.MatAdd(sp.MatMul(W, x), b)
    e = sp.MatMul(1 / DIM_M, sp.HadamardProduct(z, apply("relu", z, 1)))
    ops = [mu.operator for mu in mutation.mutants(e)]
    assert ops.count("scale") == ops.count("sign") == ops.count("transpose") == 1
    assert ops.count("drop-term") == 2, "W x + b has two terms to drop"
    assert "relu'(0)" in ops and "drop-1/m" in ops
    dropped = next(mu.expr for mu in mutation.mutants(e) if mu.operator == "drop-1/m")
    assert not dropped.has(DIM_M), "the 1/m is gone"


def test_mutants_of_an_explicit_result_drop_terms_entry_by_entry():
    x, y = sp.symbols("x y", real=True)
    m = sp.Matrix([[2 * x + y, sp.Heaviside(x, 0)]])
    by_op = {mu.operator: mu for mu in mutation.mutants(m)}
    assert by_op["transpose"].expr.shape == (2, 1)
    assert by_op["relu'(0)"].expr[1] == sp.Heaviside(x, 1)
    drops = [mu.expr[0] for mu in mutation.mutants(m) if mu.operator == "drop-term"]
    assert sorted(map(str, drops)) == ["2*x", "y"]


# --------------------------------------------------------------------------- the three levels


@pytest.mark.parametrize("name", derivations.names())
def test_the_proof_catches_every_value_changing_mutant_of_a_catalog_entry(name):
    score = mutation.run(["catalog"], [name])
    assert score.outcomes, f"{name} produced no mutant"
    assert score.perfect, f"{name}: mutants the proof missed:\n{_report(score)}"


def test_the_kernel_verification_catches_every_value_changing_mutant_of_every_kernel():
    score = mutation.run(["kernel"])
    kernels = {o.target.split(":")[0] for o in score.outcomes}
    assert len(kernels) == 22, f"every kernel is mutated, got {sorted(kernels)}"
    assert score.perfect, f"mutants the kernel verification missed:\n{_report(score)}"
    assert score.count("equivalent") >= 1, "a 1 × 1 transpose is recognised as equivalent"


def test_the_training_check_catches_every_value_changing_mutant_of_the_trainers_kernels():
    score = mutation.run(["training"])
    assert score.perfect, f"mutants the training-time check missed:\n{_report(score)}"
    relu = [o for o in score.outcomes if o.operator == "relu'(0)"]
    assert relu and all(o.status == "caught" for o in relu), \
        "the blank input puts ReLU on its kink, so ReLU'(0) = 1 changes the gradient"


# --------------------------------------------------------------------------- the harness


def test_equivalent_mutants_are_recognised_not_counted_as_missed():
    # softmax's Jacobian diag(s) − s sᵀ is symmetric: its transpose is the same matrix
    score = mutation.run(["catalog"], ["softmax"])
    transposed = [o for o in score.outcomes if o.operator == "transpose"]
    assert [o.status for o in transposed] == ["equivalent"]
    assert score.score() == 1.0 and score.count("caught") >= 3


def test_a_blind_proof_makes_every_value_changing_mutant_missed(monkeypatch):
    """The harness can fail: with a proof that accepts anything, the score drops to 0."""
    blind = checker.Check("correct", "symbolic", sp.Matrix(), sp.Matrix())
    monkeypatch.setattr(proof, "judge", lambda *a, **k: blind)
    score = mutation.run(["catalog"], ["neuron-relu"])
    assert score.count("caught") == 0 and score.count("missed") >= 5
    assert score.score() == 0.0 and not score.perfect


def test_a_blind_training_check_makes_its_mutants_missed(monkeypatch):
    from jacobian_lab.training import checks

    real = checks.check_gradients

    def blind(*args, **kwargs):
        out = real(*args, **kwargs)
        return checks.GradientCheck(out.step, 0.0, 0.0, 0.0, 0.0)  # passed, whatever it saw

    monkeypatch.setattr(checks, "check_gradients", blind)
    score = mutation.run(["training"], ["dense_backward"])
    missed = {o.operator for o in score.missed}
    assert {"scale", "sign", "drop-1/m"} <= missed


def test_relu_prime_of_0_is_caught_only_by_evaluating_on_the_kink(monkeypatch):
    monkeypatch.setattr(sampler, "KINK_POINTS", 0)
    score = mutation.run(["kernel"], ["relu_grad"])
    swap = [o for o in score.outcomes if o.operator == "relu'(0)"]
    assert [o.status for o in swap] == ["missed"], \
        "without points on the kink, sampling cannot tell ReLU'(0) = 1 from 0"


# --------------------------------------------------------------------------- the command


def test_cli_mutate_prints_the_score_and_exits_0():
    proc = subprocess.run([*JLAB, "mutate", "--level", "kernel", "relu_grad", "-v"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "mutation score 4/4 = 100.0%" in proc.stdout
    assert "relu'(0)" in proc.stdout


def test_cli_mutate_unknown_name_is_one_line_with_a_suggestion():
    proc = subprocess.run([*JLAB, "mutate", "relu_grd"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "relu_grad" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- the fast checker


@pytest.mark.parametrize("name", derivations.names())
def test_fast_mode_finds_no_counterexample_to_a_right_result(name):
    """The quick float64 witness search (confirmed at 30 digits) never refutes a proven result."""
    d = derivations.get(name)
    for r in d.results:
        for size in (list(r.sizes) or list(d.sizes) or [{}])[:2]:
            check = proof.prove_result(r, size, fast=True)
            assert check.ok, f"{name}: {r.lhs} at {size}: {check.summary()}"


def test_the_float64_evaluator_agrees_with_30_digit_evaluation():
    from jacobian_lab.judge.witness import float_value
    from jacobian_lab.language.functions import relu, sigmoid, softplus

    x, y = sp.symbols("x y", real=True)
    e = (relu(x - y) * sigmoid(2 * x) + softplus(y) / (1 + x**2) - sp.log(x**2 + 1)
         + sp.Heaviside(x, 0) * sp.tanh(y) + sp.Max(x, y) ** 3 + sp.sqrt(x**2 + 3))
    for vx, vy in ((0.3, -1.2), (-2.5, 0.7), (1.0, 1.0)):
        want = float(e.xreplace({x: sp.Float(vx, 30), y: sp.Float(vy, 30)}).evalf(30))
        got = float_value(e, {x: vx, y: vy})
        assert got == pytest.approx(want, rel=1e-13), (vx, vy)
