"""Download real MNIST into the user's cache: each file verified by SHA-256 before it lands
(atomically), bounded in size (its published size, or a cap) and in time (a deadline for the
whole file, with a watchdog that cuts a server dripping its headers). Standard library only.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from jacobian_lab import files
from jacobian_lab.errors import DataError, JlabError
from jacobian_lab.files import atomic_write, describe_os_error, remove_stale_temps
from jacobian_lab.training.idx import MNIST_FILES

__all__ = ["MAX_DOWNLOAD_BYTES", "MAX_TIMEOUT", "MNIST_MIRROR", "MNIST_SHA256", "MNIST_SIZES",
           "Progress", "default_cache_dir", "fetch_mnist"]

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


Progress = Callable[[str, int, int | None], None]
"""``progress(file_name, bytes_done, bytes_total_or_None)``, called as a download goes on."""


_CHUNK = 1 << 16


def default_cache_dir() -> Path:
    """The cache root: ``$JLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/jacobian_lab``, else
    ``~/.cache/jacobian_lab`` (:func:`jacobian_lab.files.cache_dir`)."""
    return files.cache_dir()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()



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
    except (_Deadline, OSError, http.client.HTTPException, ValueError) as e:
        raise _download_error(e, name, url, timeout) from None


def _download_error(e: BaseException, name: str, url: str, timeout: float) -> DataError:
    """What went wrong with a download, in one line that says nothing was saved."""
    timed_out = (f"timed out: {name} did not arrive within --timeout {timeout:g} s from {url}; "
                 "nothing was saved")
    if isinstance(e, _Deadline | TimeoutError):
        return DataError(f"{timed_out} (a slower network needs a larger --timeout)")
    if isinstance(e, urllib.error.HTTPError):
        e.close()  # it holds the open response
        if 300 <= e.code < 400:
            return DataError(f"too many redirects (HTTP {e.code}, a redirect loop?) for {url}; "
                             "check --mirror; nothing was saved")
        return DataError(f"HTTP {e.code} {_one_line(e.reason)} for {url}; nothing was saved")
    if isinstance(e, urllib.error.URLError):
        if isinstance(e.reason, TimeoutError):
            return DataError(timed_out)
        return DataError(f"cannot download {url}: {_one_line(e.reason)}; nothing was saved")
    if isinstance(e, http.client.IncompleteRead):
        return DataError(f"truncated download of {name} from {url}: received {len(e.partial)} "
                         "bytes before the connection closed; nothing was saved")
    return DataError(f"downloading {url} failed ({type(e).__name__}: {_one_line(e)}); "
                     "nothing was saved")


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


