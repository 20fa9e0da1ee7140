"""The proof cache of `jlab list`: fast on the second call, never hiding a code change.

The CLI tests run `list` and `check` on a small catalog (three cheap real derivations and one
whose result is wrong), with the cache in tmp_path and `prove` spied on.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sympy as sp

import derivations
import jacobian_lab
import jacobian_lab.core.proof as proof_mod
from jacobian_lab.cli import catalog as _cli_catalog
from jacobian_lab.cli import main
from jacobian_lab.core import proof_cache as pc
from jacobian_lab.core.derivation import Derivation

CHEAP = ("gradient", "jacobian", "no-intermediate")


def wrong_gradient() -> Derivation:
    """The `gradient` derivation with the sign of −sin y dropped: its proof fails."""
    d = derivations.get("gradient")
    r = d.results[0]
    x, y = r.wrt
    d.name = "wrong-gradient"
    d.results = [dataclasses.replace(r, expr=sp.Matrix([[2 * x, sp.sin(y)]]))]
    return d


class Catalog(SimpleNamespace):
    """The interface of the `derivations` package that the catalog commands use."""

    def __init__(self, builders: dict[str, Any]) -> None:
        super().__init__(_REGISTRY=dict(builders))

    def names(self) -> list[str]:
        return list(self._REGISTRY)

    def get(self, name: str) -> Derivation:
        return self._REGISTRY[name]()


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("JLAB_CACHE_DIR", str(d))
    monkeypatch.delenv("JLAB_NO_CACHE", raising=False)
    return d


@pytest.fixture
def proved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names `prove` was called on (it still proves)."""
    calls: list[str] = []
    real = proof_mod.prove

    def spy(d: Derivation, *args: Any, **kwargs: Any) -> Any:
        calls.append(d.name)
        return real(d, *args, **kwargs)

    monkeypatch.setattr(proof_mod, "prove", spy)
    return calls


def use_catalog(monkeypatch: pytest.MonkeyPatch, *extra: tuple[str, Any]) -> Catalog:
    reg = derivations._REGISTRY
    derivations.names()  # load the package's builders
    cat = Catalog({**{n: reg[n] for n in CHEAP}, **dict(extra)})
    monkeypatch.setattr(_cli_catalog, "_catalog", lambda: cat)
    return cat


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def stored(cache_dir: Path) -> dict[str, Any]:
    return json.loads((cache_dir / pc.FILENAME).read_text())


def test_second_list_does_not_prove_and_says_the_status_is_cached(
        cache_dir, proved, monkeypatch, capsys):
    use_catalog(monkeypatch)
    code, first, _ = run(capsys, "list")
    assert code == 0 and proved == list(CHEAP)
    assert "proved now; cached in" in first and "proof cache of" not in first
    assert set(stored(cache_dir)["entries"]) == set(CHEAP)
    proved.clear()
    code, second, _ = run(capsys, "list")
    assert code == 0 and proved == []
    assert second.count("✓ proven (symbolic)") == first.count("✓ proven (symbolic)") == 3
    footnote = second.rstrip().splitlines()[-1]  # one line, whatever the path's length
    assert footnote.startswith("statuses from the proof cache of 20")
    assert f"({cache_dir / pc.FILENAME}); `jlab check` re-proves" in footnote


def test_a_partly_cached_list_says_how_many_came_from_the_cache(
        cache_dir, proved, monkeypatch, capsys):
    use_catalog(monkeypatch)
    run(capsys, "check", "gradient")
    proved.clear()
    _, out, _ = run(capsys, "list")
    assert proved == ["jacobian", "no-intermediate"]
    assert "1 of 3 statuses from the proof cache" in out


def test_a_source_change_invalidates_every_entry(cache_dir, proved, monkeypatch, capsys):
    use_catalog(monkeypatch)
    key = {"now": "a" * 64}
    monkeypatch.setattr(pc, "source_key", lambda *a, **k: key["now"])
    run(capsys, "list")
    key["now"] = "b" * 64  # what an edited .py file or an upgraded SymPy does to the key
    proved.clear()
    _, out, _ = run(capsys, "list")
    assert proved == list(CHEAP) and "proof cache of" not in out
    assert stored(cache_dir)["key"] == "b" * 64


