"""The check of a ``torch.autograd.Function`` (imports torch: used only when one is passed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from jacobian_lab.testing import _adapt, _check
from jacobian_lab.testing._numeric import F64
from jacobian_lab.testing._report import GradientMismatch
from jacobian_lab.testing._tensors import given


def autograd_function_problem(fn: Any, inputs: Sequence[Any], wrt: int | Sequence[int] | None,
                              rng: np.random.Generator) -> _check.Problem:
    """The check of ``fn.backward`` against ``fn.forward``: the gradient of
    ``⟨upstream, fn.apply(*inputs)⟩`` through ``backward``, all in float64."""
    if not (isinstance(fn, type) and issubclass(fn, torch.autograd.Function)):
        raise TypeError(f"{fn!r} is not a torch.autograd.Function subclass")
    tensors = [x if isinstance(x, torch.Tensor) else torch.as_tensor(x) for x in inputs]
    a = _adapt.prepare(fn.forward, [None, *tensors], None if wrt is None else
                       [i + 1 for i in (wrt if isinstance(wrt, Sequence) else (wrt,))])
    names = a.names[1:]
    chosen = tuple(i - 1 for i in a.wrt)
    f64 = a.f64[1:]

    def forward(*xs: Any) -> Any:
        return fn.apply(*xs)

    with torch.no_grad():
        y0 = forward(*given(tensors, f64, True))
    if not isinstance(y0, torch.Tensor):
        raise TypeError(f"{fn.__name__}.forward returned {type(y0).__name__}; one tensor "
                        "is supported")
    u = rng.standard_normal(tuple(y0.shape))
    u_t = torch.as_tensor(u, dtype=torch.float64)

    def scalar(arrays: list[F64]) -> F64:
        with torch.no_grad():
            y = forward(*given(tensors, arrays, True))
        return np.array([float((y.to(torch.float64) * u_t).sum())])

    leaves = given(tensors, f64, True)
    for i in chosen:
        leaves[i].requires_grad_(True)
    try:
        out = (forward(*leaves).to(torch.float64) * u_t).sum()
        grads = torch.autograd.grad(out, [leaves[i] for i in chosen], allow_unused=True)
    except Exception as exc:
        raise GradientMismatch(f"{fn.__name__}.backward raised {type(exc).__name__}: "
                               f"{exc}") from exc
    yours, yeps = _adapt.user_arrays(
        list(grads), a, f"{fn.__name__}.backward", [f64[i].shape for i in chosen],
        [names[i] for i in chosen])
    problem = _check.Problem(kind="autograd.Function", fun=scalar, args=f64, names=names,
                             wrt=chosen, yours=[y[None] for y in yours],
                             eps=float(np.finfo(np.float64).eps), evaluated_in="float64",
                             yours_eps=tuple(yeps))
    return problem
