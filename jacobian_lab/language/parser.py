"""The safe expression language: user text → SymPy, never through ``eval`` or ``sympify``.

The text is checked lexically (length, characters, bracket depth), ``^`` becomes ``**`` token
by token, :mod:`ast` parses it, and :class:`_Builder` builds SymPy objects from a whitelist of
node kinds. Anything else is a :class:`~jacobian_lab.errors.ParseError` naming the offending
token and its 0-based column in the user's own text.

>>> parse_expr("x^2 + 0.5*sigmoid(z)")
x**2 + sigmoid(z)/2
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

import sympy as sp

from jacobian_lab.budget import deadline
from jacobian_lab.errors import BudgetExceeded, ParseError, did_you_mean
from jacobian_lab.language.activations import ACTIVATIONS
from jacobian_lab.language.numbers import (
    MAX_RESULT_DIGITS,
    degree,
    digits,
    radical_digits,
    root_digits,
    too_large,
)
from jacobian_lab.language.source import (
    MAX_LENGTH,
    Source,
    checked,
    items,
    short,
)

MAX_INT_DIGITS = 300  # digits of a number literal
MAX_DECIMAL_EXPONENT = 300  # |e| in 1.5e-3
MAX_EXPONENT = 1000  # |n| in x**n when n is a number
MAX_DEGREE = MAX_EXPONENT  # nested exponents multiply: ((x^2)^2)^2 is x^8 (see _degree)
BUILD_SECONDS = 1.0  # SymPy's own simplification gets this long per text (see .budget)


class FunctionSpec(NamedTuple):
    """A function of the language: the SymPy callable and how many arguments it takes."""

    build: Callable[..., sp.Expr]
    min_args: int = 1
    max_args: int | None = 1  # None: no upper bound


_UNARY = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "exp", "sqrt",
          "sign", "Abs")  # tanh is an activation: it comes with the registry's entries
FUNCTIONS: dict[str, FunctionSpec] = {
    **{name: FunctionSpec(getattr(sp, name)) for name in _UNARY},
    "abs": FunctionSpec(sp.Abs),
    "log": FunctionSpec(sp.log, 1, 2),  # log(x) or log(x, base)
    "ln": FunctionSpec(sp.log, 1, 2),
    "Max": FunctionSpec(sp.Max, 2, None),
    "Min": FunctionSpec(sp.Min, 2, None),
    "Heaviside": FunctionSpec(sp.Heaviside, 1, 2),  # Heaviside(x, value at 0)
    **{name: FunctionSpec(a.function) for name, a in ACTIVATIONS.items()},
}
"""Function name → how to build it; every other call is refused."""

CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}
"""Names that mean a constant rather than a variable."""

_LEVEL = {ast.Add: "+", ast.Sub: "+", ast.Mult: "*", ast.Div: "*"}
_INVERSE: dict[type, Callable[[sp.Expr], sp.Expr]] = {ast.Sub: operator.neg,
                                                       ast.Div: lambda e: 1 / e}
_DESCRIPTIONS = {ast.Attribute: "Attribute access", ast.Subscript: "Subscript",
                 ast.Compare: "Comparison", ast.NamedExpr: "Assignment expression",
                 ast.Starred: "Starred argument", ast.Tuple: "A tuple", ast.List: "A list"}


def symbol(name: str) -> sp.Symbol:
    """The variable ``name``; always real, so equal names give equal symbols.

    >>> symbol("x") == parse_expr("x")
    True
    """
    return sp.Symbol(name, real=True)


class _Builder(ast.NodeVisitor):
    """Builds SymPy objects from an ast tree: one method per allowed node kind."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.building: ast.expr | None = None  # the node SymPy is working on
        self.degrees: dict[sp.Basic, sp.Rational] = {}  # memo of _degree

    def build(self, nodes: Sequence[ast.expr]) -> list[Any]:
        """SymPy objects for ``nodes``, within :data:`BUILD_SECONDS` where that can be enforced.

        SymPy's automatic simplification takes seconds on inputs as short as
        sqrt(sqrt(sqrt(exp(sqrt(asin(6))))), which no static limit foresees.
        """
        try:
            with deadline(BUILD_SECONDS):
                return [self.visit(node) for node in nodes]
        except BudgetExceeded:
            at = self.building or nodes[0]
            raise self.src.error(f"SymPy needs more than {BUILD_SECONDS:g} s to simplify "
                                 f"`{self.src.segment(at)}`", at) from None

    def generic_visit(self, node: ast.AST) -> Any:
        assert isinstance(node, ast.expr)  # only expressions are ever visited
        what = _DESCRIPTIONS.get(type(node), f"A Python `{type(node).__name__}` expression")
        at: int | ast.expr = node
        token = self.src.segment(node)
        if isinstance(node, ast.Attribute):
            at = self.src.text.rindex(".", 0, self.src.end(node) - len(node.attr))
            token = "." + node.attr
        elif isinstance(node, ast.Subscript):
            at = self.src.text.index("[", self.src.end(node.value))
        raise self.src.error(f"{what} `{token}` is not allowed", at)

    def visit_Constant(self, node: ast.Constant) -> sp.Expr:
        value, text = node.value, self.src.segment(node, MAX_LENGTH)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "Complex numbers are" if isinstance(value, complex) else "This literal is"
            raise self.src.error(f"{kind} not allowed: `{text}`", node)
        if isinstance(value, int):
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise self.src.error(f"Number has more than {MAX_INT_DIGITS} digits", node)
            return sp.Integer(value)
        _, digits, exponent = Decimal(text.replace("_", "")).as_tuple()  # exact, from the text
        assert isinstance(exponent, int)  # a literal is finite
        if len(digits) > MAX_INT_DIGITS or abs(exponent) > MAX_DECIMAL_EXPONENT:
            raise self.src.error(f"Number `{text}` is too large or too precise (at most "
                                 f"{MAX_INT_DIGITS} digits, exponent ±{MAX_DECIMAL_EXPONENT})",
                                 node)
        mantissa = int("".join(map(str, digits)))
        return sp.Rational(mantissa * 10 ** max(exponent, 0), 10 ** max(-exponent, 0))

    def visit_Name(self, node: ast.Name) -> sp.Expr:
        if node.id.startswith("_"):
            raise self.src.error(f"Names starting with `_` are not allowed: `{node.id}`", node)
        if node.id in FUNCTIONS:
            raise self.src.error(f"`{node.id}` is a function; call it as {node.id}(...)", node)
        return CONSTANTS[node.id] if node.id in CONSTANTS else symbol(node.id)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> sp.Expr:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise self.src.error(f"Operator `{self.src.segment(node)[0]}` is not allowed", node)
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        return self._apply(operator.neg, [operand], node)

    def visit_BinOp(self, node: ast.BinOp) -> sp.Expr:
        if isinstance(node.op, ast.Pow):
            return self._power(node, self.visit(node.left), self.visit(node.right))
        level = _LEVEL.get(type(node.op))
        if level is None:
            gap = self.src.text[self.src.end(node.left) : self.src.pos(node.right)]
            at = self.src.end(node.left) + len(gap) - len(gap.lstrip(" )"))
            raise self.src.error(f"Operator `{gap.strip(' ()')}` is not allowed", at)
        # Walk a run such as a + b - c + ... without recursion and build it in one go.
        chain: list[ast.BinOp] = []
        left: ast.expr = node
        while isinstance(left, ast.BinOp) and _LEVEL.get(type(left.op)) == level:
            chain.append(left)
            left = left.left
        operands = [self.visit(left)]
        for n in reversed(chain):
            right, inverse = self.visit(n.right), _INVERSE.get(type(n.op))
            operands.append(right if inverse is None else self._apply(inverse, [right], n))
        if level == "+":
            return self._apply(sp.Add, operands, node)
        return self._apply(sp.Mul, operands, node, radical_digits(operands))

    def visit_Call(self, node: ast.Call) -> sp.Expr:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.src.error(f"Only named functions can be called, not "
                                 f"`{self.src.segment(func)}`", func)
        name, spec = func.id, FUNCTIONS.get(func.id)
        if spec is None:
            self.visit_Name(func)  # refuses `_names`
            hint = did_you_mean(name, FUNCTIONS) or (
                " (it is a constant)" if name in CONSTANTS
                else f" (for a product write `{name}*(...)`)")
            raise self.src.error(f"Unknown function `{name}`{hint}", func)
        if node.keywords:
            kw = node.keywords[0]
            raise self.src.error(f"Keyword arguments are not allowed: `{self.src.segment(kw)}`",
                                 kw)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.generic_visit(arg)
        n, lo, hi = len(node.args), spec.min_args, spec.max_args
        if n < lo or (hi is not None and n > hi):
            wanted = f"{lo}" if lo == hi else f"at least {lo}" if hi is None else f"{lo} or {hi}"
            raise self.src.error(f"`{name}` takes {wanted} argument{'s' * (wanted != '1')}, "
                                 f"got {n}", func)
        args = [self.visit(a) for a in node.args]
        roots = {"sqrt": lambda: root_digits(args[0], sp.S.Half),
                 "exp": lambda: root_digits(sp.E, args[0])}.get(name, lambda: 0.0)()
        return self._apply(spec.build, args, node, roots)

    def _power(self, node: ast.BinOp, base: sp.Expr, exp: sp.Expr) -> sp.Expr:
        if exp.is_Rational and abs(exp) > MAX_EXPONENT:
            raise self.src.error(f"Exponent too large: `{self.src.segment(node.right)}` is "
                                 f"{short(str(exp))} (the limit is ±{MAX_EXPONENT})", node.right)
        if base.is_Rational and exp.is_Rational and abs(exp) * digits(base) > MAX_RESULT_DIGITS:
            raise self.src.error(f"Number too large: `{self.src.segment(node)}` would have more "
                                 f"than {MAX_RESULT_DIGITS} digits", node)
        return self._apply(sp.Pow, [base, exp], node, root_digits(base, exp))

    def _apply(self, build: Callable[..., sp.Expr], args: list[sp.Expr], node: ast.expr,
               roots: float = 0) -> Any:
        """Call SymPy; its exceptions and oversized numbers become :class:`ParseError`."""
        if roots > MAX_RESULT_DIGITS:
            raise self.src.error(f"Numbers too large for exact roots in "
                                 f"`{self.src.segment(node)}` (SymPy would search an integer of "
                                 f"more than {MAX_RESULT_DIGITS} digits)", node)
        try:
            self.building = node
            value = build(*args)
            huge = too_large(value)
        except Exception as e:  # SymPy refusing, or failing inside (atan(tan(10**300)))
            raise self.src.error(f"Cannot build `{self.src.segment(node)}`: "
                                 f"{type(e).__name__}: {short(str(e), 200)}", node) from None
        if huge:
            raise self.src.error(f"Number too large: `{self.src.segment(node)}` exceeds "
                                 f"10^{MAX_RESULT_DIGITS}", node)
        if isinstance(value, sp.Basic) and value.has(sp.zoo, sp.nan):  # args have neither
            zero_division = build in (sp.Mul, sp.Pow) or (  # x/0, 0^-1
                getattr(build, "__name__", "") == "<lambda>")  # 1/e of a run such as a/b/0
            what = "Division by zero" if zero_division else "Undefined (gives zoo or nan)"
            raise self.src.error(f"{what}: `{self.src.segment(node)}`", node)
        if isinstance(value, sp.Basic) and value.free_symbols:
            deg = degree(value, self.degrees)
            if deg > MAX_DEGREE:
                raise self.src.error(f"Exponent too large: `{self.src.segment(node)}` raises a "
                                     f"variable to the power {short(str(deg))}, counting "
                                     f"nested powers (the limit is ±{MAX_DEGREE})", node)
        return value


