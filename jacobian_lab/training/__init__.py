"""Train an MNIST network with the generated kernels while checking its gradients.

The public face: :class:`TrainConfig`, :func:`train`, :func:`resume` and
:func:`check_gradients`. The rooms, each importing only those before it:

* data — :mod:`.dataset` (the :class:`~.dataset.Dataset` type and its checks), :mod:`.idx`
  (IDX files), :mod:`.fetch` (a checked download), :mod:`.embedded` (the 5,000 digits shipped
  in the package), :mod:`.data` (lookup by name);
* :mod:`.model` strings the kernels into a network; :mod:`.checks` compares backprop with
  finite differences and the closed forms;
* the trainer — :mod:`.config`, :mod:`.batches`, :mod:`.state`, :mod:`.rundir`,
  :mod:`.summary`, :mod:`.display`, :mod:`.loop`, and :mod:`.trainer` (train and resume);
* :mod:`.plots` draws PNGs when matplotlib is installed.

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
from jacobian_lab.training.config import TrainConfig
from jacobian_lab.training.loop import DivergenceError
from jacobian_lab.training.model import Network, init_network
from jacobian_lab.training.summary import TrainSummary
from jacobian_lab.training.trainer import resume, train

__all__ = [
    "DivergenceError", "GradientCheck", "GradientCheckError", "Network", "Tolerances",
    "TrainConfig", "TrainSummary", "check_gradients", "init_network", "resume", "train",
]
