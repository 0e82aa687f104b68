"""The cross-release differential (harness.warp_side.against, harness.warp_side.companion, ``harness.fuzz --against``).

The companion runs the installed release here (a control: every output identical) and, through
``WARPSMITH_COMPANION_HOOK``, a "release" that computes something else, which the pipeline must report: as a
``release-mismatch`` where the main release passed the reference, as a ``release-difference`` where the
reference could not decide. With ``WARPSMITH_OLD_WARP`` set (CI), a batch is also compared with that release.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import releases as R
from harness.generate import draw_kernels
from harness.pipeline import Options, verify_batch
from harness.report import render_reproducer
from harness.warp_side import against as A
from harness.worker import batch_seed

ROOT = Path(__file__).resolve().parent.parent
HERE = R.installed_version()
OLD_WARP = os.environ.get("WARPSMITH_OLD_WARP")


def _kernels(n=6, seed=3):
    return draw_kernels(batch_seed(seed, 0), n)


def test_frames_carry_arrays_scalars_and_structured_arrays_as_bytes():
    import io
    import pickle

    from harness.frames import read_frame, write_frame

    value = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.float16(1.5), "c": [np.int64(-3), 2.0],
             "s": np.zeros(2, dtype=[("x", "<f4"), ("v", "<f4", (3,))]), "t": ("ok", {"n": np.array([True])})}
    buf = io.BytesIO()
    write_frame(buf, value)
    payload = buf.getvalue()[4:]
    assert b"numpy._core" not in payload and b"numpy.core" not in payload  # no NumPy pickles: any NumPy reads it
    buf.seek(0)
    back = read_frame(buf)
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], value["a"])
    assert type(back["b"]) is np.float16 and back["b"] == 1.5
    assert type(back["c"][0]) is np.int64 and back["c"][0] == -3
    assert back["s"].dtype == value["s"].dtype and back["t"][1]["n"].dtype == np.bool_
    assert read_frame(io.BytesIO(b"")) is None
    assert pickle.loads(payload)["a"].flags.writeable  # copies, not views of the frame


def test_a_release_computing_something_else_is_reported(tmp_path, monkeypatch):
    """A companion whose float outputs are off by 1e-3 (relative): every kernel that matched here and has a
    nonzero float output becomes a release-mismatch, named after the other release; its reproducer, run on the
    installed (right) release, does not reproduce."""
    monkeypatch.setenv("WARPSMITH_COMPANION_HOOK", "tests.fault_hooks:scale_floats")
    monkeypatch.setattr(A, "_companions", {})  # a companion started with the hook
    try:
        result = verify_batch(_kernels(8, seed=5), tmp_path / "w", Options(nvrtc=False, against=HERE))
    finally:
        A.close_all()
    kinds = [f.kind for f in result.extra_failures]
    assert result.against.get("release-mismatch", 0) >= 2, result.against
    assert kinds.count("release-mismatch") == result.against["release-mismatch"]
    f = next(f for f in result.extra_failures if f.kind == "release-mismatch")
    assert f.warp_version == HERE and "passes the same comparison" in f.message
    script = tmp_path / "repro.py"
    script.write_text(render_reproducer(f))
    run = R.run_repro(script)
    assert run.outcome == "fixed", (run.stdout, run.stderr)  # the installed release computes the expected values


def test_a_difference_where_the_reference_cannot_decide_is_a_release_difference(tmp_path):
    """The decision table's third row, directly: a screened kernel whose other-release output differs."""
    from harness.oracle.inputs import make_inputs
    from harness.pipeline import KernelResult, _against_stage

    k = next(k for k in _kernels(6) if not any(p.struct for p in k.params))
    values = make_inputs(k.params, k.dim, 1)
    main_out = {p.name: np.array(values[p.name]) for p in k.params if p.is_output}
    other = {n: (v + 1 if v.dtype.kind == "f" else ~v if v.dtype.kind == "b" else v ^ 1) for n, v in main_out.items()}
    first = next(iter(main_out))

    class _Fake:
        def run(self, request, options, timeout=0):
            return {name: ("ok", other) for name, *_ in request}

    launched = {k.name: (7, values, main_out, "ill-conditioned")}
    results = {k.name: KernelResult(k, "screened", "non-finite outputs")}
    extra: list = []
    saved = A._companions.get("9.9.9")
    A._companions["9.9.9"] = _Fake()
    try:
        counts = _against_stage([k], Options(against="9.9.9"), launched, results, extra)
    finally:
        A._companions.pop("9.9.9")
        if saved is not None:
            A._companions["9.9.9"] = saved
    assert counts == {"release-difference": 1}
    (f,) = extra
    assert f.kind == "release-difference" and f.warp_version == "9.9.9" and "non-finite outputs" in f.detail
    assert np.array_equal(f.expected[first], main_out[first]) and np.array_equal(f.actual[first], other[first])
    assert "bug reproduced" in render_reproducer(f)


