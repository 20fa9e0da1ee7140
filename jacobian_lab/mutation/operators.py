"""Mutation operators: the ways hand derivations go wrong, applied to a formula."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import sympy as sp
from sympy.matrices.exceptions import NonSquareMatrixError
from sympy.matrices.exceptions import ShapeError as SympyShapeError
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import (
    ShapeError,
)
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix.expr import Apply

SCALE = sp.Rational(1001, 1000)
OPERATORS = ("scale", "sign", "transpose", "drop-term", "relu'(0)", "drop-1/m", "shift",
             "nonlinear-kink")
LEVELS = ("catalog", "kernel", "training", "fused", "assertions", "judge")
# fused: the generated training step; assertions: jacobian_lab.testing;
# judge: the checker on jacobian_lab.judge.edge_cases
Status = Literal["caught", "equivalent", "missed"]
Defs = tuple[tuple[sp.MatrixSymbol, sp.Basic], ...]
SHAPE_ERRORS = (ShapeError, SympyShapeError, NonSquareMatrixError, ValueError)


# --------------------------------------------------------------------------- mutants


@dataclass(frozen=True)
class Mutant:
    """A mutated formula. ``post`` is applied to the instantiated (explicit) claim — the
    ReLU'(0) swap, which has no matrix-layer node of its own; ``defs`` replaces the result's
    definitions when the mutation reaches into them (a 1/m inside δ's definition)."""

    operator: str
    detail: str
    expr: Any
    defs: Defs | None = None
    post: Callable[[sp.Matrix], sp.Matrix] | None = None


def text_of(e: sp.Basic) -> str:

    try:
        return notation(e)
    except Exception:  # a mutated node the notation printer has no rule for
        return sp.sstr(e)


def _is_matrix(e: Any) -> bool:
    return isinstance(e, MatrixExpr | sp.MatrixBase)


def _times(c: sp.Expr, e: Any) -> Any:
    if isinstance(e, MatrixExpr):
        return sp.MatMul(c, e)
    return e * c


def _sums(e: Any) -> Iterator[sp.Basic]:
    seen: set[sp.Basic] = set()
    for node in sp.preorder_traversal(e):
        if isinstance(node, sp.Add | sp.MatAdd) and node not in seen:
            seen.add(node)
            yield node


def _without(node: sp.Basic, i: int) -> sp.Basic:
    rest = node.args[:i] + node.args[i + 1:]
    if len(rest) == 1:
        return rest[0]
    return sp.MatAdd(*rest) if isinstance(node, sp.MatAdd) else sp.Add(*rest)


def _drop_terms(e: Any) -> Iterator[Mutant]:
    if isinstance(e, sp.MatrixBase):  # an explicit result: every sum of every entry
        for k, entry in enumerate(e):
            for node in _sums(entry):
                for i, term in enumerate(node.args):
                    m = sp.Matrix(e)
                    m[k] = entry.xreplace({node: _without(node, i)})
                    yield Mutant("drop-term", f"entry {k + 1}: drop {text_of(term)} from "
                                 f"{text_of(node)}", m)
        return
    for node in _sums(e):
        for i, term in enumerate(node.args):
            yield Mutant("drop-term", f"drop {text_of(term)} from {text_of(node)}",
                         e.xreplace({node: _without(node, i)}))


def _is_relu_step(x: sp.Basic) -> bool:
    return (isinstance(x, Apply) and x.fname == "relu" and x.order == 1) or (
        isinstance(x, sp.Heaviside) and len(x.args) == 2 and x.args[1] == 0)


def swap_relu_at_zero(m: Any) -> Any:
    """Every ``Heaviside(u, 0)`` (ReLU'(u) with ReLU'(0) = 0) as ``Heaviside(u, 1)``."""
    return m.replace(lambda x: isinstance(x, sp.Heaviside) and len(x.args) == 2
                     and x.args[1] == 0, lambda x: sp.Heaviside(x.args[0], 1))


def _is_inverse_m(x: sp.Basic) -> bool:
    return (isinstance(x, sp.Pow) and isinstance(x.base, sp.Symbol) and x.base.name == "m"
            and x.exp.is_negative)


def mutants(expr: Any, defs: Defs = ()) -> list[Mutant]:
    """Every mutant of ``expr`` (a matrix expression, an explicit matrix or a scalar)."""
    out = [Mutant("scale", "× 1001/1000", _times(SCALE, expr)),
           Mutant("sign", "× (−1)", _times(sp.Integer(-1), expr))]
    if isinstance(expr, MatrixExpr):
        out.append(Mutant("transpose", "transposed", sp.Transpose(expr)))
    elif isinstance(expr, sp.MatrixBase):
        out.append(Mutant("transpose", "transposed", sp.Matrix(expr).T))
    out += list(_drop_terms(expr))
    inside = [expr, *(d for _, d in defs)]
    if any(any(_is_relu_step(x) for x in sp.preorder_traversal(e)) for e in inside):
        if isinstance(expr, MatrixExpr):  # the step has no node of its own: swap it after
            out.append(Mutant("relu'(0)", "ReLU'(0) = 1", expr, post=swap_relu_at_zero))
        else:
            out.append(Mutant("relu'(0)", "ReLU'(0) = 1", swap_relu_at_zero(expr)))
    if any(any(_is_inverse_m(x) for x in sp.preorder_traversal(e)) for e in inside):
        drop = {x: sp.S.One for e in inside for x in sp.preorder_traversal(e)
                if _is_inverse_m(x)}
        new_defs = tuple((n, d.xreplace(drop)) for n, d in defs)
        out.append(Mutant("drop-1/m", "without the 1/m", expr.xreplace(drop),
                          defs=new_defs if defs else None))
    return out
