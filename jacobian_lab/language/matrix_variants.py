"""The mistakes hand derivations make in matrix notation, as one-change variants of a claim.

The judge tries them on an incorrect claim: when exactly such a variant is right, the claim's
diagnosis names the mistake — ``*`` where ``.*`` was meant (or the reverse), a missing
``diag``, the two sides of a product swapped, a missing transpose.

>>> from jacobian_lab.language.matrix_syntax import parse
>>> [(what, str(t)) for what, t in variants(parse("v*W"))][:2]
[('`v*W` is a matrix product where the element-wise `v.*W` was meant', 'v.*W'), \
('`v*W` needs diag: `diag(v)*W`', 'diag(v)*W')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from jacobian_lab.language.matrix_syntax import Binary, Call, Name, Neg, Node, Transpose

Rewrite = Callable[[Node], Node]


def _one_node_changes(node: Node) -> Iterator[tuple[str, Node]]:
    """The variants of ``node`` itself (not of its children)."""
    if isinstance(node, Binary) and node.op == "*":
        a, b = node.left, node.right
        yield (f"`{node}` is a matrix product where the element-wise `{a}.*{b}` was meant",
               Binary(".*", a, b, node.col))
        yield (f"`{node}` needs diag: `diag({a})*{b}`",
               Binary("*", Call("diag", (a,), node.col), b, node.col))
        yield (f"the two sides of `{node}` are swapped: `{b}*{a}` was meant",
               Binary("*", b, a, node.col))
    elif isinstance(node, Binary) and node.op == ".*":
        yield (f"`{node}` is element-wise where the matrix product "
               f"`{node.left}*{node.right}` was meant", Binary("*", node.left, node.right,
                                                               node.col))
    if isinstance(node, Name | Call) or (isinstance(node, Binary) and node.op in "+-"):
        shown = f"({node})" if isinstance(node, Binary) else str(node)
        yield (f"`{shown}` needs a transpose: `{shown}'`", Transpose(node, node.col))
    if isinstance(node, Transpose):
        yield f"`{node}` should not be transposed: `{node.arg}`", node.arg


def variants(tree: Node, limit: int = 40) -> Iterator[tuple[str, Node]]:
    """Every claim that differs from ``tree`` by one of the mistakes above (at most
    ``limit``), with the words that name the mistake."""
    count = 0

    def walk(node: Node, rebuild: Rewrite) -> Iterator[tuple[str, Node]]:
        nonlocal count
        for what, changed in _one_node_changes(node):
            if count >= limit:
                return
            count += 1
            yield what, rebuild(changed)
        if isinstance(node, Neg):
            yield from walk(node.arg, lambda n: rebuild(Neg(n, node.col)))
        elif isinstance(node, Transpose):
            yield from walk(node.arg, lambda n: rebuild(Transpose(n, node.col)))
        elif isinstance(node, Binary):
            yield from walk(node.left, lambda n: rebuild(Binary(node.op, n, node.right,
                                                                node.col)))
            yield from walk(node.right, lambda n: rebuild(Binary(node.op, node.left, n,
                                                                 node.col)))
        elif isinstance(node, Call):
            for i in range(len(node.args)):
                def put(n: Node, i: int = i) -> Node:
                    args = list(node.args)
                    args[i] = n
                    return rebuild(Call(node.func, tuple(args), node.col))
                yield from walk(node.args[i], put)

    yield from walk(tree, lambda n: n)
