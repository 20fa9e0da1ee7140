"""Time budgets: ``with deadline(seconds):`` stops the work inside it after ``seconds``.

SymPy cannot be asked to stop, so in the main thread of a Unix process a budget is enforced
with ``SIGALRM``: the timer interrupts whatever runs and the ``with`` block ends with
:class:`~jacobian_lab.errors.BudgetExceeded`. Long loops of our own may also stop
cooperatively with :func:`check` and size their work with :func:`remaining`; in other
threads, or when another ``SIGALRM`` handler or real-time timer is in use, only that
cooperative check applies.

Deadlines nest: an inner one ends at the earlier of its own end and the outer one's, and when
the outer budget runs out inside the inner block, the error belongs to (is raised by) the
outer block. The previous signal handler and timer are always restored.

A deadline may also bound memory: ``deadline(10, memory=1 << 30)`` ends the block when the
process's resident set has grown by more than 1 GiB (Linux; checked by the same timer every
0.1 s, so the error is the same ``BudgetExceeded``, with ``memory`` set). An address-space
limit (``RLIMIT_AS``) would not do: its ``MemoryError`` is an ``Exception``, which SymPy's
broad handlers swallow while it goes on.

>>> import time
>>> try:
...     with deadline(0.05):
...         while True:
...             time.sleep(0.01)
... except BudgetExceeded as e:
...     print(e.seconds)
0.05
>>> with deadline(5):
...     remaining() <= 5
True
>>> remaining()
inf
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jacobian_lab.errors import BudgetExceeded, UsageError

#: Seconds a command's work, or one check of it, may take unless ``--budget`` says otherwise:
#: the judge's sampling before an honest "undecided", ``jlab diff``/``verify``, each gradient
#: check of a training run. One value, defined here, below everything that uses it.
DEFAULT_BUDGET = 10.0

__all__ = ["BudgetExceeded", "Deadline", "check", "deadline", "remaining"]

_REFIRE = 0.05
_MEMORY_POLL = 0.1  # seconds between checks of the resident set, when memory is bounded
"""Seconds between alarms once a budget is spent: an exception raised in a signal handler can
land where Python swallows it (a gc callback, a ``__del__``; the parser fuzz met one), and a
one-shot timer would then leave the budget unenforced."""


@dataclass(eq=False)
class Deadline:
    """One active budget: ``seconds`` long, ending at ``end`` (``time.monotonic()``)."""

    seconds: float
    end: float
    memory: int | None = None  # bytes the resident set may grow by
    rss_limit: float = math.inf  # the resident set size (bytes) past which the block ends

    def remaining(self) -> float:
        """Seconds left, at least 0."""
        return max(0.0, self.end - time.monotonic())


class _Expired(BaseException):
    """Raised inside the block by the timer or :func:`check`; a ``BaseException``, so that no
    ``except Exception`` on the way (SymPy has many) eats it. The block that owns ``owner``
    turns it into :class:`BudgetExceeded`."""

    def __init__(self, owner: Deadline, memory: bool = False) -> None:
        super().__init__(owner)
        self.owner = owner
        self.memory = memory  # ended for memory, not time


class _State(threading.local):
    def __init__(self) -> None:
        self.stack: list[Deadline] = []
        self.armed = False  # whether this (main) thread's SIGALRM is ours


_state = _State()


def _expired() -> Deadline | None:
    """The outermost deadline that has passed: the block that must end."""
    now = time.monotonic()
    return next((d for d in _state.stack if d.end <= now), None)


def _resident() -> int | None:
    """This process's resident set size in bytes (Linux), else None."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


try:
    import resource

    _PAGE = resource.getpagesize()
except ImportError:  # pragma: no cover - not Unix
    _PAGE = 4096


def _over_memory() -> Deadline | None:
    """The outermost deadline whose memory bound is exceeded."""
    bounded = [d for d in _state.stack if d.rss_limit < math.inf]
    if not bounded:
        return None
    rss = _resident()
    return None if rss is None else next((d for d in bounded if rss > d.rss_limit), None)


