"""The component truth in SymEngine: the common case of a proof — the claim is right — decided
in C++ instead of SymPy (issue 16: the gradients of the ``backprop`` networks took SymPy 60 %
of a proof, its expansion of the difference another 30 %).

``symengine`` is an optional extra (``pip install 'jacobian_lab[fast]'``). Without it, or with
``JLAB_NO_SYMENGINE=1``, or for any expression it does not translate exactly, the proof takes
the pure-SymPy path of :mod:`jacobian_lab.core.proof`, unchanged.

What is checked is what the SymPy path checks, in the same two steps:

1. the truth: the explicit components of ``result.of`` (instantiated by SymPy, as always)
   differentiated with respect to the explicit components of ``result.wrt``. Each activation
   of the registry (sigmoid, relu, …) enters SymEngine as an *opaque* function; SymEngine's
   chain rule leaves its derivative as ``Subs(Derivative(f(ξ), ξ), ξ, u)``, which is then
   replaced by the registry's own derivative — ``fdiff`` of the SymPy class, the same one
   SymPy's ``diff`` calls — translated back into SymEngine;
2. the comparison: ``claimed − truth`` expanded, entry by entry, with the activations still
   opaque (a function the identity must hold for whatever it is), a ReLU-like kink written as
   its gated slopes (``relu(u) = u·h(u)``, ``h = step``) and ``hᵏ = h``, exactly the algebra
   of :class:`jacobian_lab.matrix.fastcheck.Atoms`. Only an expansion to exactly 0 in every
   entry counts: the result is then proven ("symbolic"). Anything else — a non-zero entry, an
   expression SymEngine cannot hold exactly (a float, π, ``Max``, a DiracDelta) — returns
   None, and the SymPy path decides and explains.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import sympy as sp

from jacobian_lab.core.derivation import Result, substitute
from jacobian_lab.judge.verdict import Check
from jacobian_lab.language.activations import ActivationBase
from jacobian_lab.matrix.explicit import Instantiator, components

se: Any = None  # the symengine module once loaded (importing it takes 0.12 s)

# An instantiated result smaller than this (tree nodes of ``of``) SymPy proves in a few
# milliseconds: loading SymEngine would cost more than it saves (neuron-relu's are ~20).
MIN_NODES = 50


def available() -> bool:
    """SymEngine is installed and not turned off by ``JLAB_NO_SYMENGINE`` (imports it)."""
    global se
    off = os.environ.get("JLAB_NO_SYMENGINE", "").strip().lower() not in ("", "0", "false",
                                                                          "no", "off")
    if off:
        return False
    if se is None:
        try:
            # lazy: the optional extra (0.12 s to import) only for a proof big enough to gain
            import symengine
        except ImportError:  # pragma: no cover - depends on the installation
            return False
        se = symengine
    return True


def _big(e: sp.Basic | sp.MatrixBase, limit: int = MIN_NODES) -> bool:
    n = 0
    for entry in (e if isinstance(e, sp.MatrixBase) else [e]):
        for _ in sp.preorder_traversal(entry):
            n += 1
            if n >= limit:
                return True
    return False


class Unsupported(Exception):
    """An expression SymEngine would not hold exactly: the SymPy path takes it."""


class _Translator:
    """SymPy → SymEngine, node by node (memoised: instantiated matrices share subtrees)."""

    NATIVE: ClassVar[dict[Any, Any]] = {}

    def __init__(self) -> None:
        self.memo: dict[sp.Basic, Any] = {}
        self.symbols: dict[sp.Basic, Any] = {}
        self.functions: dict[str, type[sp.Function]] = {}  # SymEngine name → SymPy class
        if se is not None and not self.NATIVE:
            _Translator.NATIVE.update({sp.exp: se.exp, sp.log: se.log, sp.tanh: se.tanh})

    def __call__(self, e: sp.Basic) -> Any:
        hit = self.memo.get(e)
        if hit is None:
            hit = self.memo[e] = self._convert(e)
        return hit

    def symbol(self, s: sp.Basic) -> Any:
        if s not in self.symbols:  # one name per SymPy symbol (names repeat across Dummies)
            self.symbols[s] = se.Symbol(f"v{len(self.symbols)}")
        return self.symbols[s]

    def _convert(self, e: sp.Basic) -> Any:
        if e.is_Symbol:
            return self.symbol(e)
        if e.is_Integer:
            return se.Integer(int(e))
        if e.is_Rational:
            return se.Rational(int(e.p), int(e.q))
        if e.is_Add:
            return se.Add(*(self(a) for a in e.args))
        if e.is_Mul:
            return se.Mul(*(self(a) for a in e.args))
        if e.is_Pow:
            return se.Pow(self(e.base), self(e.exp))
        func = type(e)
        if func in self.NATIVE:
            return self.NATIVE[func](*(self(a) for a in e.args))
        if isinstance(e, ActivationBase) or (isinstance(e, sp.Heaviside) and e.args[1] == 0):
            name = "_H0" if isinstance(e, sp.Heaviside) else f"_{func.__name__}"
            self.functions[name] = func
            return se.Function(name)(self(e.args[0]))
        raise Unsupported(func.__name__)

    def derivative(self, name: str, u: Any) -> Any:
        """f′(u) of the opaque function ``name``: the SymPy class's ``fdiff`` (the registry's
        derivative) translated once (:func:`_template`), with its argument put in."""
        cls = self.functions.get(name)
        if cls is None or cls is sp.Heaviside:
            raise Unsupported(f"the derivative of {name}")
        template, xi, functions = _template(cls)
        self.functions.update(functions)
        return template.subs({xi: u})

    def gated(self, e: Any) -> Any:
        """Each kinked activation as its gated slopes, ``relu(u) = u·h(u)`` with the step
        ``h(u)`` (the ``_H0`` of ``Heaviside(u, 0)``), as fastcheck's Atoms writes it."""
        out = {}
        for f in e.atoms(se.FunctionSymbol):
            cls = self.functions.get(f.get_name())
            entry = cls.entry() if cls is not None and cls is not sp.Heaviside else None
            if entry is not None and entry.kink is not None:
                u = f.args[0]
                h = se.Function("_H0")(u)
                out[f] = _gate(self, entry.kink, u, h)
        return e.subs(out) if out else e


