"""Gradient checks while training: the kernels' backprop against two independent witnesses.

:func:`check_gradients` takes the network, a batch, and compares the gradient that backprop
through the generated kernels gives (evaluated in float64 on a float64 copy of the weights, so
the tolerances can be tight even for a float32 run) with

1. **central finite differences** of the loss, computed in plain NumPy float64, along a few
   random unit directions ``v`` (one JVP ``⟨∇C, v⟩`` per direction, so the cost does not grow
   with the number of parameters) and on a few coordinates (the largest-gradient one and random
   ones). The step is ``h = ε^(1/3)·max(1, |θᵢ|)`` for a coordinate, ``max(1, ‖θ‖_∞)`` along
   a direction. A step that moves a ReLU pre-activation across 0 makes the difference quotient
   meaningless: such a direction or coordinate is drawn again and counted in ``kink_skips``
   (after ``MAX_TRIES`` draws on kinks the comparison is skipped — its error is NaN — rather
   than failed);
2. **the closed forms** of the catalog (``backprop``, ``mnist-network``,
   ``softmax-cross-entropy``), written out in plain NumPy float64 — BP1
   ``δᴸ = Aᴸ − Y`` (softmax + cross-entropy) or ``(Aᴸ − Y) ⊙ σ′(Zᴸ)`` (sigmoid + MSE), BP2
   ``δˡ = (Wˡ⁺¹ᵀ δˡ⁺¹) ⊙ f′(Zˡ)``, BP3 ``∂C/∂bˡ = (1/m) δˡ 𝟏``, BP4
   ``∂C/∂Wˡ = (1/m) δˡ Aˡ⁻¹ᵀ`` — and the loss itself (the kernels' forward pass).

Errors are relative: ``|backprop − witness| / max(|backprop|, |witness|, s)`` for the finite
differences, where ``s = ‖∇C‖/√P`` (the RMS gradient entry) keeps a derivative that happens to
be tiny from turning rounding noise into a large ratio; block-wise
``‖backprop − closed form‖_∞ / ‖closed form‖_∞`` for the closed forms.

>>> import numpy as np
>>> from jacobian_lab.training.model import init_network
>>> rng = np.random.default_rng(0)
>>> net = init_network((6, 4, 3), rng=rng)
>>> X = rng.random((6, 8)).astype(np.float32)
>>> Y = np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, 8)]
>>> check_gradients(net, X, Y, rng).passed
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.errors import TrainingError
from jacobian_lab.training import model

__all__ = [
    "GradientCheck", "GradientCheckError", "Tolerances", "check_gradients",
    "closed_form_gradients", "reference_loss",
]

F64 = NDArray[np.float64]
EPS64 = float(np.finfo(np.float64).eps)
MAX_TRIES = 10  # draws of a direction or coordinate before giving up on a kink-free one


class GradientCheckError(TrainingError):
    """A gradient check failed during a ``--strict`` run (exit code 1: a check failed)."""

    exit_code = 1


@dataclass(frozen=True)
class Tolerances:
    """Relative tolerances, for checks done in float64."""

    fd: float = 1e-6  #: backprop vs central differences
    closed_form: float = 1e-10  #: backprop vs BP1–BP4 (and the loss) in plain NumPy


@dataclass(frozen=True)
class GradientCheck:
    """The outcome of one check; errors are the largest relative errors seen (NaN: not run)."""

    step: int
    fd_direction: float
    fd_coordinate: float
    closed_form: float
    forward: float
    kink_skips: int = 0
    samples: int = 0
    failures: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def max_error(self) -> float:
        """The largest relative error of the check (NaN if nothing was compared)."""
        vals = [v for v in (self.fd_direction, self.fd_coordinate, self.closed_form,
                            self.forward) if not math.isnan(v)]
        return max(vals, default=math.nan)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failures"] = list(self.failures)
        d["passed"] = self.passed
        return d


# --------------------------------------------------------------------------- plain NumPy f64

def _act(name: str, Z: F64) -> F64:
    if name == "relu":
        return np.maximum(Z, 0.0)
    if name == "sigmoid":
        return np.exp(-np.logaddexp(0.0, -Z))  # 1/(1+e^(−z)) without overflow
    return np.tanh(Z)


def _act_grad(name: str, Z: F64) -> F64:
    if name == "relu":
        return (Z > 0).astype(np.float64)  # ReLU′(0) = 0, the notes' convention
    if name == "sigmoid":
        s = _act("sigmoid", Z)
        return s * (1.0 - s)
    t = np.tanh(Z)
    return 1.0 - t * t


def _log_softmax(Z: F64) -> F64:
    S = Z - Z.max(axis=0, keepdims=True)
    return S - np.log(np.exp(S).sum(axis=0, keepdims=True))


def _forward(Ws: Sequence[F64], bs: Sequence[F64], X: F64,
             activation: str, loss: str) -> tuple[list[F64], list[F64]]:
    Zs, As = [], [X]
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = W @ As[-1] + b
        if i < len(Ws) - 1:
            A = _act(activation, Z)
        else:
            A = np.exp(_log_softmax(Z)) if loss == "cross-entropy" else _act("sigmoid", Z)
        Zs.append(Z)
        As.append(A)
    return Zs, As


def _loss(Zs: list[F64], As: list[F64], Y: F64, loss: str) -> float:
    m = Y.shape[1]
    if loss == "cross-entropy":
        return float(-(Y * _log_softmax(Zs[-1])).sum() / m)
    return float(((Y - As[-1]) ** 2).sum() / (2 * m))


def reference_loss(Ws: Sequence[F64], bs: Sequence[F64], X: F64, Y: F64,
                   activation: str, loss: str) -> float:
    """The batch's mean loss, in plain NumPy float64 (no kernel)."""
    Zs, As = _forward(Ws, bs, X, activation, loss)
    return _loss(Zs, As, Y, loss)


