"""jacobian_lab — derive, show, check and run the matrix calculus of neural networks.

The public API for users (:mod:`jacobian_lab.api`; imported on first use, so
``import jacobian_lab.kernels`` stays free of SymPy). Strings are parsed safely, never
evaluated; variables are matched by name:

* :func:`jacobian`, :func:`gradient` — exact Jacobians in numerator layout;
* :func:`verify` — is a hand-derived Jacobian right? (``correct``/``incorrect``/``undecided``);
* :func:`derive` — a catalog derivation, proven; :func:`check` — prove the whole catalog;
* :func:`diff` — your own matrix expression (the matrix language), derived and proven;
* :func:`parse_expr`, :func:`parse_exprs`, :func:`parse_symbols` — the expression language.

>>> import jacobian_lab as jl
>>> jl.jacobian("x^2 + y", ["x", "y"])
Matrix([[2*x, 1]])
>>> jl.verify("x^2 + cos(y)", "x y", "[[2*x, -sin(y)]]").verdict
'correct'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from jacobian_lab.api import check, derive, diff, gradient, jacobian, verify
    from jacobian_lab.language.parser import parse_expr, parse_exprs, parse_symbols

__all__ = [
    "check",
    "derive",
    "diff",
    "gradient",
    "jacobian",
    "parse_expr",
    "parse_exprs",
    "parse_symbols",
    "verify",
]

_LAZY = {
    "check": "jacobian_lab.api",
    "derive": "jacobian_lab.api",
    "diff": "jacobian_lab.api",
    "gradient": "jacobian_lab.api",
    "jacobian": "jacobian_lab.api",
    "verify": "jacobian_lab.api",
    "parse_expr": "jacobian_lab.language.parser",
    "parse_exprs": "jacobian_lab.language.parser",
    "parse_symbols": "jacobian_lab.language.parser",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'jacobian_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, "__version__"})
