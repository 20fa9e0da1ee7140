"""sigmoid: σ′ = σ(1 − σ); element-wise, ∂σ(z)/∂z = diag(σ(z) ⊙ (𝟏 − σ(z)))."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import Total, symbols
from derivations._steps import differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.language.functions import sigmoid
from jacobian_lab.matrix.expr import DIM_N, apply, diag, hadamard, ones, vector


@register("sigmoid")
def build() -> Derivation:
    (t,) = symbols("z")
    z, a = vector("z"), vector("a")
    e = sp.exp(-t)
    closed = 1 / (1 + e)
    d_closed = sp.diff(closed, t)
    split = sp.Mul(sp.UnevaluatedExpr(closed), sp.UnevaluatedExpr(e / (1 + e)), evaluate=False)
    slope = sigmoid(t) * (1 - sigmoid(t))
    links = [(a, apply("sigmoid", z))]
    d_rule, jac = differentiate(a, links[0][1], z,
                                "σ acts on each entry of z alone: a diagonal Jacobian")
    s = apply("sigmoid", z)
    closed_form = diag(hadamard(s, sp.MatAdd(ones(DIM_N), sp.MatMul(-1, s))))
    return Derivation(
        name="sigmoid",
        title="The derivative of the sigmoid",
        summary="σ(z) = 1/(1 + exp(−z)): σ′ = σ(1 − σ); applied element-wise, "
                "∂σ(z)/∂z = diag(σ(z) ⊙ (𝟏 − σ(z)))",
        givens=[Given(t, "scalar", "a pre-activation"), Given(z, "n × 1", "pre-activations")],
        definitions=[Step(sigmoid(t), closed, "definition"), *(Step(*lk, "definition")
                                                              for lk in links)],
        steps=[
            Step(Total(sigmoid(t), t), d_closed, "chain rule on 1/(1 + exp(−z))",
                 "the derivative of u⁻¹ is −u⁻², and u = 1 + e⁻ᶻ has derivative −e⁻ᶻ: "
                 "the two minus signs cancel"),
            Step(Total(sigmoid(t), t), split, "split the square",
                 "e⁻ᶻ/(1 + e⁻ᶻ)² = 1/(1 + e⁻ᶻ) · e⁻ᶻ/(1 + e⁻ᶻ)"),
            Step(e / (1 + e), 1 - closed, "add and subtract 1 in the numerator",
                 "e⁻ᶻ = (1 + e⁻ᶻ) − 1, so the second factor is 1 − σ(z)"),
            Step(Total(sigmoid(t), t), slope, "σ′ = σ(1 − σ)",
                 "the first factor is σ(z) itself"),
            d_rule,
            Step(Partial(a, z), closed_form, "substitute σ′ = σ(1 − σ) entry by entry",
                 "σ′(zᵢ) = σ(zᵢ)(1 − σ(zᵢ)) for every i: the vector σ(z) ⊙ (𝟏 − σ(z)) "
                 "on the diagonal"),
        ],
        results=[
            Result(Total(sigmoid(t), t), slope, sp.Matrix([closed]), (t,)),
            Result(Partial(a, z), jac, a, z, defs=tuple(links)),
            Result(Partial(a, z), closed_form, a, z, defs=tuple(links)),
        ],
        claims=[Claim("σ′(z) = σ(z)(1 − σ(z))", sigmoid(t) * (1 - sigmoid(t)), 0)],
        notes=["σ′ needs no new exponential: backprop reuses the activation a = σ(z) "
               "computed on the forward pass, σ′(z) = a(1 − a)."],
        sizes=[{DIM_N: n} for n in (1, 2, 3, 5)],
    )
