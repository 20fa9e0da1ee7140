"""The Jacobian rule table of the matrix layer, in numerator layout.

One registration per operation, in the spirit of autograd's ``defvjp`` table: each rule gets
the node and the Jacobians of its children and returns the node's Jacobian. ``jac`` walks an
expression with the table; ``vjp`` is the one rule for a *matrix* variable (the affine map
``z = W a + b``: ∂C/∂W = δ aᵀ with δ = (∂C/∂z)ᵀ); ``simplify`` applies the notes' identities
(``diag(v)·𝟏 = v``, ``𝟏ᵀ·diag(x) = xᵀ``, …), themselves a table of one-line registrations.
Composites (a neuron, a layer, a network, a loss) are never given a rule: they are derived
from these by the chain rule.

Numerator layout: for a k-vector ``f`` and an n-vector ``x``, ∂f/∂x is k × n; for a scalar
``f`` it is the 1 × n row ∇fᵀ; for a scalar ``C`` and a matrix ``W`` the gradient ∂C/∂W has
the shape of ``W``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import ShapeError
from jacobian_lab.matrix.expr import Apply, SampleSum, Scalar, Softmax

Rule = Callable[[MatrixExpr, sp.MatrixSymbol], MatrixExpr]
RULES: dict[type, Rule] = {}
RULE_NAMES: dict[type, str] = {}

VJP_RULE = "affine map w.r.t. its matrix: z = W a + b, δ = (∂C/∂z)ᵀ gives ∂C/∂W = δ aᵀ"


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


def is_matrix_variable(wrt: sp.Basic) -> bool:
    """A variable that is neither a column nor a scalar (its Jacobians are tensors)."""
    return isinstance(wrt, MatrixExpr) and wrt.shape[1] != 1


def jac(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    """∂expr/∂wrt in numerator layout, unsimplified (see :func:`simplify`).

    >>> from jacobian_lab.matrix.expr import vector, hadamard
    >>> w, x = vector("w"), vector("x")
    >>> simplify(jac(hadamard(w, x), w))
    DiagMatrix(x)
    """
    if is_matrix_variable(wrt):
        raise ShapeError(
            f"∂{expr}/∂{wrt} for a matrix {wrt} is a tensor: take the gradient of a scalar "
            "cost through the affine map instead (vjp)"
        )
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


def vjp(expr: MatrixExpr, W: sp.MatrixSymbol, upstream: MatrixExpr) -> MatrixExpr:
    """∂C/∂W in the shape of ``W``, where ``expr`` (a column z) is affine in the matrix ``W``
    and ``upstream`` is the row ∂C/∂z. Unsimplified.

    For z = L W r + … (L, r free of W) and δ = upstreamᵀ: ∂C/∂W = Lᵀ δ rᵀ — for the layer
    z = W a + b, ∂C/∂W = δ aᵀ.

    >>> from jacobian_lab.matrix.expr import T, matrix, vector, DIM_K, DIM_N
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


def rule_name(expr: MatrixExpr, wrt: sp.MatrixSymbol | None = None) -> str:
    """The rule of the table that differentiates ``expr`` (named as a student would)."""
    if wrt is not None and is_matrix_variable(wrt):
        return VJP_RULE
    if isinstance(expr, sp.MatAdd) and wrt is not None:
        dep = [a for a in expr.args if depends(a, wrt)]
        if len(dep) == 1 and len(expr.args) > 1:
            if dep[0] == wrt:
                return "sum with a constant: ∂(u + c)/∂u = I"
            return f"{rule_name(dep[0], wrt)} (the other terms are constant)"
    if isinstance(expr, sp.MatMul) and wrt is not None:
        _, fs = expr.as_coeff_matrices()
        if len(fs) == 2 and fs[0] in (fs[1].T, sp.Transpose(fs[1])):
            return "quadratic form: ∂(uᵀu)/∂u = 2uᵀ"
        if len(fs) == 2 and fs[0] == sp.Transpose(wrt) and not depends(fs[1], wrt):
            return "dot product: ∂(uᵀx)/∂u = xᵀ"
        if list(fs) == [wrt]:
            return "scaling: ∂(c u)/∂u = c I"
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
    if isinstance(e, sp.Identity | sp.OneMatrix):
        return sp.S.One
    if isinstance(e, sp.ZeroMatrix):
        return sp.S.Zero
    if isinstance(e, sp.Transpose):
        return as_coeff(e.arg)
    return Scalar(e)


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