def check() -> None:
    """Stop here if the innermost budget is spent (no-op outside any :func:`deadline`).

    >>> check()  # no budget: nothing to do
    """
    owner = _expired()
    if owner is not None:
        raise _Expired(owner)


def remaining() -> float:
    """Seconds left of the innermost budget (``math.inf`` outside any :func:`deadline`)."""
    if not _state.stack:
        return math.inf
    return min(d.remaining() for d in _state.stack)


def _on_alarm(signum: int, frame: Any) -> None:
    if frame is not None and frame.f_code.co_filename in _CLEANUP_FILES:
        # the block is ending right now (the alarm landed in contextlib's __exit__ before our
        # cleanup ran, or in the cleanup): raising here would escape it with the timer still
        # armed; fire again shortly, when the block is gone or truly over its budget
        signal.setitimer(signal.ITIMER_REAL, _REFIRE, _REFIRE)
        return
    owner = _expired()
    if owner is not None:
        raise _Expired(owner)
    owner = _over_memory()
    if owner is not None:
        raise _Expired(owner, memory=True)
    _arm()  # early, between blocks or a memory check: wait for the next end, if any


_CLEANUP_FILES = (contextlib.__file__, __file__)


def _arm() -> None:
    left = remaining()
    if any(d.rss_limit < math.inf for d in _state.stack):
        left = min(left, _MEMORY_POLL)
    if math.isfinite(left):
        signal.setitimer(signal.ITIMER_REAL, max(left, 1e-4), _REFIRE)
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _can_signal() -> bool:
    return (hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None)
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def _quiet(unraisable: Any) -> None:
    """``sys.unraisablehook`` while armed: our alarm swallowed in a gc callback is no news (the
    timer fires again); anything else goes to the previous hook."""
    if not isinstance(unraisable.exc_value, _Expired):
        _previous_hook(unraisable)


_previous_hook = sys.unraisablehook


@contextlib.contextmanager
def deadline(seconds: float, memory: int | None = None) -> Iterator[Deadline]:
    """Run the block for at most ``seconds`` (and, with ``memory``, let the resident set grow
    by at most that many bytes); past it, raise :class:`BudgetExceeded`.

    ``seconds`` must be positive; ``math.inf`` gives no time limit (but still a block that
    :func:`remaining` and :func:`check` see). The memory bound needs the signal (main thread)
    and Linux's ``/proc``; elsewhere it is not enforced.
    """
    if not seconds > 0:
        raise UsageError(f"a budget must be a positive number of seconds, not {seconds!r}")
    now = time.monotonic()
    own = Deadline(seconds, now + seconds, memory)
    rss = _resident() if memory is not None else None
    if memory is not None and rss is not None:
        own.rss_limit = rss + memory
    outer_end = min((d.end for d in _state.stack), default=math.inf)
    first = not _state.stack
    signals = _state.armed or (first and _can_signal())
    global _previous_hook
    previous: Any = None
    if first and signals:
        _previous_hook = sys.unraisablehook
        sys.unraisablehook = _quiet
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        _state.armed = True
    _state.stack.append(own)
    try:
        if signals and ((own.end < outer_end and math.isfinite(own.end))
                        or own.rss_limit < math.inf):
            _arm()
        yield own
    except _Expired as e:
        if e.owner is not own:
            raise
        raise BudgetExceeded(seconds, memory=memory if e.memory else None) from None
    finally:
        while True:  # an alarm during the cleanup itself must not leave the timer armed
            try:
                if own in _state.stack:
                    _state.stack.remove(own)
                if signals:
                    if first:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                        signal.signal(signal.SIGALRM, previous)
                        sys.unraisablehook = _previous_hook
                        _state.armed = False
                    else:
                        _arm()
                break
            except _Expired:
                continue
