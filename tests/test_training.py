"""The trainer: it learns, is deterministic, resumes bit-for-bit, checks its gradients (and
the checks catch broken kernels), stops on divergence keeping the last good checkpoint, and
keeps a complete run directory. Small data only: the embedded digits, cut with ``limit``."""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

import jacobian_lab.kernels as kernels
from jacobian_lab.cli import train as _cli_train
from jacobian_lab.errors import JlabError, TrainingError, UnknownNameError
from jacobian_lab.training import model, plots, rundir, trainer
from jacobian_lab.training.checks import (
    GradientCheckError,
    Tolerances,
    check_gradients,
    closed_form_gradients,
    reference_loss,
)
from jacobian_lab.training.data import Dataset, load_dataset
from jacobian_lab.training.state import RunState
from jacobian_lab.training.trainer import DivergenceError, TrainConfig

QUIET: dict[str, Any] = {"progress": False, "plots": False}


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset(None)


def _run(tmp_path: Path, digits: Dataset, name: str = "run", **settings: Any
         ) -> trainer.TrainSummary:
    return trainer.train(TrainConfig(**settings), run_dir=tmp_path / name, dataset=digits,
                         **QUIET)


def _weights(run_dir: Path, file: str = trainer.WEIGHTS) -> dict[str, np.ndarray]:
    with np.load(run_dir / file) as z:
        return {k: z[k] for k in z.files if k != "state"}


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def _batch(rng: np.random.Generator, sizes: tuple[int, ...], m: int = 24,
           activation: str = "relu", loss: str = "cross-entropy"
           ) -> tuple[model.Network, np.ndarray, np.ndarray]:
    net = model.init_network(sizes, activation=activation, loss=loss, rng=rng)
    X = rng.random((sizes[0], m)).astype(np.float32)
    Y = np.eye(sizes[-1], dtype=np.float32)[:, rng.integers(0, sizes[-1], m)]
    return net, X, Y


# --------------------------------------------------------------------------- learning

def test_a_short_run_learns_the_embedded_digits(tmp_path: Path, digits: Dataset) -> None:
    s = _run(tmp_path, digits, epochs=3)
    assert s.test_accuracy > 0.6  # chance is 0.1
    assert s.history[-1]["train_loss"] < s.history[0]["train_loss"]
    assert s.checks["count"] >= 2 and s.checks["failed"] == 0
    assert s.checks["max_closed_form"] <= 1e-10
    assert s.checks["max_fd_direction"] <= 1e-6
    assert sum(map(sum, s.confusion)) == digits.x_test.shape[0]
    assert s.steps == 3 * math.ceil(4000 / 64)


def test_the_notebook_run_full_batch_gd_uniform_init(tmp_path: Path, digits: Dataset) -> None:
    s = _run(tmp_path, digits, optimizer="gd", init="uniform", lr=0.1, epochs=30,
             limit=600, check_every=15)
    assert s.steps == 30
    assert s.test_accuracy > 0.25
    assert s.checks["failed"] == 0


@pytest.mark.parametrize(("activation", "loss", "layers"), [
    ("sigmoid", "cross-entropy", (784, 16, 10)), ("tanh", "mse", (784, 16, 10)),
    ("relu", "mse", (784, 16, 10)), ("relu", "cross-entropy", (784, 24, 16, 10))])
def test_other_activations_losses_and_depths_learn(tmp_path: Path, digits: Dataset,
                                                   activation: str, loss: str,
                                                   layers: tuple[int, ...]) -> None:
    s = _run(tmp_path, digits, layers=layers, activation=activation, loss=loss,
             lr=0.5 if loss == "mse" or activation == "sigmoid" else 0.1, epochs=2,
             limit=1000, check_every=20)
    assert s.test_accuracy > 0.4
    assert s.checks["failed"] == 0


def test_sgd_takes_one_sample_per_step_and_float64_keeps_its_dtype(
        tmp_path: Path, digits: Dataset) -> None:
    s = _run(tmp_path, digits, optimizer="sgd", epochs=1, limit=300, dtype="float64",
             lr=0.05, check_every=100)
    assert s.steps == 300
    assert all(w.dtype == np.float64 for w in _weights(s.run_dir).values())
    assert s.checks["failed"] == 0


# --------------------------------------------------------------------------- determinism

def test_the_same_seed_gives_bit_identical_weights(tmp_path: Path, digits: Dataset) -> None:
    a = _run(tmp_path, digits, "a", epochs=2, limit=800, seed=7)
    b = _run(tmp_path, digits, "b", epochs=2, limit=800, seed=7)
    c = _run(tmp_path, digits, "c", epochs=2, limit=800, seed=8)
    assert _same(_weights(a.run_dir), _weights(b.run_dir))
    assert not _same(_weights(a.run_dir), _weights(c.run_dir))


