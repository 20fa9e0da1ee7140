"""The pytest plugin: the ``gradcheck`` fixture (entry point ``pytest11``), its report as the
assertion message, ``--jlab-gradcheck-seed``, and a plugin that stays light (no SymPy, no
torch) in every pytest session."""

from __future__ import annotations

pytest_plugins = ["pytester"]

_GOOD = """
import numpy as np

def test_square(gradcheck):
    x = np.array([1.0, -2.0, 0.5])
    report = gradcheck(lambda x: float((x ** 2).sum()), lambda x: 2 * x, x)
    assert report.passed
"""

_BAD = """
import numpy as np

def test_square(gradcheck):
    x = np.array([1.0, -2.0, 0.5])
    gradcheck(lambda x: float((x ** 2).sum()), lambda x: 4 * x, x)
"""


def test_the_gradcheck_fixture_passes_a_correct_gradient(pytester):
    pytester.makepyfile(_GOOD)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_failure_shows_the_report_and_diagnosis_as_the_assertion_message(pytester):
    pytester.makepyfile(_BAD)
    result = pytester.runpytest("-p", "no:cacheprovider", "--jlab-gradcheck-seed=7")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*GradientMismatch: gradient check FAILED*seed 7*",
                                 "*diagnosis: a constant factor 2*",
                                 "*reproduce with seed=7 (pytest: --jlab-gradcheck-seed=7)*"])
    assert "_check.py" not in result.stdout.str(), "the checker's frames are hidden"


def test_the_seed_option_fixes_the_fixture_seed(pytester):
    pytester.makepyfile("""
        def test_seed(gradcheck):
            assert gradcheck.seed == 123
    """)
    pytester.runpytest("-p", "no:cacheprovider", "--jlab-gradcheck-seed=123").assert_outcomes(
        passed=1)


def test_the_fixture_has_the_jacobian_and_vjp_forms(pytester):
    pytester.makepyfile("""
        import numpy as np

        def test_forms(gradcheck):
            A = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 1.0]])
            x = np.array([0.2, 0.7])
            gradcheck.jacobian(lambda x: A @ x, lambda x: A, x)
            gradcheck.vjp(lambda x: A @ x, lambda g, x: A.T @ g, x)
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_loading_the_plugin_imports_neither_sympy_nor_torch(pytester):
    pytester.makepyfile("""
        import sys

        def test_light(gradcheck):
            assert "jacobian_lab.testing.plugin" in sys.modules
            heavy = [m for m in ("sympy", "torch") if m in sys.modules]
            assert not heavy, heavy
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
