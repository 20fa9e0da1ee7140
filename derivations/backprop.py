"""backprop: the four equations BP1–BP4, derived for a layer l of any depth by the chain rule,
then the batched forms; proven on concrete networks (2-3-2 and 3-4-3-2, ReLU and sigmoid, MSE
and cross-entropy) against direct differentiation of the composed cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derivations import register
from jacobian_lab.core.chain import simplify_step
from jacobian_lab.core.derivation import (
    Case,
    Claim,
    Derivation,
    Given,
    Partial,
    Result,
    Sizes,
    Step,
    Transposed,
)
from jacobian_lab.errors import UnknownNameError
from jacobian_lab.matrix.batch import Batch
from jacobian_lab.matrix.expr import T, apply, dim, matrix, scalar, specialise, vector
from jacobian_lab.matrix.rules import SUM_OVER_SAMPLES_RULE, VJP_RULE, jac, rule_name, vjp
from jacobian_lab.matrix.simplify import simplify

SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
M = dim("m")


def sup(i: int) -> str:
    """A layer index as a bracketed superscript, ⁽²⁾: a⁽²⁾ is layer 2's a, never a squared."""
    return "⁽" + str(i).translate(SUP) + "⁾"


# --------------------------------------------------------------------------- layer l of any depth


@dataclass
class General:
    """BP1–BP4 for layer l (and the output layer L) in matrix notation, derived step by step."""

    symbols: dict[str, sp.MatrixSymbol]
    steps: list[Step]
    bp1: MatrixExpr  # δ⁽ᴸ⁾
    bp2: MatrixExpr  # δ⁽ˡ⁾
    bp3: MatrixExpr  # ∂C/∂b⁽ˡ⁾ (gradient, a column)
    bp4: MatrixExpr  # ∂C/∂W⁽ˡ⁾
    batched: dict[str, MatrixExpr] = field(default_factory=dict)
    batch_steps: list[Step] = field(default_factory=list)


