"""Faults and numerical edge cases: every one gives a correct value or a clear error, never a
silent NaN in a result that claims to be verified.

* checkpoints survive a real ``kill -9`` at any moment of a save (a child process, a real
  signal), and a killed ``jlab train`` resumes to bit-identical weights;
* NaN/Inf pixels and bad labels stop a run before it writes anything; NaN/Inf weights, batches,
  losses or gradients fail the gradient check; a non-finite checkpoint is not resumed; a
  diverged run keeps a checkpoint the trainer can load;
* every kernel propagates NaN to exactly the outputs that depend on it and turns ±Inf into the
  right limit or NaN (one documented exception: the ReLU step masks map NaN to 0);
* ``jlab gradient --at`` with nan/inf, outside the domain or on a kink.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import os
import random
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import jacobian_lab.kernels as kernels
from jacobian_lab import files
from jacobian_lab.cli import main
from jacobian_lab.codegen.specs import kernel_specs
from jacobian_lab.errors import DataError, TrainingError
from jacobian_lab.training import model, rundir, trainer
from jacobian_lab.training.checks import GradientCheckError, check_gradients
from jacobian_lab.training.data import Dataset, check_dataset, load_dataset
from jacobian_lab.training.state import RunState
from jacobian_lab.training.trainer import DivergenceError, TrainConfig

QUIET: dict[str, Any] = {"progress": False, "plots": False}
JLAB = [sys.executable, "-m", "jacobian_lab.cli"]
posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals (SIGKILL)")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset(None)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k != "state"}


def _same(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def _temps(run: Path) -> list[Path]:
    return sorted(run.glob(".*.tmp"))


# --------------------------------------------------------------------------- kill -9 on a save

#: A 784-10000-10 network: a 32 MB checkpoint, about 0.15 s a save (bytes, write, fsync).
BIG = (784, 10_000, 10)

#: The child: save version k, k+1, … through the trainer's own save, every array filled with
#: k and the epoch set to k, printing each version once it is saved.
SAVER = f"""
import sys
from pathlib import Path
import numpy as np
from jacobian_lab.training import model, rundir, trainer
from jacobian_lab.training.state import RunState

run, version = Path(sys.argv[1]), int(sys.argv[2])
sizes = {BIG!r}
net = model.Network([np.empty((o, i), np.float32) for i, o in zip(sizes, sizes[1:])],
                    [np.empty((o, 1), np.float32) for o in sizes[1:]])
state = RunState(net, np.random.default_rng(0), np.random.default_rng(1))
while True:
    for p in net.parameters():
        p.fill(version)
    state.epoch = state.step = version
    rundir.save_checkpoint(run, state)
    print(version, flush=True)
    version += 1
