"""``jlab diff``: a user's own matrix expression, derived by the chain walk and proven at three
size assignments (every dimension varied independently, 1 included) against component
differentiation. Examples from The Matrix Cookbook and from networks the notes do not cover."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import sympy as sp

from jacobian_lab.cli import main
from jacobian_lab.core.derivation import substitute
from jacobian_lab.core.from_text import diff, size_assignments, verify_claim
from jacobian_lab.core.proof import prove
from jacobian_lab.errors import ShapeError, UnknownNameError, UsageError
from jacobian_lab.language.matrix_shapes import parse_shapes
from jacobian_lab.language.notation import notation
from jacobian_lab.matrix.to_text import to_text

PROVEN = [  # (expression, shapes, wrt, the result as the notes would print it, or None)
    ("a'*x", ("a=n", "x=n"), "x", "aᵀ"),
    ("x'*A*x", ("A=n,n", "x=n"), "x", "xᵀ (A + Aᵀ)"),  # the common factor taken out
    ("norm(A*x - b)^2", ("A=n,m", "x=m", "b=n"), "x", "2 r1ᵀ A"),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m"), "W", "step(z1) xᵀ"),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m"), "b", "step(z1)ᵀ"),
    ("sum(log_softmax(W*x).*y)", ("W=k,m", "x=m", "y=k"), "W", None),
    ("1/2*norm(tanh(W2*tanh(W1*x)) - y)^2", ("W1=k,m", "W2=n,k", "x=m", "y=n"), "W1", None),
    ("1/2*norm(tanh(W2*tanh(W1*x)) - y)^2", ("W1=k,m", "W2=n,k", "x=m", "y=n"), "W2", None),
    ("relu(W*x + b) + x", ("W=n,n", "x=n"), "x", "diag(step(z1)) W + I"),  # the DAG case
    ("sum(log(1 + exp(-y.*(X'*w))))", ("X=n,m", "w=n", "y=m"), "w", None),  # logistic
    ("sum(relu(W*x + b)) + lam/2*norm(x)^2", ("W=n,m", "x=m", "lam=1"), "x", None),
    ("sigmoid(w'*x + c)", ("w=n", "x=n", "c=1"), "w", None),
    ("sum(softplus(X*w) - y .* (X*w))", ("X=k,n", "w=n"), "w", None),
    # a matrix met on the way: reverse mode with matrix adjoints (jacobian_lab.matrix.adjoint)
    ("tr(A*X)", ("A=n,n", "X=n,n"), "X", "Aᵀ"),
    ("tr(A*X)", ("A=m,n", "X=n,m"), "X", "Aᵀ"),
    ("tr(X'*A*X)", ("A=n,n", "X=n,m"), "X", "(A + Aᵀ) X"),
    ("det(X)", ("X=n,n",), "X", "det(X) X⁻ᵀ"),
    ("logdet(X)", ("X=n,n",), "X", "X⁻ᵀ"),
    ("tr(inv(X)*A)", ("A=n,n", "X=n,n"), "X", "-X⁻ᵀ Aᵀ X⁻ᵀ"),
    ("x'*A*x", ("A=n,n", "x=n"), "A", "x xᵀ"),
    ("norm(W)^2", ("W=n,m",), "W", "2 W"),
    ("sum(log_softmax(W*x).*y) + lam/2*norm(W)^2", ("W=k,m", "x=m", "y=k", "lam=1"), "W",
     None),  # L2 regularisation added to a loss
    ("sum(relu(W*X))", ("W=n,m", "X=m,k"), "W", "step(z1) Xᵀ"),  # a batch: a matrix z1
    ("1/k*norm(tanh(W*X) - Y)^2", ("W=n,m", "X=m,k", "Y=n,k"), "W", None),  # batched MSE
    ("norm(x)", ("x=n",), "x", "u1^∘(-1/2) xᵀ"),
    ("logsumexp(z)", ("z=n",), "z", None),
    ("sum(logsumexp(Z))", ("Z=n,m",), "Z", None),
]


@pytest.mark.parametrize(("text", "shapes", "wrt", "printed"), PROVEN,
                         ids=[f"{t} d/d{w}" for t, _, w, _ in PROVEN])
def test_every_result_is_proven_at_three_independent_sizes(text: str, shapes: tuple[str, ...],
                                                           wrt: str, printed: str | None) -> None:
    d = diff(text, [wrt], parse_shapes(list(shapes)))
    proof = prove(d)
    assert proof.ok, [c.diagnosis for r in proof.results for _, c in r.checks]
    assert len(proof.sizes) == 3
    if printed is not None:
        assert notation(d.results[0].expr) == printed


def test_a_wrong_result_fails_its_proof() -> None:
    """The proof is what stands behind `jlab diff`: feed it wrong results and it must fail."""
    d = diff("sum(relu(W*x + b))", ["W"], parse_shapes(["W=n,m", "x=m"]))
    right = d.results[0]
    for wrong in (2 * right.expr, right.expr.T, -right.expr, right.expr * 1001 / 1000):
        d.results = [replace(right, expr=wrong)]
        assert not prove(d).ok, wrong


def test_the_skip_connection_steps_sum_the_paths() -> None:
    d = diff("relu(W*x + b) + x", ["x"], parse_shapes(["W=n,n", "x=n"]))
    rules = [s.rule for s in d.steps]
    assert "chain rule, summed over the paths" in rules
    assert any(r.startswith("sum with a constant") for r in rules)


def test_sizes_vary_every_dimension_independently_including_1() -> None:
    n, m, k = sp.symbols("n m k")
    sizes = size_assignments([n, m, k])
    assert len(sizes) == 3
    for d in (n, m, k):
        assert sorted(s[d] for s in sizes) == [1, 2, 3]
    assert all(len(set(s.values())) == 3 for s in sizes)  # never square by accident


@pytest.mark.parametrize(("text", "shapes", "wrt", "error", "message"), [
    ("W*x", ("W=n,m", "x=m"), "q", UnknownNameError, "not a variable"),
    ("W*x", ("W=n,m", "x=m"), "W", UsageError, "is a tensor"),
    ("W*x", ("W=n,m", "x=n"), "x", ShapeError, "inner dimensions"),
    ("tr(X)", ("X=n,m",), "X", ShapeError, "needs a square matrix"),
    ("det(A*X)", ("A=n,m", "X=m,k"), "X", ShapeError, "needs a square matrix"),
    ("inv(X)*x", ("X=n,m", "x=m"), "x", ShapeError, "needs a square matrix"),
    ("x .^ y", ("x=n", "y=n"), "x", ShapeError, "needs a scalar exponent"),
    ("inv(X)", ("X=n,n",), "X", UsageError, "is a tensor"),
])
def test_what_is_not_supported_is_an_error_not_a_wrong_answer(
        text: str, shapes: tuple[str, ...], wrt: str, error: type[Exception],
        message: str) -> None:
    with pytest.raises(error, match=message):
        diff(text, [wrt], parse_shapes(list(shapes)))


def test_cli_diff_rich_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "sum(relu(W*x + b))", "--wrt", "W", "b", "--shape", "W=n,m",
                 "--shape", "x=m"]) == 0
    out = capsys.readouterr().out
    assert "∂f/∂W = step(z1) xᵀ" in out and "proven" in out
    assert main(["diff", "det(X)", "--wrt", "X", "--shape", "X=n,m"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: det needs a square matrix") and err.count("\n") == 1


def test_cli_diff_json_has_a_schema_and_the_proof(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "norm(A*x - b)^2", "--wrt", "x", "--shape", "A=n,m", "--shape",
                 "x=m", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == 1 and out["expr"] == "norm(A*x - b)^2" and out["wrt"] == ["x"]
    assert out["layout"] == "numerator" and out["shapes"]["A"] == "n × m"
    assert out["proof"]["ok"] is True


# --------------------------------------------------------------------------- claims


CLAIMS = [  # (expression, shapes, wrt, claim, verdict, words in the diagnosis)
    ("x'*A*x", ("A=n,n", "x=n"), "x", "x'*(A + A')", "correct", ""),
    ("x'*A*x", ("A=n,n", "x=n"), "x", "2*x'*A", "incorrect", "agrees at n=1"),
    ("x'*A*x", ("A=n,n", "x=n"), "x", "(A + A')*x", "incorrect", "transposed"),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m"), "W", "step(W*x + b)*x'", "correct", ""),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m"), "W", "x*step(W*x + b)'", "incorrect",
     "transposed"),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m"), "W", "2*step(W*x + b)*x'", "incorrect",
     "constant factor 2"),
    ("norm(A*x - b)^2", ("A=n,m", "x=m", "b=n"), "x", "2*(A*x - b)'*A", "correct", ""),
    ("norm(A*x - b)^2", ("A=n,m", "x=m", "b=n"), "x", "-2*(A*x - b)'*A", "incorrect",
     "wrong sign"),
    ("norm(A*x - b)^2", ("A=n,m", "x=m", "b=n"), "x", "2*(A*x)'*A", "incorrect",
     "missing the term"),
    ("det(X)", ("X=n,n",), "X", "det(X)*inv(X)'", "correct", ""),
    ("det(X)", ("X=n,n",), "X", "det(X)*inv(X)", "incorrect", "needs a transpose"),
    ("logdet(X)", ("X=n,n",), "X", "inv(X)'", "correct", ""),
    ("logdet(X)", ("X=n,n",), "X", "inv(X)", "incorrect", "the shape of the matrix"),
    ("tr(A*X)", ("A=n,n", "X=n,n"), "X", "A'", "correct", ""),
    ("tr(X'*A*X)", ("A=n,n", "X=n,m"), "X", "(A + A')*X", "correct", ""),
    ("tr(X'*A*X)", ("A=n,n", "X=n,m"), "X", "2*A*X", "incorrect", "differ"),
    ("tr(inv(X)*A)", ("A=n,n", "X=n,n"), "X", "-inv(X)'*A'*inv(X)'", "correct", ""),
    ("tr(inv(X)*A)", ("A=n,n", "X=n,n"), "X", "inv(X)'*A'*inv(X)'", "incorrect",
     "wrong sign"),
    ("lam/2*norm(W)^2", ("W=n,m", "lam=1"), "W", "lam*W", "correct", ""),
    ("lam/2*norm(W)^2", ("W=n,m", "lam=1"), "W", "2*lam*W", "incorrect", "constant factor 2"),
    ("logsumexp(z)", ("z=n",), "z", "softmax(z)'", "correct", ""),
    ("logsumexp(z)", ("z=n",), "z", "softmax(z)", "incorrect", "needs a transpose"),
    ("sum(log(1 + exp(-y.*(X'*w))))", ("X=n,m", "w=n", "y=m"), "w",
     "-(y .* sigmoid(-y .* (X'*w)))'*X'", "correct", ""),
    ("sum(log(1 + exp(-y.*(X'*w))))", ("X=n,m", "w=n", "y=m"), "w",
     "(y .* sigmoid(-y .* (X'*w)))'*X'", "incorrect", "wrong sign"),
]


@pytest.mark.parametrize(("text", "shapes", "wrt", "claim", "verdict", "words"), CLAIMS,
                         ids=[f"{t} d/d{w}: {c}" for t, _, w, c, _, _ in CLAIMS])
def test_a_matrix_claim_is_judged_at_three_sizes(text: str, shapes: tuple[str, ...], wrt: str,
                                                 claim: str, verdict: str, words: str) -> None:
    v = verify_claim(text, wrt, parse_shapes(list(shapes)), claim)
    assert v.verdict == verdict, v.diagnosis
    assert words in (v.diagnosis or "")


def test_a_claim_of_an_impossible_shape_or_with_foreign_names_is_an_error() -> None:
    shapes = parse_shapes(["A=n,m", "x=m"])
    with pytest.raises(ShapeError, match="the claim is 1 × 1"):
        verify_claim("sum(A*x)", "x", shapes, "sum(x)")
    with pytest.raises(UnknownNameError, match="the claim uses y"):
        verify_claim("sum(A*x)", "x", shapes, "sum(y)*x'")


def test_cli_verify_with_shapes_reads_matrix_notation(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["verify", "x'*A*x", "--wrt", "x", "--shape", "A=n,n", "--shape", "x=n"]
    assert main([*base, "--claim", "x'*(A + A')"]) == 0
    assert "CORRECT" in capsys.readouterr().out
    assert main([*base, "--claim", "(A + A')*x", "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["schema"] == 1 and out["verdict"] == "incorrect"
    assert out["diagnosis"].startswith("transposed")
    assert main([*base, "--claim", "x'*A", "--at", "x=1"]) == 2



@pytest.mark.parametrize(("text", "shapes", "wrt", "printed"), PROVEN,
                         ids=[f"{t} d/d{w}" for t, _, w, _ in PROVEN])
def test_a_result_printed_in_the_language_is_read_back_as_a_correct_claim(
        text: str, shapes: tuple[str, ...], wrt: str, printed: str | None) -> None:
    d = diff(text, [wrt], parse_shapes(list(shapes)))
    r = d.results[0]
    claim = to_text(substitute(r.expr, r.defs))
    assert verify_claim(text, wrt, parse_shapes(list(shapes)), claim).verdict == "correct", claim


def test_the_printed_result_of_a_wrong_formula_is_refuted() -> None:
    d = diff("sum(relu(W*x + b))", ["W"], parse_shapes(["W=n,m", "x=m"]))
    r = d.results[0]
    wrong = to_text(2 * substitute(r.expr, r.defs))
    v = verify_claim("sum(relu(W*x + b))", "W", parse_shapes(["W=n,m", "x=m"]), wrong)
    assert v.verdict == "incorrect" and "constant factor 2" in (v.diagnosis or "")


def test_cli_diff_json_result_is_accepted_back_by_verify(
        capsys: pytest.CaptureFixture[str]) -> None:
    shapes = ["--shape", "W=n,m", "--shape", "x=m"]
    assert main(["diff", "sum(relu(W*x + b))", "--wrt", "W", *shapes, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["result"]["W"]
    assert result == "step(W*x + b)*x'"
    assert main(["verify", "sum(relu(W*x + b))", "--wrt", "W", *shapes, "--claim", result]) == 0


# --------------------------------------------------------------------------- batches


def _batch(tmp_path: Any, *lines: str) -> str:
    path = tmp_path / "claims.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_a_batch_gives_one_verdict_per_line_and_goes_on_after_a_bad_one(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    quad = '"expr": "x\'*A*x", "wrt": "x", "shapes": {"A": "n,n", "x": "n"}'
    path = _batch(tmp_path,
                  '{"id": 1, ' + quad + ', "claim": "x\'*(A + A\')"}',
                  '{"id": 2, ' + quad + ', "claim": "(A + A\')*x"}',
                  "not json",
                  '{"id": 4, "expr": "W*x", "wrt": "x", "shapes": ["W=n,m", "x=n"], '
                  '"claim": "W"}',
                  '{"id": 5, "expr": "x"}',
                  "",
                  '{"id": 7, ' + quad + ', "claim": "2*x\'*A"}')
    assert main(["verify", "--batch", path]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("id") for o in out] == [1, 2, None, 4, 5, 7]
    assert [o["verdict"] for o in out] == ["correct", "incorrect", "error", "error", "error",
                                           "incorrect"]
    assert all(o["schema"] == 1 for o in out)
    assert out[1]["diagnosis"].startswith("transposed")
    assert "inner dimensions" in out[3]["error"] and "wrt, claim" in out[4]["error"]


def test_a_diff_batch_answers_each_line_as_diff_json_does_and_goes_on_after_a_bad_one(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = _batch(tmp_path,
                  '{"id": "a", "expr": "det(X)", "wrt": "X", "shapes": {"X": "n,n"}}',
                  '{"id": "b", "expr": "sum(relu(W*x + b))", "wrt": ["W", "b"], '
                  '"shapes": ["W=n,m", "x=m"]}',
                  "[1, 2]",
                  '{"id": "d", "expr": "tr(X)", "wrt": "X", "shapes": {"X": "n,m"}}',
                  '{"id": "e", "expr": "W*x", "wrt": [], "shapes": ["W=n,m"]}')
    assert main(["diff", "--batch", path]) == 1
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o.get("id") for o in out] == ["a", "b", None, "d", "e"]
    assert [o["verdict"] for o in out] == ["proven", "proven", "error", "error", "error"]
    assert all(o["schema"] == 1 for o in out) and [o["line"] for o in out] == [1, 2, 3, 4, 5]
    assert out[0]["result"] == {"X": "det(X)*inv(X)'"} and out[0]["proof"]["ok"] is True
    assert out[1]["result"]["b"] == "step(W*x + b)'"
    assert "square matrix" in out[3]["error"] and "list of names" in out[4]["error"]
    # each result reads back as a correct claim
    for o in out[:2]:
        for name, claim in o["result"].items():
            shapes = {k: v.replace(" × ", ",") for k, v in o["shapes"].items()}
            assert verify_claim(o["expr"], name, parse_shapes(
                [f"{k}={v}" for k, v in shapes.items()]), claim).verdict == "correct"


def test_diff_takes_an_expression_or_a_batch_not_both(tmp_path: Any) -> None:
    path = _batch(tmp_path, '{"expr": "x", "wrt": "x"}')
    for argv in (["diff", "--batch", path, "x"], ["diff", "x"], ["diff", "--wrt", "x"]):
        with pytest.raises(SystemExit) as usage:
            main(argv)
        assert usage.value.code == 2, argv


def test_an_all_correct_batch_exits_0(tmp_path: Any,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = _batch(tmp_path, '{"expr": "a\'*x", "wrt": "x", "shapes": ["a=n", "x=n"], '
                            '"claim": "a\'"}')
    assert main(["verify", "--batch", path]) == 0


def test_a_batch_file_that_cannot_be_read_is_a_one_line_error(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from jacobian_lab.cli import batch

    assert main(["verify", "--batch", str(tmp_path / "missing.jsonl")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read")
    big = _batch(tmp_path, '{"expr": "x"}')
    monkeypatch.setattr(batch, "MAX_BYTES", 4)
    assert main(["verify", "--batch", big]) == 2
    assert "a batch may have at most 4" in capsys.readouterr().err
    (tmp_path / "bin.jsonl").write_bytes(b"\xff\xfe\x00")
    assert main(["verify", "--batch", str(tmp_path / "bin.jsonl")]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # requests come from the file only
        main(["verify", "--batch", big, "x"])
    assert usage.value.code == 2
    assert "give no EXPR or --claim" in capsys.readouterr().err



# --------------------------------------------------------------------------- --emit


def test_emit_numpy_prints_a_checked_function_that_computes_the_gradient(
        capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    assert main(["diff", "sum(relu(W*x + b))", "--wrt", "W", "--shape", "W=n,m", "--shape",
                 "x=m", "--emit", "numpy"]) == 0
    source = capsys.readouterr().out
    namespace: dict[str, Any] = {}
    exec(compile(source, "emitted", "exec"), namespace)  # the test runs what a user would
    rng = np.random.default_rng(1)
    W, b, x = (rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (4, 1), (3, 1)))
    got = namespace["df_dW"](W, b, x)
    assert got.dtype == np.float32  # dtype-preserving
    np.testing.assert_allclose(got, ((W @ x + b) > 0) @ x.T, rtol=1e-6)


def test_emit_numpy_refuses_to_show_a_printed_function_that_disagrees(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from jacobian_lab.codegen import function

    real = function.kernel_source
    monkeypatch.setattr(function, "kernel_source",
                        lambda spec: real(spec).replace("return ", "return 2 * "))
    assert main(["diff", "sum(relu(W*x + b))", "--wrt", "W", "--shape", "W=n,m", "--shape",
                 "x=m", "--emit", "numpy"]) == 1
    captured = capsys.readouterr()
    assert "def df_dW" not in captured.out
    assert "differs from the proven result" in captured.err


def test_emit_numpy_of_a_result_without_a_numpy_form_is_an_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "relu(W*x + b) + x", "--wrt", "x", "--shape", "W=n,n", "--shape",
                 "x=n", "--emit", "numpy"]) == 2
    assert capsys.readouterr().err.startswith("error: df_dx has no NumPy form yet")


NO_NUMPY_FORM_YET = {"relu(W*x + b) + x"}


@pytest.mark.parametrize(("text", "shapes", "wrt", "printed"), PROVEN,
                         ids=[f"{t} d/d{w}" for t, _, w, _ in PROVEN])
def test_every_proven_result_prints_as_numpy_that_agrees_with_it(
        text: str, shapes: tuple[str, ...], wrt: str, printed: str | None) -> None:
    """Nested common subexpressions (the tanh network's) once printed a name never defined."""
    from jacobian_lab.codegen.function import numpy_function
    from jacobian_lab.errors import RuleError

    d = diff(text, [wrt], parse_shapes(list(shapes)))
    r = d.results[0]
    if text in NO_NUMPY_FORM_YET:  # eye(n) of a symbolic n
        with pytest.raises(RuleError, match="no NumPy form yet"):
            numpy_function("g", substitute(r.expr, r.defs), "", d.sizes[1])
        return
    _, error = numpy_function("g", substitute(r.expr, r.defs), "", d.sizes[1])
    assert error <= 1e-12


# --------------------------------------------------------------------------- the catalog


CATALOG = [  # (entry, result index, the same function in the language, shapes, wrt)
    ("neuron", 0, "x'*w + b", ("w=n", "x=n", "b=1"), "w"),
    ("neuron", 1, "x'*w + b", ("w=n", "x=n", "b=1"), "x"),
    ("neuron", 2, "x'*w + b", ("w=n", "x=n", "b=1"), "b"),
    ("neuron-relu", 0, "relu(sum(w.*x) + b)", ("w=n", "x=n", "b=1"), "w"),
    ("neuron-relu", 1, "relu(sum(w.*x) + b)", ("w=n", "x=n", "b=1"), "b"),
    ("dot-product", 0, "sum(w.*x)", ("w=n", "x=n"), "w"),
    ("hadamard", 0, "v.*w", ("v=n", "w=n"), "v"),
    ("layer", 1, "sigmoid(W*a + b)", ("W=k,n", "a=n"), "a"),
    ("layer", 2, "sigmoid(W*a + b)", ("W=k,n", "a=n"), "b"),
    ("softmax-cross-entropy", 2, "-y'*log(softmax(z))", ("y=n", "z=n"), "z"),
]


@pytest.mark.parametrize(("entry", "index", "text", "shapes", "wrt"), CATALOG,
                         ids=[f"{e}[{i}]" for e, i, _, _, _ in CATALOG])
def test_the_language_path_gives_the_catalogs_result(entry: str, index: int, text: str,
                                                     shapes: tuple[str, ...], wrt: str) -> None:
    """Five catalog entries typed in the matrix language: `jlab diff` derives what the
    catalog's hand-built nodes derive (compared entry by entry at the catalog's sizes)."""
    import derivations
    from jacobian_lab.judge.checker import compare
    from jacobian_lab.matrix.explicit import Instantiator

    theirs = derivations.get(entry).results[index]
    ours = diff(text, [wrt], parse_shapes(list(shapes))).results[0]
    assert ours.kind == theirs.kind
    for sizes in derivations.get(entry).sizes[:3]:
        inst = Instantiator(sizes)
        a = inst(substitute(theirs.expr, theirs.defs))
        b = inst(substitute(ours.expr, ours.defs))
        check = compare(sp.Matrix(a), sp.Matrix(b))
        assert check.verdict == "correct", (sizes, check.diagnosis)


def _hand_built() -> dict[str, tuple[list[Any], list[Any]]]:
    """The five entries' definitions as they were built by hand, node by node, before they
    were written in the language — and the same definitions through ``define``."""
    from jacobian_lab.matrix.expr import (
        DIM_K,
        T,
        apply,
        hadamard,
        matrix,
        scalar,
        softmax,
        vector,
        vsum,
    )
    from jacobian_lab.matrix.from_text import declare, define

    w, x, b = vector("w"), vector("x"), scalar("b")
    H, s, z, a = vector("H"), scalar("s"), scalar("z"), scalar("a")
    W, ai, bk = matrix("W", DIM_K, sp.Symbol("n", integer=True, positive=True)), vector("a"), \
        vector("b", DIM_K)
    zk, ak = vector("z", DIM_K), vector("a'", DIM_K)
    y, sv, L, C = vector("y"), vector("s"), vector("L"), scalar("C")
    xi, yi, zi, aii, ri, Ci = (vector("xᵢ"), scalar("yᵢ"), scalar("zᵢ"), scalar("aᵢ"),
                               scalar("rᵢ"), scalar("Cᵢ"))
    n0, n1, n2 = (sp.Symbol(f"n{i}", integer=True, positive=True) for i in range(3))
    X, W1, b1, W2, b2 = (vector("x", n0), matrix("W1", n1, n0), vector("b1", n1),
                         matrix("W2", n2, n1), vector("b2", n2))
    z1, a1, z2, a2 = vector("z1", n1), vector("a1", n1), vector("z2", n2), vector("a2", n2)
    return {
        "neuron-relu": (
            [(H, hadamard(w, x)), (s, vsum(H)), (z, s + b), (a, apply("relu", z))],
            define([("H", "w .* x"), ("s", "sum(H)"), ("z", "s + b"), ("a", "relu(z)")],
                   {"w": "n", "x": "n", "b": "1"})),
        "layer": (
            [(zk, W * ai + bk), (ak, apply("sigmoid", zk))],
            define([("z", "W*a + b"), ("a'", "sigmoid(z)")], {"W": "k,n", "a": "n", "b": "k"})),
        "softmax-cross-entropy": (
            [(sv, softmax(vector("z"))), (L, apply("log", sv)), (C, sp.MatMul(-1, T(y), L))],
            define([("s", "softmax(z)"), ("L", "log(s)"), ("C", "-y'*L")],
                   declare(vector("z"), y))),
        "mse-neuron": (
            [(zi, sp.MatAdd(T(w) * xi, b)), (aii, apply("relu", zi)),
             (ri, sp.MatAdd(yi, sp.MatMul(-1, aii))),
             (Ci, sp.MatMul(sp.Rational(1, 2), T(ri), ri))],
            define([("zᵢ", "w'*xᵢ + b"), ("aᵢ", "relu(zᵢ)"), ("rᵢ", "yᵢ - aᵢ"),
                    ("Cᵢ", "1/2*rᵢ'*rᵢ")], declare(w, xi, yi, b))),
        "mnist-network": (
            [(z1, sp.MatAdd(W1 * X, b1)), (a1, apply("relu", z1)), (z2, sp.MatAdd(W2 * a1, b2)),
             (a2, softmax(z2))],
            define([("z1", "W1*x + b1"), ("a1", "relu(z1)"), ("z2", "W2*a1 + b2"),
                    ("a2", "softmax(z2)")], declare(X, W1, b1, W2, b2))),
    }


@pytest.mark.parametrize("entry", ["neuron-relu", "layer", "softmax-cross-entropy", "mse-neuron",
                                   "mnist-network"])
def test_a_catalog_entry_written_in_the_language_has_the_nodes_it_had_by_hand(
        entry: str) -> None:
    """The five entries define their intermediates in the matrix language (`define`); the
    nodes are the very ones built by hand before (srepr, so steps and results are unchanged),
    and they are the entry's own definitions."""
    import derivations

    by_hand, in_language = _hand_built()[entry]
    assert [sp.srepr(p) for p in in_language] == [sp.srepr(p) for p in by_hand]
    if entry == "mnist-network":  # its definitions shown are the batch's
        from derivations.mnist_network import derive
        ours = {(sp.srepr(k), sp.srepr(v)) for k, v in derive().forward}
    elif entry == "mse-neuron":  # shown with the error eᵢ
        from derivations.mse_neuron import neuron_links, problem
        ours = {(sp.srepr(k), sp.srepr(v)) for k, v in neuron_links(problem())}
    else:
        ours = {(sp.srepr(d.lhs), sp.srepr(d.rhs)) for d in derivations.get(entry).definitions}
    assert {(sp.srepr(k), sp.srepr(v)) for k, v in in_language} <= ours


def test_define_refuses_a_name_defined_twice() -> None:
    from jacobian_lab.matrix.from_text import define

    with pytest.raises(UsageError, match="defined twice"):
        define([("z", "W*x"), ("z", "relu(z)")], {"W": "n,m", "x": "m"})
    with pytest.raises(UsageError, match="defined twice"):
        define([("x", "W*x")], {"W": "n,n", "x": "n"})


MISTAKES = [  # (expression, shapes, wrt, claim, the words of the diagnosis)
    ("relu(W*x + b) + x", ("W=n,n", "x=n"), "x", "diag(step(W*x + b))*W*2 + eye(n)", None),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m"), "W", "x'*step(W*x + b)",
     "two sides of `x'*step(W*x + b)` are swapped"),
    ("sum(relu(W*x + b))", ("W=n,m", "x=m"), "W", "step(W*x + b).*x'",
     "is element-wise where the matrix product"),
    ("sum(y .* (W*x))", ("W=n,m", "x=m", "y=n"), "x", "y*W", "`y` needs a transpose"),
    ("norm(A*x - b)^2", ("A=n,m", "x=m", "b=n"), "x", "2*(A*x - b)*A",
     "`(A*x - b)` needs a transpose"),
    ("norm(A*x - b)^2", ("A=n,m", "x=m", "b=n"), "x", "2*(A*x - b)'*A'",
     "`A'` should not be transposed"),
    ("sum(sigmoid(W*x))", ("W=n,m", "x=m"), "x",
     "(sigmoid(W*x) .* (1 - sigmoid(W*x)))'.*W", "is element-wise where the matrix product"),
]


