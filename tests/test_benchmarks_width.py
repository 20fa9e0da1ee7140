"""benchmarks/width.py without its measurement: a curve ends at the first width past the limit,
the per-epoch limit interrupts a long epoch, the slopes and the table read the points right."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "width.py"
LIMIT = 60.0


@pytest.fixture(scope="module")
def width() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_width", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake(times: dict[str, dict[int, float]], calls: list[tuple[int, list[str]]]
          ) -> Callable[[int, list[str]], dict[str, float | None]]:
    """A measurement: seconds from ``times`` (None past LIMIT), every call recorded."""
    def measure(w: int, alive: list[str]) -> dict[str, float | None]:
        calls.append((w, alive))
        return {k: (None if times[k][w] > LIMIT else times[k][w]) for k in alive if k in times}
    return measure


def test_a_curve_ends_at_the_first_width_past_the_limit(width: ModuleType) -> None:
    widths = (10, 64, 128, 256)
    times = {"slow": {10: 1.0, 64: 70.0, 128: 1.0, 256: 1.0},  # back under at 128: not run
             "fast": dict.fromkeys(widths, 0.5)}
    calls: list[tuple[int, list[str]]] = []
    got = width.curves(widths, ("slow", "fast", "absent"), _fake(times, calls))
    assert got["slow"] == [(10, 1.0), (64, None)]
    assert got["fast"] == [(w, 0.5) for w in widths]
    assert got["absent"] == []  # not installed: no point at all
    assert [w for w, alive in calls if "slow" in alive] == [10, 64]
    assert all("absent" not in alive for w, alive in calls if w > 10)
    text = width.table(got, widths, LIMIT, 60_000)
    row = next(line for line in text.splitlines() if line.startswith("| slow |"))
    assert row.split(" | ")[1:] == ["1.000", "> 60 s, curve ends", "–", "– |"]


def test_the_measurement_stops_when_every_curve_has_ended(width: ModuleType) -> None:
    calls: list[tuple[int, list[str]]] = []
    got = width.curves((10, 20, 30), ("a",), _fake({"a": {10: 99.0}}, calls))
    assert got == {"a": [(10, None)]} and len(calls) == 1


def test_slope_and_bend_of_a_flat_then_linear_curve(width: ModuleType) -> None:
    pts = [(n, max(1.0, n / 64)) for n in (16, 32, 64, 128, 256, 512, 1024)]
    assert width.slope(pts) == pytest.approx(1.0)
    assert width.slope(pts, low=16) < 0.9
    assert width.bend(pts) == 64
    assert width.slope([(512, 1.0), (1024, None)]) is None  # one measured point: no fit
    assert width.bend([(10, 1.0), (20, 1.1)]) is None


def test_an_epoch_past_the_limit_is_interrupted(width: ModuleType) -> None:
    import signal

    old = signal.signal(signal.SIGALRM, width._alarm)
    try:
        def spin() -> None:
            end = time.perf_counter() + 5.0
            while time.perf_counter() < end:
                pass

        slow = width.Limited(spin, 0.05)
        t0 = time.perf_counter()
        slow()
        assert slow.over and time.perf_counter() - t0 < 2.0
        fast = width.Limited(lambda: None, 5.0)
        fast()
        assert not fast.over
    finally:
        signal.signal(signal.SIGALRM, old)


def test_combine_takes_the_fastest_epoch_and_keeps_a_curve_end(width: ModuleType) -> None:
    def saved(a: list[float], b: list[float] | None) -> dict[str, object]:
        runs = {"10": {"runs": {"a": a, "b": b or []}}}
        return {"widths": [10, 20], "limit": LIMIT, "n_train": 600,
                "curves": {"a": [[10, a[0]]], "b": [[10, None if b is None else b[0]]]},
                "points": runs}

    got, widths, limit, n_train = width.combine([saved([3.0, 2.0], [1.0]), saved([4.0], None)])
    assert got == {"a": [(10, 2.0)], "b": [(10, None)]}
    assert (widths, limit, n_train) == ([10, 20], LIMIT, 600)
