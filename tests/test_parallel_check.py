"""`jlab check` on idle cores proves every check of every derivation in one pool of workers:
the verdicts are those of the derivations proved one by one, and a wrong result still fails."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

import derivations
from jacobian_lab.cli import catalog as cli_catalog
from jacobian_lab.cli import main
from jacobian_lab.core import parallel
from jacobian_lab.core.derivation import Derivation, Result
from jacobian_lab.core.proof import prove, prove_many
from jacobian_lab.errors import BudgetExceeded

NAMES = ["gradient", "jacobian", "neuron", "layer", "neuron-relu"]


REAL_FORK_SAFE = parallel.fork_safe


@pytest.fixture(autouse=True)
def _forks_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests exercise the forked workers: in a test session that has loaded PyTorch
    (the oracle tests) the guard would keep every proof in this process."""
    monkeypatch.setattr(parallel, "fork_safe", lambda: True)


def _statuses(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, dict]:
    code = main(["check", "--json", *args])
    out = json.loads(capsys.readouterr().out)
    keep = ("ok", "method", "sizes")
    return code, {n: ({k: d[k] for k in keep}, [c["correct"] for c in d["claims"]],
                      [(r["ok"], r["method"]) for r in d["results"]])
                  for n, d in out["derivations"].items()}


def test_check_in_parallel_gives_the_verdicts_of_check_alone(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("JLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(parallel, "MIN_CHECKS", 1)
    monkeypatch.setattr(cli_catalog, "_idle_cores", lambda: 1)
    alone = _statuses(capsys, NAMES)
    monkeypatch.setattr(cli_catalog, "_idle_cores", lambda: 2)
    assert _statuses(capsys, NAMES) == alone
    assert alone[0] == 0


def _broken() -> Derivation:
    d = derivations.get("layer")
    r = d.results[0]
    d.results[0] = Result(r.lhs, 2 * r.expr, r.of, r.wrt, r.kind, r.defs)  # a wrong formula
    return d


def test_a_wrong_result_among_many_fails_its_proof_only(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_CHECKS", 1)
    ds = [derivations.get("neuron"), _broken(), derivations.get("gradient")]
    proofs = prove_many(ds, workers=2)
    assert [p.ok for p in proofs] == [True, False, True]
    assert not proofs[1].results[0].ok and all(r.ok for r in proofs[1].results[1:])
    assert [p.sizes for p in proofs] == [prove(d, workers=1).sizes for d in ds]


def test_a_proof_past_its_budget_names_the_derivation(monkeypatch):
    def slow(self: Any, g: int) -> Any:
        raise BudgetExceeded(0.5)

    monkeypatch.setattr("jacobian_lab.core.proof._Plan.group", slow)
    with pytest.raises(BudgetExceeded, match="proving `neuron`"):
        prove_many([derivations.get("neuron")], workers=1, budget=0.5)


def test_a_process_with_a_threaded_runtime_or_a_thread_never_forks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork copies one thread: with JAX or PyTorch loaded (a notebook, a test session) or a
    Python thread running, the proofs run in this process (JAX warned of a deadlock)."""
    import sys
    import threading
    import types

    monkeypatch.setattr(parallel, "fork_safe", REAL_FORK_SAFE)
    monkeypatch.setitem(sys.modules, "jax", types.ModuleType("jax"))
    assert not parallel.fork_safe()
    monkeypatch.delitem(sys.modules, "jax")
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert parallel.fork_safe() == (threading.active_count() == 1)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not parallel.fork_safe()
        pids = parallel.run(lambda task: os.getpid(), list(range(4)), workers=2, checks=100)
        assert set(pids.values()) == {os.getpid()}  # proved here, not in forked workers
    finally:
        stop.set()
        t.join()
