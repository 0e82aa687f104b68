"""The oracle catches faults and raises no false alarms.

(a) ``compare_outputs`` on references of hand-written kernels: Warp giving exactly the float32 reference
matches; one element off by 1e-3 (relative) or one int off by one is a mismatch naming that element;
ill-conditioned kernels are screened, never reported; NaN agreement is a match, a NaN Warp alone produced
is a mismatch. ``exact_match`` (the pipeline's shortcut) says match only for outputs identical to the float32
reference, and says nothing (``None``) for a one-ulp difference.

(b) The whole pipeline with real Warp on a few generated kernels (one module build per run): as they are,
every kernel is accepted or screened; with one output element of Warp's result corrupted, every accepted
kernel becomes a ``warp-bug`` whose Failure shows the corrupted element.
"""

from __future__ import annotations

import math
from random import Random

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, settings

from grammar.semantics import traces_fragile
from harness import pipeline
from harness.oracle import conditioning, input_choice
from harness.oracle.compare import compare_outputs, exact_match
from harness.oracle.reference import run_reference
from harness.warp_side import warp_adapter as W
from strategies import GeneratedKernel, ParamSpec, kernels

DIM = 16

# find() pretty-prints the kernel it returns as a huge libcst dump (see tests/test_strategies.py)


def array(name: str, dtype: str, role: str, low: float = 0.0, high: float = 0.0) -> ParamSpec:
    return ParamSpec(name, "array", dtype, role, low, high)


def references(source: str, params, values: dict, perturbed_runs: int = 2):
    """(r32, r64, perturbed outputs, fragile) as the pipeline computes them."""
    r32 = run_reference(source, params, values, DIM)
    r64 = run_reference(source, params, values, DIM, float_t=np.float64)
    ps = [run_reference(source, params, values, DIM, perturb_seed=11 + j) for j in range(perturbed_runs)]
    fragile = traces_fragile(r32.trace, [r64.trace] + [p.trace for p in ps])
    return r32.outputs, r64.outputs, [p.outputs for p in ps], fragile


def as_warp(outputs: dict, params) -> dict:
    """The reference's outputs in the dtypes Warp returns (float32, int32, (n, 3) float32)."""
    dtypes = {p.name: np.int32 if p.dtype == "int32" else np.float32 for p in params}
    return {name: np.asarray(v).astype(dtypes[name]) for name, v in outputs.items()}


def check(warp: dict, refs) -> object:
    """As the pipeline compares (1-D launches: every axis after the first is a component axis)."""
    r32, r64, ps, fragile = refs
    return compare_outputs(warp, r32, r64, ps, fragile=fragile,
                           element_ndim={name: np.asarray(w).ndim - 1 for name, w in warp.items()})


# ---- (a) hand-written kernels ---------------------------------------------------------------------------------

MIXED = """\
@wp.kernel
def kernel(a0: wp.array(dtype=wp.float32), a1: wp.array(dtype=wp.int32), a2: wp.array(dtype=wp.vec3), out0: wp.array(dtype=wp.float32), out1: wp.array(dtype=wp.int32), out2: wp.array(dtype=wp.vec3)):
    tid = wp.tid()
    out0[tid] = ((a0[tid] * 2.0) + wp.sin(a0[tid]))
    out1[tid] = ((a1[tid] * 3) - (a1[tid] // 2))
    out2[tid] = wp.normalize((a2[tid] + wp.vec3(0.5, 0.25, 1.0)))
"""
MIXED_PARAMS = (
    array("a0", "float32", "input", -4, 4), array("a1", "int32", "input", -100, 100),
    array("a2", "vec3", "input", -2, 2), array("out0", "float32", "output"), array("out1", "int32", "output"),
    array("out2", "vec3", "output"),
)
MIXED_VALUES = {
    "a0": np.linspace(-3.75, 3.75, DIM).astype(np.float32),  # multiples of 0.5, no zero
    "a1": np.arange(-40, 40, 5, dtype=np.int32),
    "a2": (np.arange(3 * DIM, dtype=np.float32).reshape(DIM, 3) % 7 - 3) / 4,
    "out0": np.zeros(DIM, np.float32), "out1": np.zeros(DIM, np.int32), "out2": np.zeros((DIM, 3), np.float32),
}


@pytest.fixture(scope="module")
def mixed():
    refs = references(MIXED, MIXED_PARAMS, MIXED_VALUES)
    assert not refs[3], "the hand-written kernel touches no discontinuity"
    return refs


def test_float32_reference_as_warp_matches(mixed):
    result = check(as_warp(mixed[0], MIXED_PARAMS), mixed)
    assert result.status == "match", result.reason
    assert result.outputs_checked == DIM + DIM + 3 * DIM
    assert result.max_error_ulp == 0.0 and not result.mismatches