def general() -> General:
    nl, nprev, nnext, nL = dim("n⁽ˡ⁾"), dim("n⁽ˡ⁻¹⁾"), dim("n⁽ˡ⁺¹⁾"), dim("n⁽ᴸ⁾")
    s = {
        "W": matrix("W⁽ˡ⁾", nl, nprev), "b": vector("b⁽ˡ⁾", nl), "z": vector("z⁽ˡ⁾", nl),
        "a": vector("a⁽ˡ⁾", nl), "a_prev": vector("a⁽ˡ⁻¹⁾", nprev), "d": vector("δ⁽ˡ⁾", nl),
        "W_next": matrix("W⁽ˡ⁺¹⁾", nnext, nl), "b_next": vector("b⁽ˡ⁺¹⁾", nnext),
        "z_next": vector("z⁽ˡ⁺¹⁾", nnext), "d_next": vector("δ⁽ˡ⁺¹⁾", nnext),
        "aL": vector("a⁽ᴸ⁾", nL), "zL": vector("z⁽ᴸ⁾", nL), "dL": vector("δ⁽ᴸ⁾", nL),
        "grad": vector("∇ₐC", nL), "C": scalar("C"),
    }
    W, b, z, a, a_prev, d = (s[k] for k in ("W", "b", "z", "a", "a_prev", "d"))
    W_next, b_next, z_next, d_next = (s[k] for k in ("W_next", "b_next", "z_next", "d_next"))
    aL, zL, dL, grad, C = (s[k] for k in ("aL", "zL", "dL", "grad", "C"))
    steps: list[Step] = []

    # BP1: the output layer.
    act_L = apply("σ", zL)
    local = simplify(jac(act_L, zL))
    steps.append(Step(Partial(aL, zL), local, rule_name(act_L, zL),
                      "a⁽ᴸ⁾ = σ(z⁽ᴸ⁾) acts entry by entry: a diagonal Jacobian"))
    product = sp.MatMul(T(grad), local)
    steps.append(Step(Partial(C, zL), product, "chain rule",
                      "∂C/∂z⁽ᴸ⁾ = ∂C/∂a⁽ᴸ⁾ ∂a⁽ᴸ⁾/∂z⁽ᴸ⁾, and ∂C/∂a⁽ᴸ⁾ = (∇ₐC)ᵀ is the cost's "
                      "gradient as a "
                      "row"))
    st, row = simplify_step(Partial(C, zL), product, why="a row times a diagonal matrix "
                            "scales its entries: (∇ₐC)ᵢ σ′(zᵢ⁽ᴸ⁾)")
    steps.append(st)
    bp1 = simplify(T(row))
    steps.append(Step(dL, bp1, "BP1: δ⁽ᴸ⁾ = (∂C/∂z⁽ᴸ⁾)ᵀ",
                      "the output error: the cost's gradient scaled by the slope of σ"))

    # BP2: from layer l + 1 back to layer l.
    affine_next = W_next * a + b_next
    d_za = simplify(jac(affine_next, a))
    steps.append(Step(Partial(z_next, a), d_za, rule_name(affine_next, a),
                      "z⁽ˡ⁺¹⁾ = W⁽ˡ⁺¹⁾ a⁽ˡ⁾ + b⁽ˡ⁺¹⁾ is linear in a⁽ˡ⁾"))
    act = apply("σ", z)
    d_az = simplify(jac(act, z))
    steps.append(Step(Partial(a, z), d_az, rule_name(act, z), "σ entry by entry"))
    product = sp.MatMul(T(d_next), d_za, d_az)
    steps.append(Step(Partial(C, z), product, "chain rule",
                      "∂C/∂z⁽ˡ⁾ = ∂C/∂z⁽ˡ⁺¹⁾ ∂z⁽ˡ⁺¹⁾/∂a⁽ˡ⁾ ∂a⁽ˡ⁾/∂z⁽ˡ⁾, with "
                      "∂C/∂z⁽ˡ⁺¹⁾ = (δ⁽ˡ⁺¹⁾)ᵀ"))
    st, row = simplify_step(Partial(C, z), product,
                            why="the row δ⁽ˡ⁺¹⁾ᵀ W⁽ˡ⁺¹⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾)ᵀ "
                            "times a diagonal matrix: entry by entry")
    steps.append(st)
    bp2 = simplify(T(row))
    steps.append(Step(d, bp2, "BP2: δ⁽ˡ⁾ = (∂C/∂z⁽ˡ⁾)ᵀ",
                      "the error moves back through W⁽ˡ⁺¹⁾ᵀ and is scaled by σ′(z⁽ˡ⁾)"))

    # BP3 and BP4: the parameters of layer l.
    affine = W * a_prev + b
    d_zb = simplify(jac(affine, b))
    steps.append(Step(Partial(z, b), d_zb, rule_name(affine, b), "b is added as it is"))
    st, row_b = simplify_step(Partial(C, b), sp.MatMul(T(d), d_zb), "chain rule",
                              "∂C/∂b⁽ˡ⁾ = ∂C/∂z⁽ˡ⁾ ∂z⁽ˡ⁾/∂b⁽ˡ⁾ = (δ⁽ˡ⁾)ᵀ I")
    steps.append(st)
    bp3 = simplify(T(row_b))
    steps.append(Step(Transposed(Partial(C, b)), bp3, "BP3: the gradient has the shape of b⁽ˡ⁾",
                      "∂C/∂b⁽ˡ⁾ transposed: the error itself"))
    bp4 = simplify(vjp(affine, W, T(d)))
    steps.append(Step(Partial(C, W), bp4, f"BP4: {VJP_RULE}",
                      "entry (j, k) is ∂C/∂zⱼ · aₖ⁽ˡ⁻¹⁾: the outer product of the error and the "
                      "layer's input"))
    g = General(s, steps, bp1, bp2, bp3, bp4)
    _batched(g)
    return g


