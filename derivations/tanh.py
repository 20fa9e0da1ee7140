"""tanh: tanh′ = 1 − tanh²; element-wise, ∂tanh(z)/∂z = diag(𝟏 − tanh(z)^∘2)."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import Total, symbols
from derivations._steps import differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, apply, diag, ones, vector


@register("tanh")
def build() -> Derivation:
    (t,) = symbols("z")
    z, a = vector("z"), vector("a")
    p, m = sp.exp(t) + sp.exp(-t), sp.exp(t) - sp.exp(-t)
    closed = m / p
    quotient = (p**2 - m**2) / p**2
    split = 1 - m**2 / p**2
    slope = 1 - sp.tanh(t) ** 2
    links = [(a, apply("tanh", z))]
    d_rule, jac = differentiate(a, links[0][1], z,
                                "tanh acts on each entry of z alone: a diagonal Jacobian")
    closed_form = diag(sp.MatAdd(ones(DIM_N), sp.MatMul(-1, sp.HadamardPower(apply("tanh", z), 2))))
    return Derivation(
        name="tanh",
        title="The derivative of tanh",
        summary="tanh(z) = (exp(z) − exp(−z))/(exp(z) + exp(−z)): tanh′ = 1 − tanh²; element-wise, "
                "∂tanh(z)/∂z = diag(𝟏 − tanh(z)^∘2)",
        givens=[Given(t, "scalar", "a pre-activation"), Given(z, "n × 1", "pre-activations")],
        definitions=[Step(sp.tanh(t), closed, "definition"),
                     *(Step(*lk, "definition") for lk in links)],
        steps=[
            Step(Total(sp.tanh(t), t), quotient, "quotient rule",
                 "the numerator eᶻ − e⁻ᶻ and the denominator eᶻ + e⁻ᶻ are each other's "
                 "derivatives: (den · den − num · num)/den²"),
            Step(Total(sp.tanh(t), t), split, "split the fraction", "den²/den² = 1"),
            Step(Total(sp.tanh(t), t), slope, "the ratio is tanh",
                 "(eᶻ − e⁻ᶻ)/(eᶻ + e⁻ᶻ) = tanh z, squared"),
            d_rule,
            Step(Partial(a, z), closed_form, "substitute tanh′ = 1 − tanh² entry by entry",
                 "tanh′(zᵢ) = 1 − tanh(zᵢ)² for every i: the vector 𝟏 − tanh(z)^∘2 on the "
                 "diagonal (^∘2 squares each entry)"),
        ],
        results=[
            Result(Total(sp.tanh(t), t), slope, sp.Matrix([closed]), (t,)),
            Result(Partial(a, z), jac, a, z, defs=tuple(links)),
            Result(Partial(a, z), closed_form, a, z, defs=tuple(links)),
        ],
        claims=[Claim("tanh′(z) = 1 − tanh²(z)", 1 - sp.tanh(t) ** 2, 0)],
        notes=["tanh(z) = 2σ(2z) − 1: a sigmoid stretched to (−1, 1); like σ′, tanh′ reuses "
               "the forward activation: 1 − a²."],
        sizes=[{DIM_N: n} for n in (1, 2, 3, 5)],
    )
