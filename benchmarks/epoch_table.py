"""One epoch of Fashion-MNIST, every contestant, every thread count and dtype, and the floor.

One epoch = 60,000 samples in batches of 128 (the last one 96), reshuffled every epoch
(except the row that says not), SGD with lr 0.1, ReLU hidden layers, softmax + cross-entropy.
Each configuration (threads 1 or 2 × float32 or float64) runs in a subprocess of its own,
because the thread counts must be set before the libraries import: ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS``,
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=(N > 1) intra_op_parallelism_threads=N`` and
``torch.set_num_threads(N)``, with the process pinned to the first N cores
(``os.sched_setaffinity``). Inside it the contestants take turns (rotating order, after a
warm-up call each; compile times are not counted) and each gets the median of ``repeat`` runs.
The fused step runs twice: as the trainer uses it, and with every product through BLAS
(``small = 0``: the step as it was before a thin layer's products became loops), so that the
two are compared in one process.

The floor, measured in the same process: **memory** — the bytes of the training images,
read once, at the bandwidth of a ``np.copyto`` of an array of that size (bytes read + written
per second); **GEMM** — the products an epoch cannot avoid (``W A`` per layer, ``δ Aᵀ`` per
layer, ``Wᵀ δ`` above the first layer), timed as NumPy ``matmul`` calls of exactly those shapes
into preallocated arrays. The floor is the larger of the two.

    python benchmarks/epoch_table.py                    # the four configurations, markdown
    python benchmarks/epoch_table.py --threads 1 --dtype float32 --repeat 7   # one, JSON
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ((784, 10, 10), (784, 128, 10))
BATCH, LR, SEED = 128, 0.1, 0
ROWS = ("trainer, fused step", "trainer, NumPy kernels", "hand NumPy loop, reshuffled",
        "hand NumPy loop, no reshuffle", "JAX jit + lax.scan, reshuffled", "PyTorch eager",
        "trainer, fused step, every product through BLAS")
REFERENCE = "JAX jit + lax.scan, reshuffled"


def set_threads(n: int) -> None:
    """Thread counts of every contestant and the cores, before any of them imports."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)
    # XLA's products use Eigen's thread pool only with multi_thread_eigen: off for one thread,
    # on for more (else "2 threads" would run JAX's GEMMs on one)
    eigen = "true" if n > 1 else "false"
    os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={eigen} "
                               f"intra_op_parallelism_threads={n}")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:n]))


# --------------------------------------------------------------------------- contestants

def trainer_epoch(layers: tuple[int, ...], data: Any, fused: bool,
                  small: int | None = None) -> Callable[[], object]:
    """The trainer's epoch; ``small``: the fused step's (default: its own, ``SMALL``; 0 runs
    every product through BLAS, as the step did before its thin loops)."""
    import functools

    import numpy as np

    from jacobian_lab.training import batches, model
    from jacobian_lab.training.fused import fused_for

    net = model.init_network(layers, rng=np.random.default_rng(SEED), dtype=data.x_train.dtype)
    step = None
    if fused:
        step, reason = fused_for(net)
        if step is None:
            raise RuntimeError(reason)
        if small is not None:
            step.fn = functools.partial(step.fn, small=small)
    rng = np.random.default_rng(SEED)
    buffers: dict[int, Any] = {}
    return lambda: batches.train_epoch(net, data, rng.permutation(data.n_train), BATCH, LR,
                                       buffers=buffers, fused=step)


def numpy_epoch(layers: tuple[int, ...], data: Any, shuffle: bool,
                fixed: bool = False) -> Callable[[], object]:
    """The loop one writes by hand (the loss computed every step, as a monitoring loop does).
    ``shuffle``: a new permutation every epoch; ``fixed``: one permutation drawn once, its
    batches gathered every epoch (``bench_training``'s reference)."""
    import numpy as np

    from jacobian_lab.training import model

    net = model.init_network(layers, rng=np.random.default_rng(SEED), dtype=data.x_train.dtype)
    Ws, bs = net.weights, net.biases
    rng = np.random.default_rng(SEED)
    xs, ys, n, L = data.x_train, data.y_train, data.n_train, len(layers) - 1

    once = rng.permutation(n) if fixed else None

    def epoch() -> float:
        order = once if fixed else rng.permutation(n) if shuffle else None
        total = 0.0
        for start in range(0, n, BATCH):
            if order is None:
                X, Y = xs[start:start + BATCH].T, ys[start:start + BATCH].T
            else:
                idx = order[start:start + BATCH]
                X, Y = xs[idx].T, ys[idx].T
            m = X.shape[1]
            As, Zs = [X], []
            for i in range(L):
                Z = Ws[i] @ As[-1] + bs[i]
                Zs.append(Z)
                if i < L - 1:
                    As.append(np.maximum(Z, 0))
            S = Z - Z.max(axis=0, keepdims=True)
            logp = S - np.log(np.exp(S).sum(axis=0, keepdims=True))
            total += float(-(Y * logp).sum() / m)
            dZ = np.exp(logp) - Y
            for i in range(L - 1, -1, -1):
                dW = dZ @ As[i].T / m
                db = dZ.sum(axis=1, keepdims=True) / m
                if i > 0:
                    dZ = (Ws[i].T @ dZ) * (Zs[i - 1] > 0)
                Ws[i] -= LR * dW
                bs[i] -= LR * db
        return total

    return epoch


