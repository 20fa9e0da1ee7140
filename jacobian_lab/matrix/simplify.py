"""The simplifier: the identities of :mod:`jacobian_lab.matrix.identities`, applied bottom-up
until nothing changes, and :func:`assume` for known values of scalar products.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import ShapeError, UnknownNameError
from jacobian_lab.matrix import identities
from jacobian_lab.matrix.expr import Scalar
from jacobian_lab.matrix.shapes import as_coeff, is_negative, is_scalar, product


def _positive_first(args: tuple[sp.Basic, ...]) -> list[sp.Basic]:
    return sorted(args, key=is_negative)


def _add_terms(expr: sp.MatAdd) -> MatrixExpr:
    """Flatten a sum, drop 𝟎 terms and collect like terms, keeping the order of the terms.

    (SymPy's ``MatAdd.doit`` collects terms by re-multiplying them, which distributes a
    transpose into an element-wise product: (u ⊙ v)ᵀ would become uᵀ ⊙ vᵀ.)
    """
    coeffs: dict[sp.Basic, sp.Expr] = {}
    for term in sp.MatAdd.make_args(expr):
        for t in sp.MatAdd.make_args(term):
            if isinstance(t, sp.ZeroMatrix):
                continue
            coeff, fs = t.as_coeff_matrices() if isinstance(t, sp.MatMul) else (1, [t])
            key = product(list(fs)) if fs else sp.Identity(1)
            coeffs[key] = coeffs.get(key, sp.S.Zero) + coeff
    terms = [k if c == 1 else sp.MatMul(c, k).doit(deep=False)
             for k, c in coeffs.items() if c != 0]
    if not terms:
        return sp.ZeroMatrix(*expr.shape)
    return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)


def _hadamard_factors(expr: sp.HadamardProduct) -> MatrixExpr:
    """Flatten nested element-wise products, keeping the order in which they are written."""
    args: list[sp.Basic] = []
    for a in expr.args:
        args.extend(a.args if isinstance(a, sp.HadamardProduct) else [a])
    if any(isinstance(a, sp.ZeroMatrix) for a in args):
        return sp.ZeroMatrix(*expr.shape)
    if args == list(expr.args):
        return expr
    return args[0] if len(args) == 1 else sp.HadamardProduct(*args)


def _canonical(expr: MatrixExpr, trace: list[str] | None = None) -> MatrixExpr:
    """SymPy's own evaluation of sums and products, then positive terms first."""
    if isinstance(expr, sp.MatAdd | sp.MatMul | sp.HadamardProduct):
        if isinstance(expr, sp.MatAdd):
            new = _add_terms(expr)
        elif isinstance(expr, sp.HadamardProduct):
            new = _hadamard_factors(expr)
        else:
            new = expr.doit(deep=False)
        if trace is not None and new != expr:
            if isinstance(expr, sp.MatMul):
                identity = any(isinstance(a, sp.Identity) for a in expr.args)
                name = "A I = A" if identity else "numbers first"
            elif isinstance(expr, sp.MatAdd) and any(
                isinstance(a, sp.ZeroMatrix) for a in expr.args
            ):
                name = "A + 𝟎 = A"
            else:
                name = ""
            if name and name not in trace:
                trace.append(name)
        expr = new
    if isinstance(expr, sp.MatAdd):
        ordered = _positive_first(expr.args)
        if ordered != list(expr.args):
            expr = sp.MatAdd(*ordered)
    return expr


def _local(
    expr: MatrixExpr, trace: list[str] | None = None, only: Collection[str] | None = None
) -> MatrixExpr:
    """The first identity that applies to ``expr`` (children already simplified)."""
    expr = _canonical(expr, trace)
    for cls, name, rewrite in identities.IDENTITIES:
        if isinstance(expr, cls) and (only is None or name in only):
            new = rewrite(expr)
            if new is not None and new != expr:
                if trace is not None and name not in trace:
                    trace.append(name)
                return new
    return expr


def simplify(
    expr: MatrixExpr,
    max_passes: int = 30,
    trace: list[str] | None = None,
    only: Collection[str] | None = None,
) -> MatrixExpr:
    """Apply the identities bottom-up until nothing changes.

    ``trace``, when given, collects the names of the identities used, in order; ``only``
    restricts the identities to those named (to show a simplification one idea at a time).

    >>> from jacobian_lab.matrix.expr import vector, ones, diag
    >>> x = vector("x")
    >>> used = []
    >>> simplify(ones(1, x.shape[0]) * diag(x), trace=used), used
    (x.T, ['𝟏ᵀ diag(x) = xᵀ'])
    """
    if only is not None:
        unknown = set(only) - {name for _, name, _ in identities.IDENTITIES}
        if unknown:
            raise UnknownNameError(
                f"Unknown identities {sorted(unknown)}; known: "
                f"{', '.join(name for _, name, _ in identities.IDENTITIES)}"
            )
    for _ in range(max_passes):
        new = _rewrite(expr, trace, only)
        if new == expr:
            return new
        expr = new
    return expr


