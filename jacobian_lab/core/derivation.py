"""The derivation data and the chain-rule walk — the small core everything else builds on.

A :class:`Derivation` is data: the givens, the steps (``lhs = rhs``, the rule, a plain-words
reason), the results in matrix notation, the notes' claims, and — after :func:`prove` — the
proof record. Computing a derivation prints nothing; printers render it.

A result counts only once :func:`prove` has instantiated it at several concrete sizes and
shown it equal, entry by entry, to the component layer (``sympy.Matrix.jacobian`` on explicit
scalar symbols), through :func:`jacobian_lab.judge.checker.compare`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import ShapeError
from jacobian_lab.judge.checker import Check, compare
from jacobian_lab.judge.verdict import mismatches as _mismatches
from jacobian_lab.matrix.explicit import Instantiator, components
from jacobian_lab.matrix.fastcheck import identical
from jacobian_lab.matrix.rules import VJP_RULE, is_matrix_variable, jac, rule_name, simplify, vjp
from jacobian_lab.printing.notation import notation

CONVENTIONS: tuple[str, ...] = (
    "numerator layout: ∂f/∂x has one row per output of f and one column per entry of x",
    "vectors are columns; a gradient of a scalar w.r.t. a vector is the 1 × n row ∂C/∂x",
    "the gradient of a scalar w.r.t. a matrix W has the shape of W (entry ij = ∂C/∂Wᵢⱼ)",
    "ReLU'(0) = 0 (step(z) = 1 for z > 0, else 0)",
    "MSE cost C = 1/(2m) Σᵢ ‖yᵢ − aᵢ‖²; batches are the columns of X (n × m)",
)


class Partial(sp.Expr):
    """The symbol ∂of/∂wrt, for displaying a step's left-hand side."""

    def __new__(cls, of: sp.Basic, wrt: sp.Basic) -> Partial:
        return super().__new__(cls, of, wrt)

    @property
    def of(self) -> sp.Basic:
        return self.args[0]

    @property
    def wrt(self) -> sp.Basic:
        return self.args[1]


class Transposed(sp.Expr):
    """(∂C/∂b)ᵀ for display: the gradient of a scalar as a column, the transposed Jacobian."""

    def __new__(cls, e: sp.Basic) -> Transposed:
        return super().__new__(cls, e)


class Case(sp.Expr):
    """A result's left-hand side with the case it is about: ``∂C/∂W¹ (2-3-2 sigmoid, MSE)``."""

    def __new__(cls, e: sp.Basic, label: str) -> Case:
        return super().__new__(cls, e, sp.Symbol(label))

    @property
    def label(self) -> str:
        return str(self.args[1])


@dataclass(frozen=True)
class Given:
    symbol: sp.Basic
    shape: str
    meaning: str


@dataclass(frozen=True)
class Step:
    lhs: sp.Basic
    rhs: sp.Basic
    rule: str
    why: str = ""


Kind = Literal["jacobian", "gradient", "value"]
Sizes = Mapping[sp.Symbol, int]


@dataclass(frozen=True)
class Result:
    """A result in matrix notation and what it claims to be the derivative of.

    ``kind="jacobian"``: ∂of/∂wrt in numerator layout (``of`` a column or scalar, ``wrt`` a
    vector or scalar). ``kind="gradient"``: ``of`` is a scalar and the result has the shape of
    ``wrt`` (a matrix or a column vector). ``kind="value"``: no derivative — the result is the
    value of ``of`` itself (``wrt`` is ignored; pass ``()``), e.g. a worked example with the
    numbers given by ``assume``. ``defs`` substitutes intermediates (z, a, δ …) by their
    definitions for the proof; ``assume`` maps the explicit components of the givens to
    constraints (e.g. a one-hot y sums to 1). ``sizes``, when given, replaces the
    derivation's sizes for this result (a network of another depth has other dimensions).
    """

    lhs: sp.Basic
    expr: sp.Basic
    of: sp.Basic
    wrt: sp.MatrixSymbol | tuple[sp.Symbol, ...]
    kind: Kind = "jacobian"
    defs: tuple[tuple[sp.MatrixSymbol, sp.Basic], ...] = ()
    assume: Callable[[dict[str, sp.Matrix]], dict[sp.Symbol, sp.Expr]] | None = None
    sizes: tuple[Sizes, ...] = ()


@dataclass(frozen=True)
class Claim:
    """A statement from the notes, judged against the truth."""

    text: str  # as the notes wrote it
    expr: sp.Basic  # the same in matrix notation
    result: int = 0  # index of the result it claims to equal
    explanation: str = ""  # why it is wrong (shown when it is)


