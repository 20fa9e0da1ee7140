"""Symbolic shortcuts of the judge: is a difference provably zero (under a time budget)?

Simplification is an optimisation only: when SymPy cannot finish within its share of the
budget the answer is "not shown to be zero", and the judge samples instead.
"""

from __future__ import annotations

import sympy as sp

from jacobian_lab import budget
from jacobian_lab.errors import BudgetExceeded
from jacobian_lab.language.functions import to_elementary

_SIMPLIFY_MAX_OPS = 300
_SIMPLIFY_SECONDS = 2.0  # per entry, at most half of what the caller's budget has left


def is_zero(expr: sp.Expr) -> bool:
    """``expr`` simplifies to 0 within the time budget (``False`` also means "unknown").

    >>> x = sp.Symbol("x", real=True)
    >>> is_zero(sp.sin(x)**2 + sp.cos(x)**2 - 1), is_zero(x - 1)
    (True, False)
    """
    expr = to_elementary(expr)
    if expr == 0:
        return True
    # simplification is an optimisation: past its share of the time, sample instead
    seconds = min(_SIMPLIFY_SECONDS, budget.remaining() / 2)
    try:
        with budget.deadline(seconds):
            if sp.count_ops(expr) > _SIMPLIFY_MAX_OPS:
                return bool(sp.expand(expr) == 0)
            return bool(sp.simplify(expr) == 0)
    except (TypeError, ValueError, NotImplementedError, RecursionError, BudgetExceeded):
        return False
