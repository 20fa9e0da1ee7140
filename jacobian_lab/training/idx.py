"""MNIST-format IDX files: read (gzipped or not, header checked before anything is
unpacked), write (atomically), and load the four files of a directory into a
:class:`~jacobian_lab.training.dataset.Dataset` — real MNIST, or Fashion-MNIST from Debian's
``dataset-fashion-mnist``. NumPy and the standard library only.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
>>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
>>> read_idx(path).tolist()
[3, 1, 4]
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.errors import DataError
from jacobian_lab.files import atomic_write_bytes, describe_os_error
from jacobian_lab.training.dataset import IMAGE_SIDE, Dataset, check_labels, to_rows

__all__ = ["FASHION_MNIST_DIR", "MAX_IDX_BYTES", "MNIST_FILES", "fashion_mnist_dir",
           "find_idx", "load_idx_dir", "read_idx", "write_idx"]

#: (split, images file, labels file), names without ``.gz``.
MNIST_FILES = (
    ("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32",
              0x0D: "float32", 0x0E: "float64"}
_CHUNK = 1 << 16


@contextlib.contextmanager
def _open_idx(path: Path) -> Iterator[BinaryIO]:
    """The file's byte stream, gunzipped as it is read when it starts with 1f 8b."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(describe_os_error(path, e, "read")) from None
    with f:
        magic = f.read(2)
        f.seek(0)
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=f, mode="rb") as g:
                yield g  # type: ignore[misc]
            return
        if path.name.endswith(".gz"):
            raise DataError(f"{path}: not a gzip file (it starts with "
                            f"{magic.hex(' ') or 'nothing'}, a gzip file with 1f 8b)")
        yield f


def _read_exactly(stream: BinaryIO, n: int, path: Path) -> bytes:
    try:
        data = stream.read(n)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return data



#: The largest payload an IDX file may announce (the full MNIST training images: 47 MB).
#: The header is read first and a larger size is refused before anything is unpacked.
MAX_IDX_BYTES = 1 << 30


def read_idx(path: str | os.PathLike[str], *, ndim: int | None = None,
             max_bytes: int = MAX_IDX_BYTES) -> NDArray[np.uint8]:
    """Read an IDX file of unsigned bytes (gzipped or not) into an array of its dimensions.

    ``ndim`` (1 for labels, 3 for images) is checked when given. The header is read first: a
    payload it announces above ``max_bytes`` (default :data:`MAX_IDX_BYTES`) is refused before
    anything is unpacked, and the payload is streamed into an array of exactly that size, so
    a gzip bomb costs no memory. Raises :class:`DataError` for a bad magic number, another
    element type, a header or payload that does not fit.
    """
    path = Path(path)
    with _open_idx(path) as stream:
        head = _read_exactly(stream, 4, path)
        if len(head) < 4:
            raise DataError(f"{path}: truncated: {len(head)} bytes, too short for an IDX header")
        if head[:2] != b"\0\0":
            raise DataError(f"{path}: bad magic number {head[:4].hex(' ')}: an IDX file starts "
                            "with 00 00 08 then the number of dimensions")
        type_code, n = head[2], head[3]
        if type_code != _IDX_UBYTE:
            kind = _IDX_TYPES.get(type_code, "unknown")
            raise DataError(f"{path}: type code 0x{type_code:02x} ({kind}) is not supported; "
                            "MNIST files hold unsigned bytes (0x08)")
        if n == 0 or (ndim is not None and n != ndim):
            expected = f"{ndim}" if ndim is not None else "at least 1"
            raise DataError(f"{path}: header says {n} dimensions, expected {expected}")
        dims_raw = _read_exactly(stream, 4 * n, path)
        if len(dims_raw) < 4 * n:
            raise DataError(f"{path}: truncated: the header needs {4 + 4 * n} bytes, found "
                            f"{4 + len(dims_raw)}")
        dims = struct.unpack(f">{n}I", dims_raw)
        expected_bytes = math.prod(dims)
        what = "label" if n == 1 else "pixel"
        shape = "×".join(map(str, dims))
        if expected_bytes > max_bytes:
            raise DataError(f"{path}: the header announces {expected_bytes:,} bytes of {what} "
                            f"data ({shape}), more than the limit of {max_bytes:,} bytes; "
                            "refused before unpacking")
        out = np.empty(expected_bytes, dtype=np.uint8)
        view, done = out.data, 0
        while done < expected_bytes:
            block = _read_exactly(stream, min(_CHUNK * 16, expected_bytes - done), path)
            if not block:
                break
            view[done:done + len(block)] = block
            done += len(block)
        if done < expected_bytes:
            raise DataError(f"{path}: truncated: expected {expected_bytes} bytes of {what} data "
                            f"for dimensions {shape}, found {done}")
        extra = len(_read_exactly(stream, _CHUNK, path))
        if extra:
            more = "" if extra < _CHUNK else " or more"
            raise DataError(f"{path}: {extra}{more} extra bytes after the {expected_bytes} "
                            f"bytes of {what} data that the header announces")
    return out.reshape(dims)


