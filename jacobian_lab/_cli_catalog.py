"""``jlab list | derive | check``: the derivation catalog on the command line."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from .derivation import Derivation, Proof, prove
from .errors import ShapeError
from .render import latex_section as _latex_section
from .render import markdown, render_check, render_list, render_rich, to_json

MAX_SIZE = 8


def _catalog() -> Any:
    import derivations

    return derivations


def _sizes(d: Derivation, spec: str | None) -> list[dict] | None:
    if not spec:
        return None
    try:
        values = [int(v) for v in spec.replace(" ", "").split(",") if v]
    except ValueError:
        raise ShapeError(f"--sizes takes whole numbers like 1,2,3, not {spec!r}") from None
    if not values or any(not 1 <= v <= MAX_SIZE for v in values):
        raise ShapeError(f"--sizes must be between 1 and {MAX_SIZE} (got {spec!r})")
    dims = sorted({k for s in d.sizes for k in s}, key=str)
    if not dims:
        return None  # a component-level derivation has no sizes to choose
    return [dict.fromkeys(dims, v) for v in values]


def cmd_list(args: argparse.Namespace) -> int:
    cat = _catalog()
    console = Console(highlight=False)
    rows: list[tuple[Derivation, Proof | None]] = []
    with console.status("proving the catalog…"):
        for name in cat.names():
            d = cat.get(name)
            rows.append((d, None if args.no_check else prove(d)))
    render_list(rows, console)
    return 0 if all(p is None or p.ok for _, p in rows) else 1


def cmd_derive(args: argparse.Namespace) -> int:
    cat = _catalog()
    if args.file:
        added = cat.load_file(args.file)
        if not args.name:
            args.name = added[0]
    if not args.name:
        raise ShapeError("Name a derivation (see `jlab list`) or give --file")
    d = cat.get(args.name)
    proof = prove(d, _sizes(d, args.sizes))
    if args.format == "json":
        print(json.dumps(to_json(d), indent=2, ensure_ascii=False))
    elif args.format == "latex":
        print(_latex_section(d, steps=not args.no_steps))
    elif args.format == "markdown":
        print(markdown(d, steps=not args.no_steps))
    else:
        render_rich(d, Console(highlight=False), steps=not args.no_steps)
    return 0 if proof.ok else 1


def cmd_check(args: argparse.Namespace) -> int:
    cat = _catalog()
    names = args.names or cat.names()
    console = Console(highlight=False, stderr=args.json)
    rows: list[tuple[Derivation, Proof]] = []
    with console.status("proving…") as status:
        for name in names:
            status.update(f"proving {name}…")
            d = cat.get(name)
            rows.append((d, prove(d)))
    ok = all(p.ok for _, p in rows)
    if args.json:
        print(
            json.dumps(
                {"ok": ok, "derivations": {d.name: p.to_dict() for d, p in rows}},
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        render_check(rows, console)
        failed = [d.name for d, p in rows if not p.ok]
        console.print("[green]all proofs pass[/]" if ok else f"[red]FAILED: {', '.join(failed)}[/]")
    return 0 if ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    import time

    from .report import write_report

    cat = _catalog()
    if args.all == bool(args.names):
        raise ShapeError("Give derivation names or --all (not both)")
    names = cat.names() if args.all else args.names
    console = Console(highlight=False, stderr=True)
    t0 = time.perf_counter()
    derivs = []
    with console.status("proving…") as status:
        for name in names:
            status.update(f"proving {name}…")
            d = cat.get(name)
            prove(d)
            derivs.append(d)
        status.update(f"writing {args.output}…")
        out = write_report(derivs, args.output)
    console.print(f"wrote {out} ({len(derivs)} derivations, {time.perf_counter() - t0:.1f} s)")
    return 0 if all(d.proof and d.proof.ok for d in derivs) else 1
