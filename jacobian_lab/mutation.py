"""Mutation testing of the checks: does every verification fail when a formula is wrong?

Each formula the project trusts — every result of the catalog, every kernel's expression —
is mutated the ways hand derivations go wrong, and the check that guards it must fail:

========================  ==============================================================
operator                  the mutant
========================  ==============================================================
``scale``                 the formula times 1001/1000 (a slightly wrong constant)
``sign``                  the formula negated
``transpose``             the formula transposed (denominator layout)
``drop-term``             one term removed from one sum (every term of every sum)
``relu'(0)``              ReLU'(0) = 1 instead of 0 (``Heaviside(z, 1)`` for the step)
``drop-1/m``              the batch mean's 1/m removed
``shift``                 a constant of the formula moved by a relative 1e-6 (judge level)
``nonlinear-kink``        ReLU'(0) = 1 on a kink whose argument is not linear (judge level)
========================  ==============================================================

Five levels are tested (:func:`run`):

* **catalog** — the mutated result goes through the proof (``proof.judge`` against the
  component-layer truth) at each of the result's sizes;
* **kernel** — the mutated kernel expression goes through the kernel verification
  (:func:`jacobian_lab.codegen.specs.verify`, against the kernel's component truth);
* **training** — the mutated kernel is generated as NumPy (``codegen.kernel_source``),
  swapped into :mod:`jacobian_lab.kernels`, and the trainer's gradient check
  (:func:`jacobian_lab.training.checks.check_gradients`) runs on a batch that includes an
  all-zero input, so ReLU pre-activations sit exactly on the kink;
* **assertions** — mutants of correct hand-written backward passes must be rejected by
  :func:`jacobian_lab.testing.assert_gradient` (:mod:`jacobian_lab.testing._mutants`);
* **judge** — mutants of the true derivatives of generated hard cases (scales 1e-30 … 1e30,
  shifts up to 1e4, kinks that are not linear; :mod:`jacobian_lab.judge.edge_cases`) must not be
  called correct by :func:`jacobian_lab.judge.checker.compare`.

A mutant the check does not catch is either **equivalent** — it has the same value as the
original (transposing a symmetric matrix or a 1 × 1 one; decided by comparing the mutant with
the original formula, exactly, at the same sizes, or on the same batch for training) — or
**missed**. The score is caught / (caught + missed); the goal is 1.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import sympy as sp
from sympy.matrices.exceptions import NonSquareMatrixError
from sympy.matrices.exceptions import ShapeError as SympyShapeError
from sympy.matrices.expressions.matexpr import MatrixExpr

from jacobian_lab.errors import JlabError, ShapeError
from jacobian_lab.matrix.expr import Apply

SCALE = sp.Rational(1001, 1000)
OPERATORS = ("scale", "sign", "transpose", "drop-term", "relu'(0)", "drop-1/m", "shift",
             "nonlinear-kink")
LEVELS = ("catalog", "kernel", "training", "assertions", "judge")
# assertions: jacobian_lab.testing; judge: the checker on jacobian_lab.judge.edge_cases
Status = Literal["caught", "equivalent", "missed"]
Defs = tuple[tuple[sp.MatrixSymbol, sp.Basic], ...]
_SHAPE_ERRORS = (ShapeError, SympyShapeError, NonSquareMatrixError, ValueError)


# --------------------------------------------------------------------------- mutants


@dataclass(frozen=True)
class Mutant:
    """A mutated formula. ``post`` is applied to the instantiated (explicit) claim — the
    ReLU'(0) swap, which has no matrix-layer node of its own; ``defs`` replaces the result's
    definitions when the mutation reaches into them (a 1/m inside δ's definition)."""

    operator: str
    detail: str
    expr: Any
    defs: Defs | None = None
    post: Callable[[sp.Matrix], sp.Matrix] | None = None


def _text(e: sp.Basic) -> str:
    from jacobian_lab.printing.notation import notation

    try:
        return notation(e)
    except Exception:  # a mutated node the notation printer has no rule for
        return sp.sstr(e)


def _is_matrix(e: Any) -> bool:
    return isinstance(e, MatrixExpr | sp.MatrixBase)


def _times(c: sp.Expr, e: Any) -> Any:
    if isinstance(e, MatrixExpr):
        return sp.MatMul(c, e)
    return e * c


def _sums(e: Any) -> Iterator[sp.Basic]:
    seen: set[sp.Basic] = set()
    for node in sp.preorder_traversal(e):
        if isinstance(node, sp.Add | sp.MatAdd) and node not in seen:
            seen.add(node)
            yield node


def _without(node: sp.Basic, i: int) -> sp.Basic:
    rest = node.args[:i] + node.args[i + 1:]
    if len(rest) == 1:
        return rest[0]
    return sp.MatAdd(*rest) if isinstance(node, sp.MatAdd) else sp.Add(*rest)


def _drop_terms(e: Any) -> Iterator[Mutant]:
    if isinstance(e, sp.MatrixBase):  # an explicit result: every sum of every entry
        for k, entry in enumerate(e):
            for node in _sums(entry):
                for i, term in enumerate(node.args):
                    m = sp.Matrix(e)
                    m[k] = entry.xreplace({node: _without(node, i)})
                    yield Mutant("drop-term", f"entry {k + 1}: drop {_text(term)} from "
                                 f"{_text(node)}", m)
        return
    for node in _sums(e):
        for i, term in enumerate(node.args):
            yield Mutant("drop-term", f"drop {_text(term)} from {_text(node)}",
                         e.xreplace({node: _without(node, i)}))


def _is_relu_step(x: sp.Basic) -> bool:
    return (isinstance(x, Apply) and x.fname == "relu" and x.order == 1) or (
        isinstance(x, sp.Heaviside) and len(x.args) == 2 and x.args[1] == 0)


def swap_relu_at_zero(m: Any) -> Any:
    """Every ``Heaviside(u, 0)`` (ReLU'(u) with ReLU'(0) = 0) as ``Heaviside(u, 1)``."""
    return m.replace(lambda x: isinstance(x, sp.Heaviside) and len(x.args) == 2
                     and x.args[1] == 0, lambda x: sp.Heaviside(x.args[0], 1))


def _is_inverse_m(x: sp.Basic) -> bool:
    return (isinstance(x, sp.Pow) and isinstance(x.base, sp.Symbol) and x.base.name == "m"
            and x.exp.is_negative)


def mutants(expr: Any, defs: Defs = ()) -> list[Mutant]:
    """Every mutant of ``expr`` (a matrix expression, an explicit matrix or a scalar)."""
    out = [Mutant("scale", "× 1001/1000", _times(SCALE, expr)),
           Mutant("sign", "× (−1)", _times(sp.Integer(-1), expr))]
    if isinstance(expr, MatrixExpr):
        out.append(Mutant("transpose", "transposed", sp.Transpose(expr)))
    elif isinstance(expr, sp.MatrixBase):
        out.append(Mutant("transpose", "transposed", sp.Matrix(expr).T))
    out += list(_drop_terms(expr))
    inside = [expr, *(d for _, d in defs)]
    if any(any(_is_relu_step(x) for x in sp.preorder_traversal(e)) for e in inside):
        if isinstance(expr, MatrixExpr):  # the step has no node of its own: swap it after
            out.append(Mutant("relu'(0)", "ReLU'(0) = 1", expr, post=swap_relu_at_zero))
        else:
            out.append(Mutant("relu'(0)", "ReLU'(0) = 1", swap_relu_at_zero(expr)))
    if any(any(_is_inverse_m(x) for x in sp.preorder_traversal(e)) for e in inside):
        drop = {x: sp.S.One for e in inside for x in sp.preorder_traversal(e)
                if _is_inverse_m(x)}
        new_defs = tuple((n, d.xreplace(drop)) for n, d in defs)
        out.append(Mutant("drop-1/m", "without the 1/m", expr.xreplace(drop),
                          defs=new_defs if defs else None))
    return out


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    level: str
    target: str
    operator: str
    detail: str
    status: Status
    by: str  # what caught it, or why it is equivalent / missed
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "target": self.target, "operator": self.operator,
                "detail": self.detail, "status": self.status, "by": self.by,
                "seconds": round(self.seconds, 3)}


