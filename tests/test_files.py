"""jacobian_lab.files: the one atomic-write helper, output-path checks, the run-directory lock.

Real failures, not mocks: a file-size limit (RLIMIT_FSIZE) for a write that cannot finish,
/dev/full behind a symbolic link, a second process holding the lock, a killed holder.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jacobian_lab import files
from jacobian_lab.errors import FileError, JlabError

posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX rlimits and flock")


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_atomic_write_text_writes_the_whole_file_and_no_temporary(tmp_path: Path) -> None:
    path = files.atomic_write_text(tmp_path / "a.md", "# hello\n")
    assert path.read_text() == "# hello\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"]


@posix_only
def test_a_write_cut_by_a_file_size_limit_keeps_the_previous_file_and_names_the_limit(
        tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    path.write_text("previous good report\n")
    with file_size_limit(1000), pytest.raises(FileError) as e:
        files.atomic_write_bytes(path, b"x" * 50_000)
    assert str(e.value).startswith(f"cannot write {path}: file too large")
    assert "ulimit -f" in str(e.value) and "\n" not in str(e.value)
    assert path.read_text() == "previous good report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_a_symlink_to_dev_full_is_refused_and_the_link_kept(tmp_path: Path) -> None:
    link = tmp_path / "h.md"
    link.symlink_to("/dev/full")
    with pytest.raises(FileError, match=r"h\.md: it is not a regular file \(/dev/full\)"):
        files.atomic_write_text(link, "text")
    assert link.is_symlink()


def test_a_symlink_to_a_file_updates_the_target_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "real.md").write_text("old")
    link = tmp_path / "h.md"
    link.symlink_to("real.md")
    files.atomic_write_text(link, "new")
    assert link.is_symlink() and (tmp_path / "real.md").read_text() == "new"


def test_a_directory_as_the_target_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="it is a directory"):
        files.atomic_write_text(tmp_path, "x")


def test_an_error_raised_by_the_writer_passes_through_and_leaves_nothing(
        tmp_path: Path) -> None:
    def write(f: object) -> None:
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        files.atomic_write(tmp_path / "x.gz", write)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_the_error_of_a_missing_directory_is_not_masked_by_the_cleanup(tmp_path: Path) -> None:
    with pytest.raises(FileError, match=r"no such file or directory \(is there a directory"):
        files.atomic_write_text(tmp_path / "missing" / "a.md", "x")


@pytest.mark.parametrize(("name", "message"), [
    ("missing/a.md", "the directory .*missing does not exist; create it first"),
    ("a.docx", r"unknown format `\.docx`; use one of: \.md"),
    ("", "needs a file name"),
])
def test_check_output_path_refuses_before_any_work(tmp_path: Path, name: str,
                                                   message: str) -> None:
    with pytest.raises(FileError, match=message):
        files.check_output_path(str(tmp_path / name) if name else "", "-o", [".md"])


def test_stale_temporary_files_of_dead_writers_are_removed_others_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".a.gz.{dead}-0a1b2c3d.tmp"
    alive = tmp_path / f".a.gz.{os.getppid()}-0a1b2c3d.tmp"
    other = tmp_path / f".b.gz.{dead}-0a1b2c3d.tmp"
    for p in (stale, alive, other):
        p.write_bytes(b"partial")
    assert files.remove_stale_temps(tmp_path, {"a.gz"}) == [stale]
    assert alive.exists() and other.exists()


HOLD = """
import sys, time
from pathlib import Path
from jacobian_lab.files import RunDirLock
lock = RunDirLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


@posix_only
def test_a_second_run_is_refused_naming_the_holders_pid_and_a_killed_holder_does_not_block(
        tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(FileError, match=rf"in use by another run \(PID {holder.pid}\)"):
            files.RunDirLock(tmp_path).acquire()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    t0 = time.monotonic()
    with files.RunDirLock(tmp_path):  # the OS released the dead holder's lock
        pass
    assert time.monotonic() - t0 < 1


def test_file_error_is_a_jlab_error_with_exit_code_2() -> None:
    assert issubclass(FileError, JlabError) and FileError.exit_code == 2
