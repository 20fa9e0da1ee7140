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
from jacobian_lab.training.fused import FusedEpoch, FusedStepError

__all__ = ["CHUNK", "EVAL_CHUNK", "Buffers", "StepHook", "TrainData", "Wants", "evaluate",
           "prepare_data", "train_epoch"]

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


StepHook = Callable[[int, float, Array | None, Array | None], None]
"""``hook(batch_index, loss, X, Y)``, called after the forward pass and before the update.
Under the fused step ``X`` and ``Y`` are None but for the batches ``wants`` names, which go
through the NumPy kernels (the gradient checks look at them)."""
Wants = Callable[[int], bool]
CHUNK = 32  #: batches per call of the fused step between two rounds of hook calls


def train_epoch(net: model.Network, data: TrainData, order: NDArray[np.intp] | None,
                batch_size: int, lr: float, *, hook: StepHook | None = None,
                buffers: dict[int, Buffers] | None = None, fused: FusedEpoch | None = None,
                wants: Wants | None = None) -> tuple[float, int]:
    """One pass over the training set in batches of ``batch_size`` (the last may be smaller).

    ``order`` is the sample order (None: as stored, taken as views without copying). Returns
    the sum over batches of ``loss × batch size`` and the number of correct predictions, both
    seen before each batch's update. With ``fused`` (and unless it has disagreed with the
    kernels: :attr:`~.fused.FusedEpoch.broken`) the batches run through the generated fused
    step, but for those ``wants(b)`` names, which run through the NumPy kernels and are then
    compared with the fused step; after a disagreement the rest of the epoch runs through the
    kernels.
    """
    first, loss_sum, correct = 0, 0.0, 0
    if fused is not None and fused.broken is None:
        first, loss_sum, correct = _train_fused(net, data, order, batch_size, lr, hook, fused,
                                                wants)
    if first * batch_size < data.n_train:
        more_loss, more_correct = _train_kernels(net, data, order, batch_size, lr, hook,
                                                 buffers, first)
        loss_sum, correct = loss_sum + more_loss, correct + more_correct
    return loss_sum, correct


def _train_kernels(net: model.Network, data: TrainData, order: NDArray[np.intp] | None,
                   batch_size: int, lr: float, hook: StepHook | None,
                   buffers: dict[int, Buffers] | None, first: int) -> tuple[float, int]:
    """Batches ``first …`` through the NumPy kernels, gathered into reused buffers."""
    n = data.n_train
    cache = {} if buffers is None else buffers
    xs, ys, labs = data.x_train, data.y_train, data.labels_train
    step = net.dtype.type(lr)
    loss_sum, correct = 0.0, 0
    buf = None
    for b, start in enumerate(range(first * batch_size, n, batch_size), first):
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


def _train_fused(net: model.Network, data: TrainData, order: NDArray[np.intp] | None,
                 batch_size: int, lr: float, hook: StepHook | None, fused: FusedEpoch,
                 wants: Wants | None) -> tuple[int, float, int]:
    """Batches through the fused step, ``CHUNK`` per call; the batches ``wants`` names
    through the kernels, then compared. Returns (batches done, loss sum, correct)."""
    n, B = data.n_train, batch_size
    nb = -(-n // B)
    xs, ys, labs = data.x_train, data.y_train, data.labels_train
    order = np.arange(n) if order is None else order
    costs, hits = np.zeros(nb), np.zeros(nb, np.int64)
    sizes = np.full(nb, B, dtype=np.float64)
    sizes[-1] = n - (nb - 1) * B
    b = 0
    while b < nb:
        if wants is not None and wants(b):
            before = net.copy()
            idx = order[b * B:(b + 1) * B]
            X, Y = xs[idx].T, ys[idx].T
            fw = model.forward(net, X)
            costs[b] = model.loss(net, fw, Y)
            hits[b] = model.count_correct(fw, labs[idx])
            if hook is not None:
                hook(b, float(costs[b]), X, Y)
            model.sgd_update(net, model.backward(net, fw, Y), net.dtype.type(lr))
            b += 1
            try:
                fused.compare(net, before, xs, ys, labs, order, b - 1, B, lr, float(costs[b - 1]))
            except FusedStepError as e:
                fused.broken = str(e)
                break
            continue
        stop = min(nb, b + CHUNK)
        if wants is not None:
            stop = next((i for i in range(b + 1, stop) if wants(i)), stop)
        fused.run(net, xs, ys, labs, order, b, stop, B, lr, costs, hits)
        if hook is not None:
            for i in range(b, stop):
                hook(i, float(costs[i]), None, None)
        b = stop
    return b, float(costs[:b] @ sizes[:b]), int(hits[:b].sum())


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

