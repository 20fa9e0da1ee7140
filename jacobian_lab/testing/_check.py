"""The comparison: the user's derivative against central differences, coordinate by coordinate
and along random directions, with kinks treated by the declared convention; builds the
:class:`~._report.Report` and the diagnosis.

The user's derivative is given as one array per checked argument of shape
``(k, *argument.shape)`` — ``k`` outputs (1 for a gradient). An entry passes when
``|yours − expected| ≤ rtol·max(|expected|, s) + e`` where ``e`` is the finite-difference error
bound at that entry and ``s`` the RMS of the expected entries (a derivative that happens to be
tiny does not turn rounding noise into a large ratio).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.testing import _diagnose
from jacobian_lab.testing._numeric import (
    F64,
    EvaluationError,
    Partial,
    choose_coordinates,
    partial,
    random_unit,
)
from jacobian_lab.testing._numeric import step_for as _step_for
from jacobian_lab.testing._report import ArgumentResult, Entry, Kink, Report

KINKS = ("zero", "one", "any-subgradient")
_CONVENTION = {"zero": "ReLU'(0) = 0: the flat side's value, where the kinked units are off",
               "one": "ReLU'(0) = 1: the other side's value, where the kinked units are on"}


@dataclass(frozen=True)
class Problem:
    """What to check. ``fun(args)`` is the raveled float64 output at the float64 ``args``."""

    kind: str
    fun: Callable[[list[F64]], F64]
    args: list[F64]  # every argument, float64
    names: list[str]  # every argument's name
    wrt: tuple[int, ...]
    yours: list[F64]  # per checked argument, shape (k, *argument.shape)
    eps: float  # the precision the function is evaluated in
    evaluated_in: str
    yours_eps: tuple[float, ...] = ()  # the precision of each of the user's arrays
    jacobian: bool = False  # entries labelled J[i, j] (numerator layout), diagnosed as a matrix


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(q) for q in np.unravel_index(flat, shape)) if shape else ()


def _label(name: str, idx: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, idx))}]" if idx else name


def _call(p: Problem, args: list[F64], where: str) -> F64:
    try:
        out = p.fun(args)
    except EvaluationError as exc:
        raise EvaluationError(f"{exc} (at {where})") from exc.__cause__
    except Exception as exc:
        raise EvaluationError(f"the function raised {type(exc).__name__}: {exc} "
                              f"(at {where})") from exc
    return out


def run(p: Problem, *, rtol: float, kink: str, rng: np.random.Generator, seed: int | None,
        max_coordinates: int, n_directions: int) -> Report:
    """Compare, build the report (the caller raises on a failed one)."""
    t0 = time.perf_counter()
    f0 = _call(p, p.args, "the given point")
    probed = [_probe(p, a, f0, rng, max_coordinates) for a in range(len(p.wrt))]
    with np.errstate(all="ignore"):
        found = np.concatenate([e[np.isfinite(e)].ravel() for _, e, _, _ in probed])
        s = float(np.sqrt(np.mean(found**2))) if found.size else 0.0
        s = s if math.isfinite(s) and s > 0 else float(np.finfo(np.float64).tiny)
        big = float(np.max(np.abs(found), initial=0.0))
    results, sensitivity, any_kink = [], 0.0, False
    for a, (res, expected, errors, partials) in enumerate(probed):
        sens, kinked = _judge(p, a, res, expected, errors, partials, rtol, s, kink)
        results.append(res)
        any_kink = any_kink or kinked
        sensitivity = max(sensitivity, sens / max(big, s))
    directions = _directions(p, f0, rtol, s, rng, n_directions, any_kink)
    report = Report(kind=p.kind, arguments=results, directions=directions, rtol=rtol,
                    sensitivity=sensitivity, evaluated_in=p.evaluated_in,
                    kink_convention=kink, seed=seed)
    if any(not d.ok for d in directions) and all(r.ok for r in results):
        report.notes.append("the random directions disagree although every compared coordinate "
                            "agrees: an entry that was not compared is wrong")
    report.seconds = time.perf_counter() - t0
    return report


def _probe(p: Problem, a: int, f0: F64, rng: np.random.Generator, max_coordinates: int
           ) -> tuple[ArgumentResult, F64, F64, dict[int, Partial]]:
    """Central differences on the chosen coordinates of checked argument ``a``: the result
    shell, the expected entries and their error bounds (NaN where not probed), the probes."""
    i, y, x = p.wrt[a], p.yours[a], p.args[p.wrt[a]]
    expected, errors = np.full(y.shape, np.nan), np.full(y.shape, np.nan)
    partials: dict[int, Partial] = {}
    not_finite: list[str] = []
    for flat in choose_coordinates(np.abs(y).max(axis=0).ravel(), max_coordinates, rng):
        idx = _index(flat, x.shape)

        def at(s: float, idx: tuple[int, ...] = idx) -> F64:
            moved = list(p.args)
            moved[i] = p.args[i].copy()
            moved[i][idx] += s
            return _call(p, moved, f"{_label(p.names[i], idx)} {s:+.3g}")

        pr = partial(at, f0, _step_for(float(x[idx] if x.shape else x), p.eps), p.eps)
        partials[flat] = pr
        sel: Any = (slice(None), *idx)
        expected[sel], errors[sel] = pr.central, pr.error
        if not np.isfinite(pr.central).all():
            not_finite.append(_label(p.names[i], idx))
    res = ArgumentResult(p.names[i], x.shape, checked=len(partials), size=x.size)
    if not_finite:  # never a silent pass: an entry that cannot be compared fails
        res.problem = (f"f is NaN or ±Inf within a step of {len(not_finite)} entries "
                       f"({', '.join(not_finite[:5])}): the point is at the edge of f's "
                       "domain, no central difference there")
    return res, expected, errors, partials


def _judge(p: Problem, a: int, res: ArgumentResult, expected: F64, errors: F64,
           partials: dict[int, Partial], rtol: float, s: float, kink: str
           ) -> tuple[float, bool]:
    """Fill ``res`` with the compared entries, the kinks and the diagnosis; return the
    largest detection threshold of a smooth entry and whether a kink was met."""
    i, y, x = p.wrt[a], p.yours[a], p.args[p.wrt[a]]
    thr = rtol * np.maximum(np.abs(expected), s) + errors
    with np.errstate(all="ignore"):
        bad = (np.abs(y - expected) > thr) | (np.isfinite(expected) & ~np.isfinite(y))
    kinkwrong = np.zeros(y.shape, dtype=bool)
    kinked = np.zeros(y.shape, dtype=bool)
    for flat, pr in partials.items():
        idx = _index(flat, x.shape)
        for out in map(int, np.flatnonzero(pr.kink)):
            sel = (out, *idx)
            yv = float(y[sel])
            treatment, ok = _kink(pr, out, yv, float(thr[sel]), kink)
            where = (f"J[{out}, {_flat_col(p, a, flat)}]" if p.jacobian
                     else _label(res.name, idx))
            res.kinks.append(Kink(where, float(pr.left[out]), float(pr.right[out]), yv,
                                  treatment, ok))
            kinked[sel], bad[sel], kinkwrong[sel] = True, False, not ok
    smooth = np.isfinite(expected) & ~kinked
    for pos in zip(*np.nonzero(smooth), strict=True):
        yv, ev = float(y[pos]), float(expected[pos])
        with np.errstate(all="ignore"):
            rel = abs(yv - ev) / max(abs(yv), abs(ev), s) if math.isfinite(yv) else math.inf
        res.entries.append(Entry(_entry_label(p, a, pos), yv, ev, rel, not bool(bad[pos])))
    if not res.ok:
        res.diagnosis = _diagnose.diagnose(
            name=res.name, yours=_shown(p, y), expected=_shown(p, expected),
            bad=_shown(p, bad), kinkwrong=_shown(p, kinkwrong), kinks=res.kinks,
            regions=_regions(p, i), dims=_dims(p), rtol=rtol, eps_yours=_eps_of(p, a))
    sens = float(np.max(thr[smooth])) if smooth.any() else 0.0
    return sens, bool(kinked.any())


def _kink(pr: Partial, out: int, yours: float, thr: float, kink: str) -> tuple[str, bool]:
    """The treatment of the user's value at a kink, and whether it passes.

    The convention is identifiable where exactly one one-sided derivative is 0: the coordinate
    then reaches ``f`` only through kinked units that are all off on that side (a ReLU's input
    or bias at exactly 0), so ReLU'(0) = 0 gives that side's 0 and ReLU'(0) = 1 the other
    side's value. Elsewhere (|x| at 0, units off on different sides) it is not decidable from
    ``f`` alone and any value in the subgradient passes, so reported.
    """
    left, right = float(pr.left[out]), float(pr.right[out])
    lo, hi = min(left, right), max(left, right)
    if not lo - thr <= yours <= hi + thr:
        return f"outside the subgradient [{lo:.6g}, {hi:.6g}]", False
    if kink == "any-subgradient":
        return "in the subgradient (kink='any-subgradient')", True
    left_flat, right_flat = abs(left) <= thr, abs(right) <= thr
    if left_flat == right_flat:
        return "in the subgradient; convention not checkable from f alone", True
    flat, other = (left, right) if left_flat else (right, left)
    asked, unasked = (flat, other) if kink == "zero" else (other, flat)
    if abs(yours - asked) <= thr:
        return f"follows kink={kink!r} ({_CONVENTION[kink]})", True
    if abs(yours - unasked) <= thr:
        follows = "one" if kink == "zero" else "zero"
        return f"follows {_CONVENTION[follows]}; asked kink={kink!r}", False
    return f"in the subgradient but neither one-sided derivative; asked kink={kink!r}", False


def _directions(p: Problem, f0: F64, rtol: float, s: float, rng: np.random.Generator,
                n: int, any_kink: bool) -> list[Entry]:
    out: list[Entry] = []
    shapes = [p.args[i].shape for i in p.wrt]
    hmax = max((float(np.max(np.abs(p.args[i]), initial=0.0)) for i in p.wrt), default=0.0)
    h = _step_for(hmax, p.eps)
    for d in range(n):
        v = random_unit(shapes, rng)

        def at(s_: float, v: list[F64] = v, d: int = d) -> F64:
            moved = list(p.args)
            for i, vi in zip(p.wrt, v, strict=True):
                moved[i] = p.args[i] + s_ * vi
            return _call(p, moved, f"direction {d + 1}")

        pr = partial(at, f0, h, p.eps)
        with np.errstate(all="ignore"):
            jv = sum(np.tensordot(y, vi, axes=vi.ndim).reshape(-1)
                     for y, vi in zip(p.yours, v, strict=True))
        jv = np.asarray(jv, dtype=np.float64).reshape(-1)
        for o in range(jv.size):
            yv, ev = float(jv[o]), float(pr.central[o])
            thr = rtol * max(abs(ev), s) + float(pr.error[o])
            with np.errstate(all="ignore"):
                rel = abs(yv - ev) / max(abs(yv), abs(ev), s) if math.isfinite(yv) else math.inf
            # on kinks a gradient that follows a convention need not give the directional
            # derivative: there the coordinates decide
            agrees = abs(yv - ev) <= thr
            decisive = not (bool(pr.kink[o]) or any_kink) or agrees
            label = f"direction {d + 1}" + (f", output {o}" if jv.size > 1 else "")
            out.append(Entry(label, yv, ev, rel, agrees or not decisive, decisive))
    return out


def _flat_col(p: Problem, a: int, flat: int) -> int:
    return sum(p.args[i].size for i in p.wrt[:a]) + flat


def _entry_label(p: Problem, a: int, pos: tuple[int, ...]) -> str:
    if p.jacobian:
        x = p.args[p.wrt[a]]
        flat = int(np.ravel_multi_index(pos[1:], x.shape)) if x.shape else 0
        return f"J[{pos[0]}, {_flat_col(p, a, flat)}]"
    return _label(p.names[p.wrt[a]], tuple(int(q) for q in pos[1:]))


def _shown(p: Problem, arr: NDArray[Any]) -> Any:
    """The array the diagnosis looks at: the argument's shape, or the Jacobian's matrix."""
    return arr.reshape(arr.shape[0], -1) if p.jacobian else arr.reshape(arr.shape[1:])


def _regions(p: Problem, i: int) -> dict[str, F64]:
    """Inputs whose signs may explain where the error is (same shape as the argument)."""
    if p.jacobian:
        return {}
    shape = p.args[i].shape
    named = {p.names[i]: p.args[i]}
    named.update({n: a for n, a in zip(p.names, p.args, strict=True) if a.shape == shape})
    return named


def _dims(p: Problem) -> dict[str, int]:
    dims: dict[str, int] = {}
    for n, a in zip(p.names, p.args, strict=True):
        for ax, size in enumerate(a.shape):
            if size > 1:
                dims.setdefault(f"{n}.shape[{ax}]", size)
    return dims


def _eps_of(p: Problem, a: int) -> float:
    return p.yours_eps[a] if p.yours_eps else float(np.finfo(np.float64).eps)