@dataclass
class Derivation:
    name: str
    title: str
    summary: str
    givens: list[Given]
    steps: list[Step]
    results: list[Result]
    claims: list[Claim] = field(default_factory=list)
    definitions: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sizes: list[dict[sp.Symbol, int]] = field(default_factory=list)
    conventions: tuple[str, ...] = CONVENTIONS
    proof: Proof | None = None

    def _repr_markdown_(self) -> str:
        """Jupyter renders a derivation (steps, result, proof record) by itself."""
        from jacobian_lab.printing.render import markdown

        return markdown(self)

    def _repr_latex_(self) -> str:
        """The boxed results as one LaTeX display (for front ends that prefer LaTeX)."""
        from jacobian_lab.printing.latex import latex

        body = r" \\ ".join(f"{latex(r.lhs)} = {latex(r.expr)}" for r in self.results)
        return f"$$\\begin{{gathered}}{body}\\end{{gathered}}$$"


@dataclass(frozen=True)
class ResultProof:
    lhs: sp.Basic
    checks: tuple[tuple[str, Check], ...]  # (size label, check)

    @property
    def ok(self) -> bool:
        return all(c.ok for _, c in self.checks)

    @property
    def method(self) -> str:
        methods = {c.method for _, c in self.checks}
        return "symbolic" if methods == {"symbolic"} else "sampled" if self.ok else "failed"

    @property
    def max_error(self) -> float:
        return max((c.max_error for _, c in self.checks), default=0.0)


@dataclass(frozen=True)
class ClaimVerdict:
    claim: Claim
    correct: bool
    check: Check
    size: str


@dataclass(frozen=True)
class Proof:
    results: tuple[ResultProof, ...]
    claims: tuple[ClaimVerdict, ...]
    sizes: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def method(self) -> str:
        if not self.ok:
            return "failed"
        return "symbolic" if all(r.method == "symbolic" for r in self.results) else "sampled"

    @property
    def max_error(self) -> float:
        return max((r.max_error for r in self.results), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "method": self.method,
            "sizes": list(self.sizes),
            "max_error": self.max_error,
            "seconds": round(self.seconds, 3),
            "results": [
                {"lhs": sp.sstr(r.lhs), "ok": r.ok, "method": r.method, "max_error": r.max_error,
                 "checks": {s: c.to_dict() for s, c in r.checks}}
                for r in self.results
            ],
            "claims": [
                {"text": v.claim.text, "correct": v.correct, "size": v.size,
                 "check": v.check.to_dict()}
                for v in self.claims
            ],
        }


# --------------------------------------------------------------------------- the chain walk


def chain_steps(
    links: Sequence[tuple[sp.MatrixSymbol, MatrixExpr]], wrt: sp.MatrixSymbol
) -> tuple[list[Step], MatrixExpr]:
    """The chain rule along ``links`` (each defined from the one before; the first from wrt).

    Returns one step per local Jacobian (found in the rule table), the product, and the
    simplified result in terms of the intermediates. For a matrix ``wrt`` (a weight matrix W)
    the first link must be affine in W (z = W a + b) and the last a scalar C: the steps give
    ∂C/∂z by the chain rule and then ∂C/∂W = δ aᵀ (δ = (∂C/∂z)ᵀ), a result in the shape of W.
    """
    if is_matrix_variable(wrt):
        return _matrix_chain_steps(links, wrt)
    steps: list[Step] = []
    factors: list[MatrixExpr] = []
    prev = wrt
    for name, definition in links:
        # Written in the link's own output where it appears (softmax(z) → s), as the notes do.
        local = simplify(jac(definition, prev)).xreplace({definition: name})
        steps.append(Step(Partial(name, prev), local, rule_name(definition, prev),
                          f"differentiate {notation(name)} = {notation(definition)} "
                          f"w.r.t. {notation(prev)}"))
        factors.append(local)
        prev = name
    if len(links) > 1:
        product = sp.MatMul(*reversed(factors))
        steps.append(Step(Partial(links[-1][0], wrt), product, "chain rule",
                          "multiply the local Jacobians, outermost first"))
        used: list[str] = []
        result = simplify(product, trace=used)
        steps.append(Step(Partial(links[-1][0], wrt), result, "simplify",
                          ", ".join(used) if used else "nothing to simplify"))
    else:
        result = factors[0]
    return steps, result


