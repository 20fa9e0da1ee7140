"""jacobian-chain: f = (sin(x² + y), ln(y³)) through g = (x² + y, y³): ∂f/∂x = ∂f/∂g · ∂g/∂x."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import symbols
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.judge.verify import chain


@register("jacobian-chain")
def build() -> Derivation:
    x, y, g1, g2, f, g = symbols("x y g1 g2 f g")
    xy, gg = sp.Tuple(x, y), sp.Tuple(g1, g2)
    outer = [sp.sin(g1), sp.log(g2)]
    inner = [(g1, x**2 + y), (g2, y**3)]
    r = chain(outer, inner, [x, y])
    composed = r.composed
    return Derivation(
        name="jacobian-chain",
        title="The vector chain rule",
        summary="f = (sin(x² + y), ln(y³)) through g = (x² + y, y³): "
                "∂f/∂(x, y) = ∂f/∂g · ∂g/∂(x, y), with ∂f/∂g = diag(cos g₁, 1/g₂)",
        givens=[Given(x, "scalar", "first variable"), Given(y, "scalar", "second variable")],
        definitions=[
            *(Step(s, e, "definition") for s, e in inner),
            Step(f, sp.Matrix(outer), "definition"),
        ],
        steps=[
            Step(Partial(g, xy), r.dg_dx, "Jacobian of the inner function",
                 "row 1 is ∇(x² + y) = [2x, 1], row 2 is ∇(y³) = [0, 3y²]"),
            Step(Partial(f, gg), r.df_dg, "Jacobian of the outer function",
                 "f₁ = sin g₁ uses only g₁ and f₂ = ln g₂ only g₂, so the off-diagonal "
                 "entries are 0: diag(cos g₁, 1/g₂)"),
            Step(Partial(f, xy), sp.MatMul(r.df_dg, r.dg_dx), "vector chain rule",
                 "∂f/∂(x, y) = ∂f/∂g · ∂g/∂(x, y): a 2 × 2 times a 2 × 2 matrix"),
            Step(Partial(f, xy), r.product, "multiply, then substitute g",
                 "g₁ = x² + y, g₂ = y³; 3y²/y³ = 3/y"),
            Step(Partial(f, xy), r.direct, "check: differentiate directly",
                 "differentiate (sin(x² + y), ln(y³)) without g: "
                 + ("the same matrix" if r.agrees else "it DISAGREES with the chain rule")),
        ],
        results=[
            Result(Partial(g, xy), r.dg_dx, sp.Matrix([e for _, e in inner]), (x, y)),
            Result(Partial(f, gg), r.df_dg, sp.Matrix(outer), (g1, g2)),
            Result(Partial(f, xy), r.product, composed, (x, y)),
        ],
        claims=[Claim("∂f/∂g = diag(cos g₁, 1/g₂)", sp.diag(sp.cos(g1), 1 / g2), 1)],
        notes=["ln(y³) is real only for y > 0; the proof samples points inside that domain."],
    )
