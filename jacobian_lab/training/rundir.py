"""The run directory: its files, written atomically; checkpoints saved and loaded; the lock
and the undoing of a run that never started.

A run directory holds ``config.json``, ``checkpoint.npz`` (weights, the NumPy generators'
``bit_generator.state``, epoch, step and history — written after every ``checkpoint_every``
epochs and at the end), ``best.npz`` (the weights of the best epoch so far — the highest test
accuracy, the first on a tie — saved just before the checkpoint whose history names it),
``metrics.json`` and ``metrics.csv`` (one row per epoch),
``weights.npz`` (final), ``summary.json`` and, with matplotlib, PNG plots. Every file is
written by :func:`jacobian_lab.files.atomic_write_bytes`: a kill at any moment leaves the old
file or the new one, and a killed writer's temporary file is removed at the next save.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.errors import FileError, JlabError, TrainingError
from jacobian_lab.files import (
    LOCK_FILE,
    RunDirLock,
    atomic_write_bytes,
    describe_os_error,
    remove_stale_temps,
)
from jacobian_lab.training import model
from jacobian_lab.training.config import TrainConfig
from jacobian_lab.training.state import RunState

__all__ = [
    "BEST", "CHECKPOINT", "CONFIG", "CSV_FIELDS", "METRICS_CSV", "METRICS_JSON", "PLOT_FILES",
    "RUN_FILES", "SUMMARY", "WEIGHTS", "best_saved", "json_safe", "load_checkpoint", "new_run_dir",
    "npz_bytes", "read_config", "remove_new_dirs", "remove_run_temps", "save_best",
    "save_checkpoint", "saved_epoch", "write_bytes", "write_json", "write_metrics",
]

Array = NDArray[Any]

CONFIG, CHECKPOINT, WEIGHTS = "config.json", "checkpoint.npz", "weights.npz"
METRICS_JSON, METRICS_CSV, SUMMARY = "metrics.json", "metrics.csv", "summary.json"
BEST = "best.npz"
#: The files the trainer writes (atomically) into a run directory; plots are drawn by matplotlib.
RUN_FILES = frozenset({CONFIG, CHECKPOINT, WEIGHTS, BEST, METRICS_JSON, METRICS_CSV, SUMMARY})
PLOT_FILES = frozenset({"loss.png", "accuracy.png", "weights.png"})


def write_bytes(path: Path, payload: bytes) -> None:
    """Every file of a run directory is written by :func:`jacobian_lab.files.atomic_write`:
    a kill at any moment leaves the old file or the new one; a killed writer's temporary
    file is removed by :func:`_remove_stale_temps` at the next save."""
    atomic_write_bytes(path, payload)


def remove_run_temps(run_dir: Path) -> list[Path]:
    """Remove the temporary files a killed writer left in ``run_dir`` (files of a run
    directory only, written by a process that no longer runs); return them."""
    return remove_stale_temps(run_dir, RUN_FILES | PLOT_FILES)


def npz_bytes(arrays: Mapping[str, Array]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def json_safe(value: Any) -> Any:
    """NaN/Inf as null, so that every file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_json(path: Path, obj: Any) -> None:
    write_bytes(path, (json.dumps(json_safe(obj), indent=2) + "\n").encode())


CSV_FIELDS = ("epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
              "seconds", "samples_per_second", "check_fd_direction", "check_fd_coordinate",
              "check_closed_form", "checks_failed", "checks_skipped")


def write_metrics(run_dir: Path, state: RunState, status: str, message: str = "") -> None:
    write_json(run_dir / METRICS_JSON, {"status": status, "message": message,
                                         "epochs": state.history, "checks": state.checks})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in state.history:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    write_bytes(run_dir / METRICS_CSV, out.getvalue().encode())


def save_checkpoint(run_dir: Path, state: RunState) -> None:
    remove_run_temps(run_dir)
    arrays = dict(state.net.arrays())
    arrays["state"] = np.array(state.to_json())
    write_bytes(run_dir / CHECKPOINT, npz_bytes(arrays))


