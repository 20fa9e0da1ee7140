"""The user's arguments, functions and gradients, brought to float64 NumPy and checked for
shape, dtype and count — every failure a message that names the argument.

PyTorch tensors are recognised by their type's module, so torch is imported only when the
user passed one (``_torch``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.testing._numeric import F64, EvaluationError
from jacobian_lab.testing._report import ArgumentResult, GradientMismatch, Report

EPS64 = float(np.finfo(np.float64).eps)
DEFAULT_RTOL = {"float64": 1e-6, "float32": 2e-4, "float16": 2e-2, "bfloat16": 5e-2}


def is_tensor(a: object) -> bool:
    return type(a).__module__.split(".")[0] == "torch"


def names_of(f: Callable[..., Any], n: int) -> list[str]:
    """The parameter names of ``f`` for ``n`` positional arguments (``arg0``… if unknown)."""
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    return names + [f"arg{i}" for i in range(len(names), n)]


def to_numpy(a: Any) -> NDArray[Any]:
    if is_tensor(a):
        from jacobian_lab.testing._tensors import tensor_to_numpy  # lazy: torch is optional

        return tensor_to_numpy(a)
    return np.asarray(a)


def dtype_name(a: Any) -> str:
    return str(a.dtype).removeprefix("torch.") if hasattr(a, "dtype") else type(a).__name__


def eps_of(name: str) -> float:
    if name == "bfloat16":
        return 2.0**-7
    try:
        return float(np.finfo(np.dtype(name)).eps)
    except TypeError:
        return EPS64


@dataclass
class Args:
    """The user's arguments, their names and float64 copies, and which are checked."""

    original: list[Any]
    names: list[str]
    f64: list[F64]
    wrt: tuple[int, ...]


def prepare(f: Callable[..., Any], args: Sequence[Any], wrt: int | Sequence[int] | None
            ) -> Args:
    names = names_of(f, len(args))
    arrays = [to_numpy(a) for a in args]
    floating = [np.issubdtype(a.dtype, np.floating) for a in arrays]
    if wrt is None:
        chosen = tuple(i for i, fl in enumerate(floating) if fl)
    else:
        chosen = tuple(int(i) for i in (wrt if isinstance(wrt, Sequence) else (wrt,)))
    if not chosen:
        raise TypeError("nothing to check: no argument is a floating-point array")
    for i in chosen:
        if not 0 <= i < len(args):
            raise TypeError(f"wrt={tuple(chosen)}: there are {len(args)} arguments "
                            f"({', '.join(names)})")
        if not floating[i]:
            raise TypeError(f"argument {names[i]} has dtype {arrays[i].dtype}: only floating-point "
                            "arguments can be checked (choose others with wrt=)")
    f64 = [a.astype(np.float64) if fl else a for a, fl in zip(arrays, floating, strict=True)]
    return Args(list(args), names, f64, chosen)


def caller(f: Callable[..., Any], a: Args, upcast: bool) -> Callable[[list[F64]], Any]:
    """``f`` on float64 arrays, handed over as the user's kind (NumPy or tensors), in float64
    when ``upcast``, in the arguments' own dtypes otherwise."""
    torch_args = [is_tensor(x) for x in a.original]
    if any(torch_args):
        from jacobian_lab.testing._tensors import call_with_arrays  # lazy: torch is optional

        return call_with_arrays(f, a.original, upcast)

    def call(arrays: list[F64]) -> Any:
        given = []
        for orig, arr in zip(a.original, arrays, strict=True):
            if not upcast and hasattr(orig, "dtype"):
                arr = arr.astype(orig.dtype)
            if np.ndim(orig) == 0 and not isinstance(orig, np.ndarray):
                given.append(arr[()] if isinstance(arr, np.ndarray) else arr)
            else:
                given.append(arr.copy())  # a function that writes into its input
        return f(*given)

    return call


