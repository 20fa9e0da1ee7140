"""The ``jlab`` argument parser: one function per command group.

Only argparse is imported here: ``jlab --help`` must stay fast and must not import SymPy, so
every command names its implementation by module and function (:func:`_lazy`) and imports it
when it runs.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from jacobian_lab.budget import DEFAULT_BUDGET
from jacobian_lab.cli.numbers import bounded
from jacobian_lab.cli.train import add_data_arguments, add_train_arguments


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line on stderr, exit 2 (subcommands inherit it)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {' '.join(message.split())} (see {self.prog} --help)\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        ns, extra = self.parse_known_args(args, namespace)
        if extra:  # name the command whose help lists the options, not the top level
            command = getattr(ns, "command", None)
            prog = f"{self.prog} {command}" if command else self.prog
            self.exit(2, f"error: unrecognized arguments: {' '.join(extra)} "
                         f"(see {prog} --help)\n")
        return ns


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# DEFAULT_BUDGET (jacobian_lab.budget): seconds one expression may take (jacobian, gradient,
# chain, verify, diff); ``--budget``.
ITEM_BUDGET = 120.0
"""Seconds one item of a batch command may take (a proof of ``check``/``report``, a mutant of
``mutate``): the catalog's largest proofs take 5-30 s on a loaded machine."""


_seconds = bounded("a positive number of seconds", "10", high=1e6)


def _add_budget_option(p: argparse.ArgumentParser, item: str = "") -> None:
    what = (f"each {item}" if item
            else "parsing, differentiation, simplification and sampling")
    default = ITEM_BUDGET if item else DEFAULT_BUDGET
    p.add_argument(
        "--budget",
        type=_seconds,
        default=default,
        metavar="SECONDS",
        help=f"time allowed for {what}; past it, an error (default: {default:g})",
    )


