"""Catalog level: every mutated result of the catalog goes through its proof."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import sympy as sp

import derivations
from jacobian_lab.core import proof  # proof.judge: looked up at call time
from jacobian_lab.core.proof import component_truth, explicit_truth, instantiate_claim
from jacobian_lab.errors import (
    ShapeError,
)
from jacobian_lab.judge.checker import compare
from jacobian_lab.matrix.fastcheck import identical
from jacobian_lab.mutation.operators import SHAPE_ERRORS, Mutant, Status, mutants, text_of
from jacobian_lab.mutation.score import Outcome, Progress, timed

# --------------------------------------------------------------------------- catalog


def same_value(a: sp.Matrix, b: sp.Matrix) -> bool:
    """Exactly the same value (the test for an equivalent mutant)."""

    if a.shape != b.shape:
        return False
    if identical(a, b) is not None:
        return True
    try:
        return compare(a, b, samples=6, diagnose=False, kink_points=4).ok
    except ShapeError:
        return False


def catalog_outcomes(names: Sequence[str] | None = None,
                     progress: Progress | None = None) -> Iterator[Outcome]:
    """Mutate every result of the named catalog entries (default: all) and prove each."""

    for name in names or derivations.names():
        d = derivations.get(name)
        for idx, r in enumerate(d.results):
            target = f"{name}: {text_of(r.lhs)}"
            judge = _CatalogJudge(d, idx)
            for mu in mutants(r.expr, r.defs):
                yield timed("catalog", target, mu, progress, judge, mu)


class _CatalogJudge:
    """Proves mutants of one result, reusing the truth built once per size."""

    def __init__(self, d: Any, idx: int) -> None:

        self.result = r = d.results[idx]
        self.explicit = isinstance(r.of, sp.MatrixBase)
        sizes = list(r.sizes) or list(d.sizes) or [{}]
        self.sizes = [] if self.explicit else sizes
        self._truth = component_truth
        if self.explicit:

            self.explicit_truth = explicit_truth(r)
        self._cache: dict[int, tuple[sp.Matrix, Any]] = {}

    def truth(self, i: int) -> tuple[sp.Matrix, Any]:
        if i not in self._cache:
            self._cache[i] = self._truth(self.result, self.sizes[i])
        return self._cache[i]

    def __call__(self, mu: Mutant) -> tuple[Status, str]:

        r = self.result
        mutated = replace(r, expr=mu.expr, defs=mu.defs if mu.defs is not None else r.defs)
        if self.explicit:
            try:
                check = compare(self.explicit_truth, mu.expr, fast=True,
                                extra_exprs=[] if r.kind == "value" else list(r.of))
            except SHAPE_ERRORS as e:
                return "caught", f"shape: {e}"
            if not check.ok:
                return "caught", f"proof: {check.summary()}"
            if same_value(sp.Matrix(r.expr), sp.Matrix(mu.expr)):
                return "equivalent", "equal to the original result"
            return "missed", "the value changed but the proof passed"
        for i in range(len(self.sizes)):
            truth, inst = self.truth(i)
            label = _label(self.sizes[i])
            try:
                claimed = instantiate_claim(mutated, inst)
                if mu.post:
                    claimed = mu.post(claimed)
                check = proof.judge(r, truth, claimed, inst, fast=True)
            except SHAPE_ERRORS as e:
                return "caught", f"shape at {label}: {e}"
            if not check.ok:
                return "caught", f"proof at {label}: {check.summary()}"
        for i in range(len(self.sizes)):
            _, inst = self.truth(i)
            original = instantiate_claim(r, inst)
            claimed = instantiate_claim(mutated, inst)
            if mu.post:
                claimed = mu.post(claimed)
            if not same_value(_assume(r, original, inst), _assume(r, claimed, inst)):
                return "missed", f"the value changed at {_label(self.sizes[i])} but every " \
                                 "proof passed"
        return "equivalent", "equal to the original at every size " + \
            ", ".join(_label(s) for s in self.sizes)


def _assume(r: Any, m: sp.Matrix, inst: Any) -> sp.Matrix:
    return m.xreplace(r.assume(inst.env)) if r.assume is not None else m


def _label(sizes: Any) -> str:
    if not sizes:
        return "scalars"
    return ",".join(f"{k}={v}" for k, v in sorted(sizes.items(), key=lambda kv: str(kv[0])))
