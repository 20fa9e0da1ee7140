"""The NumPy printer of the kernels: SymPy's ``NumPyPrinter`` for the matrix layer.

:class:`KernelPrinter` has one ``_print_<Class>`` per matrix-layer node and prints what a
careful engineer writes by hand (``@``, ``.T``, ``X.sum(axis=1, keepdims=True)`` for ``X 𝟏``,
``v * W`` for ``diag(v) W``, a bool mask for a 0/1 step such as ``ReLU'`` inside a product,
a max-shift for softmax, ``/ m`` with ``m = X.shape[1]`` so float32 stays float32); the
element-wise functions are spelled as the activation registry says. Values that are reused
or need a name are hoisted into :class:`Statement`\\ s.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import sympy as sp
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixExpr
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import precedence

from jacobian_lab.codegen.formula import join_signed, signed_terms
from jacobian_lab.errors import VerificationError
from jacobian_lab.language.activations import (
    ACTIVATIONS,
    FUNCTION_CLASSES,
    RELU_AT_ZERO,
    Activation,
    Kink,
)
from jacobian_lab.matrix.expr import Apply, Scalar, Softmax, SquareFunction

ATOM, FUNC, POW, MUL, ADD = 1000, 70, 60, 50, 40
MATMUL = MUL - 1  # `a @ b` is parenthesized inside `*` and `/`, where it would misread


class Statement(NamedTuple):
    target: str  # "" for `return`
    code: str
    op: str = "="
    guard: str = ""  # an np.errstate(...) argument the statement runs under


def _is_ones(e: sp.Basic) -> bool:
    return isinstance(e, sp.OneMatrix)


def _is_step(e: sp.Basic) -> bool:
    """``e`` is f'(z) for an activation whose derivative is a 0/1 step (ReLU')."""
    if not (isinstance(e, Apply) and e.order == 1 and e.fname in ACTIVATIONS):
        return False
    kink = ACTIVATIONS[e.fname].kink
    return kink is not None and kink.is_step


_LEVELS: dict[type, int] = {ast.Call: FUNC, ast.Mult: MUL, ast.Div: MUL, ast.Add: ADD,
                            ast.Sub: ADD, ast.Pow: POW}


def _template_level(code: str) -> int:
    """The precedence of a registry spelling (our own text, parsed, never evaluated)."""
    node = ast.parse(code.replace("{x}", "x"), mode="eval").body
    key = type(node.op) if isinstance(node, ast.BinOp) else type(node)
    return _LEVELS.get(key, ATOM if isinstance(node, ast.Name | ast.Attribute) else ADD)


def _transpose(e: sp.Basic) -> sp.Basic:
    """eᵀ, pushed through element-wise functions and double transposes."""
    if isinstance(e, sp.Transpose):
        return e.arg
    if isinstance(e, Apply):
        return Apply(e.fname, _transpose(e.arg), e.order)
    return sp.Transpose(e)


def expansion(e: sp.Basic) -> sp.Basic | None:
    """The vector of a scalar expansion ``v 𝟏ᵀ`` or ``𝟏 u`` (NumPy broadcasts it)."""
    if isinstance(e, sp.MatMul):
        coeff, fs = e.as_coeff_matrices()
        if coeff == 1 and len(fs) == 2:
            if _is_ones(fs[1]) and fs[1].rows == 1 and fs[0].cols == 1:
                return fs[0]
            if _is_ones(fs[0]) and fs[0].cols == 1 and fs[1].rows == 1:
                return fs[1]
    return None


def bare(e: sp.Basic) -> sp.Basic:
    """``e``, or the vector of its scalar expansion (where NumPy broadcasts it)."""
    vec = expansion(e)
    return e if vec is None else vec


class KernelPrinter(NumPyPrinter):
    """SymPy's NumPy printer for the matrix layer, dispatching on ``_print_<Class>``.

    ``dims`` maps size symbols to the code that reads them off an argument (``m`` →
    ``"dZ.shape[1]"``); the sizes a kernel uses become its first statements. Values that
    are reused or need a name are hoisted into :attr:`statements`.
    """

    def __init__(self, dims: Mapping[sp.Symbol, str] | None = None,
                 reserved: Iterable[str] = (), relu_at_zero: int = RELU_AT_ZERO) -> None:
        super().__init__({"strict": True})
        if relu_at_zero not in (0, 1):
            raise VerificationError(f"ReLU'(0) is 0 or 1 in a kernel, not {relu_at_zero}")
        self.relu_at_zero = relu_at_zero  # 1 only for mutation testing (jlab mutate)
        self.step_op = ">" if relu_at_zero == 0 else ">="  # ReLU'(z) = (z > 0)
        self.dims = dict(dims or {})
        self.used_dims: list[sp.Symbol] = []
        self.statements: list[Statement] = []
        self._taken = set(reserved) | {"np", "out"}
        self._hoisted: dict[tuple[str, str], str] = {}
        self._levels: dict[sp.Basic, int] = {}

    # ------------------------------------------------------------------ plumbing

    def _module_format(self, fqn: str, register: bool = True) -> str:
        return "np." + fqn.removeprefix("numpy.") if fqn.startswith("numpy.") else fqn

    def fresh(self, hint: str) -> str:
        name, i = hint, 1
        while name in self._taken:
            name, i = f"{hint}_{i}", i + 1
        self._taken.add(name)
        return name

    def hoist(self, hint: str, code: str, guard: str = "") -> str:
        """Name ``code`` in a statement of its own (once: the same code reuses the name)."""
        if (code, guard) not in self._hoisted:
            name = self.fresh(hint)
            self.statements.append(Statement(name, code, guard=guard))
            self._hoisted[(code, guard)] = name
        return self._hoisted[(code, guard)]

    def hoist_inplace(self, hint: str, code: str, op: str, update: str) -> str:
        """``name = code`` then ``name op update`` (``{name}`` in update is the name)."""
        key = (f"{code}; {op} {update}", "")
        if key not in self._hoisted:
            name = self.fresh(hint)
            self.statements += [Statement(name, code),
                                Statement(name, update.format(name=name), op)]
            self._hoisted[key] = name
        return self._hoisted[key]

    def take(self) -> list[Statement]:
        out, self.statements = self.statements, []
        return out

    def level(self, e: sp.Basic) -> int:
        if e in self._levels:
            return self._levels[e]
        return ATOM if isinstance(e, MatrixExpr) else precedence(e)

    def _ret(self, e: sp.Basic, text: str, level: int) -> str:
        self._levels[e] = level
        return text

    def wrap(self, e: sp.Basic, level: int) -> str:
        text = self._print(e)
        return f"({text})" if self.level(e) < level else text

    def atom(self, e: sp.Basic, hint: str = "z") -> str:
        """``e`` as a name or a call, hoisting it if it is an operator expression."""
        text = self._print(e)
        return text if self.level(e) >= FUNC else self.hoist(hint, text)

    def _print_Symbol(self, e: sp.Symbol) -> str:
        if e in self.dims and e not in self.used_dims:
            self.used_dims.append(e)
        return e.name

    def _print_MatrixSymbol(self, e: sp.MatrixSymbol) -> str:
        return e.name

    def _print_Mul(self, e: sp.Mul) -> str:
        if e.could_extract_minus_sign():
            return "-" + self.parenthesize(-e, MUL, strict=True)
        num, den = sp.fraction(e)
        text = " * ".join(self.parenthesize(f, MUL, strict=True) for f in sp.Mul.make_args(num))
        return text if den == 1 else f"{text} / {self.parenthesize(den, MUL + 1, strict=True)}"

    def _print_Pow(self, e: sp.Pow, rational: bool = False) -> str:
        base, p = e.args
        if p == -1:
            return f"1 / {self.parenthesize(base, MUL + 1, strict=True)}"
        if p == sp.Rational(1, 2):
            return f"np.sqrt({self._print(base)})"
        base_text = self.parenthesize(base, POW + 1, strict=True)
        return f"{base_text}**{self.parenthesize(p, POW + 1, strict=True)}"

    # ------------------------------------------------------------------ matrix products

    def _print_MatMul(self, e: sp.MatMul) -> str:
        coeff, factors = e.as_coeff_matrices()
        text, level = self._product([f for f in factors if not isinstance(f, sp.Identity)])
        if coeff == 1:
            return self._ret(e, text, level)
        num, den = sp.fraction(sp.together(coeff))
        sign = num.could_extract_minus_sign()
        num = -num if sign else num
        if num != 1 or den != 1:
            text = text if level > MUL else f"({text})"
            if num != 1:
                text = f"{self.parenthesize(num, MUL, strict=True)} * {text}"
            if den != 1:  # ``m`` is an int read off an array: float32 stays float32
                text = f"{text} / {self.parenthesize(den, MUL + 1, strict=True)}"
            level = MUL
        if sign:  # a leading minus commutes with `*`, `/` and `@`
            text, level = "-" + (text if level >= MATMUL else f"({text})"), ADD
        return self._ret(e, text, level)

    def _product(self, fs: Sequence[sp.Basic]) -> tuple[str, int]:
        if len(fs) == 1:
            return self._print(fs[0]), self.level(fs[0])
        left = _is_ones(fs[0]) and fs[0].rows == 1  # 𝟏ᵀ X: column sums
        right = _is_ones(fs[-1]) and fs[-1].cols == 1  # X 𝟏: row sums
        if left or right:
            body, level = self._product(fs[int(left): len(fs) - int(right)])
            body = body if level >= FUNC else f"({body})"
            axis = "" if left and right else f"axis={0 if left else 1}, keepdims=True"
            return f"{body}.sum({axis})", ATOM
        vec = expansion(sp.MatMul(*fs))
        if vec is not None:
            shape = ", ".join(self._print(d) for d in sp.MatMul(*fs).shape)
            return f"np.broadcast_to({self._print(vec)}, ({shape}))", FUNC
        if isinstance(fs[0], DiagMatrix):  # diag(v) W = v ⊙ W, v broadcast over columns
            rest, level = self._product(fs[1:])
            return f"{self._factor(fs[0].args[0])} * {rest if level >= MUL else f'({rest})'}", MUL
        if isinstance(fs[-1], DiagMatrix):  # W diag(v) = W ⊙ vᵀ, vᵀ broadcast over rows
            rest, level = self._product(fs[:-1])
            rest = rest if level >= MUL else f"({rest})"
            return f"{rest} * {self._factor(_transpose(fs[-1].args[0]))}", MUL
        return " @ ".join(self.wrap(f, MUL + 1) for f in fs), MATMUL

    def _factor(self, e: sp.Basic, mask: bool = True) -> str:
        """``e`` as one factor of an element-wise product (ReLU' as a bool mask)."""
        if mask and _is_step(e):
            return f"({self._print(e.arg)} {self.step_op} 0)"
        return self.wrap(bare(e), MUL)

    # ------------------------------------------------------------------ element-wise

    def _print_MatAdd(self, e: sp.MatAdd) -> str:
        broadcast = any(expansion(t) is None for t in e.args)  # b 𝟏ᵀ next to a k × m term
        terms = [(neg, bare(t) if broadcast else t) for neg, t in signed_terms(e.args)]
        return self._ret(e, join_signed([(neg, self.wrap(t, ADD + neg)) for neg, t in terms]), ADD)

    def _print_HadamardProduct(self, e: sp.HadamardProduct) -> str:
        args = sorted(e.args, key=_is_step)  # masks last: a float factor leads
        mask = not _is_step(args[0])
        return self._ret(e, " * ".join(self._factor(a, mask) for a in args), MUL)

    def _print_HadamardPower(self, e: sp.HadamardPower) -> str:
        base, p = e.args
        if p == -1:
            return self._ret(e, f"1 / {self.wrap(base, MUL + 1)}", MUL)
        exponent = self._print(p) if p.is_Integer and p >= 0 else f"({self._print(p)})"
        return self._ret(e, f"{self.wrap(base, POW + 1)}**{exponent}", POW)

    def _print_Scalar(self, e: Scalar) -> str:  # a 1 × 1 array broadcasts as a coefficient
        return self.wrap(e.arg, MUL + 1)

    def _print_SquareFunction(self, e: SquareFunction) -> str:
        x = self._print(e.arg)
        value = {"tr": f"np.trace({x})", "det": f"np.linalg.det({x})",
                 "logdet": f"np.linalg.slogdet({x})[1]"}[e.fname]
        return self._ret(e, f"np.reshape({value}, (1, 1))", FUNC)

    def _print_Inverse(self, e: sp.Inverse) -> str:
        return self._ret(e, f"np.linalg.inv({self._print(e.arg)})", FUNC)

    def _print_Transpose(self, e: sp.Transpose) -> str:
        if isinstance(e.arg, sp.Transpose):
            return self._ret(e, self._print(e.arg.arg), self.level(e.arg.arg))
        return self._ret(e, f"{self.wrap(e.arg, FUNC)}.T", ATOM)

    def _print_DiagMatrix(self, e: DiagMatrix) -> str:
        return self._ret(e, f"np.diagflat({self._print(e.args[0])})", FUNC)

    def _print_Apply(self, e: Apply, out: str | None = None) -> str:
        entry = ACTIVATIONS.get(e.fname)
        if entry is not None and e.order == 0:
            done: tuple[str, int] | None = self._activation(entry, e.arg, out)
        elif _is_step(e):
            done = self._step(e.arg, out)
        elif entry is not None and entry.kink is not None and e.order == 1:
            done = self._slopes(entry.kink, e.arg)
        else:  # a special case of a non-activation (log of a softmax), or f' lowered
            method = getattr(self, f"_apply_{e.fname}_{e.order}", None)
            done = method(e.arg, out) if method else None
        text, level = done if done is not None else self._lowered(e, out)
        return self._ret(e, text, level)

    def _activation(self, entry: Activation, x: sp.Basic, out: str | None) -> tuple[str, int]:
        """f(x) in the registry's spelling; the kernels' own spelling (sigmoid's, under its
        errstate guard) is hoisted into a statement of its own."""
        if entry.kernel is not None:
            z = self.atom(x)
            hint = f"{entry.name}_{z}" if z.isidentifier() else entry.name[0]
            return self.hoist(hint, entry.kernel.replace("{x}", z), guard=entry.kernel_guard), ATOM
        level = _template_level(entry.numpy)
        once = entry.numpy.count("{x}") == 1 and level == FUNC  # a call's argument: inline
        text = entry.numpy_code(self._print(x) if once else self.atom(x), self._module_format)
        if out and level == FUNC:
            text = f"{text[:-1]}, out={out})"
        return text, level

    def _slopes(self, kink: Kink, x: sp.Basic) -> tuple[str, int]:
        """f'(z) of a piecewise-linear activation: its right slope where z > 0, else its
        left one (the convention at 0 is one of the two), in z's own dtype."""
        z = self.atom(x)
        op = self.step_op if kink.at_zero == kink.left else ">="
        left, right = float(kink.left), float(kink.right)
        return f"np.where({z} {op} 0, {right!r}, {left!r}).astype({z}.dtype)", ATOM

    def _step(self, x: sp.Basic, out: str | None) -> tuple[str, int]:
        z = self.atom(x)  # ReLU'(0) = 0: strictly greater; cast to z's own dtype
        ufunc = "greater" if self.relu_at_zero == 0 else "greater_equal"
        if out:
            return f"np.{ufunc}({z}, 0, out={out})", FUNC
        return f"({z} {self.step_op} 0).astype({z}.dtype)", ATOM

    def _apply_log_0(self, x: sp.Basic, out: str | None) -> tuple[str, int] | None:
        if not isinstance(x, Softmax):
            return None
        z = self.atom(x.arg)  # log-sum-exp after a max shift: finite at logits ±1000
        return self.hoist_inplace(
            f"log_softmax_{z}" if z.isidentifier() else "log_s",
            f"{z} - {z}.max(axis=0, keepdims=True)",
            "-=", "np.log(np.exp({name}).sum(axis=0, keepdims=True))"), ATOM

    def _print_Softmax(self, e: Softmax) -> str:
        z = self.atom(e.arg)  # shifted by the column maximum: exp never overflows
        name = self.hoist_inplace("e", f"np.exp({z} - {z}.max(axis=0, keepdims=True))",
                                  "/=", "{name}.sum(axis=0, keepdims=True)")
        return self._ret(e, name, ATOM)

    def _lowered(self, e: Apply, out: str | None = None) -> tuple[str, int]:
        """f⁽ᵒʳᵈᵉʳ⁾ as the scalar SymPy expression of the registry, printed element-wise.

        A single ufunc call of the argument (``np.tanh(Z)``) takes ``out=``.
        """
        t = sp.Dummy("t", real=True)
        f = e.function(t, e.order)
        if not f.has(t):
            return f"np.full_like({self.atom(e.arg)}, {self._print(f)})", FUNC
        nn = FUNCTION_CLASSES

        def named(u: sp.Basic) -> sp.Symbol:  # σ(t) inside σ'(t): the printed σ, hoisted once
            return sp.Symbol(self.atom(Apply(type(u).__name__, e.arg), type(u).__name__))

        f = f.replace(lambda u: isinstance(u, nn) and u.args[0] == t
                      and (type(u).__name__, 0) != (e.fname, e.order), named)
        f = f.xreplace({t: sp.Symbol(self.atom(e.arg))})
        reps, (f,) = sp.cse([f], symbols=iter(sp.Symbol(self.fresh("u")) for _ in range(99)))
        for s, sub in reps:
            self.statements.append(Statement(s.name, self._print(sub)))
        text = self._print(f)
        if out and isinstance(f, sp.Function) and len(f.args) == 1 and f.args[0].is_Symbol:
            text = f"{text[:-1]}, out={out})"
        return text, precedence(f)


__all__ = [
    "ADD",
    "ATOM",
    "FUNC",
    "MATMUL",
    "MUL",
    "POW",
    "KernelPrinter",
    "Statement",
    "bare",
    "expansion",
]
