"""gradient-descent: θ ← θ − α∇C for least squares, full batch and mini-batch; one small step
lowers the cost, shown exactly on a small problem."""

from __future__ import annotations

from itertools import combinations

import sympy as sp

from derivations import register
from derivations._display import At, Nabla
from derivations._steps import chain
from jacobian_lab.core.derivation import Derivation, Given, Partial, Result, Step
from jacobian_lab.matrix.explicit import Instantiator
from jacobian_lab.matrix.expr import DIM_M, DIM_N, T, matrix, scalar, vector
from jacobian_lab.matrix.simplify import simplify

# A small least-squares problem: fit yᵢ ≈ θ₁ xᵢ + θ₂ (the second feature is a constant 1).
X_NUM = sp.Matrix([[1, 2, 3], [1, 1, 1]])
Y_NUM = sp.Matrix([1, 2, 2])
THETA0 = sp.Matrix([0, 0])
ALPHA = sp.Rational(1, 10)
BATCH_M, BATCH_B = 3, 2  # the mini-batch case: m = 3 samples, batches of 2


def _minibatch(theta: sp.MatrixSymbol, X: sp.MatrixSymbol, y: sp.MatrixSymbol,
               residual: sp.Basic) -> tuple[list[Step], Result]:
    """Every batch of BATCH_B of BATCH_M samples, one feature: the mean batch gradient is ∇C."""
    inst = Instantiator({DIM_N: 1, DIM_M: BATCH_M})
    r = inst(residual)
    th = tuple(inst.env[theta.name])
    full = sum((ri**2 for ri in r), sp.S.Zero) / (2 * BATCH_M)
    steps, grads = [], []
    for batch in combinations(range(BATCH_M), BATCH_B):
        label = "".join(str(i + 1) for i in batch)
        c_b = sum((r[i] ** 2 for i in batch), sp.S.Zero) / (2 * BATCH_B)
        g_b = sp.Matrix([[sp.diff(c_b, t) for t in th]])
        grads.append(g_b)
        steps.append(Step(Nabla(sp.Symbol(f"C_{label}", real=True)), g_b,
                          f"mini-batch gradient, batch {{{', '.join(label)}}}",
                          f"the mean of ∇Cᵢ over the {BATCH_B} samples of the batch, "
                          f"Cᵢ = ½(Xᵢθ − yᵢ)²"))
    mean = sum(grads, sp.zeros(1, len(th))) / len(grads)
    lhs = At(sp.Symbol("mean", real=True), *(s.lhs for s in steps))
    steps.append(Step(lhs, mean,
                      "expectation over uniformly drawn batches",
                      f"each sample lies in {BATCH_B} of the {len(grads)} batches, so the mean "
                      "of the batch gradients weighs every sample equally: it is the full "
                      f"gradient ∇C = (1/{BATCH_M}) Σᵢ ∇Cᵢ"))
    return steps, Result(lhs, mean, sp.Matrix([full]), th)


