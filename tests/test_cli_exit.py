"""`jlab` run as the program ends itself once its command is done (os._exit, no interpreter
teardown): the output, the exit code and the atexit handlers are those of an ordinary exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JLAB_NO_CACHE": "1"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


MAIN = ("import sys; from jacobian_lab.cli import main; sys.argv = ['jlab', *{args!r}]; "
        "sys.exit(main())")


def test_jlab_prints_all_its_output_and_runs_atexit_handlers_before_it_ends():
    done = _run("import atexit; atexit.register(print, 'atexit ran'); "
                + MAIN.format(args=["derive", "gradient", "--format", "markdown"]))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.rstrip().splitlines()
    assert lines[-1] == "atexit ran"  # after everything the command printed
    assert any("proven" in ln for ln in lines)


def test_jlab_keeps_its_exit_code():
    assert _run(MAIN.format(args=["derive", "no-such-derivation"])).returncode == 2


def test_a_running_thread_gets_the_ordinary_exit_which_waits_for_it(tmp_path):
    mark = tmp_path / "thread-done"
    done = _run("import threading, time, pathlib; "
                "threading.Thread(target=lambda: (time.sleep(5), "
                f"pathlib.Path({str(mark)!r}).write_text('x'))).start(); "
                + MAIN.format(args=["derive", "no-such-derivation"]))
    assert done.returncode == 2 and mark.exists()  # not cut short by os._exit


def test_main_called_with_arguments_returns_instead_of_ending_the_process(capsys):
    from jacobian_lab.cli import main

    assert main(["derive", "gradient", "--format", "markdown"]) == 0
    assert "gradient" in capsys.readouterr().out.lower()