@pytest.mark.parametrize(("optimizer", "total"), [("minibatch", 2), ("gd", 6), ("sgd", 2)])
def test_resume_continues_bit_for_bit(tmp_path: Path, digits: Dataset, optimizer: str,
                                      total: int) -> None:
    settings: dict[str, Any] = {"optimizer": optimizer, "limit": 150 if optimizer == "sgd"
                                else 600, "check_every": 2 if optimizer == "gd" else 7,
                                "seed": 3}
    straight = _run(tmp_path, digits, "straight", epochs=total, **settings)
    first = _run(tmp_path, digits, "split", epochs=total // 2, **settings)
    assert json.loads((first.run_dir / trainer.CONFIG).read_text())["epochs"] == total // 2
    resumed = trainer.resume(first.run_dir, epochs=total, dataset=digits, **QUIET)
    assert resumed.epochs == straight.epochs == total
    assert resumed.steps == straight.steps
    assert _same(_weights(straight.run_dir), _weights(resumed.run_dir))
    # The history and the checks (their random directions too) continue where they stopped.
    for key in ("train_loss", "test_loss", "test_accuracy"):
        assert [r[key] for r in resumed.history] == [r[key] for r in straight.history]
    def during(s: trainer.TrainSummary) -> list[tuple[int, float]]:
        return [(c["step"], c["fd_direction"]) for c in s.check_records if not c["final"]]

    assert during(resumed) == during(straight) and len(during(straight)) >= 2
    assert straight.check_records[-1] == resumed.check_records[-1]  # the end-of-run check


def test_resume_refuses_changed_settings_and_fewer_epochs(tmp_path: Path,
                                                          digits: Dataset) -> None:
    s = _run(tmp_path, digits, epochs=2, limit=300, check_every=0)
    with pytest.raises(TrainingError, match=r"--lr 0\.5 differs"):
        trainer.resume(s.run_dir, overrides={"lr": 0.5}, dataset=digits, **QUIET)
    with pytest.raises(TrainingError, match="at least 2"):
        trainer.resume(s.run_dir, epochs=1, dataset=digits, **QUIET)
    with pytest.raises(TrainingError, match="not a run directory"):
        trainer.resume(tmp_path / "nowhere", dataset=digits, **QUIET)
    # A finished run resumed with the same total trains nothing and changes nothing.
    again = trainer.resume(s.run_dir, overrides={"lr": 0.1, "strict": True}, dataset=digits,
                           **QUIET)
    assert again.steps == s.steps and _same(_weights(s.run_dir), _weights(again.run_dir))


# --------------------------------------------------------------------------- gradient checks

@pytest.mark.parametrize("activation", model.ACTIVATIONS)
@pytest.mark.parametrize("loss", model.LOSSES)
def test_backprop_through_the_kernels_passes_the_checks(rng: np.random.Generator,
                                                        activation: str, loss: str) -> None:
    net, X, Y = _batch(rng, (12, 9, 7, 5), activation=activation, loss=loss)
    result = check_gradients(net, X, Y, rng, n_directions=3, n_coordinates=4)
    assert result.passed, result.failures
    assert result.closed_form <= 1e-10 and result.forward <= 1e-10
    assert result.fd_direction <= 1e-6 and result.fd_coordinate <= 1e-6


def test_steps_across_a_relu_kink_are_drawn_again_not_reported_as_errors(
        rng: np.random.Generator) -> None:
    net, X, Y = _batch(rng, (12, 9, 5), activation="relu")
    X64 = X.astype(np.float64)
    # Put unit 1's pre-activation for sample 1 exactly on the kink, Z = 0 (exact in float64:
    # the bias is the negated float64 product; the check runs in float64).
    net = net.astype(np.float64)
    net.biases[0][0, 0] = -(net.weights[0][0] @ X64[:, 0])
    assert (net.weights[0] @ X64 + net.biases[0])[0, 0] == 0.0
    result = check_gradients(net, X64, Y.astype(np.float64), rng, n_coordinates=6)
    assert result.passed, result.failures
    assert result.kink_skips >= 10  # every random direction moves Z¹₁₁ off 0: none is usable
    assert math.isnan(result.fd_direction)  # so no direction is compared (and none fails)
    assert result.fd_coordinate <= 1e-6 and result.closed_form <= 1e-10


def test_the_closed_forms_agree_with_central_differences(rng: np.random.Generator) -> None:
    """The witness itself: BP1–BP4 in plain NumPy vs a full finite-difference gradient."""
    net, X, Y = _batch(rng, (5, 4, 3), m=6, activation="tanh")
    Ws = [W.astype(np.float64) for W in net.weights]
    bs = [b.astype(np.float64) for b in net.biases]
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    _, dWs, dbs = closed_form_gradients(Ws, bs, X64, Y64, "tanh", "cross-entropy")
    h = 1e-6
    for params, grads in ((Ws, dWs), (bs, dbs)):
        for p, g in zip(params, grads, strict=True):
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = reference_loss(Ws, bs, X64, Y64, "tanh", "cross-entropy")
                p[idx] = old - h
                down = reference_loss(Ws, bs, X64, Y64, "tanh", "cross-entropy")
                p[idx] = old
                assert (up - down) / (2 * h) == pytest.approx(g[idx], rel=1e-6, abs=1e-9)


def _no_one_over_m(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray) -> Any:
    """A broken BP3/BP4: the batch sums instead of the batch means."""
    return dZ @ A_prev.T, dZ.sum(axis=1, keepdims=True), W.T @ dZ


def _shifted_relu_backward(dA: np.ndarray, Z: np.ndarray) -> Any:
    """A broken BP2: ReLU′(0) = 1 and the step shifted left, step(Z + 0.05)."""
    return dA * (Z >= -0.05)


def test_the_check_catches_a_kernel_without_the_one_over_m(
        rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    net, X, Y = _batch(rng, (12, 9, 5))
    monkeypatch.setattr(kernels, "dense_backward", _no_one_over_m)
    result = check_gradients(net, X, Y, rng)
    assert not result.passed
    assert result.closed_form > 1 and result.fd_direction > 1e-3
    assert any(f.startswith("dW2[") and "closed form (BP4)" in f and "tolerance 1e-10" in f
               for f in result.failures)
    assert any(f.startswith("direction 1: backprop") for f in result.failures)


def test_the_check_catches_a_shifted_relu_derivative(
        rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    net, X, Y = _batch(rng, (12, 9, 5), m=64)
    monkeypatch.setattr(kernels, "relu_backward", _shifted_relu_backward)
    result = check_gradients(net, X, Y, rng)
    assert not result.passed
    assert any(f.startswith(("dW1[", "db1[")) for f in result.failures)
    assert result.closed_form > 1e-6


def test_strict_stops_at_the_first_failed_check(tmp_path: Path, digits: Dataset,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "dense_backward", _no_one_over_m)
    with pytest.raises(GradientCheckError, match=r"after 0 steps failed: .*tolerance") as e:
        _run(tmp_path, digits, epochs=2, limit=500, strict=True)
    assert e.value.exit_code == 1 and isinstance(e.value, TrainingError)
    metrics = json.loads((tmp_path / "run" / trainer.METRICS_JSON).read_text())
    assert metrics["status"] == "check failed" and not metrics["checks"][0]["passed"]
    # Without --strict the run goes on, counts the failures and the command exits 1.
    parser = argparse.ArgumentParser()
    _cli_train.add_train_arguments(parser)
    args = parser.parse_args(["--limit", "300", "--epochs", "1", "--check-every", "2",
                              "--lr", "0.002",
                              "--run-dir", str(tmp_path / "lenient"), "--quiet", "--no-plots",
                              "--json"])
    assert _cli_train.cmd_train(args) == 1
    summary = json.loads((tmp_path / "lenient" / trainer.SUMMARY).read_text())
    assert summary["checks"]["failed"] == summary["checks"]["count"] > 1


# --------------------------------------------------------------------------- divergence

def test_lr_100_diverges_with_a_clear_error_and_keeps_the_checkpoint(
        tmp_path: Path, digits: Dataset) -> None:
    with pytest.raises(DivergenceError, match=r"diverged in epoch 1 at step \d+: .*--lr 100"):
        _run(tmp_path, digits, lr=100.0, epochs=3, limit=500)
    run = tmp_path / "run"
    with np.load(run / trainer.CHECKPOINT) as z:
        assert json.loads(str(z["state"]))["epoch"] == 0
        assert all(np.isfinite(z[k]).all() for k in z.files if k != "state")
    assert json.loads((run / trainer.METRICS_JSON).read_text())["status"] == "diverged"
    assert not (run / trainer.WEIGHTS).exists()


def test_overflow_to_nan_is_detected_without_warnings(tmp_path: Path, digits: Dataset) -> None:
    with pytest.raises(DivergenceError, match=r"nan|no longer finite"):
        _run(tmp_path, digits, lr=1e30, epochs=2, limit=300, check_every=0)


def test_divergence_keeps_the_last_good_epoch(tmp_path: Path, digits: Dataset,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    settings: dict[str, Any] = {"limit": 320, "batch_size": 32, "check_every": 0}
    real = kernels.softmax_cross_entropy
    # Both runs on the NumPy kernels (a swapped kernel turns the fused step off): the fused
    # step agrees with them to rounding, not bit for bit.
    monkeypatch.setattr(kernels, "softmax_cross_entropy", lambda Z, Y: real(Z, Y))
    good = _run(tmp_path, digits, "good", epochs=1, **settings)
    calls = {"n": 0}

    def nan_in_epoch_two(Z: np.ndarray, Y: np.ndarray) -> Any:
        calls["n"] += 1
        # 10 training batches per epoch, then one test-set evaluation.
        return np.float32("nan") if calls["n"] == 11 + 4 else real(Z, Y)

    monkeypatch.setattr(kernels, "softmax_cross_entropy", nan_in_epoch_two)
    with pytest.raises(DivergenceError, match="in epoch 2 at step 14: the loss is nan"):
        _run(tmp_path, digits, "bad", epochs=3, **settings)
    bad = tmp_path / "bad"
    assert _same(_weights(bad, trainer.CHECKPOINT), _weights(good.run_dir))
    rows = list(csv.DictReader(io.StringIO((bad / trainer.METRICS_CSV).read_text())))
    assert [r["epoch"] for r in rows] == ["1"]


# --------------------------------------------------------------------------- run directory

def test_the_run_directory_holds_config_metrics_weights_and_checkpoint(
        tmp_path: Path, digits: Dataset) -> None:
    s = trainer.train(TrainConfig(layers=(784, 12, 10), epochs=2, limit=400),
                      run_dir=tmp_path / "run", dataset=digits, progress=False, plots=True)
    run = s.run_dir
    config = json.loads((run / trainer.CONFIG).read_text())
    assert TrainConfig.from_dict(config) == s.config and config["layers"] == [784, 12, 10]
    w = _weights(run)
    assert {k: v.shape for k, v in w.items()} == {
        "W1": (12, 784), "b1": (12, 1), "W2": (10, 12), "b2": (10, 1)}
    assert all(v.dtype == np.float32 for v in w.values())
    metrics = json.loads((run / trainer.METRICS_JSON).read_text())
    assert metrics["status"] == "done" and [r["epoch"] for r in metrics["epochs"]] == [1, 2]
    assert metrics["checks"] and all(c["passed"] for c in metrics["checks"])
    rows = list(csv.DictReader(io.StringIO((run / trainer.METRICS_CSV).read_text())))
    assert tuple(rows[0]) == trainer.CSV_FIELDS and len(rows) == 2
    assert float(rows[1]["test_accuracy"]) == pytest.approx(s.test_accuracy)
    summary = json.loads((run / trainer.SUMMARY).read_text())
    assert summary["test_accuracy"] == s.test_accuracy
    assert not list(run.glob(".*.tmp"))  # atomic writes leave no temporary files
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert s.notes == [plots.NO_MATPLOTLIB]
    else:
        for name in (plots.LOSS_PNG, plots.ACCURACY_PNG, plots.WEIGHTS_PNG):
            assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(TrainingError, match="already holds a run"):
        trainer.train(TrainConfig(epochs=1), run_dir=run, dataset=digits, **QUIET)


def test_plots_are_skipped_with_a_note_without_matplotlib(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    files, notes = plots.write_plots(tmp_path, [{"epoch": 1}], np.zeros((3, 784)))
    assert files == [] and notes == [plots.NO_MATPLOTLIB]


# --------------------------------------------------------------------------- kernels only

def test_the_trainer_computes_with_the_kernels(tmp_path: Path, digits: Dataset,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    used: set[str] = set()
    for name in ("dense_forward", "dense_backward", "relu", "softmax", "softmax_cross_entropy",
                 "softmax_cross_entropy_grad", "relu_backward"):
        real = getattr(kernels, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kw: Any) -> Any:
            used.add(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(kernels, name, spy)
    _run(tmp_path, digits, "spied", epochs=1, limit=200, check_every=0)
    assert len(used) == 7
    # A kernel that returns a zero output gradient freezes the network at its initial weights.
    monkeypatch.setattr(kernels, "softmax_cross_entropy_grad",
                        lambda A, Y: np.zeros_like(A))
    frozen = _run(tmp_path, digits, "frozen", epochs=1, limit=200, check_every=0)
    init = model.init_network((784, 10, 10), rng=np.random.default_rng(0))
    assert _same(_weights(frozen.run_dir), init.arrays())


# --------------------------------------------------------------------------- settings, CLI

def test_settings_are_validated_with_the_allowed_values(digits: Dataset) -> None:
    with pytest.raises(UnknownNameError, match="activation `rleu` — did you mean `relu`"):
        TrainConfig(activation="rleu")
    with pytest.raises(UnknownNameError, match="gd, sgd, minibatch"):
        TrainConfig(optimizer="adam")
    with pytest.raises(TrainingError, match="--batch-size does not apply"):
        TrainConfig(optimizer="gd", batch_size=32)
    with pytest.raises(TrainingError, match="--lr must be a positive"):
        TrainConfig(lr=-1.0)
    with pytest.raises(TrainingError, match=r"starts with 100 inputs .* 784 pixels"):
        trainer.prepare_data(digits, TrainConfig(layers=(100, 10)))
    with pytest.raises(TrainingError, match="unknown settings momentum"):
        TrainConfig.from_dict({"momentum": 0.9})


def test_the_cli_defaults_agree_with_the_trainer() -> None:
    defaults = TrainConfig()
    for key, value in _cli_train.DEFAULTS.items():
        assert getattr(defaults, key) == value, key
    assert _cli_train.ACTIVATIONS == model.ACTIVATIONS and _cli_train.LOSSES == model.LOSSES
    assert _cli_train.INITS == model.INITS and _cli_train.OPTIMIZERS == trainer.OPTIMIZERS
    assert _cli_train.DTYPES == trainer.DTYPES


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="jlab train")
    _cli_train.add_train_arguments(parser)
    return parser.parse_args(argv)


def test_jlab_train_json_prints_the_summary(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--layers", "784,10,10", "--epochs", "1", "--limit", "500", "--lr", "0.1",
                   "--batch-size", "50", "--seed", "1", "--run-dir", str(tmp_path / "r"),
                   "--json", "--quiet", "--no-plots"])
    assert _cli_train.cmd_train(args) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("test_accuracy", "test_loss", "train_loss", "seconds", "samples_per_second",
                "steps", "epochs", "run_dir", "confusion_matrix"):
        assert key in out, key
    assert out["steps"] == 10 and out["batch_size"] == 50
    for key in ("count", "failed", "max_fd_direction", "max_fd_coordinate", "max_closed_form"):
        assert key in out["checks"], key
    assert out["checks"]["failed"] == 0 and out["checks"]["max_closed_form"] <= 1e-10


def test_jlab_train_prints_tables_and_bad_options_fail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--epochs", "1", "--limit", "300", "--run-dir", str(tmp_path / "r"),
                   "--no-plots", "--quiet"])
    assert _cli_train.cmd_train(args) == 0
    out = capsys.readouterr().out
    assert "training summary" in out and "confusion matrix" in out and "recall" in out
    assert "all passed" in out
    for bad in (["--layers", "784"], ["--lr", "0"], ["--activation", "rleu"],
                ["--epochs", "0"]):
        with pytest.raises(SystemExit):
            _parse(bad)
    with pytest.raises(JlabError, match="leave out --run-dir"):
        _cli_train.cmd_train(_parse(["--resume", str(tmp_path / "r"), "--run-dir", "x",
                                     "--quiet"]))


def test_progress_shows_epochs_steps_loss_and_checks(tmp_path: Path, digits: Dataset) -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=150, force_terminal=True, color_system=None)
    trainer.train(TrainConfig(epochs=1, limit=300), run_dir=tmp_path / "r", dataset=digits,
                  console=console, plots=False)
    text = buf.getvalue()
    for word in ("epoch", "step", "loss", "samples/s", "check", "✓"):
        assert word in text, word
    # Not a terminal (a log file, CI): one plain line per epoch instead of live bars.
    buf = io.StringIO()
    trainer.train(TrainConfig(epochs=2, limit=300, check_every=3), run_dir=tmp_path / "log",
                  dataset=digits,
                  console=Console(file=buf, width=100), plots=False)
    lines = buf.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("test" in line and "check" in line and "✓" in line for line in lines)


def test_jlab_data_fetch_reports_progress_and_the_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import jacobian_lab.training.data as data

    seen: dict[str, Any] = {}

    def fake_fetch(dest_dir: Any = None, mirror: Any = None, checksums: Any = None,
                   timeout: float = 30, progress: Any = None) -> Path:
        seen.update(dest_dir=dest_dir, mirror=mirror, timeout=timeout)
        progress("train-images-idx3-ubyte.gz", 50, 100)
        progress("train-images-idx3-ubyte.gz", 100, 100)
        return Path(dest_dir)

    monkeypatch.setattr(data, "fetch_mnist", fake_fetch)
    parser = argparse.ArgumentParser(prog="jlab data")
    _cli_train.add_data_arguments(parser)
    args = parser.parse_args(["fetch", "mnist", "--mirror", "http://127.0.0.1:9/m/",
                              "--dir", str(tmp_path), "--timeout", "5"])
    assert _cli_train.cmd_data_fetch(args) == 0
    assert seen == {"dest_dir": str(tmp_path), "mirror": "http://127.0.0.1:9/m/",
                    "timeout": 5.0}
    assert f"--data {tmp_path}" in capsys.readouterr().out.replace("\n", "")
    with pytest.raises(SystemExit):
        parser.parse_args(["fetch", "cifar"])


def test_check_tolerances_are_configurable(rng: np.random.Generator) -> None:
    net, X, Y = _batch(rng, (6, 5, 3))
    tight = check_gradients(net, X, Y, rng, tolerances=Tolerances(fd=1e-30))
    assert not tight.passed and all("tolerance 1e-30" in f for f in tight.failures)
    assert check_gradients(net, X, Y, rng, tolerances=Tolerances(fd=1e-3)).passed


# --------------------------------------------------------------------------- issue 12: validation

@pytest.mark.parametrize(("saved", "message"), [
    ([1, 2], "expected a JSON object of settings, found a list"),
    ({"lr": "0.1"}, "setting `lr` must be a number, got '0.1'"),
    ({"lr": None}, "setting `lr` must be a number, got None"),
    ({"layers": 784}, "setting `layers` must be a list of sizes"),
    ({"seed": "abc"}, "setting `seed` must be a whole number, got 'abc'"),
    ({"seed": -1}, "--seed must be a whole number >= 0, got -1"),
    ({"tol_fd": "x"}, "setting `tol_fd` must be a number, got 'x'"),
    ({"lr": 10**400}, "--lr must be a positive number"),
    ({"strict": "yes"}, "setting `strict` must be true or false"),
])
def test_a_hand_edited_config_is_refused_naming_the_file_and_the_field(
        saved: Any, message: str) -> None:
    with pytest.raises(TrainingError, match=r"^run/config\.json: " + _escape(message)):
        TrainConfig.from_dict(saved, "run/config.json")


def _escape(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: [1, 2, 3], "expected a JSON object, found a list"),
    (lambda s: s.update(history=None), "`history` must be a list of objects"),
    (lambda s: s.update(first_loss="abc"), "`first_loss` must be a finite number or null"),
    (lambda s: s.update(epoch=-5), "`epoch` must be a whole number >= 0, got -5"),
    (lambda s: s.update(seconds=float("nan")), "`seconds` must be a number of seconds"),
    (lambda s: s.pop("rng") and None, "no `rng`"),
    (lambda s: s.update(rng={"bit_generator": "nope"}), "`rng` is not a generator state"),
])
def test_a_tampered_checkpoint_state_is_refused_naming_the_field(change: Any,
                                                                 message: str) -> None:
    net = model.init_network((4, 3, 2), rng=np.random.default_rng(0))
    state = RunState(net, np.random.default_rng(0), np.random.default_rng(1))
    d = json.loads(state.to_json())
    new = change(d)
    text = json.dumps(d if new is None else new)
    with pytest.raises(TrainingError, match=r"^ck\.npz: damaged checkpoint state.*"
                                            + _escape(message)):
        RunState.from_json(text, net, Path("ck.npz"))