def load_checkpoint(run_dir: Path, config: TrainConfig) -> RunState:
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise TrainingError(f"{run_dir}: no {CHECKPOINT} to resume from")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise FileError(describe_os_error(path, e, "read")) from None
    fix = "restore it from a copy or start a new run"
    if raw[:4] != b"PK\x03\x04":
        start = raw[:4].hex(" ") or "nothing"
        raise TrainingError(f"{path}: unreadable checkpoint (not a NumPy .npz archive: it "
                            f"starts with {start}, an .npz with 50 4b 03 04); {fix}")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            if z["state"].dtype.kind != "U" or z["state"].shape != ():
                raise ValueError("its `state` is not a text")
            net = model.Network.from_arrays({k: z[k] for k in z.files if k != "state"},
                                            config.activation, config.loss)
            text = str(z["state"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, TypeError) as e:
        why = ("an entry is not a plain array" if "pickle" in str(e) else str(e).strip("'\""))
        raise TrainingError(f"{path}: unreadable checkpoint ({why}); {fix}") from None
    if net.sizes != config.layers or net.dtype != np.dtype(config.dtype):
        raise TrainingError(f"{path}: weights of layers {net.sizes} and dtype {net.dtype} do not "
                            f"match config.json ({config.layers}, {config.dtype})")
    bad = model.describe_non_finite(net.arrays())
    if bad:
        raise TrainingError(f"{path}: the saved weights are not finite ({bad}); a run resumed "
                            "from them would train on NaN: start a new run (a diverged run "
                            "keeps its last finite checkpoint)")
    return RunState.from_json(text, net, path)


def new_run_dir(run_dir: str | os.PathLike[str] | None
                 ) -> tuple[Path, RunDirLock, list[Path]]:
    """Create (if needed) and lock a run directory for a new run.

    Returns the path, its lock (held: release it when the run ends) and the directories this
    call created, deepest last (removed again if the run fails before its first checkpoint).
    """
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, k = Path("runs") / stamp, 1
        while path.exists():
            k += 1
            path = Path("runs") / f"{stamp}-{k}"
    else:
        if not str(run_dir).strip():
            raise TrainingError("--run-dir needs a directory name, got an empty string")
        path = Path(run_dir).expanduser()
    if path.exists() and not path.is_dir():
        raise FileError(f"--run-dir {path} is a file, not a directory; choose another "
                        "--run-dir")
    created = [p for p in (path, *path.parents) if not p.exists() and not p.is_symlink()]
    created.reverse()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_dirs(created)
        raise FileError(describe_os_error(path, e, "create the run directory")) from None
    try:
        lock = RunDirLock(path).acquire()
    except JlabError:
        _remove_dirs(created)  # only if empty: another run may be writing into it
        raise
    if (path / CONFIG).exists():
        lock.release()
        raise TrainingError(f"{path} already holds a run; continue it with --resume {path} "
                            "or choose another --run-dir")
    return path, lock, created


def remove_new_dirs(path: Path, created: list[Path]) -> None:
    """Undo a run that failed before its first checkpoint (it holds the lock, so the files
    are its own): remove its files and the directories it created, if nothing else is in
    them."""
    for name in (*RUN_FILES, LOCK_FILE):
        with contextlib.suppress(OSError):
            (path / name).unlink()
    remove_stale_temps(path, RUN_FILES)
    _remove_dirs(created)


def _remove_dirs(created: list[Path]) -> None:
    for d in reversed(created):  # deepest first; rmdir leaves a directory that is not empty
        with contextlib.suppress(OSError):
            d.rmdir()



def saved_epoch(run_dir: Path) -> str:
    try:
        with np.load(io.BytesIO((run_dir / CHECKPOINT).read_bytes()),
                     allow_pickle=False) as z:
            return str(json.loads(str(z["state"]))["epoch"])
    except Exception:  # only a message: never mask the error being reported
        return "?"



def save_best(run_dir: Path, arrays: Mapping[str, Array], record: Mapping[str, Any]) -> None:
    """Write the best epoch's weights as ``best.npz``: the arrays of ``weights.npz`` and, as
    in a checkpoint, a ``state`` text — here the JSON of that epoch's number and test
    accuracy (``{"epoch": 9, "test_accuracy": 0.879}``)."""
    about = {"epoch": record["epoch"], "test_accuracy": record["test_accuracy"]}
    write_bytes(run_dir / BEST, npz_bytes({**arrays, "state": np.array(json.dumps(about))}))


def best_saved(run_dir: Path) -> int | None:
    """The epoch whose weights ``best.npz`` holds (None: no such file, or not readable)."""
    try:
        with np.load(io.BytesIO((run_dir / BEST).read_bytes()), allow_pickle=False) as z:
            epoch = json.loads(str(z["state"]))["epoch"]
    except Exception:  # any damage means: no best weights to claim
        return None
    return epoch if isinstance(epoch, int) else None


def read_config(path: Path) -> TrainConfig:
    """The settings of the run in ``path`` (its ``config.json``), every field checked."""
    try:
        saved = json.loads((path / CONFIG).read_bytes().decode("utf-8"))
    except OSError as e:
        raise FileError(describe_os_error(path / CONFIG, e, "read")) from None
    except (ValueError, RecursionError) as e:
        raise TrainingError(f"{path / CONFIG}: unreadable, not JSON ({e}); restore the file "
                            "or start a new run") from None
    return TrainConfig.from_dict(saved, path / CONFIG)
