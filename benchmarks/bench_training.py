"""Training speed: one epoch of Fashion-MNIST (60,000 samples, batches of 128, float32).

``make bench`` also prints the full epoch table of :mod:`epoch_table` (the trainer's fused
step and NumPy kernels, hand NumPy loops, JAX ``jit`` + ``lax.scan``, PyTorch eager, and the
floor; 1 and 2 threads, float32 and float64, each configuration in a pinned subprocess),
three separate times (issue 16: a target counts as met when it is beaten in each), writes
every invocation to ``benchmarks/epoch_table_latest.md`` and regenerates the README's epoch
table (the targets over the three, then the first invocation's tables).

The candidate is the trainer's own hot loop (:func:`jacobian_lab.training.trainer.train_epoch`:
kernels only, checks off); the references are a plain hand-written NumPy loop (the same
batches, the loss computed every step as a monitoring loop does) and PyTorch eager
(``nn.Linear``/``ReLU``/``CrossEntropyLoss``/``SGD``, ``loss.item()`` every step), where
torch imports. Networks 784-10-10 (the notes') and 784-128-10.

Under ``benchmarks/run.py`` it reports through ``bench.compare``. Standalone it also measures
what the harness cannot::

    python benchmarks/bench_training.py                 # epoch times and ratios
    python benchmarks/bench_training.py --accuracy      # + accuracies of full runs
    python benchmarks/bench_training.py --rss           # + peak RSS of a Fashion-MNIST run
    python benchmarks/bench_training.py --threads 1     # pin BLAS/torch threads first
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NETWORKS = ((784, 10, 10), (784, 128, 10))
BATCH, LR, SEED = 128, 0.1, 0
_DATA: dict[str, Any] = {}


def _fashion() -> Any:
    """Fashion-MNIST prepared as the trainer prepares it (float32 rows, one-hot rows)."""
    if "data" not in _DATA:
        from jacobian_lab.training.data import fashion_mnist_dir, load_dataset
        from jacobian_lab.training.trainer import TrainConfig, prepare_data

        if fashion_mnist_dir() is None:
            _DATA["data"] = None
        else:
            ds = load_dataset("fashion-mnist")
            _DATA["data"] = prepare_data(ds, TrainConfig(layers=NETWORKS[0]))
    return _DATA["data"]


# --------------------------------------------------------------------------- the three loops

def kernels_epoch(layers: tuple[int, ...], data: Any) -> Callable[[], object]:
    import numpy as np

    from jacobian_lab.training import model, trainer

    net = model.init_network(layers, rng=np.random.default_rng(SEED))
    order = np.random.default_rng(SEED).permutation(data.n_train)
    buffers: dict[int, Any] = {}
    return lambda: trainer.train_epoch(net, data, order, BATCH, LR, buffers=buffers)


def fused_epoch(layers: tuple[int, ...], data: Any) -> Callable[[], object] | None:
    """The trainer's hot loop on the generated fused step (None without Numba)."""
    import numpy as np

    from jacobian_lab.training import model, trainer
    from jacobian_lab.training.fused import fused_for

    net = model.init_network(layers, rng=np.random.default_rng(SEED))
    step, _ = fused_for(net)
    if step is None:
        return None
    order = np.random.default_rng(SEED).permutation(data.n_train)
    return lambda: trainer.train_epoch(net, data, order, BATCH, LR, fused=step)


def numpy_epoch(layers: tuple[int, ...], data: Any) -> Callable[[], object]:
    """The loop one writes by hand (epoch_table's), on one permutation drawn once."""
    return _epoch_table().numpy_epoch(layers, data, shuffle=True, fixed=True)


def torch_epoch(layers: tuple[int, ...], data: Any) -> Callable[[], object] | None:
    """PyTorch eager (epoch_table's), on one permutation drawn once, torch's thread count."""
    return _epoch_table().torch_epoch(layers, data, threads=None, fixed=True)


def _epoch_table() -> Any:
    """benchmarks/epoch_table.py, the one place the reference loops are written."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import epoch_table

    return epoch_table


# --------------------------------------------------------------------------- harness entry

def run(bench: Any) -> None:
    data = _fashion()
    if data is None:
        print("  Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): skipped")
        return
    for layers in NETWORKS:
        tag = "-".join(map(str, layers))
        ours = kernels_epoch(layers, data)
        bench.compare(f"train epoch fashion {tag} vs numpy", ours, numpy_epoch(layers, data),
                      repeat=3, goal=1.0)
        theirs = torch_epoch(layers, data)
        if theirs is not None:
            bench.compare(f"train epoch fashion {tag} vs torch", ours, theirs, repeat=3,
                          goal=1.0)
        fused = fused_epoch(layers, data)
        if fused is not None:
            bench.compare(f"train epoch fashion {tag} fused vs kernels", fused, ours,
                          repeat=3, goal=1.0)
    if bench.only and bench.only not in "bench_training epoch table":
        return
    epoch_table = _epoch_table()
    # issue 16's rule: a target is met when it is beaten in each of three invocations
    invocations = [epoch_table.run_all(repeat=7) for _ in range(INVOCATIONS)]
    text = epoch_table.report(invocations)
    # every invocation's tables; epoch_table.md keeps the analysis
    (Path(__file__).parent / "epoch_table_latest.md").write_text(text + "\n", encoding="utf-8")
    readme = Path(__file__).parent.parent / "README.md"
    block = readme_block(epoch_table, invocations)
    readme.write_text(regenerate(readme.read_text(encoding="utf-8"), block), encoding="utf-8")
    print(text)


INVOCATIONS = 3


def readme_block(epoch_table: Any, invocations: list[list[dict[str, Any]]]) -> str:
    """The README's epoch table: the targets over every invocation, then the first
    invocation's tables."""
    return epoch_table.verdicts(invocations) + "\n\n" + epoch_table.markdown(invocations[0])


