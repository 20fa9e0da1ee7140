"""Matrix-layer expressions: dimension-free vectors and matrices in the notes' notation.

Built on SymPy's matrix expressions (``MatrixSymbol``, ``MatMul``, ``MatAdd``,
``Transpose``, ``HadamardProduct``, ``HadamardPower``, ``DiagMatrix``, ``OneMatrix``,
``Identity``) plus two nodes SymPy lacks:

* :class:`Apply` — a scalar function applied element-wise, ``f(z)`` (``order=1``: ``f'(z)``);
* :class:`Softmax` — the softmax of a column vector (or of each column of a matrix).

Conventions: vectors are columns; a scalar is a 1 × 1 matrix, so ``x·𝟏`` is scalar
expansion and ``𝟏ᵀv`` is the sum of ``v``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import ShapeError, UnknownNameError, did_you_mean
from jacobian_lab.language.activations import ACTIVATIONS


@dataclass(frozen=True)
class ScalarFunction:
    """A scalar function the matrix layer can apply element-wise."""

    name: str
    func: Callable[[sp.Expr], sp.Expr]
    latex: str  # LaTeX of the function's name
    derivative_latex: str  # LaTeX of f' (its name, applied to the argument)
    # f^(k)(t) when it cannot be found by differentiating ``func`` (a generic activation).
    derivative: Callable[[sp.Expr, int], sp.Expr] | None = None
    derivative_text: str = ""  # Unicode name of f' ("step" for ReLU); default f′

    def __call__(self, t: sp.Expr, order: int = 0) -> sp.Expr:
        if order == 0:
            return self.func(t)
        if self.derivative is not None:
            return self.derivative(t, order)
        d = sp.Dummy("t", real=True)
        return sp.diff(self.func(d), d, order).xreplace({d: t})

    def text(self, order: int = 0) -> str:
        """The Unicode name of f⁽ᵒʳᵈᵉʳ⁾: ``relu``, ``step``, ``tanh′``, ``σ′′``."""
        if order == 0:
            return self.name
        if order == 1 and self.derivative_text:
            return self.derivative_text
        return self.name + chr(0x2032) * order


def _generic(name: str) -> Callable[[sp.Expr, int], sp.Expr]:
    return lambda t, order: sp.Function(name + chr(0x2032) * order, real=True)(t)


ELEMENTWISE: dict[str, ScalarFunction] = {
    f.name: f
    for f in (
        # the activations, from their registry (relu, leaky_relu, sigmoid, tanh, …)
        *(ScalarFunction(a.name, a.function, a.latex, a.derivative_latex,
                          derivative_text=a.derivative_text) for a in ACTIVATIONS.values()),
        ScalarFunction("exp", sp.exp, r"\exp", r"\exp", derivative_text="exp"),
        ScalarFunction("log", sp.log, r"\log", r"\log'"),
        ScalarFunction("square", lambda t: t**2, r"(\cdot)^{2}", r"2\,"),
        ScalarFunction("identity", lambda t: t, r"\operatorname{id}", r"\operatorname{id}'"),
        # Any activation, for results that hold whatever σ is (backprop's BP1–BP4). It is
        # an undefined function: specialise it (:func:`specialise`) before instantiating.
        ScalarFunction("σ", sp.Function("σ", real=True), r"\sigma", r"\sigma'", _generic("σ")),
    )
}


def scalar_function(name: str) -> ScalarFunction:
    try:
        return ELEMENTWISE[name]
    except KeyError:
        raise UnknownNameError(
            f"Unknown element-wise function `{name}`{did_you_mean(name, ELEMENTWISE)}; "
            f"known: {', '.join(ELEMENTWISE)}"
        ) from None


class Apply(MatrixExpr):
    """``f`` (or its ``order``-th derivative) applied to every entry of ``arg``."""

    def __new__(cls, name: str | Str, arg: MatrixExpr, order: int | sp.Integer = 0) -> Apply:
        name = Str(str(name))
        scalar_function(name.name)
        return super().__new__(cls, name, sp.sympify(arg), sp.Integer(order))

    @property
    def fname(self) -> str:
        return self.args[0].name

    @property
    def arg(self) -> MatrixExpr:
        return self.args[1]

    @property
    def order(self) -> int:
        return int(self.args[2])

    @property
    def function(self) -> ScalarFunction:
        return ELEMENTWISE[self.fname]

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.arg.shape

    def _entry(self, i: int, j: int, **kwargs: object) -> sp.Expr:
        return self.function(self.arg._entry(i, j, **kwargs), self.order)

    def derivative(self) -> Apply:
        return Apply(self.fname, self.arg, self.order + 1)



class Softmax(MatrixExpr):
    """softmax(z)ᵢ = exp(zᵢ) / Σₖ exp(zₖ), column by column."""

    def __new__(cls, arg: MatrixExpr) -> Softmax:
        return super().__new__(cls, sp.sympify(arg))

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.arg.shape

    def _entry(self, i: int, j: int, **kwargs: object) -> sp.Expr:
        rows = self.arg.shape[0]
        if not isinstance(rows, int | sp.Integer):
            raise ShapeError("softmax entries need a concrete size")
        col = [self.arg._entry(k, j, **kwargs) for k in range(int(rows))]
        return sp.exp(col[i]) / sp.Add(*[sp.exp(c) for c in col])


class SquareFunction(MatrixExpr):
    """A scalar (1 × 1) function of a square matrix: ``tr``, ``det`` or ``logdet``
    (log |det A|). SymPy's ``Trace`` and ``Determinant`` are scalars, not
    matrices; as 1 × 1 matrices these compose with the rest of the layer."""

    NAMES = ("tr", "det", "logdet")

    def __new__(cls, name: str | Str, arg: MatrixExpr) -> SquareFunction:
        name = Str(str(name))
        if name.name not in cls.NAMES:
            raise ShapeError(f"{name.name} is not one of {', '.join(cls.NAMES)}")
        arg = sp.sympify(arg)
        if arg.shape[0] != arg.shape[1]:
            raise ShapeError(f"{name.name}({arg}) needs a square matrix, not {arg.shape}")
        return super().__new__(cls, name, arg)

    @property
    def fname(self) -> str:
        return self.args[0].name

    @property
    def arg(self) -> MatrixExpr:
        return self.args[1]

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return (sp.S.One, sp.S.One)


class SampleSum(MatrixExpr):
    """Σᵢ body over the m samples of a batch: the per-sample symbols of ``body`` (``xᵢ``,
    ``yᵢ``) stand for column i of their batch matrices (``X``, ``y``).

    ``pairs`` maps each per-sample symbol to its batch matrix: a k × 1 sample to the k × m
    matrix whose columns are the samples, a 1 × 1 sample to an m × 1 (or 1 × m) vector.
    Instantiated at a concrete m, the sum is built sample by sample from the columns.
    """

    def __new__(
        cls,
        body: MatrixExpr,
        pairs: sp.Tuple | tuple[tuple[sp.MatrixSymbol, sp.MatrixSymbol], ...],
        m: sp.Expr | int,
    ) -> SampleSum:
        pairs = sp.Tuple(*(sp.Tuple(s, b) for s, b in pairs))
        for sample, batch in pairs:
            ok = batch.shape == (sample.shape[0], m) or (
                sample.shape == (1, 1) and batch.shape in ((m, 1), (1, m))
            )
            if not ok:
                raise ShapeError(
                    f"the batch {batch} ({batch.shape}) cannot hold the samples {sample} "
                    f"({sample.shape}) as its {m} columns"
                )
        return super().__new__(cls, sp.sympify(body), pairs, sp.sympify(m))

    @property
    def body(self) -> MatrixExpr:
        return self.args[0]

    @property
    def pairs(self) -> tuple[tuple[sp.MatrixSymbol, sp.MatrixSymbol], ...]:
        return tuple((s, b) for s, b in self.args[1])

    @property
    def m(self) -> sp.Expr:
        return self.args[2]

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return self.body.shape


class Scalar(sp.Expr):
    """A 1 × 1 matrix used as a scalar coefficient (it may multiply a matrix of any shape).

    It prints as the 1 × 1 matrix it wraps: ``Scalar(b)`` reads ``b``.
    """

    is_commutative = True

    def __new__(cls, m: MatrixExpr) -> Scalar:
        if m.shape != (1, 1):
            raise ShapeError(f"Scalar() wraps a 1×1 matrix, not {m.shape}")
        return super().__new__(cls, m)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]


def T(m: MatrixExpr) -> MatrixExpr:
    """The transpose, kept as written (``.T`` would distribute over sums)."""
    return sp.Transpose(m)


# --------------------------------------------------------------------------- builders

DIM_N, DIM_K, DIM_M, DIM_J = sp.symbols("n k m j", integer=True, positive=True)


def dim(name: str) -> sp.Symbol:
    """A dimension symbol (a positive integer)."""
    return sp.Symbol(name, integer=True, positive=True)


def vector(name: str, n: sp.Expr | int = DIM_N) -> sp.MatrixSymbol:
    """A column vector ``name`` of length ``n``."""
    return sp.MatrixSymbol(name, n, 1)


def scalar(name: str) -> sp.MatrixSymbol:
    """A scalar, as a 1 × 1 matrix so it composes with vectors."""
    return sp.MatrixSymbol(name, 1, 1)


def matrix(name: str, rows: sp.Expr | int, cols: sp.Expr | int) -> sp.MatrixSymbol:
    return sp.MatrixSymbol(name, rows, cols)


def ones(n: sp.Expr | int, m: sp.Expr | int = 1) -> sp.OneMatrix:
    """The ones vector 𝟏 (n × 1), or an n × m matrix of ones."""
    return sp.OneMatrix(n, m)


def diag(v: MatrixExpr) -> DiagMatrix:
    """diag(v): the square matrix with ``v`` on its diagonal."""
    return DiagMatrix(v)


def hadamard(*args: MatrixExpr) -> MatrixExpr:
    """The element-wise (Hadamard) product u ⊙ v."""
    return sp.HadamardProduct(*args)


def divide(u: MatrixExpr, v: MatrixExpr) -> MatrixExpr:
    """Element-wise division u ÷ v = u ⊙ v^∘(−1)."""
    return sp.HadamardProduct(u, sp.HadamardPower(v, -1))


def apply(name: str, arg: MatrixExpr, order: int = 0) -> Apply:
    return Apply(name, arg, order)


def vsum(v: MatrixExpr) -> MatrixExpr:
    """sum(v) = 𝟏ᵀ v (a 1 × 1 result)."""
    return sp.MatMul(sp.OneMatrix(1, v.shape[0]), v)


def expand_scalar(x: MatrixExpr, n: sp.Expr | int) -> MatrixExpr:
    """Scalar expansion: the n-vector x·𝟏 with every entry equal to the scalar x."""
    return sp.MatMul(sp.OneMatrix(n, 1), x)


def softmax(z: MatrixExpr) -> Softmax:
    return Softmax(z)


def specialise(expr: sp.Basic, functions: dict[str, str]) -> sp.Basic:
    """Replace element-wise functions by name, e.g. the generic σ by ``relu``.

    >>> from jacobian_lab.matrix.expr import vector
    >>> specialise(apply("σ", vector("z"), 1), {"σ": "relu"})
    Apply(relu, z, 1)
    """
    for name in functions.values():
        scalar_function(name)
    return expr.replace(
        lambda e: isinstance(e, Apply) and e.fname in functions,
        lambda e: Apply(functions[e.fname], e.arg, e.order),
    )


__all__ = [
    "DIM_J",
    "DIM_K",
    "DIM_M",
    "DIM_N",
    "ELEMENTWISE",
    "Apply",
    "SampleSum",
    "Scalar",
    "ScalarFunction",
    "Softmax",
    "SquareFunction",
    "T",
    "apply",
    "diag",
    "dim",
    "divide",
    "expand_scalar",
    "hadamard",
    "matrix",
    "ones",
    "scalar",
    "scalar_function",
    "softmax",
    "specialise",
    "vector",
    "vsum",
]
