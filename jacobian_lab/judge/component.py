"""The component layer: explicit scalar symbols and exact Jacobians — the ground truth.

Everything else in jacobian_lab is checked against what this module computes with
``sympy.Matrix.jacobian`` on explicit scalar variables.

Layout: **numerator layout** by default — row *i* holds the derivatives of output *i*, so an
m-output function of n variables has an m × n Jacobian and a gradient is a 1 × n row.
``layout="denominator"`` returns the transpose (rows = inputs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import sympy as sp

from jacobian_lab.errors import DomainError, UnknownNameError, UsageError

Layout = Literal["numerator", "denominator"]
LAYOUTS: tuple[str, ...] = ("numerator", "denominator")

# Above this many operations SymPy's simplify() can take minutes; such entries are tidied
# with cheaper rewrites only.
_SIMPLIFY_MAX_OPS = 400


def tidy(expr: sp.Expr) -> sp.Expr:
    """Simplify one entry to a readable canonical form (cheaply for very large entries)."""
    expr = sp.sympify(expr)
    if expr.is_number and not expr.has(sp.Heaviside):
        return sp.nsimplify(expr) if expr.is_Float else sp.simplify(expr)
    if sp.count_ops(expr) > _SIMPLIFY_MAX_OPS:
        return sp.cancel(sp.expand(expr))
    return sp.simplify(expr)


def with_convention(m: sp.Matrix) -> sp.Matrix:
    """SymPy differentiates ``Max(0, z)`` to ``Heaviside(z)``, which is 1/2 at 0; ``relu(z)``
    has ``Heaviside(z, 0)``. They are the same function, so they get the same derivative: every
    step from differentiation takes the value 0 at its switch (ReLU'(0) = 0). The value at a
    switch is a convention only where the function is not differentiable; where it is, the
    judge takes the one-sided limits (see :mod:`jacobian_lab.judge.checker`).

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> with_convention(sp.Matrix([[sp.Max(0, x).diff(x)]]))
    Matrix([[Heaviside(x, 0)]])
    """
    return m.replace(
        lambda n: isinstance(n, sp.Heaviside) and n.args[1:] == (sp.S.Half,),
        lambda n: sp.Heaviside(n.args[0], 0),
    )


def check_layout(layout: str) -> Layout:
    """Validate a layout name, naming the allowed ones."""
    if layout not in LAYOUTS:
        raise UnknownNameError(f"Unknown layout `{layout}`; choose one of: {', '.join(LAYOUTS)}")
    return layout  # type: ignore[return-value]


def _check_wrt(wrt: Sequence[sp.Symbol]) -> None:
    if not wrt:
        raise UnknownNameError("No variables given to differentiate with respect to (--wrt)")
    for v in wrt:
        if not isinstance(v, sp.Symbol):
            raise UnknownNameError(f"Can only differentiate with respect to a variable, not `{v}`")
    names = [str(v) for v in wrt]
    if len(set(names)) != len(names):
        raise UnknownNameError(f"Variables repeated in wrt: {', '.join(names)}")


def jacobian(
    exprs: Sequence[sp.Expr] | sp.Matrix,
    wrt: Sequence[sp.Symbol],
    layout: str = "numerator",
    simplify: bool = True,
) -> sp.Matrix:
    """The Jacobian of ``exprs`` with respect to ``wrt``.

    Numerator layout (default): ``len(exprs) × len(wrt)``, row i = gradient of output i.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> jacobian([2*x + y**3, sp.exp(y) - 13*x], [x, y])
    Matrix([
    [  2, 3*y**2],
    [-13, exp(y)]])
    """
    layout = check_layout(layout)
    outputs = list(exprs)
    if not outputs:
        raise UsageError("No expressions to differentiate")
    _check_wrt(wrt)
    jac = with_convention(sp.Matrix(outputs).jacobian(sp.Matrix(list(wrt))))
    if simplify:
        jac = jac.applyfunc(tidy)
    return jac.T if layout == "denominator" else jac


def gradient(
    expr: sp.Expr, wrt: Sequence[sp.Symbol], layout: str = "numerator", simplify: bool = True
) -> sp.Matrix:
    """The gradient of a scalar: a 1 × n row in numerator layout, an n × 1 column otherwise.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> gradient(x**2 + sp.cos(y), [x, y])
    Matrix([[2*x, -sin(y)]])
    """
    return jacobian([expr], wrt, layout=layout, simplify=simplify)


def evaluate(matrix: sp.Matrix, point: Mapping[sp.Symbol, sp.Expr]) -> sp.Matrix:
    """Evaluate exactly at ``point``; raise :class:`DomainError` outside the domain.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y", real=True)
    >>> evaluate(sp.Matrix([[2*x, -sp.sin(y)]]), {x: 2, y: 0})
    Matrix([[4, 0]])
    """
    names = {str(s) for s in matrix.free_symbols}
    extra = [str(s) for s in point if str(s) not in names]
    by_name = {str(s): s for s in matrix.free_symbols}
    sub = {by_name[str(s)]: sp.sympify(v) for s, v in point.items() if str(s) in by_name}
    missing = sorted(names - {str(s) for s in point})
    if missing:
        raise DomainError(f"No value given for {', '.join(missing)} (use --at {missing[0]}=...)")
    del extra  # values for variables the result does not depend on are harmless
    out = matrix.xreplace(sub)
    out = out.applyfunc(lambda e: sp.simplify(e) if not e.is_number else e)
    for idx, val in enumerate(out):
        if _undefined(val):
            i, j = divmod(idx, out.cols)
            at = ", ".join(f"{k}={v}" for k, v in sub.items())
            why = ("the derivative of a jump, DiracDelta(0), is not a number"
                   if val.has(sp.DiracDelta) else f"outside the domain: gives {val}")
            raise DomainError(
                f"Entry ({i + 1},{j + 1}) = {matrix[i, j]} is undefined at {at} ({why})"
            )
    return out


def _undefined(val: sp.Expr) -> bool:
    """NaN, ±∞, complex, or an impulse (a DiracDelta left after substitution: δ(0))."""
    return bool(
        val.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.DiracDelta)
        or val.is_real is False
        or (val.is_number and not val.is_extended_real)
    )


def check_defined(exprs: Sequence[sp.Expr], point: Mapping[sp.Symbol, sp.Expr]) -> None:
    """Raise :class:`DomainError` when a function is undefined at ``point``.

    A derivative that exists as a formula says nothing where the function itself does not:
    (log x)' = 1/x is −1 at x = −1, yet log is not defined there. Entries that still depend
    on a variable without a value are skipped.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> try:
    ...     check_defined([sp.log(x)], {x: -1})
    ... except DomainError as e:
    ...     print(e)
    f = log(x) is undefined at x=-1 (gives I*pi), so is its derivative
    """
    by_name = {str(s): s for e in exprs for s in e.free_symbols}
    sub = {by_name[str(s)]: sp.sympify(v) for s, v in point.items() if str(s) in by_name}
    at = ", ".join(f"{k}={v}" for k, v in point.items())
    for i, e in enumerate(exprs, 1):
        raw = e.xreplace(sub)
        if raw.free_symbols:
            continue
        val = raw if raw.has(sp.zoo, sp.nan) else sp.simplify(raw)
        if _undefined(val):
            name = "f" if len(exprs) == 1 else f"f{i}"
            shown = f"{raw} = {val}" if raw != val else f"{val}"
            raise DomainError(f"{name} = {e} is undefined at {at} (gives {shown}), so is its "
                              "derivative")


_SLOPE_STEPS = (10, 20, 30)  # h = ±10^-k · max(1, |x|)
_SLOPE_DIGITS = 60


def _slope_bases(e: sp.Expr) -> list[sp.Expr]:
    """Where a cusp can be: the bases of fractional powers (sqrt(|x|), |x|^(1/3), …)."""
    return [p.base for p in e.atoms(sp.Pow) if p.exp.is_Rational and not p.exp.is_integer]


def _quotients(e: sp.Expr, sub: dict[sp.Symbol, sp.Expr], v: sp.Symbol,
               f0: sp.Expr, side: int, digits: int) -> list[sp.Float] | None:
    """(f(x + h) − f(x)) / h on one side for the steps of :data:`_SLOPE_STEPS`; None where f
    is undefined on that side."""
    scale = max(sp.Integer(1), abs(sp.sympify(sub[v])))
    out = []
    for k in _SLOPE_STEPS:
        h = side * scale / sp.Integer(10) ** k
        fh = e.xreplace({**sub, v: sub[v] + h}).evalf(digits)
        if not (fh.is_number and fh.is_extended_real and fh.is_finite):
            return None
        out.append((fh - f0) / h)
    return out


def check_slopes(exprs: Sequence[sp.Expr], wrt: Sequence[sp.Symbol],
                 point: Mapping[sp.Symbol, sp.Expr]) -> None:
    """Raise :class:`DomainError` where f has an infinite slope at ``point`` (a cusp).

    A derivative formula can hide a cusp: SymPy writes sqrt(|x|)' as a Piecewise worth 0 at
    x = 0, yet (f(h) − f(0))/h = 1/sqrt(|h|) grows without bound. So this decides from f
    itself: at a point where the base of a fractional power vanishes, the one-sided difference
    quotients along each variable are evaluated (60 digits) for h = ±1e-10, ±1e-20, ±1e-30;
    when they grow by more than a factor 100 beyond their size at 1e-10, the slope is infinite.

    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> try:
    ...     check_slopes([sp.sqrt(abs(x))], [x], {x: 0})
    ... except DomainError as e:
    ...     print(e)  # doctest: +ELLIPSIS
    ∂f/∂x is undefined at x=0: f = sqrt(Abs(x)) has an infinite slope there ...
    >>> check_slopes([x * sp.sqrt(abs(x))], [x], {x: 0})  # slope 0: differentiable
    """
    by_name = {str(s): s for e in exprs for s in e.free_symbols}
    sub = {by_name[str(s)]: sp.sympify(v) for s, v in point.items() if str(s) in by_name}
    at = ", ".join(f"{k}={v}" for k, v in point.items())
    for i, e in enumerate(exprs, 1):
        bases = _slope_bases(e)
        if not bases or any(b.xreplace(sub).free_symbols for b in bases):
            continue
        if all(sp.simplify(b.xreplace(sub)) != 0 for b in bases):
            continue
        f0 = e.xreplace(sub).evalf(_SLOPE_DIGITS)
        if not (f0.is_number and f0.is_extended_real and f0.is_finite):
            continue
        # f(x + h) − f(x) cancels about log10|f| digits: keep 60 beyond them
        digits = _SLOPE_DIGITS + max(0, int(sp.log(abs(f0) + 1, 10).evalf(5)))
        f0 = e.xreplace(sub).evalf(digits)
        for v in wrt:
            if v not in e.free_symbols or v not in sub:
                continue
            sides = {}
            for side, name in ((1, "h → 0+"), (-1, "h → 0−")):
                q = _quotients(e, sub, v, f0, side, digits)
                if q is not None and abs(q[-1]) > 100 * (1 + abs(q[0])):
                    sides[name] = "+∞" if q[-1] > 0 else "−∞"
            if sides:
                name = "f" if len(exprs) == 1 else f"f{i}"
                limits = ", ".join(f"{lim} as {side}" for side, lim in sides.items())
                raise DomainError(
                    f"∂{name}/∂{v} is undefined at {at}: {name} = {e} has an infinite slope "
                    f"there (the one-sided limits of (f({v}+h) − f({v}))/h are {limits})")


def kink_notes(jac: sp.Matrix, point: Mapping[sp.Symbol, sp.Expr]) -> list[str]:
    """The conventions used where ``point`` lies on a kink of the derivative.

    A step (Heaviside) or sign whose argument is 0 at ``point`` marks a point where the
    function is not differentiable: the value shown there is a convention, and this says which.

    >>> import sympy as sp
    >>> from jacobian_lab.language.functions import relu
    >>> x = sp.Symbol("x", real=True)
    >>> kink_notes(sp.Matrix([[relu(x).diff(x)]]), {x: 0})  # doctest: +ELLIPSIS
    ["x = 0 is a kink ...: ReLU'(0) = 0 by convention (step(0) = 0)"]
    """
    by_name = {str(s): s for s in jac.free_symbols}
    sub = {by_name[str(s)]: sp.sympify(v) for s, v in point.items() if str(s) in by_name}
    notes: list[str] = []
    for node in sp.preorder_traversal(jac):
        if not isinstance(node, sp.Heaviside | sp.sign):
            continue
        arg = node.args[0]
        if arg.xreplace(sub) != 0:
            continue
        where = f"{arg} = 0 is a kink (the function is not differentiable there)"
        if isinstance(node, sp.sign):
            conv = "sign(0) = 0, so |u|' = 0 at u = 0"
        elif node.args[1:] == (0,):
            conv = "ReLU'(0) = 0 by convention (step(0) = 0)"
        else:
            conv = (f"Heaviside(0) = {node.args[1]} (SymPy's value for the derivative of "
                    "Max/Min; relu(u) uses ReLU'(0) = 0)")
        note = f"{where}: {conv}"
        if note not in notes:
            notes.append(note)
    return notes
