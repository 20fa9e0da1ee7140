"""An external oracle: PyTorch autograd (an independent implementation) against our kernels,
our backprop and the catalog's closed forms, in float64. Skipped, with the reason, where torch
is not installed (`.ci/run` installs exactly torch==2.13.0, a local CPU wheel).

* Kernels: every generated kernel has an oracle in ``KERNEL_ORACLES`` that computes the same
  quantity from its definition — forward kernels through torch's own functions, derivative
  kernels through torch autograd of the function or cost they differentiate — and a missing
  oracle fails ``test_every_public_kernel_has_an_oracle``.
* Catalog: every result of every derivation is instantiated at each of its sizes (the
  component layer's explicit symbols), our closed form is evaluated with NumPy and the
  derivative it claims to be is taken by ``torch.autograd.functional.jacobian`` of the
  instantiated ``of`` printed as a torch function; random points respect the domains (positive
  where a log needs it, away from 0 where a division does) and stay off ReLU kinks, with both
  sides of the kinks sampled.

Errors are normwise: max|ours − theirs| / max|theirs| ≤ 1e-12. The worst error of every kernel
and catalog entry is recorded (``record_property``) and printed as a table at the end of the
module (``pytest -rA`` or ``-s`` shows it).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import zlib
from collections.abc import Callable, Mapping

import numpy as np
import pytest
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pytorch import TorchPrinter

import derivations
from jacobian_lab import kernels
from jacobian_lab.core.derivation import Derivation, Result, substitute
from jacobian_lab.core.proof import instantiate_claim
from jacobian_lab.errors import ShapeError
from jacobian_lab.kernels import _generated
from jacobian_lab.language.functions import relu, sigmoid
from jacobian_lab.matrix.explicit import Instantiator, components
from jacobian_lab.training.model import init_network, loss_and_gradients

torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
F = torch.nn.functional

TOL = 1e-12
F64 = torch.float64

# The worst error per kernel / catalog entry, printed by ``_worst_error_table`` at the end.
WORST: dict[str, dict[str, float]] = {"kernel": {}, "catalog result": {}, "catalog claim": {}}


def rel_err(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Normwise relative error max|a − b| / max|b| (entry-wise ratios explode near 0)."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    if ours.shape != theirs.shape or not np.all(np.isfinite(ours)):
        return math.inf  # the wrong shape, or a NaN that max() would otherwise swallow
    scale = max(float(np.max(np.abs(theirs), initial=0.0)), 1e-300)
    return float(np.max(np.abs(ours - theirs), initial=0.0)) / scale


@pytest.fixture(scope="module", autouse=True)
def _worst_error_table():
    yield
    for kind, table in WORST.items():
        if table:
            print(f"\nworst normwise relative error vs PyTorch, per {kind} (tolerance {TOL:.0e})")
            for name, err in table.items():
                print(f"  {name:<32} {err:.1e}")


def _record(kind: str, name: str, err: float, record_property) -> None:
    WORST[kind][name] = max(err, WORST[kind].get(name, 0.0))
    record_property("max_rel_err", err)


def _act(name: str) -> Callable:
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]


# ================================================================== backprop networks


def torch_gradients(net, X: np.ndarray, Y: np.ndarray):
    Ws = [torch.tensor(W, dtype=F64, requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b, dtype=F64, requires_grad=True) for b in net.biases]
    A = torch.tensor(X, dtype=F64)
    Yt = torch.tensor(Y, dtype=F64)
    m = X.shape[1]
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = W @ A + b
        last = i == len(Ws) - 1
        if not last:
            A = _act(net.activation)(Z)
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


# ================================================================== kernels
#
# Each oracle returns [(label, ours, theirs), ...]: ours from the kernel (looked up at call
# time, so a monkeypatched kernel is what is judged), theirs from torch. Derivative kernels
# are computed by autograd from what they are the derivative of; the batched ones follow the
# convention of jacobian_lab/codegen/specs.py: a cost C = (1/m) Σ L has per-sample gradients
# dZ = m ∂C/∂Z, and the 1/m appears once, in dense_backward's dW and db.

K, J, N, M = 10, 7, 12, 9  # units, units of the next layer, inputs, samples
Comparison = list[tuple[str, np.ndarray, np.ndarray]]


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(a, dtype=F64, requires_grad=grad)


def _pre_activations(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Pre-activations in three regimes: ordinary, with exact zeros (the ReLU kink, where our
    convention ReLU'(0) = 0 is PyTorch's too), and with saturated columns (±50)."""
    Z = rng.standard_normal((K, M)) * 3
    with_zeros = Z.copy()
    with_zeros[rng.random((K, M)) < 0.2] = 0.0
    big = Z.copy()
    big[:, :2] = rng.choice([-50.0, 50.0], size=(K, 2))
    return {"z": Z, "z with zeros": with_zeros, "z ±50": big}


