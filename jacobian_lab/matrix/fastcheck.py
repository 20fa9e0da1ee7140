"""A fast decision for the common case of a proof: the claim equals the truth.

Both sides of a proof are explicit matrices built from the same scalar symbols, so a right
result usually differs from the truth only by algebra: the distributive law, fractions over
a common denominator (softmax), relu(u)·step(u) = u·step(u). :func:`identical` abstracts the
non-polynomial atoms into fresh symbols (:class:`Atoms`) and then

* expands (or cancels) the difference to 0 when it is small — a proof (``"symbolic"``); or
* evaluates it exactly, in rational arithmetic, at random values of the symbols and of the
  atoms, for every pattern of the ReLU gates at once (a multilinear polynomial in the 0/1
  steps) — a sampled check (``"sampled"``): a non-zero rational function vanishes at a
  random point with negligible probability (Schwartz–Zippel), and the atoms are sampled
  independently of their arguments, a superset of the values they can take.

It only ever confirms: when it cannot, the caller falls back to the verifier
(:func:`jacobian_lab.judge.checker.compare`), which also explains a mismatch.
"""

from __future__ import annotations

from fractions import Fraction
from typing import ClassVar, Literal

import sympy as sp

from jacobian_lab.language.activations import Activation, by_function

Method = Literal["symbolic", "sampled"]

# Above these sizes (nodes of one abstracted entry) expanding costs more than sampling.
POLYNOMIAL_NODES = 3000
RATIONAL_NODES = 200
POINTS = 3


class Atoms:
    """Abstract non-polynomial atoms into symbols, innermost first, one symbol per argument.

    A kinked activation of the registry becomes its slopes gated by a 0/1 symbol h, and
    Heaviside(u, 0) → h (h ∈ {0, 1}: relu(u) = u·h, leaky_relu(u) = u·(1/100 + 99/100·h), also
    at u = 0); tanh(u), log(u) and the registry's abstract activations (sigmoid(u)) → a
    symbol; exp(Σ cₖuₖ) → Π Eₖ^cₖ, one positive symbol Eₖ per uₖ (so exp(2z)·exp(−z) = E(z),
    as it should).
    """

    TAGS: ClassVar[dict[type, int]] = {sp.tanh: 2, sp.log: 4}

    def __init__(self) -> None:
        self.table: dict[sp.Basic, sp.Symbol] = {}
        self.steps: set[sp.Symbol] = set()
        self.positive: set[sp.Symbol] = set()
        self.memo: dict[sp.Basic, sp.Basic] = {}

    def _symbol(self, *key: sp.Basic) -> sp.Symbol:
        k = sp.Tuple(*key)
        if k not in self.table:
            self.table[k] = sp.Dummy(f"t{len(self.table)}")
        return self.table[k]

    def __call__(self, e: sp.Basic) -> sp.Basic:
        if not e.args:
            return e
        if e in self.memo:
            return self.memo[e]
        args = [self(a) for a in e.args]
        out: sp.Basic
        entry: Activation | None = by_function(e.func)
        if entry is not None and entry.kink is not None:
            h = self._symbol(sp.S.Zero, args[0])
            self.steps.add(h)
            out = entry.kink.gated(args[0], h)
        elif entry is not None and entry.abstract:
            out = self._symbol(sp.Symbol(entry.name), *args)
        elif isinstance(e, sp.Heaviside) and len(e.args) == 2 and e.args[1] == 0:
            out = self._symbol(sp.S.Zero, args[0])
            self.steps.add(out)
        elif isinstance(e, sp.exp):
            out = sp.Mul(*(self._exp_term(t) for t in sp.Add.make_args(args[0])))
        elif type(e) in self.TAGS:
            out = self._symbol(sp.Integer(self.TAGS[type(e)]), *args)
        else:
            out = e.func(*args) if args != list(e.args) else e
        self.memo[e] = out
        return out

    def _exp_term(self, t: sp.Expr) -> sp.Expr:
        """exp(c·u) = E(u)^c for an integer c (so exp(2z)·exp(−z) = E(z))."""
        c, u = t.as_coeff_Mul()
        if u == 1:
            return sp.exp(t)
        if not c.is_Integer:
            c, u = sp.S.One, t
        E = self._symbol(sp.Integer(3), u)
        self.positive.add(E)
        return E**c

    def idempotent(self, e: sp.Expr) -> sp.Expr:
        """step(u)ᵏ = step(u) for k ≥ 1."""
        if not self.steps:
            return e
        return e.replace(
            lambda t: t.is_Pow and t.base in self.steps and t.exp.is_Integer and t.exp > 0,
            lambda t: t.base,
        )


def _nodes(e: sp.Basic, limit: int) -> int:
    n = 0
    for _ in sp.preorder_traversal(e):
        n += 1
        if n > limit:
            break
    return n


def _expands_to_zero(d: sp.Expr, atoms: Atoms) -> bool | None:
    """True/False when the expansion decides cheaply, None when it would be too slow."""
    size = _nodes(d, POLYNOMIAL_NODES)
    if not any(p.exp.is_negative for p in d.atoms(sp.Pow)):
        if size > POLYNOMIAL_NODES:
            return None
        return bool(sp.expand(atoms.idempotent(sp.expand(d))) == 0)
    if size > RATIONAL_NODES:
        return None
    if not atoms.steps:
        return bool(sp.cancel(d) == 0)
    numerator = sp.together(d).as_numer_denom()[0]
    return bool(sp.expand(atoms.idempotent(sp.expand(numerator))) == 0)


