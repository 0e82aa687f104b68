"""The fault-injection benchmark's machinery (``benchmarks/fault_table.py``, ``benchmarks/faults.py``).

The table's anchors must occur exactly once in the installed Warp (a Warp upgrade that moves one is
noticed here); a fault is applied to a scratch copy only, the installed package's checksum does not
change; and two faults that every float kernel trips are killed end to end by the fuzzer in seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import fault_table as T  # noqa: E402

WARP_DIR = T.installed_warp_dir()


def test_every_anchor_occurs_exactly_once_in_the_installed_warp():
    for fault in T.FAULTS:
        T.check_anchor(fault, WARP_DIR)  # raises AnchorError otherwise
    assert len(T.FAULTS) >= 30
    assert {f.category for f in T.FAULTS} == set(T.CATEGORIES)
    assert all(f.find != f.replace for f in T.FAULTS)


def test_a_missing_or_ambiguous_anchor_is_refused(tmp_path):
    (tmp_path / "native").mkdir()
    (tmp_path / "native" / "x.h").write_text("a + b; a + b; c;")
    for find, count in (("a + b;", 2), ("d;", 0)):
        fault = T.Fault("f", "native/x.h", find, "z;", "scalar", "", "")
        with pytest.raises(T.AnchorError, match=f"occurs {count} times"):
            T.check_anchor(fault, tmp_path)
    with pytest.raises(T.AnchorError, match="does not exist"):
        T.check_anchor(T.Fault("g", "native/y.h", "c;", "z;", "scalar", "", ""), tmp_path)


def test_a_fault_patches_the_copy_and_is_restored_and_the_installed_package_is_unchanged(tmp_path):
    before = T.package_checksum(WARP_DIR)
    copy = T.make_scratch_copy(WARP_DIR, tmp_path)
    fault = T.FAULTS_BY_ID["float-add-off-by-one"]
    original = (WARP_DIR / fault.file).read_bytes()
    T.apply_fault(fault, copy, WARP_DIR)
    patched = (copy / fault.file).read_text()
    assert fault.replace in patched and fault.find not in patched
    assert (WARP_DIR / fault.file).read_bytes() == original
    T.restore_file(fault, copy, WARP_DIR)
    assert (copy / fault.file).read_bytes() == original
    assert T.package_checksum(WARP_DIR) == before
    # the copy imports as ``warp`` from its parent directory, not the installed package
    out = subprocess.run([sys.executable, "-c", "import warp; print(warp.__file__)"], cwd=tmp_path,
                         capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert Path(out.stdout.strip()).resolve().parent == copy.resolve()


def test_the_checksum_sees_a_changed_byte(tmp_path):
    (tmp_path / "a").write_bytes(b"x")
    first = T.package_checksum(tmp_path)
    (tmp_path / "a").write_bytes(b"y")
    assert T.package_checksum(tmp_path) != first


def test_two_gross_faults_are_killed_end_to_end(tmp_path):
    """float ``+`` and ``*`` badly wrong: nearly every generated kernel mismatches, so the fuzzer finds
    both in its first batches (about 10 s each on an idle machine). The run stops at the first
    Warp-failure line (``--stop-at-kill``), so the generous budget only matters on a loaded machine
    (CI's other test worker shares the cores: 20 s was once not enough there)."""
    out = tmp_path / "faults.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/faults.py", "--faults", "float-add-off-by-one,float-mul-scaled",
         "--budget-s", "150", "--stop-at-kill", "--no-control", "--shrink-allowance-s", "60",
         "--fuzz-args", "--batch-size 2 --no-nvrtc", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=700)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    results = json.loads(out.read_text())
    for fid in ("float-add-off-by-one", "float-mul-scaled"):
        entry = results["faults"][fid]
        assert entry["probe"]["status"] == "active", entry
        assert entry["fuzz"]["killed"], entry
        assert set(entry["fuzz"]["kinds"]) <= {"mismatch", "gradient-mismatch"} and entry["fuzz"]["kinds"], entry
    assert "installed Warp unchanged" in proc.stdout
