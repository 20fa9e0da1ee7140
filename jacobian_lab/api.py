"""The library in a notebook: the same answers as ``jlab``, strings or SymPy objects in.

Strings are parsed safely by :mod:`jacobian_lab.language.parser` (never evaluated): several
expressions are separated by commas, variables by commas or spaces. Variables are matched
by name, so ``sympy.Symbol("x")`` and the parser's real ``x`` are the same variable here
(SymPy alone would treat them as two and differentiate to 0 without a word).

>>> from jacobian_lab.api import gradient, jacobian, verify
>>> jacobian("x^2 + y, sin(x)", "x y")
Matrix([
[   2*x, 1],
[cos(x), 0]])
>>> gradient("x^2 + y", ["x", "y"])
Matrix([[2*x, 1]])
>>> verify("x^2 + cos(y)", "x y", "[[2*x, sin(y)]]").diagnosis
'(1,2) has the wrong sign'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import Any, TypeAlias

import sympy as sp

import derivations
import jacobian_lab.printing.render  # noqa: F401  (registers the notebook display)
from jacobian_lab.budget import deadline
from jacobian_lab.core.derivation import Derivation, Proof
from jacobian_lab.core.from_text import MatrixVerdict, verify_claim
from jacobian_lab.core.from_text import diff as diff_text
from jacobian_lab.core.proof import prove
from jacobian_lab.errors import UsageError
from jacobian_lab.judge import component
from jacobian_lab.judge import verify as judge_verify
from jacobian_lab.judge.verdict import Check
from jacobian_lab.language.matrix_shapes import parse_shape
from jacobian_lab.language.parser import parse_exprs, parse_matrix, parse_symbols

Exprs: TypeAlias = str | sp.Expr | float | Sequence[str | sp.Expr | float]
Variables: TypeAlias = str | sp.Symbol | Sequence[str | sp.Symbol]

__all__ = ["check", "derive", "diff", "gradient", "jacobian", "verify"]


def expressions(exprs: Exprs) -> list[sp.Expr]:
    """Expressions from a string (comma-separated), a SymPy expression, or a sequence of
    either.

    >>> expressions(["x^2", "y"]), expressions("a, b")
    ([x**2, y], [a, b])
    """
    if isinstance(exprs, str):
        return parse_exprs(exprs)
    if isinstance(exprs, sp.Basic | int | float):
        return [sp.sympify(exprs)]
    if not isinstance(exprs, Sequence) or not exprs:
        raise UsageError(f"expected expressions (a string, a SymPy expression or a non-empty "
                         f"list of them), got {type(exprs).__name__}")
    out: list[sp.Expr] = []
    for e in exprs:
        if not isinstance(e, str | sp.Basic | int | float):
            raise UsageError(f"`{e!r}` is not an expression (a string or a SymPy expression)")
        out += parse_exprs(e) if isinstance(e, str) else [sp.sympify(e)]
    return out


def variables(wrt: Variables, exprs: Sequence[sp.Expr] = ()) -> list[sp.Symbol]:
    """Variables from ``"x y"``, ``"x, y"``, a Symbol or a sequence, each matched by name to
    the symbol of ``exprs`` that carries it.

    >>> x = sp.Symbol("x")  # no assumptions, unlike the parser's real x
    >>> variables([x], parse_exprs("x^2"))[0].is_real
    True
    """
    if isinstance(wrt, str | sp.Symbol):
        items: list[str | sp.Symbol] = [wrt]
    elif isinstance(wrt, Sequence) and wrt:
        items = list(wrt)
    else:
        raise UsageError(f"expected variables (\"x y\", a Symbol or a non-empty list), got "
                         f"{type(wrt).__name__}")
    names: list[sp.Symbol] = []
    for item in items:
        if isinstance(item, str):
            names += parse_symbols(item)
        elif isinstance(item, sp.Symbol):
            names.append(item)
        else:
            raise UsageError(f"`{item}` is not a variable (a name or a SymPy Symbol)")
    by_name = {str(s): s for e in exprs for s in e.free_symbols if isinstance(s, sp.Symbol)}
    return [by_name.get(str(s), s) for s in names]


def jacobian(exprs: Exprs, wrt: Variables, layout: str = "numerator") -> sp.Matrix:
    """The exact Jacobian, one row per expression (numerator layout)."""
    es = expressions(exprs)
    return component.jacobian(es, variables(wrt, es), layout=component.check_layout(layout))


def gradient(expr: str | sp.Expr, wrt: Variables, layout: str = "numerator") -> sp.Matrix:
    """The gradient of one scalar expression: a 1 × n row (numerator layout)."""
    es = expressions(expr)
    if len(es) != 1:
        raise UsageError(f"a gradient is of one scalar expression; got {len(es)} (use "
                         "jacobian for several)")
    return component.gradient(es[0], variables(wrt, es), layout=component.check_layout(layout))


def verify(exprs: Exprs, wrt: Variables, claim: Any, layout: str = "numerator",
           seconds: float | None = None, shapes: Mapping[str, str] | None = None
           ) -> Check | MatrixVerdict:
    """Is ``claim`` (a string such as ``"[[2*x, 1]]"``, a Matrix or nested lists) the Jacobian
    of ``exprs``? ``correct``, ``incorrect`` (with a counterexample and a diagnosis) or
    ``undecided``. With ``shapes``, the expression and the claim are in the matrix language
    and the claim is judged at three size assignments:

    >>> verify("x'*A*x", "x", "x'*(A + A')", shapes={"A": "n,n", "x": "n"}).verdict
    'correct'
    """
    if shapes is not None:
        if not isinstance(exprs, str) or not isinstance(claim, str):
            raise UsageError("with shapes=, the expression and the claim are strings of the "
                             "matrix language")
        name = wrt if isinstance(wrt, str) else " ".join(str(w) for w in wrt)
        if len(name.split()) != 1:
            raise UsageError("a matrix claim is the derivative w.r.t. one name")
        parsed = {n: parse_shape(spec) for n, spec in shapes.items()}
        with deadline(seconds) if seconds else nullcontext():
            return verify_claim(exprs, name.strip(), parsed, claim,
                                "denominator" if layout == "denominator" else "numerator")
    es = expressions(exprs)
    matrix = parse_matrix(claim) if isinstance(claim, str) else claim
    return judge_verify.verify(es, variables(wrt, es), matrix, layout=layout, seconds=seconds)


def derive(name: str) -> Derivation:
    """The catalog derivation ``name``, with its proof run (``.proof``); in a notebook it
    displays itself (steps, results, proof record: :mod:`jacobian_lab.printing.render`)."""
    d = derivations.get(name)
    prove(d)
    return d


def check(names: Sequence[str] | None = None) -> dict[str, Proof]:
    """Prove every named derivation (default: the whole catalog)."""
    return {n: prove(derivations.get(n)) for n in (names or derivations.names())}


def diff(expr: str, wrt: str | Sequence[str], shapes: Mapping[str, str] | None = None
         ) -> Derivation:
    """A matrix expression of the matrix language differentiated step by step, proven at
    three size assignments (``.proof``); in a notebook it displays itself.

    >>> d = diff("sum(relu(W*x + b))", "W", {"W": "n,m", "x": "m"})
    >>> d.proof.ok, str(d.results[0].expr)
    (True, 'Apply(relu, z1, 1)*x.T')
    """
    names = wrt.replace(",", " ").split() if isinstance(wrt, str) else list(wrt)
    parsed = {name: parse_shape(spec) for name, spec in (shapes or {}).items()}
    d = diff_text(expr, names, parsed)
    prove(d)
    return d
