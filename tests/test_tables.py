"""`jlab list` and `jlab check` at 80 columns (and through a pipe, which rich renders at 80):
no header or value is shrunk to an ellipsis; the notes' claims are counted in words."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

import derivations
from jacobian_lab.core.proof import prove
from jacobian_lab.printing.render import claims_text, render_check, render_list


def _console(width: int = 80) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, highlight=False, color_system=None), buf


@pytest.fixture(scope="module")
def proven() -> list:
    rows = []
    for name in ("neuron-relu", "layer", "softmax-cross-entropy"):
        d = derivations.get(name)
        rows.append((d, prove(d)))
    return rows


def _failed(seconds: float = 123.45) -> SimpleNamespace:
    """A proof record at its widest: failed, many sizes, a long time, claims both ways."""
    claims = [SimpleNamespace(correct=True), SimpleNamespace(correct=False)]
    return SimpleNamespace(ok=False, method="failed", results=[None] * 24, claims=claims,
                           sizes=["n=1"] * 11, max_error=1.5e-3, seconds=seconds)


def test_check_table_fits_80_columns_without_ellipsis(proven):
    console, buf = _console()
    rows = [*proven, (derivations.get("softmax-cross-entropy"), _failed())]
    render_check(rows, console)
    out = buf.getvalue()
    assert "…" not in out
    assert all(len(line) <= 80 for line in out.splitlines())
    header = next(line for line in out.splitlines() if line.startswith("name"))
    for word in ("name", "results", "claims", "proof", "sizes", "max err", "time"):
        assert word in header
    assert "softmax-cross-entropy" in out and "123.5 s" in out and "✗ FAILED" in out
    assert "  1 right  " in out and "  1 wrong  " in out  # one count a line, never cut


def test_list_table_fits_80_columns_without_ellipsis(proven):
    console, buf = _console()
    rows = [(d, p) for d, p in proven] + [(derivations.get("softmax-cross-entropy"), None)]
    render_list(rows, console)
    out = buf.getvalue()
    assert "…" not in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "softmax-cross-entropy" in out and "✓ proven (symbolic)" in out
    assert "not proven" in out


def test_claims_are_counted_in_words():
    right, wrong = SimpleNamespace(correct=True), SimpleNamespace(correct=False)
    assert claims_text([right, right]) == "2 right"
    assert claims_text([wrong] * 7) == "7 wrong"
    assert claims_text([right, wrong, wrong]) == "1 right 2 wrong"
    assert claims_text([]) == "—"


def test_errata_summary_counts_its_claims():
    d = derivations.get("errata")
    assert d.summary.startswith(f"{len(d.claims)} wrong claims of the notes, each refuted")
    assert len(d.claims) == 7
