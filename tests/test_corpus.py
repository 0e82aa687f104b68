import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.store.canonical import canonical_id
from harness.store.corpus import (
    INDEX_NAME,
    MANIFEST_NAME,
    SCHEMA_VERSION,
    CorpusError,
    CorpusWriter,
    read_records,
    shard_paths,
    utc_timestamp,
    validate_record,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_record(i: int, **overrides) -> dict:
    source = (
        "import warp as wp\n\n\n@wp.kernel\n"
        "def scale(a: wp.array(dtype=float)):\n"
        "    tid = wp.tid()\n"
        f"    a[tid] = a[tid] * {i}.0\n"
    )
    record = {
        "id": canonical_id(source),
        "kernel_name": "scale",
        "categories": ["arithmetic"],
        "python_source": source,
        "cpu_forward": "void scale_cpu_kernel_forward() {}",
        "cpu_backward": "void scale_cpu_kernel_backward() {}",
        "cuda_forward": "void scale_cuda_kernel_forward() {}",
        "cuda_backward": "void scale_cuda_kernel_backward() {}",
        "verification": {
            "cpu_executed": True,
            "reference_match": True,
            "nvrtc_compiled": True,
            "nvrtc_arch": "sm_80",
            "outputs_checked": 64,
            "max_error_ulp": 0.5,
            "input_seed": 1234 + i,
            "gradient_checked": False,
            "gradient_status": "not-differentiable",
            "gradient_note": "no float input array",
        },
        "warp_version": "1.19.0",
        "generator_version": "0.1.0",
        "seed": i,
        "created_at": "2025-06-01T12:00:00Z",
    }
    record.update(overrides)
    return record


def shard_lines(out_dir: Path) -> list[bytes]:
    return [line for path in shard_paths(out_dir) for line in path.read_bytes().splitlines(keepends=True)]


def index_ids(out_dir: Path) -> list[str]:
    return (out_dir / INDEX_NAME).read_text().splitlines()


def write_corpus(out_dir: Path, n: int, **kwargs) -> list[dict]:
    records = [make_record(i) for i in range(n)]
    with CorpusWriter(out_dir, **kwargs) as writer:
        for record in records:
            assert writer.add(record)
    return records


def test_add_dedups_by_id(tmp_path):
    with CorpusWriter(tmp_path) as writer:
        assert writer.add(make_record(0))
        assert not writer.add(make_record(0))
        assert not writer.add(make_record(0, kernel_name="renamed"))
        assert writer.add(make_record(1))
        assert make_record(0)["id"] in writer
        assert "f" * 32 not in writer
        assert writer.n_records == len(writer) == 2
        assert list(writer.ids) == [make_record(0)["id"], make_record(1)["id"]]
        assert writer.total_bytes == sum(p.stat().st_size for p in shard_paths(tmp_path))
    assert len(shard_lines(tmp_path)) == 2
    assert index_ids(tmp_path) == [make_record(0)["id"], make_record(1)["id"]]


def test_lines_are_compact_json_with_id_first(tmp_path):
    write_corpus(tmp_path, 1)
    (line,) = shard_lines(tmp_path)
    assert line.startswith(b'{"id":"') and line.endswith(b"}\n") and line.count(b"\n") == 1
    assert json.loads(line) == make_record(0)


def test_reopen_resumes_without_duplicates(tmp_path):
    records = write_corpus(tmp_path, 5)
    with CorpusWriter(tmp_path) as writer:
        assert list(writer.ids) == [r["id"] for r in records]
        assert not any(writer.add(r) for r in records)
        assert writer.add(make_record(5))
    stored = list(read_records(tmp_path))
    assert stored == records + [make_record(5)]
    assert index_ids(tmp_path) == [r["id"] for r in stored]


def test_partial_last_line_is_truncated_on_reopen(tmp_path):
    records = write_corpus(tmp_path, 3)
    (shard,) = shard_paths(tmp_path)
    complete = shard.read_bytes()
    half = json.dumps(make_record(3)).encode()[:200]
    with open(shard, "ab") as handle:
        handle.write(half)
    assert list(read_records(tmp_path)) == records  # readers skip the unfinished line
    with CorpusWriter(tmp_path) as writer:
        assert shard.read_bytes() == complete
        assert writer.n_records == 3
        assert writer.add(make_record(3))  # the interrupted record can be written again
    assert list(read_records(tmp_path)) == records + [make_record(3)]
    assert all(json.loads(line) for line in shard_lines(tmp_path))


def test_index_missing_last_id_is_reconciled(tmp_path):
    records = write_corpus(tmp_path, 3)
    index = tmp_path / INDEX_NAME
    index.write_text("".join(r["id"] + "\n" for r in records[:2]))
    with CorpusWriter(tmp_path) as writer:
        assert records[2]["id"] in writer
        assert not writer.add(records[2])
    assert index_ids(tmp_path) == [r["id"] for r in records]


def test_index_with_partial_tail_is_repaired(tmp_path):
    records = write_corpus(tmp_path, 3)
    index = tmp_path / INDEX_NAME
    index.write_text(records[0]["id"] + "\n" + records[1]["id"][:10])
    CorpusWriter(tmp_path).close()
    assert index_ids(tmp_path) == [r["id"] for r in records]


def test_index_naming_unknown_ids_is_rebuilt(tmp_path):
    records = write_corpus(tmp_path, 3)
    with open(tmp_path / INDEX_NAME, "a") as handle:
        handle.write("0" * 32 + "\n")
    with CorpusWriter(tmp_path) as writer:
        assert "0" * 32 not in writer
    assert index_ids(tmp_path) == [r["id"] for r in records]


def test_missing_index_is_recreated(tmp_path):
    records = write_corpus(tmp_path, 2)
    (tmp_path / INDEX_NAME).unlink()
    CorpusWriter(tmp_path).close()
    assert index_ids(tmp_path) == [r["id"] for r in records]


def test_garbage_line_in_the_middle_raises_with_file_and_line(tmp_path):
    write_corpus(tmp_path, 3)
    (shard,) = shard_paths(tmp_path)
    lines = shard.read_bytes().splitlines(keepends=True)
    damaged = lines[0] + b"this is not json\n" + b"".join(lines[1:])
    shard.write_bytes(damaged)
    with pytest.raises(CorpusError, match=r"shard-00000\.jsonl:2: corrupt record line") as info:
        CorpusWriter(tmp_path)
    assert "\n" not in str(info.value)
    assert shard.read_bytes() == damaged  # nothing dropped or rewritten
    with pytest.raises(CorpusError, match=r"shard-00000\.jsonl:2"):
        list(read_records(tmp_path))
    shard.write_bytes(b"".join(lines))  # once repaired by hand the corpus opens again:
    with CorpusWriter(tmp_path) as writer:  # the failed writer released its lock
        assert writer.n_records == 3


def test_complete_but_corrupt_last_line_raises(tmp_path):
    write_corpus(tmp_path, 2)
    (shard,) = shard_paths(tmp_path)
    with open(shard, "ab") as handle:
        handle.write(b'{"no_id": 1}\n')
    with pytest.raises(CorpusError, match=r"shard-00000\.jsonl:3"):
        CorpusWriter(tmp_path)


def test_duplicate_id_in_shards_raises(tmp_path):
    write_corpus(tmp_path, 2)
    (shard,) = shard_paths(tmp_path)
    with open(shard, "ab") as handle:
        handle.write(shard.read_bytes().splitlines(keepends=True)[0])
    with pytest.raises(CorpusError, match=r"shard-00000\.jsonl:3: duplicate id .*shard-00000\.jsonl:1"):
        CorpusWriter(tmp_path)


def test_shards_roll_over_at_max_bytes(tmp_path):
    line_size = len(json.dumps(make_record(0), separators=(",", ":")).encode()) + 1
    limit = 3 * line_size + 10
    records = write_corpus(tmp_path, 10, shard_max_bytes=limit)
    paths = shard_paths(tmp_path)
    assert [p.name for p in paths] == [f"shard-{n:05d}.jsonl" for n in range(4)]
    assert all(p.stat().st_size <= limit for p in paths)
    assert [len(p.read_bytes().splitlines()) for p in paths] == [3, 3, 3, 1]
    assert list(read_records(tmp_path)) == records
    with CorpusWriter(tmp_path, shard_max_bytes=limit) as writer:  # resumes in the last shard
        writer.add(make_record(10))
        writer.add(make_record(11))
        writer.add(make_record(12))
    assert [len(p.read_bytes().splitlines()) for p in shard_paths(tmp_path)] == [3, 3, 3, 3, 1]
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["n_records"] == 13 and manifest["n_shards"] == 5
    assert manifest["total_bytes"] == sum(p.stat().st_size for p in shard_paths(tmp_path))
    assert [s["records"] for s in manifest["shards"]] == [3, 3, 3, 3, 1]


def test_record_larger_than_limit_gets_its_own_shard(tmp_path):
    write_corpus(tmp_path, 3, shard_max_bytes=10)
    assert [len(p.read_bytes().splitlines()) for p in shard_paths(tmp_path)] == [1, 1, 1]


def test_read_records_returns_everything_in_order(tmp_path):
    records = write_corpus(tmp_path, 7, shard_max_bytes=2000)
    assert len(shard_paths(tmp_path)) > 1
    assert list(read_records(tmp_path)) == records


def test_manifest_holds_counts_and_meta(tmp_path):
    meta = {"generator": "warpsmith", "profile": "ci"}
    with CorpusWriter(tmp_path, meta=meta) as writer:
        writer.add(make_record(0))
        writer.flush()
        manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
        assert manifest["n_records"] == 1 and manifest["meta"] == meta
        assert manifest["schema_version"] == SCHEMA_VERSION == 5
    CorpusWriter(tmp_path).close()  # no meta given: the stored meta is kept
    assert json.loads((tmp_path / MANIFEST_NAME).read_text())["meta"] == meta
    assert not list(tmp_path.glob("*.tmp"))


def test_manifest_from_another_schema_version_is_refused(tmp_path):
    write_corpus(tmp_path, 1)
    manifest_path = tmp_path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "schema_version": 99}))
    with pytest.raises(CorpusError, match="schema_version 99"):
        CorpusWriter(tmp_path)


