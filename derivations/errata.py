"""errata: the notes' mistakes, each a claim judged by the verifier against the right result
(derived here by the same rule table): a transposed Jacobian, the wrong diagonal of ∂(v ⊙ w),
∂(Ab)/∂b = Aᵀ, a wrong worked value of a layer, a gradient missing its 2, and eᵢ without b."""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

from derivations import register
from derivations._display import Paren
from derivations._steps import chain, differentiate
from derivations.mse_neuron import batch_of, neuron_links, per_sample, problem
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.explicit import Instantiator, components
from jacobian_lab.matrix.expr import (
    DIM_K,
    DIM_M,
    DIM_N,
    T,
    apply,
    diag,
    expand_scalar,
    hadamard,
    matrix,
    scalar,
    vector,
)
from jacobian_lab.matrix.simplify import simplify

# The layer example of the notes.
W_NUM = sp.Matrix([[5, 2], [3, 6]])
A_NUM = sp.Matrix([1, 0])
B_NUM = sp.Matrix([1, 1])
NOTES_VALUE = sp.Matrix([8, 10])  # the value the notes state for z = W a + b


def _numbers(
    W: sp.MatrixSymbol, a: sp.MatrixSymbol, b: sp.MatrixSymbol
) -> Callable[[dict[str, sp.Matrix]], dict[sp.Symbol, sp.Expr]]:
    """The example's numbers for the components of W, a and b (an ``assume`` of a Result)."""

    def substitute(env: dict[str, sp.Matrix]) -> dict[sp.Symbol, sp.Expr]:
        sizes = {DIM_K: 2, DIM_N: 2}
        out: dict[sp.Symbol, sp.Expr] = {}
        for sym, value in ((W, W_NUM), (a, A_NUM), (b, B_NUM)):
            comps = env.get(sym.name, components(sym, sizes))
            out.update(zip(comps, value, strict=True))
        return out

    return substitute


