"""The generated kernels: each equals its matrix-layer expression, dtypes kept, stable.

Each kernel is compared with its spec's expression instantiated by SymPy itself — sizes
substituted, every ``MatrixSymbol`` replaced by the explicit matrix of the same (exact)
numbers, then ``as_explicit()`` — in float64 to 1e-12 and in float32 to 1e-5.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest
import sympy as sp

from jacobian_lab import kernels
from jacobian_lab.codegen.specs import kernel_specs
from jacobian_lab.errors import UnknownNameError
from jacobian_lab.matrix.expr import Apply, Softmax

SPECS = kernel_specs()
SIZES = {"n": 3, "k": 2, "j": 2, "m": 4}
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def symbols(spec: Any) -> dict[str, sp.MatrixSymbol]:
    found = {s.name: s for _, e in spec.outputs for s in e.atoms(sp.MatrixSymbol)}
    return {p: found[p] for p, _ in spec.params}


def draw(spec: Any, rng: np.random.Generator, dtype: type) -> dict[str, np.ndarray]:
    out = {}
    for name, s in symbols(spec).items():
        shape = tuple(SIZES[str(d)] if isinstance(d, sp.Symbol) else int(d) for d in s.shape)
        out[name] = (rng.standard_normal(shape) * 2).astype(dtype)
    return out


def expected(spec: Any, values: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """The spec's outputs evaluated by SymPy at exactly the given numbers (30 digits)."""
    dims = {d: SIZES[str(d)] for s in symbols(spec).values() for d in s.shape
            if isinstance(d, sp.Symbol)}
    explicit = {
        s.xreplace(dims): sp.ImmutableMatrix(
            [[sp.Float(float(x), 30) for x in row] for row in values[name].astype(np.float64)])
        for name, s in symbols(spec).items()
    }
    outs = []
    for _, e in spec.outputs:
        e = e.xreplace(dims).xreplace(explicit)
        # f(X) and softmax(X) first (their entries need concrete indices), then the algebra
        e = e.replace(lambda x: isinstance(x, Apply | Softmax),
                      lambda x: sp.ImmutableMatrix(x.as_explicit()))
        outs.append(np.array(sp.Matrix(e.as_explicit()).evalf(30).tolist(), dtype=np.float64))
    return outs


def call(spec: Any, values: Mapping[str, np.ndarray]) -> tuple:
    got = getattr(kernels, spec.name)(*(values[p] for p, _ in spec.params))
    return got if isinstance(got, tuple) else (got,)


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_kernel_equals_its_matrix_expression_at_components(spec, dtype, rng):
    values = draw(spec, rng, dtype)
    for got, want, (name, e) in zip(call(spec, values), expected(spec, values), spec.outputs,
                                    strict=True):
        got = np.asarray(got)
        assert got.dtype == dtype, f"{spec.name}: {name} is {got.dtype}, not {np.dtype(dtype)}"
        assert got.shape == (want.shape if e.shape != (1, 1) else ()), name
        np.testing.assert_allclose(got.astype(np.float64), want.reshape(got.shape),
                                   rtol=TOL[dtype], atol=TOL[dtype], err_msg=spec.name)


class Spy(np.ndarray):
    """An array that records the dtype of every ufunc result computed from it."""

    seen: ClassVar[list[tuple[str, np.dtype]]] = []

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kw: Any) -> Any:
        plain = [x.view(np.ndarray) if isinstance(x, Spy) else x for x in inputs]
        if "out" in kw:
            kw["out"] = tuple(o.view(np.ndarray) if isinstance(o, Spy) else o for o in kw["out"])
        result = getattr(ufunc, method)(*plain, **kw)
        for r in result if isinstance(result, tuple) else (result,):
            Spy.seen.append((f"{ufunc.__name__}.{method}", np.asarray(r).dtype))
        if isinstance(result, tuple):
            return tuple(np.asarray(r).view(Spy) for r in result)
        return np.asarray(result).view(Spy)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_float32_in_float32_out_without_float64_temporaries(spec, rng):
    values = {k: v.view(Spy) for k, v in draw(spec, rng, np.float32).items()}
    Spy.seen = []
    outs = call(spec, values)
    assert Spy.seen, "the spy saw no ufunc"
    wide = [(op, dt) for op, dt in Spy.seen if dt not in (np.float32, np.bool_)]
    assert not wide, f"{spec.name} computed {wide}"
    assert all(np.asarray(o).dtype == np.float32 for o in outs)


# --------------------------------------------------------------------------- stability

