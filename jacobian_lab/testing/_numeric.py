"""Central differences with an error bound, and kink detection from one-sided differences.

Along a perturbation ``at(s)`` (a coordinate or a random unit direction) the function is
evaluated at ``s = ±h, ±h/2`` (``h`` a power of two near ``ε^(1/3)·max(1, |x|)``, so that
``x ± h`` is exact). The central differences at both steps give the
derivative ``D(h/2)`` and an error bound ``2|D(h) − D(h/2)|`` (it also holds where ``f''``
jumps) plus rounding ``≈ 8 ε |f| / h``. The
one-sided differences tell a kink: where the function is smooth, the gap between the right and
left quotients halves with the step (it is ``≈ h f''``); at a kink it stays the size of the jump
in the derivative. Where neither holds (a kink between ``h/8`` and ``h`` away) the step is cut
by 16 and the probe repeated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
Evaluate = Callable[[float], F64]  # s ↦ the raveled output at the point moved by s


class EvaluationError(Exception):
    """The user's function raised or returned something unusable at a probed point."""


@dataclass(frozen=True)
class Partial:
    """A derivative along one perturbation, for every output entry."""

    central: F64  # the derivative where smooth (Richardson-extrapolated)
    error: F64  # a bound on |central − true derivative|
    left: F64  # one-sided derivatives (meaningful where ``kink``)
    right: F64
    kink: NDArray[np.bool_]
    step: float


def step_for(x: float, eps: float) -> float:
    """A power of two near ``ε^(1/3)·max(1, |x|)``: ``x ± h`` and ``x ± h/2`` are exact."""
    h = eps ** (1 / 3) * max(1.0, abs(x)) if math.isfinite(x) else eps ** (1 / 3)
    return float(2.0 ** round(math.log2(h)))


def partial(evaluate: Evaluate, f0: F64, h: float, eps: float, retries: int = 2) -> Partial:
    """The derivative of ``evaluate`` at ``s = 0`` (``f0 = evaluate(0)``), see the module."""
    with np.errstate(all="ignore"):
        fp1, fm1 = evaluate(h), evaluate(-h)
        fp2, fm2 = evaluate(h / 2), evaluate(-h / 2)
        c1 = (fp1 - fm1) / (2 * h)
        c2 = (fp2 - fm2) / h
        central = c2
        size = np.maximum.reduce([np.abs(f0), np.abs(fp1), np.abs(fm1)])
        rounding = 8 * eps * size / h
        # |D(h/2) − f'| ≈ |D(h) − D(h/2)|/3 where f is C³; twice the difference also bounds a
        # jump in f'' (D(h) − f' = O(h) there)
        error = 2 * np.abs(c2 - c1) + rounding
        right1, left1 = (fp1 - f0) / h, (f0 - fm1) / h
        right2, left2 = (fp2 - f0) / (h / 2), (f0 - fm2) / (h / 2)
        gap1, gap2 = right1 - left1, right2 - left2
        noise = 16 * rounding + 1e-9 * np.maximum(np.abs(right2), np.abs(left2))
        kink = (np.abs(gap2) > noise) & (np.abs(gap2 - gap1) < 0.25 * np.abs(gap1))
    scale = float(np.max(np.abs(central), initial=0.0))
    unstable = ~kink & (error > 1e-4 * max(scale, float(np.max(rounding, initial=0.0))))
    if retries and bool(np.any(unstable)) and h / 16 > 0:
        finer = partial(evaluate, f0, h / 16, eps, retries - 1)
        if float(np.max(finer.error, initial=0.0)) < float(np.max(error, initial=0.0)):
            return finer
    return Partial(central=central, error=error, left=left2, right=right2, kink=kink, step=h)


def random_unit(shapes: list[tuple[int, ...]], rng: np.random.Generator) -> list[F64]:
    """A random direction of unit 2-norm across all the checked arguments."""
    v = [rng.standard_normal(s) for s in shapes]
    norm = math.sqrt(sum(float((d * d).sum()) for d in v)) or 1.0
    return [d / norm for d in v]


def choose_coordinates(yours: F64, limit: int, rng: np.random.Generator) -> list[int]:
    """Every flat index when there are at most ``limit``; otherwise the largest entry of the
    user's gradient and ``limit − 1`` random others."""
    n = yours.size
    if n <= limit:
        return list(range(n))
    with np.errstate(all="ignore"):
        largest = int(np.nanargmax(np.abs(yours))) if np.isfinite(yours).any() else 0
    rest = rng.choice(n, size=limit, replace=False)
    chosen = [largest, *(int(i) for i in rest if int(i) != largest)]
    return sorted(chosen[:limit])
