"""The training loop: optimisers, gradient checks while training, run directory, resume.

:func:`train` runs a :class:`TrainConfig` and :func:`resume` continues a run directory
bit-for-bit; both return a :class:`TrainSummary`. The hot loop (:func:`train_epoch`) gathers
each batch into preallocated buffers and calls the model's kernel-only forward and backward
passes; everything else (checks, progress, files) happens around it.

A run directory holds ``config.json``, ``checkpoint.npz`` (weights, the NumPy generators'
``bit_generator.state``, epoch, step and history — written atomically after every
``checkpoint_every`` epochs and at the end), ``metrics.json`` and ``metrics.csv`` (one row per
epoch), ``weights.npz`` (final), ``summary.json`` and, with matplotlib, PNG plots.

>>> import tempfile
>>> from jacobian_lab.training.trainer import TrainConfig, train
>>> cfg = TrainConfig(epochs=1, limit=500, check_every=0)
>>> summary = train(cfg, run_dir=tempfile.mkdtemp(), progress=False)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import os
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from jacobian_lab.training.checks import (
    GradientCheck,
    GradientCheckError,
    Tolerances,
    check_gradients,
)

if TYPE_CHECKING:
    from rich.console import Console

    from jacobian_lab.training.data import Dataset

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "METRICS_CSV",
    "METRICS_JSON",
    "OPTIMIZERS",
    "SUMMARY",
    "WEIGHTS",
    "DivergenceError",
    "TrainConfig",
    "TrainData",
    "TrainSummary",
    "evaluate",
    "prepare_data",
    "resume",
    "train",
    "train_epoch",
]

Array = NDArray[Any]

OPTIMIZERS = ("gd", "sgd", "minibatch")
DTYPES = ("float32", "float64")
DEFAULT_BATCH = 64
GD_CHECKPOINT_EVERY = 25  # gd's epochs are single iterations: checkpoint every 25 of them
#: Divergence: the loss (smoothed over steps) above this multiple of the first step's loss.
DIVERGENCE_FACTOR = 10.0
EMA_DECAY = 0.9
LOSS_FLOOR = 0.1  # a first loss near 0 must not make every later loss look like a blow-up
CHECK_SAMPLES = 64  # columns of the batch a gradient check uses (its cost is linear in them)
EVAL_CHUNK = 4096

CONFIG, CHECKPOINT, WEIGHTS = "config.json", "checkpoint.npz", "weights.npz"
METRICS_JSON, METRICS_CSV, SUMMARY = "metrics.json", "metrics.csv", "summary.json"
#: The files the trainer writes (atomically) into a run directory; plots are drawn by matplotlib.
RUN_FILES = frozenset({CONFIG, CHECKPOINT, WEIGHTS, METRICS_JSON, METRICS_CSV, SUMMARY})
PLOT_FILES = frozenset({"loss.png", "accuracy.png", "weights.png"})
STATE_VERSION = 1
MAX_EPOCHS = 1_000_000  #: the notebook's gd takes 500; more is a typo, not a plan


class DivergenceError(TrainingError):
    """The loss became NaN/Inf or blew up; the last good checkpoint is kept."""


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run; validated when built (bad values name the allowed ones)."""

    layers: tuple[int, ...] = (784, 10, 10)
    activation: str = "relu"
    loss: str = "cross-entropy"
    init: str = "he"
    optimizer: str = "minibatch"
    lr: float = 0.1
    epochs: int = 10  #: for ``gd``: iterations (one full-batch step each)
    batch_size: int | None = None  #: minibatch only (default 64); gd: all samples; sgd: 1
    seed: int = 0
    dtype: str = "float32"
    data: str = "embedded"
    limit: int | None = None  #: train on the first ``limit`` training samples only
    check_every: int = 50  #: steps between gradient checks (also one at the end); 0: none
    strict: bool = False  #: a failed gradient check stops the run
    tol_fd: float = 1e-6
    tol_closed_form: float = 1e-10
    checkpoint_every: int | None = None  #: epochs; default 1 (gd: 25); always at the end

    def __post_init__(self) -> None:
        _check_types(self)
        layers = tuple(self.layers)
        object.__setattr__(self, "layers", layers)
        model.check_choice("activation", self.activation, model.ACTIVATIONS)
        model.check_choice("loss", self.loss, model.LOSSES)
        model.check_choice("init", self.init, model.INITS)
        model.check_choice("optimizer", self.optimizer, OPTIMIZERS)
        model.check_choice("dtype", self.dtype, DTYPES)
        if len(layers) < 2 or not all(n >= 1 for n in layers):
            raise TrainingError(f"--layers needs at least two positive sizes like 784,10,10, "
                                f"got {','.join(map(str, layers))}")
        _check_memory(layers, np.dtype(self.dtype).itemsize)
        if not _positive(self.lr):
            raise TrainingError(f"--lr must be a positive number, got {self.lr}")
        if self.seed < 0:
            raise TrainingError(f"--seed must be a whole number >= 0, got {self.seed}")
        if self.epochs > MAX_EPOCHS:
            raise TrainingError(f"--epochs must be at most {MAX_EPOCHS:,}, got {self.epochs}")
        for name in ("epochs", "check_every", "limit", "batch_size", "checkpoint_every"):
            value = getattr(self, name)
            low = 0 if name == "check_every" else 1
            if value is not None and value < low:
                raise TrainingError(f"--{name.replace('_', '-')} must be a whole number "
                                    f">= {low}, got {value}")
        if self.optimizer == "gd" and self.batch_size is not None:
            raise TrainingError("--batch-size does not apply to --optimizer gd (every step "
                                "uses all training samples); use --optimizer minibatch")
        if self.optimizer == "sgd" and self.batch_size not in (None, 1):
            raise TrainingError(f"--optimizer sgd uses batches of 1, not --batch-size "
                                f"{self.batch_size}; use --optimizer minibatch")
        for name in ("tol_fd", "tol_closed_form"):
            if not _positive(getattr(self, name)):
                raise TrainingError(f"setting `{name}` must be a positive number, got "
                                    f"{getattr(self, name)}")

    def batch_for(self, n_train: int) -> int:
        """The batch size this optimiser uses on ``n_train`` samples."""
        if self.optimizer == "gd":
            return n_train
        if self.optimizer == "sgd":
            return 1
        return min(self.batch_size or DEFAULT_BATCH, n_train)

    @property
    def checkpoint_interval(self) -> int:
        if self.checkpoint_every is not None:
            return self.checkpoint_every
        return GD_CHECKPOINT_EVERY if self.optimizer == "gd" else 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d

    @classmethod
    def from_dict(cls, d: Any, source: str | os.PathLike[str] = "the configuration"
                  ) -> TrainConfig:
        """The configuration saved as ``d`` (``config.json``), every field checked: a bad
        one is a :class:`TrainingError` naming ``source`` and the field."""
        if not isinstance(d, dict):
            raise TrainingError(f"{source}: expected a JSON object of settings, found "
                                f"{_json_kind(d)}; restore the file or start a new run")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TrainingError(f"{source}: unknown settings {', '.join(unknown)}; "
                                f"known: {', '.join(sorted(known))}")
        layers = d.get("layers", list(cls.layers))
        if not isinstance(layers, list):
            raise TrainingError(f"{source}: setting `layers` must be a list of sizes like "
                                f"[784, 10, 10], got {layers!r}")
        try:
            return cls(**{**d, "layers": tuple(layers)})
        except JlabError as e:
            raise TrainingError(f"{source}: {e}; fix the file or start a new run") from None