def test_manifest_from_another_canonical_version_is_refused(tmp_path):
    write_corpus(tmp_path, 1)
    manifest_path = tmp_path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "canonical_version": 0}))
    with pytest.raises(CorpusError, match="canonical_version 0"):
        CorpusWriter(tmp_path)


def test_unwritable_directory_raises_corpus_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(CorpusError, match="cannot create corpus directory") as info:
        CorpusWriter(blocker / "corpus")
    assert "\n" not in str(info.value) and "a_file" in str(info.value)


def test_path_that_is_a_file_raises_corpus_error(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(CorpusError, match="a file of that name exists"):
        CorpusWriter(blocker)


def test_read_records_of_missing_directory_raises(tmp_path):
    with pytest.raises(CorpusError, match="not a corpus directory"):
        list(read_records(tmp_path / "missing"))


@pytest.mark.skipif(os.name != "posix", reason="the writer lock uses flock")
def test_second_writer_on_same_directory_is_refused(tmp_path):
    with CorpusWriter(tmp_path):
        with pytest.raises(CorpusError, match="already open by another writer"):
            CorpusWriter(tmp_path)
    CorpusWriter(tmp_path).close()


def test_closed_writer_refuses_records(tmp_path):
    writer = CorpusWriter(tmp_path)
    writer.close()
    writer.close()
    with pytest.raises(CorpusError, match="closed"):
        writer.add(make_record(0))


def test_add_rejects_invalid_records(tmp_path):
    with CorpusWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="missing field seed"):
            record = make_record(0)
            del record["seed"]
            writer.add(record)
        with pytest.raises(ValueError, match="string 'id'"):
            writer.add({"python_source": ""})
        assert writer.n_records == 0
    with CorpusWriter(tmp_path, validate=False) as writer:
        assert writer.add({"id": "free-form", "payload": [1, 2]})
        with pytest.raises(ValueError, match="not JSON-serialisable"):
            writer.add({"id": "nan", "value": float("nan")})
        assert writer.n_records == 1
    assert len(shard_lines(tmp_path)) == 1


