"""PNG plots of a run: loss and accuracy per epoch, and the first layer's weights as images.

matplotlib is optional (``pip install 'jacobian_lab[plots]'``). Without it nothing is drawn
and :func:`write_plots` says so in a note; with it, only the object-oriented API and the Agg
canvas are used (no pyplot, no global state, no display needed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jacobian_lab.files import atomic_write

__all__ = ["ACCURACY_PNG", "LOSS_PNG", "WEIGHTS_PNG", "write_plots"]

LOSS_PNG, ACCURACY_PNG, WEIGHTS_PNG = "loss.png", "accuracy.png", "weights.png"
MAX_UNITS = 64  # first-layer units drawn as images
NO_MATPLOTLIB = ("plots skipped: matplotlib is not installed "
                 "(pip install 'jacobian_lab[plots]')")


def _figure(width: float, height: float) -> Any:
    # lazy: matplotlib is optional and slow to import; only a run that draws needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # lazy: as above

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> None:
    atomic_write(path, lambda f: fig.savefig(f, format="png"))


def _curves(history: Sequence[dict[str, Any]], keys: tuple[str, str], ylabel: str,
            path: Path) -> None:
    fig = _figure(6, 4)
    ax = fig.add_subplot()
    epochs = [row["epoch"] for row in history]
    for key, label in zip(keys, ("train", "test"), strict=True):
        values = [math.nan if row.get(key) is None else row[key] for row in history]
        ax.plot(epochs, values, marker="o" if len(epochs) <= 30 else None, label=label)
    from matplotlib.ticker import MaxNLocator  # lazy: matplotlib is optional (see _figure)

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save(fig, path)


def _weights(W1: NDArray[Any], path: Path) -> bool:
    side = math.isqrt(W1.shape[1])
    if side * side != W1.shape[1]:
        return False  # inputs that are not square images
    units = min(W1.shape[0], MAX_UNITS)
    cols = min(units, 8)
    rows = -(-units // cols)
    fig = _figure(1.3 * cols, 1.5 * rows + 0.4)
    for i in range(units):
        ax = fig.add_subplot(rows, cols, i + 1)
        img = np.asarray(W1[i], dtype=np.float64).reshape(side, side)
        lim = float(np.abs(img).max()) or 1.0
        ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"unit {i + 1}", fontsize=7)
        ax.set_axis_off()
    fig.suptitle(f"first-layer weights W1 ({side}×{side} per unit)", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
    return True


def write_plots(run_dir: str | os.PathLike[str], history: Sequence[dict[str, Any]],
                first_layer: NDArray[Any]) -> tuple[list[str], list[str]]:
    """Draw ``loss.png``, ``accuracy.png`` and ``weights.png`` into ``run_dir``.

    Returns the names of the files written and notes (why something was not drawn).
    """
    try:
        import matplotlib  # noqa: F401  # lazy: is the optional matplotlib installed?
    except ImportError:
        return [], [NO_MATPLOTLIB]
    directory = Path(run_dir)
    files: list[str] = []
    notes: list[str] = []
    if history:
        _curves(history, ("train_loss", "test_loss"), "loss", directory / LOSS_PNG)
        _curves(history, ("train_accuracy", "test_accuracy"), "accuracy",
                directory / ACCURACY_PNG)
        files += [LOSS_PNG, ACCURACY_PNG]
    if _weights(first_layer, directory / WEIGHTS_PNG):
        files.append(WEIGHTS_PNG)
    else:
        notes.append(f"{WEIGHTS_PNG} skipped: {first_layer.shape[1]} inputs are not a square "
                     "image")
    return files, notes
