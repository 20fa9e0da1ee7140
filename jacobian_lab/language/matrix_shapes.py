"""The matrix language's shapes: declared with ``--shape``, inferred where unique, checked.

Every node of a parsed expression gets a shape ``rows × cols`` whose dimensions are positive
integers or dimension symbols (``n``, ``m``, …). Vectors are columns (``x=m`` is ``m × 1``), a
scalar is ``1 × 1``. The rules (docs/MATRIX_LANGUAGE.md):

* ``A*B`` (``@``): a scalar scales; otherwise the inner dimensions must agree;
* ``+``, ``-``, ``.*``, ``./``: equal shapes; a scalar expands to the other shape; a column
  broadcasts across the columns of a matrix with as many rows (``W*X + b``), a row across
  the rows of a matrix with as many columns (``X*W' + b'``);
* ``/`` and ``.^`` and ``^`` need a scalar on the right; ``^`` also a scalar on the left;
* transposes swap; element-wise functions keep the shape; ``sum``, ``dot``, ``norm``, ``tr``,
  ``det``, ``logdet`` give scalars (``tr``/``det``/``logdet``/``inv`` of square matrices);
  ``diag(v)`` of a column is square; ``ones(n)``, ``ones(n, m)``, ``eye(n)``;
  ``softmax``/``log_softmax`` keep the shape (column-wise), ``logsumexp`` gives a row.

Names without a declared shape take the shape their use forces (the other operand of a sum,
the argument of ``dot``, …); a dimension symbol used as a value (``1/(2*m)``) is a scalar.
Where the use does not decide (a product with an undeclared name: scalar or matrix?), the
error lists the names that need ``--shape``.

>>> from jacobian_lab.language.matrix_syntax import parse
>>> shapes = infer(parse("W*x + b"), {"W": parse_shape("n,m"), "x": parse_shape("m")})
>>> shapes.names["b"], shapes.result
(Shape(rows='n', cols=1), Shape(rows='n', cols=1))
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from jacobian_lab.errors import ParseError, ShapeError, UnknownNameError, did_you_mean
from jacobian_lab.language.activations import ACTIVATIONS
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

Dim = int | str

ELEMENTWISE = (*ACTIVATIONS, "exp", "log", "abs", "sqrt", "sin", "cos", "step")
"""Element-wise functions: every activation of the registry, a few elementary ones, and
``step`` (ReLU')."""
STRUCTURE = ("sum", "dot", "norm", "tr", "det", "logdet", "inv", "diag", "ones", "eye",
             "softmax", "log_softmax", "logsumexp", "T")
FUNCTIONS = (*ELEMENTWISE, *STRUCTURE)
_ARITY = {"dot": (2, 2), "ones": (1, 2)}
MAX_DIM = 10**6  # a literal dimension larger than this is refused


@dataclass(frozen=True)
class Shape:
    rows: Dim
    cols: Dim

    @property
    def is_scalar(self) -> bool:
        return self.rows == 1 and self.cols == 1

    def __str__(self) -> str:
        if self.is_scalar:
            return "scalar"
        return f"{self.rows}×{self.cols}"


SCALAR = Shape(1, 1)
_DIM = re.compile(r"^\s*(?:([1-9]\d*)|([A-Za-z_][A-Za-z0-9_]*))\s*$")


def _dim(text: str, spec: str) -> Dim:
    m = _DIM.match(text)
    if m is None:
        raise ParseError(f"`{text.strip()}` is not a dimension (a positive integer or a name "
                         f"such as n)", spec, spec.find(text))
    if m.group(1):
        value = int(m.group(1))
        if value > MAX_DIM:
            raise ParseError(f"Dimension {value} is over the limit {MAX_DIM}", spec)
        return value
    return m.group(2)


def parse_shape(spec: str) -> Shape:
    """``"n,m"`` a matrix, ``"m"`` a column vector, ``"1,m"`` a row, ``"1"``/``"scalar"`` a
    scalar.

    >>> parse_shape("n,m"), parse_shape("m"), parse_shape("scalar")
    (Shape(rows='n', cols='m'), Shape(rows='m', cols=1), Shape(rows=1, cols=1))
    """
    if spec.strip() == "scalar":
        return SCALAR
    parts = spec.split(",")
    if len(parts) > 2:
        raise ParseError(f"A shape has one or two dimensions, got {len(parts)}", spec)
    dims = [_dim(p, spec) for p in parts]
    return Shape(dims[0], dims[1] if len(dims) == 2 else 1)


def parse_shapes(specs: list[str] | tuple[str, ...]) -> dict[str, Shape]:
    """``["W=n,m", "x=m"]`` → shapes by name (``--shape``, repeatable)."""
    out: dict[str, Shape] = {}
    for spec in specs:
        name, eq, dims = spec.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise ParseError("Expected NAME=DIMS, e.g. W=n,m or x=m", spec)
        if name.strip() in out:
            raise ParseError(f"The shape of `{name.strip()}` is given twice", spec)
        out[name.strip()] = parse_shape(dims)
    return out


# --------------------------------------------------------------------------- inference


class _Var:
    """An unknown dimension (union-find)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.parent: _Var | None = None
        self.value: Dim | None = None

    def root(self) -> _Var:
        v = self
        while v.parent is not None:
            v = v.parent
        return v


_D = Dim | _Var


@dataclass
class Shapes:
    """The shape of every node (by identity), of every name, and of the whole expression."""

    result: Shape
    names: dict[str, Shape]
    nodes: dict[int, Shape] = field(repr=False)

    def of(self, node: Node) -> Shape:
        return self.nodes[id(node)]


class _Inference:
    def __init__(self, text: str, declared: Mapping[str, Shape], dims: set[str]) -> None:
        self.text = text
        self.declared = declared
        self.dims = dims
        self.unknown: dict[str, tuple[_Var, _Var]] = {}
        self.progress = False
        self.pending: list[str] = []  # products left undecided in this pass
        self.nodes: dict[int, tuple[_D, _D]] = {}

    # -- dimensions
    def resolve(self, d: _D) -> _D:
        if isinstance(d, _Var):
            r = d.root()
            return r.value if r.value is not None else r
        return d

    def unify(self, a: _D, b: _D) -> bool:
        a, b = self.resolve(a), self.resolve(b)
        if isinstance(a, _Var) and isinstance(b, _Var):
            if a is not b:
                a.parent = b
                self.progress = True
            return True
        if isinstance(a, _Var):
            a.value = b  # type: ignore[assignment]
            self.progress = True
            return True
        if isinstance(b, _Var):
            b.value = a
            self.progress = True
            return True
        return a == b

    def known(self, s: tuple[_D, _D]) -> bool:
        return not any(isinstance(self.resolve(d), _Var) for d in s)

    def scalar(self, s: tuple[_D, _D]) -> bool | None:
        r, c = (self.resolve(d) for d in s)
        if r == 1 and c == 1:
            return True
        if (not isinstance(r, _Var) and r != 1) or (not isinstance(c, _Var) and c != 1):
            return False
        return None  # not decided

    def show(self, s: tuple[_D, _D]) -> str:
        r, c = (self.resolve(d) for d in s)
        if r == 1 and c == 1:
            return "scalar"
        return f"{'?' if isinstance(r, _Var) else r}×{'?' if isinstance(c, _Var) else c}"

    def error(self, message: str, col: int) -> ShapeError:
        return ShapeError(f"{message} (at column {col + 1} of {self.text!r})")

    # -- nodes
    def visit(self, node: Node) -> tuple[_D, _D]:
        s = self._visit(node)
        self.nodes[id(node)] = s
        return s

    def _visit(self, node: Node) -> tuple[_D, _D]:
        if isinstance(node, Number):
            return (1, 1)
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Neg):
            return self.visit(node.arg)
        if isinstance(node, Transpose):
            r, c = self.visit(node.arg)
            return (c, r)
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    def name(self, node: Name) -> tuple[_D, _D]:
        if node.id in self.declared:
            s = self.declared[node.id]
            return (s.rows, s.cols)
        if node.id in FUNCTIONS:
            raise self.error(f"`{node.id}` is a function: call it, e.g. {node.id}(x)", node.col)
        if node.id in self.dims:
            return (1, 1)  # a dimension used as a value
        if node.id == "I":
            v = self.unknown.setdefault("I", (_Var("I"), _Var("I")))
            self.unify(*v)
            return v
        return self.unknown.setdefault(node.id, (_Var(node.id), _Var(node.id)))

    def binary(self, node: Binary) -> tuple[_D, _D]:
        a, b = self.visit(node.left), self.visit(node.right)
        op = node.op
        if op in ("^", ".^", "/"):
            if self.scalar(b) is False:
                need = "a scalar exponent" if op != "/" else "a scalar divisor"
                raise self.error(f"`{op}` needs {need}; `{node.right}` is {self.show(b)}"
                                 + (" (for element-wise division write ./)" if op == "/"
                                    else ""), node.col)
            self.unify(b[0], 1)
            self.unify(b[1], 1)
            if op == "^":
                if self.scalar(a) is False:
                    raise self.error(f"`^` is a power of a scalar; `{node.left}` is "
                                     f"{self.show(a)} (for an element-wise power write .^)",
                                     node.col)
                self.unify(a[0], 1)
                self.unify(a[1], 1)
            return a
        if op == "*":
            sa, sb = self.scalar(a), self.scalar(b)
            if sa:
                return b
            if sb:
                return a
            if sa is None or sb is None:  # scalar or matrix? perhaps a later pass knows
                self.pending.append(str(node))
                return (_Var("product"), _Var("product"))
            if not self.unify(a[1], b[0]):
                raise self.error(f"`{node.left}` ({self.show(a)}) times `{node.right}` "
                                 f"({self.show(b)}): the inner dimensions {self.show_dim(a[1])} "
                                 f"and {self.show_dim(b[0])} differ", node.col)
            return (a[0], b[1])
        return self.elementwise(node, a, b)

    def show_dim(self, d: _D) -> str:
        r = self.resolve(d)
        return "?" if isinstance(r, _Var) else str(r)

    def elementwise(self, node: Binary, a: tuple[_D, _D], b: tuple[_D, _D]) -> tuple[_D, _D]:
        """``+ - .* ./``: equal shapes, scalar expansion, column/row broadcasting."""
        ka, kb = self.known(a), self.known(b)
        if ka and kb:
            ra, ca = (self.resolve(d) for d in a)
            rb, cb = (self.resolve(d) for d in b)
            if (ra, ca) == (rb, cb):
                return a
            if ra == ca == 1:
                return b
            if rb == cb == 1:
                return a
            if ra == rb and 1 in (ca, cb):
                return (ra, cb if ca == 1 else ca)  # a column across the columns
            if ca == cb and 1 in (ra, rb):
                return (rb if ra == 1 else ra, ca)  # a row across the rows
            raise self.error(f"`{node.left}` ({self.show(a)}) {node.op} `{node.right}` "
                             f"({self.show(b)}): the shapes do not match", node.col)
        # an unknown side takes the known side's shape (the natural reading of a sum)
        if not (self.unify(a[0], b[0]) and self.unify(a[1], b[1])):
            raise self.error(f"`{node.left}` ({self.show(a)}) {node.op} `{node.right}` "
                             f"({self.show(b)}): the shapes do not match", node.col)
        return a

    def call(self, node: Call) -> tuple[_D, _D]:
        f = node.func
        if f not in FUNCTIONS:
            raise UnknownNameError(f"Unknown function `{f}`{did_you_mean(f, FUNCTIONS)} (at "
                                   f"column {node.col + 1} of {self.text!r})")
        lo, hi = _ARITY.get(f, (1, 1))
        if not lo <= len(node.args) <= hi:
            want = f"{lo}" if lo == hi else f"{lo} or {hi}"
            raise self.error(f"{f} takes {want} argument{'s' if hi > 1 else ''}, got "
                             f"{len(node.args)}", node.col)
        if f in ("ones", "eye"):
            dims = [self.dim_arg(a) for a in node.args]
            if f == "eye":
                return (dims[0], dims[0])
            return (dims[0], dims[1] if len(dims) == 2 else 1)
        shapes = [self.visit(a) for a in node.args]
        s = shapes[0]
        if f in ELEMENTWISE or f in ("softmax", "log_softmax"):
            return s
        if f == "T":
            return (s[1], s[0])
        if f in ("sum", "norm"):
            return (1, 1)
        if f == "dot":
            if not (self.unify(s[0], shapes[1][0]) and self.unify(s[1], shapes[1][1])):
                raise self.error(f"dot of {self.show(s)} and {self.show(shapes[1])}: the shapes "
                                 "differ", node.col)
            if not self.unify(s[1], 1):
                raise self.error(f"dot takes two column vectors, got {self.show(s)}", node.col)
            return (1, 1)
        if f in ("tr", "det", "logdet", "inv"):
            if not self.unify(s[0], s[1]):
                raise self.error(f"{f} needs a square matrix; `{node.args[0]}` is "
                                 f"{self.show(s)}", node.col)
            return s if f == "inv" else (1, 1)
        if f == "diag":
            if not self.unify(s[1], 1):
                raise self.error(f"diag makes a diagonal matrix of a column vector; "
                                 f"`{node.args[0]}` is {self.show(s)}", node.col)
            return (s[0], s[0])
        assert f == "logsumexp"
        return (1, s[1])  # column-wise: one value per column

    def dim_arg(self, node: Node) -> Dim:
        if isinstance(node, Number) and node.value.denominator == 1 and 0 < node.value <= MAX_DIM:
            return int(node.value)
        if isinstance(node, Name) and (node.id in self.dims or node.id not in self.declared):
            self.dims.add(node.id)
            return node.id
        raise self.error(f"`{node}` is not a dimension (a positive integer or a name such as "
                         "n)", getattr(node, "col", 0))


def infer(tree: Node, declared: Mapping[str, Shape], text: str = "") -> Shapes:
    """The shapes of ``tree`` given the ``declared`` ones (see the module's rules)."""
    dims = {d for s in declared.values() for d in (s.rows, s.cols) if isinstance(d, str)}
    undeclared_dims = [n for n in dims if n in declared and not declared[n].is_scalar]
    if undeclared_dims:
        raise ShapeError(f"`{undeclared_dims[0]}` is both a dimension and a non-scalar name")
    inf = _Inference(text or str(tree), declared, set(dims))
    root = inf.visit(tree)
    for _ in range(8):  # each pass may decide what the last one could not
        if not inf.pending or not inf.progress:
            break
        inf.progress, inf.pending = False, []
        root = inf.visit(tree)
    need = sorted(n for n, s in inf.unknown.items() if not inf.known(s))
    if need or inf.pending or not inf.known(root):
        listed = ", ".join(need) or "the operands of " + inf.pending[0]
        hint = " (or write eye(n) for I)" if "I" in need else ""
        example = f" e.g. --shape {need[0]}=n" if need and need[0] != "I" else ""
        raise ShapeError(f"The shape of {listed} cannot be inferred from the expression: give "
                         f"it with --shape NAME=DIMS,{example}{hint}".rstrip(","))

    def concrete(s: tuple[_D, _D]) -> Shape:
        r, c = (inf.resolve(d) for d in s)
        assert not isinstance(r, _Var) and not isinstance(c, _Var)
        return Shape(r, c)

    names = {**dict(declared), **{n: concrete(s) for n, s in inf.unknown.items()}}
    return Shapes(concrete(root), names, {k: concrete(v) for k, v in inf.nodes.items()})


def check(text: str, shapes: Mapping[str, Shape] | None = None) -> Shapes:
    """Parse ``text`` and infer its shapes.

    >>> check("x'*A*x", {"A": parse_shape("n,n"), "x": parse_shape("n")}).result
    Shape(rows=1, cols=1)
    """
    return infer(parse(text), shapes or {}, text)
