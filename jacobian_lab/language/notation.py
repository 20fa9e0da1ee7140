"""The notes' notation as one-line Unicode text, for the terminal: ``step(z) xᵀ``, ``diag(x)``,
``w ⊙ x``, ``𝟏ᵀ``, ``∂a/∂w``.

A subclass of SymPy's ``StrPrinter`` with one ``_print_<Class>`` per matrix-layer node.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

_SUP_T = "ᵀ"


def ones_matrix(e: Any) -> bool:
    """A ones matrix with neither side 1 (m × n), printed 𝟏𝟏ᵀ: a ones vector is 𝟏 or 𝟏ᵀ."""
    return isinstance(e, sp.OneMatrix) and e.shape[0] != 1 and e.shape[1] != 1
_SUPERSCRIPT_DIGITS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# Characters that put a script on a name (a layer index, a subscript, a prime).
_SCRIPTS = frozenset("⁽⁾ˡᴸᴬ⁺⁻⁰¹²³⁴⁵⁶⁷⁸⁹ᵢⱼₖₐ₀₁₂₃₄₅₆₇₈₉′ᵀ")


def split_reciprocals(args: Any) -> tuple[list[Any], list[Any]]:
    """The factors of a Hadamard product as (numerators, denominators): each u^∘(−1) is a
    denominator u; every other factor a numerator."""
    num: list[Any] = []
    den: list[Any] = []
    for a in args:
        if type(a).__name__ == "HadamardPower" and a.args[1] == -1:
            den.append(a.args[0])
        else:
            num.append(a)
    return num, den


class NotationPrinter(StrPrinter):
    """Linear Unicode text in the notes' notation."""

    def _print_MatrixSymbol(self, e: sp.MatrixSymbol) -> str:
        return str(e.name)

    def _print_Scalar(self, e: sp.Basic) -> str:
        return self._print(e.args[0])

    def _print_Partial(self, e: sp.Basic) -> str:
        return f"∂{self._print(e.args[0])}/∂{self._print(e.args[1])}"

    def _print_Apply(self, e: Any) -> str:
        return f"{e.function.text(e.order)}({self._print(e.arg)})"

    def _print_Softmax(self, e: Any) -> str:
        return f"softmax({self._print(e.arg)})"

    def _print_DiagMatrix(self, e: Any) -> str:
        return f"diag({self._print(e.args[0])})"

    def _print_SquareFunction(self, e: Any) -> str:
        if e.fname == "logdet":
            return f"log |det({self._print(e.arg)})|"
        return f"{e.fname}({self._print(e.arg)})"

    def _inverted(self, a: Any, script: str) -> str:
        s = self._print(a)
        return (s if isinstance(a, sp.MatrixSymbol) and s.isalnum() else f"({s})") + script

    def _print_Inverse(self, e: Any) -> str:
        if isinstance(e.arg, sp.Transpose):  # (Xᵀ)⁻¹ = X⁻ᵀ
            return self._inverted(e.arg.arg, "⁻ᵀ")
        return self._inverted(e.arg, "⁻¹")

    def _print_OneMatrix(self, e: Any) -> str:
        if e.shape == (1, 1):
            return "1"
        if ones_matrix(e):  # m × n: the outer product of two ones vectors
            return "𝟏𝟏ᵀ"
        return "𝟏ᵀ" if e.shape[0] == 1 else "𝟏"

    def _print_Identity(self, e: Any) -> str:
        return "1" if e.shape == (1, 1) else "I"

    def _print_ZeroMatrix(self, e: Any) -> str:
        return "0" if e.shape == (1, 1) else "𝟎"

    def _print_Transpose(self, e: Any) -> str:
        a = e.arg
        if isinstance(a, sp.Inverse):  # (X⁻¹)ᵀ = X⁻ᵀ
            return self._inverted(a.arg, "⁻ᵀ")
        if isinstance(a, sp.OneMatrix):  # (𝟏𝟏ᵀ)ᵀ = 𝟏𝟏ᵀ of the other shape; (𝟏)ᵀ = 𝟏ᵀ
            return self._print(sp.OneMatrix(a.shape[1], a.shape[0]))
        s = self._print(a)
        atoms = (sp.MatrixSymbol, sp.OneMatrix)
        is_call = type(a).__name__ in ("Apply", "Softmax", "DiagMatrix")
        if not isinstance(a, atoms) and not is_call and not s.isalnum():
            s = f"({s})"
        return s + _SUP_T

    def _print_HadamardProduct(self, e: Any) -> str:
        # A factor u^∘(−1) is a division, written as the notes write it: y ⊙ a^∘(−1) is y ⊘ a.
        numerators, denominators = split_reciprocals(e.args)
        if denominators and numerators:
            num = self._hadamard_factors(numerators)
            den = self._hadamard_factors(denominators)
            num = f"({num})" if len(numerators) > 1 else num
            den = f"({den})" if len(denominators) > 1 else den
            return f"{num} ⊘ {den}"
        return self._hadamard_factors(e.args)

    def _hadamard_factors(self, args: Any) -> str:
        # A matrix product inside ⊙ is bracketed: (Wᵀ δ) ⊙ σ′(z), never Wᵀ δ ⊙ σ′(z); so is
        # the ones matrix 𝟏𝟏ᵀ, which reads as one.
        return " ⊙ ".join(
            f"({self._print(a)})" if isinstance(a, sp.MatMul) or ones_matrix(a)
            else self.parenthesize(a, PRECEDENCE["Mul"], strict=True)
            for a in args
        )

    def _print_HadamardPower(self, e: Any) -> str:
        # A base with a superscript of its own is bracketed: (a⁽²⁾)^∘2, never a⁽²⁾^∘2.
        base, p = e.args
        b = self.parenthesize(base, PRECEDENCE["Pow"], strict=True)
        if not b.startswith("(") and any(c in _SCRIPTS for c in b):
            b = f"({b})"
        return f"{b}^∘({self._print(p)})"

    def _print_MatMul(self, e: Any) -> str:
        coeff, factors = e.as_coeff_matrices()
        parts = []
        for f in factors:
            parts.append(self.parenthesize(f, PRECEDENCE["Mul"], strict=False))
        body = " ".join(parts)
        if coeff == 1:
            return body
        if coeff == -1:
            return f"-{body}"
        c = self.parenthesize(coeff, PRECEDENCE["Mul"], strict=False)
        return f"{c} {body}"

    def _print_MatAdd(self, e: Any) -> str:
        terms = [self._print(a) for a in e.args]
        out = terms[0]
        for t in terms[1:]:
            out += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
        return out

    def _print_Heaviside(self, e: Any) -> str:
        return f"step({self._print(e.args[0])})"

    def _print_SampleSum(self, e: Any) -> str:
        body = e.body
        s = self._print(body)
        if isinstance(body, sp.MatAdd):
            s = f"({s})"
        return f"Σᵢ {s}"

    def _print_Transposed(self, e: Any) -> str:
        return f"({self._print(e.args[0])}){_SUP_T}"

    def _print_Case(self, e: Any) -> str:
        return f"{self._print(e.args[0])} ({e.args[1].name})"

    def _print_Pow(self, e: Any) -> str:
        if type(e.base).__name__ == "Scalar" and e.exp.is_Integer:  # det(X)²
            return self._print_MatPow(sp.MatPow(e.base.args[0], e.exp))
        return super()._print_Pow(e)

    def _print_MatPow(self, e: Any) -> str:
        # det(X)², (u ⊙ v)⁻¹: a whole exponent as a superscript
        base, p = e.args
        b = self._print(base)
        if not (isinstance(base, sp.MatrixSymbol) or (b.endswith(")") and b.count("(") == 1)):
            b = f"({b})"
        if p.is_Integer:
            return b + str(p).translate(_SUPERSCRIPT_DIGITS)
        return f"{b}^({self._print(p)})"

    def _print_Mul(self, e: Any) -> str:
        # A coefficient made of 1 × 1 matrices (eᵢ · step(zᵢ)) reads as a product of
        # scalars, written side by side after the number: "-eᵢ step(zᵢ)", "1/m eᵢ".
        scalars = [a for a in e.args if type(a).__name__ == "Scalar"
                   or (isinstance(a, sp.Pow) and type(a.base).__name__ == "Scalar")]
        if not scalars:
            return super()._print_Mul(e)
        num, rest = e.as_independent(*scalars, as_Add=False)
        parts = []
        for a in sp.Mul.make_args(rest):
            inner = a.args[0] if type(a).__name__ == "Scalar" else a
            text = self._print(a)
            parts.append(f"({text})" if isinstance(inner, sp.MatAdd | sp.Add) else text)
        body = " ".join(parts)
        if num == 1:
            return body
        if num == -1:
            return f"-{body}"
        return f"{self.parenthesize(num, PRECEDENCE['Mul'], strict=False)} {body}"

    # ----------------------------------------------------------------- catalog display nodes

    def _print_MatrixBase(self, e: Any) -> str:
        # Explicit matrices as the notes write them: a row [a, b], a column [a, b]ᵀ,
        # a matrix row by row [[a, b], [c, d]], and a 1 × 1 matrix as its entry.
        if e.shape == (1, 1):
            return self._print(e[0, 0])
        if e.rows == 1 or e.cols == 1:
            body = "[" + ", ".join(self._print(v) for v in e) + "]"
            return body if e.rows == 1 else body + _SUP_T
        rows = ("[" + ", ".join(self._print(v) for v in e.row(i)) + "]" for i in range(e.rows))
        return "[" + ", ".join(rows) + "]"

    def _print_Derivative(self, e: Any) -> str:
        # f′(v1) for the derivative of an unnamed function of one variable.
        f, *variables = e.args
        if (
            isinstance(f, sp.core.function.AppliedUndef)
            and len(f.args) == 1
            and len(variables) == 1
            and variables[0] == (f.args[0], 1)
        ):
            return f"{f.func.__name__}′({self._print(f.args[0])})"
        return super()._print_Derivative(e)

    def _print_Nabla(self, e: Any) -> str:
        return f"∇{self._print(e.args[0])}"

    def _print_At(self, e: Any) -> str:
        head, *values = e.args
        return f"{self._print(head)}({', '.join(self._print(v) for v in values)})"

    def _print_Paren(self, e: Any) -> str:
        return f"({self._print(e.args[0])})"

    def _print_Total(self, e: Any) -> str:
        of, wrt = (self._print(a) for a in e.args)
        return f"d{of}/d{wrt}" if e.args[0].is_Symbol else f"d/d{wrt} {of}"

    def _print_Quotient(self, e: Any) -> str:
        u, v = (self.parenthesize(a, PRECEDENCE["Mul"], strict=True) for a in e.args)
        return f"{u} ⊘ {v}"


def notation(expr: Any) -> str:
    """One-line text of ``expr`` in the notes' notation.

    >>> from jacobian_lab.matrix.expr import vector, hadamard, diag
    >>> notation(hadamard(vector("w"), vector("x")))
    'w ⊙ x'
    >>> notation(diag(vector("x")))
    'diag(x)'
    """
    return NotationPrinter().doprint(expr)
