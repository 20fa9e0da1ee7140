"""PyTorch adapters, imported only when a tensor or an ``autograd.Function`` is passed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from jacobian_lab.testing import _adapt, _check
from jacobian_lab.testing._numeric import F64

_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32,
           np.dtype(np.float16): torch.float16}


def tensor_to_numpy(t: Any) -> NDArray[Any]:
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.to(torch.float32)
    return np.asarray(t.numpy())


def like(arr: NDArray[Any], ref: Any) -> Any:
    """``arr`` as a tensor with ``ref``'s dtype and device (float64 when ``ref`` is a float64
    array)."""
    dtype = ref.dtype if isinstance(ref, torch.Tensor) else _DTYPES.get(np.dtype(arr.dtype))
    device = ref.device if isinstance(ref, torch.Tensor) else "cpu"
    return torch.as_tensor(np.ascontiguousarray(arr), dtype=dtype, device=device)


def _given(originals: Sequence[Any], arrays: Sequence[Any], upcast: bool) -> list[Any]:
    given = []
    for orig, arr in zip(originals, arrays, strict=True):
        if isinstance(orig, torch.Tensor):
            if orig.is_floating_point():
                dtype = torch.float64 if upcast else orig.dtype
                given.append(torch.tensor(arr, dtype=dtype, device=orig.device))  # a copy
            else:
                given.append(orig)
        else:
            given.append(arr if isinstance(orig, np.ndarray) else orig)
    return given


def call_with_arrays(f: Callable[..., Any], originals: Sequence[Any], upcast: bool
                     ) -> Callable[[list[F64]], Any]:
    """``f`` on tensors made from float64 arrays (float64 tensors when ``upcast``)."""

    def call(arrays: list[F64]) -> Any:
        with torch.no_grad():
            return f(*_given(originals, arrays, upcast))

    return call


def autograd_function_problem(fn: Any, inputs: Sequence[Any], wrt: int | Sequence[int] | None,
                              kink: str, seed: int | None) -> tuple[_check.Problem, int]:
    """The check of ``fn.backward`` against ``fn.forward``: the gradient of
    ``⟨upstream, fn.apply(*inputs)⟩`` through ``backward``, all in float64."""
    if not (isinstance(fn, type) and issubclass(fn, torch.autograd.Function)):
        raise TypeError(f"{fn!r} is not a torch.autograd.Function subclass")
    from jacobian_lab.testing import _settings

    rng, used = _settings(kink, seed)
    tensors = [x if isinstance(x, torch.Tensor) else torch.as_tensor(x) for x in inputs]
    a = _adapt.prepare(fn.forward, [None, *tensors], None if wrt is None else
                       [i + 1 for i in (wrt if isinstance(wrt, Sequence) else (wrt,))])
    names = a.names[1:]
    chosen = tuple(i - 1 for i in a.wrt)
    f64 = a.f64[1:]

    def forward(*xs: Any) -> Any:
        return fn.apply(*xs)

    with torch.no_grad():
        y0 = forward(*_given(tensors, f64, True))
    if not isinstance(y0, torch.Tensor):
        raise TypeError(f"{fn.__name__}.forward returned {type(y0).__name__}; one tensor "
                        "is supported")
    u = rng.standard_normal(tuple(y0.shape))
    u_t = torch.as_tensor(u, dtype=torch.float64)

    def scalar(arrays: list[F64]) -> F64:
        with torch.no_grad():
            y = forward(*_given(tensors, arrays, True))
        return np.array([float((y.to(torch.float64) * u_t).sum())])

    leaves = _given(tensors, f64, True)
    for i in chosen:
        leaves[i].requires_grad_(True)
    try:
        out = (forward(*leaves).to(torch.float64) * u_t).sum()
        grads = torch.autograd.grad(out, [leaves[i] for i in chosen], allow_unused=True)
    except Exception as exc:
        from jacobian_lab.testing._report import GradientMismatch

        raise GradientMismatch(f"{fn.__name__}.backward raised {type(exc).__name__}: "
                               f"{exc}") from exc
    yours, yeps = _adapt.user_arrays(
        list(grads), a, f"{fn.__name__}.backward", [f64[i].shape for i in chosen],
        [names[i] for i in chosen])
    problem = _check.Problem(kind="autograd.Function", fun=scalar, args=f64, names=names,
                             wrt=chosen, yours=[y[None] for y in yours],
                             eps=float(np.finfo(np.float64).eps), evaluated_in="float64",
                             yours_eps=tuple(yeps))
    return problem, used
