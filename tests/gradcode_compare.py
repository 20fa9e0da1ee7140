"""The corpus through jacobian_lab.testing and through ``torch.autograd.gradcheck``, side by
side (the README's table). Each NumPy case becomes a ``torch.autograd.Function`` whose forward
is the case's loss and whose backward is the case's hand-written gradient.

    .venv/bin/python tests/gradcode_compare.py      # prints the Markdown table and timings
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import torch
from gradcode_corpus import CASES, Case

from jacobian_lab.testing import GradientMismatch, assert_gradient


def as_function(case: Case) -> type[torch.autograd.Function]:
    """The case as an autograd.Function: forward = its loss, backward = its gradient."""

    class Hand(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, *xs: torch.Tensor) -> torch.Tensor:
            arrays = [x.detach().numpy() for x in xs]
            ctx.arrays = arrays
            return torch.tensor(case.f(*arrays), dtype=xs[0].dtype)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, ...]:
            grads = case.grad(*ctx.arrays)
            grads = grads if isinstance(grads, tuple) else (grads,)
            return tuple(g * torch.as_tensor(np.ascontiguousarray(d)) for d in grads)

    return Hand


def torch_gradcheck(case: Case) -> tuple[bool, str]:
    """``torch.autograd.gradcheck`` on the case: (passed, the first line of its message)."""
    inputs = tuple(torch.tensor(a, requires_grad=True) for a in case.args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            torch.autograd.gradcheck(as_function(case).apply, inputs)
            passed, message = True, "True"
        except Exception as exc:  # GradcheckError (or a RuntimeError from its own checks)
            passed = False
            message = " ".join(str(exc).split())
            head, _, rest = message.partition(", numerical:")
            if rest:  # the two Jacobians it prints, abridged
                message = f"{head}, numerical: tensor([…]), analytical: tensor([…])"
    if caught:
        message += f" (+ warning: {str(caught[0].message).splitlines()[0]})"
    return passed, message


def jlab_check(case: Case, seed: int = 0) -> tuple[bool, str]:
    """jacobian_lab.testing on the case: (passed, its diagnosis or the kinks' treatment)."""
    try:
        report = assert_gradient(case.f, case.grad, *case.args, seed=seed, **case.kwargs)
    except GradientMismatch as exc:
        lines = [ln.strip().removeprefix("diagnosis: ") for ln in str(exc).splitlines()
                 if "diagnosis:" in ln]
        return False, lines[0] if lines else str(exc).splitlines()[0]
    kinks = report.kinks
    note = f"{len(kinks)} kinks: {kinks[0].treatment}" if kinks else ""
    return True, note


def main() -> None:
    rows = ["| case | jacobian_lab | diagnosis / kinks | torch gradcheck | gradcheck says |",
            "|---|---|---|---|---|"]
    t_jlab = t_torch = 0.0
    for case in CASES:
        t0 = time.perf_counter()
        ok, said = jlab_check(case)
        t1 = time.perf_counter()
        tok, tsaid = torch_gradcheck(case)
        t2 = time.perf_counter()
        t_jlab, t_torch = t_jlab + t1 - t0, t_torch + t2 - t1
        right = "right" if ok == case.correct else "WRONG"
        tright = "right" if tok == case.correct else "wrong"
        rows.append(f"| {case.name} | {'pass' if ok else 'fail'} ({right}) | {said} | "
                    f"{'pass' if tok else 'fail'} ({tright}) | {tsaid[:110]} |")
    print("\n".join(rows))
    print(f"\n{len(CASES)} cases: jacobian_lab {t_jlab:.2f} s, torch gradcheck {t_torch:.2f} s")


if __name__ == "__main__":
    main()
