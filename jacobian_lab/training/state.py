"""What a run has done so far: :class:`RunState` — the network, the NumPy generators, epoch,
step, history, gradient-check records, timings — and its JSON form inside a checkpoint, every
field checked against a schema when it is read back.

The best epoch is not a separate field: it is the first epoch of the highest test accuracy
in ``history`` (:func:`best_epoch`), so a resumed run keeps tracking it from its history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jacobian_lab.errors import TrainingError
from jacobian_lab.training import model
from jacobian_lab.training.config import is_int, json_kind

__all__ = ["STATE_VERSION", "RunState", "best_epoch"]

STATE_VERSION = 1


@dataclass(eq=False)
class RunState:
    """Everything a run has done so far; :meth:`to_json` is the ``state`` of a checkpoint,
    and with the weights it resumes the run bit-for-bit."""

    net: model.Network
    rng: np.random.Generator
    check_rng: np.random.Generator
    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    first_loss: float | None = None
    loss_ema: float | None = None
    seconds: float = 0.0
    train_seconds: float = 0.0
    check_seconds: float = 0.0
    samples: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({
            "version": STATE_VERSION, "epoch": self.epoch, "step": self.step,
            "rng": self.rng.bit_generator.state, "check_rng": self.check_rng.bit_generator.state,
            "history": self.history, "checks": self.checks, "first_loss": self.first_loss,
            "loss_ema": self.loss_ema, "seconds": self.seconds,
            "train_seconds": self.train_seconds, "check_seconds": self.check_seconds,
            "samples": self.samples, "data": self.data,
        }, allow_nan=True)

    @classmethod
    def from_json(cls, text: str, net: model.Network, path: Path) -> RunState:
        """The state saved in a checkpoint, every field checked against :data:`_STATE_SCHEMA`
        before any work: a bad one is a :class:`TrainingError` naming the field."""
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise TrainingError(f"{path}: damaged checkpoint state (not JSON: {e}); restore "
                                "the file or start a new run") from None
        if not isinstance(d, dict):
            raise TrainingError(f"{path}: damaged checkpoint state (expected a JSON object, "
                                f"found {json_kind(d)}); restore the file or start a new run")
        if d.get("version") != STATE_VERSION:
            raise TrainingError(f"{path}: checkpoint format {d.get('version')!r} is not "
                                f"{STATE_VERSION}")
        for name, (check, kind) in _STATE_SCHEMA.items():
            if name not in d:
                raise TrainingError(f"{path}: damaged checkpoint state (no `{name}`)")
            if not check(d[name]):
                raise TrainingError(f"{path}: damaged checkpoint state: `{name}` must be "
                                    f"{kind}, got {d[name]!r:.60}; restore the file or start "
                                    "a new run")
        rng, check_rng = np.random.default_rng(), np.random.default_rng()
        for name, generator in (("rng", rng), ("check_rng", check_rng)):
            try:
                generator.bit_generator.state = d[name]
            except (KeyError, TypeError, ValueError, OverflowError) as e:
                raise TrainingError(f"{path}: damaged checkpoint state: `{name}` is not a "
                                    f"generator state ({e})") from None
        return cls(net, rng, check_rng, d["epoch"], d["step"], d["history"], d["checks"],
                   d["first_loss"], d["loss_ema"], float(d["seconds"]),
                   float(d["train_seconds"]), float(d["check_seconds"]), d["samples"],
                   d["data"])


def _count(v: Any) -> bool:
    return is_int(v) and v >= 0


def _seconds(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            and v >= 0)


def _loss_or_none(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)
                         and math.isfinite(v))


def _records(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(r, dict) for r in v)


#: The checkpoint's ``state`` fields: (check, what it must be).
_STATE_SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epoch": (_count, "a whole number >= 0"), "step": (_count, "a whole number >= 0"),
    "samples": (_count, "a whole number >= 0"),
    "rng": (lambda v: isinstance(v, dict), "a generator state (an object)"),
    "check_rng": (lambda v: isinstance(v, dict), "a generator state (an object)"),
    "history": (_records, "a list of objects (one per epoch)"),
    "checks": (_records, "a list of objects (one per gradient check)"),
    "first_loss": (_loss_or_none, "a finite number or null"),
    "loss_ema": (_loss_or_none, "a finite number or null"),
    "seconds": (_seconds, "a number of seconds >= 0"),
    "train_seconds": (_seconds, "a number of seconds >= 0"),
    "check_seconds": (_seconds, "a number of seconds >= 0"),
    "data": (lambda v: isinstance(v, dict), "an object describing the data"),
}



def best_epoch(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The record of the first epoch with the highest test accuracy (None before any)."""
    best: dict[str, Any] | None = None
    for row in history:
        acc = row.get("test_accuracy")
        if isinstance(acc, (int, float)) and math.isfinite(acc) and (
                best is None or acc > best["test_accuracy"]):
            best = row
    return best
