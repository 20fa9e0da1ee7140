"""The activation registry: every element-wise function of the networks, defined once.

An :class:`Activation` holds what each layer of jacobian_lab needs to know about one
function: its SymPy value and derivative (the parser, the component calculus, the matrix
layer), its form in elementary functions (the judge's simplifier), its kink and the
convention there (the judge's sampler, fastcheck), whether it saturates (the sampler), a
float64 evaluator (the witness search), its NumPy spelling (``lambdify``, codegen) and its
LaTeX and Unicode names (the printers). Read it through :data:`ACTIVATIONS` (read-only) or
:func:`activation` (unknown names get a did-you-mean error).

Adding an activation is one entry here (and its SymPy class when SymPy has none) plus tests.

Conventions: ReLU'(0) = 0 and leaky_relu'(0) = 1/100, the left-sided derivative in both
cases, which is also what PyTorch's backward computes at 0.

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> relu(z).diff(z)
Heaviside(z, 0)
>>> leaky_relu(z).diff(z)
99*Heaviside(z, 0)/100 + 1/100
>>> activation("sigmoid").function(z).diff(z)
(1 - sigmoid(z))*sigmoid(z)
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import sympy as sp
from mpmath.libmp import prec_to_dps
from sympy.printing.pretty.stringpict import prettyForm, stringPict
from sympy.printing.pycode import PythonCodePrinter

from jacobian_lab.errors import UnknownNameError, did_you_mean


def _lazy_numpy() -> Any:
    """NumPy, loaded on first use: the float64 evaluators below need it, proving a derivation
    does not (``jlab derive`` starts 60 ms sooner)."""
    if "numpy" in sys.modules:
        return sys.modules["numpy"]
    spec = importlib.util.find_spec("numpy")
    if spec is None or spec.loader is None:  # pragma: no cover - NumPy is a dependency
        raise ImportError("numpy")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["numpy"] = module
    loader.exec_module(module)
    return module


np = _lazy_numpy()
Float64 = Callable[[Any], Any]


@dataclass(frozen=True)
class Kink:
    """A piecewise-linear function with one kink at 0: ``f(z) = left·z`` for z < 0 and
    ``right·z`` for z > 0; ``at_zero`` is the value used for f'(0), where the one-sided
    derivatives differ (a convention, used only there)."""

    left: sp.Rational
    right: sp.Rational
    at_zero: sp.Rational

    def __post_init__(self) -> None:
        if self.left == self.right or self.at_zero not in (self.left, self.right):
            raise ValueError(f"a kink needs two slopes and one of them at 0, not {self}")

    def derivative(self, z: sp.Expr) -> sp.Expr:
        """``left + (right − left)·step(z)``, with the step's value at 0 giving ``at_zero``."""
        jump = self.right - self.left
        return self.left + jump * sp.Heaviside(z, (self.at_zero - self.left) / jump)

    def gated(self, z: sp.Expr, step: sp.Expr) -> sp.Expr:
        """``f(z)`` written with a 0/1 symbol ``step`` that stands for step(z)."""
        return z * (self.left + (self.right - self.left) * step)

    @property
    def is_step(self) -> bool:
        """f' is exactly step(z) ∈ {0, 1} (ReLU): a kernel may print it as a bool mask."""
        return (self.left, self.right, self.at_zero) == (0, 1, 0)


@dataclass(frozen=True)
class Activation:
    """One element-wise function, with everything each layer needs to know about it."""

    name: str  # as written in the expression language and in matrix expressions
    function: Callable[[sp.Expr], sp.Expr]  # the SymPy value f(z); f' by differentiating
    elementary: Callable[[sp.Expr], sp.Expr]  # f in Max/exp/log/tanh, for the simplifier
    float64: Float64  # f in float64 (NumPy), for the witness search
    numpy: str  # f as NumPy code, ``{x}`` the argument: lambdify and the kernels print it
    latex: str  # LaTeX of the name
    derivative_latex: str  # LaTeX of the name of f'
    derivative_text: str  # Unicode text of the name of f'
    kink: Kink | None = None  # None: smooth
    saturates: bool = False  # flat far from 0: f' underflows, the sampler looks near 0
    kernel: str | None = None  # the kernels' own spelling of f when it differs from numpy
    kernel_guard: str = ""  # an np.errstate(...) argument the kernel spelling runs under
    abstract: bool = False  # fastcheck keeps f(u) as an opaque symbol (f' is written with f)

    @property
    def derivative(self) -> Callable[[sp.Expr], sp.Expr]:
        """f'(z) as a SymPy expression."""
        if self.kink is not None:
            return self.kink.derivative
        return self._derivative

    def _derivative(self, z: sp.Expr) -> sp.Expr:
        t = sp.Dummy("t", real=True)
        return sp.diff(self.function(t), t).xreplace({t: z})

    def numpy_code(self, x: str, module: Callable[[str], str] = lambda name: name) -> str:
        """The NumPy spelling applied to the code ``x``; ``module`` formats each ``np.`` name
        (SymPy's printers qualify them their own way)."""
        text = re.sub(r"\bnp\.(\w+)", lambda m: module(f"numpy.{m.group(1)}"), self.numpy)
        return text.replace("{x}", x)  # after the names: x's own code is left as printed


