"""The import graph of the generator package: per module, the sibling modules it imports at the top and those it
imports inside functions (late imports, used to break cycles), the count of late imports, and the import cycles
(strongly connected groups) once late imports count as edges.

    python benchmarks/import_graph.py [REV]      # REV: a git revision (default: the working tree)
"""
import ast, sys, subprocess
from pathlib import Path
rev = sys.argv[1] if len(sys.argv) > 1 else None
def src(path):
    if rev:
        return subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True).stdout
    return Path(path).read_text()
files = (subprocess.run(["git", "ls-tree", "--name-only", rev, "strategies/"], capture_output=True, text=True).stdout.split()
         if rev else [str(p) for p in sorted(Path("strategies").glob("*.py"))])
mods = {Path(f).stem: f for f in files if f.endswith(".py") and not f.endswith("__init__.py")}
edges = {m: {"top": set(), "late": set()} for m in mods}
for m, f in mods.items():
    tree = ast.parse(src(f))
    top = set(id(n) for n in tree.body)
    typing_only = {id(n) for i in tree.body if isinstance(i, ast.If) and getattr(i.test, "id", "") == "TYPE_CHECKING"
                   for n in ast.walk(i)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and id(node) not in typing_only:
            targets = [node.module] if node.module else [a.name for a in node.names]
            for t in targets:
                if t in mods and t != m:
                    edges[m]["top" if id(node) in top else "late"].add(t)
late = sum(1 for f in mods.values() for node in ast.walk(ast.parse(src(f))) if isinstance(node, ast.ImportFrom) and node.level == 1 and node not in ast.parse(src(f)).body)
# SCCs over all edges
graph = {m: edges[m]["top"] | edges[m]["late"] for m in mods}
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index: visit(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        sccs.append(sorted(c))
for v in mods:
    if v not in index: visit(v)
nlate = 0
for f in mods.values():
    t = ast.parse(src(f)); tops = set(map(id, t.body))
    typing_only = {id(n) for i in t.body if isinstance(i, ast.If) and getattr(i.test, "id", "") == "TYPE_CHECKING"
                   for n in ast.walk(i)}
    nlate += sum(1 for n in ast.walk(t) if isinstance(n, ast.ImportFrom) and n.level == 1 and id(n) not in tops
                 and id(n) not in typing_only)
print("function-level relative imports:", nlate)
print("cycles (strongly connected, size > 1):", [c for c in sccs if len(c) > 1])
for m in sorted(mods):
    print(f"  {m}: top {sorted(edges[m]['top'])} late {sorted(edges[m]['late'])}")
