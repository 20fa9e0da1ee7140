"""The kernels `jlab codegen` prints: matrix-layer expressions, one function per derivation.

Each ``<derivation>_expressions()`` returns the matrix-layer results of one catalog
derivation, keyed by name, over ``MatrixSymbol``s with symbolic sizes (``n`` inputs, ``k``
units, ``j`` units of the next layer, ``m`` samples; batches are the columns). Swapping one of
them for the derivation's own (proven) result changes nothing else.

Each spec also carries its **truth**: the same quantity written at the component layer —
scalar entries and ``sympy.diff`` of a loss — which :func:`verify` compares with the
matrix-layer expression at concrete sizes (the generated kernels are in turn tested against
the expression). Batched gradients follow the notes: ``dZ`` holds per-sample gradients, so a
cost ``C = (1/m) Σ L`` gives ``dZ = m ∂C/∂Z`` and the ``1/m`` appears once, in
``dense_backward``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

import derivations.mnist_network as mnist
from jacobian_lab.codegen.kernel_spec import KernelSpec, Truth
from jacobian_lab.errors import VerificationError
from jacobian_lab.judge.checker import Check, compare
from jacobian_lab.language.activations import activation
from jacobian_lab.matrix.explicit import Instantiator
from jacobian_lab.matrix.expr import (
    DIM_J,
    DIM_K,
    DIM_M,
    DIM_N,
    T,
    apply,
    diag,
    hadamard,
    matrix,
    ones,
)
from jacobian_lab.matrix.expr import scalar as scalar_symbol
from jacobian_lab.matrix.expr import softmax as softmax_of
from jacobian_lab.matrix.expr import vector as vector_symbol

n, k, j, m = DIM_N, DIM_K, DIM_J, DIM_M
Z, A, Y = matrix("Z", k, m), matrix("A", k, m), matrix("Y", k, m)
ACTIVATIONS = ("relu", "sigmoid", "tanh")
"""The activations with generated kernels (the registry holds more: gelu, leaky_relu, …)."""


# --------------------------------------------------------------------------- matrix layer


def elementwise_expressions() -> dict[str, MatrixExpr]:
    """f(Z) and f'(Z) element-wise (ReLU'(0) = 0); through A = f(Z), dZ = dA ⊙ f'(Z)."""
    dA = matrix("dA", k, m)
    out = {"relu": apply("relu", Z), "relu_grad": apply("relu", Z, 1)}
    for f in ACTIVATIONS:
        out[f"backward_{f}"] = hadamard(dA, apply(f, Z, 1))
    return out


def sigmoid_expressions() -> dict[str, MatrixExpr]:
    return {"sigmoid": apply("sigmoid", Z), "sigmoid_grad": apply("sigmoid", Z, 1)}


def tanh_expressions() -> dict[str, MatrixExpr]:
    return {"tanh": apply("tanh", Z), "tanh_grad": apply("tanh", Z, 1)}


def softmax_expressions() -> dict[str, MatrixExpr]:
    return {"softmax": softmax_of(Z), "log_softmax": apply("log", softmax_of(Z))}


def softmax_cross_entropy_expressions() -> dict[str, MatrixExpr]:
    """∂C/∂z = (s − y)ᵀ per sample, i.e. dZ = A − Y for a batch (A = softmax(Z))."""
    return {"dZ": _catalog("dZ2", {"A2": A, "Y": Y}, {"n2": k})}  # dZ2 = A2 − Y


def mnist_network_expressions() -> dict[str, MatrixExpr]:
    """The network's cost: C = −(1/m) 𝟏ᵀ (Y ⊙ log softmax(Z)) 𝟏."""
    loss = sp.MatMul(-1 / m, ones(1, k), hadamard(Y, apply("log", softmax_of(Z))), ones(m))
    return {"C": loss}


def mse_neuron_expressions() -> dict[str, MatrixExpr]:
    """C = 1/(2m) Σ (y − a)², and its per-sample gradient dA = A − Y."""
    cost = sp.MatMul(1 / (2 * m), ones(1, k), sp.HadamardPower(sp.MatAdd(Y, -A), 2), ones(m))
    return {"C": cost, "dA": sp.MatAdd(A, -Y)}


