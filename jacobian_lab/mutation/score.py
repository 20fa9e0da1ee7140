"""Outcomes of mutation testing, their score, and the per-judgement time budget."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jacobian_lab.budget import deadline
from jacobian_lab.errors import (
    BudgetExceeded,
)
from jacobian_lab.mutation.operators import LEVELS, OPERATORS, Mutant, Status

# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    level: str
    target: str
    operator: str
    detail: str
    status: Status
    by: str  # what caught it, or why it is equivalent / missed
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "target": self.target, "operator": self.operator,
                "detail": self.detail, "status": self.status, "by": self.by,
                "seconds": round(self.seconds, 3)}


@dataclass
class Score:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: Status, level: str | None = None) -> int:
        return sum(o.status == status and (level is None or o.level == level)
                   for o in self.outcomes)

    def score(self, level: str | None = None) -> float:
        caught = self.count("caught", level)
        changed = caught + self.count("missed", level)
        return caught / changed if changed else 1.0

    @property
    def missed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "missed"]

    @property
    def perfect(self) -> bool:
        return not self.missed

    def table(self) -> list[tuple[str, str, int, int, int]]:
        """(level, operator, caught, equivalent, missed) rows."""
        c: Counter[tuple[str, str, str]] = Counter(
            (o.level, o.operator, o.status) for o in self.outcomes)
        rows = []
        seen = [op for op in dict.fromkeys(o.operator for o in self.outcomes)
                if op not in OPERATORS]
        for level in LEVELS:
            for op in (*OPERATORS, *seen):
                caught, eq, missed = (c[(level, op, s)] for s in ("caught", "equivalent",
                                                                  "missed"))
                if caught or eq or missed:
                    rows.append((level, op, caught, eq, missed))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score(),
            "caught": self.count("caught"),
            "equivalent": self.count("equivalent"),
            "missed": self.count("missed"),
            "levels": {lv: {"score": self.score(lv), "caught": self.count("caught", lv),
                            "equivalent": self.count("equivalent", lv),
                            "missed": self.count("missed", lv)}
                       for lv in LEVELS if any(o.level == lv for o in self.outcomes)},
            "seconds": round(self.seconds, 2),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


Progress = Callable[[Outcome], None]


item_budget: ContextVar[float] = ContextVar("mutation_item_budget", default=math.inf)
"""Seconds one judgement may take (:func:`run`'s ``budget``)."""


def timed(level: str, target: str, mu: Mutant, progress: Progress | None,
           judge: Callable[..., tuple[Status, str]], *args: Any) -> Outcome:
    """Run one judgement ``judge(*args)`` within the budget, time it, report it to
    ``progress``."""

    t0 = time.perf_counter()
    seconds = item_budget.get()
    try:
        with deadline(seconds):
            status, by = judge(*args)
    except BudgetExceeded:
        raise BudgetExceeded(seconds, f"judging the mutant {mu.operator} ({mu.detail}) of "
                             f"{target}", "give each mutant more time with --budget SECONDS"
                             ) from None
    o = Outcome(level, target, mu.operator, mu.detail, status, by, time.perf_counter() - t0)
    if progress:
        progress(o)
    return o
