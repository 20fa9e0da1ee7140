"""jacobian_lab — derive, show, check and run the matrix calculus of neural networks.

The public API for users (imported lazily, so ``import jacobian_lab.kernels`` stays free of
SymPy):

* :func:`jacobian`, :func:`gradient` — exact Jacobians in numerator layout;
* :func:`verify` — is a hand-derived Jacobian right? (``correct``/``incorrect``/``undecided``);
* :func:`derive` — a catalog derivation, proven; :func:`check` — prove the whole catalog.

>>> import jacobian_lab as jl
>>> jl.verify(jl.parse_exprs("x^2 + cos(y)"), jl.parse_symbols("x y"), "[[2*x, -sin(y)]]").verdict
'correct'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from jacobian_lab.core.derivation import Derivation, Proof
    from jacobian_lab.judge.checker import Check
    from jacobian_lab.judge.component import gradient, jacobian
    from jacobian_lab.language.parser import parse_expr, parse_exprs, parse_symbols

__all__ = [
    "check",
    "derive",
    "gradient",
    "jacobian",
    "parse_expr",
    "parse_exprs",
    "parse_symbols",
    "verify",
]

_LAZY = {
    "jacobian": ("jacobian_lab.judge.component", "jacobian"),
    "gradient": ("jacobian_lab.judge.component", "gradient"),
    "parse_expr": ("jacobian_lab.language.parser", "parse_expr"),
    "parse_exprs": ("jacobian_lab.language.parser", "parse_exprs"),
    "parse_symbols": ("jacobian_lab.language.parser", "parse_symbols"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'jacobian_lab' has no attribute {name!r}")


def verify(exprs: Any, wrt: Any, claim: Any, layout: str = "numerator") -> Check:
    """Check a claimed Jacobian; strings are parsed safely (never evaluated)."""
    from jacobian_lab.judge.checker import verify as _verify
    from jacobian_lab.language.parser import parse_exprs, parse_matrix, parse_symbols

    if isinstance(exprs, str):
        exprs = parse_exprs(exprs)
    if isinstance(wrt, str):
        wrt = parse_symbols(wrt)
    if isinstance(claim, str):
        claim = parse_matrix(claim)
    return _verify(exprs, wrt, claim, layout=layout)


def derive(name: str) -> Derivation:
    """The catalog derivation ``name``, with its proof run (``.proof``); in a notebook it
    displays itself (steps, results, proof record)."""
    import derivations
    import jacobian_lab.printing.render  # noqa: F401  (registers the notebook display)
    from jacobian_lab.core.proof import prove

    d = derivations.get(name)
    prove(d)
    return d


def check(names: list[str] | None = None) -> dict[str, Proof]:
    """Prove every named derivation (default: the whole catalog)."""
    import derivations
    from jacobian_lab.core.proof import prove

    return {n: prove(derivations.get(n)) for n in (names or derivations.names())}
