"""Module layering of tasklang/ and runtime/, read from their imports (ast, nothing runs):
no import cycle, and no private helper (`_name`) imported from another module.

Every import counts, also one inside a function or under TYPE_CHECKING: a cycle hidden
behind a lazy import is still two modules that cannot be read, tested or moved apart.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("tasklang", "runtime")

# Cycles allowed for now, each with its reason. Keep this short; it only shrinks.
EXEMPT_CYCLES: set[frozenset[str]] = set()


def modules(root: Path = REPO) -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in sorted((root / pkg).glob("*.py")):
            out[pkg if f.stem == "__init__" else f"{pkg}.{f.stem}"] = f
    return out


def imports(name: str, source: str, known: Mapping[str, object]) -> Iterator[tuple[str, str, int]]:
    """(module imported, name imported from it or "", line) for every import in `source`."""
    pkg = name if name in PACKAGES else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, "", node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # no nested packages here: `.` is the module's own package
                base = f"{pkg}.{base}" if base else pkg
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # `from . import ast`: the module itself
                    yield sub, "", node.lineno
                elif base in known:
                    yield base, alias.name, node.lineno


def graph(mods: Mapping[str, Path], root: Path = REPO) -> tuple[dict[str, set[str]], list[str]]:
    """The import graph, and every cross-module import of a private name."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for name, path in mods.items():
        for target, imported, line in imports(name, path.read_text(encoding="utf-8"), mods):
            if target == name:
                continue
            edges[name].add(target)
            if imported.startswith("_") and not imported.startswith("__"):
                private.append(f"{path.relative_to(root)}:{line}: {imported} from {target}")
    return edges, private


def cycles(edges: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_no_import_cycles() -> None:
    edges, _ = graph(modules())
    found = [sorted(c) for c in cycles(edges) if c not in EXEMPT_CYCLES]
    assert not found, f"import cycles: {found}"


def test_the_exempt_cycles_still_exist() -> None:
    """An exemption whose cycle is gone is stale: delete it."""
    edges, _ = graph(modules())
    assert set(cycles(edges)) >= EXEMPT_CYCLES


def test_no_private_names_imported_across_modules() -> None:
    _, private = graph(modules())
    assert not private, "\n".join(private)


def test_the_checker_sees_lazy_and_type_only_imports(tmp_path: Path) -> None:
    """The checks above can fail: a cycle through a function-level or TYPE_CHECKING import,
    and a private import, are found in a small package."""
    pkg = tmp_path / "tasklang"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import _helper\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from .c import C\n")
    (pkg / "c.py").write_text("def f():\n    from . import a\n")
    (tmp_path / "runtime").mkdir()
    edges, private = graph(modules(tmp_path), tmp_path)
    assert cycles(edges) == [frozenset({"tasklang.a", "tasklang.b", "tasklang.c"})]
    assert private == ["tasklang/a.py:1: _helper from tasklang.b"]