# --------------------------------------------------------------------------- linear maps


@defjac(sp.MatAdd, "sum rule: ∂(u + v) = ∂u + ∂v")
def _add(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    return sp.MatAdd(*[jac(a, wrt) for a in expr.args])


@defjac(sp.MatMul, "product rule")
def _mul(expr: MatrixExpr, wrt: sp.MatrixSymbol) -> MatrixExpr:
    coeff, factors = expr.as_coeff_matrices()
    coeff, scalars = _split_coeff(coeff, wrt)
    factors = [*factors, *scalars]  # 1 × 1 factors commute: written last
    if (
        len(factors) == 2
        and factors[1].shape[1] == 1
        and factors[0] in (factors[1].T, sp.Transpose(factors[1]))
    ):
        # The quadratic form uᵀu: ∂(uᵀu) = 2 uᵀ ∂u.
        u = factors[1]
        return sp.MatMul(2 * coeff, sp.Transpose(u), jac(u, wrt))
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
                term = (
                    sp.MatMul(as_coeff(left_m), term)
                    if _is_scalar(left_m)
                    else sp.MatMul(left_m, term)
                )
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


@defjac(SampleSum, "sum over samples: ∂(Σᵢ Cᵢ) = Σᵢ ∂Cᵢ")
def _sample_sum(expr: SampleSum, wrt: sp.MatrixSymbol) -> MatrixExpr:
    if any(wrt in pair for pair in expr.pairs):
        raise ShapeError(f"{wrt} changes from sample to sample: differentiate one sample")
    return SampleSum(jac(expr.body, wrt), expr.pairs, expr.m)


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
#
# The notes' identities, one registration each: a rewrite gets a node whose children are
# already simplified and returns the new node, or None when it does not apply. ``simplify``
# applies them bottom-up until nothing changes and can report which ones it used.

Rewrite = Callable[[MatrixExpr], "MatrixExpr | None"]
IDENTITIES: list[tuple[type, str, Rewrite]] = []


def defsimp(cls: type, name: str) -> Callable[[Rewrite], Rewrite]:
    """Register an identity used by :func:`simplify` on nodes of type ``cls``."""

    def register(fn: Rewrite) -> Rewrite:
        IDENTITIES.append((cls, name, fn))
        return fn

    return register


def _is_row(e: MatrixExpr) -> bool:
    return bool(e.shape[0] == 1 and e.shape[1] != 1)


def _is_column(e: MatrixExpr) -> bool:
    return bool(e.shape[1] == 1 and e.shape[0] != 1)


def _is_ones(e: MatrixExpr) -> bool:
    return isinstance(e, sp.OneMatrix)


def _step_of(e: sp.Basic) -> MatrixExpr | None:
    """z when ``e`` is step(z) = relu′(z)."""
    if isinstance(e, Apply) and e.fname == "relu" and e.order == 1:
        return e.arg
    return None


def _rebuild(coeff: sp.Expr, factors: list[MatrixExpr]) -> MatrixExpr:
    if len(factors) == 1 and coeff == 1:
        return factors[0]
    return sp.MatMul(coeff, *factors).doit(deep=False)


def _product(factors: list[MatrixExpr]) -> MatrixExpr:
    return factors[0] if len(factors) == 1 else sp.MatMul(*factors)


# ----------------------------------------------------------------- transposes


@defsimp(sp.Transpose, "(Aᵀ)ᵀ = A")
def _tt(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg.arg if isinstance(e.arg, sp.Transpose) else None


@defsimp(sp.Transpose, "diag(v)ᵀ = diag(v)")
def _tdiag(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg if isinstance(e.arg, DiagMatrix) else None


@defsimp(sp.Transpose, "a scalar is its own transpose")
def _tscalar(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg if _is_scalar(e.arg) else None


@defsimp(sp.Transpose, "(A B)ᵀ = Bᵀ Aᵀ")
def _tmul(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg.T.doit(deep=False) if isinstance(e.arg, sp.MatMul) else None


@defsimp(sp.Transpose, "𝟏, I and 𝟎 transposed")
def _tconst(e: sp.Transpose) -> MatrixExpr | None:
    if isinstance(e.arg, sp.OneMatrix | sp.Identity | sp.ZeroMatrix):
        return e.arg.T
    return None


# ----------------------------------------------------------------- element-wise functions


@defsimp(Apply, "log′(u) = u^∘(−1)")
def _dlog(e: Apply) -> MatrixExpr | None:
    return sp.HadamardPower(e.arg, -1) if e.fname == "log" and e.order == 1 else None


@defsimp(Apply, "exp′ = exp")
def _dexp(e: Apply) -> MatrixExpr | None:
    return Apply("exp", e.arg) if e.fname == "exp" and e.order > 0 else None


@defsimp(sp.HadamardPower, "u^∘1 = u")
def _pow1(e: sp.HadamardPower) -> MatrixExpr | None:
    return e.args[0] if e.args[1] == 1 else None


def _untransposed(a: sp.Basic) -> sp.Basic | None:
    if isinstance(a, sp.Transpose):
        return a.arg
    if isinstance(a, sp.HadamardPower) and isinstance(a.args[0], sp.Transpose):
        return sp.HadamardPower(a.args[0].arg, a.args[1])
    return None


@defsimp(sp.HadamardProduct, "uᵀ ⊙ vᵀ = (u ⊙ v)ᵀ")
def _htranspose(e: sp.HadamardProduct) -> MatrixExpr | None:
    if not _is_row(e):
        return None
    inner = [_untransposed(a) for a in e.args]
    if any(a is None for a in inner):
        return None
    return sp.Transpose(sp.HadamardProduct(*inner))


@defsimp(sp.HadamardProduct, "u^∘p ⊙ u^∘q = u^∘(p+q)")
def _hpowers(e: sp.HadamardProduct) -> MatrixExpr | None:
    powers: dict[sp.Basic, sp.Expr] = {}
    order: list[sp.Basic] = []
    for a in e.args:
        base, p = (a.args[0], a.args[1]) if isinstance(a, sp.HadamardPower) else (a, sp.S.One)
        if base not in powers:
            order.append(base)
            powers[base] = sp.S.Zero
        powers[base] += p
    if len(order) == len(e.args):
        return None
    out = [b if powers[b] == 1 else sp.HadamardPower(b, powers[b]) for b in order
           if powers[b] != 0]
    if not out:
        return sp.OneMatrix(*e.shape)
    return out[0] if len(out) == 1 else sp.HadamardProduct(*out)


@defsimp(sp.HadamardProduct, "u ⊙ 𝟏 = u")
def _hones(e: sp.HadamardProduct) -> MatrixExpr | None:
    rest = [a for a in e.args if not _is_ones(a)]
    if len(rest) == len(e.args) or not rest:
        return None
    return rest[0] if len(rest) == 1 else sp.HadamardProduct(*rest)


def _elementwise_replace(e: sp.Basic, old: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """Replace ``old`` where it sits entry by entry in ``e`` (through +, ⊙, powers, f(·))."""
    if e in old:
        return old[e]
    if isinstance(e, sp.MatAdd | sp.HadamardProduct | sp.HadamardPower | Apply):
        args = [_elementwise_replace(a, old) for a in e.args]
        return e.func(*args) if args != list(e.args) else e
    if isinstance(e, sp.MatMul):
        coeff, fs = e.as_coeff_matrices()
        if len(fs) == 1 and coeff.is_number:
            new = _elementwise_replace(fs[0], old)
            return sp.MatMul(coeff, new) if new != fs[0] else e
    return e


@defsimp(sp.HadamardProduct, "step(z) ⊙ relu(z) = step(z) ⊙ z (relu(z) = z where step(z) ≠ 0)")
def _hrelu(e: sp.HadamardProduct) -> MatrixExpr | None:
    zs = [z for z in map(_step_of, e.args) if z is not None]
    if not zs:
        return None
    old = {Apply("relu", z): z for z in zs}
    args = [a if _step_of(a) is not None else _elementwise_replace(a, old) for a in e.args]
    return sp.HadamardProduct(*args) if args != list(e.args) else None


# ----------------------------------------------------------------- sums


def _negative(e: sp.Basic) -> bool:
    return bool(e.could_extract_minus_sign())


def _positive_first(args: tuple[sp.Basic, ...]) -> list[sp.Basic]:
    return sorted(args, key=_negative)


@defsimp(sp.MatAdd, "uᵀ + vᵀ = (u + v)ᵀ")
def _collect_transposes(e: sp.MatAdd) -> MatrixExpr | None:
    if not _is_row(e):
        return None
    inner = []
    for t in e.args:
        if isinstance(t, sp.Transpose):
            inner.append(t.arg)
            continue
        if isinstance(t, sp.MatMul):
            coeff, fs = t.as_coeff_matrices()
            if coeff.is_number and len(fs) == 1 and isinstance(fs[0], sp.Transpose):
                inner.append(sp.MatMul(coeff, fs[0].arg))
                continue
        return None
    return sp.Transpose(sp.MatAdd(*inner))


# ----------------------------------------------------------------- products


def _pairwise(
    test: Callable[[list[MatrixExpr], int], MatrixExpr | None],
) -> Rewrite:
    """A MatMul rewrite that replaces factors i, i+1 (found by ``test``) with one factor."""

    def rewrite(e: sp.MatMul) -> MatrixExpr | None:
        coeff, fs = e.as_coeff_matrices()
        fs = list(fs)
        for i in range(len(fs) - 1):
            new = test(fs, i)
            if new is not None:
                fs[i : i + 2] = [new]
                return _rebuild(coeff, fs)
        return None

    return rewrite


defsimp(sp.MatMul, "𝟏ᵀ diag(x) = xᵀ")(_pairwise(
    lambda fs, i: fs[i + 1].args[0].T
    if _is_ones(fs[i]) and fs[i].shape[0] == 1 and isinstance(fs[i + 1], DiagMatrix) else None
))
defsimp(sp.MatMul, "diag(v) 𝟏 = v")(_pairwise(
    lambda fs, i: fs[i].args[0]
    if isinstance(fs[i], DiagMatrix) and _is_ones(fs[i + 1]) and fs[i + 1].shape[1] == 1
    else None
))
defsimp(sp.MatMul, "diag(u) diag(v) = diag(u ⊙ v)")(_pairwise(
    lambda fs, i: DiagMatrix(sp.HadamardProduct(fs[i].args[0], fs[i + 1].args[0]))
    if isinstance(fs[i], DiagMatrix) and isinstance(fs[i + 1], DiagMatrix) else None
))


@defsimp(sp.MatMul, "uᵀ diag(v) = (u ⊙ v)ᵀ")
def _row_diag(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    for i in range(1, len(fs)):
        if not isinstance(fs[i], DiagMatrix):
            continue
        scalars = [f for f in fs[:i] if _is_scalar(f)]
        row = [f for f in fs[:i] if not _is_scalar(f)]
        if not row or not _is_row(_product(row)) or (len(row) == 1 and _is_ones(row[0])):
            continue
        new = sp.Transpose(sp.HadamardProduct(sp.Transpose(_product(row)), fs[i].args[0]))
        return _rebuild(coeff, [*scalars, new, *fs[i + 1:]])
    return None


@defsimp(sp.MatMul, "diag(v) u = v ⊙ u")
def _diag_column(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    for i in range(len(fs) - 1):
        if not isinstance(fs[i], DiagMatrix):
            continue
        suffix = _product(list(fs[i + 1:]))
        if not _is_column(suffix) or (i + 2 == len(fs) and _is_ones(fs[-1])):
            continue
        if isinstance(fs[i + 1], DiagMatrix):
            continue
        return _rebuild(coeff, [*fs[:i], sp.HadamardProduct(fs[i].args[0], suffix)])
    return None


def _cancel_inverse(fs: list[MatrixExpr], i: int) -> MatrixExpr | None:
    row, col = fs[i], fs[i + 1]
    if not (isinstance(row, sp.Transpose) and isinstance(row.arg, sp.HadamardProduct)):
        return None
    args = list(row.arg.args)
    inverse = sp.HadamardPower(col, -1)
    if inverse not in args:
        return None
    args.remove(inverse)
    rest = args[0] if len(args) == 1 else sp.HadamardProduct(*args)
    return sp.MatMul(sp.OneMatrix(1, col.shape[0]), rest)


defsimp(sp.MatMul, "(u ⊙ v^∘(−1))ᵀ v = 𝟏ᵀu")(_pairwise(_cancel_inverse))


def _has_diag_term(f: MatrixExpr) -> bool:
    return isinstance(f, sp.MatAdd) and any(
        isinstance(t, DiagMatrix)
        or (isinstance(t, sp.MatMul) and any(isinstance(g, DiagMatrix) for g in t.args))
        for t in f.args
    )


@defsimp(sp.MatMul, "a row times a sum: uᵀ(A + B) = uᵀA + uᵀB")
def _distribute(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    for j, f in enumerate(fs):
        if not _has_diag_term(f):
            continue
        left, right = list(fs[:j]), list(fs[j + 1:])
        if (left and _is_row(_product(left))) or (right and _is_column(_product(right))):
            return sp.MatAdd(*[sp.MatMul(coeff, *left, t, *right) for t in f.args])
    return None


@defsimp(sp.MatMul, "−(u − v) = v − u")
def _absorb_sign(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    if not _negative(coeff):
        return None
    for j, f in enumerate(fs):
        if isinstance(f, sp.MatAdd) and any(_negative(t) for t in f.args):
            flipped = sp.MatAdd(*[-t for t in f.args]).doit(deep=False)
            return _rebuild(-coeff, [*fs[:j], flipped, *fs[j + 1:]])
    for c in sp.Mul.make_args(coeff):
        if (isinstance(c, Scalar) and isinstance(c.arg, sp.MatAdd)
                and any(_negative(t) for t in c.arg.args)):
            flipped = sp.MatAdd(*[-t for t in c.arg.args]).doit(deep=False)
            return _rebuild(-coeff.xreplace({c: Scalar(flipped)}), list(fs))
    return None


@defsimp(sp.MatMul, "step(z) relu(z) = step(z) z (relu(z) = z where step(z) ≠ 0)")
def _mrelu(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    scalars = [c.arg for c in sp.Mul.make_args(coeff) if isinstance(c, Scalar)]
    zs = [z for z in map(_step_of, [*fs, *scalars]) if z is not None and _is_scalar(z)]
    old = {Apply("relu", z): z for z in zs}
    if not zs or not any(e.has(k) for k in old):
        return None
    return e.xreplace(old)


@defsimp(sp.MatMul, "scalars first")
def _scalars_first(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    if not fs or not any(_is_scalar(f) for f in fs) or all(_is_scalar(f) for f in fs):
        return None
    scal = [f for f in fs if _is_scalar(f)]
    rest = [f for f in fs if not _is_scalar(f)]
    if rest[0].shape[0] == 1:  # 1 × 1 factors may stand before a row as they are
        ordered = [*scal, *rest]
        return sp.MatMul(coeff, *ordered) if ordered != list(fs) else None
    return sp.MatMul(sp.Mul(coeff, *[as_coeff(f) for f in scal]), *rest).doit(deep=False)


# ----------------------------------------------------------------- the walk


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
            key = _product(list(fs)) if fs else sp.Identity(1)
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
    for cls, name, rewrite in IDENTITIES:
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
        unknown = set(only) - {name for _, name, _ in IDENTITIES}
        if unknown:
            raise KeyError(f"Unknown identities {sorted(unknown)}")
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


# --------------------------------------------------------------------------- facts


def assume(expr: sp.Basic, facts: Mapping[MatrixExpr, sp.Expr]) -> sp.Basic:
    """Use known values of 1 × 1 products, e.g. ``{𝟏ᵀy: 1}`` for a probability vector y.

    A fact replaces the product wherever it stands: alone, as a run of factors inside a
    longer product (𝟏ᵀ y sᵀ → sᵀ), or as a scalar coefficient.
    """
    runs = []
    for lhs, value in facts.items():
        if not _is_scalar(lhs):
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
