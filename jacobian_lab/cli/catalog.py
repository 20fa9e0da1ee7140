"""``jlab list | derive | check``: the derivation catalog on the command line.

SymPy and the derivation core are imported inside the commands, after ``list`` and ``check``
have hashed the sources for the proof cache (:mod:`jacobian_lab.core.proof_cache`): the key then
describes the code that is about to be imported, not a file edited after it was.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

import derivations
from jacobian_lab.budget import deadline
from jacobian_lab.core import parallel
from jacobian_lab.errors import BudgetExceeded, ShapeError
from jacobian_lab.printing.render import latex_section as _latex_section
from jacobian_lab.printing.render import markdown, render_check, render_list, render_rich, to_json

if TYPE_CHECKING:
    from jacobian_lab.core.derivation import Derivation, Proof
    from jacobian_lab.core.proof_cache import ProofCache, ProofSummary

MAX_SIZE = 8


def _catalog() -> Any:
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


def _pc() -> Any:
    """The proof-cache module."""
    # lazy: the proof cache (hashlib, platform, atomic files: 9 ms) only for list and check
    from jacobian_lab.core import proof_cache

    return proof_cache


def _salt(cat: Any, name: str) -> str | None:
    """The cache's per-entry key of ``name``: "" for the packaged catalog, the file's hash for
    a derivation loaded with ``--file``, None (never cached) when its origin is unknown."""
    return _pc().builder_salt(getattr(cat, "_REGISTRY", {}).get(name))


def _prove_within(d: Derivation, args: argparse.Namespace) -> Proof:
    """Prove one derivation within ``--budget`` seconds; past it, a one-line error."""
    # lazy: the proof machinery (judge, matrix layer) loads only when something is proved;
    # a `jlab list` served from the proof cache skips it
    from jacobian_lab.core.proof import prove

    seconds = getattr(args, "budget", math.inf)
    try:
        with deadline(seconds):
            return prove(d)
    except BudgetExceeded:
        raise BudgetExceeded(seconds, f"proving `{d.name}`",
                             "give each proof more time with --budget SECONDS") from None


def _cache_notice(cache: ProofCache) -> None:
    if cache.notice:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[dim]note: {escape(cache.notice)}[/]"
        )


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


# Fewer proofs than this are proved in this process: forking workers would cost more than the
# parallel proofs save (a cheap entry proves in well under a second).
PARALLEL_MIN = 4


def _cores() -> int:
    """The cores this process may run on (its affinity), at least 1."""
    return parallel.cores()


def _idle_cores() -> int:
    """The cores no other work is using now (see :func:`jacobian_lab.core.parallel.idle_cores`)."""
    return parallel.idle_cores(_cores())


def _prove_summary(name: str) -> ProofSummary:
    """Prove the catalog's ``name`` and summarise it (run in a worker process)."""
    from jacobian_lab.core.proof import prove  # lazy: as in _prove_within

    return _pc().ProofSummary.of(prove(_catalog().get(name)))


def _prove_all(names: list[str], status: Any) -> Iterator[tuple[str, ProofSummary]]:
    """Prove ``names``, yielding each (name, summary) as it is done: in parallel processes
    (one per idle core, at most one per name) when there are at least PARALLEL_MIN, else
    here. ``status`` (a rich Status) shows the progress on a terminal."""
    workers = min(_idle_cores(), len(names))
    if workers < 2 or len(names) < PARALLEL_MIN or not parallel.fork_safe():
        for i, name in enumerate(names, 1):
            status.update(f"proving {name} ({i}/{len(names)})…")
            yield name, _prove_summary(name)
        return
    # lazy: worker processes only for a catalog to prove (20 ms of imports `derive` skips)
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # The catalog's heavy entries come last in the notes: submitted first, they do not
    # leave one worker alone at the end.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_prove_summary, n): n for n in reversed(names)}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                name = futures[future]
                status.update(f"proving the catalog in {workers} processes: {done}/"
                              f"{len(names)} done ({name})…")
                yield name, future.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def cmd_list(args: argparse.Namespace) -> int:
    check = not args.no_check
    cache = _pc().ProofCache.open(no_cache=getattr(args, "no_cache", False) or not check)
    cat = _catalog()
    names = cat.names()
    console = Console(highlight=False)
    statuses: dict[str, ProofSummary | None] = dict.fromkeys(names)
    cached: list[ProofSummary] = []
    todo: list[str] = []
    for name in names if check else ():
        hit = cache.get(name, _salt(cat, name))
        if hit is None:
            todo.append(name)
        else:
            cached.append(hit)
            statuses[name] = hit
    try:
        with console.status("proving the catalog…") as status:
            for name, summary in _prove_all(todo, status):
                cache.put(name, summary, _salt(cat, name))
                statuses[name] = summary
    finally:
        cache.save()  # an interrupted run keeps what it proved
    rows: list[tuple[Derivation, ProofSummary | None]] = [(cat.get(n), statuses[n])
                                                          for n in names]
    render_list(rows, console)  # a Proof or a cached ProofSummary: both are a ProofStatus
    if cached:
        some = "statuses" if len(cached) == len(rows) else f"{len(cached)} of {len(rows)} statuses"
        since = _when(min(c.proved_at for c in cached))
        console.print(
            f"[dim]{some} from the proof cache of {since} ({escape(str(cache.path))}); "
            "`jlab check` re-proves[/]",
            soft_wrap=True,  # one line: the path stays whole for copying
        )
    elif check and cache.enabled:
        console.print(f"[dim]proved now; cached in {escape(str(cache.path))}[/]", soft_wrap=True)
    _cache_notice(cache)
    return 0 if all(p is None or p.ok for _, p in rows) else 1


