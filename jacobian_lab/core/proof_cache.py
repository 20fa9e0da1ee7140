"""A cache of proof summaries, so that ``jlab list`` does not re-prove the catalog every time.

What is stored: per derivation name, only what ``jlab list`` shows about a proof — ok, method,
max error, the sizes, seconds, the number of results and of claims judged correct — and when
it was proved. Never a result, never an expression: ``jlab derive``, ``jlab report`` and
``jlab check`` always prove.

The key: a SHA-256 over

* the bytes of every ``.py`` file of the ``jacobian_lab`` and ``derivations`` packages, at the
  paths they are imported from (so an editable install sees every edit in the working tree),
  each file preceded by its relative path;
* the versions of Python (implementation and x.y.z), SymPy, mpmath, NumPy and SymEngine
  ("absent" when it is not installed) — the proofs' arithmetic and sampling.

The whole file carries one key; when it differs from the current one (any source edit, any
upgrade) every entry is ignored and the file is rewritten. ``jlab list`` and ``jlab check``
compute the key before they import the proving code, and it is computed again before writing:
a run during which a source file changed caches nothing. A derivation whose builder lives
outside those packages (``jlab derive --file``) is stored with an extra per-entry key, the
SHA-256 of its own file's bytes, and served only while that file is unchanged; a builder
whose file cannot be read is never cached.

Where: ``$JLAB_CACHE_DIR/proofs.json``, else ``$XDG_CACHE_HOME/jacobian_lab/proofs.json``, else
``~/.cache/jacobian_lab/proofs.json`` (the same root as ``jlab data``). ``JLAB_NO_CACHE=1``
turns the cache off. The file is JSON written through a temporary file and ``os.replace``; an
unreadable, corrupt, truncated or foreign file is ignored (and rewritten), and a directory that
cannot be written means no caching, with a one-line :attr:`ProofCache.notice` — never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jacobian_lab import files
from jacobian_lab.errors import FileError
from jacobian_lab.files import atomic_write_bytes

if TYPE_CHECKING:
    from jacobian_lab.core.derivation import Proof

FORMAT = "jacobian_lab proof cache 1"
FILENAME = "proofs.json"
PACKAGES = ("jacobian_lab", "derivations")
VERSIONED = ("sympy", "mpmath", "numpy", "symengine")
_METHODS = frozenset({"symbolic", "sampled", "failed"})


# --------------------------------------------------------------------------- the key


def cache_dir() -> Path:
    """``$JLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/jacobian_lab``, else ``~/.cache/jacobian_lab``
    (:func:`jacobian_lab.files.cache_dir`)."""
    return files.cache_dir()


def disabled_by_env() -> bool:
    """``JLAB_NO_CACHE`` set to anything but empty, 0, false, no or off."""
    return os.environ.get("JLAB_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no",
                                                                       "off")


def package_roots() -> list[Path]:
    """The directories ``jacobian_lab`` and ``derivations`` are imported from."""
    roots: list[Path] = []
    for name in PACKAGES:
        spec = util.find_spec(name)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            roots.append(Path(loc).resolve())
    return roots


def _version(dist: str) -> str:
    # lazy: importlib.metadata (15 ms) only when a key is computed, never for `jlab derive`
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def versions() -> dict[str, str]:
    """The interpreter and library versions that are part of the key."""
    out = {"python": f"{platform.python_implementation()} {platform.python_version()}"}
    out.update({d: _version(d) for d in VERSIONED})
    return out


def source_key(roots: Iterable[Path] | None = None,
               versions_: Mapping[str, str] | None = None) -> str:
    """SHA-256 (hex) of every ``.py`` file under ``roots`` plus ``versions_`` (see above)."""
    digest = hashlib.sha256(FORMAT.encode() + b"\0")
    for root in package_roots() if roots is None else roots:
        digest.update(b"root\0" + root.name.encode() + b"\0")
        for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
            data = path.read_bytes()
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(len(data).to_bytes(8, "big") + data)
    for name, value in sorted((versions() if versions_ is None else versions_).items()):
        digest.update(f"{name}={value}\0".encode())
    return digest.hexdigest()


def builder_salt(builder: Callable[..., Any] | None, roots: Iterable[Path] | None = None
                 ) -> str | None:
    """The per-entry key of a derivation built by ``builder``.

    ``""`` when its source file is inside the packages (already covered by the file's key);
    ``"file:<sha256>"`` of the file's bytes when it lives elsewhere (``--file``); ``None``
    (never cache) when there is no builder or its file cannot be read.
    """
    code = getattr(builder, "__code__", None)
    filename = getattr(code, "co_filename", None)
    if not filename:
        return None
    try:
        path = Path(filename).resolve()
        if any(path.is_relative_to(r) for r in (package_roots() if roots is None else roots)):
            return ""
        return "file:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


# --------------------------------------------------------------------------- one entry


@dataclass(frozen=True)
class ProofSummary:
    """What ``jlab list`` shows about a proof: the fields of :meth:`Proof.to_dict` it needs.

    It has the ``ok`` and ``method`` of a :class:`~jacobian_lab.core.derivation.Proof`, so the
    catalog table renders it like a fresh proof.
    """

    ok: bool
    method: str
    max_error: float
    sizes: tuple[str, ...]
    seconds: float
    results: int
    claims_correct: int
    claims_total: int
    proved_at: float  # time.time() when proved

    @classmethod
    def of(cls, proof: Proof, proved_at: float | None = None) -> ProofSummary:
        """The summary of a fresh proof (the fields of ``proof.to_dict()`` that list shows)."""
        return cls(
            ok=proof.ok, method=proof.method, max_error=float(proof.max_error),
            sizes=tuple(proof.sizes), seconds=round(proof.seconds, 3),
            results=len(proof.results), claims_correct=sum(v.correct for v in proof.claims),
            claims_total=len(proof.claims),
            proved_at=time.time() if proved_at is None else proved_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "method": self.method,
            "max_error": self.max_error,
            "sizes": list(self.sizes), "seconds": self.seconds, "results": self.results,
            "claims_correct": self.claims_correct, "claims_total": self.claims_total,
            "proved_at": self.proved_at,
        }

    @classmethod
    def from_json(cls, d: Any) -> ProofSummary:
        """Parse one stored entry; ``ValueError`` (or ``TypeError``/``KeyError``) if malformed."""
        if not isinstance(d, dict):
            raise ValueError("entry is not an object")
        ok, method = d["ok"], d["method"]
        if not isinstance(ok, bool) or method not in _METHODS or (method == "failed") == ok:
            raise ValueError(f"inconsistent status ok={ok!r} method={method!r}")
        sizes = d["sizes"]
        if not isinstance(sizes, list) or not all(isinstance(s, str) for s in sizes):
            raise ValueError("sizes are not a list of labels")
        counts = [d["results"], d["claims_correct"], d["claims_total"]]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            raise ValueError("counts are not whole numbers")
        if counts[1] > counts[2]:
            raise ValueError("more claims correct than judged")
        max_error, seconds, proved_at = d["max_error"], d["seconds"], d["proved_at"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   for v in (max_error, seconds, proved_at)):
            raise ValueError("max_error, seconds and proved_at must be numbers")
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds {seconds!r} is not a duration")
        if not (math.isfinite(proved_at) and 0 <= proved_at <= time.time() + 86_400):
            raise ValueError(f"proved_at {proved_at!r} is not a time up to now")
        return cls(ok, method, float(max_error), tuple(sizes), float(seconds),
                   counts[0], counts[1], counts[2], float(proved_at))


# --------------------------------------------------------------------------- the file


class ProofCache:
    """The proof-summary file of one key: :meth:`get`, :meth:`put`, then :meth:`save`.

    ``enabled=False`` gives a cache that finds nothing and writes nothing. Problems with the
    file or directory never raise: they turn caching off (or start from empty) and leave a
    one-line :attr:`notice`.
    """

    def __init__(self, directory: Path | None = None, key: str | None = None,
                 enabled: bool = True) -> None:
        self.enabled = enabled
        self.path = (cache_dir() if directory is None else Path(directory)) / FILENAME
        self.notice: str | None = None
        self._entries: dict[str, dict[str, Any]] = {}
        self._put: set[str] = set()
        self._dirty = False
        self.key = ""
        self._rehash = key is None  # a computed key is checked again before writing
        if not enabled:
            return
        try:
            self.key = source_key() if key is None else key
        except OSError as exc:  # a package file vanished mid-read: do not trust any entry
            self._off(f"cannot hash the sources ({exc.strerror or exc})")
            return
        self._load()

    @classmethod
    def open(cls, no_cache: bool = False) -> ProofCache:
        """The cache at the default place, off with ``no_cache`` or ``JLAB_NO_CACHE``."""
        return cls(enabled=not (no_cache or disabled_by_env()))

    def _off(self, why: str, prefix: str = "proof cache off") -> None:
        self.enabled = False
        self._entries = {}
        self.notice = f"{prefix}: {why}"

    def _read(self) -> dict[str, dict[str, Any]] | None:
        """The entries on disk under the current key; None if corrupt, foreign or stale."""
        raw = self.path.read_bytes()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return None
        if (not isinstance(data, dict) or data.get("format") != FORMAT
                or data.get("key") != self.key or not isinstance(data.get("entries"), dict)):
            return None
        return {k: v for k, v in data["entries"].items() if isinstance(v, dict)}

    def _load(self) -> None:
        try:
            entries = self._read()
        except (FileNotFoundError, NotADirectoryError):
            return  # no file yet; save() says if one cannot be made
        except OSError as exc:
            self._off(f"cannot read {self.path} ({exc.strerror or exc})")
            return
        if entries is None:
            self._dirty = True  # corrupt, foreign or stale: ignored, rewritten on save
        else:
            self._entries = entries

    def get(self, name: str, salt: str | None = "") -> ProofSummary | None:
        """The stored summary of ``name`` under ``salt`` (see :func:`builder_salt`), if any."""
        if not self.enabled or salt is None:
            return None
        entry = self._entries.get(name)
        if entry is None or entry.get("salt", "") != salt:
            return None
        try:
            return ProofSummary.from_json(entry.get("proof"))
        except (KeyError, TypeError, ValueError, OverflowError):
            self._entries.pop(name, None)  # a damaged entry: drop it, rewrite the file
            self._put.add(name)
            self._dirty = True
            return None

    def put(self, name: str, summary: ProofSummary, salt: str | None = "") -> None:
        """Remember ``summary`` for ``name`` (written by :meth:`save`); ``salt=None``: don't."""
        if not self.enabled or salt is None:
            return
        self._entries[name] = {"salt": salt, "proof": summary.to_json()}
        self._put.add(name)
        self._dirty = True

    def save(self) -> None:
        """Write the file atomically if anything changed; on failure, caching is off."""
        if not self.enabled or not self._dirty:
            return
        try:
            if self._rehash and source_key() != self.key:
                self._off("the sources changed while proving", "proof cache not written")
                return
        except OSError as exc:
            self._off(f"cannot hash the sources ({exc.strerror or exc})")
            return
        with contextlib.suppress(OSError):  # keep what another jlab wrote since we read
            for name, entry in (self._read() or {}).items():
                if name not in self._put:
                    self._entries.setdefault(name, entry)
        body = json.dumps({"format": FORMAT, "key": self.key, "versions": versions(),
                           "entries": self._entries}, indent=1, sort_keys=True).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.path, body)
            self._dirty = False
        except OSError as exc:
            self._off(f"cannot write {self.path} ({exc.strerror or exc})")
        except FileError as exc:
            self._off(str(exc))
