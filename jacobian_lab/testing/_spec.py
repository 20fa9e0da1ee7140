"""``spec=``: the function whose gradient the user's code computes, written in the matrix
language (``"sum(relu(W*x + b))"``) instead of as Python.

The spec is parsed and shape-checked at the arguments' sizes (a 1-D array is a column vector,
a 0-D one a scalar), its derivative w.r.t. every checked argument is derived by the chain walk
and proven against component differentiation at those sizes, and its value is printed as a
NumPy function by the kernels' printer — run against the instantiated expression before it is
used. That function is then ``f`` for the ordinary check, so every diagnosis of
:func:`~jacobian_lab.testing.assert_gradient` applies; a user who also passes ``f`` gets it
compared with the spec at the given point first.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jacobian_lab.errors import UsageError


def _shape(name: str, a: Any) -> str:
    shape = np.shape(a)
    if len(shape) == 0:
        return f"{name}=1"
    if len(shape) == 1:
        return f"{name}={shape[0]}"
    if len(shape) == 2:
        return f"{name}={shape[0]},{shape[1]}"
    raise UsageError(f"spec=: `{name}` has {len(shape)} axes; the matrix language has scalars, "
                     "vectors and matrices")


def spec_function(spec: str, names: Sequence[str], args: Sequence[Any],
                  wrt: Sequence[int]) -> tuple[Callable[..., float],
                                               Callable[..., list[np.ndarray]]]:
    """``f(*args)`` of the matrix-language ``spec``, and its exact gradient w.r.t. the checked
    arguments (one array per argument, each of its shape) from the results proven at these
    sizes — ReLU'(0) = 0 at exact zeros, the convention the spec declares."""
    if len(names) != len(args):
        raise UsageError(f"spec=: {len(args)} arguments but {len(names)} names "
                         f"({', '.join(names)}); give names=(...) one per argument")
    shapes = tuple(_shape(n, a) for n, a in zip(names, args, strict=True))
    value, gradients = _printed(spec, tuple(names), shapes, tuple(wrt))

    def columns(xs: Sequence[Any]) -> dict[str, Any]:
        return {names[i]: np.asarray(x).reshape(-1, 1) if np.ndim(x) == 1 else
                np.asarray(x).reshape(1, 1) if np.ndim(x) == 0 else np.asarray(x)
                for i, x in enumerate(xs)}

    def call(fn: Callable[..., Any], given: dict[str, Any]) -> Any:
        """A printed function takes, by name, the arguments its formula uses."""
        return fn(**{p: given[p] for p in inspect.signature(fn).parameters})

    def f(*xs: Any) -> float:
        return float(np.asarray(call(value, columns(xs))).reshape(()))

    f.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])

    def exact(*xs: Any) -> list[np.ndarray]:
        given = columns(xs)
        return [np.asarray(call(fn, given), dtype=np.float64).reshape(np.shape(xs[i]))
                for i, fn in zip(wrt, gradients, strict=True)]

    return f, exact


@functools.lru_cache(maxsize=64)
def _printed(spec: str, names: tuple[str, ...], shapes: tuple[str, ...], wrt: tuple[int, ...]
             ) -> tuple[Callable[..., Any], tuple[Callable[..., Any], ...]]:
    """The spec's value and proven gradients as printed, checked NumPy functions — derived,
    proven and printed once per spec, names and sizes (a test suite calls it again and
    again)."""
    # lazy: SymPy and the symbolic layers load only when spec= is used (the rest of
    # jacobian_lab.testing needs NumPy alone)
    from jacobian_lab.codegen.function import load, numpy_function
    from jacobian_lab.core.derivation import substitute
    from jacobian_lab.core.from_text import diff
    from jacobian_lab.core.proof import prove
    from jacobian_lab.language.matrix_shapes import parse_shapes

    d = diff(spec, [names[i] for i in wrt], parse_shapes(list(shapes)))
    if not prove(d).ok:  # pragma: no cover - the rule table's results are proven in its tests
        raise UsageError(f"spec=: the derivative of {spec!r} failed its own proof")
    first = d.results[0]
    source, _ = numpy_function("spec_value", substitute(first.of, first.defs),
                               f"the value of {spec}", {})
    value = load(source, "spec_value")
    gradients = []
    for i, r in zip(wrt, d.results, strict=True):
        gsource, _ = numpy_function(f"d_{names[i]}", substitute(r.expr, r.defs), "", {})
        gradients.append(load(gsource, f"d_{names[i]}"))
    return value, tuple(gradients)
