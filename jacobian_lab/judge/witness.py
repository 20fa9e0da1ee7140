"""A quick search for counterexamples in float64, each confirmed at 30 digits.

The checker's fast mode (:func:`jacobian_lab.judge.checker.compare` with ``fast=True``, used by
mutation testing, where most claims are wrong) first looks here for a witness: random points
evaluated in float64 by :func:`float_value`, a memoised walk over the expression DAG, and
points placed exactly on each kink. A point where the two sides differ far above rounding is
re-evaluated with 30 significant digits; only a confirmed difference is a verdict. Finding
nothing proves nothing: the caller goes on to the exact checks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp

from jacobian_lab.judge.arguments import kink_arguments
from jacobian_lab.judge.roots import on_kink
from jacobian_lab.judge.values import DIGITS, differing
from jacobian_lab.judge.verdict import KINK_DIAGNOSIS, Check, mismatches
from jacobian_lab.language.activations import ACTIVATIONS

__all__ = ["float_value", "refute"]


def refute(expected: sp.Matrix, claim: sp.Matrix, seed: int = 0,
           extra_exprs: Sequence[sp.Expr] = (), kink_search: bool = True) -> Check | None:
    """An ``incorrect`` verdict from a quick float64 search confirmed at 30 digits, or
    ``None`` (no counterexample found quickly: that proves nothing). Same shapes assumed."""
    idx = [i for i in range(len(expected)) if expected[i] != claim[i]]
    variables = sorted(set().union(expected.free_symbols, claim.free_symbols,
                                   *(e.free_symbols for e in extra_exprs)), key=str)
    exprs = [*expected, *claim, *extra_exprs]
    found = _float_refutation(variables, expected, claim, idx, exprs, seed)
    diagnosis = None
    if found is None and kink_search:
        found = _float_refutation(variables, expected, claim, idx, exprs, seed, on_kinks=True)
    if found is None:
        return None
    if found[2] is not None:
        diagnosis = KINK_DIAGNOSIS.format(kink=sp.sstr(found[2]))
    point, idx_bad, _ = found
    return Check(
        "incorrect", "sampled", expected, claim,
        mismatches=mismatches(expected, claim, idx_bad),
        counterexample={str(k): float(v) for k, v in point.items()}, points=1,
        diagnosis=diagnosis,
    )


_KINK_MARGIN = 1e-6  # float64 points this close to a kink are left to the exact checks


def _candidate(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random point: mostly moderate values (a network's gradient overflows float64 when
    every coordinate is large), one point in four spread over 1e-3 … 1e6, both signs."""
    if rng.random() < 0.25:
        return rng.choice([-1.0, 1.0], size=n) * 10.0 ** rng.uniform(-3.0, 6.0, size=n)
    scale = rng.choice([0.5, 2.0, 2.0, 3.0, 10.0, 100.0], size=n)
    return rng.uniform(-1.0, 1.0, size=n) * scale


class _Unsupported(Exception):
    """An expression :func:`_float_value` has no float64 rule for."""


_FLOAT_FUNCS: dict[Any, Any] = {
    sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan,
    sp.asin: np.arcsin, sp.acos: np.arccos, sp.atan: np.arctan, sp.sinh: np.sinh,
    sp.cosh: np.cosh, sp.Abs: np.abs, sp.sign: np.sign,
    **{a.function: a.float64 for a in ACTIVATIONS.values()},  # relu, sigmoid, tanh, …
}


def float_value(e: sp.Basic, memo: dict[sp.Basic, float]) -> float:
    """``e`` in float64 (NaN outside the domain), each shared subexpression once.

    Hand-written because SymPy's printers (and so ``lambdify``) take seconds per entry on
    the explicit gradients of a 3-layer network (12.6 s for one entry of 2,300 operations),
    while a memoised walk of the expression DAG takes milliseconds.
    """
    if e in memo:
        return memo[e]
    if e.is_Number:
        v = float(e) if e.is_extended_real else math.nan
    elif e is sp.pi or e is sp.E:
        v = float(e)
    elif isinstance(e, sp.Add):
        v = sum((float_value(a, memo) for a in e.args), 0.0)
    elif isinstance(e, sp.Mul):
        v = 1.0
        for a in e.args:
            v = v * float_value(a, memo)
    elif isinstance(e, sp.Pow):
        b, x = float_value(e.base, memo), float_value(e.exp, memo)
        v = float(np.power(b, x)) if b > 0 or float(x).is_integer() else (
            0.0 if b == 0 and x > 0 else math.nan)
    elif isinstance(e, sp.Heaviside):
        z = float_value(e.args[0], memo)
        at0 = float_value(e.args[1], memo) if len(e.args) > 1 else 0.5
        v = 1.0 if z > 0 else 0.0 if z < 0 else at0
    elif isinstance(e, sp.Max | sp.Min):
        vals = [float_value(a, memo) for a in e.args]
        v = max(vals) if isinstance(e, sp.Max) else min(vals)
    elif e.func in _FLOAT_FUNCS and len(e.args) == 1:
        v = float(_FLOAT_FUNCS[e.func](float_value(e.args[0], memo)))
    else:
        raise _Unsupported(type(e).__name__)
    memo[e] = v
    return v


