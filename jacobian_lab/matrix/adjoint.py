"""Reverse mode with matrix adjoints: the gradient of a scalar through any matrix node.

The rule table (:mod:`.rules`) gives Jacobians, which exist for columns: a Jacobian of a
matrix by a matrix is a tensor. For a *scalar* output C every node M — a column, a row or a
matrix — has an adjoint M̄ = ∂C/∂M of M's own shape, and each node passes its adjoint to its
children by a vector–Jacobian product that is again a matrix expression (The Matrix
Cookbook's identities; autograd's ``defvjp`` table). This is what differentiates ``tr(A X)``,
``det(X)``, ``logdet(X)``, ``tr(X⁻¹ A)``, ``‖W‖²`` and ``sum(relu(W X))`` w.r.t. a matrix.

One registration per kind of node, like the Jacobian table: :func:`backprop` walks a
definition top-down from its adjoint Ḡ and returns what each name in it receives, with the
names of the rules that fired.

>>> from jacobian_lab.matrix.expr import matrix, DIM_N
>>> from jacobian_lab.matrix.simplify import simplify
>>> A, X = matrix("A", DIM_N, DIM_N), matrix("X", DIM_N, DIM_N)
>>> received = backprop(SquareFunction("tr", A * X), sp.Identity(1), {X})
>>> received[X], simplify(received[X])  # ∂tr(AX)/∂X = Aᵀ
(A.T*I, A.T)
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import RuleError
from jacobian_lab.matrix.expr import Apply, Softmax, SquareFunction, T, hadamard, ones
from jacobian_lab.matrix.shapes import as_coeff

Adjoint = Callable[[MatrixExpr, MatrixExpr], list[tuple[MatrixExpr, MatrixExpr]]]

ADJOINTS: dict[type, tuple[str, Adjoint]] = {}


def defadjoint(node: type, name: str) -> Callable[[Adjoint], Adjoint]:
    """Register the adjoint rule ``name`` of ``node``: (node, Ḡ) → [(child, child's share)]."""

    def register(rule: Adjoint) -> Adjoint:
        ADJOINTS[node] = (name, rule)
        return rule

    return register


def _scaled(g: MatrixExpr, m: MatrixExpr) -> MatrixExpr:
    """A 1 × 1 adjoint ``g`` times a matrix ``m`` of any shape."""
    return m if g == sp.Identity(1) else sp.MatMul(as_coeff(g), m)


def _product(factors: list[MatrixExpr]) -> MatrixExpr | None:
    if not factors:
        return None
    return factors[0] if len(factors) == 1 else sp.MatMul(*factors)


@defadjoint(sp.MatAdd, "sum: each term receives Ḡ")
def _add(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    return [(a, g) for a in e.args]


@defadjoint(sp.MatMul, "product: in L X R, X receives Lᵀ Ḡ Rᵀ")
def _mul(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    coeff, mats = e.as_coeff_matrices()
    out = []
    for i, x in enumerate(mats):
        left, right = _product(list(mats[:i])), _product(list(mats[i + 1:]))
        share = [f for f in (T(left) if left is not None else None, g,
                             T(right) if right is not None else None) if f is not None]
        shared = share[0] if len(share) == 1 else sp.MatMul(*share)
        out.append((x, shared if coeff == 1 else sp.MatMul(coeff, shared)))
    return out


@defadjoint(sp.MatPow, "matrix power: Xᵖ = X X ⋯ X (X⁻ᵖ = X⁻¹ ⋯ X⁻¹), a product")
def _matpow(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    base, p = e.args
    if not p.is_Integer or abs(p) > 64:
        raise RuleError(f"No adjoint rule for the power {e}: only whole exponents up to 64")
    factor = base if p > 0 else sp.Inverse(base)
    if p == 1 or p == -1:
        return [(factor, g)]
    return _mul(sp.MatMul(*[factor] * int(abs(p))), g)


@defadjoint(sp.Transpose, "transpose: Xᵀ passes Ḡᵀ to X")
def _transpose(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    return [(e.arg, T(g))]


@defadjoint(sp.HadamardProduct, "element-wise product: in X ⊙ Y, X receives Ḡ ⊙ Y")
def _hadamard(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    return [(a, hadamard(g, *[b for j, b in enumerate(e.args) if j != i]))
            for i, a in enumerate(e.args)]


@defadjoint(sp.HadamardPower, "element-wise power: X^∘p receives p Ḡ ⊙ X^∘(p−1)")
def _power(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    base, p = e.args
    if p == 1:
        return [(base, g)]
    lower = base if p == 2 else sp.HadamardPower(base, p - 1)
    return [(base, sp.MatMul(p, hadamard(g, lower)))]


@defadjoint(Apply, "element-wise function: f(Z) passes Ḡ ⊙ f′(Z) to Z")
def _apply(e: Apply, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    return [(e.arg, hadamard(g, e.derivative()))]


@defadjoint(Softmax, "softmax: s = softmax(z) passes s ⊙ ḡ − s (sᵀḡ) to z, column by column")
def _softmax(e: Softmax, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    n = e.shape[0]
    weighted = hadamard(e, g)
    column_sums = ones(1, n) * weighted  # sᵀḡ for each column
    spread = e * column_sums if e.shape[1] == 1 else hadamard(e, ones(n, 1) * column_sums)
    return [(e.arg, sp.MatAdd(weighted, -spread))]


@defadjoint(DiagMatrix, "diag: diag(v) passes the diagonal of Ḡ, (Ḡ ⊙ I)𝟏, to v")
def _diag(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    n = e.shape[0]
    return [(e.args[0], hadamard(g, sp.Identity(n)) * ones(n, 1))]


@defadjoint(SquareFunction, "tr: ∂tr(X)/∂X = I; det: ∂det(X)/∂X = det(X) X⁻ᵀ; "
                            "logdet: ∂log |det(X)|/∂X = X⁻ᵀ")
def _square(e: SquareFunction, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    x = e.arg
    if e.fname == "tr":
        return [(x, _scaled(g, sp.Identity(x.shape[0])))]
    inverse_t = T(sp.Inverse(x))
    if e.fname == "logdet":
        return [(x, _scaled(g, inverse_t))]
    return [(x, sp.MatMul(as_coeff(e), _scaled(g, inverse_t)))]


@defadjoint(sp.Inverse, "inverse: Y = X⁻¹ passes −Yᵀ Ḡ Yᵀ to X")
def _inverse(e: MatrixExpr, g: MatrixExpr) -> list[tuple[MatrixExpr, MatrixExpr]]:
    return [(e.arg, -T(e) * g * T(e))]


def rule_of(e: MatrixExpr) -> tuple[str, Adjoint]:
    """The adjoint rule of ``e`` and its name (of a node with a function name, such as
    ``det``, the part of the registered name for that function)."""
    for cls in type(e).__mro__:
        if cls in ADJOINTS:
            name, rule = ADJOINTS[cls]
            fname = getattr(e, "fname", None)
            own = [part for part in name.split("; ") if part.startswith(f"{fname}:")]
            return (own[0] if own else name), rule
    raise RuleError(f"No adjoint rule for the node {e} (a {type(e).__name__}); the table has "
                    f"{', '.join(sorted(c.__name__ for c in ADJOINTS))}")


def backprop(
    expr: MatrixExpr, g: MatrixExpr, leaves: Collection[sp.MatrixSymbol],
    rules: list[str] | None = None,
) -> dict[sp.MatrixSymbol, MatrixExpr]:
    """What each of ``leaves`` in ``expr`` receives when ``expr``'s adjoint is ``g`` (summed
    over the places a leaf occurs); ``rules`` collects the names of the rules that fired.
    Subtrees with none of the leaves are constants and receive nothing."""
    received: dict[sp.MatrixSymbol, list[MatrixExpr]] = {}

    def visit(e: MatrixExpr, adj: MatrixExpr) -> None:
        if e in leaves:
            received.setdefault(e, []).append(adj)
            return
        if not isinstance(e, MatrixExpr) or not any(e.has(leaf) for leaf in leaves):
            return
        name, rule = rule_of(e)
        if rules is not None and name not in rules:
            rules.append(name)
        for child, share in rule(e, adj):
            visit(child, share)

    visit(expr, g)
    return {leaf: parts[0] if len(parts) == 1 else sp.MatAdd(*parts)
            for leaf, parts in received.items()}
