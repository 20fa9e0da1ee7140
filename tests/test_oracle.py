"""An external oracle: PyTorch autograd (an independent implementation) against our kernels
and our backprop, in float64. Skipped, with the reason, where torch is not installed
(`.ci/run` installs exactly torch==2.13.0, a local CPU wheel)."""

from __future__ import annotations

import numpy as np
import pytest

from jacobian_lab import kernels
from jacobian_lab.training.model import init_network, loss_and_gradients

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")

TOL = 1e-12


def rel_err(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Normwise relative error max|a − b| / max|b| (entry-wise ratios explode near 0)."""
    scale = max(float(np.max(np.abs(theirs))), 1e-300)
    return float(np.max(np.abs(ours - theirs))) / scale


def _torch_act(name: str):
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]


def torch_gradients(net, X: np.ndarray, Y: np.ndarray):
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in net.biases]
    A = torch.tensor(X, dtype=torch.float64)
    Yt = torch.tensor(Y, dtype=torch.float64)
    m = X.shape[1]
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = W @ A + b
        last = i == len(Ws) - 1
        if not last:
            A = _torch_act(net.activation)(Z)
    if net.loss == "cross-entropy":
        C = -(Yt * torch.log_softmax(Z, dim=0)).sum() / m
    else:
        C = ((Yt - torch.sigmoid(Z)) ** 2).sum() / (2 * m)
    C.backward()
    return float(C.detach()), [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]


@pytest.mark.parametrize("sizes", [(784, 10, 10), (784, 32, 16, 10)], ids=["784-10-10",
                                                                           "784-32-16-10"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("loss", ["cross-entropy", "mse"])
def test_backprop_gradients_equal_pytorch_autograd_in_float64(sizes, activation, loss, rng):
    net = init_network(sizes, activation=activation, loss=loss, rng=rng, dtype=np.float64)
    m = 16
    X = rng.random((sizes[0], m))
    Y = np.eye(sizes[-1])[:, rng.integers(0, sizes[-1], m)]
    c_ours, grads = loss_and_gradients(net, X, Y)
    c_torch, gW, gb = torch_gradients(net, X, Y)
    assert abs(c_ours - c_torch) <= TOL * abs(c_torch)
    for layer, (ours, theirs) in enumerate(zip(grads.weights, gW, strict=True), 1):
        assert rel_err(ours, theirs) <= TOL, f"dW{layer}: {rel_err(ours, theirs):.2e}"
    for layer, (ours, theirs) in enumerate(zip(grads.biases, gb, strict=True), 1):
        assert rel_err(ours, theirs) <= TOL, f"db{layer}: {rel_err(ours, theirs):.2e}"


def test_a_broken_dense_backward_is_caught_by_the_oracle(rng, monkeypatch):
    net = init_network((20, 7, 5), rng=rng, dtype=np.float64)
    X, Y = rng.random((20, 8)), np.eye(5)[:, rng.integers(0, 5, 8)]
    right = kernels.dense_backward

    def no_mean(dZ, A_prev, W):  # the classic slip: forgetting the 1/m
        dW, db, dA = right(dZ, A_prev, W)
        return dW * dZ.shape[1], db, dA

    monkeypatch.setattr(kernels, "dense_backward", no_mean)
    _, grads = loss_and_gradients(net, X, Y)
    _, gW, _ = torch_gradients(net, X, Y)
    assert rel_err(grads.weights[0], gW[0]) > 1.0


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_activation_kernels_and_derivatives_equal_pytorch(name, rng):
    Z = rng.standard_normal((10, 50)) * 3
    zt = torch.tensor(Z, requires_grad=True)
    out = _torch_act(name)(zt)
    out.sum().backward()
    assert rel_err(getattr(kernels, name)(Z), out.detach().numpy()) <= TOL
    assert rel_err(getattr(kernels, f"{name}_grad")(Z), zt.grad.numpy()) <= TOL


def test_softmax_cross_entropy_kernels_equal_pytorch_even_at_logits_1000(rng):
    Z = rng.standard_normal((10, 40)) * 1000
    Y = np.eye(10)[:, rng.integers(0, 10, 40)]
    zt = torch.tensor(Z, requires_grad=True)
    C = -(torch.tensor(Y) * torch.log_softmax(zt, dim=0)).sum() / 40
    C.backward()
    assert rel_err(kernels.softmax(Z), torch.softmax(torch.tensor(Z), 0).numpy()) <= TOL
    c = float(C.detach())
    assert abs(kernels.softmax_cross_entropy(Z, Y) - c) <= TOL * abs(c)
    dZ = kernels.softmax_cross_entropy_grad(kernels.softmax(Z), Y) / 40
    assert rel_err(dZ, zt.grad.numpy()) <= TOL


def test_mse_kernel_equals_pytorch(rng):
    A, Y = rng.random((10, 30)), np.eye(10)[:, rng.integers(0, 10, 30)]
    at = torch.tensor(A, requires_grad=True)
    C = ((torch.tensor(Y) - at) ** 2).sum() / (2 * 30)
    C.backward()
    c = float(C.detach())
    assert abs(kernels.mse(A, Y) - c) <= TOL * c
    assert rel_err(kernels.mse_grad(A, Y) / 30, at.grad.numpy()) <= TOL