def _catalog(name: str, renames: dict[str, MatrixExpr], dims: dict[str, sp.Expr]) -> MatrixExpr:
    """A result of the `mnist-network` derivation, its symbols renamed for a generic layer."""
    expr = mnist.kernel_expressions()[name]
    dim_map = {s: dims[s.name] for s in expr.free_symbols
               if isinstance(s, sp.Symbol) and s.name in dims}
    sym_map = {s: renames[s.name] for s in expr.atoms(sp.MatrixSymbol) if s.name in renames}
    return expr.xreplace(sym_map).xreplace(dim_map)


def backprop_expressions() -> dict[str, MatrixExpr]:
    """Z = W A + b 𝟏ᵀ; BP2 δ = (W_nextᵀ δ_next) ⊙ f'(Z); BP3/BP4 averaged over the batch."""
    W, A_in, b = matrix("W", k, n), matrix("A", n, m), vector_symbol("b", k)
    dZ, A_prev = matrix("dZ", k, m), matrix("A_prev", n, m)
    W_next, dZ_next = matrix("W_next", j, k), matrix("dZ_next", j, m)
    out = {
        "Z": sp.MatAdd(sp.MatMul(W, A_in), sp.MatMul(b, ones(1, m))),
        # BP4 and BP3, batched, exactly as the catalog derives them (mnist-network's output
        # layer: dW2 = 1/m dZ2 A1ᵀ, db2 = 1/m dZ2 𝟏), renamed for a generic layer.
        "dW": _catalog("dW2", {"dZ2": dZ, "A1": A_prev}, {"n2": k, "n1": n}),
        "db": _catalog("db2", {"dZ2": dZ}, {"n2": k}),
        "dA_prev": sp.MatMul(T(W), dZ),
    }
    for f in ACTIVATIONS:
        out[f"delta_{f}"] = hadamard(sp.MatMul(T(W_next), dZ_next), apply(f, Z, 1))
    # BP2 for ReLU exactly as the catalog derives it (dZ1 = W2ᵀ dZ2 ⊙ step(Z1)).
    out["delta_relu"] = _catalog(
        "dZ1", {"W2": W_next, "dZ2": dZ_next, "Z1": Z}, {"n2": j, "n1": k}
    )
    return out


def neuron_relu_expressions() -> dict[str, MatrixExpr]:
    """∂a/∂w = step(z) xᵀ and ∂a/∂b = step(z) for a = relu(wᵀx + b), one column per sample."""
    w, b, X = vector_symbol("w", n), scalar_symbol("b"), matrix("X", n, m)
    z = sp.MatAdd(sp.MatMul(T(w), X), sp.MatMul(b, ones(1, m)))
    step = apply("relu", z, 1)
    return {"grad_w": sp.MatMul(X, diag(T(step))), "grad_b": step}


# --------------------------------------------------------------------------- component layer


def _grad(loss: sp.Expr, wrt: sp.Matrix) -> sp.Matrix:
    return wrt.applyfunc(lambda v: sp.diff(loss, v))


def _total(M: sp.Matrix) -> sp.Expr:
    return sp.Add(*M)


def _softmax(Zc: sp.Matrix) -> sp.Matrix:
    e = Zc.applyfunc(sp.exp)
    return sp.Matrix(Zc.rows, Zc.cols, lambda i, c: e[i, c] / sp.Add(*e[:, c]))


def _named(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda r, c: sp.Symbol(f"{name}{r + 1}_{c + 1}", real=True))


def _simplex(Yc: sp.Matrix) -> dict[sp.Symbol, sp.Expr]:
    """Columns of Y that add up to 1 (labels or probabilities): solve for the last row."""
    return {Yc[-1, c]: 1 - sp.Add(*Yc[:-1, c]) for c in range(Yc.cols)}


def _map(name: str, f: Callable[[sp.Expr], sp.Expr]) -> Truth:
    return lambda env: ([env[name].applyfunc(f)], {})


def _d(f: Callable[[sp.Expr], sp.Expr]) -> Callable[[sp.Expr], sp.Expr]:
    t = sp.Dummy("t", real=True)
    df = sp.diff(f(t), t)
    return lambda z: df.xreplace({t: z})