@pytest.mark.parametrize("layers", [(784, 100_000_000, 10), (784, 10**20, 10)])
def test_a_network_too_large_for_memory_is_refused_with_the_memory_it_needs(
        layers: tuple[int, ...]) -> None:
    with pytest.raises(TrainingError, match=r"needs about .* of memory; this machine allows"):
        TrainConfig(layers=layers)


def test_a_negative_seed_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="--seed must be a whole number >= 0"):
        trainer.train(TrainConfig(seed=-1), run_dir=tmp_path / "r", **QUIET)
    assert not (tmp_path / "r").exists()
    with pytest.raises(SystemExit):
        _parse(["--seed", "-1"])


def test_a_garbage_checkpoint_is_unreadable_and_never_mentions_pickles(
        tmp_path: Path, digits: Dataset) -> None:
    s = trainer.train(TrainConfig(epochs=1, limit=300, check_every=0), run_dir=tmp_path / "r",
                      dataset=digits, **QUIET)
    (s.run_dir / trainer.CHECKPOINT).write_bytes(b"\x93NUMPY garbage" * 100)
    with pytest.raises(TrainingError, match=r"checkpoint\.npz: unreadable checkpoint \(not a "
                                            r"NumPy \.npz archive") as e:
        trainer.resume(s.run_dir, epochs=2, dataset=digits, **QUIET)
    assert "pickle" not in str(e.value)


