"""Codegen: the fused training step, printed from the kernel specs.

One epoch (or a run of batches) of minibatch SGD for the trainer's networks — ReLU hidden
layers, a softmax output under cross-entropy, any depth and width — as one function
(:func:`fused_source`), written to ``jacobian_lab/kernels/_fused.py`` by ``jlab codegen``
(:func:`write`; :func:`check` tells whether it is fresh). Its arithmetic is printed by
:class:`~jacobian_lab.codegen.loops.LoopPrinter` from the **same matrix-layer results as the
NumPy kernels** (the specs of :func:`~jacobian_lab.codegen.specs.kernel_specs` named in
:data:`USES`): the forward ``Z = W A + b 𝟏ᵀ`` and ``A = ReLU(Z)``, the cost, softmax, BP1
``δᴸ = A − Y``, BP2 ``δ = (W_nextᵀ δ_next) ⊙ ReLU'(Z)``, and the updates ``W − α·BP4``,
``b − α·BP3``. Only the orchestration is written by hand here: gathering the shuffled rows of
each batch, the loop over layers and batches, and the count of correct predictions.

The printed module is plain Python over NumPy; BLAS comes in as an argument (``gemm``, a
CBLAS ``?gemm``) and runs the products of the wide layers, while a thin layer's (a side of at
most ``small``, the step's last argument) run as the loops of :mod:`jacobian_lab.codegen.thin`,
printed beside the step; :mod:`jacobian_lab.kernels.fused` passes NumPy's BLAS and compiles
the step with Numba (cached on disk), and
:mod:`jacobian_lab.training.fused` checks it against the NumPy kernels before it is used.
A wrong spec changes the printed step (``jlab mutate --level fused``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.codegen.kernel_spec import KernelSpec
from jacobian_lab.codegen.loops import Arr, LoopPrinter
from jacobian_lab.codegen.specs import kernel_specs
from jacobian_lab.codegen.thin import HELPERS, THIN_SOURCE
from jacobian_lab.errors import ShapeError
from jacobian_lab.files import atomic_write_text
from jacobian_lab.language.activations import RELU_AT_ZERO
from jacobian_lab.matrix.expr import DIM_J, DIM_K, DIM_M, DIM_N, matrix
from jacobian_lab.matrix.expr import vector as vector_symbol

FUSED = Path(__file__).parent.parent / "kernels" / "_fused.py"

#: The spec outputs the step is printed from: (kernel, output) for each part.
USES: dict[str, tuple[str, str]] = {
    "forward": ("dense_forward", "Z"),
    "hidden": ("relu", "A"),
    "cost": ("softmax_cross_entropy", "C"),
    "softmax": ("softmax", "S"),
    "output_delta": ("softmax_cross_entropy_grad", "dZ"),
    "hidden_delta": ("hidden_delta_relu", "dZ"),
    "weight_gradient": ("dense_backward", "dW"),
    "bias_gradient": ("dense_backward", "db"),
}
LR = sp.Symbol("lr", positive=True)
_T, _P = True, False  # sample-major (one row per sample) or as stored (parameters)


def used_specs(specs: Sequence[KernelSpec] | None = None) -> list[KernelSpec]:
    """The kernel specs the step is printed from (a subset of ``specs``)."""
    names = {k for k, _ in USES.values()}
    return [s for s in (kernel_specs() if specs is None else specs) if s.name in names]


#: The shape each part must have (k units, n inputs, m samples).
SHAPES = {"forward": (DIM_K, DIM_M), "hidden": (DIM_K, DIM_M), "cost": (1, 1),
          "softmax": (DIM_K, DIM_M), "output_delta": (DIM_K, DIM_M),
          "hidden_delta": (DIM_K, DIM_M), "weight_gradient": (DIM_K, DIM_N),
          "bias_gradient": (DIM_K, 1)}


def _expressions(specs: Sequence[KernelSpec],
                 overrides: Mapping[tuple[str, str], MatrixExpr]) -> dict[str, MatrixExpr]:
    by_name = {s.name: dict(s.outputs) for s in specs}
    out = {part: overrides.get((k, o), by_name[k][o]) for part, (k, o) in USES.items()}
    for part, e in out.items():
        if tuple(e.shape) != SHAPES[part]:
            k, o = USES[part]
            raise ShapeError(f"{k}'s {o} is {e.shape[0]} × {e.shape[1]}; the fused step "
                             f"needs {SHAPES[part][0]} × {SHAPES[part][1]}")
    return out


def _block(expr: MatrixExpr, target: Arr, bind: dict[str, Arr], dims: dict[sp.Symbol, str],
           prefix: str, relu_at_zero: int) -> list[str]:
    p = LoopPrinter(dims, bind, relu_at_zero=relu_at_zero, prefix=prefix)
    p.assign(target, expr)
    return p.lines


def _blocks(specs: Sequence[KernelSpec], relu_at_zero: int,
            overrides: Mapping[tuple[str, str], MatrixExpr]) -> dict[str, list[str]]:
    """The printed pieces of the step, keyed by their place in :data:`_TEMPLATE`."""
    e = _expressions(specs, overrides)
    fwd = {DIM_N: "n_in", DIM_K: "n_out", DIM_M: "m"}
    back = {DIM_J: "n_out", DIM_K: "n_in", DIM_M: "m"}  # BP2 of the layer below
    W, b = matrix("W", DIM_K, DIM_N), vector_symbol("b", DIM_K)
    # θ ← θ − α ∇θ C, with ∇W C and ∇b C the specs' BP4 and BP3
    update_W = sp.MatAdd(W, sp.MatMul(-LR, e["weight_gradient"], evaluate=True))
    update_b = sp.MatAdd(b, sp.MatMul(-LR, e["bias_gradient"], evaluate=True))
    params = {"W": Arr("W"), "b": Arr("b")}
    A_in = Arr("A_in", _T)
    out = {
        "FORWARD": _block(e["forward"], Arr("Z", _T), {**params, "A": A_in}, fwd, "f",
                          relu_at_zero),
        "HIDDEN": _block(e["hidden"], Arr("A_out", _T), {"Z": Arr("Z", _T)}, fwd, "h",
                         relu_at_zero),
        "COST": _block(e["cost"], Arr("cost"), {"Z": Arr("Z", _T), "Y": Arr("Y", _T)}, fwd,
                       "o", relu_at_zero),
        "SOFTMAX": _block(e["softmax"], Arr("S", _T), {"Z": Arr("Z", _T)}, fwd, "o",
                          relu_at_zero),
        "OUTPUT_DELTA": _block(e["output_delta"], Arr("dZ", _T),
                               {"A": Arr("S", _T), "Y": Arr("Y", _T)}, fwd, "d", relu_at_zero),
        "HIDDEN_DELTA": _block(e["hidden_delta"], Arr("dZ_prev", _T),
                               {"W_next": Arr("W"), "dZ_next": Arr("dZ", _T),
                                "Z": Arr("Z_prev", _T)}, back, "g", relu_at_zero),
        "UPDATE_W": _block(update_W, Arr("W"), {**params, "dZ": Arr("dZ", _T), "A_prev": A_in},
                           {**fwd, LR.name: "lr"}, "u", relu_at_zero),
        "UPDATE_B": _block(update_b, Arr("b"), {**params, "dZ": Arr("dZ", _T)},
                           {**fwd, LR.name: "lr"}, "v", relu_at_zero),
    }
    # COST and SOFTMAX share the per-column normaliser: print them with one printer
    p = LoopPrinter(fwd, {"Z": Arr("Z", _T), "Y": Arr("Y", _T)}, relu_at_zero=relu_at_zero,
                    prefix="o")
    p.assign(Arr("cost"), e["cost"])
    p.assign(Arr("S", _T), e["softmax"])
    out["COST"], out["SOFTMAX"] = p.lines, []
    return out


_TEMPLATE = '''\
# generated by `jlab codegen` — do not edit
"""The fused training step: minibatch SGD over a run of batches as one function.

