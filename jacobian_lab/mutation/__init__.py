"""Mutation testing of the checks: does every verification fail when a formula is wrong?

Each formula the project trusts — every result of the catalog, every kernel's expression —
is mutated the ways hand derivations go wrong, and the check that guards it must fail:

========================  ==============================================================
operator                  the mutant
========================  ==============================================================
``scale``                 the formula times 1001/1000 (a slightly wrong constant)
``sign``                  the formula negated
``transpose``             the formula transposed (denominator layout)
``drop-term``             one term removed from one sum (every term of every sum)
``relu'(0)``              ReLU'(0) = 1 instead of 0 (``Heaviside(z, 1)`` for the step)
``drop-1/m``              the batch mean's 1/m removed
``shift``                 a constant of the formula moved by a relative 1e-6 (judge level)
``nonlinear-kink``        ReLU'(0) = 1 on a kink whose argument is not linear (judge level)
========================  ==============================================================

Six levels are tested (:func:`run`):

* **catalog** — the mutated result goes through the proof (``derivation.judge`` against the
  component-layer truth) at each of the result's sizes;
* **kernel** — the mutated kernel expression goes through the kernel verification
  (:func:`jacobian_lab.codegen.specs.verify`, against the kernel's component truth);
* **training** — the mutated kernel is generated as NumPy (``codegen.kernel_source``),
  swapped into :mod:`jacobian_lab.kernels`, and the trainer's gradient check
  (:func:`jacobian_lab.training.checks.check_gradients`) runs on a batch that includes an
  all-zero input, so ReLU pre-activations sit exactly on the kink;
* **fused** — the mutated kernel expression is printed into the fused training step
  (:mod:`jacobian_lab.codegen.fused`), which must change, and the printed step must fail its
  verification against the NumPy kernels (:func:`jacobian_lab.training.fused.verify`);
* **assertions** — mutants of correct hand-written backward passes must be rejected by
  :func:`jacobian_lab.testing.assert_gradient` (:mod:`jacobian_lab.testing._mutants`);
* **judge** — mutants of the true derivatives of generated hard cases (scales 1e-30 … 1e30,
  shifts up to 1e4, kinks that are not linear; :mod:`jacobian_lab.judge.edge_cases`) must not be
  called correct by :func:`jacobian_lab.judge.checker.compare`.

A mutant the check does not catch is either **equivalent** — it has the same value as the
original (transposing a symmetric matrix or a 1 × 1 one; decided by comparing the mutant with
the original formula, exactly, at the same sizes, or on the same batch for training) — or
**missed**. The score is caught / (caught + missed); the goal is 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence

import derivations
from jacobian_lab.codegen.specs import kernel_specs
from jacobian_lab.errors import (
    UnknownNameError,
    did_you_mean,
)
from jacobian_lab.judge.edge_cases import judge_outcomes
from jacobian_lab.mutation.catalog import catalog_outcomes
from jacobian_lab.mutation.fused import fused_outcomes
from jacobian_lab.mutation.kernels import kernel_outcomes
from jacobian_lab.mutation.operators import LEVELS, OPERATORS, Mutant, mutants, swap_relu_at_zero
from jacobian_lab.mutation.score import Outcome, Progress, Score, item_budget
from jacobian_lab.mutation.training import training_outcomes
from jacobian_lab.testing._mutants import assertion_outcomes

# --------------------------------------------------------------------------- run


def run(levels: Iterable[str] = LEVELS, names: Sequence[str] = (),
        progress: Progress | None = None, budget: float = math.inf) -> Score:
    """Run the mutation test at the given levels. ``names`` (catalog entries or kernels)
    restricts it: catalog names to the catalog level, kernel names to the other two. Each
    judgement may take ``budget`` seconds; past it, :class:`~.errors.BudgetExceeded`."""
    token = item_budget.set(budget)
    try:
        return _run(levels, names, progress)
    finally:
        item_budget.reset(token)


def _run(levels: Iterable[str], names: Sequence[str], progress: Progress | None) -> Score:

    chosen = list(levels)
    for level in chosen:
        if level not in LEVELS:
            raise UnknownNameError(f"Unknown level `{level}`{did_you_mean(level, LEVELS)}; "
                                   f"known: {', '.join(LEVELS)}")
    entries, kernel_names = derivations.names(), [s.name for s in kernel_specs()]
    for name in names:
        if name not in entries and name not in kernel_names:
            hint = did_you_mean(name, [*entries, *kernel_names])
            raise UnknownNameError(f"`{name}` is neither a catalog entry nor a kernel{hint}")
    on_catalog = [n for n in names if n in entries]
    on_kernels = [n for n in names if n in kernel_names]
    t0 = time.perf_counter()
    score = Score()
    if "catalog" in chosen and (on_catalog or not names):
        score.outcomes += catalog_outcomes(on_catalog or None, progress)
    if "kernel" in chosen and (on_kernels or not names):
        score.outcomes += kernel_outcomes(on_kernels or None, progress)
    if "training" in chosen and (on_kernels or not names):
        score.outcomes += training_outcomes(on_kernels or None, progress)
    if "fused" in chosen and (on_kernels or not names):
        score.outcomes += fused_outcomes(on_kernels or None, progress)
    if "assertions" in chosen and not names:

        for o in assertion_outcomes():
            score.outcomes.append(Outcome("assertions", *o))
            if progress:
                progress(score.outcomes[-1])
    if "judge" in chosen and not names:

        for j in judge_outcomes():
            score.outcomes.append(Outcome("judge", *j))  # type: ignore[arg-type]
            if progress:
                progress(score.outcomes[-1])
    score.seconds = time.perf_counter() - t0
    return score


__all__ = ["LEVELS", "OPERATORS", "Mutant", "Outcome", "Score", "catalog_outcomes",
           "fused_outcomes", "kernel_outcomes", "mutants", "run", "swap_relu_at_zero",
           "training_outcomes"]
