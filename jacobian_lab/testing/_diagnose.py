"""Diagnoses: what a wrong gradient has in common with the right one.

Each test below is a true statement about the compared entries (yours against the central
differences), tried in order; the first that holds is the diagnosis: wrong only at kinks, at
the level of the dtype's precision, transposed, a constant factor (named: a sign, 2, ½, a size
of an argument such as the batch size), reversed or shifted along an axis (a kernel not flipped,
an off-by-one slice), sums to zero along the wrong axis, an error constant along an axis (a
broadcast term missing), wrong only where an input is negative / zero / positive, an
element-wise factor that varies. Unchecked entries (NaN in ``expected``) are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.testing._report import Kink

F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]


def _close(a: F64, b: F64, mask: Mask, tol: float) -> bool:
    if not mask.any():
        return False
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(b[mask]), initial=0.0))
        return bool(np.all(np.abs(a[mask] - b[mask]) <= tol * max(scale, 1e-300)))


def _factor_name(r: float, dims: dict[str, int]) -> str | None:
    def near(x: float) -> bool:
        return abs(r - x) <= 1e-6 * abs(x)

    sign = "" if r > 0 else "−"
    mag = abs(r)
    what = None
    if abs(mag - 2) <= 2e-6:
        what = "2 (a missing ½, e.g. of ½‖·‖², or a doubled term)"
    elif abs(mag - 0.5) <= 5e-7:
        what = "½ (an extra ½ or a term counted once instead of twice)"
    else:
        for label, d in dims.items():
            if abs(mag - d) <= 1e-6 * d:
                what = (f"{d} = {label} (a missing 1/m with m = {label} — the batch size? — "
                        "or a sum where the loss takes a mean)")
                break
            if abs(mag - 1 / d) <= 1e-6 / d:
                what = (f"1/{d} = 1/{label} (an extra 1/m with m = {label}, or a mean where "
                        "the loss takes a sum)")
                break
    if near(-1.0):
        return "a sign: yours = −expected"
    if what is None and mag >= 2.5 and abs(mag - round(mag)) <= 1e-6 * mag:
        what = f"{round(mag)} (an integer: a missing 1/m with m = {round(mag)}?)"
    elif what is None and mag <= 0.4 and abs(1 / mag - round(1 / mag)) <= 1e-6 / mag:
        what = f"1/{round(1 / mag)} (an extra 1/m with m = {round(1 / mag)}?)"
    if what is None:
        return None
    return f"a constant factor {sign}{what}: yours = {sign}{mag:.6g} × expected"


def diagnose(*, name: str, yours: F64, expected: F64, bad: Mask, kinkwrong: Mask,
             kinks: Sequence[Kink], regions: dict[str, F64], dims: dict[str, int],
             rtol: float, eps_yours: float) -> list[str]:
    """The diagnoses that fit (at most one, the first in the module's order)."""
    Y = np.asarray(yours, dtype=np.float64)
    E = np.asarray(expected, dtype=np.float64)
    C = np.isfinite(E) & np.isfinite(Y)
    tol = max(1e-5, 10 * rtol)
    for test in (_kinks, _precision_dtype, _transposed, _factor, _precision, _reversed,
                 _shifted, _region, _broadcast, _wrong_axis, _varying):
        found = test(Y, E, C, bad, kinkwrong, kinks, regions, dims, tol, rtol, eps_yours, name)
        if found:
            return [found]
    n_bad, n = int(bad.sum()), int(C.sum())
    return [f"wrong at {n_bad} of {n} compared entries, with no single pattern (transpose, "
            "constant factor, sign, shift, kink, sign of an input): a missing or wrong term?"]


# Every test takes the same arguments and returns a sentence or None.

def _kinks(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: Sequence[Kink],
           *_: object) -> str | None:
    if not kinkwrong.any() or bad.any():
        return None
    wrong = [k for k in kinks if not k.ok]
    treat = wrong[0].treatment
    return (f"wrong only at kinks ({len(wrong)} of {len(kinks)} kinks met; every other compared "
            f"entry is right): {treat}")


def _precision(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
               regions: object, dims: object, tol: float, rtol: float, eps: float,
               *_: object) -> str | None:
    if not bad.any():
        return None
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(E[C]), initial=0.0)) or 1.0
        worst = float(np.max(np.abs(Y[C] - E[C]), initial=0.0)) / scale
    if eps <= np.finfo(np.float64).eps:  # float64 arrays with a float32-sized error
        eps = float(np.finfo(np.float32).eps)
        if not eps / 10 <= worst <= 1000 * eps:
            return None
    elif worst > 100 * eps:
        return None
    dtype = {float(np.finfo(np.float32).eps): "float32",
             float(np.finfo(np.float16).eps): "float16"}.get(eps, f"ε = {eps:.1e}")
    return (f"an error at the level of {dtype} precision (worst {worst:.1e} of the largest "
            f"entry; {dtype} ε = {eps:.1e}): code computing in {dtype} checked with rtol "
            f"{rtol:.0e}; use rtol ≳ {100 * eps:.0e} or compute the gradient in float64")


def _precision_dtype(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
                     regions: object, dims: object, tol: float, rtol: float, eps: float,
                     *rest: object) -> str | None:
    """The precision test for arrays of a lower precision (before the constant factor: their
    rounding can look like a factor near 1)."""
    if eps <= np.finfo(np.float64).eps:
        return None
    return _precision(Y, E, C, bad, kinkwrong, kinks, regions, dims, tol, rtol, eps, *rest)