def test_float64_reference_as_warp_matches_a_well_conditioned_kernel(mixed):
    # an implementation more accurate than float32 must not be flagged either
    warp = as_warp(mixed[1], MIXED_PARAMS)
    assert check(warp, mixed).status == "match"


@pytest.mark.parametrize("i", [0, 5, 15])
def test_one_float_off_by_1e3_relative_is_a_mismatch_naming_it(mixed, i):
    warp = as_warp(mixed[0], MIXED_PARAMS)
    expected = float(warp["out0"][i])
    warp["out0"][i] = np.float32(expected * (1 + 1e-3))
    result = check(warp, mixed)
    assert result.status == "mismatch"
    assert [(m[0], m[1]) for m in result.mismatches] == [("out0", i)]
    name, idx, exp, act, tol = result.mismatches[0]
    assert exp == expected and act == float(warp["out0"][i]) and tol < abs(act - exp)
    assert f"out0 element {i}:" in result.reason


def test_one_int_off_by_one_is_a_mismatch_naming_it(mixed):
    warp = as_warp(mixed[0], MIXED_PARAMS)
    warp["out1"][7] += 1
    result = check(warp, mixed)
    assert result.status == "mismatch"
    assert [(m[0], m[1]) for m in result.mismatches] == [("out1", 7)]
    assert result.mismatches[0][2] + 1 == result.mismatches[0][3]


def test_one_vector_component_off_is_a_mismatch_at_its_flat_index(mixed):
    warp = as_warp(mixed[0], MIXED_PARAMS)
    warp["out2"][4, 1] = warp["out2"][4, 1] * np.float32(1.001) + np.float32(1e-3)
    result = check(warp, mixed)
    assert [(m[0], m[1]) for m in result.mismatches] == [("out2", 4 * 3 + 1)]


def test_nan_from_warp_alone_is_a_mismatch(mixed):
    warp = as_warp(mixed[0], MIXED_PARAMS)
    warp["out0"][2] = np.nan
    result = check(warp, mixed)
    assert result.status == "mismatch"
    assert [(m[0], m[1]) for m in result.mismatches] == [("out0", 2)]
    assert math.isnan(result.mismatches[0][3])


def test_infinity_from_warp_alone_is_a_mismatch(mixed):
    warp = as_warp(mixed[0], MIXED_PARAMS)
    warp["out0"][3] = np.inf
    assert [(m[0], m[1]) for m in check(warp, mixed).mismatches] == [("out0", 3)]


def test_a_fragile_run_is_screened_whatever_warp_says(mixed):
    r32, r64, ps, _ = mixed
    warp = as_warp(r32, MIXED_PARAMS)
    warp["out1"][0] += 1
    assert compare_outputs(warp, r32, r64, ps, fragile=True).status == "ill-conditioned"


ONE_FLOAT = (array("a0", "float32", "input", -4, 4), array("out0", "float32", "output"))
ON_GRID = {"a0": (np.arange(DIM, dtype=np.float32) - 7.5) / 4, "out0": np.zeros(DIM, np.float32)}


def one_float_kernel(expression: str) -> str:
    return (
        "@wp.kernel\n"
        "def kernel(a0: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.float32)):\n"
        "    tid = wp.tid()\n"
        f"    out0[tid] = {expression}\n"
    )


@pytest.mark.parametrize(
    "expression",
    [
        "((a0[tid] + 10000000.0) - 10000000.0)",  # catastrophic cancellation
        "wp.sin((1000000.0 * a0[tid]))",  # a huge argument: the float32 rounding of it moves sin anywhere
    ],
)
def test_ill_conditioned_kernels_are_screened_never_reported(expression):
    source = one_float_kernel(expression)
    refs = references(source, ONE_FLOAT, ON_GRID)
    r32, r64 = refs[0], refs[1]
    for warp in (as_warp(r32, ONE_FLOAT), as_warp(r64, ONE_FLOAT)):  # Warp as float32 would, or more exactly
        result = check(warp, refs)
        assert result.status == "ill-conditioned", (expression, result.status, result.reason)


def test_an_int_result_on_a_rounding_knife_edge_is_screened_never_reported():
    # int(x * 0.1 * 10) for integral x: the product lands on (or one rounding away from) an integer, so
    # truncation may go either way; the run is fragile and even an off-by-one Warp result is not reported
    params = (array("a0", "float32", "input", -4, 4), array("out0", "int32", "output"))
    source = (
        "@wp.kernel\n"
        "def kernel(a0: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.int32)):\n"
        "    tid = wp.tid()\n"
        "    out0[tid] = wp.int32(((a0[tid] * 0.1) * 10.0))\n"
    )
    values = {"a0": (np.arange(DIM, dtype=np.float32) - 8) / 2, "out0": np.zeros(DIM, np.int32)}
    refs = references(source, params, values)
    assert refs[3], "the traces show truncations within rounding distance of an integer"
    warp = as_warp(refs[0], params)
    assert check(warp, refs).status == "ill-conditioned"
    warp["out0"][2] -= 1  # a0[2] == -3.0
    assert check(warp, refs).status == "ill-conditioned"