def jax_epoch(layers: tuple[int, ...], data: Any) -> Callable[[], object] | None:
    """``jit`` of a ``lax.scan`` over the full batches of a permutation drawn inside the
    jitted function, then the last (short) batch through the jitted step."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    import numpy as np

    if data.x_train.dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(SEED)
    params = []
    for a, b in itertools.pairwise(layers):
        params += [jnp.asarray((rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(
            data.x_train.dtype)), jnp.zeros(b, data.x_train.dtype)]
    n, full = data.n_train, data.n_train // BATCH

    def cost(p: list[Any], x: Any, y: Any) -> Any:
        a = x
        for i in range(0, len(p) - 2, 2):
            a = jax.nn.relu(a @ p[i] + p[i + 1])
        z = a @ p[-2] + p[-1]
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(z), axis=1))

    def step(p: list[Any], x: Any, y: Any) -> tuple[list[Any], Any]:
        c, g = jax.value_and_grad(cost)(p, x, y)
        return [w - LR * d for w, d in zip(p, g, strict=True)], c

    @jax.jit
    def epoch(p: list[Any], xs: Any, ys: Any, key: Any) -> tuple[list[Any], Any, Any]:
        perm = jax.random.permutation(key, n)

        def body(p: list[Any], idx: Any) -> tuple[list[Any], Any]:
            return step(p, xs[idx], ys[idx])

        p, costs = jax.lax.scan(body, p, perm[:full * BATCH].reshape(full, BATCH))
        return p, costs.sum(), perm[full * BATCH:]

    last = jax.jit(step)
    xs, ys = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    state = {"p": params, "key": jax.random.PRNGKey(SEED)}

    def run() -> object:
        state["key"], key = jax.random.split(state["key"])
        p, total, rest = epoch(state["p"], xs, ys, key)
        if n % BATCH:
            p, c = last(p, xs[rest], ys[rest])
            total = total + c
        state["p"] = p
        return float(total)

    return run


def torch_epoch(layers: tuple[int, ...], data: Any, threads: int | None,
                fixed: bool = False) -> Callable[[], object] | None:
    """PyTorch eager; ``threads`` None leaves torch's own count; ``fixed``: one permutation
    (NumPy's, seeded) for every epoch, else ``torch.randperm`` each epoch."""
    try:
        import torch
    except ImportError:
        return None
    import numpy as np

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(SEED)
    mods: list[Any] = []
    for i, (a, b) in enumerate(itertools.pairwise(layers)):
        mods.append(torch.nn.Linear(a, b))
        if i < len(layers) - 2:
            mods.append(torch.nn.ReLU())
    dtype = torch.float64 if str(data.x_train.dtype) == "float64" else torch.float32
    net = torch.nn.Sequential(*mods).to(dtype)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    xs, labels = torch.from_numpy(data.x_train), torch.from_numpy(data.labels_train)
    n = data.n_train
    once = torch.from_numpy(np.random.default_rng(SEED).permutation(n)) if fixed else None

    def epoch() -> float:
        order = once if once is not None else torch.randperm(n)
        total = 0.0
        for start in range(0, n, BATCH):
            idx = order[start:start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xs[idx]), labels[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        return total

    return epoch


# --------------------------------------------------------------------------- the floor

def gemm_epoch(layers: tuple[int, ...], data: Any) -> Callable[[], object]:
    """The products an epoch cannot avoid, as NumPy matmul into preallocated arrays."""
    import numpy as np

    dt, n = data.x_train.dtype, data.n_train
    rng = np.random.default_rng(SEED)
    X = rng.random((BATCH, layers[0])).astype(dt)
    acts = [X] + [rng.random((BATCH, k)).astype(dt) for k in layers[1:]]
    Ws = [rng.random((a, b)).astype(dt) for a, b in itertools.pairwise(layers)]
    outs = [np.empty((BATCH, b), dt) for b in layers[1:]]
    grads = [np.empty_like(W) for W in Ws]
    backs = [np.empty((BATCH, a), dt) for a in layers[:-1]]
    steps = -(-n // BATCH)

    def run() -> None:
        for _ in range(steps):
            for i, W in enumerate(Ws):
                np.matmul(acts[i], W, out=outs[i])  # forward
                np.matmul(acts[i].T, acts[i + 1], out=grads[i])  # δ Aᵀ
                if i > 0:
                    np.matmul(acts[i + 1], W.T, out=backs[i])  # Wᵀ δ

    return run


def copy_images(data: Any) -> Callable[[], object]:
    import numpy as np

    dst = np.empty_like(data.x_train)
    return lambda: np.copyto(dst, data.x_train)


def flops(layers: tuple[int, ...], n: int) -> float:
    per_sample = sum(a * b * (2 if i == 0 else 3)
                     for i, (a, b) in enumerate(itertools.pairwise(layers)))
    return 2.0 * per_sample * n


# --------------------------------------------------------------------------- one configuration

def load(dtype: str) -> Any:
    """Fashion-MNIST as the trainer prepares it; without it the embedded 5,000 digits, their
    4,000 training rows tiled to 60,000."""
    import numpy as np

    from jacobian_lab.training.batches import prepare_data
    from jacobian_lab.training.config import TrainConfig
    from jacobian_lab.training.data import fashion_mnist_dir, load_dataset

    config = TrainConfig(layers=NETWORKS[0], dtype=dtype)
    if fashion_mnist_dir() is not None:
        return prepare_data(load_dataset("fashion-mnist"), config)
    data = prepare_data(load_dataset(None), config)
    reps = -(-60_000 // data.n_train)
    data.x_train = np.ascontiguousarray(np.tile(data.x_train, (reps, 1))[:60_000])
    data.y_train = np.ascontiguousarray(np.tile(data.y_train, (reps, 1))[:60_000])
    data.labels_train = np.ascontiguousarray(np.tile(data.labels_train, reps)[:60_000])
    data.source += ", training rows tiled to 60,000"
    return data


def interleaved(fns: dict[str, Callable[[], object]], repeat: int,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds per call of each function (by ``clock``: wall time, or ``time.process_time``
    for CPU time); they take turns in rotating order after a warm-up call each (compilation
    happens there), so a change in the machine's load hits all."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for i in range(repeat):
        for name in names[i % len(names):] + names[:i % len(names)]:
            t0 = clock()
            fns[name]()
            times[name].append(clock() - t0)
    return times


def measure(threads: int, dtype: str, repeat: int) -> dict[str, Any]:
    """Every contestant and the floor for one configuration (run in its own process)."""
    set_threads(threads)
    import numpy as np

    data = load(dtype)
    out: dict[str, Any] = {"threads": threads, "dtype": dtype, "repeat": repeat,
                           "source": data.source, "numpy": np.__version__, "networks": {}}
    for layers in NETWORKS:
        fns: dict[str, Callable[[], object]] = {
            ROWS[0]: trainer_epoch(layers, data, fused=True),
            ROWS[1]: trainer_epoch(layers, data, fused=False),
            ROWS[2]: numpy_epoch(layers, data, shuffle=True),
            ROWS[3]: numpy_epoch(layers, data, shuffle=False),
            ROWS[6]: trainer_epoch(layers, data, fused=True, small=0),
        }
        for name, fn in ((ROWS[4], jax_epoch(layers, data)),
                         (ROWS[5], torch_epoch(layers, data, threads))):
            if fn is not None:
                fns[name] = fn
        fns["floor: GEMMs"] = gemm_epoch(layers, data)
        fns["floor: copy of the images"] = copy_images(data)
        times = interleaved(fns, repeat)
        med = {k: statistics.median(v) for k, v in times.items()}
        image_bytes = data.x_train.nbytes
        bandwidth = 2 * image_bytes / med["floor: copy of the images"]
        memory = image_bytes / bandwidth
        gemm = med["floor: GEMMs"]
        out["networks"]["-".join(map(str, layers))] = {
            "seconds": med, "runs": times, "image_bytes": image_bytes,
            "bandwidth": bandwidth, "memory_floor": memory, "flops": flops(layers, data.n_train),
            "gemm_floor": gemm, "gemm_rate": flops(layers, data.n_train) / gemm,
            "floor": max(memory, gemm)}
    return out


# --------------------------------------------------------------------------- the table

CONFIGS = ((1, "float32"), (2, "float32"), (1, "float64"), (2, "float64"))


def run_all(repeat: int, configs: tuple[tuple[int, str], ...] = CONFIGS) -> list[dict[str, Any]]:
    results = []
    for threads, dtype in configs:
        proc = subprocess.run([sys.executable, __file__, "--threads", str(threads), "--dtype",
                               dtype, "--repeat", str(repeat)], capture_output=True, text=True,
                              cwd=ROOT, check=False)
        if proc.returncode:
            raise RuntimeError(f"{threads} threads, {dtype}: {proc.stderr[-2000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


TARGETS = {"784-10-10": 0.5, "784-128-10": 0.8}


HAND = "hand NumPy loop, no reshuffle"  # issue 16's 1.00: the plain loop one writes by hand


def _ratio(a: float | None, b: float | None, fmt: str = ".2f") -> str:
    return "–" if a is None or not b else f"{a / b:{fmt}}"


def markdown(results: list[dict[str, Any]]) -> str:
    """One table per configuration: median seconds, and the ratio to JAX scan, to the plain
    hand loop without reshuffle (issue 16's reference row) and to the floor."""
    lines = []
    for r in results:
        lines += [f"**{r['threads']} thread{'s' if r['threads'] > 1 else ''}, {r['dtype']}** "
                  f"({r['source']}; median of {r['repeat']} interleaved runs)", "",
                  "| one epoch | " + " | ".join(f"{net} s | × JAX | × hand | × floor"
                                               for net in r["networks"]) + " |",
                  "|---|" + "---:|---:|---:|---:|" * len(r["networks"])]
        for row in (ROWS[0], ROWS[6], *ROWS[1:6], "floor: GEMMs", "floor: copy of the images"):
            cells = []
            for net in r["networks"].values():
                s = net["seconds"].get(row)
                if s is None:
                    cells.append("– | – | – | –")
                    continue
                if row == "floor: copy of the images":
                    s = net["memory_floor"]
                cells.append(f"{s:.4f} | {_ratio(s, net['seconds'].get(REFERENCE))} | "
                             f"{_ratio(s, net['seconds'].get(HAND))} | "
                             f"{_ratio(s, net['floor'], '.1f')}")
            label = "floor: the images read once" if row.startswith("floor: copy") else row
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        floors = "; ".join(f"{k}: {v['flops'] / 1e9:.2f} GFLOP at {v['gemm_rate'] / 1e9:.0f} "
                           f"GFLOP/s, {v['image_bytes'] / 1e6:.0f} MB at "
                           f"{v['bandwidth'] / 1e9:.1f} GB/s" for k, v in r["networks"].items())
        met = "; ".join(
            f"{k}: fused {fused_ratio(v):.2f} × JAX "
            f"(target ≤ {TARGETS[k]}: {'met' if fused_ratio(v) <= TARGETS[k] else 'NOT met'})"
            for k, v in r["networks"].items() if fused_ratio(v) is not None)
        lines += ["", f"Floor: {floors}.", f"Targets: {met}.", ""]
    return "\n".join(lines)


def fused_ratio(net: dict[str, Any]) -> float | None:
    """The fused epoch ÷ JAX's, both medians of one configuration's run (None without JAX)."""
    s = net["seconds"]
    return s[ROWS[0]] / s[REFERENCE] if ROWS[0] in s and s.get(REFERENCE) else None


def verdicts(invocations: list[list[dict[str, Any]]]) -> str:
    """Issue 16's rule as a table: a target is met when the fused/JAX ratio beats it in every
    one of the separate invocations (each a fresh set of processes, median of ``repeat``)."""
    lines = ["| configuration | network | " + " | ".join(
        f"invocation {i}" for i in range(1, len(invocations) + 1)) + " | target | met |",
        "|---|---|" + "---:|" * len(invocations) + "---:|---|"]
    for c, config in enumerate(invocations[0]):
        for net in config["networks"]:
            ratios = [fused_ratio(inv[c]["networks"][net]) for inv in invocations]
            cells = " | ".join("–" if x is None else f"{x:.3f}" for x in ratios)
            ok = all(x is not None and x <= TARGETS[net] for x in ratios)
            name = (f"{config['threads']} thread{'s' if config['threads'] > 1 else ''}, "
                    f"{config['dtype']}")
            lines.append(f"| {name} | {net} | {cells} | ≤ {TARGETS[net]} | "
                         f"{'yes' if ok else '**no**'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="one configuration (prints JSON)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--invocations", type=int, default=1,
                        help="run every configuration this many separate times (issue 16's "
                             "rule: a target is met when it is beaten in each)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(measure(args.threads, args.dtype, args.repeat)))
        return 0
    print(report([run_all(args.repeat) for _ in range(max(1, args.invocations))], args.json))
    return 0


def report(invocations: list[list[dict[str, Any]]], json_path: Path | None = None) -> str:
    """The targets over every invocation, then each invocation's full table."""
    if json_path is not None:
        json_path.write_text(json.dumps(invocations, indent=1) + "\n")
    parts = [f"**The targets** (fused epoch ÷ JAX scan in {len(invocations)} separate "
             "invocation(s))", "", verdicts(invocations), ""]
    for i, results in enumerate(invocations, 1):
        if len(invocations) > 1:
            parts += [f"### Invocation {i}", ""]
        parts.append(markdown(results))
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
