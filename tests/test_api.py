"""The library API (``import jacobian_lab as jl``): strings or SymPy objects in, the same
answers as the CLI; variables matched by name; clear errors for the wrong kind of argument."""

from __future__ import annotations

import subprocess
import sys

import pytest
import sympy as sp

import jacobian_lab as jl
from jacobian_lab.errors import JlabError, ParseError, UsageError


def test_jacobian_accepts_strings_for_expressions_and_variables() -> None:
    assert jl.jacobian("x^2 + y", ["x", "y"]) == sp.Matrix([[2 * sp.Symbol("x", real=True), 1]])
    assert jl.jacobian("x^2 + y, sin(x)", "x y").shape == (2, 2)


def test_a_variable_string_is_split_into_names_not_characters() -> None:
    # "x y" once iterated its characters: x, " ", y
    assert jl.jacobian("x*y", "x y").shape == (1, 2)
    assert jl.jacobian("xy^2", "xy").shape == (1, 1)


def test_a_plain_sympy_symbol_is_the_parsed_variable_of_the_same_name() -> None:
    x = sp.Symbol("x")  # no assumptions; the parser's x is real
    assert jl.jacobian("x^2", [x]) != sp.Matrix([[0]])  # SymPy alone would say 0
    assert jl.gradient(x**3, "x") == sp.Matrix([[3 * x**2]])


def test_numerator_and_denominator_layouts() -> None:
    num = jl.jacobian("x + 2*y, 3*x", "x y")
    assert jl.jacobian("x + 2*y, 3*x", "x y", layout="denominator") == num.T
    with pytest.raises(JlabError, match="layout"):
        jl.jacobian("x", "x", layout="sideways")


def test_a_constant_has_a_zero_jacobian() -> None:
    assert jl.jacobian(3, "x") == sp.Matrix([[0]])


def test_gradient_of_several_expressions_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="one scalar expression"):
        jl.gradient("x, y", "x y")


def test_the_wrong_kind_of_argument_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="expected expressions"):
        jl.jacobian(None, "x")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="not a variable"):
        jl.jacobian("x", [1])  # type: ignore[list-item]
    with pytest.raises(ParseError):
        jl.jacobian("x +", "x")


def test_verify_refutes_a_wrong_claim_given_as_a_string() -> None:
    check = jl.verify("x^2 + cos(y)", "x y", "[[2*x, sin(y)]]")
    assert check.verdict == "incorrect" and check.diagnosis == "(1,2) has the wrong sign"
    assert jl.verify("x^2 + cos(y)", "x y", "[[2*x, -sin(y)]]").verdict == "correct"


def test_dir_lists_the_public_api() -> None:
    assert {"jacobian", "gradient", "verify", "derive", "check", "parse_exprs"} <= set(dir(jl))
    assert not any(name.startswith("_") and name != "__version__" for name in dir(jl))


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'jacobain'"):
        jl.jacobain  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_or_the_kernels_does_not_import_sympy() -> None:
    code = ("import sys, jacobian_lab, jacobian_lab.kernels; "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_diff_differentiates_a_matrix_expression_and_proves_it() -> None:
    d = jl.diff("x'*A*x", "x", {"A": "n,n", "x": "n"})
    assert d.proof is not None and d.proof.ok and len(d.proof.sizes) == 3
    with pytest.raises(JlabError, match="inner dimensions"):
        jl.diff("W*x", ["x"], {"W": "n,m", "x": "n"})


def test_verify_with_shapes_judges_a_matrix_claim_and_refutes_a_wrong_one() -> None:
    import jacobian_lab as jl

    shapes = {"A": "n,n", "x": "n"}
    assert jl.verify("x'*A*x", "x", "x'*(A + A')", shapes=shapes).verdict == "correct"
    wrong = jl.verify("x'*A*x", "x", "2*x'*A", shapes=shapes)
    assert wrong.verdict == "incorrect" and "agrees at n=1" in (wrong.diagnosis or "")
    assert jl.verify("x'*A*x", "x", "(A + A')*x", shapes=shapes,
                     layout="denominator").verdict == "correct"
    with pytest.raises(UsageError, match="one name"):
        jl.verify("x'*A*x", ["x", "A"], "x'", shapes=shapes)
