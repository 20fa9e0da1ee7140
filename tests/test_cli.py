"""The `jlab` command line: outputs, exit codes (0 ok, 1 check failed, 2 bad input), JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import time

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
        "from jacobian_lab.core.chain import chain_steps\n"
        "from jacobian_lab.core.derivation import Derivation, Partial, Result\n"
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


# --------------------------------------------------------------------------- input


def test_a_leading_minus_is_an_expression_not_an_option(capsys):
    code, out, _ = run(capsys, "gradient", "-x^2", "--format", "json")
    assert code == 0 and json.loads(out)["jacobian"] == [["-2*x"]]
    code, out, _ = run(capsys, "jacobian", "x", "-y", "--format", "json")
    assert code == 0 and json.loads(out)["jacobian"] == [["1", "0"], ["0", "-1"]]
    code, out, _ = run(capsys, "verify", "-2*x", "--claim", "-2", "--format", "json")
    assert code == 0 and json.loads(out)["verdict"] == "correct"


def test_a_leading_minus_through_the_installed_command_line():
    proc = subprocess.run([*JLAB, "gradient", "-(x+1)^2", "--format", "json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["jacobian"] == [["-2*x - 2"]]


def test_a_variable_that_cancels_can_still_be_differentiated_by(capsys):
    code, out, err = run(capsys, "gradient", "x - x", "--wrt", "x", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["jacobian"] == [["0"]]


def test_a_gradient_of_several_expressions_is_refused(capsys):
    code, _, err = run(capsys, "gradient", "x, y")
    assert code == 2 and "gradient is of one scalar expression" in err and "jlab jacobian" in err


def test_a_circular_inner_definition_is_refused(capsys):
    code, _, err = run(capsys, "chain", "--outer", "sin(g1)", "--inner", "g1=g1+x", "--wrt", "x")
    assert code == 2 and "circular" in err


def test_division_by_zero_is_a_one_line_error(capsys):
    code, out, err = run(capsys, "jacobian", "x/0")
    assert code == 2 and out == ""
    assert err.startswith("error: Division by zero: `x/0`") and err.count("\n") == 1


def test_verify_at_a_point_judges_the_claim_there(capsys):
    code, out, _ = run(capsys, "verify", "x^2", "--claim", "[[2*x]]", "--at", "x=3",
                       "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["verdict"] == "correct" and data["method"] == "point"
    assert data["value"] == [["6"]] and data["claim_value"] == [["6"]]
    code, out, _ = run(capsys, "verify", "x^2", "--claim", "[[3*x]]", "--at", "x=3",
                       "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "incorrect"
    assert data["mismatches"] == [{"row": 1, "col": 1}]


def test_verify_at_a_wrong_claim_that_is_right_at_the_point_is_correct_only_there(capsys):
    code, out, _ = run(capsys, "verify", "x^2", "--claim", "[[x^2]]", "--at", "x=2")
    assert code == 0 and "judged at this one point only" in out


@pytest.mark.parametrize(("at", "message"), [("x=nan", "not a finite number"),
                                             ("x=-1", "undefined at x=-1")])
def test_verify_at_a_bad_point_is_exit_2_as_for_jacobian(capsys, at, message):
    code, _, err = run(capsys, "verify", "log(x)", "--claim", "[[1/x]]", "--at", at)
    assert code == 2 and message in err


@pytest.mark.parametrize("expr", ["sqrt(Abs(x))", "(x^2)^(1/3)", "Abs(x)^(1/3)", "x^(1/3)"])
def test_a_cusp_has_an_infinite_slope_and_no_derivative(capsys, expr):
    code, out, err = run(capsys, "jacobian", expr, "--at", "x=0")
    assert code == 2 and out == ""
    assert "undefined at x=0" in err


def test_a_cusp_is_refused_by_verify_at_too(capsys):
    code, _, err = run(capsys, "verify", "sqrt(Abs(x))", "--claim", "[[0]]", "--at", "x=0")
    assert code == 2 and "infinite slope" in err


def test_a_fractional_power_that_is_smooth_at_the_point_is_fine(capsys):
    code, out, _ = run(capsys, "jacobian", "x*sqrt(Abs(x))", "--at", "x=0", "--format", "json")
    assert code == 0 and json.loads(out)["value"] == [["0"]]


# --------------------------------------------------------------------------- budget


def _jlab(*argv: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    proc = subprocess.run([*JLAB, *argv], capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - start


SLACK = 15  # seconds of start-up (importing SymPy) on a loaded CI machine


def _one_line_budget_error(proc: subprocess.CompletedProcess[str], command: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (f"error: `jlab {command}` did not finish within the budget of 1 s "
                           "(give it more time with --budget SECONDS)\n")


def test_a_product_of_400_variables_stops_at_the_budget():
    product = "*".join(f"x{i}" for i in range(1, 401))
    proc, seconds = _jlab("gradient", product, "--budget", "1")
    _one_line_budget_error(proc, "gradient")
    assert seconds < 1 + SLACK


@pytest.mark.parametrize("expr", ["sin(" * 10 + "x" + ")" * 10, "(x+y+z+w+v)^1000"])
def test_simplification_past_its_budget_answers_unsimplified(expr):
    proc, seconds = _jlab("jacobian", expr, "--budget", "2", "--format", "json")
    assert seconds < 2 + SLACK
    if proc.returncode == 2:  # a machine too loaded to even differentiate in 2 s
        assert "did not finish within the budget of 2 s" in proc.stderr
        return
    data = json.loads(proc.stdout)
    assert proc.returncode == 0 and data["simplified"] is False
    assert any(n.startswith("not simplified") for n in data["notes"])


@pytest.mark.parametrize(("expr", "wrt", "claim"), [
    ("Max(x, sin(Max(x, sin(Max(x, sin(Max(x, sin(x))))))))", ["x"], "[[1]]"),
    ("(x+y)^1000", ["x", "y"], "[[1000*(x+y)^999, 1000*(x+y)^999]]"),
])
def test_verify_past_its_budget_is_undecided_with_reason_budget(expr, wrt, claim):
    proc, seconds = _jlab("verify", expr, "--wrt", *wrt, "--claim", claim, "--budget", "1",
                          "--format", "json")
    assert seconds < 1 + SLACK
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "undecided" and data["reason"].startswith("budget (1 s)")


def test_nested_squares_are_refused_at_once_without_memory_growth():
    nested = "(" * 39 + "x" + ")^2" * 39
    proc, seconds = _jlab("jacobian", nested, "--at", "x=2", "--budget", "1")
    assert proc.returncode == 2 and "counting nested powers" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert seconds < SLACK  # the parser refuses it: no time to grow (it grew 60 MB/s)


def test_huge_exact_values_at_a_point_are_shown_rounded_not_as_a_traceback(capsys):
    code, out, err = run(capsys, "jacobian", "x^1000*y^1000*z^1000",
                         "--at", "x=999,y=999,z=999", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["value"][0][0].startswith("4.97621561541905e+8998")
    assert any("shown rounded" in n for n in data["notes"])


@pytest.mark.parametrize("budget", ["0", "-1", "nan", "soon"])
def test_a_budget_must_be_a_positive_number_of_seconds(budget):
    proc = subprocess.run([*JLAB, "jacobian", "x", "--budget", budget],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "positive number of seconds" in proc.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "neuron-relu"], "error: proving `neuron-relu` did not finish within the budget"),
    (["report", "neuron-relu", "-o", "{tmp}/r.md"],
     "error: proving `neuron-relu` did not finish within the budget"),
    (["mutate", "neuron-relu", "--level", "catalog"],
     "error: judging the mutant "),  # whichever mutant first outlasts 0.01 s
], ids=["check", "report", "mutate"])
def test_batch_commands_apply_the_budget_to_each_item(tmp_path, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc, _ = _jlab(*argv, "--budget", "0.01")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1
    assert "neuron-relu" in proc.stderr and "budget" in proc.stderr


def test_past_its_memory_bound_verify_is_undecided_and_jacobian_an_error(capsys, monkeypatch):
    from jacobian_lab.cli import calculus as _cli_calculus

    monkeypatch.setattr(_cli_calculus, "MEMORY_BYTES", 48 << 20)  # SymPy grows ~100 MB/s here
    code, out, _ = run(capsys, "verify", "(x+y+z+w+v)^1000", "--wrt", "v", "w", "x", "y", "z",
                       "--claim", "[[0, 0, 0, 0, 0]]", "--budget", "60", "--format", "json")
    assert code == 1 and json.loads(out)["reason"].startswith("memory (48 MB)")
    code, _, err = run(capsys, "jacobian", "(x+y+z+w+v)^1000", "--budget", "60")
    assert code == 2 and err == "error: `jlab jacobian` needs more than 48 MB of memory\n"


def test_report_of_one_derivation_says_derivation_in_the_singular(capsys, tmp_path):
    code, _, err = run(capsys, "report", "neuron-relu", "-o", str(tmp_path / "one.md"))
    assert code == 0 and "(1 derivation, " in err and "derivations" not in err