# --------------------------------------------------------------------------- SymPy classes


class ActivationBase(sp.Function):
    """A function of the registry: its derivative, evaluation and NumPy code come from its
    entry in :data:`ACTIVATIONS` (looked up by the class name). The name ends in ``Base`` so
    that SymPy's printers dispatch ``_print_ActivationBase`` for every subclass."""

    nargs = 1

    @classmethod
    def entry(cls) -> Activation:
        return ACTIVATIONS[cls.__name__]

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        entry = self.entry()
        if entry.kink is not None:
            return entry.kink.derivative(self.args[0])
        t = sp.Dummy("t", real=True)
        return sp.diff(entry.elementary(t), t).xreplace({t: self.args[0]})

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.entry().elementary(self.args[0])._eval_evalf(prec)

    def _numpycode(self, printer: PythonCodePrinter) -> str:
        return self.entry().numpy_code(printer._print(self.args[0]), printer._module_format)

    def _pretty(self, printer: Any) -> prettyForm:
        # the name as written: SymPy's pretty printer would read leaky_relu as leaky subscript relu
        func = prettyForm(self.entry().name)
        args = prettyForm(*printer._print_seq(self.args).parens())
        pform = prettyForm(*stringPict.next(func, args), binding=prettyForm.FUNC)
        pform.prettyFunc, pform.prettyArgs = func, args
        return pform


class relu(ActivationBase):
    """ReLU(z) = max(0, z); its derivative is ``Heaviside(z, 0)`` (ReLU'(0) = 0)."""

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_nonpositive:
            return sp.S.Zero
        if z.is_Number:
            return sp.Max(0, z)
        return None

    def _eval_rewrite_as_Max(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.Max(0, z)

    def _eval_rewrite_as_Piecewise(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.Piecewise((z, z > 0), (0, True))

    def _eval_is_nonnegative(self) -> bool | None:
        return True if self.args[0].is_real else None


LEAKY_SLOPE = sp.Rational(1, 100)
"""The slope of leaky ReLU for z < 0 (PyTorch's default ``negative_slope``)."""


class leaky_relu(ActivationBase):
    """leaky_relu(z) = z for z ≥ 0 and z/100 for z < 0; leaky_relu'(0) = 1/100."""

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_extended_nonnegative:
            return z
        if z.is_extended_nonpositive:
            return LEAKY_SLOPE * z
        if z.is_Number:
            return sp.Max(z, LEAKY_SLOPE * z)
        return None

    def _eval_rewrite_as_Max(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.Max(z, LEAKY_SLOPE * z)

    def _eval_rewrite_as_Piecewise(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return sp.Piecewise((z, z > 0), (LEAKY_SLOPE * z, True))


class sigmoid(ActivationBase):
    """The logistic function 1 / (1 + exp(-z)); sigmoid' = sigmoid (1 - sigmoid)."""

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
        s = sigmoid(self.args[0])  # written with sigmoid itself, as the notes write it
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return 1 / (1 + sp.exp(-z))

    def _eval_rewrite_as_tanh(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return (1 + sp.tanh(z / 2)) / 2

    def _eval_is_positive(self) -> bool | None:
        return True if self.args[0].is_real else None


class softplus(ActivationBase):
    """softplus(z) = log(1 + exp(z)); softplus' = sigmoid."""

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


GELU_CUBIC = sp.Rational(44715, 1000000)
"""The cubic coefficient 0.044715 of GELU's tanh form, exactly."""


def _gelu_elementary(z: sp.Expr) -> sp.Expr:
    """GELU in its tanh form: z/2 · (1 + tanh(√(2/π) (z + 0.044715 z³)))."""
    return z * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (z + GELU_CUBIC * z**3))) / 2


class gelu(ActivationBase):
    """GELU in its tanh form, 0.5 z (1 + tanh(√(2/π) (z + 0.044715 z³))); smooth."""

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        if z.is_zero:
            return sp.S.Zero
        if z.is_Float:  # a Float evaluates at once, at its own precision
            return _gelu_elementary(z).evalf(prec_to_dps(z._prec))
        return None

    def _eval_rewrite_as_tanh(self, z: sp.Expr, **kwargs: object) -> sp.Expr:
        return _gelu_elementary(z)


def _gelu_float64(z: Any) -> Any:
    return 0.5 * z * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z**3)))


# --------------------------------------------------------------------------- the registry

_RELU_KINK = Kink(sp.S.Zero, sp.S.One, sp.S.Zero)  # slopes 0 | 1, ReLU'(0) = 0