@dataclass
class Score:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: Status, level: str | None = None) -> int:
        return sum(o.status == status and (level is None or o.level == level)
                   for o in self.outcomes)

    def score(self, level: str | None = None) -> float:
        caught = self.count("caught", level)
        changed = caught + self.count("missed", level)
        return caught / changed if changed else 1.0

    @property
    def missed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "missed"]

    @property
    def perfect(self) -> bool:
        return not self.missed

    def table(self) -> list[tuple[str, str, int, int, int]]:
        """(level, operator, caught, equivalent, missed) rows."""
        c: Counter[tuple[str, str, str]] = Counter(
            (o.level, o.operator, o.status) for o in self.outcomes)
        rows = []
        seen = [op for op in dict.fromkeys(o.operator for o in self.outcomes)
                if op not in OPERATORS]
        for level in LEVELS:
            for op in (*OPERATORS, *seen):
                caught, eq, missed = (c[(level, op, s)] for s in ("caught", "equivalent",
                                                                  "missed"))
                if caught or eq or missed:
                    rows.append((level, op, caught, eq, missed))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score(),
            "caught": self.count("caught"),
            "equivalent": self.count("equivalent"),
            "missed": self.count("missed"),
            "levels": {lv: {"score": self.score(lv), "caught": self.count("caught", lv),
                            "equivalent": self.count("equivalent", lv),
                            "missed": self.count("missed", lv)}
                       for lv in LEVELS if any(o.level == lv for o in self.outcomes)},
            "seconds": round(self.seconds, 2),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }


Progress = Callable[[Outcome], None]


_item_budget: ContextVar[float] = ContextVar("mutation_item_budget", default=math.inf)
"""Seconds one judgement may take (:func:`run`'s ``budget``)."""


def _timed(level: str, target: str, mu: Mutant, progress: Progress | None,
           judge: Callable[..., tuple[Status, str]], *args: Any) -> Outcome:
    """Run one judgement ``judge(*args)`` within the budget, time it, report it to
    ``progress``."""
    from jacobian_lab.budget import deadline
    from jacobian_lab.errors import BudgetExceeded

    t0 = time.perf_counter()
    seconds = _item_budget.get()
    try:
        with deadline(seconds):
            status, by = judge(*args)
    except BudgetExceeded:
        raise BudgetExceeded(seconds, f"judging the mutant {mu.operator} ({mu.detail}) of "
                             f"{target}", "give each mutant more time with --budget SECONDS"
                             ) from None
    o = Outcome(level, target, mu.operator, mu.detail, status, by, time.perf_counter() - t0)
    if progress:
        progress(o)
    return o


# --------------------------------------------------------------------------- catalog


def _same(a: sp.Matrix, b: sp.Matrix) -> bool:
    """Exactly the same value (the test for an equivalent mutant)."""
    from jacobian_lab.judge.checker import compare
    from jacobian_lab.matrix.fastcheck import identical

    if a.shape != b.shape:
        return False
    if identical(a, b) is not None:
        return True
    try:
        return compare(a, b, samples=6, diagnose=False, kink_points=4).ok
    except ShapeError:
        return False


def catalog_outcomes(names: Sequence[str] | None = None,
                     progress: Progress | None = None) -> Iterator[Outcome]:
    """Mutate every result of the named catalog entries (default: all) and prove each."""
    import derivations

    for name in names or derivations.names():
        d = derivations.get(name)
        for idx, r in enumerate(d.results):
            target = f"{name}: {_text(r.lhs)}"
            judge = _CatalogJudge(d, idx)
            for mu in mutants(r.expr, r.defs):
                yield _timed("catalog", target, mu, progress, judge, mu)