def _truth_function(name: str) -> Callable[[sp.Expr], sp.Expr]:
    """The function a kernel is checked against, from the activation registry: a smooth one
    in elementary functions (independent of our own derivative rules); a kinked one as its
    SymPy class, not Max(0, z): SymPy differentiates Max to Heaviside(z) with the value 1/2
    at 0, and the kernels follow the registry's convention (ReLU'(0) = 0), which the checker
    tests on the kink."""
    entry = activation(name)
    return entry.function if entry.kink is not None else entry.elementary


_F = {name: _truth_function(name) for name in ACTIVATIONS}
_RELU, _SIGMOID = _F["relu"], _F["sigmoid"]


def _cross_entropy(env: Mapping[str, sp.Matrix]) -> sp.Expr:
    Zc, Yc = env["Z"], env["Y"]
    return -_total(Yc.multiply_elementwise(_softmax(Zc).applyfunc(sp.log))) / Zc.cols


def _cross_entropy_grad(env: Mapping[str, sp.Matrix]) -> tuple[list[sp.Matrix], dict]:
    Ac, Yc = env["A"], env["Y"]
    Zc = _named("Z", Ac.rows, Ac.cols)  # A = softmax(Z): the input the kernel is given
    s = _softmax(Zc)
    subs = {**{Ac[i]: s[i] for i in range(len(Ac))}, **_simplex(Yc)}
    return [Ac.cols * _grad(_cross_entropy({"Z": Zc, "Y": Yc}), Zc)], subs


def _mse(env: Mapping[str, sp.Matrix]) -> sp.Expr:
    Ac, Yc = env["A"], env["Y"]
    return _total((Yc - Ac).applyfunc(lambda t: t**2)) / (2 * Ac.cols)


def _dense_backward(env: Mapping[str, sp.Matrix]) -> tuple[list[sp.Matrix], dict]:
    dZ, A_prev, W = env["dZ"], env["A_prev"], env["W"]
    m_ = A_prev.cols
    b = _named("b", W.rows, 1)
    Zc = W * A_prev + b * sp.ones(1, m_)
    cost = _total(dZ.multiply_elementwise(Zc)) / m_  # a cost whose per-sample ∂/∂Z is dZ
    return [_grad(cost, W), _grad(cost, b), m_ * _grad(cost, A_prev)], {}


def _backward(f: Callable[[sp.Expr], sp.Expr]) -> Truth:
    def truth(env: Mapping[str, sp.Matrix]) -> tuple[list[sp.Matrix], dict]:
        dA, Zc = env["dA"], env["Z"]
        return [_grad(_total(dA.multiply_elementwise(Zc.applyfunc(f))), Zc)], {}

    return truth


def _hidden_delta(f: Callable[[sp.Expr], sp.Expr]) -> Truth:
    def truth(env: Mapping[str, sp.Matrix]) -> tuple[list[sp.Matrix], dict]:
        W_next, dZ_next, Zc = env["W_next"], env["dZ_next"], env["Z"]
        Z_next = W_next * Zc.applyfunc(f)
        return [_grad(_total(dZ_next.multiply_elementwise(Z_next)), Zc)], {}

    return truth


def _neuron(env: Mapping[str, sp.Matrix]) -> tuple[sp.Matrix, sp.Matrix, list[sp.Expr]]:
    w, b, X = env["w"], env["b"], env["X"]
    return w, b, [_RELU((w.T * X[:, i])[0, 0] + b[0, 0]) for i in range(X.cols)]


def _neuron_grad_w(env: Mapping[str, sp.Matrix]) -> tuple[list[sp.Matrix], dict]:
    w, _, a = _neuron(env)
    return [sp.Matrix.hstack(*[_grad(ai, w) for ai in a])], {}


def _neuron_grad_b(env: Mapping[str, sp.Matrix]) -> tuple[list[sp.Matrix], dict]:
    _, b, a = _neuron(env)
    return [sp.Matrix([[sp.diff(ai, b[0, 0]) for ai in a]])], {}


# --------------------------------------------------------------------------- the specs

_Z = ("Z", "k × m pre-activations, one column per sample")
_A_Y = (("A", "k × m outputs, one column per sample"), ("Y", "k × m targets"))


