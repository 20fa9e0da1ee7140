"""Progress while a run trains: live rich bars on a terminal, one plain line per epoch in a
log, warnings on the console; nothing when disabled.
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from jacobian_lab.training.config import TrainConfig

__all__ = ["Display", "check_text", "max_error"]


class Display:
    """Progress on ``console``: live rich bars (epochs, steps) on a terminal; one plain line
    per epoch otherwise (logs, CI), at most about LINES of them; nothing when disabled."""

    INTERVAL = 0.1  # seconds between refreshes of the step bar
    LINES = 25

    def __init__(self, console: Console | None, enabled: bool, config: TrainConfig,
                 steps_per_epoch: int) -> None:
        self.enabled = enabled
        self.unit = "iteration" if config.optimizer == "gd" else "epoch"
        self.total = config.epochs
        self.last = 0.0
        self.progress: Any = None
        self.steps: Any = None
        if not enabled:
            return
        self.console = console or Console(stderr=True, highlight=False)
        if not self.console.is_terminal:
            return
        self.progress = Progress(
            TextColumn("{task.description:>9}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"), console=self.console)
        self.epochs = self.progress.add_task(self.unit, total=config.epochs, info="")
        if config.optimizer != "gd":
            self.steps = self.progress.add_task("step", total=steps_per_epoch, info="")

    def __enter__(self) -> Display:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def start(self, done_epochs: int) -> None:
        if self.progress is not None:
            self.progress.update(self.epochs, completed=done_epochs)

    def due(self, force: bool = False) -> bool:
        """Whether the step bar should be refreshed now (at most every INTERVAL seconds)."""
        if self.steps is None:
            return False
        now = time.perf_counter()
        if force or now - self.last >= self.INTERVAL:
            self.last = now
            return True
        return False

    def step(self, done: int, info: str) -> None:
        self.progress.update(self.steps, completed=done, info=info)

    def epoch(self, done_epochs: int, info: str) -> None:
        if self.progress is not None:
            self.progress.update(self.epochs, completed=done_epochs, info=info)
        elif self.enabled:
            every = max(1, self.total // self.LINES)
            if done_epochs % every == 0 or done_epochs in (1, self.total):
                width = len(str(self.total))
                self.console.print(f"{self.unit} {done_epochs:>{width}}/{self.total}  "
                                   f"{escape(info)}", soft_wrap=True)

    def note(self, message: str) -> None:
        """One plain line of information (dim on a terminal)."""
        if self.enabled:
            self.console.print(f"[dim]{escape(message)}[/]")

    def warn(self, message: str) -> None:
        if self.enabled:
            self.console.print(f"[yellow]warning:[/] {escape(message)}")


def check_text(err: float | None, passed: bool) -> str:
    if err is None or math.isnan(err):
        return ""
    return f"check {err:.1e} {'✓' if passed else '✗'}"



def max_error(record: dict[str, Any] | None) -> float | None:
    if record is None:
        return None
    vals = [record[k] for k in ("fd_direction", "fd_coordinate", "closed_form", "forward")
            if record.get(k) is not None and not math.isnan(record[k])]
    return max(vals, default=None)

