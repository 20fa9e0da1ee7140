"""Reports: LaTeX in the notes' notation, Markdown, and a PDF that compiles."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata

import pytest

import derivations
from jacobian_lab.core.proof import prove
from jacobian_lab.errors import JlabError
from jacobian_lab.printing.render import latex_section, markdown
from jacobian_lab.printing.report import ReportError, compile_pdf, latex_document, write_report

needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex missing: apt-get install texlive-latex-base (.ci/run installs it)",
)


@pytest.fixture(scope="module")
def neuron_relu():
    d = derivations.get("neuron-relu")
    prove(d)
    return d


def test_latex_of_dH_dw_is_diag_x_in_the_notes_notation(neuron_relu):
    tex = latex_section(neuron_relu)
    assert (
        r"\frac{\partial \mathbf{H}}{\partial \mathbf{w}} &= "
        r"\operatorname{diag}\left(\mathbf{x}\right)"
    ) in tex


def test_latex_of_the_neuron_relu_result_is_boxed_step_z_x_transpose(neuron_relu):
    tex = latex_section(neuron_relu)
    assert (
        r"\boxed{\frac{\partial a}{\partial \mathbf{w}} = "
        r"\operatorname{step}\left(z\right) \mathbf{x}^{\top}}"
    ) in tex


def test_markdown_has_the_same_steps_in_dollar_math(neuron_relu):
    md = markdown(neuron_relu)
    assert r"$$\frac{\partial \mathbf{H}}{\partial \mathbf{w}} = " in md
    assert "| n=1, n=2, n=3, n=5 | symbolic |" in md


def test_document_declares_every_unicode_character_it_uses(neuron_relu):
    doc = latex_document([neuron_relu])
    body = doc.split(r"\begin{document}")[1]
    for ch in {c for c in body if ord(c) > 127}:
        assert f"{{{ord(ch):04X}}}" in doc


def test_unknown_report_suffix_names_the_allowed_ones(neuron_relu, tmp_path):
    with pytest.raises(ReportError, match=r"\.tex, \.pdf, \.md"):
        write_report([neuron_relu], tmp_path / "x.docx")


def test_missing_pdflatex_is_a_clear_error_naming_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(JlabError, match="texlive-latex-base"):
        compile_pdf("\\documentclass{article}\\begin{document}x\\end{document}", tmp_path / "a.pdf")


@needs_pdflatex
def test_latex_error_surfaces_the_log(tmp_path):
    with pytest.raises(ReportError, match="Undefined control sequence"):
        compile_pdf(
            "\\documentclass{article}\\begin{document}\\nosuchmacro\\end{document}",
            tmp_path / "bad.pdf",
        )
    assert not (tmp_path / "bad.pdf").exists()


@needs_pdflatex
def test_every_catalog_entry_compiles_to_pdf_with_its_title(tmp_path):
    derivs = []
    for name in derivations.names():
        d = derivations.get(name)
        prove(d)
        derivs.append(d)
    out = write_report(derivs, tmp_path / "catalog.pdf")
    assert out.stat().st_size > 1000
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", str(out), "-"], capture_output=True, text=True, check=True
        ).stdout
        # NFKC folds the ligatures pdftotext reports ("ﬀ" in "affine") back to letters.
        flat = " ".join(unicodedata.normalize("NFKC", text).split())
        for d in derivs:
            assert " ".join(d.title.split()) in flat, d.title


def test_jupyter_renders_derivations_and_verdicts(neuron_relu):
    md = neuron_relu._repr_markdown_()
    assert md.startswith("## The gradient of a ReLU neuron")
    tex = neuron_relu._repr_latex_()
    assert tex.startswith("$$\\begin{gathered}")
    assert r"\operatorname{step}\left(z\right) \mathbf{x}^{\top}" in tex
    from jacobian_lab import verify

    assert "**incorrect**" in verify("x^2", "x", "[[3*x]]")._repr_markdown_()


def test_train_report_has_config_accuracy_checks_and_the_source_derivation(tmp_path, capsys):
    from jacobian_lab.cli import main

    report = tmp_path / "run.md"
    code = main(["train", "--epochs", "1", "--limit", "400", "--quiet", "--check-every", "0",
                 "--run-dir", str(tmp_path / "run"), "--report", str(report)])
    capsys.readouterr()
    assert code == 0
    text = report.read_text()
    assert "| test | loss " in text and "| gradient checks |" in text
    assert "The MNIST network of the notes" in text
    if (tmp_path / "run" / "loss.png").exists():
        assert "![loss" in text and (tmp_path / "run-loss.png").exists()


@needs_pdflatex
def test_train_report_compiles_to_pdf(tmp_path, capsys):
    from jacobian_lab.cli import main

    report = tmp_path / "run.pdf"
    code = main(["train", "--epochs", "1", "--limit", "400", "--quiet", "--check-every", "0",
                 "--run-dir", str(tmp_path / "run"), "--report", str(report)])
    capsys.readouterr()
    assert code == 0 and report.stat().st_size > 1000
