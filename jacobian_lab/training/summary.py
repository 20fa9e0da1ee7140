"""What a run achieved: :class:`TrainSummary` (what ``jlab train --json`` prints and
``summary.json`` holds), the statistics of its gradient checks, and :func:`finish`, which
writes the final files of a run directory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.training import plots, rundir
from jacobian_lab.training.batches import TrainData
from jacobian_lab.training.config import TrainConfig
from jacobian_lab.training.rundir import (
    BEST,
    CHECKPOINT,
    CONFIG,
    METRICS_CSV,
    METRICS_JSON,
    SUMMARY,
    WEIGHTS,
    json_safe,
)
from jacobian_lab.training.state import RunState, best_epoch

__all__ = ["TrainSummary", "check_stats", "confusion", "finish"]


@dataclass(eq=False)
class TrainSummary:
    """What a run achieved; :meth:`to_dict` is what ``jlab train --json`` prints.

    ``batch_size`` is the batch the run used (gd: every training sample, sgd: 1);
    ``best_epoch`` the first epoch of the highest test accuracy, whose weights are in
    ``best.npz`` beside the last ones (``weights.npz``) — ``"best.npz"`` is in ``files`` only
    when that file holds that epoch (a run directory from before best.npz existed has none).
    """

    config: TrainConfig
    run_dir: Path
    dataset: str
    epochs: int
    steps: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    checks: dict[str, Any]
    seconds: float
    train_seconds: float
    check_seconds: float
    samples_per_second: float
    confusion: list[list[int]]
    history: list[dict[str, Any]]
    check_records: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    batch_size: int | None = None  #: None: the configured one (``config.batch_size``)
    best_epoch: int | None = None
    best_test_accuracy: float = math.nan
    step: str = ""  #: what ran the batches: the fused step or the NumPy kernels, and why

    def to_dict(self) -> dict[str, Any]:
        batch = self.batch_size if self.batch_size is not None else self.config.batch_size
        d = {
            "run_dir": str(self.run_dir), "dataset": self.dataset,
            "layers": list(self.config.layers), "activation": self.config.activation,
            "loss_function": self.config.loss, "optimizer": self.config.optimizer,
            "lr": self.config.lr, "batch_size": batch,
            "dtype": self.config.dtype, "seed": self.config.seed,
            "epochs": self.epochs, "steps": self.steps,
            "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
            "test_loss": self.test_loss, "test_accuracy": self.test_accuracy,
            "best_epoch": self.best_epoch, "best_test_accuracy": self.best_test_accuracy,
            "step": self.step, "checks": self.checks, "check_budget": self.config.budget,
            "seconds": self.seconds,
            "train_seconds": self.train_seconds, "check_seconds": self.check_seconds,
            "samples_per_second": self.samples_per_second,
            "confusion_matrix": self.confusion, "files": self.files, "notes": self.notes,
        }
        return dict(json_safe(d))


def check_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and largest errors of gradient-check records: ``count`` checks ran, ``failed``
    of them failed, ``skipped`` did not finish within their budget (no verdict)."""
    ran = [r for r in records if not r.get("skipped")]

    def worst(key: str) -> float:
        vals = [r[key] for r in ran if r.get(key) is not None and not math.isnan(r[key])]
        return max(vals, default=math.nan)

    stats = {"count": len(ran), "failed": sum(1 for r in ran if not r["passed"]),
             "skipped": len(records) - len(ran),
             "max_fd_direction": worst("fd_direction"),
             "max_fd_coordinate": worst("fd_coordinate"),
             "max_closed_form": worst("closed_form"), "max_forward": worst("forward"),
             "kink_skips": sum(int(r.get("kink_skips", 0)) for r in ran)}
    finite = [v for k, v in stats.items() if k.startswith("max_") and not math.isnan(v)]
    stats["max_error"] = max(finite, default=math.nan)
    return stats


def confusion(labels: NDArray[np.integer], preds: NDArray[np.integer],
              k: int) -> list[list[int]]:
    """The ``k × k`` confusion matrix: rows are true classes, columns predictions."""
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm.tolist()


def finish(config: TrainConfig, state: RunState, data: TrainData, run_dir: Path,
           preds: NDArray[np.intp], draw: bool, step: str = "") -> TrainSummary:
    """Write the final checkpoint, metrics, weights, plots and ``summary.json``."""
    last = state.history[-1] if state.history else {}
    test_loss, test_acc = last.get("test_loss", math.nan), last.get("test_accuracy", math.nan)
    rundir.save_checkpoint(run_dir, state)
    rundir.write_metrics(run_dir, state, "done")
    rundir.write_bytes(run_dir / WEIGHTS, rundir.npz_bytes(state.net.arrays()))
    files, notes = (plots.write_plots(run_dir, state.history, state.net.weights[0]) if draw
                    else ([], []))
    best = best_epoch(state.history)
    if best is not None and rundir.best_saved(run_dir) == best["epoch"]:
        files.append(BEST)
    summary = TrainSummary(
        config=config, run_dir=run_dir, dataset=data.source, epochs=state.epoch,
        steps=state.step, train_loss=last.get("train_loss", math.nan),
        train_accuracy=last.get("train_accuracy", math.nan), test_loss=test_loss,
        test_accuracy=test_acc, checks=check_stats(state.checks), seconds=state.seconds,
        train_seconds=state.train_seconds, check_seconds=state.check_seconds,
        samples_per_second=state.samples / state.train_seconds if state.train_seconds else 0.0,
        confusion=confusion(data.labels_test, preds, config.layers[-1]),
        history=state.history, check_records=state.checks,
        files=sorted([CONFIG, CHECKPOINT, WEIGHTS, METRICS_JSON, METRICS_CSV, SUMMARY, *files]),
        notes=notes, batch_size=config.batch_for(data.n_train),
        best_epoch=None if best is None else best["epoch"],
        best_test_accuracy=math.nan if best is None else best["test_accuracy"], step=step)
    rundir.write_json(run_dir / SUMMARY, summary.to_dict())
    return summary
