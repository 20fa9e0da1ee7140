"""Reports: the catalog as a LaTeX document, a compiled PDF (pdflatex) or Markdown.

The LaTeX preamble uses only what Debian's ``texlive-latex-base`` ships (amsmath, amssymb,
graphicx); the catalog's text is pure ASCII (formulas set as math by
:mod:`jacobian_lab.language.prose`); any other Unicode (a training report's values) is
declared to LaTeX in the preamble.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from jacobian_lab.core.derivation import CONVENTIONS, Derivation
from jacobian_lab.errors import JlabError
from jacobian_lab.files import atomic_write_bytes, atomic_write_text, check_output_path
from jacobian_lab.language.prose import tex
from jacobian_lab.printing.render import _tex_escape, latex_section, markdown

FORMATS = (".tex", ".pdf", ".md")

# Unicode that appears in rule texts and summaries, as LaTeX.
UNICODE_LATEX: dict[str, str] = {
    "∂": r"\ensuremath{\partial}",
    "⊙": r"\ensuremath{\odot}",
    "𝟏": r"\ensuremath{\mathbf{1}}",
    "𝟎": r"\ensuremath{\mathbf{0}}",
    "ᵀ": r"\ensuremath{^{\top}}",
    "σ": r"\ensuremath{\sigma}",
    "′": r"\ensuremath{'}",
    "∘": r"\ensuremath{\circ}",
    "≤": r"\ensuremath{\le}",
    "≥": r"\ensuremath{\ge}",
    "×": r"\ensuremath{\times}",
    "−": r"\ensuremath{-}",
    "‖": r"\ensuremath{\|}",
    "Σ": r"\ensuremath{\Sigma}",
    "ᵢ": r"\ensuremath{_i}",
    "ⱼ": r"\ensuremath{_j}",
    "δ": r"\ensuremath{\delta}",
    "∇": r"\ensuremath{\nabla}",
    "α": r"\ensuremath{\alpha}",
    "θ": r"\ensuremath{\theta}",
    "⊘": r"\ensuremath{\oslash}",
    "→": r"\ensuremath{\to}",
    "←": r"\ensuremath{\leftarrow}",
    "✓": "ok",
    "✗": "x",
    "·": r"\ensuremath{\cdot}",
    "—": "---",
    "–": "--",
    "ˡ": r"\ensuremath{^{l}}",
    "ᴸ": r"\ensuremath{^{L}}",
    "⁺": r"\ensuremath{^{+}}",
    "¹": r"\ensuremath{^{1}}",
    "²": r"\ensuremath{^{2}}",
    "³": r"\ensuremath{^{3}}",
    "ʸ": r"\ensuremath{^{y}}",
    "ˣ": r"\ensuremath{^{x}}",
    "₁": r"\ensuremath{_1}",
    "₂": r"\ensuremath{_2}",
    "ₖ": r"\ensuremath{_k}",
    "∈": r"\ensuremath{\in}",
    "ℝ": r"\ensuremath{\mathbb{R}}",
    "≠": r"\ensuremath{\ne}",
    "≈": r"\ensuremath{\approx}",
    "∑": r"\ensuremath{\sum}",
    "λ": r"\ensuremath{\lambda}",
    "η": r"\ensuremath{\eta}",
    "ε": r"\ensuremath{\varepsilon}",
    "…": r"\ldots{}",
    "“": "``",
    "”": "''",
    "’": "'",
    "‘": "`",
    "⁻": r"\ensuremath{^{-}}",
    "ⁿ": r"\ensuremath{^{n}}", "Δ": r"\ensuremath{\Delta}", "⁰": r"\ensuremath{^{0}}",
    "ₐ": r"\ensuremath{_a}", "ₘ": r"\ensuremath{_m}", "±": r"\ensuremath{\pm}",
    "ᶻ": r"\ensuremath{^{z}}", "₃": r"\ensuremath{_3}", "○": r"\ensuremath{\circ}",
    "₀": r"\ensuremath{_0}",
    "⋅": r"\ensuremath{\cdot}",
    "∞": r"\ensuremath{\infty}",
    "½": r"\ensuremath{\tfrac{1}{2}}",
}


class ReportError(JlabError):
    """A report that could not be written (unknown format, LaTeX failure, no pdflatex)."""


def _unicode_preamble(body: str) -> str:
    lines = []
    for ch in sorted({c for c in body if ord(c) > 127}):
        tex = UNICODE_LATEX.get(ch, "?")
        lines.append(f"\\DeclareUnicodeCharacter{{{ord(ch):04X}}}{{{tex}}}")
    return "\n".join(lines)


def latex_document(derivs: Sequence[Derivation], title: str = "jacobian_lab") -> str:
    """A complete LaTeX document: conventions, then one section per derivation."""
    body = ["\\section*{Conventions}", "\\begin{itemize}"]
    body += [f"\\item {tex(c)}" for c in CONVENTIONS]
    body += ["\\end{itemize}", ""]
    for d in derivs:
        body.append(latex_section(d))
        body.append(_proof_table(d))
    text = "\n".join(body)
    return "\n".join(
        [
            "\\documentclass[11pt]{article}",
            "\\usepackage{amsmath,amssymb,graphicx}",
            "\\setlength{\\textwidth}{6.5in}\\setlength{\\oddsidemargin}{0in}",
            "\\setlength{\\textheight}{9in}\\setlength{\\topmargin}{-0.5in}",
            "\\allowdisplaybreaks",
            _unicode_preamble(text),
            f"\\title{{{tex(title)}: the matrix calculus of neural networks}}",
            "\\date{}",
            "\\begin{document}",
            "\\maketitle",
            text,
            "\\end{document}",
            "",
        ]
    )


def _proof_table(d: Derivation) -> str:
    p = d.proof
    if p is None:
        return ""
    # The sizes wrap in a column of fixed width (backprop is proven at 11 of them).
    rows = [
        "\\paragraph{Proof record.}\\mbox{}\\par\\noindent",  # the table below its heading
        "\\begin{tabular}{@{}p{0.38\\textwidth}lll@{}}",
        "\\hline sizes & method & max.\\ numeric error & status \\\\ \\hline",
        f"\\raggedright {_tex_escape(', '.join(p.sizes))} & {p.method} & {p.max_error:.1e} & "
        f"{'proven' if p.ok else 'FAILED'} \\\\ \\hline",
        "\\end{tabular}",
    ]
    if p.claims:
        rows.append("\\paragraph{The notes' claims.}")
        rows.append("\\begin{itemize}")
        for v in p.claims:
            verdict = (
                "correct"
                if v.correct
                else "\\textbf{wrong}: " + tex(v.check.diagnosis or v.check.summary())
            )
            expl = f" {tex(v.claim.explanation)}" if v.claim.explanation and not v.correct else ""
            rows.append(f"\\item {tex(v.claim.text)} --- {verdict}.{expl}")
        rows.append("\\end{itemize}")
    return "\n".join(rows) + "\n"


def markdown_document(derivs: Sequence[Derivation]) -> str:
    head = ["# jacobian_lab: the matrix calculus of neural networks", "", "Conventions:", ""]
    head += [f"- {c}" for c in CONVENTIONS]
    return "\n".join(head) + "\n\n" + "\n".join(markdown(d) for d in derivs)


def overfull_boxes(log: str) -> list[float]:
    """The excess widths (pt) of the overfull boxes a LaTeX log reports, in order.

    >>> overfull_boxes("Overfull \\\\hbox (996.1pt too wide) in paragraph at lines 3--4")
    [996.1]
    """
    return [float(m) for m in re.findall(r"^Overfull \\[hv]box \(([0-9.]+)pt too", log, re.M)]


def compile_pdf(
    tex: str, out: Path, runs: int = 2, assets: dict[str, Path] | None = None,
    keep_log: Path | None = None,
) -> float:
    """Compile with pdflatex in a temporary directory; returns seconds taken. ``keep_log``
    receives the last run's log (to read its overfull boxes)."""
    exe = shutil.which("pdflatex")
    if exe is None:
        raise ReportError(
            "pdflatex not found: install Debian's texlive-latex-base "
            "(apt-get install texlive-latex-base), or write a .tex file instead"
        )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jlab-report-") as tmp:
        src = Path(tmp) / "report.tex"
        src.write_text(tex, encoding="utf-8")
        for name, asset in (assets or {}).items():
            shutil.copyfile(asset, Path(tmp) / name)
        for _ in range(runs):
            proc = subprocess.run(
                [exe, "-halt-on-error", "-interaction=nonstopmode", "report.tex"],
                cwd=tmp,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=300,
            )
            if proc.returncode != 0:
                log = Path(tmp) / "report.log"
                text = log.read_text(errors="replace") if log.exists() else proc.stdout
                errors = [ln for ln in text.splitlines() if ln.startswith("!")]
                tail = "\n".join(text.splitlines()[-25:])
                first = errors[0] if errors else "see the log"
                raise ReportError(f"pdflatex failed: {first}\n--- log tail ---\n{tail}")
        atomic_write_bytes(out, (Path(tmp) / "report.pdf").read_bytes())
        if keep_log is not None:
            shutil.copyfile(Path(tmp) / "report.log", keep_log)
    return time.perf_counter() - t0


def check_output(path: str | Path, option: str = "-o") -> Path:
    """Refuse, before any work, a report path of an unknown format or one that cannot be
    written (a missing or read-only directory, a directory, a device)."""
    if not str(path).strip():
        raise ReportError(f"{option} needs a file name like report.pdf, got an empty string")
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise ReportError(
            f"{option} {out}: unknown report format `{out.suffix or out.name}`; use one of: "
            f"{', '.join(FORMATS)}"
        )
    return check_output_path(out, option)


def write_report(derivs: Sequence[Derivation], path: str | Path) -> Path:
    """Write ``path`` atomically; the format follows the suffix (.tex, .pdf, .md)."""
    out = check_output(path)
    suffix = out.suffix.lower()
    if suffix == ".md":
        atomic_write_text(out, markdown_document(derivs))
    elif suffix == ".tex":
        atomic_write_text(out, latex_document(derivs))
    else:
        compile_pdf(latex_document(derivs), out)
    return out