def write_idx(path: str | os.PathLike[str], array: NDArray[np.integer]) -> None:
    """Write an array of integers in 0..255 as an IDX file; gzipped when the name ends in .gz.

    The write is atomic (a temporary file, then a rename).
    """
    path = Path(path)
    a = np.asarray(array)
    if a.ndim == 0 or a.ndim > 255 or not np.issubdtype(a.dtype, np.integer):
        raise DataError(f"{path}: IDX needs an integer array of 1 to 255 dimensions, "
                        f"got dtype {a.dtype} with {a.ndim} dimensions")
    if a.size and (a.min() < 0 or a.max() > 255):
        raise DataError(f"{path}: values must be in 0..255 (unsigned bytes), "
                        f"got {a.min()}..{a.max()}")
    if any(d >= 2**32 for d in a.shape):
        raise DataError(f"{path}: dimension {max(a.shape)} does not fit an IDX header")
    payload = (struct.pack(f">BBBB{a.ndim}I", 0, 0, _IDX_UBYTE, a.ndim, *a.shape)
               + np.ascontiguousarray(a, dtype=np.uint8).tobytes())
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    atomic_write_bytes(path, payload)


def find_idx(directory: Path, stem: str) -> Path | None:
    """``stem`` or ``stem.gz`` in ``directory``; None when neither exists. Something by that
    name that is not a readable file (a directory, a dangling link, a link loop) is an error
    saying so."""
    for name in (stem, stem + ".gz"):
        p = directory / name
        try:
            st = os.stat(p)
        except FileNotFoundError:
            if p.is_symlink():
                raise DataError(f"{p}: a symbolic link to {os.readlink(p)}, which does not "
                                "exist; fix the link or replace it by the file") from None
            continue
        except OSError as e:
            raise DataError(describe_os_error(p, e, "read")) from None
        if stat.S_ISDIR(st.st_mode):
            raise DataError(f"{p}: a directory, not an IDX file; put the file itself there")
        if not stat.S_ISREG(st.st_mode):
            raise DataError(f"{p}: not a regular file; put the IDX file itself there")
        return p
    return None



def load_idx_dir(directory: str | os.PathLike[str]) -> Dataset:
    """Load the four MNIST-format IDX files (plain or ``.gz``) from ``directory``.

    Checks 28×28 images, as many labels as images, labels in 0..9.
    """
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: no such directory of MNIST IDX files")
    stems = [stem for _, images, labels in MNIST_FILES for stem in (images, labels)]
    found = {stem: find_idx(d, stem) for stem in stems}
    missing = [f"{stem}[.gz]" for stem, p in found.items() if p is None]
    if missing:
        present = sorted(p.name for p in d.iterdir())
        listing = ", ".join(present[:20]) + (" …" if len(present) > 20 else "")
        raise DataError(f"{d}: missing {', '.join(missing)}; "
                        f"the directory holds {listing or 'nothing'}")
    arrays: dict[str, tuple[NDArray[np.float32], NDArray[np.int64]]] = {}
    for split, images_stem, labels_stem in MNIST_FILES:
        images_path, labels_path = found[images_stem], found[labels_stem]
        assert images_path is not None and labels_path is not None
        images = read_idx(images_path, ndim=3)
        if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise DataError(f"{images_path}: expected {IMAGE_SIDE}×{IMAGE_SIDE} images, found "
                            f"{images.shape[1]}×{images.shape[2]}")
        if images.shape[0] == 0:
            raise DataError(f"{images_path}: holds 0 images; the {split} set needs at least "
                            "one")
        labels = read_idx(labels_path, ndim=1)
        if labels.shape[0] != images.shape[0]:
            raise DataError(f"{images_path.name} has {images.shape[0]} images but "
                            f"{labels_path.name} has {labels.shape[0]} labels (in {d})")
        arrays[split] = (to_rows(images), check_labels(labels, str(labels_path)))
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    return Dataset(x_train, y_train, x_test, y_test, source=f"IDX files in {d}")


def fashion_mnist_dir() -> Path | None:
    """Debian's Fashion-MNIST (``apt-get install dataset-fashion-mnist``), if installed."""
    return FASHION_MNIST_DIR if FASHION_MNIST_DIR.is_dir() else None