def test_nan_in_reference_and_warp_is_a_match():
    source = one_float_kernel("wp.sqrt(a0[tid])")  # half the inputs are negative
    refs = references(source, ONE_FLOAT, ON_GRID)
    warp = as_warp(refs[0], ONE_FLOAT)
    assert np.isnan(warp["out0"][:8]).all() and np.isfinite(warp["out0"][8:]).all()
    assert check(warp, refs).status == "match"
    warp["out0"][0] = np.float32(0.0)  # a number where both references say NaN
    result = check(warp, refs)
    assert result.status == "mismatch" and result.mismatches[0][:2] == ("out0", 0)


def test_exact_match_only_for_identical_outputs(mixed):
    r32 = mixed[0]
    warp = as_warp(r32, MIXED_PARAMS)
    same = exact_match(warp, r32)
    assert same is not None and same.status == "match" and same.max_error_ulp == 0.0
    assert same.outputs_checked == DIM * 5  # out0, out1 and the 3 components of out2
    for name, delta in (("out0", "ulp"), ("out1", 1), ("out2", "ulp")):
        off = {k: v.copy() for k, v in warp.items()}
        flat = off[name].reshape(-1)
        flat[3] = np.nextafter(flat[3], np.float32(np.inf)) if delta == "ulp" else flat[3] + delta
        assert exact_match(off, r32) is None, name


def test_exact_match_treats_nan_and_signed_zero_like_compare_outputs():
    nan = np.float32(np.nan)
    r32 = {"o": np.array([nan, 0.0, -np.inf], np.float32)}
    assert exact_match({"o": np.array([nan, -0.0, -np.inf], np.float32)}, r32) is not None
    assert exact_match({"o": np.array([1.0, 0.0, -np.inf], np.float32)}, r32) is None
    assert exact_match({"o": np.array([nan, 0.0, np.inf], np.float32)}, r32) is None
    assert exact_match({"o": np.array([nan, 0.0], np.float32)}, r32) is None  # another shape


# ---- (b) end to end with real Warp ----------------------------------------------------------------------------

BATCH = 6


def sample_kernels(n: int) -> list[GeneratedKernel]:
    """``n`` generated kernels with a few statements each, the same on every run (one search per seed)."""
    search = settings(max_examples=500, database=None, phases=[Phase.generate], deadline=None,
                      suppress_health_check=list(HealthCheck))
    return [
        find(kernels(), lambda k: len(k.kernel_source.splitlines()) >= 8, settings=search, random=Random(seed))
        for seed in range(n)
    ]


@pytest.fixture(scope="module")
def batch():
    return sample_kernels(BATCH)


@pytest.fixture(scope="module")
def warp_cache(tmp_path_factory):
    W.init(str(tmp_path_factory.mktemp("warp-cache")))


@pytest.fixture(scope="module")
def clean_run(batch, warp_cache, tmp_path_factory):
    return pipeline.verify_batch(batch, tmp_path_factory.mktemp("clean"), pipeline.Options(nvrtc=False))


def test_real_warp_results_are_accepted_or_screened(clean_run):
    verdicts = [(r.verdict, r.reason[:200]) for r in clean_run.results]
    assert all(v in ("accepted", "screened") for v, _ in verdicts), verdicts
    assert any(v == "accepted" for v, _ in verdicts), verdicts


def corrupt(values: np.ndarray) -> int | None:
    """Corrupt the first finite element in place (ints +1, bools flipped, floats by 50 % + 4); its flat
    index, or None. (10 % + 0.5 was within the rounding band of a float16 composite: a spatial_vectorh
    component of -1.5 whose products cancel is allowed 0.67, judged against its composite's largest component.)"""
    flat = values.reshape(-1)
    for i, v in enumerate(flat):
        if values.dtype.kind == "b":
            flat[i] = not v
            return i
        if values.dtype.kind in "iu":
            flat[i] = v + 1
            return i
        if math.isfinite(float(v)):
            flat[i] = np.float32(float(v) + 0.5 * abs(float(v)) + 4.0)
            return i
    return None


