"""The loop printer of the fused training step: matrix-layer expressions as explicit loops
around BLAS calls, in code Numba compiles (and plain Python runs).

:class:`LoopPrinter` prints one assignment ``target = expression`` of a kernel spec's
expression. Element-wise parts (sums, Hadamard products, scalar factors, broadcast biases
``b 𝟏ᵀ``, activations spelled as the registry says, ReLU' as a comparison) become one loop over
the target's entries, ``el(e, r, c)`` giving the code of entry ``(r, c)`` of ``e``; what is not
element-wise is hoisted into statements of its own before that loop: a product of two matrices
is one call of ``gemm`` (the step's argument: CBLAS ``?gemm``, row-major) — or, in a thin
layer, of the loop of :mod:`jacobian_lab.codegen.thin` that computes the same with the same
arguments —, ``X 𝟏`` / ``𝟏ᵀ X``
/ ``𝟏ᵀ X 𝟏`` a reduction loop, softmax a per-column maximum and normaliser. ``T = T + α P Q``
(an SGD update through BP4) is one ``gemm`` with ``β = 1`` into ``T``.

Storage: every array is C-contiguous. A matrix with one column per sample (``k × m``) is
stored **sample-major**, as ``m × k`` rows (:attr:`Arr.t`), so a batch gathered row by row is
the notes' ``n × m`` ``X`` without a copy, and its entry ``(r, c)`` is ``arr[c, r]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.codegen.formula import join_signed, signed_terms
from jacobian_lab.codegen.thin import THIN
from jacobian_lab.errors import VerificationError
from jacobian_lab.language.activations import ACTIVATIONS, RELU_AT_ZERO
from jacobian_lab.matrix.expr import DIM_M, Apply, Softmax

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS_ORDER, CBLAS_TRANSPOSE


class Arr(NamedTuple):
    """A runtime array: its name, and whether it is stored sample-major (entry (r, c) at
    ``name[c, r]``)."""

    name: str
    t: bool = False


def _ones_row(e: sp.Basic) -> bool:
    return isinstance(e, sp.OneMatrix) and e.rows == 1


def _ones_col(e: sp.Basic) -> bool:
    return isinstance(e, sp.OneMatrix) and e.cols == 1


def _np(fqn: str) -> str:
    return "np." + fqn.removeprefix("numpy.")


def _is_step(e: sp.Basic) -> bool:
    if not (isinstance(e, Apply) and e.order == 1 and e.fname in ACTIVATIONS):
        return False
    kink = ACTIVATIONS[e.fname].kink
    return kink is not None and kink.is_step


class LoopPrinter:
    """Prints assignments of matrix expressions as loops and BLAS calls.

    ``dims`` maps the size symbols to runtime names (``m`` → ``"m"``), ``bind`` the spec's
    matrix symbols to runtime arrays; ``lines`` collects the printed code, ``relu_at_zero``
    (1 only for mutation testing) sets ReLU'(0).
    """

    def __init__(self, dims: Mapping[sp.Symbol, str], bind: Mapping[str, Arr],
                 relu_at_zero: int = RELU_AT_ZERO, prefix: str = "") -> None:
        self.dims = dict(dims)
        self.bind = dict(bind)
        self.step_op = ">" if relu_at_zero == 0 else ">="
        self.lines: list[str] = []
        self.prefix = prefix  # temporaries are named <prefix><hint>
        self._count = 0
        self._norms: dict[str, tuple[str, str, str, str]] = {}

    # ------------------------------------------------------------------ plumbing

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}{self._count}"

    def dim(self, d: sp.Basic) -> str:
        if isinstance(d, sp.Integer | int):
            return str(int(d))
        if d in self.dims:
            return self.dims[d]
        raise VerificationError(f"the fused step has no runtime size for {d}")

    def scalar(self, e: sp.Expr) -> str:
        names = {s: sp.Symbol(self.dims.get(s, s.name)) for s in e.free_symbols}
        return f"({sp.pycode(sp.sympify(e).xreplace(names))})"

    def _stored(self, e: MatrixExpr) -> bool:
        """A temporary of ``e``'s shape is stored sample-major when it has a sample column."""
        return bool(e.cols == DIM_M and e.rows != DIM_M)

    def temp(self, e: MatrixExpr, hint: str, zero: bool = False) -> tuple[sp.MatrixSymbol, Arr]:
        """A new array for the value of ``e`` (zeros for a reduction), bound to a symbol."""
        name = self.fresh(hint)
        arr = Arr(name, self._stored(e))
        rows, cols = self.dim(e.rows), self.dim(e.cols)
        shape = f"({cols}, {rows})" if arr.t else f"({rows}, {cols})"
        self.lines.append(f"{name} = np.{'zeros' if zero else 'empty'}({shape}, dt)")
        sym = sp.MatrixSymbol(name, e.rows, e.cols)
        self.bind[name] = arr
        return sym, arr

    def loop(self, target: Arr, rows: sp.Basic, cols: sp.Basic, body: str, op: str = "=") -> None:
        """``target[r, c] op body`` for every entry, in the target's storage order."""
        R, C = self.dim(rows), self.dim(cols)
        if target.t:
            self.lines += [f"for c in range({C}):", f"    for r in range({R}):",
                           f"        {target.name}[c, r] {op} {body}"]
        else:
            self.lines += [f"for r in range({R}):", f"    for c in range({C}):",
                           f"        {target.name}[r, c] {op} {body}"]

    # ------------------------------------------------------------------ statements

    def assign(self, target: Arr, e: MatrixExpr) -> None:
        """``target = e`` (a 1 × 1 ``e`` into the scalar variable ``target.name``)."""
        if e.shape == (1, 1) and not isinstance(e, sp.MatrixSymbol):
            self.lines.append(f"{target.name} = {self.el(e, '0', '0')}")
            return
        if self._update(target, e) or self._accumulate(target, e) or self._masked(target, e):
            return
        body = self.el(e, "r", "c")
        self.loop(target, e.rows, e.cols, body)

    def _update(self, target: Arr, e: MatrixExpr) -> bool:
        """``T = T + α P Q`` as one ``gemm`` with β = 1 (no gradient array)."""
        if not isinstance(e, sp.MatAdd) or len(e.args) != 2 or target.t:
            return False
        same = [a for a in e.args if isinstance(a, sp.MatrixSymbol)
                and self.bind.get(a.name) == target]
        if len(same) != 1:
            return False
        other = next(a for a in e.args if a is not same[0])
        if not isinstance(other, sp.MatMul):
            return False
        coeff, fs = other.as_coeff_matrices()
        if len(fs) != 2 or any(isinstance(f, sp.OneMatrix) for f in fs):
            return False
        self.gemm(target, fs[0], fs[1], self.scalar(coeff), "1.0",
                  self.dim(e.rows), self.dim(e.cols))
        return True

    def _accumulate(self, target: Arr, e: MatrixExpr) -> bool:
        """``T = α P Q + rest`` as ``gemm`` into T, then ``T += rest`` (a forward pass)."""
        if not isinstance(e, sp.MatAdd):
            return False
        for i, term in enumerate(e.args):
            if not isinstance(term, sp.MatMul):
                continue
            coeff, fs = term.as_coeff_matrices()
            if len(fs) != 2 or any(isinstance(f, sp.OneMatrix) for f in fs):
                continue
            rest = e.args[:i] + e.args[i + 1:]
            if any(self.bind.get(s.name) == target for r in rest
                   for s in r.atoms(sp.MatrixSymbol)):
                return False
            self.gemm(target, fs[0], fs[1], self.scalar(coeff), "0.0",
                      self.dim(e.rows), self.dim(e.cols))
            body = self.el(rest[0] if len(rest) == 1 else sp.MatAdd(*rest), "r", "c")
            self.loop(target, e.rows, e.cols, body, "+=")
            return True
        return False

    def _masked(self, target: Arr, e: MatrixExpr) -> bool:
        """``T = (α P Q) ⊙ rest`` as ``gemm`` into T, then ``T *= rest`` (BP2)."""
        if not isinstance(e, sp.HadamardProduct):
            return False
        for i, f in enumerate(e.args):
            if not isinstance(f, sp.MatMul):
                continue
            coeff, fs = f.as_coeff_matrices()
            rest = e.args[:i] + e.args[i + 1:]
            if len(fs) != 2 or any(isinstance(g, sp.OneMatrix) for g in fs) or any(
                    self.bind.get(s.name) == target for r in rest
                    for s in r.atoms(sp.MatrixSymbol)):
                continue
            self.gemm(target, fs[0], fs[1], self.scalar(coeff), "0.0",
                      self.dim(e.rows), self.dim(e.cols))
            body = " * ".join(self._factor(r, "r", "c") for r in rest)
            self.loop(target, e.rows, e.cols, body, "*=")
            return True
        return False

    # ------------------------------------------------------------------ BLAS

    def operand(self, e: MatrixExpr) -> tuple[str, bool]:
        """(stored array, transposed?) with ``e = stored`` or ``e = storedᵀ``."""
        flip = False
        while isinstance(e, sp.Transpose):
            e, flip = e.arg, not flip
        if not isinstance(e, sp.MatrixSymbol):
            sym, arr = self.temp(e, "p")
            self.loop(arr, e.rows, e.cols, self.el(e, "r", "c"))
            e = sym
        arr = self.bind[e.name]
        return arr.name, arr.t != flip

    def gemm(self, out: Arr, P: MatrixExpr, Q: MatrixExpr, alpha: str, beta: str,
             rows: str, cols: str) -> None:
        """``out = α P Q + β out`` (``rows × cols``) in out's storage: when ``thin`` (the
        layer has a side of at most ``small``: see :mod:`jacobian_lab.codegen.thin`) the loop
        of the same transpositions, else BLAS."""
        (a, ta), (b, tb) = self.operand(P), self.operand(Q)
        K = self.dim(P.cols)
        if out.t:  # stored outᵀ = Qᵀ Pᵀ
            (a, ta), (b, tb), rows, cols = (b, not tb), (a, not ta), cols, rows
        call = (f"gemm({ROW_MAJOR}, {TRANS if ta else NO_TRANS}, {TRANS if tb else NO_TRANS}, "
                f"{rows}, {cols}, {K}, {alpha}, {a}.ctypes, {a}.shape[1], {b}.ctypes, "
                f"{b}.shape[1], {beta}, {out.name}.ctypes, {out.name}.shape[1])")
        thin = THIN.get((ta, tb))
        if thin is None:
            self.lines.append(call)
            return
        self.lines += ["if thin:",
                       f"    {thin}({rows}, {cols}, {K}, {alpha}, {a}, {b}, {beta}, {out.name})",
                       "else:", f"    {call}"]

    def product(self, fs: list[MatrixExpr]) -> sp.MatrixSymbol:
        """A temporary holding the product of ``fs`` (two or more matrices)."""
        if _ones_row(fs[0]) or _ones_col(fs[-1]):
            return self.sums(fs)
        if len(fs) > 2:
            fs = [self.product(fs[:2]), *fs[2:]]
            return self.product(fs)
        P, Q = fs
        sym, arr = self.temp(sp.MatMul(P, Q), "prod")
        self.gemm(arr, P, Q, "1.0", "0.0", self.dim(P.rows), self.dim(Q.cols))
        return sym

    def sums(self, fs: list[MatrixExpr]) -> sp.MatrixSymbol:
        """``X 𝟏`` (row sums), ``𝟏ᵀ X`` (column sums) or ``𝟏ᵀ X 𝟏`` (the total) as a loop."""
        left, right = _ones_row(fs[0]), _ones_col(fs[-1])
        inner = fs[int(left): len(fs) - int(right)]
        X = inner[0] if len(inner) == 1 else self.product(inner)
        shape = sp.MatMul(*fs).shape
        sym, arr = self.temp(sp.ZeroMatrix(*shape), "sum", zero=True)
        r_out = "0" if left else "r"
        c_out = "0" if right else "c"
        body = self.el(X, "r", "c")
        target = f"{arr.name}[{c_out}, {r_out}]" if arr.t else f"{arr.name}[{r_out}, {c_out}]"
        self.lines += [f"for c in range({self.dim(X.cols)}):",
                       f"    for r in range({self.dim(X.rows)}):",
                       f"        {target} += {body}"]
        return sym

    def column_norm(self, Z: MatrixExpr) -> tuple[str, str, str, str]:
        """Per column of ``Z``: its maximum, exp(z − max) (an array of Z's shape),
        Σ exp(z − max) and the log of that sum; computed once per ``Z``."""
        key = str(Z)
        if key not in self._norms:
            mx, s, ls = self.fresh("colmax"), self.fresh("colsum"), self.fresh("logsum")
            E, _ = self.temp(Z, "exp")
            C, R = self.dim(Z.cols), self.dim(Z.rows)
            z, e = self.el(Z, "r", "c"), self.el(E, "r", "c")
            self.lines += [
                f"{mx} = np.empty({C}, dt)", f"{s} = np.empty({C}, dt)",
                f"{ls} = np.empty({C}, dt)",
                f"for c in range({C}):",
                f"    top = {self.el(Z, '0', 'c')}",
                f"    for r in range(1, {R}):",
                f"        top = max(top, {z})",
                "    total = 0.0",
                f"    for r in range({R}):",
                f"        {e} = np.exp({z} - top)",
                f"        total += {e}",
                f"    {mx}[c] = top", f"    {s}[c] = total", f"    {ls}[c] = np.log(total)"]
            self._norms[key] = (mx, E.name, s, ls)
        return self._norms[key]

    # ------------------------------------------------------------------ entries

    def el(self, e: sp.Basic, r: str, c: str) -> str:
        """The code of entry ``(r, c)`` of ``e`` (hoisting what is not element-wise)."""
        if isinstance(e, sp.MatrixSymbol):
            arr = self.bind.get(e.name)
            if arr is None:
                raise VerificationError(f"the fused step has no array for {e.name}")
            return f"{arr.name}[{c}, {r}]" if arr.t else f"{arr.name}[{r}, {c}]"
        if isinstance(e, sp.Transpose):
            return self.el(e.arg, c, r)
        if isinstance(e, sp.MatAdd):
            terms = [(neg, self.el(t, r, c)) for neg, t in signed_terms(e.args)]
            return f"({join_signed(terms)})"
        if isinstance(e, sp.MatMul):
            return self._el_product(e, r, c)
        if isinstance(e, sp.HadamardProduct):
            return "(" + " * ".join(self._factor(a, r, c) for a in e.args) + ")"
        if isinstance(e, Softmax):
            _, E, s, _ = self.column_norm(e.arg)
            return f"({self.el(sp.MatrixSymbol(E, *e.shape), r, c)} / {s}[{c}])"
        if isinstance(e, Apply):
            return self._el_apply(e, r, c)
        if isinstance(e, sp.OneMatrix):
            return "1.0"
        if isinstance(e, sp.ZeroMatrix):
            return "0.0"
        raise NotImplementedError(f"the fused step cannot print {type(e).__name__} ({e})")

    def _el_product(self, e: sp.MatMul, r: str, c: str) -> str:
        coeff, fs = e.as_coeff_matrices()
        fs = [f for f in fs if not isinstance(f, sp.Identity)]
        if len(fs) == 1:
            body = self.el(fs[0], r, c)
        elif len(fs) == 2 and _ones_row(fs[1]) and fs[0].cols == 1:  # v 𝟏ᵀ: v broadcast
            body = self.el(fs[0], r, "0")
        elif len(fs) == 2 and _ones_col(fs[0]) and fs[1].rows == 1:  # 𝟏 u
            body = self.el(fs[1], "0", c)
        else:
            body = self.el(self.product(fs), r, c)
        return body if coeff == 1 else f"({self.scalar(coeff)} * {body})"

    def _factor(self, e: sp.Basic, r: str, c: str) -> str:
        if _is_step(e):
            return f"({self.el(e.arg, r, c)} {self.step_op} 0)"
        return self.el(e, r, c)

    def _el_apply(self, e: Apply, r: str, c: str) -> str:
        if e.fname == "log" and e.order == 0 and isinstance(e.arg, Softmax):
            mx, _, _, ls = self.column_norm(e.arg.arg)
            return f"({self.el(e.arg.arg, r, c)} - {mx}[{c}] - {ls}[{c}])"
        if _is_step(e):
            return f"(1.0 if {self.el(e.arg, r, c)} {self.step_op} 0 else 0.0)"
        entry = ACTIVATIONS.get(e.fname)
        if entry is not None and e.order == 0:
            return f"({entry.numpy_code(self.el(e.arg, r, c), _np)})"
        raise NotImplementedError(f"the fused step cannot print {e}")


__all__ = ["NO_TRANS", "ROW_MAJOR", "TRANS", "Arr", "LoopPrinter"]