def closed_form_gradients(Ws: Sequence[F64], bs: Sequence[F64], X: F64, Y: F64,
                          activation: str, loss: str
                          ) -> tuple[float, list[F64], list[F64]]:
    """The loss and ``(∂C/∂Wˡ, ∂C/∂bˡ)`` from BP1–BP4, in plain NumPy float64 (no kernel)."""
    Zs, As = _forward(Ws, bs, X, activation, loss)
    return _closed_forms(Ws, Zs, As, Y, activation, loss)


def _closed_forms(Ws: Sequence[F64], Zs: list[F64], As: list[F64], Y: F64, activation: str,
                  loss: str) -> tuple[float, list[F64], list[F64]]:
    m = Y.shape[1]
    delta = As[-1] - Y  # BP1, softmax + cross-entropy
    if loss == "mse":
        delta = delta * _act_grad("sigmoid", Zs[-1])  # BP1 with σ′ for the sigmoid output
    L = len(Ws)
    dWs: list[F64] = [np.empty(0)] * L
    dbs: list[F64] = [np.empty(0)] * L
    for i in range(L - 1, -1, -1):
        dWs[i] = delta @ As[i].T / m  # BP4
        dbs[i] = delta.sum(axis=1, keepdims=True) / m  # BP3
        if i > 0:
            delta = (Ws[i].T @ delta) * _act_grad(activation, Zs[i - 1])  # BP2
    return _loss(Zs, As, Y, loss), dWs, dbs


# --------------------------------------------------------------------------- the check

def _names(L: int) -> list[str]:
    return [name for i in range(1, L + 1) for name in (f"dW{i}", f"db{i}")]


def _crosses_kink(Z0: list[F64], *others: list[F64]) -> bool:
    """Whether any hidden pre-activation changes side of 0 between the points."""
    for i in range(len(Z0) - 1):
        pos = Z0[i] > 0
        for Zs in others:
            if np.any(pos != (Zs[i] > 0)):
                return True
    return False


