"""Mutation testing of the assertions themselves (``jlab mutate --level assertions``).

Correct hand-written backward passes are mutated the ways hand derivations go wrong — the
gradient of one argument times 1001/1000, negated, transposed, times the batch size (the 1/m
dropped), or ReLU'(0) = 1 (the gradient evaluated with the input's exact zeros nudged to the
smallest positive float) — and :func:`jacobian_lab.testing.assert_gradient` must reject each
mutant that changes the gradient. A mutant equal to the original (a symmetric matrix
transposed, a 1-D array "transposed", no exact zero to nudge) is **equivalent**.

The built-in passes (:data:`BUILTIN`) mirror the project's test corpus (``tests/
gradcode_corpus.py``), whose correct cases go through :func:`mutate_case` in the tests too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np

from jacobian_lab.testing import GradientMismatch, assert_gradient

SCALE = 1001 / 1000
Status = Literal["caught", "equivalent", "missed"]
Mutation = tuple[str, str, str, Status, str, float]  # target, operator, detail, status, by, s


def _variants(grad: Callable[..., Any], args: Sequence[Any], batch: int | None
              ) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(operator, detail, mutated grad) for every mutant of ``grad``."""
    base = grad(*args)
    many = isinstance(base, tuple)
    n = len(base) if many else 1

    def one(k: int, change: Callable[[Any], Any]) -> Callable[..., Any]:
        def mutated(*a: Any) -> Any:
            g = grad(*a)
            if not many:
                return change(g)
            return tuple(change(x) if i == k else x for i, x in enumerate(g))

        return mutated

    for k in range(n):
        part = f"argument {k}"
        yield "scale", f"{part} × 1001/1000", one(k, lambda g: g * SCALE)
        yield "sign", f"{part} negated", one(k, lambda g: -g)
        yield "transpose", f"{part} transposed", one(k, lambda g: np.asarray(g).T)
        if batch:
            yield "drop-1/m", f"{part} × {batch} (the 1/m dropped)", one(k, lambda g: g * batch)
    zeros = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and (a == 0).any()]
    for i in zeros:
        def nudged(*a: Any, i: int = i) -> Any:
            moved = list(a)
            moved[i] = np.where(a[i] == 0, np.finfo(np.float64).tiny, a[i])
            return grad(*moved)

        yield "relu'(0)", f"ReLU'(0) = 1 at the exact zeros of argument {i}", nudged


def _same(a: Any, b: Any) -> bool:
    aa = a if isinstance(a, tuple) else (a,)
    bb = b if isinstance(b, tuple) else (b,)
    return all(np.shape(x) == np.shape(y) and np.array_equal(x, y)
               for x, y in zip(aa, bb, strict=True))


def mutate_case(name: str, f: Callable[..., Any], grad: Callable[..., Any],
                args: Sequence[Any], batch: int | None = None, seed: int = 0,
                **kwargs: Any) -> list[Mutation]:
    """Every mutant of one correct backward pass, judged by :func:`assert_gradient`."""
    out: list[Mutation] = []
    original = grad(*args)
    for operator, detail, mutated in _variants(grad, args, batch):
        t0 = time.perf_counter()
        value = mutated(*args)
        status: Status
        if _same(value, original):
            status, by = "equivalent", "the same gradient as the original"
        else:
            try:
                assert_gradient(f, mutated, *args, seed=seed, **kwargs)
                status, by = "missed", "assert_gradient passed it"
            except (GradientMismatch, TypeError) as exc:
                lines = [ln.strip() for ln in str(exc).splitlines() if "diagnosis:" in ln]
                status, by = "caught", (lines[0] if lines else str(exc).splitlines()[0])
        out.append((name, operator, detail, status, by, time.perf_counter() - t0))
    return out


# --------------------------------------------------------------------------- built-in passes

_rng = np.random.default_rng(15)
_W, _X, _B, _Y = (_rng.standard_normal(s) for s in ((4, 4), (4, 6), (4, 1), (4, 6)))
_XR = np.array([1.5, 0.0, -0.7, 0.0, 2.0, -1.0])
_WR = np.array([0.5, -2.0, 1.0, 3.0, -1.5, 0.25])
_Z = _rng.standard_normal((3, 5))
_YS = np.eye(3)[:, [0, 2, 1, 1, 0]]
_XN, _GN = _rng.standard_normal((3, 5)), _rng.standard_normal((3, 5))


def _dense(W: Any, X: Any, b: Any) -> float:
    return float(((W @ X + b - _Y) ** 2).sum() / (2 * X.shape[1]))


def _dense_grad(W: Any, X: Any, b: Any) -> tuple[Any, Any, Any]:
    D = (W @ X + b - _Y) / X.shape[1]
    return D @ X.T, W.T @ D, D.sum(axis=1, keepdims=True)


def _relu(x: Any) -> float:
    return float(_WR @ np.maximum(x, 0.0))


def _relu_grad(x: Any) -> Any:
    return _WR * (x > 0)


def _ce(Z: Any) -> float:
    S = Z - Z.max(axis=0, keepdims=True)
    return float(-(_YS * (S - np.log(np.exp(S).sum(axis=0, keepdims=True)))).sum() / Z.shape[1])


def _ce_grad(Z: Any) -> Any:
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return (E / E.sum(axis=0, keepdims=True) - _YS) / Z.shape[1]


def _ln_parts(x: Any) -> tuple[Any, Any]:
    mu = x.mean(axis=1, keepdims=True)
    sd = np.sqrt(((x - mu) ** 2).mean(axis=1, keepdims=True) + 1e-5)
    return (x - mu) / sd, sd


def _ln(x: Any) -> float:
    return float((_GN * _ln_parts(x)[0]).sum())


def _ln_grad(x: Any) -> Any:
    xh, sd = _ln_parts(x)
    return (_GN - _GN.mean(axis=1, keepdims=True) - xh * (_GN * xh).mean(axis=1, keepdims=True)
            ) / sd


#: (name, f, grad, args, batch size) of the built-in correct backward passes
BUILTIN: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[Any, ...], int | None]] = [
    ("dense layer + MSE", _dense, _dense_grad, (_W, _X, _B), 6),
    ("ReLU on exact zeros", _relu, _relu_grad, (_XR,), None),
    ("softmax + cross-entropy", _ce, _ce_grad, (_Z,), 5),
    ("layer norm", _ln, _ln_grad, (_XN,), None),
    ("dense layer + MSE, float32", _dense, _dense_grad,
     tuple(a.astype(np.float32) for a in (_W, _X, _B)), 6),
]


def assertion_outcomes() -> list[Mutation]:
    """Every mutant of every built-in backward pass (``jlab mutate --level assertions``)."""
    return [m for name, f, g, args, batch in BUILTIN for m in mutate_case(name, f, g, args, batch)]