def output(value: Any, what: str, scalar: bool) -> tuple[F64, str]:
    """The function's output as raveled float64, and its dtype; TypeError when unusable."""
    try:
        arr = to_numpy(value)
    except Exception as exc:
        raise TypeError(f"{what} returned {type(value).__name__}, not an array or a number") \
            from exc
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{what} returned dtype {arr.dtype}: a real floating-point value is "
                        "needed")
    if arr.size == 0:
        raise TypeError(f"{what} returned an empty array: nothing to check")
    if scalar and arr.size != 1:
        raise TypeError(f"{what} must return a scalar (a loss); it returned shape {arr.shape} "
                        "(use assert_jacobian or assert_vjp for array outputs)")
    return arr.astype(np.float64).ravel(), dtype_name(arr)


def evaluator(f: Callable[..., Any], a: Args, scalar: bool, what: str = "f"
              ) -> tuple[Callable[[list[F64]], F64], float, str]:
    """The raveled-float64 evaluation of ``f``, the precision it runs in, and a description.

    ``f`` is tried on float64 inputs first; if it raises there, in the inputs' own dtypes.
    """
    attempts = [True, False]
    first: Exception | None = None
    for upcast in attempts:
        call = caller(f, a, upcast)
        try:
            value = call(a.f64)
        except Exception as exc:
            first = first or exc
            continue
        out, dt = output(value, what, scalar)
        with np.errstate(all="ignore"):
            if not np.isfinite(out).all():
                raise GradientMismatch(
                    f"{what} returned a non-finite value ({out[~np.isfinite(out)][0]}) at the "
                    "given point: nothing there can be checked")
        eps = max([eps_of(dt), *(eps_of(dtype_name(o)) for o in a.original if not upcast
                                 and hasattr(o, "dtype"))])
        where = "float64" if eps == EPS64 else f"{dt} (the function does not run in float64)"

        def fun(arrays: list[F64], call: Callable[[list[F64]], Any] = call) -> F64:
            try:
                val = call(arrays)
            except Exception as exc:
                raise EvaluationError(f"{what} raised {type(exc).__name__}: {exc}") from exc
            res, _ = output(val, what, scalar)
            return res

        return fun, eps, where
    assert first is not None
    raise GradientMismatch(f"{what} raised {type(first).__name__} at the given point: "
                           f"{first}") from first


def user_arrays(value: Any, a: Args, what: str, shapes: Sequence[tuple[int, ...]],
                labels: Sequence[str]) -> tuple[list[F64], list[float]]:
    """The user's derivative arrays (one per checked argument) as float64, with their
    precisions. Raises TypeError for a wrong count or dtype, GradientMismatch for a shape."""
    n = len(shapes)
    if isinstance(value, (tuple, list)):
        items = list(value)
    elif n == 1:
        items = [value]
    else:
        raise TypeError(f"{what} returned one {type(value).__name__}; expected a tuple of {n} "
                        f"arrays, one per checked argument ({', '.join(labels)})")
    if len(items) != n:
        raise TypeError(f"{what} returned {len(items)} arrays; expected {n}, one per checked "
                        f"argument ({', '.join(labels)}) — choose them with wrt=")
    out: list[F64] = []
    eps: list[float] = []
    for item, shape, label in zip(items, shapes, labels, strict=True):
        if item is None:
            raise TypeError(f"{what} returned None for {label}; expected an array of shape "
                            f"{shape}")
        arr = to_numpy(item)
        if not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(f"{what} returned dtype {arr.dtype} for {label}: a real "
                            "floating-point array is needed")
        if arr.shape != tuple(shape):
            transposed = arr.ndim == 2 and arr.shape == tuple(shape)[::-1]
            diag = (["transposed: yours has the transposed shape (the other layout, or a "
                     "product in the wrong order)"] if transposed else [])
            res = ArgumentResult(label, tuple(shape), size=int(np.prod(shape)),
                                 problem=f"shape {arr.shape}, expected {tuple(shape)}",
                                 diagnosis=diag)
            report = Report(kind=what, arguments=[res])
            raise GradientMismatch(str(report), report)
        out.append(arr.astype(np.float64))
        eps.append(eps_of(dtype_name(item)))
    return out, eps