def _add_calculus_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wrt",
        nargs="+",
        metavar="VAR",
        help="variables to differentiate with respect to, in column order (default: every "
        "variable of the expressions, in alphabetical order: x1 x2 … x10)",
    )
    p.add_argument(
        "--layout",
        default="numerator",
        choices=["numerator", "denominator"],
        help="numerator (default): one row per output; denominator: the transpose",
    )
    p.add_argument(
        "--at", metavar="POINT", help="also evaluate exactly at a point, e.g. --at x=1,y=2"
    )
    p.add_argument(
        "--format",
        default="rich",
        choices=["rich", "latex", "json"],
        help="output format (default: rich terminal output)",
    )
    _add_budget_option(p)


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="jlab",
        description="Derive, show, check and run the matrix calculus of neural networks.",
        formatter_class=fmt,
        epilog=_examples(
            'jlab jacobian "2*x + y^3" "exp(y) - 13*x" --wrt x y',
            'jlab chain --outer "sin(g1), log(g2)" --inner "g1=x^2+y, g2=y^3" --wrt x y',
            'jlab verify "x^2 + cos(y)" --wrt x y --claim "[[2*x, sin(y)]]"',
            "jlab demo",
        ),
    )
    parser.add_argument("--version", action="version", version="%(prog)s 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_calculus_commands(sub, fmt)
    _add_diff_commands(sub, fmt)
    _add_catalog_commands(sub, fmt)
    _add_codegen_commands(sub, fmt)
    _add_mutate_commands(sub, fmt)
    _add_train_commands(sub, fmt)
    return parser


def _add_diff_commands(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """diff: the user's own matrix expression (docs/MATRIX_LANGUAGE.md)."""
    p = sub.add_parser(
        "diff",
        help="your own matrix expression, derived step by step and proven",
        description="Differentiate a matrix expression (numerator layout; the derivative of a "
        "scalar w.r.t. a matrix has the matrix's shape). Each step is named by the rule that "
        "fired; each result is proven against component differentiation at three size "
        "assignments. The language: docs/MATRIX_LANGUAGE.md.",
        formatter_class=fmt,
        epilog=_examples(
            'jlab diff "x\'*A*x" --wrt x --shape A=n,n --shape x=n',
            'jlab diff "sum(relu(W*x + b))" --wrt W b --shape W=n,m --shape x=m',
            'jlab diff "norm(A*x - b)^2" --wrt x --shape A=n,m --shape x=m --format json',
        ),
    )
    p.add_argument("expr", metavar="EXPR", nargs="?",
                   help="one expression of the matrix language")
    p.add_argument("--wrt", nargs="+", metavar="NAME",
                   help="the variables to differentiate with respect to")
    p.add_argument("--shape", action="append", metavar="NAME=DIMS",
                   help="a shape: W=n,m a matrix, x=m a column vector, lam=1 a scalar "
                   "(repeatable; undeclared shapes are inferred where the text decides them)")
    p.add_argument("--format", default="rich", choices=["rich", "latex", "markdown", "json"],
                   help="output format (default: rich terminal output)")
    p.add_argument("--no-steps", action="store_true", help="results and proof only")
    p.add_argument("--layout", choices=["numerator", "denominator"], default="numerator",
                   help="numerator (default): ∂f/∂x has one row per output; denominator: the "
                   "transposes (a gradient w.r.t. a matrix has its shape in both)")
    p.add_argument("--sizes", action="append", metavar="DIM=N,N,...",
                   help="the proof's size assignments instead of the default three, e.g. "
                   "--sizes n=1,2,4 --sizes m=3,1,2 (repeatable; every dimension the same "
                   "number of values; a dimension not named keeps its default values)")
    p.add_argument("--emit", choices=["numpy", "latex"],
                   help="numpy: a dtype-preserving NumPy function of each proven result, run "
                   "against the proven result before it is printed; latex: the results alone")
    p.add_argument("--batch", metavar="FILE.jsonl",
                   help="requests, one JSON object per line (expr, wrt, shapes, optional id): "
                   "one JSON answer per line (what --format json prints, with a verdict), in "
                   "one process; --budget applies to each request")
    _add_budget_option(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.diff", "cmd_diff"),
                   check_args=_expr_or_batch(p))


def _add_calculus_commands(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """jacobian, gradient, chain, verify and the demo: the user's own expressions."""
    p = sub.add_parser(
        "jacobian",
        help="Jacobian of your own functions (numerator layout)",
        description="The Jacobian of one or more expressions. Rows are outputs, columns the "
        "variables given to --wrt (numerator layout).",
        formatter_class=fmt,
        epilog=_examples(
            'jlab jacobian "2*x + y^3" "exp(y) - 13*x" --wrt x y',
            'jlab jacobian "sin(x^2 + y), log(y^3)" --wrt x y --at x=1,y=2 --format json',
        ),
    )
    p.add_argument(
        "exprs",
        nargs="+",
        metavar="EXPR",
        help="expressions (several arguments, or comma-separated in one)",
    )
    _add_calculus_options(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.calculus", "cmd_jacobian"))

    p = sub.add_parser(
        "gradient",
        help="gradient of a scalar expression (a 1×n row)",
        description="The gradient of one scalar expression: a 1×n row in numerator layout, "
        "an n×1 column in denominator layout.",
        formatter_class=fmt,
        epilog=_examples('jlab gradient "x^2 + cos(y)" --wrt x y --at x=2,y=0'),
    )
    p.add_argument("expr", metavar="EXPR", help="one scalar expression")
    _add_calculus_options(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.calculus", "cmd_gradient"))

    p = sub.add_parser(
        "chain",
        help="the vector chain rule, every factor shown and checked",
        description="Differentiate f(g(x)) as ∂f/∂g · ∂g/∂x, and check the product against "
        "differentiating the composition directly.",
        formatter_class=fmt,
        epilog=_examples(
            'jlab chain --outer "sin(g1), log(g2)" --inner "g1=x^2+y, g2=y^3" --wrt x y'
        ),
    )
    p.add_argument(
        "--outer",
        required=True,
        metavar="EXPRS",
        help="f in terms of the inner variables, comma-separated",
    )
    p.add_argument(
        "--inner", required=True, metavar="DEFS", help='the inner functions as "g1=..., g2=..."'
    )
    p.add_argument("--wrt", nargs="+", required=True, metavar="VAR")
    p.add_argument("--format", default="rich", choices=["rich", "latex", "json"])
    _add_budget_option(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.calculus", "cmd_chain"))

    p = sub.add_parser(
        "verify",
        help="is a hand-derived Jacobian right? (exit 0 yes, 1 no, 2 bad input)",
        description="Check a claimed Jacobian or gradient. Exit code 0 if correct, 1 if "
        "incorrect or undecided, 2 on a usage or parse error. An incorrect claim is shown with "
        "the entries that differ, a counterexample point and a diagnosis.",
        formatter_class=fmt,
        epilog=_examples(
            'jlab verify "x^2 + cos(y)" --wrt x y --claim "[[2*x, -sin(y)]]"',
            'jlab verify "2*x + y^3" "exp(y) - 13*x" --wrt x y \\\n'
            '      --claim "[[2, -13], [3*y^2, exp(y)]]"',
            'jlab verify "x\'*A*x" --wrt x --shape A=n,n --shape x=n --claim "x\'*(A + A\')"',
        ),
    )
    p.add_argument("exprs", nargs="*", metavar="EXPR")
    p.add_argument(
        "--claim",
        metavar="MATRIX",
        help='the claimed Jacobian as "[[row 1], [row 2], ...]"; with --shape, in the matrix '
        "language (docs/MATRIX_LANGUAGE.md)",
    )
    p.add_argument("--shape", action="append", metavar="NAME=DIMS",
                   help="matrix notation: a shape such as W=n,m or x=m (repeatable); the "
                   "expression and the claim are then read in the matrix language and judged "
                   "at three size assignments")
    p.add_argument("--batch", metavar="FILE.jsonl",
                   help="matrix-notation requests, one JSON object per line (expr, wrt, shapes, "
                   "claim, optional id): one JSON verdict per line, in one process; --budget "
                   "applies to each request")
    _add_calculus_options(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled points")
    p.set_defaults(func=_lazy("jacobian_lab.cli.verify", "cmd_verify"),
                   check_args=_claim_or_batch(p))

    p = sub.add_parser(
        "demo",
        help="a guided tour: the notes' chain-rule example and a wrong claim caught",
        formatter_class=fmt,
        epilog=_examples("jlab demo"),
    )
    p.set_defaults(func=_lazy("jacobian_lab.cli.verify", "cmd_demo"))


def _add_catalog_commands(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """list, derive, check and report: the catalog of the notes."""
    p = sub.add_parser(
        "list",
        help="the catalog of derivations, with their check status",
        formatter_class=fmt,
        epilog=_examples("jlab list", "jlab list --no-check", "jlab list --no-cache"),
    )
    p.add_argument("--no-check", action="store_true", help="do not run the proofs")
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="prove everything now; do not read or write the proof cache (JLAB_NO_CACHE=1)",
    )
    p.set_defaults(func=_lazy("jacobian_lab.cli.catalog", "cmd_list"))

    p = sub.add_parser(
        "derive",
        help="a derivation step by step, its result and its proof",
        description="Show a catalog derivation step by step in numerator layout, with the "
        "proof that instantiates it at several sizes against the component layer. "
        "Exit code 1 if the proof fails.",
        formatter_class=fmt,
        epilog=_examples(
            "jlab derive neuron-relu",
            "jlab derive backprop --format latex",
            "jlab derive softmax --sizes 2,3,4",
            "jlab derive --file my_derivation.py",
        ),
    )
    p.add_argument("name", nargs="?", help="derivation name (see `jlab list`)")
    p.add_argument("--format", default="rich", choices=["rich", "latex", "markdown", "json"])
    p.add_argument("--no-steps", action="store_true", help="show only the result and proof")
    p.add_argument("--sizes", metavar="N,N,...", help="sizes to prove at, e.g. 1,2,3")
    p.add_argument("--file", metavar="PY", help="load your own derivation module first")
    p.set_defaults(func=_lazy("jacobian_lab.cli.catalog", "cmd_derive"))

    p = sub.add_parser(
        "check",
        help="re-run every proof in the catalog (exit 1 on any failure)",
        formatter_class=fmt,
        epilog=_examples("jlab check", "jlab check backprop softmax --json"),
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="derivations (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _add_budget_option(p, "proof")
    p.set_defaults(func=_lazy("jacobian_lab.cli.catalog", "cmd_check"))

    p = sub.add_parser(
        "report",
        help="write derivations as LaTeX, PDF (pdflatex) or Markdown",
        description="Write a report; the format follows the suffix of -o: .tex, .pdf "
        "(compiled with pdflatex from Debian's texlive-latex-base) or .md.",
        formatter_class=fmt,
        epilog=_examples(
            "jlab report neuron-relu backprop -o handout.pdf", "jlab report --all -o catalog.md"
        ),
    )
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every derivation in the catalog")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    _add_budget_option(p, "proof")
    p.set_defaults(func=_lazy("jacobian_lab.cli.catalog", "cmd_report"))


def _add_codegen_commands(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """codegen: kernels printed from the matrix-layer results."""
    p = sub.add_parser(
        "codegen", help="regenerate (or check, or show) the NumPy kernels",
        description="Generate jacobian_lab/kernels/_generated.py from the matrix-layer "
        "results with SymPy's NumPy printer. --check exits 1 if the committed source is stale.",
        formatter_class=fmt,
        epilog=_examples("jlab codegen", "jlab codegen --check", "jlab codegen --show relu_grad"),
    )
    p.add_argument("--check", action="store_true", help="exit 1 if the kernels are stale")
    p.add_argument("--show", metavar="NAME", help="print one kernel's generated source")
    p.set_defaults(func=_lazy("jacobian_lab.cli.codegen", "cmd_codegen"))


def _add_mutate_commands(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """mutate: every check must fail on wrong formulas."""
    p = sub.add_parser(
        "mutate", help="mutation testing: does every check fail on a wrong formula?",
        description="Mutate every catalog result and kernel (× 1.001, sign, transpose, drop a "
        "term, ReLU'(0) = 1, drop the 1/m) and require the proofs, the kernel verification, "
        "the trainer's gradient check and the fused step's verification to catch each mutant "
        "that changes the value. Exit 1 when one is missed.",
        formatter_class=fmt,
        epilog=_examples("jlab mutate", "jlab mutate --level kernel --level training",
                         "jlab mutate neuron-relu dense_backward -v", "jlab mutate --json"),
    )
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="catalog entries or kernels (default: all)")
    p.add_argument("--level", action="append",
                   choices=["catalog", "kernel", "training", "fused", "assertions", "judge"],
                   help="what to mutate (repeatable; default: all six)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also list the equivalent mutants")
    p.add_argument("--json", action="store_true", help="every outcome, machine-readable")
    _add_budget_option(p, "mutant's judgement")
    p.set_defaults(func=_lazy("jacobian_lab.cli.mutate", "cmd_mutate"))


def _add_train_commands(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """train and data: MNIST backprop on the generated kernels."""
    p = sub.add_parser(
        "train", help="train an MNIST network on the generated kernels, checking gradients",
        description="Backprop with the generated kernels; every --check-every steps the "
        "gradients are compared with finite differences and with the catalog's closed forms.",
        formatter_class=fmt,
        epilog=_examples("jlab train", "jlab train --layers 784,128,10 --data fashion-mnist",
                         "jlab train --optimizer gd --lr 0.1 --epochs 500 --init uniform",
                         "jlab train --resume runs/20261129-031500 --epochs 20"),
    )
    add_train_arguments(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.train", "cmd_train"))

    p = sub.add_parser(
        "data", help="fetch real MNIST (checksummed, cached)",
        formatter_class=fmt,
        epilog=_examples("jlab data fetch mnist", "jlab data fetch mnist --dir ./mnist"),
    )
    add_data_arguments(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.train", "cmd_data_fetch"))


def _claim_or_batch(p: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    """``verify`` takes EXPR and --claim, or --batch alone: a usage error otherwise."""

    def check(args: argparse.Namespace) -> None:
        if args.batch and (args.exprs or args.claim is not None):
            p.error("--batch reads every request from its file: give no EXPR or --claim")
        if not args.batch and (not args.exprs or args.claim is None):
            p.error("the following arguments are required: EXPR and --claim "
                    "(or --batch FILE.jsonl)")

    return check


def _expr_or_batch(p: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    """``diff`` takes EXPR and --wrt, or --batch alone: a usage error otherwise."""

    def check(args: argparse.Namespace) -> None:
        if args.batch and (args.expr or args.wrt or args.emit):
            p.error("--batch reads every request from its file: give no EXPR, --wrt or --emit")
        if not args.batch and (not args.expr or not args.wrt):
            p.error("the following arguments are required: EXPR and --wrt "
                    "(or --batch FILE.jsonl)")

    return check


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(module), name)(args))

    return run
