"""The network the trainer trains: parameters, initialisation, forward and backward passes.

Every activation, loss and derivative comes from a generated kernel of
:mod:`jacobian_lab.kernels`; this module only strings them together: there is no hand-written
gradient here, and no arithmetic on gradients but the optimiser's update. Kernels are looked up
on the module at each call, so a test that replaces one (``monkeypatch.setattr(kernels, …)``)
changes the training.

Batches are columns, as in the notes: ``X`` is ``n₀ × m``. Layer ``l`` has ``Wˡ`` (``nˡ × nˡ⁻¹``)
and ``bˡ`` (``nˡ × 1``); hidden layers apply ReLU (or sigmoid, tanh), the output layer softmax
for cross-entropy or sigmoid for the MSE ``C = 1/(2m) Σ (y − a)²``.

>>> import numpy as np
>>> net = init_network((4, 3, 2), rng=np.random.default_rng(0))
>>> X = np.ones((4, 5), dtype=np.float32)
>>> Y = np.eye(2, 5, dtype=np.float32)
>>> loss, grads = loss_and_gradients(net, X, Y)
>>> [g.shape for g in grads.weights]
[(3, 4), (2, 3)]
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from jacobian_lab import kernels
from jacobian_lab.errors import TrainingError, UnknownNameError, did_you_mean

__all__ = [
    "ACTIVATIONS", "INITS", "LOSSES", "Forward", "Gradients", "Network", "Workspace",
    "backward", "count_correct", "describe_non_finite", "forward", "init_network", "loss",
    "loss_and_gradients",
    "sgd_update",
]

Array = NDArray[Any]

ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("cross-entropy", "mse")
INITS = ("he", "uniform")
#: The output activation that goes with each loss.
OUTPUT_ACTIVATION = {"cross-entropy": "softmax", "mse": "sigmoid"}


def check_choice(kind: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else an :class:`UnknownNameError` listing them."""
    if value not in allowed:
        raise UnknownNameError(f"unknown {kind} `{value}`{did_you_mean(value, allowed)}; "
                               f"use one of {', '.join(allowed)}")
    return value


# --------------------------------------------------------------------------- the network