@register("gradient-descent")
def build() -> Derivation:
    n, m = DIM_N, DIM_M
    theta, X, y = vector("θ"), matrix("X", n, m), vector("y", m)
    r, C = vector("r", m), scalar("C")
    links = [(r, sp.MatAdd(sp.MatMul(T(X), theta), sp.MatMul(-1, y))),
             (C, sp.MatMul(1 / (2 * m), T(r), r))]
    steps, jac = chain(links, theta, [
        "r is linear in θ: the matrix Xᵀ (one row per sample) times θ; y is fixed",
        "C = 1/(2m) rᵀr: the quadratic form uᵀu has ∂ = 2uᵀ",
    ], rules=["affine map: ∂(Xᵀθ − y)/∂θ = Xᵀ"], simplify_why="scalars first")
    grad = simplify(T(jac))
    grad_sym, alpha = vector("∇C"), scalar("α")
    th0, th1 = vector("θ0"), vector("θ1")
    update = sp.MatAdd(th0, sp.MatMul(-1, alpha, grad_sym))

    # The numbers: one full-batch step on the small problem, exactly.
    sizes = {n: 2, m: 3}
    data = {"X": X_NUM, "y": Y_NUM}
    sub = dict(links)

    def cost(th: sp.Matrix) -> sp.Expr:
        inst = Instantiator(sizes, {**data, "θ": th})
        return inst(sub[C].xreplace({r: sub[r]}))[0, 0]

    g0 = Instantiator(sizes, {**data, "θ": THETA0})(grad.xreplace({r: sub[r]}))
    theta1 = THETA0 - ALPHA * g0
    c0, c1 = cost(THETA0), cost(theta1)
    a = sp.Symbol("α", positive=True)
    phi = sp.expand(cost(THETA0 - a * g0))
    slope0 = sp.diff(phi, a).subs(a, 0)
    alpha_max = next(s for s in sp.solve(sp.Eq(phi, c0), a) if s > 0)

    mb_steps, mb_result = _minibatch(theta, X, y, links[0][1])
    return Derivation(
        name="gradient-descent",
        title="Gradient descent, full batch and mini-batch",
        summary="C = 1/(2m) ‖Xᵀθ − y‖²: ∇C = (1/m) X (Xᵀθ − y); θ ← θ − α∇C lowers C for a "
                "small α; the mean mini-batch gradient over all batches is ∇C",
        givens=[
            Given(theta, "n × 1", "parameters"),
            Given(X, "n × m", "inputs, one sample per column"),
            Given(y, "m × 1", "targets"),
            Given(alpha, "scalar", "learning rate α > 0"),
        ],
        definitions=[*(Step(s, e, "definition") for s, e in links)],
        steps=[
            *steps,
            Step(Nabla(C), grad, "gradient = transposed Jacobian",
                 "the gradient has the shape of θ (a column): transpose the row ∂C/∂θ"),
            Step(th1, update, "gradient descent update",
                 "∇C at θ0 points uphill; a small step α against it goes downhill"),
            Step(At(C, th0), c0, "the cost at θ0 = [0, 0]ᵀ",
                 f"X = {X_NUM.tolist()}, y = {list(Y_NUM)}: every prediction is 0, "
                 f"C = (1 + 4 + 4)/6"),
            Step(At(Nabla(C), th0), g0, "evaluate ∇C = (1/m) X r at θ0",
                 "r = −y, so ∇C = −(1/3) X y"),
            Step(th1, theta1, f"one step with α = {ALPHA}", "θ1 = θ0 − α ∇C(θ0)"),
            Step(At(C, th1), c1, "the cost after the step",
                 f"{c1} ≈ {sp.Float(c1, 4)} < C(θ0) = {c0}: the step lowered the cost"),
            Step(At(C, sp.MatAdd(th0, sp.MatMul(-1, alpha, grad_sym))), phi,
                 "the cost along the step, as a function of α",
                 f"slope at α = 0 is −‖∇C‖² = {slope0} < 0, so a small enough step always "
                 f"lowers C; here any 0 < α < {alpha_max} does"),
            *mb_steps,
        ],
        results=[
            Result(Partial(C, theta), jac, C, theta, defs=tuple(links)),
            Result(Nabla(C), grad, C, theta, kind="gradient", defs=tuple(links)),
            mb_result,
        ],
        notes=[
            "Full batch: ∇C over all m samples. Mini-batch: the same formula over a random "
            "batch B, (1/|B|) Σ_{i∈B} ∇Cᵢ; drawn uniformly, its expectation is ∇C, so each "
            "step is right on average at a fraction of the cost.",
            f"The mini-batch result is proven on components: m = {BATCH_M} samples, one "
            f"feature, all batches of {BATCH_B}.",
        ],
        sizes=[{n: a_, m: b_} for a_, b_ in ((1, 1), (2, 3), (3, 2), (3, 4))],
    )
