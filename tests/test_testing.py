"""jacobian_lab.testing: assertions on users' gradient code — the corpus of hand-written
backward passes (every wrong one fails with its diagnosis, every correct one passes), kinks
and their conventions, the sensitivity, the Jacobian and VJP forms, bad input, and the import
weight (NumPy only)."""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest
from gradcode_corpus import (  # tests/ is on sys.path (pytest's rootdir conftest)
    CASES,
    XR,
    dense_grad,
    dense_loss,
    relu_grad,
    relu_grad_at_zero_one,
    relu_loss,
)

import jacobian_lab.testing as jt
from jacobian_lab.testing import GradientMismatch, assert_gradient, assert_jacobian, assert_vjp

CORRECT = [c for c in CASES if c.correct]
WRONG = [c for c in CASES if not c.correct]


def _diagnoses(exc: GradientMismatch) -> list[str]:
    return [line.strip() for line in str(exc).splitlines() if "diagnosis:" in line]


# --------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("case", CORRECT, ids=[c.name for c in CORRECT])
def test_a_correct_backward_pass_of_the_corpus_passes(case):
    report = assert_gradient(case.f, case.grad, *case.args, seed=0, **case.kwargs)
    assert report.passed, str(report)
    assert report.sensitivity < 1e-3, "a × (1 + 1e-3) gradient must be detectable"


@pytest.mark.parametrize("case", WRONG, ids=[c.name for c in WRONG])
def test_a_wrong_backward_pass_of_the_corpus_fails_with_its_diagnosis(case):
    with pytest.raises(GradientMismatch) as info:
        assert_gradient(case.f, case.grad, *case.args, seed=0, **case.kwargs)
    found = _diagnoses(info.value)
    assert found, str(info.value)
    assert any(case.expect in d for d in found), f"{case.expect!r} not in {found}"
    assert isinstance(info.value, AssertionError)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_corpus_verdicts_do_not_depend_on_the_seed(seed):
    for case in CASES:
        try:
            assert_gradient(case.f, case.grad, *case.args, seed=seed, **case.kwargs)
            passed = True
        except GradientMismatch:
            passed = False
        assert passed == case.correct, f"{case.name} with seed {seed}"


# --------------------------------------------------------------------------- the report


def test_a_passing_report_names_points_worst_error_kinks_and_sensitivity():
    report = assert_gradient(relu_loss, relu_grad, XR, seed=0)
    text = str(report)
    assert "PASSED" in text and "sensitivity" in text and "1 point(s)" in text
    assert len(report.kinks) == 3, "three entries of x are exactly 0"
    assert all("follows kink='zero'" in k.treatment for k in report.kinks)
    assert report.worst_rel_error < 1e-8


def test_a_failing_report_lists_the_worst_entries_with_index_yours_expected_and_count():
    with pytest.raises(GradientMismatch) as info:
        assert_gradient(dense_loss, lambda W, X, b: tuple(2 * g for g in dense_grad(W, X, b)),
                        *CASES[0].args, seed=0)
    text = str(info.value)
    assert "W (4×4): WRONG, 16 of 16 entries compared" in text
    assert "16 wrong entries; the worst:" in text
    assert "yours" in text and "expected" in text and "relative error" in text
    assert "a constant factor 2" in text
    assert info.value.report is not None and not info.value.report.passed


def test_a_gradient_wrong_by_more_than_the_reported_sensitivity_is_caught():
    W, X, b = CASES[0].args
    report = assert_gradient(dense_loss, dense_grad, W, X, b, seed=0)
    big = max(float(np.abs(g).max()) for g in dense_grad(W, X, b))
    rng = np.random.default_rng(0)
    for _ in range(5):
        which = int(rng.integers(3))
        g = [a.copy() for a in dense_grad(W, X, b)]
        idx = tuple(int(rng.integers(n)) for n in g[which].shape)
        g[which][idx] += 1.5 * report.sensitivity * big
        with pytest.raises(GradientMismatch):
            assert_gradient(dense_loss, lambda *a, g=g: tuple(g), W, X, b, seed=0)
    scaled = [(1 + 2 * report.sensitivity) * a for a in dense_grad(W, X, b)]
    with pytest.raises(GradientMismatch):
        assert_gradient(dense_loss, lambda *a: tuple(scaled), W, X, b, seed=0)


