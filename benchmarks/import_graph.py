"""The import graph of a package: per module, the modules of the package it imports at the top and those it imports
inside functions (late imports, used to break cycles or to defer a costly import), the count of late imports, and the
import cycles (strongly connected groups) once late imports count as edges. Imports under ``if TYPE_CHECKING:`` do
not count; relative imports of any level are resolved, so sub-packages (``harness/oracle/``...) are followed.

    python benchmarks/import_graph.py [--package strategies|harness|grammar] [REV]   # REV: a git revision
                                                                                    # (default: the working tree)
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path


def sources(rev: str | None, package: str = "strategies") -> dict[str, str]:
    """Module name (dotted, relative to ``package``: ``oracle.compare``) -> source of every module of the package
    and its sub-packages (but the ``__init__`` files), at ``rev`` or in the working tree."""
    if rev is None:
        paths = [str(p) for p in sorted(Path(package).rglob("*.py"))]
        def read(path):
            return Path(path).read_text()
    else:
        paths = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, f"{package}/"], capture_output=True,
                               text=True, check=True).stdout.split()
        def read(path):
            return subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True).stdout
    return {".".join(Path(p).relative_to(package).with_suffix("").parts): read(p) for p in paths
            if p.endswith(".py") and not p.endswith("__init__.py")}


def _targets(m: str, node: ast.ImportFrom, modules: dict[str, str]) -> list[str]:
    """The modules of the package a relative import in module ``m`` names."""
    base = m.split(".")[:-1]  # m's package, relative to the root package
    if node.level - 1 > len(base):
        return []
    base = base[:len(base) - (node.level - 1)] + (node.module.split(".") if node.module else [])
    prefix = ".".join(base)
    found = []
    for a in node.names:
        full = f"{prefix}.{a.name}" if prefix else a.name
        if full in modules:
            found.append(full)  # ``from . import compare``, ``from .oracle import compare``
        elif prefix in modules:
            found.append(prefix)  # ``from .compare import x``
    return found


def edges(modules: dict[str, str]) -> tuple[dict[str, dict[str, set]], int]:
    """Per module its sibling imports split into ``top`` and ``late``; and the number of late import statements."""
    out = {m: {"top": set(), "late": set()} for m in modules}
    n_late = 0
    for m, source in modules.items():
        tree = ast.parse(source)
        top = {id(n) for n in tree.body}
        typing_only = {id(n) for block in tree.body
                       if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
                       for n in ast.walk(block)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.ImportFrom) and node.level >= 1) or id(node) in typing_only:
                continue
            kind = "top" if id(node) in top else "late"
            targets = [t for t in _targets(m, node, modules) if t != m]
            n_late += kind == "late" and bool(targets)
            out[m][kind].update(targets)
    return out, n_late


def cycles(graph: dict[str, set]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return [g for g in found if len(g) > 1]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/import_graph.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--package", default="strategies", help="the package folder to read (default: strategies)")
    p.add_argument("rev", nargs="?", default=None, help="a git revision (default: the working tree)")
    args = p.parse_args(argv)
    graph, n_late = edges(sources(args.rev, args.package))
    print("function-level relative imports:", n_late)
    print("cycles (strongly connected, size > 1):", cycles({m: e["top"] | e["late"] for m, e in graph.items()}))
    for m in sorted(graph):
        print(f"  {m}: top {sorted(graph[m]['top'])} late {sorted(graph[m]['late'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