README_START = "<!-- make bench: epoch table -->"
README_END = "<!-- /make bench -->"


def regenerate(readme: str, table: str) -> str:
    """The README with the text between its ``make bench`` markers replaced by ``table``
    (the README's Performance section is regenerated from the benchmark, never by hand)."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no {README_START} … {README_END} section to regenerate")
    return readme[:start + len(README_START)] + "\n" + table.strip() + "\n" + readme[end:]


# --------------------------------------------------------------------------- standalone

def _interleaved(fns: dict[str, Callable[[], object]], repeat: int,
                 clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds per call, the functions interleaved (epoch_table's ``interleaved``)."""
    times = _epoch_table().interleaved(fns, repeat, clock)
    return {name: statistics.median(t) for name, t in times.items()}


def _timings(repeat: int, cpu_time: bool = False) -> None:
    data = _fashion()
    if data is None:
        print("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")
        return
    import numpy as np

    print(f"one epoch of Fashion-MNIST ({data.n_train:,} samples, batch {BATCH}, float32), "
          f"median of {repeat}, interleaved, {'CPU' if cpu_time else 'wall-clock'} time; "
          f"numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for layers in NETWORKS:
        tag = "-".join(map(str, layers))
        fns = {"kernels": kernels_epoch(layers, data), "numpy": numpy_epoch(layers, data)}
        theirs = torch_epoch(layers, data)
        if theirs is not None:
            fns["torch"] = theirs
        t = _interleaved(fns, repeat, time.process_time if cpu_time else time.perf_counter)
        ours = t["kernels"]
        line = (f"  {tag:>10}: kernels {ours:.3f} s ({data.n_train / ours:,.0f} samples/s), "
                f"hand-written NumPy {t['numpy']:.3f} s, ratio {ours / t['numpy']:.3f}")
        if "torch" in t:
            import torch

            line += (f"; torch {torch.__version__} eager {t['torch']:.3f} s, ratio "
                     f"{ours / t['torch']:.3f}")
        print(line)


ACCURACY_RUNS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("embedded digits, defaults", {}),
    ("embedded digits, the notebook: 784-10-10 gd α=0.1 500 it. uniform init",
     {"optimizer": "gd", "lr": 0.1, "epochs": 500, "init": "uniform"}),
    ("Fashion-MNIST 784-10-10, α=0.1, 20 epochs", {"data": "fashion-mnist", "batch_size": BATCH,
                                                   "lr": 0.1, "epochs": 20}),
    ("Fashion-MNIST 784-128-10, α=0.3, 20 epochs", {"data": "fashion-mnist",
                                                    "layers": (784, 128, 10),
                                                    "batch_size": BATCH, "lr": 0.3,
                                                    "epochs": 20}),
)


def _accuracy() -> None:
    import tempfile

    from jacobian_lab.training.trainer import TrainConfig, train

    for label, settings in ACCURACY_RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            s = train(TrainConfig(**settings), run_dir=Path(tmp) / "run", progress=False,
                      plots=False)
        per_epoch = s.train_seconds / max(s.epochs, 1)
        print(f"  {label}: test accuracy {s.test_accuracy:.4f} after {s.epochs} "
              f"{'iterations' if s.config.optimizer == 'gd' else 'epochs'} "
              f"({per_epoch:.3f} s per epoch of training, {s.samples_per_second:,.0f} "
              f"samples/s; checks {s.checks['count']}, {s.checks['failed']} failed, max error "
              f"{max(s.checks['max_fd_direction'], s.checks['max_closed_form']):.1e})")


# The peak is VmHWM, the high-water mark of the child's own address space: ru_maxrss would
# not do, since Linux carries it over fork and exec from the (large) benchmark process.
_RSS_CHILD = """
import tempfile
from jacobian_lab.training.trainer import TrainConfig, train
with tempfile.TemporaryDirectory() as tmp:
    s = train(TrainConfig(data="fashion-mnist", layers=(784, {hidden}, 10), batch_size=128,
                          epochs=1), run_dir=tmp + "/run", progress=False, plots=False)
with open("/proc/self/status") as f:
    kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(kib, s.test_accuracy)
"""


def _rss() -> None:
    data = _fashion()
    if data is None or not Path("/proc/self/status").exists():
        print("  peak RSS: needs Fashion-MNIST and Linux's /proc")
        return
    size = (data.x_train.nbytes + data.x_test.nbytes) / 2**20
    for hidden in (10, 128):
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD.format(hidden=hidden)],
                             capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parent.parent).stdout.split()
        peak = int(out[0]) / 1024
        print(f"  peak RSS, one epoch of Fashion-MNIST 784-{hidden}-10 with checks: "
              f"{peak:.0f} MiB = {peak / size:.2f} × the float32 images ({size:.0f} MiB); "
              "goal < 3×")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--accuracy", action="store_true", help="also train full runs")
    parser.add_argument("--rss", action="store_true", help="also measure peak RSS")
    parser.add_argument("--threads", type=int,
                        help="BLAS and torch threads (set before NumPy is imported)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process's CPU time (with --threads 1: the work "
                             "done, whatever else loads the machine)")
    args = parser.parse_args()
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    _timings(args.repeat, args.cpu_time)
    if args.accuracy:
        _accuracy()
    if args.rss:
        _rss()
    return 0


if __name__ == "__main__":
    sys.exit(main())
