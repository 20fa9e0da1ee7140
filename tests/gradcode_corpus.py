"""A corpus of hand-written NumPy backward passes, each wrong the way real ones are, with the
correct versions beside them (inputs exactly on kinks, float32 code included).

``CASES`` lists :class:`Case` objects: ``f(*args)`` is a scalar loss, ``grad(*args)`` the
hand-written gradient (one array per checked argument), ``expect`` a phrase of the diagnosis
``jacobian_lab.testing`` must give (``None``: the code is right and the check must pass).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_rng = np.random.default_rng(7)


@dataclass(frozen=True)
class Case:
    name: str
    f: Callable[..., float]
    grad: Callable[..., Any]
    args: tuple[Any, ...]
    expect: str | None = None  # a phrase of the diagnosis; None: must pass
    kwargs: dict[str, Any] = field(default_factory=dict)
    wrt: tuple[int, ...] | None = None

    @property
    def correct(self) -> bool:
        return self.expect is None


# --------------------------------------------------------------------------- dense + MSE
# C = 1/(2m) ‖W X + b − Y‖², X: n × m (a batch of m columns), W square so a transposed dW
# has the right shape.

M = 6
W0, X0 = _rng.standard_normal((4, 4)), _rng.standard_normal((4, M))
B0, Y0 = _rng.standard_normal((4, 1)), _rng.standard_normal((4, M))


def dense_loss(W: Any, X: Any, b: Any) -> float:
    return float(((W @ X + b - Y0.astype(X.dtype)) ** 2).sum() / (2 * X.shape[1]))


def dense_grad(W: Any, X: Any, b: Any) -> tuple[Any, Any, Any]:
    D = (W @ X + b - Y0.astype(X.dtype)) / X.shape[1]
    return D @ X.T, W.T @ D, D.sum(axis=1, keepdims=True)


def dense_grad_transposed(W: Any, X: Any, b: Any) -> tuple[Any, Any, Any]:
    _, dX, db = dense_grad(W, X, b)
    D = (W @ X + b - Y0) / X.shape[1]
    return X @ D.T, dX, db  # x δᵀ for δ xᵀ


def dense_grad_no_mean(W: Any, X: Any, b: Any) -> tuple[Any, Any, Any]:
    D = W @ X + b - Y0  # the 1/m of the mean forgotten
    return D @ X.T, W.T @ D / X.shape[1], D.sum(axis=1, keepdims=True) / X.shape[1]


def dense_grad_sign(W: Any, X: Any, b: Any) -> tuple[Any, Any, Any]:
    D = (Y0 - W @ X - b) / X.shape[1]  # y − a where the derivative has a − y
    return D @ X.T, W.T @ (-D), -D.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- ReLU on kinks
# x has exact zeros: ReLU'(0) = 0 is the convention asked.

XR = np.array([1.5, 0.0, -0.7, 0.0, 2.0, -1.0, 0.0])
WR = np.array([0.5, -2.0, 1.0, 3.0, -1.5, 0.25, 1.0])


def relu_loss(x: Any) -> float:
    return float(np.sum(WR * np.maximum(x, 0.0)))


def relu_grad(x: Any) -> Any:
    return WR * (x > 0)


def relu_grad_at_zero_one(x: Any) -> Any:
    return WR * (x >= 0)  # ReLU'(0) = 1


# A ReLU layer whose pre-activations are exactly 0 in two rows, checked w.r.t. b: each b_j
# reaches C only through unit j, so the side where it is off is flat and tells the convention.
WL, XL = _rng.integers(-4, 5, (3, 4)) / 4, _rng.integers(-4, 5, 4) / 2  # exact products
BL = np.array([-float(WL[0] @ XL), 0.3, -float(WL[2] @ XL)])
UL = np.array([1.0, -2.0, 0.5])


def relu_layer_loss(b: Any) -> float:
    return float(UL @ np.maximum(WL @ XL + b, 0.0))


def relu_layer_grad(b: Any) -> Any:
    return UL * (WL @ XL + b > 0)


def relu_layer_grad_at_zero_one(b: Any) -> Any:
    return UL * (WL @ XL + b >= 0)  # ReLU'(0) = 1 on the pre-activations


# L1: C = Σ w ⊙ |x| at exact zeros; sign(0) = 0 is in the subgradient [−w, w], and no side is
# flat, so no convention can be told from f alone.


def l1_loss(x: Any) -> float:
    return float(WR @ np.abs(x))


def l1_grad(x: Any) -> Any:
    return WR * np.sign(x)


# --------------------------------------------------------------------------- softmax + CE
# C = −(1/m) Σ Y ⊙ log softmax(Z) with the softmax over the classes (axis 0).

ZS = _rng.standard_normal((3, 5))
YS = np.eye(3)[:, [0, 2, 1, 1, 0]]


def _softmax(Z: Any, axis: int) -> Any:
    E = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return E / E.sum(axis=axis, keepdims=True)


def ce_loss(Z: Any) -> float:
    S = Z - Z.max(axis=0, keepdims=True)
    logp = S - np.log(np.exp(S).sum(axis=0, keepdims=True))
    return float(-(YS * logp).sum() / Z.shape[1])


def ce_grad(Z: Any) -> Any:
    return (_softmax(Z, 0) - YS) / Z.shape[1]


def ce_grad_sum(Z: Any) -> Any:
    return _softmax(Z, 0) - YS  # a sum over the batch where the loss takes the mean


def ce_grad_wrong_axis(Z: Any) -> Any:
    return (_softmax(Z, 1) - YS) / Z.shape[1]  # the softmax over the batch axis


# --------------------------------------------------------------------------- sigmoid

ZG, WG = _rng.standard_normal(6), _rng.standard_normal(6)


def _sigmoid(z: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_loss(z: Any) -> float:
    return float(WG @ _sigmoid(z))


def sigmoid_grad(z: Any) -> Any:
    s = _sigmoid(z)
    return WG * s * (1 - s)


def sigmoid_grad_as_sigma(z: Any) -> Any:
    return WG * _sigmoid(z)  # σ′ written as σ


# --------------------------------------------------------------------------- layer norm
# y = (x − μ)/σ over each row; C = Σ G ⊙ y.

XN, GN = _rng.standard_normal((3, 5)), _rng.standard_normal((3, 5))


def layernorm_loss(x: Any) -> float:
    mu = x.mean(axis=1, keepdims=True)
    sd = np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    return float((GN * (x - mu) / sd).sum())


def _layernorm_parts(x: Any) -> tuple[Any, Any]:
    mu = x.mean(axis=1, keepdims=True)
    sd = np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    return (x - mu) / sd, sd


def layernorm_grad(x: Any) -> Any:
    xh, sd = _layernorm_parts(x)
    return (GN - GN.mean(axis=1, keepdims=True)
            - xh * (GN * xh).mean(axis=1, keepdims=True)) / sd


def layernorm_grad_no_mean(x: Any) -> Any:
    xh, sd = _layernorm_parts(x)
    return (GN - xh * (GN * xh).mean(axis=1, keepdims=True)) / sd  # − mean(g) missing


# --------------------------------------------------------------------------- 1-D convolution
# y = x * w ('valid' convolution); C = Σ g ⊙ y.

XC, WC = _rng.standard_normal(9), _rng.standard_normal(3)
GC = _rng.standard_normal(7)


def conv_loss(x: Any, w: Any) -> float:
    return float(GC @ np.convolve(x, w, "valid"))


def conv_grad(x: Any, w: Any) -> tuple[Any, Any]:
    return np.correlate(GC, w, "full"), np.correlate(x, GC, "valid")[::-1]


def conv_grad_not_flipped(x: Any, w: Any) -> tuple[Any, Any]:
    return np.correlate(GC, w, "full"), np.correlate(x, GC, "valid")  # kernel not flipped


# --------------------------------------------------------------------------- strided slice
# C = Σ w ⊙ tanh(x[1::2]).

XT, WT = _rng.standard_normal(8), _rng.standard_normal(4)


def slice_loss(x: Any) -> float:
    return float(WT @ np.tanh(x[1::2]))


def slice_grad(x: Any) -> Any:
    dx = np.zeros_like(x)
    dx[1::2] = WT * (1 - np.tanh(x[1::2]) ** 2)
    return dx


def slice_grad_off_by_one(x: Any) -> Any:
    dx = np.zeros_like(x)
    dx[0::2] = WT * (1 - np.tanh(x[1::2]) ** 2)  # the slice starts at 0, not 1
    return dx


# --------------------------------------------------------------------------- leaky ReLU, ‖·‖²
# C = Σ w ⊙ leaky(x) with slope 0.1 below 0; C = ‖A x − y‖² (no ½).

XK = np.array([1.2, -0.4, 0.3, -2.0, 0.8, -0.1])
WK = np.array([0.5, 1.5, -1.0, 2.0, -0.5, 1.0])
AQ, YQ, XQ = (_rng.standard_normal(s) for s in ((5, 3), 5, 3))


def leaky_loss(x: Any) -> float:
    return float(WK @ np.where(x > 0, x, 0.1 * x))


def leaky_grad(x: Any) -> Any:
    return WK * np.where(x > 0, 1.0, 0.1)


def leaky_grad_slope_typo(x: Any) -> Any:
    return WK * np.where(x > 0, 1.0, 0.01)  # 0.01 for 0.1


def sq_loss(x: Any) -> float:
    return float(np.sum((AQ @ x - YQ) ** 2))


def sq_grad(x: Any) -> Any:
    return 2 * AQ.T @ (AQ @ x - YQ)


def sq_grad_no_two(x: Any) -> Any:
    return AQ.T @ (AQ @ x - YQ)  # the 2 of d‖r‖²/dr = 2r forgotten


# --------------------------------------------------------------------------- float32 code

W32, X32, B32 = (a.astype(np.float32) for a in (W0, X0, B0))


CASES: list[Case] = [
    Case("dense: correct", dense_loss, dense_grad, (W0, X0, B0)),
    Case("dense: dW transposed", dense_loss, dense_grad_transposed, (W0, X0, B0), "transposed"),
    Case("dense: the mean's 1/m missing", dense_loss, dense_grad_no_mean, (W0, X0, B0),
         "factor 6 = X.shape[1]"),
    Case("dense: a sign", dense_loss, dense_grad_sign, (W0, X0, B0), "a sign"),
    Case("dense: float32 code, correct", dense_loss, dense_grad, (W32, X32, B32)),
    Case("dense: float32 code, float64 tolerance", dense_loss, dense_grad, (W32, X32, B32),
         "float32 precision", {"rtol": 1e-9}),
    Case("ReLU: correct, inputs on kinks", relu_loss, relu_grad, (XR,)),
    Case("ReLU: ReLU'(0) = 1 at exact zeros", relu_loss, relu_grad_at_zero_one, (XR,),
         "wrong only at kinks"),
    Case("ReLU layer: correct, pre-activations on kinks", relu_layer_loss, relu_layer_grad,
         (BL,)),
    Case("ReLU layer: ReLU'(0) = 1 on pre-activations at 0", relu_layer_loss,
         relu_layer_grad_at_zero_one, (BL,), "wrong only at kinks"),
    Case("L1: sign(0) = 0 at exact zeros", l1_loss, l1_grad, (XR,)),
    Case("softmax-CE: correct", ce_loss, ce_grad, (ZS,)),
    Case("softmax-CE: sum instead of mean over the batch", ce_loss, ce_grad_sum, (ZS,),
         "factor 5 = Z.shape[1]"),
    Case("softmax-CE: reduced over the wrong axis", ce_loss, ce_grad_wrong_axis, (ZS,),
         "sums to zero along axis 0"),
    Case("sigmoid: correct", sigmoid_loss, sigmoid_grad, (ZG,)),
    Case("sigmoid: σ′ written as σ", sigmoid_loss, sigmoid_grad_as_sigma, (ZG,),
         "element-wise factor"),
    Case("layer norm: correct", layernorm_loss, layernorm_grad, (XN,)),
    Case("layer norm: mean term missing", layernorm_loss, layernorm_grad_no_mean, (XN,),
         "the same along axis 1"),
    Case("conv1d: correct", conv_loss, conv_grad, (XC, WC)),
    Case("conv1d: kernel not flipped", conv_loss, conv_grad_not_flipped, (XC, WC),
         "reversed along axis 0"),
    Case("leaky ReLU: correct", leaky_loss, leaky_grad, (XK,)),
    Case("leaky ReLU: slope 0.01 for 0.1", leaky_loss, leaky_grad_slope_typo, (XK,),
         "wrong only where x is negative"),
    Case("‖Ax − y‖²: correct", sq_loss, sq_grad, (XQ,)),
    Case("‖Ax − y‖²: the 2 forgotten", sq_loss, sq_grad_no_two, (XQ,), "a constant factor ½"),
    Case("strided slice: correct", slice_loss, slice_grad, (XT,)),
    Case("strided slice: off by one", slice_loss, slice_grad_off_by_one, (XT,),
         "shifted by +1"),
]