def test_the_key_covers_every_py_file_and_the_versions(tmp_path):
    roots = [tmp_path / "jacobian_lab", tmp_path / "derivations"]
    for r in roots:
        (r / "sub").mkdir(parents=True)
        (r / "__init__.py").write_text("x = 1\n")
        (r / "sub" / "m.py").write_text("y = 2\n")
    versions = {"python": "CPython 3.11.7", "sympy": "1.14.0"}
    key = pc.source_key(roots, versions)
    assert len(key) == 64 and pc.source_key(roots, versions) == key
    (roots[1] / "notes.txt").write_text("not source")
    (roots[1] / "sub" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert pc.source_key(roots, versions) == key  # only .py files count
    (roots[1] / "sub" / "m.py").write_text("y = 3\n")
    assert pc.source_key(roots, versions) != key
    (roots[1] / "sub" / "m.py").write_text("y = 2\n")
    (roots[0] / "new.py").write_text("")
    assert pc.source_key(roots, versions) != key
    (roots[0] / "new.py").unlink()
    assert pc.source_key(roots, {**versions, "sympy": "1.15.0"}) != key
    assert pc.source_key(roots, versions) == key


def test_the_key_reads_the_installed_packages_and_sympys_version():
    roots = pc.package_roots()
    assert Path(jacobian_lab.__file__).parent.resolve() in roots
    assert Path(derivations.__file__).parent.resolve() in roots
    v = pc.versions()
    assert v["sympy"] == sp.__version__ and v["python"].split()[-1].count(".") == 2


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"format": "jacobian_lab proof cache 1", "key": ',  # truncated
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"format": "jacobian_lab proof cache 0", "key": "x", "entries": {}}',  # old version
        b"",
    ],
    ids=["garbage", "truncated", "binary", "array", "foreign-version", "empty"],
)
def test_a_corrupt_cache_file_is_ignored_and_rewritten(
        cache_dir, proved, monkeypatch, capsys, content):
    use_catalog(monkeypatch)
    cache_dir.mkdir()
    (cache_dir / pc.FILENAME).write_bytes(content)
    code, out, err = run(capsys, "list")
    assert code == 0 and proved == list(CHEAP) and "Traceback" not in out + err
    data = stored(cache_dir)
    assert data["format"] == pc.FORMAT and set(data["entries"]) == set(CHEAP)


def test_a_damaged_entry_is_reproved_not_trusted(cache_dir, proved, monkeypatch, capsys):
    use_catalog(monkeypatch)
    run(capsys, "list")
    data = stored(cache_dir)
    data["entries"]["gradient"]["proof"]["method"] = "failed"  # ok=true with method failed
    data["entries"]["jacobian"]["proof"] = {"ok": True}
    (cache_dir / pc.FILENAME).write_text(json.dumps(data))
    proved.clear()
    code, _, _ = run(capsys, "list")
    assert code == 0 and proved == ["gradient", "jacobian"]
    assert stored(cache_dir)["entries"]["gradient"]["proof"]["method"] == "symbolic"


def test_check_always_proves_and_refreshes_the_entries_it_proved(
        cache_dir, proved, monkeypatch, capsys):
    use_catalog(monkeypatch)
    run(capsys, "list")
    data = stored(cache_dir)
    data["entries"]["gradient"]["proof"]["proved_at"] = 0.0
    data["entries"]["jacobian"]["proof"]["proved_at"] = 0.0
    (cache_dir / pc.FILENAME).write_text(json.dumps(data))
    proved.clear()
    code, _, _ = run(capsys, "check", "gradient")
    assert code == 0 and proved == ["gradient"]
    entries = stored(cache_dir)["entries"]
    assert entries["gradient"]["proof"]["proved_at"] > 0.0  # refreshed
    assert entries["jacobian"]["proof"]["proved_at"] == 0.0  # not proved, left alone
    code, _, _ = run(capsys, "check", "--json")
    assert proved == ["gradient", *CHEAP]  # check never reads the cache
    proved.clear()
    run(capsys, "list")
    assert proved == []


