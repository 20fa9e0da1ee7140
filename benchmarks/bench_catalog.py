"""The catalog end to end: `jlab derive neuron-relu` against `python -c "import sympy"`
(goal ≤ 3×), and `jlab check` over the whole catalog against a 60 s budget."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

JLAB = [sys.executable, "-m", "jacobian_lab.cli"]


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True)


def run(bench) -> None:  # type: ignore[no-untyped-def]
    bench.compare(
        "jlab derive neuron-relu vs import sympy",
        lambda: _run([*JLAB, "derive", "neuron-relu"]),
        lambda: _run([sys.executable, "-c", "import sympy"]),
        repeat=5,
        goal=3.0,
    )

    t0 = time.perf_counter()
    _run([*JLAB, "check"])
    seconds = time.perf_counter() - t0
    print(f"jlab check (whole catalog): {seconds:.1f} s (budget 60 s, ratio {seconds / 60:.2f})")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    import run as harness  # type: ignore[import-not-found]

    sys.exit(harness.main(["--only", "catalog"]))
