"""The component layer: the notes' worked examples and the Parr & Howard identities."""

from __future__ import annotations

import pytest
import sympy as sp

from jacobian_lab.errors import DomainError, UnknownNameError
from jacobian_lab.judge.component import evaluate, gradient, jacobian
from jacobian_lab.judge.verify import chain
from jacobian_lab.language.functions import relu, sigmoid


def vec(name: str, n: int) -> list[sp.Symbol]:
    return list(sp.symbols(f"{name}1:{n + 1}", real=True))


def test_gradient_of_x2_plus_cos_y_is_a_row_2x_minus_sin_y(xy):
    x, y = xy
    assert gradient(x**2 + sp.cos(y), [x, y]) == sp.Matrix([[2 * x, -sp.sin(y)]])


def test_gradient_of_x2_plus_cos_y_at_2_0_is_4_0(xy):
    x, y = xy
    g = gradient(x**2 + sp.cos(y), [x, y])
    assert evaluate(g, {x: 2, y: 0}) == sp.Matrix([[4, 0]])


def test_gradient_in_denominator_layout_is_a_column(xy):
    x, y = xy
    assert gradient(x**2 + sp.cos(y), [x, y], layout="denominator").shape == (2, 1)


def test_jacobian_of_2x_plus_y3_and_exp_y_minus_13x_numerator_layout(xy):
    x, y = xy
    j = jacobian([2 * x + y**3, sp.exp(y) - 13 * x], [x, y])
    assert j == sp.Matrix([[2, 3 * y**2], [-13, sp.exp(y)]])


def test_jacobian_of_2x_minus_y3_and_exp_x_minus_13y(xy):
    x, y = xy
    j = jacobian([2 * x - y**3, sp.exp(x) - 13 * y], [x, y])
    assert j == sp.Matrix([[2, -3 * y**2], [sp.exp(x), -13]])


def test_denominator_layout_is_the_transpose(xy):
    x, y = xy
    f = [2 * x + y**3, sp.exp(y) - 13 * x]
    assert jacobian(f, [x, y], layout="denominator") == jacobian(f, [x, y]).T


def test_unknown_layout_names_the_allowed_ones(xy):
    x, _ = xy
    with pytest.raises(UnknownNameError, match="numerator, denominator"):
        jacobian([x], [x], layout="sideways")


def test_scalar_chain_rule_sin_x_squared(xy):
    x, _ = xy
    g = sp.Symbol("g", real=True)
    r = chain([sp.sin(g)], [(g, x**2)], [x])
    assert r.df_dg == sp.Matrix([[sp.cos(g)]])
    assert r.dg_dx == sp.Matrix([[2 * x]])
    assert r.product == sp.Matrix([[2 * x * sp.cos(x**2)]])
    assert r.agrees


def test_vector_chain_rule_of_the_notes_example(xy):
    x, y = xy
    g1, g2 = sp.symbols("g1 g2", real=True)
    r = chain([sp.sin(g1), sp.log(g2)], [(g1, x**2 + y), (g2, y**3)], [x, y])
    assert r.df_dg == sp.diag(sp.cos(g1), 1 / g2)
    assert r.dg_dx == sp.Matrix([[2 * x, 1], [0, 3 * y**2]])
    assert r.product == sp.Matrix([[2 * x * sp.cos(x**2 + y), sp.cos(x**2 + y)], [0, 3 / y]])
    assert r.direct == r.product
    assert r.agrees


@pytest.mark.parametrize(
    ("op", "wrt_v", "wrt_w"),
    [
        (lambda v, w: v + w, lambda v, w: sp.eye(3), lambda v, w: sp.eye(3)),
        (lambda v, w: v - w, lambda v, w: sp.eye(3), lambda v, w: -sp.eye(3)),
        (lambda v, w: v * w, lambda v, w: sp.diag(*w), lambda v, w: sp.diag(*v)),
        (
            lambda v, w: v / w,
            lambda v, w: sp.diag(*[1 / wi for wi in w]),
            lambda v, w: sp.diag(*[-vi / wi**2 for vi, wi in zip(v, w, strict=True)]),
        ),
    ],
    ids=["plus", "minus", "hadamard", "divide"],
)
def test_parr_howard_elementwise_table_n3(op, wrt_v, wrt_w):
    v, w = vec("v", 3), vec("w", 3)
    f = [op(vi, wi) for vi, wi in zip(v, w, strict=True)]
    assert jacobian(f, v) == wrt_v(v, w)
    assert jacobian(f, w) == wrt_w(v, w)


def test_scalar_expansion_v_plus_x_and_v_times_x():
    v = vec("v", 3)
    x = sp.Symbol("x", real=True)
    assert jacobian([vi + x for vi in v], v) == sp.eye(3)
    assert jacobian([vi + x for vi in v], [x]) == sp.ones(3, 1)
    assert jacobian([vi * x for vi in v], v) == x * sp.eye(3)
    assert jacobian([vi * x for vi in v], [x]) == sp.Matrix(v)


def test_sum_reduction_gradient_is_ones_row():
    v = vec("v", 4)
    assert gradient(sp.Add(*v), v) == sp.ones(1, 4)


def test_softmax_jacobian_is_diag_s_minus_s_sT():
    z = vec("z", 3)
    denom = sp.Add(*[sp.exp(zi) for zi in z])
    s = sp.Matrix([sp.exp(zi) / denom for zi in z])
    j = jacobian(list(s), z, simplify=False)
    expected = sp.diag(*s) - s * s.T
    assert (j - expected).applyfunc(sp.simplify) == sp.zeros(3, 3)


def test_relu_derivative_uses_the_convention_relu_prime_0_is_0(xy):
    x, _ = xy
    d = gradient(relu(x), [x])
    assert d == sp.Matrix([[sp.Heaviside(x, 0)]])
    assert d.subs(x, 0) == sp.Matrix([[0]])


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma(xy):
    x, _ = xy
    d = gradient(sigmoid(x), [x])[0]
    assert sp.simplify(d - sigmoid(x) * (1 - sigmoid(x))) == 0


def test_evaluate_outside_the_domain_is_a_domain_error(xy):
    _, y = xy
    with pytest.raises(DomainError, match="undefined"):
        evaluate(sp.Matrix([[3 / y]]), {y: 0})


def test_evaluate_missing_value_names_the_variable(xy):
    x, y = xy
    with pytest.raises(DomainError, match="No value given for y"):
        evaluate(sp.Matrix([[x * y]]), {x: 1})


def test_check_slopes_finds_the_cusp_of_the_right_variable_next_to_a_huge_value():
    from jacobian_lab.judge.component import check_slopes
    from jacobian_lab.language.parser import parse_expr, symbol

    x, y = symbol("x"), symbol("y")
    f = parse_expr("x^1000 + sqrt(Abs(y))")  # |f| ≈ 1e3000: the quotient in x must not drown
    with pytest.raises(DomainError, match="∂f/∂y is undefined at x=999, y=0"):
        check_slopes([f], [x, y], {x: 999, y: 0})
    check_slopes([f], [x], {x: 999, y: 0})  # in x alone, f is smooth there


@pytest.mark.parametrize("text", ["x*sqrt(Abs(x))", "(x^2)^(3/4)", "relu(x)", "Abs(x)",
                                  "sqrt(x^2 + 1)"])
def test_check_slopes_accepts_finite_slopes_and_kinks(text):
    from jacobian_lab.judge.component import check_slopes
    from jacobian_lab.language.parser import parse_expr, symbol

    check_slopes([parse_expr(text)], [symbol("x")], {symbol("x"): 0})
