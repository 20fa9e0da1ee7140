"""``make attack``: replay the hostile scenarios of issue 12 against real ``jlab`` processes.

Each named scenario reproduces one failure the issue reported (two runs in one directory, a
full disk, a slow or endless server, a gzip bomb, tampered files, bad paths …) and prints one
line with its outcome. ``--sweep`` (on in ``make attack``) also gives bad values to every
option of every command (empty, negative, zero, huge, NaN/inf, wrong type, a file, a
directory, a missing path, a read-only directory): each must exit with a code <= 2, print at
most one line on stderr, and leave nothing behind.

Only 127.0.0.1 is ever contacted. Read-only and permission scenarios run the child without
the capability to override file permissions when we are root (``setpriv``); the full-disk
scenarios use a small tmpfs in a private mount namespace (``unshare -rm``) and skip, saying so,
where that is not allowed. ``tests/test_attack.py`` runs the fast scenarios in ``make test``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

JLAB = [sys.executable, "-m", "jacobian_lab"]
ENV = {**os.environ, "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
       "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
#: As root, the child runs without CAP_DAC_OVERRIDE, so that file permissions apply to it.
NO_OVERRIDE = (["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
               if ROOT and shutil.which("setpriv") else [])
SMALL_TRAIN = ["--epochs", "1", "--limit", "200", "--check-every", "0", "--no-plots",
               "--quiet"]


class Failed(Exception):
    """A scenario whose outcome is wrong."""


class Skipped(Exception):
    """A scenario this machine cannot stage (no tmpfs namespace …)."""


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        return [ln for ln in self.stderr.strip().splitlines() if ln.strip()]


def run(argv: list[str], cwd: Path, *, timeout: float = 120, prefix: list[str] | None = None,
        fsize: int | None = None, env: dict[str, str] | None = None,
        exe: list[str] | None = None) -> Run:
    """Run ``prefix + jlab + argv`` (``exe`` replaces ``jlab``) in ``cwd``."""
    def limit() -> None:
        import resource

        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    cmd = [*(prefix or []), *(JLAB if exe is None else exe), *argv]
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env={**ENV, **(env or {})}, preexec_fn=limit if fsize else None,
                       errors="replace")
    return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


def one_line_error(r: Run, *must: str, rc: int = 2) -> str:
    """The single stderr line of a refused command, checked; raises :class:`Failed`."""
    if r.rc != rc:
        raise Failed(f"exit {r.rc} (expected {rc}); stderr: {r.stderr.strip()[-300:]!r}")
    if "Traceback" in r.stderr or len(r.lines) != 1:
        raise Failed(f"{len(r.lines)} lines on stderr: {r.stderr.strip()[:300]!r}")
    line = r.lines[0]
    for text in must:
        if text not in line:
            raise Failed(f"{text!r} not in {line!r}")
    return line


def listing(d: Path) -> list[str]:
    if not d.exists():
        return []
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def nothing_new(d: Path, before: list[str]) -> None:
    after = listing(d)
    extra = sorted(set(after) - set(before))
    if extra:
        raise Failed(f"left behind: {extra[:5]}")


# --------------------------------------------------------------------------- staging

def write_idx(path: Path, array: np.ndarray) -> None:
    payload = struct.pack(f">BBBB{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)
    path.write_bytes(gzip.compress(payload + array.astype(np.uint8).tobytes(), mtime=0))


def idx_dir(d: Path, n_train: int = 20, n_test: int = 10) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(d / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return d


def gzip_bomb(path: Path, announced: int, zeros: int) -> None:
    """A gzipped IDX file whose header announces ``announced`` images and whose stream
    holds ``zeros`` bytes of zeros (compressed about a thousandfold)."""
    block = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, announced, 28, 28))
        for _ in range(zeros // len(block)):
            f.write(block)


def max_rss_mib(argv: list[str], cwd: Path) -> tuple[Run, float]:
    """Run jlab through a tiny parent that reports the child's peak memory."""
    probe = ("import resource, subprocess, sys\n"
             "p = subprocess.run(sys.argv[2:], capture_output=True, text=True)\n"
             "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
             "open(sys.argv[1], 'w').write(str(resource.getrusage("
             "resource.RUSAGE_CHILDREN).ru_maxrss))\n"
             "sys.exit(p.returncode)\n")
    out = cwd / ".rss"
    p = subprocess.run([sys.executable, "-c", probe, str(out), *JLAB, *argv], cwd=cwd,
                       capture_output=True, text=True, env=ENV, timeout=120)
    r = Run(p.returncode, p.stdout, p.stderr, 0.0)
    rss = int(out.read_text()) / 1024
    out.unlink()
    return r, rss