def test_corrupting_one_element_of_warps_result_is_reported(clean_run, warp_cache, tmp_path, monkeypatch):
    accepted = [r.kernel for r in clean_run.results if r.verdict == "accepted"]
    corrupted: dict[str, tuple[str, int]] = {}
    real_run_warp = pipeline.run_warp

    def faulty_run_warp(module, k, values):
        outputs = real_run_warp(module, k, values)
        name = next(iter(outputs))  # the first output (or the first field of an array of structs)
        i = corrupt(outputs[name])
        if i is not None:
            corrupted[k.name] = (name, i)
        return outputs

    monkeypatch.setattr(pipeline, "run_warp", faulty_run_warp)
    result = pipeline.verify_batch(accepted, tmp_path, pipeline.Options(nvrtc=False))
    assert len(result.results) == len(accepted)
    for r in result.results:
        if r.kernel.name not in corrupted:  # every element non-finite: nothing to corrupt
            continue
        name, i = corrupted[r.kernel.name]
        assert r.verdict == "warp-bug", (r.verdict, r.reason, r.kernel.kernel_source)
        assert r.reason.startswith("mismatch: ")
        failure = r.failure
        assert failure is not None and failure.kind == "mismatch"
        assert f"{name} element {i}:" in failure.message
        expected, actual = failure.expected[name].reshape(-1), failure.actual[name].reshape(-1)
        assert expected[i] != actual[i]
        others = np.arange(expected.size) != i
        np.testing.assert_allclose(actual[others], expected[others], rtol=1e-3, atol=1e-3)
    assert corrupted, "no accepted kernel had a finite output element"


CANCELLATION = ("@wp.kernel\ndef k_cancel(a0: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.float32)):\n"
                "    tid = wp.tid()\n    out0[tid] = (((float(tid) * 0.1) + 10000000.0) - 10000000.0)\n")


def cancellation_kernel() -> GeneratedKernel:
    import libcst as cst

    return GeneratedKernel("k_cancel", cst.parse_statement(CANCELLATION), ONE_FLOAT, (), DIM)


def test_identical_output_skips_the_conditioning_runs_and_is_accepted(warp_cache, tmp_path, monkeypatch):
    """The decision behind ``Options.exact_fast_path``: catastrophic cancellation is screened when Warp's
    output has to be judged against the measured conditioning, but Warp computes it in float32 exactly as
    the float32 reference does, and an output identical to the reference cannot be a false alarm. Only
    the float32 reference runs then; a deviation of one ulp brings the float64 and perturbed runs back.
    (The output does not depend on ``a0``: the gradient check has nothing to say, see the next test.)"""
    k = cancellation_kernel()
    runs = []
    real = pipeline.run_reference

    def counting(*args, **kw):
        runs.append(kw.get("float_t", np.float32).__name__ + ("+perturbed" if kw.get("perturb_seed") is not None else ""))
        return real(*args, **kw)

    monkeypatch.setattr(pipeline, "run_reference", counting)
    monkeypatch.setattr(input_choice, "run_reference", counting)  # the first attempt's float32 run is the choice's
    monkeypatch.setattr(conditioning, "run_reference", counting)  # the float64 and perturbed runs
    slow = pipeline.verify_batch([k], tmp_path / "slow", pipeline.Options(nvrtc=False, exact_fast_path=False))
    assert [r.verdict for r in slow.results] == ["screened"], slow.results[0].reason
    runs.clear()
    fast = pipeline.verify_batch([k], tmp_path / "fast", pipeline.Options(nvrtc=False))
    assert [r.verdict for r in fast.results] == ["accepted"], fast.results[0].reason
    assert fast.results[0].record["verification"]["max_error_ulp"] == 0.0
    assert runs and set(runs) == {"float32"}  # the input choice's candidates, the chosen one's run reused

    real_run_warp = pipeline.run_warp

    def one_ulp_off(module, kernel, values):
        out = real_run_warp(module, kernel, values)
        out["out0"][5] = np.nextafter(out["out0"][5], np.float32(np.inf))
        return out

    monkeypatch.setattr(pipeline, "run_warp", one_ulp_off)
    runs.clear()
    off = pipeline.verify_batch([k], tmp_path / "off", pipeline.Options(nvrtc=False))
    assert off.results[0].verdict == "screened", off.results[0].reason
    assert runs[0] == "float32" and "float64" in runs
    first_conditioning = runs[runs.index("float64"):][:3]
    assert first_conditioning == ["float64", "float32+perturbed", "float32+perturbed"]