def _batched(g: General) -> None:
    """Δ = [δ₁ … δₘ], A⁽ˡ⁻¹⁾, Z⁽ˡ⁾: the per-sample equations over a batch of m samples."""
    s = g.symbols
    nl, nprev, nnext, nL = (s["z"].shape[0], s["a_prev"].shape[0], s["z_next"].shape[0],
                            s["zL"].shape[0])
    big = {
        "D": matrix("Δ⁽ˡ⁾", nl, M), "A_prev": matrix("A⁽ˡ⁻¹⁾", nprev, M),
        "Z": matrix("Z⁽ˡ⁾", nl, M),
        "D_next": matrix("Δ⁽ˡ⁺¹⁾", nnext, M), "DL": matrix("Δ⁽ᴸ⁾", nL, M),
        "ZL": matrix("Z⁽ᴸ⁾", nL, M), "G": matrix("∇ᴬC", nL, M),
    }
    pairs = (("d", "D"), ("a_prev", "A_prev"), ("z", "Z"), ("d_next", "D_next"), ("dL", "DL"),
             ("zL", "ZL"), ("grad", "G"))
    batch = Batch(M, (), tuple((s[a], big[b]) for a, b in pairs))
    linear = SUM_OVER_SAMPLES_RULE  # batch.total(C) is a SampleSum
    steps = [
        Step(big["DL"], batch.stack(g.bp1), "stack BP1 over the samples",
             "column i is δ⁽ᴸ⁾ of sample i: element-wise operations act column by column"),
        Step(big["D"], batch.stack(g.bp2), "stack BP2 over the samples",
             "W⁽ˡ⁺¹⁾ᵀ acts on every column of Δ⁽ˡ⁺¹⁾"),
    ]
    for param, grad in ((s["W"], g.bp4), (s["b"], g.bp3)):
        lhs = gradient_lhs(s["C"], param)
        total = sp.MatMul(1 / M, batch.total(grad))
        steps.append(Step(lhs, total, linear, "C = 1/m Σᵢ Cᵢ, each Cᵢ by BP3/BP4"))
        flat, rule = batch.sum(total)
        steps.append(Step(lhs, flat, rule, "the δᵢ as the columns of Δ⁽ˡ⁾, the aᵢ of A⁽ˡ⁻¹⁾"))
        g.batched["W" if param == s["W"] else "b"] = flat
    g.batched["DL"], g.batched["D"] = steps[0].rhs, steps[1].rhs
    g.batch_steps = steps


# --------------------------------------------------------------------------- concrete networks


@dataclass
class Network:
    """A concrete network: its symbols, forward links and the BP equations instantiated."""

    label: str
    dims: tuple[sp.Symbol, ...]
    acts: tuple[str, ...]
    cost: str  # "mse" or "ce"
    sizes: tuple[Sizes, ...]
    x: sp.MatrixSymbol
    y: sp.MatrixSymbol
    W: list[sp.MatrixSymbol]
    b: list[sp.MatrixSymbol]
    z: list[sp.MatrixSymbol]
    a: list[sp.MatrixSymbol]
    d: list[sp.MatrixSymbol]
    C: sp.MatrixSymbol
    grad: sp.MatrixSymbol
    forward: list[tuple[sp.MatrixSymbol, MatrixExpr]]
    deltas: list[tuple[sp.MatrixSymbol, MatrixExpr]]

    @property
    def depth(self) -> int:
        return len(self.W)

    def inputs(self, layer: int) -> sp.MatrixSymbol:
        """a⁽ˡ⁻¹⁾ for layer l = 1 … L (a⁽⁰⁾ = x)."""
        return self.x if layer == 1 else self.a[layer - 2]


def gradient_lhs(C: sp.MatrixSymbol, param: sp.MatrixSymbol) -> sp.Basic:
    """∂C/∂W for a matrix (the gradient has its shape), (∂C/∂b)ᵀ for a vector."""
    return Partial(C, param) if param.shape[1] != 1 else Transposed(Partial(C, param))