def _float_refutation(
    variables: Sequence[sp.Symbol],
    expected: sp.Matrix,
    claim: sp.Matrix,
    idx: Sequence[int],
    exprs: Sequence[sp.Expr],
    seed: int,
    tries: int = 24,
    on_kinks: bool = False,
) -> tuple[dict[sp.Symbol, sp.Expr], dict[int, tuple[float | None, float | None]],
           sp.Expr | None] | None:
    """A quick search for a counterexample in float64, confirmed at 30 digits.

    Evaluating large explicit matrices (a 3-layer network's gradient) with 30-digit
    arithmetic at dozens of points costs minutes; ``lambdify`` to NumPy costs milliseconds.
    A point where the float64 values differ by more than 1e-8 relatively (far above rounding),
    away from every kink and where everything is finite, is re-evaluated with 30 digits: only
    a confirmed difference is returned. ``None`` means: no quick counterexample.

    ``on_kinks``: the points are put exactly on a kink instead (see :func:`_on_kink`; the
    rounded coordinates keep a kink argument such as w·x + b exactly 0 in float64 too), for
    claims that differ only there (ReLU'(0) = 1).
    """
    if not variables:
        return None
    kinks = kink_arguments(*exprs)
    targets = [*(expected[i] for i in idx), *(claim[i] for i in idx), *kinks, *exprs]

    def f(*x: float) -> list[float]:
        memo: dict[sp.Basic, float] = dict(zip(variables, map(float, x), strict=True))
        return [float_value(t, memo) for t in targets]

    rng = np.random.default_rng(seed + 7919)
    n = len(idx)
    if on_kinks and not kinks:
        return None
    for t in range(tries):
        x = _candidate(rng, len(variables))
        kink = None
        exact: dict[sp.Symbol, sp.Expr] | None = None
        if on_kinks:
            kink = kinks[t % len(kinks)]
            exact = on_kink(kink, {v: sp.Float(float(xi)) for v, xi in
                                    zip(variables, x, strict=True)})
            if exact is None:
                continue
            x = np.array([float(exact[v]) for v in variables])
        try:
            with np.errstate(all="ignore"):
                v = np.array(f(*x), dtype=np.float64)
        except _Unsupported:
            return None  # a function without a float64 rule: leave it to the 30-digit path
        if not np.isfinite(v).all():
            continue
        kv = v[2 * n: 2 * n + len(kinks)]
        if on_kinks:
            if kv[t % len(kinks)] != 0.0:
                continue  # not exactly on the kink in float64: try another point
        elif np.abs(kv).min(initial=np.inf) < _KINK_MARGIN:
            continue
        e, c = v[:n], v[n: 2 * n]
        far = np.abs(c - e) > 1e-8 * np.maximum(np.maximum(np.abs(e), np.abs(c)), 1e-30)
        if not far.any():
            continue
        sub: dict[sp.Symbol, sp.Expr] = exact if exact is not None else {
            s: sp.Float(float(xi), DIGITS) for s, xi in zip(variables, x, strict=True)}
        rel = np.abs(c - e) / np.maximum(np.maximum(np.abs(e), np.abs(c)), 1e-30)
        for k in map(int, np.flatnonzero(far)[np.argsort(-rel[far])]):  # clearest first
            # the raw entries: the registry's functions evaluate themselves (to_elementary's Max is
            # slow to build); one confirmed entry is a counterexample
            bad = differing(expected, claim, [idx[k]], sub)
            if bad:
                return sub, bad, kink
    return None
