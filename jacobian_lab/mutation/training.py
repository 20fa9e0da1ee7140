"""Training level: mutated kernels, generated and swapped in, must fail the trainer's
gradient check (on a batch with ReLU pre-activations exactly on the kink)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from jacobian_lab import kernels
from jacobian_lab.codegen.emit import kernel_source
from jacobian_lab.codegen.specs import kernel_specs
from jacobian_lab.errors import (
    JlabError,
    VerificationError,
)
from jacobian_lab.mutation.kernels import kernel_mutants
from jacobian_lab.mutation.operators import SHAPE_ERRORS, Mutant, Status
from jacobian_lab.mutation.score import Outcome, Progress, timed
from jacobian_lab.training import checks  # checks.check_gradients: looked up at call time
from jacobian_lab.training.model import init_network, loss_and_gradients

# --------------------------------------------------------------------------- training

# Network configurations that exercise every kernel the trainer calls.
TRAINING_CONFIGS = (("relu", "cross-entropy"), ("tanh", "cross-entropy"),
                    ("sigmoid", "mse"), ("relu", "mse"))
TRAINING_SIZES = (12, 6, 5, 4)
TRAINING_BATCH = 9


def trainer_kernels(activation: str, loss: str) -> tuple[str, ...]:
    """The kernels :mod:`jacobian_lab.training.model` calls for a network."""
    out = ["dense_forward", "dense_backward", activation, f"{activation}_backward"]
    if loss == "cross-entropy":
        out += ["softmax", "softmax_cross_entropy", "softmax_cross_entropy_grad"]
    else:
        out += ["sigmoid", "mse", "mse_grad", "sigmoid_backward"]
    return tuple(out)


def _compile(spec: Any, relu_swap: bool) -> Callable[..., Any]:

    at_zero = 1 if relu_swap else 0
    try:
        src, into_out = kernel_source(spec, at_zero), False
    except VerificationError:  # the printer cannot write this mutant into out=
        spec, into_out = replace(spec, out=False), spec.out
        src = kernel_source(spec, at_zero)
    if relu_swap and src == kernel_source(spec):
        raise JlabError(f"{spec.name}: the generated source has no ReLU step to swap")
    namespace: dict[str, Any] = {"np": np}
    exec(compile(src, f"<mutant of {spec.name}>", "exec"), namespace)  # our generated code
    fn: Callable[..., Any] = namespace[spec.name]
    if not into_out:
        return fn

    def with_out(*args: Any, out: np.ndarray | None = None) -> Any:  # the same signature
        value = fn(*args)
        if out is None:
            return value
        out[...] = value
        return out

    return with_out


@dataclass
class _Batch:
    net: Any
    X: np.ndarray
    Y: np.ndarray


def _batches() -> dict[tuple[str, str], _Batch]:

    rng = np.random.default_rng(7)
    out = {}
    for act, loss in TRAINING_CONFIGS:
        net = init_network(TRAINING_SIZES, activation=act, loss=loss, rng=rng,
                           dtype=np.float64)
        X = rng.random((TRAINING_SIZES[0], TRAINING_BATCH))
        X[:, 0] = 0.0  # a blank input: with b = 0 every first-layer Z sits on the kink
        Y = np.eye(TRAINING_SIZES[-1])[:, rng.integers(0, TRAINING_SIZES[-1], TRAINING_BATCH)]
        out[(act, loss)] = _Batch(net, X, Y)
    return out


def _gradients(b: _Batch) -> list[np.ndarray]:

    c, g = loss_and_gradients(b.net, b.X, b.Y)
    return [np.array([c]), *g.arrays()]


def _differs(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    for x, y in zip(a, b, strict=True):
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-13, atol=1e-15):
            return True
    return False


def training_outcomes(names: Sequence[str] | None = None,
                      progress: Progress | None = None) -> Iterator[Outcome]:
    """Swap each mutated kernel into the trainer; its gradient check must fail."""

    batches = _batches()
    baseline = {}
    for key, b in batches.items():  # the control: the real kernels pass every check
        check = checks.check_gradients(b.net, b.X, b.Y, np.random.default_rng(0))
        if not check.passed:
            raise JlabError(f"the unmutated trainer fails its own check on {key}: "
                            f"{check.failures[0]}")
        baseline[key] = _gradients(b)
    used = {k for cfg in TRAINING_CONFIGS for k in trainer_kernels(*cfg)}
    for spec in kernel_specs():
        if spec.name not in used or (names and spec.name not in names):
            continue
        configs = [cfg for cfg in TRAINING_CONFIGS if spec.name in trainer_kernels(*cfg)]
        for mspec, refused, mu, oname in kernel_mutants(spec):
            yield timed("training", f"{spec.name}: {oname}", mu, progress, _judge_training,
                         spec.name, mspec, refused, mu, configs, batches, baseline, kernels,
                         checks.check_gradients)


def _judge_training(name: str, mspec: Any, refused: str | None, mu: Mutant,
                    configs: Sequence[tuple[str, str]], batches: dict[tuple[str, str], _Batch],
                    baseline: dict[Any, Any], kernels: Any,
                    check_gradients: Callable[..., Any]) -> tuple[Status, str]:
    if refused is not None:
        return "caught", f"{refused} (no kernel can be generated)"
    fn = _compile(mspec, relu_swap=mu.operator == "relu'(0)")
    original = getattr(kernels, name)
    changed_in: list[str] = []
    try:
        setattr(kernels, name, fn)
        for cfg in configs:
            b = batches[cfg]
            label = f"{cfg[0]}/{cfg[1]}"
            try:
                grads = _gradients(b)
            except SHAPE_ERRORS as e:
                return "caught", f"{label}: backprop fails ({type(e).__name__}: {e})"
            if not _differs(grads, baseline[cfg]):
                continue
            changed_in.append(label)
            try:
                check = check_gradients(b.net, b.X, b.Y, np.random.default_rng(0))
            except SHAPE_ERRORS as e:
                return "caught", f"gradient check on {label} raised {type(e).__name__}: {e}"
            if not check.passed:
                return "caught", f"gradient check on {label}: {check.failures[0]}"
    finally:
        setattr(kernels, name, original)
    if changed_in:
        return "missed", f"the gradients changed on {', '.join(changed_in)} but the check passed"
    return "equivalent", "same loss and gradients on the check batch of " + \
        ", ".join(f"{a}/{b}" for a, b in configs)
