"""vector-sum: ∂sum(v)/∂v = 𝟏ᵀ, ∂sum(g(v))/∂v = g′(v)ᵀ, ∂sum(v z)/∂v = z 𝟏ᵀ, ∂/∂z = sum(v)."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import Paren
from derivations._steps import chain, differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, apply, ones, scalar, vector, vsum

N = 3  # the size of the component-level case with an unnamed g


def total(v: sp.Basic) -> sp.Basic:
    """sum(v) as the notes write it (display only)."""
    return sp.Function("sum")(v)


@register("vector-sum")
def build() -> Derivation:
    v, u, y = vector("v"), vector("u"), scalar("y")
    z = scalar("z")
    n = DIM_N
    s_v = vsum(v)
    s_vz = sp.MatMul(ones(1, n), v, z)
    step_v, j_v = differentiate(total(v), s_v, v,
                                "sum(v) = 𝟏ᵀv: each vᵢ enters the sum with slope 1",
                                rule="sum: ∂(𝟏ᵀv)/∂v = 𝟏ᵀ")
    # sum(g(v)) through u = g(v), y = 𝟏ᵀu, with g = tanh standing for any element-wise g.
    links = [(u, apply("tanh", v)), (y, vsum(u))]
    steps_g, j_g = chain(links, v, [
        "g acts on each entry alone: a diagonal Jacobian diag(g′(v)), here g = tanh",
        "y = sum(u) = 𝟏ᵀu",
    ], rules=[None, "sum: ∂(𝟏ᵀu)/∂u = 𝟏ᵀ"],
        simplify_why="𝟏ᵀ diag(d) = dᵀ: a row of ones picks out the diagonal")
    # The same with an unnamed g, on components.
    vs = sp.Matrix(sp.symbols(f"v1:{N + 1}", real=True))
    g = sp.Function("g", real=True)
    sum_g = sp.Add(*[g(t) for t in vs])
    grad_g = sp.Matrix([[sp.diff(sum_g, t) for t in vs]])
    tuple_vs = sp.Tuple(*vs)
    step_z, j_z = differentiate(Paren(total(sp.MatMul(v, z))), s_vz, z,
                                "every entry vᵢz has slope vᵢ in z; summing gives Σ vᵢ",
                                rule="product rule: ∂(𝟏ᵀ v z)/∂z = 𝟏ᵀ v")
    step_vz, j_vz = differentiate(Paren(total(sp.MatMul(v, z))), s_vz, v,
                                  "sum(v z) = z · sum(v): each vᵢ has slope z",
                                  rule="scaled sum: ∂(𝟏ᵀ v z)/∂v = z 𝟏ᵀ")
    return Derivation(
        name="vector-sum",
        title="The sum of a vector",
        summary="sum(v) = 𝟏ᵀv: ∂/∂v = 𝟏ᵀ; sum(g(v)): g′(v)ᵀ = 𝟏ᵀ diag(g′(v)); "
                "sum(v z) for a scalar z: ∂/∂v = z 𝟏ᵀ, ∂/∂z = 𝟏ᵀv = sum(v)",
        givens=[Given(v, "n × 1", "a vector"), Given(z, "scalar", "a scalar")],
        definitions=[
            Step(total(v), s_v, "sum as a product", "adding the entries is multiplying by "
                 "a row of ones"),
            *(Step(a, b, "definition") for a, b in links),
            Step(total(sp.MatMul(v, z)), s_vz, "sum as a product", "sum(v z) = 𝟏ᵀ v z"),
        ],
        steps=[
            step_v,
            *steps_g,
            Step(Partial(total(g(v)), tuple_vs), grad_g, f"the same with any g, at n = {N}",
                 "∂(g(v₁) + … + g(vₙ))/∂vⱼ = g′(vⱼ): the row g′(v)ᵀ"),
            step_vz,
            step_z,
            Step(Partial(Paren(total(sp.MatMul(v, z))), z), total(v), "𝟏ᵀv = sum(v)",
                 "read 𝟏ᵀv back as the sum of v"),
        ],
        results=[
            Result(Partial(total(v), v), j_v, s_v, v),
            Result(Partial(y, v), j_g, y, v, defs=tuple(links)),
            Result(Partial(total(g(v)), tuple_vs), grad_g, sp.Matrix([sum_g]), tuple(vs)),
            Result(Partial(Paren(total(sp.MatMul(v, z))), v), j_vz, s_vz, v),
            Result(Partial(Paren(total(sp.MatMul(v, z))), z), j_z, s_vz, z),
        ],
        claims=[
            Claim("∂sum(v)/∂v = 𝟏ᵀ", ones(1, n), 0),
            Claim("∂sum(g(v))/∂v = 𝟏ᵀ diag(g′(v))",
                  sp.MatMul(ones(1, n), sp.DiagMatrix(apply("tanh", v, 1))), 1),
            Claim("∂sum(v z)/∂v = [z, z, …, z]", sp.MatMul(z, ones(1, n)), 3),
            Claim("∂sum(v z)/∂z = sum(v)", vsum(v), 4),
        ],
        notes=["The sum of a vector is a scalar, so its Jacobians are rows; ∂/∂z of a "
               "scalar by a scalar is 1 × 1."],
        sizes=[{DIM_N: k} for k in (1, 2, 3, 5)],
    )
