"""The matrix language's syntax: a tokenizer and a Pratt parser (never ``eval``, never ``ast``).

The grammar (docs/MATRIX_LANGUAGE.md has it with examples) in EBNF::

    expr     = term { ("+" | "-") term } ;
    term     = unary { ("*" | "@" | "/" | ".*" | "./" | "⊙") unary } ;
    unary    = ("-" | "+") unary | power ;
    power    = postfix [ ("^" | ".^") unary ] ;          (* right-associative *)
    postfix  = primary { "'" | "ᵀ" | ".T" } ;
    primary  = number | name | name "(" [ expr { "," expr } ] ")" | "(" expr ")" ;
    number   = digits [ "." digits ] [ ("e" | "E") [ "+" | "-" ] digits ] ;
    name     = letter { letter | digit | "_" } ;

So ``-x^2`` is ``-(x^2)``, ``a^b^c`` is ``a^(b^c)``, ``x'*A*x`` is ``((x')*A)*x``, and
``.*``/``./`` bind like ``*``/``/``, left to right. Numbers are exact (:class:`Fraction`):
``0.1`` is 1/10. The tree records the 0-based column of every node, for error messages.

>>> parse("x'*A*x")
Binary(op='*', left=Binary(op='*', left=Transpose(arg=Name(id='x', col=0), col=1), \
right=Name(id='A', col=3), col=2), right=Name(id='x', col=5), col=4)
>>> str(parse("sum(relu(W*x + b)) / 2"))
'sum(relu(W*x + b))/2'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from jacobian_lab.errors import ParseError

MAX_LENGTH = 2000  # characters of input
MAX_DEPTH = 60  # nesting of brackets and operators
MAX_TREE_DEPTH = 150  # levels of the tree (a + b + c + … is one level per term)
MAX_NODES = 2000  # nodes of the tree
MAX_NUMBER_DIGITS = 300  # digits of a number literal
MAX_EXPONENT = 1000  # |n| of a numeric exponent (x^n, X.^n)

# --------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Number:
    value: Fraction
    col: int

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Name:
    id: str
    col: int

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class Neg:
    arg: Node
    col: int

    def __str__(self) -> str:
        return f"-{_wrapped(self.arg, 30)}"


@dataclass(frozen=True)
class Transpose:
    arg: Node
    col: int

    def __str__(self) -> str:
        return f"{_wrapped(self.arg, 50)}'"


@dataclass(frozen=True)
class Binary:
    op: str  # one of BINARY's keys, canonical (".*" for ⊙, "*" for @)
    left: Node
    right: Node
    col: int  # the operator's column

    def __str__(self) -> str:
        prec, right_assoc = BINARY[self.op]
        left = _wrapped(self.left, prec + (1 if right_assoc else 0))
        right = _wrapped(self.right, prec + (0 if right_assoc else 1))
        space = " " if prec == 10 else ""
        return f"{left}{space}{self.op}{space}{right}"


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]
    col: int

    def __str__(self) -> str:
        return f"{self.func}({', '.join(map(str, self.args))})"


Node = Union[Number, Name, Neg, Transpose, Binary, Call]  # noqa: UP007 (used at run time)

BINARY: dict[str, tuple[int, bool]] = {  # operator → (precedence, right-associative)
    "+": (10, False), "-": (10, False),
    "*": (20, False), "/": (20, False), ".*": (20, False), "./": (20, False),
    "^": (40, True), ".^": (40, True),
}
_ALIASES = {"@": "*", "⊙": ".*", "ᵀ": "'"}


def _precedence(node: Node) -> int:
    if isinstance(node, Binary):
        return BINARY[node.op][0]
    if isinstance(node, Neg):
        return 30
    if isinstance(node, Transpose):
        return 50
    if isinstance(node, Number) and (node.value < 0 or node.value.denominator != 1):
        return 20  # printed as a/b
    return 100


def _wrapped(node: Node, at_least: int) -> str:
    return str(node) if _precedence(node) >= at_least else f"({node})"


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op", "(", ")", ",", "end"
    text: str
    col: int


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<dotT>\.T(?![A-Za-z0-9_α-ωᵢⱼₖₘₙ₀-₉]))
  | (?P<op>\.\*|\./|\.\^|\*\*|[-+*/@^'⊙ᵀ])
  | (?P<name>[A-Za-z_α-ω][A-Za-z0-9_α-ωᵢⱼₖₘₙ₀-₉]*)
  | (?P<punct>[(),])
""", re.VERBOSE)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``; a character the language does not know is a
    :class:`ParseError` at its column."""
    if len(text) > MAX_LENGTH:
        raise ParseError(f"Input is {len(text)} characters long; the limit is {MAX_LENGTH}")
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = {"[": " (indexing is not part of the language)", "=": "",
                    "!": "", "&": "", "|": ""}.get(ch, "")
            raise ParseError(f"Unexpected character {ch!r}{hint}", text, pos)
        kind = m.lastgroup or ""
        tok = m.group()
        if kind == "number":
            digits = len(re.sub(r"[^0-9]", "", tok.split("e")[0].split("E")[0]))
            if digits > MAX_NUMBER_DIGITS:
                raise ParseError(f"A number of {digits} digits; the limit is "
                                 f"{MAX_NUMBER_DIGITS}", text, pos)
            out.append(Token("number", tok, pos))
        elif kind == "dotT":
            out.append(Token("op", "'", pos))
        elif kind == "op":
            if tok == "**":
                raise ParseError("`**` is not an operator here: write `^` for a power of a "
                                 "scalar or `.^` for an element-wise power", text, pos)
            out.append(Token("op", _ALIASES.get(tok, tok), pos))
        elif kind == "name":
            out.append(Token("name", tok, pos))
        elif kind == "punct":
            out.append(Token(tok, tok, pos))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


def _number(tok: Token, text: str) -> Fraction:
    mantissa, _, exponent = tok.text.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_NUMBER_DIGITS:
        raise ParseError(f"The exponent of {tok.text} is out of range (|e| ≤ "
                         f"{MAX_NUMBER_DIGITS})", text, tok.col)
    value = Fraction(mantissa)
    return value * Fraction(10) ** int(exponent) if exponent else value


# --------------------------------------------------------------------------- the parser


class _Parser:
    """A Pratt parser over the tokens (precedence climbing; see the grammar above)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0
        self.levels: dict[int, int] = {}  # id(node) → its depth in the tree

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, col: int | None = None) -> ParseError:
        return ParseError(message, self.text, self.tok.col if col is None else col)

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            found = "the end of the input" if self.tok.kind == "end" else f"`{self.tok.text}`"
            raise self.error(f"Expected {what}, found {found}")
        return self.advance()

    def node(self, n: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.error(f"Expression has more than {MAX_NODES} parts")
        children = ((n.arg,) if isinstance(n, Neg | Transpose) else
                    (n.left, n.right) if isinstance(n, Binary) else
                    n.args if isinstance(n, Call) else ())
        level = 1 + max((self.levels.get(id(c), 1) for c in children), default=0)
        if level > MAX_TREE_DEPTH:
            raise self.error(f"Expression is more than {MAX_TREE_DEPTH} levels deep (a sum or "
                             f"product of more than {MAX_TREE_DEPTH} terms, or nesting)", n.col)
        self.levels[id(n)] = level
        return n

    def expr(self, min_prec: int = 0) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"Expression nests deeper than {MAX_DEPTH} levels")
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in BINARY:
            prec, right_assoc = BINARY[self.tok.text]
            if prec < min_prec:
                break
            op = self.advance()
            right = self.unary() if prec == 40 else self.expr(prec if right_assoc else prec + 1)
            if prec == 40 and self.tok.kind == "op" and self.tok.text in ("^", ".^"):
                right = self.power_tail(right)  # a^b^c = a^(b^c)
            self.check_exponent(op, right)
            left = self.node(Binary(op.text, left, right, op.col))
        self.depth -= 1
        return left

    def power_tail(self, base: Node) -> Node:
        op = self.advance()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"Expression nests deeper than {MAX_DEPTH} levels")
        exponent = self.unary()
        if self.tok.kind == "op" and self.tok.text in ("^", ".^"):
            exponent = self.power_tail(exponent)
        self.depth -= 1
        self.check_exponent(op, exponent)
        return self.node(Binary(op.text, base, exponent, op.col))

    def check_exponent(self, op: Token, exponent: Node) -> None:
        if op.text not in ("^", ".^"):
            return
        value = exponent.value if isinstance(exponent, Number) else (
            -exponent.arg.value if isinstance(exponent, Neg) and isinstance(exponent.arg, Number)
            else None)
        if value is not None and abs(value) > MAX_EXPONENT:
            raise self.error(f"Exponent {value} is out of range (|n| ≤ {MAX_EXPONENT})", op.col)

    def unary(self) -> Node:
        if self.tok.kind == "op" and self.tok.text in ("-", "+"):
            op = self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"Expression nests deeper than {MAX_DEPTH} levels")
            arg = self.unary_operand()
            self.depth -= 1
            return arg if op.text == "+" else self.node(Neg(arg, op.col))
        return self.power()

    def unary_operand(self) -> Node:
        """What a prefix sign applies to: a power (so ``-x^2`` is ``-(x^2)``)."""
        if self.tok.kind == "op" and self.tok.text in ("-", "+"):
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.tok.kind == "op" and self.tok.text in ("^", ".^"):
            return self.power_tail(base)
        return base

    def postfix(self) -> Node:
        node = self.primary()
        while self.tok.kind == "op" and self.tok.text == "'":
            node = self.node(Transpose(node, self.advance().col))
        return node

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return self.node(Number(_number(tok, self.text), tok.col))
        if tok.kind == "name":
            self.advance()
            if self.tok.kind == "(":
                return self.call(tok)
            return self.node(Name(tok.text, tok.col))
        if tok.kind == "(":
            self.advance()
            inner = self.expr()
            self.expect(")", "`)`")
            return inner
        if tok.kind == "end":
            raise self.error("The expression ends too early")
        raise self.error(f"Unexpected `{tok.text}`")

    def call(self, name: Token) -> Node:
        self.advance()  # (
        args: list[Node] = []
        if self.tok.kind != ")":
            args.append(self.expr())
            while self.tok.kind == ",":
                self.advance()
                args.append(self.expr())
        self.expect(")", f"`,` or `)` in the arguments of {name.text}")
        return self.node(Call(name.text, tuple(args), name.col))


def parse(text: str) -> Node:
    """Parse one expression of the matrix language into its tree.

    >>> str(parse("W@x ⊙ y")), str(parse("-x^2 + a'*b"))
    ('W*x.*y', "-x^2 + a'*b")
    """
    if not text.strip():
        raise ParseError("Empty expression", text, 0)
    p = _Parser(text)
    tree = p.expr()
    if p.tok.kind == ",":
        raise p.error("Unexpected `,` after the expression: give one expression")
    if p.tok.kind in ("name", "number", "("):
        raise p.error(f"Missing operator before `{p.tok.text}` (a product is written `*`)")
    if p.tok.kind != "end":
        raise p.error(f"Unexpected `{p.tok.text}` after the expression")
    return tree


def names(tree: Node) -> list[str]:
    """The variable names of ``tree``, in order of first appearance.

    >>> names(parse("x'*A*x + b'*x"))
    ['x', 'A', 'b']
    """
    out: dict[str, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            out.setdefault(n.id)
        elif isinstance(n, Neg | Transpose):
            walk(n.arg)
        elif isinstance(n, Binary):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Call):
            for a in n.args:
                walk(a)

    walk(tree)
    return list(out)
