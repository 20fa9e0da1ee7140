"""``jlab jacobian | gradient | chain | verify | demo``: the component layer on the command line."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from typing import Any

import sympy as sp
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .checker import Check, compare, verify
from .component import chain, check_defined, check_layout, evaluate, jacobian, kink_notes
from .errors import DomainError, UnknownNameError, did_you_mean
from .latex import latex
from .parser import parse_assignments, parse_exprs, parse_matrix, parse_point, parse_symbols
from .pretty import pretty

LAYOUT_NOTE = {
    "numerator": "numerator layout: row i = output i, column j = variable j",
    "denominator": "denominator layout: row j = variable j, column i = output i",
}


def _console() -> Console:
    return Console(highlight=False)


def _rows(m: sp.Matrix) -> list[list[str]]:
    return [[sp.sstr(m[i, j]) for j in range(m.cols)] for i in range(m.rows)]


def _check_variables(exprs: Sequence[sp.Expr], wrt: Sequence[sp.Symbol]) -> None:
    """A --wrt variable that appears in no expression is almost always a typo: say so."""
    free = {str(s) for e in exprs for s in e.free_symbols}
    for v in wrt:
        if str(v) not in free:
            raise UnknownNameError(
                f"Unknown variable `{v}` in --wrt: the expressions use "
                f"{', '.join(sorted(free)) or 'no variables'}{did_you_mean(str(v), free)}"
            )


def _inputs(args: argparse.Namespace) -> tuple[list[sp.Expr], list[sp.Symbol]]:
    exprs = parse_exprs(args.exprs if hasattr(args, "exprs") else [args.expr])
    if not args.wrt:  # every variable, naturally sorted (x2 before x10)
        free = {s for e in exprs for s in e.free_symbols}
        wrt = sorted(free, key=lambda v: [int(t) if t.isdigit() else t
                                          for t in re.split(r"(\d+)", str(v))])
        if not wrt:
            raise UnknownNameError("The expressions have no variable to differentiate with "
                                   "respect to")
        return exprs, wrt
    wrt = parse_symbols(args.wrt)
    _check_variables(exprs, wrt)
    return exprs, wrt


# ``x=nan``, ``y = -inf``, ``z=oo``: the parser would read them as (unknown) variable names.
_NOT_FINITE = re.compile(
    r"(?:^|,)\s*(?P<name>\w+)\s*=\s*(?P<value>[+-]?\s*(?:nan|inf|infinity|oo|zoo))\s*(?=,|$)",
    re.IGNORECASE)


def _point(at: str) -> dict[sp.Symbol, sp.Expr]:
    bad = _NOT_FINITE.search(at)
    if bad:
        value = bad["value"].replace(" ", "")
        raise DomainError(f"--at {bad['name']}={value} is not a finite number: a derivative is "
                          "evaluated at a finite point (for its behaviour at ±∞, try a large "
                          f"value such as {bad['name']}=1e6)")
    return parse_point(at)


def _value_at(exprs: Sequence[sp.Expr], m: sp.Matrix, at: str | None) -> sp.Matrix | None:
    """``m`` at the point ``at``; :class:`DomainError` where f or its derivative is undefined."""
    if not at:
        return None
    point = _point(at)
    check_defined(exprs, point)
    return evaluate(m, point)


def _matrix_panel(title: str, m: sp.Matrix, subtitle: str = "") -> Panel:
    return Panel(Text(pretty(m)), title=title, subtitle=subtitle, expand=False)


def _print_check(console: Console, check: Check, what: str) -> None:
    style = {"correct": "green", "incorrect": "red", "undecided": "yellow"}[check.verdict]
    console.print(Text.assemble(("check: ", "bold"), (f"{what} — ", ""), (check.summary(), style)))


def cmd_jacobian(args: argparse.Namespace, gradient: bool = False) -> int:
    exprs, wrt = _inputs(args)
    layout = check_layout(args.layout)
    raw = jacobian(exprs, wrt, simplify=False)  # numerator layout, ReLU'(0) = 0
    jac = jacobian(exprs, wrt, layout=layout)
    # The simplified form is what we show, so check it against the raw derivative.
    check = compare(raw.T if layout == "denominator" else raw, jac, extra_exprs=exprs)
    value = _value_at(exprs, jac, args.at)
    notes = kink_notes(raw, _point(args.at)) if value is not None else []
    kind = "gradient" if gradient else "Jacobian"
    if args.format == "json":
        out: dict[str, Any] = {
            "exprs": [sp.sstr(e) for e in exprs],
            "wrt": [str(v) for v in wrt],
            "layout": layout,
            "shape": list(jac.shape),
            "jacobian": _rows(jac),
            "latex": latex(jac),
            "check": check.to_dict(),
        }
        if value is not None:
            out["at"] = {str(k): sp.sstr(v) for k, v in _point(args.at).items()}
            out["value"] = _rows(value)
            out["notes"] = notes
        print(json.dumps(out, indent=2))
        return 0
    if args.format == "latex":
        print(latex(jac) if value is None else f"{latex(jac)} = {latex(value)}")
        return 0
    console = _console()
    console.print(Text.assemble(("f", "bold"), f"({', '.join(map(str, wrt))}) = "))
    console.print(Text(pretty(sp.Matrix(exprs))))
    title = f"{kind} ∂f/∂({', '.join(map(str, wrt))})  [{jac.rows}×{jac.cols}]"
    console.print(_matrix_panel(title, jac))
    console.print(Text(LAYOUT_NOTE[layout], "dim"))
    if value is not None:
        console.print(_matrix_panel(f"at {args.at}", value))
        for note in notes:
            console.print(Text.assemble(("note: ", "bold yellow"), note))
    _print_check(console, check, "simplified result vs. the raw derivative")
    return 0


def cmd_gradient(args: argparse.Namespace) -> int:
    return cmd_jacobian(args, gradient=True)


def cmd_chain(args: argparse.Namespace) -> int:
    outer = parse_exprs(args.outer)
    inner = parse_assignments(args.inner)
    wrt = parse_symbols(args.wrt)
    g_names = {str(s) for s, _ in inner}
    stray = sorted({str(s) for e in outer for s in e.free_symbols} - g_names)
    if stray:
        raise UnknownNameError(
            f"--outer uses {', '.join(stray)}, which --inner does not define "
            f"(it defines {', '.join(sorted(g_names))})"
        )
    _check_variables([e for _, e in inner], wrt)
    r = chain(outer, inner, wrt)
    status = "equal" if r.agrees else "DIFFERENT"
    if args.format == "json":
        print(
            json.dumps(
                {
                    "outer": [sp.sstr(e) for e in r.outer],
                    "inner": {str(s): sp.sstr(e) for s, e in zip(r.g, r.inner, strict=True)},
                    "wrt": [str(v) for v in wrt],
                    "layout": "numerator",
                    "df_dg": _rows(r.df_dg),
                    "dg_dx": _rows(r.dg_dx),
                    "product": _rows(r.product),
                    "direct": _rows(r.direct),
                    "agrees": r.agrees,
                    "latex": latex(r.product),
                },
                indent=2,
            )
        )
        return 0 if r.agrees else 1
    g = ", ".join(map(str, r.g))
    x = ", ".join(map(str, r.x))
    if args.format == "latex":
        print("\\begin{aligned}")
        print(f"\\frac{{\\partial f}}{{\\partial g}} &= {latex(r.df_dg)} \\\\")
        print(f"\\frac{{\\partial g}}{{\\partial x}} &= {latex(r.dg_dx)} \\\\")
        print(f"\\frac{{\\partial f}}{{\\partial x}} &= {latex(r.product)}")
        print("\\end{aligned}")
        return 0 if r.agrees else 1
    console = _console()
    console.print(Text("The vector chain rule: ∂f/∂x = ∂f/∂g · ∂g/∂x  (numerator layout)", "bold"))
    console.print(
        Group(
            _matrix_panel(f"1. ∂f/∂g   (f in terms of g = ({g}))", r.df_dg),
            _matrix_panel(f"2. ∂g/∂x   (g in terms of x = ({x}))", r.dg_dx),
            _matrix_panel("3. ∂f/∂x = ∂f/∂g · ∂g/∂x, with g substituted", r.product),
        )
    )
    style = "green" if r.agrees else "red"
    console.print(
        Text.assemble(
            ("check: ", "bold"),
            "product vs. differentiating f(g(x)) directly — ",
            (status, style),
        )
    )
    return 0 if r.agrees else 1


def cmd_verify(args: argparse.Namespace) -> int:
    exprs, wrt = _inputs(args)
    layout = check_layout(args.layout)
    claim = parse_matrix(args.claim)
    check = verify(exprs, wrt, claim, layout=layout, seed=args.seed)
    code = 0 if check.ok else 1
    if args.format == "json":
        out = {
            "exprs": [sp.sstr(e) for e in exprs],
            "wrt": [str(v) for v in wrt],
            "layout": layout,
            "shape": list(check.expected.shape),
            "jacobian": _rows(check.expected),
            "claim": _rows(check.claim),
            "latex": latex(check.expected),
            **check.to_dict(),
        }
        print(json.dumps(out, indent=2))
        return code
    if args.format == "latex":
        print(latex(check.expected))
        return code
    console = _console()
    show_verify(console, check)
    return code


def show_verify(console: Console, check: Check) -> None:
    """Print a verdict: both matrices side by side, the differing entries, the point."""
    grid = Table.grid(padding=(0, 2))
    grid.add_row(
        _matrix_panel("claimed", check.claim),
        _matrix_panel("correct (numerator layout)", check.expected),
    )
    console.print(grid)
    style = {"correct": "bold green", "incorrect": "bold red", "undecided": "bold yellow"}
    console.print(
        Text.assemble(
            ("verdict: ", "bold"),
            (check.verdict.upper(), style[check.verdict]),
            f"  (method: {check.method})",
        )
    )
    if check.diagnosis:
        console.print(Text.assemble(("diagnosis: ", "bold"), check.diagnosis))
    if check.mismatches:
        t = Table(title="entries that differ", title_justify="left")
        for col in ("entry", "claimed", "correct", "claimed value", "correct value"):
            t.add_column(col)
        for m in check.mismatches:
            t.add_row(
                f"({m.row},{m.col})",
                sp.sstr(m.claimed),
                sp.sstr(m.expected),
                f"{m.claimed_value:.10g}" if m.claimed_value is not None else "—",
                f"{m.expected_value:.10g}" if m.expected_value is not None else "—",
            )
        console.print(t)
    if check.counterexample:
        at = ", ".join(f"{k} = {v:.6g}" for k, v in check.counterexample.items())
        console.print(Text.assemble(("counterexample: ", "bold"), at))
    if check.verdict == "correct":
        console.print(Text(check.summary(), "green"))


def cmd_demo(args: argparse.Namespace) -> int:
    console = _console()
    console.rule("[bold]jacobian_lab demo 1/2: the vector chain rule from the notes")
    console.print("f(x, y) = (sin(x² + y), ln(y³)) through g = (x² + y, y³):\n")
    ns = argparse.Namespace(
        outer="sin(g1), log(g2)", inner="g1 = x^2 + y, g2 = y^3", wrt=["x", "y"], format="rich"
    )
    code = cmd_chain(ns)
    console.print()
    console.rule("[bold]demo 2/2: a hand-derived Jacobian with a mistake")
    console.print("Claim: the Jacobian of (2x + y³, eʸ − 13x) is [[2, −13], [3y², eʸ]]\n")
    ns = argparse.Namespace(
        exprs=["2*x + y^3", "exp(y) - 13*x"],
        wrt=["x", "y"],
        claim="[[2, -13], [3*y^2, exp(y)]]",
        layout="numerator",
        format="rich",
        seed=0,
        at=None,
    )
    caught = cmd_verify(ns) == 1
    console.print()
    console.print("Try it yourself: [bold]jlab --help[/]")
    return 0 if code == 0 and caught else 1
