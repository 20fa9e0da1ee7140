"""Shape tests of matrix-layer nodes, shared by the rule table and the identities.

A scalar is a 1 × 1 matrix; :func:`as_coeff` turns one into a coefficient that may multiply a
matrix of any shape.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.matrix.expr import Scalar


def depends(expr: sp.Basic, wrt: sp.Basic) -> bool:
    """Whether ``wrt`` occurs in ``expr``."""
    return bool(expr.has(wrt))


def is_matrix_variable(wrt: sp.Basic) -> bool:
    """A variable that is neither a column nor a scalar (its Jacobians are tensors)."""
    return isinstance(wrt, MatrixExpr) and wrt.shape[1] != 1


def is_scalar(e: MatrixExpr) -> bool:
    return bool(e.shape == (1, 1))


def is_row(e: MatrixExpr) -> bool:
    return bool(e.shape[0] == 1 and e.shape[1] != 1)


def is_column(e: MatrixExpr) -> bool:
    return bool(e.shape[1] == 1 and e.shape[0] != 1)


def is_ones(e: sp.Basic) -> bool:
    return isinstance(e, sp.OneMatrix)


def is_negative(e: sp.Basic) -> bool:
    return bool(e.could_extract_minus_sign())


def product(factors: list[MatrixExpr]) -> MatrixExpr:
    """The product of the factors (the factor itself when there is one)."""
    return factors[0] if len(factors) == 1 else sp.MatMul(*factors)


def rebuild(coeff: sp.Expr, factors: list[MatrixExpr]) -> MatrixExpr:
    """coeff · factors, evaluated one level."""
    if len(factors) == 1 and coeff == 1:
        return factors[0]
    return sp.MatMul(coeff, *factors).doit(deep=False)


def as_coeff(e: MatrixExpr) -> sp.Expr:
    """A 1 × 1 matrix as a scalar coefficient (so it may multiply a matrix of any shape)."""
    if isinstance(e, sp.MatMul):
        coeff, fs = e.as_coeff_matrices()
        return sp.Mul(coeff, *[as_coeff(f) for f in fs])
    if isinstance(e, sp.Identity | sp.OneMatrix):
        return sp.S.One
    if isinstance(e, sp.ZeroMatrix):
        return sp.S.Zero
    if isinstance(e, sp.Transpose):
        return as_coeff(e.arg)
    return Scalar(e)
