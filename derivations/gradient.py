"""gradient: f(x, y) = x² + cos y has the gradient ∇f = [2x, −sin y] (a row), [4, 0] at (2, 0)."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import At, Nabla, symbols
from derivations._steps import row
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.judge.component import evaluate


@register("gradient")
def build() -> Derivation:
    x, y, f = symbols("x y f")
    fxy = x**2 + sp.cos(y)
    df_dx, df_dy = sp.diff(fxy, x), sp.diff(fxy, y)
    grad = row(df_dx, df_dy)
    at = evaluate(grad, {x: 2, y: 0})
    return Derivation(
        name="gradient",
        title="The gradient of a function of two variables",
        summary="f(x, y) = x² + cos y: ∇f = [2x, −sin y], a row in numerator layout; "
                "∇f(2, 0) = [4, 0]",
        givens=[Given(x, "scalar", "first variable"), Given(y, "scalar", "second variable")],
        definitions=[Step(At(f, x, y), fxy, "definition")],
        steps=[
            Step(Partial(f, x), df_dx, "power rule: d(x²)/dx = 2x",
                 "hold y fixed: cos y is then a constant and drops out; x² gives 2x"),
            Step(Partial(f, y), df_dy, "derivative of cos: d(cos y)/dy = −sin y",
                 "hold x fixed: x² is then a constant and drops out; cos y gives −sin y"),
            Step(Nabla(f), grad, "gradient: the partial derivatives side by side",
                 "one output, two variables: numerator layout makes it a 1 × 2 row, "
                 "one column per variable"),
            Step(At(Nabla(f), 2, 0), at, "evaluate at (x, y) = (2, 0)",
                 "2·2 = 4 and −sin 0 = 0: at (2, 0) f grows along x and is flat along y"),
        ],
        results=[Result(Nabla(f), grad, sp.Matrix([fxy]), (x, y))],
        claims=[Claim("∇f(x, y) = [2x, −sin y]", row(2 * x, -sp.sin(y)))],
        notes=[
            "Numerator layout writes the gradient of a scalar as a row; many texts write the "
            "same numbers as a column (denominator layout).",
        ],
    )