def test_the_shortcut_does_not_change_which_input_the_gradient_check_gets(tmp_path):
    """An exact tie at a discontinuity (``a % 0.5`` with ``a = 1.5``) matches exactly with the shortcut; without
    it such an input is screened and the next one tried. The gradient check draws its own smooth inputs from
    the kernel's base seed, so both paths check the same input (here one where Warp's float ``%`` adjoint bug
    shows when its exclusion is switched off)."""
    import libcst as cst

    from harness.oracle import gradient as G

    params = (array("a", "float32", "input", -2, 2), array("b", "float32", "input", -2, 2),
              array("out", "float32", "output"))
    source = ("@wp.kernel\ndef k_mod(a: wp.array(dtype=wp.float32), b: wp.array(dtype=wp.float32), "
              "out: wp.array(dtype=wp.float32)):\n    tid = wp.tid()\n    out[tid] = a[tid] % (wp.abs(b[tid]) + 0.5)\n")
    k = GeneratedKernel("k_mod", cst.parse_statement(source), params, (), 8)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(G, "EXCLUDED_FLAGS", tuple(f for f in G.EXCLUDED_FLAGS if f != "float-mod"))
        results = [pipeline.verify_batch([k], tmp_path / str(fast), pipeline.Options(nvrtc=False, exact_fast_path=fast))
                   .results[0] for fast in (False, True)]
    assert [r.verdict for r in results] == ["warp-bug", "warp-bug"], [r.reason for r in results]
    assert results[0].reason == results[1].reason


def test_a_mismatch_is_reported_even_when_another_output_is_ill_conditioned():
    """Screening is per element: an ill-conditioned sink must not hide a clear mismatch elsewhere."""
    from harness.oracle.compare import compare_outputs

    good = np.array([1.0, 2.0], dtype=np.float32)
    ill32, ill64 = np.array([1.0], dtype=np.float32), np.array([1.5])  # float32 and float64 disagree by 50 %
    r32, r64 = {"out0": good, "sink0": ill32}, {"out0": good.astype(np.float64), "sink0": ill64}
    perturbed = [dict(r32), dict(r32)]
    wrong = {"out0": np.array([1.0, 2.5], dtype=np.float32), "sink0": ill32}
    c = compare_outputs(wrong, r32, r64, perturbed)
    assert c.status == "mismatch" and c.reason.startswith("out0 element 1:")
    right = {"out0": good.copy(), "sink0": np.array([1.25], dtype=np.float32)}
    assert compare_outputs(right, r32, r64, perturbed).status == "ill-conditioned"


def run_on_warp(tmp_path, source: str, params, values: dict) -> dict:
    """Warp's CPU outputs of a one-kernel ``source`` launched over ``DIM`` threads on ``values``."""
    path = tmp_path / "warp_kernel.py"
    path.write_text("import warp as wp\n\n" + source)
    W.init()
    module = W.import_kernel_module(path)
    args = [W.to_warp(values[p.name], p.dtype) for p in params]
    W.launch_cpu(module.kernel, DIM, args)
    return {p.name: W.to_numpy(a) for p, a in zip(params, args) if p.role == "output"}


# ---- composite results: a component's rounding error follows the composite's magnitude -------------------------

EULER = """\
@wp.kernel
def kernel(a0: wp.array(dtype=wp.float32), a1: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.quat)):
    tid = wp.tid()
    out0[tid] = wp.quat_from_euler(wp.vec3(a0[tid], a1[tid], 1.5), 1, 0, 1)
"""
EULER_PARAMS = (array("a0", "float32", "input", -4, 4), array("a1", "float32", "input", -4, 4),
                array("out0", "quat", "output"))


def test_a_component_that_cancels_to_zero_in_the_reference_is_not_a_false_alarm(tmp_path):
    # quat_from_euler over y-x-y (a proper Euler sequence, documented: e[1] used twice): the z component is
    # an exact 0.0 in the numpy reference and about +-4e-9 from Warp (fused multiply-adds) - a fuzz false alarm
    # until the reference's ulp perturbation of a composite followed its largest component (harness.oracle.reference)
    rng = np.random.default_rng(3)
    a0, a1 = rng.integers(-32, 32, DIM) / 8, rng.integers(-32, 32, DIM) / 8
    a0[:2], a1[:2] = (1.0, 1.25), (-1.875, 1.875)  # found by a scan: Warp's z is about 4e-9 there
    values = {"a0": a0.astype(np.float32), "a1": a1.astype(np.float32), "out0": np.zeros((DIM, 4), np.float32)}
    warp = run_on_warp(tmp_path, EULER, EULER_PARAMS, values)
    refs = references(EULER, EULER_PARAMS, values)
    assert np.any((refs[0]["out0"][:, 2] == 0.0) & (warp["out0"][:, 2] != 0.0)), "exact zeros where Warp rounds"
    r32, r64, ps, fragile = refs
    assert compare_outputs(warp, r32, r64, ps, fragile=fragile).status != "match"  # judged per component: screened
    result = compare_outputs(warp, r32, r64, ps, fragile=fragile, element_ndim={"out0": 1})
    assert result.status == "match", result.reason
    warp["out0"][5, 2] += np.float32(1e-4)  # a real error in that component is still reported
    assert compare_outputs(warp, r32, r64, ps, fragile=fragile, element_ndim={"out0": 1}).status == "mismatch"


