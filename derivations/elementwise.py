"""elementwise: F(v, w) = f(v) ∘ g(w) has a diagonal Jacobian under the element-wise condition
(output i depends on vᵢ and wᵢ only); the notes' table for + − ⊙ ⊘ w.r.t. both vectors."""

from __future__ import annotations

from dataclasses import replace

import sympy as sp

from derivations import register
from derivations._display import Paren, Quotient
from derivations._steps import differentiate
from jacobian_lab.core.derivation import Claim, Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.expr import DIM_N, diag, divide, hadamard, vector

N = 3  # the size of the component-level cases

_WHY = {
    ("+", "v"): "vᵢ + wᵢ has slope 1 in vᵢ and 0 in every other vⱼ",
    ("+", "w"): "the same in w: slope 1 on the diagonal",
    ("−", "v"): "vᵢ − wᵢ has slope 1 in vᵢ",
    ("−", "w"): "vᵢ − wᵢ has slope −1 in wᵢ: the identity with a minus sign",
    ("⊙", "v"): "vᵢwᵢ has slope wᵢ in vᵢ",
    ("⊙", "w"): "vᵢwᵢ has slope vᵢ in wᵢ",
    ("⊘", "v"): "vᵢ/wᵢ has slope 1/wᵢ in vᵢ: diag of w^∘(−1), the reciprocals",
    ("⊘", "w"): "vᵢ/wᵢ = vᵢwᵢ⁻¹ has slope −vᵢ/wᵢ² in wᵢ",
}


_RULE = {
    "⊘": "element-wise quotient: v ⊘ w = v ⊙ w^∘(−1), then the product and power rules",
    "−": "sum rule: ∂(v − w) = ∂v − ∂w",
}


def _reading_order(e: sp.Basic) -> sp.Basic:
    """v ⊙ w^∘(−2) rather than w^∘(−2) ⊙ v: the powers last, as the notes write them."""
    return e.replace(
        lambda n: isinstance(n, sp.HadamardProduct),
        lambda n: sp.HadamardProduct(*sorted(n.args,
                                             key=lambda a: isinstance(a, sp.HadamardPower))),
    )


def _table(v: sp.MatrixSymbol, w: sp.MatrixSymbol) -> list[tuple[str, sp.Basic, sp.Basic]]:
    """(operator, as the notes write it, as the rule table reads it)."""
    minus = sp.MatAdd(v, sp.MatMul(-1, w))
    return [
        ("+", sp.MatAdd(v, w), sp.MatAdd(v, w)),
        ("−", minus, minus),
        ("⊙", hadamard(v, w), hadamard(v, w)),
        ("⊘", Quotient(v, w), divide(v, w)),
    ]


def _component_cases() -> tuple[list[Step], list[Result]]:
    """The element-wise condition, and a counter-case where it fails, at n = 3."""
    v = sp.Matrix(sp.symbols(f"v1:{N + 1}", real=True))
    w = sp.Matrix(sp.symbols(f"w1:{N + 1}", real=True))
    f, g = sp.Function("f", real=True), sp.Function("g", real=True)
    F, G = sp.Symbol("F", real=True), sp.Symbol("G", real=True)
    vv, ww = sp.Tuple(*v), sp.Tuple(*w)
    # Element-wise: Fᵢ = f(vᵢ) g(wᵢ); ∘ = · here, any element-wise binary operator behaves alike.
    Fv = sp.Matrix([f(v[i]) * g(w[i]) for i in range(N)])
    JFv, JFw = Fv.jacobian(v), Fv.jacobian(w)
    # Counter-case: G = (v₁v₂, v₂v₃, v₃v₁) ⊙ w — output i also uses v_{i+1}.
    Gv = sp.Matrix([v[i] * v[(i + 1) % N] * w[i] for i in range(N)])
    JGv = Gv.jacobian(v)
    steps = [
        Step(F, Fv, f"F = f(v) ⊙ g(w) at n = {N}, element-wise",
             "Fᵢ uses vᵢ and wᵢ only: this is the element-wise condition"),
        Step(Partial(F, vv), JFv, "Jacobian of the components",
             "∂Fᵢ/∂vⱼ = 0 for j ≠ i because Fᵢ does not contain vⱼ: only the diagonal "
             "survives, diag(f′(vᵢ) g(wᵢ))"),
        Step(Partial(F, ww), JFw, "Jacobian of the components",
             "the same for w: diag(f(vᵢ) g′(wᵢ))"),
        Step(G, Gv, "a counter-case: output i also uses the next entry of v",
             "G = (v₁v₂, v₂v₃, v₃v₁) ⊙ w: G₁ uses v₂ as well as v₁, so the element-wise "
             "condition fails"),
        Step(Partial(G, vv), JGv, "Jacobian of the components: NOT diagonal",
             "∂G₁/∂v₂ = v₁w₁ ≠ 0: an output depends on another input's entry, so the "
             "Jacobian has off-diagonal entries and is no diag(…)"),
    ]
    results = [
        Result(Partial(F, vv), JFv, Fv, tuple(v)),
        Result(Partial(F, ww), JFw, Fv, tuple(w)),
        Result(Partial(G, vv), JGv, Gv, tuple(v)),
    ]
    return steps, results