LOGITS = np.array([[1000.0, -1000.0, 0.0, 7.0],
                   [-1000.0, 1000.0, 0.0, 7.0],
                   [0.0, 0.0, 0.0, -1000.0]])
LABELS = np.array([[1.0, 0.0, 0.0, 0.0],
                   [0.0, 0.0, 1.0, 1.0],
                   [0.0, 1.0, 0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_softmax_and_cross_entropy_at_logits_pm1000(dtype):
    Z, Y = LOGITS.astype(dtype), LABELS.astype(dtype)
    S = kernels.softmax(Z)
    np.testing.assert_allclose(S, [[1, 0, 1 / 3, 0.5], [0, 1, 1 / 3, 0.5], [0, 0, 1 / 3, 0]],
                               rtol=TOL[dtype], atol=1e-30)
    L = kernels.log_softmax(Z)
    np.testing.assert_allclose(L[:, 1], [-2000, 0, -1000], rtol=TOL[dtype])
    assert np.isfinite(L).all()
    # per column: −log s = 0, 1000, log 3, log 2 (the label-2 logit is the largest)
    C = kernels.softmax_cross_entropy(Z, Y)
    assert np.asarray(C).dtype == dtype
    np.testing.assert_allclose(C, (0 + 1000 + np.log(3) + np.log(2)) / 4, rtol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_sigmoid_saturates_without_overflow_warnings(dtype):
    Z = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=dtype)
    for out in (kernels.sigmoid(Z), kernels.sigmoid_grad(Z)):
        assert out.dtype == dtype and np.isfinite(out).all()
    np.testing.assert_allclose(kernels.sigmoid(Z), [[0, 0, 0.5, 1, 1]], atol=1e-30)
    np.testing.assert_allclose(kernels.sigmoid_grad(Z), [[0, 0, 0.25, 0, 0]], atol=1e-30)


# --------------------------------------------------------------------------- conventions


def test_relu_derivative_at_zero_is_zero():
    Z = np.array([[-1.0, 0.0, 1e-30, 2.0]], dtype=np.float32)
    assert kernels.relu_grad(Z).tolist() == [[0, 0, 1, 1]]
    X = np.ones((2, 4), np.float32)
    w, b = np.zeros((2, 1), np.float32), np.zeros((1, 1), np.float32)
    assert not kernels.neuron_relu_grad_w(w, b, X).any()  # wᵀx + b = 0: step(0) = 0
    assert not kernels.neuron_relu_grad_b(w, b, X).any()


def test_out_is_written_in_place(rng):
    Z = rng.standard_normal((3, 5))
    want = np.maximum(Z, 0)
    assert kernels.relu(Z, out=Z) is Z
    np.testing.assert_array_equal(Z, want)
    want = np.tanh(Z)
    assert kernels.tanh(Z, out=Z) is Z
    np.testing.assert_array_equal(Z, want)
    W, A, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 1))
    out = np.empty((3, 5))
    assert kernels.dense_forward(W, A, b, out=out) is out
    np.testing.assert_allclose(out, W @ A + b, rtol=1e-12)


def test_dense_backward_shapes_and_mean_over_the_batch(rng):
    dZ, A_prev, W = (rng.standard_normal(s) for s in ((3, 6), (4, 6), (3, 4)))
    dW, db, dA_prev = kernels.dense_backward(dZ, A_prev, W)
    assert (dW.shape, db.shape, dA_prev.shape) == ((3, 4), (3, 1), (4, 6))
    np.testing.assert_allclose(db[:, 0], dZ.mean(axis=1), rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_hidden_delta_by_name_and_from_dA_prev_agree(activation, rng):
    W_next, dZ_next, Z = (rng.standard_normal(s) for s in ((2, 3), (2, 5), (3, 5)))
    want = getattr(kernels, f"hidden_delta_{activation}")(W_next, dZ_next, Z)
    np.testing.assert_array_equal(kernels.hidden_delta(W_next, dZ_next, Z, activation), want)
    from_dA = getattr(kernels, f"{activation}_backward")(W_next.T @ dZ_next, Z)
    np.testing.assert_allclose(from_dA, want, rtol=1e-12)


def test_hidden_delta_rejects_an_unknown_activation():
    x = np.zeros((1, 1))
    with pytest.raises(UnknownNameError, match=r"did you mean `sigmoid`.*known: relu"):
        kernels.hidden_delta(x, x, x, "sigmod")


def test_importing_the_kernels_imports_numpy_but_not_sympy():
    code = ("import sys, jacobian_lab.kernels\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sympy', 'derivations', 'rich') or m in ('jacobian_lab.codegen.emit', "
            "'jacobian_lab.codegen.specs'))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
