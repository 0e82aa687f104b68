"""The corpus as a dataset: shape ids, near-duplicate clusters, leak-free splits, the Parquet export with its
dataset card, and the statistics and plots (harness.store.neardup, harness.export, harness.stats)."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from harness.store.canonical import canonical_id
from harness.store.corpus import CorpusWriter
from harness.stats import corpus_stats, kernel_features

from test_corpus import make_record

pytest.importorskip("datasketch", reason='the dataset extra (pip install -e ".[dataset]")')
from harness.store.neardup import SPLIT_FRACTIONS, group, keep_one, shape_id, split_of  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]

#: kernel bodies of different shapes; each is varied in its constants below
BODIES = [
    "out[tid] = wp.sin(a[tid]) * {c} + {d}",
    "out[tid] = wp.max(a[tid], {c}) - wp.min(a[tid], {d})",
    "x = a[tid]\n    for i in range(3):\n        x = x * {c} + {d}\n    out[tid] = x",
    "if a[tid] > {c}:\n        out[tid] = wp.exp(a[tid])\n    else:\n        out[tid] = {d}",
    "v = wp.vec3(a[tid], {c}, {d})\n    out[tid] = wp.length(v)",
    "out[tid] = wp.clamp(a[tid] * a[tid], {c}, {d} + 10.0)",
]


def source(body: str, c: float, d: float, name: str = "k_0123456789ab") -> str:
    return ("import warp as wp\n\n\n@wp.kernel\n"
            f"def {name}(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):\n"
            "    tid = wp.tid()\n    " + body.format(c=c, d=d) + "\n")


def varied_records(n_per_body: int = 4) -> list[dict]:
    records = []
    for b, body in enumerate(BODIES):
        for j in range(n_per_body):
            src = source(body, 1.5 + j, -0.5 * j)
            records.append(make_record(0, python_source=src, id=canonical_id(src), kernel_name="k_0123456789ab",
                                       categories=["math", f"body{b}"]))
    return records


def test_a_shape_masks_constants_and_the_kernel_name_but_not_operations():
    a = source(BODIES[0], 2.5, 1.0)
    assert shape_id(a) == shape_id(source(BODIES[0], -7.0, 3.25, name="k_ffffffffffff"))
    assert shape_id(a) != shape_id(a.replace("wp.sin", "wp.cos"))
    assert shape_id(a) != shape_id(a.replace("* 2.5 +", "* 2.5 -"))


def test_near_duplicates_cluster_by_shape_and_similarity_and_never_cross_splits():
    records = varied_records()
    ids = [r["id"] for r in records]
    sources = [r["python_source"] for r in records]
    g = group(ids, sources)
    # each body's four variants differ only in constants: one shape, one cluster each; different bodies apart
    assert g.n_shapes == len(BODIES) and g.n_clusters == len(BODIES)
    for b in range(len(BODIES)):
        assert len({g.cluster_ids[i] for i in range(4 * b, 4 * b + 4)}) == 1
    split_of_cluster = {}
    for c, s in zip(g.cluster_ids, g.splits):
        assert split_of_cluster.setdefault(c, s) == s  # no cluster crosses splits
    assert g.near_duplicate_share() == 1.0
    # the result does not depend on the order the records come in
    order = list(range(len(records)))
    random.Random(0).shuffle(order)
    h = group([ids[i] for i in order], [sources[i] for i in order])
    assert [h.cluster_ids[order.index(i)] for i in range(len(records))] == list(g.cluster_ids)
    # one statement more in a long kernel is a near duplicate although the shape differs
    long_body = "\n    ".join(f"x{i} = a[tid] * {i + 1}.0 + wp.sin(a[tid])" for i in range(12)) + "\n    out[tid] = x11"
    one, two = source(long_body, 0, 0), source(long_body + " + x3", 0, 0)
    k = group(["a", "b"], [one, two])
    assert k.n_shapes == 2 and k.n_clusters == 1


def test_splits_are_a_function_of_the_cluster_and_roughly_their_shares():
    names = [s for s, _ in SPLIT_FRACTIONS]
    counts = {s: 0 for s in names}
    for i in range(4000):
        counts[split_of(f"{i:032x}")] += 1
    assert split_of("abc") == split_of("abc")
    for s, share in SPLIT_FRACTIONS:
        assert abs(counts[s] / 4000 - share) < 0.02, counts


def test_keep_one_keeps_the_smallest_id_of_each_key_in_order():
    assert keep_one(["d", "b", "c", "a"], ["x", "y", "x", "y"]) == [2, 3]


def test_stats_count_what_the_sources_use():
    f = kernel_features(source(BODIES[3], 1.0, 2.0))
    assert {"exp", "gt"} <= f["builtins"] and {"if", "assign"} <= f["statements"] and "float32" in f["types"]
    s = corpus_stats(varied_records(2)).summary()
    assert s["records"] == 12 and s["categories"]["math"] == 12 and s["builtins"]["sin"] == 2
    assert s["statements"]["for"] == 2 and s["types"]["vec3"] == 2
    assert s["gradient_status"] == {"not-differentiable": 12}


def write(out: Path, records: list[dict]) -> None:
    with CorpusWriter(out) as w:
        for r in records:
            assert w.add(r)


def test_export_writes_typed_parquet_shards_per_split_and_a_card_naming_them(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from harness.export import export

    records = varied_records()
    jax = {"expressible": True, "reason": "", "reference_status": "match", "outputs_checked": 4, "source": "def f(): pass",
           "arguments": [["a0", "float32", [16]], ["s", [["x", "int32", []]]]], "float_inputs": ["a0"],
           "float_outputs": ["out0"], "forward_hlo": "m", "backward_hlo": "b", "optimized_hlo": "o",
           "jax_version": "0.4", "gradient_status": "unchecked", "gradient_note": ""}
    records[0] = dict(records[0], jax=jax)
    write(tmp_path / "c", records)
    summary = export(tmp_path / "c", tmp_path / "out", max_shard_mb=0.002, plots=False, log=lambda m: None)
    assert summary["records"] == len(records) and sum(summary["splits"].values()) == len(records)
    tables = {s: [pq.read_table(tmp_path / "out" / "data" / f) for f in files] for s, files in summary["files"].items()}
    assert sum(t.num_rows for ts in tables.values() for t in ts) == len(records)
    assert max(len(files) for files in summary["files"].values()) > 1  # the small bound made several shards
    schemas = {t.schema for ts in tables.values() for t in ts}
    assert len(schemas) == 1  # one schema for every shard
    schema = schemas.pop()
    assert str(schema.field("seed").type) == "int64"
    assert str(schema.field("verification").type.field("max_error_ulp").type) == "double"
    assert str(schema.field("categories").type) == "list<element: string>"
    rows = [row for ts in tables.values() for t in ts for row in t.to_pylist()]
    with_jax = [r for r in rows if r["jax"] is not None]
    assert len(with_jax) == 1 and json.loads(with_jax[0]["jax"]["arguments"]) == jax["arguments"]
    for split, ts in tables.items():
        assert all(r["split"] == split for t in ts for r in t.to_pylist())
    assert all(r["code_bytes"] == sum(len(r[f]) for f in ("cpu_forward", "cpu_backward", "cuda_forward",
                                                             "cuda_backward")) for r in rows)
    card = (tmp_path / "out" / "README.md").read_text()
    front = card.split("---\n")[1]
    for split in summary["files"]:
        assert f"  - split: {split}\n    path: data/{split}-*.parquet" in front
    assert "split: validation" not in front or summary["splits"]["validation"] > 0
    assert f"| train | {summary['splits']['train']} |" in card


def test_export_keeps_one_record_per_cluster_on_request(tmp_path):
    pytest.importorskip("pyarrow")
    from harness.export import export

    write(tmp_path / "c", varied_records())
    summary = export(tmp_path / "c", tmp_path / "out", keep="cluster", plots=False, log=lambda m: None)
    assert summary["records"] == len(BODIES) and summary["records_in_corpus"] == 4 * len(BODIES)


def test_stats_and_export_command_lines(tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("matplotlib")
    write(tmp_path / "c", varied_records(2))
    run = subprocess.run([sys.executable, "-m", "harness.stats", str(tmp_path / "c"), "--png", str(tmp_path / "p")],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "12 records" in run.stdout and "near duplicates: 6 clusters" in run.stdout
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == sorted(
        ["categories.png", "builtins.png", "types.png", "statements.png", "code_size.png", "gradient_status.png"])
    assert all((tmp_path / "p" / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in ("types.png", "code_size.png"))
    run = subprocess.run([sys.executable, "-m", "harness.export", str(tmp_path / "c")], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = Path(str(tmp_path / "c") + "-parquet")
    assert (out / "README.md").exists() and "![Records per category](plots/categories.png)" in (out / "README.md").read_text()
    bad = subprocess.run([sys.executable, "-m", "harness.export", str(tmp_path / "missing")], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a corpus directory" in bad.stderr