def test_a_failed_proof_is_cached_as_failed(cache_dir, proved, monkeypatch, capsys):
    use_catalog(monkeypatch, ("wrong-gradient", wrong_gradient))
    code, out, _ = run(capsys, "list")
    assert code == 1 and "FAILED" in out
    entry = stored(cache_dir)["entries"]["wrong-gradient"]["proof"]
    assert entry["ok"] is False and entry["method"] == "failed"
    proved.clear()
    code, out, _ = run(capsys, "list")
    assert code == 1 and proved == [] and "FAILED" in out
    assert out.count("✓ proven") == 3


def test_no_cache_flag_and_env_prove_everything_and_write_nothing(
        cache_dir, proved, monkeypatch, capsys):
    use_catalog(monkeypatch)
    code, out, _ = run(capsys, "list", "--no-cache")
    assert code == 0 and proved == list(CHEAP) and "cache" not in out
    assert not (cache_dir / pc.FILENAME).exists()
    run(capsys, "list")  # now cached …
    proved.clear()
    run(capsys, "list", "--no-cache")  # … and still re-proved on request
    monkeypatch.setenv("JLAB_NO_CACHE", "1")
    run(capsys, "list")
    assert proved == list(CHEAP) * 2


def test_list_no_check_neither_proves_nor_touches_the_cache(cache_dir, proved, monkeypatch,
                                                            capsys):
    use_catalog(monkeypatch)
    code, out, _ = run(capsys, "list", "--no-check")
    assert code == 0 and proved == [] and "not proven" in out
    assert not cache_dir.exists()


