"""Codegen: the printed source (exact strings), freshness, and wrong specs caught."""

from __future__ import annotations

import argparse
import ast
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from jacobian_lab.cli.codegen import cmd_codegen
from jacobian_lab.codegen import emit as codegen
from jacobian_lab.codegen.kernel_spec import KernelSpec
from jacobian_lab.codegen.printer import KernelPrinter
from jacobian_lab.codegen.specs import kernel_specs, verify
from jacobian_lab.errors import UnknownNameError, VerificationError
from jacobian_lab.language.activations import ACTIVATIONS as ACT
from jacobian_lab.language.activations import leaky_relu
from jacobian_lab.matrix.expr import (
    DIM_J,
    DIM_K,
    DIM_M,
    DIM_N,
    T,
    apply,
    diag,
    hadamard,
    matrix,
    ones,
    softmax,
    vector,
)

n, k, m = DIM_N, DIM_K, DIM_M
Z, W, A = matrix("Z", k, m), matrix("W", k, n), matrix("A", n, m)
SPECS = {s.name: s for s in kernel_specs()}

RELU_GRAD = r'''def relu_grad(Z: np.ndarray) -> np.ndarray:
    r"""ReLU'(Z) element-wise, with ReLU'(0) = 0: 1 where Z > 0, else 0. Exception to NaN
    propagation: NaN in Z gives 0 (NaN > 0 is False), as in every ReLU step mask;
    np.heaviside would propagate it but is 4–12× slower. The trainer catches NaN in the loss
    and the weights instead.

    Derivation: elementwise (`jlab derive elementwise`)
    Formula:    dA = \operatorname{step}\left(Z\right)
    Shapes:     Z: k × m pre-activations, one column per sample
                -> dA: k × m
    """
    return (Z > 0).astype(Z.dtype)
'''

DENSE_BACKWARD_BODY = """\
    m = dZ.shape[1]
    dW = (dZ @ A_prev.T) / m
    db = dZ.sum(axis=1, keepdims=True) / m
    dA_prev = W.T @ dZ
    return dW, db, dA_prev
"""


def printed(expr: sp.Basic) -> str:
    p = KernelPrinter({m: "Z.shape[1]"})
    text = p._print(expr)
    return "; ".join([*(f"{s.target} {s.op} {s.code}" for s in p.take()), text])


# --------------------------------------------------------------------------- exact source


def test_relu_grad_source_is_exact():
    assert codegen.show("relu_grad") == RELU_GRAD


def test_dense_backward_divides_by_the_sample_count_of_its_own_array():
    # 1/m is `/ m` with m = dZ.shape[1], an int: no Python float, float32 stays float32
    assert codegen.show("dense_backward").endswith(DENSE_BACKWARD_BODY)


@pytest.mark.parametrize(
    ("expr", "source"),
    [
        (sp.MatMul(W, A), "W @ A"),
        (sp.MatMul(T(W), Z), "W.T @ Z"),
        (sp.MatMul(1 / m, Z, ones(m)), "Z.sum(axis=1, keepdims=True) / m"),  # dZ 𝟏 / m
        (sp.MatMul(ones(1, k), Z), "Z.sum(axis=0, keepdims=True)"),  # 𝟏ᵀ Z: column sums
        (sp.MatMul(-1 / m, ones(1, k), Z, ones(m)), "-Z.sum() / m"),  # 𝟏ᵀ Z 𝟏: the total
        (sp.MatMul(diag(vector("v", k)), W), "v * W"),  # diag(v) W: v broadcast
        (sp.MatMul(A, diag(vector("u", m))), "A * u.T"),  # A diag(u): uᵀ broadcast
        (sp.MatAdd(sp.MatMul(W, A), sp.MatMul(vector("b", k), ones(1, m))), "W @ A + b"),
        (sp.MatAdd(Z, -matrix("Y", k, m)), "Z - Y"),
        (hadamard(sp.MatMul(T(W), Z), apply("relu", A, 1)), "(W.T @ Z) * (A > 0)"),
        (apply("relu", Z), "np.maximum(Z, 0)"),
        (apply("tanh", Z, 1), "1 - np.tanh(Z)**2"),
        (apply("relu", sp.MatMul(W, A), 1), "z = W @ A; (z > 0).astype(z.dtype)"),
        (sp.HadamardPower(sp.MatAdd(Z, -A), 2), "(Z - A)**2"),
        (apply("exp", Z), "np.exp(Z)"),
        (apply("softplus", Z), "np.logaddexp(0, Z)"),
    ],
)
def test_printer_writes_each_node_as_numpy_by_hand(expr, source):
    assert printed(expr) == source


