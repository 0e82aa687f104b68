"""``harness.known_bugs``, ``harness.bisect`` and ``harness.releases``: the write-ups under known_bugs/ are
complete, reproducer outcomes are classified right, and the bisection finds the transition.

Running every reproducer on Warp is ``tests/test_gradient.py``'s job (one process for most); nothing here
installs another release (``python -m harness.bisect`` does, measured in the issue notes)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import bisect as B
from harness import known_bugs as K
from harness import releases as R

ROOT = Path(__file__).resolve().parents[1]
#: what a reproducer may import: warp, numpy and the standard library
STANDALONE = {"warp", "numpy", "__future__"} | set(sys.stdlib_module_names)


def test_every_bug_directory_is_complete():
    """repro.py, report.md with the bug-form sections and the system-info markers, a valid meta.json."""
    bugs = K.bug_dirs()
    assert len(bugs) >= 15
    assert not list((ROOT / "known_bugs").glob("*.py")), "a reproducer outside its bug directory"
    for bug in bugs:
        meta = K.load_meta(bug)  # raises on a missing field or an unknown status/kind
        report = (bug / "report.md").read_text()
        for part in ("**Status:**", "**Suggested title:** [BUG] ", "### Bug Description", "**Expected:**",
                     "**Actual:**", "### System Information", K.SYSINFO_BEGIN, K.SYSINFO_END):
            assert part in report, f"{bug.name}/report.md lacks {part!r}"
        assert meta["status"] != "duplicate" or meta["upstream"].startswith("NVIDIA/warp#"), bug.name
        script = (bug / "repro.py").read_text()
        assert "import warp" in script and "not reproduced" in script, bug.name
        imported = set(re.findall(r"^\s*(?:import|from)\s+(\w+)", script, flags=re.M))
        assert imported <= STANDALONE, f"{bug.name}/repro.py imports {imported - STANDALONE}: not standalone"


def test_the_index_lists_every_bug_with_its_status():
    index = (ROOT / "known_bugs" / "README.md").read_text()
    assert index == K.index_markdown(K.bug_dirs()), "known_bugs/README.md is stale: python -m harness.known_bugs --index"
    for bug in K.bug_dirs():
        meta = K.load_meta(bug)
        assert f"]({bug.name}/report.md) | {meta['kind']} | {K.status_text(meta)} |" in index


@pytest.mark.parametrize("code, out, err, outcome", [
    (1, "a.grad [0.]", "bug reproduced: wrong gradient", "present"),
    (0, "not reproduced\n", "", "fixed"),
    (1, "", "Traceback (most recent call last):\n  ...\nAttributeError: module 'warp' has no attribute 'x'", "error"),
    (0, "finished", "", "error"),  # status 0 without the verdict line
    (-11, "", "", "error"),  # a crash
])
def test_outcomes_are_classified(code, out, err, outcome):
    assert R.classify(code, out, err) == outcome


def test_a_reproducer_runs_in_a_fresh_process_with_an_empty_kernel_cache(tmp_path):
    script = tmp_path / "repro.py"
    script.write_text("import os, sys\nprint(os.environ['WARP_CACHE_PATH'])\n"
                      "assert not os.listdir(os.path.dirname(os.environ['WARP_CACHE_PATH']))\n"
                      "raise SystemExit('bug reproduced: ' + sys.argv[0])\n")
    run = R.run_repro(script)
    assert run.outcome == "present" and run.detail.startswith("bug reproduced"), (run.stdout, run.stderr)
    assert "kernel-cache" in run.stdout
    script.write_text("print('not reproduced')\n")
    assert R.run_repro(script).outcome == "fixed"
    script.write_text("import missing_module_of_an_old_release\n")
    assert R.run_repro(script).outcome == "error"
    script.write_text("import time\ntime.sleep(30)\n")
    assert R.run_repro(script, timeout=1).outcome == "timeout"


def _probe(table):
    calls = []

    def probe(version):
        calls.append(version)
        return table(int(version.split(".")[1]))

    return probe, calls


VERSIONS = [f"1.{minor}.0" for minor in range(10, 20)]


def test_bisect_finds_the_release_a_bug_appeared_in_with_few_runs():
    probe, calls = _probe(lambda minor: "present" if minor >= 14 else "fixed")
    assert B.bisect(VERSIONS, probe) == {"first_reproducing": "1.14.0", "last_not_reproducing": "1.13.0",
                                         "summary": "appeared in 1.14.0 (not in 1.13.0)"}
    assert len(set(calls)) <= 5  # newest, oldest, then a binary search over 8


def test_bisect_reports_a_fix_every_release_and_skips_releases_the_script_cannot_run_on():
    assert B.bisect(VERSIONS, _probe(lambda m: "present" if m < 17 else "fixed")[0])["first_fixed"] == "1.17.0"
    assert B.bisect(VERSIONS, _probe(lambda m: "present")[0]) == {
        "first_reproducing": "1.10.0", "summary": "reproduces in every release tried (1.10.0 .. 1.19.0)"}
    skipping = _probe(lambda m: "error" if m in (10, 12, 14) else "present" if m >= 13 else "fixed")[0]
    assert B.bisect(VERSIONS, skipping)["first_reproducing"] == "1.13.0"
    assert B.bisect(VERSIONS, skipping)["last_not_reproducing"] == "1.11.0"  # 1.12.0 could not run it
    assert B.bisect(VERSIONS, _probe(lambda m: "error")[0]) == {
        "summary": "the reproducer ran on none of the releases tried"}


def test_version_order_and_the_installed_release_needs_no_environment():
    assert sorted(["1.9.1", "1.10.0", "1.2.0"], key=R.version_key) == ["1.2.0", "1.9.1", "1.10.0"]
    assert R.interpreter(None) == sys.executable
    assert R.interpreter(R.installed_version()) == sys.executable
    with pytest.raises(R.ReleaseError, match="not a warp-lang release"):
        R.interpreter("latest")


def test_system_information_replaces_only_the_marked_block(tmp_path):
    bug = tmp_path / "some_bug"
    bug.mkdir()
    (bug / "report.md").write_text(f"before\n\n### System Information\n\n{K.SYSINFO_BEGIN}\nold\n{K.SYSINFO_END}\n")
    run = R.ReproRun("present", 1, 2.0, "", "bug reproduced: x")
    assert K.update_report(bug, K.system_information("1.19.0", run, "Warp 1.19.0 initialized"))
    text = (bug / "report.md").read_text()
    assert text.startswith("before\n") and "old" not in text and "Warp 1.19.0, CPU device: the script above " \
        "reproduces" in text and text.count(K.SYSINFO_BEGIN) == 1 and text.endswith(K.SYSINFO_END + "\n")
    (bug / "report.md").write_text("no markers")
    assert not K.update_report(bug, "x")


def test_command_line_errors_are_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as stop:
        K.main(["--only", "no_such_bug"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("known_bugs: error: no such bug: no_such_bug") and err.count("\n") == 1
    with pytest.raises(SystemExit) as stop:
        B.main([str(tmp_path)])
    assert stop.value.code == 2 and "has no repro.py" in capsys.readouterr().err
    bug = tmp_path / "b"
    bug.mkdir()
    (bug / "repro.py").write_text("print('not reproduced')\n")
    (bug / "meta.json").write_text(json.dumps({"slug": "b"}))
    with pytest.raises(SystemExit):
        K.main(["--root", str(tmp_path)])
    assert "b/meta.json lacks title" in capsys.readouterr().err


def test_the_runner_prints_a_table_and_exits_by_outcome(capsys, tmp_path):
    meta = {f: "x" for f in K.META_FIELDS} | {"kind": "wrong-result", "status": "new"}
    for name, body in (("gone", "print('not reproduced')"), ("still", "raise SystemExit('bug reproduced: y')")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "repro.py").write_text(body + "\n")
        (tmp_path / name / "meta.json").write_text(json.dumps(meta | {"slug": name}))
    assert K.main(["--root", str(tmp_path), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "gone" in out and "fixed" in out and "still" in out and "present" in out and "1 present, 1 fixed" in out
    (tmp_path / "gone" / "repro.py").write_text("raise ValueError('broken script')\n")
    assert K.main(["--root", str(tmp_path), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert {r["bug"]: r["result"] for r in rows} == {"gone": "error", "still": "present"}


OLD_WARP = os.environ.get("WARPSMITH_OLD_WARP")


@pytest.mark.skipif(not OLD_WARP, reason="set WARPSMITH_OLD_WARP=X.Y.Z (CI does: 1.10.0) to hunt on an older Warp "
                    "release from its cached environment (python -m harness.releases install X.Y.Z --harness)")
def test_an_older_release_is_hunted_end_to_end(tmp_path):
    """The fuzzer on an older Warp release (its own environment, running this checkout): it verifies kernels,
    and whatever it reports comes from Warp, not from the harness (no generator error, no worker error); a
    known bug present in every release from 1.10 reproduces there too."""
    python = R.interpreter(OLD_WARP, harness=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WARPSMITH_WORKER_HOOK")}
    run = subprocess.run([python, "-m", "harness.fuzz", "--budget-s", "40", "--workers", "1", "--batch-size", "3",
                          "--seed", "3", "--quiet", "--reports", str(tmp_path / "reports")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stderr[-3000:]
    summary = json.loads((tmp_path / "reports" / "fuzz_summary.json").read_text())
    assert summary["kernels"] >= 1 and summary["generator_errors"] == 0 and not summary["worker_errors"], summary
    statuses = summary["gradient_status"]  # per status, an exclusion with its limit key
    assert sum(statuses.values()) == summary["verdicts"].get("accepted", 0) >= 1, summary
    assert all(s in ("checked", "not-differentiable") or s.startswith("excluded:") for s in statuses), statuses
    bug = R.run_repro(ROOT / "known_bugs" / "mod_divisor_adjoint" / "repro.py", python)
    assert bug.outcome == "present", (bug.stdout, bug.stderr)
