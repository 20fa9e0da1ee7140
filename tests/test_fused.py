"""The fused training step: printed from the kernel specs, verified against the NumPy kernels,
used by the trainer when Numba imports (and not when it does not), wrong formulas caught."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp
from rich.console import Console

from jacobian_lab import mutation
from jacobian_lab.codegen import fused as printer
from jacobian_lab.codegen.specs import kernel_specs
from jacobian_lab.kernels import fused as compiled
from jacobian_lab.training import batches, model, trainer
from jacobian_lab.training import fused as trained
from jacobian_lab.training.config import TrainConfig
from jacobian_lab.training.data import load_dataset
from jacobian_lab.training.dataset import Dataset

numba = pytest.importorskip("numba")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset(None)


def _expr(kernel: str, output: str) -> Any:
    return dict(next(s for s in kernel_specs() if s.name == kernel).outputs)[output]


# --------------------------------------------------------------------------- printed


def test_the_committed_fused_step_is_what_the_specs_print_today() -> None:
    assert printer.check(), "run `jlab codegen` and commit kernels/_fused.py"


def test_the_step_is_printed_from_the_specs_its_products_through_blas() -> None:
    source = printer.fused_source()
    # W ← W − α (1/m) dZ A_prevᵀ: one gemm with β = 1 into W, no gradient array
    assert "gemm(101, 112, 111, n_out, n_in, m, (-lr/m), dZ.ctypes, dZ.shape[1], " \
           "A_in.ctypes, A_in.shape[1], 1.0, W.ctypes, W.shape[1])" in source
    # BP2 exactly as the spec has it: (W_nextᵀ dZ_next) ⊙ step(Z), ReLU'(0) = 0
    assert "(Z_prev[c, r] > 0)" in source
    doubled = sp.MatMul(2, _expr("dense_backward", "db"))
    changed = printer.fused_source(overrides={("dense_backward", "db"): doubled})
    assert changed != source and "(2*lr/m)" in changed


def test_a_thin_layers_products_are_loops_with_the_specs_coefficient() -> None:
    source = printer.fused_source()
    assert "thin = min(m, n_out, n_in) <= small" in source
    # the same update as the gemm call above: the coefficient and β printed from the spec
    assert "thin_atb(n_out, n_in, m, (-lr/m), dZ, A_in, 1.0, W)" in source
    assert "thin_abt(m, n_out, n_in, (1), A_in, W, 0.0, Z)" in source
    assert "thin_ab(m, n_in, n_out, (1), dZ, W, 0.0, dZ_prev)" in source
    doubled = sp.MatMul(2, _expr("dense_backward", "dW"))
    changed = printer.fused_source(overrides={("dense_backward", "dW"): doubled})
    assert "thin_atb(n_out, n_in, m, (-2*lr/m), dZ, A_in, 1.0, W)" in changed
    assert "gemm(101, 112, 111, n_out, n_in, m, (-2*lr/m)," in changed


def test_a_spec_of_the_wrong_shape_is_refused_when_printed() -> None:
    with pytest.raises(Exception, match="needs k × m"):
        printer.fused_source(overrides={("relu", "A"): sp.Transpose(_expr("relu", "A"))})


# --------------------------------------------------------------------------- verified


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("jit", [True, False])
def test_the_printed_step_makes_the_kernels_updates_on_a_small_batch(dtype: Any,
                                                                       jit: bool) -> None:
    err = trained.verify(compiled.load(jit=jit), dtype)
    assert err <= trained.TOLERANCE[np.dtype(dtype)]


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-4), (np.float64, 1e-11)])
def test_an_epoch_of_the_fused_step_ends_at_the_kernels_weights(digits: Dataset, dtype: Any,
                                                                 tol: float) -> None:
    config = TrainConfig(layers=(784, 32, 16, 10), dtype=np.dtype(dtype).name, limit=1000,
                         batch_size=50)
    data = batches.prepare_data(digits, config)
    net = model.init_network(config.layers, rng=np.random.default_rng(0), dtype=dtype)
    ours, theirs = net.copy(), net.copy()
    order = np.random.default_rng(1).permutation(data.n_train)
    step, reason = trained.fused_for(ours)
    assert step is not None, reason
    got = batches.train_epoch(ours, data, order, 50, 0.1, fused=step)
    want = batches.train_epoch(theirs, data, order, 50, 0.1)
    assert got[1] == want[1] and got[0] == pytest.approx(want[0], rel=tol)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert np.abs(a - b).max() <= tol * np.abs(b).max()


def _thin_net(layers: tuple[int, ...], dtype: Any, samples: int = 300
              ) -> tuple[model.Network, tuple[Any, ...]]:
    rng = np.random.default_rng(sum(layers))
    net = model.init_network(layers, rng=rng, dtype=dtype)
    xs = rng.random((samples, layers[0])).astype(dtype)
    labels = rng.integers(0, layers[-1], samples)
    ys = np.eye(layers[-1], dtype=dtype)[labels]
    return net, (xs, ys, labels, rng.permutation(samples))


@pytest.mark.parametrize("layers", [(784, 10, 10), (784, 12, 7, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_thin_loops_and_blas_make_the_same_steps(layers: tuple[int, ...],
                                                      dtype: Any) -> None:
    net, (xs, ys, labels, order) = _thin_net(layers, dtype)
    step = compiled.load()
    nb = -(-len(xs) // 128)  # three batches, the last one short
    results = {}
    for small in (0, compiled.SMALL, 1 << 30):  # BLAS, the default (loops here), loops
        mine = net.copy()
        costs, hits = np.zeros(nb), np.zeros(nb, np.int64)
        step(xs, ys, labels, order, 0, nb, 128, 0.1, tuple(mine.weights), tuple(mine.biases),
             costs, hits, small=small)
        results[small] = ([*mine.parameters(), costs], hits)
    blas_run, hits = results[0]
    tol = trained.TOLERANCE[np.dtype(dtype)]
    for small in (compiled.SMALL, 1 << 30):
        assert trained._difference(results[small][0], blas_run) <= tol
        assert (results[small][1] == hits).all()
    assert trained._difference(blas_run, [*net.parameters(), np.zeros(nb)]) > 100 * tol


def test_a_thin_layer_runs_its_products_as_loops_a_wide_one_through_blas() -> None:
    assert compiled.SMALL >= 10  # the networks of issue 16: 784-10-10, the 10 of 784-128-10
    source = printer.fused_source()
    fn = compiled._compiled(source, False)  # plain Python: its globals can be watched
    names = ("thin_abt", "thin_ab", "thin_atb")
    calls: list[str] = []
    real_gemm = compiled.blas()[1]

    def gemm(*args: Any) -> None:
        calls.append(f"gemm {args[3]}×{args[4]}×{args[5]}")
        real_gemm(*args)

    def watched(name: str) -> Any:
        real = fn.__globals__[name]
        return lambda *a: calls.append(f"{name} {a[0]}×{a[1]}×{a[2]}") or real(*a)

    saved = {n: fn.__globals__[n] for n in names}
    try:
        fn.__globals__.update({n: watched(n) for n in names})
        for layers in ((784, 10, 10), (784, 20, 10)):
            net, (xs, ys, labels, order) = _thin_net(layers, np.float64, samples=20)
            fn(xs, ys, labels, order, 0, 1, 20, 0.1, tuple(net.weights), tuple(net.biases),
               np.zeros(1), np.zeros(1, np.int64), gemm, compiled.SMALL)
    finally:
        fn.__globals__.update(saved)
    assert calls == [
        # 784-10-10: every product a loop
        "thin_abt 20×10×784", "thin_abt 20×10×10",
        "thin_ab 20×10×10", "thin_atb 10×10×20", "thin_atb 10×784×20",
        # 784-20-10: the first layer through BLAS (no side ≤ 16), the second as loops
        "gemm 20×20×784", "thin_abt 20×10×20",
        "thin_ab 20×20×10", "thin_atb 10×20×20", "gemm 20×784×20"]


def test_a_wrong_thin_loop_is_caught_by_the_verification() -> None:
    right = printer.fused_source()
    term = "t1[j] += c0 * b0 + c1 * b1 + c2 * b2 + c3 * b3"  # thin_atb: every other row
    assert right.count(term) == 1
    for wrong in (right.replace(term, term.removesuffix(" + c3 * b3")),  # a term dropped
                  right.replace("thin_abt(m, n_out, n_in, (1), A_in, W, 0.0, Z)",
                                "thin_abt(m, n_out, n_in, (1), A_in, W, 1.0, Z)")):
        for jit in (False, True):
            with pytest.raises(trained.FusedStepError, match="products through loops"):
                trained.verify(compiled.load(wrong, jit=jit), np.float64)
    # and BLAS's branch is verified too, not only the loops the small sizes take by default
    blas_wrong = right.replace("A_in.shape[1], W.ctypes, W.shape[1], 0.0, Z.ctypes",
                               "A_in.shape[1], W.ctypes, W.shape[1], 1.0, Z.ctypes")
    assert blas_wrong != right
    with pytest.raises(trained.FusedStepError, match="products through BLAS"):
        trained.verify(compiled.load(blas_wrong, jit=False), np.float64)


def test_checked_batches_go_through_the_kernels_and_are_compared(digits: Dataset,
                                                                 monkeypatch: Any,
                                                                 tmp_path: Path) -> None:
    seen: list[float] = []
    original = trained.FusedEpoch.compare

    def spy(self: trained.FusedEpoch, *args: Any, **kw: Any) -> float:
        seen.append(original(self, *args, **kw))
        return seen[-1]

    monkeypatch.setattr(trained.FusedEpoch, "compare", spy)
    s = trainer.train(TrainConfig(limit=640, batch_size=32, epochs=2, check_every=7),
                      run_dir=tmp_path / "run", dataset=digits, progress=False, plots=False)
    assert s.checks["count"] == 7 and s.checks["failed"] == 0  # 40 steps: 0, 7, …, 35; final
    assert len(seen) == 6 and max(seen) <= trained.TOLERANCE[np.dtype(np.float32)]
    assert s.step.startswith("the generated fused step (Numba)")  # the summary says so
    assert "6 checked batches compared" in s.step and s.to_dict()["step"] == s.step


def test_the_summary_says_the_kernels_ran_and_why(digits: Dataset, tmp_path: Path) -> None:
    s = trainer.train(TrainConfig(limit=200, batch_size=50, epochs=1, activation="tanh"),
                      run_dir=tmp_path / "run", dataset=digits, progress=False, plots=False)
    assert s.step.startswith("the NumPy kernels (the fused step covers ReLU")


# --------------------------------------------------------------------------- fallbacks


def _notes(tmp_path: Path, digits: Dataset, **settings: Any) -> str:
    out = io.StringIO()
    trainer.train(TrainConfig(limit=200, batch_size=50, epochs=1, **settings),
                  run_dir=tmp_path / "run", dataset=digits, plots=False,
                  console=Console(file=out, width=200), progress=True)
    return out.getvalue()


def test_without_numba_the_trainer_says_so_in_one_line_and_uses_the_kernels(
        digits: Dataset, monkeypatch: Any, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    used: list[bool] = []
    real = batches.train_epoch
    monkeypatch.setattr("jacobian_lab.training.loop.train_epoch",
                        lambda *a, **kw: used.append(kw["fused"] is None) or real(*a, **kw))
    text = _notes(tmp_path, digits)
    notes = [line for line in text.splitlines() if "NumPy kernels" in line]
    assert notes == ["training on the NumPy kernels: numba is not installed (pip install "
                     "'jacobian-lab[fast]')"]
    assert used == [True]


def test_a_step_that_disagrees_with_the_kernels_is_not_used(
        digits: Dataset, monkeypatch: Any, tmp_path: Path) -> None:
    wrong = printer.fused_source(relu_at_zero=1)  # ReLU'(0) = 1: caught on the kink
    wrong_step = compiled.load(wrong, jit=False)
    monkeypatch.setattr(compiled, "load", lambda *a, **kw: wrong_step)
    text = _notes(tmp_path, digits)
    assert "training on the NumPy kernels: the fused step differs from the NumPy kernels" \
           in text


def test_the_compiled_step_is_cached_on_disk_in_the_jlab_cache_dir(tmp_path: Path) -> None:
    import os
    import subprocess

    code = ("import numpy as np\n"
            "from jacobian_lab.training import model\n"
            "from jacobian_lab.training.fused import fused_for\n"
            "from jacobian_lab.kernels import fused\n"
            "step, reason = fused_for(model.init_network((9, 5, 3)))\n"
            "assert step is not None, reason\n"
            "print(sum(fused._compiled(None, True).stats.cache_hits.values()))\n")
    env = {**os.environ, "JLAB_CACHE_DIR": str(tmp_path)}
    hits = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, check=True).stdout.split()[-1] for _ in range(2)]
    assert hits == ["0", "1"]  # compiled, then loaded from the cache
    assert list((tmp_path / "numba").glob("*/_fused.fused_epoch-*.nbi"))


def test_importing_the_kernels_and_the_trainer_does_not_import_numba() -> None:
    import subprocess

    code = ("import sys, jacobian_lab.kernels, jacobian_lab.kernels.fused, "
            "jacobian_lab.training.trainer\nprint('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False"]


def test_a_swapped_kernel_turns_the_fused_step_off(monkeypatch: Any) -> None:
    from jacobian_lab import kernels

    net = model.init_network((6, 4, 3), rng=np.random.default_rng(0))
    monkeypatch.setattr(kernels, "relu", lambda Z, out=None: np.maximum(Z, 0, out=out))
    step, reason = trained.fused_for(net)
    assert step is None and reason == "the kernel relu is not the generated one"


def test_other_networks_train_on_the_kernels_without_a_notice(
        digits: Dataset, tmp_path: Path) -> None:
    net = model.init_network((6, 4, 3), rng=np.random.default_rng(0), activation="tanh")
    step, reason = trained.fused_for(net)
    assert step is None and "ReLU + cross-entropy" in str(reason)
    assert "NumPy kernels" not in _notes(tmp_path, digits, activation="tanh")


# --------------------------------------------------------------------------- mutation


def test_a_wrong_formula_changes_the_step_and_its_verification_catches_it() -> None:
    right = printer.fused_source()
    dZ = _expr("hidden_delta_relu", "dZ")
    wrong = printer.fused_source(overrides={("hidden_delta_relu", "dZ"): sp.MatMul(-1, dZ)})
    assert wrong != right
    with pytest.raises(trained.FusedStepError, match="differs from the NumPy kernels"):
        trained.verify(compiled.load(wrong, jit=False), np.float64)


def test_jlab_mutate_fused_level_catches_every_mutant_that_changes_the_step() -> None:
    score = mutation.run(["fused"])
    assert score.perfect and score.count("caught", "fused") >= 30
    assert {o.operator for o in score.outcomes if o.status == "caught"} >= {
        "scale", "sign", "transpose", "drop-term", "relu'(0)", "drop-1/m"}
