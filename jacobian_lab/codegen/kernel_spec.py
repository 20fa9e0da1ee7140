"""The description of one generated kernel (:class:`KernelSpec`) and of its component-layer
truth (:data:`Truth`): plain data that the kernel catalog (:mod:`jacobian_lab.codegen.specs`)
fills in and the printer (:mod:`jacobian_lab.codegen.emit`) reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.codegen.formula import latex
from jacobian_lab.errors import VerificationError

Truth = Callable[[Mapping[str, sp.Matrix]], tuple[list[sp.Matrix], dict]]
"""Component-layer truth: (expected outputs, substitutions applied to both sides)."""


@dataclass(frozen=True)
class KernelSpec:
    """One generated kernel: where it comes from, its parameters, its outputs, its doc.

    ``params`` are ``(name, shape description)`` in call order; ``outputs`` are
    ``(name, matrix-layer expression)``. Hint: ``out=True`` adds an ``out=`` parameter that
    the (single) output is written into. ``truth`` is the component-layer definition
    :func:`jacobian_lab.codegen.specs.verify` compares the expressions with.
    """

    name: str
    derivation: str
    params: tuple[tuple[str, str], ...]
    outputs: tuple[tuple[str, MatrixExpr], ...]
    doc: str
    out: bool = False
    truth: Truth | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        names = [p for p, _ in self.params]
        used = {s.name for _, e in self.outputs for s in e.atoms(sp.MatrixSymbol)}
        if used != set(names):
            raise VerificationError(
                f"kernel {self.name}: {sorted(used - set(names))} are not parameters "
                f"and {sorted(set(names) - used)} are unused ({', '.join(names)})")
        if self.out and len(self.outputs) != 1:
            raise VerificationError(f"kernel {self.name}: out= needs exactly one output")

    @property
    def symbols(self) -> dict[str, sp.MatrixSymbol]:
        syms = {s.name: s for _, e in self.outputs for s in e.atoms(sp.MatrixSymbol)}
        return {p: syms[p] for p, _ in self.params if p in syms}

    @property
    def formulas(self) -> list[str]:
        """``name = LaTeX`` for each output, in the notes' notation."""
        return [f"{latex(sp.Symbol(n))} = {latex(e)}" for n, e in self.outputs]

    @property
    def formula(self) -> str:
        return r",\quad ".join(self.formulas)


__all__ = ["KernelSpec", "Truth"]
