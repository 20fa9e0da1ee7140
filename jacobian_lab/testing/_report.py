"""The outcome of a gradient check: :class:`Report` (what was checked, how well) and
:class:`GradientMismatch` (the failure, an :class:`AssertionError` whose message is the report).
"""

from __future__ import annotations

from dataclasses import dataclass, field

WORST_SHOWN = 5  # entries listed per failing argument


@dataclass(frozen=True)
class Entry:
    """One compared entry: where, the user's value, the finite-difference value, the error."""

    where: str  # "W[1, 2]", "direction 1", "J[0, 3]"
    yours: float
    expected: float
    rel_error: float
    ok: bool
    decisive: bool = True  # False: a direction through kinks, where the coordinates decide


@dataclass(frozen=True)
class Kink:
    """A kink met on a checked coordinate: the one-sided derivatives and how it was treated."""

    where: str
    left: float
    right: float
    yours: float
    treatment: str
    ok: bool


@dataclass
class ArgumentResult:
    """The comparison for one checked argument (or for the Jacobian as a whole)."""

    name: str
    shape: tuple[int, ...]
    checked: int = 0  # coordinates compared
    size: int = 0
    entries: list[Entry] = field(default_factory=list)
    kinks: list[Kink] = field(default_factory=list)
    diagnosis: list[str] = field(default_factory=list)
    problem: str = ""  # a failure that is not about values (shape, NaN)

    @property
    def failures(self) -> list[Entry]:
        return [e for e in self.entries if not e.ok]

    @property
    def ok(self) -> bool:
        return not self.problem and not self.failures and all(k.ok for k in self.kinks)


@dataclass
class Report:
    """What a check compared and how sensitive it was.

    ``sensitivity`` is the smallest relative error (of an entry, relative to the largest
    expected entry) that the check would have detected at any compared coordinate, given its
    tolerance and the finite-difference error bound at the points used.
    """

    kind: str  # "gradient", "jacobian", "vjp", "autograd.Function"
    arguments: list[ArgumentResult]
    directions: list[Entry] = field(default_factory=list)
    points: int = 1
    rtol: float = 0.0
    sensitivity: float = 0.0
    evaluated_in: str = "float64"
    kink_convention: str = "zero"
    seed: int | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(a.ok for a in self.arguments) and all(d.ok for d in self.directions)

    @property
    def worst_rel_error(self) -> float:
        errs = [e.rel_error for a in self.arguments for e in a.entries]
        errs += [d.rel_error for d in self.directions if d.decisive]
        return max(errs, default=0.0)

    @property
    def kinks(self) -> list[Kink]:
        return [k for a in self.arguments for k in a.kinks]

    def __str__(self) -> str:
        return format_report(self)


class GradientMismatch(AssertionError):
    """A gradient check failed; ``report`` holds the details and ``str()`` reads them out."""

    def __init__(self, message: str, report: Report | None = None) -> None:
        super().__init__(message)
        self.report = report


def _num(x: float) -> str:
    return f"{x:.8g}"


def _entry_line(e: Entry) -> str:
    return (f"    {e.where}: yours {_num(e.yours)}, expected {_num(e.expected)}, "
            f"relative error {e.rel_error:.2e}")


def format_report(r: Report) -> str:
    """The report as text: a header line, then one block per argument."""
    checked = sum(a.checked for a in r.arguments)
    head = "PASSED" if r.passed else "FAILED"
    if not checked:
        lines = [f"{r.kind}: FAILED before any comparison"]
        for a in r.arguments:
            lines.append(f"  {a.name}: {a.problem}")
            lines += [f"    diagnosis: {d}" for d in a.diagnosis]
        return "\n".join(lines)
    lines = [f"{r.kind} check {head}: {checked} coordinates and {len(r.directions)} random "
             f"directions at {r.points} point(s), evaluated in {r.evaluated_in}; rtol "
             f"{r.rtol:.0e}, worst relative error {r.worst_rel_error:.2e}, sensitivity "
             f"{r.sensitivity:.1e}" + (f", seed {r.seed}" if r.seed is not None else "")]
    for a in r.arguments:
        status = "ok" if a.ok else "WRONG"
        shape = "×".join(map(str, a.shape)) or "scalar"
        lines.append(f"  {a.name} ({shape}): {status}, {a.checked} of {a.size} entries compared")
        if a.problem:
            lines.append(f"    {a.problem}")
        bad = sorted(a.failures, key=lambda e: -e.rel_error)
        if bad:
            lines.append(f"    {len(bad)} wrong entries; the worst:")
            lines += [_entry_line(e) for e in bad[:WORST_SHOWN]]
        for d in a.diagnosis:
            lines.append(f"    diagnosis: {d}")
        wrong_kinks = [k for k in a.kinks if not k.ok]
        if a.kinks:
            lines.append(f"    kinks met: {len(a.kinks)} ({len(wrong_kinks)} wrong)")
            shown = wrong_kinks[:WORST_SHOWN] or a.kinks[:2]
            lines += [f"      {k.where}: one-sided {_num(k.left)} / {_num(k.right)}, yours "
                      f"{_num(k.yours)}: {k.treatment}" for k in shown]
    bad_dirs = [d for d in r.directions if not d.ok]
    skipped = [d for d in r.directions if not d.decisive]
    if skipped:
        lines.append(f"  {len(skipped)} random directions met kinks: not decisive there (the "
                     "coordinates decide)")
    if bad_dirs:
        lines.append("  random directions (⟨yours, v⟩ vs the central difference along v):")
        lines += [_entry_line(d) for d in bad_dirs]
    lines += [f"  note: {n}" for n in r.notes]
    if not r.passed and r.seed is not None:
        lines.append(f"  reproduce with seed={r.seed} (pytest: --jlab-gradcheck-seed={r.seed})")
    return "\n".join(lines)
