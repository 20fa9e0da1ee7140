"""Helpers the catalog modules share: one differentiation step, a chain with readable reasons,
and a component-level step whose right-hand side is computed, never typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.core.chain import chain_steps
from jacobian_lab.core.derivation import Partial, Step
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix import rules
from jacobian_lab.matrix.simplify import simplify


def definitions(links: Sequence[tuple[sp.Basic, sp.Basic]]) -> list[Step]:
    return [Step(lhs, rhs, "definition") for lhs, rhs in links]


def differentiate(
    of: sp.Basic,
    definition: MatrixExpr,
    wrt: sp.MatrixSymbol,
    why: str,
    rule: str | None = None,
) -> tuple[Step, MatrixExpr]:
    """One step ∂of/∂wrt found in the rule table and simplified, with a plain-words reason.

    ``of`` is what the left-hand side shows (a name, or a :class:`Paren` of the expression);
    ``rule`` replaces the table's rule name when the notes name it more precisely.
    """
    fired = rules.differentiate(definition, wrt)
    result = simplify(fired.jacobian)
    return Step(Partial(of, wrt), result, rule or fired.rule, why), result


def walk(
    links: Sequence[tuple[sp.MatrixSymbol, MatrixExpr]], wrt: sp.MatrixSymbol
) -> tuple[list[Step], MatrixExpr]:
    """:func:`chain_steps` (the reverse sweep over the links' DAG), its reasons written in the
    notes' notation."""
    return chain_steps(links, wrt, show=notation)


def chain(
    links: Sequence[tuple[sp.MatrixSymbol, MatrixExpr]],
    wrt: sp.MatrixSymbol,
    whys: Sequence[str] = (),
    rules: Sequence[str | None] = (),
    simplify_why: str | None = None,
) -> tuple[list[Step], MatrixExpr]:
    """:func:`chain_steps` with the reasons written in the notes' notation.

    ``whys`` and ``rules`` give one reason (and optionally a more precise rule name) per
    link; missing ones are generated. The simplification step is dropped when it changes
    nothing, and ``simplify_why`` names the identity it uses.
    """
    steps, result = walk(links, wrt)
    out = []
    prev = wrt
    for i, step in enumerate(steps):
        if i < len(links):
            name, definition = links[i]
            why = whys[i] if i < len(whys) else (
                f"differentiate {notation(name)} = {notation(definition)} w.r.t. {notation(prev)}"
            )
            given = rules[i] if i < len(rules) else None
            rule = given or step.rule
            prev = name
            out.append(replace(step, why=why, rule=rule))
        elif step.rule == "simplify":
            if step.rhs != out[-1].rhs:
                out.append(replace(step, why=simplify_why) if simplify_why else step)
        else:
            out.append(step)
    return out, result


def row(*entries: sp.Expr) -> sp.Matrix:
    return sp.Matrix([list(entries)])
