"""The trainer's fused step: the generated one-call-per-run-of-batches SGD, checked against
the NumPy kernels before and while it is used.

:func:`fused_for` returns a :class:`FusedEpoch` for a network the step covers (ReLU hidden
layers, softmax + cross-entropy, float32 or float64) when Numba and BLAS are at hand, after
:func:`verify` has run it on small random data and found the same updates and costs as the
NumPy kernels (:mod:`jacobian_lab.training.model`: the kernels as they are at that moment, so
a test that swaps a kernel makes the step disagree, and the trainer falls back). During
training, every batch the gradient check looks at goes through the NumPy kernels, and the
fused step is run on the same batch from the same weights and compared again
(:meth:`FusedEpoch.compare`): the gradient checks keep checking what is trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab import kernels
from jacobian_lab.errors import TrainingError
from jacobian_lab.kernels import _generated
from jacobian_lab.kernels import fused as compiled
from jacobian_lab.training import model

__all__ = ["PATHS", "TOLERANCE", "FusedEpoch", "FusedStepError", "fused_for", "supported", "verify"]

Array = NDArray[Any]
#: Largest relative difference (‖fused − kernels‖_∞ / ‖kernels‖_∞ per array) accepted between
#: the fused step and the NumPy kernels after one step: rounding, nothing more.
TOLERANCE = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
VERIFY_SIZES = (7, 6, 5, 4)  # distinct sizes: a transposed formula cannot fit
VERIFY_SAMPLES, VERIFY_BATCH = 23, 9  # three batches, the last one short
#: The step's ``small`` for each of its paths: every product through BLAS, every one through
#: the step's thin loops (each path is verified; training takes one or both by shape).
PATHS = {"BLAS": 0, "loops": 1 << 30}
#: The kernels a ReLU + cross-entropy network trains on (the fused step replaces them).
MODEL_KERNELS = ("dense_forward", "relu", "softmax", "softmax_cross_entropy",
                 "softmax_cross_entropy_grad", "dense_backward", "relu_backward")


class FusedStepError(TrainingError):
    """The fused step disagrees with the NumPy kernels."""


def _difference(a: list[Array], b: list[Array]) -> float:
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        if x.shape != y.shape:
            return float("inf")
        scale = max(float(np.abs(y).max(initial=0.0)), 1e-30)
        diff = float(np.abs(x.astype(np.float64) - y).max(initial=0.0)) / scale
        worst = max(worst, diff if np.isfinite(diff) else float("inf"))
    return worst


def reference_run(net: model.Network, xs: Array, ys: Array, order: NDArray[np.intp],
                  lo: int, hi: int, batch: int, lr: float) -> list[float]:
    """Batches ``lo … hi−1`` through the NumPy kernels, as ``train_epoch`` runs them; the
    costs before each update."""
    costs = []
    step = net.dtype.type(lr)
    for b in range(lo, hi):
        idx = order[b * batch:(b + 1) * batch]
        X, Y = xs[idx].T, ys[idx].T
        fw = model.forward(net, X)
        costs.append(model.loss(net, fw, Y))
        model.sgd_update(net, model.backward(net, fw, Y), step)
    return costs


def verify(fn: Any, dtype: Any = np.float32, seed: int = 0,
           sizes: tuple[int, ...] = VERIFY_SIZES) -> float:
    """Run ``fn`` (a ``fused_epoch``, as :func:`jacobian_lab.kernels.fused.load` returns it)
    and the NumPy kernels on the same small random data, a ReLU kink included, once with its
    products through BLAS and once through its thin loops (:data:`PATHS`); the largest
    relative difference in the weights and costs, a :class:`FusedStepError` above
    :data:`TOLERANCE`."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    net = model.init_network(sizes, rng=rng, dtype=dt)
    xs = rng.standard_normal((VERIFY_SAMPLES, sizes[0])).astype(dt)
    labels = rng.integers(0, sizes[-1], VERIFY_SAMPLES)
    ys = np.eye(sizes[-1], dtype=dt)[labels]
    order = rng.permutation(VERIFY_SAMPLES)
    # A blank input in the first batch (biases still 0): its pre-activations sit on the
    # ReLU kink in every layer.
    xs[order[0]] = 0.0
    nb = -(-VERIFY_SAMPLES // VERIFY_BATCH)
    start = net.copy()
    expected = reference_run(net, xs, ys, order, 0, nb, VERIFY_BATCH, 0.5)
    worst = 0.0
    for path, small in PATHS.items():
        mine = start.copy()
        costs, correct = np.zeros(nb), np.zeros(nb, np.int64)
        try:
            fn(xs, ys, labels, order, 0, nb, VERIFY_BATCH, 0.5, tuple(mine.weights),
               tuple(mine.biases), costs, correct, small=small)
        except Exception as e:  # a printed step that does not run is a wrong step
            raise FusedStepError(f"the fused step fails on a small batch, products through "
                                 f"{path} ({type(e).__name__}: {e})") from None
        err = _difference([*mine.parameters(), costs],
                          [*net.parameters(), np.array(expected)])
        if not err <= TOLERANCE[dt]:
            raise FusedStepError(f"the fused step differs from the NumPy kernels by {err:.1e} "
                                 f"(relative, {dt.name}) on a small random batch, products "
                                 f"through {path}")
        worst = max(worst, err)
    return worst


@dataclass(eq=False)
class FusedEpoch:
    """A compiled, verified fused step for one dtype, and what its comparisons found."""

    fn: Any
    dtype: np.dtype[Any]
    compared: int = 0
    worst: float = 0.0  #: the largest difference found by :meth:`compare`
    broken: str | None = None  #: why the step was dropped (a disagreement), if it was

    def run(self, net: model.Network, xs: Array, ys: Array, labels: Array,
            order: NDArray[np.intp], lo: int, hi: int, batch: int, lr: float,
            costs: Array, correct: Array) -> None:
        """Batches ``lo … hi−1``: ``net`` updated in place, costs and hits recorded."""
        self.fn(xs, ys, labels, order, lo, hi, batch, float(lr), tuple(net.weights),
                tuple(net.biases), costs, correct)

    def compare(self, net: model.Network, before: model.Network, xs: Array, ys: Array,
                labels: Array, order: NDArray[np.intp], b: int, batch: int,
                lr: float, cost: float) -> float:
        """Run batch ``b`` from the weights ``before`` and compare with ``net`` (the same
        step through the NumPy kernels) and its ``cost``; a :class:`FusedStepError` if they
        differ by more than rounding."""
        costs, hits = np.zeros(b + 1), np.zeros(b + 1, np.int64)
        self.run(before, xs, ys, labels, order, b, b + 1, batch, lr, costs, hits)
        err = _difference([*before.parameters(), costs[b:]],
                          [*net.parameters(), np.array([cost])])
        self.compared += 1
        self.worst = max(self.worst, err)
        if not err <= TOLERANCE[self.dtype]:
            raise FusedStepError(f"the fused step differs from the NumPy kernels by "
                                 f"{err:.1e} (relative) on batch {b + 1}")
        return err


def supported(net: model.Network) -> str | None:
    """Why the fused step does not cover ``net``, or None when it does."""
    if net.activation != "relu" or net.loss != "cross-entropy":
        return (f"the fused step covers ReLU + cross-entropy networks, not "
                f"{net.activation} + {net.loss}")
    if net.dtype not in TOLERANCE:
        return f"the fused step covers float32 and float64, not {net.dtype}"
    swapped = [k for k in MODEL_KERNELS if getattr(kernels, k) is not getattr(_generated, k)]
    if swapped:  # the trainer honours a kernel swapped in (tests, mutation testing)
        return f"the kernel {swapped[0]} is not the generated one"
    return None


def fused_for(net: model.Network) -> tuple[FusedEpoch | None, str | None]:
    """The verified fused step for ``net``, or None and the reason (no Numba, a network it
    does not cover, or a disagreement with the NumPy kernels)."""
    reason = supported(net) or compiled.unavailable_reason()
    if reason is not None:
        return None, reason
    fn = compiled.load()
    try:  # at the network's depth: the step is compiled once per depth and dtype
        verify(fn, net.dtype, sizes=tuple(range(len(net.weights) + 5, 4, -1)))
    except FusedStepError as e:
        return None, str(e)
    return FusedEpoch(fn, net.dtype), None
