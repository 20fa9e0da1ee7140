"""Independent proofs in parallel processes: the checks of one derivation (each result at each
size, each claim) do not depend on each other, so :func:`jacobian_lab.core.proof.prove` hands
them to forked workers when there are idle cores and enough of them to pay for the fork.

The workers are forked (Linux): they inherit the derivation, SymPy and the imported code, so
nothing but the task numbers goes to them and only the finished checks come back. A task a
worker cannot finish (an exception, a budget run out) comes back as a failure and is run again
here, so that its error is raised exactly as in a sequential proof. A worker never forks
workers of its own (``jlab list`` proves whole derivations in worker processes).
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

# Fewer checks than this are proved here: a fork and a pool cost ~50 ms, more than the
# proofs of a small derivation (neuron-relu: 10 checks in 0.03 s).
MIN_CHECKS = 12


def cores() -> int:
    """The cores this process may run on (its affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def idle_cores(total: int | None = None) -> int:
    """The cores no other work is using now (the core count less the load average, rounded
    up), at least 1. On a busy machine, where the scheduler shares CPU between sessions
    rather than processes, more workers would not prove faster."""
    total = cores() if total is None else total
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, min(total, math.ceil(total - load + 0.5)))


# Runtimes that start threads of their own: a forked child gets only the forking thread, and a
# lock one of theirs held stays locked in it (JAX warns so at every fork).
THREADED_RUNTIMES = ("jax", "torch", "tensorflow")


def fork_safe() -> bool:
    """Whether forking this process is safe: no other Python thread runs and no runtime of
    :data:`THREADED_RUNTIMES` is loaded (a notebook or a test session with JAX or PyTorch
    proves in one process instead)."""
    if threading.active_count() > 1:
        return False
    return not any(name in sys.modules for name in THREADED_RUNTIMES)


def in_worker() -> bool:
    """This process is a worker (of a pool here or of ``jlab list``): it proves alone."""
    # lazy: multiprocessing (7 ms) only when there is work to share
    import multiprocessing

    return multiprocessing.parent_process() is not None


_JOB: tuple[Callable[[int], Any], Sequence[int]] | None = None  # set before the fork


def _work(task: int) -> tuple[int, bool, Any]:
    assert _JOB is not None
    try:
        return task, True, _JOB[0](task)
    except Exception:  # run again in the parent, where it raises as a sequential proof would
        return task, False, None


def run(fn: Callable[[int], Any], tasks: Sequence[int], workers: int, checks: int
        ) -> dict[int, Any]:
    """``{task: fn(task)}`` for every task, in ``workers`` forked processes when that can
    help — at least two tasks, ``checks`` (what the tasks do in all) at least MIN_CHECKS —
    else here, in order. ``fn`` must return something picklable."""
    global _JOB
    if (workers < 2 or len(tasks) < 2 or checks < MIN_CHECKS or in_worker()
            or not fork_safe()):
        return {t: fn(t) for t in tasks}
    # lazy: multiprocessing (7 ms) only when there is work to share
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():  # not on Linux
        return {t: fn(t) for t in tasks}
    _JOB = (fn, tasks)
    out: dict[int, Any] = {}
    failed: list[int] = []
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for task, ok, value in pool.imap_unordered(_work, tasks):
                if ok:
                    out[task] = value
                else:
                    failed.append(task)
    finally:
        _JOB = None
    for task in sorted(failed):
        out[task] = fn(task)
    return out
