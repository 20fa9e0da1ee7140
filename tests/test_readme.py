"""Every ```python block of the README runs as it is written (each in a fresh interpreter, in
an empty directory), so an example copied from it cannot silently go wrong."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, source) of each ```python block in ``text``."""
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(text)]


BLOCKS = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def test_readme_has_python_blocks() -> None:
    # the kernel example, the derivation file and the gradient-code check at least
    assert len(BLOCKS) >= 3


def test_python_blocks_are_found_with_their_line() -> None:
    text = "intro\n```python\nx = 1\n```\nprose\n```text\nnot python\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n")]


@pytest.mark.parametrize(("line", "source"), BLOCKS, ids=[f"line{n}" for n, _ in BLOCKS])
def test_readme_python_block_runs(line: int, source: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JLAB_NO_CACHE": "1"}
    proc = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", source],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"README.md line {line}:\n{proc.stderr[-2000:]}"


def test_wrong_kernel_call_is_caught_by_the_readme_example() -> None:
    # The old example passed the activations A where dense_backward takes dZ: the block's
    # own assertion must reject that call.
    kernel = next(src for _, src in BLOCKS if "dense_backward(" in src)
    wrong = kernel.replace("dense_backward(dZ, X, W)", "dense_backward(A, X, W)")
    assert wrong != kernel
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", wrong], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0 and "AssertionError" in proc.stderr


def test_make_bench_regenerates_the_readme_epoch_table_between_its_markers() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / "bench_training.py"
    spec = importlib.util.spec_from_file_location("bench_training", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert readme.count(module.README_START) == 1 and readme.count(module.README_END) == 1
    new = module.regenerate(readme, "| a | new | table |")
    assert "| a | new | table |" in new
    assert new.split(module.README_START)[0] == readme.split(module.README_START)[0]
    assert new.split(module.README_END)[1] == readme.split(module.README_END)[1]
    with pytest.raises(SystemExit, match="no"):
        module.regenerate("no markers here", "x")