Printed by :mod:`jacobian_lab.codegen.fused` from the kernel specs the NumPy kernels are
printed from (forward, softmax, cost, BP1, BP2, and the updates through BP3/BP4); compiled
with Numba by :mod:`jacobian_lab.kernels.fused`, which passes the BLAS. Plain Python runs it
too, slowly. Regenerate with `jlab codegen`. The products with a side of at most ``small``
run as the loops below (thin_*: what gemm computes, with the same arguments), the others
through gemm.
"""

import numpy as np

HELPERS = @HELPERS


@THIN


def fused_epoch(xs, ys, labels, order, lo, hi, batch, lr, Ws, bs, losses, correct, gemm,
                small):
    """SGD on batches lo … hi−1 of ``order`` (batch b holds the samples
    order[b·batch : (b+1)·batch]): the weights Ws and biases bs (tuples of arrays) are
    updated in place; each batch's mean cost and count of correct predictions, both before
    its update, go to losses[b] and correct[b].

    xs, ys are the training images and one-hot labels as rows, labels the class numbers;
    gemm is CBLAS ?gemm in their precision (an argument: a compiled step holds no address);
    a product with a side of at most ``small`` runs as a thin_* loop instead.
    """
    N = xs.shape[0]
    L = len(Ws)
    dt = xs.dtype
    X = np.empty((batch, xs.shape[1]), dt)  # the batch's inputs, one row per sample
    Y = np.empty((batch, ys.shape[1]), dt)
    Zs = [np.empty((batch, Ws[i].shape[0]), dt) for i in range(L)]
    As = [np.empty((batch, Ws[i].shape[0]), dt) for i in range(L)]
    dZs = [np.empty((batch, Ws[i].shape[0]), dt) for i in range(L)]
    for bi in range(lo, hi):
        start = bi * batch
        m = min(batch, N - start)
        for c in range(0, m - 3, 4):  # gather the batch's rows, four at a time
            s0 = order[start + c]
            s1 = order[start + c + 1]
            s2 = order[start + c + 2]
            s3 = order[start + c + 3]
            for r in range(X.shape[1]):
                X[c, r] = xs[s0, r]
                X[c + 1, r] = xs[s1, r]
                X[c + 2, r] = xs[s2, r]
                X[c + 3, r] = xs[s3, r]
        for c in range(m - m % 4, m):
            src = order[start + c]
            for r in range(X.shape[1]):
                X[c, r] = xs[src, r]
        for c in range(m):
            src = order[start + c]
            for r in range(Y.shape[1]):
                Y[c, r] = ys[src, r]
        for layer in range(L):  # forward
            W = Ws[layer]
            b = bs[layer]
            n_out = W.shape[0]
            n_in = W.shape[1]
            thin = min(m, n_out, n_in) <= small  # its products run as loops, not BLAS
            A_in = X if layer == 0 else As[layer - 1]
            Z = Zs[layer]
            A_out = As[layer]
@FORWARD
            if layer < L - 1:
@HIDDEN
        Z = Zs[L - 1]
        S = As[L - 1]
        dZ = dZs[L - 1]
        n_out = Z.shape[1]
@COST
@SOFTMAX
@OUTPUT_DELTA
        losses[bi] = cost
        hits = 0
        for c in range(m):
            best = 0
            for r in range(1, n_out):
                if Z[c, r] > Z[c, best]:
                    best = r
            if best == labels[order[start + c]]:
                hits += 1
        correct[bi] = hits
        for layer in range(L - 1, -1, -1):  # backward, each layer updated after its BP2
            W = Ws[layer]
            b = bs[layer]
            n_out = W.shape[0]
            n_in = W.shape[1]
            thin = min(m, n_out, n_in) <= small
            A_in = X if layer == 0 else As[layer - 1]
            dZ = dZs[layer]
            if layer > 0:
                Z_prev = Zs[layer - 1]
                dZ_prev = dZs[layer - 1]
@HIDDEN_DELTA
@UPDATE_W
@UPDATE_B
'''

_TEMPLATE = _TEMPLATE.replace("@HELPERS", repr(HELPERS))
_INDENT = {"THIN": 0, "FORWARD": 12, "HIDDEN": 16, "COST": 8, "SOFTMAX": 8, "OUTPUT_DELTA": 8,
           "HIDDEN_DELTA": 16, "UPDATE_W": 12, "UPDATE_B": 12}


def fused_source(specs: Sequence[KernelSpec] | None = None,
                 relu_at_zero: int = RELU_AT_ZERO,
                 overrides: Mapping[tuple[str, str], MatrixExpr] | None = None) -> str:
    """The source of ``jacobian_lab/kernels/_fused.py`` printed from ``specs`` (default: the
    kernel catalog). For mutation testing: ``relu_at_zero=1`` prints a wrong ReLU'(0), and
    ``overrides`` replaces the expression of ``(kernel, output)`` (unchecked by the spec)."""
    blocks = {**_blocks(used_specs(specs), relu_at_zero, overrides or {}),
              "THIN": THIN_SOURCE.rstrip("\n").splitlines()}
    lines = []
    for line in _TEMPLATE.splitlines():
        if line.startswith("@"):
            key = line[1:]
            lines += textwrap.indent("\n".join(blocks[key]), " " * _INDENT[key]).splitlines()
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def write(path: Path | str = FUSED) -> Path:
    """Write the fused step module (only when it changed); returns the path."""
    path, text = Path(path), fused_source()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        atomic_write_text(path, text)
    return path


def check(path: Path | str = FUSED) -> bool:
    """True if the module at ``path`` is exactly what :func:`fused_source` prints today."""
    path = Path(path)
    return path.exists() and path.read_text(encoding="utf-8") == fused_source()


__all__ = ["FUSED", "SHAPES", "USES", "check", "fused_source", "used_specs", "write"]
