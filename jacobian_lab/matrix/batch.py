"""From one sample to a batch: the per-sample results stacked as the columns of matrices.

A :class:`Batch` knows which per-sample symbols (``xᵢ``, ``yᵢ``, ``zᵢ``, ``δᵢ`` …) become
which batch matrices (``X``, ``y``, ``z``, ``Δ`` …): a k × 1 sample becomes the k × m matrix
whose column i is sample i, a scalar sample becomes the m × 1 column of the m values. Two
table rules turn a sum over the samples into matrix products:

* Σᵢ uᵢ vᵢᵀ = U Vᵀ (U, V: the uᵢ, vᵢ as columns; for scalars uᵢ, U = uᵀ);
* Σᵢ uᵢ = U 𝟏 (for scalars, 𝟏ᵀu).

Everything else is :meth:`Batch.stack`, the per-sample expression evaluated on all samples at
once: parameters broadcast (b → b𝟏ᵀ), linear maps act on every column (W xᵢ → W X, wᵀxᵢ → Xᵀw
for the column of scalars), element-wise functions and softmax act column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import ShapeError
from jacobian_lab.matrix.expr import Apply, SampleSum, Scalar, Softmax
from jacobian_lab.matrix.simplify import simplify

SUM_OUTER_RULE = "sum over samples: Σᵢ uᵢ vᵢᵀ = U Vᵀ (the uᵢ and vᵢ as columns)"
SUM_RULE = "sum over samples: Σᵢ uᵢ = U 𝟏 (the uᵢ as columns)"
SUM_SCALAR_RULE = "sum over samples: Σᵢ uᵢ = 𝟏ᵀu (the scalars uᵢ as a column)"


def _scalar(e: MatrixExpr) -> bool:
    return bool(e.shape == (1, 1))


@dataclass(frozen=True)
class Batch:
    """The samples of a batch: per-sample symbol → batch matrix.

    ``data`` are the given samples (what a :class:`SampleSum` reads column by column);
    ``intermediates`` the per-sample quantities computed from them (z, a, δ …), whose batch
    versions are defined by stacking their per-sample definitions (:meth:`define`).
    """

    m: sp.Expr
    data: tuple[tuple[sp.MatrixSymbol, sp.MatrixSymbol], ...]
    intermediates: tuple[tuple[sp.MatrixSymbol, sp.MatrixSymbol], ...] = ()

    @property
    def mapping(self) -> dict[sp.MatrixSymbol, sp.MatrixSymbol]:
        return dict(self.data + self.intermediates)

    def per_sample(self, e: sp.Basic) -> bool:
        return any(e.has(s) for s in self.mapping)

    def total(self, body: MatrixExpr) -> SampleSum:
        """Σᵢ body, read sample by sample from the data."""
        return SampleSum(body, self.data, self.m)

    # ----------------------------------------------------------------- stacking

    def stack(self, e: sp.Basic) -> MatrixExpr:
        """The batch matrix whose column i is ``e`` at sample i (m × 1 for a scalar ``e``)."""
        if isinstance(e, Scalar):
            return self.stack(e.arg)
        out = self._stack_scalar(e) if _scalar(e) else self._stack_column(e)
        return simplify(out)

    def _symbol(self, e: sp.MatrixSymbol) -> MatrixExpr | None:
        batch = self.mapping.get(e)
        if batch is None:
            return None
        if _scalar(e) and batch.shape[0] == 1:
            return sp.Transpose(batch)  # a 1 × m row holds scalars: stack as a column
        return batch

    def _stack_scalar(self, e: sp.Basic) -> MatrixExpr:
        m = self.m
        if isinstance(e, sp.MatrixSymbol) and (s := self._symbol(e)) is not None:
            return s
        if not self.per_sample(e):
            return sp.MatMul(sp.OneMatrix(m, 1), e)  # b → b𝟏
        if isinstance(e, sp.MatAdd | sp.HadamardProduct):
            return e.func(*[self._stack_scalar(a) for a in e.args])
        if isinstance(e, sp.HadamardPower):
            return sp.HadamardPower(self._stack_scalar(e.args[0]), e.args[1])
        if isinstance(e, Apply):
            return Apply(e.fname, self._stack_scalar(e.arg), e.order)
        if isinstance(e, sp.Transpose):
            return self._stack_scalar(e.arg)
        if isinstance(e, sp.MatMul):
            coeff, fs = e.as_coeff_matrices()
            num, scalars = _coefficient(coeff)
            fs = [*fs, *scalars]
            if all(_scalar(f) for f in fs):  # a product of scalars, entry by entry
                parts = [self._stack_scalar(f) for f in fs]
                body = parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts)
                return sp.MatMul(num, body) if num != 1 else body
            *params, last = fs
            if last.shape[1] == 1 and not any(self.per_sample(p) for p in params):
                # pᵀ uᵢ for every sample: the column Uᵀ p
                row = sp.MatMul(*params)
                return sp.MatMul(num, sp.Transpose(self._stack_column(last)), sp.Transpose(row))
        raise ShapeError(f"Cannot stack {e} over the samples")

    def _stack_column(self, e: sp.Basic) -> MatrixExpr:
        m = self.m
        if isinstance(e, sp.MatrixSymbol) and (s := self._symbol(e)) is not None:
            return s
        if not self.per_sample(e):
            return sp.MatMul(e, sp.OneMatrix(1, m))  # b → b𝟏ᵀ
        if isinstance(e, sp.MatAdd | sp.HadamardProduct):
            return e.func(*[self._stack_column(a) for a in e.args])
        if isinstance(e, sp.HadamardPower):
            return sp.HadamardPower(self._stack_column(e.args[0]), e.args[1])
        if isinstance(e, Apply):
            return Apply(e.fname, self._stack_column(e.arg), e.order)
        if isinstance(e, Softmax):
            return Softmax(self._stack_column(e.arg))
        if isinstance(e, sp.MatMul):
            coeff, fs = e.as_coeff_matrices()
            num, scalars = _coefficient(coeff)
            if scalars:
                raise ShapeError(f"Cannot stack {e}: a per-sample scalar scales a column")
            *params, last = fs
            if not any(self.per_sample(p) for p in params) and last.shape[1] == 1:
                return sp.MatMul(num, *params, self._stack_column(last))  # A uᵢ → A U
        raise ShapeError(f"Cannot stack {e} over the samples")

    def define(
        self, links: Sequence[tuple[sp.MatrixSymbol, MatrixExpr]]
    ) -> list[tuple[sp.MatrixSymbol, MatrixExpr]]:
        """The batch definitions of per-sample intermediates: Zᵢ's definition, stacked."""
        mapping = dict(self.intermediates)
        out = []
        for name, definition in links:
            if name not in mapping:
                raise ShapeError(f"{name} has no batch matrix in this batch")
            out.append((mapping[name], self.stack(definition)))
        return out

    # ----------------------------------------------------------------- sums

    def sum(self, e: MatrixExpr) -> tuple[MatrixExpr, str]:
        """Σᵢ ``e`` over the samples as a matrix product, and the rule used.

        ``e`` may be c·Σᵢ body (a :class:`SampleSum` with a constant factor) or the body.
        """
        coeff = sp.S.One
        if isinstance(e, sp.MatMul) and any(isinstance(a, SampleSum) for a in e.args):
            coeff, fs = e.as_coeff_matrices()
            if len(fs) != 1:
                raise ShapeError(f"Cannot sum {e} over the samples")
            e = fs[0]
        if isinstance(e, SampleSum):
            e = e.body
        out, rule = self._sum(e)
        return simplify(sp.MatMul(coeff, out) if coeff != 1 else out), rule

    def _sum(self, e: MatrixExpr) -> tuple[MatrixExpr, str]:
        coeff, fs = e.as_coeff_matrices() if isinstance(e, sp.MatMul) else (sp.S.One, [e])
        num, scalars = _coefficient(coeff)
        if self.per_sample(num):
            raise ShapeError(f"Cannot sum {e}: its coefficient changes with the sample")
        fs = list(fs)
        last = fs[-1] if fs else None
        if (
            isinstance(last, sp.Transpose)
            and last.shape[0] == 1
            and self.per_sample(last)
            and not _scalar(last)
        ):
            u_parts = [*fs[:-1], *scalars]
            if not u_parts:
                raise ShapeError(f"Cannot sum {e}: nothing multiplies {last}")
            v = self._stack_column(last.arg)
            if all(_scalar(f) for f in u_parts):
                u = self.stack(_hadamard(u_parts))
                return sp.MatMul(num, sp.Transpose(u), sp.Transpose(v)), SUM_OUTER_RULE
            if scalars:
                raise ShapeError(f"Cannot sum {e}: a per-sample scalar scales a column")
            u = self.stack(_product(u_parts))
            return sp.MatMul(num, u, sp.Transpose(v)), SUM_OUTER_RULE
        parts = [*fs, *scalars]
        if all(_scalar(f) for f in parts):
            u = self.stack(_hadamard(parts))
            return sp.MatMul(num, sp.OneMatrix(1, self.m), u), SUM_SCALAR_RULE
        u = self.stack(_product(fs) if not scalars else e)
        return sp.MatMul(num, u, sp.OneMatrix(self.m, 1)), SUM_RULE


def _coefficient(coeff: sp.Expr) -> tuple[sp.Expr, list[MatrixExpr]]:
    """A coefficient's plain part and its 1 × 1 matrices (the Scalars)."""
    num, scalars = [], []
    for c in sp.Mul.make_args(coeff):
        if isinstance(c, Scalar):
            scalars.append(c.arg)
        else:
            num.append(c)
    return sp.Mul(*num), scalars


def _product(fs: list[MatrixExpr]) -> MatrixExpr:
    return fs[0] if len(fs) == 1 else sp.MatMul(*fs)


def _hadamard(fs: list[MatrixExpr]) -> MatrixExpr:
    return fs[0] if len(fs) == 1 else sp.HadamardProduct(*fs)


__all__ = ["SUM_OUTER_RULE", "SUM_RULE", "SUM_SCALAR_RULE", "Batch"]
