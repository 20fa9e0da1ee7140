"""What the judge looks at in an expression: the arguments of its kinks, domain conditions,
singularities and saturating functions, and its constants."""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from jacobian_lab.language.activations import KINKED, SATURATING

_KINKED: tuple[type[sp.Expr], ...] = (*KINKED, sp.Heaviside, sp.Abs, sp.sign)  # relu, …
_SATURATING: tuple[type[sp.Expr], ...] = (sp.atan, *SATURATING)  # tanh, sigmoid, …


def kink_arguments(*objs: sp.Basic) -> list[sp.Expr]:
    """The expressions whose sign switches a non-smooth function (ReLU's 0, |x|'s 0, …)."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, _KINKED):
                out.append(node.args[0])
            elif isinstance(node, sp.Max | sp.Min):
                a = node.args
                out.extend(a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a)))
            elif isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    if isinstance(cond, sp.core.relational.Relational):
                        out.append(cond.lhs - cond.rhs)
    return unique(out)


def domain_conditions(*objs: sp.Basic) -> list[sp.Expr]:
    """Expressions that must be ≥ 0 (or > 0) for the objects to be real: the argument of
    log, the base of a fractional power, 1 ± a under asin/acos."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, sp.log):
                out.append(node.args[0])
            elif isinstance(node, sp.Pow) and node.exp.is_Rational and not node.exp.is_Integer:
                out.append(node.base)
            elif isinstance(node, sp.asin | sp.acos):
                out.extend([1 - node.args[0], 1 + node.args[0]])
    return unique(out)


def singular_arguments(*objs: sp.Basic) -> list[sp.Expr]:
    """Denominators: expressions whose zeros make the objects undefined."""
    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, sp.Pow) and node.exp.is_negative:
                out.append(node.base)
    return unique(out)


def saturating_arguments(*objs: sp.Basic) -> list[sp.Expr]:
    """Arguments of atan and the registry's saturating activations (tanh, sigmoid, …): away
    from their zero crossing these functions saturate and their derivatives underflow
    (sech²(5000)), so points near the crossing are where a claim's value has digits to
    compare."""

    out: list[sp.Expr] = []
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if isinstance(node, _SATURATING):
                out.append(node.args[0])
    return unique(out)


def constants(*objs: sp.Basic) -> list[float]:
    """The non-trivial numbers written in the expressions (500, 273.15, 1e-9 …)."""
    seen: set[float] = set()
    for obj in objs:
        for node in sp.preorder_traversal(obj):
            if node.is_Number and node.is_extended_real and node.is_finite:
                v = abs(float(node))
                if v not in (0.0, 1.0, 2.0, 0.5) and 1e-300 < v < 1e300:
                    seen.add(v)
    return sorted(seen)[:12]


def unique(exprs: Iterable[sp.Expr]) -> list[sp.Expr]:
    uniq: list[sp.Expr] = []
    for e in exprs:
        if e.free_symbols and e not in uniq:
            uniq.append(e)
    return uniq
