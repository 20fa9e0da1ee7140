"""Writing files safely: one atomic-write helper, the checks before a long job writes, and the
run-directory lock.

Every file jacobian_lab writes (run directories, reports, plots, generated kernels, the proof
cache, downloads) goes through :func:`atomic_write`: a temporary file beside the target,
fsync, ``os.replace``, then an fsync of the directory. A crash or ``kill -9`` at any moment
leaves the old file or the new one, never a cut-off mix; a failure (disk full, read-only file
system, no permission, a file-size limit) removes the temporary file and is a one-line
:class:`~jacobian_lab.errors.FileError` naming the file and what to do. A killed writer's
temporary file (``.<name>.<pid>-<8 hex>.tmp``) is removed by :func:`remove_stale_temps`.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "notes.md"
>>> atomic_write_text(p, "# notes\\n").read_text()
'# notes\\n'
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import urllib.error
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from jacobian_lab.errors import FileError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: run directories are not locked
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "RunDirLock", "atomic_write", "atomic_write_bytes", "atomic_write_text", "cache_dir",
    "check_output_path", "describe_os_error", "fsync_dir", "remove_stale_temps", "temp_name",
]

#: The temporary files :func:`atomic_write` creates: ``.<file>.<pid>-<8 hex digits>.tmp``.
TEMP_FILE = re.compile(r"\.(?P<name>[^/]+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp")
#: errno values that mean "this file cannot be written", as opposed to an error of whatever
#: produced the bytes (a network error raised inside a writer is passed through unchanged).
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS,
                           errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR,
                           errno.EISDIR, errno.ELOOP, errno.ENAMETOOLONG})
LOCK_FILE = ".lock"


def cache_dir() -> Path:
    """The cache root: ``$JLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/jacobian_lab``, else
    ``~/.cache/jacobian_lab``."""
    if os.environ.get("JLAB_CACHE_DIR"):
        return Path(os.environ["JLAB_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "jacobian_lab"


def describe_os_error(path: str | os.PathLike[str], exc: OSError, verb: str = "write") -> str:
    """One line: the file, what went wrong and what to do about it.

    >>> describe_os_error("/x/y.md", OSError(28, "No space left on device"))[:50]
    'cannot write /x/y.md: no space left on device (the'
    """
    p = Path(path)
    why = (exc.strerror or str(exc)).rstrip(".")
    why = why[:1].lower() + why[1:]
    hint = {
        errno.ENOSPC: " (the disk is full): free space or write elsewhere",
        errno.EDQUOT: " (the disk quota is used up): free space or write elsewhere",
        errno.EFBIG: " (a file-size limit, see `ulimit -f`): raise the limit or write less",
        errno.EROFS: " (a read-only file system): choose a writable location",
        errno.EACCES: f" (no permission in {p.parent}): choose a writable location",
        errno.EPERM: f" (no permission in {p.parent}): choose a writable location",
        errno.ENOENT: f" (is there a directory {p.parent}?): create it first",
        errno.ENOTDIR: f" ({p.parent} is not a directory)",
        errno.EISDIR: " (it is a directory): name a file",
        errno.ELOOP: " (a symbolic link loop): fix or remove the link",
    }.get(exc.errno or 0, "")
    return f"cannot {verb} {p}: {why}{hint}"


def temp_name(path: Path) -> Path:
    """The temporary file :func:`atomic_write` uses for ``path`` (pattern :data:`TEMP_FILE`)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _target(path: str | os.PathLike[str]) -> Path:
    """The file to replace: a symbolic link is followed (the link stays a link); anything
    that exists and is not a regular file (a directory, /dev/full, a FIFO) is refused."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if p.is_symlink():  # a dangling link: write where it points
            return Path(os.path.realpath(p))
        return p
    except OSError as e:
        raise FileError(describe_os_error(p, e)) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise FileError(f"cannot write {p}: it is {kind}" + (
            f" ({os.path.realpath(p)})" if p.is_symlink() else "") + "; name a regular file")
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object],
                 *, durable: bool = True) -> Path:
    """Call ``write(f)`` on a temporary file beside ``path``, then move it onto ``path``.

    ``durable``: fsync the file before the rename and the directory after it. On any error the
    temporary file is removed and the previous ``path`` is untouched; errors writing the file
    become :class:`FileError`, other errors raised by ``write`` pass through.
    """
    target = _target(path)
    tmp = temp_name(target)
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as e:
        _unlink_quietly(tmp)
        if e.errno in _WRITE_ERRNOS and not _is_network_error(e):
            raise FileError(describe_os_error(path, e)) from None
        raise
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if durable:
        fsync_dir(target.parent)
    return Path(path)


def _is_network_error(e: OSError) -> bool:
    return isinstance(e, (urllib.error.URLError, ConnectionError))


def _unlink_quietly(path: Path) -> None:
    # A read-only directory answers unlink() with EROFS/EACCES even for a file that was never
    # created: never let that mask the error being reported.
    with contextlib.suppress(OSError):
        os.unlink(path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *,
                       durable: bool = True) -> Path:
    """:func:`atomic_write` of ``data``."""
    return atomic_write(path, lambda f: f.write(data), durable=durable)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, durable: bool = True) -> Path:
    """:func:`atomic_write` of ``text`` as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable, where the platform can (not on Windows)."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems cannot sync a directory
            os.fsync(fd)
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether another process ``pid`` runs (this process counts as not: it is
    single-threaded, so none of its own temporary files is being written now)."""
    if pid == os.getpid():
        return False
    if os.name != "posix":
        return False  # Windows refuses to delete a file still open, which is the check we need
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: alive, another user's
        return True
    return True


def remove_stale_temps(directory: Path, names: Collection[str] | None = None) -> list[Path]:
    """Remove the temporary files killed writers left in ``directory``; return them.

    Only files of our own pattern (:data:`TEMP_FILE`), for a file in ``names`` (None: any),
    written by a process that no longer runs: a writer still at work keeps its file.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        m = TEMP_FILE.fullmatch(entry.name)
        if (m is None or (names is not None and m["name"] not in names)
                or not entry.is_file(follow_symlinks=False) or pid_alive(int(m["pid"]))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def check_output_path(path: str | os.PathLike[str], option: str,
                      suffixes: Iterable[str] | None = None) -> Path:
    """Refuse, before any long work, an output path that cannot be written.

    Checks the suffix (when ``suffixes`` is given), that the directory exists and is writable,
    and that ``path`` is not a directory or a device. Returns ``path``.
    """
    p = Path(path)
    if not str(path).strip():
        raise FileError(f"{option} needs a file name, got an empty string")
    if suffixes is not None:
        allowed = tuple(suffixes)
        if p.suffix.lower() not in allowed:
            raise FileError(f"{option} {p}: unknown format `{p.suffix or p.name}`; use one of: "
                            f"{', '.join(allowed)}")
    target = _target(p)  # a directory or /dev/full: refused here
    parent = target.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise FileError(f"{option} {p}: the directory {parent} {what}; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FileError(f"{option} {p}: no permission to write in {parent}; choose a writable "
                        "location")
    try:
        probe = os.statvfs(parent)
    except (OSError, AttributeError):
        return p
    if probe.f_flag & getattr(os, "ST_RDONLY", 0):
        raise FileError(f"{option} {p}: {parent} is on a read-only file system; choose a "
                        "writable location")
    return p


class RunDirLock:
    """An exclusive lock on a run directory, held while a run writes into it.

    ``fcntl.flock`` on ``<dir>/.lock``: the operating system releases it when the process ends,
    however it ends, so a lock left by a killed run never blocks. The file holds the PID of
    the holder, which the error of a second run names.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunDirLock:
        if fcntl is None:  # pragma: no cover - not POSIX: no lock
            return self
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise FileError(describe_os_error(self.path, e, "lock the run directory at")
                            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = b""
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 32, 0)
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise FileError(describe_os_error(self.path, e, "lock")) from None
            pid = holder.decode("ascii", "replace").strip() or "unknown"
            raise FileError(f"{self.directory} is in use by another run (PID {pid}); wait for "
                            "it to finish or choose another --run-dir") from None
        with contextlib.suppress(OSError):  # the PID is only for the message above
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
