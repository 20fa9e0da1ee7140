"""The matrix language (issue 14, first part): its grammar, its shapes, and its errors.

The parser is a tokenizer plus a Pratt parser (never ``eval``/``ast``); the shape checker
declares, infers and checks ``rows × cols`` with the notes' scalar expansion and broadcasting.
"""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from jacobian_lab.errors import ParseError, ShapeError, UnknownNameError
from jacobian_lab.language.matrix_shapes import Shape, check, parse_shape, parse_shapes
from jacobian_lab.language.matrix_syntax import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TREE_DEPTH,
    Binary,
    Number,
    names,
    parse,
)

# --------------------------------------------------------------------------- grammar


@pytest.mark.parametrize(("text", "printed"), [
    ("x'*A*x", "x'*A*x"),                      # transpose binds tightest, * left to right
    ("-x^2", "-x^2"),                          # -(x^2), not (-x)^2
    ("(-x)^2", "(-x)^2"),
    ("a^b^c", "a^b^c"),                        # right-associative
    ("(a^b)^c", "(a^b)^c"),
    ("2^-1", "2^(-1)"),
    ("a - b - c", "a - b - c"),                # left-associative
    ("a - (b - c)", "a - (b - c)"),
    ("a/b/c", "a/b/c"),
    ("a/(b/c)", "a/(b/c)"),
    ("A .* B * C", "A.*B*C"),                  # .* binds like *, left to right
    ("A * (B .* C)", "A*(B.*C)"),
    ("W@x", "W*x"),                            # @ is the matrix product
    ("A ⊙ B", "A.*B"),                         # ⊙ is .*
    ("x.T*y", "x'*y"),                         # .T and ᵀ are the transpose
    ("xᵀ*y", "x'*y"),
    ("(x + y)'", "(x + y)'"),
    ("sum(relu(W*x + b))/2", "sum(relu(W*x + b))/2"),
])
def test_precedence_and_associativity_round_trip(text: str, printed: str) -> None:
    tree = parse(text)
    assert str(tree) == printed
    assert parse(str(tree)) == parse(printed)  # the printed form parses back to the same tree


def test_decimals_are_exact_rationals() -> None:
    tree = parse("0.1*x")
    assert isinstance(tree, Binary) and isinstance(tree.left, Number)
    assert tree.left.value == Fraction(1, 10)
    assert parse("1.5e-3").value == Fraction(3, 2000)  # type: ignore[union-attr]


def test_names_in_order_of_appearance() -> None:
    assert names(parse("x'*A*x + b'*x - lam*norm(A)^2")) == ["x", "A", "b", "lam"]


@pytest.mark.parametrize(("text", "message", "column"), [
    ("x +", "ends too early", 4),
    ("W[0]", "indexing is not part of the language", 2),
    ("x ** 2", "`**` is not an operator", 3),
    ("x y", "Missing operator before `y`", 3),
    ("2 x", "Missing operator before `x`", 3),
    ("(x", "Expected `)`", 3),
    ("f(x,", "ends too early", 5),
    ("a, b", "give one expression", 2),
    ("x^100000", "out of range", 2),
    ("x = 1", "Unexpected character '='", 3),
])
def test_syntax_errors_name_the_problem_and_its_column(text: str, message: str,
                                                       column: int) -> None:
    with pytest.raises(ParseError, match=re.escape(message)) as info:
        parse(text)
    assert info.value.position == column - 1


