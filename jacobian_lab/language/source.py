"""The user's text as Python's ``ast`` will read it: checked lexically (length, characters,
bracket depth), ``^`` turned into ``**`` token by token, and every node mapped back to the
column of the user's own text for error messages."""

from __future__ import annotations

import ast
import io
import keyword
import tokenize
import unicodedata
import warnings
from collections.abc import Sequence

from jacobian_lab.errors import ParseError

MAX_LENGTH = 2000  # characters of input
MAX_DEPTH = 40  # bracket nesting, counted before ast.parse (CPython gives up near 200)
MAX_AST_DEPTH = 100  # operator nesting; a run such as a + b + c + ... counts once
MAX_NODES = 2000  # expression nodes in the tree
_SPACES = str.maketrans("\t\n\r\f\v", "     ")  # one character for one: columns stay put
Node = ast.expr | ast.keyword


def short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def checked(text: object) -> str:
    if not isinstance(text, str):
        raise ParseError(f"Expected a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"Input is {len(text)} characters long; the limit is {MAX_LENGTH}")
    return text


def items(value: str | Sequence[str]) -> Sequence[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence):
        raise ParseError(f"Expected a string or a list of strings, got {type(value).__name__}")
    return value


class Source:
    """A piece of the user's text (at column ``base`` of ``full``) as Python will parse it.

    ``code`` is the text with ``^`` replaced by ``**``; ``cols[i]`` is the column in ``text``
    of ``code[i]``, so that every error names a column of what the user typed.
    """

    def __init__(self, text: str, full: str | None = None, base: int = 0) -> None:
        self.full, self.base = text if full is None else full, base
        self.text = checked(text).translate(_SPACES)
        self.code, self.cols, self._bytes = self.text, list(range(len(text) + 1)), b""

    def error(self, message: str, at: int | Node | None = None) -> ParseError:
        pos = self.pos(at) if isinstance(at, Node) else at
        return ParseError(message, self.full,
                          None if pos is None else self.base + max(0, min(pos, len(self.text))))

    def parse(self) -> ast.expr:
        """Check, translate and parse the text: the tree's body, within every limit."""
        if not self.text.strip():
            raise self.error("Empty expression", 0)
        self._scan()
        self._translate()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                body = ast.parse(self.code, mode="eval").body
        except SyntaxError as e:
            off = e.offset or 0  # 1-based; 0 at the end of the input
            pos = self.cols[min(off - 1, len(self.code))] if off > 0 else len(self.text)
            token = self.text[pos:].split(" ")[0][:12]
            where = f"at `{token}`" if token else "at the end of the input"
            hint = " (write products with `*`, e.g. 2*x)" if "decimal literal" in e.msg else ""
            raise self.error(f"Syntax error {where}: {e.msg}{hint}", pos) from None
        except (ValueError, RecursionError, MemoryError):
            raise self.error("Expression is too deeply nested") from None
        count, stack = 0, [(body, 0)]
        while stack:  # bound the size and depth of the tree before walking it recursively
            node, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise self.error(f"Expression has more than {MAX_NODES} parts")
            if depth > MAX_AST_DEPTH:
                raise self.error(f"Expression nests deeper than {MAX_AST_DEPTH} levels", node)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    flat = isinstance(node, ast.BinOp) and child is node.left
                    stack.append((child, depth + (not flat)))
        return body

    def _scan(self) -> None:
        """Refuse strings, comments, control characters and lone surrogates; bound the
        bracket depth."""
        stack: list[int] = []
        for i, ch in enumerate(self.text):
            if ch in "'\"":
                raise self.error(f"String literals are not allowed: `{ch}`", i)
            if ch == "#" or unicodedata.category(ch) in ("Cc", "Cs"):  # control, surrogate
                raise self.error(f"Character {ch!r} is not allowed", i)
            if ch in "([{":
                stack.append(i)
                if len(stack) > MAX_DEPTH:
                    raise self.error(f"Brackets nest deeper than {MAX_DEPTH} levels", i)
            elif ch in ")]}":
                if not stack:
                    raise self.error(f"Unmatched `{ch}`", i)
                j = stack.pop()
                if "([{".index(self.text[j]) != ")]}".index(ch):
                    raise self.error(f"`{ch}` does not close `{self.text[j]}`", i)
        if stack:
            raise self.error(f"`{self.text[stack[-1]]}` is never closed", stack[-1])

    def _translate(self) -> None:
        """``^`` → ``**`` token by token, refusing Python keywords on the way."""
        start = len(self.text) - len(self.text.lstrip())  # ast.parse refuses an indent
        carets: list[int] = []
        try:
            for tok in tokenize.generate_tokens(io.StringIO(self.text[start:]).readline):
                col = start + tok.start[1]
                if tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
                    hint = " (for the Greek letter write `lam` or `λ`)" * (tok.string == "lambda")
                    raise self.error(f"`{tok.string}` is a Python keyword, not part of the "
                                     f"expression language{hint}", col)
                if tok.type == tokenize.OP and tok.string == "^":
                    carets.append(col)
        except (tokenize.TokenError, SyntaxError):  # ast.parse will say where
            carets = [i for i, ch in enumerate(self.text) if ch == "^"]  # no strings got here
        parts, self.cols, prev = [], [], start
        for c in carets:
            parts += [self.text[prev:c], "**"]
            self.cols += [*range(prev, c), c, c]
            prev = c + 1
        self.code = "".join([*parts, self.text[prev:]])
        self.cols += range(prev, len(self.text) + 1)
        self._bytes = self.code.encode()

    def pos(self, node: Node) -> int:
        """The column in ``text`` where ``node`` starts (ast counts UTF-8 bytes of ``code``)."""
        return self.cols[len(self._bytes[: node.col_offset].decode("utf-8", "ignore"))]

    def end(self, node: Node) -> int:
        return self.cols[len(self._bytes[: node.end_col_offset].decode("utf-8", "ignore"))]

    def segment(self, node: Node, limit: int = 40) -> str:
        return short(self.text[self.pos(node) : self.end(node)], limit)
