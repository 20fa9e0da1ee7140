"""The symbolic latencies of issue 16, each command timed end to end as a fresh process (what a
user waits for), interleaved with its reference in the same run, and optionally against an
older checkout of the code (``--before DIR``: a ``git archive`` of an earlier commit).

    python benchmarks/latency.py --repeat 7                  # this checkout
    python benchmarks/latency.py --repeat 7 --before /tmp/base

Rounds alternate the order of the contestants; every `jlab list` starts from an empty proof
cache (a fresh ``JLAB_CACHE_DIR``) and every `jlab check` re-proves. Byte-code caching is on
(``PYTHONDONTWRITEBYTECODE`` removed), as for an installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NO_SYMENGINE = "::no-symengine"  # a pseudo checkout: this one with JLAB_NO_SYMENGINE=1

# name, jlab arguments, target (seconds, or a ratio to `import sympy` when below 10)
COMMANDS: list[tuple[str, list[str], str]] = [
    ("derive neuron-relu", ["derive", "neuron-relu"], "≤ 1.3 × import sympy"),
    ("derive backprop", ["derive", "backprop"], "≤ 2 s"),
    ("check", ["check"], "≤ 10 s"),
    ("first list", ["list"], "≤ 10 s"),
]


def _env(code: Path, cache: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "JLAB_NO_SYMENGINE")}
    if code.name == NO_SYMENGINE:  # the same checkout, SymEngine turned off
        code = code.parent
        env["JLAB_NO_SYMENGINE"] = "1"
    env["PYTHONPATH"] = str(code)
    env.pop("JLAB_NO_CACHE", None)
    if cache is not None:
        env["JLAB_CACHE_DIR"] = cache
    return env


def _time(args: list[str], env: dict[str, str]) -> float:
    # run from the checkout itself: `python -m` puts the working directory first on sys.path,
    # before PYTHONPATH — from another checkout it would import that one's code
    cwd = env["PYTHONPATH"]
    t0 = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, check=False, cwd=cwd)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0,):
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr[-400:]!r}")
    return seconds


def _jlab(code: Path, jlab_args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as cache:  # list: an empty cache every time
        return _time([sys.executable, "-m", "jacobian_lab.cli", *jlab_args], _env(code, cache))


def measure(repeat: int, codes: dict[str, Path], only: str | None = None
            ) -> dict[str, dict[str, list[float]]]:
    """{command: {contestant: [seconds per round]}}; "import sympy" is the reference."""
    out: dict[str, dict[str, list[float]]] = {}
    for name, args, _ in COMMANDS:
        if only and only not in name:
            continue
        for code in codes.values():  # warm-up: byte-code caches, page cache
            _jlab(code, args)
        times: dict[str, list[float]] = {"import sympy": [], **{k: [] for k in codes}}
        for i in range(repeat):
            order = ["import sympy", *codes]
            for who in order if i % 2 == 0 else order[::-1]:
                if who == "import sympy":
                    times[who].append(_time([sys.executable, "-c", "import sympy"],
                                            _env(ROOT)))
                else:
                    times[who].append(_jlab(codes[who], args))
        out[name] = times
        print(f"{name}: " + ", ".join(f"{k} {statistics.median(v):.2f} s"
                                      for k, v in times.items()), flush=True)
    return out


def report(data: dict[str, dict[str, list[float]]]) -> str:
    """A Markdown table: medians, and the median of the per-round ratios to import sympy
    (and to the older code)."""
    contestants = [k for k in next(iter(data.values())) if k != "import sympy"]
    head = ["command", "target", "import sympy (s)", *(f"{c} (s)" for c in contestants),
            *(f"{c} / import sympy" for c in contestants)]
    if "before" in contestants and "after" in contestants:
        head.append("after / before")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    targets = {n: t for n, _, t in COMMANDS}
    for name, times in data.items():
        ref = times["import sympy"]
        row = [name, targets[name], f"{statistics.median(ref):.2f}"]
        row += [f"{statistics.median(times[c]):.2f}" for c in contestants]
        row += [f"{statistics.median(a / b for a, b in zip(times[c], ref, strict=True)):.2f}"
                for c in contestants]
        if "before" in contestants and "after" in contestants:
            ratios = (a / b for a, b in zip(times["after"], times["before"], strict=True))
            row.append(f"{statistics.median(ratios):.2f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before", type=Path, help="an older checkout to compare with")
    parser.add_argument("--only", help="commands whose name contains this")
    parser.add_argument("--json", type=Path, help="write the raw times here")
    parser.add_argument("--no-symengine", action="store_true",
                        help="also time this checkout with JLAB_NO_SYMENGINE=1")
    args = parser.parse_args(argv)
    codes = {"after": ROOT} if args.before is None else {"after": ROOT, "before": args.before}
    if args.no_symengine:
        codes["after without SymEngine"] = ROOT / NO_SYMENGINE
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    data = measure(args.repeat, codes, args.only)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(report(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