_TEMPLATES: dict[type, tuple[Any, Any, dict[str, type[sp.Function]]]] = {}


def _template(cls: type) -> tuple[Any, Any, dict[str, type[sp.Function]]]:
    """``cls``′(ξ) in SymEngine, ξ, and the opaque functions it names (sigmoid′ = σ(ξ)(1 −
    σ(ξ)) names sigmoid): SymPy's ``fdiff`` runs once per function, not once per use."""
    if cls not in _TEMPLATES:
        tr = _Translator()
        t = sp.Dummy("t", real=True)
        xi = tr.symbols[t] = se.Symbol("_xi")  # a name no translated symbol has (v0, v1, …)
        template = tr(cls(t).fdiff(1))
        if template.free_symbols - {xi}:
            raise Unsupported(f"the derivative of {cls.__name__} has other symbols")
        _TEMPLATES[cls] = (template, xi, tr.functions)
    return _TEMPLATES[cls]


class _Back:
    """SymEngine → SymPy for what :class:`_Translator` made (and SymEngine's own sums,
    products and powers of it): the truth handed to SymPy's comparison when SymEngine's
    expansion cannot decide (fractions, a wrong claim that must be explained)."""

    def __init__(self, tr: _Translator) -> None:
        self.symbols = {v: k for k, v in tr.symbols.items()}
        self.functions = tr.functions
        self.memo: dict[Any, sp.Basic] = {}
        self.native = {se.exp: sp.exp, se.log: sp.log, se.tanh: sp.tanh}

    def __call__(self, e: Any) -> sp.Basic:
        hit = self.memo.get(e)
        if hit is None:
            hit = self.memo[e] = self._convert(e)
        return hit

    def _convert(self, e: Any) -> sp.Basic:
        if isinstance(e, se.Symbol):
            return self.symbols[e]
        if isinstance(e, se.Integer):
            return sp.Integer(int(e))
        if isinstance(e, se.Rational):
            return sp.Rational(str(e))
        if isinstance(e, se.Add):
            return sp.Add(*(self(a) for a in e.args))
        if isinstance(e, se.Mul):
            return sp.Mul(*(self(a) for a in e.args))
        if isinstance(e, se.Pow):
            base, exponent = e.args
            if base == se.E:  # SymEngine writes exp(u) as E**u
                return sp.exp(self(exponent))
            return sp.Pow(self(base), self(exponent))
        if e == se.E:
            return sp.E
        if e == se.pi:
            return sp.pi
        if isinstance(e, se.FunctionSymbol):
            cls: Any = self.functions.get(e.get_name())
            if cls is sp.Heaviside:
                return sp.Heaviside(self(e.args[0]), 0)
            if cls is not None:
                return cls(self(e.args[0]))
        for f, g in self.native.items():
            if isinstance(e, type(f(se.Symbol("x")))) and len(e.args) == 1:
                return g(self(e.args[0]))
        raise Unsupported(f"{type(e).__name__} back to SymPy")


