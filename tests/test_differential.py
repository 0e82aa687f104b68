"""Differential oracles (harness.warp_side.differential): a variant build of the same batch against the main build."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import libcst as cst
import numpy as np
import pytest

from harness.warp_side import differential as D
from harness import pipeline
from harness.warp_side import warp_adapter as W
from harness.report import render_markdown, render_reproducer
from strategies import GeneratedKernel, ParamSpec

DIM = 8
A = ParamSpec("a", "array", "float32", "input", -2.0, 2.0, (DIM,))
OUT = ParamSpec("out", "array", "float32", "output", -2.0, 2.0, (DIM,))


def _kernel(name="kd") -> GeneratedKernel:
    source = textwrap.dedent(f"""\
        @wp.kernel
        def {name}(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
            tid = wp.tid()
            s = wp.float32(0.0)
            for i in range(3):
                s = s + a[tid] * wp.float32(0.5)
            out[tid] = s
        """)
    return GeneratedKernel(name, cst.parse_statement(source), (A, OUT), (), DIM)


def _inject(monkeypatch, variant: str):
    """Perturb one output element of launches on the variant build only (bitwise: a sign flip of zero-free
    value, or one ulp)."""
    real = pipeline.run_warp
    flags = D.VARIANTS[variant].options

    def fake(module, k, values, device="cpu"):
        out = real(module, k, values, device)
        if getattr(module, "_warpsmith_variant", False):
            out["out"] = out["out"].copy()
            out["out"][3] = np.nextafter(out["out"][3], np.float32(np.inf)) * np.float32(1.5) + np.float32(1)
        return out

    real_set = W.set_module_options

    def mark(pymodule, **kw):
        if any(kw.get(key) == val for key, val in flags.items()):
            pymodule._warpsmith_variant = True
        real_set(pymodule, **kw)

    monkeypatch.setattr(pipeline, "run_warp", fake)
    monkeypatch.setattr(W, "set_module_options", mark)


@pytest.mark.parametrize("variant", ["nobackward", "unroll0", "debug", "opt2"])
def test_each_variant_reports_an_injected_difference_with_both_outputs(variant, tmp_path, monkeypatch):
    _inject(monkeypatch, variant)
    result = pipeline.verify_batch([_kernel()], tmp_path, pipeline.Options(nvrtc=False, differential=(variant,)))
    (r,) = result.results
    assert r.verdict == "warp-bug", r.reason
    assert r.failure.kind == f"differential-{variant}"
    assert not np.array_equal(r.failure.expected["out"], r.failure.actual["out"])
    md = render_markdown(r.failure, "diagnostics")
    assert "differential" in md and str(r.failure.variant_options) in md


def test_a_clean_batch_has_no_differential_failure(tmp_path):
    for variant in ("nobackward", "unroll0"):
        result = pipeline.verify_batch([_kernel()], tmp_path, pipeline.Options(nvrtc=False, differential=(variant,)))
        assert [r.verdict for r in result.results] == ["accepted"], [r.reason for r in result.results]
        assert "differential" in result.timings


def test_rotation_by_batch_index_and_by_content():
    names = ("opt2", "debug", "unroll0")
    assert [D.choose(names, i, "") for i in range(4)] == ["opt2", "debug", "unroll0", "opt2"]
    assert D.choose(names, None, "abc") == D.choose(names, None, "abc")
    assert D.choose((), 0, "") is None
    with pytest.raises(ValueError):
        D.choose(("nope",), 0, "")


def test_identical_is_bitwise():
    assert D.identical(np.array([np.nan], np.float32), np.array([np.nan], np.float32))
    assert not D.identical(np.array([0.0], np.float32), np.array([-0.0], np.float32))


def test_cuda_variant_skips_cleanly_without_a_gpu(tmp_path, capsys):
    if W.cuda_available():
        pytest.skip("a CUDA device is present: the variant runs instead of skipping")
    result = pipeline.verify_batch([_kernel()], tmp_path, pipeline.Options(nvrtc=False, differential=("cuda",)))
    assert [r.verdict for r in result.results] == ["accepted"]
    assert "differential" not in result.timings
    D._skipped_said.discard("cuda")
    assert not D.available("cuda")
    assert "skipped: no CUDA device" in capsys.readouterr().err


def test_the_reproducer_builds_twice_and_fails_while_the_builds_differ(tmp_path, monkeypatch):
    _inject(monkeypatch, "unroll0")
    result = pipeline.verify_batch([_kernel()], tmp_path, pipeline.Options(nvrtc=False, differential=("unroll0",)))
    failure = result.results[0].failure
    script = render_reproducer(failure)
    assert script.count("wp.set_module_options(") == 2
    env = {**os.environ, "WARP_CACHE_PATH": str(tmp_path / "cache")}
    repro = tmp_path / "repro.py"
    # Warp's two builds agree (the difference was injected): the script says so and exits 0
    repro.write_text(script)
    run = subprocess.run([sys.executable, str(repro)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0 and "not reproduced" in run.stdout, run.stdout + run.stderr
    # a real difference between the two configurations (the kernel reads max_unroll's effect through a
    # fake: the second build's output is perturbed in the script) is reported with exit status 1
    broken = script.replace("    return actual", "    if device == 'cpu' and wp.get_module_options().get('max_unroll') == 0:\n"
                            "        actual['out'][3] += 1\n    return actual")
    repro.write_text(broken)
    run = subprocess.run([sys.executable, str(repro)], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 1 and "out[3]" in run.stdout, run.stdout + run.stderr


def test_the_forward_only_split_keeps_verdicts_and_records(tmp_path):
    from harness.generate import draw_kernels

    batch = draw_kernels(3, 6) + [_kernel("kd_int")]
    together = pipeline.verify_batch(batch, tmp_path / "a", pipeline.Options(nvrtc=False))
    split = pipeline.verify_batch(batch, tmp_path / "b", pipeline.Options(nvrtc=False, backward_split=True))
    assert [r.verdict for r in split.results] == [r.verdict for r in together.results]

    def strip(record):
        """The record without its time stamp and with Warp's per-build instance number of a helper function
        (``<helper>_0`` vs ``<helper>_1``: Warp numbers a @wp.func's generated instances per module load, and the
        forward-only module is loaded once more before its code generation): the only difference measured."""
        return {key: re.sub(r"(_f\d+)_\d+\b", r"\1_N", value) if isinstance(value, str) else value
                for key, value in (record or {}).items() if key != "created_at"}

    assert [strip(r.record) for r in split.results] == [strip(r.record) for r in together.results]
    assert any(r.record and r.record["cpu_backward"] for r in split.results)
