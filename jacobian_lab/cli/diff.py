"""``jlab diff``: the user's own matrix expression, derived step by step and proven."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console

from jacobian_lab.cli.batch import fields, run_batch, shapes_of
from jacobian_lab.cli.calculus import bounded, budget
from jacobian_lab.codegen.function import numpy_function
from jacobian_lab.core.derivation import Derivation, Result, substitute
from jacobian_lab.core.from_text import diff
from jacobian_lab.core.proof import prove
from jacobian_lab.errors import RuleError, UsageError
from jacobian_lab.language.latex import latex
from jacobian_lab.language.matrix_shapes import Shape, parse_shapes
from jacobian_lab.matrix.to_text import to_text
from jacobian_lab.printing.render import (
    latex_section,
    layout_of,
    markdown,
    render_rich,
    to_json,
)

SCHEMA = 1


def diff_json(expr: str, wrt: Sequence[str], shapes: Mapping[str, Shape]) -> dict[str, Any]:
    """What ``jlab diff --format json`` prints (schema 1): the derivation, its proof and each
    result in the matrix language (``result``, read back by ``--claim``)."""
    d = diff(expr, list(wrt), shapes)
    prove(d)
    return _json(expr, wrt, d)


def _json(expr: str, wrt: Sequence[str], d: Derivation) -> dict[str, Any]:
    return {"schema": SCHEMA, "expr": expr, "wrt": list(wrt),
            "shapes": {n: str(s) for n, s in d_shapes(d).items()}, "layout": layout_of(d),
            "result": {name: _as_text(r) for name, r in zip(wrt, d.results, strict=True)},
            "shape": {name: " × ".join(str(x) for x in r.expr.shape)
                      for name, r in zip(wrt, d.results, strict=True)},
            "latex": {name: latex(r.expr) for name, r in zip(wrt, d.results, strict=True)},
            **to_json(d)}


def _sizes(specs: Sequence[str] | None) -> dict[str, list[int]]:
    """``["n=1,2,4", "m=3,1,2"]`` → ``{"n": [1, 2, 4], "m": [3, 1, 2]}``."""
    out: dict[str, list[int]] = {}
    for spec in specs or []:
        name, eq, values = spec.partition("=")
        try:
            out[name.strip()] = [int(v) for v in values.split(",")]
        except ValueError:
            eq = ""
        if not eq or not name.strip():
            raise UsageError(f"--sizes {spec!r}: write a dimension and its sizes, e.g. "
                             "--sizes n=1,2,4")
    return out


def _derive(request: Any) -> dict[str, Any]:
    """One request of ``jlab diff --batch``: ``wrt`` a name, names separated by spaces or
    a list of names."""
    if isinstance(request, dict) and isinstance(request.get("wrt"), list):
        wrt = request["wrt"]
        if not wrt or not all(isinstance(w, str) for w in wrt):
            raise UsageError("`wrt` is a name or a list of names")
        request = {**request, "wrt": " ".join(wrt)}
    r = fields(request, ("expr", "wrt"))
    out = diff_json(r["expr"], r["wrt"].split(), shapes_of(r.get("shapes", {})))
    return {"verdict": "proven" if out["proof"]["ok"] else "failed", **out}


def cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0 when every result is proven, 1 when a proof fails, 2 for bad input."""
    if args.batch:
        return run_batch(args.batch, budget(args), _derive, "proven")
    with bounded(args, "diff"):
        d = diff(args.expr, args.wrt, parse_shapes(args.shape or []), _sizes(args.sizes),
                 args.layout)
        proof = prove(d)
    if getattr(args, "emit", None):
        return _emit(args, d, proof.ok)
    if args.format == "json":
        print(json.dumps(_json(args.expr, args.wrt, d), indent=2, ensure_ascii=False))
    elif args.format == "latex":
        print(latex_section(d, steps=not args.no_steps))
    elif args.format == "markdown":
        print(markdown(d, steps=not args.no_steps))
    else:
        render_rich(d, Console(highlight=False), steps=not args.no_steps)
    return 0 if proof.ok else 1


def d_shapes(d: object) -> dict[str, str]:
    """The givens' shapes as the derivation states them."""
    return {str(g.symbol): g.shape for g in getattr(d, "givens", [])}


def _as_text(result: Result) -> str | None:
    """The result in the matrix language (``--claim`` reads it back), its intermediates
    substituted; ``None`` where the language cannot say it yet."""
    try:
        return to_text(substitute(result.expr, result.defs))
    except RuleError:
        return None


def _emit(args: argparse.Namespace, d: Derivation, proven: bool) -> int:
    """``--emit numpy``: a checked NumPy function per result; ``--emit latex``: the results."""
    if not proven:
        print("error: the result failed its proof; nothing is emitted", file=sys.stderr)
        return 1
    if args.emit == "latex":
        for r in d.results:
            print(f"{latex(r.lhs)} = {latex(r.expr)}")
        return 0
    sizes = d.sizes[1] if len(d.sizes) > 1 else d.sizes[0]
    sources = []
    for name, r in zip(args.wrt, d.results, strict=True):
        fname = f"d{d.results[0].of}_d{name}"
        source, _ = numpy_function(fname, substitute(r.expr, r.defs),
                                   f"∂{r.of}/∂{name} of {args.expr} (numerator layout; "
                                   "printed by jlab diff --emit numpy, checked against the "
                                   "proven result)", sizes)
        sources.append(source.replace("Derivation: diff (`jlab derive diff`)",
                                      f"Derivation: jlab diff {json.dumps(args.expr)}"))
    print("import numpy as np\n\n\n" + "\n\n".join(sources), end="")
    return 0
