"""scalar-chain: d/dx sin(x²) = cos(g)·2x with g = x², checked against direct differentiation."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import Total, symbols
from jacobian_lab.core.derivation import Claim, Derivation, Given, Result, Step
from jacobian_lab.judge.verify import chain


@register("scalar-chain")
def build() -> Derivation:
    x, g, f = symbols("x g f")
    inner = x**2
    r = chain([sp.sin(g)], [(g, inner)], [x])
    dg_dx, df_dg, product, direct = r.dg_dx[0], r.df_dg[0], r.product[0], r.direct[0]
    composed = r.composed[0]
    return Derivation(
        name="scalar-chain",
        title="The single-variable chain rule",
        summary="f = sin(x²) through g = x²: df/dx = df/dg · dg/dx = cos(g)·2x = 2x cos(x²)",
        givens=[Given(x, "scalar", "the variable")],
        definitions=[Step(g, inner, "definition"), Step(f, sp.sin(g), "definition")],
        steps=[
            Step(Total(g, x), dg_dx, "power rule: d(x²)/dx = 2x",
                 "the inner function first: how fast g = x² changes with x"),
            Step(Total(f, g), df_dg, "derivative of sin: d(sin g)/dg = cos g",
                 "the outer function, with g treated as the variable: sin g changes at "
                 "the rate cos g"),
            Step(Total(f, x), sp.Mul(df_dg, sp.UnevaluatedExpr(dg_dx), evaluate=False),
                 "chain rule: df/dx = df/dg · dg/dx",
                 "rates multiply: f changes cos g times as fast as g, and g 2x times as "
                 "fast as x"),
            Step(Total(f, x), product, "substitute g = x²",
                 "write the answer in terms of x alone"),
            Step(Total(composed, x), direct, "check: differentiate directly",
                 "the same derivative without naming g; it agrees with the chain rule"
                 if r.agrees else "the direct derivative DISAGREES with the chain rule"),
        ],
        results=[
            Result(Total(g, x), dg_dx, sp.Matrix([inner]), (x,)),
            Result(Total(f, g), df_dg, sp.Matrix([sp.sin(g)]), (g,)),
            Result(Total(f, x), product, sp.Matrix([composed]), (x,)),
        ],
        claims=[Claim("d/dx sin(x²) = 2x cos(x²)", 2 * x * sp.cos(x**2), 2)],
        notes=["The chain rule is a product of rates; naming the inner function (g = x²) "
               "turns one hard derivative into two easy ones."],
    )
