"""The Ray executor (``collect --executor ray``, :mod:`harness.ray_pool`) on a local Ray instance: the same records
as the local worker pool for the same seed, and the same isolation of kernels that crash, raise or hang.

Skipped without the ``[ray]`` extra (CI installs it). Each run starts a private Ray instance (about 5 s) whose
session files go into the run's scratch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.ray_pool import ray_available
from harness.store.corpus import read_records

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not ray_available(), reason="the [ray] extra is not installed")


def collect(out: Path, *args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "harness.collect", "--out", str(out), "--no-progress", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def _summary(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ids_at(seed: int, batch: int, batch_size: int, positions) -> set[str]:
    from harness.generate import draw_kernels
    from harness.pipeline import name_kernels
    from harness.worker import batch_seed

    kernels = draw_kernels(batch_seed(seed, batch), batch_size)
    return {name_kernels([kernels[p]])[0][0] for p in positions}


def test_the_ray_executor_collects_the_records_of_the_local_pool_and_leaves_no_files(tmp_path):
    """Same seed, same records in the same order, whichever executor ran the batches; nothing of the run (Ray's
    session files included) stays in the temporary directory."""
    args = ["--target-mb", "0.6", "--workers", "2", "--batch-size", "3", "--verify", "none", "--max-code-kb", "0",
            "--seed", "7"]
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="wsr"))  # short: Ray's sockets go under it (AF_UNIX paths <= 107 bytes)
    try:
        local = _summary(collect(tmp_path / "local", *args))
        ray = _summary(collect(tmp_path / "ray", *args, "--executor", "ray", env=dict(os.environ, TMPDIR=str(tmp))))
        left = list(tmp.iterdir())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ids = [r["id"] for r in read_records(tmp_path / "local")]
    assert len(ids) > 3
    assert [r["id"] for r in read_records(tmp_path / "ray")] == ids
    assert ray["records"] == local["records"] and ray["worker_restarts"] == 0
    assert (local["executor"], ray["executor"]) == ("local", "ray")
    assert left == []


def test_the_ray_executor_isolates_kernels_that_crash_raise_or_hang(tmp_path):
    """A kernel that kills its worker (SIGSEGV), one that raises and one that hangs past --batch-timeout: each batch
    is bisected down to its culprit, which is skipped with its kind; the rest of the batch is collected."""
    out = tmp_path / "c"
    env = {**os.environ, "WARPSMITH_WORKER_HOOK": "tests.fault_hooks:inject",
           "WARPSMITH_TEST_FAULT": "segv:0:1,raise:0:3,hang:1:2"}
    proc = collect(out, "--target-mb", "0.5", "--workers", "2", "--batch-size", "4", "--max-code-kb", "0",
                   "--verify", "none", "--seed", "3", "--batch-timeout", "10", "--executor", "ray", env=env)
    summary = _summary(proc)
    culprits = {(c["batch"], c["position"]): c for c in summary["culprits"]}
    assert {k: c["kind"] for k, c in culprits.items()} == {(0, 1): "crash", (0, 3): "error", (1, 2): "timeout"}
    assert culprits[(0, 3)]["detail"] == "RuntimeError: injected fault"
    assert culprits[(0, 1)]["detail"].startswith("Ray worker died")
    assert summary["worker_restarts"] >= 2  # the crashed and the hung worker were replaced
    ids = {r["id"] for r in read_records(out)}
    assert _ids_at(3, 0, 4, [1, 3]).isdisjoint(ids) and _ids_at(3, 1, 4, [2]).isdisjoint(ids)
    assert _ids_at(3, 0, 4, [0, 2]) <= ids and _ids_at(3, 1, 4, [0, 1, 3]) <= ids


def test_executor_arguments_that_cannot_run_are_one_line_errors(tmp_path, monkeypatch):
    proc = collect(tmp_path / "c", "--ray-address", "auto")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "collect: error: --ray-address needs --executor ray"
    import harness.ray_pool as R
    from harness.executors import executor_error

    monkeypatch.setattr(R, "ray_available", lambda: False)
    from types import SimpleNamespace

    assert executor_error(SimpleNamespace(executor="ray", ray_address=None)) == R.EXTRA_HINT
    assert "[ray]" in R.EXTRA_HINT


def test_fuzz_on_ray_finds_shrinks_and_reports_as_on_the_local_pool(tmp_path):
    """fuzz --executor ray: Warp's float results corrupted in the workers (a mismatch to find and shrink) and kernel 1
    of batch 0 killing its worker (a crash report, and the hunt goes on), within the budget's allowances."""
    import time

    from harness.fuzz import allowances

    reports = tmp_path / "reports"
    env = {**os.environ, "WARPSMITH_WORKER_HOOK": "tests.fault_hooks:corrupt", "WARPSMITH_TEST_FAULT": "segv:0:1"}
    budget = 30
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness.fuzz", "--budget-s", str(budget), "--workers", "2",
                           "--executor", "ray", "--reports", str(reports), "--seed", "1", "--batch-size", "4",
                           "--no-nvrtc", "--no-differential", "--quiet"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    wall = time.monotonic() - t
    assert proc.returncode == 1, proc.stderr[-2000:]
    # the budget starts once the Ray instance is up (ray.init: ~5 s, more on a loaded machine)
    assert wall < budget + allowances(budget)["post"] + 30, f"ran {wall:.0f} s on a {budget} s budget"
    summary = json.loads((reports / "fuzz_summary.json").read_text())
    assert summary["executor"] == "ray"
    assert {"mismatch", "crash"} <= {f["kind"] for f in summary["failures"]}
    assert summary["verdicts"].get("worker-crash") == 1 and summary["kernels"] > 2
    metas = [json.loads(p.read_text()) for p in reports.glob("*/failure.json")]
    assert any(m["kind"] == "mismatch" and m.get("shrink", "").startswith("shrunk") for m in metas), metas