class _CatalogJudge:
    """Proves mutants of one result, reusing the truth built once per size."""

    def __init__(self, d: Any, idx: int) -> None:
        from jacobian_lab.core.proof import component_truth

        self.result = r = d.results[idx]
        self.explicit = isinstance(r.of, sp.MatrixBase)
        sizes = list(r.sizes) or list(d.sizes) or [{}]
        self.sizes = [] if self.explicit else sizes
        self._truth = component_truth
        if self.explicit:
            from jacobian_lab.core.proof import explicit_truth

            self.explicit_truth = explicit_truth(r)
        self._cache: dict[int, tuple[sp.Matrix, Any]] = {}

    def truth(self, i: int) -> tuple[sp.Matrix, Any]:
        if i not in self._cache:
            self._cache[i] = self._truth(self.result, self.sizes[i])
        return self._cache[i]

    def __call__(self, mu: Mutant) -> tuple[Status, str]:
        from jacobian_lab.core.proof import instantiate_claim, judge
        from jacobian_lab.judge.checker import compare

        r = self.result
        mutated = replace(r, expr=mu.expr, defs=mu.defs if mu.defs is not None else r.defs)
        if self.explicit:
            try:
                check = compare(self.explicit_truth, mu.expr, fast=True,
                                extra_exprs=[] if r.kind == "value" else list(r.of))
            except _SHAPE_ERRORS as e:
                return "caught", f"shape: {e}"
            if not check.ok:
                return "caught", f"proof: {check.summary()}"
            if _same(sp.Matrix(r.expr), sp.Matrix(mu.expr)):
                return "equivalent", "equal to the original result"
            return "missed", "the value changed but the proof passed"
        for i in range(len(self.sizes)):
            truth, inst = self.truth(i)
            label = _label(self.sizes[i])
            try:
                claimed = instantiate_claim(mutated, inst)
                if mu.post:
                    claimed = mu.post(claimed)
                check = judge(r, truth, claimed, inst, fast=True)
            except _SHAPE_ERRORS as e:
                return "caught", f"shape at {label}: {e}"
            if not check.ok:
                return "caught", f"proof at {label}: {check.summary()}"
        for i in range(len(self.sizes)):
            _, inst = self.truth(i)
            original = instantiate_claim(r, inst)
            claimed = instantiate_claim(mutated, inst)
            if mu.post:
                claimed = mu.post(claimed)
            if not _same(_assume(r, original, inst), _assume(r, claimed, inst)):
                return "missed", f"the value changed at {_label(self.sizes[i])} but every " \
                                 "proof passed"
        return "equivalent", "equal to the original at every size " + \
            ", ".join(_label(s) for s in self.sizes)


def _assume(r: Any, m: sp.Matrix, inst: Any) -> sp.Matrix:
    return m.xreplace(r.assume(inst.env)) if r.assume is not None else m


def _label(sizes: Any) -> str:
    if not sizes:
        return "scalars"
    return ",".join(f"{k}={v}" for k, v in sorted(sizes.items(), key=lambda kv: str(kv[0])))


# --------------------------------------------------------------------------- kernels


def _kernel_mutants(spec: Any) -> Iterator[tuple[Any, str | None, Mutant, str]]:
    """(mutated spec, or None with the reason the spec refuses it; mutant; output name)."""
    for oi, (oname, e) in enumerate(spec.outputs):
        for mu in mutants(e):
            outputs = tuple((n, mu.expr if k == oi else x)
                            for k, (n, x) in enumerate(spec.outputs))
            try:
                yield replace(spec, outputs=outputs), None, mu, oname
            except JlabError as err:  # a spec whose parameter is no longer used
                yield None, f"spec validation: {err}", mu, oname


def kernel_outcomes(names: Sequence[str] | None = None,
                    progress: Progress | None = None) -> Iterator[Outcome]:
    """Mutate every output of every kernel spec; the kernel verification must fail."""
    from jacobian_lab.codegen.specs import kernel_specs, verify

    for spec in kernel_specs():
        if names and spec.name not in names:
            continue
        for mspec, refused, mu, oname in _kernel_mutants(spec):
            yield _timed("kernel", f"{spec.name}: {oname}", mu, progress, _judge_kernel,
                         spec, mspec, refused, mu, oname, verify)


def _judge_kernel(spec: Any, mspec: Any, refused: str | None, mu: Mutant, oname: str,
                  verify: Callable[..., Any]) -> tuple[Status, str]:
    if refused is not None:
        return "caught", refused
    from jacobian_lab.codegen.specs import VERIFY_SIZES
    from jacobian_lab.matrix.explicit import Instantiator

    try:
        checks = verify(mspec, transform=mu.post, fast=True)
    except _SHAPE_ERRORS as e:
        return "caught", f"shape: {e}"
    bad = [c for c in checks if not c.ok]
    if bad:
        return "caught", f"kernel verification ({bad[0].output} at {bad[0].sizes}): " \
                         f"{bad[0].check.summary()}"
    oi = [n for n, _ in spec.outputs].index(oname)
    for s in VERIFY_SIZES:
        inst = Instantiator(s)
        a, b = inst(spec.outputs[oi][1]), inst(mspec.outputs[oi][1])
        a = a if isinstance(a, sp.MatrixBase) else sp.Matrix([[a]])
        b = b if isinstance(b, sp.MatrixBase) else sp.Matrix([[b]])
        if mu.post:
            b = mu.post(b)
        if not _same(a, b):
            return "missed", "the value changed but the kernel verification passed"
    return "equivalent", "equal to the original expression"