def cost_of(kind: str, a: sp.MatrixSymbol, y: sp.MatrixSymbol) -> MatrixExpr:
    """½‖a − y‖² or −yᵀ log(a): one sample's cost."""
    if kind == "mse":
        r = sp.MatAdd(a, sp.MatMul(-1, y))
        return sp.MatMul(sp.Rational(1, 2), sp.Transpose(r), r)
    if kind == "ce":
        return sp.MatMul(-1, T(y), apply("log", a))
    raise UnknownNameError(f"unknown cost {kind!r}; known: mse, ce")


def network(
    label: str, widths: Sequence[int], acts: Sequence[str], cost: str,
    more_sizes: Sequence[Sequence[int]], names: Callable[[str, int], str] | None = None,
) -> Network:
    """Build a network of len(widths) − 1 layers and instantiate BP1, BP2 for it.

    ``widths`` is the headline size (2-3-2); ``more_sizes`` the other sizes it is proven at.
    """
    name = names or (lambda base, i: f"{base}{sup(i)}")
    L = len(widths) - 1
    dims = tuple(dim(f"n{i}") for i in range(L + 1))
    x, y = vector("x", dims[0]), vector("y", dims[L])
    W = [matrix(name("W", i), dims[i], dims[i - 1]) for i in range(1, L + 1)]
    b = [vector(name("b", i), dims[i]) for i in range(1, L + 1)]
    z = [vector(name("z", i), dims[i]) for i in range(1, L + 1)]
    a = [vector(name("a", i), dims[i]) for i in range(1, L + 1)]
    d = [vector(name("δ", i), dims[i]) for i in range(1, L + 1)]
    C, grad = scalar("C"), vector("∇ₐC", dims[L])
    forward: list[tuple[sp.MatrixSymbol, MatrixExpr]] = []
    prev = x
    for i in range(L):
        forward += [(z[i], sp.MatAdd(W[i] * prev, b[i])), (a[i], apply(acts[i], z[i]))]
        prev = a[i]
    forward.append((C, cost_of(cost, a[-1], y)))
    sizes = tuple({dd: n for dd, n in zip(dims, ws, strict=True)}
                  for ws in (widths, *more_sizes))
    return Network(label, dims, tuple(acts), cost, sizes, x, y, W, b, z, a, d, C, grad,
                   forward, [])


def instantiate(g: General, net: Network) -> Network:
    """δ⁽ᴸ⁾ by BP1 and δ⁽ˡ⁾ by BP2 for this network: the general formulas with its symbols."""
    s = g.symbols
    L = net.depth
    grad_def = simplify(T(jac(net.forward[-1][1], net.a[-1])))
    deltas: list[tuple[sp.MatrixSymbol, MatrixExpr]] = [(net.grad, grad_def)]
    bp1 = g.bp1.xreplace({s["grad"]: net.grad, s["zL"]: net.z[-1]})
    deltas.append((net.d[-1], specialise(bp1, {"σ": net.acts[-1]})))
    for i in range(L - 2, -1, -1):
        bp2 = g.bp2.xreplace({s["W_next"]: net.W[i + 1], s["d_next"]: net.d[i + 1],
                              s["z"]: net.z[i]})
        deltas.append((net.d[i], specialise(bp2, {"σ": net.acts[i]})))
    net.deltas = deltas
    return net


def instantiation_steps(net: Network) -> list[Step]:
    """The network's ∇ₐC (from the rule table) and its δs (BP1, then BP2 downwards)."""
    cost = "½‖a⁽ᴸ⁾ − y‖²" if net.cost == "mse" else "−yᵀ log(a⁽ᴸ⁾)"
    out = [Step(net.grad, net.deltas[0][1], f"{net.label}: ∇ₐC",
                f"the gradient of C = {cost} w.r.t. a⁽ᴸ⁾, from the rule table")]
    for i, (k, v) in enumerate(net.deltas[1:]):
        act = net.acts[net.depth - 1 - i]
        which = "BP1" if i == 0 else "BP2"
        out.append(Step(k, v, f"{net.label}: {which} with σ = {act}",
                        "the output error" if i == 0 else "one layer further back"))
    return out


