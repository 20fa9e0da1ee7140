"""mse-neuron: C = 1/(2m) Σᵢ (yᵢ − relu(wᵀxᵢ + b))² — one sample by the chain rule, then the
sum over the samples as matrix products over the batch X (n × m)."""

from __future__ import annotations

import sympy as sp

from derivations import register
from derivations._steps import chain, definitions
from jacobian_lab.core.chain import simplify_step
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step, substitute
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix.batch import Batch
from jacobian_lab.matrix.expr import (
    DIM_M,
    DIM_N,
    T,
    apply,
    expand_scalar,
    hadamard,
    matrix,
    scalar,
    vector,
)
from jacobian_lab.matrix.from_text import declare, define
from jacobian_lab.matrix.rules import SUM_OVER_SAMPLES_RULE
from jacobian_lab.matrix.simplify import simplify


def problem() -> dict[str, sp.Basic]:
    """The symbols of the problem (per sample and per batch), shared with ``errata``."""
    n, m = DIM_N, DIM_M
    return {
        "w": vector("w", n), "b": scalar("b"), "x": vector("xᵢ", n), "y": scalar("yᵢ"),
        "z": scalar("zᵢ"), "a": scalar("aᵢ"), "r": scalar("rᵢ"), "Ci": scalar("Cᵢ"),
        "e": scalar("eᵢ"), "C": scalar("C"),
        "X": matrix("X", n, m), "Y": vector("y", m), "Z": vector("z", m), "E": vector("e", m),
    }


def neuron_links(p: dict[str, sp.Basic], half: bool = True) -> list[tuple[sp.Basic, sp.Basic]]:
    """zᵢ = wᵀxᵢ + b, aᵢ = relu(zᵢ), rᵢ = yᵢ − aᵢ, Cᵢ = ½ rᵢᵀrᵢ (or rᵢᵀrᵢ without ½)."""
    w, x, y, b, z, a, r, C = (p[k].name for k in ("w", "x", "y", "b", "z", "a", "r", "Ci"))
    return define([(z, f"{w}'*{x} + {b}"), (a, f"relu({z})"), (r, f"{y} - {a}"),
                   (C, f"1/2*{r}'*{r}" if half else f"{r}'*{r}")],
                  declare(p["w"], p["x"], p["y"], p["b"]))


def batch_of(p: dict[str, sp.Basic]) -> Batch:
    return Batch(DIM_M, ((p["x"], p["X"]), (p["y"], p["Y"])),
                 ((p["z"], p["Z"]), (p["e"], p["E"])))


def per_sample(
    p: dict[str, sp.Basic], links: list[tuple[sp.Basic, sp.Basic]], wrt: sp.MatrixSymbol,
    half: bool = True,
) -> tuple[list[Step], sp.Basic]:
    """∂Cᵢ/∂wrt by the chain rule, then written with the error eᵢ = zᵢ − yᵢ."""
    z, y, e, r, a = p["z"], p["y"], p["e"], p["r"], p["a"]
    first = ("zᵢ = wᵀxᵢ + b: the dot product wᵀxᵢ has ∂/∂w = xᵢᵀ; b does not depend on w"
             if wrt == p["w"] else "zᵢ = wᵀxᵢ + b grows one for one with b")
    last = ("Cᵢ = ½ rᵢᵀrᵢ = ½ rᵢ²: the quadratic form has ∂ = rᵢᵀ (the ½ cancels the 2)"
            if half else "Cᵢ = rᵢᵀrᵢ = rᵢ²: the quadratic form has ∂ = 2rᵢᵀ")
    steps, g = chain(links, wrt, [
        first,
        "ReLU passes the slope 1 where zᵢ > 0 and 0 elsewhere: step(zᵢ)",
        "rᵢ = yᵢ − aᵢ: the residual falls as aᵢ grows",
        last,
    ], rules=[
        "dot product: ∂(wᵀx + b)/∂w = xᵀ" if wrt == p["w"] else "∂(wᵀx + b)/∂b = 1",
        None, None, None,
    ])
    lhs = Partial(p["Ci"], wrt)
    subst = substitute(g, [(a, links[1][1]), (r, links[2][1])])
    steps.append(Step(lhs, subst, "substitute rᵢ = yᵢ − aᵢ, aᵢ = relu(zᵢ)",
                      "write the residual with zᵢ to combine it with step(zᵢ)"))
    s, g = simplify_step(lhs, subst, "on active samples relu(zᵢ) = zᵢ",
                         "where step(zᵢ) = 1, aᵢ = zᵢ; where step(zᵢ) = 0 the term vanishes")
    steps.append(s)
    named = simplify(g.xreplace({simplify(z - y): e}))
    steps.append(Step(lhs, named, "name the error eᵢ = zᵢ − yᵢ = wᵀxᵢ + b − yᵢ",
                      "the prediction minus the target; it counts only where the neuron is "
                      "active"))
    return steps, named


