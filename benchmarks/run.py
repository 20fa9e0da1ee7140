"""The benchmark harness behind ``make bench``: every candidate against a reference, same run.

Each ``benchmarks/bench_*.py`` module defines ``run(bench)`` and calls
``bench.compare(name, candidate, reference, repeat=..., goal=...)`` once per benchmark. The
two functions are timed interleaved — candidate and reference alternate, in alternating
order, after one warm-up call each — with ``time.perf_counter``; a sample times ``number``
calls (chosen so a sample lasts at least ``MIN_SAMPLE`` seconds). The ratio is the median of
the per-round ratios candidate / reference — each round's two samples are taken back to back,
so a load spike from another process slows both — and below 1 the candidate is faster. The
table also shows each side's median time per call.

    python benchmarks/run.py                  # everything, table + benchmarks/results.json
    python benchmarks/run.py --only float32   # benchmarks (or modules) whose name matches
    python benchmarks/run.py --strict         # exit 1 if a ratio misses its goal
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
MIN_SAMPLE = 0.01  # seconds per timed sample


@dataclass(frozen=True)
class Result:
    name: str
    candidate_ms: float  # median milliseconds per call
    reference_ms: float
    ratio: float
    goal: float
    repeat: int
    number: int
    limit_ms: float | None = None  # an absolute goal on the candidate's median, if any

    @property
    def ok(self) -> bool:
        within = self.limit_ms is None or self.candidate_ms <= self.limit_ms
        return self.ratio <= self.goal and within

    @property
    def goal_text(self) -> str:
        if self.limit_ms is not None:
            return f"≤ {self.limit_ms / 1e3:g} s"
        return f"≤ {self.goal:.2f}"


def _sample(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


class Bench:
    """Collects the results of ``compare`` calls; ``only`` filters them by substring."""

    def __init__(self, only: str | None = None, repeat: int | None = None,
                 console: Console | None = None) -> None:
        self.only = only
        self.repeat = repeat
        self.module = ""
        self.results: list[Result] = []
        self.console = console or Console(highlight=False)

    def compare(self, name: str, candidate: Callable[[], object],
                reference: Callable[[], object], repeat: int = 21,
                goal: float = 1.05, limit: float | None = None) -> Result | None:
        """Time ``candidate`` against ``reference`` (zero-argument callables); ``limit``: an
        absolute goal in seconds for the candidate's median (the ratio is then shown only)."""
        if self.only and self.only not in name and self.only not in self.module:
            return None
        repeat = self.repeat or repeat
        # the warm-up calls (first-touch allocations, lazy imports) also size the samples
        once = min(_sample(candidate, 1), _sample(reference, 1))
        number = max(1, int(MIN_SAMPLE / max(once, 1e-9)))
        cand: list[float] = []
        ref: list[float] = []
        enabled = gc.isenabled()
        gc.disable()
        try:
            for i in range(repeat):
                pair = [(candidate, cand), (reference, ref)]
                for fn, into in pair if i % 2 == 0 else pair[::-1]:
                    into.append(_sample(fn, number))
        finally:
            if enabled:
                gc.enable()
        c, r = statistics.median(cand), statistics.median(ref)
        ratio = statistics.median(x / y for x, y in zip(cand, ref, strict=True))
        result = Result(name, c * 1e3, r * 1e3, ratio, math.inf if limit else goal, repeat,
                        number, None if limit is None else limit * 1e3)
        self.results.append(result)
        mark = "[green]ok[/]" if result.ok else "[red]over goal[/]"
        self.console.print(f"  {escape(name):<48} {result.ratio:6.3f}  {mark}")
        return result


def discover(directory: Path = HERE) -> list[Path]:
    return sorted(directory.glob("bench_*.py"))


def _load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"benchmarks.{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(results: Sequence[Result]) -> Table:
    t = Table(title="candidate vs reference (median ms per call; ratio: median of the "
                    "per-round candidate / reference)")
    for col, justify in (("benchmark", "left"), ("candidate ms", "right"),
                         ("reference ms", "right"), ("ratio", "right"), ("goal", "right")):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in results:
        style = "green" if r.ok else "bold red"
        t.add_row(escape(r.name), f"{r.candidate_ms:.3f}", f"{r.reference_ms:.3f}",
                  f"[{style}]{r.ratio:.3f}[/]", r.goal_text)
    return t


def save(results: Sequence[Result], path: Path = RESULTS) -> None:
    """Write (or update by name, after an ``--only`` run) the JSON results."""
    old: dict[str, dict] = {}
    if path.exists():
        try:
            old = {r["name"]: r for r in json.loads(path.read_text())["results"]}
        except (ValueError, KeyError, TypeError):
            old = {}
    for r in results:
        row = {**asdict(r), "ok": r.ok}
        row["goal"] = r.goal if math.isfinite(r.goal) else None  # JSON has no infinity
        old[r.name] = row
    import numpy as np

    doc = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "results": list(old.values()),
    }
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="SUBSTRING",
                        help="run only benchmarks whose name (or module) contains it")
    parser.add_argument("--repeat", type=int, help="samples per side (default: per benchmark)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON results file")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    bench = Bench(args.only, args.repeat, console)
    sys.path.insert(0, str(HERE.parent))
    for path in discover():
        bench.module = path.stem
        console.print(f"[bold]{path.name}[/]")
        _load(path).run(bench)  # type: ignore[attr-defined]
    if not bench.results:
        console.print(f"no benchmark matches {args.only!r}")
        return 1
    console.print(table(bench.results))
    save(bench.results, args.output)
    missed = [r.name for r in bench.results if not r.ok]
    console.print(f"{len(bench.results) - len(missed)}/{len(bench.results)} within goal; "
                  f"results in {args.output}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
