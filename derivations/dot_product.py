"""dot-product: y = wᵀx = sum(w ⊙ x): ∂y/∂w = xᵀ, ∂y/∂x = wᵀ, through the Hadamard product."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._steps import chain
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, T, hadamard, scalar, vector, vsum

_SIMPLIFY = "𝟏ᵀ diag(d) = dᵀ: a row of ones times a diagonal matrix is its diagonal as a row"


@register("dot-product")
def build() -> Derivation:
    w, x, u, y = vector("w"), vector("x"), vector("u"), scalar("y")
    links = [(u, hadamard(w, x)), (y, vsum(u))]
    whys = ["uᵢ = wᵢxᵢ depends on wᵢ alone, with slope xᵢ",
            "y = sum(u) = 𝟏ᵀu: each uᵢ enters with slope 1"]
    steps_w, jac_w = chain(links, w, whys, rules=[None, "sum: ∂(𝟏ᵀu)/∂u = 𝟏ᵀ"],
                           simplify_why=_SIMPLIFY)
    steps_x, jac_x = chain(links, x, ["uᵢ = wᵢxᵢ depends on xᵢ alone, with slope wᵢ",
                                      "the same ∂y/∂u = 𝟏ᵀ as above"],
                           rules=[None, "sum: ∂(𝟏ᵀu)/∂u = 𝟏ᵀ"], simplify_why=_SIMPLIFY)
    steps_x = [s for i, s in enumerate(steps_x) if i != 1]  # ∂y/∂u is already shown
    return Derivation(
        name="dot-product",
        title="The dot product",
        summary="y = wᵀx = sum(w ⊙ x): through u = w ⊙ x, ∂y/∂w = 𝟏ᵀ diag(x) = xᵀ and "
                "∂y/∂x = wᵀ",
        givens=[Given(w, "n × 1", "a vector"), Given(x, "n × 1", "a vector of the same size")],
        definitions=[
            Step(y, sp.MatMul(T(w), x), "definition"),
            Step(sp.MatMul(T(w), x), vsum(hadamard(w, x)), "dot product as a sum",
                 "wᵀx = Σ wᵢxᵢ: multiply entry by entry, then add"),
            *(Step(a, b, "definition") for a, b in links),
        ],
        steps=[*steps_w, *steps_x],
        results=[
            Result(Partial(y, w), jac_w, y, w, defs=tuple(links)),
            Result(Partial(y, x), jac_x, y, x, defs=tuple(links)),
        ],
        claims=[
            Claim("∂(w · x)/∂w = xᵀ", T(x), 0),
            Claim("∂(w · x)/∂x = wᵀ", T(w), 1),
        ],
        notes=["The result is a row (y is a scalar): the gradient ∇_w y = x transposed."],
        sizes=[{DIM_N: n} for n in (1, 2, 3, 5)],
    )