def notes_claims(p: dict[str, sp.Basic]) -> list[Claim]:
    """The notes' formulas, typed as they state them (results 1, 4 and 2 of the entry)."""
    m, x, e, z = DIM_M, p["x"], p["e"], p["z"]
    X, y, w, b = p["X"], p["Y"], p["w"], p["b"]
    active = apply("relu", z, 1)
    batch = batch_of(p)
    pre = sp.MatAdd(T(X) * w, expand_scalar(b, m))
    return [
        Claim("∂C/∂w = 1/m Σᵢ eᵢ xᵢᵀ over the active samples (zᵢ > 0)",
              sp.MatMul(1 / m, batch.total(sp.MatMul(active, e, T(x)))), 1),
        Claim("∂C/∂b = 1/m Σᵢ eᵢ over the active samples (zᵢ > 0)",
              sp.MatMul(1 / m, batch.total(sp.MatMul(active, e))), 4),
        Claim("∂C/∂w = (1/m) ((Xᵀw + b𝟏 − y) ⊙ step(Xᵀw + b𝟏))ᵀ Xᵀ",
              sp.MatMul(1 / m, T(hadamard(sp.MatAdd(pre, sp.MatMul(-1, y)),
                                          apply("relu", pre, 1))), T(X)), 2),
    ]


@register("mse-neuron")
def build() -> Derivation:
    p = problem()
    w, b, x, y, z, e, C, Ci = (p[k] for k in ("w", "b", "x", "y", "z", "e", "C", "Ci"))
    X, Y, E = p["X"], p["Y"], p["E"]
    m = DIM_M
    links = neuron_links(p)
    e_def = (e, simplify(z - y))
    sample_defs = (*links, e_def)
    steps_w, g_w = per_sample(p, links, w)
    steps_b, g_b = per_sample(p, links, b)
    steps_b = [steps_b[0], *steps_b[4:]]  # the shared local Jacobians are shown once

    batch = batch_of(p)
    cost = sp.MatMul(1 / m, batch.total(Ci))
    cost_defs = (*links, (C, cost))
    batch_defs = tuple(batch.define([links[0], e_def]))
    linear = SUM_OVER_SAMPLES_RULE  # batch.total(Cᵢ) is a SampleSum
    sums, batched, results = [], [], []
    for wrt, g in ((w, g_w), (b, g_b)):
        total = sp.MatMul(1 / m, batch.total(g))
        flat, rule = batch.sum(total)
        lhs = Partial(C, wrt)
        sums.append(Step(lhs, total, linear,
                         "C = 1/m Σᵢ Cᵢ: the derivative of a sum is the sum of the derivatives"))
        batched.append(Step(lhs, flat, rule,
                            "stack the samples as columns: xᵢ → X, eᵢ → e, zᵢ → z"))
        written = simplify(substitute(flat, batch_defs))
        batched.append(Step(lhs, written, "substitute z and e",
                            "the same with the batch definitions written out"))
        results += [
            Result(Partial(Ci, wrt), g, Ci, wrt, defs=sample_defs),
            Result(lhs, total, C, wrt, defs=(*cost_defs, e_def)),
            Result(lhs, flat, C, wrt, defs=(*cost_defs, *batch_defs)),
        ]
    return Derivation(
        name="mse-neuron",
        title="The MSE cost of a ReLU neuron, per sample and per batch",
        summary="C = 1/(2m) Σᵢ (yᵢ − relu(wᵀxᵢ + b))²: ∂C/∂w = 1/m Σᵢ eᵢ step(zᵢ) xᵢᵀ "
                "= 1/m (e ⊙ step(z))ᵀ Xᵀ and ∂C/∂b = 1/m 𝟏ᵀ(e ⊙ step(z)), with the error "
                "eᵢ = wᵀxᵢ + b − yᵢ counted over the active samples only",
        givens=[
            Given(w, "n × 1", "weights"),
            Given(b, "scalar", "bias"),
            Given(x, "n × 1", "sample i (column i of X)"),
            Given(y, "scalar", "target of sample i (entry i of y)"),
            Given(X, "n × m", "the m samples as columns"),
            Given(Y, "m × 1", "the m targets"),
        ],
        definitions=[
            *definitions(links),
            Step(C, cost, "the cost", "the mean of the per-sample costs: 1/(2m) Σᵢ rᵢ²"),
            Step(e, e_def[1], "the error", "prediction before ReLU minus target"),
            *(Step(k, v, "stack the samples") for k, v in batch_defs),
        ],
        steps=[*steps_w, *steps_b, sums[0], batched[0], batched[1], sums[1], batched[2],
               batched[3]],
        results=results,
        claims=notes_claims(p),
        notes=[
            "A sample with zᵢ ≤ 0 (an inactive neuron) adds nothing to either gradient: "
            "step(zᵢ) = 0 there (ReLU'(0) = 0).",
            "Numerator layout: ∂C/∂w is the 1 × n row; the gradient used in the update "
            "w ← w − α ∇C is its transpose, 1/m X (e ⊙ step(z)).",
            f"Under C = 1/m Σᵢ rᵢ² (no ½) every gradient doubles: see errata. "
            f"e = {notation(substitute(E, batch_defs))}.",
        ],
        sizes=[{DIM_N: n, DIM_M: k} for n, k in ((1, 1), (2, 2), (3, 3), (2, 3))],
    )
