"""``jlab train`` and ``jlab data fetch``: the arguments, the commands, the final tables.

Only argparse is imported at start-up (``jlab --help`` stays fast); NumPy, rich and the
trainer are imported when a command runs. ``cli.py`` wires the commands::

    p = sub.add_parser("train", ...); add_train_arguments(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.train", "cmd_train"))
    p = sub.add_parser("data", ...); add_data_arguments(p)
    p.set_defaults(func=_lazy("jacobian_lab.cli.train", "cmd_data_fetch"))
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jacobian_lab.cli.numbers import bounded
from jacobian_lab.errors import TrainingError

if TYPE_CHECKING:
    from rich.console import Console

    from jacobian_lab.training.summary import TrainSummary

# Defaults and choices, repeated here so that building the parser imports nothing heavy;
# tests/test_training.py checks that they agree with TrainConfig and the model.
ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("cross-entropy", "mse")
INITS = ("he", "uniform")
OPTIMIZERS = ("gd", "sgd", "minibatch")
DTYPES = ("float32", "float64")
DEFAULTS: dict[str, Any] = {
    "layers": (784, 10, 10), "activation": "relu", "loss": "cross-entropy", "init": "he",
    "optimizer": "minibatch", "lr": 0.1, "epochs": 10, "batch_size": 64, "seed": 0,
    "dtype": "float32", "data": "embedded", "limit": None, "check_every": 50, "strict": False,
    "checkpoint_every": None, "budget": 10.0,
}
#: argparse destinations that are TrainConfig settings.
SETTINGS = tuple(DEFAULTS)


def _layers(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes like 784,10,10 (inputs, hidden…, outputs), got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected at least two positive sizes like 784,10,10, got {text!r}")
    return sizes


def _at_least(kind: Callable[[str], Any], low: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value >= low:
            raise argparse.ArgumentTypeError(f"must be at least {low:g}, got {text}")
        return value

    return parse


_lr = bounded("a positive number", "0.1")
_budget = bounded("a positive number of seconds", "10")
MAX_TIMEOUT = 86_400.0  # jacobian_lab.training.data.MAX_TIMEOUT (not imported: it loads NumPy)
_timeout = bounded(f"between 0.001 and {MAX_TIMEOUT:g} seconds", "30", low=0.001,
                   high=MAX_TIMEOUT, low_inclusive=True, noun="seconds")


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``jlab train`` (settings default to None: see :data:`DEFAULTS`)."""
    net = p.add_argument_group("network")
    net.add_argument("--layers", type=_layers, metavar="N,N,...",
                     help="layer sizes, inputs first (default: 784,10,10, the notes' network)")
    net.add_argument("--activation", choices=ACTIVATIONS,
                     help="hidden-layer activation (default: relu)")
    net.add_argument("--loss", choices=LOSSES,
                     help="cross-entropy on a softmax output (default), or the notes' MSE "
                          "1/(2m) Σ (y − a)² on a sigmoid output")
    net.add_argument("--init", choices=INITS,
                     help="he: N(0, 2/fan-in) weights, zero biases (default); uniform: the "
                          "notebook's U(−0.5, 0.5)")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--optimizer", choices=OPTIMIZERS,
                     help="gd: full batch, one step per epoch (the notebook: --lr 0.1 "
                          "--epochs 500); sgd: batches of 1; minibatch (default): "
                          "--batch-size, reshuffled every epoch")
    opt.add_argument("--lr", type=_lr, metavar="ALPHA", help="learning rate α (default: 0.1)")
    opt.add_argument("--epochs", type=_at_least(int, 1), metavar="N",
                     help="epochs, or iterations for gd (default: 10); with --resume, the "
                          "new total")
    opt.add_argument("--batch-size", type=_at_least(int, 1), metavar="N",
                     help="minibatch size (default: 64)")
    opt.add_argument("--seed", type=_at_least(int, 0), metavar="N",
                     help="seed of initialisation and shuffling; the same seed gives "
                          "bit-identical weights (default: 0)")
    opt.add_argument("--dtype", choices=DTYPES, help="float32 (default) or float64")
    data = p.add_argument_group("data")
    data.add_argument("--data", metavar="SPEC",
                      help="embedded (default: 5,000 real MNIST digits, offline), mnist (after "
                           "`jlab data fetch mnist`), fashion-mnist, or a directory of IDX files")
    data.add_argument("--limit", type=_at_least(int, 1), metavar="N",
                      help="train on the first N training samples only")
    chk = p.add_argument_group("gradient checks")
    chk.add_argument("--check-every", type=_at_least(int, 0), metavar="N",
                     help="check backprop against finite differences and the closed forms every "
                          "N steps and at the end; 0 disables (default: 50)")
    chk.add_argument("--strict", action="store_true", default=None,
                     help="stop at the first failed check, or one that cannot finish within "
                          "--budget (exit 1); without it the run goes on and exits 1 at the "
                          "end if a check failed (a check over its budget is skipped)")
    chk.add_argument("--budget", type=_budget, metavar="SECONDS",
                     help="the longest one gradient check may take; past it the check is "
                          "skipped with a warning (default: 10)")
    run = p.add_argument_group("run directory and output")
    run.add_argument("--run-dir", metavar="DIR",
                     help="where metrics, checkpoints, weights and plots go "
                          "(default: runs/<timestamp>)")
    run.add_argument("--resume", metavar="RUN_DIR",
                     help="continue a run from its last checkpoint, bit-for-bit")
    run.add_argument("--checkpoint-every", type=_at_least(int, 1), metavar="N",
                     help="epochs between checkpoints (default: 1; gd: 25); always at the end")
    run.add_argument("--json", action="store_true",
                     help="print the final summary as JSON on stdout")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--report", metavar="FILE",
                     help="also write a report of the run: FILE.pdf, .tex or .md")
    run.add_argument("--no-plots", action="store_true",
                     help="do not draw PNG plots (they need matplotlib)")


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """``jlab data fetch mnist [--mirror URL] [--dir DIR] [--timeout SECONDS]``."""
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    f = sub.add_parser(
        "fetch", help="download a dataset, verified by SHA-256",
        description="Download the four MNIST archives, verify their SHA-256 checksums and keep "
        "them in the cache (or --dir). A file already there with the right checksum is kept; "
        "a failed or corrupt download leaves nothing behind.",
        formatter_class=p.formatter_class)
    f.add_argument("name", choices=["mnist"], help="the dataset (mnist)")
    f.add_argument("--mirror", metavar="URL",
                   help="base URL holding the four .gz files (default: Google's CVDF mirror)")
    f.add_argument("--dir", metavar="DIR",
                   help="where to put the files (default: the cache, used by --data mnist)")
    f.add_argument("--timeout", type=_timeout, default=30.0, metavar="SECONDS",
                   help="the longest each file may take to download, in seconds "
                        f"(default: 30, at most {MAX_TIMEOUT:g})")


