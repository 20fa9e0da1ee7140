"""``jlab jacobian | gradient | chain | verify | demo``: the component layer on the command line."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sympy as sp
from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from jacobian_lab.budget import DEFAULT_BUDGET, deadline, remaining
from jacobian_lab.errors import (
    BudgetExceeded,
    DomainError,
    UnknownNameError,
    UsageError,
    did_you_mean,
)
from jacobian_lab.judge.checker import Check, compare
from jacobian_lab.judge.component import (
    check_defined,
    check_layout,
    check_slopes,
    evaluate,
    jacobian,
    kink_notes,
)
from jacobian_lab.judge.verify import chain
from jacobian_lab.language.latex import latex
from jacobian_lab.language.parser import (
    parse_assignments,
    parse_exprs,
    parse_point,
    parse_symbols,
    variable_names,
)
from jacobian_lab.language.pretty import pretty

SIMPLIFY_SHARE = 0.5  # simplification may use this share of what is left of the budget
CHECK_SHARE = 0.6  # the check of the simplified form, this share of what is left after it
MEMORY_BYTES = 1 << 30  # the resident set may grow by this much per command (1024 MB)
MAX_SHOWN_DIGITS = 300  # exact values with more digits are shown rounded (see for_display)

LAYOUT_NOTE = {
    "numerator": "numerator layout: row i = output i, column j = variable j",
    "denominator": "denominator layout: row j = variable j, column i = output i",
}


def make_console() -> Console:
    return Console(highlight=False)


def rows(m: sp.Matrix) -> list[list[str]]:
    return [[sp.sstr(m[i, j]) for j in range(m.cols)] for i in range(m.rows)]


def budget(args: argparse.Namespace) -> float:
    return float(getattr(args, "budget", DEFAULT_BUDGET))


@contextmanager
def bounded(args: argparse.Namespace, command: str) -> Iterator[None]:
    """Run a command within ``--budget`` seconds; past it, a one-line error (exit 2)."""
    seconds = budget(args)
    try:
        with deadline(seconds, memory=MEMORY_BYTES):
            yield
    except BudgetExceeded as e:
        hint = "" if e.memory else "give it more time with --budget SECONDS"
        raise BudgetExceeded(seconds, f"`jlab {command}`", hint, e.memory) from None


def _within_share(share: float, work: Callable[[], Any]) -> Any:
    """``work()`` within ``share`` of the remaining budget; :class:`BudgetExceeded` past it."""
    with deadline(max(remaining() * share, 1e-3)):
        return work()


def _check_variables(exprs: Sequence[sp.Expr], wrt: Sequence[sp.Symbol],
                     written: set[str] | None = None) -> None:
    """A --wrt variable that appears in no expression is almost always a typo: say so.

    ``written`` are the names in the user's text, also those that cancel (``x - x``)."""
    free = {str(s) for e in exprs for s in e.free_symbols} | (written or set())
    for v in wrt:
        if str(v) not in free:
            raise UnknownNameError(
                f"Unknown variable `{v}` in --wrt: the expressions use "
                f"{', '.join(sorted(free)) or 'no variables'}{did_you_mean(str(v), free)}"
            )


def inputs(args: argparse.Namespace) -> tuple[list[sp.Expr], list[sp.Symbol]]:
    texts = args.exprs if hasattr(args, "exprs") else [args.expr]
    exprs = parse_exprs(texts)
    if not args.wrt:  # every variable, naturally sorted (x2 before x10)
        free = {s for e in exprs for s in e.free_symbols}
        wrt = sorted(free, key=lambda v: [int(t) if t.isdigit() else t
                                          for t in re.split(r"(\d+)", str(v))])
        if not wrt:
            raise UnknownNameError("The expressions have no variable to differentiate with "
                                   "respect to")
        return exprs, wrt
    wrt = parse_symbols(args.wrt)
    _check_variables(exprs, wrt, variable_names(texts))
    return exprs, wrt


