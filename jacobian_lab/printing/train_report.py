"""``jlab train --report FILE.pdf|.md``: a training run as a report.

The run's configuration, accuracy and loss, the loss curve (the PNG the trainer drew), the
gradient-check statistics, and the derivation the kernels came from (``mnist-network``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import derivations
from jacobian_lab.core.proof import prove
from jacobian_lab.files import atomic_write_bytes, atomic_write_text
from jacobian_lab.printing.render import _tex_escape, latex_section, markdown
from jacobian_lab.printing.report import _proof_table, _unicode_preamble, check_output, compile_pdf

SOURCE_DERIVATION = "mnist-network"


def _rows(summary: Any) -> list[tuple[str, str]]:
    c = summary.config
    ch = summary.checks
    batch = summary.batch_size if summary.batch_size is not None else c.batch_size
    best = ([] if summary.best_epoch is None else [
        ("best epoch", f"{summary.best_epoch}: test accuracy "
                       f"{summary.best_test_accuracy:.4f} ("
                       + ("its weights: best.npz" if "best.npz" in summary.files
                          else "its weights were not kept") + ")")])
    skipped = (f", {ch['skipped']} skipped over their {c.budget:g} s budget"
               if ch.get("skipped") else "")
    return [
        ("data", summary.dataset),
        ("network", "-".join(map(str, c.layers)) + f", {c.activation} hidden, {c.loss}"),
        ("optimiser", f"{c.optimizer}, lr {c.lr}, batch {batch}, seed {c.seed}"),
        ("dtype", str(c.dtype)),
        ("trained", f"{summary.epochs} epochs, {summary.steps} steps"),
        ("train", f"loss {summary.train_loss:.4f}, accuracy {summary.train_accuracy:.4f}"),
        ("test", f"loss {summary.test_loss:.4f}, accuracy {summary.test_accuracy:.4f}"),
        *best,
        ("gradient checks", f"{ch['count']} checks, {ch['failed']} failed{skipped}"),
        ("max error vs finite differences",
         f"{ch['max_fd_direction']:.1e} (directions), {ch['max_fd_coordinate']:.1e} (coordinates)"),
        ("max error vs closed forms", f"{ch['max_closed_form']:.1e}"),
        ("time", f"{summary.seconds:.2f} s, {summary.samples_per_second:,.0f} samples/s"),
    ]


def _derivation() -> Any:
    d = derivations.get(SOURCE_DERIVATION)
    prove(d)
    return d


def write_train_report(summary: Any, path: str | Path) -> Path:
    """Write the report of a finished run; the format follows the suffix (.pdf, .tex, .md)."""
    out = check_output(path, "--report")
    suffix = out.suffix.lower()
    curve = Path(summary.run_dir) / "loss.png"
    has_curve = curve.is_file()
    d = _derivation()
    if suffix == ".md":
        lines = ["# Training run", "", "| setting | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in _rows(summary)]
        if has_curve:
            image = out.with_name(f"{out.stem}-loss.png")
            atomic_write_bytes(image, curve.read_bytes())
            lines += ["", f"![loss and test loss per epoch]({image.name})"]
        lines += ["", "## The derivation the kernels came from", "", markdown(d)]
        atomic_write_text(out, "\n".join(lines) + "\n")
        return out
    table = "\n".join(f"{_tex_escape(k)} & {_tex_escape(v)} \\\\" for k, v in _rows(summary))
    figure = (
        "\\begin{center}\\includegraphics[width=0.7\\textwidth]{loss.png}\\end{center}"
        if has_curve else "(no loss curve: matplotlib is not installed)"
    )
    body = "\n".join([
        "\\section*{Training run}",
        "\\begin{tabular}{lp{0.6\\textwidth}}", "\\hline", table, "\\hline", "\\end{tabular}", "",
        figure, "", latex_section(d), _proof_table(d),
    ])
    tex = "\n".join([
        "\\documentclass[11pt]{article}", "\\usepackage{amsmath,amssymb,graphicx}",
        "\\setlength{\\textwidth}{6.5in}\\setlength{\\oddsidemargin}{0in}",
        "\\allowdisplaybreaks", _unicode_preamble(body),
        "\\begin{document}", body, "\\end{document}", "",
    ])
    if suffix == ".tex":
        atomic_write_text(out, tex)
        if has_curve:
            atomic_write_bytes(out.with_name("loss.png"), curve.read_bytes())
        return out
    compile_pdf(tex, out, assets={"loss.png": curve} if has_curve else None)
    return out
