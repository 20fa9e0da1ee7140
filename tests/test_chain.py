"""The chain walk is a reverse sweep over the DAG of the intermediates: skip connections, a
variable used twice and sums of paths derive right, each step named by the rule that fired.
Every result is proven against the component layer at concrete sizes (several values of each
dimension), and the proof is shown to refuse the answer a straight-chain walk gave.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.core.chain import (
    CHAIN_RULE,
    MATRIX_PATHS_RULE,
    PATHS_RULE,
    chain_steps,
    topological,
)
from jacobian_lab.core.derivation import Partial, Result
from jacobian_lab.core.proof import prove_result
from jacobian_lab.errors import RuleError
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix.expr import DIM_N, T, apply, hadamard, matrix, scalar, vector
from jacobian_lab.matrix.rules import VJP_RULE

n = DIM_N
SIZES = [{n: 1}, {n: 2}, {n: 3}]
x, z, a, u, v, y = (vector(s) for s in ("x", "z", "a", "u", "v", "y"))
W, A = matrix("W", n, n), matrix("A", n, n)
C = scalar("C")

AFFINE = "affine map: ∂(A u)/∂u = A"
PLUS_CONSTANT = "sum with a constant: ∂(u + c)/∂u = I"
ELEMENTWISE = "element-wise function: ∂f(u) = diag(f′(u)) ∂u"


def proven(expr: MatrixExpr, links: Sequence[tuple[sp.MatrixSymbol, MatrixExpr]],
           wrt: sp.MatrixSymbol, kind: str = "jacobian") -> bool:
    """``expr`` (in terms of the intermediates) equals the component truth about the last
    link at every size."""
    of = links[-1][0]
    r = Result(Partial(of, wrt), expr, of, wrt, kind, tuple(links))  # type: ignore[arg-type]
    return all(prove_result(r, s).ok for s in SIZES)


def rules_of(steps: Sequence) -> list[tuple[str, str]]:
    return [(notation(s.lhs), s.rule) for s in steps]


def test_a_skip_connection_adds_the_identity():
    links = [(z, W * x), (y, z + x)]
    steps, result = chain_steps(links, x)
    assert notation(result) == "W + I"
    assert proven(result, links, x)
    assert rules_of(steps) == [
        ("∂z/∂x", AFFINE),
        ("∂y/∂x", PLUS_CONSTANT),  # the partial: z held fixed
        ("∂y/∂z", PLUS_CONSTANT),  # the partial: x held fixed
        ("∂y/∂x", PATHS_RULE),
        ("∂y/∂x", "simplify"),
    ]
    assert notation(steps[3].rhs) == "I W + I"  # the path through z, then the direct one
    assert steps[1].why == "differentiate y = x + z w.r.t. x, holding z fixed"  # sstr's order


def test_the_proof_refuses_the_straight_chain_answer_to_a_skip_connection():
    """The old walk followed z alone and returned W: the proof must catch that."""
    links = [(z, W * x), (y, z + x)]
    assert not proven(W, links, x)


def test_a_skip_connection_written_as_one_expression_is_a_sum_of_two_rules():
    steps, result = chain_steps([(y, W * x + x)], x)
    assert notation(result) == "W + I"
    assert rules_of(steps) == [("∂y/∂x", "sum rule: ∂(u + v) = ∂u + ∂v")]
    assert proven(result, [(y, W * x + x)], x)


def test_a_variable_multiplied_by_itself():
    links = [(y, hadamard(x, x))]
    steps, result = chain_steps(links, x)
    assert notation(result) == "2 diag(x)"
    assert proven(result, links, x)
    # The same through an intermediate: x reaches y directly and through u = x ⊙ x.
    links = [(u, hadamard(x, x)), (y, hadamard(u, x))]
    steps, result = chain_steps(links, x)
    assert steps[-2].rule == PATHS_RULE
    assert proven(result, links, x)
    assert proven(sp.MatMul(3, sp.DiagMatrix(hadamard(x, x))), links, x)  # ∂x³ = 3 diag(x²)


def test_a_quadratic_form_sums_its_two_paths_to_x_transpose_A_plus_A_transpose():
    links = [(u, A * x), (C, T(x) * u)]
    steps, result = chain_steps(links, x)
    assert rules_of(steps)[:3] == [
        ("∂u/∂x", AFFINE),
        ("∂C/∂x", "dot product: ∂(uᵀx)/∂u = xᵀ"),
        ("∂C/∂u", AFFINE),
    ]
    assert steps[3].rule == PATHS_RULE
    assert proven(result, links, x)
    assert proven(sp.MatMul(T(x), sp.MatAdd(A, T(A))), links, x)
    # Written as one expression, the product rule gives the same.
    steps, whole = chain_steps([(C, T(x) * A * x)], x)
    assert (notation(whole), steps[0].rule) == ("xᵀ Aᵀ + xᵀ A", "product rule")
    assert proven(whole, [(C, T(x) * A * x)], x)


def test_relu_of_an_affine_map_plus_the_map_sums_at_the_shared_node():
    links = [(z, W * x), (a, apply("relu", z)), (y, a + z)]
    steps, result = chain_steps(links, x)
    assert rules_of(steps) == [
        ("∂z/∂x", AFFINE),
        ("∂a/∂z", ELEMENTWISE),
        ("∂y/∂z", PLUS_CONSTANT),
        ("∂y/∂a", PLUS_CONSTANT),
        ("∂y/∂x", CHAIN_RULE),  # one path from x: the two from z are added at z
        ("∂y/∂x", "simplify"),
    ]
    assert notation(steps[4].rhs) == "(I diag(step(z)) + I) W"
    assert proven(result, links, x)
    # As one expression: the sum rule applies the element-wise rule and the affine map.
    one = [(y, apply("relu", W * x) + W * x)]
    _, whole = chain_steps(one, x)
    assert proven(whole, one, x)


def test_a_variable_in_two_branches_of_a_sum():
    links = [(u, W * x), (v, apply("tanh", x)), (y, u + v)]
    steps, result = chain_steps(links, x)
    assert [s.rule for s in steps[:4]] == [AFFINE, ELEMENTWISE, PLUS_CONSTANT, PLUS_CONSTANT]
    assert steps[4].rule == PATHS_RULE
    assert notation(result) == "W + diag(tanh′(x))"
    assert proven(result, links, x)


def test_a_straight_chain_is_the_product_of_its_local_jacobians():
    links = [(z, W * x), (a, apply("sigmoid", z)), (C, T(a) * a)]
    steps, result = chain_steps(links, x)
    assert [s.rule for s in steps] == [AFFINE, ELEMENTWISE, "quadratic form: ∂(uᵀu)/∂u = 2uᵀ",
                                       CHAIN_RULE, "simplify"]
    assert notation(steps[3].rhs) == "(2 aᵀ) diag(sigmoid′(z)) W"
    assert proven(result, links, x)


def test_links_are_sorted_topologically_and_a_circle_is_refused():
    links = [(a, apply("relu", z)), (z, W * x), (y, a + z)]  # a uses z, defined after it
    order, parents = topological(links, x)
    assert order == [z, a, y] and parents == {z: [x], a: [z], y: [a, z]}
    _, result = chain_steps(links, x)
    _, in_order = chain_steps([links[1], links[0], links[2]], x)
    assert result == in_order
    with pytest.raises(RuleError, match="circle through"):
        chain_steps([(z, y + x), (y, z + x)], x)


def test_an_intermediate_defined_twice_is_refused():
    with pytest.raises(RuleError, match="defined twice"):
        chain_steps([(z, W * x), (z, x), (y, z + x)], x)


def test_a_weight_matrix_used_twice_adds_the_gradients_of_both_affine_maps():
    links = [(z, W * x), (a, apply("tanh", z)), (u, W * a),
             (C, sp.MatMul(sp.Rational(1, 2), T(u), u))]
    steps, grad = chain_steps(links, W)
    assert [s.rule for s in steps].count(VJP_RULE) == 2
    local = [notation(s.lhs) for s in steps if s.rule not in (VJP_RULE, MATRIX_PATHS_RULE)
             and s.rule not in (CHAIN_RULE, PATHS_RULE, "simplify")]
    assert local == ["∂a/∂z", "∂u/∂a", "∂C/∂u"]  # each edge's rule applied once
    assert steps[-1].rule == MATRIX_PATHS_RULE
    assert proven(grad, links, W, kind="gradient")
    # Either gradient alone is refused.
    one = [s.rhs for s in steps if s.rule == VJP_RULE]
    assert not any(proven(g, links, W, kind="gradient") for g in one)


def test_an_output_that_does_not_depend_on_the_variable_has_a_zero_jacobian():
    steps, result = chain_steps([(y, W * z)], x)
    assert isinstance(result, sp.ZeroMatrix) and steps[0].rule.startswith("constant")