def kernel_specs() -> list[KernelSpec]:
    """Every kernel `jlab codegen` writes, in the order of the generated module."""
    ew, sg, th = elementwise_expressions(), sigmoid_expressions(), tanh_expressions()
    sm, ce = softmax_expressions(), softmax_cross_entropy_expressions()
    net = mnist_network_expressions()
    mse, bp, nr = mse_neuron_expressions(), backprop_expressions(), neuron_relu_expressions()
    specs = [
        KernelSpec("relu", "elementwise", (_Z,), (("A", ew["relu"]),),
                   "ReLU, element-wise: max(Z, 0). ``out`` may be ``Z`` itself (in place).",
                   out=True, truth=_map("Z", _RELU)),
        KernelSpec("relu_grad", "elementwise", (_Z,), (("dA", ew["relu_grad"]),),
                   "ReLU'(Z) element-wise, with ReLU'(0) = 0: 1 where Z > 0, else 0. "
                   "Exception to NaN propagation: NaN in Z gives 0 (NaN > 0 is False), as in "
                   "every ReLU step mask; np.heaviside would propagate it but is 4–12× "
                   "slower. The trainer catches NaN in the loss and the weights instead.",
                   truth=_map("Z", _d(_RELU))),
        KernelSpec("sigmoid", "sigmoid", (_Z,), (("A", sg["sigmoid"]),),
                   "The logistic function 1 / (1 + exp(−Z)), element-wise; no overflow "
                   "warning: exp(−Z) = inf far left gives exactly 0.",
                   truth=_map("Z", _SIGMOID)),
        KernelSpec("sigmoid_grad", "sigmoid", (_Z,), (("dA", sg["sigmoid_grad"]),),
                   "σ'(Z) = σ(Z)(1 − σ(Z)), element-wise, given Z.",
                   truth=_map("Z", _d(_SIGMOID))),
        KernelSpec("tanh", "tanh", (_Z,), (("A", th["tanh"]),),
                   "tanh, element-wise. ``out`` may be ``Z`` itself (in place).",
                   out=True, truth=_map("Z", sp.tanh)),
        KernelSpec("tanh_grad", "tanh", (_Z,), (("dA", th["tanh_grad"]),),
                   "tanh'(Z) = 1 − tanh(Z)², element-wise, given Z.",
                   truth=_map("Z", _d(sp.tanh))),
        KernelSpec("softmax", "softmax", (("Z", "k × m logits, one column per sample"),),
                   (("S", sm["softmax"]),),
                   "Softmax of each column, shifted by the column maximum (no overflow).",
                   truth=lambda env: ([_softmax(env["Z"])], {})),
        KernelSpec("log_softmax", "softmax", (("Z", "k × m logits, one column per sample"),),
                   (("L", sm["log_softmax"]),),
                   "log softmax of each column through log-sum-exp (finite at logits ±1000).",
                   truth=lambda env: ([_softmax(env["Z"]).applyfunc(sp.log)], {})),
        KernelSpec("softmax_cross_entropy", "mnist-network",
                   (("Z", "k × m logits"), ("Y", "k × m one-hot labels (or probabilities)")),
                   (("C", net["C"]),),
                   "The mean cross-entropy of softmax(Z) against Y, through log-sum-exp.",
                   truth=lambda env: ([sp.Matrix([[_cross_entropy(env)]])], {})),
        KernelSpec("softmax_cross_entropy_grad", "softmax-cross-entropy", _A_Y,
                   (("dZ", ce["dZ"]),),
                   "dZ of a softmax output layer under cross-entropy, given A = softmax(Z) "
                   "(per sample; the 1/m is applied in dense_backward).",
                   truth=_cross_entropy_grad),
        KernelSpec("mse", "mse-neuron", _A_Y, (("C", mse["C"]),),
                   "The mean squared error C = 1/(2m) Σ (Y − A)².",
                   truth=lambda env: ([sp.Matrix([[_mse(env)]])], {})),
        KernelSpec("mse_grad", "mse-neuron", _A_Y, (("dA", mse["dA"]),),
                   "∂C/∂A of the MSE per sample (the 1/m is applied in dense_backward).",
                   truth=lambda env: ([env["A"].cols * _grad(_mse(env), env["A"])], {})),
        KernelSpec("dense_forward", "backprop",
                   (("W", "k × n weights"), ("A", "n × m inputs, one column per sample"),
                    ("b", "k × 1 biases (broadcast over the samples)")),
                   (("Z", bp["Z"]),),
                   "A dense layer's pre-activations; ``out`` (k × m) saves the allocation.",
                   out=True,
                   truth=lambda env: ([env["W"] * env["A"] + env["b"] * sp.ones(1, env["A"].cols)],
                                      {})),
        KernelSpec("dense_backward", "backprop",
                   (("dZ", "k × m per-sample gradients of the pre-activations"),
                    ("A_prev", "n × m inputs of the layer"), ("W", "k × n weights")),
                   (("dW", bp["dW"]), ("db", bp["db"]), ("dA_prev", bp["dA_prev"])),
                   "BP3/BP4 for a batch: the mean gradients of W and b, and the per-sample "
                   "gradient passed to the previous layer.",
                   truth=_dense_backward),
    ]
    for f in ACTIVATIONS:
        specs.append(KernelSpec(
            f"hidden_delta_{f}", "backprop",
            (("W_next", "j × k weights of the next layer"),
             ("dZ_next", "j × m per-sample gradients of the next layer"), _Z),
            (("dZ", bp[f"delta_{f}"]),),
            f"BP2: a {f} hidden layer's dZ from the next layer's.",
            truth=_hidden_delta(_F[f])))
    for f in ACTIVATIONS:
        specs.append(KernelSpec(
            f"{f}_backward", "elementwise",
            (("dA", "k × m per-sample gradients of the activations A = f(Z)"), _Z),
            (("dZ", ew[f"backward_{f}"]),),
            f"dZ = dA ⊙ f'(Z) through a {f} layer: BP2 when dA = W_nextᵀ dZ_next is the "
            "dA_prev that dense_backward already returned.",
            truth=_backward(_F[f])))
    specs += [
        KernelSpec("neuron_relu_grad_w", "neuron-relu",
                   (("w", "n × 1 weights"), ("b", "1 × 1 bias"), ("X", "n × m inputs")),
                   (("G", nr["grad_w"]),),
                   "∂a/∂w for a = relu(wᵀx + b), one column per sample: column i is "
                   "step(wᵀxᵢ + b) xᵢ (ReLU'(0) = 0).",
                   truth=_neuron_grad_w),
        KernelSpec("neuron_relu_grad_b", "neuron-relu",
                   (("w", "n × 1 weights"), ("b", "1 × 1 bias"), ("X", "n × m inputs")),
                   (("g", nr["grad_b"]),),
                   "∂a/∂b for a = relu(wᵀx + b), one entry per sample: step(wᵀxᵢ + b).",
                   truth=_neuron_grad_b),
    ]
    return specs


