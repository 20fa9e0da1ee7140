"""no-intermediate: a component without an inner function is left as is (g₂ = y, ∂f₂/∂g₂ = 1)."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import Nabla, symbols
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.judge.verify import chain


@register("no-intermediate")
def build() -> Derivation:
    x, y, g1, g2, f, f2, g = symbols("x y g1 g2 f f2 g")
    xy, gg = sp.Tuple(x, y), sp.Tuple(g1, g2)
    outer = [sp.sin(g1), g2]
    inner = [(g1, x**2 + y), (g2, y)]
    r = chain(outer, inner, [x, y])
    row2 = r.product[1, :]
    direct2 = sp.Matrix([y]).jacobian(sp.Matrix([x, y]))
    return Derivation(
        name="no-intermediate",
        title="A component with no inner function",
        summary="f = (sin(x² + y), y): f₂ = y needs no g, but calling g₂ = y (the identity) "
                "gives ∂f₂/∂g₂ = 1 and leaves ∇f₂ = [0, 1] as is",
        givens=[Given(x, "scalar", "first variable"), Given(y, "scalar", "second variable")],
        definitions=[
            Step(f, sp.Matrix([sp.sin(x**2 + y), y]), "definition"),
            *(Step(s, e, "definition") for s, e in inner),
        ],
        steps=[
            Step(f, sp.Matrix(outer), "write f through g",
                 "f₁ = sin g₁ needs the inner function g₁ = x² + y; f₂ = y has none, so "
                 "g₂ = y is the identity and f₂ = g₂"),
            Step(Partial(g, xy), r.dg_dx, "Jacobian of the inner function",
                 "∇g₁ = [2x, 1]; ∇g₂ = ∇y = [0, 1]"),
            Step(Partial(f, gg), r.df_dg, "Jacobian of the outer function",
                 "∂f₂/∂g₂ = 1 because f₂ = g₂: the identity passes its input through"),
            Step(Partial(f, xy), r.product, "vector chain rule, then substitute g",
                 "∂f/∂(x, y) = ∂f/∂g · ∂g/∂(x, y)"),
            Step(Nabla(f2), row2, "row 2 of the product",
                 "1 · ∇y = [0, 1]: multiplying by 1 leaves the gradient of f₂ as is"),
            Step(Nabla(y), direct2, "check: differentiate f₂ = y directly",
                 "the same row, with no chain rule at all"),
        ],
        results=[
            Result(Partial(f, xy), r.product, r.composed, (x, y)),
            Result(Nabla(f2), row2, sp.Matrix([y]), (x, y)),
        ],
        claims=[Claim("a component with no inner function is left as is: ∇f₂ = ∇y = [0, 1]",
                      sp.Matrix([[0, 1]]), 1)],
        notes=["Treating a missing inner function as the identity keeps every component in "
               "the same f(g(x)) form, so one matrix product handles them all."],
    )
