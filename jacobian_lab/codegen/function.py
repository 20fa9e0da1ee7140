"""A proven result of ``jlab diff`` as a NumPy function (``--emit numpy``).

The result (its intermediates substituted) becomes a :class:`KernelSpec` and is printed by
the same printer as the shipped kernels — dtype-preserving, sizes read off the arguments.
Before it is shown, the printed function is run at a size assignment in which no two
dimensions are equal, on random float64 arguments, and compared with the result
instantiated entry by entry (itself proven against component differentiation): a printer
mistake cannot reach the user. The source is ours — printed from SymPy objects whose names
the matrix language restricts to identifiers — and it is executed only here, in a namespace
holding NumPy alone.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from jacobian_lab.codegen.emit import kernel_source
from jacobian_lab.codegen.kernel_spec import KernelSpec
from jacobian_lab.errors import RuleError, UsageError, VerificationError
from jacobian_lab.matrix.explicit import Instantiator, components

RTOL = 1e-10
_RESERVED = {"np", "out", *keyword.kwlist, *dir(__builtins__)}


def result_spec(name: str, expr: MatrixExpr, doc: str) -> KernelSpec:
    """The kernel spec of one result; its parameters are the names it uses, in name order."""
    params = sorted(expr.atoms(sp.MatrixSymbol), key=lambda s: s.name)
    clash = [p.name for p in params if p.name in _RESERVED]
    if clash:
        raise UsageError(f"the NumPy function cannot take an argument named {clash[0]}; rename it")
    described = tuple((p.name, "scalar" if p.shape == (1, 1) else
                       " × ".join(str(d) for d in p.shape)) for p in params)
    return KernelSpec(name, "diff", described, ((name, expr),), doc)


def load(source: str, name: str) -> Callable[..., Any]:
    """The function ``name`` defined by a printed ``source``, in a namespace holding NumPy
    alone (the source is ours, printed from SymPy objects, never a user's string)."""
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    fn: Callable[..., Any] = namespace[name]
    return fn


def check_function(spec: KernelSpec, source: str, sizes: Mapping[sp.Symbol, int],
                   seed: int = 0) -> float:
    """The largest relative difference between the printed function and the instantiated
    result at ``sizes``; a :class:`VerificationError` above :data:`RTOL`."""
    fn = load(source, spec.name)
    rng = np.random.default_rng(seed)
    inst = Instantiator(sizes)
    values: dict[sp.Symbol, float] = {}
    args = []
    for pname, _ in spec.params:
        symbol = spec.symbols[pname]
        comps = components(symbol, sizes)
        array = rng.standard_normal(comps.shape)
        for sym, v in zip(comps, array.ravel(), strict=True):
            values[sym] = float(v)
        args.append(array)
    (_, expr), = spec.outputs
    explicit = inst(expr)
    explicit = explicit if isinstance(explicit, sp.MatrixBase) else sp.Matrix([[explicit]])
    expected = np.array(explicit.xreplace(values).evalf(30).tolist(), dtype=np.float64)
    got = np.asarray(fn(*args), dtype=np.float64).reshape(expected.shape)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    error = float(np.abs(got - expected).max(initial=0.0)) / scale
    if not error <= RTOL:
        raise VerificationError(f"the printed {spec.name} differs from the proven result by "
                                f"{error:.1e} (relative) at {dict(sizes)}; not shown")
    return error


def numpy_function(name: str, expr: MatrixExpr, doc: str,
                   sizes: Mapping[sp.Symbol, int]) -> tuple[str, float]:
    """The source of the checked NumPy function and its measured relative error."""
    spec = result_spec(name, expr, doc)
    try:
        source = kernel_source(spec)
    except (NotImplementedError, PrintMethodNotImplementedError) as e:
        raise RuleError(f"{name} has no NumPy form yet ({' '.join(str(e).split())[:120]})"
                        ) from None
    try:
        return source, check_function(spec, source, sizes)
    except VerificationError:
        raise
    except Exception as e:  # the printed code itself fails: never shown
        raise VerificationError(f"the printed {name} fails when run ({type(e).__name__}: "
                                f"{e}); not shown") from None
