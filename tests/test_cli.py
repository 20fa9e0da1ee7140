"""The `jlab` command line: outputs, exit codes (0 ok, 1 check failed, 2 bad input), JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jacobian_lab.cli import main

JLAB = [sys.executable, "-m", "jacobian_lab.cli"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_command_with_an_example():
    out = subprocess.run([*JLAB, "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("jacobian", "gradient", "chain", "verify", "list", "derive", "check", "report"):
        assert cmd in out
    assert "examples:" in out


@pytest.mark.parametrize(
    "cmd", ["jacobian", "gradient", "chain", "verify", "list", "derive", "check", "report", "demo"]
)
def test_every_subcommand_help_carries_an_example(cmd):
    out = subprocess.run([*JLAB, cmd, "--help"], capture_output=True, text=True, check=True).stdout
    assert "examples:" in out and f"jlab {cmd}" in out


def test_help_does_not_import_sympy():
    code = (
        "import sys; from jacobian_lab.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'sympy' not in sys.modules, 'jlab --help imported sympy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_jacobian_json_has_the_documented_schema(capsys):
    code, out, _ = run(
        capsys, "jacobian", "2*x + y^3", "exp(y) - 13*x", "--wrt", "x", "y", "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"exprs", "wrt", "layout", "shape", "jacobian", "latex"}
    assert data["jacobian"] == [["2", "3*y**2"], ["-13", "exp(y)"]]
    assert data["shape"] == [2, 2] and data["layout"] == "numerator"


def test_jacobian_denominator_layout_is_the_transpose(capsys):
    _, out, _ = run(
        capsys,
        "jacobian",
        "2*x + y^3, exp(y) - 13*x",
        "--wrt",
        "x",
        "y",
        "--layout",
        "denominator",
        "--format",
        "json",
    )
    assert json.loads(out)["jacobian"] == [["2", "-13"], ["3*y**2", "exp(y)"]]


def test_gradient_at_a_point(capsys):
    code, out, _ = run(
        capsys, "gradient", "x^2 + cos(y)", "--wrt", "x", "y", "--at", "x=2,y=0", "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["jacobian"] == [["2*x", "-sin(y)"]]
    assert data["value"] == [["4", "0"]]


def test_rich_output_shows_matrix_layout_and_check(capsys):
    code, out, _ = run(capsys, "jacobian", "sin(x^2 + y)", "log(y^3)", "--wrt", "x", "y")
    assert code == 0
    assert "numerator layout" in out
    assert "check:" in out and "correct" in out


def test_latex_output(capsys):
    _, out, _ = run(capsys, "gradient", "x^2 + cos(y)", "--wrt", "x", "y", "--format", "latex")
    assert out.strip() == r"\begin{bmatrix}2 x & - \sin{\left(y \right)}\end{bmatrix}"


def test_chain_shows_factors_and_agrees(capsys):
    code, out, _ = run(
        capsys,
        "chain",
        "--outer",
        "sin(g1), log(g2)",
        "--inner",
        "g1=x^2+y, g2=y^3",
        "--wrt",
        "x",
        "y",
        "--format",
        "json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["df_dg"] == [["cos(g1)", "0"], ["0", "1/g2"]]
    assert data["product"] == [["2*x*cos(x**2 + y)", "cos(x**2 + y)"], ["0", "3/y"]]
    assert data["agrees"] is True


def test_verify_correct_claim_exits_0(capsys):
    code, out, _ = run(
        capsys, "verify", "x^2 + cos(y)", "--wrt", "x", "y", "--claim", "[[2*x, -sin(y)]]"
    )
    assert code == 0
    assert "CORRECT" in out


def test_verify_wrong_claim_exits_1_with_json_diagnosis(capsys):
    code, out, _ = run(
        capsys,
        "verify",
        "2*x + y^3",
        "exp(y) - 13*x",
        "--wrt",
        "x",
        "y",
        "--claim",
        "[[2, -13], [3*y^2, exp(y)]]",
        "--format",
        "json",
    )
    assert code == 1
    data = json.loads(out)
    assert data["verdict"] == "incorrect"
    assert "denominator layout" in data["diagnosis"]
    assert {(m["row"], m["col"]) for m in data["mismatches"]} == {(1, 2), (2, 1)}
    assert set(data["counterexample"]) == {"x", "y"}
    assert set(data) >= {"exprs", "wrt", "layout", "shape", "jacobian", "latex", "method"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["jacobian", "sinn(x)", "--wrt", "x"], "did you mean `sin`"),
        (["jacobian", "x^2", "--wrt", "q"], "Unknown variable `q`"),
        (["verify", "x^2", "--wrt", "x", "--claim", "[[1, 2, 3]]"], "1×3 but the Jacobian is 1×1"),
        (["gradient", "log(x)", "--wrt", "x", "--at", "x=0"], "undefined"),
        (["jacobian", "__import__('os')", "--wrt", "x"], "error"),
        (["derive", "neuron-reul"], "did you mean `neuron-relu`"),
        (["chain", "--outer", "sin(h)", "--inner", "g=x", "--wrt", "x"], "does not define"),
    ],
    ids=[
        "parse",
        "unknown-wrt",
        "claim-shape",
        "domain",
        "injection",
        "unknown-derivation",
        "chain-undefined",
    ],
)
def test_user_errors_are_one_line_on_stderr_with_exit_2(argv, message):
    proc = subprocess.run([*JLAB, *argv], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:")


def test_derive_shows_steps_result_and_proof(capsys):
    code, out, _ = run(capsys, "derive", "neuron-relu")
    assert code == 0
    assert "∂H/∂w = diag(x)" in out
    assert "∂a/∂w = step(z) xᵀ" in out
    assert "proven" in out


def test_derive_json_and_sizes(capsys):
    code, out, _ = run(capsys, "derive", "neuron-relu", "--format", "json", "--sizes", "2,4")
    assert code == 0
    data = json.loads(out)
    assert data["proof"]["sizes"] == ["n=2", "n=4"]
    assert data["results"][0]["rhs"] == "step(z) xᵀ"


def test_derive_rejects_bad_sizes():
    proc = subprocess.run(
        [*JLAB, "derive", "neuron-relu", "--sizes", "0,99"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "between 1 and" in proc.stderr


def test_derive_user_file(tmp_path, capsys):
    f = tmp_path / "my_derivation.py"
    f.write_text(
        "import derivations\n"
        "from jacobian_lab.derivation import Derivation, Partial, Result, chain_steps\n"
        "from jacobian_lab.matrix.expr import DIM_N, apply, vector\n"
        "@derivations.register('my-tanh')\n"
        "def build():\n"
        "    z, a = vector('z'), vector('a')\n"
        "    steps, res = chain_steps([(a, apply('tanh', z))], z)\n"
        "    return Derivation('my-tanh', 'tanh layer', 'a = tanh(z)', [], steps,\n"
        "                      [Result(Partial(a, z), res, apply('tanh', z), z)],\n"
        "                      sizes=[{DIM_N: n} for n in (1, 2, 3)])\n"
    )
    code, out, _ = run(capsys, "derive", "--file", str(f))
    assert code == 0
    assert "∂a/∂z = diag(tanh′(z))" in out


def test_check_json_reports_every_named_derivation(capsys):
    code, out, _ = run(capsys, "check", "neuron-relu", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True and set(data["derivations"]) == {"neuron-relu"}


def test_report_markdown(tmp_path, capsys):
    code, _, err = run(capsys, "report", "neuron-relu", "-o", str(tmp_path / "r.md"))
    assert code == 0 and "wrote" in err
    assert "neuron-relu" in (tmp_path / "r.md").read_text()


def test_wrt_defaults_to_every_variable_in_natural_order(capsys):
    code, out, _ = run(capsys, "jacobian", "x10*x2, x1", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["wrt"] == ["x1", "x2", "x10"], "x2 comes before x10"
    assert data["jacobian"] == [["0", "x10", "x2"], ["1", "0", "0"]]


def test_a_constant_has_no_variable_to_differentiate(capsys):
    code, _, err = run(capsys, "gradient", "3")
    assert code == 2 and "no variable" in err


@pytest.mark.parametrize("argv", [
    ["jacobian", "x", "--layout", "diag"], ["train", "--bogus"], ["verify", "x"],
    ["train", "--seed", "-1"], ["data", "fetch", "mnist", "--timeout", "inf"], [],
])
def test_usage_errors_are_one_line_on_stderr_with_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "--help)" in err
    assert "usage:" not in err
