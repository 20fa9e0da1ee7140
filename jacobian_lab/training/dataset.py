"""The trainer's data type: :class:`Dataset` (images as float32 rows in [0, 1], int64 labels)
and :func:`check_dataset`, the guard every source's result (or a dataset built in code) passes
before a run. NumPy only; every failure is a :class:`~jacobian_lab.errors.DataError`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.errors import DataError

__all__ = ["IMAGE_SIDE", "N_CLASSES", "Dataset", "check_dataset", "check_labels", "to_rows"]

N_CLASSES = 10
IMAGE_SIDE = 28


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Images as rows ``(n_samples, 784)`` of float32 in [0, 1]; labels int64 in 0..9.

    The trainer transposes to columns (one sample per column) itself.
    """

    x_train: NDArray[np.float32]
    y_train: NDArray[np.int64]
    x_test: NDArray[np.float32]
    y_test: NDArray[np.int64]
    source: str

    def __repr__(self) -> str:
        return (f"Dataset({self.source!r}, train={self.x_train.shape[0]}×{self.x_train.shape[1]}, "
                f"test={self.x_test.shape[0]}×{self.x_test.shape[1]})")


def check_dataset(ds: Dataset, n_classes: int | None = None) -> None:
    """Raise :class:`DataError` unless ``ds`` can be trained on: as many labels as images,
    finite pixels (no NaN, no ±Inf), whole-number labels in ``0..n_classes − 1`` (without
    ``n_classes``: not negative). The message counts the bad values and names the first.

    The loaders here produce valid data by construction (bytes scaled to [0, 1]); this guards
    a :class:`Dataset` built in code, which would otherwise train on NaN without a word.

    >>> import numpy as np
    >>> x = np.zeros((3, 4), np.float32); x[1, 2] = np.nan
    >>> y = np.array([0, 1, 2])
    >>> check_dataset(Dataset(x, y, x[:0], y[:0], "mine"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    jacobian_lab.errors.DataError: mine: the training images hold 1 NaN in 1 of 3 samples ...
    """
    for split, x, y in (("training", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise DataError(f"{ds.source}: the {split} set has images of shape {x.shape} and "
                            f"labels of shape {y.shape}; expected (samples, pixels) and "
                            "(samples,)")
        if x.shape[0] == 0:
            raise DataError(f"{ds.source}: the {split} set has 0 samples; it needs at least one")
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise DataError(f"{ds.source}: the {split} images are of dtype {x.dtype}, "
                            "not numbers")
        if np.issubdtype(x.dtype, np.floating):
            finite = np.isfinite(x)
            if not finite.all():
                counts = [(int(np.count_nonzero(f(x))), what) for f, what in (
                    (np.isnan, "NaN"), (np.isposinf, "+Inf"), (np.isneginf, "-Inf"))]
                rows = np.flatnonzero(~finite.all(axis=1))
                r = int(rows[0])
                c = int(np.flatnonzero(~finite[r])[0])
                raise DataError(f"{ds.source}: the {split} images hold "
                                + ", ".join(f"{n} {what}" for n, what in counts if n)
                                + f" in {rows.size} of {x.shape[0]} samples (the first: "
                                f"sample {r}, pixel {c}); remove or repair those samples")
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{ds.source}: the {split} labels are of dtype {y.dtype}; labels "
                            "are whole numbers (class indices 0, 1, …)")
        outside = y < 0 if n_classes is None else (y < 0) | (y >= n_classes)
        bad = np.flatnonzero(outside)
        if bad.size:
            allowed = "0 or more" if n_classes is None else f"0..{n_classes - 1}"
            raise DataError(f"{ds.source}: {split} labels must be {allowed}; {bad.size} are "
                            f"not (the first: {int(y[bad[0]])} at sample {int(bad[0])})")



def to_rows(images: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Images of bytes (any shape after the first axis) as float32 rows in [0, 1]."""
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    x /= np.float32(255)
    return x


def check_labels(labels: NDArray[np.integer], where: str) -> NDArray[np.int64]:
    """``labels`` as int64, or a :class:`DataError` naming ``where`` and the first label
    outside 0..9."""
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        raise DataError(f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} is "
                        f"outside 0..{N_CLASSES - 1} ({bad.size} such labels)")
    return labels.astype(np.int64)
