"""The ``jlab`` command line.

Only argparse and the error classes are imported at start-up: ``jlab --help`` must stay fast
and must not import SymPy, so every command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Sequence

from jacobian_lab.cli.parser import build_parser
from jacobian_lab.errors import JlabError


def _guard_expressions(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Mark arguments such as ``-x^2``, ``-y`` or ``-(a+b)`` as values, not options: argparse
    takes a word that starts with ``-`` for an option unless it is a plain negative number.
    Such a word is left alone when it starts with an option of its command (``-h``, ``-o``,
    ``-v``), with ``--``, or follows ``--``; the others get a leading space, which argparse
    reads as a value and :func:`_unguard` takes off again."""
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    out: list[str] = []
    command: argparse.ArgumentParser | None = None
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        if command is None and sub is not None and arg in sub.choices:
            command = sub.choices[arg]
        known = command._option_string_actions if command else parser._option_string_actions
        if (command is not None and len(arg) > 1 and arg[0] == "-" and arg[1] != "-"
                and arg[:2] not in known):
            arg = " " + arg
        out.append(arg)
    return out


def _unguard(value: object) -> object:
    if isinstance(value, str) and value.startswith(" -"):
        return value[1:]
    if isinstance(value, list):
        return [_unguard(v) for v in value]
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jlab``; returns the exit code (0 ok, 1 check failed, 2 bad input).

    Run as the program (``argv`` None: the ``jlab`` script, ``python -m jacobian_lab.cli``) it
    ends the process itself once the command is done — see :func:`_exit_now`.
    """
    code = _run(argv)
    if argv is None:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the process without the interpreter's teardown, which frees every object SymPy
    made one by one (0.06 s after ``import sympy`` alone, 0.12 s after ``jlab derive``, more
    after a big proof). What teardown does that matters is done first: the ``atexit``
    handlers run and stdout and stderr are flushed. A flush that fails (a closed pipe) leaves
    it to the ordinary exit, which reports it as usual; so does a thread still running (the
    ordinary exit waits for it)."""
    if threading.active_count() > 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):  # what the handlers printed
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(
        _guard_expressions(parser, list(sys.argv[1:] if argv is None else argv)))
    for name, value in vars(args).items():
        setattr(args, name, _unguard(value))
    check_args = getattr(args, "check_args", None)
    if check_args is not None:  # usage rules argparse cannot state (verify: --claim or --batch)
        check_args(args)
    try:
        return args.func(args)
    except JlabError as exc:
        from rich.console import Console  # lazy: rich only when there is an error to show
        from rich.markup import escape  # lazy: as above

        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]error:[/] {escape(str(exc))}"
        )
        if getattr(exc, "details", None):  # a user's own file failed: its traceback, below
            print(exc.details, file=sys.stderr, end="")  # type: ignore[attr-defined]
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

