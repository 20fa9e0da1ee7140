"""Fused level: every mutant of a kernel-spec output the fused training step is printed from
must change the printed step and fail its verification against the NumPy kernels.

The mutated spec goes through :func:`jacobian_lab.codegen.fused.fused_source` (the ReLU'(0)
mutant through the printer's ``relu_at_zero=1``, as at the training level); the printed step
runs as plain Python (:func:`jacobian_lab.kernels.fused.load` with ``jit=False``: no compile
per mutant) in :func:`jacobian_lab.training.fused.verify`, in float64, against the shipped
NumPy kernels on a batch with ReLU pre-activations on the kink.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from jacobian_lab.codegen.fused import USES, fused_source, used_specs
from jacobian_lab.errors import JlabError
from jacobian_lab.kernels import fused as compiled
from jacobian_lab.mutation.operators import SHAPE_ERRORS, Mutant, Status, mutants
from jacobian_lab.mutation.score import Outcome, Progress, timed
from jacobian_lab.training.fused import FusedStepError, verify

__all__ = ["fused_outcomes"]


def fused_outcomes(names: Sequence[str] | None = None,
                   progress: Progress | None = None) -> Iterator[Outcome]:
    """Mutate every spec output the fused step uses; the printed step must change and its
    verification must fail."""
    specs = used_specs()
    original = fused_source(specs)
    verify(compiled.load(original, jit=False), np.float64)  # the control: the real one passes
    by_name = {s.name: dict(s.outputs) for s in specs}
    for kernel, output in dict.fromkeys(USES.values()):
        if names and kernel not in names:
            continue
        for mu in mutants(by_name[kernel][output]):
            yield timed("fused", f"{kernel}: {output}", mu, progress, _judge, specs,
                        (kernel, output), mu, original)


def _judge(specs: Sequence[Any], where: tuple[str, str], mu: Mutant,
           original: str) -> tuple[Status, str]:
    try:  # the mutant goes to the printer as it is (past the spec's own validation)
        source = fused_source(specs, relu_at_zero=1 if mu.operator == "relu'(0)" else 0,
                              overrides={where: mu.expr})
    except (NotImplementedError, PrintMethodNotImplementedError, JlabError,
            *SHAPE_ERRORS) as e:
        return "caught", f"the step cannot be printed ({type(e).__name__}: {e})"
    if source == original:
        return "equivalent", "the printed step is unchanged"
    try:
        verify(compiled.load(source, jit=False), np.float64)
    except FusedStepError as e:
        return "caught", f"fused verification: {e}"
    return "missed", "the printed step changed but its verification passed"
