"""mnist-network: the notes' 784-10-10 network (ReLU, then softmax with cross-entropy) over a
batch of m images: dZ2 = A2 − Y, dW2 = 1/m dZ2 A1ᵀ, db2 = 1/m dZ2 𝟏, dZ1 = W2ᵀ dZ2 ⊙ relu′(Z1),
dW1 = 1/m dZ1 Xᵀ, db1 = 1/m dZ1 𝟏 — backprop's batched forms specialised, proven at small
sizes by the same code path."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from derivations import register
from derivations.backprop import General, M, general, gradient_lhs
from derivations.softmax_cross_entropy import derive as derive_softmax_ce
from derivations.softmax_cross_entropy import sums_to_one
from jacobian_lab.core.derivation import Case, Derivation, Given, Result, Step
from jacobian_lab.matrix.batch import Batch
from jacobian_lab.matrix.expr import dim, matrix, scalar, specialise, vector
from jacobian_lab.matrix.from_text import declare, define

N0, N1, N2 = dim("n0"), dim("n1"), dim("n2")
NOTES_SIZES = {N0: 784, N1: 10, N2: 10}
SIZES = ({N0: 3, N1: 4, N2: 3, M: 2}, {N0: 4, N1: 3, N2: 2, M: 3}, {N0: 2, N1: 2, N2: 2, M: 1})


@dataclass(frozen=True)
class Mnist:
    per_sample: dict[str, sp.MatrixSymbol]
    batch: dict[str, sp.MatrixSymbol]
    forward: tuple[tuple[sp.MatrixSymbol, MatrixExpr], ...]  # one sample
    deltas: tuple[tuple[sp.MatrixSymbol, MatrixExpr], ...]  # δ2, δ1 of one sample
    batch_forward: tuple[tuple[sp.MatrixSymbol, MatrixExpr], ...]
    batch_deltas: tuple[tuple[sp.MatrixSymbol, MatrixExpr], ...]  # dZ2, dZ1
    grads: dict[str, MatrixExpr]  # dW2, db2, dW1, db1
    steps: list[Step]
    cost: MatrixExpr  # C = 1/m Σᵢ Cᵢ
    bp: General


@functools.cache
def derive() -> Mnist:
    """The network's gradients from backprop's equations and the softmax–cross-entropy rule."""
    bp = general()
    g = bp.symbols
    p = {
        "x": vector("x", N0), "y": vector("y", N2), "W1": matrix("W1", N1, N0),
        "b1": vector("b1", N1), "W2": matrix("W2", N2, N1), "b2": vector("b2", N2),
        "z1": vector("z1", N1), "a1": vector("a1", N1), "z2": vector("z2", N2),
        "a2": vector("a2", N2), "L": vector("L", N2), "C": scalar("C"),
        "δ1": vector("δ1", N1), "δ2": vector("δ2", N2),
    }
    B = {
        "X": matrix("X", N0, M), "Y": matrix("Y", N2, M), "Z1": matrix("Z1", N1, M),
        "A1": matrix("A1", N1, M), "Z2": matrix("Z2", N2, M), "A2": matrix("A2", N2, M),
        "dZ1": matrix("dZ1", N1, M), "dZ2": matrix("dZ2", N2, M),
    }
    forward = tuple(define([("z1", "W1*x + b1"), ("a1", "relu(z1)"), ("z2", "W2*a1 + b2"),
                            ("a2", "softmax(z2)")],
                           declare(p["x"], p["W1"], p["b1"], p["W2"], p["b2"])))
    ce = derive_softmax_ce(p["z2"], p["y"], p["a2"], p["L"], p["C"])
    cost_sample = ce.links[-1][1].xreplace({p["L"]: ce.links[1][1]})  # −yᵀ log(a2)
    steps = [
        Step(p["δ2"], ce.gradient, "softmax with cross-entropy: δ = s − y",
             "derived in softmax-cross-entropy: (𝟏ᵀy) sᵀ − yᵀ, and a one-hot y sums to 1"),
    ]
    bp2 = specialise(bp.bp2.xreplace({g["W_next"]: p["W2"], g["d_next"]: p["δ2"],
                                      g["z"]: p["z1"]}), {"σ": "relu"})
    steps.append(Step(p["δ1"], bp2, "BP2 with σ = ReLU", "relu′ = step: the error passes "
                      "only through the units that were active"))
    deltas = ((p["δ2"], ce.gradient), (p["δ1"], bp2))
    batch = Batch(M, ((p["x"], B["X"]), (p["y"], B["Y"])),
                  ((p["z1"], B["Z1"]), (p["a1"], B["A1"]), (p["z2"], B["Z2"]),
                   (p["a2"], B["A2"]), (p["δ2"], B["dZ2"]), (p["δ1"], B["dZ1"])))
    batch_forward = tuple(batch.define(list(forward)))
    batch_deltas = tuple(batch.define(list(deltas)))
    steps += [Step(k, v, "stack the samples as columns",
                   "column i of dZ is δ of sample i") for k, v in batch_deltas]
    cost = sp.MatMul(1 / M, batch.total(cost_sample))
    grads: dict[str, MatrixExpr] = {}
    for layer, a_prev in (("2", p["a1"]), ("1", p["x"])):
        d = p["δ" + layer]
        for param, formula, rule in (("W", bp.bp4, "BP4"), ("b", bp.bp3, "BP3")):
            per = formula.xreplace({g["d"]: d, g["a_prev"]: a_prev})
            total = sp.MatMul(1 / M, batch.total(per))
            flat, how = batch.sum(total)
            lhs = gradient_lhs(p["C"], p[param + layer])
            steps += [Step(lhs, total, f"{rule}, averaged over the batch",
                           "C = 1/m Σᵢ Cᵢ"),
                      Step(lhs, flat, how, "the δᵢ are the columns of dZ" + layer)]
            grads[f"d{param}{layer}"] = flat
    return Mnist(p, B, forward, deltas, batch_forward, batch_deltas, grads, steps, cost, bp)


def kernel_expressions() -> dict[str, MatrixExpr]:
    """The forward pass and the gradients as matrix expressions, for the NumPy codegen.

    Over the MatrixSymbols X (n0 × m), Y (n2 × m, one-hot columns), W1, b1, W2, b2 and the
    intermediates Z1, A1, Z2, A2, dZ2, dZ1, with symbolic sizes n0, n1, n2, m (784, 10, 10 in
    the notes): each gradient refers to the intermediates by name, in the order given.

    >>> sorted(kernel_expressions())[:3]
    ['A1', 'A2', 'Z1']
    """
    net = derive()
    out: dict[str, MatrixExpr] = {}
    for name, expr in (*net.batch_forward, *net.batch_deltas):
        out[name.name] = expr
    out.update(net.grads)
    return out


def upstream(Zname: str, B: dict[str, sp.MatrixSymbol]) -> tuple[sp.MatrixSymbol, ...]:
    """The batch matrices computed before Z (they are not needed once Z is the variable)."""
    return (B["Z1"], B["A1"]) if Zname == "Z2" else ()


@register("mnist-network")
def build() -> Derivation:
    net = derive()
    p, B = net.per_sample, net.batch
    C = p["C"]
    one_hot = sums_to_one(B["Y"])
    batch_defs = (*net.batch_forward, *net.batch_deltas)
    defs = (*net.forward, (C, net.cost), *batch_defs)
    results = []
    for name, param in (("dW2", "W2"), ("db2", "b2"), ("dW1", "W1"), ("db1", "b1")):
        results.append(Result(gradient_lhs(C, p[param]), net.grads[name], C, p[param],
                              kind="gradient", defs=defs, assume=one_hot))
    # dZ2 and dZ1 are m ∂C/∂Z (the per-sample errors): the cost as a function of Z.
    dZ2_def, dZ1_def = (d for _, d in net.batch_deltas)
    sample_cost = net.cost.args[-1]  # Σᵢ Cᵢ
    for Zname, lhs_def in (("Z2", dZ2_def), ("Z1", dZ1_def)):
        z = p[Zname.lower()]
        upto = [k for k, _ in net.forward].index(z)
        # The cost of the batch read from the columns of Z: zᵢ is column i of Z.
        from_z = type(sample_cost)(sample_cost.body, (*sample_cost.pairs, (z, B[Zname])), M)
        later = [(k, v) for k, v in batch_defs if k not in (B[Zname], *upstream(Zname, B))]
        lhs = Case(B["d" + Zname], f"= m ∂C/∂{Zname}")
        results.append(Result(lhs, lhs_def, from_z, B[Zname], kind="gradient",
                              defs=(*net.forward[upto + 1:], *later), assume=one_hot))
    return Derivation(
        name="mnist-network",
        title="The MNIST network of the notes, batched",
        summary="784-10-10, ReLU then softmax with cross-entropy, m images as the columns of "
                "X: dZ2 = A2 − Y, dW2 = 1/m dZ2 A1ᵀ, db2 = 1/m dZ2 𝟏, "
                "dZ1 = W2ᵀ dZ2 ⊙ relu′(Z1), dW1 = 1/m dZ1 Xᵀ, db1 = 1/m dZ1 𝟏",
        givens=[
            Given(B["X"], "n0 × m", "the images as columns (n0 = 784 pixels)"),
            Given(B["Y"], "n2 × m", "one-hot labels as columns (n2 = 10 classes)"),
            Given(p["W1"], "n1 × n0", "hidden layer weights (n1 = 10)"),
            Given(p["b1"], "n1 × 1", "hidden layer biases"),
            Given(p["W2"], "n2 × n1", "output layer weights"),
            Given(p["b2"], "n2 × 1", "output layer biases"),
        ],
        definitions=[
            *(Step(k, v, "forward pass, all samples at once") for k, v in net.batch_forward),
            Step(C, net.cost, "the mean cross-entropy",
                 "Cᵢ = −yᵢᵀ log(a2ᵢ): minus the log-probability of the right class"),
        ],
        steps=net.steps,
        results=results,
        notes=[
            "These are backprop's batched forms with σ = ReLU in layer 1 and the "
            "softmax–cross-entropy rule at the output (δ2 = a2 − y needs one-hot y).",
            "dZ2 and dZ1 hold the per-sample errors as columns: dZ = m ∂C/∂Z.",
            "Proven at n0-n1-n2 = 3-4-3 with m = 2, 4-3-2 with m = 3 and 2-2-2 with m = 1 "
            "(the notes' 784-10-10 is the same formula at other sizes); the last entry of "
            "each column of Y is set to 1 minus the others.",
            "kernel_expressions() hands these expressions to the NumPy code generator.",
        ],
        sizes=list(SIZES),
    )
