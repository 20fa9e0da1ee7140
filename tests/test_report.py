"""Reports: LaTeX in the notes' notation, Markdown, and a PDF that compiles."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata

import pytest

import derivations
from jacobian_lab.core.proof import prove
from jacobian_lab.errors import JlabError
from jacobian_lab.printing.render import latex_section, markdown, to_json
from jacobian_lab.printing.report import (
    ReportError,
    compile_pdf,
    latex_document,
    overfull_boxes,
    write_report,
)

needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex missing: apt-get install texlive-latex-base (.ci/run installs it)",
)


@pytest.fixture(scope="module")
def catalog():
    derivs = []
    for name in derivations.names():
        d = derivations.get(name)
        prove(d)
        derivs.append(d)
    return derivs


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
def test_every_catalog_entry_compiles_to_pdf_with_its_title(catalog, tmp_path):
    derivs = catalog
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


# --------------------------------------------------------------------------- the printed page

MINIMAL = ("\\documentclass{article}\n\\usepackage{amsmath,amssymb,graphicx}\n"
           "\\begin{document}\n%s\n\\end{document}\n")


def _pdflatex(tmp_path, body: str) -> tuple[int, str]:
    (tmp_path / "doc.tex").write_text(body, encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "doc.tex"],
                          cwd=tmp_path, capture_output=True, text=True, errors="replace",
                          timeout=300)
    return proc.returncode, (tmp_path / "doc.log").read_text(errors="replace")


def test_every_catalog_fragment_is_pure_ascii():
    for name in derivations.names():
        frag = latex_section(derivations.get(name))
        assert frag.isascii(), (name, sorted({c for c in frag if ord(c) > 127}))
        assert "\\text{?}" not in frag, name  # no character left without its LaTeX


@needs_pdflatex
def test_every_catalog_fragment_compiles_in_a_minimal_article(tmp_path):
    body = "\n".join(latex_section(derivations.get(n)) for n in derivations.names())
    code, log = _pdflatex(tmp_path, MINIMAL % body)
    assert code == 0, [ln for ln in log.splitlines() if ln.startswith("!")][:5]


@needs_pdflatex
def test_a_fragment_with_raw_unicode_does_not_compile_in_a_minimal_article(tmp_path):
    # what `jlab derive NAME --format latex` printed before: ⊙ and ᵀ inside text
    code, log = _pdflatex(tmp_path, MINIMAL % "sum rule: $u$ \u2299 $v$, x\u1d40")
    assert code != 0 and "not set up for use with LaTeX" in log


@needs_pdflatex
def test_whole_catalog_report_has_no_overfull_box_over_1pt(catalog, tmp_path):
    log = tmp_path / "catalog.log"
    compile_pdf(latex_document(catalog), tmp_path / "catalog.pdf", keep_log=log)
    boxes = overfull_boxes(log.read_text(errors="replace"))
    assert all(b <= 1.0 for b in boxes), boxes


@needs_pdflatex
def test_overfull_check_sees_a_table_running_off_the_page(tmp_path):
    # the old proof record: backprop's 11 sizes in one cell of an l column
    sizes = ", ".join(["n0=3,n1=4,n2=3,n3=2"] * 11)
    body = f"\\begin{{tabular}}{{llll}}{sizes} & symbolic & 0.0e+00 & proven\\end{{tabular}}"
    log = tmp_path / "bad.log"
    compile_pdf(MINIMAL % body, tmp_path / "bad.pdf", runs=1, keep_log=log)
    assert max(overfull_boxes(log.read_text(errors="replace"))) > 100


def test_report_sets_claims_as_math_and_emphasis_as_emph(catalog):
    doc = latex_document(catalog)
    assert doc.isascii()
    assert "\\DeclareUnicodeCharacter" not in doc
    # errata's claim and explanation: formulas in $...$, the notes' *other* emphasised
    assert "\\item $\\partial(A b)/\\partial b = A^{\\top}$ (numerator layout) ---" in doc
    assert "the diagonal holds the \\emph{other} factor" in doc and "*other*" not in doc
    assert "\\tfrac{1}{2}" in doc and "\\text{?}" not in doc  # ½ is a half, not a "?"
    assert "\\section{Backpropagation: BP1--BP4}" in doc
    assert "BP1 $\\delta^{(L)} = \\nabla_{a}C \\odot \\sigma^{\\prime}(z^{(L)})$" in doc


def test_markdown_keeps_unicode_and_its_emphasis(catalog):
    md = markdown(next(d for d in catalog if d.name == "errata"))
    # Markdown renders *other* as emphasis (only LaTeX needs \emph); a wrong claim says why
    assert "the diagonal holds the *other* factor" in md
    assert "**wrong** — \n" not in md


def test_json_and_markdown_math_is_ascii_latex():
    d = derivations.get("gradient-descent")  # its steps name ∇C
    steps = to_json(d)["steps"]
    assert all(s["latex"].isascii() for s in steps)
    assert any("\\nabla C" in s["latex"] for s in steps)
    md = markdown(d)
    maths = [part for i, part in enumerate(md.split("$")) if i % 2]
    assert maths and all(m.isascii() for m in maths)
