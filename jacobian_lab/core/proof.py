"""The proof: a result counts only once it has been instantiated at several concrete sizes
and shown equal, entry by entry, to the component layer (``sympy.Matrix.jacobian`` on explicit
scalar symbols), through :func:`jacobian_lab.judge.checker.compare`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import sympy as sp

from jacobian_lab.budget import deadline
from jacobian_lab.core import symengine_proof
from jacobian_lab.core.derivation import (
    ClaimVerdict,
    Derivation,
    Proof,
    Result,
    ResultProof,
    Sizes,
    substitute,
)
from jacobian_lab.core.parallel import idle_cores, run
from jacobian_lab.errors import BudgetExceeded, ShapeError
from jacobian_lab.judge.verdict import Check
from jacobian_lab.judge.verdict import mismatches as _mismatches
from jacobian_lab.matrix.explicit import Instantiator, components
from jacobian_lab.matrix.fastcheck import identical


def _size_label(sizes: Mapping[sp.Symbol, int]) -> str:
    if not sizes:
        return "scalars"
    return ",".join(f"{k}={v}" for k, v in sorted(sizes.items(), key=lambda kv: str(kv[0])))


def component_truth(
    result: Result, sizes: Mapping[sp.Symbol, int], inst: Instantiator | None = None
) -> tuple[sp.Matrix, Instantiator]:
    """Differentiate the explicit components of ``result.of`` — the ground truth.

    ``inst`` may be shared by the results proven at one size (it remembers what it built).
    """
    inst = inst or Instantiator(sizes)
    of = inst(substitute(result.of, result.defs))
    of = of if isinstance(of, sp.MatrixBase) else sp.Matrix([[of]])
    if result.kind == "value":
        return of, inst
    if not isinstance(result.wrt, sp.MatrixSymbol):
        raise ShapeError(f"{result.lhs}: a matrix-layer result needs a MatrixSymbol wrt")
    wrt = components(result.wrt, inst.sizes)
    inst.env.setdefault(result.wrt.name, wrt)
    if result.kind in ("jacobian", "denominator"):
        if of.cols != 1:
            raise ShapeError(f"{result.of} is not a column: its Jacobian is a tensor")
        truth = of.jacobian(sp.Matrix(list(wrt)))
        truth = truth.T if result.kind == "denominator" else truth
    else:
        if of.shape != (1, 1):
            raise ShapeError(f"gradient of a non-scalar {result.of}")
        truth = wrt.applyfunc(lambda w: sp.diff(of[0, 0], w))
    return truth, inst


def _assumed(m: sp.Matrix, result: Result, inst: Instantiator) -> sp.Matrix:
    if result.assume is None:
        return m
    return m.xreplace(result.assume(inst.env))


def explicit_truth(result: Result) -> sp.Matrix:
    """The truth of a component-level result (``of`` an explicit matrix of scalars)."""
    if result.kind == "value":
        return sp.Matrix(result.of)
    truth = sp.Matrix(result.of).jacobian(sp.Matrix(list(result.wrt)))
    return truth.T if result.kind == "gradient" else truth


def prove_result(
    result: Result, sizes: Mapping[sp.Symbol, int], seed: int = 0,
    inst: Instantiator | None = None, fast: bool = False,
) -> Check:
    """Compare one result with the component layer at ``sizes`` (``fast``: see
    :func:`jacobian_lab.judge.checker.compare`)."""
    if isinstance(result.of, sp.MatrixBase):  # a component-level result: scalar variables
        # lazy: the checker (sampling, diagnosis: NumPy) loads only when a proof needs it
        from jacobian_lab.judge.checker import compare

        extra = [] if result.kind == "value" else list(result.of)
        return compare(explicit_truth(result), result.expr, seed=seed, extra_exprs=extra,
                       fast=fast)
    inst = inst or Instantiator(sizes)
    # the common case, a right result, decided by SymEngine when it can; else its truth
    fast_truth = symengine_proof.prove_fast(result, inst)
    if isinstance(fast_truth, Check):
        return fast_truth
    if fast_truth is not None:
        truth = fast_truth
    else:
        truth, inst = component_truth(result, sizes, inst)
    domain = inst(substitute(result.of, result.defs))  # memoized: built for the truth
    extra = list(domain) if isinstance(domain, sp.MatrixBase) else [domain]
    return judge(result, truth, instantiate_claim(result, inst), inst, seed=seed, fast=fast,
                 extra=extra)


def instantiate_claim(result: Result, inst: Instantiator) -> sp.Matrix:
    """``result.expr`` with its intermediates substituted, as an explicit matrix."""
    claimed = inst(substitute(result.expr, result.defs))
    return claimed if isinstance(claimed, sp.MatrixBase) else sp.Matrix([[claimed]])


def judge(
    result: Result, truth: sp.Matrix, claimed: sp.Matrix, inst: Instantiator, seed: int = 0,
    fast: bool = False, extra: list[sp.Expr] | None = None,
) -> Check:
    """Compare an instantiated claim with the instantiated truth (the result's ``assume``
    applied to both): the fast exact test first, then the checker (``fast``: without
    simplification or diagnosis, see :func:`jacobian_lab.judge.checker.compare`). ``extra``
    (the function itself) keeps the sampled points in its domain: a counterexample to the
    gradient of log det X has det X > 0."""
    truth, claimed = _assumed(truth, result, inst), _assumed(claimed, result, inst)
    extra = [e.xreplace(result.assume(inst.env)) if result.assume else e for e in extra or []]
    if fast and truth.shape == claimed.shape:  # most claims are wrong: look for a witness
        # lazy: the witness search (NumPy) loads only for fast verdicts
        from jacobian_lab.judge.witness import refute

        wrong = refute(truth, claimed, seed=seed, extra_exprs=extra)
        if wrong is not None:
            return wrong
    same = identical(truth, claimed, seed=seed)  # confirms the common case quickly
    if same is not None:
        return Check("correct", same[0], truth, claimed, points=same[1])
    if not truth.free_symbols and not claimed.free_symbols and truth.shape == claimed.shape:
        return _numbers_differ(truth, claimed)  # a worked example: nothing to sample
    # lazy: the checker (sampling, diagnosis: NumPy) loads only when the fast test cannot
    # confirm the claim — a wrong result, or one it cannot decide
    from jacobian_lab.judge.checker import compare

    return compare(truth, claimed, seed=seed, fast=fast, witness=False,  # searched above
                   extra_exprs=extra)


def _numbers_differ(truth: sp.Matrix, claimed: sp.Matrix) -> Check:
    """Two explicit numeric matrices that ``identical`` found different: list the entries."""
    bad = {i: (float(truth[i]), float(claimed[i])) for i in range(len(truth))
           if sp.simplify(claimed[i] - truth[i]) != 0}
    mismatches = _mismatches(truth, claimed, bad)
    text = "; ".join(f"entry ({m.row},{m.col}) is {sp.sstr(m.claimed)}, not "
                     f"{sp.sstr(m.expected)}" for m in mismatches)
    return Check("incorrect", "symbolic", truth, claimed, mismatches=mismatches,
                 diagnosis=text or None)


def prove(derivation: Derivation, sizes: Sequence[Mapping[sp.Symbol, int]] | None = None,
          workers: int | None = None) -> Proof:
    """Instantiate every result at every size and compare with the component layer.

    A result with its own ``sizes`` is proven at those (unless ``sizes`` is given here). The
    checks are independent: with ``workers`` > 1 (default: the idle cores) and enough of
    them they run in forked processes (:mod:`jacobian_lab.core.parallel`), with the same
    verdicts as here.
    """
    t0 = time.perf_counter()
    plan = _Plan(derivation, sizes)
    done = run(plan.group, range(len(plan.order)), idle_cores() if workers is None else workers,
               plan.count)
    return plan.assemble(done, time.perf_counter() - t0)


def prove_many(derivations: Sequence[Derivation], workers: int | None = None,
               budget: float = math.inf) -> list[Proof]:
    """:func:`prove` each derivation, all their checks in one pool of workers (the largest
    first, so that no worker is left alone with a big one at the end). Each group of checks
    (one derivation at one size) runs within ``budget`` seconds; past it
    :class:`~jacobian_lab.errors.BudgetExceeded` names the derivation. A proof's ``seconds``
    are those its checks took, wherever they ran."""
    plans = [_Plan(d) for d in derivations]
    flat = sorted(((p, g) for p, plan in enumerate(plans) for g in range(len(plan.order))),
                  key=lambda pg: -plans[pg[0]].weight(pg[1]))

    def one(t: int) -> tuple[list[Check], float]:
        p, g = flat[t]
        t0 = time.perf_counter()
        try:
            with deadline(budget):
                checks = plans[p].group(g)
        except BudgetExceeded:
            raise BudgetExceeded(budget, f"proving `{plans[p].derivation.name}`",
                                 "give each proof more time with --budget SECONDS") from None
        return checks, time.perf_counter() - t0

    done = run(one, range(len(flat)), idle_cores() if workers is None else workers,
               sum(plan.count for plan in plans))
    out = []
    for p, plan in enumerate(plans):
        mine = {g: done[t] for t, (q, g) in enumerate(flat) if q == p}
        out.append(plan.assemble({g: c for g, (c, _) in mine.items()},
                                 sum(sec for _, sec in mine.values())))
    return out


class _Plan:
    """The checks of one proof — each result at each of its sizes, then each claim — in
    groups of one size each: a group's checks share an Instantiator (and SymPy's cache), so a
    group stays in one process."""

    def __init__(self, derivation: Derivation,
                 sizes: Sequence[Mapping[sp.Symbol, int]] | None = None) -> None:
        self.derivation = d = derivation
        size_list: list[Sizes] = list(sizes) if sizes is not None else list(d.sizes)
        self.size_list = size_list or [{}]  # component-level results need no size
        self.shared: dict[str, Instantiator] = {}  # one per size: subexpressions built once

        def own(r: Result) -> list[Sizes]:
            return list(r.sizes) if r.sizes and sizes is None else self.size_list

        self.tasks: list[tuple[int, Sizes]] = [
            (i, s) for i, r in enumerate(d.results) for s in own(r)]
        self.claim_sizes: list[Sizes] = []
        for c in d.claims:
            claim_sizes = own(d.results[c.result])
            self.claim_sizes.append(claim_sizes[min(1, len(claim_sizes) - 1)])
        self.every: list[Sizes] = [s for _, s in self.tasks] + self.claim_sizes
        self.count = len(self.every)
        groups: dict[str, list[int]] = {}
        for k, s in enumerate(self.every):
            groups.setdefault(_size_label(s), []).append(k)
        # the largest sizes first, not to leave one worker alone with them at the end
        self.order = sorted(groups.values(), key=lambda ks: -len(ks) * _weight(self.every[ks[0]]))

    def weight(self, g: int) -> int:
        return len(self.order[g]) * _weight(self.every[self.order[g][0]])

    def check(self, k: int) -> Check:
        d = self.derivation
        if k < len(self.tasks):
            i, s = self.tasks[k]
            inst = self.shared.setdefault(_size_label(s), Instantiator(s))
            return prove_result(d.results[i], s, inst=inst)
        return _claim_check(d, k - len(self.tasks), self.claim_sizes[k - len(self.tasks)])

    def group(self, g: int) -> list[Check]:
        return [self.check(k) for k in self.order[g]]

    def assemble(self, by_group: Mapping[int, list[Check]], seconds: float) -> Proof:
        done = {k: c for g, checks in by_group.items()
                for k, c in zip(self.order[g], checks, strict=True)}
        d, n = self.derivation, len(self.tasks)
        results = [ResultProof(r.lhs, tuple((_size_label(s), done[k])
                                            for k, (j, s) in enumerate(self.tasks) if j == i))
                   for i, r in enumerate(d.results)]
        verdicts = [ClaimVerdict(c, done[n + m].ok, done[n + m],
                                 _size_label(self.claim_sizes[m]))
                    for m, c in enumerate(d.claims)]
        labels: list[str] = []
        for rp in results:  # the sizes actually used (a result may have its own)
            labels += [label for label, _ in rp.checks if label not in labels]
        labels = labels or [_size_label(s) for s in self.size_list]
        proof = Proof(tuple(results), tuple(verdicts), tuple(labels), seconds)
        d.proof = proof
        return proof


def _weight(s: Mapping[sp.Symbol, int] | None) -> int:
    """A rough cost of proving at sizes ``s``: the product of the sizes."""
    out = 1
    for v in (s or {}).values():
        out *= int(v)
    return out


def _claim_check(derivation: Derivation, n: int, s: Mapping[sp.Symbol, int]) -> Check:
    """The verdict on the notes' claim ``n``: its expression in place of the result's."""
    c = derivation.claims[n]
    target = derivation.results[c.result]
    as_result = Result(target.lhs, c.expr, target.of, target.wrt, target.kind,
                       target.defs, target.assume)
    try:
        return prove_result(as_result, s)
    except ShapeError as exc:
        return Check("incorrect", "none", sp.Matrix(), sp.Matrix(), diagnosis=str(exc))
