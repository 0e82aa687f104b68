"""End to end: `python -m harness.collect` into a temp dir - schema, verification facts, dedup, resume, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.corpus import read_records, validate_record

ROOT = Path(__file__).resolve().parent.parent


def collect(out: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "harness.collect", "--out", str(out), "--no-progress", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("corpus")
    proc = collect(out, "--target-mb", "0.2", "--workers", "1", "--batch-size", "12", "--seed", "5")
    return out, proc


def test_collect_writes_valid_verified_records(small_corpus):
    out, proc = small_corpus
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    records = list(read_records(out))
    assert summary["records"] == len(records) > 0
    assert summary["mb"] >= 0.2
    assert sum(summary["verdicts"].values()) == summary["kernels_processed"]
    for r in records:
        assert validate_record(r) == []
        v = r["verification"]
        assert v["cpu_executed"] and v["reference_match"] and v["nvrtc_compiled"]
        assert v["outputs_checked"] > 0
        for field in ("cpu_forward", "cpu_backward", "cuda_forward", "cuda_backward"):
            code = r[field]
            assert r["kernel_name"] in code, field
            assert "<L " not in code, "source-line comments must be stripped"
        assert "__global__" in r["cuda_forward"]
        assert r["warp_version"].startswith("1.19")
    assert len({r["id"] for r in records}) == len(records)


def test_collect_resumes_without_duplicates(small_corpus):
    out, first = small_corpus
    assert first.returncode == 0, first.stderr
    before = [r["id"] for r in read_records(out)]
    again = collect(out, "--target-mb", "0.2", "--workers", "1", "--batch-size", "12", "--seed", "5")
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in read_records(out)] == before, "target already met: nothing new is written"
    more = collect(out, "--target-mb", "0.45", "--workers", "1", "--batch-size", "12", "--seed", "5")
    assert more.returncode == 0, more.stderr
    after = [r["id"] for r in read_records(out)]
    assert after[: len(before)] == before
    assert len(after) > len(before)
    assert len(set(after)) == len(after)
    state = json.loads((out / "collect_state.json").read_text())
    assert state["seed"] == 5 and state["next_batch"] >= 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--target-mb", "0"], "--target-mb must be > 0"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--batch-size", "-3"], "--batch-size must be >= 1"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_collect_rejects_bad_arguments(tmp_path, args, message):
    proc = collect(tmp_path / "c", *args, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "c").exists()


def test_collect_reports_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = collect(blocker / "corpus", "--target-mb", "0.1", timeout=60)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("collect: error:"), proc.stderr