@pytest.mark.parametrize("text", [
    "x" * (MAX_LENGTH + 1),
    "(" * (MAX_DEPTH + 5) + "x" + ")" * (MAX_DEPTH + 5),
    "-" * 900 + "x",
    "^".join(["x"] * 500),
    "+".join(["x"] * (MAX_TREE_DEPTH + 10)),
    "x" + "'" * 1000,
    "f(" * 300 + "x" + ")" * 300,
    "9" * 400,
    "1e999999",
])
def test_hostile_input_is_a_parse_error_not_a_crash(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


# --------------------------------------------------------------------------- shapes


def _shapes(*specs: str) -> dict[str, Shape]:
    return parse_shapes(list(specs))


def test_shape_declarations() -> None:
    assert parse_shape("n,m") == Shape("n", "m")
    assert parse_shape("m") == Shape("m", 1) == parse_shape("m,1")  # a column vector
    assert parse_shape("1,m") == Shape(1, "m")  # a row
    assert parse_shape("1") == parse_shape("scalar") == Shape(1, 1)
    assert parse_shape("3, 4") == Shape(3, 4)
    for bad in ("0", "-2", "n,m,k", "2.5", "n m", ""):
        with pytest.raises(ParseError):
            parse_shape(bad)
    with pytest.raises(ParseError, match="given twice"):
        parse_shapes(["x=n", "x=m"])
    with pytest.raises(ParseError, match="NAME=DIMS"):
        parse_shapes(["x:n"])


@pytest.mark.parametrize(("text", "specs", "shape"), [
    ("a'*x", ("a=n", "x=n"), Shape(1, 1)),
    ("x'*A*x", ("A=n,n", "x=n"), Shape(1, 1)),
    ("norm(A*x - b)^2", ("A=n,m", "x=m", "b=n"), Shape(1, 1)),
    ("tr(A*X)", ("A=n,m", "X=m,n"), Shape(1, 1)),
    ("tr(X'*A*X)", ("X=n,m", "A=n,n"), Shape(1, 1)),
    ("det(X) + logdet(X) + tr(inv(X)*A)", ("X=n,n", "A=n,n"), Shape(1, 1)),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m", "b=n"), Shape(1, 1)),
    ("sum(log_softmax(W*x).*y)", ("W=k,m", "x=m", "y=k"), Shape(1, 1)),
    ("relu(W*x + b) + x", ("W=n,n", "x=n", "b=n"), Shape("n", 1)),
    ("lam/2*norm(W)^2", ("W=n,m", "lam=1"), Shape(1, 1)),
    ("sum(log(1 + exp(-y.*(X'*w))))", ("X=n,m", "w=n", "y=m"), Shape(1, 1)),
    ("W*X + b", ("W=n,m", "X=m,k", "b=n"), Shape("n", "k")),      # column across columns
    ("X*W' + b'", ("X=k,m", "W=n,m", "b=n"), Shape("k", "n")),    # row across rows
    ("X*W' + ones(k)*b'", ("X=k,m", "W=n,m", "b=n"), Shape("k", "n")),
    ("1/(2*m)*norm(Y - A)^2", ("Y=n,m", "A=n,m"), Shape(1, 1)),   # a dimension as a value
    ("x'/norm(x)", ("x=n",), Shape(1, "n")),
    ("x .^ 2 ./ (1 + x)", ("x=n",), Shape("n", 1)),               # scalar expansion
    ("logsumexp(Z)", ("Z=k,m",), Shape(1, "m")),
    ("diag(x)*ones(n) + eye(n)*x", ("x=n",), Shape("n", 1)),
    ("T(W)*x", ("W=n,m", "x=n"), Shape("m", 1)),
    ("dot(a, b)", ("a=n", "b=n"), Shape(1, 1)),
])
def test_the_shapes_of_the_issue_examples(text: str, specs: tuple[str, ...],
                                          shape: Shape) -> None:
    assert check(text, _shapes(*specs)).result == shape


def test_undeclared_names_take_the_shape_their_use_forces() -> None:
    s = check("W*x + b", _shapes("W=n,m", "x=m"))
    assert s.names["b"] == Shape("n", 1)
    s = check("dot(a, x) + sum(y .* x)", _shapes("x=n"))
    assert s.names["a"] == s.names["y"] == Shape("n", 1)
    assert check("x + I", _shapes("x=n,n")).names["I"] == Shape("n", "n")


def test_an_undecidable_name_is_listed_with_the_option_to_declare_it() -> None:
    with pytest.raises(ShapeError, match=r"shape of a cannot be inferred.*--shape a="):
        check("a*x", _shapes("x=n"))  # a scalar or a matrix? the text does not say
    with pytest.raises(ShapeError, match="shape of b, c"):
        check("sum(b) + sum(c)")


@pytest.mark.parametrize(("text", "specs", "message"), [
    ("W*x", ("W=n,m", "x=n"), r"`W` \(n×m\) times `x` \(n×1\): the inner dimensions m and n "
                              r"differ \(at column 2"),
    ("A + B", ("A=n,m", "B=m,n"), r"`A` \(n×m\) \+ `B` \(m×n\): the shapes do not match"),
    ("x^2", ("x=n",), r"power of a scalar.*write \.\^"),
    ("X .^ y", ("X=n,m", "y=n"), "needs a scalar exponent"),
    ("x / y", ("x=n", "y=n"), r"needs a scalar divisor.*\./"),
    ("det(X)", ("X=n,m",), "det needs a square matrix; `X` is n×m"),
    ("inv(X)", ("X=2,3",), "inv needs a square matrix"),
    ("diag(X)", ("X=n,m",), "diag makes a diagonal matrix of a column vector"),
    ("dot(a, b)", ("a=n", "b=m"), "dot of"),
    ("relu + x", ("x=n",), "`relu` is a function"),
    ("ones(x)", ("x=n",), "not a dimension"),
])
def test_shape_errors_name_both_operands_and_the_column(text: str, specs: tuple[str, ...],
                                                         message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        check(text, _shapes(*specs))


def test_an_unknown_function_suggests_the_nearest() -> None:
    with pytest.raises(UnknownNameError, match="did you mean `sum`"):
        check("sums(x)", _shapes("x=n"))
    with pytest.raises(ShapeError, match="takes 2 arguments"):
        check("dot(x)", _shapes("x=n"))