def test_sigmoid_derivative_reuses_the_hoisted_sigmoid():
    assert printed(apply("sigmoid", Z, 1)) == (
        "sigmoid_Z = 1 / (1 + np.exp(-Z)); sigmoid_Z * (1 - sigmoid_Z)"
    )


def test_softmax_is_shifted_by_the_column_max_and_normalized_in_place():
    assert printed(softmax(Z)) == (
        "e = np.exp(Z - Z.max(axis=0, keepdims=True)); e /= e.sum(axis=0, keepdims=True); e"
    )


def test_cse_names_a_repeated_matrix_subexpression_once():
    WA = sp.MatMul(W, A)
    spec = KernelSpec("k", "backprop", (("W", "k × n"), ("A", "n × m")),
                      (("G", hadamard(WA, apply("tanh", WA))),), "doc")
    src = codegen.kernel_source(spec)
    assert "    matmul = W @ A\n" in src
    assert src.count("W @ A") == 1
    assert src.endswith("    return matmul * np.tanh(matmul)\n")


def test_out_hint_writes_into_out():
    assert codegen.show("relu").endswith("    return np.maximum(Z, 0, out=out)\n")
    assert codegen.show("tanh").endswith("    return np.tanh(Z, out=out)\n")
    assert codegen.show("dense_forward").endswith(
        "    Z = np.matmul(W, A, out=out)\n    Z += b\n    return Z\n"
    )


def test_out_hint_on_a_kernel_that_cannot_write_into_out_is_refused():
    with pytest.raises(VerificationError, match="out= is not supported"):
        codegen.kernel_source(replace(SPECS["sigmoid"], out=True))


def test_generated_kernels_have_no_loops_and_import_numpy_only():
    tree = ast.parse(codegen.generate())
    loops = (ast.For, ast.While, ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)
    assert not [node for node in ast.walk(tree) if isinstance(node, loops)]
    imports = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for a in node.names}
    assert imports == {"numpy"}


def test_every_docstring_names_its_derivation_formula_and_shapes():
    from jacobian_lab import kernels

    for spec in SPECS.values():
        doc = getattr(kernels, spec.name).__doc__
        assert f"Derivation: {spec.derivation}" in doc
        assert all(f in doc for f in spec.formulas)
        assert "Shapes:" in doc and all(p in doc for p, _ in spec.params)


# --------------------------------------------------------------------------- freshness


def test_committed_generated_module_is_fresh():
    assert codegen.check(), "run `jlab codegen` and commit jacobian_lab/kernels/_generated.py"


def test_check_sees_a_stale_file(tmp_path):
    path = tmp_path / "_generated.py"
    assert not codegen.check(path)
    codegen.write(path)
    assert codegen.check(path)
    path.write_text(path.read_text().replace("/ m", "/ (m + 1)"))
    assert not codegen.check(path)


def test_kernels_exports_every_generated_kernel():
    from jacobian_lab import kernels

    assert set(SPECS) <= set(kernels.__all__)


def test_show_unknown_kernel_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean `relu_grad`"):
        codegen.show("relu_grd")


