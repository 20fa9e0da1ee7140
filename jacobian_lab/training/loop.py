"""The training loop: epochs of batches, the gradient checks between them, divergence, the
best epoch, checkpoints.

:func:`run` trains a prepared run (a fresh one from :func:`~.trainer.train` or a resumed one
from :func:`~.trainer.resume`) to ``config.epochs`` and returns its
:class:`~.summary.TrainSummary`. The hot loop itself is :func:`~.batches.train_epoch`; a
:class:`Loop` keeps the books around it, one named step each: watch the loss, check the
gradients (each check bounded by ``config.budget`` seconds through
:func:`jacobian_lab.budget.deadline`), show progress, record the epoch, keep the best weights,
save a checkpoint.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.budget import deadline
from jacobian_lab.errors import BudgetExceeded, FileError, JlabError, TrainingError
from jacobian_lab.training import rundir
from jacobian_lab.training.batches import Buffers, TrainData, evaluate, train_epoch
from jacobian_lab.training.checks import (
    GradientCheck,
    GradientCheckError,
    Tolerances,
    check_gradients,
)
from jacobian_lab.training.config import TrainConfig
from jacobian_lab.training.display import Display, check_text, max_error
from jacobian_lab.training.fused import FusedEpoch, fused_for, supported
from jacobian_lab.training.state import RunState, best_epoch
from jacobian_lab.training.summary import TrainSummary, check_stats, finish

__all__ = ["CHECK_SAMPLES", "DivergenceError", "Loop", "run"]

Array = NDArray[Any]

#: Divergence: the loss (smoothed over steps) above this multiple of the first step's loss.
DIVERGENCE_FACTOR = 10.0
EMA_DECAY = 0.9
LOSS_FLOOR = 0.1  # a first loss near 0 must not make every later loss look like a blow-up
CHECK_SAMPLES = 64  # columns of the batch a gradient check uses (its cost is linear in them)


class DivergenceError(TrainingError):
    """The loss became NaN/Inf or blew up; the last good checkpoint is kept."""


class _Diverged(Exception):
    def __init__(self, step: int, reason: str) -> None:
        super().__init__(reason)
        self.step, self.reason = step, reason


@dataclass(eq=False)
class _Epoch:
    """The clock and counters of the epoch in progress."""

    index: int  # 0-based
    start: float
    checks_before: int
    check_time: float = 0.0
    seen: int = 0


@dataclass(eq=False)
class Loop:
    """One run in progress: its settings, state, data, directory and display."""

    config: TrainConfig
    state: RunState
    data: TrainData
    run_dir: Path
    display: Display
    buffers: dict[int, Buffers] = field(default_factory=dict)
    warned: bool = False  # a failed check was shown (later ones are counted)
    warned_skip: bool = False  # a check over its budget was shown (later ones are counted)
    #: A new best epoch's weights and record, not yet saved (saved with the next checkpoint).
    best: tuple[dict[str, Array], dict[str, Any]] | None = None
    batch: int = field(init=False)
    steps_per_epoch: int = field(init=False)
    #: The generated fused step, when it covers the run and agrees with the kernels.
    fused: FusedEpoch | None = field(init=False, default=None)
    #: What ran the batches, in words for the summary ("step").
    step_used: str = field(init=False, default="the NumPy kernels")

    def __post_init__(self) -> None:
        self.batch = self.config.batch_for(self.data.n_train)
        self.steps_per_epoch = -(-self.data.n_train // self.batch)

    def use_fused(self) -> None:
        """Take the fused step when it covers the run (minibatch or sgd, ReLU +
        cross-entropy, the generated kernels) and agrees with them; say in one line why not
        when it covers the run but cannot be used (no Numba, a disagreement)."""
        if self.config.optimizer == "gd":
            self.step_used = "the NumPy kernels (the fused step runs minibatches, not gd)"
            return
        uncovered = supported(self.state.net)
        if uncovered is not None:
            self.step_used = f"the NumPy kernels ({uncovered})"
            return
        self.fused, reason = fused_for(self.state.net)
        if self.fused is None and reason is not None:
            self.display.note(f"training on the NumPy kernels: {reason}")
            self.step_used = f"the NumPy kernels ({reason})"
        elif self.fused is not None:
            self.step_used = ("the generated fused step (Numba), verified against the NumPy "
                              "kernels")

    def _wants(self, b: int) -> bool:
        """Whether batch ``b`` of this epoch is checked (it then goes through the kernels)."""
        every = self.config.check_every
        return bool(every) and (self.state.step + b) % every == 0

    # ----------------------------------------------------------------------- gradient checks

    def check(self, X: Array, Y: Array, rng: np.random.Generator, *, step: int, epoch: int,
              final: bool = False, max_samples: int = CHECK_SAMPLES) -> float:
        """Check the gradients on the batch ``X, Y`` within ``config.budget`` seconds and
        record the outcome (a check past its budget is recorded as skipped); return the
        seconds it took."""
        tol = Tolerances(self.config.tol_fd, self.config.tol_closed_form)
        # Floating-point trouble inside a check is reported (the loop itself ignores it).
        fp = contextlib.nullcontext() if final else np.errstate(over="warn", invalid="warn",
                                                                divide="warn")
        t = time.perf_counter()
        try:  # the budget's alarm must not land in errstate's exit: the budget goes inside
            with fp, deadline(self.config.budget):
                result = check_gradients(self.state.net, X, Y, rng, step=step, tolerances=tol,
                                         max_samples=max_samples)
        except BudgetExceeded:
            self._record_skip(step, epoch, final)
        else:
            self._record_check(result, epoch, final)
        return time.perf_counter() - t

    def final_check(self) -> None:
        """The end-of-run check. It draws from its own generator, so that a run stopped and
        resumed checks the same directions as one that went straight through."""
        state, data = self.state, self.data
        m = min(data.n_train, CHECK_SAMPLES)
        rng = np.random.default_rng([self.config.seed, 2, state.step])
        state.check_seconds += self.check(data.x_train[:m].T, data.y_train[:m].T, rng,
                                          step=state.step, epoch=state.epoch, final=True,
                                          max_samples=256)

    def _record_check(self, result: GradientCheck, epoch: int, final: bool) -> None:
        self.state.checks.append({**result.to_dict(), "epoch": epoch, "final": final})
        if result.passed:
            return
        where = f"gradient check after {result.step} steps failed: {result.failures[0]}"
        more = len(result.failures) - 1
        where += f" (and {more} more)" if more else ""
        if self.config.strict:
            rundir.write_metrics(self.run_dir, self.state, "check failed", where)
            raise GradientCheckError(f"{where}; the last good checkpoint is "
                                     f"{self.run_dir / rundir.CHECKPOINT} (epoch "
                                     f"{rundir.saved_epoch(self.run_dir)})")
        if not self.warned:
            self.display.warn(where + " (later failures are counted in the summary)")
            self.warned = True

    def _record_skip(self, step: int, epoch: int, final: bool) -> None:
        budget = self.config.budget
        self.state.checks.append({"step": step, "epoch": epoch, "final": final,
                                  "skipped": "budget", "budget": budget, "passed": None})
        at = f"at the end of epoch {epoch}" if final else f"at epoch {epoch + 1}"
        line = f"gradient check {at} skipped: over its {budget:g} s budget"
        if self.config.strict:
            rundir.write_metrics(self.run_dir, self.state, "check failed", line)
            raise GradientCheckError(f"{line}; --strict needs every check to finish: raise "
                                     f"--budget; the last good checkpoint is "
                                     f"{self.run_dir / rundir.CHECKPOINT} (epoch "
                                     f"{rundir.saved_epoch(self.run_dir)})")
        if not self.warned_skip:
            self.display.warn(line)
            self.warned_skip = True

    # ----------------------------------------------------------------------- one epoch

    def epoch(self, index: int) -> tuple[NDArray[np.intp], str]:
        """Train epoch ``index`` (0-based), evaluate, record it; return the test predictions
        and the epoch's line for the display."""
        state, data, net = self.state, self.data, self.state.net
        clock = _Epoch(index, time.perf_counter(), len(state.checks))
        order = state.rng.permutation(data.n_train) if self.config.optimizer != "gd" else None
        try:
            loss_sum, correct = train_epoch(net, data, order, self.batch, self.config.lr,
                                            hook=partial(self._on_batch, clock),
                                            buffers=self.buffers, fused=self.fused,
                                            wants=self._wants)
        except _Diverged as d:
            raise self._diverge(index, d.step, d.reason) from None
        if self.fused is not None and self.fused.broken is not None:
            self.display.warn(f"{self.fused.broken}; training goes on with the NumPy kernels")
            self.step_used = (f"the fused step until epoch {index + 1}, then the NumPy kernels "
                              f"({self.fused.broken})")
            self.fused = None
        state.step += self.steps_per_epoch
        train_time = time.perf_counter() - clock.start - clock.check_time
        if not net.is_finite():
            raise self._diverge(index, state.step, "the weights are no longer finite")
        test_loss, test_acc, preds = evaluate(net, data.x_test, data.y_test, data.labels_test)
        if not math.isfinite(test_loss):
            raise self._diverge(index, state.step, f"the test loss is {test_loss}")
        line = self._record_epoch(clock, loss_sum, correct, test_loss, test_acc, train_time)
        self._keep_if_best()
        return preds, line

    def _on_batch(self, clock: _Epoch, b: int, loss: float, X: Array | None,
                  Y: Array | None) -> None:
        """The step hook: after the forward pass of batch ``b``, before its update (``X``,
        ``Y``: None for a batch of the fused step, which is never a checked one)."""
        step = self.state.step + b  # updates so far: the check's "after N steps"
        clock.seen += min(self.batch, self.data.n_train - b * self.batch)
        self._watch_loss(step, loss)
        if X is not None and Y is not None and self._wants(b):
            clock.check_time += self.check(X, Y, self.state.check_rng, step=step,
                                           epoch=clock.index)
        if self.display.due(force=b + 1 == self.steps_per_epoch):
            self._show_step(clock, b, loss)

    def _watch_loss(self, step: int, loss: float) -> None:
        """Stop (``_Diverged``) on a NaN/Inf loss or one far above the first step's."""
        state = self.state
        if not math.isfinite(loss):
            raise _Diverged(step + 1, f"the loss is {loss}")
        if state.first_loss is None:
            state.first_loss = loss
        ema = loss if state.loss_ema is None else (
            EMA_DECAY * state.loss_ema + (1 - EMA_DECAY) * loss)
        state.loss_ema = ema
        if ema > DIVERGENCE_FACTOR * max(state.first_loss, LOSS_FLOOR):
            raise _Diverged(step + 1, f"the loss (averaged over recent steps) {ema:.4g} is "
                                      f"more than {DIVERGENCE_FACTOR:g}× the first step's "
                                      f"{state.first_loss:.4g}")

    def _show_step(self, clock: _Epoch, b: int, loss: float) -> None:
        checks = self.state.checks
        last = checks[-1] if len(checks) > clock.checks_before else None
        elapsed = time.perf_counter() - clock.start - clock.check_time
        shown = check_text(max_error(last), bool(last["passed"])) if last else ""
        self.display.step(b + 1, f"loss {loss:.4f}  " + (shown + "  " if shown else "")
                          + f"{clock.seen / max(elapsed, 1e-9):,.0f} samples/s")

    def _record_epoch(self, clock: _Epoch, loss_sum: float, correct: int, test_loss: float,
                      test_acc: float, train_time: float) -> str:
        state, n = self.state, self.data.n_train
        state.epoch = clock.index + 1
        state.samples += n
        state.train_seconds += train_time
        state.check_seconds += clock.check_time
        checks = check_stats(state.checks[clock.checks_before:])
        state.history.append({
            "epoch": clock.index + 1, "step": state.step, "train_loss": loss_sum / n,
            "train_accuracy": correct / n, "test_loss": test_loss,
            "test_accuracy": test_acc, "seconds": time.perf_counter() - clock.start,
            "samples_per_second": n / max(train_time, 1e-9),
            "check_fd_direction": checks["max_fd_direction"],
            "check_fd_coordinate": checks["max_fd_coordinate"],
            "check_closed_form": checks["max_closed_form"],
            "checks_failed": checks["failed"], "checks_skipped": checks["skipped"],
        })
        checked = (f"  check {checks['max_error']:.1e} {'✗' if checks['failed'] else '✓'}"
                   if checks["count"] else "")
        return (f"loss {loss_sum / n:.4f}  accuracy {correct / n:.4f}  test {test_acc:.4f}"
                f"{checked}  {n / max(train_time, 1e-9):,.0f} samples/s")

    def _keep_if_best(self) -> None:
        """Keep a copy of the weights when this epoch has the highest test accuracy so far
        (the first such epoch on a tie); :meth:`save_if_due` writes it as ``best.npz`` with
        the checkpoint whose history names it, so the two files agree (and gd, whose epochs
        are single steps, is not slowed by a write per improvement)."""
        best = best_epoch(self.state.history)
        if best is not None and best["epoch"] == self.state.epoch:
            self.best = ({k: v.copy() for k, v in self.state.net.arrays().items()}, best)

    def save_if_due(self, t0: float) -> float:
        """Checkpoint every ``checkpoint_interval`` epochs and after the last; the state's
        wall-clock seconds are brought up to date first. Returns the new ``t0``."""
        config, state = self.config, self.state
        if state.epoch % config.checkpoint_interval and state.epoch != config.epochs:
            return t0
        now = time.perf_counter()
        state.seconds += now - t0
        if self.best is not None:
            rundir.save_best(self.run_dir, *self.best)
            self.best = None
        rundir.save_checkpoint(self.run_dir, state)
        rundir.write_metrics(self.run_dir, state, "running")
        return now

    def _diverge(self, epoch: int, step: int, reason: str) -> DivergenceError:
        msg = (f"training diverged in epoch {epoch + 1} at step {step}: {reason} (--lr "
               f"{self.config.lr}); the last good checkpoint is "
               f"{self.run_dir / rundir.CHECKPOINT} (epoch {rundir.saved_epoch(self.run_dir)}); "
               "try a smaller --lr")
        rundir.write_metrics(self.run_dir, self.state, "diverged", msg)
        return DivergenceError(msg)


