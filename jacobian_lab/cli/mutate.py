"""``jlab mutate``: mutation testing of the checks — does every check fail on a wrong formula?"""

from __future__ import annotations

import argparse
import json
import math
import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from jacobian_lab import mutation


def cmd_mutate(args: argparse.Namespace) -> int:
    """Exit 0 when every value-changing mutant is caught, 1 when one is missed."""
    levels = args.level or list(mutation.LEVELS)
    budget = getattr(args, "budget", math.inf)  # seconds per mutant's judgement
    err = Console(stderr=True, highlight=False)
    live = sys.stderr.isatty() and not args.json

    if live:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                      TimeElapsedColumn(), console=err, transient=True) as bar:
            task = bar.add_task("mutating", total=None)

            def progress(o: mutation.Outcome) -> None:
                bar.update(task, description=f"{o.level}: {escape(o.target)} · {o.operator}")

            score = mutation.run(levels, args.names, progress, budget=budget)
    else:
        score = mutation.run(levels, args.names, budget=budget)

    if args.json:
        print(json.dumps(score.to_dict(), indent=2, ensure_ascii=False))
        return 0 if score.perfect else 1

    out = Console(highlight=False)
    table = Table(title="jlab mutate", title_justify="left")
    for col, just in (("level", "left"), ("operator", "left"), ("caught", "right"),
                      ("equivalent", "right"), ("missed", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for level, op, caught, eq, missed in score.table():
        table.add_row(level, escape(op), str(caught), str(eq),
                      f"[bold red]{missed}[/]" if missed else "0")
    out.print(table)
    shown = [o for o in score.outcomes
             if o.status == "missed" or (args.verbose and o.status == "equivalent")]
    for o in shown:
        mark = "[bold red]missed[/]" if o.status == "missed" else "[yellow]equivalent[/]"
        out.print(f"{mark} {escape(o.level)} {escape(o.target)} · {escape(o.operator)} "
                  f"({escape(o.detail)}): {escape(o.by)}", soft_wrap=True)
    caught, missed = score.count("caught"), score.count("missed")
    out.print(f"mutation score {caught}/{caught + missed} = {score.score():.1%} "
              f"({score.count('equivalent')} equivalent mutants recognised, "
              f"{score.seconds:.1f} s)")
    return 0 if score.perfect else 1