def test_fuzz_against_the_installed_release_runs_end_to_end(tmp_path):
    """``harness.fuzz --against`` on the command line, the installed release as the other one: a control run
    that compares every launched kernel, finds them identical (bit for bit) and reports nothing."""
    env = {k: v for k, v in os.environ.items() if k not in ("WARPSMITH_WORKER_HOOK", "WARPSMITH_COMPANION_HOOK")}
    run = subprocess.run([sys.executable, "-m", "harness.fuzz", "--budget-s", "40", "--workers", "1",
                          "--batch-size", "4", "--seed", "2", "--quiet", "--no-differential", "--against", HERE,
                          "--reports", str(tmp_path / "r")], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads((tmp_path / "r" / "fuzz_summary.json").read_text())
    against = summary["against"]
    assert against["release"] == HERE and against.get("identical", 0) >= 1, against
    assert set(against) <= {"release", "identical", "examples"}, against
    assert f"against {HERE}: " in run.stdout


def test_fuzz_against_rejects_a_malformed_release_in_one_line():
    run = subprocess.run([sys.executable, "-m", "harness.fuzz", "--budget-s", "5", "--against", "latest"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "fuzz: error: --against takes a warp-lang release number such as 1.10.0, not 'latest'"]


@pytest.mark.skipif(not OLD_WARP, reason="WARPSMITH_OLD_WARP names no older release to compare with")
def test_an_older_release_is_compared_batch_by_batch(tmp_path):
    """A batch compared with an older release (CI: 1.10.0): every kernel gets an outcome, and what the older
    release lacks is counted as a build error, never reported."""
    missing = A.check_release(OLD_WARP)
    kernels = [k for k in _kernels(8, seed=11) if not (set(missing) & _rows(k))]
    result = verify_batch(kernels, tmp_path, Options(nvrtc=False, against=OLD_WARP))
    A.close_all()
    launched = sum(1 for r in result.results if r.verdict in ("accepted", "screened"))
    outcomes = {k: v for k, v in result.against.items() if k != "examples"}
    assert sum(outcomes.values()) >= launched >= 3, result.against
    assert "unavailable" not in outcomes, result.against
    assert all(f.kind.startswith("release-") and f.warp_version == OLD_WARP for f in result.extra_failures)


def _rows(k) -> set[str]:
    from harness.oracle.reference import rows_used

    return rows_used(k.kernel_source)


class _Handwritten:
    """What harness.warp_side.against.nan_conventions reads of a kernel."""

    def __init__(self, body: str):
        from strategies.kernels import ParamSpec

        self.kernel_source = ("@wp.kernel\ndef k(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):\n"
                              f"    tid = wp.tid()\n    out[tid] = {body}\n")
        self.params = (ParamSpec("a", "array", "float32", "input", -1.0, 1.0, (4,)),
                       ParamSpec("out", "array", "float32", "output", 0.0, 0.0, (4,)))
        self.dim = 4


def test_nan_conventions_are_what_the_reference_cannot_decide_between_releases():
    """min/max/clamp/sign on a NaN, and smoothstep with equal edges, are each release's choice: the decision table
    turns such a difference into a release-difference; other rows, and finite operands, are not conventions."""
    finite = {"a": np.array([0.5, -0.25, 1.0, 0.0], dtype=np.float32), "out": np.zeros(4, dtype=np.float32)}
    with_nan = {**finite, "a": np.array([0.5, np.nan, 1.0, 0.0], dtype=np.float32)}
    assert A.nan_conventions(_Handwritten("wp.smoothstep(a[tid], a[tid], 1.0)"), finite) == {"smoothstep"}
    assert A.nan_conventions(_Handwritten("wp.smoothstep(0.0, 1.0, a[tid])"), finite) == set()
    assert A.nan_conventions(_Handwritten("wp.min(a[tid], 2.0) + wp.sin(a[tid])"), finite) == set()
    assert A.nan_conventions(_Handwritten("wp.min(a[tid], 2.0) + wp.sin(a[tid])"), with_nan) == {"min"}
    assert A.nan_conventions(_Handwritten("wp.clamp(a[tid] / a[tid], 0.0, 1.0)"), finite) == {"clamp"}  # 0/0