"""


def _kill(proc: subprocess.Popen[str]) -> str:
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return out


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return False


@posix_only
def test_a_checkpoint_killed_at_random_moments_of_a_save_always_loads_as_one_version(
        tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    config = TrainConfig(layers=BIG)
    moments = random.Random(20240607)
    version, mid_save, kills = 1, 0, 6
    for i in range(kills):
        child = subprocess.Popen([sys.executable, "-c", SAVER, str(run), str(version)],
                                 stdout=subprocess.PIPE, text=True)
        mine = f".{trainer.CHECKPOINT}.{child.pid}-*.tmp"
        try:
            first = child.stdout.readline() if child.stdout else ""
            assert first.strip() == str(version), "the saving child did not start"
            if i % 2 == 0:  # anywhere in the loop
                time.sleep(moments.uniform(0.0, 0.35))
            else:  # somewhere while a temporary file exists, i.e. inside a save
                _wait_for(lambda pattern=mine: bool(list(run.glob(pattern))), 5.0)
                time.sleep(moments.uniform(0.0, 0.02))
        finally:
            out = _kill(child)
        saved = [int(v) for v in [first, *out.split()]]
        mid_save += bool(list(run.glob(mine)))  # the kill skipped the save's `finally`
        state = rundir.load_checkpoint(run, config)  # the trainer's own loader
        values = {k: np.unique(a).tolist() for k, a in state.net.arrays().items()}
        assert all(v == [state.epoch] for v in values.values()), (
            f"kill {i + 1}: the checkpoint mixes versions {values} (epoch {state.epoch})")
        assert state.epoch in (saved[-1], saved[-1] + 1), (
            f"kill {i + 1}: loaded version {state.epoch}, but the child had saved up to "
            f"{saved[-1]}")
        version = state.epoch + 1
    print(f"\n{kills} kills, {mid_save} inside a save (a temporary file was left)")
    assert mid_save >= 1, "no kill landed inside a save: the test proved nothing"
    # The next save removes what the killed writers left, and nothing else.
    rundir.save_checkpoint(run, state)
    assert _temps(run) == [], f"stale temporary files stayed: {_temps(run)}"


def test_a_save_removes_only_our_stale_temporary_files(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    alive = str(os.getppid())  # another process at work: its file may be mid-write
    stale = [f".{trainer.CHECKPOINT}.{dead}-0a1b2c3d.tmp", f".{trainer.METRICS_JSON}.{dead}"
             "-deadbeef.tmp", f".{trainer.WEIGHTS}.{os.getpid()}-01234567.tmp"]
    kept = [f".{trainer.CHECKPOINT}.{alive}-0a1b2c3d.tmp",  # a live writer
            f".notes.txt.{dead}-0a1b2c3d.tmp",  # not a file of ours
            f".{trainer.CHECKPOINT}.{dead}-XYZ.tmp", "checkpoint.npz.tmp", "mine.tmp"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"partial")
    net = model.init_network((4, 3, 2), rng=np.random.default_rng(0))
    rundir.save_checkpoint(tmp_path, RunState(net, np.random.default_rng(0),
                                                      np.random.default_rng(1)))
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([*kept, trainer.CHECKPOINT])


def test_an_atomic_write_fsyncs_the_file_then_renames_then_fsyncs_the_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    files.atomic_write_bytes(tmp_path / "summary.json", b"{}\n")
    assert (tmp_path / "summary.json").read_bytes() == b"{}\n"
    expected = ["fsync file", "replace", "fsync dir"] if os.name == "posix" else [
        "fsync file", "replace"]
    assert events == expected, f"durability order is {events}"


@posix_only
def test_jlab_train_killed_after_a_checkpoint_resumes_to_bit_identical_weights(
        tmp_path: Path, digits: Dataset) -> None:
    settings = {"limit": 2000, "epochs": 8, "batch_size": 16, "check_every": 25, "seed": 5}
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in settings.items()]
    run = tmp_path / "killed"
    child = subprocess.Popen([*JLAB, "train", *argv, "--run-dir", str(run), "--quiet",
                              "--no-plots", "--json"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)

    def saved_epoch() -> int:
        epoch = rundir.saved_epoch(run)
        return int(epoch) if epoch.isdigit() else -1

    try:
        _wait_for(lambda: saved_epoch() >= 1 or child.poll() is not None, 60.0)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        _, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, f"the run ended before the kill: {err}"
    killed_at = saved_epoch()
    print(f"\njlab train killed after the checkpoint of epoch {killed_at}; "
          f"{len(_temps(run))} temporary file(s) left")
    assert 1 <= killed_at < settings["epochs"]
    assert not (run / trainer.SUMMARY).exists() and not (run / trainer.WEIGHTS).exists()
    if (run / trainer.METRICS_JSON).exists():  # the kill may land between the two writes
        assert json.loads((run / trainer.METRICS_JSON).read_text())["status"] == "running"

    resumed = subprocess.run([*JLAB, "train", "--resume", str(run), "--quiet", "--no-plots",
                              "--json"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    straight = trainer.train(TrainConfig(**settings), run_dir=tmp_path / "straight",
                             dataset=digits, **QUIET)
    assert _same(_arrays(run / trainer.WEIGHTS), _arrays(straight.run_dir / trainer.WEIGHTS)), (
        f"killed after epoch {killed_at} and resumed, the weights differ from a straight run")
    summary = json.loads(resumed.stdout)
    assert summary["epochs"] == settings["epochs"] and summary["steps"] == straight.steps
    assert summary["test_loss"] == straight.test_loss
    assert _temps(run) == []


# --------------------------------------------------------------------------- data

def _replace(ds: Dataset, **arrays: np.ndarray) -> Dataset:
    return dataclasses.replace(ds, **arrays)


@pytest.mark.parametrize("split", ["x_train", "x_test"])
def test_nan_or_inf_pixels_stop_a_run_before_anything_is_written(
        tmp_path: Path, digits: Dataset, split: str) -> None:
    x = getattr(digits, split).copy()
    x[7, 100] = np.nan
    x[7, 101] = np.nan
    x[30, 5] = -np.inf
    bad = _replace(digits, **{split: x})
    which = "training" if split == "x_train" else "test"
    with pytest.raises(DataError, match=(
            rf"the {which} images hold 2 NaN, 1 -Inf in 2 of {x.shape[0]} samples "
            r"\(the first: sample 7, pixel 100\)")):
        trainer.train(TrainConfig(epochs=1), run_dir=tmp_path / "run", dataset=bad, **QUIET)
    assert not (tmp_path / "run").exists(), "a run with bad data left files behind"


def test_bad_labels_are_refused_with_their_count_and_the_first_one(
        tmp_path: Path, digits: Dataset) -> None:
    y = digits.y_train.copy()
    y[[12, 40]] = -1
    with pytest.raises(DataError, match=r"training labels must be 0 or more; 2 are not "
                                        r"\(the first: -1 at sample 12\)"):
        trainer.train(TrainConfig(epochs=1), run_dir=tmp_path / "neg",
                      dataset=_replace(digits, y_train=y), **QUIET)
    y = digits.y_test.copy()
    y[[3, 4, 5]] = 10
    with pytest.raises(TrainingError, match=r"labels go up to 10 \(3 outside 0\.\.9\)"):
        trainer.train(TrainConfig(epochs=1), run_dir=tmp_path / "high",
                      dataset=_replace(digits, y_test=y), **QUIET)
    with pytest.raises(DataError, match="labels are of dtype float64"):
        trainer.prepare_data(_replace(digits, y_train=digits.y_train.astype(np.float64)),
                             TrainConfig())
    with pytest.raises(DataError, match=r"labels of shape \(3999,\)"):
        check_dataset(_replace(digits, y_train=digits.y_train[1:]))
    assert not (tmp_path / "neg").exists() and not (tmp_path / "high").exists()
    check_dataset(digits, 10)  # the real digits pass


def test_resume_refuses_data_that_turned_nan(tmp_path: Path, digits: Dataset) -> None:
    s = trainer.train(TrainConfig(epochs=1, limit=300, check_every=0), run_dir=tmp_path / "r",
                      dataset=digits, **QUIET)
    config = (s.run_dir / trainer.CONFIG).read_bytes()
    x = digits.x_train.copy()
    x[0, 0] = np.nan
    with pytest.raises(DataError, match="1 NaN in 1 of 4000 samples"):
        trainer.resume(s.run_dir, epochs=2, dataset=_replace(digits, x_train=x), **QUIET)
    assert (s.run_dir / trainer.CONFIG).read_bytes() == config


# --------------------------------------------------------------------------- gradient checks

def _batch(rng: np.random.Generator) -> tuple[model.Network, np.ndarray, np.ndarray]:
    net = model.init_network((12, 9, 5), rng=rng)
    X = rng.random((12, 24)).astype(np.float32)
    Y = np.eye(5, dtype=np.float32)[:, rng.integers(0, 5, 24)]
    return net, X, Y


@pytest.mark.parametrize(("where", "value", "message"), [
    ("W1", np.nan, r"W1: 1 NaN \(first at \[2, 3\]\)"),
    ("b2", np.inf, r"b2: 1 \+Inf \(first at \[2, 0\]\)"),
    ("W2", -np.inf, r"W2: 1 -Inf \(first at \[2, 3\]\)"),
    ("X", np.nan, r"X: 1 NaN \(first at \[2, 3\]\)"),
])
def test_the_gradient_check_fails_at_nan_or_inf_weights_and_inputs(
        rng: np.random.Generator, where: str, value: float, message: str) -> None:
    net, X, Y = _batch(rng)
    target = X if where == "X" else net.arrays()[where]
    target[2, 3 if target.shape[1] > 3 else 0] = value
    result = check_gradients(net, X, Y, rng)
    assert not result.passed, "a check at a NaN/Inf point passed"
    assert len(result.failures) == 1
    assert result.failures[0].startswith("not finite: ")
    assert re.search(message, result.failures[0]), result.failures[0]
    # Errors of a failed comparison are inf, never NaN (NaN means "not run").
    assert result.max_error == np.inf
    assert not any(np.isnan([result.fd_direction, result.fd_coordinate, result.closed_form,
                             result.forward]))


def _nan_dW(real: Callable[..., Any]) -> Callable[..., Any]:
    def broken(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray) -> Any:
        dW, db, dA_prev = real(dZ, A_prev, W)
        dW = dW.copy()
        dW[1, 2] = np.nan
        return dW, db, dA_prev

    return broken


def _inf_delta(real: Callable[..., Any]) -> Callable[..., Any]:
    def broken(A: np.ndarray, Y: np.ndarray) -> Any:
        dZ = real(A, Y).copy()
        dZ[0, 0] = np.inf
        return dZ

    return broken


def _nan_loss(real: Callable[..., Any]) -> Callable[..., Any]:
    return lambda Z, Y: Z.dtype.type(np.nan)


@pytest.mark.parametrize(("kernel", "breaker", "expected"), [
    ("dense_backward", _nan_dW, r"^dW1\[1, 2\]: backprop nan, closed form \(BP4\) [-\d.e]+: "
                                r"not finite"),
    ("softmax_cross_entropy_grad", _inf_delta, r"^dW2\[0, \d+\]: backprop [-]?inf"),
    ("softmax_cross_entropy", _nan_loss, r"^loss: kernels nan, plain NumPy [\d.]+: not finite"),
], ids=["nan-gradient", "inf-delta", "nan-loss"])
def test_the_gradient_check_fails_when_a_kernel_returns_nan_or_inf(
        rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch, kernel: str,
        breaker: Callable[[Callable[..., Any]], Callable[..., Any]], expected: str) -> None:
    net, X, Y = _batch(rng)
    monkeypatch.setattr(kernels, kernel, breaker(getattr(kernels, kernel)))
    with np.errstate(invalid="ignore"):  # inf − inf in a broken kernel's downstream sums
        result = check_gradients(net, X, Y, rng)
    assert not result.passed, f"a check passed with a {kernel} that returns NaN/Inf"
    assert any(re.search(expected, f) for f in result.failures), result.failures
    assert result.max_error == np.inf


@pytest.mark.parametrize("strict", [True, False])
def test_a_kernel_returning_nan_stops_the_run_and_nothing_claims_success(
        tmp_path: Path, digits: Dataset, monkeypatch: pytest.MonkeyPatch,
        strict: bool) -> None:
    monkeypatch.setattr(kernels, "dense_backward", _nan_dW(kernels.dense_backward))
    error = GradientCheckError if strict else DivergenceError
    message = r"after 0 steps failed: dW1\[1, 2\].*not finite" if strict else r"the loss is nan"
    with pytest.raises(error, match=message):
        trainer.train(TrainConfig(epochs=2, limit=300, check_every=5, strict=strict),
                      run_dir=tmp_path / "r", dataset=digits, **QUIET)
    metrics = json.loads((tmp_path / "r" / trainer.METRICS_JSON).read_text())
    assert metrics["status"] == ("check failed" if strict else "diverged")
    assert not metrics["checks"][0]["passed"]
    assert not (tmp_path / "r" / trainer.SUMMARY).exists()
    assert not (tmp_path / "r" / trainer.WEIGHTS).exists()


# --------------------------------------------------------------------------- checkpoints

@pytest.mark.parametrize(("array", "index", "value", "message"), [
    ("W2", (3, 4), np.nan, r"W2: 1 NaN \(first at \[3, 4\]\)"),
    ("b1", (0, 0), -np.inf, r"b1: 1 -Inf \(first at \[0, 0\]\)"),
])
def test_resuming_a_checkpoint_with_nan_or_inf_weights_is_a_clear_error(
        tmp_path: Path, digits: Dataset, array: str, index: tuple[int, int], value: float,
        message: str) -> None:
    s = trainer.train(TrainConfig(epochs=1, limit=300, check_every=0), run_dir=tmp_path / "r",
                      dataset=digits, **QUIET)
    path = s.run_dir / trainer.CHECKPOINT
    with np.load(path) as z:
        saved = {k: z[k] for k in z.files}
    saved[array][index] = value
    buf = io.BytesIO()
    np.savez(buf, **saved)
    path.write_bytes(buf.getvalue())
    with pytest.raises(TrainingError, match=rf"checkpoint\.npz: the saved weights are not "
                                            rf"finite \({message}\); .*start a new run"):
        trainer.resume(s.run_dir, epochs=2, dataset=digits, **QUIET)


@pytest.mark.parametrize("keep", [0, 100, 0.5], ids=["empty", "header", "half"])
def test_a_truncated_checkpoint_is_a_clear_error_not_a_traceback(
        tmp_path: Path, digits: Dataset, keep: float) -> None:
    s = trainer.train(TrainConfig(epochs=1, limit=300, check_every=0), run_dir=tmp_path / "r",
                      dataset=digits, **QUIET)
    path = s.run_dir / trainer.CHECKPOINT
    data = path.read_bytes()
    path.write_bytes(data[:int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(TrainingError, match=r"checkpoint\.npz: unreadable checkpoint"):
        trainer.resume(s.run_dir, epochs=2, dataset=digits, **QUIET)


def test_a_diverged_run_keeps_a_finite_checkpoint_that_the_trainer_loads(
        tmp_path: Path, digits: Dataset) -> None:
    config = TrainConfig(lr=100.0, epochs=3, limit=500)
    with pytest.raises(DivergenceError) as first:
        trainer.train(config, run_dir=tmp_path / "r", dataset=digits, **QUIET)
    run = tmp_path / "r"
    assert f"the last good checkpoint is {run / trainer.CHECKPOINT} (epoch 0)" in str(first.value)
    assert "try a smaller --lr" in str(first.value)
    state = rundir.load_checkpoint(run, config)  # loads: finite, complete
    assert state.epoch == 0 and state.net.is_finite()
    metrics = json.loads((run / trainer.METRICS_JSON).read_text())
    assert metrics["status"] == "diverged" and metrics["message"] == str(first.value)
    assert not (run / trainer.WEIGHTS).exists() and not (run / trainer.SUMMARY).exists()
    # Resumed, it goes the same way again (the checkpoint holds the generators too).
    with pytest.raises(DivergenceError) as again:
        trainer.resume(run, dataset=digits, **QUIET)
    assert str(again.value) == str(first.value)


# --------------------------------------------------------------------------- kernels

SPECS = {s.name: s for s in kernel_specs()}
SIZES = {"n": 3, "k": 2, "j": 2, "m": 4}
#: Callables of kernels.__all__ that are not generated kernels, and what they dispatch to.
DISPATCHERS = {"hidden_delta": "HIDDEN_DELTA"}
KERNELS = [name for name in kernels.__all__ if name in SPECS]
#: The documented exception to NaN propagation: a ReLU step mask ``(Z > 0)`` is False for NaN,
#: so NaN in its argument gives 0, not NaN. np.heaviside(Z, 0) propagates NaN but measured
#: 12× (float32) and 4× (float64) slower on 784 × 10000; the trainer catches NaN in the loss
#: and the weights. These kernels may give exactly 0 where NaN would be; no other may.
STEP_KERNELS = {"relu_grad", "relu_backward", "hidden_delta_relu", "neuron_relu_grad_w",
                "neuron_relu_grad_b"}


def _has_step(name: str) -> bool:
    source = inspect.getsource(getattr(kernels, name))
    return "> 0)" in source or "np.greater(" in source


def test_every_public_kernel_is_covered_by_the_nan_and_inf_tests() -> None:
    for name in kernels.__all__:
        obj = getattr(kernels, name)
        if name in SPECS or name in DISPATCHERS:
            continue
        assert not callable(obj), f"kernels.{name} is public but has no spec to test it by"
    assert set(kernels.HIDDEN_DELTA.values()) <= {getattr(kernels, n) for n in KERNELS}
    assert {n for n in KERNELS if _has_step(n)} == STEP_KERNELS, (
        "the kernels with a ReLU step mask changed: NaN in a step's argument gives 0 there; "
        "document it or make the step propagate NaN")


def _inputs(name: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    spec = SPECS[name]
    out = {}
    for param, sym in spec.symbols.items():
        shape = tuple(SIZES[str(d)] if isinstance(d, sp.Symbol) else int(d) for d in sym.shape)
        out[param] = rng.standard_normal(shape) * 2 + 0.1
    return out


def _outputs(name: str, values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    with np.errstate(all="ignore"):  # NaN and Inf are the point here
        got = getattr(kernels, name)(*(values[p] for p, _ in SPECS[name].params))
    return [np.atleast_1d(np.asarray(g, dtype=np.float64)) for g in
            (got if isinstance(got, tuple) else (got,))]


def _with(values: Mapping[str, np.ndarray], param: str, idx: tuple[int, ...],
          v: float) -> dict[str, np.ndarray]:
    changed = {k: a.copy() for k, a in values.items()}
    changed[param][idx] = v
    return changed


def _entries(name: str, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """(inputs, baseline outputs, parameter, index, dependent-output masks) per input entry.

    An output depends on an entry when it changes as the entry is replaced by values on both
    sides (across a ReLU kink too), at these inputs or at other random ones: dA ⊙ step(Z)
    depends on dA even where Z < 0 (IEEE: NaN × 0 is NaN)."""
    values, *others = (_inputs(name, rng) for _ in range(3))
    # All-positive inputs open every ReLU mask: what a mask hides elsewhere shows here.
    others += [{k: np.abs(a) + 0.1 for k, a in _inputs(name, rng).items()} for _ in range(2)]
    base = _outputs(name, values)
    for param, a in values.items():
        for idx in np.ndindex(a.shape):
            deps = [np.zeros(b.shape, bool) for b in base]
            for at in (values, *others):
                before = _outputs(name, at)
                v = at[param][idx]
                for w in (v + 1.7, -v - 2.3, 5.0, -5.0, 1e6, -1e6):
                    after = _outputs(name, _with(at, param, idx, w))
                    for d, x, y in zip(deps, before, after, strict=True):
                        d |= x != y
            assert any(d.any() for d in deps), f"{name}: {param}{list(idx)} changes nothing"
            yield values, base, param, idx, deps


@pytest.mark.parametrize("name", KERNELS)
def test_a_nan_input_gives_nan_in_exactly_the_outputs_that_depend_on_it(
        name: str, rng: np.random.Generator) -> None:
    outputs = [o for o, _ in SPECS[name].outputs]
    for values, base, param, idx, deps in _entries(name, rng):
        got = _outputs(name, _with(values, param, idx, np.nan))
        for out, g, b, dep in zip(outputs, got, base, deps, strict=True):
            where = f"{name}: NaN in {param}{list(idx)} → {out}"
            hidden = dep & ~np.isnan(g)
            if name in STEP_KERNELS:  # the documented exception: a step mask gives 0
                assert np.all(g[hidden] == 0), f"{where}: {g[hidden]} where NaN or 0 is due"
            else:
                assert not hidden.any(), (
                    f"{where}: finite {g[hidden]} at {np.argwhere(hidden).tolist()} "
                    "where the output depends on the NaN")
            assert np.array_equal(g[~dep], b[~dep]), (
                f"{where}: the NaN leaked into outputs that do not depend on it")


@pytest.mark.parametrize("name", KERNELS)
def test_an_infinite_input_gives_the_limit_or_nan_never_a_wrong_finite_number(
        name: str, rng: np.random.Generator) -> None:
    outputs = [o for o, _ in SPECS[name].outputs]
    for values, base, param, idx, deps in _entries(name, rng):
        for sign in (1.0, -1.0):
            got = _outputs(name, _with(values, param, idx, sign * np.inf))
            near = _outputs(name, _with(values, param, idx, sign * 1e30))  # towards the limit
            for out, g, b, n, dep in zip(outputs, got, base, near, deps, strict=True):
                where = f"{name}: {sign * np.inf} in {param}{list(idx)} → {out}"
                assert np.array_equal(g[~dep], b[~dep]), f"{where}: leaked into others"
                inf = np.isinf(g)
                assert np.all(np.sign(g[inf]) == np.sign(n[inf])) and np.all(
                    np.abs(n[inf]) > 1e20), f"{where}: {g[inf]}, but towards it {n[inf]}"
                fin = np.isfinite(g)
                assert np.allclose(g[fin], n[fin], rtol=1e-6, atol=1e-9), (
                    f"{where}: finite {g[fin]} is not the limit (towards it: {n[fin]})")


def test_relu_step_masks_map_nan_to_zero_the_documented_exception() -> None:
    nan = np.array([[np.nan, -1.0, 0.0, 2.0]], dtype=np.float32)
    assert kernels.relu_grad(nan).tolist() == [[0.0, 0.0, 0.0, 1.0]]
    assert kernels.relu_backward(np.ones_like(nan), nan).tolist() == [[0.0, 0.0, 0.0, 1.0]]
    assert np.isnan(kernels.relu(nan)[0, 0]), "ReLU itself propagates NaN (np.maximum)"
    doc = kernels.relu_grad.__doc__ or ""
    assert "NaN in Z gives 0" in doc and "heaviside" in doc


# --------------------------------------------------------------------------- calculus CLI

@pytest.mark.parametrize("at", ["x=nan", "x=inf", "x=-inf", "x=1,y=-Inf", "y = oo"])
def test_gradient_at_nan_or_inf_is_a_one_line_error_with_exit_2(
        capsys: pytest.CaptureFixture[str], at: str) -> None:
    code = main(["gradient", "log(x) + y", "--wrt", "x", "y", "--at", at])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: --at ") and "is not a finite number" in err
    assert len(err.strip().splitlines()) == 1 and "nan" not in out.lower()


@pytest.mark.parametrize(("expr", "at", "message"), [
    ("log(x)", "x=-1", "f = log(x) is undefined at x=-1 (gives I*pi)"),
    ("sqrt(x)", "x=-4", "f = sqrt(x) is undefined at x=-4"),
    ("Heaviside(x)", "x=0", "DiracDelta(0), is not a number"),
    ("log(x)", "x=0", "undefined at x=0"),
])
def test_gradient_outside_the_domain_is_a_domain_error_not_a_number(
        capsys: pytest.CaptureFixture[str], expr: str, at: str, message: str) -> None:
    code = main(["gradient", expr, "--wrt", "x", "--at", at, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", f"printed a value outside the domain: {out}"
    assert err.startswith("error:") and message in err


def test_gradient_on_the_relu_kink_states_the_convention(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradient", "relu(x)", "--wrt", "x", "--at", "x=0", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["value"] == [["0"]]
    assert data["notes"] == ["x = 0 is a kink (the function is not differentiable there): "
                             "ReLU'(0) = 0 by convention (step(0) = 0)"]
    assert main(["gradient", "relu(x)", "--wrt", "x", "--at", "x=0"]) == 0
    assert "ReLU'(0) = 0 by convention" in " ".join(capsys.readouterr().out.split())
    # Off the kink there is nothing to state; Max(x, 0) is relu(x): the same derivative.
    assert main(["gradient", "relu(x)", "--wrt", "x", "--at", "x=1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["notes"] == []
    assert main(["gradient", "Max(x, 0)", "--wrt", "x", "--at", "x=0", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["value"] == [["0"]] and "ReLU'(0) = 0 by convention" in data["notes"][0]


def test_gradient_errors_from_the_real_command_line_are_one_line_with_exit_2() -> None:
    proc = subprocess.run([*JLAB, "gradient", "log(x)", "--wrt", "x", "--at", "x=nan"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: --at x=nan is not a finite number")