def test_validate_record_accepts_a_complete_record():
    assert validate_record(make_record(0)) == []
    assert validate_record(make_record(0, extra_field="allowed")) == []
    assert validate_record(make_record(0, created_at=utc_timestamp())) == []
    assert validate_record(make_record(0, created_at="2025-06-01T12:00:00.123456+00:00")) == []


def test_validate_record_flags_missing_fields():
    record = make_record(0)
    del record["cuda_forward"]
    del record["verification"]["nvrtc_arch"]
    assert validate_record(record) == ["missing field cuda_forward", "missing field verification.nvrtc_arch"]
    record = make_record(0)
    del record["verification"]
    assert validate_record(record) == ["missing field verification"]
    assert validate_record([]) == ["record must be a dict, got list"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"seed": True}, "seed must be int, got bool"),
        ({"seed": "7"}, "seed must be int, got str"),
        ({"seed": 2**64}, "seed must fit in a signed 64-bit integer"),
        ({"categories": ["ok", 3]}, "categories must be a list of str"),
        ({"categories": "arithmetic"}, "categories must be list, got str"),
        ({"kernel_name": ""}, "kernel_name must not be empty"),
        ({"created_at": "2025-06-01T12:00:00"}, "created_at must be an ISO 8601 UTC timestamp"),
        ({"created_at": "2025-06-01T12:00:00+02:00"}, "created_at must be an ISO 8601 UTC timestamp"),
        ({"created_at": "yesterday"}, "created_at must be an ISO 8601 UTC timestamp"),
        ({"id": "ABC"}, "id must be 32 lowercase hex digits"),
        ({"id": "0" * 32}, "id does not match canonical_id(python_source)"),
        ({"python_source": "def broken(:"}, "python_source does not parse"),
    ],
)
def test_validate_record_flags_bad_values(change, problem):
    problems = validate_record(make_record(0, **change))
    assert len(problems) == 1 and problems[0].startswith(problem), problems


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"cpu_executed": 1}, "verification.cpu_executed must be bool, got int"),
        ({"outputs_checked": -1}, "verification.outputs_checked must be >= 0"),
        ({"outputs_checked": 1.5}, "verification.outputs_checked must be int, got float"),
        ({"max_error_ulp": float("inf")}, "verification.max_error_ulp must be finite and >= 0"),
        ({"max_error_ulp": "0.5"}, "verification.max_error_ulp must be float or int, got str"),
        ({"nvrtc_arch": None}, "verification.nvrtc_arch must be str, got NoneType"),
        ({"input_seed": -(2**63) - 1}, "verification.input_seed must fit in a signed 64-bit integer"),
    ],
)
def test_validate_record_flags_bad_verification(change, problem):
    record = make_record(0)
    record["verification"].update(change)
    assert validate_record(record) == [problem]