def _rewrite(
    expr: sp.Basic, trace: list[str] | None = None, only: Collection[str] | None = None
) -> sp.Basic:
    if isinstance(expr, Scalar):
        inner = _rewrite(expr.arg, trace, only)
        return as_coeff(inner) if inner != expr.arg else expr
    if not isinstance(expr, MatrixExpr):
        if isinstance(expr, sp.Expr) and expr.has(Scalar) and expr.args:
            args = [_rewrite(a, trace, only) for a in expr.args]
            return expr.func(*args) if args != list(expr.args) else expr
        return expr
    if isinstance(expr, sp.MatrixSymbol) or not expr.args:
        return expr
    args = [_rewrite(a, trace, only) if isinstance(a, sp.Expr) else a for a in expr.args]
    node = expr.func(*args) if list(args) != list(expr.args) else expr
    return _local(node, trace, only)


# --------------------------------------------------------------------------- factoring

FACTOR_RULE = "factor out what every term shares: uᵀA + uᵀB = uᵀ(A + B), A X + B X = (A + B) X"


def factor_common(expr: MatrixExpr) -> MatrixExpr:
    """A sum whose terms all start (or all end) with the same factor, with that factor taken
    out — the shorter form of a result (``simplify`` distributes a row over a sum instead,
    as the notes' derivations do, so this runs once, at the end, never inside it).

    >>> from jacobian_lab.matrix.expr import vector, matrix, T, DIM_N
    >>> x, A = vector("x"), matrix("A", DIM_N, DIM_N)
    >>> factor_common(sp.MatAdd(T(x) * A, T(x) * T(A)))
    x.T*(A + A.T)
    """
    if not isinstance(expr, sp.MatAdd):
        return expr
    terms = [t.as_coeff_matrices() if isinstance(t, sp.MatMul) else (sp.S.One, [t])
             for t in expr.args]
    if any(len(fs) < 2 for _, fs in terms):
        return expr
    for side in (0, -1):
        shared = terms[0][1][side]
        if all(fs[side] == shared for _, fs in terms):
            rest = [product(list(fs[1:] if side == 0 else fs[:-1])) for _, fs in terms]
            parts = [r if c == 1 else sp.MatMul(c, r)
                     for (c, _), r in zip(terms, rest, strict=True)]
            parts.sort(key=lambda t: len(t.atoms(sp.Transpose)))  # A + Aᵀ, as one writes it
            inner = factor_common(sp.MatAdd(*parts, evaluate=False))
            return sp.MatMul(shared, inner) if side == 0 else sp.MatMul(inner, shared)
    return expr


# --------------------------------------------------------------------------- facts


def assume(expr: sp.Basic, facts: Mapping[MatrixExpr, sp.Expr]) -> sp.Basic:
    """Use known values of 1 × 1 products, e.g. ``{𝟏ᵀy: 1}`` for a probability vector y.

    A fact replaces the product wherever it stands: alone, as a run of factors inside a
    longer product (𝟏ᵀ y sᵀ → sᵀ), or as a scalar coefficient.
    """
    runs = []
    for lhs, value in facts.items():
        if not is_scalar(lhs):
            raise ShapeError(f"A fact gives the value of a scalar, not of {lhs}")
        _, fs = lhs.as_coeff_matrices() if isinstance(lhs, sp.MatMul) else (1, [lhs])
        runs.append((list(fs), sp.sympify(value)))

    def visit(e: sp.Basic) -> sp.Basic:
        if isinstance(e, Scalar):
            for fs, value in runs:
                if [e.arg] == fs or (isinstance(e.arg, sp.MatMul)
                                     and list(e.arg.as_coeff_matrices()[1]) == fs):
                    return value * e.arg.as_coeff_matrices()[0] if isinstance(
                        e.arg, sp.MatMul) else value
        if not e.args:
            return e
        args = [visit(a) for a in e.args]
        e = e.func(*args) if args != list(e.args) else e
        if isinstance(e, sp.MatMul):
            coeff, fs = e.as_coeff_matrices()
            fs = list(fs)
            for run, value in runs:
                k = len(run)
                for i in range(len(fs) - k + 1):
                    if fs[i : i + k] == run:
                        rest = fs[:i] + fs[i + k:]
                        if not rest:
                            return sp.MatMul(coeff * value, sp.Identity(1)).doit()
                        return sp.MatMul(coeff * value, *rest).doit(deep=False)
        return e

    return visit(expr)
