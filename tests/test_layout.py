"""The harness's layout is a rule, not a habit: which module may import what.

harness/ holds the command lines, the process pool and the pipeline; its sub-packages hold the roles the pipeline
joins (oracle/, warp_side/, jax_backend/, store/). These tests read every module's imports (``ast``, nothing is
imported) and fail on an import that crosses the layering, naming the module and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBPACKAGES = ("oracle", "warp_side", "jax_backend", "store")
ADAPTER = "harness/warp_side/warp_adapter.py"
# top-level harness modules a sub-package may use: the version, the one-line argument parser, the frames parent and
# child processes exchange, the release environments (a command line of its own, and the library the Warp side
# installs other releases with)
SHARED_TOP_LEVEL = {"harness", "harness.cli", "harness.frames", "harness.releases"}


def _imports(path: Path) -> list[str]:
    """Every module (or module.name) ``path`` imports, relative imports resolved, function-level ones included."""
    rel = path.relative_to(ROOT)
    module = ".".join(rel.with_suffix("").parts)
    package = module.removesuffix(".__init__") if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - (node.level - 1)] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found += [f"{base}.{a.name}" for a in node.names]  # a.name: a module or a name in one
    return found


def _modules(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (ROOT / f).rglob("*.py"))


def _top_level(name: str) -> str:
    """``harness.oracle.compare.x`` -> ``harness.oracle``; ``harness.pipeline.run`` -> ``harness.pipeline``."""
    parts = name.split(".")
    if len(parts) >= 2 and parts[1] in SUBPACKAGES:
        return ".".join(parts[:2])
    if len(parts) >= 2 and (ROOT / "harness" / f"{parts[1]}.py").is_file():
        return ".".join(parts[:2])
    return parts[0]


def test_only_the_adapter_imports_warp():
    """Warp's internals change between releases: one module touches them (the guide's rule), checked on every
    module of the generator and the harness."""
    offenders = [f"{p.relative_to(ROOT)}: {name}" for p in _modules("grammar", "strategies", "harness")
                 if str(p.relative_to(ROOT)) != ADAPTER
                 for name in _imports(p) if name == "warp" or name.startswith("warp.")]
    assert not offenders, offenders
    assert any(n.startswith("warp") for n in _imports(ROOT / ADAPTER))  # the rule reads the right file


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_a_subpackage_never_imports_the_pipeline_or_a_command_line(sub):
    """The pipeline is the one place that joins the roles: a sub-package imports its own modules, other
    sub-packages, and of harness's top level only the version, the argument parser and the release environments."""
    offenders = []
    for p in _modules(f"harness/{sub}"):
        for name in _imports(p):
            if not name.startswith("harness"):
                continue
            top = _top_level(name)
            if top.split(".")[-1] not in SUBPACKAGES and top not in SHARED_TOP_LEVEL:
                offenders.append(f"{p.relative_to(ROOT)}: {name}")
    assert not offenders, offenders


def test_the_store_touches_neither_warp_nor_the_oracle():
    """Records are data: writing, deduplicating and grouping them needs no Warp and no reference run."""
    offenders = [f"{p.relative_to(ROOT)}: {name}" for p in _modules("harness/store") for name in _imports(p)
                 if _top_level(name) in ("harness.oracle", "harness.warp_side", "harness.jax_backend")]
    assert not offenders, offenders


def test_the_oracle_reaches_warp_only_through_the_adapter():
    """The oracle computes what outputs should be without Warp; the gradient check launches the backward pass, and
    only through the adapter."""
    offenders = [f"{p.relative_to(ROOT)}: {name}" for p in _modules("harness/oracle") for name in _imports(p)
                 if _top_level(name) == "harness.warp_side" and not name.startswith("harness.warp_side.warp_adapter")]
    assert not offenders, offenders


def test_the_import_reader_sees_relative_and_function_level_imports():
    """The rules above are only as good as the reader: a relative import two levels up inside a function resolves."""
    imports = _imports(ROOT / "harness/jax_backend/oracle.py")
    assert "harness.oracle.conditioning.reference_comparison" in imports  # function-level, two levels up
    assert "harness.oracle.reference.typed_ir" in imports  # module-level, relative
    assert "harness.warp_side.warp_adapter" in _imports(ROOT / "harness/oracle/gradient.py")
    assert "harness.pipeline.verify_batch" in _imports(ROOT / "harness/worker.py")


@pytest.mark.parametrize("package", ["grammar", "strategies", "harness"])
def test_no_package_has_an_import_cycle(package, monkeypatch):
    """benchmarks/import_graph.py's graph (late imports counted as edges): no strongly connected group of modules.
    strategies/ also resolves its recursion without a single function-level import (through its registry)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "benchmarks" / "import_graph.py")
    graph_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(graph_module)
    monkeypatch.chdir(ROOT)
    graph, n_late = graph_module.edges(graph_module.sources(None, package))
    assert len(graph) > 5
    assert graph_module.cycles({m: e["top"] | e["late"] for m, e in graph.items()}) == []
    if package == "strategies":
        assert n_late == 0
    # the reader sees a cycle when there is one
    assert graph_module.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