#: The type of every setting (``int?``: a whole number or null), checked in one place.
_SETTING_TYPES: dict[str, str] = {
    "layers": "sizes", "activation": "str", "loss": "str", "init": "str", "optimizer": "str",
    "lr": "number", "epochs": "int", "batch_size": "int?", "seed": "int", "dtype": "str",
    "data": "str", "limit": "int?", "check_every": "int", "strict": "bool",
    "tol_fd": "number", "tol_closed_form": "number", "checkpoint_every": "int?",
}
_KIND_TEXT = {"sizes": "a list of whole numbers like [784, 10, 10]", "str": "a string",
              "number": "a number", "int": "a whole number", "int?": "a whole number or null",
              "bool": "true or false"}


def _positive(v: Any) -> bool:
    try:
        return math.isfinite(v) and v > 0
    except OverflowError:  # an integer too large for a float
        return False


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _json_kind(v: Any) -> str:
    kinds = ((list, "a list"), (str, "a string"), (bool, "a boolean"), (dict, "an object"))
    return next((k for t, k in kinds if isinstance(v, t)), "null" if v is None else repr(v))


def _check_types(config: TrainConfig) -> None:
    for name, kind in _SETTING_TYPES.items():
        v = getattr(config, name)
        ok = {
            "sizes": isinstance(v, (tuple, list)) and all(_is_int(n) for n in v),
            "str": isinstance(v, str),
            "number": (isinstance(v, (int, float, np.floating, np.integer))
                       and not isinstance(v, (bool, np.bool_))),
            "int": _is_int(v), "int?": v is None or _is_int(v),
            "bool": isinstance(v, bool),
        }[kind]
        if not ok:
            raise TrainingError(f"setting `{name}` must be {_KIND_TEXT[kind]}, got {v!r}")