# --------------------------------------------------------------------------- training

# Network configurations that exercise every kernel the trainer calls.
TRAINING_CONFIGS = (("relu", "cross-entropy"), ("tanh", "cross-entropy"),
                    ("sigmoid", "mse"), ("relu", "mse"))
TRAINING_SIZES = (12, 6, 5, 4)
TRAINING_BATCH = 9


def trainer_kernels(activation: str, loss: str) -> tuple[str, ...]:
    """The kernels :mod:`jacobian_lab.training.model` calls for a network."""
    out = ["dense_forward", "dense_backward", activation, f"{activation}_backward"]
    if loss == "cross-entropy":
        out += ["softmax", "softmax_cross_entropy", "softmax_cross_entropy_grad"]
    else:
        out += ["sigmoid", "mse", "mse_grad", "sigmoid_backward"]
    return tuple(out)


def _compile(spec: Any, relu_swap: bool) -> Callable[..., Any]:
    from jacobian_lab.codegen.emit import kernel_source
    from jacobian_lab.errors import VerificationError

    at_zero = 1 if relu_swap else 0
    try:
        src, into_out = kernel_source(spec, at_zero), False
    except VerificationError:  # the printer cannot write this mutant into out=
        spec, into_out = replace(spec, out=False), spec.out
        src = kernel_source(spec, at_zero)
    if relu_swap and src == kernel_source(spec):
        raise JlabError(f"{spec.name}: the generated source has no ReLU step to swap")
    namespace: dict[str, Any] = {"np": np}
    exec(compile(src, f"<mutant of {spec.name}>", "exec"), namespace)  # our generated code
    fn: Callable[..., Any] = namespace[spec.name]
    if not into_out:
        return fn

    def with_out(*args: Any, out: np.ndarray | None = None) -> Any:  # the same signature
        value = fn(*args)
        if out is None:
            return value
        out[...] = value
        return out

    return with_out


@dataclass
class _Batch:
    net: Any
    X: np.ndarray
    Y: np.ndarray


def _batches() -> dict[tuple[str, str], _Batch]:
    from jacobian_lab.training.model import init_network

    rng = np.random.default_rng(7)
    out = {}
    for act, loss in TRAINING_CONFIGS:
        net = init_network(TRAINING_SIZES, activation=act, loss=loss, rng=rng,
                           dtype=np.float64)
        X = rng.random((TRAINING_SIZES[0], TRAINING_BATCH))
        X[:, 0] = 0.0  # a blank input: with b = 0 every first-layer Z sits on the kink
        Y = np.eye(TRAINING_SIZES[-1])[:, rng.integers(0, TRAINING_SIZES[-1], TRAINING_BATCH)]
        out[(act, loss)] = _Batch(net, X, Y)
    return out


def _gradients(b: _Batch) -> list[np.ndarray]:
    from jacobian_lab.training.model import loss_and_gradients

    c, g = loss_and_gradients(b.net, b.X, b.Y)
    return [np.array([c]), *g.arrays()]


def _differs(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    for x, y in zip(a, b, strict=True):
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-13, atol=1e-15):
            return True
    return False


def training_outcomes(names: Sequence[str] | None = None,
                      progress: Progress | None = None) -> Iterator[Outcome]:
    """Swap each mutated kernel into the trainer; its gradient check must fail."""
    from jacobian_lab import kernels
    from jacobian_lab.codegen.specs import kernel_specs
    from jacobian_lab.training.checks import check_gradients

    batches = _batches()
    baseline = {}
    for key, b in batches.items():  # the control: the real kernels pass every check
        check = check_gradients(b.net, b.X, b.Y, np.random.default_rng(0))
        if not check.passed:
            raise JlabError(f"the unmutated trainer fails its own check on {key}: "
                            f"{check.failures[0]}")
        baseline[key] = _gradients(b)
    used = {k for cfg in TRAINING_CONFIGS for k in trainer_kernels(*cfg)}
    for spec in kernel_specs():
        if spec.name not in used or (names and spec.name not in names):
            continue
        configs = [cfg for cfg in TRAINING_CONFIGS if spec.name in trainer_kernels(*cfg)]
        for mspec, refused, mu, oname in _kernel_mutants(spec):
            yield _timed("training", f"{spec.name}: {oname}", mu, progress, _judge_training,
                         spec.name, mspec, refused, mu, configs, batches, baseline, kernels,
                         check_gradients)


