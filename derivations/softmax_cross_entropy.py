"""softmax-cross-entropy: C = −yᵀ log(softmax(z)) has ∂C/∂z = (𝟏ᵀy) sᵀ − yᵀ, which is
(s − y)ᵀ when the target sums to 1 (one-hot, or any probability vector)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derivations import register
from derivations._display import Nabla
from derivations._steps import definitions, walk
from jacobian_lab.core.chain import simplify_step
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, T, scalar, vector, vsum
from jacobian_lab.matrix.from_text import declare, define
from jacobian_lab.matrix.rules import jac, rule_name
from jacobian_lab.matrix.simplify import assume, simplify

DISTRIBUTE = "a row times a sum: uᵀ(A + B) = uᵀA + uᵀB"
SUMS_TO_ONE = "the target sums to 1: 𝟏ᵀy = 1"


Assumption = Callable[[dict[str, sp.Matrix]], dict[sp.Symbol, sp.Expr]]


def sums_to_one(y: sp.MatrixSymbol) -> Assumption:
    """At components: the last entry of ``y`` (of each column) is 1 minus the others."""

    def substitute(env: dict[str, sp.Matrix]) -> dict[sp.Symbol, sp.Expr]:
        Y = env[y.name]
        return {Y[-1, j]: 1 - sum(Y[:-1, j]) for j in range(Y.cols)}

    return substitute


@dataclass(frozen=True)
class SoftmaxCE:
    """The steps and results of the derivation, for reuse (mnist-network's output layer)."""

    links: list[tuple[sp.MatrixSymbol, MatrixExpr]]
    steps: list[Step]
    d_s: MatrixExpr  # ∂C/∂s
    d_z_general: MatrixExpr  # ∂C/∂z without the assumption
    d_z: MatrixExpr  # ∂C/∂z with 𝟏ᵀy = 1
    gradient: MatrixExpr  # its transpose, the column δ = s − y


def derive(
    z: sp.MatrixSymbol, y: sp.MatrixSymbol, s: sp.MatrixSymbol, L: sp.MatrixSymbol,
    C: sp.MatrixSymbol,
) -> SoftmaxCE:
    """Derive ∂C/∂z for C = −yᵀ log(s), s = softmax(z), by the rule table."""
    links = define([(s.name, f"softmax({z.name})"), (L.name, f"log({s.name})"),
                    (C.name, f"-{y.name}'*{L.name}")], declare(z, y))
    steps_s, d_s = walk(links[1:], s)
    whys = ["log acts entry by entry; log′(sᵢ) = 1/sᵢ",
            "C = −yᵀL is linear in L",
            "the row ∂C/∂L times the diagonal ∂L/∂s",
            "a row times a diagonal matrix scales its entries: −(y ⊙ s^∘(−1))ᵀ, i.e. −yᵢ/sᵢ"]
    steps_s = [replace(st, why=w) for st, w in zip(steps_s, whys, strict=True)]
    dsdz_def = links[0][1]
    dsdz = simplify(jac(dsdz_def, z)).xreplace({dsdz_def: s})
    step_sz = Step(Partial(s, z), dsdz, rule_name(dsdz_def, z),
                   "∂sᵢ/∂zⱼ = sᵢ(δᵢⱼ − sⱼ): diag(s) from i = j, the outer product s sᵀ from "
                   "the shared denominator")
    lhs = Partial(C, z)
    product = sp.MatMul(d_s, dsdz)
    step_prod = Step(lhs, product, "chain rule", "∂C/∂z = ∂C/∂s · ∂s/∂z")
    distributed = simplify(product, only={DISTRIBUTE})
    st_dist = Step(lhs, distributed, DISTRIBUTE,
                   "multiply the row into both terms of diag(s) − s sᵀ")
    st_general, general = simplify_step(
        lhs, distributed, "cancel s against 1/s",
        "(y ⊙ s^∘(−1))ᵀ diag(s) = yᵀ and (y ⊙ s^∘(−1))ᵀ s = Σᵢ yᵢ = 𝟏ᵀy")
    st_assume, d_z = simplify_step(lhs, assume(general, {vsum(y): 1}), SUMS_TO_ONE,
                                   "a one-hot y, or any probability vector, sums to 1")
    grad = simplify(T(d_z))
    steps = [*steps_s, step_sz, step_prod, st_dist, st_general, st_assume]
    return SoftmaxCE(links, steps, d_s, general, d_z, grad)


@register("softmax-cross-entropy")
def build() -> Derivation:
    z, y, s, L = vector("z"), vector("y"), vector("s"), vector("L")
    C = scalar("C")
    d = derive(z, y, s, L, C)
    defs = tuple(d.links)
    one = sums_to_one(y)
    grad_lhs = Nabla(C)
    return Derivation(
        name="softmax-cross-entropy",
        title="Softmax with cross-entropy",
        summary="C = −yᵀ log(softmax(z)): ∂C/∂z = (𝟏ᵀy) sᵀ − yᵀ, which is (s − y)ᵀ when "
                "𝟏ᵀy = 1 (a one-hot y or any probability vector)",
        givens=[
            Given(z, "n × 1", "scores (logits)"),
            Given(y, "n × 1", "target: one-hot, or a probability vector (𝟏ᵀy = 1)"),
        ],
        definitions=definitions(d.links),
        steps=[*d.steps,
               Step(grad_lhs, d.gradient, "gradient = transposed Jacobian",
                    "the column δ = s − y: predicted minus target probabilities")],
        results=[
            Result(Partial(C, s), d.d_s, C, s, defs=defs[1:]),
            Result(Partial(s, z), d.steps[4].rhs, s, z, defs=defs[:1]),
            Result(Partial(C, z), d.d_z_general, C, z, defs=defs),
            Result(Partial(C, z), d.d_z, C, z, defs=defs, assume=one),
            Result(grad_lhs, d.gradient, C, z, kind="gradient", defs=defs, assume=one),
        ],
        claims=[
            Claim("∂C/∂z = (s − y)ᵀ for a one-hot y", T(sp.MatAdd(s, sp.MatMul(-1, y))), 3),
            Claim("∇C = s − y (the gradient w.r.t. z, a column)",
                  sp.MatAdd(s, sp.MatMul(-1, y)), 4),
        ],
        notes=[
            "(s − y)ᵀ needs 𝟏ᵀy = 1: for a target that does not sum to 1 the gradient is "
            "(𝟏ᵀy) sᵀ − yᵀ (the third result, proven without the assumption).",
            "The proof of the assumed results sets the last entry of y to 1 minus the others.",
            "The 1/sᵢ of the log cancels the sᵢ of the softmax Jacobian: no division is left, "
            "which is why frameworks fuse the two.",
        ],
        sizes=[{DIM_N: n} for n in (2, 3, 4)],
    )