def _logits(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The softmax family also at logits ±1000 (no overflow). Not the activations: where
    nearly every entry saturates, max|f'(Z)| is tiny and the normwise error of 1 − tanh²
    measures only the last bit of tanh near ±1 (8e-12 there, in both libraries)."""
    return {**_pre_activations(rng), "logits ±1000": rng.standard_normal((K, M)) * 1000}


def _one_hot(rng: np.random.Generator, k: int = K, m: int = M) -> np.ndarray:
    return np.eye(k)[:, rng.integers(0, k, m)]


def _elementwise_derivative(f: Callable, Z: np.ndarray) -> np.ndarray:
    """f'(Z) entry by entry: the diagonal of the Jacobian of an element-wise f, by autograd."""
    zt = _t(Z, grad=True)
    (g,) = torch.autograd.grad(f(zt).sum(), zt)
    return g.numpy()


def _activation_oracle(act: str) -> Callable[[np.random.Generator], Comparison]:
    def oracle(rng: np.random.Generator) -> Comparison:
        out = []
        for label, Z in _pre_activations(rng).items():
            ours = getattr(kernels, act)(Z)
            theirs = _act(act)(_t(Z)).numpy()
            out.append((label, ours, theirs))
        return out

    return oracle


def _activation_in_place_oracle(act: str) -> Callable[[np.random.Generator], Comparison]:
    plain = _activation_oracle(act)

    def oracle(rng: np.random.Generator) -> Comparison:
        Z = _pre_activations(rng)["z with zeros"]
        buf = Z.copy()
        getattr(kernels, act)(buf, out=buf)
        return [*plain(rng), ("out=Z (in place)", buf, _act(act)(_t(Z)).numpy())]

    return oracle


def _activation_grad_oracle(act: str) -> Callable[[np.random.Generator], Comparison]:
    def oracle(rng: np.random.Generator) -> Comparison:
        return [(label, getattr(kernels, f"{act}_grad")(Z), _elementwise_derivative(_act(act), Z))
                for label, Z in _pre_activations(rng).items()]

    return oracle


def _activation_backward_oracle(act: str) -> Callable[[np.random.Generator], Comparison]:
    """dZ = m ∂C/∂Z for A = f(Z) and a cost C whose per-sample gradient w.r.t. A is dA."""

    def oracle(rng: np.random.Generator) -> Comparison:
        out = []
        for label, Z in _pre_activations(rng).items():
            dA = rng.standard_normal((K, M))
            zt = _t(Z, grad=True)
            C = (_t(dA) * _act(act)(zt)).sum() / M
            (g,) = torch.autograd.grad(C, zt)
            out.append((label, getattr(kernels, f"{act}_backward")(dA, Z), M * g.numpy()))
        return out

    return oracle


def _hidden_delta_oracle(act: str, dispatch: bool = False):
    """BP2 from its definition: Z → A = f(Z) → Z_next = W_next A + b_next, a cost whose
    per-sample gradient w.r.t. Z_next is dZ_next; dZ = m ∂C/∂Z by autograd."""

    def oracle(rng: np.random.Generator) -> Comparison:
        out = []
        for label, Z in _pre_activations(rng).items():
            W_next, b_next = rng.standard_normal((J, K)), rng.standard_normal((J, 1))
            dZ_next = rng.standard_normal((J, M))
            zt = _t(Z, grad=True)
            Z_next = _t(W_next) @ _act(act)(zt) + _t(b_next)
            C = (_t(dZ_next) * Z_next).sum() / M
            (g,) = torch.autograd.grad(C, zt)
            if dispatch:
                ours = kernels.hidden_delta(W_next, dZ_next, Z, act)
            else:
                ours = getattr(kernels, f"hidden_delta_{act}")(W_next, dZ_next, Z)
            out.append((f"{act}, {label}" if dispatch else label, ours, M * g.numpy()))
        return out

    return oracle


def _oracle_softmax(rng: np.random.Generator) -> Comparison:
    return [(label, kernels.softmax(Z), torch.softmax(_t(Z), dim=0).numpy())
            for label, Z in _logits(rng).items()]


def _oracle_log_softmax(rng: np.random.Generator) -> Comparison:
    return [(label, kernels.log_softmax(Z), torch.log_softmax(_t(Z), dim=0).numpy())
            for label, Z in _logits(rng).items()]


def _oracle_softmax_cross_entropy(rng: np.random.Generator) -> Comparison:
    """torch's cross_entropy with class-probability targets (samples are its rows), mean over
    the batch: C = −(1/m) Σ Y ⊙ log softmax(Z); one-hot and soft targets."""
    out = []
    for label, Z in _logits(rng).items():
        soft = rng.random((K, M))
        for target, Y in (("one-hot", _one_hot(rng)), ("soft", soft / soft.sum(axis=0))):
            theirs = F.cross_entropy(_t(Z).T, _t(Y).T, reduction="mean").numpy()
            out.append((f"{label}, {target}", kernels.softmax_cross_entropy(Z, Y), theirs))
    return out


def _oracle_softmax_cross_entropy_grad(rng: np.random.Generator) -> Comparison:
    """dZ = m ∂C/∂Z of the mean cross-entropy, by autograd, given A = softmax(Z) (torch's)."""
    out = []
    for label, Z in _logits(rng).items():
        Y = _one_hot(rng)
        zt = _t(Z, grad=True)
        (g,) = torch.autograd.grad(F.cross_entropy(zt.T, _t(Y).T, reduction="mean"), zt)
        A = torch.softmax(_t(Z), dim=0).numpy()
        out.append((label, kernels.softmax_cross_entropy_grad(A, Y), M * g.numpy()))
    return out


def _mse_inputs(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"one-hot targets": (rng.random((K, M)), _one_hot(rng)),
            "real targets": (rng.standard_normal((K, M)), rng.standard_normal((K, M)))}


def _oracle_mse(rng: np.random.Generator) -> Comparison:
    """C = 1/(2m) Σ (Y − A)², torch's mse_loss summed."""
    return [(label, kernels.mse(A, Y), F.mse_loss(_t(A), _t(Y), reduction="sum").numpy() / (2 * M))
            for label, (A, Y) in _mse_inputs(rng).items()]


def _oracle_mse_grad(rng: np.random.Generator) -> Comparison:
    out = []
    for label, (A, Y) in _mse_inputs(rng).items():
        at = _t(A, grad=True)
        (g,) = torch.autograd.grad(F.mse_loss(at, _t(Y), reduction="sum") / (2 * M), at)
        out.append((label, kernels.mse_grad(A, Y), M * g.numpy()))
    return out


def _oracle_dense_forward(rng: np.random.Generator) -> Comparison:
    """Z = W A + b 1ᵀ against torch's linear layer (samples are its rows)."""
    W, A, b = rng.standard_normal((K, N)), rng.standard_normal((N, M)), rng.standard_normal((K, 1))
    theirs = F.linear(_t(A).T, _t(W), _t(b[:, 0])).T.numpy()
    buf = np.empty((K, M))
    kernels.dense_forward(W, A, b, out=buf)
    return [("allocated", kernels.dense_forward(W, A, b), theirs), ("out=", buf, theirs)]


def _oracle_dense_backward(rng: np.random.Generator) -> Comparison:
    """Z = W A + b 1ᵀ and the cost C = (1/m) Σ dZ ⊙ Z, whose per-sample gradient m ∂C/∂Z is
    dZ: torch's ∂C/∂W, ∂C/∂b are dW, db (the means), and m ∂C/∂A is dA_prev (per sample)."""
    W, A, b = rng.standard_normal((K, N)), rng.standard_normal((N, M)), rng.standard_normal((K, 1))
    dZ = rng.standard_normal((K, M))
    Wt, At, bt = _t(W, grad=True), _t(A, grad=True), _t(b, grad=True)
    C = (_t(dZ) * (Wt @ At + bt)).sum() / M
    gW, gb, gA = torch.autograd.grad(C, (Wt, bt, At))
    dW, db, dA_prev = kernels.dense_backward(dZ, A, W)
    return [("dW", dW, gW.numpy()), ("db", db, gb.numpy()), ("dA_prev", dA_prev, M * gA.numpy())]


def _neuron_inputs(rng: np.random.Generator) -> dict[str, tuple[np.ndarray, ...]]:
    w, b = rng.standard_normal((N, 1)), rng.standard_normal((1, 1))
    X = rng.standard_normal((N, M))
    X0 = X.copy()
    X0[:, 0] = 0.0  # with b = 0: z = 0 exactly for sample 0, where ReLU'(0) = 0
    return {"generic": (w, b, X), "a sample on the kink": (w, np.zeros((1, 1)), X0)}


def _neuron_jacobians(w, b, X) -> tuple[np.ndarray, np.ndarray]:
    """∂aᵢ/∂w and ∂aᵢ/∂b for a = relu(wᵀX + b 1ᵀ) (1 × m), by torch's Jacobian."""
    Xt = _t(X)
    jw, jb = torch.autograd.functional.jacobian(
        lambda wt, bt: torch.relu(wt.T @ Xt + bt), (_t(w), _t(b)))
    return jw[0, :, :, 0].T.numpy(), jb[0, :, 0, 0][None, :].numpy()  # n × m, 1 × m


def _oracle_neuron_relu_grad_w(rng: np.random.Generator) -> Comparison:
    return [(label, kernels.neuron_relu_grad_w(w, b, X), _neuron_jacobians(w, b, X)[0])
            for label, (w, b, X) in _neuron_inputs(rng).items()]


def _oracle_neuron_relu_grad_b(rng: np.random.Generator) -> Comparison:
    return [(label, kernels.neuron_relu_grad_b(w, b, X), _neuron_jacobians(w, b, X)[1])
            for label, (w, b, X) in _neuron_inputs(rng).items()]


def _oracle_hidden_delta(rng: np.random.Generator) -> Comparison:
    return [c for act in ("relu", "sigmoid", "tanh") for c in _hidden_delta_oracle(act, True)(rng)]


KERNEL_ORACLES: dict[str, Callable[[np.random.Generator], Comparison]] = {
    "relu": _activation_in_place_oracle("relu"),
    "relu_grad": _activation_grad_oracle("relu"),
    "sigmoid": _activation_oracle("sigmoid"),
    "sigmoid_grad": _activation_grad_oracle("sigmoid"),
    "tanh": _activation_in_place_oracle("tanh"),
    "tanh_grad": _activation_grad_oracle("tanh"),
    "softmax": _oracle_softmax,
    "log_softmax": _oracle_log_softmax,
    "softmax_cross_entropy": _oracle_softmax_cross_entropy,
    "softmax_cross_entropy_grad": _oracle_softmax_cross_entropy_grad,
    "mse": _oracle_mse,
    "mse_grad": _oracle_mse_grad,
    "dense_forward": _oracle_dense_forward,
    "dense_backward": _oracle_dense_backward,
    "hidden_delta_relu": _hidden_delta_oracle("relu"),
    "hidden_delta_sigmoid": _hidden_delta_oracle("sigmoid"),
    "hidden_delta_tanh": _hidden_delta_oracle("tanh"),
    "relu_backward": _activation_backward_oracle("relu"),
    "sigmoid_backward": _activation_backward_oracle("sigmoid"),
    "tanh_backward": _activation_backward_oracle("tanh"),
    "neuron_relu_grad_w": _oracle_neuron_relu_grad_w,
    "neuron_relu_grad_b": _oracle_neuron_relu_grad_b,
    "hidden_delta": _oracle_hidden_delta,  # the by-name dispatcher over hidden_delta_*
}

# Every generated kernel and every callable the package exports: a new one gets a test id
# here at once, and fails until it has an oracle.
PUBLIC_KERNELS = sorted(
    set(_generated.__all__) | {n for n in kernels.__all__ if callable(getattr(kernels, n))},
    key=lambda n: (n not in _generated.__all__, n),
)


def test_every_public_kernel_has_an_oracle():
    missing = [n for n in PUBLIC_KERNELS if n not in KERNEL_ORACLES]
    stale = [n for n in KERNEL_ORACLES if n not in PUBLIC_KERNELS]
    assert not missing, f"kernels without a PyTorch oracle: {missing}"
    assert not stale, f"oracles of kernels that no longer exist: {stale}"
    assert len(_generated.__all__) >= 22
    # What is exported but not callable must be a table of kernels that have oracles.
    for name in set(kernels.__all__) - set(PUBLIC_KERNELS):
        table = getattr(kernels, name)
        assert isinstance(table, Mapping), f"kernels.{name} is neither a kernel nor a table"
        for fn in table.values():
            assert getattr(kernels, fn.__name__, None) is fn and fn.__name__ in KERNEL_ORACLES


def _kernel_error(name: str, seed: int = 7) -> tuple[float, list[str]]:
    comparisons = KERNEL_ORACLES[name](np.random.default_rng(seed))
    lines, worst = [], 0.0
    for label, ours, theirs in comparisons:
        err = rel_err(ours, theirs)
        worst = max(worst, err)
        lines.append(f"{label}: {err:.2e}")
    return worst, lines


@pytest.mark.parametrize("name", PUBLIC_KERNELS)
def test_kernel_equals_pytorch_in_float64(name, record_property):
    assert name in KERNEL_ORACLES, f"kernels.{name} has no PyTorch oracle: add one"
    worst, lines = _kernel_error(name)
    _record("kernel", name, worst, record_property)
    assert worst <= TOL, f"{name}: " + "; ".join(lines)


def test_kernel_oracle_catches_wrong_kernels(monkeypatch):
    """ReLU'(0) = 1 instead of 0, a dW without its 1/m, a σ' off by 0.1 %: each is caught."""
    right_backward, right_sigmoid_grad = kernels.dense_backward, kernels.sigmoid_grad

    def no_mean(dZ, A_prev, W):
        dW, db, dA_prev = right_backward(dZ, A_prev, W)
        return dW * dZ.shape[1], db, dA_prev

    monkeypatch.setattr(kernels, "relu_grad", lambda Z: (Z >= 0).astype(Z.dtype))
    monkeypatch.setattr(kernels, "relu_backward", lambda dA, Z: dA * (Z >= 0))
    monkeypatch.setattr(kernels, "dense_backward", no_mean)
    monkeypatch.setattr(kernels, "sigmoid_grad", lambda Z: right_sigmoid_grad(Z) * 1.001)
    for name in ("relu_grad", "relu_backward", "dense_backward", "sigmoid_grad"):
        worst, lines = _kernel_error(name)
        assert worst > 1e-4, f"the broken {name} passed the oracle: {lines}"


# ================================================================== the catalog's closed forms


class _TorchPrinter(TorchPrinter):
    """SymPy's PyTorch printer, plus the project's functions; constants such as log(2) are
    printed as floats (torch.log wants a tensor)."""

    def _print(self, expr, **kwargs):
        if isinstance(expr, sp.Expr) and not expr.is_Atom and expr.is_number:
            return repr(float(expr))
        return super()._print(expr, **kwargs)

    def _print_relu(self, e):
        return f"torch.relu({self._print(e.args[0])})"

    def _print_sigmoid(self, e):
        return f"torch.sigmoid({self._print(e.args[0])})"

    def _print_softplus(self, e):
        return f"torch.nn.functional.softplus({self._print(e.args[0])})"


class _NumPyPrinter(NumPyPrinter):
    """SymPy's NumPy printer with the project's functions printed here rather than by their
    own ``_numpycode`` (an independent printer: ``sigmoid._numpycode`` once printed
    ``0.5*x + y`` for σ(x + y), caught by the test below)."""

    def __init__(self, settings=None):
        super().__init__(settings)
        self.printmethod = "_oracle_numpycode"  # NumPyPrinter sets "_numpycode" per instance

    def _print_relu(self, e):
        return f"numpy.maximum({self._print(e.args[0])}, 0)"

    def _print_sigmoid(self, e):
        return f"(1/(1 + numpy.exp(-({self._print(e.args[0])}))))"

    def _print_softplus(self, e):
        return f"numpy.logaddexp(0, {self._print(e.args[0])})"

    def _print_Heaviside(self, e):  # Heaviside(z, 0): ReLU'(0) = 0
        at_zero = self._print(e.args[1]) if len(e.args) > 1 else "0.5"
        return f"numpy.heaviside({self._print(e.args[0])}, {at_zero})"


_PRINTER_SETTINGS = {"fully_qualified_modules": True, "inline": True}

# Generic functions (f, g in "the derivative of f(v) ⊙ g(w)") get a concrete stand-in: a
# result that holds for every f holds for this one. f′ (a prime per order) is f's derivative.
STAND_INS: dict[str, Callable[[sp.Expr], sp.Expr]] = {"f": sp.sin, "g": sp.exp, "σ": sp.tanh}
KINKS = (relu, sp.Heaviside, sp.Max, sp.Min, sp.Abs, sp.sign)


def _concrete(m: sp.Matrix) -> sp.Matrix:
    if not m.has(AppliedUndef):
        return m

    def stand_in(e: AppliedUndef) -> sp.Expr:
        name = e.func.__name__
        base = name.rstrip("\u2032")
        if base not in STAND_INS:
            pytest.fail(f"no numeric stand-in for the generic function {name}: add to STAND_INS")
        t = sp.Dummy("t", real=True)
        return sp.diff(STAND_INS[base](t), t, len(name) - len(base)).xreplace({t: e.args[0]})

    return m.replace(lambda e: isinstance(e, AppliedUndef), stand_in).doit()


def _as_matrix(e) -> sp.Matrix:
    return sp.Matrix(e) if isinstance(e, sp.MatrixBase) else sp.Matrix([[e]])


def instantiate(result: Result, sizes: Mapping[sp.Symbol, int], inst: Instantiator | None = None):
    """(of, wrt, claim, assumed) as explicit matrices of scalar symbols, the way the proof
    builds them (derivation.component_truth / instantiate_claim), without differentiating.
    ``inst`` may be shared by the results of one derivation at one size, as in ``prove``."""
    if isinstance(result.of, sp.MatrixBase):  # a component-level result: scalar variables
        of, claim = sp.Matrix(result.of), _as_matrix(result.expr)
        wrt = None if result.kind == "value" else sp.Matrix([list(result.wrt)])
        if wrt is not None and result.kind == "gradient":
            wrt = wrt.T
        return _concrete(of), wrt, _concrete(claim), {}
    inst = inst or Instantiator(sizes)
    of = _as_matrix(inst(substitute(result.of, result.defs)))
    wrt = None
    if result.kind != "value":
        wrt = components(result.wrt, inst.sizes)
        inst.env.setdefault(result.wrt.name, wrt)
    claim = instantiate_claim(result, inst)
    assumed = dict(result.assume(inst.env)) if result.assume else {}
    return _concrete(of), wrt, _concrete(claim), assumed


@dataclasses.dataclass
class OracleRun:
    worst: float = 0.0
    points: int = 0
    kink_signs: set[float] = dataclasses.field(default_factory=set)
    has_kinks: bool = False


def _oracle_at(result: Result, sizes: Mapping[sp.Symbol, int], rng: np.random.Generator,
               run: OracleRun, inst: Instantiator | None = None, points: int = 3) -> None:
    """Our closed form (NumPy) against torch autograd of ``of``, at ``points`` random points."""
    of, wrt, claim, assumed = instantiate(result, sizes, inst)
    wrt_syms = list(wrt) if wrt is not None else []
    assert not set(assumed) & set(wrt_syms), "an assumption fixes a variable of the derivative"
    free: set[sp.Symbol] = of.free_symbols | claim.free_symbols | set(wrt_syms)
    for v in assumed.values():
        free |= sp.sympify(v).free_symbols
    free_syms = sorted(free - set(assumed), key=str)
    every = free_syms + list(assumed)
    others = [s for s in every if s not in set(wrt_syms)]
    # Domains: a symbol under a log (softmax-cross-entropy's s) is positive; every symbol is
    # at least 0.3 from 0 (divisions); a point where torch's answer is not finite is
    # rejected, and so is one within 1e-2 of a kink.
    special = of.atoms(sp.log, *KINKS) | claim.atoms(sp.log, *KINKS)
    positive = {a.args[0] for a in special if isinstance(a, sp.log) and a.args[0].is_Symbol}
    kinks = [a.args[0] for a in special if isinstance(a, KINKS)]
    run.has_kinks |= bool(kinks)
    # Plain argument names once (W¹_11 is no Python identifier: lambdify would rename each
    # time); these are the symbols the printed functions take.
    plain = {s: sp.Symbol(f"x{i}", real=True) for i, s in enumerate(every)}
    of, claim = of.xreplace(plain), claim.xreplace(plain)
    kinks = [k.xreplace(plain) for k in kinks]
    args = [plain[s] for s in every]
    wrt_args, other_args = [plain[s] for s in wrt_syms], [plain[s] for s in others]

    ours_f = sp.lambdify(args, claim, modules="numpy", printer=_NumPyPrinter(_PRINTER_SETTINGS),
                         cse=True)
    of_f = sp.lambdify([wrt_args, other_args], list(of), modules="torch",
                       printer=_TorchPrinter(_PRINTER_SETTINGS), cse=True)
    kinks_f = sp.lambdify(args, kinks, modules="numpy", printer=_NumPyPrinter(_PRINTER_SETTINGS))
    assumed_f = [(s, sp.lambdify(free_syms, v, modules="numpy")) for s, v in assumed.items()]

    done = tries = 0
    # Enough points, and while a kink has been seen on one side only, a few more.
    while done < points or (kinks and len(run.kink_signs) < 2 and done < 4 * points):
        tries += 1
        assert tries < 500, f"no admissible point found at sizes {dict(sizes)}"
        value = {s: rng.uniform(0.5, 2.0) if s in positive
                 else rng.choice((-1.0, 1.0)) * rng.uniform(0.3, 2.0) for s in free_syms}
        for s, f in assumed_f:
            value[s] = float(f(*(value[t] for t in free_syms)))
        point = [value[s] for s in every]
        if kinks:
            at_kinks = np.asarray(kinks_f(*point), dtype=float)
            if np.min(np.abs(at_kinks)) < 1e-2:
                continue  # too close to a switch
            run.kink_signs |= set(np.sign(at_kinks).tolist())
        theirs = _torch_truth(result, of_f, wrt, [value[s] for s in wrt_syms],
                              [value[s] for s in others], of.shape)
        if not np.all(np.isfinite(theirs)):
            continue  # outside the domain (a log or a division undefined): another point
        ours = np.asarray(ours_f(*point), dtype=float)
        run.worst = max(run.worst, rel_err(ours, theirs))
        run.points += 1
        done += 1


def _torch_truth(result: Result, of_f, wrt, wrt_values, other_values, of_shape) -> np.ndarray:
    """What ``result`` claims to be, by torch: ∂of/∂wrt (numerator layout), the gradient in
    the shape of wrt, or the value of ``of``."""
    consts = [torch.tensor(v, dtype=F64) for v in other_values]

    def f(w: torch.Tensor) -> torch.Tensor:
        out = of_f(list(w.unbind()), consts)
        return torch.stack([o if torch.is_tensor(o) else torch.tensor(float(o), dtype=F64)
                            for o in out])

    w0 = torch.tensor(wrt_values, dtype=F64)
    if result.kind == "value":
        return f(w0).numpy().reshape(of_shape)
    jac = torch.autograd.functional.jacobian(f, w0).numpy()  # outputs × wrt (row-major)
    return jac if result.kind == "jacobian" else jac.reshape(wrt.shape)


@functools.cache
def _derivation(name: str) -> Derivation:
    return derivations.get(name)


def _sizes_of(d: Derivation, r: Result) -> list[Mapping[sp.Symbol, int]]:
    return list(r.sizes) or list(d.sizes) or [{}]


_INSTANTIATORS: dict[tuple[str, str], Instantiator] = {}


def _instantiator(d: Derivation, sizes: Mapping[sp.Symbol, int]) -> Instantiator:
    """One per derivation and size: its results share subexpressions (built once)."""
    key = (d.name, repr(sorted((str(k), v) for k, v in sizes.items())))
    return _INSTANTIATORS.setdefault(key, Instantiator(sizes))


def catalog_oracle(d: Derivation, r: Result, key: str, all_sizes: bool = True) -> OracleRun:
    """The worst error of ``r`` over all its sizes (each at its own random points)."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    run = OracleRun()
    sizes_list = _sizes_of(d, r)
    for sizes in sizes_list if all_sizes else sizes_list[:1]:
        _oracle_at(r, sizes, rng, run, _instantiator(d, sizes))
    return run


CATALOG_RESULTS = [(n, i) for n in derivations.names() for i in range(len(_derivation(n).results))]
CATALOG_CLAIMS = [(n, i) for n in derivations.names() for i in range(len(_derivation(n).claims))]


@pytest.mark.parametrize(("name", "index"), CATALOG_RESULTS,
                         ids=[f"{n}[{i}]" for n, i in CATALOG_RESULTS])
def test_catalog_result_equals_pytorch_autograd(name, index, record_property):
    d = _derivation(name)
    r = d.results[index]
    run = catalog_oracle(d, r, f"{name}[{index}]")
    _record("catalog result", f"{name}[{index}]", run.worst, record_property)
    assert run.points >= 3
    assert run.worst <= TOL, f"{name}[{index}] {sp.sstr(r.lhs)}: error {run.worst:.2e} vs torch"
    if run.has_kinks:  # both sides of the ReLU switches were sampled
        assert run.kink_signs == {-1.0, 1.0}, f"only {run.kink_signs} sides of the kinks sampled"


def _wrong(r: Result, how: str) -> Result:
    if how == "scaled by 1.001":
        return dataclasses.replace(r, expr=sp.Rational(1001, 1000) * r.expr)
    if how == "transposed":
        return dataclasses.replace(r, expr=r.expr.T if isinstance(r.expr, sp.MatrixBase)
                                   else sp.Transpose(r.expr))
    return dataclasses.replace(r, expr=-r.expr)  # sign


@pytest.mark.parametrize(("name", "index", "how"), [
    ("backprop", 8, "scaled by 1.001"),      # ∂C/∂W¹, 3-4-3-2 ReLU + sigmoid, MSE
    ("mnist-network", 2, "scaled by 1.001"),  # ∂C/∂W1 of the MNIST network
    ("softmax", 0, "scaled by 1.001"),
    ("neuron-relu", 0, "scaled by 1.001"),
    ("jacobian-chain", 2, "scaled by 1.001"),  # a component-level result
    ("errata", 0, "transposed"),             # diag(σ′(z)) W → Wᵀ diag(σ′(z)), both square
    ("mnist-network", 0, "transposed"),      # ∂C/∂W2 (k × n) → n × k: the wrong shape
    ("gradient-descent", 1, "negated"),
])
def test_catalog_oracle_rejects_a_deliberately_wrong_result(name, index, how):
    d = _derivation(name)
    run = catalog_oracle(d, _wrong(d.results[index], how), f"{name}[{index}]", all_sizes=False)
    if how == "scaled by 1.001":
        assert run.worst == pytest.approx(1e-3, rel=1e-6)  # exactly the error put in
    else:
        assert run.worst > 0.1


@pytest.mark.parametrize(("name", "index"), CATALOG_CLAIMS,
                         ids=[f"{n}-claim{i}" for n, i in CATALOG_CLAIMS])
def test_catalog_claims_get_the_catalog_verdict_from_pytorch(name, index, record_property):
    """The notes' claims: torch accepts every correct one and rejects every erratum (a claim
    with an ``explanation`` of why it is wrong)."""
    d = _derivation(name)
    c = d.claims[index]
    as_result = dataclasses.replace(d.results[c.result], expr=c.expr)
    try:
        worst = catalog_oracle(d, as_result, f"{name}-claim{index}").worst
    except ShapeError:
        worst = math.inf  # a claim that cannot even be instantiated at the result's sizes
    _record("catalog claim", f"{name}-claim{index}", worst, record_property)
    if c.explanation:
        assert worst > 1e-6, f"the erratum {c.text!r} passed the oracle"
    else:
        assert worst <= TOL, f"{c.text!r}: error {worst:.2e} vs torch"


def test_sigmoid_prints_to_numpy_as_pytorch_computes_it():
    x, y = sp.symbols("x y", real=True)
    ours = sp.lambdify([x, y], sigmoid(x + y), modules="numpy")(1.0, 2.0)
    assert ours == pytest.approx(float(torch.sigmoid(torch.tensor(3.0, dtype=F64))), rel=1e-15)
