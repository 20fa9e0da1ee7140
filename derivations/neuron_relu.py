"""neuron-relu: a = relu(sum(w ⊙ x) + b), differentiated through H, s and z (the notes)."""

from __future__ import annotations

from derivations import register
from derivations._steps import walk
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, T, apply, scalar, vector
from jacobian_lab.matrix.from_text import define


@register("neuron-relu")
def build() -> Derivation:
    links = define([("H", "w .* x"), ("s", "sum(H)"), ("z", "s + b"), ("a", "relu(z)")],
                   {"w": "n", "x": "n", "b": "1"})
    z, a = links[2][0], links[3][0]
    w, x, b = vector("w"), vector("x"), scalar("b")
    steps_w, grad_w = walk(links, w)
    steps_b, grad_b = walk(links[2:], b)
    return Derivation(
        name="neuron-relu",
        title="The gradient of a ReLU neuron",
        summary="a = relu(wᵀx + b) through H = w ⊙ x, s = sum(H), z = s + b: ∂a/∂w = step(z) xᵀ",
        givens=[
            Given(w, "n × 1", "weights"),
            Given(x, "n × 1", "input"),
            Given(b, "scalar", "bias"),
        ],
        definitions=[Step(lhs, rhs, "definition") for lhs, rhs in links],
        steps=[*steps_w, *steps_b],
        results=[
            Result(Partial(a, w), grad_w, a, w, defs=tuple(links)),
            Result(Partial(a, b), grad_b, a, b, defs=tuple(links)),
        ],
        claims=[
            Claim("∂a/∂w = step(z) xᵀ  (0ᵀ if z ≤ 0, xᵀ if z > 0)",
                  apply("relu", z, 1) * T(x), 0),
            Claim("∂a/∂b = step(z)  (0 if z ≤ 0, 1 if z > 0)", apply("relu", z, 1), 1),
        ],
        notes=[
            "ReLU is not differentiable at z = 0; the convention ReLU'(0) = 0 makes ∂a/∂w = 0ᵀ "
            "there. The proof samples points on both sides of z = 0, never on it.",
        ],
        sizes=[{DIM_N: n} for n in (1, 2, 3, 5)],
    )