def _gate(tr: _Translator, kink: Any, u: Any, h: Any) -> Any:
    du, dh = sp.Dummy("u", real=True), sp.Dummy("h")
    return tr(kink.gated(du, dh)).subs({tr.symbol(du): u, tr.symbol(dh): h})


def _explicit_derivatives(e: Any, tr: _Translator) -> Any:
    """Replace SymEngine's unevaluated ``f′`` of each opaque function by its derivative."""
    out = {}
    for d in e.atoms(se.Subs, se.Derivative):
        if isinstance(d, se.Subs):
            if len(d.args) != 3:
                raise Unsupported("a Subs of several variables")
            inner, xi, u = d.args
        else:
            inner, xi, u = d, None, None
        if not isinstance(inner, se.Derivative) or len(inner.args) != 2:
            raise Unsupported("a higher derivative")
        f, var = inner.args
        if not isinstance(f, se.FunctionSymbol) or f.args != (var,):
            raise Unsupported("a derivative of a composite")
        if xi is not None and var != xi:
            raise Unsupported("an unexpected Subs")
        out[d] = tr.derivative(f.get_name(), u if u is not None else var)
    return e.subs(out) if out else e


def _idempotent(e: Any) -> Any:
    """h(u)ᵏ = h(u) for the 0/1 steps."""
    out = {p: p.args[0] for p in e.atoms(se.Pow)
           if isinstance(p.args[0], se.FunctionSymbol) and p.args[0].get_name() == "_H0"
           and p.args[1].is_Integer and int(p.args[1]) > 0}
    return e.subs(out) if out else e


# Above this many terms (an upper bound before expanding) the expansion would take longer than
# SymPy's exact evaluation at random points: a chain of k tanh layers expands to ~4ᵏ terms.
MAX_TERMS = 20_000


def _terms(e: Any, memo: dict[Any, int]) -> int:
    """An upper bound on the number of terms of ``expand(e)`` (capped above MAX_TERMS)."""
    hit = memo.get(e)
    if hit is not None:
        return hit
    if isinstance(e, se.Add):
        n = sum(_terms(a, memo) for a in e.args)
    elif isinstance(e, se.Mul):
        n = 1
        for a in e.args:
            n = min(n * _terms(a, memo), MAX_TERMS + 1)
    elif isinstance(e, se.Pow) and e.args[1].is_Integer and int(e.args[1]) > 0:
        n = min(_terms(e.args[0], memo) ** min(int(e.args[1]), 64), MAX_TERMS + 1)
    else:
        n = 1
    memo[e] = n = min(n, MAX_TERMS + 1)
    return n


def _is_zero(d: Any, tr: _Translator) -> bool:
    if any(p.args[1].is_negative for p in d.atoms(se.Pow)):
        raise Unsupported("a fraction")  # SymEngine does not cancel: SymPy's path does
    if _terms(d, {}) > MAX_TERMS:
        raise Unsupported("too many terms to expand")  # SymPy samples it exactly
    d = se.expand(d)
    if d == 0:
        return True
    d = se.expand(_idempotent(se.expand(tr.gated(d))))
    return bool(d == 0)


