"""neuron: a = xᵀw + b, the affine part of a neuron: ∂a/∂w = xᵀ, ∂a/∂x = wᵀ, ∂a/∂b = 1."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._steps import definitions, differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result
from jacobian_lab.matrix.expr import DIM_N, T, scalar, vector


@register("neuron")
def build() -> Derivation:
    w, x = vector("w"), vector("x")
    b, a = scalar("b"), scalar("a")
    affine = sp.MatAdd(sp.MatMul(T(x), w), b)
    links = [(a, affine)]
    dw, grad_w = differentiate(
        a, affine, w, "xᵀw is the fixed 1 × n row xᵀ times w, a linear map of w, so its "
        "Jacobian is xᵀ; b does not depend on w", rule="affine map: ∂(A u)/∂u = A, here A = xᵀ")
    dx, grad_x = differentiate(
        a, affine, x, "xᵀw = wᵀx (a 1 × 1 number equals its transpose), the row wᵀ times x, "
        "so the Jacobian is wᵀ", rule="dot product: ∂(xᵀw)/∂x = ∂(wᵀx)/∂x = wᵀ")
    db, grad_b = differentiate(
        a, affine, b, "b enters a with coefficient 1 and xᵀw does not depend on b",
        rule="sum rule: ∂(u + b)/∂b = 1")
    return Derivation(
        name="neuron",
        title="The affine part of a neuron",
        summary="a = xᵀw + b: ∂a/∂w = xᵀ, ∂a/∂x = wᵀ, ∂a/∂b = 1 (rows, numerator layout)",
        givens=[
            Given(w, "n × 1", "weights"),
            Given(x, "n × 1", "input"),
            Given(b, "scalar", "bias"),
        ],
        definitions=definitions(links),
        steps=[dw, dx, db],
        results=[
            Result(Partial(a, w), grad_w, a, w, defs=tuple(links)),
            Result(Partial(a, x), grad_x, a, x, defs=tuple(links)),
            Result(Partial(a, b), grad_b, a, b, defs=tuple(links)),
        ],
        claims=[
            Claim("∂(w · x + b)/∂w = xᵀ", T(x), 0),
            Claim("∂(w · x + b)/∂x = wᵀ", T(w), 1),
            Claim("∂(w · x + b)/∂b = 1", sp.Identity(1), 2),
        ],
        notes=["a is a scalar, so each Jacobian is a single row: the gradient transposed."],
        sizes=[{DIM_N: n} for n in (1, 2, 3, 5)],
    )
