"""The neural-network functions of the expression language, as SymPy functions.

Each is defined once, in the activation registry (:mod:`jacobian_lab.language.activations`),
with its derivative, kink, NumPy spelling and names; this module is the short import path
for the SymPy side of it.

Conventions (stated once, printed in reports):

* ``relu(z) = Max(0, z)`` and ``relu'(z) = Heaviside(z, 0)``, i.e. **ReLU'(0) = 0**.
* ``leaky_relu(z) = Max(z, z/100)`` and ``leaky_relu'(0) = 1/100`` (the left-sided slope).
* ``sigmoid(z) = 1 / (1 + exp(-z))``, ``sigmoid' = sigmoid (1 - sigmoid)``.
* ``softplus(z) = log(1 + exp(z))``, ``softplus' = sigmoid``.
* ``gelu(z) = z/2 (1 + tanh(√(2/π) (z + 0.044715 z³)))`` (the tanh form).

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> relu(z).diff(z)
Heaviside(z, 0)
>>> sigmoid(z).diff(z)
(1 - sigmoid(z))*sigmoid(z)
"""

from __future__ import annotations

import sympy as sp

from jacobian_lab.language.activations import (
    ACTIVATIONS,
    RELU_AT_ZERO,
    gelu,
    leaky_relu,
    relu,
    sigmoid,
    softplus,
    to_elementary,
)


def step(z: sp.Expr) -> sp.Expr:
    """The derivative of ReLU: ``Heaviside(z, 0)`` (1 for z > 0, 0 for z <= 0)."""
    return sp.Heaviside(z, RELU_AT_ZERO)


NN_FUNCTIONS: dict[str, type[sp.Function]] = {
    name: a.function for name, a in ACTIVATIONS.items()
    if isinstance(a.function, type) and a.function.__module__ == relu.__module__
}
"""Name → the SymPy class of each activation SymPy does not have itself (not tanh)."""

__all__ = ["NN_FUNCTIONS", "RELU_AT_ZERO", "gelu", "leaky_relu", "relu", "sigmoid",
           "softplus", "step", "to_elementary"]