def variable_names(text: str | Sequence[str]) -> set[str]:
    """The names of the variables written in ``text``, also those that cancel out.

    >>> sorted(variable_names(["x - x", "y*0 + 1"]))
    ['x', 'y']
    """
    names: set[str] = set()
    for item in items(text):
        body, _ = _parse(item)
        calls = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
        names |= {n.id for n in ast.walk(body) if isinstance(n, ast.Name)
                  and id(n) not in calls and n.id not in CONSTANTS and n.id not in FUNCTIONS}
    return names


def _parse(text: str, full: str | None = None, base: int = 0) -> tuple[ast.expr, Source]:
    src = Source(text, full, base)
    return src.parse(), src


def _elements(text: str) -> tuple[list[ast.expr], Source]:
    """The comma-separated top-level expressions of ``text``, and their source."""
    body, src = _parse(text)
    if isinstance(body, ast.Tuple) and not body.elts:
        raise src.error("Empty parentheses `()`", body)
    return (body.elts if isinstance(body, ast.Tuple) else [body]), src


def parse_expr(text: str) -> sp.Expr:
    """Parse one expression safely (real variables, exact numbers).

    >>> parse_expr("x^2 + y")
    x**2 + y
    """
    elements, src = _elements(text)
    if len(elements) > 1:
        raise src.error(f"Expected one expression, found {len(elements)} separated by commas",
                        src.text.index(",", src.end(elements[0])))
    return _Builder(src).build(elements[:1])[0]