def _explicit(e: sp.Basic, result: Result, inst: Instantiator) -> sp.Matrix:
    """``e`` with the result's intermediates substituted, as an explicit matrix."""
    out = inst(substitute(e, result.defs))
    return out if isinstance(out, sp.MatrixBase) else sp.Matrix([[out]])


def truth_and_claim(result: Result, inst: Instantiator, of: sp.Matrix | None = None,
                    claimed: sp.Matrix | None = None
                    ) -> tuple[list[Any], list[Any], tuple[int, int], _Translator]:
    """The truth (as in :func:`jacobian_lab.core.proof.component_truth`, differentiated by
    SymEngine) and the claim, both as row-major lists of SymEngine entries, and their shape.
    ``of`` and ``claimed``: the explicit matrices of ``result.of`` and ``result.expr`` if
    already made."""
    if not isinstance(result.wrt, sp.MatrixSymbol):
        raise Unsupported("a component-level result")
    tr = _Translator()
    of = _explicit(result.of, result, inst) if of is None else of
    wrt = components(result.wrt, inst.sizes)
    inst.env.setdefault(result.wrt.name, wrt)
    variables = [tr(w) for w in wrt]
    if result.kind not in ("jacobian", "gradient"):
        raise Unsupported(f"a result of kind {result.kind}")
    if result.kind == "jacobian":
        if of.cols != 1:
            raise Unsupported("a tensor")
        rows = [tr(f) for f in of]
        truth = [_explicit_derivatives(r.diff(v), tr) for r in rows for v in variables]
        shape = (len(rows), len(variables))
    else:
        if of.shape != (1, 1):
            raise Unsupported("a gradient of a non-scalar")
        f = tr(of[0, 0])
        truth = [_explicit_derivatives(f.diff(v), tr) for v in variables]
        shape = wrt.shape
    claimed = _explicit(result.expr, result, inst) if claimed is None else claimed
    if claimed.shape != shape:
        raise Unsupported("a claim of another shape")
    return truth, [tr(c) for c in claimed], shape, tr


def prove_fast(result: Result, inst: Instantiator) -> Check | sp.Matrix | None:
    """``Check("correct", "symbolic", …)`` when SymEngine shows ``result`` equal to the truth
    at ``inst``'s sizes; else the truth it differentiated, as a SymPy matrix, for SymPy's
    comparison to decide and explain (a fraction SymEngine does not cancel, a wrong claim);
    None when it cannot differentiate the result (the SymPy path then does everything).

    A proven check records the claim's explicit matrix as both sides: the two are proven equal
    entry by entry (the truth is never built as a SymPy matrix — that is the time saved)."""
    if result.kind not in ("jacobian", "gradient"):
        return None  # a value, a transposed (denominator-layout) Jacobian: SymPy's path
    if not isinstance(result.wrt, sp.MatrixSymbol):
        return None
    of = _explicit(result.of, result, inst)
    if se is None and not _big(of):
        return None  # small: SymPy is quicker than loading SymEngine (once loaded, it is used)
    if not available():
        return None
    try:
        claim = _explicit(result.expr, result, inst)
        truth, claimed, shape, tr = truth_and_claim(result, inst, of, claim)
    except (Unsupported, RuntimeError, TypeError, ValueError):
        return None
    try:  # with an assumption (a one-hot y sums to 1), equality is decided after it
        if result.assume is None and all(_is_zero(c - t, tr)
                                         for t, c in zip(truth, claimed, strict=True)):
            return Check("correct", "symbolic", claim, claim, points=0)
    except (Unsupported, RuntimeError, TypeError, ValueError):
        pass
    try:
        back = _Back(tr)
        return sp.Matrix(shape[0], shape[1], [back(t) for t in truth])
    except (Unsupported, RuntimeError, TypeError, ValueError, KeyError, AttributeError):
        return None


__all__: Sequence[str] = ("Unsupported", "available", "prove_fast", "truth_and_claim")
