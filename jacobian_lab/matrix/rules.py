"""The Jacobian rule table of the matrix layer, in numerator layout.

One registration per pattern, in the spirit of autograd's ``defvjp`` table: the kind of node,
the pattern among such nodes, the rule's name, and a function from the node and the variable
to the node's Jacobian (the children's come from :func:`jac`). Rules of one kind are tried in
the order registered; the first whose pattern matches fires, and :func:`differentiate` returns
the Jacobian *with the name of the rule that fired* — :func:`rule_name` reads that record, so
a step's name is always the rule that computed it. A node no rule matches raises
:class:`~jacobian_lab.errors.RuleError` naming it.

``vjp`` is the one rule for a *matrix* variable (z = W a + b: ∂C/∂W = δ aᵀ, δ = (∂C/∂z)ᵀ).
Composites (a layer, a network, a loss) get no rule: the chain walk
(:mod:`jacobian_lab.core.chain`) derives them. Identities: :mod:`.identities`; the
simplifier: :mod:`.simplify`. Numerator layout: ∂f/∂x is k × n for a k-vector f of an
n-vector x, the 1 × n row ∇fᵀ for a scalar f; ∂C/∂W has the shape of W.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import RuleError, ShapeError
from jacobian_lab.matrix.expr import Apply, SampleSum, Scalar, Softmax
from jacobian_lab.matrix.shapes import as_coeff, depends, is_matrix_variable, is_ones, is_scalar


@dataclass(frozen=True)
class Fired:
    """A Jacobian and the name of the rule of the table that computed it."""

    jacobian: MatrixExpr
    rule: str


Rule = Callable[[MatrixExpr, sp.MatrixSymbol], "MatrixExpr | Fired"]
Pattern = Callable[[MatrixExpr, sp.MatrixSymbol], bool]


@dataclass(frozen=True)
class JacobianRule:
    """One registration: nodes of type ``node`` that match ``pattern`` are differentiated by
    ``rule``. A ``name`` with ``{inner}`` is completed by the :class:`Fired` the rule returns
    (a rule that hands the work to one child names itself after that child's rule)."""

    node: type
    name: str
    rule: Rule
    pattern: Pattern | None = None  # None: every node of the type

    def applies(self, expr: MatrixExpr, wrt: sp.MatrixSymbol) -> bool:
        return self.pattern is None or self.pattern(expr, wrt)


RULES: dict[type, list[JacobianRule]] = {}

IDENTITY_RULE = "identity: ∂u/∂u = I"
CONSTANT_RULE = "constant: ∂c/∂u = 𝟎"
SUM_OVER_SAMPLES_RULE = "sum over samples: ∂(Σᵢ Cᵢ) = Σᵢ ∂Cᵢ"
VJP_RULE = "affine map w.r.t. its matrix: z = W a + b, δ = (∂C/∂z)ᵀ gives ∂C/∂W = δ aᵀ"


def defjac(node: type, name: str, pattern: Pattern | None = None) -> Callable[[Rule], Rule]:
    """Register the Jacobian rule ``name`` for the nodes of type ``node`` that match
    ``pattern`` (all of them when it is None: register that one last)."""

    def register(rule: Rule) -> Rule:
        RULES.setdefault(node, []).append(JacobianRule(node, name, rule, pattern))
        return rule

    return register


def select(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> JacobianRule:
    """The rule of the table that differentiates ``expr`` w.r.t. ``wrt``."""
    for cls in type(expr).__mro__:
        for entry in RULES.get(cls, ()):
            if entry.applies(expr, wrt):
                return entry
    raise RuleError(
        f"No Jacobian rule for the node {expr} (a {type(expr).__name__}) w.r.t. {wrt}; "
        f"the table has rules for {', '.join(sorted(c.__name__ for c in RULES))}"
    )


def _rows(expr: MatrixExpr) -> sp.Expr:
    rows, cols = expr.shape
    if cols != 1:
        raise ShapeError(
            f"Jacobians are taken of column vectors or scalars; {expr} is {rows}×{cols}"
        )
    return rows


def differentiate(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> Fired:
    """∂expr/∂wrt in numerator layout (unsimplified) and the name of the rule that fired.

    >>> from jacobian_lab.matrix.expr import T, vector
    >>> w, x = vector("w"), vector("x")
    >>> differentiate(T(w) * x, w).rule
    'dot product: ∂(uᵀx)/∂u = xᵀ'
    """
    if is_matrix_variable(wrt):
        raise ShapeError(
            f"∂{expr}/∂{wrt} for a matrix {wrt} is a tensor: take the gradient of a scalar "
            "cost through the affine map instead (vjp)"
        )
    rows = _rows(expr)
    if expr == wrt:
        return Fired(sp.Identity(wrt.shape[0]), IDENTITY_RULE)
    if not depends(expr, wrt):
        return Fired(sp.ZeroMatrix(rows, wrt.shape[0]), CONSTANT_RULE)
    entry = select(expr, wrt)
    out = entry.rule(expr, wrt)
    if isinstance(out, Fired):
        return Fired(out.jacobian, entry.name.format(inner=out.rule))
    return Fired(out, entry.name)


def jac(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """∂expr/∂wrt in numerator layout, unsimplified (see :func:`.simplify.simplify`).

    >>> from jacobian_lab.matrix.expr import vector, hadamard
    >>> from jacobian_lab.matrix.simplify import simplify
    >>> w, x = vector("w"), vector("x")
    >>> simplify(jac(hadamard(w, x), w))
    DiagMatrix(x)
    """
    return differentiate(expr, wrt).jacobian


def rule_name(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> str:
    """The name of the rule that differentiates ``expr`` w.r.t. ``wrt`` (read from the record
    of :func:`differentiate`; for a matrix ``wrt``, the VJP of the affine map)."""
    if is_matrix_variable(wrt):
        return VJP_RULE
    return differentiate(expr, wrt).rule


def vjp(expr: MatrixExpr, W: sp.MatrixSymbol, upstream: MatrixExpr) -> MatrixExpr:
    """∂C/∂W in the shape of ``W``, where ``expr`` (a column z) is affine in the matrix ``W``
    and ``upstream`` is the row ∂C/∂z. Unsimplified.

    For z = L W r + … (L, r free of W) and δ = upstreamᵀ: ∂C/∂W = Lᵀ δ rᵀ — for the layer
    z = W a + b, ∂C/∂W = δ aᵀ.

    >>> from jacobian_lab.matrix.expr import T, matrix, vector, DIM_K, DIM_N
    >>> from jacobian_lab.matrix.simplify import simplify
    >>> W, a, b = matrix("W", DIM_K, DIM_N), vector("a"), vector("b", DIM_K)
    >>> simplify(vjp(W * a + b, W, T(vector("δ", DIM_K))))
    δ*a.T
    """
    _rows(expr)
    if not depends(expr, W):
        return sp.ZeroMatrix(*W.shape)
    if isinstance(expr, sp.MatAdd):
        return sp.MatAdd(*[vjp(a, W, upstream) for a in expr.args if depends(a, W)])
    if isinstance(expr, sp.MatMul):
        coeff, fs = expr.as_coeff_matrices()
        at = [i for i, f in enumerate(fs) if depends(f, W)]
        if len(at) == 1 and fs[at[0]] == W and not depends(coeff, W):
            i = at[0]
            left = [sp.Transpose(sp.MatMul(*fs[:i]))] if i else []
            right = [sp.Transpose(sp.MatMul(*fs[i + 1:]))] if i + 1 < len(fs) else []
            return sp.MatMul(coeff, *left, sp.Transpose(upstream), *right)
    raise ShapeError(
        f"∂C/∂{W} needs {W} to enter linearly as a factor (z = W a + b); {expr} does not: "
        "name the affine map as an intermediate first"
    )


# --------------------------------------------------------------------------- sums


def _dependent(args: Sequence[MatrixExpr], wrt: sp.MatrixSymbol) -> list[MatrixExpr]:
    return [a for a in args if depends(a, wrt)]


def _sum_of_jacobians(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    return sp.MatAdd(*[jac(a, wrt) for a in expr.args])


defjac(sp.MatAdd, "sum with a constant: ∂(u + c)/∂u = I",
       lambda e, x: _dependent(e.args, x) == [x])(_sum_of_jacobians)


@defjac(sp.MatAdd, "{inner} (the other terms are constant)",
        lambda e, x: len(_dependent(e.args, x)) == 1)
def _term_plus_constants(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> Fired:
    (term,) = _dependent(expr.args, wrt)
    inner = differentiate(term, wrt)
    return Fired(sp.MatAdd(*[inner.jacobian if a is term else jac(a, wrt) for a in expr.args]),
                 inner.rule)


defjac(sp.MatAdd, "sum rule: ∂(u + v) = ∂u + ∂v")(_sum_of_jacobians)


@defjac(SampleSum, SUM_OVER_SAMPLES_RULE)
def _sample_sum(expr: SampleSum, wrt: sp.MatrixSymbol) -> MatrixExpr:
    if any(wrt in pair for pair in expr.pairs):
        raise ShapeError(f"{wrt} changes from sample to sample: differentiate one sample")
    return SampleSum(jac(expr.body, wrt), expr.pairs, expr.m)


@defjac(sp.Transpose, "transpose of a scalar")
def _transpose(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    if not is_scalar(expr):
        raise ShapeError(f"Jacobian of a row vector {expr}: transpose it to a column first")
    return jac(expr.arg, wrt)


# --------------------------------------------------------------------------- products
#
# A product c·F₁⋯Fₖ is read as its number c and its factors, 1 × 1 factors hidden in c moved
# last (they commute). Each pattern below looks at the factors; the product rule is the
# general case, registered last.


def _split_coeff(coeff: sp.Expr, wrt: sp.MatrixSymbol) -> tuple[sp.Expr, list[MatrixExpr]]:
    """Split a coefficient into its part free of ``wrt`` and the 1 × 1 factors that are not."""
    keep, factors = [], []
    for c in sp.Mul.make_args(coeff):
        if isinstance(c, Scalar) and depends(c, wrt):
            factors.append(c.arg)
        elif depends(c, wrt):
            raise ShapeError(f"Cannot differentiate the coefficient {c} w.r.t. {wrt}")
        else:
            keep.append(c)
    return sp.Mul(*keep), factors


def _factors(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> tuple[sp.Expr, list[MatrixExpr]]:
    coeff, factors = expr.as_coeff_matrices()
    coeff, scalars = _split_coeff(coeff, wrt)
    return coeff, [*factors, *scalars]


def _scaled(coeff: sp.Expr, jacobian: MatrixExpr) -> MatrixExpr:
    return jacobian if coeff == 1 else sp.MatMul(coeff, jacobian)


def _product_pattern(test: Callable[[list[MatrixExpr], sp.MatrixSymbol], bool]) -> Pattern:
    """A pattern on the factors of a product (``False`` when its coefficient cannot be split)."""

    def pattern(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> bool:
        try:
            return test(_factors(expr, wrt)[1], wrt)
        except ShapeError:
            return False  # the product rule reports it

    return pattern


def _is_quadratic(fs: list[MatrixExpr], wrt: sp.MatrixSymbol) -> bool:
    return (len(fs) == 2 and fs[1].shape[1] == 1
            and fs[0] in (fs[1].T, sp.Transpose(fs[1])))


def _only_last_depends(fs: list[MatrixExpr], wrt: sp.MatrixSymbol) -> bool:
    return _dependent(fs, wrt) == [fs[-1]] and fs[-1].shape[1] == 1


def _is_dot(fs: list[MatrixExpr], wrt: sp.MatrixSymbol) -> bool:
    return (len(fs) == 2 and _dependent(fs, wrt) == [fs[0]] and fs[0].shape[0] == 1
            and not is_scalar(fs[0]) and fs[1].shape[1] == 1)


def _is_expansion(fs: list[MatrixExpr], wrt: sp.MatrixSymbol) -> bool:
    dep = _dependent(fs, wrt)
    return (len(dep) == 1 and is_scalar(dep[0])
            and any(is_ones(f) and f.shape[1] == 1 for f in fs))


def _left_times(left: list[MatrixExpr], u: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """L·∂u for the factors L before a column u (a 1 × 1 L as a coefficient; for a 1 × 1 u,
    the outer product L ∂u)."""
    if is_scalar(u):
        return sp.MatMul(sp.MatMul(*left) if left else sp.Identity(1), jac(u, wrt))
    if not left:
        return jac(u, wrt)
    left_m = sp.MatMul(*left)
    return sp.MatMul(as_coeff(left_m) if is_scalar(left_m) else left_m, jac(u, wrt))


@defjac(sp.MatMul, "quadratic form: ∂(uᵀu)/∂u = 2uᵀ", _product_pattern(_is_quadratic))
def _quadratic(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, (_, u) = _factors(expr, wrt)
    return sp.MatMul(2 * coeff, sp.Transpose(u), jac(u, wrt))


@defjac(sp.MatMul, "dot product: ∂(uᵀx)/∂u = xᵀ", _product_pattern(_is_dot))
def _dot(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, (row, x) = _factors(expr, wrt)
    return _scaled(coeff, sp.MatMul(sp.MatMul(x).T, jac(row.T, wrt)))


@defjac(sp.MatMul, "scaling: ∂(c u)/∂u = c I", _product_pattern(lambda fs, x: len(fs) == 1))
def _scaling(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, (u,) = _factors(expr, wrt)
    return _scaled(coeff, jac(u, wrt))


@defjac(sp.MatMul, "sum: sum(u) = 𝟏ᵀu, so ∂(𝟏ᵀu)/∂u = 𝟏ᵀ", _product_pattern(
    lambda fs, x: is_ones(fs[0]) and fs[0].shape[0] == 1 and _only_last_depends(fs, x)))
def _vector_sum(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, fs = _factors(expr, wrt)
    return _scaled(coeff, _left_times(fs[:-1], fs[-1], wrt))


@defjac(sp.MatMul, "scalar expansion: ∂(x𝟏)/∂x = 𝟏", _product_pattern(_is_expansion))
def _expansion(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, fs = _factors(expr, wrt)
    (s,) = _dependent(fs, wrt)
    return _scaled(coeff, sp.MatMul(sp.MatMul(*[f for f in fs if f is not s]), jac(s, wrt)))


@defjac(sp.MatMul, "affine map: ∂(A u)/∂u = A", _product_pattern(_only_last_depends))
def _affine(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, fs = _factors(expr, wrt)
    return _scaled(coeff, _left_times(fs[:-1], fs[-1], wrt))


def _product_term(expr: MatrixExpr, fs: list[MatrixExpr], i: int,
                  wrt: sp.MatrixSymbol) -> MatrixExpr:
    """The term of the product rule in which factor ``i`` is differentiated."""
    f, left, right = fs[i], fs[:i], fs[i + 1:]
    right_m = sp.MatMul(*right) if right else None
    if f.shape[1] == 1 and not is_scalar(f):  # a column u: L·u·r with r a scalar
        if right_m is not None and not is_scalar(right_m):
            raise ShapeError(f"Cannot differentiate {expr}: {f} is followed by {right_m}")
        term = _left_times(left, f, wrt)
        return term if right_m is None else sp.MatMul(as_coeff(right_m), term)
    if f.shape[0] == 1 and not is_scalar(f):  # a row uᵀ: l·uᵀ·R = l·(Rᵀ u)ᵀ
        left_m = sp.MatMul(*left) if left else None
        if left_m is not None and not is_scalar(left_m):
            raise ShapeError(f"Cannot differentiate {expr}: {left_m} precedes {f}")
        if right_m is None or right_m.shape[1] != 1:
            raise ShapeError(f"Cannot differentiate {expr}: {f} must be followed by a column")
        term = sp.MatMul(right_m.T, jac(f.T, wrt))
        return term if left_m is None else sp.MatMul(as_coeff(left_m), term)
    if is_scalar(f):  # L·s·R with L·R a column: the outer product (L R) ∂s
        rest = [*left, *right]
        return sp.MatMul(sp.MatMul(*rest) if rest else sp.Identity(1), jac(f, wrt))
    raise ShapeError(
        f"Cannot differentiate {expr} w.r.t. {wrt}: the matrix {f} depends on it "
        "(a Jacobian of a matrix is a tensor; differentiate a scalar instead)"
    )


@defjac(sp.MatMul, "product rule")
def _product_rule(expr: sp.MatMul, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, fs = _factors(expr, wrt)
    terms = [_product_term(expr, fs, i, wrt) for i, f in enumerate(fs) if depends(f, wrt)]
    return _scaled(coeff, sp.MatAdd(*terms) if len(terms) > 1 else terms[0])


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
    deriv = expr.derivative()
    return sp.MatMul(deriv if is_scalar(expr) else DiagMatrix(deriv), jac(expr.arg, wrt))


# --------------------------------------------------------------------------- vector functions


@defjac(Softmax, "softmax: ∂s/∂z = diag(s) − s sᵀ")
def _softmax(expr: Softmax, wrt: sp.MatrixSymbol) -> MatrixExpr:
    s = expr
    local = sp.MatAdd(DiagMatrix(s), sp.MatMul(-1, s, s.T))
    return sp.MatMul(local, jac(expr.arg, wrt))