# --------------------------------------------------------------------------- verification


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_equals_its_component_layer_truth(name):
    checks = verify(SPECS[name])
    assert checks and all(c.ok for c in checks), [c.check.summary() for c in checks]


def _with(name: str, *outputs: tuple[str, sp.Basic]) -> KernelSpec:
    return replace(SPECS[name], outputs=outputs)


dZ, A_prev = matrix("dZ", k, m), matrix("A_prev", n, m)
BP = dict(SPECS["dense_backward"].outputs)
WRONG = {
    "dense_backward without the 1/m": _with(
        "dense_backward", ("dW", sp.MatMul(dZ, T(A_prev))), ("db", BP["db"]),
        ("dA_prev", BP["dA_prev"])),
    "dense_backward with db summed over every unit": _with(
        "dense_backward", ("dW", BP["dW"]),
        ("db", sp.MatMul(1 / m, ones(k), ones(1, k), dZ, ones(m))), ("dA_prev", BP["dA_prev"])),
    "mse off by a factor 1.001": _with(
        "mse", ("C", sp.MatMul(sp.Rational(1001, 1000), *SPECS["mse"].outputs[0][1].args))),
    "sigmoid_grad as σ, not σ'": _with("sigmoid_grad", ("dA", apply("sigmoid", Z))),
    "hidden_delta_relu with f(Z) for f'(Z)": _with(
        "hidden_delta_relu", ("dZ", hadamard(sp.MatMul(T(matrix("W_next", DIM_J, k)),
                                                       matrix("dZ_next", DIM_J, m)),
                                             apply("relu", Z)))),
    "mse_grad with the sign flipped": _with("mse_grad", ("dA", sp.MatAdd(matrix("Y", k, m),
                                                                          -matrix("A", k, m)))),
}


@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_a_wrong_formula_is_caught_by_the_same_verification(wrong):
    checks = verify(WRONG[wrong])
    bad = [c for c in checks if not c.ok]
    assert bad and all(c.check.verdict == "incorrect" and c.check.mismatches for c in bad)


def test_a_spec_must_name_every_symbol_as_a_parameter_and_use_every_parameter():
    with pytest.raises(VerificationError, match="not parameters"):
        KernelSpec("bad", "backprop", (("W", "k × n"),), (("Z", sp.MatMul(W, A)),), "doc")
    with pytest.raises(VerificationError, match="unused"):  # dense_forward without + b
        KernelSpec("bad", "backprop", (("W", "k × n"), ("A", "n × m"), ("b", "k × 1")),
                   (("Z", sp.MatMul(W, A)),), "doc")


# --------------------------------------------------------------------------- the CLI hook


def args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"check": False, "show": None, "output": None, **kw})


def test_cli_check_fresh_and_stale(tmp_path, capsys):
    assert cmd_codegen(args(check=True)) == 0
    assert "is fresh" in capsys.readouterr().out
    stale = tmp_path / "_generated.py"
    stale.write_text("# old\n")
    assert cmd_codegen(args(check=True, output=str(stale))) == 1
    assert "stale" in capsys.readouterr().err


def test_cli_regenerates_and_says_what_it_wrote(tmp_path, capsys):
    path = tmp_path / "_generated.py"
    assert cmd_codegen(args(output=str(path))) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "dense_backward" in out and codegen.check(path)
    assert cmd_codegen(args(output=str(path))) == 0
    assert "unchanged" in capsys.readouterr().out


def test_cli_show(capsys):
    assert cmd_codegen(args(show="relu_grad")) == 0
    assert capsys.readouterr().out == RELU_GRAD
    with pytest.raises(UnknownNameError, match="did you mean"):
        cmd_codegen(args(show="softmaxx"))


# --------------------------------------------------------------------------- registry activations


def _activation_spec(name: str, expr: sp.Basic, truth_of: object) -> KernelSpec:
    f = truth_of

    def truth(env):
        return [env["Z"].applyfunc(f)], {}

    return KernelSpec(name, "elementwise", (("Z", "k × m"),), (("A", expr),),
                      f"{name}, for a test", truth=truth)


