"""jacobian_lab.testing on JAX code: a ``jax.custom_vjp`` ReLU checked through ``jax.grad``
(skipped without JAX; JAX computes in float32 unless x64 is enabled, so the check uses
float32 tolerances)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from jacobian_lab.testing import GradientMismatch, assert_gradient  # noqa: E402

W = np.array([0.5, -2.0, 1.0, 3.0])
X = np.array([1.5, 0.0, -0.7, 0.0])


def _relu(at_zero_one: bool):
    @jax.custom_vjp
    def relu(x):
        return jax.numpy.maximum(x, 0.0)

    def fwd(x):
        return relu(x), x

    def bwd(x, g):
        return (g * ((x >= 0) if at_zero_one else (x > 0)),)

    relu.defvjp(fwd, bwd)
    return relu


def test_a_custom_vjp_relu_on_exact_zeros_passes_and_relu_prime_one_fails_at_the_kinks():
    for at_zero_one in (False, True):
        relu = _relu(at_zero_one)

        def f(x, relu=relu):
            return jax.numpy.sum(relu(x) * W)

        if at_zero_one:
            with pytest.raises(GradientMismatch, match="wrong only at kinks"):
                assert_gradient(f, jax.grad(f), X, seed=0)
        else:
            assert assert_gradient(f, jax.grad(f), X, seed=0).passed