@dataclass(eq=False)
class Network:
    """Weights ``W¹…Wᴸ`` and biases ``b¹…bᴸ`` (columns), all of one float dtype."""

    weights: list[Array]
    biases: list[Array]
    activation: str = "relu"
    loss: str = "cross-entropy"

    def __post_init__(self) -> None:
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("loss", self.loss, LOSSES)
        if len(self.weights) != len(self.biases) or not self.weights:
            raise TrainingError(f"a network needs one bias per weight matrix, got "
                                f"{len(self.weights)} weights and {len(self.biases)} biases")
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True), 1):
            if W.ndim != 2 or b.shape != (W.shape[0], 1):
                raise TrainingError(f"layer {i}: W{i} {W.shape} and b{i} {b.shape} do not fit "
                                    f"(b{i} must be a column of W{i}'s rows)")
            if i > 1 and W.shape[1] != self.weights[i - 2].shape[0]:
                raise TrainingError(f"layer {i}: W{i} takes {W.shape[1]} inputs but layer "
                                    f"{i - 1} has {self.weights[i - 2].shape[0]} units")

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(n₀, n₁, …, n_L)``."""
        return (self.weights[0].shape[1], *(W.shape[0] for W in self.weights))

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.weights[0].dtype

    @property
    def n_params(self) -> int:
        return sum(W.size + b.size for W, b in zip(self.weights, self.biases, strict=True))

    def parameters(self) -> list[Array]:
        """``[W¹, b¹, W², b², …]`` — the arrays themselves, not copies."""
        return [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]

    def astype(self, dtype: DTypeLike) -> Network:
        """A copy in another dtype (always a copy, even for the same dtype)."""
        return Network([W.astype(dtype) for W in self.weights],
                       [b.astype(dtype) for b in self.biases], self.activation, self.loss)

    def copy(self) -> Network:
        return self.astype(self.dtype)

    def is_finite(self) -> bool:
        return all(bool(np.isfinite(p).all()) for p in self.parameters())

    def arrays(self) -> dict[str, Array]:
        """``{"W1": …, "b1": …, …}``, as saved in ``weights.npz``."""
        out: dict[str, Array] = {}
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True), 1):
            out[f"W{i}"], out[f"b{i}"] = W, b
        return out

    @classmethod
    def from_arrays(cls, arrays: Any, activation: str, loss: str) -> Network:
        """The inverse of :meth:`arrays` (``arrays`` may be an open ``.npz``)."""
        n = sum(1 for k in arrays if k.startswith("W"))
        if n == 0:
            raise TrainingError("no weight arrays W1, W2, … found")
        return cls([np.array(arrays[f"W{i}"]) for i in range(1, n + 1)],
                   [np.array(arrays[f"b{i}"]) for i in range(1, n + 1)], activation, loss)


def describe_non_finite(arrays: Mapping[str, Array]) -> str:
    """``"W1: 3 NaN, 1 +Inf (first at [0, 4]); b2: …"``, or ``""`` when every entry is finite.

    >>> describe_non_finite({"W1": np.array([[1.0, np.nan]]), "b1": np.zeros((1, 1))})
    'W1: 1 NaN (first at [0, 1])'
    """
    parts = []
    for name, a in arrays.items():
        finite = np.isfinite(a)
        if finite.all():
            continue
        counts = [(int(np.count_nonzero(f(a))), label) for f, label in (
            (np.isnan, "NaN"), (np.isposinf, "+Inf"), (np.isneginf, "-Inf"))]
        first = ", ".join(str(int(i)) for i in np.argwhere(~finite)[0])
        parts.append(f"{name}: " + ", ".join(f"{n} {label}" for n, label in counts if n)
                     + f" (first at [{first}])")
    return "; ".join(parts)


def init_network(sizes: tuple[int, ...] | list[int], *, activation: str = "relu",
                 loss: str = "cross-entropy", init: str = "he",
                 rng: np.random.Generator | None = None,
                 dtype: DTypeLike = np.float32) -> Network:
    """A fresh network; weights drawn in float64 from ``rng``, then rounded to ``dtype``.

    ``init="he"``: ``Wˡ ~ N(0, 2/nˡ⁻¹)``, ``bˡ = 0``. ``init="uniform"``: the notebook's
    ``U(−0.5, 0.5)`` for weights and biases alike.
    """
    check_choice("init", init, INITS)
    sizes = tuple(int(n) for n in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise TrainingError(f"layers must be at least two positive sizes, got {sizes}")
    rng = np.random.default_rng() if rng is None else rng
    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(sizes):
        if init == "he":
            W = rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)
            b = np.zeros((n_out, 1))
        else:
            W = rng.random((n_out, n_in)) - 0.5
            b = rng.random((n_out, 1)) - 0.5
        weights.append(W.astype(dtype))
        biases.append(b.astype(dtype))
    return Network(weights, biases, activation, loss)


# --------------------------------------------------------------------------- forward

@dataclass(eq=False)
class Forward:
    """Everything backprop needs: ``Z = [Z¹…Zᴸ]`` and ``A = [A⁰ = X, A¹…Aᴸ]``."""

    Z: list[Array]
    A: list[Array]


class Workspace:
    """Preallocated ``Zˡ`` (and hidden ``Aˡ``) buffers for batches of ``m`` columns.

    The kernels that take ``out=`` (``dense_forward``, the hidden activation when it does) write
    into them, so the forward pass of the hot loop allocates nothing it can reuse. A Forward
    computed with a workspace is overwritten by the next one.
    """

    def __init__(self, sizes: tuple[int, ...], m: int, dtype: DTypeLike) -> None:
        self.m = m
        self.Z = [np.empty((n, m), dtype) for n in sizes[1:]]
        self.A = [np.empty((n, m), dtype) for n in sizes[1:-1]]


@functools.lru_cache(maxsize=64)
def _takes_out(fn: Callable[..., Any]) -> bool:
    try:
        return "out" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _activate(name: str, Z: Array, out: Array | None) -> Array:
    fn = getattr(kernels, name)
    if out is not None and _takes_out(fn):
        return fn(Z, out=out)
    return fn(Z)


def forward(net: Network, X: Array, ws: Workspace | None = None) -> Forward:
    """``Zˡ = Wˡ Aˡ⁻¹ + bˡ``, ``Aˡ = f(Zˡ)``; the output layer's ``f`` follows the loss."""
    Zs: list[Array] = []
    As: list[Array] = [X]
    A = X
    last = len(net.weights) - 1
    for i, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        Z = kernels.dense_forward(W, A, b, out=None if ws is None else ws.Z[i])
        if i < last:
            A = _activate(net.activation, Z, None if ws is None else ws.A[i])
        else:
            A = getattr(kernels, OUTPUT_ACTIVATION[net.loss])(Z)
        Zs.append(Z)
        As.append(A)
    return Forward(Zs, As)


