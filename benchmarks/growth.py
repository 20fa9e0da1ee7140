"""How the cost of a proof grows (issue 16): the proof time of backprop's BP3/BP4 results against
the layer width n and the depth L, and the time of `jlab diff` against the number of operations
of the expression. Each point runs in its own process with a time limit; a curve ends at the
first point past it (later, bigger points would only take longer), and the table says so.

    python benchmarks/growth.py                 # table + benchmarks/growth.png + growth.json
    python benchmarks/growth.py --limit 60

The backprop points: a network of L layers, every layer n wide (n-n-…-n), sigmoid everywhere,
MSE cost; its ∂C/∂W⁽ˡ⁾ and ∂C/∂b⁽ˡ⁾ for every layer, proven at that one size, in one process
(``prove(..., workers=1)``: the cost itself, not how it splits over cores). The time is the
proof's own (``Proof.seconds``: instantiation, component truth, comparison), not start-up.
The diff points: ``sum(tanh(A*tanh(A*…tanh(A*x))))`` with k nested layers (2k + 1
operations: k products, k tanh, one sum), ``--wrt x`` with A = n × n, x = n, the whole
command timed (start-up included).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WIDTHS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
DEPTHS = (1, 2, 3, 4, 5, 6)
WIDTH_DEPTH = 2  # the width curve's L
DEPTH_WIDTH = 3  # the depth curve's n
NESTS = (1, 2, 3, 4, 6, 8, 12, 16)


def prove_backprop(width: int, depth: int) -> float:
    """Seconds to prove BP3/BP4 of an n-n-…-n sigmoid network with MSE (run in a child)."""
    # lazy: the child process alone loads the catalog and the proof machinery
    from derivations.backprop import general, instantiate, network, parameter_results
    from jacobian_lab.core.derivation import Derivation
    from jacobian_lab.core.proof import prove

    g = general()
    widths = (width,) * (depth + 1)
    net = instantiate(g, network(f"{width}^{depth}", widths, ("sigmoid",) * depth, "mse", ()))
    d = Derivation(name="growth", title="", summary="", givens=[], steps=[],
                   results=parameter_results(g, net), sizes=[dict(net.sizes[0])])
    return prove(d, workers=1).seconds


def diff_expr(k: int) -> str:
    e = "x"
    for _ in range(k):
        e = f"tanh(A*{e})"
    return f"sum({e})"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _point(args: list[str], limit: float) -> float | None:
    """Seconds the child reports (or its wall time), None past ``limit``."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=limit,
                              check=False, cwd=ROOT)  # `python -m` imports from the cwd first
    except subprocess.TimeoutExpired:
        return None
    wall = time.perf_counter() - t0
    if done.returncode == 2 and "budget" in done.stderr:  # jlab diff's own limit
        return None
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-500:]}")
    lines = done.stdout.strip().splitlines()
    return float(lines[-1]) if lines and args[1] == __file__ else wall


def curve(name: str, points: Sequence[int], make: callable, limit: float  # type: ignore[valid-type]
          ) -> list[tuple[int, float | None]]:
    out: list[tuple[int, float | None]] = []
    for p in points:
        seconds = _point(make(p), limit)
        out.append((p, seconds))
        shown = f"{seconds:.2f} s" if seconds is not None else f"> {limit:.0f} s: curve ends"
        print(f"  {name} {p}: {shown}", flush=True)
        if seconds is None:
            break
    return out


def table(curves: dict[str, list[tuple[int, float | None]]], limit: float) -> str:
    lines = []
    for name, pts in curves.items():
        lines.append(f"| {name} | " + " | ".join(str(p) for p, _ in pts) + " |")
        lines.append("|---|" + "---|" * len(pts))
        lines.append("| seconds | " + " | ".join(
            f"{s:.2f}" if s is not None else f"> {limit:.0f} (limit)" for _, s in pts) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(curves: dict[str, list[tuple[int, float | None]]], limit: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4))
    for ax, (name, pts) in zip(axes, curves.items(), strict=True):
        done = [(p, s) for p, s in pts if s is not None]
        ax.plot([p for p, _ in done], [s for _, s in done], "o-")
        over = [p for p, s in pts if s is None]
        if over:
            ax.plot(over, [limit] * len(over), "rx", label=f"past the {limit:.0f} s limit")
            ax.legend()
        ax.set_xlabel(name.split(" against ")[-1])
        ax.set_ylabel("seconds")
        ax.set_yscale("log")  # a straight line: exponential growth; bending up on log-log
        if "width" in name:  # a power law is a straight line on log-log axes
            ax.set_xscale("log", base=2)
        ax.set_title(name.split(" against ")[0])
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=60.0, help="seconds per point")
    parser.add_argument("--point", nargs=2, type=int, metavar=("WIDTH", "DEPTH"),
                        help=argparse.SUPPRESS)  # a child: prove one network, print seconds
    parser.add_argument("--only", choices=("width", "depth", "operations"),
                        help="measure this curve alone; the others are kept from growth.json")
    parser.add_argument("--replot", action="store_true",
                        help="redraw growth.png from growth.json without measuring")
    args = parser.parse_args(argv)
    if args.replot:
        saved = json.loads((HERE / "growth.json").read_text())
        plot({k: [(p, s) for p, s in v] for k, v in saved["curves"].items()}, saved["limit"],
             HERE / "growth.png")
        return 0
    if args.point:
        print(prove_backprop(*args.point))
        return 0
    py, limit = sys.executable, args.limit
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    makers = {
        f"backprop proof (L = {WIDTH_DEPTH}) against width n": ("width", WIDTHS, lambda n: [
            py, __file__, "--point", str(n), str(WIDTH_DEPTH)]),
        f"backprop proof (n = {DEPTH_WIDTH}) against depth L": ("depth", DEPTHS, lambda L: [
            py, __file__, "--point", str(DEPTH_WIDTH), str(L)]),
        "jlab diff (n = 3) against operations": ("operations", NESTS, lambda k: [
            py, "-m", "jacobian_lab.cli", "diff", diff_expr(k), "--wrt", "x", "--shape",
            "A=n,n", "--shape", "x=n", "--format", "json", "--budget", str(limit)]),
    }
    kept = {}
    if args.only and (HERE / "growth.json").exists():
        kept = json.loads((HERE / "growth.json").read_text())["curves"]
    curves: dict[str, list[tuple[int, float | None]]] = {}
    for key, (short, points, make) in makers.items():
        if args.only and short != args.only and key in kept:
            curves[key] = [(p, s) for p, s in kept[key]]
            continue
        curves[key] = curve(short, points, make, limit)
        if short == "operations":  # its x is the number of operations, 2k + 1
            curves[key] = [(2 * k + 1, s) for k, s in curves[key]]
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    text = table(curves, limit)
    print(text)
    (HERE / "growth.json").write_text(json.dumps(
        {"limit": limit, "curves": {k: v for k, v in curves.items()}}, indent=1) + "\n")
    plot(curves, limit, HERE / "growth.png")
    print(f"wrote {HERE / 'growth.png'} and {HERE / 'growth.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