#: A network whose weights, gradients and saved copies would need more than this share of the
#: machine's memory is refused before anything is created.
MEMORY_SHARE = 0.5


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_memory(layers: tuple[int, ...], itemsize: int) -> None:
    """Refuse (with the memory it would need) a network too large for this machine."""
    params = sum(a * b + b for a, b in itertools.pairwise(layers))
    # weights + gradients + the float64 draw at initialisation + a checkpoint's bytes
    need = params * (3 * itemsize + 8)
    total = _physical_memory()
    limit = int(total * MEMORY_SHARE) if total else 2**47
    if need > limit:
        raise TrainingError(
            f"--layers {','.join(map(str, layers))}: a network of {params:,} parameters "
            f"needs about {_bytes(need)} of memory; this machine allows {_bytes(limit)} "
            f"({MEMORY_SHARE:.0%} of {_bytes(total) if total else 'its memory'}): use "
            "smaller layers")


def _bytes(n: int) -> str:
    for unit, size in (("EiB", 2**60), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            value = n / size
            return f"{value:,.1f} {unit}" if value < 1e6 else f"{value:.2e} {unit}"
    return f"{n:,} bytes"


# --------------------------------------------------------------------------- data

@dataclass(eq=False)
class TrainData:
    """Images as rows (one sample per row, gathered into column batches), one-hot rows."""

    x_train: Array
    y_train: Array
    labels_train: NDArray[np.int64]
    x_test: Array
    y_test: Array
    labels_test: NDArray[np.int64]
    source: str

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    def fingerprint(self) -> dict[str, Any]:
        return {"source": self.source, "n_train": self.n_train,
                "n_test": int(self.x_test.shape[0]), "n_features": int(self.x_train.shape[1])}


def prepare_data(ds: Dataset, config: TrainConfig) -> TrainData:
    """Check the data (:func:`~jacobian_lab.training.data.check_dataset`: a NaN/Inf pixel or a bad
    label is a :class:`~jacobian_lab.errors.DataError`), cast to the run's dtype (no copy for
    float32), cut to ``limit``, one-hot the labels."""
    from jacobian_lab.training.data import check_dataset

    dtype = np.dtype(config.dtype)
    n_in, n_out = config.layers[0], config.layers[-1]
    if ds.x_train.shape[1] != n_in:
        raise TrainingError(f"--layers starts with {n_in} inputs but the images of "
                            f"{ds.source} have {ds.x_train.shape[1]} pixels")
    check_dataset(ds)  # finite pixels, whole-number labels >= 0: before anything is written
    top = int(max(ds.y_train.max(initial=0), ds.y_test.max(initial=0)))
    if top >= n_out:
        over = int(np.count_nonzero(ds.y_train >= n_out) + np.count_nonzero(ds.y_test >= n_out))
        raise TrainingError(f"--layers ends with {n_out} outputs but the labels go up to {top} "
                            f"({over} outside 0..{n_out - 1})")
    n = ds.x_train.shape[0] if config.limit is None else min(config.limit, ds.x_train.shape[0])
    eye = np.eye(n_out, dtype=dtype)
    x_train, y_train = np.ascontiguousarray(ds.x_train[:n], dtype=dtype), eye[ds.y_train[:n]]
    if config.optimizer == "gd":
        # Full batches are never gathered: keep them as C-contiguous columns (n₀ × N), which
        # BLAS multiplies faster than the transpose of rows; the rows become a view.
        x_train = np.ascontiguousarray(x_train.T).T
        y_train = np.ascontiguousarray(y_train.T).T
    return TrainData(
        x_train, y_train, np.ascontiguousarray(ds.y_train[:n], dtype=np.int64),
        np.ascontiguousarray(ds.x_test, dtype=dtype), eye[ds.y_test],
        np.ascontiguousarray(ds.y_test, dtype=np.int64),
        ds.source + (f", first {n} training samples" if config.limit is not None else ""))


# --------------------------------------------------------------------------- the hot loop

class _Buffers:
    """A batch of ``m`` gathered rows and the model's workspace for ``m`` columns."""

    def __init__(self, sizes: tuple[int, ...], m: int, dtype: np.dtype[Any]) -> None:
        self.m = m
        self.x = np.empty((m, sizes[0]), dtype)
        self.y = np.empty((m, sizes[-1]), dtype)
        self.labels = np.empty(m, np.int64)
        self.ws = model.Workspace(sizes, m, dtype)


StepHook = Callable[[int, float, Array, Array], None]
"""``hook(batch_index, loss, X, Y)``, called after the forward pass and before the update."""


def train_epoch(net: model.Network, data: TrainData, order: NDArray[np.intp] | None,
                batch_size: int, lr: float, *, hook: StepHook | None = None,
                buffers: dict[int, _Buffers] | None = None) -> tuple[float, int]:
    """One pass over the training set in batches of ``batch_size`` (the last may be smaller).

    ``order`` is the sample order (None: as stored, taken as views without copying). Returns
    the sum over batches of ``loss × batch size`` and the number of correct predictions, both
    seen before each batch's update.
    """
    n = data.n_train
    cache = {} if buffers is None else buffers
    xs, ys, labs = data.x_train, data.y_train, data.labels_train
    step = net.dtype.type(lr)
    loss_sum, correct = 0.0, 0
    buf = None
    for b, start in enumerate(range(0, n, batch_size)):
        m = min(batch_size, n - start)
        if buf is None or buf.m != m:
            buf = cache.get(m) or cache.setdefault(m, _Buffers(net.sizes, m, net.dtype))
        if order is None:
            X, Y, lab = xs[start:start + m].T, ys[start:start + m].T, labs[start:start + m]
        else:
            idx = order[start:start + m]
            np.take(xs, idx, axis=0, out=buf.x, mode="clip")
            np.take(ys, idx, axis=0, out=buf.y, mode="clip")
            np.take(labs, idx, out=buf.labels, mode="clip")
            X, Y, lab = buf.x.T, buf.y.T, buf.labels
        fw = model.forward(net, X, buf.ws)
        loss = model.loss(net, fw, Y)
        loss_sum += loss * m
        correct += model.count_correct(fw, lab)
        if hook is not None:
            hook(b, loss, X, Y)
        model.sgd_update(net, model.backward(net, fw, Y), step)
    return loss_sum, correct


def evaluate(net: model.Network, x_rows: Array, y_rows: Array,
             labels: NDArray[np.integer]) -> tuple[float, float, NDArray[np.intp]]:
    """Mean loss, accuracy and predictions over a whole set, in chunks of columns."""
    n = x_rows.shape[0]
    preds = np.empty(n, dtype=np.intp)
    loss_sum = 0.0
    for start in range(0, n, EVAL_CHUNK):
        stop = min(start + EVAL_CHUNK, n)
        fw = model.forward(net, x_rows[start:stop].T)
        loss_sum += model.loss(net, fw, y_rows[start:stop].T) * (stop - start)
        preds[start:stop] = np.argmax(fw.Z[-1], axis=0)
    acc = float(np.count_nonzero(preds == labels)) / n if n else math.nan
    return (loss_sum / n if n else math.nan), acc, preds


# --------------------------------------------------------------------------- state and files

@dataclass(eq=False)
class _State:
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
    def from_json(cls, text: str, net: model.Network, path: Path) -> _State:
        """The state saved in a checkpoint, every field checked against :data:`_STATE_SCHEMA`
        before any work: a bad one is a :class:`TrainingError` naming the field."""
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise TrainingError(f"{path}: damaged checkpoint state (not JSON: {e}); restore "
                                "the file or start a new run") from None
        if not isinstance(d, dict):
            raise TrainingError(f"{path}: damaged checkpoint state (expected a JSON object, "
                                f"found {_json_kind(d)}); restore the file or start a new run")
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
    return _is_int(v) and v >= 0


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


def _atomic_write(path: Path, payload: bytes) -> None:
    """Every file of a run directory is written by :func:`jacobian_lab.files.atomic_write`:
    a kill at any moment leaves the old file or the new one; a killed writer's temporary
    file is removed by :func:`_remove_stale_temps` at the next save."""
    atomic_write_bytes(path, payload)


def _remove_stale_temps(run_dir: Path) -> list[Path]:
    """Remove the temporary files a killed writer left in ``run_dir`` (files of a run
    directory only, written by a process that no longer runs); return them."""
    return remove_stale_temps(run_dir, RUN_FILES | PLOT_FILES)


def _npz_bytes(arrays: Mapping[str, Array]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def _json_safe(value: Any) -> Any:
    """NaN/Inf as null, so that every file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, (json.dumps(_json_safe(obj), indent=2) + "\n").encode())


CSV_FIELDS = ("epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
              "seconds", "samples_per_second", "check_fd_direction", "check_fd_coordinate",
              "check_closed_form", "checks_failed")


def _write_metrics(run_dir: Path, state: _State, status: str, message: str = "") -> None:
    _write_json(run_dir / METRICS_JSON, {"status": status, "message": message,
                                         "epochs": state.history, "checks": state.checks})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in state.history:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    _atomic_write(run_dir / METRICS_CSV, out.getvalue().encode())


def _save_checkpoint(run_dir: Path, state: _State) -> None:
    _remove_stale_temps(run_dir)
    arrays = dict(state.net.arrays())
    arrays["state"] = np.array(state.to_json())
    _atomic_write(run_dir / CHECKPOINT, _npz_bytes(arrays))


def _load_checkpoint(run_dir: Path, config: TrainConfig) -> _State:
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
    return _State.from_json(text, net, path)


def _new_run_dir(run_dir: str | os.PathLike[str] | None
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


def _remove_new_dirs(path: Path, created: list[Path]) -> None:
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


# --------------------------------------------------------------------------- summary

@dataclass(eq=False)
class TrainSummary:
    """What a run achieved; :meth:`to_dict` is what ``jlab train --json`` prints."""

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

    def to_dict(self) -> dict[str, Any]:
        d = {
            "run_dir": str(self.run_dir), "dataset": self.dataset,
            "layers": list(self.config.layers), "activation": self.config.activation,
            "loss_function": self.config.loss, "optimizer": self.config.optimizer,
            "lr": self.config.lr, "batch_size": self.config.batch_size,
            "dtype": self.config.dtype, "seed": self.config.seed,
            "epochs": self.epochs, "steps": self.steps,
            "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
            "test_loss": self.test_loss, "test_accuracy": self.test_accuracy,
            "checks": self.checks, "seconds": self.seconds,
            "train_seconds": self.train_seconds, "check_seconds": self.check_seconds,
            "samples_per_second": self.samples_per_second,
            "confusion_matrix": self.confusion, "files": self.files, "notes": self.notes,
        }
        return dict(_json_safe(d))


def _check_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    def worst(key: str) -> float:
        vals = [r[key] for r in records if r.get(key) is not None and not math.isnan(r[key])]
        return max(vals, default=math.nan)

    stats = {"count": len(records), "failed": sum(1 for r in records if not r["passed"]),
             "max_fd_direction": worst("fd_direction"),
             "max_fd_coordinate": worst("fd_coordinate"),
             "max_closed_form": worst("closed_form"), "max_forward": worst("forward"),
             "kink_skips": sum(int(r.get("kink_skips", 0)) for r in records)}
    finite = [v for k, v in stats.items() if k.startswith("max_") and not math.isnan(v)]
    stats["max_error"] = max(finite, default=math.nan)
    return stats


# --------------------------------------------------------------------------- progress

class _Display:
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
        from rich.console import Console as RichConsole

        self.console = console or RichConsole(stderr=True, highlight=False)
        if not self.console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:>9}"), BarColumn(bar_width=24), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"), console=self.console)
        self.epochs = self.progress.add_task(self.unit, total=config.epochs, info="")
        if config.optimizer != "gd":
            self.steps = self.progress.add_task("step", total=steps_per_epoch, info="")

    def __enter__(self) -> _Display:
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
                from rich.markup import escape

                width = len(str(self.total))
                self.console.print(f"{self.unit} {done_epochs:>{width}}/{self.total}  "
                                   f"{escape(info)}", soft_wrap=True)

    def warn(self, message: str) -> None:
        if self.enabled:
            from rich.markup import escape

            self.console.print(f"[yellow]warning:[/] {escape(message)}")


def _fmt_check(err: float | None, passed: bool) -> str:
    if err is None or math.isnan(err):
        return ""
    return f"check {err:.1e} {'✓' if passed else '✗'}"


# --------------------------------------------------------------------------- the run

def train(config: TrainConfig, *, run_dir: str | os.PathLike[str] | None = None,
          dataset: Dataset | None = None, console: Console | None = None,
          progress: bool = True, plots: bool = True) -> TrainSummary:
    """Train a fresh network as ``config`` says; files go to ``run_dir`` (default
    ``runs/<timestamp>``). ``dataset`` replaces ``load_dataset(config.data)``.

    Raises :class:`DivergenceError` when the loss diverges and
    :class:`~jacobian_lab.training.checks.GradientCheckError` when a check fails under
    ``strict``; both keep the last good checkpoint.
    """
    data = prepare_data(dataset if dataset is not None else _load(config.data), config)
    path, lock, created = _new_run_dir(run_dir)  # held until the run ends, however it ends
    try:
        try:
            rng = np.random.default_rng(config.seed)
            net = model.init_network(config.layers, activation=config.activation,
                                     loss=config.loss, init=config.init, rng=rng,
                                     dtype=np.dtype(config.dtype))
            state = _State(net, rng, np.random.default_rng([config.seed, 1]),
                           data=data.fingerprint())
            _write_json(path / CONFIG, config.to_dict())
            _save_checkpoint(path, state)  # epoch 0: a good checkpoint exists from the start
        except BaseException:
            _remove_new_dirs(path, created)  # nothing is left of a run that never started
            raise
        return _run_recording_failure(config, state, data, path, console, progress, plots)
    finally:
        lock.release()


def resume(run_dir: str | os.PathLike[str], *, epochs: int | None = None,
           overrides: Mapping[str, Any] | None = None, dataset: Dataset | None = None,
           console: Console | None = None, progress: bool = True,
           plots: bool = True) -> TrainSummary:
    """Continue the run in ``run_dir`` from its checkpoint, as if it had not stopped.

    ``epochs`` is the new total (default: the saved one). ``overrides`` are settings given
    again on the command line: ``strict`` and ``check_every`` may change, any other must
    equal the saved value.
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
    try:
        saved = json.loads((path / CONFIG).read_bytes().decode("utf-8"))
    except OSError as e:
        raise FileError(describe_os_error(path / CONFIG, e, "read")) from None
    except (ValueError, RecursionError) as e:
        raise TrainingError(f"{path / CONFIG}: unreadable, not JSON ({e}); restore the file "
                            "or start a new run") from None
    config = TrainConfig.from_dict(saved, path / CONFIG)
    _remove_stale_temps(path)  # a run killed while it wrote a file leaves its temporary file
    changes: dict[str, Any] = {}
    for key, value in (overrides or {}).items():
        if value is None or value == getattr(config, key):
            continue
        if key in ("strict", "check_every"):
            changes[key] = value
            continue
        flag = "--" + key.replace("_", "-")
        raise TrainingError(f"{flag} {value} differs from this run's {getattr(config, key)} "
                            f"({path / CONFIG}); a resumed run keeps its settings: only "
                            "--epochs (the new total), --check-every and --strict may change")
    if epochs is not None:
        changes["epochs"] = epochs
    config = replace(config, **changes)
    state = _load_checkpoint(path, config)
    if state.epoch > config.epochs:
        raise TrainingError(f"{path} has already trained {state.epoch} epochs; --epochs is the "
                            f"new total and must be at least {state.epoch}")
    data = prepare_data(dataset if dataset is not None else _load(config.data), config)
    if data.fingerprint() != state.data:
        raise TrainingError(f"the data differ from the run's: now {data.fingerprint()}, "
                            f"then {state.data}")
    _write_json(path / CONFIG, config.to_dict())
    return _run_recording_failure(config, state, data, path, console, progress, plots)


def _load(spec: str) -> Dataset:
    from jacobian_lab.training.data import load_dataset

    return load_dataset(None if spec == "embedded" else spec)


class _Diverged(Exception):
    def __init__(self, step: int, reason: str) -> None:
        super().__init__(reason)
        self.step, self.reason = step, reason


def _run_recording_failure(config: TrainConfig, state: _State, data: TrainData,
                           run_dir: Path, console: Console | None, progress: bool,
                           plots: bool) -> TrainSummary:
    """:func:`_run`; a file that cannot be written mid-run (a full disk) leaves metrics.json
    saying so, where it can still be written, instead of "running"."""
    try:
        return _run(config, state, data, run_dir, console, progress, plots)
    except FileError as e:
        with contextlib.suppress(JlabError, OSError):
            _write_metrics(run_dir, state, "failed", str(e))
        raise


def _run(config: TrainConfig, state: _State, data: TrainData, run_dir: Path,
         console: Console | None, progress: bool, plots: bool) -> TrainSummary:
    t0 = time.perf_counter()
    n = data.n_train
    batch = config.batch_for(n)
    steps_per_epoch = -(-n // batch)
    shuffle = config.optimizer != "gd"
    tol = Tolerances(config.tol_fd, config.tol_closed_form)
    net = state.net
    buffers: dict[int, _Buffers] = {}
    warned = False
    preds: NDArray[np.intp] | None = None
    display = _Display(console, progress, config, steps_per_epoch)

    def record_check(result: GradientCheck, epoch: int, final: bool = False) -> None:
        nonlocal warned
        state.checks.append({**result.to_dict(), "epoch": epoch, "final": final})
        if result.passed:
            return
        where = f"gradient check after {result.step} steps failed: {result.failures[0]}"
        more = len(result.failures) - 1
        where += f" (and {more} more)" if more else ""
        if config.strict:
            _write_metrics(run_dir, state, "check failed", where)
            raise GradientCheckError(f"{where}; the last good checkpoint is "
                                     f"{run_dir / CHECKPOINT} (epoch {_saved_epoch(run_dir)})")
        if not warned:
            display.warn(where + " (later failures are counted in the summary)")
            warned = True

    def diverge(epoch: int, step: int, reason: str) -> DivergenceError:
        msg = (f"training diverged in epoch {epoch + 1} at step {step}: {reason} (--lr "
               f"{config.lr}); the last good checkpoint is {run_dir / CHECKPOINT} (epoch "
               f"{_saved_epoch(run_dir)}); try a smaller --lr")
        _write_metrics(run_dir, state, "diverged", msg)
        return DivergenceError(msg)

    with display, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # Overflow is expected when a run diverges: NaN/Inf are detected explicitly below.
        display.start(state.epoch)
        for epoch in range(state.epoch, config.epochs):
            t_epoch = time.perf_counter()
            order = state.rng.permutation(n) if shuffle else None
            check_time = 0.0
            checks_before = len(state.checks)
            seen = 0

            def hook(b: int, loss: float, X: Array, Y: Array, epoch: int = epoch,
                     t_epoch: float = t_epoch, checks_before: int = checks_before) -> None:
                nonlocal check_time, seen
                step = state.step + b  # updates so far: the check's "after N steps"
                seen += X.shape[1]
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
                if config.check_every and step % config.check_every == 0:
                    t = time.perf_counter()
                    with np.errstate(over="warn", invalid="warn", divide="warn"):
                        result = check_gradients(net, X, Y, state.check_rng, step=step,
                                                 tolerances=tol, max_samples=CHECK_SAMPLES)
                    check_time += time.perf_counter() - t
                    record_check(result, epoch)
                if display.due(force=b + 1 == steps_per_epoch):
                    last = state.checks[-1] if len(state.checks) > checks_before else None
                    elapsed = time.perf_counter() - t_epoch - check_time
                    info = (f"loss {loss:.4f}  "
                            + (_fmt_check(_max_err(last), last["passed"]) + "  " if last else "")
                            + f"{seen / max(elapsed, 1e-9):,.0f} samples/s")
                    display.step(b + 1, info)

            try:
                loss_sum, correct = train_epoch(net, data, order, batch, config.lr, hook=hook,
                                                buffers=buffers)
            except _Diverged as d:
                raise diverge(epoch, d.step, d.reason) from None
            state.step += steps_per_epoch
            train_time = time.perf_counter() - t_epoch - check_time
            if not net.is_finite():
                raise diverge(epoch, state.step, "the weights are no longer finite")
            test_loss, test_acc, preds = evaluate(net, data.x_test, data.y_test,
                                                  data.labels_test)
            if not math.isfinite(test_loss):
                raise diverge(epoch, state.step, f"the test loss is {test_loss}")
            state.epoch = epoch + 1
            state.samples += n
            state.train_seconds += train_time
            state.check_seconds += check_time
            epoch_checks = _check_stats(state.checks[checks_before:])
            state.history.append({
                "epoch": epoch + 1, "step": state.step, "train_loss": loss_sum / n,
                "train_accuracy": correct / n, "test_loss": test_loss,
                "test_accuracy": test_acc, "seconds": time.perf_counter() - t_epoch,
                "samples_per_second": n / max(train_time, 1e-9),
                "check_fd_direction": epoch_checks["max_fd_direction"],
                "check_fd_coordinate": epoch_checks["max_fd_coordinate"],
                "check_closed_form": epoch_checks["max_closed_form"],
                "checks_failed": epoch_checks["failed"],
            })
            if (epoch + 1) % config.checkpoint_interval == 0 or epoch + 1 == config.epochs:
                state.seconds += time.perf_counter() - t0
                t0 = time.perf_counter()
                _save_checkpoint(run_dir, state)
                _write_metrics(run_dir, state, "running")
            checked = (f"  check {epoch_checks['max_error']:.1e} "
                       f"{'✗' if epoch_checks['failed'] else '✓'}" if epoch_checks["count"] else "")
            display.epoch(epoch + 1, f"loss {loss_sum / n:.4f}  accuracy {correct / n:.4f}  "
                                     f"test {test_acc:.4f}{checked}  "
                                     f"{n / max(train_time, 1e-9):,.0f} samples/s")

        if config.check_every:
            # The end-of-run check draws from its own generator, so that a run stopped and
            # resumed checks the same directions as one that went straight through.
            t = time.perf_counter()
            m = min(n, CHECK_SAMPLES)
            result = check_gradients(net, data.x_train[:m].T, data.y_train[:m].T,
                                     np.random.default_rng([config.seed, 2, state.step]),
                                     step=state.step, tolerances=tol)
            state.check_seconds += time.perf_counter() - t
            record_check(result, state.epoch, final=True)

    if preds is None:  # nothing left to train (resumed a finished run)
        _, _, preds = evaluate(net, data.x_test, data.y_test, data.labels_test)
    state.seconds += time.perf_counter() - t0
    return _finish(config, state, data, run_dir, preds, plots)


def _max_err(record: dict[str, Any] | None) -> float | None:
    if record is None:
        return None
    vals = [record[k] for k in ("fd_direction", "fd_coordinate", "closed_form", "forward")
            if record.get(k) is not None and not math.isnan(record[k])]
    return max(vals, default=None)


def _saved_epoch(run_dir: Path) -> str:
    try:
        with np.load(io.BytesIO((run_dir / CHECKPOINT).read_bytes()),
                     allow_pickle=False) as z:
            return str(json.loads(str(z["state"]))["epoch"])
    except Exception:  # only a message: never mask the error being reported
        return "?"


def _confusion(labels: NDArray[np.integer], preds: NDArray[np.integer],
               k: int) -> list[list[int]]:
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, preds), 1)
    return cm.tolist()


def _finish(config: TrainConfig, state: _State, data: TrainData, run_dir: Path,
            preds: NDArray[np.intp], draw: bool) -> TrainSummary:
    from jacobian_lab.training import plots

    last = state.history[-1] if state.history else {}
    test_loss, test_acc = last.get("test_loss", math.nan), last.get("test_accuracy", math.nan)
    _save_checkpoint(run_dir, state)
    _write_metrics(run_dir, state, "done")
    _atomic_write(run_dir / WEIGHTS, _npz_bytes(state.net.arrays()))
    files, notes = (plots.write_plots(run_dir, state.history, state.net.weights[0]) if draw
                    else ([], []))
    summary = TrainSummary(
        config=config, run_dir=run_dir, dataset=data.source, epochs=state.epoch,
        steps=state.step, train_loss=last.get("train_loss", math.nan),
        train_accuracy=last.get("train_accuracy", math.nan), test_loss=test_loss,
        test_accuracy=test_acc, checks=_check_stats(state.checks), seconds=state.seconds,
        train_seconds=state.train_seconds, check_seconds=state.check_seconds,
        samples_per_second=state.samples / state.train_seconds if state.train_seconds else 0.0,
        confusion=_confusion(data.labels_test, preds, config.layers[-1]),
        history=state.history, check_records=state.checks,
        files=sorted([CONFIG, CHECKPOINT, WEIGHTS, METRICS_JSON, METRICS_CSV, SUMMARY, *files]),
        notes=notes)
    _write_json(run_dir / SUMMARY, summary.to_dict())
    return summary