_ENTRIES = (
    Activation(
        "relu", relu, lambda z: sp.Max(0, z), lambda z: np.maximum(z, 0.0),
        numpy="np.maximum({x}, 0)", latex=r"\operatorname{ReLU}",
        derivative_latex=r"\operatorname{step}", derivative_text="step",
        kink=_RELU_KINK,
    ),
    Activation(
        "leaky_relu", leaky_relu, lambda z: sp.Max(z, LEAKY_SLOPE * z),
        lambda z: np.maximum(z, 0.01 * z),
        numpy="np.maximum({x}, 0.01*({x}))", latex=r"\operatorname{LeakyReLU}",
        derivative_latex=r"\operatorname{LeakyReLU}'", derivative_text="leaky_relu′",
        kink=Kink(LEAKY_SLOPE, sp.S.One, LEAKY_SLOPE),
    ),
    Activation(
        "sigmoid", sigmoid, lambda z: 1 / (1 + sp.exp(-z)),
        # 1/2 (1 + tanh(z/2)) never overflows, unlike 1 / (1 + exp(-z)) at z = -1000
        lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
        numpy="0.5*(1 + np.tanh(0.5*({x})))", latex=r"\sigma", derivative_latex=r"\sigma'",
        derivative_text="sigmoid′", saturates=True, abstract=True,
        # the kernels: exp(-z) = inf far left (z < -88 in float32), where 1 / (1 + inf) = 0
        kernel="1 / (1 + np.exp(-{x}))", kernel_guard='over="ignore"',
    ),
    Activation(
        "tanh", sp.tanh, sp.tanh, lambda z: np.tanh(z), numpy="np.tanh({x})", latex=r"\tanh",
        derivative_latex=r"\tanh'", derivative_text="tanh′", saturates=True,
    ),
    Activation(
        "softplus", softplus, lambda z: sp.log(1 + sp.exp(z)),
        lambda z: np.logaddexp(0.0, z), numpy="np.logaddexp(0, {x})",
        latex=r"\operatorname{softplus}", derivative_latex=r"\sigma", derivative_text="sigmoid",
        saturates=True,
    ),
    Activation(
        "gelu", gelu, _gelu_elementary, _gelu_float64,
        numpy="0.5*({x})*(1 + np.tanh(np.sqrt(2/np.pi)*(({x}) + 0.044715*({x})**3)))",
        latex=r"\operatorname{GELU}", derivative_latex=r"\operatorname{GELU}'",
        derivative_text="gelu′", saturates=True,
    ),
)

class Registry(Mapping[str, Activation]):
    """A read-only mapping name → :class:`Activation`; an unknown name is an
    :class:`~jacobian_lab.errors.UnknownNameError` (a ``KeyError``) with a did-you-mean."""

    def __init__(self, entries: Iterable[Activation]) -> None:
        self._entries = MappingProxyType({a.name: a for a in entries})

    def __getitem__(self, name: str) -> Activation:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(
                f"Unknown activation `{name}`{did_you_mean(name, self._entries)}; "
                f"known: {', '.join(self._entries)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str, default: Any = None) -> Any:
        return self._entries.get(name, default)


ACTIVATIONS = Registry(_ENTRIES)
"""Name → :class:`Activation`, read-only; ``ACTIVATIONS["gleu"]`` suggests ``gelu``."""

FUNCTION_CLASSES: tuple[type[ActivationBase], ...] = tuple(
    a.function for a in _ENTRIES if isinstance(a.function, type) and
    issubclass(a.function, ActivationBase))
"""The SymPy classes defined here (``relu``, ``sigmoid``, …): they evaluate themselves."""

KINKED: tuple[type[sp.Function], ...] = tuple(
    a.function for a in _ENTRIES if a.kink is not None and isinstance(a.function, type))
"""Classes whose argument's zero is a kink (the sampler puts points on it)."""

SATURATING: tuple[type[sp.Function], ...] = tuple(
    a.function for a in _ENTRIES if a.saturates and isinstance(a.function, type))
"""Classes that saturate away from 0 (the sampler looks near their argument's zero)."""

RELU_AT_ZERO = int(_RELU_KINK.at_zero)
"""The value used for ReLU'(0) (the subgradient convention of the notes and of PyTorch)."""


def activation(name: str) -> Activation:
    """The registry entry ``name``; an unknown name is an error with a did-you-mean.

    >>> activation("relu").derivative_text
    'step'
    """
    return ACTIVATIONS[name]


_BY_FUNCTION: dict[object, Activation] = {a.function: a for a in _ENTRIES}


def by_function(f: object) -> Activation | None:
    """The entry whose SymPy function is ``f`` (a class such as ``relu`` or ``sp.tanh``)."""
    return _BY_FUNCTION.get(f)


def to_elementary(expr: sp.Basic) -> sp.Basic:
    """Rewrite the registry's own functions (relu, sigmoid, …) into Max/exp/log/tanh so
    SymPy's simplifier can see them."""
    for cls in FUNCTION_CLASSES:
        expr = expr.replace(cls, cls.entry().elementary)
    return expr


__all__ = [
    "ACTIVATIONS",
    "FUNCTION_CLASSES",
    "GELU_CUBIC",
    "KINKED",
    "LEAKY_SLOPE",
    "RELU_AT_ZERO",
    "SATURATING",
    "Activation",
    "ActivationBase",
    "Kink",
    "Registry",
    "activation",
    "by_function",
    "gelu",
    "leaky_relu",
    "relu",
    "sigmoid",
    "softplus",
    "to_elementary",
]
