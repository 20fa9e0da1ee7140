"""The matrix language's tree (:mod:`jacobian_lab.language.matrix_syntax`), with its shapes
(:mod:`jacobian_lab.language.matrix_shapes`), as matrix-layer expressions.

Vectors are columns, scalars are 1 × 1 matrices, numbers and dimensions used as values are
scalar coefficients. The notes' scalar expansion and broadcasting become explicit products
with 𝟏 (a scalar s added to an n-vector is 𝟏s; a column b added to an n × c matrix is b𝟏ᵀ),
so the rule table differentiates them like any product. The argument of every function call
that is not a name becomes a named intermediate (z1, a1, r1, …), which is what the chain walk
(:mod:`jacobian_lab.core.chain`) shows as its steps.

>>> from jacobian_lab.language.matrix_shapes import parse_shapes
>>> built = build("sum(relu(W*x + b))", parse_shapes(["W=n,m", "x=m"]))
>>> [str(name) for name, _ in built.links], built.links[0][1]
(['z1', 'f'], W*x + b)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import ShapeError, UsageError
from jacobian_lab.language.matrix_shapes import ELEMENTWISE, Shape, Shapes, infer, parse_shape
from jacobian_lab.language.matrix_syntax import (
    Binary,
    Call,
    Name,
    Neg,
    Node,
    Number,
    Transpose,
    parse,
)
from jacobian_lab.matrix.expr import (
    ELEMENTWISE as MATRIX_FUNCTIONS,
)
from jacobian_lab.matrix.expr import (
    Softmax,
    SquareFunction,
    T,
    apply,
    diag,
    dim,
    divide,
    hadamard,
    ones,
)

Value: TypeAlias = Any  # a MatrixExpr, or a coefficient: a number or a dimension used as a value
Link = tuple[sp.MatrixSymbol, MatrixExpr]

_INTERMEDIATE_NAMES = ("z", "a", "r", "s", "u", "v")


@dataclass
class Built:
    """The expression as matrix-layer objects: the user's names, the intermediates in order
    (the last is the output ``f``), and the dimension symbols."""

    output: sp.MatrixSymbol
    links: list[Link]
    variables: dict[str, sp.MatrixSymbol]
    dims: dict[str, sp.Symbol]
    shapes: Shapes
    text: str
    expression: MatrixExpr = field(init=False)

    def __post_init__(self) -> None:
        expr: sp.Basic = self.links[-1][1]
        for name, definition in reversed(self.links[:-1]):
            expr = expr.xreplace({name: definition})
        self.expression = expr


def _size(d: int | str, dims: dict[str, sp.Symbol]) -> sp.Expr | int:
    if isinstance(d, int):
        return d
    return dims.setdefault(d, dim(d))


class _Builder:
    def __init__(self, shapes: Shapes, text: str) -> None:
        self.shapes = shapes
        self.text = text
        self.dims: dict[str, sp.Symbol] = {}
        self.variables: dict[str, sp.MatrixSymbol] = {}
        self.links: list[Link] = []
        self.counts: dict[str, int] = {}
        for name, s in shapes.names.items():
            if name == "I":
                continue
            self.variables[name] = sp.MatrixSymbol(name, _size(s.rows, self.dims),
                                                   _size(s.cols, self.dims))

    # -- helpers
    def size(self, s: Shape) -> tuple[sp.Expr | int, sp.Expr | int]:
        return _size(s.rows, self.dims), _size(s.cols, self.dims)

    def shape(self, node: Node) -> Shape:
        return self.shapes.of(node)

    def fresh(self, prefix: str, like: MatrixExpr) -> sp.MatrixSymbol:
        taken = set(self.variables) | set(self.dims)
        while True:
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            name = f"{prefix}{self.counts[prefix]}"
            if name not in taken:
                return sp.MatrixSymbol(name, *like.shape)

    def named(self, value: MatrixExpr, prefix: str) -> MatrixExpr:
        """``value`` as a named intermediate, unless it already is a name."""
        if isinstance(value, sp.MatrixSymbol):
            return value
        sym = self.fresh(prefix, value)
        self.links.append((sym, value))
        return sym

    def unsupported(self, what: str, node: Node) -> ShapeError:
        col = getattr(node, "col", 0)
        return ShapeError(f"{what} is not supported yet (at column {col + 1} of {self.text!r})")

    # -- values
    def matrix(self, value: Value, s: Shape) -> MatrixExpr:
        """A coefficient as a matrix of shape ``s`` (scalar expansion); matrices unchanged."""
        if isinstance(value, MatrixExpr):
            return value
        rows, cols = self.size(s)
        return value * ones(rows, cols)

    def scalar_times(self, s: MatrixExpr, x: MatrixExpr, shape: Shape) -> MatrixExpr:
        """A 1 × 1 ``s`` times ``x``: x·s for a column, s·x for a row."""
        if shape.cols == 1:
            return x * s
        if shape.rows == 1:
            return s * x
        rows, cols = self.size(shape)
        return hadamard(ones(rows, 1) * s * ones(1, cols), x)

    def broadcast(self, value: Value, own: Shape, to: Shape) -> MatrixExpr:
        """``value`` (of shape ``own``) expanded to ``to``: a scalar to 𝟏s𝟏ᵀ, a column to b𝟏ᵀ,
        a row to 𝟏r."""
        if not isinstance(value, MatrixExpr):
            return self.matrix(value, to)
        if own == to:
            return value
        rows, cols = self.size(to)
        if own.is_scalar:
            if to.cols == 1:
                return ones(rows, 1) * value
            if to.rows == 1:
                return value * ones(1, cols)
            return ones(rows, 1) * value * ones(1, cols)
        if own.cols == 1:
            return value * ones(1, cols)
        return ones(rows, 1) * value

    # -- nodes
    def build(self, node: Node) -> Value:
        if isinstance(node, Number):
            return sp.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, Name):
            if node.id in self.variables:
                return self.variables[node.id]
            if node.id == "I":
                rows, _ = self.size(self.shape(node))
                return sp.Identity(rows)
            return _size(node.id, self.dims)  # a dimension used as a value
        if isinstance(node, Neg):
            return -self.build(node.arg)
        if isinstance(node, Transpose):
            inner = self.build(node.arg)
            return T(inner) if isinstance(inner, MatrixExpr) else inner
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def binary(self, node: Binary) -> Value:
        if (node.op in ("^", ".^") and isinstance(node.left, Call) and node.left.func == "norm"
                and isinstance(node.right, Number) and node.right.value == 2):
            return self.norm_squared(node.left)
        a, b = self.build(node.left), self.build(node.right)
        sa, sb, out = self.shape(node.left), self.shape(node.right), self.shape(node)
        ma, mb = isinstance(a, MatrixExpr), isinstance(b, MatrixExpr)
        op = node.op
        if op in ("+", "-"):
            if not ma and not mb:
                return a + b if op == "+" else a - b
            left, right = self.broadcast(a, sa, out), self.broadcast(b, sb, out)
            return left + right if op == "+" else left - right
        if op == "*":
            if not ma or not mb:
                return a * b
            if sa.is_scalar and not sb.is_scalar:
                return self.scalar_times(a, b, sb)
            if sb.is_scalar and not sa.is_scalar:
                return self.scalar_times(b, a, sa)
            return a * b
        if op == "/":
            if not mb:
                return a / b
            inverse = sp.HadamardPower(b, -1)
            return inverse if not ma and a == 1 else (
                self.scalar_times(inverse, self.matrix(a, sa), sa) if not sa.is_scalar
                else hadamard(self.matrix(a, sa), inverse))
        if op in (".*", "./"):
            if not ma or not mb:
                if op == "./" and mb:
                    return self.scalar_times(self.matrix(a, sa), sp.HadamardPower(b, -1), sb)
                return a * b if op == ".*" else a / b
            left, right = self.broadcast(a, sa, out), self.broadcast(b, sb, out)
            return hadamard(left, right) if op == ".*" else divide(left, right)
        # "^" and ".^": a numeric exponent
        if mb or not isinstance(b, sp.Expr) or not b.is_Rational:
            raise self.unsupported("an exponent that is not a number", node)
        if not ma:
            return a**b
        return sp.HadamardPower(a, b)

    def norm_squared(self, call: Call) -> MatrixExpr:
        """‖v‖² = vᵀv for a column (v vᵀ for a row); ‖X‖² = 𝟏ᵀ(X ∘ X)𝟏 (Frobenius)."""
        s = self.shape(call.args[0])
        r = self.named(self.matrix(self.build(call.args[0]), s), "r")
        if s.cols == 1:
            return T(r) * r
        if s.rows == 1:
            return r * T(r)
        rows, cols = self.size(s)
        return ones(1, rows) * sp.HadamardPower(r, 2) * ones(cols, 1)

    def call(self, node: Call) -> Value:
        f = node.func
        if f in ("ones", "eye"):
            rows, cols = self.size(self.shape(node))
            return ones(rows, cols) if f == "ones" else sp.Identity(rows)
        args = [self.build(a) for a in node.args]
        shapes = [self.shape(a) for a in node.args]
        x = args[0]
        if not isinstance(x, MatrixExpr):
            x = self.matrix(x, shapes[0])
        if f in ELEMENTWISE or f in ("softmax", "log_softmax"):
            z = self.named(x, "z")
            if f == "step":
                return apply("relu", z, 1)
            if f == "softmax":
                return Softmax(z)
            if f == "log_softmax":
                return apply("log", self.named(Softmax(z), "s"))
            if f not in MATRIX_FUNCTIONS:
                raise self.unsupported(f"the element-wise function {f} in the matrix layer", node)
            return apply(f, z)
        if f == "T":
            return T(x)
        if f == "sum":
            rows, cols = self.size(shapes[0])
            total = ones(1, rows) * x
            return total if shapes[0].cols == 1 else total * ones(cols, 1)
        if f == "dot":
            y = args[1] if isinstance(args[1], MatrixExpr) else self.matrix(args[1], shapes[1])
            return T(x) * y
        if f == "diag":
            return diag(x)
        if f == "norm":  # ‖x‖ = (‖x‖²)^(1/2), the 2-norm of a vector, Frobenius of a matrix
            return sp.HadamardPower(self.named(self.norm_squared(node), "u"), sp.S.Half)
        if f in SquareFunction.NAMES:
            return SquareFunction(f, x)
        if f == "inv":
            return sp.Inverse(x)
        if f == "logsumexp":  # log(𝟏ᵀ exp(z)), column by column
            z = self.named(x, "z")
            return apply("log", self.named(ones(1, z.shape[0]) * apply("exp", z), "u"))
        raise self.unsupported(f"{f}(…)", node)


def build(text: str, shapes: Mapping[str, Shape], output: str = "f") -> Built:
    """Parse ``text``, infer its shapes and build it with named intermediates."""
    tree = parse(text)
    inferred = infer(tree, shapes, text)
    b = _Builder(inferred, text)
    value = b.build(tree)
    if not isinstance(value, MatrixExpr):
        value = value * sp.Identity(1) if value != 0 else sp.ZeroMatrix(1, 1)
    if output in b.variables:
        raise UsageError(f"`{output}` names the expression; rename the variable `{output}`")
    out = sp.MatrixSymbol(output, *value.shape)
    b.links.append((out, value))
    return Built(out, b.links, b.variables, b.dims, inferred, text)


def define(
    definitions: Sequence[tuple[str, str]], shapes: Mapping[str, Shape | str],
) -> list[Link]:
    """Named definitions in the matrix language, in order — each may use the variables and
    the names defined before it — as the links of a derivation (a name's shape is its
    definition's). Intermediates a definition needs (the argument of a function that is not
    a name) come before it. Shapes may be given as text (``"n,m"``).

    >>> links = define([("H", "w .* x"), ("s", "sum(H)"), ("a", "relu(s + b)")],
    ...                {"w": "n", "x": "n", "b": "1"})
    >>> [(str(name), str(value)) for name, value in links]
    [('H', 'HadamardProduct(w, x)'), ('s', '1*H'), ('z1', 'b + s'), ('a', 'Apply(relu, z1, 0)')]
    """
    known = {n: parse_shape(s) if isinstance(s, str) else s for n, s in shapes.items()}
    links: list[Link] = []
    for name, text in definitions:
        if name in known or any(name == str(n) for n, _ in links):
            raise UsageError(f"`{name}` is defined twice (or is also a variable)")
        built = build(text, known, output=name)
        taken = {str(n) for n, _ in links}
        clash = [str(n) for n, _ in built.links[:-1] if str(n) in taken]
        if clash:
            raise UsageError(f"the intermediate {clash[0]} of {text!r} is named twice: name "
                             "the argument of the function yourself")
        links += built.links
        for n, _ in built.links:
            known[str(n)] = Shape(*(int(d) if d.is_Integer else str(d) for d in n.shape))
    return links


def declare(*symbols: sp.MatrixSymbol) -> dict[str, Shape]:
    """The shapes of matrix-layer symbols, for :func:`define` (``W1`` of n1 × n0: "n1,n0")."""
    return {m.name: Shape(*(int(d) if sp.sympify(d).is_Integer else str(d) for d in m.shape))
            for m in symbols}
