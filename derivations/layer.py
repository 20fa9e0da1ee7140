"""layer: z = W a + b, a' = σ(z): ∂a'/∂a = diag(σ'(z)) W, ∂a'/∂b = diag(σ'(z)); a worked example."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._display import At
from derivations._steps import chain, definitions
from jacobian_lab.core.derivation import Derivation, Given, Partial, Result, Step
from jacobian_lab.language.functions import sigmoid
from jacobian_lab.matrix.explicit import Instantiator, components
from jacobian_lab.matrix.expr import DIM_K, DIM_N, matrix, vector
from jacobian_lab.matrix.from_text import define

# The notes' example: a layer of two neurons on a two-dimensional input.
W_NUM = sp.Matrix([[5, 2], [3, 6]])
A_NUM = sp.Matrix([1, 0])
B_NUM = sp.Matrix([1, 1])


def _decimal(m: sp.Matrix) -> sp.Matrix:
    return m.applyfunc(lambda e: sp.Float(e.rewrite(sp.exp).evalf(12), 6))


@register("layer")
def build() -> Derivation:
    W, a, b = matrix("W", DIM_K, DIM_N), vector("a"), vector("b", DIM_K)
    links = define([("z", "W*a + b"), ("a'", "sigmoid(z)")], {"W": "k,n", "a": "n", "b": "k"})
    (z, _), (a_out, _) = links
    steps_a, jac_a = chain(links, a, [
        "W a is the matrix W times a, a linear map of a; b does not depend on a",
        "σ acts on each entry of z by itself, so the Jacobian is diagonal with σ′(zᵢ) "
        "on the diagonal",
    ], rules=["affine map: ∂(W a + b)/∂a = W"])
    steps_b, jac_b = chain(links, b, [
        "b is added as it is: its Jacobian is I",
        "the same ∂a'/∂z as above",
    ], rules=["affine map: ∂(W a + b)/∂b = I"],
        simplify_why="multiplying by the identity I changes nothing")
    steps_b = [s for i, s in enumerate(steps_b) if i != 1]  # ∂a'/∂z is already shown
    dz_da = steps_a[0].rhs

    # The notes' numbers, instantiated at k = n = 2 with explicit components.
    sizes = {DIM_K: 2, DIM_N: 2}
    env = {"W": W_NUM, "b": B_NUM}
    z_num = Instantiator(sizes, {**env, "a": A_NUM})(links[0][1])
    s_exact = z_num.applyfunc(lambda t: sigmoid(t).rewrite(sp.exp))
    s_dec = _decimal(z_num.applyfunc(sigmoid))
    # ∂a'/∂a at the notes' W and b, for a symbolic input a = (a1, a2): component-level.
    a_sym = components(a, sizes)
    inst = Instantiator(sizes, {**env, "a": a_sym})
    at_w_b = inst(jac_a.xreplace({z: links[0][1]}))
    of_at_w_b = inst(links[1][1].xreplace({z: links[0][1]}))
    jac_num = at_w_b.xreplace(dict(zip(a_sym, A_NUM, strict=True)))
    a1a2 = tuple(a_sym)
    slope = [_decimal(sp.Matrix([sigmoid(t) * (1 - sigmoid(t))]))[0] for t in z_num]
    rows_w = [list(W_NUM.row(i)) for i in range(2)]
    return Derivation(
        name="layer",
        title="A layer of sigmoid neurons",
        summary="z = W a + b, a' = σ(z): ∂z/∂a = W, ∂a'/∂a = diag(σ′(z)) W, "
                "∂a'/∂b = diag(σ′(z)); the notes' example W = [[5, 2], [3, 6]], a = [1, 0], "
                "b = [1, 1] gives z = [6, 4]",
        givens=[
            Given(W, "k × n", "weights, one row per neuron"),
            Given(a, "n × 1", "input (the previous layer's activations)"),
            Given(b, "k × 1", "biases"),
        ],
        definitions=definitions(links),
        steps=[
            *steps_a, *steps_b,
            Step(z, z_num, "evaluate z = W a + b",
                 "with W = [[5, 2], [3, 6]], a = [1, 0]ᵀ, b = [1, 1]ᵀ: "
                 "5·1 + 2·0 + 1 = 6 and 3·1 + 6·0 + 1 = 4"),
            Step(a_out, s_exact, "evaluate a' = σ(z) exactly",
                 "σ(t) = 1/(1 + e⁻ᵗ) applied to each entry of z"),
            Step(a_out, s_dec, "the same to 6 digits",
                 "both neurons are near saturation (σ → 1), so σ′ = σ(1 − σ) is small"),
            Step(At(Partial(a_out, a), *A_NUM), _decimal(jac_num),
                 "evaluate ∂a'/∂a = diag(σ′(z)) W",
                 f"row i is σ′(zᵢ) times row i of W: σ′(6) = {sp.Float(slope[0], 3)} "
                 f"times {rows_w[0]}, σ′(4) = {sp.Float(slope[1], 3)} times {rows_w[1]}"),
        ],
        results=[
            Result(Partial(z, a), dz_da, z, a, defs=tuple(links)),
            Result(Partial(a_out, a), jac_a, a_out, a, defs=tuple(links)),
            Result(Partial(a_out, b), jac_b, a_out, b, defs=tuple(links)),
            # The same Jacobian at the notes' W and b, for any input a: component level.
            Result(Partial(a_out, sp.Tuple(*a1a2)), at_w_b, of_at_w_b, a1a2),
        ],
        notes=[
            "σ′(z) = σ(z)(1 − σ(z)); at z = [6, 4] it is [0.00247, 0.0177]: a saturated "
            "sigmoid passes back only a small part of the gradient.",
            "The last result is ∂a'/∂a at the example's W and b for any input a = (a1, a2), "
            "checked on components; step 10 evaluates it at a = (1, 0).",
        ],
        sizes=[{DIM_K: k, DIM_N: n} for k, n in ((1, 1), (2, 2), (2, 3), (3, 2))],
    )
