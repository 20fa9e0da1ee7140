"""What the judge answers: a :class:`Check` (the verdict, its method, its evidence) and the
:class:`Mismatch` records of the entries that differ.

Imported by the checker and by its quick witness search, so neither needs the other's
private names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

from jacobian_lab.judge.values import DIGITS

Verdict = Literal["correct", "incorrect", "undecided"]
Method = Literal["symbolic", "sampled", "none"]


KINK_DIAGNOSIS = (
    "the claim agrees with the derivative away from the kink {kink} = 0 but not on it: the "
    "function is not differentiable there, and the value at the switch follows a convention "
    "(here a step is 0 at its switch: ReLU'(0) = 0 and leaky_relu'(0) = 1/100, as in the "
    "notes and PyTorch); the claim uses another"
)


@dataclass(frozen=True)
class Mismatch:
    """One entry where the claim differs from the truth (1-based row/col for people).

    ``claimed_value`` is ``None`` where the claim is undefined (the truth is not)."""

    row: int
    col: int
    expected: sp.Expr
    claimed: sp.Expr
    expected_value: float | None = None
    claimed_value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "col": self.col,
            "expected": sp.sstr(self.expected),
            "claimed": sp.sstr(self.claimed),
            "expected_value": self.expected_value,
            "claimed_value": self.claimed_value,
        }


@dataclass(frozen=True)
class Evidence:
    """How strong a sampled verdict is: the points evaluated, how many lay exactly on a
    kink, the magnitudes their coordinates spanned, and the tries it took."""

    points: int = 0
    on_kinks: int = 0
    magnitudes: tuple[float, float] | None = None
    tries: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "on_kinks": self.on_kinks,
            "magnitudes": list(self.magnitudes) if self.magnitudes else None,
            "tries": self.tries,
        }

    def text(self) -> str:
        mags = (f", magnitudes {self.magnitudes[0]:.0e} … {self.magnitudes[1]:.0e}"
                if self.magnitudes else "")
        return f"no counterexample at {self.points} points ({self.on_kinks} on kinks{mags})"


@dataclass(frozen=True)
class Check:
    """The outcome of comparing a claim with the truth."""

    verdict: Verdict
    method: Method
    expected: sp.Matrix
    claim: sp.Matrix
    mismatches: tuple[Mismatch, ...] = ()
    counterexample: dict[str, float] | None = None
    diagnosis: str | None = None
    points: int = 0
    max_error: float = 0.0
    kinks: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    evidence: Evidence | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "correct"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "method": self.method,
            "points": self.points,
            "max_error": self.max_error,
            "mismatches": [m.to_dict() for m in self.mismatches],
            "counterexample": self.counterexample,
            "diagnosis": self.diagnosis,
            "kinks": list(self.kinks),
            "notes": list(self.notes),
            "evidence": self.evidence.to_dict() if self.evidence else None,
        }

    def _repr_markdown_(self) -> str:
        """Jupyter: the verdict, the matrices and the counterexample."""
        latex = sp.latex  # SymPy's printer: ours (printing.latex) sits above the judge
        lines = [f"**{self.verdict}** ({self.method}): {self.summary()}", ""]
        lines.append(f"$$\\text{{claimed}} = {latex(self.claim)} \\quad "
                     f"\\text{{correct}} = {latex(self.expected)}$$")
        if self.counterexample:
            at = ", ".join(f"{k} = {v:.6g}" for k, v in self.counterexample.items())
            lines.append(f"counterexample: {at}")
        return "\n".join(lines)

    def summary(self) -> str:
        if self.verdict == "correct":
            if self.method == "symbolic":
                how = "the difference simplifies to 0"
            elif self.evidence is not None:
                how = f"{self.evidence.text()}, equal to {DIGITS} digits or exactly"
            else:
                how = f"equal to {DIGITS} digits at {self.points} points in the domain"
            return f"correct ({self.method}: {how})"
        if self.verdict == "undecided":
            return "undecided: " + (self.diagnosis or "no point of the domain could be evaluated")
        where = ", ".join(f"({m.row},{m.col})" for m in self.mismatches)
        return f"incorrect: entries {where} differ" + (
            f" — {self.diagnosis}" if self.diagnosis else ""
        )


def mismatches(expected: sp.Matrix, claim: sp.Matrix,
               bad: Mapping[int, tuple[float | None, float | None]]) -> tuple[Mismatch, ...]:
    """:class:`Mismatch` records (1-based row and column) for the differing entries."""
    cols = expected.cols
    return tuple(Mismatch(i // cols + 1, i % cols + 1, expected[i], claim[i], *bad[i])
                 for i in sorted(bad))


__all__ = [
    "KINK_DIAGNOSIS",
    "Check",
    "Evidence",
    "Method",
    "Mismatch",
    "Verdict",
    "mismatches",
]
