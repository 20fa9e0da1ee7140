"""The error hierarchy: every user-facing failure is a :class:`JlabError`.

The CLI catches :class:`JlabError`, prints its message on one line and exits with
``exit_code``. Messages name the bad value and, where there is a short list, the allowed ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class JlabError(Exception):
    """Base class of every error jacobian_lab raises on bad input."""

    exit_code: int = 2


class ParseError(JlabError, ValueError):
    """An expression could not be parsed safely.

    ``position`` is the 0-based column in the user's text, when known.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        self.text = text
        self.position = position
        super().__init__(message)

    def __str__(self) -> str:
        msg = super().__str__()
        if self.position is not None and self.text:
            return f"{msg} (at column {self.position + 1} of {self.text!r})"
        return msg


class UsageError(JlabError, ValueError):
    """A call or command used wrongly: an argument of the wrong kind, a missing part, options
    that do not go together."""


class ShapeError(JlabError, ValueError):
    """Shapes that do not fit together (a claim of the wrong size, mismatched operands)."""


class RuleError(JlabError, LookupError):
    """No Jacobian rule of the matrix layer's table matches a node (the message names it)."""


class DomainError(JlabError, ValueError):
    """A point outside the domain of a function (log of a negative, division by zero, a kink)."""


class UnknownNameError(JlabError, KeyError):
    """An unknown derivation, variable, option value or kernel."""

    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0]) if self.args else ""


class BudgetExceeded(JlabError, TimeoutError):
    """A computation that did not finish within its time budget (see :mod:`.budget`).

    ``seconds`` is the budget; ``what`` names the work that was cut short and ``hint`` the
    remedy, when known. ``memory`` (bytes) is set when the work outgrew its memory bound
    rather than its time.
    """

    def __init__(self, seconds: float, what: str = "", hint: str = "",
                 memory: int | None = None) -> None:
        self.seconds = seconds
        self.what = what
        self.hint = hint
        self.memory = memory
        super().__init__(seconds, what, hint, memory)

    def __str__(self) -> str:
        work = f"{self.what} " if self.what else ""
        hint = f" ({self.hint})" if self.hint else ""
        if self.memory is not None:
            return f"{work}needs more than {self.memory / 2**20:g} MB of memory{hint}"
        return f"{work}did not finish within the budget of {self.seconds:g} s{hint}"


class DataError(JlabError, ValueError):
    """A data file that is missing, corrupt, truncated or inconsistent."""


class FileError(JlabError, RuntimeError):
    """A file or directory that cannot be written or used: a missing or read-only directory,
    a full disk, a file-size limit, a run directory another run holds."""


class TrainingError(JlabError, RuntimeError):
    """A training run that cannot go on (divergence, failed strict gradient check)."""


class UserCodeError(JlabError):
    """A user's own Python file (``jlab derive --file``) raised or returned something wrong.

    ``details`` is the traceback of the user's code, printed under the one-line message.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class VerificationError(JlabError, AssertionError):
    """A proof or check that failed where it was required to pass."""

    exit_code = 1


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" — did you mean `x`?"`` for the closest choice, or ``""``.

    >>> did_you_mean("sinn", ["sin", "cos"])
    ' — did you mean `sin`?'
    """
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" — did you mean `{close[0]}`?" if close else ""
