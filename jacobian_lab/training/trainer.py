"""Start a run or continue one: :func:`train` and :func:`resume`, both returning a
:class:`~jacobian_lab.training.summary.TrainSummary`.

The trainer lives in rooms, each importing only the ones above it:

* :mod:`.config` — :class:`TrainConfig`, every setting and its validation;
* :mod:`.batches` — the run's arrays (:func:`prepare_data`), :func:`train_epoch`, :func:`evaluate`;
* :mod:`.state` — what a run has done (:class:`~.state.RunState`), as saved in a checkpoint;
* :mod:`.rundir` — the run directory: atomic files, checkpoints, ``best.npz``, the lock;
* :mod:`.summary` — :class:`TrainSummary` and the final files;
* :mod:`.display` — progress bars and lines;
* :mod:`.loop` — epochs, gradient checks within their budget, divergence, the best epoch;
* this module — a new run directory or a resumed one, handed to :func:`.loop.run`.

>>> import tempfile
>>> from jacobian_lab.training.trainer import TrainConfig, train
>>> cfg = TrainConfig(epochs=1, limit=500, check_every=0)
>>> summary = train(cfg, run_dir=tempfile.mkdtemp(), progress=False)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jacobian_lab.errors import FileError, TrainingError
from jacobian_lab.files import RunDirLock
from jacobian_lab.training import model, rundir
from jacobian_lab.training.batches import TrainData, evaluate, prepare_data, train_epoch
from jacobian_lab.training.config import DTYPES, OPTIMIZERS, TrainConfig
from jacobian_lab.training.data import load_dataset
from jacobian_lab.training.dataset import Dataset
from jacobian_lab.training.loop import DivergenceError, run
from jacobian_lab.training.rundir import (
    BEST,
    CHECKPOINT,
    CONFIG,
    CSV_FIELDS,
    METRICS_CSV,
    METRICS_JSON,
    SUMMARY,
    WEIGHTS,
)
from jacobian_lab.training.state import RunState
from jacobian_lab.training.summary import TrainSummary

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "BEST", "CHECKPOINT", "CONFIG", "CSV_FIELDS", "DTYPES", "METRICS_CSV", "METRICS_JSON",
    "OPTIMIZERS", "SUMMARY", "WEIGHTS", "DivergenceError", "TrainConfig", "TrainData",
    "TrainSummary", "evaluate", "prepare_data", "resume", "train", "train_epoch",
]

#: Settings that may change when a run is resumed (the others must equal the saved ones).
RESUMABLE_CHANGES = ("strict", "check_every", "budget")


def train(config: TrainConfig, *, run_dir: str | os.PathLike[str] | None = None,
          dataset: Dataset | None = None, console: Console | None = None,
          progress: bool = True, plots: bool = True) -> TrainSummary:
    """Train a fresh network as ``config`` says; files go to ``run_dir`` (default
    ``runs/<timestamp>``). ``dataset`` replaces ``load_dataset(config.data)``.

    Raises :class:`DivergenceError` when the loss diverges and
    :class:`~jacobian_lab.training.checks.GradientCheckError` when a check fails (or cannot
    finish within ``config.budget``) under ``strict``; both keep the last good checkpoint.
    """
    data = prepare_data(dataset if dataset is not None else _load(config.data), config)
    path, lock, created = rundir.new_run_dir(run_dir)  # held until the run ends, however
    try:
        try:
            rng = np.random.default_rng(config.seed)
            net = model.init_network(config.layers, activation=config.activation,
                                     loss=config.loss, init=config.init, rng=rng,
                                     dtype=np.dtype(config.dtype))
            state = RunState(net, rng, np.random.default_rng([config.seed, 1]),
                             data=data.fingerprint())
            rundir.write_json(path / CONFIG, config.to_dict())
            rundir.save_checkpoint(path, state)  # epoch 0: a good checkpoint from the start
        except BaseException:
            rundir.remove_new_dirs(path, created)  # nothing is left of a run never started
            raise
        return run(config, state, data, path, console, progress, plots)
    finally:
        lock.release()


def resume(run_dir: str | os.PathLike[str], *, epochs: int | None = None,
           overrides: Mapping[str, Any] | None = None, dataset: Dataset | None = None,
           console: Console | None = None, progress: bool = True,
           plots: bool = True) -> TrainSummary:
    """Continue the run in ``run_dir`` from its checkpoint, as if it had not stopped.

    ``epochs`` is the new total (default: the saved one). ``overrides`` are settings given
    again on the command line: ``strict``, ``check_every`` and ``budget`` may change, any
    other must equal the saved value.
    """
    if not str(run_dir).strip():
        raise TrainingError("--resume needs a run directory, got an empty string")
    path = Path(run_dir).expanduser()
    if not path.is_dir() or not (path / CONFIG).is_file():
        what = "no such directory" if not path.exists() else (
            "a file, not a directory" if not path.is_dir() else f"no {CONFIG}")
        raise TrainingError(f"--resume {path}: not a run directory ({what})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise FileError(f"--resume {path}: the run directory is not writable (read-only or no "
                        "permission); a resumed run saves its checkpoints there: make it "
                        "writable or copy it elsewhere")
    lock = RunDirLock(path).acquire()
    try:
        return _resume(path, epochs, overrides, dataset, console, progress, plots)
    finally:
        lock.release()


def _resume(path: Path, epochs: int | None,
            overrides: Mapping[str, Any] | None, dataset: Dataset | None,
            console: Console | None, progress: bool, plots: bool) -> TrainSummary:
    config = rundir.read_config(path)
    rundir.remove_run_temps(path)  # a run killed while it wrote a file leaves its temporary
    config = replace(config, **_changes(config, overrides, epochs, path))
    state = rundir.load_checkpoint(path, config)
    if state.epoch > config.epochs:
        raise TrainingError(f"{path} has already trained {state.epoch} epochs; --epochs is the "
                            f"new total and must be at least {state.epoch}")
    data = prepare_data(dataset if dataset is not None else _load(config.data), config)
    if data.fingerprint() != state.data:
        raise TrainingError(f"the data differ from the run's: now {data.fingerprint()}, "
                            f"then {state.data}")
    rundir.write_json(path / CONFIG, config.to_dict())
    return run(config, state, data, path, console, progress, plots)


def _changes(config: TrainConfig, overrides: Mapping[str, Any] | None, epochs: int | None,
             path: Path) -> dict[str, Any]:
    """The settings a resumed run changes; any other setting given differently is refused."""
    changes: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is None or value == getattr(config, key):
            continue
        if key in RESUMABLE_CHANGES:
            changes[key] = value
            continue
        flag = "--" + key.replace("_", "-")
        raise TrainingError(f"{flag} {value} differs from this run's {getattr(config, key)} "
                            f"({path / CONFIG}); a resumed run keeps its settings: only "
                            "--epochs (the new total), --check-every, --strict and --budget "
                            "may change")
    if epochs is not None:
        changes["epochs"] = epochs
    return changes


def _load(spec: str) -> Dataset:
    return load_dataset(None if spec == "embedded" else spec)
