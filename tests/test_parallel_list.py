"""`jlab list`'s first run proves the catalog in parallel processes (one per core) and shows
its progress; the statuses are those of proofs made one by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import derivations
from jacobian_lab.cli import catalog as cli_catalog
from jacobian_lab.cli import main
from jacobian_lab.core import parallel
from jacobian_lab.core import proof as proof_mod
from jacobian_lab.core.derivation import Derivation, Result

NAMES = ["gradient", "jacobian", "scalar-chain", "no-intermediate", "neuron"]


@pytest.fixture(autouse=True)
def _forks_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests exercise the worker processes: in a test session that has loaded PyTorch
    (the oracle tests) the guard (parallel.fork_safe) would keep every proof here."""
    monkeypatch.setattr(parallel, "fork_safe", lambda: True)


class Status:
    """A stand-in for rich's Status: records every progress line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def update(self, text: str) -> None:
        self.lines.append(text)


def test_parallel_proofs_match_sequential_ones(monkeypatch):
    monkeypatch.setattr(cli_catalog, "_idle_cores", lambda: 2)
    status = Status()
    parallel = dict(cli_catalog._prove_all(NAMES, status))
    assert set(parallel) == set(NAMES)
    for name in NAMES:
        alone = cli_catalog._prove_summary(name)
        got = parallel[name]
        assert (got.ok, got.method, got.sizes, got.results, got.claims_correct) == (
            alone.ok, alone.method, alone.sizes, alone.results, alone.claims_correct)
    n = len(NAMES)
    assert status.lines[-1].startswith(f"proving the catalog in 2 processes: {n}/{n} done (")
    assert [ln.split(":")[1].split("done")[0].strip() for ln in status.lines] == [
        f"{i}/{len(NAMES)}" for i in range(1, len(NAMES) + 1)]


def test_few_proofs_or_one_core_prove_in_this_process(monkeypatch):
    calls: list[str] = []
    real = proof_mod.prove

    def spy(d: Derivation, *a: Any, **k: Any) -> Any:
        calls.append(d.name)
        return real(d, *a, **k)

    monkeypatch.setattr(proof_mod, "prove", spy)
    monkeypatch.setattr(cli_catalog, "_idle_cores", lambda: 1)
    status = Status()
    assert [n for n, _ in cli_catalog._prove_all(NAMES[:4], status)] == NAMES[:4]
    assert calls == NAMES[:4]  # in order, here: no worker process
    assert status.lines[0] == "proving gradient (1/4)…"


def _broken() -> Derivation:
    d = derivations.get("neuron")
    r = d.results[0]
    # a wrong formula: ∂a/∂w claimed to be 2 xᵀ
    d.results[0] = Result(r.lhs, 2 * r.expr, r.of, r.wrt, r.kind, r.defs)
    return d


def test_a_wrong_result_proved_in_a_worker_fails_the_list(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("JLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("JLAB_NO_CACHE", raising=False)
    monkeypatch.setattr(cli_catalog, "_idle_cores", lambda: 2)
    registry = {n: derivations._REGISTRY[n] for n in NAMES}
    registry["neuron"] = _broken

    class Catalog:
        _REGISTRY = registry

        @staticmethod
        def names() -> list[str]:
            return list(registry)

        @staticmethod
        def get(name: str) -> Derivation:
            return registry[name]()

    monkeypatch.setattr(cli_catalog, "_catalog", lambda: Catalog)  # inherited by the workers
    code = main(["list"])
    out = capsys.readouterr().out
    assert code == 1 and "✗ FAILED" in out
    entries = json.loads((Path(tmp_path) / "proofs.json").read_text())["entries"]
    assert set(entries) == set(NAMES)


@pytest.mark.parametrize("cores", [1, 2])
def test_list_statuses_are_the_same_in_parallel_and_alone(cores, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("JLAB_NO_CACHE", "1")
    monkeypatch.setattr(cli_catalog, "_idle_cores", lambda: cores)
    monkeypatch.setattr(cli_catalog, "_catalog", lambda: _Subset)
    assert main(["list"]) == 0
    assert capsys.readouterr().out.count("✓ proven (symbolic)") == len(NAMES)


class _Subset:
    _REGISTRY = derivations._REGISTRY

    @staticmethod
    def names() -> list[str]:
        return list(NAMES)

    @staticmethod
    def get(name: str) -> Derivation:
        return derivations.get(name)


def test_workers_are_bounded_by_the_idle_cores(monkeypatch):
    monkeypatch.setattr(cli_catalog, "_cores", lambda: 2)
    for load, idle in ((0.0, 2), (1.0, 2), (1.6, 1), (5.7, 1)):
        monkeypatch.setattr(parallel.os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert cli_catalog._idle_cores() == idle, load
