"""The import graph of the generator package: per module, the sibling modules it imports at the top and those it
imports inside functions (late imports, used to break cycles), the count of late imports, and the import cycles
(strongly connected groups) once late imports count as edges. Imports under ``if TYPE_CHECKING:`` do not count.

    python benchmarks/import_graph.py [REV]      # REV: a git revision (default: the working tree)
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


def sources(rev: str | None) -> dict[str, str]:
    """Module name -> source of every module of strategies/ (but ``__init__``), at ``rev`` or in the working tree."""
    if rev is None:
        paths = [str(p) for p in sorted(Path("strategies").glob("*.py"))]
        def read(path):
            return Path(path).read_text()
    else:
        paths = subprocess.run(["git", "ls-tree", "--name-only", rev, "strategies/"], capture_output=True, text=True,
                               check=True).stdout.split()
        def read(path):
            return subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True).stdout
    return {Path(p).stem: read(p) for p in paths if p.endswith(".py") and not p.endswith("__init__.py")}


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
            if not (isinstance(node, ast.ImportFrom) and node.level == 1) or id(node) in typing_only:
                continue
            kind = "top" if id(node) in top else "late"
            n_late += kind == "late"
            for target in [node.module] if node.module else [a.name for a in node.names]:
                if target in modules and target != m:
                    out[m][kind].add(target)
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
    graph, n_late = edges(sources(argv[0] if argv else None))
    print("function-level relative imports:", n_late)
    print("cycles (strongly connected, size > 1):", cycles({m: e["top"] | e["late"] for m, e in graph.items()}))
    for m in sorted(graph):
        print(f"  {m}: top {sorted(graph[m]['top'])} late {sorted(graph[m]['late'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