def test_a_run_dir_held_by_another_run_is_refused_and_nothing_of_it_removed(
        tmp_path: Path, digits: Dataset) -> None:
    from jacobian_lab.files import RunDirLock

    run = tmp_path / "r"
    run.mkdir()
    (run / trainer.CONFIG).write_text("{}")  # the other run's file, mid-run
    holder = RunDirLock(run).acquire()
    try:
        with pytest.raises(JlabError, match=r"in use by another run \(PID \d+\)"):
            trainer.train(TrainConfig(epochs=1, limit=300), run_dir=run, dataset=digits,
                          **QUIET)
    finally:
        holder.release()
    assert (run / trainer.CONFIG).read_text() == "{}"


def test_a_write_error_in_the_middle_of_a_run_is_a_file_error_and_metrics_say_failed(
        tmp_path: Path, digits: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    from jacobian_lab.errors import FileError

    real, saves = rundir.save_checkpoint, []

    def save(run_dir: Path, state: Any) -> None:
        saves.append(state.epoch)
        if len(saves) == 2:  # the first checkpoint after epoch 1: the disk is full now
            raise FileError(f"cannot write {run_dir / trainer.CHECKPOINT}: no space left")
        real(run_dir, state)

    monkeypatch.setattr(rundir, "save_checkpoint", save)
    with pytest.raises(FileError, match="no space left"):
        trainer.train(TrainConfig(epochs=2, limit=300, check_every=0), run_dir=tmp_path / "r",
                      dataset=digits, **QUIET)
    metrics = json.loads((tmp_path / "r" / trainer.METRICS_JSON).read_text())
    assert metrics["status"] == "failed" and "no space left" in metrics["message"]


# --------------------------------------------------------------------------- restructure (issue 13)

def test_the_trainer_rooms_import_one_way_and_stay_small() -> None:
    """Each room of the training package imports only rooms before it in this order, at the
    top of the module (plots' lazy matplotlib excepted), and holds fewer than 400 lines."""
    import ast

    order = ["dataset", "idx", "fetch", "embedded", "data", "model", "checks", "fused", "plots",
             "config", "batches", "state", "rundir", "summary", "display", "loop", "trainer"]
    root = Path(trainer.__file__).parent
    assert sorted(order) == sorted(p.stem for p in root.glob("*.py") if p.stem != "__init__")
    for position, name in enumerate(order):
        source = (root / f"{name}.py").read_text()
        assert len(source.splitlines()) < 400, name
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "jacobian_lab.training"):
                parts = (node.module or "").split(".")
                for room in parts[2:3] or [a.name for a in node.names]:
                    assert order.index(room) < position, f"{name} imports {room}"
        inner = [ast.unparse(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)
                 for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert all("matplotlib" in i for i in inner) and (not inner or name == "plots"), name


# --------------------------------------------------------------------------- batch size recorded

def test_the_default_batch_size_is_recorded_as_64_in_config_json_and_the_json_summary(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["--epochs", "1", "--limit", "300", "--check-every", "0", "--run-dir",
                   str(tmp_path / "r"), "--json", "--quiet", "--no-plots"])
    assert _cli_train.cmd_train(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["batch_size"] == 64
    assert json.loads((tmp_path / "r" / trainer.CONFIG).read_text())["batch_size"] == 64
    assert json.loads((tmp_path / "r" / trainer.SUMMARY).read_text())["batch_size"] == 64


@pytest.mark.parametrize(("settings", "saved", "used"), [
    ({"optimizer": "sgd", "limit": 40}, 1, 1),
    ({"optimizer": "gd", "limit": 40}, None, 40),  # gd: every sample, however many there are
    ({"limit": 40}, 64, 40),  # 40 samples: one batch of 40 per epoch
    ({"batch_size": 16, "limit": 40}, 16, 16),
])
def test_the_batch_size_used_is_in_the_summary_and_the_setting_in_config_json(
        tmp_path: Path, digits: Dataset, settings: dict[str, Any], saved: int | None,
        used: int) -> None:
    s = _run(tmp_path, digits, epochs=1, check_every=0, **settings)
    assert s.to_dict()["batch_size"] == used
    assert json.loads((s.run_dir / trainer.CONFIG).read_text())["batch_size"] == saved
    table = io.StringIO()
    _cli_train.render_summary(s, Console(file=table, width=200))
    expected = {"sgd": "batch 1", "gd": "full batch of 40"}.get(settings.get("optimizer", ""),
                                                              f"batch {used}")
    assert f"({expected})" in table.getvalue()


def test_a_config_json_with_a_null_batch_size_resumes_with_64(tmp_path: Path,
                                                              digits: Dataset) -> None:
    s = _run(tmp_path, digits, epochs=1, limit=300, check_every=0)
    path = s.run_dir / trainer.CONFIG
    path.write_text(json.dumps({**json.loads(path.read_text()), "batch_size": None}))
    again = trainer.resume(s.run_dir, epochs=2, dataset=digits, **QUIET)
    assert again.to_dict()["batch_size"] == 64 and again.config.batch_size == 64
    assert json.loads(path.read_text())["batch_size"] == 64


# --------------------------------------------------------------------------- the best epoch

def _scripted_accuracy(monkeypatch: pytest.MonkeyPatch, accuracies: list[float]) -> None:
    """Make the loop's evaluation report these test accuracies, epoch after epoch."""
    from jacobian_lab.training import batches, loop

    real, script = batches.evaluate, iter(accuracies)

    def evaluate(*args: Any) -> Any:
        loss, _, preds = real(*args)
        return loss, next(script), preds

    monkeypatch.setattr(loop, "evaluate", evaluate)


def test_the_best_epoch_is_reported_and_its_weights_kept_beside_the_last(
        tmp_path: Path, digits: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    settings: dict[str, Any] = {"limit": 300, "check_every": 0}
    _scripted_accuracy(monkeypatch, [0.5, 0.9, 0.7, 0.9])
    s = _run(tmp_path, digits, "peak", epochs=4, **settings)
    assert (s.best_epoch, s.best_test_accuracy) == (2, 0.9)  # the first of a tie
    assert s.test_accuracy == 0.9 and s.epochs == 4
    out = s.to_dict()
    assert out["best_epoch"] == 2 and out["best_test_accuracy"] == 0.9
    assert "best.npz" in out["files"]
    assert json.loads((s.run_dir / trainer.SUMMARY).read_text())["best_epoch"] == 2
    monkeypatch.undo()
    two = _run(tmp_path, digits, "two", epochs=2, **settings)  # bit-identical to epoch 2
    assert _same(_weights(s.run_dir, trainer.BEST), _weights(two.run_dir))
    assert not _same(_weights(s.run_dir, trainer.BEST), _weights(s.run_dir))
    table = io.StringIO()
    _cli_train.render_summary(s, Console(file=table, width=200))
    assert "epoch 2: test accuracy 0.9000; its weights are in best.npz" in table.getvalue()


def test_best_npz_says_which_epoch_it_holds(tmp_path: Path, digits: Dataset,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted_accuracy(monkeypatch, [0.5, 0.75, 0.6])
    s = _run(tmp_path, digits, epochs=3, limit=300, check_every=0)
    with np.load(s.run_dir / trainer.BEST) as z:
        assert json.loads(str(z["state"])) == {"epoch": 2, "test_accuracy": 0.75}
        assert sorted(z.files) == sorted([*_weights(s.run_dir), "state"])


def test_best_npz_is_written_with_the_checkpoints_not_at_every_gd_step(
        tmp_path: Path, digits: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    """gd checkpoints every 25 iterations; a best that improves at every iteration is saved
    with those checkpoints (and the last), not 30 times."""
    saves: list[int] = []
    real = rundir.save_best

    def save_best(run_dir: Path, arrays: Any, record: Any) -> None:
        saves.append(record["epoch"])
        real(run_dir, arrays, record)

    monkeypatch.setattr(rundir, "save_best", save_best)
    _scripted_accuracy(monkeypatch, [k / 100 for k in range(1, 31)])
    s = _run(tmp_path, digits, optimizer="gd", epochs=30, limit=200, check_every=0)
    assert saves == [25, 30] and s.best_epoch == 30
    assert _same(_weights(s.run_dir, trainer.BEST), _weights(s.run_dir))


def test_resume_keeps_tracking_the_best_epoch(tmp_path: Path, digits: Dataset,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settings: dict[str, Any] = {"limit": 300, "check_every": 0}
    _scripted_accuracy(monkeypatch, [0.5, 0.8])
    s = _run(tmp_path, digits, epochs=2, **settings)
    best_two = _weights(s.run_dir, trainer.BEST)
    _scripted_accuracy(monkeypatch, [0.7, 0.6])
    again = trainer.resume(s.run_dir, epochs=4, dataset=digits, **QUIET)
    assert again.best_epoch == 2  # from the history before the stop
    assert _same(_weights(s.run_dir, trainer.BEST), best_two)
    _scripted_accuracy(monkeypatch, [0.95])
    third = trainer.resume(s.run_dir, epochs=5, dataset=digits, **QUIET)
    assert (third.best_epoch, third.best_test_accuracy) == (5, 0.95)
    assert _same(_weights(s.run_dir, trainer.BEST), _weights(s.run_dir))


def test_a_run_from_before_best_npz_reports_its_best_epoch_but_claims_no_weights(
        tmp_path: Path, digits: Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted_accuracy(monkeypatch, [0.5, 0.8])
    s = _run(tmp_path, digits, epochs=2, limit=300, check_every=0)
    (s.run_dir / trainer.BEST).unlink()  # as a run directory written before best.npz
    _scripted_accuracy(monkeypatch, [0.7])
    again = trainer.resume(s.run_dir, epochs=3, dataset=digits, **QUIET)
    assert again.best_epoch == 2 and "best.npz" not in again.files
    table = io.StringIO()
    _cli_train.render_summary(again, Console(file=table, width=200))
    assert "epoch 2: test accuracy 0.8000; its weights were not kept" in table.getvalue()


def test_the_best_epoch_is_the_first_highest_test_accuracy_of_a_real_run(
        tmp_path: Path, digits: Dataset) -> None:
    s = _run(tmp_path, digits, epochs=4, limit=600, check_every=0, lr=0.5)
    accs = [row["test_accuracy"] for row in s.history]
    assert s.best_epoch == accs.index(max(accs)) + 1
    assert s.best_test_accuracy == max(accs)


def test_the_train_report_names_the_best_epoch(tmp_path: Path, digits: Dataset,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from jacobian_lab.printing.train_report import write_train_report

    _scripted_accuracy(monkeypatch, [0.5, 0.75, 0.6])
    s = _run(tmp_path, digits, epochs=3, limit=300, check_every=0)
    text = write_train_report(s, tmp_path / "run.md").read_text()
    assert "| best epoch | 2: test accuracy 0.7500 (its weights: best.npz) |" in text
    assert "| optimiser | minibatch, lr 0.1, batch 64, seed 0 |" in text


# --------------------------------------------------------------------------- check budget

@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "10", True])
def test_a_check_budget_must_be_a_positive_finite_number(bad: Any) -> None:
    with pytest.raises(TrainingError, match=r"(--budget must be a positive number of seconds"
                                            r"|setting `budget` must be a number)"):
        TrainConfig(budget=bad)
    with pytest.raises(TrainingError, match=r"^run/config\.json: .*budget"):
        TrainConfig.from_dict({"budget": bad}, "run/config.json")


@pytest.mark.parametrize("text", ["0", "-2", "nan", "inf", "ten"])
def test_the_budget_option_refuses_what_is_not_a_positive_number(text: str) -> None:
    with pytest.raises(SystemExit):
        _parse(["--budget", text])


def test_the_budget_is_saved_in_config_json_and_may_change_on_resume(
        tmp_path: Path, digits: Dataset) -> None:
    s = _run(tmp_path, digits, epochs=1, limit=300, check_every=0, budget=2.5)
    path = s.run_dir / trainer.CONFIG
    assert json.loads(path.read_text())["budget"] == 2.5
    again = trainer.resume(s.run_dir, epochs=2, overrides={"budget": 7.0}, dataset=digits,
                           **QUIET)
    assert again.config.budget == 7.0 and json.loads(path.read_text())["budget"] == 7.0
    saved = json.loads(path.read_text())
    del saved["budget"]  # a run directory written before --budget existed
    assert TrainConfig.from_dict(saved).budget == 10.0


def test_a_check_over_its_budget_is_skipped_with_one_line_and_the_run_goes_on(
        tmp_path: Path, digits: Dataset) -> None:
    buf = io.StringIO()
    s = trainer.train(TrainConfig(epochs=2, limit=300, check_every=2, budget=1e-6),
                      run_dir=tmp_path / "r", dataset=digits,
                      console=Console(file=buf, width=200), plots=False)
    assert s.epochs == 2 and math.isfinite(s.test_loss)
    assert s.checks["skipped"] > 0 and s.checks["failed"] == 0
    assert s.checks["skipped"] + s.checks["count"] == len(s.check_records)
    lines = [line for line in buf.getvalue().splitlines() if "budget" in line]
    assert lines == ["warning: gradient check at epoch 1 skipped: over its 1e-06 s budget"]
    skipped = [r for r in s.check_records if r.get("skipped")]
    assert all(r["skipped"] == "budget" and r["passed"] is None for r in skipped)
    table = io.StringIO()
    _cli_train.render_summary(s, Console(file=table, width=300))
    assert f"{s.checks['skipped']} skipped (over their 1e-06 s budget, no verdict)" in (
        table.getvalue())
    metrics = json.loads((s.run_dir / trainer.METRICS_JSON).read_text())
    assert sum(row["checks_skipped"] for row in metrics["epochs"]) >= 1


def test_under_strict_a_check_over_its_budget_stops_the_run(tmp_path: Path,
                                                            digits: Dataset) -> None:
    with pytest.raises(GradientCheckError, match=r"gradient check at epoch 1 skipped: over "
                                                 r"its 1e-06 s budget; --strict needs every "
                                                 r"check to finish: raise --budget") as e:
        _run(tmp_path, digits, epochs=2, limit=300, check_every=2, budget=1e-6, strict=True)
    assert e.value.exit_code == 1
    metrics = json.loads((tmp_path / "run" / trainer.METRICS_JSON).read_text())
    assert metrics["status"] == "check failed" and "budget" in metrics["message"]


def test_a_generous_budget_changes_nothing(tmp_path: Path, digits: Dataset) -> None:
    a = _run(tmp_path, digits, "a", epochs=1, limit=300, check_every=2)
    b = _run(tmp_path, digits, "b", epochs=1, limit=300, check_every=2, budget=600.0)
    assert a.checks["skipped"] == b.checks["skipped"] == 0
    assert a.checks["count"] == b.checks["count"] > 1
    assert _same(_weights(a.run_dir), _weights(b.run_dir))


def test_a_budget_does_not_hide_a_wrong_gradient(tmp_path: Path, digits: Dataset,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The check still fails a broken backward kernel when it runs under its budget."""
    real = kernels.dense_backward

    def off_by_a_bit(*args: Any, **kw: Any) -> Any:
        dW, db, dA = real(*args, **kw)
        return dW * 1.001, db, dA

    monkeypatch.setattr(kernels, "dense_backward", off_by_a_bit)
    s = _run(tmp_path, digits, epochs=1, limit=300, check_every=2, budget=30.0)
    assert s.checks["failed"] > 0 and s.checks["skipped"] == 0


def test_the_training_modules_doctests_pass() -> None:
    import doctest

    import jacobian_lab.training as training
    from jacobian_lab.training import checks, config

    results = [doctest.testmod(m) for m in (training, config, checks, trainer)]
    assert [r.failed for r in results] == [0, 0, 0, 0]
    assert all(r.attempted for r in results[:3])