def test_the_same_seed_gives_the_same_report():
    a = assert_gradient(dense_loss, dense_grad, *CASES[0].args, seed=5, max_coordinates=10)
    b = assert_gradient(dense_loss, dense_grad, *CASES[0].args, seed=5, max_coordinates=10)
    assert str(a) == str(b)


def test_wrt_checks_only_the_chosen_arguments():
    W, X, b = CASES[0].args
    report = assert_gradient(dense_loss, lambda W, X, b: (dense_grad(W, X, b)[0],
                                                          dense_grad(W, X, b)[2]),
                             W, X, b, wrt=(0, 2), seed=0)
    assert [a.name for a in report.arguments] == ["W", "b"]


# --------------------------------------------------------------------------- kinks


def test_relu_prime_zero_equal_one_is_accepted_with_any_subgradient():
    report = assert_gradient(relu_loss, relu_grad_at_zero_one, XR, kink="any-subgradient",
                             seed=0)
    assert all("in the subgradient" in k.treatment for k in report.kinks)


def test_the_one_convention_accepts_relu_prime_one_and_rejects_zero():
    assert_gradient(relu_loss, relu_grad_at_zero_one, XR, kink="one", seed=0)
    with pytest.raises(GradientMismatch, match="wrong only at kinks"):
        assert_gradient(relu_loss, relu_grad, XR, kink="one", seed=0)


def test_a_value_outside_the_subgradient_at_a_kink_fails():
    with pytest.raises(GradientMismatch, match="outside the subgradient"):
        assert_gradient(relu_loss, lambda x: 5.0 * np.ones_like(x) * (x >= 0), XR,
                        kink="any-subgradient", seed=0)


def test_an_unknown_kink_convention_is_rejected_with_the_allowed_ones():
    with pytest.raises(ValueError, match="'zero', 'one', 'any-subgradient'"):
        assert_gradient(relu_loss, relu_grad_at_zero_one, XR, kink="left")


# --------------------------------------------------------------------------- forms


def test_assert_jacobian_passes_numerator_layout_and_diagnoses_denominator_layout():
    A = np.arange(1.0, 7.0).reshape(3, 2)
    x = np.array([0.3, -1.2])
    assert assert_jacobian(lambda x: np.tanh(A @ x),
                           lambda x: (1 - np.tanh(A @ x) ** 2)[:, None] * A, x, seed=0).passed
    with pytest.raises(GradientMismatch, match="transposed"):
        assert_jacobian(lambda x: A @ x, lambda x: A.T, x)
    S = np.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(GradientMismatch, match="transposed"):
        assert_jacobian(lambda x: S @ x, lambda x: S.T, x, seed=0)


def test_assert_vjp_checks_a_backward_pass_for_a_random_upstream():
    W, X, b = CASES[0].args

    def layer(W, X, b):
        return W @ X + b

    def backward(G, W, X, b):
        return G @ X.T, W.T @ G, G.sum(axis=1, keepdims=True)

    assert assert_vjp(layer, backward, W, X, b, seed=0).passed
    with pytest.raises(GradientMismatch, match="a sign"):
        assert_vjp(layer, lambda G, W, X, b: (-G @ X.T,), W, X, b, wrt=(0,), seed=0)


