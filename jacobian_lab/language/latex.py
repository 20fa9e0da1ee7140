"""LaTeX through SymPy's own printer, with the notation of the notes.

``\\operatorname{diag}``, ``\\odot`` for the Hadamard product, ``\\mathbf{1}`` for the ones
vector, bold vectors and ``^{\\top}`` for transposes; matrices in ``bmatrix``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sympy as sp
from sympy.printing.latex import LatexPrinter

from jacobian_lab.language.notation import ones_matrix, split_reciprocals
from jacobian_lab.language.prose import tex

# Names written with Unicode super- and subscripts (W⁽ˡ⁺¹⁾, a⁽ˡ⁻¹⁾, δ⁽²⁾, ∇ₐC, xᵢ) and the
# Greek letters they use, as LaTeX: W^{(l+1)}, a^{(l-1)}, \delta^{(2)}, \nabla_{a}C, x_{i}.
_SUPERSCRIPTS = dict(zip("ˡᴸᴬ⁺⁻⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾", "lLA+-0123456789()", strict=True))
_SUBSCRIPTS = dict(zip("ᵢⱼₐ₀₁₂₃₄₅₆₇₈₉", "ija0123456789", strict=True))
_GREEK = {"δ": r"\delta", "Δ": r"\Delta", "σ": r"\sigma", "∇": r"\nabla ", "θ": r"\theta",
          "α": r"\alpha"}


def _scripted_name(name: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(name):
        for table, mark in ((_SUPERSCRIPTS, "^"), (_SUBSCRIPTS, "_")):
            j = i
            while j < len(name) and name[j] in table:
                j += 1
            if j > i:
                out.append(f"{mark}{{{''.join(table[c] for c in name[i:j])}}}")
                i = j
                break
        else:
            out.append(_GREEK.get(name[i], name[i]))
            i += 1
    return "".join(out).strip()


class JlabLatexPrinter(LatexPrinter):
    """SymPy's LatexPrinter with the notes' notation (one ``_print_<Class>`` per kind)."""

    _default_settings: ClassVar[dict[str, Any]] = {
        **LatexPrinter._default_settings,
        "mat_delim": "",
        "mat_str": "bmatrix",
    }

    def _print_ActivationBase(self, expr: Any, exp: str | None = None) -> str:
        # relu, sigmoid, gelu, …: the activation registry's LaTeX name
        return self._fn(expr.entry().latex, expr, exp, operator=False)

    def _print_Heaviside(self, expr: sp.Expr, exp: str | None = None) -> str:
        # Heaviside(z, 0) is ReLU'(z): the notes call it step(z).
        return self._fn("step", sp.Heaviside(expr.args[0]), exp)

    def _fn(self, name: str, expr: sp.Expr, exp: str | None, operator: bool = True) -> str:
        head = f"\\operatorname{{{name}}}" if operator else name
        body = f"{head}\\left({self._print(expr.args[0])}\\right)"
        return f"{body}^{{{exp}}}" if exp else body

    def _print_HadamardProduct(self, expr: sp.Basic) -> str:
        # y ⊙ a^∘(−1) is a division: y \oslash a, as the notes write it.
        numerators, denominators = split_reciprocals(expr.args)
        if numerators and denominators:
            num, den = (" \\odot ".join(self.parenthesize(a, 50) for a in side)
                        for side in (numerators, denominators))
            num = f"\\left({num}\\right)" if len(numerators) > 1 else num
            den = f"\\left({den}\\right)" if len(denominators) > 1 else den
            return f"{num} \\oslash {den}"
        return " \\odot ".join(
            f"\\left({self._print(a)}\\right)" if ones_matrix(a) else self.parenthesize(a, 50)
            for a in expr.args)

    def _print_Transpose(self, expr: sp.Basic) -> str:
        arg = expr.arg
        if isinstance(arg, sp.Inverse):  # (X^{-1})^T = X^{-T}
            return self._inverted(arg.arg, "-\\top")
        if isinstance(arg, sp.OneMatrix):  # the ones matrix of the other shape
            return self._print(sp.OneMatrix(arg.shape[1], arg.shape[0]))
        s = self._print(arg)
        if not isinstance(arg, sp.MatrixSymbol) and not getattr(arg, "is_Atom", False):
            s = f"\\left({s}\\right)"
        elif "^" in s:
            s = f"{{{s}}}"  # W^{l+1} transposed: {W^{l+1}}^{\\top}, not a double superscript
        return f"{s}^{{\\top}}"

    def _print_DiagMatrix(self, expr: sp.Basic) -> str:
        return f"\\operatorname{{diag}}\\left({self._print(expr.args[0])}\\right)"

    def _print_SquareFunction(self, expr: Any) -> str:
        arg = self._print(expr.arg)
        if expr.fname == "logdet":
            return f"\\log\\left|\\det\\left({arg}\\right)\\right|"
        name = {"tr": "\\operatorname{tr}", "det": "\\det"}[expr.fname]
        return f"{name}\\left({arg}\\right)"

    def _inverted(self, arg: sp.Basic, script: str) -> str:
        s = self._print(arg)
        if not isinstance(arg, sp.MatrixSymbol):
            s = f"\\left({s}\\right)"
        elif "^" in s:
            s = f"{{{s}}}"
        return f"{s}^{{{script}}}"

    def _print_Inverse(self, expr: Any) -> str:
        if isinstance(expr.arg, sp.Transpose):
            return self._inverted(expr.arg.arg, "-\\top")
        return self._inverted(expr.arg, "-1")

    def _deal_with_super_sub(self, string: str, style: str = "plain") -> str:
        # Only names with Unicode scripts are ours to translate; others go to SymPy.
        if any(c in _SUPERSCRIPTS or c in _SUBSCRIPTS for c in string):
            name = _scripted_name(string)
            return f"\\mathbf{{{name}}}" if style == "bold" else name
        return super()._deal_with_super_sub(string, style)

    def _print_MatAdd(self, expr: Any) -> str:
        # The terms in the order they are written (as the terminal shows them): z − y.
        terms = [self._print(a) for a in expr.args]
        out = terms[0]
        for t in terms[1:]:
            out += f" - {t[1:].lstrip()}" if t.startswith("-") else f" + {t}"
        return out

    def _print_Transposed(self, expr: Any) -> str:
        return f"\\left({self._print(expr.args[0])}\\right)^{{\\top}}"

    def _print_Case(self, expr: Any) -> str:
        # the label is prose with formulas (= m ∂C/∂Z2): set as text with its math in $…$
        return f"{self._print(expr.args[0])}\\ \\text{{({tex(expr.args[1].name)})}}"

    def _print_SampleSum(self, expr: Any) -> str:
        body = self._print(expr.body)
        if isinstance(expr.body, sp.MatAdd):
            body = f"\\left({body}\\right)"
        return f"\\sum_{{i=1}}^{{{self._print(expr.m)}}} {body}"

    # ----------------------------------------------------------------- matrix layer

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        name = self._deal_with_super_sub(expr.name)
        if expr.shape[1] == 1 and expr.shape[0] != 1:
            cmd = "\\boldsymbol" if name.startswith("\\") else "\\mathbf"
            return f"{cmd}{{{name}}}"
        return name

    def _print_OneMatrix(self, expr: sp.Basic) -> str:
        if expr.shape == (1, 1):
            return "1"
        if ones_matrix(expr):  # m × n: 𝟏𝟏ᵀ
            return "\\mathbf{1}\\mathbf{1}^{\\top}"
        return "\\mathbf{1}^{\\top}" if expr.shape[0] == 1 else "\\mathbf{1}"

    def _print_Identity(self, expr: sp.Basic) -> str:
        return "1" if expr.shape == (1, 1) else "I"

    def _print_ZeroMatrix(self, expr: sp.Basic) -> str:
        return "0" if expr.shape == (1, 1) else "\\mathbf{0}"

    def _print_Scalar(self, expr: sp.Basic) -> str:
        return self._print(expr.args[0])

    def _print_Partial(self, expr: sp.Basic) -> str:
        of, wrt = (self._print(a) for a in expr.args)
        return f"\\frac{{\\partial {of}}}{{\\partial {wrt}}}"

    def _print_Apply(self, expr: Any) -> str:
        f = expr.function
        name = f.latex if expr.order == 0 else f.derivative_latex
        if expr.order > 1:
            name = f"{f.latex}^{{({expr.order})}}"
        return f"{name}\\left({self._print(expr.arg)}\\right)"

    def _print_Softmax(self, expr: Any) -> str:
        return f"\\operatorname{{softmax}}\\left({self._print(expr.arg)}\\right)"

    def _print_HadamardPower(self, expr: Any) -> str:
        base, p = expr.args
        b = self.parenthesize(base, 60)
        if "^" in b and not b.startswith("\\left("):
            b = f"\\left({b}\\right)"  # (a^{(2)})^{\\circ 2}: never a double superscript
        return f"{b}^{{\\circ {self._print(p)}}}"

    # ----------------------------------------------------------------- catalog display nodes

    def _print_Nabla(self, expr: Any) -> str:
        return f"\\nabla {self._print(expr.args[0])}"

    def _print_At(self, expr: Any) -> str:
        head, *values = expr.args
        return f"{self._print(head)}\\left({', '.join(self._print(v) for v in values)}\\right)"

    def _print_Paren(self, expr: Any) -> str:
        return f"\\left({self._print(expr.args[0])}\\right)"

    def _print_Total(self, expr: Any) -> str:
        of, wrt = (self._print(a) for a in expr.args)
        if expr.args[0].is_Symbol:
            return f"\\frac{{d {of}}}{{d {wrt}}}"
        return f"\\frac{{d}}{{d {wrt}}} {of}"

    def _print_Quotient(self, expr: Any) -> str:
        return " \\oslash ".join(self.parenthesize(a, 50) for a in expr.args)


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX of a SymPy object in the notes' notation.

    >>> import sympy as sp
    >>> latex(sp.Matrix([[1, 2]]))
    '\\\\begin{bmatrix}1 & 2\\\\end{bmatrix}'
    """
    return JlabLatexPrinter(settings).doprint(expr)
