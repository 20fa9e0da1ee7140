"""The neural-network functions as SymPy functions: ``relu``, ``sigmoid``, ``softplus``.

Each is a :class:`sympy.Function` with its derivative written next to it (``fdiff``), so
results read the way the notes write them (``sigmoid(z)*(1 - sigmoid(z))`` rather than a
tangle of exponentials), and each rewrites to elementary functions for checking.

Conventions (stated once, printed in reports):

* ``relu(z) = Max(0, z)`` and ``relu'(z) = Heaviside(z, 0)``, i.e. **ReLU'(0) = 0**.
* ``sigmoid(z) = 1 / (1 + exp(-z))``, ``sigmoid' = sigmoid (1 - sigmoid)``.
* ``softplus(z) = log(1 + exp(z))``, ``softplus' = sigmoid``.

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> relu(z).diff(z)
Heaviside(z, 0)
>>> sigmoid(z).diff(z)
(1 - sigmoid(z))*sigmoid(z)
"""

from __future__ import annotations

import sympy as sp

RELU_AT_ZERO = 0
"""The value used for ReLU'(0) (the subgradient convention of the notes and of PyTorch)."""


def step(z: sp.Expr) -> sp.Expr:
    """The derivative of ReLU: ``Heaviside(z, 0)`` (1 for z > 0, 0 for z <= 0)."""
    return sp.Heaviside(z, RELU_AT_ZERO)


class relu(sp.Function):
    """ReLU(z) = max(0, z); its derivative is ``Heaviside(z, 0)`` (ReLU'(0) = 0)."""

    nargs = 1

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_nonpositive:
            return sp.S.Zero
        if z.is_Number:
            return sp.Max(0, z)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return step(self.args[0])

    def _eval_rewrite_as_Max(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.Max(0, z)

    def _eval_rewrite_as_Piecewise(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.Piecewise((z, z > 0), (0, True))

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_nonnegative(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.Max(0, self.args[0])._eval_evalf(prec)

    def _numpycode(self, printer: sp.printing.pycode.NumPyPrinter) -> str:
        return f"{printer._module_format('numpy.maximum')}({printer._print(self.args[0])}, 0)"


class sigmoid(sp.Function):
    """The logistic function 1 / (1 + exp(-z)); sigmoid' = sigmoid (1 - sigmoid)."""

    nargs = 1

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_zero:
            return sp.Rational(1, 2)
        if z.is_Float:
            return 1 / (1 + sp.exp(-z))
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return 1 / (1 + sp.exp(-z))

    def _eval_rewrite_as_tanh(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return (1 + sp.tanh(z / 2)) / 2

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _numpycode(self, printer: sp.printing.pycode.NumPyPrinter) -> str:
        # 1/2 (1 + tanh(z/2)) never overflows, unlike 1 / (1 + exp(-z)) at z = -1000.
        z = printer._print(self.args[0])
        return f"0.5*(1 + {printer._module_format('numpy.tanh')}(0.5*({z})))"


class softplus(sp.Function):
    """softplus(z) = log(1 + exp(z)); softplus' = sigmoid."""

    nargs = 1

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_zero:
            return sp.log(2)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.log(1 + sp.exp(z))

    def _eval_rewrite_as_log(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.log(1 + sp.exp(z))

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.log(1 + sp.exp(self.args[0]))._eval_evalf(prec)

    def _numpycode(self, printer: sp.printing.pycode.NumPyPrinter) -> str:
        z = printer._print(self.args[0])
        return f"{printer._module_format('numpy.logaddexp')}(0, {z})"


NN_FUNCTIONS: dict[str, type[sp.Function]] = {
    "relu": relu,
    "sigmoid": sigmoid,
    "softplus": softplus,
}


def to_elementary(expr: sp.Basic) -> sp.Basic:
    """Rewrite relu/sigmoid/softplus into Max/exp/log so SymPy's simplifier can see them."""
    return (
        expr.replace(relu, lambda z: sp.Max(0, z))
        .replace(sigmoid, lambda z: 1 / (1 + sp.exp(-z)))
        .replace(softplus, lambda z: sp.log(1 + sp.exp(z)))
    )