# --------------------------------------------------------------------------- verification


def _matrix(v: Any) -> sp.Matrix:
    return sp.Matrix(v) if isinstance(v, sp.MatrixBase) else sp.Matrix([[v]])


VERIFY_SIZES = ({DIM_N: 2, DIM_K: 2, DIM_J: 2, DIM_M: 3},)


@dataclass(frozen=True)
class KernelCheck:
    kernel: str
    output: str
    sizes: str
    check: Check

    @property
    def ok(self) -> bool:
        return bool(self.check.ok)


def verify(spec: KernelSpec, sizes: Sequence[Mapping[sp.Symbol, int]] = VERIFY_SIZES,
           seed: int = 0,
           transform: Callable[[sp.Matrix], sp.Matrix] | None = None,
           fast: bool = False) -> list[KernelCheck]:
    """Compare each output expression with the spec's component-layer truth.

    Exactly the proof the catalog runs: the matrix-layer expression instantiated at
    concrete sizes against entries built from scalars and ``sympy.diff``. ``transform``
    is applied to each instantiated expression first (mutation testing swaps ReLU'(0));
    ``fast`` is passed to :func:`jacobian_lab.judge.checker.compare`.
    """
    if spec.truth is None:
        raise VerificationError(f"kernel {spec.name} has no component-layer truth to check")
    checks = []
    for s in sizes:
        inst = Instantiator(s)
        claimed = [_matrix(inst(e)) for _, e in spec.outputs]
        if transform is not None:
            claimed = [transform(c) for c in claimed]
        expected, subs = spec.truth(inst.env)
        label = ",".join(f"{d}={v}" for d, v in s.items())
        for (name, _), exp, got in zip(spec.outputs, expected, claimed, strict=True):
            c = compare(exp.xreplace(subs), got.xreplace(subs), samples=4, seed=seed, fast=fast)
            checks.append(KernelCheck(spec.name, name, label, c))
    return checks

