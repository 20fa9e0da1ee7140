"""Printers for derivations: rich terminal, Markdown, LaTeX section, JSON.

Each printer walks the same :class:`~jacobian_lab.core.derivation.Derivation` data; math
goes through :mod:`jacobian_lab.language.notation` (terminal) or
:mod:`jacobian_lab.language.latex` (LaTeX and Markdown), never through hand-assembled
strings of SymPy output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import sympy as sp
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from jacobian_lab.core.derivation import NOTEBOOK_DISPLAY, Derivation, Proof
from jacobian_lab.language.latex import latex
from jacobian_lab.language.notation import notation
from jacobian_lab.language.prose import ascii_math as tex_math
from jacobian_lab.language.prose import tex

# --------------------------------------------------------------------------- terminal



def layout_of(d: Derivation) -> str:
    """"denominator" when the results are transposed (``jlab diff --layout denominator``)."""
    return "denominator" if any(r.kind == "denominator" for r in d.results) else "numerator"

def _eq(lhs: Any, rhs: Any) -> Text:
    # Text, not a markup string: "[6, 4]ᵀ" must not be read as rich markup.
    return Text(f"{notation(lhs)} = {notation(rhs)}")


class ProofStatus(Protocol):
    """What the catalog list shows of a proof: a :class:`Proof`, or the proof cache's
    summary of one (:class:`jacobian_lab.core.proof_cache.ProofSummary`)."""

    @property
    def ok(self) -> bool: ...

    @property
    def method(self) -> str: ...


def _verdict_text(proof: ProofStatus | None) -> Text:
    if proof is None:
        return Text("not proven", "yellow")
    if proof.ok:
        return Text(f"✓ proven ({proof.method})", "green")
    return Text("✗ FAILED", "bold red")


def emphasised(s: str, style: str = "") -> Text:
    """``s`` as rich Text, its Markdown ``*word*`` in italics without the asterisks."""
    out = Text(style=style)
    for part in re.split(r"(\*[^*\s][^*]*\*)", s):
        if len(part) > 2 and part.startswith("*") and part.endswith("*"):
            out.append(part[1:-1], "italic")
        else:
            out.append(part)
    return out


def render_rich(d: Derivation, console: Console, steps: bool = True) -> None:
    """Print a derivation step by step in the terminal."""
    head = Text.assemble((d.title, "bold"), "  ", (f"[{d.name}]", "dim"))
    console.print(Panel(Text.assemble(head, "\n", d.summary), expand=False))
    if d.givens:
        t = Table(title="Given", title_justify="left", show_edge=False, box=None)
        t.add_column("symbol", style="bold cyan")
        t.add_column("shape")
        t.add_column("meaning")
        for g in d.givens:
            t.add_row(Text(notation(g.symbol)), Text(g.shape), Text(g.meaning))
        console.print(t)
    if d.definitions:
        console.print(Text("Definitions", "bold"))
        for s in d.definitions:
            console.print(Text("  ") + _eq(s.lhs, s.rhs))
    if steps and d.steps:
        t = Table(title="Steps", title_justify="left", show_lines=False, expand=False)
        t.add_column("#", justify="right", style="dim")
        t.add_column("step", style="bold")
        t.add_column("rule / why")
        for i, s in enumerate(d.steps, 1):
            why = Text(s.rule, "cyan")
            if s.why:
                why.append(f"\n{s.why}", "dim")
            t.add_row(str(i), _eq(s.lhs, s.rhs), why)
        console.print(t)
    res = Table(title=f"Result ({layout_of(d)} layout)", title_justify="left", box=None,
                show_edge=False)
    res.add_column("result", style="bold green")
    res.add_column("proof")
    proofs = d.proof.results if d.proof else ()
    for i, r in enumerate(d.results):
        status: Text = Text("")
        if i < len(proofs):
            p = proofs[i]
            status = (
                Text(f"✓ {p.method}, sizes {', '.join(s for s, _ in p.checks)}", "green")
                if p.ok
                else Text("✗ " + _first_failure(p), "bold red")
            )
        res.add_row(_eq(r.lhs, r.expr), status)
    console.print(res)
    if d.proof and d.proof.claims:
        t = Table(title="The notes' claims, judged", title_justify="left")
        t.add_column("claim")
        t.add_column("verdict")
        for v in d.proof.claims:
            if v.correct:
                t.add_row(Text(v.claim.text), Text(f"correct ({v.check.method})", "green"))
            else:
                reason = v.check.diagnosis or v.check.summary()
                extra = f"\n{v.claim.explanation}" if v.claim.explanation else ""
                t.add_row(Text(v.claim.text), emphasised(f"WRONG — {reason}{extra}", "red"))
        console.print(t)
    for note in d.notes:
        console.print(Text.assemble(("note: ", "bold"), note))
    if d.proof:
        console.print(
            Text.assemble(
                ("proof: ", "bold"),
                _verdict_text(d.proof),
                f" at {', '.join(d.proof.sizes)}; max numeric error {d.proof.max_error:.1e}; "
                f"{d.proof.seconds:.2f} s",
            )
        )


def _first_failure(p: Any) -> str:
    for size, c in p.checks:
        if not c.ok:
            return f"at {size}: {c.summary()}"
    return "failed"


def render_list(rows: Sequence[tuple[Derivation, ProofStatus | None]], console: Console) -> None:
    """The catalog: name, title and summary, proof status. Designed for 80 columns: the name
    and the status never wrap nor shrink; the summary takes the rest and wraps."""
    t = Table(title="jacobian_lab catalog", title_justify="left")
    t.add_column("name", style="bold cyan", no_wrap=True, min_width=max(
        (len(d.name) for d, _ in rows), default=4))
    t.add_column("title and summary", ratio=1)
    t.add_column("check", no_wrap=True, min_width=19)
    for d, p in rows:
        t.add_row(
            d.name, Text.assemble((d.title, "bold"), "\n", (d.summary, "dim")), _verdict_text(p)
        )
    console.print(t)


def claims_text(verdicts: Sequence[Any], sep: str = " ") -> str:
    """The notes' claims of one derivation, counted: "2 right", "7 wrong", "1 right 1 wrong";
    "—" when it quotes none. A wrong claim is the notes' error, refuted: not a failed proof.

    >>> claims_text([])
    '—'
    """
    right = sum(1 for v in verdicts if v.correct)
    wrong = len(verdicts) - right
    parts = [f"{right} right"] if right else []
    parts += [f"{wrong} wrong"] if wrong else []
    return sep.join(parts) or "—"


def render_check(rows: list[tuple[Derivation, Proof]], console: Console) -> None:
    """One row per derivation, designed for 80 columns (and for a pipe, which rich renders at
    80): short headers, no vertical rules, no cell shrunk to an ellipsis."""
    t = Table(title="jlab check", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
              padding=(0, 1, 0, 0))
    t.add_column("name", style="bold cyan", no_wrap=True)
    t.add_column("results", justify="right", no_wrap=True)
    t.add_column("claims", min_width=7)
    t.add_column("proof", no_wrap=True)
    t.add_column("sizes", justify="right", no_wrap=True)
    t.add_column("max err", justify="right", no_wrap=True)
    t.add_column("time", justify="right", no_wrap=True)
    for d, p in rows:
        proof = Text(f"✓ {p.method}", "green") if p.ok else Text("✗ FAILED", "bold red")
        t.add_row(d.name, str(len(p.results)), claims_text(p.claims, "\n"), proof,
                  str(len(p.sizes)), f"{p.max_error:.1e}", f"{p.seconds:.1f} s")
    console.print(t)
    if any(not v.correct for _, p in rows for v in p.claims):
        console.print(Text("claims: statements quoted from the notes, judged; a wrong one is the "
                           "notes' error, refuted (see `jlab derive errata`)", "dim"))


# --------------------------------------------------------------------------- LaTeX / Markdown


def latex_section(d: Derivation, steps: bool = True) -> str:
    """A LaTeX section for one derivation, pure ASCII: it compiles in a bare ``article`` with
    amsmath, amssymb and graphicx (no Unicode declarations); the formulas of the prose set
    as math, a formula too wide for its column scaled to fit."""
    out = [
        f"\\section{{{tex(d.title)}}}",
        f"\\label{{sec:{d.name}}}",
        # ragged right: a line of inline formulas has few places to break
        f"{{\\raggedright\\emph{{{tex(d.summary)}}}\\par}}",
        "",
    ]
    if d.givens:
        out.append("\\paragraph{Given.}")
        out.append(
            ", ".join(
                f"${_math(g.symbol)}$ ({tex(g.shape)}, {tex(g.meaning)})"
                for g in d.givens
            )
            + "."
        )
    if d.definitions:
        out.append("\\paragraph{Definitions.}")
        out.append("\\begin{align*}")
        out.append(" \\\\\n".join(_tex_eq(s.lhs, s.rhs, " &= ") for s in d.definitions))
        out.append("\\end{align*}")
    if steps and d.steps:
        out.append("\\paragraph{Steps.}")
        out.append("\\begin{align*}")
        out.append(
            " \\\\\n".join(
                f"{fit(_math(s.lhs), LHS_WIDTH)} &= "
                f"{fit(_math(s.rhs), RHS_WIDTH)} && "
                # a box of fixed width: long rule texts wrap instead of running off the page
                f"\\parbox[t]{{{RULE_WIDTH}}}{{\\raggedright\\small {tex(s.rule)}}}"
                for s in d.steps
            )
        )
        out.append("\\end{align*}")
    out.append("\\paragraph{Result.}")
    for r in d.results:
        boxed = f"\\boxed{{{_tex_eq(r.lhs, r.expr, ' = ')}}}"
        out.append(f"\\[ {fit(boxed, LINE_WIDTH)} \\]")
    return "\n".join(out) + "\n"


# The columns of a step (align*): the two sides and the rule's text box, as fractions of the
# text width, so that a step never runs off the page.
LHS_WIDTH, RHS_WIDTH, RULE_WIDTH = "0.22\\textwidth", "0.36\\textwidth", "0.3\\textwidth"
LINE_WIDTH = "\\linewidth"


def fit(math_src: str, width: str) -> str:
    """``math_src`` at its natural size when it fits in ``width``, else scaled down to it
    (graphicx's ``\\resizebox``); a formula that is short in any case is left as it is."""
    visible = re.sub(r"\\(left|right|operatorname|mathbf|boldsymbol|frac)|[{}^_ ]", "",
                     math_src)
    if len(re.sub(r"\\[A-Za-z]+", "x", visible)) <= 24:
        return math_src
    return (f"\\resizebox{{\\ifdim\\width>{width} {width}\\else\\width\\fi}}{{!}}"
            f"{{$\\displaystyle {math_src}$}}")


def _math(e: Any) -> str:
    """LaTeX of ``e`` in pure ASCII (names with Unicode, such as ∇C, written as LaTeX)."""
    return tex_math(latex(e))


def _tex_eq(lhs: Any, rhs: Any, sep: str) -> str:
    return f"{_math(lhs)}{sep}{_math(rhs)}"


def markdown(d: Derivation, steps: bool = True) -> str:
    """GitHub-flavoured Markdown with ``$$`` math."""
    out = [f"## {d.title} (`{d.name}`)", "", d.summary, ""]
    if d.givens:
        out.append(
            "**Given:** "
            + ", ".join(f"${_math(g.symbol)}$ ({g.shape}, {g.meaning})" for g in d.givens)
        )
        out.append("")
    if d.definitions:
        out.append("**Definitions:**")
        out.append("")
        out.extend(f"- ${_math(s.lhs)} = {_math(s.rhs)}$" for s in d.definitions)
        out.append("")
    if steps and d.steps:
        out.append("**Steps:**")
        out.append("")
        for i, s in enumerate(d.steps, 1):
            out.append(f"{i}. $${_math(s.lhs)} = {_math(s.rhs)}$$")
            out.append(f"   *{s.rule}*" + (f" — {s.why}" if s.why else ""))
        out.append("")
    out.append(f"**Result ({layout_of(d)} layout):**")
    out.append("")
    for r in d.results:
        out.append(f"$$\\boxed{{{_math(r.lhs)} = {_math(r.expr)}}}$$")
    if d.proof:
        p = d.proof
        out += [
            "",
            "| sizes | method | max error | status |",
            "|---|---|---|---|",
            f"| {', '.join(p.sizes)} | {p.method} | {p.max_error:.1e} | "
            f"{'proven' if p.ok else 'FAILED'} |",
        ]
        if p.claims:
            out += ["", "**The notes' claims:**", ""]
            for v in p.claims:
                if v.correct:
                    out.append(f"- {v.claim.text}: correct")
                    continue
                why = f" {v.claim.explanation}" if v.claim.explanation else ""
                reason = v.check.diagnosis or v.check.summary()
                out.append(f"- {v.claim.text}: **wrong** — {reason}.{why}")
    return "\n".join(out) + "\n"


def _tex_escape(s: str) -> str:
    table = {
        "&": "\\&",
        "<": "\\textless{}",
        ">": "\\textgreater{}",
        "%": "\\%",
        "$": "\\$",
        "#": "\\#",
        "_": "\\_",
        "{": "\\{",
        "}": "\\}",
        "~": "\\textasciitilde{}",
        "^": "\\textasciicircum{}",
    }
    return "".join(table.get(ch, ch) for ch in s)


# --------------------------------------------------------------------------- JSON


def to_json(d: Derivation) -> dict[str, Any]:
    return {
        "name": d.name,
        "title": d.title,
        "summary": d.summary,
        "conventions": list(d.conventions),
        "givens": [
            {"symbol": notation(g.symbol), "shape": g.shape, "meaning": g.meaning} for g in d.givens
        ],
        "definitions": [{"lhs": notation(s.lhs), "rhs": notation(s.rhs)} for s in d.definitions],
        "steps": [
            {
                "lhs": notation(s.lhs),
                "rhs": notation(s.rhs),
                "rule": s.rule,
                "why": s.why,
                "latex": f"{_math(s.lhs)} = {_math(s.rhs)}",
            }
            for s in d.steps
        ],
        "results": [
            {
                "lhs": notation(r.lhs),
                "rhs": notation(r.expr),
                "latex": f"{_math(r.lhs)} = {_math(r.expr)}",
                "srepr": sp.srepr(r.expr),
            }
            for r in d.results
        ],
        "claims": [{"text": c.text, "expr": notation(c.expr)} for c in d.claims],
        "notes": list(d.notes),
        "proof": d.proof.to_dict() if d.proof else None,
    }




def results_latex(d: Derivation) -> str:
    """The boxed results as one LaTeX display (what a notebook shows of a derivation)."""
    body = r" \\ ".join(f"{latex(r.lhs)} = {latex(r.expr)}" for r in d.results)
    return f"$$\\begin{{gathered}}{body}\\end{{gathered}}$$"


# A Derivation displays itself in a notebook through these (the core cannot import printing).
NOTEBOOK_DISPLAY.update(markdown=markdown, latex=results_latex)
