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
    # lazy: SymPy and the symbolic layers load only when spec= is used (the rest of
    # jacobian_lab.testing needs NumPy alone)
    from sympy import MatrixSymbol

    from jacobian_lab.codegen.function import numpy_function
    from jacobian_lab.core.from_text import diff
    from jacobian_lab.core.proof import prove
    from jacobian_lab.language.matrix_shapes import parse_shapes

    if len(names) != len(args):
        raise UsageError(f"spec=: {len(args)} arguments but {len(names)} names "
                         f"({', '.join(names)}); give names=(...) one per argument")
    shapes = parse_shapes([_shape(n, a) for n, a in zip(names, args, strict=True)])
    d = diff(spec, [names[i] for i in wrt], shapes)
    proof = prove(d)
    if not proof.ok:  # pragma: no cover - the rule table's results are proven in its tests
        raise UsageError(f"spec=: the derivative of {spec!r} failed its own proof")
    value = d.definitions[-1].rhs  # the spec, as the last definition's right-hand side
    for step in reversed(d.definitions[:-1]):
        value = value.xreplace({step.lhs: step.rhs})
    source, _ = numpy_function("spec_value", value, f"the value of {spec}", {})
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source, "<spec_value>", "exec"), namespace)  # our own printed source
    printed = namespace["spec_value"]
    order = sorted(range(len(names)), key=lambda i: names[i])  # the printed function's order
    used = {s.name for s in value.atoms(MatrixSymbol)}

    def columns(xs: Sequence[Any]) -> dict[str, Any]:
        return {names[i]: np.asarray(x).reshape(-1, 1) if np.ndim(x) == 1 else
                np.asarray(x).reshape(1, 1) if np.ndim(x) == 0 else np.asarray(x)
                for i, x in enumerate(xs)}

    def f(*xs: Any) -> float:
        given = columns(xs)
        out = printed(*(given[names[i]] for i in order if names[i] in used))
        return float(np.asarray(out).reshape(()))

    f.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    gradients = []
    for i, r in zip(wrt, d.results, strict=True):
        g = r.expr
        for step in reversed(d.definitions[:-1]):
            g = g.xreplace({step.lhs: step.rhs})
        gsource, _ = numpy_function(f"d_{names[i]}", g, "", {})
        gspace: dict[str, Any] = {"np": np}
        exec(compile(gsource, f"<d_{names[i]}>", "exec"), gspace)  # our own printed source
        params = sorted(s.name for s in g.atoms(MatrixSymbol))
        gradients.append((i, gspace[f"d_{names[i]}"], params))

    def exact(*xs: Any) -> list[np.ndarray]:
        given = columns(xs)
        return [np.asarray(fn(*(given[p] for p in params)), dtype=np.float64)
                .reshape(np.shape(xs[i])) for i, fn, params in gradients]

    return f, exact
