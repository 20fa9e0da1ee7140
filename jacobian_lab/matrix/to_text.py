"""Matrix-layer expressions written back in the matrix language, so that a result of
``jlab diff`` can be given to ``jlab verify --claim`` as it is printed (a round trip the
tests check on every proven example).

>>> from jacobian_lab.matrix.expr import apply, matrix, vector
>>> W, x = matrix("W", 3, 2), vector("x", 2)
>>> to_text(apply("relu", W * x, 1) * x.T)
"step(W*x)*x'"
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix

from jacobian_lab.errors import RuleError
from jacobian_lab.matrix.expr import Apply, Scalar, Softmax, SquareFunction

ADD, MUL, POW, POSTFIX, ATOM = 10, 20, 40, 50, 100

# f'(z) in the language, for the element-wise functions whose derivative has a name there
DERIVATIVES = {
    "relu": "step({z})",
    "leaky_relu": "1/100 + 99/100*step({z})",
    "sigmoid": "sigmoid({z}) .* (1 - sigmoid({z}))",
    "tanh": "1 - tanh({z}) .^ 2",
    "exp": "exp({z})",
    "log": "1 ./ ({z})",
    "softplus": "sigmoid({z})",
    "identity": "1 + 0*({z})",
}


def _sum(e: Any) -> tuple[str, int]:
    parts = [_text(a)[0] for a in e.args]
    out = parts[0]
    for text in parts[1:]:
        out += f" - {text[1:]}" if text.startswith("-") else f" + {text}"
    return out, ADD


def _product(e: Any) -> tuple[str, int]:
    coeff, factors = _coefficient(e)
    body = "*".join(_wrap(f, MUL + 1) for f in factors)
    if coeff == 1:
        return body, MUL
    if coeff == -1:
        return f"-{body}", MUL
    return f"{_number(coeff)}*{body}", MUL


def _apply(e: Apply) -> tuple[str, int]:
    z = _text(e.arg)[0]
    if e.order == 0:
        return f"{e.fname}({z})", ATOM
    if e.order == 1 and e.fname in DERIVATIVES:
        text = DERIVATIVES[e.fname].format(z=z)
        return text, ATOM if e.fname in ("relu", "exp", "softplus") else ADD
    raise RuleError(f"{e.fname}'s derivative of order {e.order} has no name in the matrix "
                    "language")


def _ones(e: sp.OneMatrix) -> tuple[str, int]:
    rows, cols = e.shape
    return (f"ones({rows})" if cols == 1 else f"ones({rows}, {cols})"), ATOM


_PRINTERS: dict[type, Any] = {
    sp.MatrixSymbol: lambda e: (e.name, ATOM),
    sp.Symbol: lambda e: (e.name, ATOM),
    sp.Transpose: lambda e: (f"{_wrap(e.arg, POSTFIX)}'", POSTFIX),
    sp.MatAdd: _sum,
    sp.Add: _sum,
    sp.MatMul: _product,
    sp.Mul: _product,
    sp.HadamardProduct: lambda e: (" .* ".join(_wrap(a, MUL + 1) for a in e.args), MUL),
    sp.HadamardPower: lambda e: (f"{_wrap(e.base, POW + 1)} .^ ({_number(e.exp)})", POW),
    Apply: _apply,
    Softmax: lambda e: (f"softmax({_text(e.args[0])[0]})", ATOM),
    DiagMatrix: lambda e: (f"diag({_text(e.args[0])[0]})", ATOM),
    SquareFunction: lambda e: (f"{e.fname}({_text(e.arg)[0]})", ATOM),
    sp.Inverse: lambda e: (f"inv({_text(e.arg)[0]})", ATOM),
    Scalar: lambda e: _text(e.args[0]),
    sp.OneMatrix: _ones,
    sp.Identity: lambda e: (f"eye({e.shape[0]})", ATOM),
    sp.ZeroMatrix: lambda e: (f"0*ones({e.shape[0]}, {e.shape[1]})", MUL),
}


def _text(e: Any) -> tuple[str, int]:
    """The text of ``e`` and the precedence of its outermost operator."""
    for kind in type(e).__mro__:
        printer = _PRINTERS.get(kind)
        if printer is not None:
            return printer(e)
    if isinstance(e, sp.Pow) and e.exp.is_Rational:
        return f"{_wrap(e.base, POW + 1)}^({_number(e.exp)})", POW
    if isinstance(e, sp.Expr) and e.is_Rational:
        return _number(e), ATOM if e >= 0 and e.is_Integer else MUL
    raise RuleError(f"{type(e).__name__} ({e}) has no form in the matrix language yet")


def _coefficient(e: Any) -> tuple[sp.Expr, list[Any]]:
    coeff: sp.Expr = sp.S.One
    factors = []
    for a in e.args:
        if isinstance(a, sp.Expr) and not isinstance(a, sp.MatrixExpr) and a.is_number:
            coeff *= a
        else:
            factors.append(a)
    return coeff, factors


def _number(x: Any) -> str:
    x = sp.nsimplify(x)
    return f"({x})" if x.is_Rational and x < 0 else str(x)


def _wrap(e: Any, at_least: int) -> str:
    text, prec = _text(e)
    return text if prec >= at_least else f"({text})"


def to_text(e: Any) -> str:
    """``e`` in the matrix language (numbers exact; the derivatives of relu, leaky_relu,
    sigmoid, tanh, exp, log and softplus written out); a :class:`RuleError` for what the
    language cannot say yet."""
    return _text(e)[0]