class _GiveUp(Exception):
    """The evaluation cannot be done exactly (a pole, too many gates, an unknown function)."""


Multilinear = dict[frozenset[sp.Symbol], Fraction]
MAX_GATES_IN_A_DENOMINATOR = 10


class _Evaluator:
    """Evaluate an abstracted entry exactly as a multilinear polynomial in the step symbols.

    Every other symbol gets a random rational; a step symbol h takes the values 0 and 1 only,
    so hᵏ = h and any function of the steps is multilinear: a value is a map from a set of
    steps (a monomial) to its rational coefficient. The entry vanishes for *every* pattern of
    active units exactly when all coefficients are 0 — no sampled gate can hide a mistake.
    """

    def __init__(self, point: dict[sp.Symbol, Fraction], steps: set[sp.Symbol]) -> None:
        self.point, self.steps = point, steps
        self.memo: dict[sp.Basic, Multilinear] = {}

    def __call__(self, e: sp.Basic) -> Multilinear:
        if e not in self.memo:
            self.memo[e] = self._eval(e)
        return self.memo[e]

    def _eval(self, e: sp.Basic) -> Multilinear:
        if e.is_Rational:
            return {frozenset(): Fraction(int(e.p), int(e.q))} if e != 0 else {}
        if e.is_Symbol:
            if e in self.steps:
                return {frozenset([e]): Fraction(1)}
            if e not in self.point:
                raise _GiveUp(str(e))
            return {frozenset(): self.point[e]}
        if isinstance(e, sp.Add):
            out: Multilinear = {}
            for a in e.args:
                _add(out, self(a))
            return out
        if isinstance(e, sp.Mul):
            out = {frozenset(): Fraction(1)}
            for a in e.args:
                out = _times(out, self(a))
            return out
        if isinstance(e, sp.Pow) and e.exp.is_Integer:
            base, n = self(e.base), int(e.exp)
            if n < 0:
                base, n = _inverse(base), -n
            out = {frozenset(): Fraction(1)}
            for _ in range(n):
                out = _times(out, base)
            return out
        raise _GiveUp(type(e).__name__)


def _add(acc: Multilinear, d: Multilinear) -> None:
    for key, c in d.items():
        total = acc.get(key, Fraction(0)) + c
        if total:
            acc[key] = total
        else:
            acc.pop(key, None)


def _times(a: Multilinear, b: Multilinear) -> Multilinear:
    out: Multilinear = {}
    for ka, ca in a.items():
        for kb, cb in b.items():
            _add(out, {ka | kb: ca * cb})
    return out


def _inverse(d: Multilinear) -> Multilinear:
    """1/f for f multilinear in 0/1 steps: invert at every pattern, then back to coefficients."""
    gates = sorted(set().union(*d), key=str)
    if len(gates) > MAX_GATES_IN_A_DENOMINATOR:
        raise _GiveUp("too many gates in a denominator")
    index = {g: i for i, g in enumerate(gates)}
    masks = {sum(1 << index[g] for g in key): c for key, c in d.items()}
    size = 1 << len(gates)
    values = [sum((c for mk, c in masks.items() if mk & s == mk), Fraction(0))
              for s in range(size)]
    if any(v == 0 for v in values):
        raise _GiveUp("pole")
    coeffs = [1 / v for v in values]
    for i in range(len(gates)):  # Möbius transform: values on patterns → coefficients
        for s in range(size):
            if s & (1 << i):
                coeffs[s] -= coeffs[s ^ (1 << i)]
    return {frozenset(g for g in gates if s & (1 << index[g])): c
            for s, c in enumerate(coeffs) if c}


def _zero_at_random_points(diffs: list[sp.Expr], atoms: Atoms, seed: int) -> bool:
    # lazy: NumPy's generator only when a proof samples; `jlab derive` mostly expands
    import numpy as np

    rng = np.random.default_rng(seed)
    variables = sorted(set().union(*(d.free_symbols for d in diffs)) - atoms.steps, key=str)
    done = tries = 0
    while done < POINTS and tries < 4 * POINTS:
        tries += 1
        point = {}
        for v in variables:
            sign = 1 if v in atoms.positive else int(rng.choice([-1, 1]))
            point[v] = Fraction(sign * int(rng.integers(1, 97)), int(rng.integers(1, 89)))
        evaluate = _Evaluator(point, atoms.steps)
        try:
            if any(evaluate(d) for d in diffs):
                return False
        except _GiveUp as why:
            if str(why) == "pole":
                continue
            return False
        except ZeroDivisionError:
            continue
        done += 1
    return done == POINTS


def identical(truth: sp.Matrix, claimed: sp.Matrix, seed: int = 0) -> tuple[Method, int] | None:
    """``("symbolic", 0)`` or ``("sampled", points)`` when ``claimed`` equals ``truth`` entry by
    entry; None when this fast path cannot tell (not necessarily a mismatch)."""
    if truth.shape != claimed.shape:
        return None
    atoms = Atoms()
    diffs = [atoms(c - t) for t, c in zip(truth, claimed, strict=True)]
    diffs = [d for d in diffs if d != 0]
    if not diffs:
        return "symbolic", 0
    try:
        decided = [_expands_to_zero(d, atoms) for d in diffs]
        if all(decided):
            return "symbolic", 0
    except (sp.PolynomialError, RecursionError):
        pass
    if _zero_at_random_points(diffs, atoms, seed):
        return "sampled", POINTS
    return None


__all__ = ["Atoms", "identical"]