def run(config: TrainConfig, state: RunState, data: TrainData, run_dir: Path,
        console: Any, progress: bool, plots: bool) -> TrainSummary:
    """Train to ``config.epochs`` and finish the run directory; a file that cannot be written
    mid-run (a full disk) leaves metrics.json saying so, where it can still be written,
    instead of "running"."""
    try:
        return _run(config, state, data, run_dir, console, progress, plots)
    except FileError as e:
        with contextlib.suppress(JlabError, OSError):
            rundir.write_metrics(run_dir, state, "failed", str(e))
        raise


def _run(config: TrainConfig, state: RunState, data: TrainData, run_dir: Path,
         console: Any, progress: bool, plots: bool) -> TrainSummary:
    t0 = time.perf_counter()
    batch = config.batch_for(data.n_train)
    loop = Loop(config, state, data, run_dir,
                Display(console, progress, config, -(-data.n_train // batch)))
    loop.use_fused()
    preds: NDArray[np.intp] | None = None
    with loop.display, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # Overflow is expected when a run diverges: NaN/Inf are detected explicitly.
        loop.display.start(state.epoch)
        for index in range(state.epoch, config.epochs):
            preds, line = loop.epoch(index)
            t0 = loop.save_if_due(t0)
            loop.display.epoch(state.epoch, line)
        if config.check_every:
            loop.final_check()
    if preds is None:  # nothing left to train (resumed a finished run)
        _, _, preds = evaluate(state.net, data.x_test, data.y_test, data.labels_test)
    state.seconds += time.perf_counter() - t0
    step = loop.step_used
    if loop.fused is not None and loop.fused.compared:
        step += (f"; {loop.fused.compared} checked batches compared with them, largest "
                 f"difference {loop.fused.worst:.1e}")
    return finish(config, state, data, run_dir, preds, plots, step)