def test_an_unwritable_cache_dir_means_no_caching_and_one_line(
        tmp_path, proved, monkeypatch, capsys):
    use_catalog(monkeypatch)
    blocker = tmp_path / "a-file"
    blocker.write_text("")  # a directory cannot be made inside a file, even by root
    monkeypatch.setenv("JLAB_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.delenv("JLAB_NO_CACHE", raising=False)
    code, out, err = run(capsys, "list")
    assert code == 0 and proved == list(CHEAP) and "✓ proven" in out
    assert "proved now; cached" not in out
    assert len(err.strip().splitlines()) == 1 and "proof cache off: cannot write" in err
    code, _, err = run(capsys, "check", "gradient")
    assert code == 0 and "proof cache off" in err


def test_an_unreadable_cache_file_means_no_caching(tmp_path, monkeypatch):
    (tmp_path / pc.FILENAME).mkdir()  # a directory where the file should be
    cache = pc.ProofCache(tmp_path, key="k")
    assert not cache.enabled and cache.notice and "cannot read" in cache.notice
    assert cache.get("gradient") is None


def load_builder(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"user_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


USER_FILE = """\
import derivations

def build():
    d = derivations.get("gradient")
    d.name = "{name}"
    return d
"""


def test_a_user_files_derivation_is_served_only_while_its_bytes_are_unchanged(
        cache_dir, tmp_path, proved, monkeypatch, capsys):
    f = tmp_path / "mine.py"
    f.write_text(USER_FILE.format(name="mine"))
    use_catalog(monkeypatch, ("mine", load_builder(f, "mine")))
    salt = pc.builder_salt(load_builder(f, "mine"))
    assert salt and salt.startswith("file:")
    run(capsys, "list")
    assert stored(cache_dir)["entries"]["mine"]["salt"] == salt
    proved.clear()
    run(capsys, "list")
    assert proved == []
    f.write_text(USER_FILE.format(name="mine") + "# edited\n")
    run(capsys, "list")
    assert proved == ["mine"]


def test_a_builder_of_unknown_origin_is_never_cached(tmp_path):
    assert pc.builder_salt(None) is None
    assert pc.builder_salt(lambda: None) is not None  # this test file: its bytes
    assert pc.builder_salt(derivations._REGISTRY["gradient"]) == ""
    assert pc.builder_salt(print) is None  # no Python source at all
    cache = pc.ProofCache(tmp_path, key="k")
    summary = pc.ProofSummary(True, "symbolic", 0.0, ("scalars",), 0.1, 1, 1, 1, 1.0)
    cache.put("x", summary, None)
    cache.save()
    assert cache.get("x", None) is None and not (tmp_path / pc.FILENAME).exists()


def test_a_summary_round_trips_and_keeps_what_list_needs():
    d = derivations.get("gradient")
    proof = proof_mod.prove(d)
    s = pc.ProofSummary.of(proof, proved_at=123.0)
    assert (s.ok, s.method, s.sizes, s.results) == (True, "symbolic", ("scalars",), 1)
    assert (s.claims_correct, s.claims_total) == (1, 1)
    assert pc.ProofSummary.from_json(json.loads(json.dumps(s.to_json()))) == s
    d = proof.to_dict()
    assert (d["ok"], d["method"], d["max_error"]) == (s.ok, s.method, s.max_error)
    bad = pc.ProofSummary(False, "failed", float("inf"), (), 0.0, 1, 0, 2, 1.0)
    assert pc.ProofSummary.from_json(json.loads(json.dumps(bad.to_json()))) == bad


def test_two_writers_with_the_same_key_keep_each_others_entries(tmp_path):
    s = pc.ProofSummary(True, "symbolic", 0.0, ("scalars",), 0.1, 1, 0, 0, 1.0)
    a, b = pc.ProofCache(tmp_path, key="k"), pc.ProofCache(tmp_path, key="k")
    a.put("x", s)
    a.save()
    b.put("y", s)
    b.save()
    again = pc.ProofCache(tmp_path, key="k")
    assert again.get("x") == s and again.get("y") == s
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed or removed


def test_sources_edited_while_proving_are_not_cached(tmp_path, monkeypatch):
    keys = iter(["a" * 64, "b" * 64])
    monkeypatch.setattr(pc, "source_key", lambda *a, **k: next(keys))
    cache = pc.ProofCache(tmp_path)
    cache.put("x", pc.ProofSummary(True, "symbolic", 0.0, (), 0.1, 1, 0, 0, 1.0))
    cache.save()
    assert not (tmp_path / pc.FILENAME).exists()
    assert cache.notice == "proof cache not written: the sources changed while proving"


def test_the_default_place_follows_jlab_cache_dir_then_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("JLAB_CACHE_DIR", str(tmp_path / "a"))
    assert pc.ProofCache.open().path == tmp_path / "a" / pc.FILENAME
    monkeypatch.delenv("JLAB_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert pc.cache_dir() == tmp_path / "x" / "jacobian_lab"
    for value, off in [("1", True), ("yes", True), ("0", False), ("", False)]:
        monkeypatch.setenv("JLAB_NO_CACHE", value)
        assert pc.disabled_by_env() is off


def test_the_session_never_uses_the_developers_cache():
    import os

    root = Path(os.environ["JLAB_CACHE_DIR"])
    assert root != Path.home() / ".cache" / "jacobian_lab"
    assert pc.cache_dir() == root


@pytest.mark.parametrize("bad", [float("nan"), 1e300, -1e300, "inf", float("inf")])
def test_an_invalid_proved_at_is_a_miss_and_the_entry_is_rewritten(tmp_path, bad):
    cache = pc.ProofCache(tmp_path, key="k")
    cache.put("gradient", pc.ProofSummary(True, "symbolic", 0.0, ("scalars",), 0.1, 1, 1, 1,
                                          1000.0))
    cache.save()
    path = tmp_path / pc.FILENAME
    data = json.loads(path.read_text())
    data["entries"]["gradient"]["proof"]["proved_at"] = bad
    path.write_text(json.dumps(data))
    again = pc.ProofCache(tmp_path, key="k")
    assert again.get("gradient") is None  # a miss: list proves it again
    again.put("gradient", pc.ProofSummary(True, "symbolic", 0.0, ("scalars",), 0.1, 1, 1, 1,
                                          2000.0))
    again.save()
    assert json.loads(path.read_text())["entries"]["gradient"]["proof"]["proved_at"] == 2000.0
