"""scalar-expansion: v + x𝟏 and x v for a scalar x: Jacobians I, 𝟏 and x I, v."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import Paren
from derivations._steps import differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, Scalar, expand_scalar, ones, scalar, vector


@register("scalar-expansion")
def build() -> Derivation:
    v, x = vector("v"), scalar("x")
    n = DIM_N
    # As the notes write them (x first) and as the rule table reads them (an n × 1 times a
    # 1 × 1 product, so every factor is a matrix).
    add_shown, add = sp.MatAdd(v, sp.MatMul(Scalar(x), ones(n))), sp.MatAdd(v, expand_scalar(x, n))
    mul_shown, mul = sp.MatMul(Scalar(x), v), sp.MatMul(v, x)
    add_lhs, mul_lhs = Paren(add_shown), Paren(mul_shown)
    d_add_v, j_add_v = differentiate(add_lhs, add, v,
                                     "x𝟏 does not depend on v; v gives the identity",
                                     rule="sum rule: ∂(v + c)/∂v = I")
    d_add_x, j_add_x = differentiate(add_lhs, add, x,
                                     "every entry vᵢ + x grows by 1 when x does: a column of ones",
                                     rule="scalar expansion: ∂(x𝟏)/∂x = 𝟏")
    d_mul_v, j_mul_v = differentiate(mul_lhs, mul, v,
                                     "entry i is x vᵢ: slope x on the diagonal, 0 elsewhere",
                                     rule="scaling: ∂(x v)/∂v = x I")
    d_mul_x, j_mul_x = differentiate(mul_lhs, mul, x,
                                     "entry i is x vᵢ, whose slope in x is vᵢ: the column v",
                                     rule="scalar times a fixed vector: ∂(v x)/∂x = v")
    return Derivation(
        name="scalar-expansion",
        title="Scalar expansion: a vector with a scalar",
        summary="v + x𝟏: ∂/∂v = I, ∂/∂x = 𝟏;  x v: ∂/∂v = x I, ∂/∂x = v (x a scalar)",
        givens=[Given(v, "n × 1", "a vector"), Given(x, "scalar", "a scalar")],
        definitions=[
            Step(add_shown, add, "scalar expansion: v + x means v + x𝟏",
                 "adding a scalar to a vector adds it to every entry: x𝟏 = 𝟏 x, an n × 1 "
                 "column times a 1 × 1 matrix"),
            Step(mul_shown, mul, "a scalar commutes",
                 "x v = v x, an n × 1 times a 1 × 1 product, as the rule table reads it"),
        ],
        steps=[d_add_v, d_add_x, d_mul_v, d_mul_x],
        results=[
            Result(Partial(add_lhs, v), j_add_v, add, v),
            Result(Partial(add_lhs, x), j_add_x, add, x),
            Result(Partial(mul_lhs, v), j_mul_v, mul, v),
            Result(Partial(mul_lhs, x), j_mul_x, mul, x),
        ],
        claims=[
            Claim("∂(v + x)/∂v = diag(𝟏) = I", sp.Identity(n), 0),
            Claim("∂(v + x)/∂x = 𝟏", ones(n), 1),
            Claim("∂(v x)/∂v = diag(𝟏 x) = x I", sp.MatMul(Scalar(x), sp.Identity(n)), 2),
            Claim("∂(v x)/∂x = v", v, 3),
        ],
        notes=["∂/∂x of a vector is a column (n outputs, one variable); ∂/∂v is n × n."],
        sizes=[{DIM_N: k} for k in (1, 2, 3, 5)],
    )
