"""Assertions on users' gradient code: is a hand-written backward pass right, and if not, how?

>>> import numpy as np
>>> from jacobian_lab.testing import assert_gradient
>>> W, x = np.arange(6.0).reshape(2, 3) / 7, np.array([1.0, -2.0, 0.5])
>>> f = lambda W, x: 0.5 * float(np.sum((W @ x) ** 2))
>>> grad = lambda W, x: (np.outer(W @ x, x), W.T @ (W @ x))
>>> assert_gradient(f, grad, W, x).passed
True

The user's derivative is compared with central differences of ``f`` evaluated in float64
(the inputs are upcast when ``f`` accepts it; otherwise the tolerance follows the dtype), on
every coordinate of small arguments (a random subset, plus the largest entry, of large ones)
and along random directions (one JVP each, whatever the parameter count). On failure
:class:`GradientMismatch` (an ``AssertionError``) reads out the worst entries and a diagnosis;
on success the :class:`Report` says what was compared, the kinks met and the sensitivity.

Kinks are detected from one-sided differences that disagree. There the user's value must lie
in the subgradient; with ``kink="zero"`` (the default, ReLU'(0) = 0) or ``"one"`` it must also
follow that convention wherever it is identifiable from ``f`` alone — where exactly one
one-sided derivative is 0, the kinked units are all off on that side (a ReLU's input or bias at
exactly 0): ``"zero"`` asks for that side's 0, ``"one"`` for the other side's value. Elsewhere
the kink is reported "in the subgradient; convention not checkable from f alone" and passes.
``kink="any-subgradient"`` accepts any value in the subgradient.

``spec=`` gives the function in the matrix language instead of ``f`` (its derivative proven,
its value printed as a checked NumPy function). JAX has no adapter of its own (its arrays go
through ``np.asarray``, in float32 unless x64 is enabled).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jacobian_lab.testing import _adapt, _check
from jacobian_lab.testing._numeric import EvaluationError
from jacobian_lab.testing._report import GradientMismatch, Report

__all__ = ["GradientMismatch", "Report", "assert_autograd_function", "assert_gradient",
           "assert_jacobian", "assert_vjp"]

KINKS = _check.KINKS


def _settings(kink: str, seed: int | None) -> tuple[np.random.Generator, int]:
    if kink not in KINKS:
        raise ValueError(f"kink={kink!r}: allowed {', '.join(map(repr, KINKS))}")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**32)  # type: ignore[operator]
    return np.random.default_rng(seed), seed


def _run(problem: _check.Problem, *, rtol: float | None, kink: str, seed: int | None,
         max_coordinates: int, n_directions: int) -> Report:
    __tracebackhide__ = True
    rng, used = _settings(kink, seed)
    if rtol is None:
        worst = max(problem.eps, *problem.yours_eps)
        rtol = next((r for name, r in _adapt.DEFAULT_RTOL.items()
                     if worst <= _adapt.eps_of(name)), 5e-2)
    try:
        report = _check.run(problem, rtol=rtol, kink=kink, rng=rng, seed=used,
                            max_coordinates=max_coordinates, n_directions=n_directions)
    except EvaluationError as exc:
        raise GradientMismatch(f"{problem.kind} check: {exc}") from exc.__cause__
    if not report.passed:
        raise GradientMismatch(str(report), report)
    return report


def _gradient_problem(kind: str, fun: Callable[[list[Any]], Any], a: _adapt.Args,
                      value: Any, what: str, eps: float, where: str) -> _check.Problem:
    shapes = [a.f64[i].shape for i in a.wrt]
    labels = [a.names[i] for i in a.wrt]
    yours, yeps = _adapt.user_arrays(value, a, what, shapes, labels)
    return _check.Problem(kind=kind, fun=fun, args=a.f64, names=a.names, wrt=a.wrt,
                          yours=[y[None] for y in yours], eps=eps, evaluated_in=where,
                          yours_eps=tuple(yeps))


def _call_user(fn: Callable[..., Any], args: Sequence[Any], what: str) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        raise GradientMismatch(f"{what} raised {type(exc).__name__} at the given point: "
                               f"{exc}") from exc


def assert_gradient(f: Callable[..., Any] | None, grad: Callable[..., Any], *args: Any,
                    wrt: int | Sequence[int] | None = None, rtol: float | None = None,
                    kink: str = "zero", seed: int | None = None, max_coordinates: int = 400,
                    n_directions: int = 2, spec: str | None = None,
                    names: Sequence[str] | None = None) -> Report:
    """Check ``grad(*args)`` — one array per checked argument, each of its shape (a bare array
    when only one) — against the gradient of the scalar ``f(*args)``.

    ``wrt`` picks the checked arguments (default: every floating-point one); ``rtol`` defaults
    by dtype (1e-6 for float64, 2e-4 for float32); ``seed`` makes the random coordinates and
    directions reproducible. NumPy arrays and PyTorch tensors are accepted.

    >>> import numpy as np
    >>> x = np.array([1.0, -2.0, 0.0])
    >>> f = lambda x: float(np.sum(np.maximum(x, 0) ** 2))
    >>> assert_gradient(f, lambda x: 2 * np.maximum(x, 0), x, seed=0).passed
    True

    ``spec`` gives ``f`` in the matrix language instead (docs/MATRIX_LANGUAGE.md; ``names``
    names the arguments in order, default: ``grad``'s parameters): its derivative is derived
    and proven at the arguments' sizes and its value printed as a checked NumPy function.

    >>> W, b, x = np.ones((2, 3)) / 4, np.array([0.5, -1.0]), np.array([1.0, 2.0, -1.0])
    >>> grad = lambda W, b, x: (np.outer(W @ x + b > 0, x), (W @ x + b > 0).astype(float))
    >>> assert_gradient(None, grad, W, b, x, wrt=(0, 1), spec="sum(relu(W*x + b))").passed
    True
    """
    __tracebackhide__ = True
    exact = None
    if spec is not None:
        f, exact = _with_spec(f, grad, spec, names, args, wrt)
    elif f is None:
        raise TypeError("assert_gradient needs f, or spec= (the function in the matrix language)")
    a = _adapt.prepare(f, args, wrt)
    fun, eps, where = _adapt.evaluator(f, a, scalar=True)
    value = _call_user(grad, a.original, "grad")
    problem = _gradient_problem("gradient", fun, a, value, "grad", eps, where)
    report = _run(problem, rtol=rtol, kink=kink, seed=seed, max_coordinates=max_coordinates,
                  n_directions=n_directions)
    if exact is not None:
        _against_exact(problem, exact(*a.f64), spec or "", report)
    return report


def _against_exact(problem: _check.Problem, expected: list[Any], spec: str,
                   report: Report) -> None:
    """With ``spec=``: every entry of the user's gradient against the proven one (no finite
    differences; at exact zeros the spec's ReLU'(0) = 0, so the convention is always checked)."""
    __tracebackhide__ = True
    for k, (i, want) in enumerate(zip(problem.wrt, expected, strict=True)):
        yours = problem.yours[k][0]
        scale = max(float(np.abs(want).max(initial=0.0)), 1e-300)
        diff = np.abs(yours - want)
        worst = int(np.argmax(diff)) if diff.size else 0
        error = float(diff.max(initial=0.0)) / scale
        tol = max(1e-9, 10 * max(problem.eps, *problem.yours_eps))
        if error > tol:
            idx = np.unravel_index(worst, want.shape) if want.shape else ()
            where = f"{problem.names[i]}[{', '.join(map(str, idx))}]" if idx else problem.names[i]
            raise GradientMismatch(
                f"gradient against spec={spec!r} (exact, proven): {where}: yours "
                f"{float(yours.ravel()[worst]):.8g}, expected {float(want.ravel()[worst]):.8g} "
                f"(relative error {error:.2e} > {tol:.0e}); the finite-difference check "
                f"passed, so the difference is where differences cannot see it (a kink's "
                "convention, ReLU'(0) = 0)", report)


def _with_spec(f: Callable[..., Any] | None, grad: Callable[..., Any], spec: str,
               names: Sequence[str] | None, args: Sequence[Any],
               wrt: int | Sequence[int] | None
               ) -> tuple[Callable[..., Any], Callable[..., list[Any]]]:
    """``f`` and the exact gradient from the matrix-language ``spec``; a given ``f`` must
    agree with it at ``args``."""
    # lazy: SymPy and the symbolic layers load only when spec= is used
    from jacobian_lab.testing._spec import spec_function

    names = list(names) if names is not None else _adapt.names_of(grad, len(args))
    floating = [i for i, x in enumerate(args)
                if np.issubdtype(np.asarray(_adapt.to_numpy(x)).dtype, np.floating)]
    chosen = floating if wrt is None else ([wrt] if isinstance(wrt, int) else list(wrt))
    from_spec, exact = spec_function(spec, names, [_adapt.to_numpy(x) for x in args], chosen)
    if f is not None:
        given, expected = float(f(*args)), from_spec(*(_adapt.to_numpy(x) for x in args))
        if not abs(given - expected) <= 1e-9 * max(1.0, abs(expected)):
            raise GradientMismatch(f"f and spec={spec!r} disagree at the given arguments: "
                                   f"f gives {given:.10g}, the spec {expected:.10g}")
    return from_spec, exact


def assert_jacobian(f: Callable[..., Any], jac: Callable[..., Any], *args: Any,
                    wrt: int | Sequence[int] | None = None, rtol: float | None = None,
                    kink: str = "zero", seed: int | None = None, max_coordinates: int = 400,
                    n_directions: int = 2) -> Report:
    """Check ``jac(*args)`` — in numerator layout, ``(f.size × x.size)`` for each checked
    argument ``x`` (a tuple when several) — against the Jacobian of ``f(*args)``.

    >>> import numpy as np
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> assert_jacobian(lambda x: A @ x, lambda x: A, np.array([0.5, -1.0]), seed=0).passed
    True
    """
    __tracebackhide__ = True
    a = _adapt.prepare(f, args, wrt)
    fun, eps, where = _adapt.evaluator(f, a, scalar=False)
    k = fun(a.f64).size
    value = _call_user(jac, a.original, "jac")
    shapes = [(k, a.f64[i].size) for i in a.wrt]
    labels = [f"∂f/∂{a.names[i]}" for i in a.wrt]
    mats, yeps = _adapt.user_arrays(value, a, "jac", shapes, labels)
    yours = [m.reshape(k, *a.f64[i].shape) for m, i in zip(mats, a.wrt, strict=True)]
    names = list(a.names)
    problem = _check.Problem(kind="jacobian", fun=fun, args=a.f64, names=names, wrt=a.wrt,
                             yours=yours, eps=eps, evaluated_in=where, yours_eps=tuple(yeps),
                             jacobian=True)
    return _run(problem, rtol=rtol, kink=kink, seed=seed, max_coordinates=max_coordinates,
                n_directions=n_directions)


def assert_vjp(f: Callable[..., Any], vjp: Callable[..., Any], *args: Any,
               wrt: int | Sequence[int] | None = None, rtol: float | None = None,
               kink: str = "zero", seed: int | None = None, max_coordinates: int = 400,
               n_directions: int = 2) -> Report:
    """Check a backward pass ``vjp(upstream, *args)`` — one array per checked argument, the
    vector–Jacobian product ``upstreamᵀ ∂f/∂arg`` — for a random ``upstream`` shaped like
    ``f(*args)``: it is the gradient of ``⟨upstream, f(*args)⟩``.

    >>> import numpy as np
    >>> W, x = np.ones((2, 3)), np.array([1.0, 2.0, 3.0])
    >>> vjp = lambda g, W, x: (np.outer(g, x), W.T @ g)
    >>> assert_vjp(lambda W, x: W @ x, vjp, W, x, seed=0).passed
    True
    """
    __tracebackhide__ = True
    a = _adapt.prepare(f, args, wrt)
    fun, eps, where = _adapt.evaluator(f, a, scalar=False)
    rng, used = _settings(kink, seed)
    y0 = _call_user(f, a.original, "f")
    y_np = _adapt.to_numpy(y0)
    u = rng.standard_normal(y_np.shape)
    if _adapt.is_tensor(y0):
        from jacobian_lab.testing._tensors import like  # lazy: torch is optional

        upstream: Any = like(u, y0)
    else:
        upstream = u.astype(y_np.dtype) if np.issubdtype(y_np.dtype, np.floating) else u
    u_flat = u.ravel()

    def scalar(arrays: list[Any]) -> Any:
        return np.array([float(np.dot(u_flat, fun(arrays)))])

    value = _call_user(vjp, [upstream, *a.original], "vjp")
    problem = _gradient_problem("vjp", scalar, a, value, "vjp", eps, where)
    return _run(problem, rtol=rtol, kink=kink, seed=used, max_coordinates=max_coordinates,
                n_directions=n_directions)


def assert_autograd_function(fn: Any, *inputs: Any, wrt: int | Sequence[int] | None = None,
                             rtol: float | None = None, kink: str = "zero",
                             seed: int | None = None, max_coordinates: int = 400,
                             n_directions: int = 2) -> Report:
    """Check a custom ``torch.autograd.Function``'s ``backward`` against its ``forward``, in
    float64, for a random upstream gradient (imports torch).

    >>> import torch  # doctest: +SKIP
    >>> class Square(torch.autograd.Function):  # doctest: +SKIP
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    >>> assert_autograd_function(Square, torch.randn(3)).passed  # doctest: +SKIP
    True
    """
    __tracebackhide__ = True
    # lazy: torch is optional; imported only when an autograd.Function is checked
    from jacobian_lab.testing._torch import autograd_function_problem

    rng, used = _settings(kink, seed)
    problem = autograd_function_problem(fn, inputs, wrt, rng)
    return _run(problem, rtol=rtol, kink=kink, seed=used, max_coordinates=max_coordinates,
                n_directions=n_directions)
