"""Executable tests per record (the ``tests`` section) and the judge of candidate translations
(harness.check_translation): a record's own code passes, a wrong line fails, in Python and in C++."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.check_translation import check, compare, decode, encode
from harness.store.corpus import validate_record
from harness.pipeline import Options, verify_batch

from test_kernels_verify import _fixed

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_launch_values_survive_encoding():
    structured = np.zeros(4, dtype=[("x", np.float32), ("v", np.float64, (3,)), ("i", np.int16)])
    structured["x"] = [1.5, -0.0, 2.25, np.inf]
    structured["v"][2] = [1, 2, 3]
    structured["i"] = [-3, 4, 32767, -32768]
    values = {"a": np.arange(6, dtype=np.float16).reshape(2, 3) - 2.5, "s": structured, "p": 0.75, "n": np.int64(-7),
              "st": {"m": np.eye(3, dtype=np.float32), "k": 3}, "b": np.array([True, False])}
    back = {k: decode(json.loads(json.dumps(encode(v)))) for k, v in values.items()}
    assert back["a"].dtype == np.float16 and np.array_equal(back["a"], values["a"])
    assert back["s"].dtype.names == ("x", "v", "i")
    for f in ("x", "v", "i"):
        assert np.array_equal(back["s"][f], structured[f])
    assert np.signbit(back["s"]["x"][1])
    assert back["p"] == 0.75 and type(back["p"]) is float
    assert back["n"] == -7 and back["n"].dtype == np.int64
    assert np.array_equal(back["st"]["m"], np.eye(3)) and back["st"]["k"] == 3
    assert back["b"].dtype == np.bool_ and back["b"].tolist() == [True, False]


def test_outputs_compare_exactly_for_ints_and_within_ulps_for_floats():
    e = {"f": np.array([1.0, np.nan, 0.0], dtype=np.float32), "i": np.array([1, 2], dtype=np.int32)}
    one_ulp = np.nextafter(np.float32(1.0), np.float32(2.0))
    assert compare(e, {"f": np.array([one_ulp, np.nan, 0.0], dtype=np.float32), "i": np.array([1, 2], dtype=np.int32)}) == []
    assert compare(e, {"f": np.array([1.001, np.nan, 0.0], dtype=np.float32), "i": np.array([1, 2], dtype=np.int32)})
    assert compare(e, {"f": e["f"], "i": np.array([1, 3], dtype=np.int32)}) == ["i[1]: 3, expected 2"]
    assert compare(e, {"f": e["f"]}) == ["i: missing from the candidate's outputs"]


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    k = _fixed("k_t", "y = a[tid] * 2.0\nif y > 0.5:\n    y = wp.sin(y)\nout[tid] = y\n")
    r = verify_batch([k], tmp_path_factory.mktemp("ct"), Options(nvrtc=False)).results[0]
    assert r.verdict == "accepted", r.reason
    return r.record


def test_a_record_carries_its_verified_inputs_and_outputs(record):
    assert validate_record(record) == []
    tests = record["tests"]
    assert tests["input_seed"] == record["verification"]["input_seed"]
    a, out = decode(tests["inputs"]["a"]), decode(tests["outputs"]["out"])
    y = a.astype(np.float32) * np.float32(2.0)
    assert np.allclose(out, np.where(y > 0.5, np.sin(y), y), rtol=1e-6)


def test_the_records_own_code_passes_and_a_wrong_line_fails(record, tmp_path):
    python, cpp = record["python_source"], record["cpu_forward"]
    assert check(record, python, "python", tmp_path / "p").passed
    wrong = check(record, python.replace("wp.sin(y)", "wp.cos(y)"), "python", tmp_path / "p")
    assert wrong.ran and not wrong.passed and wrong.problems
    assert check(record, cpp, "cpu_forward", tmp_path / "c").passed
    assert "wp::sin(" in cpp
    wrong = check(record, cpp.replace("wp::sin(", "wp::cos(", 1), "cpu_forward", tmp_path / "c")
    assert wrong.ran and not wrong.passed and wrong.problems
    broken = check(record, cpp.replace("wp::sin(", "wp::no_such_function(", 1), "cpu_forward", tmp_path / "c")
    assert not broken.ran and not broken.passed and "does not build" in broken.problems[0]


def test_the_command_line_exits_0_on_a_match_and_1_on_a_difference(record, tmp_path):
    (tmp_path / "r.json").write_text(json.dumps(record))
    (tmp_path / "good.cpp").write_text(record["cpu_forward"])
    (tmp_path / "bad.cpp").write_text(record["cpu_forward"].replace("wp::sin(", "wp::cos(", 1))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "harness.check_translation", *args], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=600)

    good = run("--record", str(tmp_path / "r.json"), "--candidate", str(tmp_path / "good.cpp"), "--kind", "cpu_forward")
    assert good.returncode == 0 and good.stdout.startswith("PASS"), good.stdout + good.stderr
    bad = run("--record", str(tmp_path / "r.json"), "--candidate", str(tmp_path / "bad.cpp"), "--kind", "cpu_forward")
    assert bad.returncode == 1 and bad.stdout.startswith("FAIL") and "expected" in bad.stdout
    usage = run("--record", str(tmp_path / "r.json"), "--candidate", str(tmp_path / "bad.cpp"), "--kind", "ptx")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1


def test_a_cuda_candidate_is_compiled_with_nvrtc_and_run_only_on_a_gpu(record, tmp_path):
    from harness.warp_side import warp_adapter as W

    cuda = record["cuda_forward"]
    good = check(record, cuda, "cuda_forward", tmp_path / "g")
    if not W.cuda_available():
        assert good.passed and not good.ran and "not run (no GPU)" in good.note
    broken = check(record, cuda.replace("wp::sin(", "wp::no_such_function(", 1), "cuda_forward", tmp_path / "b")
    assert not broken.passed and "does not compile with NVRTC" in broken.problems[0]
