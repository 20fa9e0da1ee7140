"""``jlab verify`` (is a claimed Jacobian right?) and ``jlab demo`` (the guided tour)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

import sympy as sp
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jacobian_lab.budget import DEFAULT_BUDGET, deadline
from jacobian_lab.cli import calculus  # calculus.MEMORY_BYTES: read at call time
from jacobian_lab.cli.batch import verify_batch
from jacobian_lab.cli.calculus import (
    at_point,
    budget,
    cmd_chain,
    for_display,
    inputs,
    make_console,
    matrix_panel,
    rows,
    value_at,
)
from jacobian_lab.core.from_text import verify_claim
from jacobian_lab.errors import (
    BudgetExceeded,
    DomainError,
    ShapeError,
    UsageError,
)
from jacobian_lab.judge.checker import Check
from jacobian_lab.judge.component import (
    check_layout,
    jacobian,
    kink_notes,
)
from jacobian_lab.judge.verify import verify
from jacobian_lab.language.latex import latex
from jacobian_lab.language.matrix_shapes import parse_shapes
from jacobian_lab.language.parser import (
    parse_matrix,
)


def cmd_verify(args: argparse.Namespace) -> int:
    if getattr(args, "batch", None):  # EXPR and --claim absent: checked by the parser
        return verify_batch(args.batch, budget(args))
    try:
        with deadline(budget(args), memory=calculus.MEMORY_BYTES):
            return _verify(args)
    except BudgetExceeded as e:
        reason = (f"memory ({e.memory / 2**20:g} MB): the judge needs more" if e.memory else
                  f"budget ({e.seconds:g} s): the judge did not finish; give it more time "
                  "with --budget SECONDS")
        return _undecided(args, reason)


def _verify(args: argparse.Namespace) -> int:
    if getattr(args, "shape", None):
        return _verify_matrix(args)
    exprs, wrt = inputs(args)
    layout = check_layout(args.layout)
    claim = parse_matrix(args.claim)
    if getattr(args, "at", None):
        return _verify_at(args, exprs, wrt, claim, layout)
    check = verify(exprs, wrt, claim, layout=layout, seed=args.seed)
    code = 0 if check.ok else 1
    if args.format == "json":
        out = {
            "exprs": [sp.sstr(e) for e in exprs],
            "wrt": [str(v) for v in wrt],
            "layout": layout,
            "shape": list(check.expected.shape),
            "jacobian": rows(check.expected),
            "claim": rows(check.claim),
            "latex": latex(check.expected),
            **check.to_dict(),
        }
        print(json.dumps(out, indent=2))
        return code
    if args.format == "latex":
        print(latex(check.expected))
        return code
    console = make_console()
    show_verify(console, check)
    return code


def _undecided(args: argparse.Namespace, reason: str) -> int:
    """``verify`` past its budget of time or memory: the verdict is undecided (exit 1), and
    says why."""
    if args.format == "json":
        print(json.dumps({"exprs": list(args.exprs), "claim": args.claim,
                          "verdict": "undecided", "method": "none", "reason": reason},
                         indent=2))
    else:
        console = make_console()
        console.print(Text.assemble(("verdict: ", "bold"), ("UNDECIDED", "bold yellow"),
                                    f"  (reason: {reason})"))
    return 1


def _same_value(a: sp.Expr, b: sp.Expr) -> bool:
    """Whether two numbers are equal: exactly, or else to 30 significant digits."""
    diff = sp.simplify(a - b)
    if diff == 0:
        return True
    av, bv = a.evalf(40), b.evalf(40)
    return bool(abs(av - bv) <= sp.Float("1e-30", 40) * max(abs(av), abs(bv), 1))


def _verify_at(args: argparse.Namespace, exprs: Sequence[sp.Expr], wrt: Sequence[sp.Symbol],
               claim: sp.Matrix, layout: str) -> int:
    """``verify --at``: the claim against the true Jacobian at that one point (exact)."""
    expected = jacobian(exprs, wrt, layout=layout)
    if claim.shape != expected.shape:
        raise ShapeError(f"The claim is {claim.rows}×{claim.cols}; the Jacobian is "
                         f"{expected.rows}×{expected.cols} ({layout} layout)")
    value = value_at(exprs, wrt, expected, args.at)
    assert value is not None
    point = at_point(args.at)
    by_name = {str(s): s for s in claim.free_symbols}
    missing = sorted(set(by_name) - {str(s) for s in point})
    if missing:
        raise DomainError(f"The claim uses {', '.join(missing)}, which --at does not give")
    claimed = claim.xreplace({by_name[str(s)]: v for s, v in point.items()
                              if str(s) in by_name}).applyfunc(sp.simplify)
    differ = [(i, j) for i in range(value.rows) for j in range(value.cols)
              if claimed[i, j].has(sp.zoo, sp.nan, sp.oo, -sp.oo)
              or not _same_value(claimed[i, j], value[i, j])]
    verdict = "incorrect" if differ else "correct"
    notes = kink_notes(sp.Matrix(exprs).jacobian(sp.Matrix(wrt)), point)
    shown, rounded = for_display(value)
    claimed_shown, _ = for_display(claimed)
    notes += [*rounded, "judged at this one point only; without --at the claim is judged "
              "everywhere"]
    if args.format == "json":
        print(json.dumps({
            "exprs": [sp.sstr(e) for e in exprs], "wrt": [str(v) for v in wrt],
            "layout": layout, "shape": list(expected.shape), "jacobian": rows(expected),
            "claim": rows(claim), "at": {str(k): sp.sstr(v) for k, v in point.items()},
            "value": rows(shown), "claim_value": rows(claimed_shown),
            "verdict": verdict, "method": "point",
            "mismatches": [{"row": i + 1, "col": j + 1} for i, j in differ], "notes": notes,
        }, indent=2))
        return 0 if verdict == "correct" else 1
    if args.format == "latex":
        print(f"{latex(expected)} = {latex(shown)}")
        return 0 if verdict == "correct" else 1
    console = make_console()
    grid = Table.grid(padding=(0, 2))
    grid.add_row(matrix_panel(f"claimed, at {args.at}", claimed_shown),
                 matrix_panel(f"correct, at {args.at}", shown))
    console.print(grid)
    style = "bold green" if verdict == "correct" else "bold red"
    console.print(Text.assemble(("verdict: ", "bold"), (verdict.upper(), style),
                                f"  (method: exact value at {args.at})"))
    if differ:
        where = ", ".join(f"({i + 1},{j + 1})" for i, j in differ)
        console.print(Text.assemble(("entries that differ: ", "bold"), where))
    for note in notes:
        console.print(Text.assemble(("note: ", "bold yellow"), note))
    return 0 if verdict == "correct" else 1


def show_verify(console: Console, check: Check) -> None:
    """Print a verdict: both matrices side by side, the differing entries, the point."""
    grid = Table.grid(padding=(0, 2))
    grid.add_row(
        matrix_panel("claimed", check.claim),
        matrix_panel("correct (numerator layout)", check.expected),
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
    console = make_console()
    console.rule("[bold]jacobian_lab demo 1/2: the vector chain rule from the notes")
    console.print("f(x, y) = (sin(x² + y), ln(y³)) through g = (x² + y, y³):\n")
    ns = argparse.Namespace(
        outer="sin(g1), log(g2)", inner="g1 = x^2 + y, g2 = y^3", wrt=["x", "y"], format="rich",
        budget=DEFAULT_BUDGET,
    )
    code = cmd_chain(ns)
    console.print()
    console.rule("[bold]demo 2/2: a hand-derived Jacobian with a mistake")
    console.print("Claim: the Jacobian of (2x + y³, eʸ − 13x) is [[2, −13], [3y², eʸ]]\n")
    ns = argparse.Namespace(
        exprs=["2*x + y^3", "exp(y) - 13*x"],
        budget=DEFAULT_BUDGET,
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


def _verify_matrix(args: argparse.Namespace) -> int:
    """``verify --shape …``: a claim in matrix notation, judged at three size assignments."""
    if len(args.exprs) != 1 or not args.wrt or len(args.wrt) != 1:
        raise UsageError("matrix notation (--shape) takes one expression and one --wrt name")
    if getattr(args, "at", None):
        raise UsageError("--at is for component expressions; a matrix claim is judged at "
                         "three size assignments")
    v = verify_claim(args.exprs[0], args.wrt[0], parse_shapes(args.shape), args.claim,
                     args.layout)
    code = 0 if v.ok else 1
    if args.format == "json":
        print(json.dumps({
            "schema": 1, "expr": args.exprs[0], "wrt": args.wrt[0], "claim": args.claim,
            "shapes": list(args.shape), "layout": args.layout, **v.to_dict(detail=True),
        }, indent=2, default=str))
        return code
    console = make_console()
    style = {"correct": "bold green", "incorrect": "bold red", "undecided": "bold yellow"}
    sizes = ", ".join(label for label, _ in v.checks)
    how = f"judged at {sizes}" if sizes else "judged by its shape"
    console.print(Text.assemble(("verdict: ", "bold"), (v.verdict.upper(), style[v.verdict]),
                                f"  ({how}, against component differentiation)"))
    if v.diagnosis:
        console.print(Text.assemble(("diagnosis: ", "bold"), v.diagnosis))
    for label, c in v.checks:
        if c.counterexample:
            at = ", ".join(f"{k} = {val:.6g}" for k, val in c.counterexample.items())
            console.print(Text.assemble((f"counterexample at {label}: ", "bold"), at))
            break
    return code