@register("elementwise")
def build() -> Derivation:
    v, w = vector("v"), vector("w")
    steps, results = _component_cases()
    defs = []
    for op, shown, expr in _table(v, w):
        if shown != expr:
            defs.append(Step(shown, expr, "element-wise division",
                             "v ⊘ w = v ⊙ w^∘(−1): multiply by the reciprocals of w"))
        for wrt in (v, w):
            step, jac = differentiate(Paren(shown), expr, wrt, _WHY[op, wrt.name], _RULE.get(op))
            jac = _reading_order(jac)
            steps.append(replace(step, rhs=jac))
            results.append(Result(Partial(Paren(shown), wrt), jac, expr, wrt))
    t = len(results) - 8  # index of the first table result
    return Derivation(
        name="elementwise",
        title="Element-wise binary operators",
        summary="F(v, w) = f(v) ∘ g(w): ∂F/∂v is diagonal when output i uses vᵢ, wᵢ only "
                "(not otherwise); the table: ∂(v + w)/∂v = I, ∂(v − w)/∂w = −I, "
                "∂(v ⊙ w)/∂v = diag(w), "                "∂(v ⊘ w)/∂w = −diag(v ⊙ w^∘(−2))",
        givens=[Given(v, "n × 1", "a vector"), Given(w, "n × 1", "a vector of the same size")],
        definitions=defs,
        steps=steps,
        results=results,
        claims=[
            Claim("∂(v + w)/∂v = I", sp.Identity(DIM_N), t),
            Claim("∂(v + w)/∂w = I", sp.Identity(DIM_N), t + 1),
            Claim("∂(v − w)/∂v = I", sp.Identity(DIM_N), t + 2),
            Claim("∂(v − w)/∂w = −I", -sp.Identity(DIM_N), t + 3),
            Claim("∂(v ⊙ w)/∂v = diag(w)", diag(w), t + 4),
            Claim("∂(v ⊙ w)/∂w = diag(v)", diag(v), t + 5),
            Claim("∂(v ⊘ w)/∂v = diag(…, 1/wᵢ, …)", diag(sp.HadamardPower(w, -1)), t + 6),
            Claim("∂(v ⊘ w)/∂w = diag(…, −vᵢ/wᵢ², …)",
                  -diag(hadamard(v, sp.HadamardPower(w, -2))), t + 7),
        ],
        notes=[
            "The table needs the element-wise condition, which + − ⊙ ⊘ always meet: "
            "output i is vᵢ ∘ wᵢ.",
            f"The general and the counter-case are shown on components at n = {N}; the "
            "table is proven at every size listed.",
        ],
        sizes=[{DIM_N: n} for n in (1, 2, 3, 5)],
    )
