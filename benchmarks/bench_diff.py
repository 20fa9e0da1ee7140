"""`jlab diff` and matrix claims (issue 14): every example of the issue, derived and proven, and
a claim of each judged, in one process after the imports; and the whole command against
`python -c "import sympy"` — goal: at most 2 s on top of the SymPy import.

    python benchmarks/bench_diff.py          # the table of every example (medians of 3)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

JLAB = [sys.executable, "-m", "jacobian_lab.cli"]
ON_TOP_OF_SYMPY = 2.0  # seconds

# (expression, wrt, shapes, a correct claim) — the examples of issue 14
EXAMPLES: list[tuple[str, str, tuple[str, ...], str]] = [
    ("a'*x", "x", ("a=n", "x=n"), "a'"),
    ("x'*A*x", "x", ("A=n,n", "x=n"), "x'*(A + A')"),
    ("norm(A*x - b)^2", "x", ("A=n,m", "x=m", "b=n"), "2*(A*x - b)'*A"),
    ("tr(A*X)", "X", ("A=n,n", "X=n,n"), "A'"),
    ("tr(X'*A*X)", "X", ("A=n,n", "X=n,m"), "(A + A')*X"),
    ("det(X)", "X", ("X=n,n",), "det(X)*inv(X)'"),
    ("logdet(X)", "X", ("X=n,n",), "inv(X)'"),
    ("tr(inv(X)*A)", "X", ("A=n,n", "X=n,n"), "-inv(X)'*A'*inv(X)'"),
    ("sum(relu(W*x + b))", "W", ("W=n,m", "x=m"), "step(W*x + b)*x'"),
    ("sum(relu(W*x + b))", "b", ("W=n,m", "x=m"), "step(W*x + b)'"),
    ("sum(log_softmax(W*x).*y)", "W", ("W=k,m", "x=m", "y=k"),
     "(y - softmax(W*x)*sum(y))*x'"),
    ("1/2*norm(tanh(W2*tanh(W1*x)) - y)^2", "W2", ("W1=k,m", "W2=n,k", "x=m", "y=n"),
     "((tanh(W2*tanh(W1*x)) - y).*(1 - tanh(W2*tanh(W1*x)).^2))*tanh(W1*x)'"),
    ("1/2*norm(tanh(W2*tanh(W1*x)) - y)^2", "W1", ("W1=k,m", "W2=n,k", "x=m", "y=n"),
     "((W2'*((tanh(W2*tanh(W1*x)) - y).*(1 - tanh(W2*tanh(W1*x)).^2)))"
     ".*(1 - tanh(W1*x).^2))*x'"),
    ("relu(W*x + b) + x", "x", ("W=n,n", "x=n"), "diag(step(W*x + b))*W + eye(n)"),
    ("sum(log_softmax(W*x).*y) + lam/2*norm(W)^2", "W", ("W=k,m", "x=m", "y=k", "lam=1"),
     "(y - softmax(W*x)*sum(y))*x' + lam*W"),
    ("sum(log(1 + exp(-y.*(X'*w))))", "w", ("X=n,m", "w=n", "y=m"),
     "-(y .* sigmoid(-y .* (X'*w)))'*X'"),
]


def _median(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def examples_table() -> list[tuple[str, str, float, float, str]]:
    """(expression, wrt, diff + proof seconds, verify seconds, verdict) for each example —
    each the first call for that expression in this process (the cold time: repeats hit
    SymPy's cache)."""
    from jacobian_lab.core.from_text import diff, verify_claim
    from jacobian_lab.core.proof import prove
    from jacobian_lab.language.matrix_shapes import parse_shapes

    rows = []
    for text, wrt, shapes, claim in EXAMPLES:
        parsed = parse_shapes(list(shapes))
        t0 = time.perf_counter()
        proven = prove(diff(text, [wrt], parsed)).ok
        t1 = time.perf_counter()
        verdict = verify_claim(text, wrt, parsed, claim).verdict
        t2 = time.perf_counter()
        rows.append((text, wrt, t1 - t0, t2 - t1,
                     f"{'proven' if proven else 'FAILED'}, claim {verdict}"))
    return rows


def _run(args: list[str]) -> None:
    subprocess.run(args, check=True, capture_output=True)


def run(bench) -> None:  # type: ignore[no-untyped-def]
    rows = examples_table()
    print(f"{'expression':<46} {'wrt':<4} {'diff+proof':>10} {'verify':>8}")
    for text, wrt, t_diff, t_verify, status in rows:
        print(f"{text[:46]:<46} {wrt:<4} {t_diff:9.2f}s {t_verify:7.2f}s  {status}")
    worst = max(max(r[2], r[3]) for r in rows)
    print(f"slowest: {worst:.2f} s (goal: within {ON_TOP_OF_SYMPY:g} s on top of the SymPy import)")
    sympy_import = _median(lambda: _run([sys.executable, "-c", "import sympy"]))
    goal = (sympy_import + ON_TOP_OF_SYMPY) / sympy_import  # 2 s on top, as a ratio
    for text, wrt, shapes, claim in (EXAMPLES[1], EXAMPLES[12]):
        shape_args = [a for s in shapes for a in ("--shape", s)]
        bench.compare(f"jlab diff {text[:24]} d/d{wrt} vs import sympy",
                      lambda t=text, w=wrt, s=shape_args: _run([*JLAB, "diff", t, "--wrt", w,
                                                                *s]),
                      lambda: _run([sys.executable, "-c", "import sympy"]), repeat=5, goal=goal)
        bench.compare(f"jlab verify {text[:22]} d/d{wrt} vs import sympy",
                      lambda t=text, w=wrt, s=shape_args, c=claim: _run(
                          [*JLAB, "verify", t, "--wrt", w, *s, "--claim", c]),
                      lambda: _run([sys.executable, "-c", "import sympy"]), repeat=5, goal=goal)


if __name__ == "__main__":
    for text, wrt, t_diff, t_verify, status in examples_table():
        print(f"| `{text}` | {wrt} | {t_diff:.2f} | {t_verify:.2f} | {status} |")
