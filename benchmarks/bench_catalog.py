"""The catalog end to end (issue 16's symbolic latency), each `jlab` command a fresh process
timed against `python -c "import sympy"` in the same run, interleaved, 7 rounds:

* `jlab derive neuron-relu`: goal ≤ 1.3 × import sympy;
* `jlab derive backprop`: goal ≤ 2 s;
* `jlab check` (re-proves the whole catalog): goal ≤ 10 s;
* the first `jlab list` (an empty proof cache, a fresh JLAB_CACHE_DIR each time): ≤ 10 s.

Byte-code caching is on for the children, as for an installed package. The same four with an
older checkout beside them (before/after in one run): ``python benchmarks/latency.py --before
DIR``; how proof time grows with width, depth and expression size: ``benchmarks/growth.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

JLAB = [sys.executable, "-m", "jacobian_lab.cli"]
ROOT = Path(__file__).resolve().parent.parent


def _env(cache: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "JLAB_NO_CACHE")}
    env["PYTHONPATH"] = str(ROOT)
    if cache is not None:
        env["JLAB_CACHE_DIR"] = cache
    return env


def _run(args: list[str], fresh_cache: bool = False) -> None:
    if fresh_cache:
        with tempfile.TemporaryDirectory() as cache:
            subprocess.run(args, check=True, capture_output=True, env=_env(cache), cwd=ROOT)
    else:  # cwd: `python -m` imports from the working directory before PYTHONPATH
        subprocess.run(args, check=True, capture_output=True, env=_env(), cwd=ROOT)


def _sympy() -> None:
    _run([sys.executable, "-c", "import sympy"])


def run(bench) -> None:  # type: ignore[no-untyped-def]
    bench.compare("jlab derive neuron-relu vs import sympy",
                  lambda: _run([*JLAB, "derive", "neuron-relu"]), _sympy, repeat=7, goal=1.3)
    bench.compare("jlab derive backprop (vs import sympy)",
                  lambda: _run([*JLAB, "derive", "backprop"]), _sympy, repeat=7, limit=2.0)
    bench.compare("jlab check (vs import sympy)",
                  lambda: _run([*JLAB, "check"]), _sympy, repeat=7, limit=10.0)
    bench.compare("first jlab list, empty cache (vs import sympy)",
                  lambda: _run([*JLAB, "list"], fresh_cache=True), _sympy, repeat=7,
                  limit=10.0)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    import run as harness  # type: ignore[import-not-found]

    sys.exit(harness.main(["--only", "catalog"]))
