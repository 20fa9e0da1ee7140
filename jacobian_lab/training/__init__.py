"""Train an MNIST network with the generated kernels while checking its gradients.

The public face: :class:`TrainConfig`, :func:`train`, :func:`resume` and
:func:`check_gradients`; :mod:`.model` strings the kernels into a network, :mod:`.checks`
compares backprop with finite differences and the closed forms, :mod:`.trainer` runs the loop
and keeps the run directory, :mod:`.plots` draws PNGs when matplotlib is installed.

>>> from jacobian_lab.training import TrainConfig
>>> TrainConfig(layers=(784, 32, 10), optimizer="minibatch", batch_size=128).batch_for(60000)
128
"""

from __future__ import annotations

from jacobian_lab.training.checks import (
    GradientCheck,
    GradientCheckError,
    Tolerances,
    check_gradients,
)
from jacobian_lab.training.model import Network, init_network
from jacobian_lab.training.trainer import DivergenceError, TrainConfig, TrainSummary, resume, train

__all__ = [
    "DivergenceError", "GradientCheck", "GradientCheckError", "Network", "Tolerances",
    "TrainConfig", "TrainSummary", "check_gradients", "init_network", "resume", "train",
]
