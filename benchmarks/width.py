"""How the epoch time grows with the hidden width (issue 16): one epoch of Fashion-MNIST on a
784-n-10 network, n = 10 … 1024, float32, one thread, for the trainer (fused step and NumPy
kernels), the hand NumPy loop, JAX and PyTorch, against the GEMM floor.

    python benchmarks/width.py            # table + benchmarks/width.png, width.json, width.md
    python benchmarks/width.py --quick    # widths 10, 64, 6,000 samples, one run; prints only
    python benchmarks/width.py --replot   # width.png and width.md again from width.json
    python benchmarks/width.py --combine benchmarks/width*.json --out benchmarks
                                          # fastest over invocations (+ width-combined.png)

The contestants are :mod:`epoch_table`'s (same epoch: batch 128, SGD lr 0.1, reshuffled every
epoch; ReLU hidden layer, softmax + cross-entropy). Each width runs in a process of its own
(one thread, pinned to one core: ``epoch_table.set_threads(1)`` before anything imports), so a
blow-up at one width does not take the others down and its memory goes with it; inside it the
contestants take turns (``epoch_table.interleaved``: rotating order, a warm-up epoch each,
compilation happens there) and each gets the median (and the fastest) of ``--repeat``
epochs: this VM switches between two speeds a factor 2 apart (see width.md), which the fastest
epoch survives better.

The limit (``--limit``, 60 s) is per epoch of one contestant: an epoch (warm-up included) that
takes longer is interrupted (``SIGALRM``; JAX's epoch is one XLA call, so it ends when the call
returns), the contestant is reported as "> limit, curve ends" at that width and is not run at
the larger ones (a wider network only takes longer). As a backstop the width's process is
killed after (repeat + 1) × limit per contestant still running + 300 s; then every contestant
of that width ends its curve there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import epoch_table as et  # noqa: E402  (benchmarks/ is not a package)

WIDTHS = (10, 16, 32, 64, 128, 256, 512, 1024)
QUICK_WIDTHS, QUICK_SAMPLES = (10, 64), 6_000
FLOOR = "floor: GEMMs"
CONTESTANTS = (et.ROWS[0], et.ROWS[1], et.ROWS[2], et.ROWS[4], et.ROWS[5], FLOOR)
SLOPE_FROM = 256  # the log-log slope is fitted on the widths from here up
BEND_SLOPE = 0.5  # a curve bends at the first step whose local log-log slope exceeds this
START, END = "<!-- width.py: start -->", "<!-- width.py: end -->"

Curves = dict[str, list[tuple[int, float | None]]]


# --------------------------------------------------------------------------- one width (child)

class Overtime(Exception):
    """An epoch ran past the limit."""


def _alarm(signum: int, frame: Any) -> None:
    raise Overtime


class Limited:
    """A contestant's epoch under the limit: past it, the epoch is interrupted and ``over``
    set; from then on a call does nothing (its times are dropped)."""

    def __init__(self, fn: Callable[[], object], limit: float) -> None:
        self.fn, self.limit, self.over = fn, limit, False

    def __call__(self) -> None:
        if self.over:
            return
        t0 = time.perf_counter()
        try:
            signal.setitimer(signal.ITIMER_REAL, self.limit)
            try:
                self.fn()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except Overtime:
            self.over = True
        if time.perf_counter() - t0 > self.limit:  # a C call the alarm could not interrupt
            self.over = True


def measure_width(width: int, alive: Sequence[str], repeat: int, limit: float,
                  samples: int | None) -> dict[str, Any]:
    """Median seconds per epoch of each contestant in ``alive`` at 784-width-10 (None: past
    the limit); run in a process of its own."""
    et.set_threads(1)
    import dataclasses

    data = et.load("float32")
    if samples is not None and samples < data.n_train:
        data = dataclasses.replace(
            data, x_train=data.x_train[:samples], y_train=data.y_train[:samples],
            labels_train=data.labels_train[:samples],
            source=data.source + f", first {samples} training samples")
    layers = (784, width, 10)
    makers: dict[str, Callable[[], Callable[[], object] | None]] = {
        et.ROWS[0]: lambda: et.trainer_epoch(layers, data, fused=True),
        et.ROWS[1]: lambda: et.trainer_epoch(layers, data, fused=False),
        et.ROWS[2]: lambda: et.numpy_epoch(layers, data, shuffle=True),
        et.ROWS[4]: lambda: et.jax_epoch(layers, data),
        et.ROWS[5]: lambda: et.torch_epoch(layers, data, threads=1),
        FLOOR: lambda: et.gemm_epoch(layers, data),
    }
    signal.signal(signal.SIGALRM, _alarm)
    fns: dict[str, Limited] = {}
    missing = []
    for name in alive:
        fn = makers[name]()
        if fn is None:
            missing.append(name)  # JAX or PyTorch not installed
        else:
            fns[name] = Limited(fn, limit)
    runs = et.interleaved(dict(fns), repeat)
    return {"width": width, "source": data.source, "n_train": data.n_train,
            "missing": missing,
            "seconds": {k: None if f.over else statistics.median(runs[k])
                        for k, f in fns.items()},
            "best": {k: min(runs[k]) for k, f in fns.items() if not f.over},
            "runs": {k: runs[k] for k, f in fns.items() if not f.over}}


# --------------------------------------------------------------------------- the curves (parent)

def curves(widths: Sequence[int], contestants: Sequence[str],
           measure: Callable[[int, list[str]], dict[str, float | None]]) -> Curves:
    """Each contestant's (width, seconds) points; a curve ends at the first point past the
    limit (``None``): the contestant is not measured at any larger width. ``measure(width,
    alive)`` gives the seconds of the contestants it could run (absent: not installed)."""
    out: Curves = {name: [] for name in contestants}
    alive = list(contestants)
    for w in widths:
        if not alive:
            break
        got = measure(w, list(alive))
        for name in list(alive):
            if name not in got:
                alive.remove(name)
                continue
            out[name].append((w, got[name]))
            if got[name] is None:
                alive.remove(name)
    return out


def _child(width: int, alive: list[str], args: argparse.Namespace,
           details: dict[int, Any]) -> dict[str, float | None]:
    cmd = [sys.executable, __file__, "--point", str(width), "--alive", json.dumps(alive),
           "--repeat", str(args.repeat), "--limit", str(args.limit)]
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    backstop = (args.repeat + 1) * args.limit * len(alive) + 300
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=backstop, env=env,
                              cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        print(f"  n = {width}: the process passed its {backstop:.0f} s backstop", flush=True)
        details[width] = {"backstop": backstop}
        return dict.fromkeys(alive)
    if done.returncode:
        raise SystemExit(f"n = {width} failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - t0
    details[width] = result
    shown = ", ".join(f"{k}: {v:.3f}" if v is not None else f"{k}: > {args.limit:g} s"
                      for k, v in result["seconds"].items())
    print(f"  n = {width} ({result['wall']:.0f} s): {shown}", flush=True)
    return result["seconds"]


# --------------------------------------------------------------------------- slopes, table, plot

def slope(points: Sequence[tuple[int, float | None]], low: int = SLOPE_FROM) -> float | None:
    """Least-squares slope of log seconds against log n over the measured points n ≥ low."""
    pts = [(math.log(n), math.log(s)) for n, s in points if s is not None and n >= low]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return (sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts))


def bend(points: Sequence[tuple[int, float | None]]) -> int | None:
    """The last width before the first step whose local log-log slope exceeds BEND_SLOPE (the
    end of the flat part); None if no step does."""
    done = [(n, s) for n, s in points if s is not None]
    for (n0, s0), (n1, s1) in itertools.pairwise(done):
        if math.log(s1 / s0) / math.log(n1 / n0) > BEND_SLOPE:
            return n0
    return None


def _grid(head: str, cols: Sequence[str], curves_: Curves,
          cell: Callable[[dict[int, float | None], int], str]) -> list[str]:
    lines = [f"| {head} | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, pts in curves_.items():
        got = dict(pts)
        lines.append(f"| {name} | " + " | ".join(cell(got, i) for i in range(len(cols))) + " |")
    return [*lines, ""]


def table(curves_: Curves, widths: Sequence[int], limit: float, n_train: int,
          ratio: str = "× floor (same process)") -> str:
    """Seconds per epoch by contestant and width, the same as multiples of the floor (measured
    in the same process), the local log-log slopes; then the fitted slope, the bend, the
    per-batch overhead at the smallest width and the FLOP/s at the largest."""
    floor = dict(curves_.get(FLOOR, []))
    pairs = list(itertools.pairwise(widths))

    def seconds(got: dict[int, float | None], i: int) -> str:
        w = widths[i]
        if w not in got:
            return "–"
        s = got[w]
        return f"> {limit:g} s, curve ends" if s is None else f"{s:.3f}"

    def times_floor(got: dict[int, float | None], i: int) -> str:
        s, fl = got.get(widths[i]), floor.get(widths[i])
        return f"{s / fl:.2f}" if s and fl else "–"

    def local(got: dict[int, float | None], i: int) -> str:
        (a, b) = pairs[i]
        sa, sb = got.get(a), got.get(b)
        return f"{math.log(sb / sa) / math.log(b / a):.2f}" if sa and sb else "–"

    cols = [f"n = {w}" for w in widths]
    lines = (_grid("seconds per epoch", cols, curves_, seconds)
             + _grid(ratio, cols, curves_, times_floor)
             + _grid("local log-log slope", [f"{a}→{b}" for a, b in pairs], curves_, local))
    batches = -(-n_train // et.BATCH)
    lines += [f"| contestant | slope, n ≥ {SLOPE_FROM} | flat up to n = | µs per batch above "
              f"the floor, n = {widths[0]} | largest n | GFLOP/s there | × floor there |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, pts in curves_.items():
        done = [(n, s) for n, s in pts if s is not None]
        if not done:
            continue
        n, s = done[-1]
        k, bent, fl, f0 = slope(pts), bend(pts), floor.get(n), floor.get(widths[0])
        s0 = dict(pts).get(widths[0])
        over = f"{(s0 - f0) / batches * 1e6:.0f}" if s0 and f0 else "–"
        rate = et.flops((784, n, 10), n_train) / s / 1e9
        lines.append(f"| {name} | {f'{k:.2f}' if k is not None else '–'} | "
                     f"{bent if bent is not None else '–'} | {over} | {n} | {rate:.1f} | "
                     f"{f'{s / fl:.2f}' if fl else '–'} |")
    return "\n".join(lines)


def plot(panels: dict[str, Curves], limit: float, path: Path, title: str) -> None:
    """One log-log panel per statistic (median, fastest): seconds per epoch against n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5.5), sharey=True,
                             squeeze=False)
    for ax, (label, curves_) in zip(axes[0], panels.items(), strict=True):
        for name, pts in curves_.items():
            done = [(n, s) for n, s in pts if s is not None]
            style = dict(linestyle="--", color="black") if name == FLOOR else {}
            (line,) = ax.plot([n for n, _ in done], [s for _, s in done], marker="o",
                              label=name, **style)
            over = [n for n, s in pts if s is None]
            if over:
                ax.plot(over, [limit] * len(over), "x", color=line.get_color(), markersize=10)
        if any(s is None for pts in curves_.values() for _, s in pts):
            ax.axhline(limit, color="red", linewidth=0.8,
                       label=f"limit {limit:g} s (× : curve ends)")
        ax.set_xscale("log", base=2)
        widths = sorted({n for pts in curves_.values() for n, _ in pts})
        ax.set_xticks(widths, [str(n) for n in widths])
        top = dict(curves_.get(FLOOR, [])).get(widths[-1]) if widths else None
        if top:  # a guide: time ∝ n through the floor's last point
            ax.plot(widths, [top * n / widths[-1] for n in widths], ":",
                    color="grey", linewidth=1, label="∝ n (through the floor's last point)")
        ax.set_yscale("log")
        ax.set_xlabel("hidden width n (784-n-10)")
        ax.set_ylabel("seconds per epoch")
        ax.set_title(label, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_md(path: Path, text: str) -> None:
    """Put ``text`` between the markers of ``path`` (kept: whatever is around them)."""
    block = f"{START}\n{text}\n{END}"
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if START in old and END in old:
            block = old.split(START)[0] + block + old.split(END, 1)[1]
    else:
        block = "# Epoch time against the hidden width\n\n" + block + "\n"
    path.write_text(block, encoding="utf-8")


def report(saved: dict[str, Any], out: Path | None) -> None:
    """The tables (median, then fastest of the repeats) printed, and with ``out`` the plot and
    width.md."""
    cur = {k: [(n, s) for n, s in v] for k, v in saved["curves"].items()}
    best: Curves = {k: [(n, None if s is None else saved["points"][str(n)].get(
        "best", {}).get(k, s)) for n, s in v] for k, v in cur.items()}
    args = (saved["widths"], saved["limit"], saved["n_train"])
    rep = saved["repeat"]
    text = (f"### Median of the {rep} epochs\n\n{table(cur, *args)}\n\n"
            f"### Fastest of the {rep} epochs\n\n{table(best, *args)}")
    head = (f"`python benchmarks/width.py{'' if rep == 3 else f' --repeat {rep}'}`: 784-n-10, "
            f"float32, one thread, {saved['n_train']:,} samples per epoch ({saved['source']}), "
            f"batch {et.BATCH}, {rep} interleaved epochs per contestant and width; limit "
            f"{saved['limit']:g} s per epoch; load average {saved['load'][0]:.2f} at the "
            f"start, {saved['load'][1]:.2f} at the end; the script ran {saved['wall']:.0f} s.")
    print(head + "\n\n" + text)
    if out is not None:
        plot({f"median of {rep} epochs": cur, f"fastest of {rep} epochs": best},
             saved["limit"], out / "width.png",
             f"one epoch of Fashion-MNIST, 784-n-10 float32, 1 thread, {saved['n_train']:,} "
             f"samples, batch {et.BATCH}")
        write_md(out / "width.md", head + "\n\n" + text)
        print(f"wrote {out / 'width.png'}, width.json and width.md")


def combine(saved: Sequence[dict[str, Any]]) -> tuple[Curves, list[int], float, int]:
    """The fastest epoch of each contestant and width over several invocations' width.json
    (past the limit in one of them: past it); the arguments of :func:`table`."""
    widths = sorted({w for s in saved for w in s["widths"]})
    out: Curves = {}
    for name in dict.fromkeys(k for s in saved for k in s["curves"]):
        pts: list[tuple[int, float | None]] = []
        for w in widths:
            got = [dict(s["curves"].get(name, [])).get(w, 0.0) for s in saved]
            runs = [t for s in saved for t in s["points"].get(str(w), {}).get("runs", {}).get(
                name, [])]
            if None in got:
                pts.append((w, None))
                break
            if runs:
                pts.append((w, min(runs)))
        out[name] = pts
    return out, widths, max(s["limit"] for s in saved), saved[0]["n_train"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per epoch")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, help="the first this many training samples")
    parser.add_argument("--quick", action="store_true",
                        help=f"widths {QUICK_WIDTHS}, {QUICK_SAMPLES} samples, one run; "
                             "prints only (unless --out)")
    parser.add_argument("--out", type=Path, help="where width.png/json/md go (default: "
                        "benchmarks/, none with --quick)")
    parser.add_argument("--replot", action="store_true", help="from width.json, no measuring")
    parser.add_argument("--combine", nargs="+", type=Path, metavar="JSON",
                        help="the tables of the fastest epoch over these invocations' files")
    parser.add_argument("--point", type=int, help=argparse.SUPPRESS)  # a child: one width
    parser.add_argument("--alive", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.point:
        print(json.dumps(measure_width(args.point, json.loads(args.alive), args.repeat,
                                       args.limit, args.samples)))
        return 0
    out = args.out or (None if args.quick else HERE)
    if args.combine:
        files = [json.loads(f.read_text()) for f in args.combine]
        fastest, widths_, limit, n_train = combine(files)
        print(table(fastest, widths_, limit, n_train,
                    ratio="× floor (fastest ÷ the floor's fastest)"))
        if args.out:
            epochs = sum(s["repeat"] for s in files)
            plot({f"fastest of {epochs} epochs over {len(files)} invocations": fastest}, limit,
                 args.out / "width-combined.png", f"one epoch of Fashion-MNIST, 784-n-10 "
                 f"float32, 1 thread, {n_train:,} samples, batch {et.BATCH}")
        return 0
    if args.replot:
        report(json.loads(((out or HERE) / "width.json").read_text()), out or HERE)
        return 0
    widths: tuple[int, ...] = WIDTHS
    if args.quick:
        widths, args.repeat = QUICK_WIDTHS, 1
        args.samples = args.samples or QUICK_SAMPLES
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    print(f"load average at start: {load0:.2f}", flush=True)
    details: dict[int, Any] = {}
    cur = curves(widths, CONTESTANTS, lambda w, alive: _child(w, alive, args, details))
    first: dict[str, Any] = next((d for d in details.values() if "source" in d), {})
    saved = {"widths": list(widths), "limit": args.limit, "repeat": args.repeat,
             "n_train": first.get("n_train", 60_000), "source": first.get("source", "?"),
             "load": [load0, os.getloadavg()[0]], "wall": time.perf_counter() - t0,
             "curves": cur, "points": {str(w): d for w, d in details.items()}}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "width.json").write_text(json.dumps(saved, indent=1) + "\n")
    report(saved, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
