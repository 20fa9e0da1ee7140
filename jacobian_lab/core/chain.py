"""The chain walk: a reverse sweep over the DAG of a derivation's intermediates.

A derivation names its intermediates, ``links = [(z, W x + b), (a, relu(z)), (C, …)]``; each
definition may use the variable and any other intermediate, so a skip connection
(``y = z + x``), a variable used twice and sums of paths are all DAGs. The walk is micrograd's
``backward()`` with matrices: the intermediates are sorted topologically from the output, each
edge's local Jacobian (a partial derivative, the other inputs held fixed) is found once in the
rule table (:mod:`jacobian_lab.matrix.rules`) and becomes a step named by the rule that fired,
and the sweep from the output back to the variable multiplies them along the paths, adding the
contributions where paths meet. A straight chain gives the familiar product of the local
Jacobians, outermost first.

Steps carry plain-words reasons; ``show`` prints an expression in them (the catalog passes the
notes' notation from the printing layer; the default is SymPy's ``sstr``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.core.derivation import Partial, Step
from jacobian_lab.errors import RuleError, ShapeError
from jacobian_lab.matrix.adjoint import backprop
from jacobian_lab.matrix.expr import T
from jacobian_lab.matrix.rules import (
    CONSTANT_RULE,
    VJP_RULE,
    differentiate,
    is_matrix_variable,
    vjp,
)
from jacobian_lab.matrix.shapes import depends
from jacobian_lab.matrix.simplify import simplify

Link = tuple[sp.MatrixSymbol, MatrixExpr]
Show = Callable[[sp.Basic], str]

CHAIN_RULE = "chain rule"
PATHS_RULE = "chain rule, summed over the paths"
MATRIX_PATHS_RULE = "sum rule: the gradients through each affine map that uses the matrix add"


@dataclass(frozen=True)
class Edge:
    """A local Jacobian ∂node/∂parent (the node's other inputs held fixed)."""

    node: sp.MatrixSymbol
    parent: sp.MatrixSymbol
    jacobian: MatrixExpr
    rule: str


def _definitions(links: Sequence[Link]) -> dict[sp.MatrixSymbol, MatrixExpr]:
    defs: dict[sp.MatrixSymbol, MatrixExpr] = {}
    for name, definition in links:
        if name in defs:
            raise RuleError(f"the intermediate {name} is defined twice")
        defs[name] = definition
    return defs


def topological(
    links: Sequence[Link], wrt: sp.MatrixSymbol
) -> tuple[list[sp.MatrixSymbol], dict[sp.MatrixSymbol, list[sp.MatrixSymbol]]]:
    """The intermediates on a path from ``wrt`` to the output (the last link's name), inputs
    before the nodes that use them, and each one's inputs among ``wrt`` and the intermediates.

    >>> from jacobian_lab.matrix.expr import matrix, vector, DIM_N
    >>> x, z, y, W = vector("x"), vector("z"), vector("y"), matrix("W", DIM_N, DIM_N)
    >>> topological([(z, W * x), (y, z + x)], x)
    ([z, y], {z: [x], y: [x, z]})
    """
    defs = _definitions(links)
    candidates = [wrt, *[name for name, _ in links if name != wrt]]
    parents = {name: [p for p in candidates if p != name and depends(d, p)]
               for name, d in defs.items() if name != wrt}
    order: list[sp.MatrixSymbol] = []
    reaches: dict[sp.MatrixSymbol, bool] = {wrt: True}
    visiting: set[sp.MatrixSymbol] = set()

    def visit(node: sp.MatrixSymbol) -> bool:  # micrograd's build_topo, with a cycle check
        if node in reaches:
            return reaches[node]
        if node in visiting:
            raise RuleError(f"the definitions go round in a circle through {node}: "
                            "each intermediate must be defined from earlier ones")
        visiting.add(node)
        found = [p for p in parents.get(node, []) if visit(p)]
        visiting.discard(node)
        reaches[node] = bool(found)
        if found:
            parents[node] = found
            order.append(node)
        return bool(found)

    visit(links[-1][0])
    return order, {node: parents[node] for node in order}


def _product(path: Sequence[MatrixExpr]) -> MatrixExpr:
    return path[0] if len(path) == 1 else sp.MatMul(*path)


def _sweep(
    order: Sequence[sp.MatrixSymbol], edges: Sequence[Edge]
) -> dict[sp.Basic, list[list[MatrixExpr]]]:
    """∂output/∂node for every node and input, each as a sum of products (lists of factors,
    outermost first).

    The output's adjoint is the empty product; each node, once every user of it is done
    (reverse topological order), passes its adjoint times the local Jacobian to each input. A
    node reached along several paths sums them first (micrograd's ``+=``), so shared
    subgraphs are multiplied once.
    """
    position = {node: i for i, node in enumerate(order)}
    pending: dict[sp.Basic, list[tuple[int, list[MatrixExpr]]]] = {order[-1]: [(0, [])]}
    adjoints: dict[sp.Basic, list[list[MatrixExpr]]] = {}

    def done(node: sp.Basic) -> list[list[MatrixExpr]]:
        adjoints[node] = [path for _, path in sorted(pending.pop(node), key=lambda c: c[0])]
        return adjoints[node]

    for node in reversed(order):
        contributions = done(node)
        if len(contributions) == 1:
            upstream = contributions[0]
        else:  # paths meet here: add them before going on
            upstream = [sp.MatAdd(*[_product(p) for p in contributions])]
        for edge in (e for e in edges if e.node == node):
            pending.setdefault(edge.parent, []).append(
                (position[node], [*upstream, edge.jacobian]))
    for leaf in list(pending):
        done(leaf)
    return adjoints


def _edges(
    defs: dict[sp.MatrixSymbol, MatrixExpr], order: Sequence[sp.MatrixSymbol],
    parents: dict[sp.MatrixSymbol, list[sp.MatrixSymbol]], show: Show,
) -> tuple[list[Edge], list[Step]]:
    """Each edge's local Jacobian, found once in the rule table (simplified, written in the
    node's own name where it appears: softmax(z) → s), and one step per edge, inputs first."""
    edges, steps = [], []
    for node in order:
        for parent in parents[node]:
            fired = differentiate(defs[node], parent)
            local = simplify(fired.jacobian).xreplace({defs[node]: node})
            edges.append(Edge(node, parent, local, fired.rule))
            why = f"differentiate {show(node)} = {show(defs[node])} w.r.t. {show(parent)}"
            held = [show(q) for q in parents[node] if q != parent]
            if held:  # a partial derivative: the node's other inputs stay as they are
                why += f", holding {', '.join(held)} fixed"
            steps.append(Step(Partial(node, parent), local, fired.rule, why))
    return edges, steps


def _combine(
    paths: Sequence[Sequence[MatrixExpr]], out: sp.MatrixSymbol, wrt: sp.MatrixSymbol,
    show: Show,
) -> tuple[list[Step], MatrixExpr]:
    """The chain-rule step (product, or sum of products) and its simplification."""
    if len(paths) == 1 and len(paths[0]) == 1:
        return [], paths[0][0]
    if len(paths) == 1:
        product = _product(paths[0])
        steps = [Step(Partial(out, wrt), product, CHAIN_RULE,
                      "multiply the local Jacobians, outermost first")]
    else:
        product = sp.MatAdd(*[_product(p) for p in paths])
        steps = [Step(Partial(out, wrt), product, PATHS_RULE,
                      f"{show(wrt)} reaches {show(out)} along {len(paths)} paths: multiply "
                      "the local Jacobians along each, outermost first, and add them")]
    used: list[str] = []
    result = simplify(product, trace=used)
    steps.append(Step(Partial(out, wrt), result, "simplify",
                      ", ".join(used) if used else "nothing to simplify"))
    return steps, result


def chain_steps(
    links: Sequence[Link], wrt: sp.MatrixSymbol, show: Show = sp.sstr
) -> tuple[list[Step], MatrixExpr]:
    """∂(last link)/∂wrt by the chain rule over the DAG of ``links``.

    Returns one step per local Jacobian (found in the rule table), the sum over paths of the
    products of local Jacobians, and the simplified result in terms of the intermediates.
    For a matrix ``wrt`` (a weight matrix W) the intermediates that use W must be affine in
    it (z = W a + b) and the output a scalar C: the steps give ∂C/∂z by the chain rule and
    then ∂C/∂W = δ aᵀ (δ = (∂C/∂z)ᵀ), a result in the shape of W — summed over the affine
    maps when W enters more than one.

    >>> from jacobian_lab.matrix.expr import matrix, vector, DIM_N
    >>> x, z, y, W = vector("x"), vector("z"), vector("y"), matrix("W", DIM_N, DIM_N)
    >>> steps, result = chain_steps([(z, W * x), (y, z + x)], x)
    >>> result  # W + I (SymPy's own printer orders the terms)
    I + W
    >>> [s.rule for s in steps][-2:]
    ['chain rule, summed over the paths', 'simplify']
    """
    if not links:
        raise RuleError(f"the chain rule needs at least one definition to differentiate "
                        f"w.r.t. {wrt}")
    try:
        if is_matrix_variable(wrt):
            return _matrix_chain_steps(links, wrt, show)
        return _jacobian_chain_steps(links, wrt, show)
    except (ShapeError, RuleError):
        # A matrix met on the way (W entering other than linearly, a matrix intermediate,
        # tr/det/inv): its Jacobian is a tensor. A scalar output still has matrix adjoints.
        if links[-1][0].shape != (1, 1):
            raise
        return adjoint_steps(links, wrt, show)


def _jacobian_chain_steps(
    links: Sequence[Link], wrt: sp.MatrixSymbol, show: Show
) -> tuple[list[Step], MatrixExpr]:
    out = links[-1][0]
    order, parents = topological(links, wrt)
    edges, steps = _edges(_definitions(links), order, parents, show)
    if not edges:
        zero = sp.ZeroMatrix(out.shape[0], wrt.shape[0])
        return [Step(Partial(out, wrt), zero, CONSTANT_RULE,
                     f"{show(out)} does not depend on {show(wrt)}")], zero
    more, result = _combine(_sweep(order, edges)[wrt], out, wrt, show)
    return steps + more, result


def _matrix_chain_steps(
    links: Sequence[Link], W: sp.MatrixSymbol, show: Show
) -> tuple[list[Step], MatrixExpr]:
    """One sweep gives ∂C/∂z for every affine map z that uses W; each adds its VJP."""
    cost = links[-1][0]
    if cost.shape != (1, 1):
        raise ShapeError(f"∂{cost}/∂{W}: only a scalar has a gradient w.r.t. a matrix")
    defs = _definitions(links)
    order, parents = topological(links, W)
    entries = [node for node in order if W in parents[node]]
    if not entries:
        zero = sp.ZeroMatrix(*W.shape)
        return [Step(Partial(cost, W), zero, CONSTANT_RULE,
                     f"{show(cost)} does not depend on {show(W)}")], zero
    inner = {node: [p for p in parents[node] if p != W] for node in order}
    edges, steps = _edges(defs, order, inner, show)
    adjoints = _sweep(order, edges)
    grads: list[MatrixExpr] = []
    for z in entries:
        upstream: MatrixExpr = sp.Identity(1)
        if z != cost:
            more, upstream = _combine(adjoints[z], cost, z, show)
            steps += more
        used: list[str] = []
        grad = simplify(vjp(defs[z], W, upstream), trace=used)
        steps.append(Step(Partial(cost, W), grad, VJP_RULE,
                          f"{z} = {sp.sstr(defs[z])} is linear in {W}: entry (i, j) of "
                          f"∂{cost}/∂{W} is ∂{cost}/∂{z}ᵢ times the input j"))
        grads.append(grad)
    if len(grads) == 1:
        return steps, grads[0]
    total = simplify(sp.MatAdd(*grads))
    steps.append(Step(Partial(cost, W), total, MATRIX_PATHS_RULE,
                      f"{show(W)} enters {len(grads)} affine maps: add their gradients"))
    return steps, total


def _layout(g: MatrixExpr, node: sp.MatrixSymbol) -> MatrixExpr:
    """An adjoint as the numerator-layout derivative: a row for a column node."""
    return T(g) if node.shape[1] == 1 and node.shape[0] != 1 else g


def adjoint_steps(
    links: Sequence[Link], wrt: sp.MatrixSymbol, show: Show = sp.sstr
) -> tuple[list[Step], MatrixExpr]:
    """∂C/∂wrt of a scalar output C by reverse mode with matrix adjoints
    (:mod:`jacobian_lab.matrix.adjoint`): each intermediate, users first, receives the sum
    of what its users pass back — one step per intermediate, named by the rules that fired —
    and ``wrt`` last. Any variable: a matrix, a vector (the result is then the 1 × n row of
    numerator layout) or a scalar.

    >>> from jacobian_lab.matrix.expr import SquareFunction, matrix, DIM_N
    >>> A, X, f = matrix("A", DIM_N, DIM_N), matrix("X", DIM_N, DIM_N), matrix("f", 1, 1)
    >>> from jacobian_lab.language.notation import notation
    >>> steps, result = adjoint_steps([(f, SquareFunction("det", A * X))], X)
    >>> notation(result)
    'det(A X) Aᵀ (A X)⁻ᵀ'
    >>> steps[-1].rule
    'adjoint: det: ∂det(X)/∂X = det(X) X⁻ᵀ; product: in L X R, X receives Lᵀ Ḡ Rᵀ; numbers first'

    """
    out = links[-1][0]
    if out.shape != (1, 1):
        raise ShapeError(f"∂{out}/∂{wrt}: adjoints need a scalar output; {out} is "
                         f"{out.shape[0]} × {out.shape[1]}")
    defs = _definitions(links)
    order, parents = topological(links, wrt)
    if not order:
        zero = sp.ZeroMatrix(*_layout(wrt, wrt).shape)
        return [Step(Partial(out, wrt), zero, CONSTANT_RULE,
                     f"{show(out)} does not depend on {show(wrt)}")], zero
    named = {d: n for n, d in defs.items() if n != out and not isinstance(d, sp.MatrixSymbol)}
    pending: dict[sp.Basic, list[MatrixExpr]] = {out: [sp.Identity(1)]}
    fired: dict[sp.Basic, list[str]] = {}
    users: dict[sp.Basic, list[str]] = {}
    steps: list[Step] = []

    def received(node: sp.Basic) -> tuple[MatrixExpr, list[str]]:
        parts = pending.pop(node)
        used: list[str] = []
        total = simplify(parts[0] if len(parts) == 1 else sp.MatAdd(*parts), trace=used)
        return total.xreplace(named), used

    for node in reversed(order):
        g, used = received(node)
        if node != out:
            rules = "; ".join(fired[node] + used)
            steps.append(Step(Partial(out, node), _layout(g, node), f"adjoint: {rules}",
                              f"{show(node)} is used by {', '.join(users[node])}: add what "
                              "each passes back"))
        rules_here: list[str] = []
        for leaf, share in backprop(defs[node], g, set(parents[node]), rules_here).items():
            pending.setdefault(leaf, []).append(share)
            fired.setdefault(leaf, []).extend(r for r in rules_here if r not in fired[leaf])
            users.setdefault(leaf, []).append(show(node))
    g, used = received(wrt)
    result = simplify(_layout(g, wrt))
    steps.append(Step(Partial(out, wrt), result, f"adjoint: {'; '.join(fired[wrt] + used)}",
                      f"{show(wrt)} is used by {', '.join(users[wrt])}: add what each passes "
                      "back" + (" (transposed: numerator layout)" if result.shape != g.shape
                                else "")))
    return steps, result


def simplify_step(
    lhs: sp.Basic, expr: MatrixExpr, rule: str = "simplify", why: str = ""
) -> tuple[Step, MatrixExpr]:
    """Simplify ``expr`` as one step; its rule names the identities of the table it used.

    ``rule`` says what the step does in words ("on active samples relu(z) = z"); the
    identities follow it after a colon, and ``why`` is the plain-words reason.
    """
    used: list[str] = []
    out = simplify(expr, trace=used)
    identities = "; ".join(used)
    if rule == "simplify":
        text = f"simplify: {identities}" if identities else "simplify"
    else:
        text = f"{rule}: {identities}" if identities else rule
    return Step(lhs, out, text, why or (identities if rule != "simplify" else "")), out
