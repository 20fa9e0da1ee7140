"""jacobian: the gradients of the outputs, stacked as rows, form the Jacobian."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import Nabla, symbols
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step


def _stack(name: str, outputs: list[sp.Expr], wrt: tuple[sp.Symbol, ...],
           whys: list[str]) -> tuple[list[Step], list[Step], sp.Matrix]:
    """One gradient step per output, then the Jacobian with the gradients as its rows."""
    f = sp.Symbol(name, real=True)
    parts = [sp.Symbol(f"{name}{i + 1}", real=True) for i in range(len(outputs))]
    defs = [Step(p, e, "definition") for p, e in zip(parts, outputs, strict=True)]
    rows = [sp.Matrix([outputs[i]]).jacobian(sp.Matrix(wrt)) for i in range(len(outputs))]
    steps = [Step(Nabla(p), r, "gradient: the partial derivatives in a row", why)
             for p, r, why in zip(parts, rows, whys, strict=True)]
    jac = sp.Matrix.vstack(*rows)
    steps.append(Step(Partial(f, sp.Tuple(*wrt)), jac, "Jacobian: stack the gradients as rows",
                      f"row i is ∇{name}ᵢ: one row per output, one column per variable "
                      "(numerator layout)"))
    return defs, steps, jac


@register("jacobian")
def build() -> Derivation:
    x, y = symbols("x y")
    f = [2 * x + y**3, sp.exp(y) - 13 * x]
    g = [2 * x - y**3, sp.exp(x) - 13 * y]
    defs_f, steps_f, jac_f = _stack("f", f, (x, y), [
        "∂(2x + y³)/∂x = 2 (y³ is constant in x), ∂(2x + y³)/∂y = 3y²",
        "∂(eʸ − 13x)/∂x = −13, ∂(eʸ − 13x)/∂y = eʸ",
    ])
    defs_g, steps_g, jac_g = _stack("g", g, (x, y), [
        "∂(2x − y³)/∂x = 2, ∂(2x − y³)/∂y = −3y²",
        "∂(eˣ − 13y)/∂x = eˣ, ∂(eˣ − 13y)/∂y = −13",
    ])
    fs, gs = sp.Symbol("f", real=True), sp.Symbol("g", real=True)
    return Derivation(
        name="jacobian",
        title="The Jacobian: gradients stacked as rows",
        summary="f = (2x + y³, eʸ − 13x) and g = (2x − y³, eˣ − 13y): each Jacobian has the "
                "gradient of output i as row i",
        givens=[Given(x, "scalar", "first variable"), Given(y, "scalar", "second variable")],
        definitions=[*defs_f, *defs_g],
        steps=[*steps_f, *steps_g],
        results=[
            Result(Partial(fs, sp.Tuple(x, y)), jac_f, sp.Matrix(f), (x, y)),
            Result(Partial(gs, sp.Tuple(x, y)), jac_g, sp.Matrix(g), (x, y)),
        ],
        claims=[
            Claim("∂f/∂(x, y) = [[2, 3y²], [−13, eʸ]]",
                  sp.Matrix([[2, 3 * y**2], [-13, sp.exp(y)]]), 0),
            Claim("∂g/∂(x, y) = [[2, −3y²], [eˣ, −13]]",
                  sp.Matrix([[2, -3 * y**2], [sp.exp(x), -13]]), 1),
        ],
        notes=[
            "A Jacobian of m outputs and n variables is m × n in numerator layout; its "
            "transpose (denominator layout) is a different matrix unless it is symmetric.",
        ],
    )