@pytest.mark.parametrize(("text", "shapes", "wrt", "claim", "words"), MISTAKES,
                         ids=[c for _, _, _, c, _ in MISTAKES])
def test_a_matrix_level_mistake_is_named(text: str, shapes: tuple[str, ...], wrt: str,
                                         claim: str, words: str | None) -> None:
    v = verify_claim(text, wrt, parse_shapes(list(shapes)), claim)
    assert v.verdict == "incorrect"
    if words is None:  # ×2 is no one-change mistake of the notation: no such diagnosis
        assert "was meant" not in (v.diagnosis or "") and "needs" not in (v.diagnosis or "")
    else:
        assert words in (v.diagnosis or ""), v.diagnosis


def test_a_claim_no_single_change_can_fix_keeps_its_shape_error() -> None:
    with pytest.raises(ShapeError, match="the claim is m × m, but ∂f/∂x is n × m"):
        verify_claim("W*x", "x", parse_shapes(["W=n,m", "x=m"]), "W'*W")


@pytest.mark.parametrize("activation", ["gelu", "leaky_relu", "softplus"])
def test_every_activation_of_the_registry_is_in_the_matrix_language(activation: str) -> None:
    """The language reads the activation registry (gelu and leaky_relu were once unknown)."""
    d = diff(f"sum({activation}(W*x + b))", ["W"], parse_shapes(["W=n,m", "x=m"]))
    assert prove(d).ok