# ``x=nan``, ``y = -inf``, ``z=oo``: the parser would read them as (unknown) variable names.
_NOT_FINITE = re.compile(
    r"(?:^|,)\s*(?P<name>\w+)\s*=\s*(?P<value>[+-]?\s*(?:nan|inf|infinity|oo|zoo))\s*(?=,|$)",
    re.IGNORECASE)


def at_point(at: str) -> dict[sp.Symbol, sp.Expr]:
    bad = _NOT_FINITE.search(at)
    if bad:
        value = bad["value"].replace(" ", "")
        raise DomainError(f"--at {bad['name']}={value} is not a finite number: a derivative is "
                          "evaluated at a finite point (for its behaviour at ±∞, try a large "
                          f"value such as {bad['name']}=1e6)")
    return parse_point(at)


def value_at(exprs: Sequence[sp.Expr], wrt: Sequence[sp.Symbol], m: sp.Matrix,
              at: str | None) -> sp.Matrix | None:
    """``m`` at the point ``at``; :class:`DomainError` where f or its derivative is undefined,
    and where f has an infinite slope (a cusp), whatever the derivative's formula says."""
    if not at:
        return None
    point = at_point(at)
    check_defined(exprs, point)
    value = evaluate(m, point)
    check_slopes(exprs, wrt, point)
    return value


def _too_long(e: sp.Expr) -> bool:
    """Whether an exact number has more than MAX_SHOWN_DIGITS digits (Python refuses to print
    integers of more than 4300 digits, and nobody reads them)."""
    limit = MAX_SHOWN_DIGITS * 3.33  # bits
    return bool(e.is_number) and any(
        max(abs(int(r.p)).bit_length(), int(r.q).bit_length()) > limit
        for r in e.atoms(sp.Rational))


def for_display(value: sp.Matrix) -> tuple[sp.Matrix, list[str]]:
    """``value`` with exact numbers of more than MAX_SHOWN_DIGITS digits rounded to 15
    significant digits, and a note saying so."""
    if not any(_too_long(e) for e in value):
        return value, []
    rounded = value.applyfunc(lambda e: sp.Float(e.evalf(15), 15) if _too_long(e) else e)
    return rounded, [f"exact values of more than {MAX_SHOWN_DIGITS} digits are shown rounded "
                     "to 15 significant digits"]


def _simplified(exprs: Sequence[sp.Expr], wrt: Sequence[sp.Symbol],
                layout: str) -> tuple[sp.Matrix, str | None]:
    """The simplified Jacobian, or — when simplifying would overrun its share of the budget —
    the derivative as differentiated, with a note saying so."""
    try:
        return _within_share(SIMPLIFY_SHARE, lambda: jacobian(exprs, wrt, layout=layout)), None
    except BudgetExceeded as e:
        return jacobian(exprs, wrt, layout=layout, simplify=False), (
            f"not simplified: simplification needs more than the {e.seconds:.2g} s left for it "
            "in the budget; the derivative is shown as differentiated")


def _checked_form(raw: sp.Matrix, jac: sp.Matrix, exprs: Sequence[sp.Expr]) -> Check:
    """The simplified result checked against the raw derivative, within its budget share."""
    try:
        result: Check = _within_share(CHECK_SHARE, lambda: compare(raw, jac, extra_exprs=exprs))
        return result
    except BudgetExceeded as e:
        return Check("undecided", "none", raw, jac,
                     diagnosis=f"budget ({e.seconds:.2g} s): the check did not finish")


def matrix_panel(title: str, m: sp.Matrix, subtitle: str = "") -> Panel:
    return Panel(Text(pretty(m)), title=title, subtitle=subtitle, expand=False)


def _print_check(console: Console, check: Check, what: str) -> None:
    style = {"correct": "green", "incorrect": "red", "undecided": "yellow"}[check.verdict]
    console.print(Text.assemble(("check: ", "bold"), (f"{what} — ", ""), (check.summary(), style)))


def cmd_jacobian(args: argparse.Namespace, gradient: bool = False) -> int:
    kind = "gradient" if gradient else "Jacobian"
    with bounded(args, kind.lower()):
        return _jacobian(args, kind)