def _transposed(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
                regions: object, dims: object, tol: float, *_: object) -> str | None:
    if Y.ndim != 2 or Y.shape[0] != Y.shape[1] or Y.shape[0] < 2:
        return None
    if _close(Y.T, E, C & C.T, tol):
        return ("transposed: yours is the transpose of the expected gradient (the other "
                "layout, or a product taken in the wrong order, e.g. x δᵀ for δ xᵀ)")
    return None


def _factor(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
            regions: object, dims: dict[str, int], tol: float, *_: object) -> str | None:
    with np.errstate(all="ignore"):
        big = C & (np.abs(E) > 0.1 * float(np.max(np.abs(E[C]), initial=0.0)))
        if not big.any():
            return None
        r = float(np.median(Y[big] / E[big]))
    if not np.isfinite(r) or r == 0 or abs(r - 1) < 1e-9:
        return None
    if not _close(Y, r * E, C, tol):
        return None
    named = _factor_name(r, dims)
    return named or f"a constant factor: yours = {r:.6g} × expected"


def _reversed(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
              regions: object, dims: object, tol: float, *_: object) -> str | None:
    for ax in range(Y.ndim):
        if Y.shape[ax] > 1 and _close(np.flip(Y, ax), E, C, tol):
            return (f"reversed along axis {ax}: yours[i] = expected[n − 1 − i] (a kernel not "
                    "flipped: correlation where the backward pass needs convolution, or the "
                    "reverse)")
    return None


def _shifted(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
             regions: object, dims: object, tol: float, *_: object) -> str | None:
    for ax in range(Y.ndim):
        n = Y.shape[ax]
        for k in (1, -1, 2, -2):
            if n <= abs(k) + 1:
                continue
            rolled = np.roll(Y, k, axis=ax)
            keep = np.ones(n, dtype=bool)
            if k > 0:
                keep[:k] = False
            else:
                keep[k:] = False
            shape = [1] * Y.ndim
            shape[ax] = n
            mask = C & keep.reshape(shape)
            if mask.any() and float(np.abs(E[mask]).max()) > 0 and _close(rolled, E, mask, tol):
                sign = "+" if k > 0 else "−"
                return (f"shifted by {k:+d} along axis {ax}: yours[i] = expected[i {sign} "
                        f"{abs(k)}] (an off-by-one in a slice or an index)")
    return None


def _wrong_axis(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
                regions: object, dims: object, tol: float, *_: object) -> str | None:
    if Y.ndim != 2 or not C.all():
        return None
    with np.errstate(all="ignore"):
        def zero_sum(A: F64, ax: int) -> bool:
            total = np.abs(A).sum(axis=ax)
            return bool(np.all(np.abs(A.sum(axis=ax)) <= 1e-6 * np.maximum(total, 1e-300)))

        for ax in (0, 1):
            if zero_sum(E, ax) and not zero_sum(Y, ax):
                other = (f"yours sums to zero along axis {1 - ax} instead" if zero_sum(Y, 1 - ax)
                         else "yours does not")
                return (f"reduced over the wrong axis? The expected gradient sums to zero along "
                        f"axis {ax} (as softmax − one-hot does), {other}: a softmax, mean or "
                        f"sum taken over the wrong axis")
    return None


def _region(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
            regions: dict[str, F64], *_: object) -> str | None:
    wrong = bad & C
    if not wrong.any():
        return None
    for label, A in regions.items():
        if A.shape != Y.shape:
            continue
        for word, where in (("negative", A < 0), ("zero", A == 0), ("positive", A > 0)):
            inside = where & C
            if inside.all() or not inside.any():
                continue
            n_in, n_wrong = int(inside.sum()), int(wrong.sum())
            if not (wrong & ~where).any() and n_wrong >= max(2, 0.75 * n_in):
                return (f"wrong only where {label} is {word} ({n_wrong} of the {n_in} "
                        f"compared entries there; right at all {int((C & ~where).sum())} "
                        f"others): a mask or a branch for {word} inputs")
    return None


def _broadcast(Y: F64, E: F64, C: Mask, bad: Mask, kinkwrong: Mask, kinks: object,
               regions: object, dims: object, tol: float, *_: object) -> str | None:
    if Y.ndim < 1 or not C.all():
        return None
    D = Y - E
    size = float(np.abs(D).max())
    if size == 0:
        return None
    for ax in range(Y.ndim):
        if Y.shape[ax] < 2:
            continue
        if float(np.abs(D - D.mean(axis=ax, keepdims=True)).max()) <= 1e-6 * size + tol * float(
                np.abs(E).max()) * 1e-2:
            if Y.ndim == 1:
                return ("off by a constant at every entry: a term added to every entry (a mean "
                        "or a sum broadcast over the vector) is missing or wrong")
            return (f"the error is the same along axis {ax} (yours − expected is constant "
                    f"along it): a term broadcast over axis {ax} — a mean or sum taken over "
                    "that axis — is missing or wrong")
    return None


def _varying(Y: F64, E: F64, C: Mask, bad: Mask, *_: object) -> str | None:
    with np.errstate(all="ignore"):
        nz = C & (E != 0) & (Y != 0)
        if int(bad.sum()) < 0.8 * int(C.sum()) or not nz.any():
            return None
        r = Y[nz] / E[nz]
    if np.any(r <= 0):
        return None
    lo, hi = float(r.min()), float(r.max())
    return (f"wrong at every entry by a factor that varies (yours/expected from {lo:.3g} to "
            f"{hi:.3g}, same sign): an element-wise factor of the derivative is missing or wrong "
            "(e.g. σ written where σ′ = σ(1 − σ))")
