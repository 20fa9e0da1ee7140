"""jacobian_lab.testing on PyTorch code: hand-written ``torch.autograd.Function`` backward
passes checked against their forward (in float64), functions on tensors, and the corpus run
through ``torch.autograd.gradcheck`` beside our checker (skipped without torch)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from gradcode_compare import jlab_check, torch_gradcheck  # noqa: E402
from gradcode_corpus import CASES  # noqa: E402

from jacobian_lab.testing import (  # noqa: E402
    GradientMismatch,
    assert_autograd_function,
    assert_gradient,
)

# --------------------------------------------------------------------------- hand-written Functions


class Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, W, x):
        ctx.save_for_backward(W, x)
        return W @ x

    @staticmethod
    def backward(ctx, g):
        W, x = ctx.saved_tensors
        return torch.outer(g, x), W.T @ g


class LinearTransposed(Linear):
    @staticmethod
    def backward(ctx, g):
        W, x = ctx.saved_tensors
        return torch.outer(x, g), W.T @ g  # dW transposed


class ReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0)


class ReLUAtZeroOne(ReLU):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x >= 0)  # ReLU'(0) = 1


class Sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        s = torch.sigmoid(z)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return g * s * (1 - s)


class SigmoidAsSigma(Sigmoid):
    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return g * s  # σ′ written as σ


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_a_correct_linear_function_passes_and_a_transposed_dw_is_diagnosed(gen):
    W, x = torch.randn(4, 4, generator=gen), torch.randn(4, generator=gen)
    report = assert_autograd_function(Linear, W, x, seed=0)
    assert report.passed and report.evaluated_in == "float64"
    with pytest.raises(GradientMismatch, match="transposed"):
        assert_autograd_function(LinearTransposed, W, x, seed=0)


def test_relu_function_on_exact_zeros_passes_and_relu_prime_one_is_wrong_only_at_kinks():
    x = torch.tensor([1.0, 0.0, -2.0, 0.0, 0.5])
    report = assert_autograd_function(ReLU, x, seed=0)
    assert len(report.kinks) == 2
    with pytest.raises(GradientMismatch, match="wrong only at kinks"):
        assert_autograd_function(ReLUAtZeroOne, x, seed=0)


def test_sigma_prime_written_as_sigma_is_an_element_wise_factor(gen):
    z = torch.randn(6, generator=gen)
    assert assert_autograd_function(Sigmoid, z, seed=0).passed
    with pytest.raises(GradientMismatch, match="element-wise factor"):
        assert_autograd_function(SigmoidAsSigma, z, seed=0)


def test_a_float32_function_is_checked_in_float64(gen):
    W, x = torch.randn(3, 3, generator=gen), torch.randn(3, generator=gen)
    assert W.dtype == torch.float32
    assert assert_autograd_function(Linear, W, x, seed=0).passed


def test_an_autograd_function_check_rejects_a_non_function():
    with pytest.raises(TypeError, match=r"not a torch\.autograd\.Function"):
        assert_autograd_function(torch.sin, torch.ones(2))


def test_a_backward_of_the_wrong_shape_is_a_mismatch_naming_the_function():
    class Bad(ReLU):
        @staticmethod
        def backward(ctx, g):
            return g[:2]

    with pytest.raises(GradientMismatch, match=r"Bad.backward raised RuntimeError: .*shape"):
        assert_autograd_function(Bad, torch.tensor([1.0, -1.0, 2.0]))


# --------------------------------------------------------------------------- functions on tensors


def _layernorm(x):
    mu = x.mean(dim=1, keepdim=True)
    return (x - mu) / torch.sqrt(((x - mu) ** 2).mean(dim=1, keepdim=True) + 1e-5)


def test_functions_on_tensors_are_accepted_and_a_missing_mean_term_is_diagnosed(gen):
    x, G = torch.randn(3, 5, generator=gen), torch.randn(3, 5, generator=gen)

    def f(x):
        return (G.to(x.dtype) * _layernorm(x)).sum()

    def grad(x, mean_term=True):
        xh = _layernorm(x)
        sd = torch.sqrt(((x - x.mean(dim=1, keepdim=True)) ** 2).mean(dim=1, keepdim=True)
                        + 1e-5)
        g = G - (G.mean(dim=1, keepdim=True) if mean_term else 0)
        return (g - xh * (G * xh).mean(dim=1, keepdim=True)) / sd

    report = assert_gradient(f, grad, x, seed=0)
    assert report.passed and report.rtol == 2e-4, "float32 tensors: float32 tolerances"
    with pytest.raises(GradientMismatch, match="the same along axis 1"):
        assert_gradient(f, lambda x: grad(x, mean_term=False), x, seed=0)


# --------------------------------------------------------------------------- beside gradcheck


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_corpus_beside_torch_gradcheck(case):
    ok, said = jlab_check(case)
    assert ok == case.correct, said
    t_ok, t_said = torch_gradcheck(case)
    # what torch.autograd.gradcheck gets wrong on this corpus: correct code on kinks, and
    # correct float32 code; and what it never says: the diagnosis
    false_alarms = {"dense: float32 code, correct", "ReLU: correct, inputs on kinks",
                    "ReLU layer: correct, pre-activations on kinks"}
    assert t_ok == (case.correct and case.name not in false_alarms), t_said
    if not t_ok:
        assert "Jacobian mismatch" in t_said


def test_assert_vjp_on_tensors_takes_a_tensor_upstream(gen):
    from jacobian_lab.testing import assert_vjp

    W, x = torch.randn(3, 4, generator=gen), torch.randn(4, generator=gen)

    def layer(W, x):
        return torch.tanh(W @ x)

    def backward(g, W, x, flip=1.0):
        assert isinstance(g, torch.Tensor) and g.shape == (3,)
        d = g * (1 - torch.tanh(W @ x) ** 2)
        return flip * torch.outer(d, x), W.T @ d

    assert assert_vjp(layer, backward, W, x, seed=0).passed
    with pytest.raises(GradientMismatch, match="a sign"):
        assert_vjp(layer, lambda g, W, x: backward(g, W, x, flip=-1.0), W, x, seed=0)


# --------------------------------------------------------------------------- a torch corpus
# Hand-written backward passes on tensors (f and grad on tensors), wrong the way real ones are.

_g = torch.Generator().manual_seed(3)
_W, _X, _Y = (torch.randn(*s, generator=_g, dtype=torch.float64) for s in ((4, 4), (4, 6), (4, 6)))
_Z = torch.randn(3, 5, generator=_g, dtype=torch.float64)
_T = torch.eye(3, dtype=torch.float64)[:, [0, 2, 1, 1, 0]]
_XC, _WC = (torch.randn(1, 1, n, generator=_g, dtype=torch.float64) for n in (9, 3))
_GC = torch.randn(1, 1, 7, generator=_g, dtype=torch.float64)
_XS, _WS = torch.randn(8, generator=_g, dtype=torch.float64), torch.randn(4, generator=_g,
                                                                           dtype=torch.float64)


def _mse(W):
    X, Y = _X.to(W.dtype), _Y.to(W.dtype)
    return ((W @ X - Y) ** 2).sum() / (2 * X.shape[1])


def _mse_grad(W, m=None, sign=1.0):
    X, Y = _X.to(W.dtype), _Y.to(W.dtype)
    return sign * (W @ X - Y) @ X.T / (X.shape[1] if m is None else m)


def _ce(Z):
    return -(_T * torch.log_softmax(Z, dim=0)).sum() / Z.shape[1]


def _ce_grad(Z, dim=0, m=None):
    return (torch.softmax(Z, dim=dim) - _T) / (Z.shape[1] if m is None else m)


def _conv(w):
    return (torch.nn.functional.conv1d(_XC, w) * _GC).sum()  # conv1d is a cross-correlation


def _conv_grad(w, flipped=False):
    dw = torch.nn.functional.conv1d(_XC, _GC)  # correlate x with the upstream
    return dw.flip(-1) if flipped else dw


def _slice(x):
    return (_WS * torch.tanh(x[1::2])).sum()


def _slice_grad(x, start=1):
    dx = torch.zeros_like(x)
    dx[start::2] = _WS * (1 - torch.tanh(x[1::2]) ** 2)
    return dx


TORCH_CASES = [
    ("MSE: correct", _mse, _mse_grad, _W, None),
    ("MSE: the mean's 1/m missing", _mse, lambda W: _mse_grad(W, m=1), _W,
     "constant factor 6 \\(an integer: a missing 1/m with m = 6\\?\\)"),
    ("MSE: a sign", _mse, lambda W: _mse_grad(W, sign=-1.0), _W, "a sign"),
    ("MSE: float32 tensors, correct", _mse, _mse_grad, _W.float(), None),
    ("softmax-CE: correct", _ce, _ce_grad, _Z, None),
    ("softmax-CE: sum instead of mean", _ce, lambda Z: _ce_grad(Z, m=1), _Z, "factor 5"),
    ("softmax-CE: softmax over the wrong axis", _ce, lambda Z: _ce_grad(Z, dim=1), _Z,
     "sums to zero along axis 0"),
    ("conv1d: correct", _conv, _conv_grad, _WC, None),
    ("conv1d: kernel flipped", _conv, lambda w: _conv_grad(w, flipped=True), _WC,
     "reversed along axis 2"),
    ("strided slice: correct", _slice, _slice_grad, _XS, None),
    ("strided slice: off by one", _slice, lambda x: _slice_grad(x, start=0), _XS,
     r"shifted by \+1"),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_the_torch_corpus_verdicts_and_diagnoses(case):
    _, f, grad, x, expect = case
    if expect is None:
        assert assert_gradient(f, grad, x, seed=0).passed
    else:
        with pytest.raises(GradientMismatch, match=expect):
            assert_gradient(f, grad, x, seed=0)