# --------------------------------------------------------------------------- commands

def cmd_train(args: argparse.Namespace) -> int:
    """Train (or resume); exit 0, or 1 when a gradient check failed."""
    # lazy: `jlab --help` imports this module, not rich, NumPy or SymPy
    from rich.console import Console

    from jacobian_lab.training import trainer  # lazy: as above

    if getattr(args, "report", None) is not None:  # checked before the run, not after it
        # lazy: `jlab --help` imports this module, not rich, NumPy or SymPy
        from jacobian_lab.printing.report import check_output

        check_output(args.report, "--report")
    settings = {k: getattr(args, k) for k in SETTINGS if getattr(args, k, None) is not None}
    common: dict[str, Any] = {"console": Console(stderr=True, highlight=False),
                              "progress": not args.quiet, "plots": not args.no_plots}
    if args.resume is not None:
        if args.run_dir is not None:
            raise TrainingError("--resume continues its own run directory; leave out --run-dir")
        epochs = settings.pop("epochs", None)
        summary = trainer.resume(args.resume, epochs=epochs, overrides=settings, **common)
    else:
        summary = trainer.train(trainer.TrainConfig(**settings), run_dir=args.run_dir,
                                **common)
    if getattr(args, "report", None) is not None:
        # lazy: `jlab --help` imports this module, not rich, NumPy or SymPy
        from jacobian_lab.printing.train_report import write_train_report

        written = write_train_report(summary, args.report)
        Console(stderr=True, highlight=False).print(f"wrote {written}")
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        out = Console(highlight=False)
        render_summary(summary, out)
        render_confusion(summary, out)
    return 0 if summary.checks["failed"] == 0 else 1


def cmd_data_fetch(args: argparse.Namespace) -> int:
    """Download MNIST with a progress display; print where it is."""
    # lazy: `jlab --help` imports this module, not rich, NumPy or SymPy
    from rich.console import Console
    from rich.progress import (  # lazy: as above
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    from jacobian_lab.training import data  # lazy: as above

    tasks: dict[str, Any] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())
    console = Console(stderr=True, highlight=False)
    # Bars on a terminal only: a log gets nothing but the result or one line of error.
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        def report(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done, total=total)

        directory = data.fetch_mnist(args.dir, mirror=args.mirror, timeout=args.timeout,
                                     progress=report)
    hint = "--data mnist" if args.dir is None else f"--data {directory}"
    Console(highlight=False).print(f"MNIST is in {directory} (checksums verified)\n"
                                   f"train with: jlab train {hint}")
    return 0