def _derivative(f: object) -> object:
    t = sp.Dummy("t", real=True)
    d = sp.diff(f(t), t)
    return lambda z: d.xreplace({t: z})


def _compiled(spec: KernelSpec) -> object:
    """The printed kernel as a function (our own printed source, compiled here)."""
    namespace: dict[str, object] = {"np": np}
    exec(compile("import numpy as np\n" + codegen.kernel_source(spec), spec.name, "exec"),
         namespace)
    return namespace[spec.name]


ACTIVATION_KERNELS = {
    "gelu": (apply("gelu", Z), lambda z: ACT["gelu"].elementary(z)),
    "gelu_grad": (apply("gelu", Z, 1), _derivative(lambda z: ACT["gelu"].elementary(z))),
    "leaky_relu": (apply("leaky_relu", Z), lambda z: leaky_relu(z)),
    "leaky_relu_grad": (apply("leaky_relu", Z, 1), _derivative(leaky_relu)),
}


@pytest.mark.parametrize(
    ("expr", "source"),
    [(apply("leaky_relu", Z), "np.maximum(Z, 0.01*(Z))"),
     (apply("leaky_relu", Z, 1), "np.where(Z > 0, 1.0, 0.01).astype(Z.dtype)"),
     (apply("gelu", Z), "0.5*(Z)*(1 + np.tanh(np.sqrt(2/np.pi)*((Z) + 0.044715*(Z)**3)))")],
)
def test_registry_activations_print_in_their_numpy_spelling(expr, source):
    assert printed(expr) == source


@pytest.mark.parametrize("name", sorted(ACTIVATION_KERNELS))
def test_a_printed_gelu_or_leaky_relu_kernel_agrees_with_sympy_at_float64(name, rng):
    expr, f = ACTIVATION_KERNELS[name]
    kernel = _compiled(_activation_spec(name, expr, f))
    z = np.concatenate([rng.normal(scale=3.0, size=(3, 6)), np.zeros((1, 6))])  # kinks too
    with np.errstate(all="raise"):
        got = kernel(z)
    want = np.vectorize(lambda v: float(sp.N(f(sp.Float(v, 30)), 20)))(z)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ACTIVATION_KERNELS))
def test_a_gelu_or_leaky_relu_kernel_spec_equals_its_component_truth(name):
    expr, f = ACTIVATION_KERNELS[name]
    checks = verify(_activation_spec(name, expr, f))
    assert checks and all(c.ok for c in checks), [c.check.summary() for c in checks]


@pytest.mark.parametrize(
    ("name", "wrong"),
    [("gelu_grad", apply("tanh", Z, 1)),  # another saturating derivative
     ("gelu", apply("gelu", Z, 1)),  # f' for f
     ("leaky_relu_grad", apply("relu", Z, 1)),  # ReLU's step: 0, not 1/100, for z < 0
     ("leaky_relu", apply("relu", Z))],
)
def test_a_wrong_gelu_or_leaky_relu_kernel_is_caught_by_the_same_verification(name, wrong):
    _, f = ACTIVATION_KERNELS[name]
    # fast: the float64 witness first, as mutation testing runs it (without it, simplifying
    # six GELU entries spends the judge's budget and the verdict is an honest undecided)
    checks = verify(_activation_spec(name, wrong, f), fast=True)
    bad = [c for c in checks if not c.ok]
    assert bad and all(c.check.verdict == "incorrect" for c in bad)


def test_the_leaky_relu_kernel_at_zero_follows_the_convention():
    kernel = _compiled(_activation_spec("leaky_relu_grad", *ACTIVATION_KERNELS["leaky_relu_grad"]))
    out = kernel(np.array([[-1.0, 0.0, 2.0]], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0.01, 0.01, 1.0]], dtype=np.float32))
