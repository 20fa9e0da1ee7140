"""The derivation core's shape: its data classes import only SymPy, and printing registers the
notebook display of a derivation instead of the core importing printing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=ENV, cwd=ROOT).stdout


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = _run(code)
    return {m for m in out.split() if m.startswith(("jacobian_lab", "derivations"))}


def test_the_derivation_data_classes_import_only_sympy():
    loaded = _modules_after("import jacobian_lab.core.derivation")
    assert loaded == {"jacobian_lab", "jacobian_lab.core", "jacobian_lab.core.derivation"}


def test_the_chain_walk_and_the_proof_do_not_import_printing():
    loaded = _modules_after("import jacobian_lab.core.chain, jacobian_lab.core.proof")
    assert not {m for m in loaded if m.startswith("jacobian_lab.printing")}
    assert not {m for m in loaded if m.startswith("derivations")}


def test_a_derivation_displays_itself_once_printing_is_loaded():
    code = (
        "from jacobian_lab.core.derivation import Derivation\n"
        "d = Derivation('x', 'A title', 'summary', [], [], [])\n"
        "print(d._repr_markdown_() is None)\n"
        "import jacobian_lab.printing.render\n"
        "print(d._repr_markdown_().startswith('## A title'))\n"
    )
    out = _run(code).split()
    assert out == ["True", "True"]