def _jacobian(args: argparse.Namespace, kind: str) -> int:
    exprs, wrt = inputs(args)
    if kind == "gradient" and len(exprs) > 1:
        raise UsageError(f"A gradient is of one scalar expression, got {len(exprs)} "
                         f"({', '.join(map(sp.sstr, exprs))}): use `jlab jacobian` for several")
    layout = check_layout(args.layout)
    raw = jacobian(exprs, wrt, simplify=False)  # numerator layout, ReLU'(0) = 0
    jac, unsimplified = _simplified(exprs, wrt, layout)
    # The simplified form is what we show, so check it against the raw derivative.
    check = None if unsimplified else _checked_form(
        raw.T if layout == "denominator" else raw, jac, exprs)
    value = value_at(exprs, wrt, jac, args.at)
    notes = kink_notes(raw, at_point(args.at)) if value is not None else []
    if value is not None:
        value, rounded = for_display(value)
        notes += rounded
    if unsimplified:
        notes.append(unsimplified)
    if args.format == "json":
        out: dict[str, Any] = {
            "exprs": [sp.sstr(e) for e in exprs],
            "wrt": [str(v) for v in wrt],
            "layout": layout,
            "shape": list(jac.shape),
            "jacobian": rows(jac),
            "latex": latex(jac),
            "simplified": not unsimplified,
            "check": check.to_dict() if check else None,
        }
        if value is not None:
            out["at"] = {str(k): sp.sstr(v) for k, v in at_point(args.at).items()}
            out["value"] = rows(value)
        if value is not None or notes:
            out["notes"] = notes
        print(json.dumps(out, indent=2))
        return 0
    if args.format == "latex":
        print(latex(jac) if value is None else f"{latex(jac)} = {latex(value)}")
        return 0
    console = make_console()
    console.print(Text.assemble(("f", "bold"), f"({', '.join(map(str, wrt))}) = "))
    console.print(Text(pretty(sp.Matrix(exprs))))
    title = f"{kind} ∂f/∂({', '.join(map(str, wrt))})  [{jac.rows}×{jac.cols}]"
    console.print(matrix_panel(title, jac))
    console.print(Text(LAYOUT_NOTE[layout], "dim"))
    if value is not None:
        console.print(matrix_panel(f"at {args.at}", value))
    for note in notes:
        console.print(Text.assemble(("note: ", "bold yellow"), note))
    if check is not None:
        _print_check(console, check, "simplified result vs. the raw derivative")
    return 0


def cmd_gradient(args: argparse.Namespace) -> int:
    return cmd_jacobian(args, gradient=True)


def cmd_chain(args: argparse.Namespace) -> int:
    with bounded(args, "chain"):
        return _chain(args)


def _chain(args: argparse.Namespace) -> int:
    outer = parse_exprs(args.outer)
    inner = parse_assignments(args.inner)
    wrt = parse_symbols(args.wrt)
    g_names = {str(s) for s, _ in inner}
    for g, e in inner:
        circular = sorted(str(s) for s in e.free_symbols if str(s) in g_names)
        if circular:
            raise UnknownNameError(
                f"--inner is circular: {g} = {sp.sstr(e)} uses {', '.join(circular)}; each "
                "inner function must be written in the variables of --wrt only")
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
                    "df_dg": rows(r.df_dg),
                    "dg_dx": rows(r.dg_dx),
                    "product": rows(r.product),
                    "direct": rows(r.direct),
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
    console = make_console()
    console.print(Text("The vector chain rule: ∂f/∂x = ∂f/∂g · ∂g/∂x  (numerator layout)", "bold"))
    console.print(
        Group(
            matrix_panel(f"1. ∂f/∂g   (f in terms of g = ({g}))", r.df_dg),
            matrix_panel(f"2. ∂g/∂x   (g in terms of x = ({x}))", r.dg_dx),
            matrix_panel("3. ∂f/∂x = ∂f/∂g · ∂g/∂x, with g substituted", r.product),
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