def test_cli_diff_past_its_budget_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "sum(relu(W*x + b))", "--wrt", "W", "--shape", "W=n,m", "--shape",
                 "x=m", "--budget", "0.001"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: `jlab diff` did not finish within the budget of 0.001 s")
    assert err.count("\n") == 1


def test_a_file_written_in_the_language_is_derived_and_proven(
        tmp_path: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `--file` example: definitions in the matrix language, by name."""
    import derivations

    # the file registers its entry: in a copy of the registry, so the catalog stays the notes'
    for name in ("_REGISTRY", "_ORDER", "_USER_FILES"):
        monkeypatch.setattr(derivations, name, type(getattr(derivations, name))(
            getattr(derivations, name)))
    path = tmp_path / "my_layer.py"
    path.write_text(
        "import derivations\n"
        "from jacobian_lab.core.from_text import derivation\n\n\n"
        '@derivations.register("my-layer-test")\n'
        "def build():\n"
        '    return derivation("my-layer-test", [("z", "W*x + b"), ("a", "tanh(z)"),\n'
        '                      ("C", "1/2*norm(a - y)^2")], wrt=["W", "b"],\n'
        '                      shapes={"W": "n,m", "x": "m", "y": "n"})\n', encoding="utf-8")
    assert main(["derive", "--file", str(path), "my-layer-test"]) == 0
    out = capsys.readouterr().out
    assert "∂C/∂W = (r1 ⊙ tanh′(z)) xᵀ" in out and "∂C/∂b = (r1 ⊙ tanh′(z))ᵀ" in out
    assert "proven" in out


def test_derivation_needs_definitions_and_variables() -> None:
    from jacobian_lab.core.from_text import derivation

    with pytest.raises(UsageError, match="at least one definition"):
        derivation("x", [], ["W"], {})
    with pytest.raises(UsageError, match="name the variables"):
        derivation("x", [("z", "W*x")], [], {"W": "n,m", "x": "m"})
    with pytest.raises(UnknownNameError, match="not a variable"):
        derivation("x", [("z", "sum(W*x)")], ["q"], {"W": "n,m", "x": "m"})


def test_a_counterexample_lies_in_the_domain_of_the_function() -> None:
    """sum(log(x)) is defined where every xᵢ > 0: a counterexample to a claimed gradient must
    be such a point, even though a claim such as 2 ./ x is defined wherever xᵢ ≠ 0."""
    v = verify_claim("sum(log(x))", "x", parse_shapes(["x=n"]), "(2 ./ x)'")
    assert v.verdict == "incorrect"
    _, check = next((lbl, c) for lbl, c in v.checks if c.verdict == "incorrect")
    assert check.counterexample and all(value > 0 for value in check.counterexample.values()), (
        check.counterexample)


def test_logdet_is_log_abs_det_and_its_gradient_holds_where_det_is_negative() -> None:
    v = verify_claim("logdet(X)", "X", parse_shapes(["X=n,n"]), "inv(X)'")
    assert v.verdict == "correct"
    from jacobian_lab.matrix.explicit import explicit
    from jacobian_lab.matrix.expr import SquareFunction, matrix

    X = matrix("X", 2, 2)
    value = explicit(SquareFunction("logdet", X), {}).xreplace(
        {sp.Symbol("X11", real=True): 0, sp.Symbol("X12", real=True): 1,
         sp.Symbol("X21", real=True): 1, sp.Symbol("X22", real=True): 0})
    assert value[0, 0] == 0  # det = −1: log |−1| = 0


def test_a_factor_every_term_shares_is_taken_out_as_a_named_step() -> None:
    d = diff("x'*A*x", ["x"], parse_shapes(["A=n,n", "x=n"]))
    assert d.steps[-1].rule.startswith("factor out what every term shares")
    assert notation(d.results[0].expr) == "xᵀ (A + Aᵀ)"
    d = diff("sum(relu(W*x + b))", ["W"], parse_shapes(["W=n,m", "x=m"]))
    assert not any(s.rule.startswith("factor out") for s in d.steps)  # nothing shared


def test_sizes_replace_the_proofs_size_assignments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "sum(relu(W*x))", "--wrt", "W", "--shape", "W=n,m", "--shape", "x=m",
                 "--sizes", "n=4,5", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["proof"]["sizes"] == ["m=1,n=4", "m=2,n=5"]
    for bad, words in ((["--sizes", "q=1,2"], "not a dimension"),
                       (["--sizes", "n=40"], "from 1 to 12"),
                       (["--sizes", "n=1,x"], "write a dimension and its sizes"),
                       (["--sizes", "n=1", "--sizes", "m=1,2"], "same number of values")):
        assert main(["diff", "sum(W*x)", "--wrt", "x", "--shape", "W=n,m", "--shape", "x=m",
                     *bad]) == 2
        assert words in capsys.readouterr().err


def test_denominator_layout_transposes_jacobians_and_is_proven(
        capsys: pytest.CaptureFixture[str]) -> None:
    d = diff("x'*A*x", ["x"], parse_shapes(["A=n,n", "x=n"]), layout="denominator")
    assert notation(d.results[0].expr) == "(A + Aᵀ) x" and d.results[0].kind == "denominator"
    assert prove(d).ok
    wrong = replace(d.results[0], expr=d.results[0].expr.T)  # the numerator-layout row
    d.results = [wrong]
    assert not prove(d).ok
    g = diff("sum(relu(W*x))", ["W"], parse_shapes(["W=n,m", "x=m"]), layout="denominator")
    assert g.results[0].kind == "gradient"  # the shape of W in both layouts
    assert main(["diff", "x'*A*x", "--wrt", "x", "--shape", "A=n,n", "--shape", "x=n",
                 "--layout", "denominator", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layout"] == "denominator" and out["result"] == {"x": "(A + A')*x"}
    assert out["shape"] == {"x": "n × 1"} and out["latex"]["x"].startswith("\\left(A")


@pytest.mark.parametrize(("claim", "verdict", "words"), [
    ("(A + A')*x", "correct", None),
    ("x'*(A + A')", "incorrect", "transposed (numerator layout)"),
    ("2*A*x", "incorrect", "the entries (1,1), (2,1) differ"),
])
def test_a_claim_in_denominator_layout_is_judged_as_one(claim: str, verdict: str,
                                                       words: str | None) -> None:
    v = verify_claim("x'*A*x", "x", parse_shapes(["A=n,n", "x=n"]), claim, "denominator")
    assert v.verdict == verdict
    if words:
        assert v.diagnosis is not None and words in v.diagnosis, v.diagnosis
