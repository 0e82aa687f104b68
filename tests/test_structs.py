"""User ``@wp.struct`` types: reachability of every struct construct, the reference's struct semantics,
and one struct kernel end to end (verified by real Warp; a corrupted struct field is reported; the bug
reproducer builds the struct arguments and runs standalone)."""

from __future__ import annotations

import os
import subprocess
import sys

import libcst as cst
import numpy as np
import pytest
from hypothesis import find, settings
from hypothesis.errors import NoSuchExample

from grammar.policy import Policy
from grammar.types import FLOAT32, INT32, MAT22, VEC3, Array, Struct
from harness import pipeline
from harness.warp_side import warp_adapter as W
from harness.store.canonical import canonical_id
from harness.coverage import STRUCT_CONSTRUCTS, struct_census
from harness.oracle.inputs import make_inputs
from harness.report import render_reproducer
from harness.oracle.reference import run_reference
from strategies import GeneratedKernel, ParamSpec, kernels

from reach import SEARCH, reach

#: kernels that nearly always declare struct types, with more struct statements than by default
STRUCTS = Policy(struct_odds=(1, 3, 3), struct_array_field_odds=1, statement_weights=tuple(
    (kind, {"struct": 3, "field": 6}.get(kind, w)) for kind, w in Policy().statement_weights), directed_weights=(1, 0))
#: (ordinary kernels only: a gradient-directed kernel's main block holds two statements since generator 0.5.3)
STRUCT_KINDS = list(STRUCT_CONSTRUCTS)


def test_every_struct_construct_is_reachable():
    """One search until every struct construct has been seen (cheaper than one search per construct): the shared
    sample of the policy first (tests/reach.py), then fresh draws."""
    seen: set[str] = set()

    def all_seen(k) -> bool:
        seen.update(struct_census(k))
        return seen >= set(STRUCT_KINDS)

    try:
        reach(STRUCTS, all_seen)
    except NoSuchExample:
        pass
    assert not set(STRUCT_KINDS) - seen, f"never generated: {sorted(set(STRUCT_KINDS) - seen)}"


def test_struct_kernels_are_ub_free_and_typeable_by_the_reference():
    """The reference evaluates struct kernels without undefined behaviour (every field read in range,
    no null array field read)."""
    seen = 0

    def ok(k):
        nonlocal seen
        if k.structs:
            seen += 1
            run_reference(k.kernel_source, k.params, make_inputs(k.params, k.dim, 0), k.dim)
        return False

    with pytest.raises(NoSuchExample):
        find(kernels(STRUCTS), ok, settings=settings(SEARCH, max_examples=40))
    assert seen >= 5


# ---- one struct kernel end to end -----------------------------------------------------------------------------

SOURCE = """\
@wp.struct
class S0:
    m0: wp.float32
    m1: wp.vec3
    m2: wp.int32


@wp.struct
class S1:
    m0: wp.mat22
    m1: wp.array(dtype=wp.float32)


@wp.func
def f0(p0: S0, p1: float):
    r1 = S0()
    r1.m0 = (p0.m0 * p1)
    r1.m1[2] = p0.m1[0]
    r1.m2 = wp.clamp((p0.m2 + 1), (-100), 100)
    return r1


@wp.kernel
def kernel(a0: wp.array(dtype=S0), out0: wp.array(dtype=S0), out1: wp.array(dtype=wp.float32), sp0: S1):
    tid = wp.tid()
    r1 = f0(a0[tid], sp0.m1[tid])
    r1.m1 = (r1.m1 + a0[15].m1)
    out0[tid] = r1
    out0[tid].m2 = (a0[tid].m2 * 2)
    out1[tid] = (sp0.m0[0, 1] + sp0.m1[tid])
"""
S0 = Struct("S0", (("m0", FLOAT32), ("m1", VEC3), ("m2", INT32)))
S1 = Struct("S1", (("m0", MAT22), ("m1", Array(FLOAT32))))


def struct_kernel() -> GeneratedKernel:
    module = cst.parse_module(SOURCE)
    classes = tuple(d for d in module.body if isinstance(d, cst.ClassDef))
    helper, func = (d for d in module.body if isinstance(d, cst.FunctionDef))
    ranges = ((-4.0, 4.0), (-2.0, 2.0), (-100, 100))
    params = (
        ParamSpec("a0", "array", "S0", "input", 0, 0, (16,), S0, ranges),
        ParamSpec("out0", "array", "S0", "output", 0, 0, (16,), S0, ((0, 0),) * 3),
        ParamSpec("out1", "array", "float32", "output", 0, 0, (16,)),
        ParamSpec("sp0", "scalar", "S1", "param", 0, 0, (16,), S1, ((-2.0, 2.0), (-4.0, 4.0))),
    )
    return GeneratedKernel("kernel", func, params, (), 16, (helper,), classes)


def test_reference_copies_struct_values_and_writes_fields():
    k = struct_kernel()
    values = make_inputs(k.params, k.dim, 3)
    out = run_reference(k.kernel_source, k.params, values, k.dim).outputs
    a0, sp0 = values["a0"], values["sp0"]
    scale = sp0["m1"]
    np.testing.assert_array_equal(out["out0.m0"], (a0["m0"] * scale).astype(np.float32))
    expected_m1 = np.zeros((16, 3), np.float32)
    expected_m1[:, 2] = a0["m1"][:, 0]
    np.testing.assert_array_equal(out["out0.m1"], expected_m1 + a0["m1"][15])
    assert [int(v) for v in out["out0.m2"]] == [2 * int(v) for v in a0["m2"]]
    np.testing.assert_array_equal(out["out1"], (sp0["m0"][0, 1] + sp0["m1"]).astype(np.float32))
    assert values["a0"]["m0"].any()  # the input array itself is untouched (struct loads copy)


def test_struct_kernels_differ_in_canonical_id_by_field_type():
    assert canonical_id(SOURCE) != canonical_id(SOURCE.replace("m2: wp.int32", "m2: wp.int64"))


@pytest.fixture(scope="module")
def warp_cache(tmp_path_factory):
    W.init(str(tmp_path_factory.mktemp("warp-cache")))


def test_struct_kernel_is_verified_and_a_corrupted_field_is_reported(warp_cache, tmp_path, monkeypatch):
    k = struct_kernel()
    (clean,) = pipeline.verify_batch([k], tmp_path / "clean", pipeline.Options()).results
    assert clean.verdict == "accepted", clean.reason
    assert "struct" in clean.record["python_source"]

    real_run_warp = pipeline.run_warp

    def faulty_run_warp(module, k, values):
        outputs = real_run_warp(module, k, values)
        outputs["out0.m1"][3, 1] += np.float32(0.5)
        return outputs

    monkeypatch.setattr(pipeline, "run_warp", faulty_run_warp)
    (bad,) = pipeline.verify_batch([k], tmp_path / "bad", pipeline.Options(nvrtc=False)).results
    assert bad.verdict == "warp-bug" and "out0.m1 element 10" in bad.reason  # flat index of [3, 1]
    failure = bad.failure

    # the reproducer builds the struct arguments itself; Warp is right, so it does not reproduce ...
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["WARP_CACHE_PATH"] = str(tmp_path / "repro-cache")
    script = tmp_path / "repro.py"
    script.write_text(render_reproducer(failure))
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0 and "not reproduced" in run.stdout, run.stderr[-3000:]
    # ... and with the corrupted value as the expectation it does
    failure.expected["out0.m1"] = failure.actual["out0.m1"]
    script.write_text(render_reproducer(failure))
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 1 and "out0.m1[3]" in run.stdout, run.stdout + run.stderr[-3000:]
