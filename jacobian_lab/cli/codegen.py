"""``jlab codegen``: regenerate the NumPy kernels, check that they are fresh, or show one."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from jacobian_lab.codegen import emit as codegen
from jacobian_lab.codegen import fused
from jacobian_lab.codegen.specs import kernel_specs


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cmd_codegen(args: argparse.Namespace) -> int:
    """``--show NAME``: print one kernel's source; ``--check``: exit 1 if a generated module
    (the kernels, the fused step beside them) is stale; neither: regenerate them.
    ``args.output`` (optional) overrides the kernels' path; the fused step goes beside it as
    ``_fused.py``.
    """
    output = getattr(args, "output", None)
    path = Path(output or codegen.GENERATED)
    step = path.with_name(fused.FUSED.name) if output else fused.FUSED
    if getattr(args, "show", None) is not None:
        print(codegen.show(args.show), end="")
        return 0
    console = Console(highlight=False)
    if getattr(args, "check", False):
        stale = [p for p, ok in ((path, codegen.check(path)), (step, fused.check(step)))
                 if not ok]
        if not stale:
            console.print(f"{escape(_display(path))} is fresh, and so is {escape(_display(step))}")
            return 0
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]stale:[/] {escape(_display(stale[0]))} is not what the kernel specs "
            "generate today — run `jlab codegen` and commit the result"
        )
        return 1
    fresh = codegen.check(path) and fused.check(step)
    specs = kernel_specs()
    codegen.write(path, specs)
    fused.write(step)
    state = "unchanged" if fresh else "wrote"
    console.print(f"{state} {escape(_display(path))}: {len(specs)} kernels "
                  f"({', '.join(s.name for s in specs)}); the fused training step: "
                  f"{escape(_display(step))}")
    return 0