def _matrix_chain_steps(
    links: Sequence[tuple[sp.MatrixSymbol, MatrixExpr]], W: sp.MatrixSymbol
) -> tuple[list[Step], MatrixExpr]:
    z, affine = links[0]
    cost = links[-1][0]
    if cost.shape != (1, 1):
        raise ShapeError(f"∂{cost}/∂{W}: only a scalar has a gradient w.r.t. a matrix")
    if len(links) > 1:
        steps, upstream = chain_steps(links[1:], z)
    else:
        steps, upstream = [], sp.Identity(1)
    used: list[str] = []
    grad = simplify(vjp(affine, W, upstream), trace=used)
    steps.append(Step(Partial(cost, W), grad, VJP_RULE,
                      f"{z} = {sp.sstr(affine)} is linear in {W}: entry (i, j) of ∂{cost}/∂{W} "
                      f"is ∂{cost}/∂{z}ᵢ times the input j"))
    return steps, grad


def substitute(expr: sp.Basic, defs: Sequence[tuple[sp.MatrixSymbol, sp.Basic]]) -> sp.Basic:
    """Replace intermediates by their definitions, latest first, until none is left."""
    for name, definition in reversed(list(defs)):
        expr = expr.xreplace({name: definition})
    return expr


# --------------------------------------------------------------------------- the proof


def _size_label(sizes: Mapping[sp.Symbol, int]) -> str:
    if not sizes:
        return "scalars"
    return ",".join(f"{k}={v}" for k, v in sorted(sizes.items(), key=lambda kv: str(kv[0])))


def component_truth(
    result: Result, sizes: Mapping[sp.Symbol, int], inst: Instantiator | None = None
) -> tuple[sp.Matrix, Instantiator]:
    """Differentiate the explicit components of ``result.of`` — the ground truth.

    ``inst`` may be shared by the results proven at one size (it remembers what it built).
    """
    inst = inst or Instantiator(sizes)
    of = inst(substitute(result.of, result.defs))
    of = of if isinstance(of, sp.MatrixBase) else sp.Matrix([[of]])
    if result.kind == "value":
        return of, inst
    if not isinstance(result.wrt, sp.MatrixSymbol):
        raise ShapeError(f"{result.lhs}: a matrix-layer result needs a MatrixSymbol wrt")
    wrt = components(result.wrt, inst.sizes)
    inst.env.setdefault(result.wrt.name, wrt)
    if result.kind == "jacobian":
        if of.cols != 1:
            raise ShapeError(f"{result.of} is not a column: its Jacobian is a tensor")
        truth = of.jacobian(sp.Matrix(list(wrt)))
    else:
        if of.shape != (1, 1):
            raise ShapeError(f"gradient of a non-scalar {result.of}")
        truth = wrt.applyfunc(lambda w: sp.diff(of[0, 0], w))
    return truth, inst


def _assumed(m: sp.Matrix, result: Result, inst: Instantiator) -> sp.Matrix:
    if result.assume is None:
        return m
    return m.xreplace(result.assume(inst.env))


def explicit_truth(result: Result) -> sp.Matrix:
    """The truth of a component-level result (``of`` an explicit matrix of scalars)."""
    if result.kind == "value":
        return sp.Matrix(result.of)
    truth = sp.Matrix(result.of).jacobian(sp.Matrix(list(result.wrt)))
    return truth.T if result.kind == "gradient" else truth


def prove_result(
    result: Result, sizes: Mapping[sp.Symbol, int], seed: int = 0,
    inst: Instantiator | None = None, fast: bool = False,
) -> Check:
    """Compare one result with the component layer at ``sizes`` (``fast``: see
    :func:`jacobian_lab.judge.checker.compare`)."""
    if isinstance(result.of, sp.MatrixBase):  # a component-level result: scalar variables
        extra = [] if result.kind == "value" else list(result.of)
        return compare(explicit_truth(result), result.expr, seed=seed, extra_exprs=extra,
                       fast=fast)
    truth, inst = component_truth(result, sizes, inst)
    return judge(result, truth, instantiate_claim(result, inst), inst, seed=seed, fast=fast)


def instantiate_claim(result: Result, inst: Instantiator) -> sp.Matrix:
    """``result.expr`` with its intermediates substituted, as an explicit matrix."""
    claimed = inst(substitute(result.expr, result.defs))
    return claimed if isinstance(claimed, sp.MatrixBase) else sp.Matrix([[claimed]])


