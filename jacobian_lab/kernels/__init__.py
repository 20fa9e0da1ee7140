"""NumPy kernels generated from the derivations (``jlab codegen``); imports NumPy only.

Batched: columns are samples (``X`` is n × m); float32 in, float32 out. Every kernel's
docstring names its derivation and gives the formula and the shapes; ``jlab codegen --show
NAME`` prints its source. BP2 is one generated kernel per activation
(``hidden_delta_relu``, ``hidden_delta_sigmoid``, ``hidden_delta_tanh``): each prints as
one line with its own formula, where a single kernel would need a run-time dispatch;
:func:`hidden_delta` picks one by name. When ``dA_prev = W_nextᵀ dZ_next`` is already at hand
(``dense_backward`` returns it), ``relu_backward(dA_prev, Z)`` (and the sigmoid and tanh
ones) give the same ``dZ`` without a second matrix product.

>>> import numpy as np

from jacobian_lab.errors import UnknownNameError, did_you_mean
>>> relu_grad(np.array([[-1.0, 0.0, 2.0]], dtype=np.float32))
array([[0., 0., 1.]], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from jacobian_lab.errors import UnknownNameError, did_you_mean
from jacobian_lab.kernels._generated import (
    dense_backward,
    dense_forward,
    hidden_delta_relu,
    hidden_delta_sigmoid,
    hidden_delta_tanh,
    log_softmax,
    mse,
    mse_grad,
    neuron_relu_grad_b,
    neuron_relu_grad_w,
    relu,
    relu_backward,
    relu_grad,
    sigmoid,
    sigmoid_backward,
    sigmoid_grad,
    softmax,
    softmax_cross_entropy,
    softmax_cross_entropy_grad,
    tanh,
    tanh_backward,
    tanh_grad,
)

HIDDEN_DELTA = {
    "relu": hidden_delta_relu,
    "sigmoid": hidden_delta_sigmoid,
    "tanh": hidden_delta_tanh,
}


def hidden_delta(
    W_next: np.ndarray, dZ_next: np.ndarray, Z: np.ndarray, activation: str = "relu"
) -> np.ndarray:
    """BP2, (W_nextᵀ dZ_next) ⊙ f'(Z), for ``activation`` in relu, sigmoid, tanh."""
    try:
        kernel = HIDDEN_DELTA[activation]
    except KeyError:
        raise UnknownNameError(
            f"Unknown activation `{activation}`{did_you_mean(activation, HIDDEN_DELTA)}; "
            f"known: {', '.join(HIDDEN_DELTA)}"
        ) from None
    return kernel(W_next, dZ_next, Z)


__all__ = [
    "HIDDEN_DELTA",
    "dense_backward",
    "dense_forward",
    "hidden_delta",
    "hidden_delta_relu",
    "hidden_delta_sigmoid",
    "hidden_delta_tanh",
    "log_softmax",
    "mse",
    "mse_grad",
    "neuron_relu_grad_b",
    "neuron_relu_grad_w",
    "relu",
    "relu_backward",
    "relu_grad",
    "sigmoid",
    "sigmoid_backward",
    "sigmoid_grad",
    "softmax",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
    "tanh",
    "tanh_backward",
    "tanh_grad",
]
