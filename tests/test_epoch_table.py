"""The epoch table's arithmetic (benchmarks/epoch_table.py) on made-up timings: the ratios it
prints and issue 16's rule that a target is met only when beaten in every invocation."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

PATH = Path(__file__).parent.parent / "benchmarks" / "epoch_table.py"


@pytest.fixture(scope="module")
def table() -> Any:
    spec = importlib.util.spec_from_file_location("epoch_table", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("epoch_table", module)
    spec.loader.exec_module(module)
    return module


def _config(table: Any, fused: float, jax: float = 0.2, hand: float = 0.1) -> dict[str, Any]:
    seconds = {table.ROWS[0]: fused, table.REFERENCE: jax, table.HAND: hand,
               "floor: GEMMs": 0.05, "floor: copy of the images": 0.01}
    net = {"seconds": seconds, "memory_floor": 0.005, "floor": 0.05, "flops": 2e9,
           "gemm_rate": 4e10, "image_bytes": 188_000_000, "bandwidth": 1e10}
    return {"threads": 1, "dtype": "float32", "repeat": 7, "source": "test",
            "networks": {"784-10-10": net}}


def test_the_table_gives_each_row_as_a_ratio_to_jax_to_the_hand_loop_and_to_the_floor(table):
    text = table.markdown([_config(table, fused=0.09)])
    row = next(line for line in text.splitlines() if line.startswith(f"| {table.ROWS[0]} |"))
    # 0.09 s: 0.45 × JAX's 0.2 s, 0.90 × the hand loop's 0.1 s, 1.8 × the 0.05 s floor
    assert row == f"| {table.ROWS[0]} | 0.0900 | 0.45 | 0.90 | 1.8 |"
    assert "784-10-10: fused 0.45 × JAX (target ≤ 0.5: met)" in text


def test_a_target_beaten_in_two_invocations_of_three_is_not_met(table):
    runs = [[_config(table, fused=0.09)], [_config(table, fused=0.11)],
            [_config(table, fused=0.08)]]
    line = table.verdicts(runs).splitlines()[-1]
    assert line == "| 1 thread, float32 | 784-10-10 | 0.450 | 0.550 | 0.400 | ≤ 0.5 | **no** |"
    met = table.verdicts([runs[0], runs[2]]).splitlines()[-1]
    assert met.endswith("| yes |")


def test_without_jax_the_ratio_is_a_dash_and_no_target_is_claimed(table):
    config = _config(table, fused=0.09)
    del config["networks"]["784-10-10"]["seconds"][table.REFERENCE]
    assert table.fused_ratio(config["networks"]["784-10-10"]) is None
    assert table.verdicts([[config]]).splitlines()[-1].endswith("| – | ≤ 0.5 | **no** |")


def test_the_readme_block_has_the_targets_once_then_the_first_invocations_tables(table):
    path = PATH.parent / "bench_training.py"
    spec = importlib.util.spec_from_file_location("bench_training", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    runs = [[_config(table, fused=0.09)], [_config(table, fused=0.11)]]
    block = bench.readme_block(table, runs)
    rows = [line for line in block.splitlines() if line.startswith("| 1 thread, float32 |")]
    assert rows == ["| 1 thread, float32 | 784-10-10 | 0.450 | 0.550 | ≤ 0.5 | **no** |"]
    assert block.count("| one epoch |") == 1 and f"| {table.ROWS[0]} | 0.0900 |" in block
