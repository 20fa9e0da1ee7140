"""``jlab codegen``: regenerate the NumPy kernels, check that they are fresh, or show one."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from jacobian_lab.codegen import emit as codegen
from jacobian_lab.codegen.specs import kernel_specs


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def cmd_codegen(args: argparse.Namespace) -> int:
    """``--show NAME``: print one kernel's source; ``--check``: exit 1 if the generated
    module is stale; neither: regenerate it. ``args.output`` (optional) overrides the path.
    """
    path = Path(getattr(args, "output", None) or codegen.GENERATED)
    if getattr(args, "show", None) is not None:
        print(codegen.show(args.show), end="")
        return 0
    console = Console(highlight=False)
    if getattr(args, "check", False):
        if codegen.check(path):
            console.print(f"{escape(_display(path))} is fresh")
            return 0
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]stale:[/] {escape(_display(path))} is not what the kernel specs "
            "generate today — run `jlab codegen` and commit the result"
        )
        return 1
    fresh = codegen.check(path)
    specs = kernel_specs()
    codegen.write(path, specs)
    state = "unchanged" if fresh else "wrote"
    console.print(f"{state} {escape(_display(path))}: {len(specs)} kernels "
                  f"({', '.join(s.name for s in specs)})")
    return 0
