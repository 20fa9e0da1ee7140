"""``assert_gradient(None, grad, *args, spec=...)``: the function given in the matrix language.

The spec's derivative is proven at the arguments' sizes and its value printed as a checked
NumPy function, which then plays ``f``: every diagnosis of the ordinary check applies."""

from __future__ import annotations

import numpy as np
import pytest

from jacobian_lab.errors import ShapeError, UsageError
from jacobian_lab.testing import GradientMismatch, assert_gradient

RNG = np.random.default_rng(3)
W = RNG.standard_normal((4, 3))
b = RNG.standard_normal(4)
x = RNG.standard_normal(3)
SPEC = "sum(relu(W*x + b))"


def right(W, b, x):
    on = (W @ x + b > 0).astype(float)
    return np.outer(on, x), on


def test_a_right_backward_pass_passes_against_the_spec() -> None:
    report = assert_gradient(None, right, W, b, x, wrt=(0, 1), spec=SPEC, seed=0)
    assert report.passed


@pytest.mark.parametrize(("wrong", "words"), [
    (lambda W, b, x: (2 * right(W, b, x)[0], right(W, b, x)[1]), "factor"),
    (lambda W, b, x: (np.outer(W @ x + b, x), right(W, b, x)[1]), ""),  # no ReLU' mask
    (lambda W, b, x: (right(W, b, x)[0], -right(W, b, x)[1]), "sign"),
], ids=["doubled dW", "mask missing", "db negated"])
def test_a_wrong_backward_pass_fails_against_the_spec(wrong, words: str) -> None:
    with pytest.raises(GradientMismatch) as info:
        assert_gradient(None, wrong, W, b, x, wrt=(0, 1), spec=SPEC, seed=0)
    assert words in str(info.value)
    assert "arg0" not in str(info.value) and ("W (4×3)" in str(info.value)
                                              or "b (4)" in str(info.value))


def test_f_and_the_spec_must_agree() -> None:
    def f(W, b, x):
        return float(np.maximum(W @ x + b, 0).sum())

    assert assert_gradient(f, right, W, b, x, wrt=(0, 1), spec=SPEC, seed=0).passed
    with pytest.raises(GradientMismatch, match="disagree"):
        assert_gradient(lambda W, b, x: 2 * f(W, b, x), right, W, b, x, wrt=(0, 1), spec=SPEC)


def test_a_spec_that_does_not_fit_the_arguments_is_an_error() -> None:
    with pytest.raises(ShapeError, match="inner dimensions"):
        assert_gradient(None, right, W, b, x, wrt=(0, 1), spec="sum(relu(x*W + b))")
    with pytest.raises(UsageError, match="3 arguments but 2 names"):
        assert_gradient(None, right, W, b, x, spec=SPEC, names=("W", "b"))
    with pytest.raises(TypeError, match="needs f, or spec="):
        assert_gradient(None, right, W, b, x)


def test_with_spec_the_convention_at_an_exact_kink_is_always_checked() -> None:
    """An input exactly on ReLU's kink: code using ReLU'(0) = 1 is told, against the proven
    gradient (ReLU'(0) = 0), even where finite differences cannot decide."""
    b0 = b.copy()
    b0[0] = -(W @ x)[0]  # z[0] = 0 exactly

    def relu_prime_one(W, b, x):
        on = (W @ x + b >= 0).astype(float)
        return np.outer(on, x), on

    assert (W @ x + b0)[0] == 0
    assert assert_gradient(None, right, W, b0, x, wrt=(0, 1), spec=SPEC, seed=0).passed
    with pytest.raises(GradientMismatch, match=r"exact, proven.*ReLU'\(0\) = 0|kink"):
        assert_gradient(None, relu_prime_one, W, b0, x, wrt=(0, 1), spec=SPEC, seed=0)
