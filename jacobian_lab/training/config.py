"""The settings of a run: :class:`TrainConfig`, its schema and its validation.

Every setting is checked when the configuration is built (in code, from the command line or
from a run's ``config.json``): a bad type or value is a :class:`~jacobian_lab.errors.TrainingError`
naming the setting and what it may be, an unknown choice names the allowed ones.

>>> TrainConfig().batch_size  # the default minibatch size, recorded as such
64
>>> TrainConfig(budget=0)  # doctest: +ELLIPSIS
Traceback (most recent call last):
jacobian_lab.errors.TrainingError: --budget must be a positive number of seconds, got 0
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from jacobian_lab.budget import DEFAULT_BUDGET  # seconds each gradient check may take
from jacobian_lab.errors import JlabError, TrainingError
from jacobian_lab.training import model

__all__ = ["DEFAULT_BATCH", "DEFAULT_BUDGET", "DTYPES", "MAX_EPOCHS", "OPTIMIZERS",
           "TrainConfig", "is_int", "json_kind"]

OPTIMIZERS = ("gd", "sgd", "minibatch")
DTYPES = ("float32", "float64")
DEFAULT_BATCH = 64
GD_CHECKPOINT_EVERY = 25  # gd's epochs are single iterations: checkpoint every 25 of them
MAX_EPOCHS = 1_000_000  #: the notebook's gd takes 500; more is a typo, not a plan


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a run; validated when built (bad values name the allowed ones).

    ``batch_size`` is recorded resolved: minibatch's default 64 and sgd's 1 are stored as
    numbers (``config.json``, ``--json``); only gd, whose batch is every training sample,
    keeps None.
    """

    layers: tuple[int, ...] = (784, 10, 10)
    activation: str = "relu"
    loss: str = "cross-entropy"
    init: str = "he"
    optimizer: str = "minibatch"
    lr: float = 0.1
    epochs: int = 10  #: for ``gd``: iterations (one full-batch step each)
    batch_size: int | None = None  #: minibatch (default 64); sgd: 1; gd: None (all samples)
    seed: int = 0
    dtype: str = "float32"
    data: str = "embedded"
    limit: int | None = None  #: train on the first ``limit`` training samples only
    check_every: int = 50  #: steps between gradient checks (also one at the end); 0: none
    strict: bool = False  #: a failed (or over-budget) gradient check stops the run
    tol_fd: float = 1e-6
    tol_closed_form: float = 1e-10
    checkpoint_every: int | None = None  #: epochs; default 1 (gd: 25); always at the end
    budget: float = DEFAULT_BUDGET  #: seconds each gradient check may take; past it, skipped

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
        if not _positive(self.budget):
            raise TrainingError(f"--budget must be a positive number of seconds, got "
                                f"{self.budget}")
        if self.batch_size is None and self.optimizer != "gd":
            object.__setattr__(self, "batch_size",
                               1 if self.optimizer == "sgd" else DEFAULT_BATCH)

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
                                f"{json_kind(d)}; restore the file or start a new run")
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
    "budget": "number",
}
_KIND_TEXT = {"sizes": "a list of whole numbers like [784, 10, 10]", "str": "a string",
              "number": "a number", "int": "a whole number", "int?": "a whole number or null",
              "bool": "true or false"}


def _positive(v: Any) -> bool:
    try:
        return math.isfinite(v) and v > 0
    except OverflowError:  # an integer too large for a float
        return False


def is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def json_kind(v: Any) -> str:
    kinds = ((list, "a list"), (str, "a string"), (bool, "a boolean"), (dict, "an object"))
    return next((k for t, k in kinds if isinstance(v, t)), "null" if v is None else repr(v))


def _check_types(config: TrainConfig) -> None:
    for name, kind in _SETTING_TYPES.items():
        v = getattr(config, name)
        ok = {
            "sizes": isinstance(v, (tuple, list)) and all(is_int(n) for n in v),
            "str": isinstance(v, str),
            "number": (isinstance(v, (int, float, np.floating, np.integer))
                       and not isinstance(v, (bool, np.bool_))),
            "int": is_int(v), "int?": v is None or is_int(v),
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