@register("errata")
def build() -> Derivation:
    n, k, m = DIM_N, DIM_K, DIM_M
    steps: list[Step] = []
    results: list[Result] = []
    claims: list[Claim] = []

    # 1. The layer's Jacobian, numerator layout.
    W, a, b = matrix("W", k, n), vector("a", n), vector("b", k)
    z, a_out = vector("z", k), vector("a'", k)
    layer = [(z, sp.MatAdd(W * a, b)), (a_out, apply("sigmoid", z))]
    st, jac_layer = chain(layer, a, [
        "z = W a + b is linear in a", "σ entry by entry: a diagonal Jacobian"],
        rules=["affine map: ∂(W a + b)/∂a = W"])
    steps += st
    results.append(Result(Partial(a_out, a), jac_layer, a_out, a, defs=tuple(layer)))
    claims.append(Claim(
        "∂a'/∂a = Wᵀ diag(σ′(z))", sp.MatMul(T(W), diag(apply("sigmoid", z, 1))), 0,
        "Numerator layout gives one row per output a'ᵢ: row i is σ′(zᵢ) times row i of W, "
        "so ∂a'/∂a = diag(σ′(z)) W (k × n). Wᵀ diag(σ′(z)) is its transpose (n × k): the "
        "denominator layout, in which the chain rule multiplies in the other order."))

    # 2. The element-wise product: the diagonal holds the other factor.
    v, w = vector("v"), vector("w")
    st_h, jac_h = differentiate(Paren(hadamard(v, w)), hadamard(v, w), v,
                                "(v ⊙ w)ᵢ = vᵢwᵢ changes with vᵢ at the rate wᵢ")
    steps.append(st_h)
    results.append(Result(Partial(Paren(hadamard(v, w)), v), jac_h, hadamard(v, w), v))
    claims.append(Claim(
        "∂(v ⊙ w)/∂v = diag(v)", diag(v), 1,
        "∂(vᵢwᵢ)/∂vᵢ = wᵢ: the diagonal holds the *other* factor, so ∂(v ⊙ w)/∂v = diag(w). "
        "diag(v) is ∂(v ⊙ w)/∂w."))

    # 3. A matrix times a vector, w.r.t. the vector.
    A, bb = matrix("A", k, n), vector("b", n)
    st_ab, jac_ab = differentiate(Paren(A * bb), A * bb, bb,
                                  "(A b)ᵢ = Σⱼ Aᵢⱼbⱼ, so ∂(A b)ᵢ/∂bⱼ = Aᵢⱼ")
    steps.append(st_ab)
    results.append(Result(Partial(Paren(A * bb), bb), jac_ab, A * bb, bb))
    claims.append(Claim(
        "∂(A b)/∂b = Aᵀ (numerator layout)", T(A), 2,
        "In numerator layout ∂(A b)/∂b = A itself (k × n: one row per output). Aᵀ is the "
        "denominator-layout answer — the one SymPy's own matrix derivative returns."))

    # 4. The worked example of a layer: z = W a + b at the notes' numbers.
    numbers = _numbers(W, a, b)
    value = Instantiator({k: 2, n: 2}, {"W": W_NUM, "a": A_NUM, "b": B_NUM})(layer[0][1])
    steps.append(Step(z, value, "evaluate z = W a + b",
                      "row by row: 5·1 + 2·0 + 1 = 6 and 3·1 + 6·0 + 1 = 4"))
    results.append(Result(z, value, layer[0][1], (), kind="value", assume=numbers,
                          sizes=({k: 2, n: 2},)))
    claims += [
        Claim("z = W a + b = [8, 10]ᵀ for W = [[5, 2], [3, 6]], a = [1, 0]ᵀ, b = [1, 1]ᵀ",
              NOTES_VALUE, 3,
              "[8, 10]ᵀ is W 𝟏 + b: it multiplies W by [1, 1] instead of a = [1, 0] (the "
              "second column of W must be weighted by a₂ = 0). The right value is [6, 4]ᵀ."),
        Claim("z computed as aᵀW + bᵀ = [6, 3] (then read as a column)",
              T(sp.MatAdd(T(a) * W, T(b))), 3,
              "aᵀW combines the *columns* of W: it is (Wᵀa)ᵀ, not W a. Neuron i needs row i "
              "of W: zᵢ = Σⱼ Wᵢⱼaⱼ + bᵢ."),
    ]

    # 5. and 6. The MSE gradient of a ReLU neuron over m samples.
    p = problem()
    batch = batch_of(p)
    C2 = scalar("C′")
    p2 = {**p, "Ci": scalar("C′ᵢ")}
    links2 = neuron_links(p2, half=False)
    st2, g2 = per_sample(p2, links2, p["w"], half=False)
    cost2 = sp.MatMul(1 / m, batch.total(p2["Ci"]))
    e_def = (p["e"], simplify(p["z"] - p["y"]))
    batch_defs = tuple(batch.define([links2[0], e_def]))
    total2 = sp.MatMul(1 / m, batch.total(g2))
    flat2, rule = batch.sum(total2)
    steps += [st2[3], st2[4], st2[5], st2[-1],
              Step(Partial(C2, p["w"]), total2, "sum over samples",
                   "C′ = 1/m Σᵢ (yᵢ − aᵢ)² without the ½"),
              Step(Partial(C2, p["w"]), flat2, rule, "stack the samples as columns")]
    results.append(Result(Partial(C2, p["w"]), flat2, C2, p["w"],
                          defs=(*links2, (C2, cost2), *batch_defs)))
    X, Y, w_ = p["X"], p["Y"], p["w"]
    pre = sp.MatAdd(T(X) * w_, expand_scalar(p["b"], m))
    active = apply("relu", pre, 1)
    e_vec = sp.MatAdd(pre, sp.MatMul(-1, Y))
    claims.append(Claim(
        "under C′ = 1/m Σ (yᵢ − aᵢ)²: ∂C′/∂w = 1/m Σ eᵢ xᵢᵀ over the active samples",
        sp.MatMul(1 / m, T(hadamard(e_vec, active)), T(X)), 4,
        "The square's derivative brings down a 2 that nothing cancels: ∂C′/∂w = 2/m Σ eᵢ "
        "step(zᵢ) xᵢᵀ. The 1/m form is right for C = 1/(2m) Σ (yᵢ − aᵢ)², where the ½ "
        "cancels the 2 (the convention of these notes)."))

    links = neuron_links(p)
    _, g1 = per_sample(p, links, p["w"])
    C = p["C"]
    cost = sp.MatMul(1 / m, batch.total(p["Ci"]))
    flat1, _ = batch.sum(sp.MatMul(1 / m, batch.total(g1)))
    batch_defs1 = tuple(batch.define([links[0], e_def]))
    steps.append(Step(Partial(C, p["w"]), flat1, "mse-neuron, under C = 1/(2m) Σ (yᵢ − aᵢ)²",
                      "with the error eᵢ = wᵀxᵢ + b − yᵢ"))
    results.append(Result(Partial(C, p["w"]), flat1, C, p["w"],
                          defs=(*links, (C, cost), *batch_defs1)))
    no_bias = sp.MatAdd(T(X) * w_, sp.MatMul(-1, Y))
    claims.append(Claim(
        "∂C/∂w = 1/m Σ eᵢ xᵢᵀ over the active samples, with eᵢ = wᵀxᵢ − yᵢ",
        sp.MatMul(1 / m, T(hadamard(no_bias, active)), T(X)), 5,
        "eᵢ is the prediction minus the target, and the prediction wᵀxᵢ + b includes the "
        "bias: without b every active sample's error is off by b, so the gradient is off by "
        "(b/m) Σ_active xᵢᵀ (unless b = 0)."))

    return Derivation(
        name="errata",
        title="Errata: what the notes got wrong, and why",
        summary=f"{len(claims)} wrong claims of the notes, each refuted against the result "
                "derived here: a transposed Jacobian, diag(v) for diag(w), ∂(Ab)/∂b = Aᵀ, a "
                "wrong layer value and a wrong way to compute it, a gradient missing its 2, an "
                "error without its bias",
        givens=[
            Given(W, "k × n", "weights of a layer"), Given(a, "n × 1", "input of the layer"),
            Given(v, "n × 1", "vectors of the element-wise product (and w)"),
            Given(A, "k × n", "a matrix (A b with b an n-vector)"),
            Given(X, "n × m", "samples of the ReLU neuron (w, b, y as in mse-neuron)"),
        ],
        definitions=[
            *(Step(s, d, "definition") for s, d in layer),
            Step(C2, cost2, "the cost without ½", "C′ = 1/m Σᵢ rᵢᵀrᵢ, rᵢ = yᵢ − aᵢ"),
            Step(C, cost, "the cost of the notes", "C = 1/(2m) Σᵢ rᵢᵀrᵢ"),
        ],
        steps=steps,
        results=results,
        claims=claims,
        notes=[
            "Each claim is checked by the verifier at one size with explicit components; "
            "its verdict gives the entries that differ and a diagnosis (transpose, factor, "
            "missing term) where one applies.",
            "In the MSE results z = Xᵀw + b𝟏 and e = z − y are the batch columns of zᵢ and "
            "eᵢ, as in mse-neuron.",
            f"The layer example: W = {W_NUM.tolist()}, a = {list(A_NUM)}ᵀ, b = {list(B_NUM)}ᵀ "
            f"gives z = {list(value)}ᵀ.",
        ],
        sizes=[{n: 2, k: 2, m: 1}, {n: 2, k: 3, m: 2}, {n: 3, k: 2, m: 3}],
    )
