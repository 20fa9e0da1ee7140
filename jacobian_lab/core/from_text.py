"""A user's own matrix expression as a derivation: ``jlab diff EXPR --wrt NAME --shape …``.

The text is parsed and shape-checked by the language layer, built into matrix-layer nodes
with named intermediates (:mod:`jacobian_lab.matrix.from_text`), differentiated by the chain
walk over its DAG (each step named by the rule of the table that fired), and returned as a
:class:`~jacobian_lab.core.derivation.Derivation` whose results the proof instantiates at
three size assignments — every dimension varied independently, 1 included — and compares
entry by entry with component differentiation.

>>> from jacobian_lab.language.matrix_shapes import parse_shapes
>>> d = diff("x'*A*x", ["x"], parse_shapes(["A=n,n", "x=n"]))
>>> d.results[0].expr
x.T*(A + A.T)
>>> d.sizes
[{n: 1}, {n: 2}, {n: 3}]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import sympy as sp

from jacobian_lab.core.chain import chain_steps
from jacobian_lab.core.derivation import Derivation, Given, Kind, Partial, Result, Step
from jacobian_lab.core.proof import prove_result
from jacobian_lab.errors import (
    JlabError,
    ShapeError,
    UnknownNameError,
    UsageError,
    did_you_mean,
)
from jacobian_lab.judge.diagnosis import TRANSPOSE_DIAGNOSIS
from jacobian_lab.judge.verdict import Check
from jacobian_lab.language.matrix_shapes import Shape, Shapes, parse_shape
from jacobian_lab.language.matrix_syntax import names, parse
from jacobian_lab.language.matrix_variants import variants
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix.expr import T
from jacobian_lab.matrix.from_text import Built, build, declare, define
from jacobian_lab.matrix.simplify import FACTOR_RULE, factor_common, simplify

SIZES = (1, 2, 3)
Layout = Literal["numerator", "denominator"]


def size_assignments(dims: Sequence[sp.Symbol]) -> list[dict[sp.Symbol, int]]:
    """Three assignments in which every dimension takes 1, 2 and 3, and (for up to three
    dimensions) no two dimensions are equal in any one of them — a transposed or misplaced
    factor cannot hide behind square sizes.

    >>> n, m = sp.symbols("n m")
    >>> size_assignments([n, m])
    [{n: 1, m: 2}, {n: 2, m: 3}, {n: 3, m: 1}]
    """
    return [{d: SIZES[(i + k) % len(SIZES)] for i, d in enumerate(dims)}
            for k in range(len(SIZES))]


def _shape_text(s: Shape) -> str:
    return "scalar" if s.is_scalar else f"{s.rows} × {s.cols}"


def diff(text: str, wrt: Sequence[str], shapes: Mapping[str, Shape],
         sizes: Mapping[str, Sequence[int]] | None = None,
         layout: Layout = "numerator") -> Derivation:
    """The derivation of ``text`` w.r.t. each name of ``wrt`` (see the module docstring);
    ``sizes`` (``{"n": [1, 2, 4]}``) replaces the proof's size assignments, see
    :func:`chosen_sizes`; ``layout="denominator"`` transposes each Jacobian (a gradient
    w.r.t. a matrix has the matrix's shape in both layouts)."""
    if not wrt:
        raise UsageError("name the variables to differentiate with respect to (--wrt)")
    built = build(text, shapes)
    d = _derivation(built, wrt, "diff", f"∂/∂{', '.join(wrt)} of {text}",
                    f"{built.output} = {text}", _notes(built), layout)
    if sizes:
        d.sizes = chosen_sizes(sorted(built.dims.values(), key=str), sizes)
    return d


MAX_SIZE = 12  # a component instantiation grows with the product of the sizes


def chosen_sizes(dims: Sequence[sp.Symbol],
                 sizes: Mapping[str, Sequence[int]]) -> list[dict[sp.Symbol, int]]:
    """Size assignments from ``--sizes n=1,2,4``: assignment k gives each named dimension its
    k-th value and every other dimension its value in the default assignments
    (:func:`size_assignments`, cycled).

    >>> n, m = sp.symbols("n m")
    >>> chosen_sizes([n, m], {"n": [4, 5]})
    [{n: 4, m: 2}, {n: 5, m: 3}]
    """
    by_name = {str(d): d for d in dims}
    unknown = [name for name in sizes if name not in by_name]
    if unknown:
        raise UnknownNameError(f"`{unknown[0]}` is not a dimension of the expression"
                               f"{did_you_mean(unknown[0], by_name)}; its dimensions: "
                               f"{', '.join(by_name) or 'none'}")
    counts = {len(v) for v in sizes.values()}
    if len(counts) != 1 or 0 in counts:
        raise UsageError("give every dimension of --sizes the same number of values (≥ 1)")
    bad = [v for values in sizes.values() for v in values if not 1 <= v <= MAX_SIZE]
    if bad:
        raise UsageError(f"a size is a whole number from 1 to {MAX_SIZE}, not {bad[0]}")
    default = size_assignments(dims)
    return [{d: sizes[str(d)][k] if str(d) in sizes else default[k % len(default)][d]
             for d in dims} for k in range(counts.pop())]


def derivation(name: str, definitions: Sequence[tuple[str, str]], wrt: Sequence[str],
               shapes: Mapping[str, Shape | str], title: str = "", summary: str = "",
               notes: Sequence[str] = ()) -> Derivation:
    """A derivation of your own, written in the matrix language: named definitions in order
    (the last is differentiated), the variables, and their shapes — for a ``--file`` module.

    >>> d = derivation("my-layer", [("z", "W*x + b"), ("a", "tanh(z)"), ("C", "sum(a)")],
    ...                ["W", "b"], {"W": "n,m", "x": "m"})
    >>> [notation(r.expr) for r in d.results]
    ['tanh′(z) xᵀ', 'tanh′(z)ᵀ']
    """
    if not wrt:
        raise UsageError("name the variables to differentiate with respect to")
    if not definitions:
        raise UsageError("a derivation needs at least one definition")
    links = define(definitions, shapes)
    defined = {str(n) for n, _ in links}
    variables = {m.name: m for _, d in links for m in d.atoms(sp.MatrixSymbol)
                 if m.name not in defined}
    dims = {str(d): d for m in variables.values() for d in m.shape if isinstance(d, sp.Symbol)}
    known = {**{n: parse_shape(v) if isinstance(v, str) else v for n, v in shapes.items()},
             **declare(*variables.values())}
    text = "; ".join(f"{n} = {t}" for n, t in definitions)
    output = links[-1][0]
    built = Built(output, links, variables, dims,
                  Shapes(declare(output)[output.name], known, {}), text)
    return _derivation(built, wrt, name, title or f"∂/∂{', '.join(wrt)} of {definitions[-1][0]}",
                       summary or text, list(notes))


def _derivation(built: Built, wrt: Sequence[str], name: str, title: str, summary: str,
                notes: list[str], layout: Layout = "numerator") -> Derivation:
    steps: list[Step] = []
    results: list[Result] = []
    for w in wrt:
        var = _variable(built, w)
        more, result = chain_steps(built.links, var, show=notation)
        steps += more
        shorter = factor_common(result)
        if shorter != result:
            steps.append(Step(Partial(built.output, var), shorter, FACTOR_RULE,
                              "the same result, shorter"))
            result = shorter
        kind: Kind = "gradient" if var.shape[1] != 1 else "jacobian"
        if layout == "denominator" and kind == "jacobian":
            result, kind = simplify(T(result)), "denominator"
            steps.append(Step(Partial(built.output, var), result, "denominator layout",
                              "the transpose of the numerator-layout result: one column per "
                              "output"))
        results.append(Result(Partial(built.output, var), result, built.output, var, kind,
                              defs=tuple(built.links)))
    dims = sorted(built.dims.values(), key=str)
    return Derivation(
        name=name,
        title=title,
        summary=summary,
        givens=[Given(v, _shape_text(built.shapes.names[n]), "given")
                for n, v in built.variables.items()],
        definitions=[Step(lhs, rhs, "definition") for lhs, rhs in built.links],
        steps=steps,
        results=results,
        notes=notes,
        sizes=size_assignments(dims) if dims else [{}],
    )


def _variable(built: Built, name: str) -> sp.MatrixSymbol:
    """The variable ``name`` of the expression, one that it can be differentiated by."""
    if name not in built.variables:
        known = sorted(built.variables)
        if name in built.dims:
            raise UnknownNameError(f"`{name}` is a dimension of {built.text!r}, not a variable; "
                                   f"its variables: {', '.join(known)}")
        raise UnknownNameError(f"`{name}` is not a variable of {built.text!r}"
                               f"{did_you_mean(name, known)}; its variables: "
                               f"{', '.join(known)}")
    var = built.variables[name]
    if var.shape[1] != 1 and built.output.shape != (1, 1):
        raise UsageError(f"∂{built.output}/∂{name}: the derivative of a non-scalar w.r.t. "
                         f"the matrix {name} is a tensor; differentiate a scalar of it "
                         "(e.g. sum(...)) or w.r.t. a vector")
    return var


def _notes(built: Built) -> list[str]:
    notes = []
    inferred = [n for n in built.shapes.names if n not in built.variables or n == "I"]
    if inferred:
        notes.append(f"inferred: {', '.join(inferred)}")
    return notes


@dataclass(frozen=True)
class MatrixVerdict:
    """A matrix-notation claim judged at concrete sizes against component differentiation."""

    verdict: str  # "correct", "incorrect" or "undecided"
    claim: sp.Basic
    shape: tuple[sp.Expr, sp.Expr]
    checks: tuple[tuple[str, Check], ...]
    diagnosis: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "correct"

    def to_dict(self, detail: bool = False) -> dict[str, Any]:
        """The verdict for JSON; ``detail`` adds each size's whole check."""
        return {"verdict": self.verdict, "diagnosis": self.diagnosis,
                "shape": [str(d) for d in self.shape],
                "sizes": [{"sizes": label, **(c.to_dict() if detail else
                                              {"verdict": c.verdict, "method": c.method})}
                          for label, c in self.checks]}


def verify_claim(text: str, wrt: str, shapes: Mapping[str, Shape],
                 claim_text: str, layout: Layout = "numerator") -> MatrixVerdict:
    """Is ``claim_text`` (the matrix language, in the expression's own names) the derivative
    of ``text`` w.r.t. ``wrt`` — numerator layout, the shape of ``wrt`` for a scalar w.r.t. a
    matrix? Judged at three size assignments; a claim is never reshaped. In
    ``layout="denominator"`` a Jacobian claim is the transpose (the claim is judged
    transposed).

    >>> from jacobian_lab.language.matrix_shapes import parse_shapes
    >>> shapes = parse_shapes(["A=n,n", "x=n"])
    >>> verify_claim("x'*A*x", "x", shapes, "x'*(A + A')").verdict
    'correct'
    >>> v = verify_claim("x'*A*x", "x", shapes, "2*x'*A")
    >>> v.verdict, v.checks[0][0]
    ('incorrect', 'n=1')
    """
    prepared = _Prepared.of(text, wrt, shapes)
    if layout == "denominator" and prepared.kind == "jacobian":
        wrapped = f"({claim_text})'"
        verdict = _numerator_verdict(prepared, wrapped)
        return replace(verdict, diagnosis=_in_denominator_words(verdict, wrapped))
    return _numerator_verdict(prepared, claim_text)


def _in_denominator_words(verdict: MatrixVerdict, wrapped: str) -> str | None:
    """The diagnosis of the transposed claim, said of the claim in denominator layout."""
    words = verdict.diagnosis
    if words is None:
        return None
    rows, cols = verdict.shape
    if "transposed" in words and not verdict.checks:  # judged by its shape
        return (f"transposed (numerator layout): in denominator layout the derivative is "
                f"{cols} × {rows}, one column per output")
    # a change of the transposed claim's transposes reads backwards here: leave it out
    parts = [p for p in words.split("; ") if (wrapped not in p and "transpose" not in p[:60])
             or p.startswith("at ")]
    words = re.sub(r"\((\d+),(\d+)\)", r"(\2,\1)", "; ".join(parts) or words)  # entry (i, j)
    return words.replace(
        "transposed (denominator layout)", "transposed (numerator layout)").replace(
        "numerator layout puts one row per output", "denominator layout puts one column per "
        "output")


def _numerator_verdict(prepared: _Prepared, claim_text: str) -> MatrixVerdict:
    try:
        verdict = prepared.judge(claim_text)
    except ShapeError:
        verdict = None  # a claim of an impossible shape: perhaps one change makes it right
    if verdict is not None and verdict.verdict != "incorrect":
        return verdict
    mistake = _mistake(prepared, claim_text)
    if verdict is None:
        if mistake is None:
            prepared.judge(claim_text)  # raises the ShapeError again, with its message
        return MatrixVerdict("incorrect", sp.S.Zero, prepared.expected, (), mistake)
    if mistake is not None:
        return replace(verdict, diagnosis=f"{mistake}; {verdict.diagnosis}")
    return verdict


def _mistake(prepared: _Prepared, claim_text: str) -> str | None:
    """The words for the one change of the claim that makes it right, if there is one."""
    for what, variant in variants(parse(claim_text)):
        try:
            if prepared.judge(str(variant), fast=True).verdict == "correct":
                return what
        except JlabError:
            continue
    return None


@dataclass(frozen=True)
class _Prepared:
    """The expression built once, for judging its claim and the claim's variants."""

    text: str
    wrt: str
    built: Built
    var: sp.MatrixSymbol
    kind: Kind
    expected: tuple[sp.Expr, sp.Expr]

    @classmethod
    def of(cls, text: str, wrt: str, shapes: Mapping[str, Shape]) -> _Prepared:
        built = build(text, shapes)
        var = _variable(built, wrt)
        matrix_wrt = var.shape[1] != 1
        expected = var.shape if matrix_wrt else (built.output.shape[0], var.shape[0])
        return cls(text, wrt, built, var, "gradient" if matrix_wrt else "jacobian",
                   tuple(expected))

    def judge(self, claim_text: str, fast: bool = False) -> MatrixVerdict:
        built, expected, wrt = self.built, self.expected, self.wrt
        declared = {n: s for n, s in built.shapes.names.items() if n != "I"}
        unknown = sorted(set(names(parse(claim_text))) - set(built.variables)
                         - set(built.dims) - {"I"})
        if unknown:
            raise UnknownNameError(f"the claim uses {', '.join(unknown)}, which "
                                   f"{self.text!r} does not")
        claim = build(claim_text, declared, output="claim").expression
        if tuple(claim.shape) != tuple(expected):
            if tuple(claim.shape) == tuple(expected[::-1]):
                return MatrixVerdict(
                    "incorrect", claim, expected, (),
                    f"transposed (denominator layout): the claim is {claim.shape[0]} × "
                    f"{claim.shape[1]}, ∂{built.output}/∂{wrt} is {expected[0]} × "
                    f"{expected[1]} in numerator layout")
            raise ShapeError(f"the claim is {claim.shape[0]} × {claim.shape[1]}, but "
                             f"∂{built.output}/∂{wrt} is {expected[0]} × {expected[1]}"
                             f"{' (the shape of ' + wrt + ')' if self.kind == 'gradient' else ''}")
        result = Result(Partial(built.output, self.var), claim, built.output, self.var,
                        self.kind, defs=tuple(built.links))
        dims = sorted(built.dims.values(), key=str)
        checks = tuple((_label(s), prove_result(result, s, fast=fast))
                       for s in (size_assignments(dims) if dims else [{}]))
        return _verdict(claim, expected, checks, self.kind, f"∂{built.output}/∂{wrt}")


def _in_matrix_words(diagnosis: str, kind: Kind, what: str) -> str:
    """The judge's transpose diagnosis, said for matrix notation: a gradient w.r.t. a matrix
    has that matrix's shape (no layout to choose), and ``--layout`` is not an option here."""
    if not diagnosis.startswith(TRANSPOSE_DIAGNOSIS.split("{", 1)[0]):
        return diagnosis
    if kind == "gradient":
        return (f"transposed: the claim is the transpose of {what}, which has the shape of "
                "the matrix, entry (i, j) being the derivative by its entry (i, j)")
    return (f"transposed (denominator layout): the claim is the transpose of {what}; "
            "numerator layout puts one row per output")


def _verdict(claim: sp.Basic, expected: tuple[sp.Expr, sp.Expr],
             checks: tuple[tuple[str, Check], ...], kind: Kind = "jacobian",
             what: str = "the derivative") -> MatrixVerdict:
    wrong = [(label, c) for label, c in checks if c.verdict == "incorrect"]
    if wrong:
        label, c = wrong[0]
        entries = ", ".join(f"({m.row},{m.col})" for m in c.mismatches[:6])
        why = f"at {label}: " + (_in_matrix_words(c.diagnosis, kind, what) if c.diagnosis
                                 else f"the entries {entries} differ")
        right = [lbl for lbl, chk in checks if chk.verdict == "correct"]
        if right:
            why += f" (it agrees at {', '.join(right)}: small sizes can hide a mistake)"
        return MatrixVerdict("incorrect", claim, expected, checks, why)
    if any(c.verdict != "correct" for _, c in checks):
        return MatrixVerdict("undecided", claim, expected, checks,
                             next(c.diagnosis for _, c in checks if c.verdict != "correct"))
    return MatrixVerdict("correct", claim, expected, checks)


def _label(sizes: Mapping[sp.Symbol, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(sizes.items(), key=lambda kv: str(kv[0]))) \
        or "scalars"
