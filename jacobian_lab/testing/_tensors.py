"""Tensors in and out of NumPy, for the PyTorch adapters (imports torch: used only when a
tensor is passed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

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


def given(originals: Sequence[Any], arrays: Sequence[Any], upcast: bool) -> list[Any]:
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
            return f(*given(originals, arrays, upcast))

    return call
