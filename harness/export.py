"""Export a corpus as a dataset people load directly: Parquet shards per split plus a dataset card.

``python -m harness.export DIR --format parquet [--out OUT] [--keep all|cluster|shape] [--max-shard-mb 500]``
reads the JSONL shards of corpus directory ``DIR`` and writes::

    OUT/README.md                                  the dataset card (YAML ``configs: data_files:`` + text)
    OUT/data/train-00000-of-00002.parquet ...      one set of shards per split, each <= --max-shard-mb
    OUT/data/validation-00000-of-00001.parquet
    OUT/data/test-00000-of-00001.parquet
    OUT/plots/*.png                                the plots of harness.stats (with matplotlib)

``datasets.load_dataset(OUT)`` reads the splits the card names; ``pandas.read_parquet(OUT + "/data")`` or
``pyarrow.parquet.read_table`` read the shards with typed columns. Every record of the corpus becomes one row with
its fields as columns (``verification`` and ``jax`` are struct columns; the ``jax`` section's ``arguments``,
nested lists of mixed types, and the ``tests`` section are JSON strings), plus ``shape_id``, ``cluster_id`` and ``split``
(:mod:`harness.store.neardup`: near-duplicate clusters never cross splits) and ``code_bytes`` (the four generated
functions' UTF-8 bytes). ``--keep cluster`` (or ``shape``) keeps one record per near-duplicate cluster (or per
shape), the one with the smallest id.

Needs the ``dataset`` extra: ``pip install -e ".[dataset]"`` (pyarrow, datasketch, matplotlib).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from . import GENERATOR_VERSION
from .cli import OneLineParser
from .stats import PLOTS, corpus_stats, plot
from .store.corpus import MANIFEST_NAME, RECORD_FIELDS, SCHEMA_VERSION, CorpusError, code_bytes, read_records
from .store.neardup import NUM_PERM, SHINGLE, SPLIT_FRACTIONS, THRESHOLD, group, keep_one

__all__ = ["arrow_schema", "arrow_table", "dataset_card", "export", "main"]

#: columns added to the record fields
GROUP_COLUMNS = ("shape_id", "cluster_id", "split", "code_bytes")
#: fields stored as JSON text: the jax section's arguments (nested lists of mixed types) and the tests section
#: (inputs and outputs keyed by parameter name: a struct column would hold every name of every kernel)
JSON_FIELDS = frozenset({"arguments", "tests"})


def _arrow_type(values: list, pa, name: str = ""):
    """One Arrow type for a column's values (None: missing): bool, int64, float64, string, list<string>, a struct
    of the same inference for dicts; anything else (nested or mixed lists) is JSON text."""
    present = [v for v in values if v is not None]
    if name in JSON_FIELDS:
        return pa.string()
    if not present:
        return pa.string()
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.float64()
    if all(isinstance(v, str) for v in present):
        return pa.string()
    if all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in present):
        return pa.list_(pa.string())
    if all(isinstance(v, dict) for v in present):
        keys: list[str] = []
        for v in present:
            keys += [k for k in v if k not in keys]
        return pa.struct([pa.field(k, _arrow_type([v.get(k) for v in present], pa, k)) for k in keys])
    return pa.string()  # JSON text


def _convert(value, arrow_type, pa):
    """``value`` shaped for ``arrow_type`` (JSON text where the type is a string but the value is not)."""
    if value is None:
        return None
    if pa.types.is_struct(arrow_type):
        return {f.name: _convert(value.get(f.name), f.type, pa) for f in arrow_type}
    if pa.types.is_string(arrow_type) and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if pa.types.is_floating(arrow_type):
        return float(value)
    return value


def arrow_schema(rows: list[dict]):
    """One Arrow schema for all the rows (records plus group columns): the record fields in the corpus schema's
    order, then any other field, then the group columns; every shard of an export is written with it."""
    import pyarrow as pa

    names: list[str] = [f for f in RECORD_FIELDS]
    for r in rows:
        names += [k for k in r if k not in names and k not in GROUP_COLUMNS]
    names += list(GROUP_COLUMNS)
    return pa.schema([pa.field(n, _arrow_type([r.get(n) for r in rows], pa, n)) for n in names])


def arrow_table(rows: list[dict], schema=None):
    """The rows as one ``pyarrow.Table`` of ``schema`` (default: :func:`arrow_schema` of the rows)."""
    import pyarrow as pa

    schema = arrow_schema(rows) if schema is None else schema
    columns = [pa.array([_convert(r.get(f.name), f.type, pa) for r in rows], type=f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _shards(rows: list[dict], max_bytes: int) -> list[list[dict]]:
    """Consecutive runs of rows whose JSON size stays within ``max_bytes`` (a larger row is a shard alone)."""
    out: list[list[dict]] = [[]]
    size = 0
    for r in rows:
        n = len(json.dumps(r, ensure_ascii=False).encode())
        if out[-1] and size + n > max_bytes:
            out.append([])
            size = 0
        out[-1].append(r)
        size += n
    return out if out[0] else []


def export(corpus_dir: str | Path, out: str | Path, keep: str = "all", max_shard_mb: float = 500,
           plots: bool = True, log=print) -> dict:
    """Write the Parquet export of ``corpus_dir`` into ``out`` (replacing its ``data/`` and ``plots/``); returns
    a summary (counts per split, clusters, shapes, files)."""
    import pyarrow.parquet as pq

    t0 = time.monotonic()
    out = Path(out)
    records = list(read_records(corpus_dir))
    if not records:
        raise CorpusError(f"no records in {corpus_dir}")
    log(f"[export] {len(records)} records read; grouping near duplicates (MinHash, {NUM_PERM} permutations)")
    groups = group([r["id"] for r in records], [r["python_source"] for r in records],
                   progress=lambda n: log(f"[export] {n}/{len(records)} records hashed"))
    n_all = len(records)
    if keep != "all":
        keys = groups.cluster_ids if keep == "cluster" else groups.shape_ids
        chosen = keep_one([r["id"] for r in records], keys)
    else:
        chosen = list(range(n_all))
    rows = []
    for i in chosen:
        r = dict(records[i])
        r.update(shape_id=groups.shape_ids[i], cluster_id=groups.cluster_ids[i], split=groups.splits[i],
                 code_bytes=code_bytes(r))
        rows.append(r)
    stats = corpus_stats((records[i] for i in chosen), None)
    data = out / "data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    files: dict[str, list[str]] = {}
    schema = arrow_schema(rows)
    for split, _ in SPLIT_FRACTIONS:
        part = [r for r in rows if r["split"] == split]
        shards = _shards(part, int(max_shard_mb * 1e6))
        for j, shard in enumerate(shards):
            name = f"{split}-{j:05d}-of-{len(shards):05d}.parquet"
            pq.write_table(arrow_table(shard, schema), data / name, compression="zstd")
            files.setdefault(split, []).append(name)
    split_sizes = Counter(r["split"] for r in rows)
    plot_files: list[str] = []
    if plots:
        try:
            plot_files = [p.name for p in plot(stats, out / "plots")]
        except ImportError as e:
            log(f"[export] plots left out ({e})")
    try:
        schema = json.loads((Path(corpus_dir) / MANIFEST_NAME).read_text()).get("schema_version", "unknown")
    except (OSError, ValueError):
        schema = "unknown (no manifest)"
    summary = {
        "schema_version": schema,
        "records_in_corpus": n_all,
        "records": len(rows),
        "keep": keep,
        "splits": {s: split_sizes.get(s, 0) for s, _ in SPLIT_FRACTIONS},
        "files": files,
        "clusters": groups.n_clusters,
        "shapes": groups.n_shapes,
        "near_duplicate_share": round(groups.near_duplicate_share(), 4),
        "plots": plot_files,
        "seconds": round(time.monotonic() - t0, 1),
    }
    (out / "README.md").write_text(dataset_card(summary, stats), encoding="utf-8")
    return summary


def dataset_card(summary: dict, stats) -> str:
    """The dataset card: YAML front matter naming the splits' files, then what the records are and how they were
    made and checked."""
    s = stats.summary()
    lines = ["---", "license: apache-2.0", "pretty_name: \"warpsmith: verified NVIDIA Warp kernels with their generated C++/CUDA\"",
             "language:", "- code", "tags:", "- code", "- nvidia-warp", "- cuda", "- compiler", "- automatic-differentiation",
             "task_categories:", "- text-generation", "size_categories:", f"- {_size_category(summary['records'])}",
             "configs:", "- config_name: default", "  data_files:"]
    for split, names in summary["files"].items():
        lines += [f"  - split: {split}", f"    path: data/{split}-*.parquet"]
    lines += ["---", ""]
    versions = ", ".join(f"{k} ({v})" for k, v in s["warp_versions"].items())
    gens = ", ".join(f"{k} ({v})" for k, v in s["generator_versions"].items())
    lines += [
        "# warpsmith: verified NVIDIA Warp kernels paired with their generated C++ and CUDA",
        "",
        f"{summary['records']} records (of {summary['records_in_corpus']} in the corpus; kept: {summary['keep']}). "
        "Each record is a Warp kernel (Python) generated from a typed grammar, valid by construction (well-typed, free "
        "of undefined behaviour), **run** on the CPU with Warp and **checked** against an independent numpy "
        "reference computed from the same source, its backward pass checked against derivatives of that reference "
        "where it is differentiable, its CUDA code compiled with NVRTC; paired with the forward and backward (adjoint) "
        "functions Warp generates for the CPU (C++) and for CUDA.",
        "",
        f"Warp versions: {versions}. warpsmith generator versions: {gens}. Exported by warpsmith "
        f"{GENERATOR_VERSION} from a corpus of record schema {summary['schema_version']} (current: {SCHEMA_VERSION}).",
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("path/to/this/directory")   # DatasetDict: ' + ", ".join(summary["files"]),
        "import pandas",
        'df = pandas.read_parquet("path/to/this/directory/data")',
        "```",
        "",
        "## Splits",
        "",
        "Records are grouped into near-duplicate clusters and whole clusters are assigned to splits, so that no test "
        "record has a near duplicate in train. Clusters: records whose token 5-shingles (of the canonical source: "
        "local names renamed, layout dropped) have an estimated Jaccard similarity of at least "
        f"{THRESHOLD} (MinHash, {NUM_PERM} permutations, LSH; shingles of {SHINGLE} tokens), or that differ only in "
        "numeric literals (the same `shape_id`), linked transitively. A cluster's split is a hash of its id "
        f"({', '.join(f'{n} {int(100 * f)} %' for n, f in SPLIT_FRACTIONS)} of clusters).",
        "",
        "| split | records |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in summary["splits"].items()],
        "",
        f"{summary['clusters']} clusters and {summary['shapes']} shapes over {summary['records_in_corpus']} records; "
        f"{100 * summary['near_duplicate_share']:.1f} % of the records have a near duplicate.",
        "",
        "## Fields",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        "| `id` | string | first 32 hex digits of the SHA-256 of the kernel's canonical source (the exact-dedup key) |",
        "| `kernel_name` | string | the `@wp.kernel` function's name in `python_source` |",
        "| `categories` | list of string | feature tags (arithmetic, math, vector, loop, conditional, atomic...) |",
        "| `python_source` | string | a complete, importable module: imports, helper `@wp.func` functions, structs, the kernel |",
        "| `cpu_forward`, `cpu_backward` | string | the C++ forward and adjoint functions Warp generates for the CPU |",
        "| `cuda_forward`, `cuda_backward` | string | the CUDA forward and adjoint functions (compiled with NVRTC) |",
        "| `verification` | struct | how the record was checked: outputs compared, max error in ulps, input seed, "
        "`gradient_status` (`checked`, or why not: `excluded:<reason>`, `not-differentiable`), NVRTC target |",
        "| `warp_version`, `generator_version` | string | the Warp release that generated the code, warpsmith's generator |",
        "| `seed` | int64 | the seed that reproduces the kernel |",
        "| `created_at` | string | ISO 8601 UTC |",
        "| `jax` | struct or null | with `--backend both`: the kernel as a JAX program, its StableHLO forward and backward and XLA-optimised HLO (`arguments` is JSON text) |",
        "| `tests` | string (JSON) | the inputs the kernel was verified on and Warp's outputs there (each array as dtype, shape and "
        "zlib-compressed bytes in base64), with the launch parameters: `python -m harness.check_translation` runs a "
        "candidate Python kernel or C++/CUDA forward function on them |",
        "| `shape_id` | string | the canonical source with numeric literals masked, hashed: records of one shape differ only in constants |",
        "| `cluster_id` | string | the near-duplicate cluster (its smallest record id) |",
        "| `split` | string | train / validation / test |",
        "| `code_bytes` | int64 | UTF-8 bytes of the four generated functions |",
        "",
        "Generated functions are normalised: Warp's content hashes are removed from identifiers, helper-function "
        "instances are numbered from 0, source-line comments and `#line` directives are dropped.",
        "",
        "## Statistics",
        "",
        f"Generated code per record (kB): median {s['code_kb']['median']}, p90 {s['code_kb']['p90']}, p99 "
        f"{s['code_kb']['p99']}, max {s['code_kb']['max']}.",
        "",
        "| gradient status | records |",
        "|---|---|",
        *[f"| `{k}` | {v} |" for k, v in s["gradient_status"].items()],
        "",
        "| category | records |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in s["categories"].items()],
        "",
        "| statement kind | records |",
        "|---|---|",
        *[f"| `{k}` | {v} |" for k, v in s["statements"].items()],
        "",
        "Builtins and operators (records using each): " + ", ".join(f"`{k}` {v}" for k, v in s["builtins"].items()) + ".",
        "",
        "Types (records using each): " + ", ".join(f"`{k}` {v}" for k, v in s["types"].items()) + ".",
        "",
    ]
    if summary["plots"]:
        lines += [f"![{PLOTS[p]}](plots/{p})" for p in summary["plots"]] + [""]
    lines += [
        "## How it was made",
        "",
        "Kernels are drawn by Hypothesis strategies over a typed grammar of Warp's types, operators, builtins and "
        "statements; each is rendered, compiled by Warp on the CPU, launched on generated inputs (ordinary values "
        "mixed with ties, signed zeros, exact halves and type bounds) and compared with a numpy reference. A "
        "disagreement is a Warp bug report, never a record. Generated code comes from Warp's own code generator; "
        "CUDA code is compiled with NVRTC (no GPU is needed).",
        "",
        "## Licence",
        "",
        "Apache-2.0 (the generated kernels and this card). The C++/CUDA functions are output of NVIDIA Warp's code "
        "generator (Apache-2.0).",
        "",
    ]
    return "\n".join(lines)


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m harness.export",
                      description="Export a corpus directory as Parquet shards with a dataset card.")
    p.add_argument("dir", help="corpus directory (JSONL shards)")
    p.add_argument("--format", choices=("parquet",), default="parquet")
    p.add_argument("--out", help="output directory (default: DIR-parquet next to DIR)")
    p.add_argument("--keep", choices=("all", "cluster", "shape"), default="all",
                   help="all records, or one per near-duplicate cluster or per shape (default all)")
    p.add_argument("--max-shard-mb", type=float, default=500, help="Parquet shard size bound, MB of JSON (default 500)")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG plots")
    args = p.parse_args(argv)
    if args.max_shard_mb <= 0:
        p.error("--max-shard-mb must be > 0")
    try:
        import datasketch  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as e:
        p.error(f'{e.name} is missing: pip install -e ".[dataset]"')
    out = Path(args.out) if args.out else Path(str(Path(args.dir).resolve()) + "-parquet")
    try:
        summary = export(args.dir, out, args.keep, args.max_shard_mb, not args.no_plots,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    except CorpusError as e:
        p.error(str(e))
    print(json.dumps(summary, indent=1))
    print(f"harness.export: {summary['records']} records -> {out} ({summary['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
