"""softmax: s = softmax(z) has ∂s/∂z = diag(s) − s sᵀ, i.e. ∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ)."""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from derivations import register
from derivations._steps import differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, Softmax, T, diag, ones, softmax, vector


def _positive_first(e: sp.Basic) -> sp.Basic:
    """diag(s) − s sᵀ rather than −s sᵀ + diag(s)."""
    if not isinstance(e, sp.MatAdd):
        return e
    return sp.MatAdd(*sorted(e.args, key=lambda a: a.could_extract_minus_sign()))


@register("softmax")
def build() -> Derivation:
    z, s = vector("z"), vector("s")
    si, sj, zi, zj = (sp.Symbol(n, real=True) for n in ("s_i", "s_j", "z_i", "z_j"))
    delta = sp.Symbol("δ_ij", real=True)
    links = [(s, softmax(z))]
    d_rule, jac = differentiate(s, links[0][1], z,
                                "the two cases together, as matrices: δᵢⱼsᵢ is diag(s) and "
                                "sᵢsⱼ is the outer product s sᵀ")
    d_rule = replace(d_rule, rhs=_positive_first(jac))
    jac_s = _positive_first(jac.xreplace({Softmax(z): s}))
    return Derivation(
        name="softmax",
        title="The Jacobian of softmax",
        summary="s = softmax(z), sᵢ = exp(zᵢ)/Σₖ exp(zₖ): ∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ), "
                "i.e. ∂s/∂z = diag(s) − s sᵀ",
        givens=[Given(z, "n × 1", "scores (logits)")],
        definitions=[Step(s, softmax(z), "definition",
                          "sᵢ = exp(zᵢ)/Σₖ exp(zₖ): positive entries that add up to 1")],
        steps=[
            Step(Partial(si, zi), si * (1 - si), "quotient rule, i = j",
                 "(exp(zᵢ) Σ − exp(zᵢ) exp(zᵢ))/Σ² = sᵢ − sᵢ², with Σ = Σₖ exp(zₖ)"),
            Step(Partial(si, zj), -si * sj, "quotient rule, i ≠ j",
                 "the numerator exp(zᵢ) does not contain zⱼ: (0 − exp(zᵢ) exp(zⱼ))/Σ² = −sᵢsⱼ"),
            Step(Partial(si, zj), si * (delta - sj), "both cases with δᵢⱼ",
                 "δᵢⱼ = 1 if i = j, else 0: sᵢ(1 − sᵢ) on the diagonal, −sᵢsⱼ off it"),
            d_rule,
            Step(Partial(s, z), jac_s, "write softmax(z) as s",
                 "the Jacobian is symmetric, and its rows sum to 0 because the sᵢ add up to 1"),
        ],
        results=[Result(Partial(s, z), jac_s, s, z, defs=tuple(links))],
        claims=[Claim("∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ)",
                      sp.MatMul(diag(s), sp.MatAdd(sp.Identity(DIM_N),
                                                   sp.MatMul(-1, ones(DIM_N), T(s)))))],
        notes=["Softmax is not element-wise: every sᵢ depends on every zⱼ through the sum, "
               "so its Jacobian is full, not diagonal.",
               "With a cross-entropy loss the product collapses: ∂C/∂z = (s − y)ᵀ "
               "(see softmax-cross-entropy)."],
        sizes=[{DIM_N: n} for n in (2, 3, 4)],
    )
