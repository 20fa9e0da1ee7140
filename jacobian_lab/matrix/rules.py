"""The Jacobian rule table of the matrix layer, in numerator layout.

One registration per operation, in the spirit of autograd's ``defvjp`` table: each rule gets
the node and the Jacobians of its children and returns the node's Jacobian. ``jac`` walks an
expression with the table; ``simplify`` applies the notes' identities (``diag(v)·𝟏 = v``,
``𝟏ᵀ·diag(x) = xᵀ``, …). Composites (a neuron, a layer, a network, a loss) are never given a
rule: they are derived from these by the chain rule.

Numerator layout: for a k-vector ``f`` and an n-vector ``x``, ∂f/∂x is k × n; for a scalar
``f`` it is the 1 × n row ∇fᵀ.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..errors import ShapeError
from .expr import Apply, Scalar, Softmax

Rule = Callable[[MatrixExpr, sp.MatrixSymbol], MatrixExpr]
RULES: dict[type, Rule] = {}
RULE_NAMES: dict[type, str] = {}


def defjac(cls: type, name: str) -> Callable[[Rule], Rule]:
    """Register the Jacobian rule for one kind of node."""

    def register(rule: Rule) -> Rule:
        RULES[cls] = rule
        RULE_NAMES[cls] = name
        return rule

    return register


def _rows(expr: MatrixExpr) -> sp.Expr:
    rows, cols = expr.shape
    if cols != 1:
        raise ShapeError(
            f"Jacobians are taken of column vectors or scalars; {expr} is {rows}×{cols}"
        )
    return rows


def depends(expr: sp.Basic, wrt: sp.MatrixSymbol) -> bool:
    return expr.has(wrt)


def jac(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """∂expr/∂wrt in numerator layout, unsimplified (see :func:`simplify`).

    >>> from jacobian_lab.matrix.expr import vector, hadamard
    >>> w, x = vector("w"), vector("x")
    >>> simplify(jac(hadamard(w, x), w))
    DiagMatrix(x)
    """
    rows = _rows(expr)
    n = wrt.shape[0]
    if expr == wrt:
        return sp.Identity(n)
    if not depends(expr, wrt):
        return sp.ZeroMatrix(rows, n)
    for cls in type(expr).__mro__:
        if cls in RULES:
            return RULES[cls](expr, wrt)
    raise ShapeError(f"No Jacobian rule for {type(expr).__name__} ({expr})")


def rule_name(expr: MatrixExpr, wrt: sp.MatrixSymbol | None = None) -> str:
    """The rule of the table that differentiates ``expr`` (named as a student would)."""
    if isinstance(expr, sp.MatMul) and wrt is not None:
        _, fs = expr.as_coeff_matrices()
        if len(fs) == 2 and fs[0] in (fs[1].T, sp.Transpose(fs[1])):
            return "quadratic form: ∂(uᵀu)/∂u = 2uᵀ"
        if any(isinstance(f, sp.OneMatrix) and f.shape[0] == 1 for f in fs):
            return "sum: sum(u) = 𝟏ᵀu, so ∂(𝟏ᵀu)/∂u = 𝟏ᵀ"
        if any(isinstance(f, sp.OneMatrix) and f.shape[1] == 1 for f in fs):
            return "scalar expansion: ∂(x𝟏)/∂x = 𝟏"
        dep = [f for f in fs if depends(f, wrt)]
        if len(dep) == 1 and dep[0] is fs[-1]:
            return "affine map: ∂(A u)/∂u = A"
        return "product rule"
    for cls in type(expr).__mro__:
        if cls in RULE_NAMES:
            return RULE_NAMES[cls]
    return "identity" if isinstance(expr, sp.MatrixSymbol) else "constant"


def _is_scalar(e: MatrixExpr) -> bool:
    return bool(e.shape == (1, 1))


def as_coeff(e: MatrixExpr) -> sp.Expr:
    """A 1 × 1 matrix as a scalar coefficient (so it may multiply a matrix of any shape)."""
    if isinstance(e, sp.MatMul):
        coeff, fs = e.as_coeff_matrices()
        return sp.Mul(coeff, *[as_coeff(f) for f in fs])
    return Scalar(e)


# --------------------------------------------------------------------------- linear maps


@defjac(sp.MatAdd, "sum rule: ∂(u + v) = ∂u + ∂v")
def _add(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    return sp.MatAdd(*[jac(a, wrt) for a in expr.args])


@defjac(sp.MatMul, "product rule")
def _mul(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, factors = expr.as_coeff_matrices()
    if (
        len(factors) == 2
        and factors[1].shape[1] == 1
        and factors[0] in (factors[1].T, sp.Transpose(factors[1]))
    ):
        # The quadratic form uᵀu: ∂(uᵀu) = 2 uᵀ ∂u.
        u = factors[1]
        return sp.MatMul(2 * coeff, u.T, jac(u, wrt))
    terms = []
    for i, f in enumerate(factors):
        if not depends(f, wrt):
            continue
        left, right = factors[:i], factors[i + 1:]
        left_m = sp.MatMul(*left) if left else None
        right_m = sp.MatMul(*right) if right else None
        if f.shape[1] == 1 and not _is_scalar(f):  # a column u: L·u·r with r a scalar
            if right_m is not None and not _is_scalar(right_m):
                raise ShapeError(f"Cannot differentiate {expr}: {f} is followed by {right_m}")
            term = jac(f, wrt)
            if left_m is not None:
                term = sp.MatMul(left_m, term)
            if right_m is not None:
                term = sp.MatMul(as_coeff(right_m), term)
        elif f.shape[0] == 1 and not _is_scalar(f):  # a row uᵀ: l·uᵀ·R = l·(Rᵀ u)ᵀ
            if left_m is not None and not _is_scalar(left_m):
                raise ShapeError(f"Cannot differentiate {expr}: {left_m} precedes {f}")
            inner = f.T
            if right_m is None or right_m.shape[1] != 1:
                raise ShapeError(f"Cannot differentiate {expr}: {f} must be followed by a column")
            term = sp.MatMul(right_m.T, jac(inner, wrt))
            if left_m is not None:
                term = sp.MatMul(as_coeff(left_m), term)
        elif _is_scalar(f):  # L·s·R with L·R a column: the outer product (L R) ∂s
            rest = [g for j, g in enumerate(factors) if j != i]
            rest_m = sp.MatMul(*rest) if rest else sp.Identity(1)
            term = sp.MatMul(rest_m, jac(f, wrt))
        else:
            raise ShapeError(
                f"Cannot differentiate {expr} w.r.t. {wrt}: the matrix {f} depends on it "
                "(a Jacobian of a matrix is a tensor; differentiate a scalar instead)"
            )
        terms.append(term)
    total = sp.MatAdd(*terms) if len(terms) > 1 else terms[0]
    return total if coeff == 1 else sp.MatMul(coeff, total)


@defjac(sp.Transpose, "transpose of a scalar")
def _transpose(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    if not _is_scalar(expr):
        raise ShapeError(f"Jacobian of a row vector {expr}: transpose it to a column first")
    return jac(expr.arg, wrt)


# --------------------------------------------------------------------------- element-wise


@defjac(sp.HadamardProduct, "element-wise product: ∂(u ⊙ v) = diag(v) ∂u + diag(u) ∂v")
def _hadamard(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    args = expr.args
    terms = []
    for i, a in enumerate(args):
        if not depends(a, wrt):
            continue
        others = [b for j, b in enumerate(args) if j != i]
        other = others[0] if len(others) == 1 else sp.HadamardProduct(*others)
        terms.append(sp.MatMul(DiagMatrix(other), jac(a, wrt)))
    return sp.MatAdd(*terms) if len(terms) > 1 else terms[0]


@defjac(sp.HadamardPower, "element-wise power: ∂(u^∘p) = diag(p u^∘(p−1)) ∂u")
def _hpower(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    base, p = expr.args
    if p.has(wrt):
        raise ShapeError("Exponents that depend on the variable are not supported")
    inner = sp.HadamardPower(base, p - 1) if p != 2 else base
    return sp.MatMul(p, DiagMatrix(inner), jac(base, wrt))


@defjac(Apply, "element-wise function: ∂f(u) = diag(f′(u)) ∂u")
def _apply(expr: Apply, wrt: sp.MatrixSymbol) -> MatrixExpr:
    inner = jac(expr.arg, wrt)
    deriv = expr.derivative()
    if _is_scalar(expr):
        return sp.MatMul(deriv, inner)
    return sp.MatMul(DiagMatrix(deriv), inner)


# --------------------------------------------------------------------------- vector functions


@defjac(Softmax, "softmax: ∂s/∂z = diag(s) − s sᵀ")
def _softmax(expr: Softmax, wrt: sp.MatrixSymbol) -> MatrixExpr:
    s = expr
    local = sp.MatAdd(DiagMatrix(s), sp.MatMul(-1, s, s.T))
    return sp.MatMul(local, jac(expr.arg, wrt))


# --------------------------------------------------------------------------- simplification


def _local(expr: MatrixExpr) -> MatrixExpr:
    """One pass of the notes' identities on a node whose children are already simplified."""
    if isinstance(expr, sp.Transpose):
        a = expr.arg
        if isinstance(a, DiagMatrix):
            return a
        if isinstance(a, sp.Transpose):
            return a.arg
        if isinstance(a, sp.MatMul):
            return a.T.doit(deep=False)
        if isinstance(a, Apply | sp.HadamardProduct) and _is_scalar(a):
            return a
    if isinstance(expr, sp.MatAdd):
        return expr.doit(deep=False)
    if isinstance(expr, sp.MatMul):
        expr = expr.doit(deep=False)
        if not isinstance(expr, sp.MatMul):
            return expr
        coeff, fs = expr.as_coeff_matrices()
        fs = list(fs)
        for i in range(len(fs) - 1):
            a, b = fs[i], fs[i + 1]
            new = None
            if isinstance(a, sp.OneMatrix) and a.shape[0] == 1 and isinstance(b, DiagMatrix):
                new = b.args[0].T  # 𝟏ᵀ diag(x) = xᵀ
            elif isinstance(a, DiagMatrix) and isinstance(b, sp.OneMatrix) and b.shape[1] == 1:
                new = a.args[0]  # diag(v) 𝟏 = v
            elif isinstance(a, DiagMatrix) and isinstance(b, DiagMatrix):
                new = DiagMatrix(sp.HadamardProduct(a.args[0], b.args[0]))
            elif (
                isinstance(b, DiagMatrix)
                and a.shape[0] == 1
                and not _is_scalar(a)
                and not isinstance(a, sp.OneMatrix)
            ):
                new = sp.HadamardProduct(a.T, b.args[0]).T  # uᵀ diag(v) = (u ⊙ v)ᵀ
            elif (
                isinstance(a, DiagMatrix)
                and b.shape[1] == 1
                and not _is_scalar(b)
                and not isinstance(b, sp.OneMatrix | DiagMatrix)
            ):
                new = sp.HadamardProduct(a.args[0], b)  # diag(v) u = v ⊙ u
            if new is not None:
                fs[i : i + 2] = [new]
                return sp.MatMul(coeff, *fs).doit(deep=False) if coeff != 1 or len(fs) > 1 else fs[0]
        # Scalars (1 × 1 factors) commute: make them coefficients, written first.
        if fs and any(_is_scalar(f) for f in fs) and not all(_is_scalar(f) for f in fs):
            scal = [as_coeff(f) for f in fs if _is_scalar(f)]
            rest = [f for f in fs if not _is_scalar(f)]
            return sp.MatMul(sp.Mul(coeff, *scal), *rest).doit(deep=False)
        return expr
    if isinstance(expr, sp.HadamardProduct):
        return expr.doit(deep=False)
    return expr


def simplify(expr: MatrixExpr, max_passes: int = 30) -> MatrixExpr:
    """Apply the identities bottom-up until nothing changes.

    >>> from jacobian_lab.matrix.expr import vector, ones, diag
    >>> x = vector("x")
    >>> simplify(ones(1, x.shape[0]) * diag(x))
    x.T
    """
    for _ in range(max_passes):
        new = _rewrite(expr)
        if new == expr:
            return new
        expr = new
    return expr


def _rewrite(expr: sp.Basic) -> sp.Basic:
    if not isinstance(expr, MatrixExpr) or isinstance(expr, sp.MatrixSymbol) or not expr.args:
        return expr
    args = [_rewrite(a) if isinstance(a, MatrixExpr) else a for a in expr.args]
    node = expr.func(*args) if list(args) != list(expr.args) else expr
    return _local(node)
