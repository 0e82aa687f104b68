"""Tests for harness.report: reproducer scripts, literal encoding, Markdown and the report store.

The reproducer tests run the rendered script in a child process with its own Warp kernel cache,
shared by this module's tests so that the one tiny kernel is compiled only once.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.report import (
    Failure,
    KernelArg,
    ReportWriter,
    array_literal,
    failure_signature,
    render_markdown,
    render_reproducer,
)

DOUBLE_SOURCE = """\
import warp as wp

@wp.kernel
def double_it(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    out[i] = a[i] * 2.0
"""

# The same kernel with every identifier renamed: the same bug.
RENAMED_SOURCE = """\
import warp as wp

@wp.kernel
def kernel_17(x: wp.array(dtype=wp.float32), y: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    y[tid] = x[tid] * 2.0
"""

INPUT = np.array([1.5, -0.25, 3.0, 1.0 / 3.0], dtype=np.float32)


def double_failure(**changes) -> Failure:
    """The tiny kernel, with a wrong reference for out[2] unless ``changes`` say otherwise."""
    failure = Failure(
        kind="mismatch",
        kernel_name="double_it",
        module_source=DOUBLE_SOURCE,
        dim=len(INPUT),
        args=[
            KernelArg("a", "array", "float32", INPUT.copy()),
            KernelArg("out", "array", "float32", np.zeros(len(INPUT), np.float32), is_output=True),
        ],
        expected={"out": wrong_expected()},
        actual={"out": INPUT * np.float32(2.0)},
        tolerance={"rtol": 1e-6, "atol": 1e-6},
        message="out[2] is 6.0 but the NumPy reference gives 7.0.",
        warp_version="1.19.0",
        detail="out = a * 2.0, evaluated elementwise in float32 by NumPy.",
        seed=1234,
    )
    return dataclasses.replace(failure, **changes)


def wrong_expected() -> np.ndarray:
    expected = INPUT * np.float32(2.0)
    expected[2] += np.float32(1.0)  # deliberately wrong: the "bug" is in our reference
    return expected


@pytest.fixture(scope="module")
def run_script(tmp_path_factory):
    """Run a reproducer text as a script in a fresh process; return the CompletedProcess."""
    cache = tmp_path_factory.mktemp("warp-cache")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["WARP_CACHE_PATH"] = str(cache)

    def run(script: str, tmp_path):
        path = tmp_path / "repro.py"
        path.write_text(script, encoding="utf-8")
        return subprocess.run(
            [sys.executable, str(path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


# --------------------------------------------------------------------------- reproducer, end to end


def test_reproducer_fails_and_shows_the_differing_element(run_script, tmp_path):
    result = run_script(render_reproducer(double_failure()), tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["out[2]", "7.0", "6.0"] in lines  # element, expected, actual
    assert not any(line and line[0] in ("out[0]", "out[1]", "out[3]") for line in lines)
    assert "not reproduced" not in result.stdout


def test_reproducer_passes_when_warp_agrees(run_script, tmp_path):
    failure = double_failure(expected={"out": INPUT * np.float32(2.0)})
    result = run_script(render_reproducer(failure), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not reproduced" in result.stdout


def test_reproducer_judges_each_element_by_its_own_allowed_deviation(run_script, tmp_path):
    """The harness allows each element its own deviation: the reproducer applies the same, not the largest one
    (a 10-minute fuzz report with one global atol of 17 did not reproduce a 4e-6 deviation allowed 3e-6)."""
    expected = INPUT * np.float32(2.0)
    expected[1] += np.float32(0.25)  # out[1] off by 0.25: allowed 1e-6 there, while out[0] may move by 10
    allowed = np.array([10.0, 1e-6, 1e-6, 1e-6])
    failure = double_failure(expected={"out": expected}, tolerance={"rtol": 0.0, "atol": 10.0,
                                                                   "allowed": {"out": allowed}})
    result = run_script(render_reproducer(failure), tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert ["out[1]", "-0.25", "-0.5"] in [line.split() for line in result.stdout.splitlines()]
    report = render_markdown(failure, "(diagnostics)")
    assert "`out[1]`" in report and "`out[0]`" not in report
    roomy = double_failure(expected={"out": expected}, tolerance={"rtol": 0.0, "atol": 10.0,
                                                                 "allowed": {"out": np.full(4, 0.5)}})
    assert run_script(render_reproducer(roomy), tmp_path).returncode == 0


def test_gradient_reproducer_compares_input_gradients(run_script, tmp_path):
    wrong = np.full(len(INPUT), 2.0, np.float32)
    wrong[1] = 3.0
    failure = double_failure(
        kind="gradient-mismatch", expected={"a.grad": wrong}, actual={"a.grad": np.full(4, 2.0)}
    )
    result = run_script(render_reproducer(failure), tmp_path)
    assert result.returncode != 0, result.stdout + result.stderr
    assert ["a.grad[1]", "3.0", "2.0"] in [line.split() for line in result.stdout.splitlines()]


def test_compile_error_reproducer_exits_nonzero_while_the_build_fails(run_script, tmp_path):
    broken = DOUBLE_SOURCE.replace("a[i] * 2.0", "a[i] * no_such_name")
    failure = double_failure(kind="compile-error", module_source=broken, expected={}, actual={})
    result = run_script(render_reproducer(failure), tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no_such_name" in result.stderr


ROUND_TRIP_SOURCE = """\
import warp as wp

@wp.kernel
def pass_through(
    f: wp.array(dtype=wp.float32),
    n: wp.array(dtype=wp.int32),
    v: wp.array(dtype=wp.vec3),
    s: float,
    k: int,
    f_out: wp.array(dtype=wp.float32),
    n_out: wp.array(dtype=wp.int32),
    v_out: wp.array(dtype=wp.vec3),
):
    i = wp.tid()
    f_out[i] = f[i]
    n_out[i] = n[i] + k
    v_out[i] = v[i] * s
"""


def test_awkward_inputs_reach_the_kernel_unchanged(run_script, tmp_path):
    f = np.array([1e-45, -0.0, 1.0 / 3.0, 3.4028235e38], dtype=np.float32)
    n = np.array([-(2**31), 2**31 - 1, 0, -1], dtype=np.int32)
    v = np.array(
        [[1e-40, -0.0, 0.1], [1e30, -1e30, 7.0], [0.0, 1.0, 2.0], [np.pi, np.e, 1.0 / 3.0]], np.float32
    )
    failure = Failure(
        kind="mismatch",
        kernel_name="pass_through",
        module_source=ROUND_TRIP_SOURCE,
        dim=4,
        args=[
            KernelArg("f", "array", "float32", f),
            KernelArg("n", "array", "int32", n),
            KernelArg("v", "array", "vec3", v),
            KernelArg("s", "scalar", "float32", 1.0),
            KernelArg("k", "scalar", "int32", 0),
            KernelArg("f_out", "array", "float32", np.full(4, np.nan, np.float32), is_output=True),
            KernelArg("n_out", "array", "int32", np.full(4, 7, np.int32), is_output=True),
            KernelArg("v_out", "array", "vec3", np.zeros((4, 3), np.float32), is_output=True),
        ],
        expected={"f_out": f, "n_out": n, "v_out": v},
        actual={},
        tolerance={"rtol": 0.0, "atol": 0.0},
        message="",
        warp_version="1.19.0",
    )
    result = run_script(render_reproducer(failure), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not reproduced" in result.stdout


# --------------------------------------------------------------------------- literals


def round_trip(value: np.ndarray) -> np.ndarray:
    return eval(array_literal(value), {"np": np})


def assert_identical(back: np.ndarray, value: np.ndarray) -> None:
    assert back.dtype == value.dtype
    assert back.shape == value.shape
    assert back.tobytes() == value.tobytes()


@pytest.mark.parametrize(
    "value",
    [
        np.array([1e-45, -1e-45, 1.1754942e-38, -0.0, 0.0, 1.0 / 3.0, 0.1, 3.4028235e38, -3.4028235e38,
                  16777217.0, np.inf, -np.inf, np.nan], dtype=np.float32),
        np.array([-(2**31), 2**31 - 1, 0, -1], dtype=np.int32),
        np.array([[1e-40, -0.0, 1.0 / 3.0], [np.nan, np.inf, -1e30]], dtype=np.float32),  # vec3
        np.array([True, False, True]),
        np.array([1.0 / 3.0, 5e-324, -0.0, 1e308]),  # float64 references
        np.zeros((0, 3), np.float32),
        np.arange(1000, dtype=np.float32) / np.float32(7),  # long: wrapped over many lines
    ],
    ids=["float32", "int32", "vec3", "bool", "float64", "empty-vec3", "long"],
)
def test_array_literals_round_trip_exactly(value):
    assert_identical(round_trip(value), value)


def test_nan_payloads_are_kept_as_bits():
    value = np.array([0x7FC00001, 0xFFC00000, 0x3F800000], dtype=np.uint32).view(np.float32)
    assert_identical(round_trip(value), value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6))
def test_any_float32_bit_pattern_round_trips(bits):
    value = np.array(bits, dtype=np.uint32).view(np.float32)
    assert_identical(round_trip(value), value)


def test_scalar_arguments_are_exact_python_literals():
    failure = double_failure(
        args=[
            KernelArg("a", "array", "float32", INPUT),
            KernelArg("s", "scalar", "float32", 0.1),
            KernelArg("m", "scalar", "int32", -(2**31)),
            KernelArg("w", "scalar", "vec3", (1.0 / 3.0, -0.0, 1e-45)),
            KernelArg("out", "array", "float32", np.zeros(4, np.float32), is_output=True),
        ],
    )
    script = render_reproducer(failure)
    assert "inputs=[a, 0.1, -2147483648, wp.vec3(0.3333333333333333, -0.0, 1e-45), out]" in script


# --------------------------------------------------------------------------- script shape


def test_reproducer_imports_only_numpy_and_warp():
    tree = ast.parse(render_reproducer(double_failure()))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported == {"numpy", "warp"}


def test_reproducer_embeds_the_kernel_verbatim_at_top_level():
    script = render_reproducer(double_failure())
    assert DOUBLE_SOURCE.strip() in script
    top_level = {node.name for node in ast.parse(script).body if isinstance(node, ast.FunctionDef)}
    assert "double_it" in top_level
    assert "wp.launch(double_it, dim=4, inputs=[a, out], device=\"cpu\")" in script


def test_parameter_names_that_clash_with_the_script_are_renamed():
    source = DOUBLE_SOURCE.replace("a:", "expected:").replace("a[i]", "expected[i]")
    source = source.replace("out:", "main:").replace("out[i]", "main[i]")
    failure = double_failure(
        module_source=source,
        args=[
            KernelArg("expected", "array", "float32", INPUT),
            KernelArg("main", "array", "float32", np.zeros(4, np.float32), is_output=True),
        ],
        expected={"main": wrong_expected()},
    )
    script = render_reproducer(failure)
    compile(script, "repro.py", "exec")
    assert "inputs=[expected_, main_]" in script
    assert '"main": main_.numpy()' in script


def test_nvrtc_reproducer_uses_the_architecture_named_in_the_log():
    failure = double_failure(kind="nvrtc-error", expected={}, actual={}, detail="NVRTC error for sm_86: ...")
    script = render_reproducer(failure)
    assert "wp.compile_aot_module(__name__, arch=86, use_ptx=True)" in script


def test_an_nvrtc_error_met_with_minus_g_is_reproduced_in_warps_debug_mode():
    from harness.report import NVRTC_DEBUG

    plain = render_reproducer(double_failure(kind="nvrtc-error", expected={}, actual={}, message="NVRTC error"))
    assert "wp.config.mode" not in plain
    failure = double_failure(kind="nvrtc-error", expected={}, actual={}, message=f"{NVRTC_DEBUG} NVRTC error")
    script = render_reproducer(failure)
    compile(script, "repro.py", "exec")
    body = script[script.index("def main():"):]
    assert body.index('wp.config.mode = "debug"') < body.index("wp.compile_aot_module(")


def test_module_options_are_applied_in_the_script():
    failure = double_failure(module_options={"optimization_level": 0})
    assert 'wp.set_module_options({"optimization_level": 0})' in render_reproducer(failure)


# --------------------------------------------------------------------------- Markdown


def test_markdown_follows_warps_bug_template():
    failure = double_failure()
    diagnostics = "Software\n  Warp (package):   1.19.0\n  Platform:         test-platform"
    text = render_markdown(failure, diagnostics)
    lines = text.splitlines()

    assert lines[0].startswith("**Suggested title:** [BUG] ")
    assert "### Bug Description" in lines and "### System Information" in lines
    assert lines.index("### Bug Description") < lines.index("### System Information")
    assert render_reproducer(failure) in text
    assert "```python\n" in text
    assert diagnostics in text
    assert "warp.print_diagnostics()" in text
    assert "1.19.0" in text.split("### System Information")[1]
    assert "| `out[2]` | 7.0 | 6.0 | 1.0 |" in lines  # expected vs actual
    assert failure.detail in text
    assert sum("fuzzer" in line for line in lines if not line.startswith("#")) == 1


def test_markdown_fences_survive_backticks_in_logs():
    failure = double_failure(kind="crash", expected={}, actual={}, detail="log:\n```\nboom\n```")
    text = render_markdown(failure, "diag")
    assert "````text\nlog:\n```\nboom\n```\n````" in text


# --------------------------------------------------------------------------- signatures and the store


def renamed_failure() -> Failure:
    return double_failure(
        kernel_name="kernel_17",
        module_source=RENAMED_SOURCE,
        args=[
            KernelArg("x", "array", "float32", INPUT),
            KernelArg("y", "array", "float32", np.zeros(4, np.float32), is_output=True),
        ],
        expected={"y": wrong_expected()},
        seed=99,
    )


def test_signature_ignores_identifier_names_but_not_the_kind():
    original = double_failure()
    signature = failure_signature(original)
    assert len(signature) == 16 and int(signature, 16) >= 0
    assert failure_signature(renamed_failure()) == signature
    assert failure_signature(dataclasses.replace(original, kind="gradient-mismatch")) != signature
    changed = DOUBLE_SOURCE.replace("* 2.0", "* 3.0")
    assert failure_signature(dataclasses.replace(original, module_source=changed)) != signature


def test_build_error_signature_masks_paths_numbers_and_names():
    first = double_failure(
        kind="compile-error",
        message='Error while parsing function "double_it" at /tmp/a/k1.py:6: bad operand i of type 0x7f3a',
    )
    same = dataclasses.replace(
        renamed_failure(),
        kind="compile-error",
        message='Error while parsing function "kernel_17" at /home/b/k22.py:61: bad operand tid of type 0x11',
    )
    other = dataclasses.replace(first, message="Error while parsing function: unsupported type")
    assert failure_signature(first) == failure_signature(same)
    assert failure_signature(first) != failure_signature(other)


def test_writer_stores_each_bug_once_across_runs(tmp_path):
    calls = []

    def diagnostics():
        calls.append(1)
        return "DIAGNOSTICS TEXT"

    writer = ReportWriter(tmp_path / "reports", diagnostics)
    assert calls == []  # lazy

    failure = double_failure()
    written = writer.write(failure)
    assert written == tmp_path / "reports" / failure_signature(failure)
    assert sorted(p.name for p in written.iterdir()) == ["failure.json", "report.md", "repro.py"]
    summary = json.loads((written / "failure.json").read_text())
    assert summary == {
        "signature": failure_signature(failure),
        "kind": "mismatch",
        "kernel_name": "double_it",
        "message": failure.message,
        "seed": 1234,
        "warp_version": "1.19.0",
    }
    assert (written / "repro.py").read_text() == render_reproducer(failure)
    assert "DIAGNOSTICS TEXT" in (written / "report.md").read_text()

    assert writer.write(failure) is None
    assert writer.write(renamed_failure()) is None  # same bug, other names

    later = ReportWriter(tmp_path / "reports", diagnostics)  # a new run
    assert later.write(renamed_failure()) is None
    other = later.write(dataclasses.replace(failure, kind="gradient-mismatch", expected={}, actual={}))
    assert other is not None and other != written

    assert len(calls) == 2  # once per writer that wrote something
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == sorted([written.name, other.name])