def _judge_training(name: str, mspec: Any, refused: str | None, mu: Mutant,
                    configs: Sequence[tuple[str, str]], batches: dict[tuple[str, str], _Batch],
                    baseline: dict[Any, Any], kernels: Any,
                    check_gradients: Callable[..., Any]) -> tuple[Status, str]:
    if refused is not None:
        return "caught", f"{refused} (no kernel can be generated)"
    fn = _compile(mspec, relu_swap=mu.operator == "relu'(0)")
    original = getattr(kernels, name)
    changed_in: list[str] = []
    try:
        setattr(kernels, name, fn)
        for cfg in configs:
            b = batches[cfg]
            label = f"{cfg[0]}/{cfg[1]}"
            try:
                grads = _gradients(b)
            except _SHAPE_ERRORS as e:
                return "caught", f"{label}: backprop fails ({type(e).__name__}: {e})"
            if not _differs(grads, baseline[cfg]):
                continue
            changed_in.append(label)
            try:
                check = check_gradients(b.net, b.X, b.Y, np.random.default_rng(0))
            except _SHAPE_ERRORS as e:
                return "caught", f"gradient check on {label} raised {type(e).__name__}: {e}"
            if not check.passed:
                return "caught", f"gradient check on {label}: {check.failures[0]}"
    finally:
        setattr(kernels, name, original)
    if changed_in:
        return "missed", f"the gradients changed on {', '.join(changed_in)} but the check passed"
    return "equivalent", "same loss and gradients on the check batch of " + \
        ", ".join(f"{a}/{b}" for a, b in configs)


# --------------------------------------------------------------------------- run


def run(levels: Iterable[str] = LEVELS, names: Sequence[str] = (),
        progress: Progress | None = None, budget: float = math.inf) -> Score:
    """Run the mutation test at the given levels. ``names`` (catalog entries or kernels)
    restricts it: catalog names to the catalog level, kernel names to the other two. Each
    judgement may take ``budget`` seconds; past it, :class:`~.errors.BudgetExceeded`."""
    token = _item_budget.set(budget)
    try:
        return _run(levels, names, progress)
    finally:
        _item_budget.reset(token)


def _run(levels: Iterable[str], names: Sequence[str], progress: Progress | None) -> Score:
    import derivations
    from jacobian_lab.codegen.specs import kernel_specs
    from jacobian_lab.errors import UnknownNameError, did_you_mean

    chosen = list(levels)
    for level in chosen:
        if level not in LEVELS:
            raise UnknownNameError(f"Unknown level `{level}`{did_you_mean(level, LEVELS)}; "
                                   f"known: {', '.join(LEVELS)}")
    entries, kernel_names = derivations.names(), [s.name for s in kernel_specs()]
    for name in names:
        if name not in entries and name not in kernel_names:
            hint = did_you_mean(name, [*entries, *kernel_names])
            raise UnknownNameError(f"`{name}` is neither a catalog entry nor a kernel{hint}")
    on_catalog = [n for n in names if n in entries]
    on_kernels = [n for n in names if n in kernel_names]
    t0 = time.perf_counter()
    score = Score()
    if "catalog" in chosen and (on_catalog or not names):
        score.outcomes += catalog_outcomes(on_catalog or None, progress)
    if "kernel" in chosen and (on_kernels or not names):
        score.outcomes += kernel_outcomes(on_kernels or None, progress)
    if "training" in chosen and (on_kernels or not names):
        score.outcomes += training_outcomes(on_kernels or None, progress)
    if "assertions" in chosen and not names:
        from jacobian_lab.testing._mutants import assertion_outcomes

        for o in assertion_outcomes():
            score.outcomes.append(Outcome("assertions", *o))
            if progress:
                progress(score.outcomes[-1])
    if "judge" in chosen and not names:
        from jacobian_lab.judge.edge_cases import judge_outcomes

        for j in judge_outcomes():
            score.outcomes.append(Outcome("judge", *j))  # type: ignore[arg-type]
            if progress:
                progress(score.outcomes[-1])
    score.seconds = time.perf_counter() - t0
    return score


__all__ = ["LEVELS", "OPERATORS", "Mutant", "Outcome", "Score", "catalog_outcomes",
           "kernel_outcomes", "mutants", "run", "swap_relu_at_zero", "training_outcomes"]