NEG_ZERO = """\
@wp.kernel
def kernel(a0: wp.array(dtype=wp.float32), a1: wp.array(dtype=wp.vec3), out0: wp.array(dtype=wp.vec3), out1: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    out0[tid] = (a0[tid] / (-(a1[tid] - a1[tid])))
    out1[tid] = (a0[tid] / (-(a0[tid] - a0[tid])))
"""
NEG_ZERO_PARAMS = (array("a0", "float32", "input", -4, 4), array("a1", "vec3", "input", -4, 4),
                   array("out0", "vec3", "output"), array("out1", "float32", "output"))


def test_the_sign_of_a_negated_zero_follows_warp(tmp_path):
    # Warp negates a vector component by component (-(+0.0) is -0.0) but computes a float's negation as
    # 0 - x (+0.0): dividing by the negated zero shows the sign (a fuzz false alarm: -inf against Warp's +inf)
    values = {"a0": np.linspace(-2.0, 2.0, DIM).astype(np.float32), "a1": np.ones((DIM, 3), np.float32),
              "out0": np.zeros((DIM, 3), np.float32), "out1": np.zeros(DIM, np.float32)}
    warp = run_on_warp(tmp_path, NEG_ZERO, NEG_ZERO_PARAMS, values)
    assert warp["out0"][0, 0] == np.inf and warp["out1"][0] == -np.inf  # a0[0] = -2: -2 / -0.0 and -2 / +0.0
    refs = references(NEG_ZERO, NEG_ZERO_PARAMS, values)
    result = check(warp, refs)
    assert result.status == "match", result.reason


QR_SINGULAR = """\
@wp.kernel
def kernel(a0: wp.array(dtype=wp.vec3d), out0: wp.array(dtype=wp.mat33d)):
    tid = wp.tid()
    q3 = wp.matrix(shape=(3, 3), dtype=wp.float64)
    r3 = wp.matrix(shape=(3, 3), dtype=wp.float64)
    wp.qr3(wp.skew(a0[tid]), q3, r3)
    out0[tid] = r3
"""
QR_PARAMS = (array("a0", "vec3d", "input", -4, 4), array("out0", "mat33d", "output"))


def test_output_arguments_are_perturbed_like_any_result():
    # the output arguments of svd3/qr3/eig3 were never perturbed, so an R[2][2] that cancels to an exact 0.0 in
    # the reference allowed Warp no rounding at all (a 25-minute fuzz false alarm: 3.5e-18 against 0.0, allowed
    # 2.7e-20); skew() and the loads are exact, so only qr3's perturbation can move the output
    rng = np.random.default_rng(5)
    values = {"a0": (rng.integers(-32, 32, (DIM, 3)) / 8).astype(np.float64), "out0": np.zeros((DIM, 3, 3))}
    r32, _, ps, _ = references(QR_SINGULAR, QR_PARAMS, values)
    assert all(not np.array_equal(p["out0"], r32["out0"]) for p in ps)


def test_a_component_s_ulp_floor_follows_its_composite():
    # seed-93 fuzz, batch 110: sink1 holds svd3's U of 11.5 / v, v being eig3's eigenvectors. Warp's eig3 is a few
    # ulps off the port (within its measured spread), svd3 amplifies that in U[2, 2] to 2e-7 (Warp's svd3 on
    # Warp's input equals the port bit for bit), and in both perturbed runs the output perturbation happened to
    # cancel what the run had propagated: U[2, 2] stayed within 1e-8 of r32. With the floor at 4 ulps of the
    # component (0.12: 3e-8) that was a mismatch; at 4 ulps of the matrix's largest component (0.98: 2.4e-7),
    # the step the perturbation itself uses, it is not. The literal values are the run's.
    f32 = lambda rows: np.array(rows, dtype=np.float32)[None]  # noqa: E731
    warp = f32([[0.16720852255821228, 0.9270505905151367, -0.3355863690376282],
                [0.06756086647510529, -0.3503519892692566, -0.9341779947280884],
                [-0.9836041331291199, 0.13353000581264496, -0.12121417373418808]])
    r32 = f32([[0.16720880568027496, 0.9270503520965576, -0.33558642864227295],
               [0.06756093353033066, -0.3503522574901581, -0.9341778755187988],
               [-0.9836039543151855, 0.13353024423122406, -0.1212143748998642]])
    r64 = np.array([[[0.16720877611055476, 0.9270505977248524, -0.33558667203809667],
                     [0.06756090137508745, -0.35035248841243766, -0.9341780657179866],
                     [-0.9836039598319012, 0.13353023298567027, -0.12121438479733564]]])
    ps = [f32([[0.1672094315290451, 0.927049994468689, -0.3355869948863983],
               [0.06756062060594559, -0.35035285353660583, -0.9341775178909302],
               [-0.983603835105896, 0.13353082537651062, -0.1212143674492836]]),
          f32([[0.1672084778547287, 0.9270508289337158, -0.3355873227119446],
               [0.06756090372800827, -0.35035309195518494, -0.9341779351234436],
               [-0.9836040735244751, 0.13353009521961212, -0.1212143823504448]])]

    def compare(w, element_ndim):
        return compare_outputs({"sink1": w}, {"sink1": r32}, {"sink1": r64}, [{"sink1": p} for p in ps],
                               element_ndim={"sink1": element_ndim})

    assert compare(warp, 0).status == "mismatch"  # the floor of a scalar output: 4 ulps of the value itself
    assert compare(warp, 2).status == "match"
    wrong = warp.copy()
    # beyond the composite's bound (8 x its largest movement, 1.1e-6, plus 4 ulps): still a mismatch
    wrong[0, 2, 2] -= np.float32(2e-5)
    result = compare(wrong, 2)
    assert result.status == "mismatch" and result.reason.startswith("sink1 element 8:"), result.reason


