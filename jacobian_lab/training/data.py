"""Data for the trainer, looked up by name: MNIST-format IDX files, a checked download, and an
offline default shipped in the package.

Three sources, one result type (:class:`~jacobian_lab.training.dataset.Dataset`, images as
float32 rows in [0, 1]), each in its own module:

* :mod:`.idx` — :func:`load_idx_dir` reads the four standard IDX files
  (``train-images-idx3-ubyte[.gz]`` …) of a directory: real MNIST, or Fashion-MNIST from
  Debian's ``dataset-fashion-mnist``;
* :mod:`.fetch` — :func:`fetch_mnist` downloads real MNIST into the user's cache, verified by
  SHA-256, bounded in size and time;
* :mod:`.embedded` — :func:`load_embedded`: the 5,000 real MNIST digits shipped inside the
  package (``mnist_5k.npz``, SHA-256 checked; attribution in ``MNIST_5K_NOTICE.txt``).

:func:`load_dataset` picks one of them by name; the names of the three modules are importable
from here too. Everything uses NumPy and the standard library only, and every failure is a
:class:`~jacobian_lab.errors.DataError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

from jacobian_lab.errors import DataError, did_you_mean
from jacobian_lab.training.dataset import IMAGE_SIDE, N_CLASSES, Dataset, check_dataset
from jacobian_lab.training.embedded import (
    EMBEDDED_SHA256,
    embedded_path,
    load_embedded,
    read_embedded,
)
from jacobian_lab.training.fetch import (
    MAX_DOWNLOAD_BYTES,
    MAX_TIMEOUT,
    MNIST_MIRROR,
    MNIST_SHA256,
    MNIST_SIZES,
    Progress,
    default_cache_dir,
    fetch_mnist,
)
from jacobian_lab.training.idx import (
    FASHION_MNIST_DIR,
    MAX_IDX_BYTES,
    MNIST_FILES,
    fashion_mnist_dir,
    find_idx,
    load_idx_dir,
    read_idx,
    write_idx,
)

__all__ = [
    "EMBEDDED_SHA256", "FASHION_MNIST_DIR", "IMAGE_SIDE", "MAX_DOWNLOAD_BYTES", "MAX_IDX_BYTES",
    "MAX_TIMEOUT", "MNIST_FILES", "MNIST_MIRROR", "MNIST_SHA256", "MNIST_SIZES", "N_CLASSES",
    "Dataset", "Progress", "check_dataset", "default_cache_dir", "embedded_path",
    "fashion_mnist_dir", "fetch_mnist", "load_dataset", "load_embedded", "load_idx_dir",
    "read_embedded", "read_idx", "write_idx",
]

_NAMES = ("embedded", "mnist", "fashion-mnist")


def load_dataset(spec: str | None = None) -> Dataset:
    """``None``/``"embedded"``, ``"mnist"`` (downloaded), ``"fashion-mnist"``, or a directory.

    >>> load_dataset("mnsit")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    jacobian_lab.errors.DataError: unknown dataset 'mnsit': ... — did you mean `mnist`?
    """
    if spec is None or spec == "embedded":
        return load_embedded()
    if spec == "mnist":
        d = default_cache_dir() / "mnist"
        if not all(find_idx(d, stem) for _, i, lab in MNIST_FILES for stem in (i, lab)):
            raise DataError(f"MNIST is not downloaded (looked in {d}): "
                            "run `jlab data fetch mnist`")
        return load_idx_dir(d)
    if spec == "fashion-mnist":
        fashion = fashion_mnist_dir()
        if fashion is None:
            raise DataError(f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR}: "
                            "run `apt-get install dataset-fashion-mnist`")
        return load_idx_dir(fashion)
    if Path(spec).expanduser().is_dir():
        return load_idx_dir(Path(spec).expanduser())
    raise DataError(f"unknown dataset {spec!r}: use {', '.join(_NAMES)} or a directory of "
                    f"MNIST IDX files{did_you_mean(spec, _NAMES)}")