def loss(net: Network, fw: Forward, Y: Array) -> float:
    """The mean loss of the batch: cross-entropy of softmax(Zᴸ), or the MSE of Aᴸ."""
    if net.loss == "cross-entropy":
        return float(kernels.softmax_cross_entropy(fw.Z[-1], Y))
    return float(kernels.mse(fw.A[-1], Y))


def count_correct(fw: Forward, labels: NDArray[np.integer]) -> int:
    """How many columns have their largest output at the label."""
    return int(np.count_nonzero(fw.Z[-1].T.argmax(axis=1) == labels))  # T: contiguous rows


# --------------------------------------------------------------------------- backward

@dataclass(eq=False)
class Gradients:
    """``∂C/∂Wˡ`` and ``∂C/∂bˡ``, the shapes of the parameters (C the batch's mean loss)."""

    weights: list[Array]
    biases: list[Array]

    def arrays(self) -> list[Array]:
        """``[dW¹, db¹, dW², db², …]``, in the order of :meth:`Network.parameters`."""
        return [g for pair in zip(self.weights, self.biases, strict=True) for g in pair]


def backward(net: Network, fw: Forward, Y: Array) -> Gradients:
    """Backprop through the kernels: BP1 for the output delta, then per layer BP3/BP4 and
    ``dA_prev = Wᵀδ`` (``dense_backward``) and BP2 ``δ = dA_prev ⊙ f′(Z)``
    (``<activation>_backward``).

    Deltas are per sample (``δᴸ = Aᴸ − Y`` for softmax cross-entropy); ``dense_backward``
    applies the ``1/m`` of the batch mean.
    """
    if net.loss == "cross-entropy":
        delta = kernels.softmax_cross_entropy_grad(fw.A[-1], Y)
    else:  # BP1 for a sigmoid output: ∇ₐC ⊙ σ′(Zᴸ)
        delta = kernels.sigmoid_backward(kernels.mse_grad(fw.A[-1], Y), fw.Z[-1])
    bp2 = getattr(kernels, f"{net.activation}_backward")
    L = len(net.weights)
    dWs: list[Array] = [np.empty(0)] * L
    dbs: list[Array] = [np.empty(0)] * L
    for i in range(L - 1, -1, -1):
        W = net.weights[i]
        if i > 0:
            dWs[i], dbs[i], dA_prev = kernels.dense_backward(delta, fw.A[i], W)
            delta = bp2(dA_prev, fw.Z[i - 1])
        else:
            # The input layer's W¹ᵀδ¹ (n₀ × m, as costly as the forward product) is of no
            # use: given W¹'s k×0 view, the kernel's third result is an empty 0×m product.
            dWs[i], dbs[i], _ = kernels.dense_backward(delta, fw.A[i], W[:, :0])
    return Gradients(dWs, dbs)


def loss_and_gradients(net: Network, X: Array, Y: Array) -> tuple[float, Gradients]:
    """The batch loss and its gradient at ``net`` (no workspace: the results are fresh)."""
    fw = forward(net, X)
    return loss(net, fw, Y), backward(net, fw, Y)


def sgd_update(net: Network, grads: Gradients, lr: float) -> None:
    """``θ ← θ − α ∇C`` in place; the gradient arrays are used as scratch and overwritten."""
    for p, g in zip(net.parameters(), grads.arrays(), strict=True):
        np.multiply(g, -lr, out=g)
        np.add(p, g, out=p)
