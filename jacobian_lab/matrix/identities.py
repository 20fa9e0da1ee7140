"""The notes' identities, one registration each (``diag(v)·𝟏 = v``, ``𝟏ᵀ·diag(x) = xᵀ``, …).

A rewrite gets a node whose children are already simplified and returns the new node, or
None when it does not apply; :func:`jacobian_lab.matrix.simplify.simplify` applies them
bottom-up until nothing changes and can report which ones it used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.matrix.expr import Apply, Scalar
from jacobian_lab.matrix.shapes import (
    as_coeff,
    is_column,
    is_negative,
    is_ones,
    is_row,
    is_scalar,
    product,
    rebuild,
)

Rewrite = Callable[[MatrixExpr], "MatrixExpr | None"]
IDENTITIES: list[tuple[type, str, Rewrite]] = []


def defsimp(cls: type, name: str) -> Callable[[Rewrite], Rewrite]:
    """Register an identity used by :func:`simplify` on nodes of type ``cls``."""

    def register(fn: Rewrite) -> Rewrite:
        IDENTITIES.append((cls, name, fn))
        return fn

    return register



def _step_of(e: sp.Basic) -> MatrixExpr | None:
    """z when ``e`` is step(z) = relu′(z)."""
    if isinstance(e, Apply) and e.fname == "relu" and e.order == 1:
        return e.arg
    return None



# ----------------------------------------------------------------- transposes


@defsimp(sp.Transpose, "(Aᵀ)ᵀ = A")
def _tt(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg.arg if isinstance(e.arg, sp.Transpose) else None


@defsimp(sp.Transpose, "diag(v)ᵀ = diag(v)")
def _tdiag(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg if isinstance(e.arg, DiagMatrix) else None


@defsimp(sp.Transpose, "a scalar is its own transpose")
def _tscalar(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg if is_scalar(e.arg) else None


@defsimp(sp.Transpose, "(A B)ᵀ = Bᵀ Aᵀ")
def _tmul(e: sp.Transpose) -> MatrixExpr | None:
    return e.arg.T.doit(deep=False) if isinstance(e.arg, sp.MatMul) else None


@defsimp(sp.Transpose, "((Aᵀ)^∘p)ᵀ = A^∘p")
def _tpower(e: sp.Transpose) -> MatrixExpr | None:
    a = e.arg
    if isinstance(a, sp.HadamardPower) and isinstance(a.base, sp.Transpose):
        return sp.HadamardPower(a.base.arg, a.exp)
    return None


@defsimp(DiagMatrix, "diag(s) = s for a scalar s")
def _diag_scalar(e: DiagMatrix) -> MatrixExpr | None:
    return e.args[0] if is_scalar(e.args[0]) else None


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
    if not is_row(e):
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
    rest = [a for a in e.args if not is_ones(a)]
    if len(rest) == len(e.args) or not rest:
        return None
    return rest[0] if len(rest) == 1 else sp.HadamardProduct(*rest)


def _constant_fill(a: sp.Basic) -> sp.Expr | None:
    """c when every entry of ``a`` is the scalar c: c 𝟏𝟏ᵀ, 𝟏 s 𝟏ᵀ, 𝟏 s, s 𝟏ᵀ (s 1 × 1)."""
    if not isinstance(a, sp.MatMul):
        return None
    coeff, mats = a.as_coeff_matrices()
    kinds = [("1" if is_ones(m) and m.shape[1] == 1 else "r" if is_ones(m) and m.shape[0] == 1
              else "s" if is_scalar(m) else "?") for m in mats]
    pattern = "".join(kinds)
    if len(mats) == 1 and is_ones(mats[0]):
        return coeff
    if pattern not in ("1r", "1s", "sr", "1sr"):
        return None
    scalars = [as_coeff(m) for m, k in zip(mats, kinds, strict=True) if k == "s"]
    return sp.Mul(coeff, *scalars)


@defsimp(sp.HadamardProduct, "for scalars u ⊙ v = u v")
def _hscalars(e: sp.HadamardProduct) -> MatrixExpr | None:
    return sp.MatMul(*e.args).doit(deep=False) if is_scalar(e) else None


@defsimp(sp.HadamardProduct, "(c 𝟏𝟏ᵀ) ⊙ X = c X (scalar expansion, element-wise)")
def _hfill(e: sp.HadamardProduct) -> MatrixExpr | None:
    for i, a in enumerate(e.args):
        c = _constant_fill(a)
        if c is not None:
            rest = [b for j, b in enumerate(e.args) if j != i]
            return rebuild(c, [rest[0] if len(rest) == 1 else sp.HadamardProduct(*rest)])
    return None


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


@defsimp(sp.MatPow, "diag(v)ᵖ = diag(v^∘p)")
def _diag_power(e: sp.MatPow) -> MatrixExpr | None:
    base, p = e.args
    if not isinstance(base, DiagMatrix) or not (p.is_Integer and p > 0):
        return None
    return DiagMatrix(sp.HadamardPower(base.args[0], p))


# ----------------------------------------------------------------- sums


@defsimp(sp.MatAdd, "uᵀ + vᵀ = (u + v)ᵀ")
def _collect_transposes(e: sp.MatAdd) -> MatrixExpr | None:
    if not is_row(e):
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
                return rebuild(coeff, fs)
        return None

    return rewrite


defsimp(sp.MatMul, "𝟏ᵀ diag(x) = xᵀ")(_pairwise(
    lambda fs, i: fs[i + 1].args[0].T
    if is_ones(fs[i]) and fs[i].shape[0] == 1 and isinstance(fs[i + 1], DiagMatrix) else None
))
defsimp(sp.MatMul, "diag(v) 𝟏 = v")(_pairwise(
    lambda fs, i: fs[i].args[0]
    if isinstance(fs[i], DiagMatrix) and is_ones(fs[i + 1]) and fs[i + 1].shape[1] == 1
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
        scalars = [f for f in fs[:i] if is_scalar(f)]
        row = [f for f in fs[:i] if not is_scalar(f)]
        if not row or not is_row(product(row)) or (len(row) == 1 and is_ones(row[0])):
            continue
        new = sp.Transpose(sp.HadamardProduct(sp.Transpose(product(row)), fs[i].args[0]))
        return rebuild(coeff, [*scalars, new, *fs[i + 1:]])
    return None


@defsimp(sp.MatMul, "diag(v) u = v ⊙ u")
def _diag_column(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    for i in range(len(fs) - 1):
        if not isinstance(fs[i], DiagMatrix):
            continue
        suffix = product(list(fs[i + 1:]))
        if not is_column(suffix) or (i + 2 == len(fs) and is_ones(fs[-1])):
            continue
        if isinstance(fs[i + 1], DiagMatrix):
            continue
        return rebuild(coeff, [*fs[:i], sp.HadamardProduct(fs[i].args[0], suffix)])
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
        if (left and is_row(product(left))) or (right and is_column(product(right))):
            return sp.MatAdd(*[sp.MatMul(coeff, *left, t, *right) for t in f.args])
    return None


@defsimp(sp.MatMul, "−(u − v) = v − u")
def _absorb_sign(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    if not is_negative(coeff):
        return None
    for j, f in enumerate(fs):
        if isinstance(f, sp.MatAdd) and any(is_negative(t) for t in f.args):
            flipped = sp.MatAdd(*[-t for t in f.args]).doit(deep=False)
            return rebuild(-coeff, [*fs[:j], flipped, *fs[j + 1:]])
    for c in sp.Mul.make_args(coeff):
        if (isinstance(c, Scalar) and isinstance(c.arg, sp.MatAdd)
                and any(is_negative(t) for t in c.arg.args)):
            flipped = sp.MatAdd(*[-t for t in c.arg.args]).doit(deep=False)
            return rebuild(-coeff.xreplace({c: Scalar(flipped)}), list(fs))
    return None


@defsimp(sp.MatMul, "step(z) relu(z) = step(z) z (relu(z) = z where step(z) ≠ 0)")
def _mrelu(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    scalars = [c.arg for c in sp.Mul.make_args(coeff) if isinstance(c, Scalar)]
    zs = [z for z in map(_step_of, [*fs, *scalars]) if z is not None and is_scalar(z)]
    old = {Apply("relu", z): z for z in zs}
    if not zs or not any(e.has(k) for k in old):
        return None
    return e.xreplace(old)


@defsimp(sp.MatMul, "scalars first")
def _scalars_first(e: sp.MatMul) -> MatrixExpr | None:
    coeff, fs = e.as_coeff_matrices()
    if not fs or not any(is_scalar(f) for f in fs) or all(is_scalar(f) for f in fs):
        return None
    scal = [f for f in fs if is_scalar(f)]
    rest = [f for f in fs if not is_scalar(f)]
    if rest[0].shape[0] == 1:  # 1 × 1 factors may stand before a row as they are
        ordered = [*scal, *rest]
        return sp.MatMul(coeff, *ordered) if ordered != list(fs) else None
    return sp.MatMul(sp.Mul(coeff, *[as_coeff(f) for f in scal]), *rest).doit(deep=False)
