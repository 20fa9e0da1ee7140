"""The rule table: every registration has an example that fires it, the record names the rule
that computed the Jacobian (so the name cannot drift from the rule), each Jacobian is proven
against the component layer, a node no rule matches is named in a RuleError, and a wrong rule
registered in the table is caught by the proof.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.core.derivation import Partial, Result
from jacobian_lab.core.proof import prove_result
from jacobian_lab.errors import RuleError
from jacobian_lab.matrix.expr import (
    DIM_K,
    DIM_M,
    DIM_N,
    SampleSum,
    T,
    apply,
    expand_scalar,
    hadamard,
    matrix,
    scalar,
    softmax,
    vector,
    vsum,
)
from jacobian_lab.matrix.rules import RULES, defjac, differentiate, jac, rule_name, select
from jacobian_lab.matrix.simplify import simplify

n, k, m = DIM_N, DIM_K, DIM_M
SIZES = [{n: 1, k: 2, m: 1}, {n: 2, k: 3, m: 2}, {n: 3, k: 2, m: 3}]
x, u, v, w, z = (vector(s) for s in ("x", "u", "v", "w", "z"))
b = vector("b", k)
W, A = matrix("W", k, n), matrix("A", n, n)
s = scalar("s")
xi, yi, X, Y = vector("xᵢ"), scalar("yᵢ"), matrix("X", n, m), vector("y", m)

EXAMPLES: dict[str, Callable[[], tuple[MatrixExpr, sp.MatrixSymbol]]] = {
    "sum with a constant: ∂(u + c)/∂u = I": lambda: (x + vector("c"), x),
    "{inner} (the other terms are constant)": lambda: (W * x + b, x),
    "sum rule: ∂(u + v) = ∂u + ∂v": lambda: (A * x + x, x),
    "sum over samples: ∂(Σᵢ Cᵢ) = Σᵢ ∂Cᵢ":
        lambda: (SampleSum(sp.MatMul(T(w), xi, yi), ((xi, X), (yi, Y)), m), w),
    "transpose of a scalar": lambda: (T(T(w) * x), w),
    "quadratic form: ∂(uᵀu)/∂u = 2uᵀ": lambda: (T(x) * x, x),
    "dot product: ∂(uᵀx)/∂u = xᵀ": lambda: (T(w) * x, w),
    "scaling: ∂(c u)/∂u = c I": lambda: (sp.MatMul(3, x), x),
    "sum: sum(u) = 𝟏ᵀu, so ∂(𝟏ᵀu)/∂u = 𝟏ᵀ": lambda: (vsum(x), x),
    "scalar expansion: ∂(x𝟏)/∂x = 𝟏": lambda: (expand_scalar(s, n), s),
    "affine map: ∂(A u)/∂u = A": lambda: (W * x, x),
    "product rule": lambda: (T(x) * A * x, x),
    "element-wise product: ∂(u ⊙ v) = diag(v) ∂u + diag(u) ∂v": lambda: (hadamard(u, v), u),
    "element-wise power: ∂(u^∘p) = diag(p u^∘(p−1)) ∂u": lambda: (sp.HadamardPower(u, 3), u),
    "element-wise function: ∂f(u) = diag(f′(u)) ∂u": lambda: (apply("tanh", x), x),
    "softmax: ∂s/∂z = diag(s) − s sᵀ": lambda: (softmax(z), z),
}


def test_every_rule_of_the_table_has_an_example():
    assert {e.name for entries in RULES.values() for e in entries} == set(EXAMPLES)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_record_names_the_rule_that_fired_and_its_jacobian_holds(name):
    expr, wrt = EXAMPLES[name]()
    entry = select(expr, wrt)
    fired = differentiate(expr, wrt)
    assert entry.name == name
    assert fired.rule == rule_name(expr, wrt)
    assert fired.rule == name or name.format(inner=fired.rule.split(" (")[0]) == fired.rule
    r = Result(Partial(expr, wrt), simplify(fired.jacobian), expr, wrt)
    for size in SIZES:
        check = prove_result(r, size)
        assert check.ok, (name, size, check.summary())


def test_a_term_among_constants_is_named_after_its_own_rule():
    assert rule_name(W * x + b, x) == "affine map: ∂(A u)/∂u = A (the other terms are constant)"
    assert rule_name(apply("relu", x) + vector("c"), x) == (
        "element-wise function: ∂f(u) = diag(f′(u)) ∂u (the other terms are constant)")


def test_the_identity_and_a_constant_have_their_own_records():
    assert differentiate(x, x).rule.startswith("identity")
    fired = differentiate(W * w, x)
    assert fired.rule.startswith("constant") and isinstance(fired.jacobian, sp.ZeroMatrix)


def test_a_node_no_rule_matches_raises_a_rule_error_naming_it():
    node = sp.KroneckerProduct(x, u)  # a column that depends on x, but the table has no rule
    with pytest.raises(RuleError, match=r"No Jacobian rule for the node .*KroneckerProduct"):
        jac(node, x)
    with pytest.raises(RuleError, match="KroneckerProduct"):
        rule_name(node, x)


def _half_quadratic(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """WRONG: ∂(uᵀu)/∂u = uᵀ (the factor 2 dropped)."""
    coeff, (_, uu) = expr.as_coeff_matrices()
    return sp.MatMul(coeff, sp.Transpose(uu), jac(uu, wrt))


def test_a_wrong_rule_registered_in_the_table_is_caught_by_the_proof(monkeypatch):
    entries = RULES[sp.MatMul]
    quadratic = next(e for e in entries if e.name.startswith("quadratic form"))
    monkeypatch.setitem(RULES, sp.MatMul, [])
    defjac(sp.MatMul, "WRONG quadratic form", quadratic.pattern)(_half_quadratic)
    for e in entries:
        if e is not quadratic:
            RULES[sp.MatMul].append(e)
    expr = T(x) * x
    assert rule_name(expr, x) == "WRONG quadratic form"
    r = Result(Partial(expr, x), simplify(jac(expr, x)), expr, x)
    check = prove_result(r, {n: 2})
    assert check.verdict == "incorrect"
    assert check.diagnosis == "the claim is the Jacobian times a constant factor 1/2"