def parameter_results(g: General, net: Network) -> list[Result]:
    """∂C/∂W⁽ˡ⁾ = δ⁽ˡ⁾ a⁽ˡ⁻¹⁾ᵀ (BP4) and ∂C/∂b⁽ˡ⁾ = δ⁽ˡ⁾ (BP3) for every layer, as gradients."""
    s = g.symbols
    defs = (*net.forward, *net.deltas)
    out = []
    for i in range(net.depth):
        sub = {s["d"]: net.d[i], s["a_prev"]: net.inputs(i + 1)}
        for param, formula in ((net.W[i], g.bp4), (net.b[i], g.bp3)):
            out.append(Result(Case(gradient_lhs(net.C, param), net.label),
                              formula.xreplace(sub), net.C, param,
                              kind="gradient", defs=defs, sizes=net.sizes))
    return out


def batched_results(g: General, net: Network) -> tuple[list[Step], list[Result]]:
    """The batched forms for ``net`` with m samples: ∂C/∂W⁽ˡ⁾ = 1/m Δ⁽ˡ⁾ A⁽ˡ⁻¹⁾ᵀ,
    ∂C/∂b⁽ˡ⁾ = 1/m Δ⁽ˡ⁾ 𝟏."""
    X, Y = matrix("X", net.dims[0], M), matrix("Y", net.dims[-1], M)
    upper = {"z": "Z", "a": "A", "δ": "Δ"}
    big: dict[sp.MatrixSymbol, sp.MatrixSymbol] = {}
    for group, letter in ((net.z, "z"), (net.a, "a"), (net.d, "δ")):
        for v in group:
            big[v] = matrix(v.name.replace(letter, upper[letter], 1), v.shape[0], M)
    big[net.grad] = matrix("∇ᴬC", net.grad.shape[0], M)
    batch = Batch(M, ((net.x, X), (net.y, Y)), tuple(big.items()))
    cost = sp.MatMul(1 / M, batch.total(net.forward[-1][1]))
    per_sample = net.forward[:-1]
    C = net.C
    batch_defs = tuple(batch.define(per_sample + net.deltas))
    steps = [Step(k, v, "stack the samples",
                  "column i holds sample i: " + ("the cost's gradient" if k.name.startswith("∇")
                                                  else "its error δ"))
             for k, v in batch_defs if k.name.startswith(("Δ", "∇"))]
    results = []
    for i in range(net.depth):
        sub = {g.symbols["d"]: net.d[i], g.symbols["a_prev"]: net.inputs(i + 1)}
        for param, formula in ((net.W[i], g.bp4), (net.b[i], g.bp3)):
            total = sp.MatMul(1 / M, batch.total(formula.xreplace(sub)))
            flat, _ = batch.sum(total)
            results.append(Result(Case(gradient_lhs(C, param), f"{net.label}, m samples"),
                                  flat, C, param, kind="gradient",
                                  defs=(*per_sample, (C, cost), *batch_defs)))
    return steps, results


NETWORKS = (
    # label, widths, activations, cost, more sizes
    ("2-3-2 sigmoid, MSE", (2, 3, 2), ("sigmoid", "sigmoid"), "mse", ((1, 2, 1), (3, 2, 2))),
    ("2-3-2 ReLU + sigmoid, cross-entropy", (2, 3, 2), ("relu", "sigmoid"), "ce",
     ((1, 2, 1), (2, 2, 3))),
    ("3-4-3-2 ReLU + sigmoid, MSE", (3, 4, 3, 2), ("relu", "relu", "sigmoid"), "mse",
     ((1, 2, 2, 1), (2, 2, 3, 2))),
    ("3-4-3-2 sigmoid, cross-entropy", (3, 4, 3, 2), ("sigmoid", "sigmoid", "sigmoid"), "ce",
     ((1, 2, 2, 1), (2, 3, 2, 2))),
)
BATCH_M = (1, 2, 3)


