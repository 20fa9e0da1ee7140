"""hadamard: y = v ⊙ w: ∂y/∂v = diag(w), ∂y/∂w = diag(v)."""

from __future__ import annotations

from derivations import register
from derivations._steps import definitions, differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.explicit import Instantiator
from jacobian_lab.matrix.expr import DIM_N, diag, hadamard, vector


@register("hadamard")
def build() -> Derivation:
    v, w, y = vector("v"), vector("w"), vector("y")
    links = [(y, hadamard(v, w))]
    # The component view at n = 3: yᵢ = vᵢwᵢ, so ∂yᵢ/∂vⱼ is wᵢ on the diagonal and 0 off it.
    inst = Instantiator({DIM_N: 3})
    y3 = inst(hadamard(v, w))
    v3, w3 = inst.env["v"], inst.env["w"]
    dv, jac_v = differentiate(y, links[0][1], v,
                              "yᵢ = vᵢwᵢ depends on vᵢ alone, with slope wᵢ: only the diagonal "
                              "is non-zero, and it holds w")
    dw, jac_w = differentiate(y, links[0][1], w,
                              "the same with the roles swapped: ∂(vᵢwᵢ)/∂wᵢ = vᵢ")
    return Derivation(
        name="hadamard",
        title="The element-wise (Hadamard) product",
        summary="y = v ⊙ w (yᵢ = vᵢwᵢ): ∂y/∂v = diag(w), ∂y/∂w = diag(v)",
        givens=[Given(v, "n × 1", "a vector"), Given(w, "n × 1", "a vector of the same size")],
        definitions=definitions(links),
        steps=[
            Step(y, y3, "the components at n = 3", "multiply entry by entry: yᵢ = vᵢwᵢ"),
            Step(Partial(y, v), y3.jacobian(v3), "Jacobian of the components at n = 3",
                 "∂yᵢ/∂vⱼ = wᵢ when i = j and 0 otherwise: a diagonal matrix"),
            dv,
            Step(Partial(y, w), y3.jacobian(w3), "Jacobian of the components at n = 3",
                 "∂yᵢ/∂wⱼ = vᵢ when i = j and 0 otherwise"),
            dw,
        ],
        results=[
            Result(Partial(y, v), jac_v, y, v, defs=tuple(links)),
            Result(Partial(y, w), jac_w, y, w, defs=tuple(links)),
        ],
        claims=[
            Claim("∂(v ⊙ w)/∂v = diag(w)", diag(w), 0),
            Claim("∂(v ⊙ w)/∂w = diag(v)", diag(v), 1),
        ],
        notes=["diag(w) is n × n: the Jacobian of an element-wise product is diagonal because "
               "output i depends on input i alone."],
        sizes=[{DIM_N: n} for n in (1, 2, 3, 5)],
    )