def _ratio(a: float, b: float, scale: float) -> float:
    """The relative error; ``inf`` when either side is NaN or ±Inf (a comparison that ran and
    failed, never NaN — NaN means "not run", and every ``err > tol`` is False for NaN)."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b), scale, np.finfo(np.float64).tiny)


def _exceeds(err: float, tol: float) -> str:
    """``"relative error 3.1e-04 > tolerance 1e-06"``, or the not-finite case."""
    if math.isinf(err):
        return f"not finite (NaN or Inf), so above tolerance {tol:.0e}"
    return f"relative error {err:.2e} > tolerance {tol:.0e}"


def _closed_form_errors(names: Sequence[str], backprop: Sequence[NDArray[Any]],
                        closed: Sequence[NDArray[Any]], tol: float, failures: list[str]) -> float:
    """The largest relative error of backprop against the closed forms (BP3/BP4); each
    gradient above ``tol`` adds a message naming its worst entry to ``failures``."""
    closed_err = 0.0
    for name, g, c in zip(names, backprop, closed, strict=True):
        finite = np.isfinite(g) & np.isfinite(c)
        if finite.all():
            diff = np.abs(g - c)
            err = float(diff.max() / max(float(np.abs(c).max()), np.finfo(np.float64).tiny))
            flat = int(np.argmax(diff))
        else:  # a NaN/Inf on either side fails, and the message points at it
            err, flat = math.inf, int(np.argmin(finite))
        closed_err = max(closed_err, err)
        if not err <= tol:
            idx = np.unravel_index(flat, g.shape)
            where = ", ".join(map(str, idx))
            bp = "BP4" if name.startswith("dW") else "BP3"
            failures.append(f"{name}[{where}]: backprop {g[idx]:.10g}, closed form ({bp}) "
                            f"{c[idx]:.10g}: {_exceeds(err, tol)}")
    return closed_err


def _not_finite(net: model.Network, X: NDArray[Any], Y: NDArray[Any],
                step: int) -> GradientCheck | None:
    """A failed check when a weight or the batch holds NaN/Inf: a gradient at such a point
    is never compared (it fails)."""
    bad = model.describe_non_finite({**net.arrays(), "X": X, "Y": Y})
    if not bad:
        return None
    return GradientCheck(step=step, fd_direction=math.inf, fd_coordinate=math.inf,
                         closed_form=math.inf, forward=math.inf, samples=X.shape[1],
                         failures=(f"not finite: {bad}; no gradient there can be checked",))


def _wrong_shapes(names: Sequence[str], backprop: Sequence[NDArray[Any]],
                  params: Sequence[NDArray[Any]], m: int, step: int) -> GradientCheck | None:
    """A failed check when a gradient has another shape than its parameter (a transposed dW,
    a row db): it would broadcast, not compare."""
    wrong = [f"{name}: backprop gives shape {g.shape}, the parameter has {p.shape}"
             for name, g, p in zip(names, backprop, params, strict=True) if g.shape != p.shape]
    if not wrong:
        return None
    return GradientCheck(step=step, fd_direction=math.nan, fd_coordinate=math.nan,
                         closed_form=math.inf, forward=math.nan, samples=m,
                         failures=tuple(wrong))


def check_gradients(net: model.Network, X: NDArray[Any], Y: NDArray[Any],
                    rng: np.random.Generator, *, step: int = 0, n_directions: int = 2,
                    n_coordinates: int = 3, tolerances: Tolerances | None = None,
                    max_samples: int = 256) -> GradientCheck:
    """Check the kernels' gradient of the batch loss at ``net`` (see the module docstring).

    Only the first ``max_samples`` columns of the batch are used. ``rng`` draws the directions
    and coordinates. Never raises for a failed comparison: the messages are in ``failures``.
    NaN or ±Inf anywhere — in the weights or the batch (then nothing is computed), in the loss
    or a gradient — fails the check, with an error of ``inf``.
    """
    tol = tolerances or Tolerances()
    m = min(X.shape[1], max_samples)
    unusable = _not_finite(net, X[:, :m], Y[:, :m], step)
    if unusable is not None:
        return unusable
    net64 = net.astype(np.float64)
    X64 = np.ascontiguousarray(X[:, :m], dtype=np.float64)
    Y64 = np.ascontiguousarray(Y[:, :m], dtype=np.float64)
    act, loss_name = net.activation, net.loss
    Ws, bs = net64.weights, net64.biases
    failures: list[str] = []

    # The gradient under test: backprop through the kernels, in float64.
    loss_k, grads = model.loss_and_gradients(net64, X64, Y64)
    backprop = grads.arrays()
    wrong = _wrong_shapes(_names(len(Ws)), backprop, net64.parameters(), m, step)
    if wrong is not None:
        return wrong

    # (2) the closed forms and the forward pass.
    Z0, A0 = _forward(Ws, bs, X64, act, loss_name)
    loss_c, dW_c, db_c = _closed_forms(Ws, Z0, A0, Y64, act, loss_name)
    closed = [g for pair in zip(dW_c, db_c, strict=True) for g in pair]
    forward_err = (abs(loss_k - loss_c) / max(abs(loss_c), np.finfo(np.float64).tiny)
                   if math.isfinite(loss_k) and math.isfinite(loss_c) else math.inf)
    if not forward_err <= tol.closed_form:
        failures.append(f"loss: kernels {loss_k:.12g}, plain NumPy {loss_c:.12g}: "
                        f"{_exceeds(forward_err, tol.closed_form)}")
    names = _names(len(Ws))
    closed_err = _closed_form_errors(names, backprop, closed, tol.closed_form, failures)

    # (1) central differences of the plain NumPy loss.
    g_flat = np.concatenate([g.ravel() for g in backprop])
    P = g_flat.size
    scale = float(np.linalg.norm(g_flat)) / math.sqrt(P) if np.isfinite(g_flat).all() else 0.0
    theta = net64.parameters()
    kink_skips = 0

    def loss_at(params: list[F64]) -> tuple[float, list[F64]]:
        Zs, As = _forward(params[0::2], params[1::2], X64, act, loss_name)
        return _loss(Zs, As, Y64, loss_name), Zs

    def central(at: Callable[[float], list[F64]], h: float) -> float | None:
        """``(C(θ + h·δ) − C(θ − h·δ)) / 2h`` where ``at(s)`` is θ + s·δ, or None when the
        step moves a ReLU pre-activation across 0."""
        plus, z_plus = loss_at(at(h))
        minus, z_minus = loss_at(at(-h))
        if act == "relu" and _crosses_kink(Z0, z_plus, z_minus):
            return None
        return (plus - minus) / (2 * h)

    def along(v: list[F64]) -> Callable[[float], list[F64]]:
        return lambda s: [p + s * d for p, d in zip(theta, v, strict=True)]

    def at_coordinate(block: int, local: tuple[int, ...]) -> Callable[[float], list[F64]]:
        def at(s: float) -> list[F64]:
            params = list(theta)
            params[block] = theta[block].copy()
            params[block][local] += s
            return params

        return at

    h_dir = EPS64 ** (1 / 3) * max(1.0, max(float(np.abs(p).max()) for p in theta))
    fd_dir_err = math.nan
    for k in range(n_directions):
        for _ in range(MAX_TRIES):
            v = [rng.standard_normal(p.shape) for p in theta]
            norm = math.sqrt(sum(float((d * d).sum()) for d in v))
            v = [d / norm for d in v]
            fd = central(along(v), h_dir)
            if fd is not None:
                break
            kink_skips += 1
        else:
            continue
        jvp = float(sum(float((g * d).sum()) for g, d in zip(backprop, v, strict=True)))
        err = _ratio(jvp, fd, scale)
        fd_dir_err = err if math.isnan(fd_dir_err) else max(fd_dir_err, err)
        if not err <= tol.fd:
            failures.append(f"direction {k + 1}: backprop ⟨∇C, v⟩ = {jvp:.10g}, central "
                            f"difference {fd:.10g} (h = {h_dir:.1e}): {_exceeds(err, tol.fd)}")

    sizes = [p.size for p in theta]
    offsets = np.cumsum([0, *sizes])
    fd_coord_err = math.nan
    # The largest gradient entry first (a strong signal), then random coordinates.
    largest = int(np.argmax(np.abs(g_flat))) if np.isfinite(g_flat).all() else None
    for k in range(n_coordinates):
        for attempt in range(MAX_TRIES):
            first = k == 0 and attempt == 0 and largest is not None
            flat = largest if first and largest is not None else int(rng.integers(P))
            block = int(np.searchsorted(offsets, flat, side="right") - 1)
            local = tuple(int(i) for i in np.unravel_index(flat - int(offsets[block]),
                                                           theta[block].shape))
            x = float(theta[block][local])
            h = EPS64 ** (1 / 3) * max(1.0, abs(x))
            h = ((x + h) - (x - h)) / 2  # the step the floating-point numbers really take
            fd = central(at_coordinate(block, local), h)
            if fd is not None:
                break
            kink_skips += 1
        else:
            continue
        g_val = float(backprop[block][local])
        err = _ratio(g_val, fd, scale)
        fd_coord_err = err if math.isnan(fd_coord_err) else max(fd_coord_err, err)
        if not err <= tol.fd:
            where = ", ".join(map(str, local))
            failures.append(f"{names[block]}[{where}]: backprop {g_val:.10g}, central "
                            f"difference {fd:.10g} (h = {h:.1e}): {_exceeds(err, tol.fd)}")

    return GradientCheck(step=step, fd_direction=fd_dir_err, fd_coordinate=fd_coord_err,
                         closed_form=closed_err, forward=forward_err, kink_skips=kink_skips,
                         samples=m, failures=tuple(failures))