def test_large_arguments_are_sampled_and_the_directions_catch_an_unsampled_entry():
    calls = 0
    v = np.random.default_rng(1).standard_normal(20_000)

    def f(x):
        nonlocal calls
        calls += 1
        return float(np.sum(np.sin(x)))

    report = assert_gradient(f, np.cos, v, seed=0, max_coordinates=8, n_directions=2)
    assert report.arguments[0].checked == 8
    assert calls <= 1 + 4 * (8 + 2) * 3, "cost independent of the parameter count"
    chosen = {e.where for e in report.arguments[0].entries}
    i = next(i for i in range(v.size) if f"x[{i}]" not in chosen and abs(np.cos(v[i])) < 0.5)

    def wrong(x, i=i):
        g = np.cos(x)
        g[i] += 0.01
        return g

    with pytest.raises(GradientMismatch, match="an entry that was not compared is wrong"):
        assert_gradient(f, wrong, v, seed=0, max_coordinates=8, n_directions=2)


def test_a_function_that_runs_only_in_float32_gets_float32_tolerances():
    x = np.linspace(-1, 1, 5).astype(np.float32)

    def f(x):
        if x.dtype != np.float32:
            raise TypeError("float32 only")
        return np.float32(np.sum(x**3))

    report = assert_gradient(f, lambda x: 3 * x**2, x, seed=0)
    assert "float32" in report.evaluated_in and report.rtol == 2e-4


# --------------------------------------------------------------------------- bad input


def _x():
    return np.array([0.5, -1.0, 2.0])


def test_a_function_that_raises_is_a_mismatch_naming_it():
    def f(x):
        raise ValueError("boom")

    with pytest.raises(GradientMismatch, match="f raised ValueError at the given point: boom"):
        assert_gradient(f, lambda x: x, _x())


def test_a_function_that_raises_at_a_probed_point_names_the_entry():
    def f(x):
        if x[1] > -1.0:
            raise ValueError("outside the domain")
        return float(np.sum(x))

    with pytest.raises(GradientMismatch, match=r"x\[1\]"):
        assert_gradient(f, np.ones_like, _x(), seed=0)


def test_a_function_returning_nan_is_a_mismatch():
    with pytest.raises(GradientMismatch, match="non-finite"):
        assert_gradient(lambda x: float("nan"), lambda x: x, _x())


def test_a_function_that_is_nan_beside_the_point_fails_naming_the_entries():
    def f(x):
        with np.errstate(invalid="ignore"):
            return float(np.sum(np.sqrt(x)))

    x = np.array([0.0, 1.0, 4.0])
    with pytest.raises(GradientMismatch, match=r"NaN or ±Inf within a step of 1 entries \(x\[0\]"):
        assert_gradient(f, lambda x: 0.5 / np.sqrt(np.maximum(x, 1e-300)), x, seed=0)


def test_a_function_returning_an_array_for_a_gradient_is_a_type_error():
    with pytest.raises(TypeError, match=r"must return a scalar .* shape \(3,\)"):
        assert_gradient(lambda x: x * 2, lambda x: x, _x())


def test_a_function_that_writes_into_its_input_does_not_corrupt_the_check():
    def f(x):
        x *= 2.0  # in place, on the checker's array
        return float(np.sum(x**2))

    x = _x()
    assert assert_gradient(f, lambda x: 8 * x, x, seed=0).passed
    assert np.array_equal(x, _x()), "the user's array is untouched"


def test_a_function_returning_an_empty_array_is_a_type_error():
    with pytest.raises(TypeError, match="f returned an empty array"):
        assert_jacobian(lambda x: x[:0], lambda x: np.zeros((0, 3)), _x())


def test_a_gradient_with_the_wrong_number_of_arrays_is_a_type_error_naming_the_arguments():
    W, X, b = CASES[0].args
    with pytest.raises(TypeError, match=r"grad returned 2 arrays; expected 3, .*\(W, X, b\)"):
        assert_gradient(dense_loss, lambda W, X, b: dense_grad(W, X, b)[:2], W, X, b)