# --------------------------------------------------------------------------- tables

def _num(x: float | None, fmt: str) -> str:
    return "—" if x is None or x != x else format(x, fmt)


def render_summary(s: TrainSummary, console: Console) -> None:
    """The final summary table."""
    # lazy: `jlab --help` imports this module, not rich, NumPy or SymPy
    from rich.table import Table

    c = s.config
    output = "softmax + cross-entropy" if c.loss == "cross-entropy" else "sigmoid + MSE"
    size = s.batch_size if s.batch_size is not None else c.batch_size
    batch = {"gd": f"full batch of {size}", "sgd": "batch 1"}.get(c.optimizer, f"batch {size}")
    ch = s.checks
    t = Table(title="training summary", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("data", s.dataset)
    t.add_row("network", f"{'-'.join(map(str, c.layers))}, {c.activation} hidden, {output}, "
                         f"{c.init} init, {c.dtype}")
    t.add_row("optimiser", f"{c.optimizer} ({batch}), α = {c.lr:g}, seed {c.seed}")
    if s.step:
        t.add_row("step", s.step)
    t.add_row("trained", f"{s.epochs} {'iterations' if c.optimizer == 'gd' else 'epochs'}, "
                         f"{s.steps:,} steps")
    t.add_row("train", f"loss {_num(s.train_loss, '.4f')}, accuracy "
                       f"{_num(s.train_accuracy, '.4f')} (running, over the last epoch)")
    t.add_row("test", f"loss {_num(s.test_loss, '.4f')}, accuracy "
                      f"[bold]{_num(s.test_accuracy, '.4f')}[/]")
    if s.best_epoch is not None:
        unit = "iteration" if c.optimizer == "gd" else "epoch"
        last = " (the last)" if s.best_epoch == s.epochs else ""
        kept = ("its weights are in best.npz, the last in weights.npz" if "best.npz" in s.files
                else "its weights were not kept (the run began before best.npz existed)")
        t.add_row("best", f"{unit} {s.best_epoch}{last}: test accuracy "
                          f"{_num(s.best_test_accuracy, '.4f')}; {kept}")
    skipped = ch.get("skipped", 0)
    if ch["count"] or skipped:
        status = ("[yellow]none finished[/]" if not ch["count"] else "[green]all passed[/]"
                  if not ch["failed"] else f"[red]{ch['failed']} failed[/]")
        kinks = (f"; {ch['kink_skips']} draws across a ReLU kink drawn again"
                 if ch["kink_skips"] else "")
        if skipped:
            kinks += (f"; [yellow]{skipped} skipped[/] (over their {c.budget:g} s budget, "
                      "no verdict)")
        t.add_row("gradient checks",
                  f"{ch['count']} checks, {status}; max relative error vs finite differences "
                  f"{_num(ch['max_fd_direction'], '.1e')} (directions), "
                  f"{_num(ch['max_fd_coordinate'], '.1e')} (coordinates); vs closed forms "
                  f"{_num(ch['max_closed_form'], '.1e')}; loss {_num(ch['max_forward'], '.1e')}"
                  f"{kinks}")
    else:
        t.add_row("gradient checks", "off (--check-every 0)")
    t.add_row("time", f"{s.seconds:.2f} s in all, {s.train_seconds:.2f} s training "
                      f"({s.samples_per_second:,.0f} samples/s), {s.check_seconds:.2f} s checks")
    t.add_row("run directory", str(s.run_dir))
    for note in s.notes:
        t.add_row("note", note)
    console.print(t)


def render_confusion(s: TrainSummary, console: Console) -> None:
    """The test set's confusion matrix: rows are true classes, columns predictions."""
    # lazy: `jlab --help` imports this module, not rich, NumPy or SymPy
    from rich.table import Table

    t = Table(title="confusion matrix (test set; rows true, columns predicted)",
              title_justify="left")
    t.add_column("true", justify="right", style="bold")
    for j in range(len(s.confusion)):
        t.add_column(str(j), justify="right")
    t.add_column("recall", justify="right")
    for i, row in enumerate(s.confusion):
        total = sum(row)
        cells = [f"[bold green]{v}[/]" if i == j else (f"[red]{v}[/]" if v else "[dim]0[/]")
                 for j, v in enumerate(row)]
        t.add_row(str(i), *cells, _num(row[i] / total if total else None, ".3f"))
    console.print(t)
