"""The numeric options of the command line (``--budget``, ``--lr``, ``--timeout``): one parser.

:func:`bounded` makes an ``argparse`` ``type=`` that reads a float and refuses anything outside
an interval — nan, inf and words too — with an error that says what was expected.

>>> seconds = bounded("a positive number of seconds", "10", high=1e6)
>>> seconds("2.5")
2.5
>>> seconds("nan")
Traceback (most recent call last):
argparse.ArgumentTypeError: must be a positive number of seconds, got nan
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def bounded(what: str, example: str, low: float = 0.0, high: float = math.inf,
            low_inclusive: bool = False, noun: str | None = None) -> Callable[[str], float]:
    """A ``type=`` for argparse: a float in (``low``, ``high``] (``[low, high]`` with
    ``low_inclusive``), finite; ``what`` names it in the error (``"a positive number of
    seconds"``), ``example`` shows one that is accepted, ``noun`` (default ``what``) says
    what a word that is no number should have been."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {noun or what} like {example}, got {text!r}") from None
        above = value >= low if low_inclusive else value > low
        if not (above and value <= high and math.isfinite(value)):  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse
