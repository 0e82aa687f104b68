"""What a corpus holds: counts per category, builtin, type and statement kind, record sizes, gradient statuses and
near-duplicate structure, as a table and as PNG plots.

``python -m harness.stats DIR [--png OUT] [--json]`` reads a corpus directory (JSONL shards); the plots need
matplotlib and the near-duplicate figures datasketch (``pip install -e ".[dataset]"``; without datasketch they are
left out and said so). ``harness.export`` writes the same plots next to the Parquet shards and embeds them in the
dataset card.

Counts come from the records' Python source parsed with :mod:`ast` (the kernels' own text, not the generator's
intent): a *builtin* is a call ``wp.<name>(...)`` or an operator (``+`` is ``add``, ``<`` is ``lt``...); a *type*
is a ``wp.<type>`` named in an annotation, a constructor or a cast; a *statement kind* is the Python statement
class (``if``, ``for``, ``while``, ``assign``, ``augassign``, ``return``...). Each counts the records using it at
least once.
"""

from __future__ import annotations

import ast
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .cli import OneLineParser
from .store.corpus import code_bytes

__all__ = ["CorpusStats", "corpus_stats", "kernel_features", "main", "plot"]

_OPERATORS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv", ast.Mod: "mod",
    ast.Pow: "pow", ast.LShift: "lshift", ast.RShift: "rshift", ast.BitAnd: "bit_and", ast.BitOr: "bit_or",
    ast.BitXor: "bit_xor", ast.MatMult: "matmul", ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert",
    ast.Not: "not", ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge",
    ast.And: "and", ast.Or: "or",
}
_TYPE_NAMES = frozenset(
    ["bool", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
     "uint64", "array", "struct"]
    + [f"{p}{n}{s}" for p in ("vec", "mat") for n in ("2", "3", "4", "22", "33", "44") for s in ("", "h", "f", "d")
       if (p == "vec") == (len(n) == 1)]
    + [f"{p}{s}" for p in ("quat", "transform", "spatial_vector", "spatial_matrix") for s in ("", "h", "f", "d")])
_STATEMENTS = {
    ast.If: "if", ast.For: "for", ast.While: "while", ast.Assign: "assign", ast.AugAssign: "augassign",
    ast.AnnAssign: "annassign", ast.Return: "return", ast.Break: "break", ast.Continue: "continue",
    ast.Expr: "call-statement", ast.Pass: "pass",
}
#: size histogram bins (kB of generated code per record: the four C++/CUDA functions)
SIZE_BINS_KB = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, math.inf)


def kernel_features(python_source: str) -> dict[str, set[str]]:
    """The builtins, types and statement kinds a record's Python source uses (each once)."""
    tree = ast.parse(python_source)
    builtins: set[str] = set()
    types: set[str] = set()
    statements: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                name = deco.attr if isinstance(deco, ast.Attribute) else getattr(deco, "id", "")
                if name == "struct":
                    types.add("struct")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "wp":
            if node.attr in _TYPE_NAMES:
                types.add(node.attr)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(
                node.func.value, ast.Name) and node.func.value.id == "wp" and node.func.attr not in _TYPE_NAMES \
                and node.func.attr not in ("kernel", "func", "struct", "tid"):
            builtins.add(node.func.attr)
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.AugAssign)):
            name = _OPERATORS.get(type(node.op))
            if name:
                builtins.add(name)
        elif isinstance(node, ast.BoolOp):
            builtins.add(_OPERATORS[type(node.op)])
        elif isinstance(node, ast.Compare):
            builtins.update(_OPERATORS[type(op)] for op in node.ops if type(op) in _OPERATORS)
        if isinstance(node, ast.stmt) and type(node) in _STATEMENTS:
            statements.add(_STATEMENTS[type(node)])
    return {"builtins": builtins, "types": types, "statements": statements}


@dataclass
class CorpusStats:
    records: int = 0
    total_bytes: int = 0
    categories: Counter = field(default_factory=Counter)
    builtins: Counter = field(default_factory=Counter)
    types: Counter = field(default_factory=Counter)
    statements: Counter = field(default_factory=Counter)
    gradient_status: Counter = field(default_factory=Counter)
    code_kb: list = field(default_factory=list)  # per record: kB of the four generated functions
    warp_versions: Counter = field(default_factory=Counter)
    generator_versions: Counter = field(default_factory=Counter)
    jax_sections: int = 0
    near_duplicates: dict | None = None  # harness.store.neardup figures, when datasketch is installed

    def size_histogram(self) -> list[tuple[str, int]]:
        out, lo = [], 0
        for hi in SIZE_BINS_KB:
            label = f"{lo}-{hi} kB" if hi != math.inf else f">= {lo} kB"
            out.append((label, sum(1 for s in self.code_kb if lo <= s < hi)))
            lo = hi
        return out

    def summary(self) -> dict:
        sizes = sorted(self.code_kb)

        def pct(p):
            return round(sizes[min(len(sizes) - 1, int(p * len(sizes)))], 1) if sizes else 0

        return {
            "records": self.records,
            "total_mb": round(self.total_bytes / 1e6, 3),
            "warp_versions": dict(self.warp_versions),
            "generator_versions": dict(self.generator_versions),
            "jax_sections": self.jax_sections,
            "code_kb": {"median": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": round(sizes[-1], 1) if sizes else 0},
            "size_histogram": dict(self.size_histogram()),
            "gradient_status": dict(self.gradient_status.most_common()),
            "categories": dict(self.categories.most_common()),
            "builtins": dict(self.builtins.most_common()),
            "types": dict(self.types.most_common()),
            "statements": dict(self.statements.most_common()),
            "near_duplicates": self.near_duplicates,
        }


def corpus_stats(records: Iterable[dict], groups=None) -> CorpusStats:
    """The statistics of ``records``; ``groups`` (a :class:`harness.store.neardup.Groups` of the same records, in
    order) adds the near-duplicate figures."""
    s = CorpusStats()
    for r in records:
        s.records += 1
        s.total_bytes += len(json.dumps(r, ensure_ascii=False).encode()) + 1
        s.categories.update(r.get("categories", []))
        try:
            f = kernel_features(r["python_source"])
        except SyntaxError:
            f = {"builtins": set(), "types": set(), "statements": set()}
        s.builtins.update(f["builtins"])
        s.types.update(f["types"])
        s.statements.update(f["statements"])
        s.gradient_status[r.get("verification", {}).get("gradient_status", "unknown")] += 1
        s.code_kb.append(code_bytes(r) / 1000)
        s.warp_versions[r.get("warp_version", "")] += 1
        s.generator_versions[r.get("generator_version", "")] += 1
        s.jax_sections += "jax" in r
    if groups is not None:
        s.near_duplicates = {
            "shapes": groups.n_shapes,
            "clusters": groups.n_clusters,
            "records_with_a_near_duplicate": round(groups.near_duplicate_share(), 4),
            "records_sharing_a_shape": round(_shared_share(groups.shape_ids), 4),
            "split_sizes": groups.split_sizes(),
        }
    return s


def _shared_share(keys) -> float:
    c = Counter(keys)
    return sum(1 for k in keys if c[k] > 1) / len(keys) if keys else 0.0


#: the plots :func:`plot` writes, file name -> title
PLOTS = {
    "categories.png": "Records per category",
    "builtins.png": "Records using each builtin or operator (top 40)",
    "types.png": "Records using each type",
    "statements.png": "Records using each statement kind",
    "code_size.png": "Generated code per record (four C++/CUDA functions)",
    "gradient_status.png": "Gradient check status",
}


def plot(stats: CorpusStats, out_dir: str | Path) -> list[Path]:
    """Write the PNG plots of :data:`PLOTS` into ``out_dir``; returns their paths. Needs matplotlib."""
    try:
        import matplotlib
    except ImportError as e:
        raise ImportError('plots need matplotlib: pip install -e ".[dataset]"') from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []

    def bars(name, items, horizontal=True):
        items = list(items)
        fig, ax = plt.subplots(figsize=(8, max(2.5, 0.22 * len(items) + 1)) if horizontal else (8, 4))
        labels = [str(k) for k, _ in items]
        values = [v for _, v in items]
        if horizontal:
            ax.barh(labels[::-1], values[::-1], color="#4c72b0")
            ax.set_xlabel("records")
            ax.tick_params(axis="y", labelsize=8)
        else:
            ax.bar(labels, values, color="#4c72b0")
            ax.set_ylabel("records")
            ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.set_title(f"{PLOTS[name]} — {stats.records} records")
        fig.tight_layout()
        path = out_dir / name
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)

    bars("categories.png", stats.categories.most_common())
    bars("builtins.png", stats.builtins.most_common(40))
    bars("types.png", stats.types.most_common())
    bars("statements.png", stats.statements.most_common())
    bars("code_size.png", stats.size_histogram(), horizontal=False)
    bars("gradient_status.png", stats.gradient_status.most_common())
    return paths


def format_table(s: dict) -> str:
    lines = [f"{s['records']} records, {s['total_mb']} MB; Warp {s['warp_versions']}; generator "
             f"{s['generator_versions']}; JAX sections {s['jax_sections']}",
             f"generated code per record (kB): median {s['code_kb']['median']}, p90 {s['code_kb']['p90']}, "
             f"p99 {s['code_kb']['p99']}, max {s['code_kb']['max']}"]
    if s["near_duplicates"]:
        n = s["near_duplicates"]
        lines.append(f"near duplicates: {n['clusters']} clusters, {n['shapes']} shapes; "
                     f"{100 * n['records_with_a_near_duplicate']:.1f} % of records have a near duplicate, "
                     f"{100 * n['records_sharing_a_shape']:.1f} % share their shape (differ only in constants); "
                     f"splits {n['split_sizes']}")
    for key in ("gradient_status", "categories", "statements", "types", "builtins", "size_histogram"):
        items = list(s[key].items())
        shown = ", ".join(f"{k} {v}" for k, v in items[:60])
        lines.append(f"{key}: {shown}" + (f" (+{len(items) - 60} more)" if len(items) > 60 else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from .store.corpus import CorpusError, read_records

    p = OneLineParser(prog="python -m harness.stats", description="Statistics and plots of a corpus directory.")
    p.add_argument("dir", help="corpus directory (JSONL shards)")
    p.add_argument("--png", metavar="OUT", help="write PNG plots into this directory (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--no-near-duplicates", action="store_true",
                   help="skip the near-duplicate clustering (datasketch)")
    args = p.parse_args(argv)
    t0 = time.monotonic()
    try:
        records = list(read_records(args.dir))
    except CorpusError as e:
        p.error(str(e))
    groups = None
    if not args.no_near_duplicates:
        try:
            from .store.neardup import group

            groups = group([r["id"] for r in records], [r["python_source"] for r in records])
        except ImportError as e:
            print(f"harness.stats: near-duplicate figures left out ({e})", file=sys.stderr)
    stats = corpus_stats(records, groups)
    s = stats.summary()
    print(json.dumps(s, indent=1) if args.json else format_table(s))
    if args.png:
        try:
            paths = plot(stats, args.png)
        except ImportError as e:
            p.error(str(e))
        print(f"harness.stats: {len(paths)} plots in {args.png} ({time.monotonic() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