def cmd_derive(args: argparse.Namespace) -> int:
    from jacobian_lab.core.proof import prove  # lazy: as in _prove_within

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
    else:  # emoji=False: a formula's ":x:" stays text (and rich's emoji table stays unloaded)
        render_rich(d, Console(highlight=False, emoji=False), steps=not args.no_steps)
    return 0 if proof.ok else 1


def _check_parallel(cat: Any, names: list[str], args: argparse.Namespace, workers: int,
                    status: Any) -> list[tuple[Derivation, Proof]]:
    """Every check of every derivation in one pool of ``workers`` processes (the biggest
    first), each derivation's checks of one size within ``--budget``."""
    from jacobian_lab.core.proof import prove_many  # lazy: as in _prove_within

    derivs = [cat.get(name) for name in names]
    status.update(f"proving {len(derivs)} derivations in {workers} processes…")
    proofs = prove_many(derivs, workers, getattr(args, "budget", math.inf))
    return list(zip(derivs, proofs, strict=True))


def cmd_check(args: argparse.Namespace) -> int:
    cache = _pc().ProofCache.open()  # check always proves; it refreshes what list will show

    cat = _catalog()
    names = args.names or cat.names()
    console = Console(highlight=False, stderr=args.json)
    rows: list[tuple[Derivation, Proof]] = []
    workers = min(_idle_cores(), len(names))
    try:
        with console.status("proving…") as status:
            if workers >= 2 and len(names) >= PARALLEL_MIN:
                rows = _check_parallel(cat, names, args, workers, status)
                for d, proof in rows:
                    cache.put(d.name, _pc().ProofSummary.of(proof), _salt(cat, d.name))
            for name in names if not rows else ():
                status.update(f"proving {name}…")
                d = cat.get(name)
                proof = _prove_within(d, args)
                cache.put(name, _pc().ProofSummary.of(proof), _salt(cat, name))
                rows.append((d, proof))
    finally:
        cache.save()
    _cache_notice(cache)
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

    cat = _catalog()
    if args.all == bool(args.names):
        raise ShapeError("Give derivation names or --all (not both)")
    # lazy: the report writer (atomic files, tempfile, secrets) only for `jlab report`
    from jacobian_lab.printing.report import check_output, write_report

    check_output(args.output)  # before the proofs: a path that cannot be written fails now
    names = cat.names() if args.all else args.names
    console = Console(highlight=False, stderr=True)
    t0 = time.perf_counter()
    derivs = []
    with console.status("proving…") as status:
        for name in names:
            status.update(f"proving {name}…")
            d = cat.get(name)
            _prove_within(d, args)
            derivs.append(d)
        status.update(f"writing {args.output}…")
        out = write_report(derivs, args.output)
    count = f"{len(derivs)} derivation{'' if len(derivs) == 1 else 's'}"
    # one line: the path stays whole for copying
    console.print(f"wrote {out} ({count}, {time.perf_counter() - t0:.1f} s)", soft_wrap=True)
    return 0 if all(d.proof and d.proof.ok for d in derivs) else 1
