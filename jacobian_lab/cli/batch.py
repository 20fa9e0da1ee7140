"""``jlab verify --batch`` and ``jlab diff --batch FILE.jsonl``: many requests in one process.

One request per line and one JSON answer per line on stdout, in the order read: a teacher
grading a class pays the start-up once.

* verify: ``{"expr": …, "wrt": "W", "shapes": {"W": "n,m"} or ["W=n,m"], "claim": …,
  "id": …}`` → the matrix verdict (``"verdict"``: correct, incorrect or undecided);
* diff: ``{"expr": …, "wrt": "W" or ["W", "b"], "shapes": …, "id": …}`` → what
  ``jlab diff --format json`` prints, with ``"verdict"``: proven, failed or undecided.

Every answer carries ``"schema": 1`` and the request's ``"line"`` (and its ``"id"``). A line
that is not a valid request gets ``"verdict": "error"`` with the reason, and the others go
on. Each request runs within the budget; the file is bounded (:data:`MAX_BYTES`,
:data:`MAX_REQUESTS`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

from jacobian_lab.budget import deadline
from jacobian_lab.cli.calculus import MEMORY_BYTES
from jacobian_lab.core.from_text import verify_claim
from jacobian_lab.errors import BudgetExceeded, FileError, JlabError, UsageError
from jacobian_lab.language.matrix_shapes import Shape, parse_shape, parse_shapes

SCHEMA = 1
MAX_BYTES = 10 << 20  # 10 MB of requests
MAX_REQUESTS = 10_000


def shapes_of(value: Any) -> dict[str, Shape]:
    if isinstance(value, dict):
        return {str(k): parse_shape(str(v)) for k, v in value.items()}
    if isinstance(value, list):
        return parse_shapes([str(v) for v in value])
    raise UsageError("`shapes` must be an object {\"W\": \"n,m\"} or a list [\"W=n,m\"]")


Handler = Callable[[dict[str, Any]], dict[str, Any]]


def fields(request: Any, texts: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(request, dict):
        raise UsageError(f"a request is a JSON object with {', '.join(texts)} and shapes")
    missing = [k for k in texts if not isinstance(request.get(k), str)]
    if missing:
        raise UsageError(f"the request needs the text field(s) {', '.join(missing)}")
    return request


def _judge(request: Any) -> dict[str, Any]:
    r = fields(request, ("expr", "wrt", "claim"))
    return verify_claim(r["expr"], r["wrt"], shapes_of(r.get("shapes", {})),
                        r["claim"]).to_dict()


def _bounded(handle: Handler, request: Any, seconds: float) -> dict[str, Any]:
    try:
        with deadline(seconds, memory=MEMORY_BYTES):
            return handle(request)
    except BudgetExceeded as e:
        why = (f"memory ({e.memory / 2**20:g} MB)" if e.memory else f"budget ({seconds:g} s)")
        return {"verdict": "undecided", "diagnosis": f"{why}: it did not finish"}


def verify_batch(path: str, seconds: float) -> int:
    """Exit 0 when every claim is correct, 1 otherwise; 2 when the file cannot be read."""
    return run_batch(path, seconds, _judge, "correct")


def run_batch(path: str, seconds: float, handle: Handler, success: str) -> int:
    """Answer every request of ``path`` with ``handle`` (within ``seconds`` each): exit 0
    when every answer's verdict is ``success``, 1 otherwise; 2 when the file cannot be read."""
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise FileError(f"{path}: {size:,} bytes; a batch may have at most {MAX_BYTES:,}")
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise FileError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise FileError(f"{path} is not UTF-8 text (one JSON object per line)") from None
    requests = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if len(requests) > MAX_REQUESTS:
        raise FileError(f"{path}: {len(requests):,} requests; a batch may have at most "
                        f"{MAX_REQUESTS:,}")
    all_correct = True
    for n, line in requests:
        out: dict[str, Any] = {"schema": SCHEMA, "line": n}
        try:
            request = json.loads(line)
            if isinstance(request, dict) and "id" in request:
                out["id"] = request["id"]
            out.update(_bounded(handle, request, seconds))
        except json.JSONDecodeError as e:
            out.update(verdict="error", error=f"not JSON: {e.msg} at column {e.colno}")
        except JlabError as e:
            out.update(verdict="error", error=str(e))
        all_correct = all_correct and out["verdict"] == success
        print(json.dumps(out, ensure_ascii=False), flush=True)
    if not requests:
        print(f"{path}: no requests", file=sys.stderr)
    return 0 if all_correct and requests else 1