WRITER_LOOP = textwrap.dedent(
    """
    import hashlib, itertools, sys
    from harness.store.corpus import CorpusWriter

    writer = CorpusWriter(sys.argv[1], shard_max_bytes=256 * 1024, fsync_every=0, validate=False)
    print("ready", flush=True)
    for i in itertools.count():
        for n in (i, i // 3):  # every third record repeats an older id
            record_id = hashlib.sha256(str(n).encode()).hexdigest()[:32]
            writer.add({"id": record_id, "n": n, "pad": "x" * (n * 7919 % 20000)})
    """
)


def test_writer_killed_with_sigkill_leaves_a_recoverable_corpus(tmp_path):
    python_path = [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, python_path))}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_LOOP, str(tmp_path)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        assert proc.poll() is None, proc.stderr.read()
        proc.kill()  # SIGKILL on POSIX
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    with CorpusWriter(tmp_path, validate=False) as writer:
        n_records = writer.n_records
        assert n_records > 0
        ids = [json.loads(line)["id"] for line in shard_lines(tmp_path)]
        assert all(line.endswith(b"\n") for line in shard_lines(tmp_path))
        assert len(ids) == len(set(ids)) == n_records
        assert index_ids(tmp_path) == ids == list(writer.ids)
        assert writer.add({"id": "after-recovery"})
    assert [r["id"] for r in read_records(tmp_path)] == ids + ["after-recovery"]


def test_the_tracked_sample_is_valid_under_the_current_schema():
    sample = REPO_ROOT / "corpus" / "sample"
    records = list(read_records(sample))
    assert records and all(validate_record(r) == [] for r in records)
    assert sum(p.stat().st_size for p in sample.iterdir()) < 300_000  # a small sample, not a corpus
    assert any(r["verification"]["gradient_status"] == "checked" for r in records)
    # schema 5: executable tests and the code size in every record (regenerated with generator 0.5.4)
    assert all(r["tests"]["outputs"] and r["verification"]["code_bytes"] > 0 for r in records)


def test_a_jax_section_is_checked_field_by_field():
    from harness.store.corpus import JAX_SECTION_FIELDS, validate_record

    section = {name: (types[0]() if types[0] is not bool else False) for name, types in JAX_SECTION_FIELDS.items()}
    assert validate_record(make_record(1, jax=section)) == []
    del section["gradient_status"]
    section["outputs_checked"] = "3"
    assert set(validate_record(make_record(1, jax=section))) == {
        "missing field jax.gradient_status", "jax.outputs_checked must be int, got str"}
    assert validate_record(make_record(1, jax=[])) == ["jax must be dict, got list"]


def test_a_tests_section_is_checked_field_by_field():
    from harness.store.corpus import TESTS_FIELDS, validate_record

    section = {name: types[0]() for name, types in TESTS_FIELDS.items()}
    assert validate_record(make_record(1, tests=section)) == []
    missing, retyped = sorted(TESTS_FIELDS)[:2]
    del section[missing]
    section[retyped] = 3.5
    assert set(validate_record(make_record(1, tests=section))) == {
        f"missing field tests.{missing}", f"tests.{retyped} must be {TESTS_FIELDS[retyped][0].__name__}, got float"}
    assert validate_record(make_record(1, tests="inputs")) == ["tests must be dict, got str"]


def test_a_record_is_built_through_the_typed_record_and_the_field_table_is_read_off_it():
    """``Record`` lists the required fields once: the store's field table follows it, in order, and a record built
    through it is valid; a field of the wrong type is still refused."""
    from dataclasses import fields

    from harness.store.corpus import RECORD_FIELDS, Record

    assert list(RECORD_FIELDS) == [f.name for f in fields(Record)]
    record = Record(**make_record(3)).as_dict()
    assert record == make_record(3) and list(record) == list(RECORD_FIELDS)
    assert validate_record(record) == []
    assert validate_record({**record, "seed": "3"}) == ["seed must be int, got str"]