def parse_exprs(text: str | Sequence[str]) -> list[sp.Expr]:
    """Parse comma-separated expressions, from one string or from each string of a sequence.

    >>> parse_exprs(["sin(g1), log(g2)", "g1*g2"])
    [sin(g1), log(g2), g1*g2]
    """
    result: list[sp.Expr] = []
    for item in items(text):
        elements, src = _elements(item)
        result += _Builder(src).build(elements)
    if not result:
        raise ParseError("No expressions given")
    return result


def _symbol(text: str, full: str | None = None, base: int = 0) -> sp.Symbol:
    body, src = _parse(text, full, base)
    if not isinstance(body, ast.Name):
        raise src.error(f"`{short(text.strip())}` is not a variable name", body)
    kind = "function" if body.id in FUNCTIONS else "constant" if body.id in CONSTANTS else ""
    if kind:
        raise src.error(f"`{body.id}` is a {kind}, not a variable name", body)
    result: sp.Symbol = _Builder(src).visit(body)
    return result


def parse_symbol(name: str) -> sp.Symbol:
    """The variable ``name``: a valid name that is not a function or a constant.

    >>> parse_symbol("θ")
    θ
    """
    return _symbol(name)


def parse_symbols(names: str | Sequence[str]) -> list[sp.Symbol]:
    """Variables separated by commas or spaces, from one string or from each of a sequence.

    >>> parse_symbols("x, y z")
    [x, y, z]
    """
    result: list[sp.Symbol] = []
    for item in items(names):
        for m in re.finditer(r"[^,\s]+", checked(item)):
            sym = _symbol(m.group(), item, m.start())
            if sym in result:
                raise ParseError(f"`{sym}` is listed twice", item, m.start())
            result.append(sym)
    if not result:
        raise ParseError("No variables given")
    return result