def test_a_component_s_sensitivity_follows_its_composite():
    # seed-14 fuzz, batch 36: sink5 holds eig3's Q of a symmetric matrix built from quat_to_euler's float32 atan2,
    # which Warp rounds one ulp away from ours. Warp's eig3 on Warp's matrix equals the port bit for bit (and on
    # ours too), so Q as a whole moved by up to 1e-6; both perturbed runs happened to leave Q[1, 0] exactly at r32
    # while moving Q[0, 0] by 3e-7. Judged by its own cond + spread, Q[1, 0] was allowed 4.5e-7 against a
    # deviation of 6e-7 (10 ulps); by the matrix's largest cond + spread (9.4e-7 at Q[0, 0]) it is rounding.
    # The literal values are the run's.
    f32 = lambda rows: np.array(rows, dtype=np.float32)[None]  # noqa: E731
    warp = f32([[-0.443981409072876, -0.6685174703598022, 0.5966265201568604],
                [0.8960131406784058, -0.32657790184020996, 0.3008420467376709],
                [-0.006272792816162109, 0.6681540012359619, 0.7439963817596436]])
    r32 = f32([[-0.4439823627471924, -0.6685179471969604, 0.596626877784729],
               [0.8960137367248535, -0.3265787363052368, 0.3008420467376709],
               [-0.006272703409194946, 0.6681543588638306, 0.743996262550354]])
    r64 = np.array([[[-0.443982075338583, -0.6685179493622873, 0.5966269086778477],
                     [0.8960137103198293, -0.32657849065701927, 0.30084201893863516],
                     [-0.006272774261491532, 0.6681543540385136, 0.7439962442663541]]])
    ps = [f32([[-0.44398266077041626, -0.6685181260108948, 0.5966269373893738],
               [0.8960137367248535, -0.3265787661075592, 0.3008422255516052],
               [-0.006272691767662764, 0.6681546568870544, 0.7439964413642883]]),
          f32([[-0.44398170709609985, -0.6685180068016052, 0.5966269373893738],
               [0.8960137367248535, -0.32657840847969055, 0.3008420467376709],
               [-0.006272751372307539, 0.6681544184684753, 0.7439965009689331]])]

    def compare(w, element_ndim):
        return compare_outputs({"sink5": w}, {"sink5": r32}, {"sink5": r64}, [{"sink5": p} for p in ps],
                               element_ndim={"sink5": element_ndim})

    assert compare(warp, 0).status == "mismatch"  # each component judged alone: Q[1, 0] is 10 ulps out
    assert compare(warp, 2).status == "match"
    result = compare(warp, 2)
    assert np.all(result.tolerance["sink5"] == result.tolerance["sink5"][0, 0, 0])  # one bound for the matrix
    wrong = warp.copy()
    wrong[0, 1, 0] += np.float32(2e-5)  # beyond 8 x the matrix's largest movement (9.4e-7 at Q[0, 0]) + 4 ulps
    result = compare(wrong, 2)
    assert result.status == "mismatch" and result.reason.startswith("sink5 element 3:"), result.reason