def judge(
    result: Result, truth: sp.Matrix, claimed: sp.Matrix, inst: Instantiator, seed: int = 0,
    fast: bool = False,
) -> Check:
    """Compare an instantiated claim with the instantiated truth (the result's ``assume``
    applied to both): the fast exact test first, then the checker (``fast``: without
    simplification or diagnosis, see :func:`jacobian_lab.judge.checker.compare`)."""
    truth, claimed = _assumed(truth, result, inst), _assumed(claimed, result, inst)
    if fast and truth.shape == claimed.shape:  # most claims are wrong: look for a witness
        from jacobian_lab.judge.witness import refute

        wrong = refute(truth, claimed, seed=seed)
        if wrong is not None:
            return wrong
    same = identical(truth, claimed, seed=seed)  # confirms the common case quickly
    if same is not None:
        return Check("correct", same[0], truth, claimed, points=same[1])
    if not truth.free_symbols and not claimed.free_symbols and truth.shape == claimed.shape:
        return _numbers_differ(truth, claimed)  # a worked example: nothing to sample
    return compare(truth, claimed, seed=seed, fast=fast, witness=False)  # searched above


def _numbers_differ(truth: sp.Matrix, claimed: sp.Matrix) -> Check:
    """Two explicit numeric matrices that ``identical`` found different: list the entries."""
    bad = {i: (float(truth[i]), float(claimed[i])) for i in range(len(truth))
           if sp.simplify(claimed[i] - truth[i]) != 0}
    mismatches = _mismatches(truth, claimed, bad)
    text = "; ".join(f"entry ({m.row},{m.col}) is {sp.sstr(m.claimed)}, not "
                     f"{sp.sstr(m.expected)}" for m in mismatches)
    return Check("incorrect", "symbolic", truth, claimed, mismatches=mismatches,
                 diagnosis=text or None)


def prove(derivation: Derivation, sizes: Sequence[Mapping[sp.Symbol, int]] | None = None) -> Proof:
    """Instantiate every result at every size and compare with the component layer.

    A result with its own ``sizes`` is proven at those (unless ``sizes`` is given here).
    """
    t0 = time.perf_counter()
    size_list: list[Sizes] = list(sizes) if sizes is not None else list(derivation.sizes)
    if not size_list:
        size_list = [{}]  # component-level results need no size
    results: list[ResultProof] = []
    shared: dict[str, Instantiator] = {}  # one per size: shared subexpressions built once

    def at(s: Mapping[sp.Symbol, int]) -> Instantiator:
        return shared.setdefault(_size_label(s), Instantiator(s))

    for r in derivation.results:
        own: list[Sizes] = list(r.sizes) if r.sizes and sizes is None else size_list
        checks = tuple((_size_label(s), prove_result(r, s, inst=at(s))) for s in own)
        results.append(ResultProof(r.lhs, checks))
    verdicts = []
    for c in derivation.claims:
        target = derivation.results[c.result]
        claim_sizes = list(target.sizes) if target.sizes and sizes is None else size_list
        s = claim_sizes[min(1, len(claim_sizes) - 1)]
        as_result = Result(target.lhs, c.expr, target.of, target.wrt, target.kind,
                           target.defs, target.assume)
        try:
            check = prove_result(as_result, s)
        except ShapeError as exc:
            check = Check("incorrect", "none", sp.Matrix(), sp.Matrix(), diagnosis=str(exc))
        verdicts.append(ClaimVerdict(c, check.ok, check, _size_label(s)))
    labels: list[str] = []
    for rp in results:  # the sizes actually used (a result may have its own)
        labels += [label for label, _ in rp.checks if label not in labels]
    labels = labels or [_size_label(s) for s in size_list]
    proof = Proof(tuple(results), tuple(verdicts), tuple(labels), time.perf_counter() - t0)
    derivation.proof = proof
    return proof


def simplify_step(
    lhs: sp.Basic, expr: MatrixExpr, rule: str = "simplify", why: str = ""
) -> tuple[Step, MatrixExpr]:
    """Simplify ``expr`` as one step; its rule names the identities of the table it used.

    ``rule`` says what the step does in words ("on active samples relu(z) = z"); the
    identities follow it after a colon, and ``why`` is the plain-words reason.
    """
    used: list[str] = []
    out = simplify(expr, trace=used)
    identities = "; ".join(used)
    if rule == "simplify":
        text = f"simplify: {identities}" if identities else "simplify"
    else:
        text = f"{rule}: {identities}" if identities else rule
    return Step(lhs, out, text, why or (identities if rule != "simplify" else "")), out