def _assignments(text: str) -> list[tuple[sp.Symbol, sp.Expr, int]]:
    """``name = expr`` pieces split at commas outside brackets, with each value's column."""
    if not checked(text).strip():
        raise ParseError("Empty input: expected `name = expression, ...`", text, 0)
    pieces, depth, begin = [], 0, 0
    for i, ch in enumerate(text + ","):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            pieces.append((begin, text[begin:i]))
            begin = i + 1
    result: list[tuple[sp.Symbol, sp.Expr, int]] = []
    for begin, piece in pieces:
        name, eq, value = piece.partition("=")
        at = begin + len(name) - len(name.lstrip())
        if not eq:
            got = f", got `{piece.strip()}`" if piece.strip() else " between the commas"
            raise ParseError(f"Expected `name = expression`{got}", text, at)
        sym = _symbol(name, text, begin)
        if any(sym == s for s, _, _ in result):
            raise ParseError(f"`{sym}` is assigned twice", text, at)
        body, src = _parse(value, text, begin + len(name) + 1)
        result.append((sym, _Builder(src).build([body])[0], begin + len(name) + 1))
    return result


def parse_assignments(text: str) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Parse ``"g1 = x^2 + y, g2 = y^3"`` into (variable, expression) pairs, in order.

    >>> parse_assignments("g1 = x^2 + y, g2 = y^3")
    [(g1, x**2 + y), (g2, y**3)]
    """
    return [(sym, expr) for sym, expr, _ in _assignments(text)]


def parse_point(text: str) -> dict[sp.Symbol, sp.Expr]:
    """Parse a point such as ``"x=1, y=pi/2"``; every value an exact, finite real number.

    >>> parse_point("x=1, y=pi/2")
    {x: 1, y: pi/2}
    """
    point: dict[sp.Symbol, sp.Expr] = {}
    for sym, value, at in _assignments(text):
        if value.free_symbols:
            names = ", ".join(sorted(map(str, value.free_symbols)))
            raise ParseError(f"The value of `{sym}` must be a number, but it uses {names}",
                             text, at)
        try:
            with deadline(BUILD_SECONDS):  # SymPy may evaluate for a long time to decide
                real = bool(value.is_real and value.is_finite)
        except BudgetExceeded:
            raise ParseError(f"Cannot decide within {BUILD_SECONDS:g} s whether the value of "
                             f"`{sym}` is a finite real number", text, at) from None
        if not real:
            raise ParseError(f"The value of `{sym}` is not a finite real number: "
                             f"{short(str(value))}", text, at)
        point[sym] = value
    return point


def parse_matrix(text: str) -> sp.Matrix:
    """Parse ``"[[a, b], [c, d]]"``; a flat ``"[a, b]"`` is one row, a lone ``"x"`` is 1×1.

    >>> parse_matrix("[[2*x, 1], [0, y^2]]")
    Matrix([
    [2*x,    1],
    [  0, y**2]])
    """
    body, src = _parse(text)
    rows = body.elts if isinstance(body, (ast.List, ast.Tuple)) else [body]
    if not rows:
        raise src.error("Empty matrix", body)
    lists = [row.elts for row in rows if isinstance(row, (ast.List, ast.Tuple))]
    if lists and len(lists) < len(rows):
        bad = next(r for r in rows if not isinstance(r, (ast.List, ast.Tuple)))
        raise src.error(f"Row `{src.segment(bad)}` is not a list; write every row as "
                        f"[a, b, ...]", bad)
    rows_of_cells = lists or [rows]
    lengths = [len(cells) for cells in rows_of_cells]
    if len(set(lengths)) > 1 or not lengths[0]:
        i = next((i for i, n in enumerate(lengths) if n != lengths[0]), 0)
        raise src.error(f"Rows must have the same, non-zero length; they have "
                        f"{', '.join(map(str, lengths))} entries", rows[i])
    cells = _Builder(src).build([e for row in rows_of_cells for e in row])
    return sp.Matrix(len(rows_of_cells), lengths[0], cells)
