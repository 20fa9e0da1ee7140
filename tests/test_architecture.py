"""The shape of the code stays what docs/ARCHITECTURE.md says.

* no module outgrows what one person can hold in mind (``MAX_LINES``);
* no import circle between modules, counting imports inside functions too;
* an import inside a function is a deliberate lazy import, marked ``# lazy:`` with the reason
  (keeping ``jlab --help`` or ``import jacobian_lab.kernels`` free of SymPy, an optional
  dependency, …);
* the layers import one way (import-linter's ``layers`` contract in pyproject.toml; the
  contract itself runs in ``make lint``, here it is checked that it is still declared).

Each check is shown to catch a violation on a small synthetic case.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jacobian_lab", "derivations")
MAX_LINES = 500
GENERATED = {Path("jacobian_lab/kernels/_generated.py")}  # printed by `jlab codegen`


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def oversized(files: Mapping[str, Path], limit: int = MAX_LINES) -> list[str]:
    """The modules longer than ``limit`` lines (generated files excepted)."""
    long = []
    for name, path in files.items():
        if path.is_relative_to(ROOT) and path.relative_to(ROOT) in GENERATED:
            continue
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            long.append(f"{name}: {n} lines")
    return long


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: Iterable[str]) -> set[str]:
    """The modules of ours that ``module`` imports, anywhere in its body."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node)
            targets = [f"{target}.{a.name}" for a in node.names] + [target]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != module:
                out.add(t)
    return out


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted.

    A package's ``__init__`` importing its own submodules (re-exports) is not a cycle when
    the submodule does not import the package back.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {m: imports_of(m, p, mods) for m, p in mods.items()}
    # importing a submodule imports its parent packages first; that is not a dependency of
    # the code on the parent, so edges to one's own ancestors are left out
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}


def unmarked_function_imports(source: str) -> list[int]:
    """Lines of imports inside a function or class body without a ``# lazy:`` comment on the
    import or the line above it."""
    tree = ast.parse(source)
    lines = source.splitlines()
    bad: list[int] = []

    def marked(node: ast.stmt) -> bool:
        """The import's own lines, or the comment block above the run of imports it belongs
        to, say "# lazy:"."""
        span = lines[node.lineno - 1: node.end_lineno or node.lineno]
        i = node.lineno - 2
        while i >= 0 and (not lines[i].strip()  # isort's blank line between import groups
                          or lines[i].strip().startswith(("#", "from ", "import ", ")"))
                          or lines[i].strip().endswith(",")):
            span.append(lines[i])
            i -= 1
        return any("# lazy:" in s for s in span)

    def walk(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and inside and not marked(child):
                bad.append(child.lineno)
            walk(child, inside or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda))

    walk(tree, False)
    return bad


# --------------------------------------------------------------------------- the checks


def test_no_module_is_longer_than_500_lines() -> None:
    assert oversized(_modules()) == [], "split these along the layers of docs/ARCHITECTURE.md"


def test_the_length_check_catches_a_long_module(tmp_path: Path) -> None:
    long = tmp_path / "long.py"
    long.write_text("x = 1\n" * (MAX_LINES + 1))
    assert oversized({"long": long}) == [f"long: {MAX_LINES + 1} lines"]


def test_no_import_circle_between_modules() -> None:
    assert cycles(_graph()) == []


def test_the_circle_check_catches_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_counts_imports_inside_functions(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("def f():\n    from pkg.other import g  # lazy: reason\n    return g\n")
    assert imports_of("pkg.m", path, {"pkg.m", "pkg.other"}) == {"pkg.other"}


def test_every_import_inside_a_function_is_a_marked_lazy_import() -> None:
    bad = {name: lines for name, path in _modules().items()
           if (lines := unmarked_function_imports(path.read_text(encoding="utf-8")))}
    assert bad == {}, "mark each with '# lazy: <why>' or move it to the top of the module"


def test_the_lazy_import_check_catches_an_unmarked_one() -> None:
    src = ("import os\n"
           "def f():\n    import json\n    return json\n"
           "def g():\n    # lazy: keeps `jlab --help` free of SymPy\n    import sympy\n"
           "    import mpmath  # one run of imports under the comment\n"
           "    x = 1\n    import numpy\n")
    assert unmarked_function_imports(src) == [3, 10]


def test_the_layers_contract_is_declared_in_order() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"]
                   if c["type"] == "layers"]
    layers = [part.strip() for layer in contract["layers"] for part in layer.split("|")]
    assert layers[0] == "jacobian_lab.cli" and layers[-1] == "jacobian_lab.errors"
    order = ["jacobian_lab.cli", "jacobian_lab.training", "jacobian_lab.codegen",
             "jacobian_lab.printing", "derivations", "jacobian_lab.core", "jacobian_lab.matrix",
             "jacobian_lab.judge", "jacobian_lab.language", "jacobian_lab.errors"]
    assert [x for x in layers if x in order] == order


@pytest.mark.parametrize("package", sorted({m.split(".")[1] for m in _modules()
                                            if m.startswith("jacobian_lab.")
                                            and _modules()[m].name == "__init__.py"
                                            and m.count(".") == 1}))
def test_every_subpackage_is_a_real_package_with_a_docstring(package: str) -> None:
    init = ROOT / "jacobian_lab" / package / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init
