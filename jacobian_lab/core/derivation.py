"""The derivation data — the small core everything else builds on. It imports only SymPy.

A :class:`Derivation` is data: the givens, the steps (``lhs = rhs``, the rule, a plain-words
reason), the results in matrix notation, the notes' claims, and — after
:func:`jacobian_lab.core.proof.prove` — the proof record. Computing a derivation prints
nothing; printers (:mod:`jacobian_lab.printing`) render it, and register the notebook display
here (:data:`NOTEBOOK_DISPLAY`) so that the data need not know them.

The chain walk that produces steps is :mod:`jacobian_lab.core.chain`; the proof that makes a
result count is :mod:`jacobian_lab.core.proof`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import sympy as sp

if TYPE_CHECKING:  # annotations only: the data classes import nothing but SymPy
    from jacobian_lab.judge.checker import Check

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


Kind = Literal["jacobian", "gradient", "value", "denominator"]
Sizes = Mapping[sp.Symbol, int]


@dataclass(frozen=True)
class Result:
    """A result in matrix notation and what it claims to be the derivative of.

    ``kind="jacobian"``: ∂of/∂wrt in numerator layout (``of`` a column or scalar, ``wrt`` a
    vector or scalar); ``kind="denominator"``: its transpose (denominator layout).
    ``kind="gradient"``: ``of`` is a scalar and the result has the shape of ``wrt`` (a matrix
    or a column vector). ``kind="value"``: no derivative — the result is the
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

    def _repr_markdown_(self) -> str | None:
        """Jupyter renders a derivation (steps, result, proof record) by itself, through the
        printer registered in :data:`NOTEBOOK_DISPLAY` (None: the plain repr)."""
        show = NOTEBOOK_DISPLAY.get("markdown")
        return show(self) if show is not None else None

    def _repr_latex_(self) -> str | None:
        """The boxed results as one LaTeX display (for front ends that prefer LaTeX)."""
        show = NOTEBOOK_DISPLAY.get("latex")
        return show(self) if show is not None else None


# The printing layer sits above the core: it registers its notebook printers here on import
# ("markdown", "latex"), so that a Derivation displays itself without the core importing it.
NOTEBOOK_DISPLAY: dict[str, Callable[[Derivation], str]] = {}


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


def substitute(expr: sp.Basic, defs: Sequence[tuple[sp.MatrixSymbol, sp.Basic]]) -> sp.Basic:
    """Replace intermediates by their definitions, latest first, until none is left."""
    for name, definition in reversed(list(defs)):
        expr = expr.xreplace({name: definition})
    return expr
