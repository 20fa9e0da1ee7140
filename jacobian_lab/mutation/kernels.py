"""Kernel level: every mutated kernel expression goes through the kernel verification."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import sympy as sp

from jacobian_lab.codegen.specs import VERIFY_SIZES, kernel_specs, verify
from jacobian_lab.errors import (
    JlabError,
)
from jacobian_lab.matrix.explicit import Instantiator
from jacobian_lab.mutation.catalog import same_value
from jacobian_lab.mutation.operators import SHAPE_ERRORS, Mutant, Status, mutants
from jacobian_lab.mutation.score import Outcome, Progress, timed

# --------------------------------------------------------------------------- kernels


def kernel_mutants(spec: Any) -> Iterator[tuple[Any, str | None, Mutant, str]]:
    """(mutated spec, or None with the reason the spec refuses it; mutant; output name)."""
    for oi, (oname, e) in enumerate(spec.outputs):
        for mu in mutants(e):
            outputs = tuple((n, mu.expr if k == oi else x)
                            for k, (n, x) in enumerate(spec.outputs))
            try:
                yield replace(spec, outputs=outputs), None, mu, oname
            except JlabError as err:  # a spec whose parameter is no longer used
                yield None, f"spec validation: {err}", mu, oname


def kernel_outcomes(names: Sequence[str] | None = None,
                    progress: Progress | None = None) -> Iterator[Outcome]:
    """Mutate every output of every kernel spec; the kernel verification must fail."""

    for spec in kernel_specs():
        if names and spec.name not in names:
            continue
        for mspec, refused, mu, oname in kernel_mutants(spec):
            yield timed("kernel", f"{spec.name}: {oname}", mu, progress, _judge_kernel,
                         spec, mspec, refused, mu, oname, verify)


def _judge_kernel(spec: Any, mspec: Any, refused: str | None, mu: Mutant, oname: str,
                  verify: Callable[..., Any]) -> tuple[Status, str]:
    if refused is not None:
        return "caught", refused

    try:
        checks = verify(mspec, transform=mu.post, fast=True)
    except SHAPE_ERRORS as e:
        return "caught", f"shape: {e}"
    bad = [c for c in checks if not c.ok]
    if bad:
        return "caught", f"kernel verification ({bad[0].output} at {bad[0].sizes}): " \
                         f"{bad[0].check.summary()}"
    oi = [n for n, _ in spec.outputs].index(oname)
    for s in VERIFY_SIZES:
        inst = Instantiator(s)
        a, b = inst(spec.outputs[oi][1]), inst(mspec.outputs[oi][1])
        a = a if isinstance(a, sp.MatrixBase) else sp.Matrix([[a]])
        b = b if isinstance(b, sp.MatrixBase) else sp.Matrix([[b]])
        if mu.post:
            b = mu.post(b)
        if not same_value(a, b):
            return "missed", "the value changed but the kernel verification passed"
    return "equivalent", "equal to the original expression"
