"""The hot loop's data and its passes: :class:`TrainData` (the run's arrays, cut, cast and
one-hot), :func:`train_epoch` (one pass in batches, gathered into preallocated buffers) and
:func:`evaluate` (loss, accuracy and predictions over a set, in chunks).

Nothing here writes a file or prints: the loop (:mod:`.loop`) calls these and keeps the
books around them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.errors import TrainingError
from jacobian_lab.training import model
from jacobian_lab.training.config import TrainConfig
from jacobian_lab.training.dataset import Dataset, check_dataset

__all__ = ["EVAL_CHUNK", "Buffers", "StepHook", "TrainData", "evaluate", "prepare_data",
           "train_epoch"]

Array = NDArray[Any]
EVAL_CHUNK = 4096


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


class Buffers:
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
                buffers: dict[int, Buffers] | None = None) -> tuple[float, int]:
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
            buf = cache.get(m) or cache.setdefault(m, Buffers(net.sizes, m, net.dtype))
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

