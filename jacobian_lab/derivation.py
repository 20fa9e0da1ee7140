"""The derivation data and the chain-rule walk — the small core everything else builds on.

A :class:`Derivation` is data: the givens, the steps (``lhs = rhs``, the rule, a plain-words
reason), the results in matrix notation, the notes' claims, and — after :func:`prove` — the
proof record. Computing a derivation prints nothing; printers render it.

A result counts only once :func:`prove` has instantiated it at several concrete sizes and
shown it equal, entry by entry, to the component layer (``sympy.Matrix.jacobian`` on explicit
scalar symbols), through :func:`jacobian_lab.verify.compare`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from .errors import ShapeError
from .matrix.explicit import Instantiator, components
from .matrix.rules import jac, rule_name, simplify
from .verify import Check, compare

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


Kind = Literal["jacobian", "gradient"]


@dataclass(frozen=True)
class Result:
    """A result in matrix notation and what it claims to be the derivative of.

    ``kind="jacobian"``: ∂of/∂wrt in numerator layout (``of`` a column or scalar, ``wrt`` a
    vector or scalar). ``kind="gradient"``: ``of`` is a scalar and the result has the shape of
    ``wrt`` (a matrix or a column vector). ``defs`` substitutes intermediates (z, a, δ …) by
    their definitions for the proof; ``assume`` maps the explicit components of the givens to
    constraints (e.g. a one-hot y sums to 1).
    """

    lhs: sp.Basic
    expr: sp.Basic
    of: sp.Basic
    wrt: sp.MatrixSymbol | tuple[sp.Symbol, ...]
    kind: Kind = "jacobian"
    defs: tuple[tuple[sp.MatrixSymbol, sp.Basic], ...] = ()
    assume: Callable[[dict[str, sp.Matrix]], dict[sp.Symbol, sp.Expr]] | None = None


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
    simplified result in terms of the intermediates.
    """
    steps: list[Step] = []
    factors: list[MatrixExpr] = []
    prev = wrt
    for name, definition in links:
        local = simplify(jac(definition, prev))
        steps.append(Step(Partial(name, prev), local, rule_name(definition, prev),
                          f"differentiate {name} = {sp.sstr(definition)} w.r.t. {prev}"))
        factors.append(local)
        prev = name
    if len(links) > 1:
        product = sp.MatMul(*reversed(factors))
        steps.append(Step(Partial(links[-1][0], wrt), product, "chain rule",
                          "multiply the local Jacobians, outermost first"))
        result = simplify(product)
        steps.append(Step(Partial(links[-1][0], wrt), result, "simplify",
                          "𝟏ᵀ·diag(x) = xᵀ, diag(v)·𝟏 = v, scalars first"))
    else:
        result = factors[0]
    return steps, result


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


def component_truth(result: Result, sizes: Mapping[sp.Symbol, int]) -> tuple[sp.Matrix, Instantiator]:
    """Differentiate the explicit components of ``result.of`` — the ground truth."""
    inst = Instantiator(sizes)
    of = inst(substitute(result.of, result.defs))
    of = of if isinstance(of, sp.MatrixBase) else sp.Matrix([[of]])
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


def prove_result(result: Result, sizes: Mapping[sp.Symbol, int], seed: int = 0) -> Check:
    if isinstance(result.of, sp.MatrixBase):  # a component-level result: scalar variables
        wrt = list(result.wrt)  # type: ignore[arg-type]
        truth = sp.Matrix(result.of).jacobian(sp.Matrix(wrt))
        if result.kind == "gradient":
            truth = truth.T
        return compare(truth, result.expr, seed=seed, extra_exprs=list(result.of))
    truth, inst = component_truth(result, sizes)
    claimed = inst(substitute(result.expr, result.defs))
    claimed = claimed if isinstance(claimed, sp.MatrixBase) else sp.Matrix([[claimed]])
    return compare(_assumed(truth, result, inst), _assumed(claimed, result, inst), seed=seed)


def prove(derivation: Derivation, sizes: Sequence[Mapping[sp.Symbol, int]] | None = None) -> Proof:
    """Instantiate every result at every size and compare with the component layer."""
    t0 = time.perf_counter()
    size_list = list(sizes) if sizes is not None else derivation.sizes
    if not size_list:
        size_list = [{}]  # component-level results need no size
    results = []
    for r in derivation.results:
        checks = tuple((_size_label(s), prove_result(r, s)) for s in size_list)
        results.append(ResultProof(r.lhs, checks))
    verdicts = []
    for c in derivation.claims:
        target = derivation.results[c.result]
        s = size_list[min(1, len(size_list) - 1)]
        as_result = Result(target.lhs, c.expr, target.of, target.wrt, target.kind,
                           target.defs, target.assume)
        try:
            check = prove_result(as_result, s)
        except ShapeError as exc:
            check = Check("incorrect", "none", sp.Matrix(), sp.Matrix(), diagnosis=str(exc))
        verdicts.append(ClaimVerdict(c, check.ok, check, _size_label(s)))
    proof = Proof(tuple(results), tuple(verdicts), tuple(_size_label(s) for s in size_list),
                  time.perf_counter() - t0)
    derivation.proof = proof
    return proof