def small_fs(script: str, kib: int, cwd: Path, *args: str, timeout: float = 120) -> Run:
    """Run a shell ``script`` (with $FS a fresh tmpfs of ``kib`` KiB) in a private mount
    namespace; its stdout reports what it needs to."""
    if not shutil.which("unshare"):
        raise Skipped("no unshare")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k t /mnt"],
                           capture_output=True)
    if probe.returncode != 0:
        raise Skipped("cannot mount a tmpfs in a user namespace here")
    fs = cwd / "fs"
    fs.mkdir(exist_ok=True)
    full = (f'mount -t tmpfs -o size={kib}k jlabfs "$FS" || exit 99\n'
            f"{script}")
    t0 = time.monotonic()
    p = subprocess.run(["unshare", "-rm", "sh", "-c", full, "sh", *args], cwd=cwd,
                       capture_output=True, text=True, timeout=timeout,
                       env={**ENV, "FS": str(fs), "JLAB": " ".join(JLAB)})
    return Run(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


# --------------------------------------------------------------------------- local servers

@contextlib.contextmanager
def server(handler: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with contextlib.suppress(OSError):
                handler(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


def drip(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Length", "1000")
    h.end_headers()
    for _ in range(1000):
        h.wfile.write(b"x")
        h.wfile.flush()
        time.sleep(0.8)


def endless(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.end_headers()
    block = bytes(1 << 16)
    while True:
        h.wfile.write(block)


def redirect_loop(h: BaseHTTPRequestHandler) -> None:
    h.send_response(302)
    h.send_header("Location", h.path)
    h.send_header("Content-Length", "0")
    h.end_headers()


def garbage(h: BaseHTTPRequestHandler) -> None:
    h.wfile.write(b"GARBAGE\r\nmore garbage\r\n\r\n")


def not_found(h: BaseHTTPRequestHandler) -> None:
    h.send_error(404)


# --------------------------------------------------------------------------- scenarios

@dataclass
class Scenario:
    item: int
    name: str
    fn: Callable[[Path], str]
    fast: bool = True


SCENARIOS: list[Scenario] = []


def scenario(item: int, fast: bool = True) -> Callable[[Callable[[Path], str]],
                                                       Callable[[Path], str]]:
    def deco(fn: Callable[[Path], str]) -> Callable[[Path], str]:
        SCENARIOS.append(Scenario(item, fn.__name__.replace("_", " "), fn, fast))
        return fn
    return deco


@scenario(1)
def two_runs_started_together_in_one_run_dir(tmp: Path) -> str:
    procs = [subprocess.Popen([*JLAB, "train", "--run-dir", "D", "--seed", str(seed), "--json",
                               "--epochs", "2", "--limit", "1000", "--no-plots", "--quiet"],
                              cwd=tmp, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for seed in (1, 2)]
    outs = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(rc for rc, _, _ in outs)
    if codes != [0, 2]:
        raise Failed(f"exit codes {codes}, expected one 0 and one 2")
    loser = next(err for rc, _, err in outs if rc == 2)
    line = one_line_error(Run(2, "", loser, 0))
    if "in use by another run (PID" not in line and "already holds a run" not in line:
        raise Failed(f"the second run said {line!r}")
    winner = json.loads(next(out for rc, out, _ in outs if rc == 0))
    saved = json.loads((tmp / "D" / "config.json").read_text())
    if saved["seed"] != winner["seed"]:
        raise Failed(f"config.json has seed {saved['seed']}, the run that finished "
                     f"{winner['seed']}")
    with np.load(tmp / "D" / "checkpoint.npz") as c, np.load(tmp / "D" / "weights.npz") as w:
        if any(not np.array_equal(c[k], w[k]) for k in w.files):
            raise Failed("checkpoint.npz and weights.npz come from different runs")
    return f"exit 0 and 2: {line}"


@scenario(1)
def a_lock_left_by_a_killed_run_does_not_block(tmp: Path) -> str:
    p = subprocess.Popen([*JLAB, "train", "--run-dir", "D", "--epochs", "50", "--limit", "2000",
                          "--no-plots", "--quiet", "--check-every", "0"], cwd=tmp, env=ENV,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (tmp / "D" / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    with np.load(tmp / "D" / "checkpoint.npz") as z:
        epoch = json.loads(str(z["state"]))["epoch"]
    r = run(["train", "--resume", "D", "--epochs", str(epoch + 1), "--quiet", "--no-plots"],
            tmp)
    if r.rc != 0:
        raise Failed(f"resume after kill -9 exit {r.rc}: {r.stderr.strip()[-200:]}")
    return (f"killed in epoch {epoch + 1}; its lock did not block: resume to epoch "
            f"{epoch + 1} exit 0")


@scenario(2)
def report_on_a_full_disk_keeps_the_previous_file(tmp: Path) -> str:
    script = ('printf "previous good report\\n" > "$FS/h.md"\n'
              'head -c 10000000 /dev/zero > "$FS/filler" 2>/dev/null\n'
              '$JLAB report neuron -o "$FS/h.md" 2>"$FS/../err"; rc=$?\n'
              'cat "$FS/h.md"; ls -A "$FS"; exit $rc\n')
    r = small_fs(script, 256, tmp)
    err = (tmp / "err").read_text()
    line = one_line_error(Run(r.rc, "", err, 0), "h.md", "disk is full")
    if not r.stdout.startswith("previous good report\n") or ".tmp" in r.stdout:
        raise Failed(f"after the failed write the disk holds {r.stdout!r}")
    return line


@scenario(2)
def report_all_under_a_file_size_limit_leaves_no_partial_file(tmp: Path) -> str:
    r = run(["report", "neuron", "layer", "-o", "cat.tex"], tmp, fsize=4096)
    line = one_line_error(r, "cat.tex", "file-size limit")
    nothing_new(tmp, [])
    return line


@scenario(3)
def fetch_from_a_server_sending_a_byte_every_0_8_s_stops_at_timeout(tmp: Path) -> str:
    with server(drip) as url:
        r = run(["data", "fetch", "mnist", "--mirror", url, "--dir", "d", "--timeout", "3"],
                tmp)
    line = one_line_error(r, "timed out", "--timeout 3")
    if r.seconds > 3 + 4:  # the deadline, plus starting Python
        raise Failed(f"took {r.seconds:.1f} s with --timeout 3")
    nothing_new(tmp, [])
    return f"{r.seconds:.1f} s: {line}"


@scenario(3)
def fetch_from_an_endless_stream_stops_at_the_size_cap(tmp: Path) -> str:
    with server(endless) as url:
        r = run(["data", "fetch", "mnist", "--mirror", url, "--dir", "d", "--timeout", "60"],
                tmp)
    line = one_line_error(r, "more than the 9,912,422 bytes")
    nothing_new(tmp, [])
    return f"{r.seconds:.1f} s: {line}"


@scenario(3)
def fetch_removes_the_temporary_file_of_a_killed_fetch(tmp: Path) -> str:
    d = tmp / "d"
    d.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = d / f".train-images-idx3-ubyte.gz.{dead}-0a1b2c3d.tmp"
    stale.write_bytes(b"x" * 5000)
    with server(not_found) as url:
        r = run(["data", "fetch", "mnist", "--mirror", url, "--dir", "d"], tmp)
    line = one_line_error(r, "HTTP 404")
    if stale.exists():
        raise Failed("the killed fetch's temporary file is still there")
    return f"stale temporary file removed; {line}"


@scenario(4)
def a_gzip_bomb_is_refused_without_unpacking_it(tmp: Path) -> str:
    d = idx_dir(tmp / "bomb")
    gzip_bomb(d / "train-images-idx3-ubyte.gz", 20, 400 << 20)  # 400 MB of zeros, 0.4 MB
    r, rss = max_rss_mib(["train", "--data", "bomb", *SMALL_TRAIN], tmp)
    line = one_line_error(r, "train-images-idx3-ubyte.gz", "extra bytes")
    if rss > 300:
        raise Failed(f"peak memory {rss:.0f} MiB")
    return f"peak {rss:.0f} MiB: {line}"


@scenario(4)
def an_idx_header_announcing_too_much_is_refused_before_unpacking(tmp: Path) -> str:
    d = idx_dir(tmp / "bomb")
    gzip_bomb(d / "train-images-idx3-ubyte.gz", 4_000_000, 1 << 20)
    r = run(["train", "--data", "bomb", *SMALL_TRAIN], tmp)
    return one_line_error(r, "more than the limit", "refused before unpacking")


@scenario(5)
def train_under_a_file_size_limit_is_one_line_and_leaves_no_run_dir(tmp: Path) -> str:
    r = run(["train", "--layers", "784,200,10", "--run-dir", "R", *SMALL_TRAIN], tmp,
            fsize=100_000)
    line = one_line_error(r, "checkpoint.npz", "file-size limit")
    nothing_new(tmp, [])
    return line


@scenario(5)
def train_on_a_full_disk_is_one_line(tmp: Path) -> str:
    script = ('$JLAB train --layers 784,200,10 --run-dir "$FS/R" ' + " ".join(SMALL_TRAIN)
              + ' 2>"$FS/../err"; rc=$?; ls -A "$FS"; exit $rc\n')
    r = small_fs(script, 200, tmp)
    line = one_line_error(Run(r.rc, "", (tmp / "err").read_text(), 0), "disk is full")
    if r.stdout.strip():
        raise Failed(f"left on the disk: {r.stdout.split()}")
    return line


@scenario(5)
def train_into_a_read_only_file_system_is_one_line(tmp: Path) -> str:
    script = ('mount -o remount,ro "$FS" || exit 98\n'
              '$JLAB train --run-dir "$FS/R" ' + " ".join(SMALL_TRAIN) + "\n")
    r = small_fs(script, 200, tmp)
    return one_line_error(r, "read-only file system")


@scenario(5)
def train_into_a_directory_without_write_permission_is_one_line(tmp: Path) -> str:
    ro = tmp / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    r = run(["train", "--run-dir", "ro/R", *SMALL_TRAIN], tmp, prefix=NO_OVERRIDE)
    return one_line_error(r, "ro/R", "permission")


@scenario(5)
def resume_into_a_read_only_run_dir_is_one_line(tmp: Path) -> str:
    r = run(["train", "--run-dir", "R", *SMALL_TRAIN], tmp)
    if r.rc != 0:
        raise Failed(f"the first run failed: {r.stderr.strip()}")
    (tmp / "R").chmod(0o555)
    try:
        r = run(["train", "--resume", "R", "--epochs", "2", "--quiet", "--no-plots"], tmp,
                prefix=NO_OVERRIDE)
        return one_line_error(r, "--resume R", "not writable")
    finally:
        (tmp / "R").chmod(0o755)


def _refused_before_creating(tmp: Path, args: list[str], *must: str) -> str:
    r = run(["train", "--run-dir", "R", *args, *SMALL_TRAIN], tmp)
    line = one_line_error(r, *must)
    nothing_new(tmp, [])
    return line


@scenario(6)
def seed_minus_1_is_refused_before_creating_anything(tmp: Path) -> str:
    return _refused_before_creating(tmp, ["--seed", "-1"], "--seed")


@scenario(6)
def a_network_too_large_for_memory_is_refused_with_its_size(tmp: Path) -> str:
    return _refused_before_creating(tmp, ["--layers", "784,100000000,10"], "needs about",
                                    "TiB")


@scenario(6)
def a_layer_of_10_to_the_20_is_refused_with_its_size(tmp: Path) -> str:
    return _refused_before_creating(tmp, ["--layers", "784,99999999999999999999,10"],
                                    "needs about")


@scenario(7)
def idx_data_with_0_training_images_names_the_file(tmp: Path) -> str:
    idx_dir(tmp / "d", n_train=0)
    r = run(["train", "--data", "d", *SMALL_TRAIN], tmp)
    return one_line_error(r, "train-images-idx3-ubyte.gz", "0 images")


@scenario(7)
def idx_data_with_0_test_images_names_the_file(tmp: Path) -> str:
    idx_dir(tmp / "d", n_test=0)
    r = run(["train", "--data", "d", *SMALL_TRAIN], tmp)
    return one_line_error(r, "t10k-images-idx3-ubyte.gz", "0 images")


_BASE_RUN: dict[str, Path] = {}


def _base_run(tmp: Path) -> Path:
    """One finished small run, copied for each tampering scenario."""
    if "run" not in _BASE_RUN or not _BASE_RUN["run"].exists():
        base = Path(tempfile.mkdtemp(prefix="jlab-attack-base-"))
        r = run(["train", "--run-dir", "R", *SMALL_TRAIN], base)
        if r.rc != 0:
            raise Failed(f"the base run failed: {r.stderr.strip()}")
        _BASE_RUN["run"] = base / "R"
    dest = tmp / "R"
    shutil.copytree(_BASE_RUN["run"], dest)
    return dest


def _contents(d: Path) -> dict[str, bytes]:
    """The files of a run directory (its lock file holds the PID of the last run)."""
    return {p.name: p.read_bytes() for p in d.iterdir() if p.name != ".lock"}


def _tampered_config(change: Callable[[dict], object]) -> Callable[[Path], str]:
    def fn(tmp: Path) -> str:
        d = _base_run(tmp)
        cfg = json.loads((d / "config.json").read_text())
        new = change(cfg)
        (d / "config.json").write_text(json.dumps(cfg if new is None else new))
        before = _contents(d)
        r = run(["train", "--resume", "R", "--epochs", "2", "--quiet", "--no-plots"], tmp)
        line = one_line_error(r, "config.json")
        changed = [n for n, b in before.items() if _contents(d).get(n) != b]
        if changed:
            raise Failed(f"the refused resume changed {changed}")
        return line
    return fn


def _tampered_state(change: Callable[[dict], object]) -> Callable[[Path], str]:
    def fn(tmp: Path) -> str:
        d = _base_run(tmp)
        with np.load(d / "checkpoint.npz") as z:
            arrays = {k: z[k] for k in z.files}
        state = json.loads(str(arrays["state"]))
        new = change(state)
        arrays["state"] = np.array(json.dumps(state if new is None else new))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        (d / "checkpoint.npz").write_bytes(buf.getvalue())
        before = _contents(d)
        r = run(["train", "--resume", "R", "--epochs", "2", "--quiet", "--no-plots"], tmp)
        line = one_line_error(r, "checkpoint.npz")
        changed = [n for n, b in before.items() if _contents(d).get(n) != b]
        if changed:
            raise Failed(f"the refused resume changed {changed}")
        return line
    return fn


for _label, _change, _field in [
        ("a list", lambda c: [c], None), ("lr as a string", lambda c: c.update(lr="0.1"), "lr"),
        ("lr null", lambda c: c.update(lr=None), "lr"),
        ("layers 784", lambda c: c.update(layers=784), "layers"),
        ("seed abc", lambda c: c.update(seed="abc"), "seed"),
        ("seed -1", lambda c: c.update(seed=-1), "seed"),
        ("tol_fd x", lambda c: c.update(tol_fd="x"), "tol_fd")]:
    _fn = _tampered_config(_change)
    _fn.__name__ = f"resume_with_config_json_{_label.replace(' ', '_')}_names_the_field"
    scenario(8)(_fn)
for _label, _change in [
        ("a list", lambda s: [1, 2, 3]), ("history null", lambda s: s.update(history=None)),
        ("first_loss abc", lambda s: s.update(first_loss="abc")),
        ("epoch -5", lambda s: s.update(epoch=-5))]:
    _fn = _tampered_state(_change)
    _fn.__name__ = f"resume_with_checkpoint_state_{_label.replace(' ', '_')}_names_the_field"
    scenario(8)(_fn)


@scenario(9, fast=False)
def a_bad_proved_at_in_the_proof_cache_is_a_miss_and_rewritten(tmp: Path) -> str:
    env = {"JLAB_CACHE_DIR": str(tmp / "cache")}
    r = run(["check"], tmp, env=env, timeout=300)
    if r.rc != 0:
        raise Failed(f"jlab check failed: {r.stderr.strip()[-200:]}")
    path = tmp / "cache" / "proofs.json"
    outcomes = []
    for bad in (float("nan"), 1e300, -1e300, "inf"):
        data = json.loads(path.read_text())
        data["entries"]["gradient"]["proof"]["proved_at"] = bad
        path.write_text(json.dumps(data))
        r = run(["list"], tmp, env=env, timeout=300)
        if r.rc != 0 or "Traceback" in r.stderr:
            raise Failed(f"proved_at {bad!r}: exit {r.rc} {r.stderr.strip()[-200:]}")
        fixed = json.loads(path.read_text())["entries"]["gradient"]["proof"]["proved_at"]
        if not (isinstance(fixed, float) and 0 < fixed <= time.time()):
            raise Failed(f"proved_at {bad!r} was not rewritten (now {fixed!r})")
        outcomes.append(repr(bad))
    return f"proved_at {', '.join(outcomes)}: list exit 0, entry re-proved and rewritten"


@scenario(10)
def fetch_with_a_garbage_mirror_is_one_line(tmp: Path) -> str:
    r = run(["data", "fetch", "mnist", "--mirror", "garbage", "--dir", "d"], tmp)
    line = one_line_error(r, "--mirror")
    nothing_new(tmp, [])
    return line


@scenario(10)
def fetch_with_a_broken_ipv6_mirror_is_one_line(tmp: Path) -> str:
    r = run(["data", "fetch", "mnist", "--mirror", "http://[::1", "--dir", "d"], tmp)
    line = one_line_error(r, "--mirror")
    nothing_new(tmp, [])
    return line


@scenario(10)
def fetch_with_timeout_inf_is_one_line(tmp: Path) -> str:
    r = run(["data", "fetch", "mnist", "--timeout", "inf", "--dir", "d"], tmp)
    line = one_line_error(r, "--timeout")
    nothing_new(tmp, [])
    return line


@scenario(11)
def report_into_a_missing_directory_is_one_line(tmp: Path) -> str:
    r = run(["report", "neuron", "-o", "missing/h.md"], tmp)
    line = one_line_error(r, "missing", "does not exist")
    nothing_new(tmp, [])
    return line


@scenario(11)
def report_into_a_read_only_directory_is_one_line(tmp: Path) -> str:
    (tmp / "ro").mkdir()
    (tmp / "ro").chmod(0o555)
    r = run(["report", "neuron", "-o", "ro/h.md"], tmp, prefix=NO_OVERRIDE)
    return one_line_error(r, "ro", "permission")


@scenario(11)
def report_into_a_symlink_to_dev_full_is_one_line(tmp: Path) -> str:
    (tmp / "h.md").symlink_to("/dev/full")
    r = run(["report", "neuron", "-o", "h.md"], tmp)
    line = one_line_error(r, "h.md", "not a regular file")
    if not (tmp / "h.md").is_symlink():
        raise Failed("the symlink was replaced")
    return line


@scenario(11)
def codegen_into_a_read_only_kernels_folder_is_one_line(tmp: Path) -> str:
    kernels = tmp / "kernels"
    kernels.mkdir()
    (kernels / "_generated.py").write_text("# stale\n")
    kernels.chmod(0o555)
    script = ("import sys; from pathlib import Path; import jacobian_lab.codegen.emit as c; "
              "c.GENERATED = Path(sys.argv[1]); from jacobian_lab.cli import main; "
              "sys.exit(main(['codegen']))")
    r = run([str(kernels / "_generated.py")], tmp, prefix=NO_OVERRIDE,
            exe=[sys.executable, "-c", script])
    return one_line_error(r, "_generated.py", "permission")


@scenario(12)
def derive_file_whose_builder_returns_42_names_the_file(tmp: Path) -> str:
    (tmp / "mine.py").write_text("import derivations\n\n@derivations.register('mine')\n"
                                 "def build():\n    return 42\n")
    r = run(["derive", "--file", "mine.py"], tmp)
    return one_line_error(r, "mine.py", "returned int (42)", "not a Derivation")


@scenario(12)
def derive_file_that_raises_says_so_above_its_traceback(tmp: Path) -> str:
    (tmp / "mine.py").write_text("raise RuntimeError('my bug')\n")
    r = run(["derive", "--file", "mine.py"], tmp)
    first = r.stderr.strip().splitlines()[0] if r.stderr.strip() else ""
    if r.rc != 2 or "mine.py" not in first or "my bug" not in first:
        raise Failed(f"exit {r.rc}, first line {first!r}")
    if "line 1, in <module>" not in r.stderr:
        raise Failed("the user's traceback is missing")
    return first


@scenario(13)
def train_report_docx_is_refused_before_training(tmp: Path) -> str:
    r = run(["train", "--report", "x.docx", "--run-dir", "R", *SMALL_TRAIN], tmp)
    line = one_line_error(r, "--report", ".docx")
    nothing_new(tmp, [])
    return f"{r.seconds:.1f} s: {line}"


@scenario(14)
def a_directory_named_like_an_idx_file_says_it_is_a_directory(tmp: Path) -> str:
    d = idx_dir(tmp / "d")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    (d / "t10k-labels-idx1-ubyte").mkdir()
    r = run(["train", "--data", "d", *SMALL_TRAIN], tmp)
    return one_line_error(r, "t10k-labels-idx1-ubyte", "a directory")


@scenario(14)
def a_symlink_loop_named_like_an_idx_file_says_so(tmp: Path) -> str:
    d = idx_dir(tmp / "d")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    (d / "t10k-labels-idx1-ubyte").symlink_to("t10k-labels-idx1-ubyte")
    r = run(["train", "--data", "d", *SMALL_TRAIN], tmp)
    return one_line_error(r, "t10k-labels-idx1-ubyte", "link loop")


@scenario(15)
def a_garbage_checkpoint_is_unreadable_not_allow_pickle(tmp: Path) -> str:
    d = _base_run(tmp)
    (d / "checkpoint.npz").write_bytes(os.urandom(3000))
    r = run(["train", "--resume", "R", "--epochs", "2", "--quiet", "--no-plots"], tmp)
    line = one_line_error(r, "checkpoint.npz", "unreadable checkpoint")
    if "pickle" in line:
        raise Failed(f"still suggests pickles: {line}")
    return line


@scenario(16)
def a_redirect_loop_is_one_line(tmp: Path) -> str:
    with server(redirect_loop) as url:
        r = run(["data", "fetch", "mnist", "--mirror", url, "--dir", "d"], tmp)
    return one_line_error(r, "redirect")


@scenario(16)
def a_garbage_http_response_is_one_line(tmp: Path) -> str:
    with server(garbage) as url:
        r = run(["data", "fetch", "mnist", "--mirror", url, "--dir", "d"], tmp)
    return one_line_error(r, "failed")


@scenario(0)
def argparse_errors_are_one_line(tmp: Path) -> str:
    lines = []
    for argv in (["jacobian", "x", "--layout", "diag"], ["train", "--bogus"], ["verify", "x"]):
        lines.append(one_line_error(run(argv, tmp), "error:", "--help"))
    return " | ".join(lines)


# --------------------------------------------------------------------------- the sweep

BAD = {"empty": "", "negative": "-1", "zero": "0", "huge": "99999999999999999999",
       "nan": "nan", "inf": "inf", "text": "abc", "float": "0.5", "file": "@FILE",
       "dir": "@DIR", "missing": "@MISSING/x", "read-only": "@RO/x"}
#: command, its fixed arguments, the options (or positional slots "<arg>") to sweep.
COMMANDS: list[tuple[list[str], list[str], list[str]]] = [
    (["jacobian", "x*y"], [], ["--wrt", "--at", "--layout", "--format"]),
    (["gradient"], [], ["<arg>"]),
    (["gradient", "x^2 + y"], [], ["--wrt", "--at"]),
    (["chain", "--outer", "sin(g1)", "--inner", "g1=x^2"], ["--wrt", "x"], ["--format"]),
    (["chain", "--inner", "g1=x^2", "--wrt", "x"], [], ["--outer"]),
    (["verify", "x^2", "--claim", "[[2*x]]"], [], ["--seed", "--wrt", "--at"]),
    (["verify", "x^2"], [], ["--claim"]),
    (["derive", "neuron"], [], ["--format", "--sizes", "--file"]),
    (["derive"], [], ["<arg>"]),
    (["check"], [], ["<arg>"]),
    (["report", "neuron"], [], ["-o"]),
    (["report", "-o", "r.md"], [], ["<arg>"]),
    (["codegen"], [], ["--show"]),
    (["mutate", "--level", "kernel"], [], ["<arg>"]),
    (["mutate", "relu"], [], ["--level"]),
    (["train", *SMALL_TRAIN], [], [
        "--layers", "--activation", "--loss", "--init", "--optimizer", "--lr", "--epochs",
        "--batch-size", "--seed", "--dtype", "--data", "--limit", "--check-every",
        "--run-dir", "--resume", "--checkpoint-every", "--report"]),
    (["data", "fetch"], ["--dir", "d", "--timeout", "2", "--mirror", "http://127.0.0.1:9/"],
     ["<arg>"]),
    (["data", "fetch", "mnist", "--timeout", "2"], [], ["--mirror", "--dir", "--timeout"]),
]


def _sweep_one(cmd: list[str], tail: list[str], option: str, label: str, value: str
               ) -> tuple[str, bool, str]:
    with tempfile.TemporaryDirectory(prefix="jlab-sweep-") as t:
        tmp = Path(t)
        (tmp / "FILE").write_text("not what you think\n")
        (tmp / "DIR").mkdir()
        (tmp / "RO").mkdir()
        (tmp / "RO").chmod(0o555)
        before = listing(tmp)
        v = value.replace("@FILE", "FILE").replace("@DIR", "DIR").replace(
            "@MISSING", "MISSING").replace("@RO", "RO")
        if option == "--mirror" and v.startswith(("FILE", "DIR", "MISSING", "RO")):
            v = "file:" + v
        argv = [*cmd, v, *tail] if option == "<arg>" else [*cmd, *tail, option, v]
        name = f"{' '.join(cmd[:2] if cmd[0] == 'data' else cmd[:1])} {option} "
        name += label
        try:
            r = run(argv, tmp, timeout=120, prefix=NO_OVERRIDE if label == "read-only" else None)
        except subprocess.TimeoutExpired:
            return name, False, "no answer in 120 s"
        finally:
            (tmp / "RO").chmod(0o755)
        problems = []
        if r.rc > 2 or r.rc < 0:
            problems.append(f"exit {r.rc}")
        if "Traceback" in r.stderr:
            problems.append("traceback")
        if r.rc == 2 and len(r.lines) != 1:  # (exit 1 is a verdict: an incorrect claim)
            problems.append(f"{len(r.lines)} lines on stderr")
        if r.rc == 2 and "the last good checkpoint is" not in r.stderr:  # a run that diverged
            after = [p for p in listing(tmp) if p not in before]   # keeps its checkpoint
            if after:
                problems.append(f"left {after[:3]}")
        detail = (r.lines[0][:110] if r.lines else "ok, nothing on stderr") if not problems \
            else "; ".join(problems) + f": {r.stderr.strip()[:200]!r}"
        return name, not problems, f"exit {r.rc}: {detail}"


def sweep(workers: int = 2, only: str | None = None) -> list[tuple[str, bool, str]]:
    jobs = [(cmd, tail, opt, label, value) for cmd, tail, opts in COMMANDS for opt in opts
            for label, value in BAD.items() if not only or only in f"{cmd[0]} {opt} {label}"]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda j: _sweep_one(*j), jobs))


# --------------------------------------------------------------------------- main

@dataclass
class Outcome:
    scenario: Scenario
    status: str  # ok | FAIL | skip
    detail: str
    seconds: float = 0.0
    extra: list[str] = field(default_factory=list)


def play(s: Scenario) -> Outcome:
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jlab-attack-") as t:
        try:
            detail = s.fn(Path(t))
            status = "ok"
        except Skipped as e:
            status, detail = "skip", str(e)
        except Failed as e:
            status, detail = "FAIL", str(e)
        finally:
            for p in Path(t).rglob("*"):  # restore what a scenario made read-only
                with contextlib.suppress(OSError):
                    if p.is_dir() and not p.is_symlink():
                        p.chmod(0o755)
    return Outcome(s, status, detail, time.monotonic() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="only the fast named scenarios")
    ap.add_argument("--sweep", action="store_true", help="also sweep bad option values")
    ap.add_argument("-k", metavar="WORDS", help="only scenarios whose name contains WORDS")
    ap.add_argument("--sweep-k", metavar="WORDS",
                    help="only sweep cases whose 'command option value' contains WORDS")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    failed = 0
    chosen = [s for s in SCENARIOS if (s.fast or not args.fast)
              and (not args.k or args.k in s.name)]
    for s in chosen:
        o = play(s)
        failed += o.status == "FAIL"
        item = f"#{s.item}" if s.item else "cli"
        print(f"{o.status:4}  {item:>4}  {s.name}  ({o.seconds:.1f} s): {o.detail}",
              flush=True)
    n_sweep = sweep_failed = 0
    if args.sweep:
        for name, ok, detail in sweep(only=args.sweep_k):
            n_sweep += 1
            sweep_failed += not ok
            print(f"{'ok' if ok else 'FAIL':4}  sweep {name}: {detail}", flush=True)
    print(f"{len(chosen) - failed}/{len(chosen)} scenarios as required"
          + (f", {n_sweep - sweep_failed}/{n_sweep} bad option values refused or accepted "
             "cleanly" if args.sweep else "") + f" ({time.monotonic() - t0:.0f} s)")
    return 1 if failed or sweep_failed else 0


if __name__ == "__main__":
    sys.exit(main())
