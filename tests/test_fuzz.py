"""The fuzz command end to end, with a fault injected into Warp's results: it must find it, shrink it to a
small kernel, and write a reproducer + report; and the reproducer must *not* reproduce against the real
Warp (the fault was ours), which failure.json records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import harness.pipeline as pipeline
from harness import fuzz

ROOT = Path(__file__).resolve().parent.parent


def test_fuzz_shrinks_and_reports_an_injected_mismatch(tmp_path, monkeypatch):
    real_run_warp = pipeline.run_warp

    def corrupted(module, kernel, values):
        outputs = real_run_warp(module, kernel, values)
        for array in outputs.values():
            if array.dtype.kind == "f":
                array.reshape(-1)[0] += 1.0
        return outputs

    monkeypatch.setattr(pipeline, "run_warp", corrupted)
    reports = tmp_path / "reports"
    status = fuzz.main(["--budget-s", "1", "--reports", str(reports), "--seed", "1", "--batch-size", "4",
                        "--examples-per-round", "3", "--no-nvrtc"])
    assert status == 1
    (report_dir,) = [d for d in reports.iterdir() if d.is_dir() and not d.name.startswith(".")]
    failure = json.loads((report_dir / "failure.json").read_text())
    assert failure["kind"] == "mismatch"
    assert failure["reproduces_standalone"] is False  # real Warp is right: the fault was injected
    repro = (report_dir / "repro.py").read_text()
    kernel_lines = repro.split("@wp.kernel", 1)[1].split("\n\n\n", 1)[0].strip().splitlines()
    assert len(kernel_lines) <= 6, "shrinking should leave a tiny kernel:\n" + "\n".join(kernel_lines)
    report = (report_dir / "report.md").read_text()
    assert "Bug Description" in report and "System Information" in report


def test_fuzz_rejects_bad_budget(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "harness.fuzz", "--budget-s", "0", "--reports", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--budget-s must be > 0" in proc.stderr


def test_generator_errors_are_written_down(tmp_path, monkeypatch):
    # a generator error is a bug of ours: the fuzz run keeps the kernel and the reason for us to fix
    from collections import Counter

    from harness import fuzz
    from harness.generate import draw_kernels
    from harness.pipeline import BatchResult, KernelResult

    (k,) = draw_kernels(0, 1)
    monkeypatch.setattr(fuzz, "verify_batch",
                        lambda batch, workdir, opts: BatchResult([KernelResult(k, "generator-error", "reference failed: boom")]))
    stats: Counter = Counter()
    fuzz.check_batch([k], tmp_path, None, stats, {}, tmp_path / "generator-errors")
    (written,) = (tmp_path / "generator-errors").iterdir()
    assert "reference failed: boom" in written.read_text() and k.source in written.read_text()
    assert stats["generator-error"] == 1