def test_a_float64_element_reached_by_float32_arithmetic_keeps_the_float32_ulp_floor():
    # seed-11 fuzz, batch 101: x4 = cbrt(tanh(s1)) * (frac(s1) * tan(s0)) in float32, stored in a mat44d sink.
    # The float32 run happened to land 0.1 float32 ulp from the exact value (cond 3.6e-7), the two perturbed runs
    # landed on it too, and Warp's float32 chain one ulp away (3.8e-6) was judged against 8 * cond = 2.9e-6. The
    # values are the run's (the reference then took numpy's float32 cbrt, one ulp low).
    r32 = {"sink2": np.array([34.367835998535156, 2.5])}
    r64 = {"sink2": np.array([np.longdouble("34.367836362622632862"), np.longdouble("2.5")])}
    ps = [{"sink2": np.array([34.367835998535156, 2.5])}] * 2
    warp = np.array([34.36783981323242, 2.5])
    assert compare_outputs({"sink2": warp}, r32, r64, ps).status == "match"
    # a float64 element float32 never reached (exact here) keeps the float64 floor: one float32 ulp is a mismatch
    off = np.array([34.36783981323242, float(np.nextafter(np.float32(2.5), np.float32(3)))])
    result = compare_outputs({"sink2": off}, r32, r64, ps)
    assert result.status == "mismatch" and result.reason.startswith("sink2 element 1:"), result.reason
    # and the float32 floor is a floor, not a licence: ten float32 ulps off the float32-reached element are caught
    far = np.array([34.367835998535156 + 10 * 3.814697265625e-06, 2.5])
    assert compare_outputs({"sink2": far}, r32, r64, ps).status == "mismatch"



PERTURB_SOURCE = """\
@wp.kernel
def kernel(a0: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.float32), out1: wp.array(dtype=wp.float64)):
    tid = wp.tid()
    out0[tid] = wp.exp(a0[tid])
    out1[tid] = wp.float64(wp.sinh(a0[tid]))
"""


def test_every_perturbed_run_moves_every_inexact_result():
    """A call that no perturbed run moved measured no sensitivity to it: a float64 layer_norm of a float32 sinh,
    which Warp's libm rounds one ulp from numpy's, was allowed 4.4e-14 and off by 5e-13 (a 30-minute fuzz false
    alarm); so each perturbed run moves each inexact result by one ulp, up or down, never not at all."""
    params = (array("a0", "float32", "input", -2.0, 2.0), array("out0", "float32", "output"),
              array("out1", "float64", "output"))
    values = {"a0": np.linspace(-1.9, 1.9, DIM).astype(np.float32), "out0": np.zeros(DIM, np.float32),
              "out1": np.zeros(DIM)}
    base = run_reference(PERTURB_SOURCE, params, values, DIM).outputs
    for seed in range(12):
        p = run_reference(PERTURB_SOURCE, params, values, DIM, perturb_seed=seed).outputs
        assert np.all(p["out0"] != base["out0"]), seed
        assert np.all(p["out1"] != base["out1"]), seed
        assert np.all(np.abs(p["out1"] - base["out1"]) <= 2.5e-7 * np.abs(base["out1"])), seed  # one float32 ulp


EULER_SOURCE = """\
@wp.kernel
def kernel(a0: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.vec3)):
    tid = wp.tid()
    out0[tid] = wp.quat_to_euler(wp.quat(a0[tid], 0.75, 0.125, 0.125), 0, 0, 1 + tid % 2)
"""


def test_quat_to_euler_is_perturbed_by_the_rounding_of_its_angles():
    """``quat_to_euler`` returns differences of angles up to pi: Warp's libm atan2, one ulp of pi from numpy's, moves
    a 0.139 component by 8 of its own ulps (a 30-minute fuzz false alarm), so its perturbation step is one ulp of pi
    (Op.perturb_floor), not of its largest component."""
    params = (array("a0", "float32", "input", -2.0, 2.0), array("out0", "vec3", "output"))
    values = {"a0": np.full(DIM, np.float16(-0.8906), dtype=np.float32), "out0": np.zeros((DIM, 3), np.float32)}
    base = run_reference(EULER_SOURCE, params, values, DIM).outputs["out0"]
    assert np.all(np.abs(base[:, 0]) < 0.2)  # the small component the fuzz report met
    step = float(np.finfo(np.float32).eps) * math.pi
    for seed in range(6):
        p = run_reference(EULER_SOURCE, params, values, DIM, perturb_seed=seed).outputs["out0"]
        assert np.all(np.abs(p[:, 0] - base[:, 0]) >= 0.9 * step), seed
    warp = _launch_euler(values["a0"])
    assert np.max(np.abs(warp[:, 0] - base[:, 0])) <= 2 * step  # Warp's value: within two ulps of pi of ours


def _launch_euler(a0: np.ndarray) -> np.ndarray:
    import warp as wp

    W.init()

    @wp.kernel
    def euler(a0: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.vec3)):
        tid = wp.tid()
        out0[tid] = wp.quat_to_euler(wp.quat(a0[tid], 0.75, 0.125, 0.125), 0, 0, 1 + tid % 2)

    out = wp.zeros(len(a0), dtype=wp.vec3, device="cpu")
    wp.launch(euler, dim=len(a0), inputs=[wp.array(a0, dtype=wp.float32, device="cpu"), out], device="cpu")
    return out.numpy()