def test_a_gradient_of_the_wrong_shape_names_the_argument():
    W, X, b = CASES[0].args
    with pytest.raises(GradientMismatch, match=r"b: shape \(4,\), expected \(4, 1\)"):
        assert_gradient(dense_loss, lambda W, X, b: (*dense_grad(W, X, b)[:2], np.zeros(4)),
                        W, X, b)


def test_a_gradient_of_an_integer_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="dtype int64 for x"):
        assert_gradient(lambda x: float(np.sum(x)), lambda x: np.ones(3, dtype=np.int64),
                        _x())


def test_a_gradient_with_nan_entries_fails_without_a_runtime_warning():
    def g(x):
        out = np.cos(x)
        out[1] = np.nan
        return out

    with pytest.raises(GradientMismatch, match=r"x\[1\]: yours nan"):
        assert_gradient(lambda x: float(np.sum(np.sin(x))), g, _x(), seed=0)


def test_a_gradient_function_that_raises_is_a_mismatch():
    with pytest.raises(GradientMismatch, match="grad raised KeyError"):
        assert_gradient(lambda x: float(np.sum(x)), lambda x: {}["k"], _x())


def test_checking_a_non_float_argument_is_a_type_error():
    with pytest.raises(TypeError, match="argument n has dtype int64"):
        assert_gradient(lambda x, n: float(np.sum(x)) * n, lambda x, n: (x, x),
                        _x(), np.int64(3), wrt=(0, 1))


# --------------------------------------------------------------------------- packaging


def test_importing_the_testing_package_and_its_plugin_imports_neither_sympy_nor_torch():
    code = ("import sys, jacobian_lab.testing, jacobian_lab.testing.plugin; "
            "bad = [m for m in ('sympy', 'torch') if m in sys.modules]; sys.exit(str(bad) "
            "if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_numpy_check_imports_neither_sympy_nor_torch():
    code = ("import sys, numpy as np; from jacobian_lab.testing import assert_gradient; "
            "assert_gradient(lambda x: float((x**2).sum()), lambda x: 2*x, np.ones(3)); "
            "bad = [m for m in ('sympy', 'torch') if m in sys.modules]; sys.exit(str(bad) "
            "if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_the_public_api_docstring_examples_pass():
    import jacobian_lab.testing._report as report

    for module in (jt, report):
        assert doctest.testmod(module).failed == 0
    assert sorted(jt.__all__) == ["GradientMismatch", "Report", "assert_autograd_function",
                                  "assert_gradient", "assert_jacobian", "assert_vjp"]


# --------------------------------------------------------------------------- mutation level

_BATCH = {"dense": 6, "softmax-CE": 5}


@pytest.mark.parametrize("case", CORRECT, ids=[c.name for c in CORRECT])
def test_every_value_changing_mutant_of_a_correct_corpus_pass_is_caught(case):
    from jacobian_lab.testing._mutants import mutate_case

    batch = next((m for k, m in _BATCH.items() if case.name.startswith(k)), None)
    outcomes = mutate_case(case.name, case.f, case.grad, case.args, batch, **case.kwargs)
    assert {o[1] for o in outcomes} >= {"scale", "sign", "transpose"}
    # sign(0) = 1 for |x| is another valid subgradient, not a bug: no convention is decidable
    valid = ("relu'(0)",) if case.name.startswith("L1") else ()
    missed = [o for o in outcomes if o[3] == "missed" and o[1] not in valid]
    assert not missed, missed
    if any((np.asarray(a) == 0).any() for a in case.args if case.name.startswith("ReLU:")):
        assert any(o[1] == "relu'(0)" and o[3] == "caught" for o in outcomes)


def test_jlab_mutate_level_assertions_catches_every_mutant():
    proc = subprocess.run([sys.executable, "-m", "jacobian_lab", "mutate", "--level",
                           "assertions"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "assertions" in proc.stdout and "missed" in proc.stdout
    assert "mutation score 34/34 = 100.0%" in proc.stdout
