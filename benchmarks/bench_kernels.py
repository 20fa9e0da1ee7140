"""The generated kernels against hand-written NumPy, at MNIST scale; and their import time.

m = 10,000 samples, n = 784 inputs, k = 128 hidden units, j = 10 outputs; float32 and
float64. Goal: median ratio ≤ 1.05 (the generated code is as fast as careful hand-written
NumPy); ``import jacobian_lab.kernels`` within 1.3 × ``import numpy``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from jacobian_lab import kernels

M, N, K, J = 10_000, 784, 128, 10
Array = np.ndarray


# --------------------------------------------------------------------------- references
# What a careful engineer writes by hand: vectorized, stable, dtype-preserving.


def ref_sigmoid(Z: Array) -> Array:
    with np.errstate(over="ignore"):  # exp(-Z) = inf where the sigmoid is 0
        return 1 / (1 + np.exp(-Z))


def ref_relu(Z: Array, out: Array | None = None) -> Array:
    return np.maximum(Z, 0, out=out)


def ref_relu_grad(Z: Array) -> Array:
    return (Z > 0).astype(Z.dtype)


def ref_sigmoid_grad(Z: Array) -> Array:
    s = ref_sigmoid(Z)
    return s * (1 - s)


def ref_tanh_grad(Z: Array) -> Array:
    t = np.tanh(Z)
    return 1 - t * t


def ref_softmax(Z: Array) -> Array:
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    e /= e.sum(axis=0, keepdims=True)
    return e


def ref_log_softmax(Z: Array) -> Array:
    shifted = Z - Z.max(axis=0, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=0, keepdims=True))
    return shifted


def ref_softmax_cross_entropy(Z: Array, Y: Array) -> Any:
    return -(Y * ref_log_softmax(Z)).sum() / Z.shape[1]


def ref_difference(A: Array, Y: Array) -> Array:
    return A - Y


def ref_mse(A: Array, Y: Array) -> Any:
    d = Y - A
    return (d * d).sum() / (2 * A.shape[1])


def ref_dense_forward(W: Array, A: Array, b: Array, out: Array | None = None) -> Array:
    Z = np.matmul(W, A, out=out)
    Z += b
    return Z


def ref_dense_backward(dZ: Array, A_prev: Array, W: Array) -> tuple[Array, Array, Array]:
    m = dZ.shape[1]
    return dZ @ A_prev.T / m, dZ.sum(axis=1, keepdims=True) / m, W.T @ dZ


def ref_hidden_delta_relu(W_next: Array, dZ_next: Array, Z: Array) -> Array:
    return (W_next.T @ dZ_next) * (Z > 0)


def ref_hidden_delta_sigmoid(W_next: Array, dZ_next: Array, Z: Array) -> Array:
    s = ref_sigmoid(Z)
    return (W_next.T @ dZ_next) * s * (1 - s)


def ref_hidden_delta_tanh(W_next: Array, dZ_next: Array, Z: Array) -> Array:
    t = np.tanh(Z)
    return (W_next.T @ dZ_next) * (1 - t * t)


def ref_relu_backward(dA: Array, Z: Array) -> Array:
    return dA * (Z > 0)


def ref_sigmoid_backward(dA: Array, Z: Array) -> Array:
    s = ref_sigmoid(Z)
    return dA * s * (1 - s)


def ref_tanh_backward(dA: Array, Z: Array) -> Array:
    t = np.tanh(Z)
    return dA * (1 - t * t)


def ref_neuron_relu_grad_w(w: Array, b: Array, X: Array) -> Array:
    return X * (w.T @ X + b > 0)


def ref_neuron_relu_grad_b(w: Array, b: Array, X: Array) -> Array:
    return (w.T @ X + b > 0).astype(X.dtype)


# --------------------------------------------------------------------------- the runs


def _data(dtype: type, seed: int = 0) -> dict[str, Array]:
    rng = np.random.default_rng(seed)

    def r(*shape: int, scale: float = 1.0) -> Array:
        return (rng.standard_normal(shape) * scale).astype(dtype)

    labels = rng.integers(0, J, M)
    return {
        "Zh": r(K, M, scale=2.0), "Zo": r(J, M, scale=3.0),
        "Y": np.eye(J, dtype=dtype)[:, labels], "Ao": ref_softmax(r(J, M)),
        "W": r(K, N, scale=0.05), "X": r(N, M), "b": r(K, 1), "dZ": r(K, M),
        "W_next": r(J, K, scale=0.1), "dZ_next": r(J, M),
        "w": r(N, 1, scale=0.05), "b1": r(1, 1), "outh": np.empty((K, M), dtype),
    }


def _cases(d: dict[str, Array]) -> list[tuple[str, Callable[..., Any], Callable[..., Any], tuple]]:
    k = kernels
    return [
        ("relu", k.relu, ref_relu, (d["Zh"],)),
        ("relu out=", lambda Z: k.relu(Z, out=d["outh"]),
         lambda Z: ref_relu(Z, out=d["outh"]), (d["Zh"],)),
        ("relu_grad", k.relu_grad, ref_relu_grad, (d["Zh"],)),
        ("sigmoid", k.sigmoid, ref_sigmoid, (d["Zh"],)),
        ("sigmoid_grad", k.sigmoid_grad, ref_sigmoid_grad, (d["Zh"],)),
        ("tanh", k.tanh, np.tanh, (d["Zh"],)),
        ("tanh out=", lambda Z: k.tanh(Z, out=d["outh"]),
         lambda Z: np.tanh(Z, out=d["outh"]), (d["Zh"],)),
        ("tanh_grad", k.tanh_grad, ref_tanh_grad, (d["Zh"],)),
        ("softmax", k.softmax, ref_softmax, (d["Zo"],)),
        ("log_softmax", k.log_softmax, ref_log_softmax, (d["Zo"],)),
        ("softmax_cross_entropy", k.softmax_cross_entropy, ref_softmax_cross_entropy,
         (d["Zo"], d["Y"])),
        ("softmax_cross_entropy_grad", k.softmax_cross_entropy_grad, ref_difference,
         (d["Ao"], d["Y"])),
        ("mse", k.mse, ref_mse, (d["Ao"], d["Y"])),
        ("mse_grad", k.mse_grad, ref_difference, (d["Ao"], d["Y"])),
        ("dense_forward", k.dense_forward, ref_dense_forward, (d["W"], d["X"], d["b"])),
        ("dense_forward out=", lambda W, A, b: k.dense_forward(W, A, b, out=d["outh"]),
         lambda W, A, b: ref_dense_forward(W, A, b, out=d["outh"]), (d["W"], d["X"], d["b"])),
        ("dense_backward", k.dense_backward, ref_dense_backward, (d["dZ"], d["X"], d["W"])),
        ("hidden_delta_relu", k.hidden_delta_relu, ref_hidden_delta_relu,
         (d["W_next"], d["dZ_next"], d["Zh"])),
        ("hidden_delta_sigmoid", k.hidden_delta_sigmoid, ref_hidden_delta_sigmoid,
         (d["W_next"], d["dZ_next"], d["Zh"])),
        ("hidden_delta_tanh", k.hidden_delta_tanh, ref_hidden_delta_tanh,
         (d["W_next"], d["dZ_next"], d["Zh"])),
        ("relu_backward", k.relu_backward, ref_relu_backward, (d["dZ"], d["Zh"])),
        ("sigmoid_backward", k.sigmoid_backward, ref_sigmoid_backward, (d["dZ"], d["Zh"])),
        ("tanh_backward", k.tanh_backward, ref_tanh_backward, (d["dZ"], d["Zh"])),
        ("neuron_relu_grad_w", k.neuron_relu_grad_w, ref_neuron_relu_grad_w,
         (d["w"], d["b1"], d["X"])),
        ("neuron_relu_grad_b", k.neuron_relu_grad_b, ref_neuron_relu_grad_b,
         (d["w"], d["b1"], d["X"])),
    ]


def _same(a: Any, b: Any, dtype: type) -> None:
    """The candidate must be right before it is fast: same values, same dtype."""
    for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,),
                    strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype == dtype, (x.dtype, y.dtype)
        tol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


def _python(code: str) -> Callable[[], object]:
    return lambda: subprocess.run([sys.executable, "-c", code], check=True)


def run(bench: Any) -> None:
    for dtype in (np.float32, np.float64):
        d = _data(dtype)
        for name, cand, ref, args in _cases(d):
            _same(cand(*args), ref(*args), dtype)
            bench.compare(f"{name} [{np.dtype(dtype).name}]",
                          lambda c=cand, a=args: c(*a), lambda r=ref, a=args: r(*a),
                          repeat=21, goal=1.05)
    bench.compare("import jacobian_lab.kernels (vs import numpy)",
                  _python("import jacobian_lab.kernels"), _python("import numpy"),
                  repeat=10, goal=1.3)