@register("backprop")
def build() -> Derivation:
    g = general()
    s = g.symbols
    nets = [instantiate(g, network(*spec)) for spec in NETWORKS]
    results: list[Result] = []
    steps = list(g.steps) + list(g.batch_steps)
    for net in nets:
        steps += instantiation_steps(net)
        results += parameter_results(g, net)
    first = nets[0]
    b_steps, b_results = batched_results(g, first)
    bsizes = tuple({**first.sizes[0], M: m} for m in BATCH_M)
    b_results = [Result(r.lhs, r.expr, r.of, r.wrt, r.kind, r.defs, sizes=bsizes)
                 for r in b_results]
    steps += b_steps
    results += b_results
    return Derivation(
        name="backprop",
        title="Backpropagation: BP1–BP4",
        summary="δ⁽ˡ⁾ = (∂C/∂z⁽ˡ⁾)ᵀ: BP1 δ⁽ᴸ⁾ = ∇ₐC ⊙ σ′(z⁽ᴸ⁾), "
                "BP2 δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ σ′(z⁽ˡ⁾), BP3 ∂C/∂b⁽ˡ⁾ = δ⁽ˡ⁾, "
                "BP4 ∂C/∂W⁽ˡ⁾ = δ⁽ˡ⁾ a⁽ˡ⁻¹⁾ᵀ; over a batch Δ = [δ₁ … δₘ]: "
                "∂C/∂W⁽ˡ⁾ = 1/m Δ⁽ˡ⁾ A⁽ˡ⁻¹⁾ᵀ, ∂C/∂b⁽ˡ⁾ = 1/m Δ⁽ˡ⁾ 𝟏",
        givens=[
            Given(s["W"], "n⁽ˡ⁾ × n⁽ˡ⁻¹⁾", "weights of layer l"),
            Given(s["b"], "n⁽ˡ⁾ × 1", "biases of layer l"),
            Given(s["a_prev"], "n⁽ˡ⁻¹⁾ × 1", "the layer's input (a⁽⁰⁾ = x)"),
            Given(s["grad"], "n⁽ᴸ⁾ × 1", "the gradient of the cost w.r.t. the output a⁽ᴸ⁾"),
            Given(s["C"], "scalar", "the cost of one sample; over a batch C = 1/m Σᵢ Cᵢ"),
        ],
        definitions=[
            Step(s["z"], s["W"] * s["a_prev"] + s["b"], "definition", "the pre-activation"),
            Step(s["a"], apply("σ", s["z"]), "definition", "σ: any activation, entry by entry"),
            Step(T(s["d"]), Partial(s["C"], s["z"]), "definition",
                 "the error of layer l, as a column: δ⁽ˡ⁾ = (∂C/∂z⁽ˡ⁾)ᵀ"),
        ],
        steps=steps,
        results=results,
        claims=_claims(g, nets),
        notes=[
            "The equations are derived once, for a layer l of any depth with a generic σ; each "
            "network below instantiates them (σ → ReLU or sigmoid, C → MSE or cross-entropy) "
            "and is proven by differentiating its composed cost directly.",
            *(f"{n.label}: proven at sizes {_widths(n)}" for n in nets),
            f"Batched forms: {first.label} with m = {', '.join(map(str, BATCH_M))} samples.",
            "BP3 and BP4 are gradients (the shape of b⁽ˡ⁾ and of W⁽ˡ⁾); the Jacobian ∂C/∂b⁽ˡ⁾ is "
            "the row δ⁽ˡ⁾ᵀ.",
        ],
        sizes=[dict(s) for s in first.sizes],
    )


def _widths(net: Network) -> str:
    return ", ".join("-".join(str(v) for v in sz.values()) for sz in net.sizes)


def _claims(g: General, nets: list[Network]) -> list[Claim]:
    """The notes' BP4 and BP3 for the first network's first layer, typed as they state them."""
    net = nets[0]
    d1, x = net.d[0], net.x
    return [
        Claim("∂C/∂W⁽¹⁾ = δ⁽¹⁾ xᵀ (BP4 with a⁽⁰⁾ = x)", d1 * T(x), 0),
        Claim("∂C/∂b⁽¹⁾ = δ⁽¹⁾ (BP3)", d1, 1),
    ]

