"""The JAX backend (harness.jax_backend.render) and JAX as a second oracle (harness.jax_backend.oracle).

Hand-written kernels cover each translation rule (masked branches, unrolled loops with break/continue, dynamic
loops, helpers with early returns, own-slot and sink stores, atomics, structs, 2-D launches) and must agree with
the numpy reference; an injected wrong spelling must be reported; constructs JAX cannot express faithfully must be
refused with their reason; and generated kernels of the default mix that render must agree with the reference.
Skipped without the ``[jax]`` extra.
"""

from __future__ import annotations

import textwrap

import libcst as cst
import numpy as np
import pytest

jax = pytest.importorskip("jax")

from grammar import semantics_jax as J  # noqa: E402
from grammar.types import FLOAT32, INT32, VEC3, Struct  # noqa: E402
from harness.generate import draw_kernels  # noqa: E402
from harness.oracle.inputs import make_inputs  # noqa: E402
from harness.jax_backend.oracle import IsolatedChecker, check_against_reference, run_program  # noqa: E402
from harness.jax_backend.render import Inexpressible, render  # noqa: E402
from harness.oracle.reference import run_reference  # noqa: E402
from strategies import GeneratedKernel, ParamSpec  # noqa: E402

DIM = 8


def _array(name, dtype="float32", role="input", low=-2.0, high=2.0, shape=(DIM,)):
    return ParamSpec(name, "array", dtype, role, low, high, shape)


A, B = _array("a"), _array("b")
V = _array("v", "vec3")
I = _array("i", "int32", low=-50, high=50)
OUT, OUT2 = _array("out", role="output"), _array("out2", "vec3", role="output")
SINK = ParamSpec("sink", "array", "float32", "output", 0, 0, (2 * DIM,))
ACC, ACCI = _array("acc", role="atomic"), _array("acci", "int32", role="atomic", low=0, high=0)
N = ParamSpec("n", "scalar", "int32", "param", 0, 5)
M44 = _array("m", "mat44")
M33 = _array("m3", "mat33")
U16, OUTU = _array("u", "uint16", low=0, high=9), _array("outu", "uint16", role="output")
_ANN = {"uint16": "wp.array(dtype=wp.uint16)", "float32": "wp.array(dtype=wp.float32)", "vec3": "wp.array(dtype=wp.vec3)", "int32": "wp.array(dtype=wp.int32)",
        "mat44": "wp.array(dtype=wp.mat44)", "mat33": "wp.array(dtype=wp.mat33)"}


def _kernel(body: str, params, helpers: str = "", structs: str = "", dim=DIM) -> GeneratedKernel:
    sig = ", ".join(f"{p.name}: {_ANN[p.dtype] if p.kind == 'array' else ('int' if p.dtype == 'int32' else p.dtype)}"
                    for p in params)
    source = f"@wp.kernel\ndef kernel({sig}):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    module = cst.parse_module(structs + helpers)
    return GeneratedKernel("kernel", cst.parse_statement(source), tuple(params), (), dim,
                           tuple(d for d in module.body if isinstance(d, cst.FunctionDef)),
                           tuple(d for d in module.body if isinstance(d, cst.ClassDef)))


CASES = {
    "masked_branches": (_kernel("""
        tid = wp.tid()
        x = a[tid]
        if x > 0.5:
            x = x * 2.0
        elif x < -0.5:
            x = wp.sin(x)
            out2[tid] = wp.vec3(x, 1.0, 2.0)
        else:
            x = 0.0 - x
        out[tid] = x + b[tid]
        """, (A, B, OUT, OUT2))),
    "unrolled_loop_break_continue": (_kernel("""
        tid = wp.tid()
        s = float(0.0)
        for j in range(6):
            if a[tid] * float(j) > 1.0:
                break
            if j == 2:
                continue
            s += a[tid] + float(j)
        out[tid] = s
        """, (A, OUT))),
    "dynamic_loops": (_kernel("""
        tid = wp.tid()
        s = float(0.0)
        for j in range(n):
            s += b[tid] * float(j)
        k = int(0)
        while k < 3:
            k = k + 1
            if a[tid] > 1.0:
                break
            s += a[tid]
        out[tid] = s
        """, (A, B, OUT, N))),
    "helper_early_return_and_sinks": (_kernel("""
        tid = wp.tid()
        y = f0(a[tid], b[tid])
        sink[tid] = y
        sink[tid + 8] = y * 2.0
        out[tid] = wp.length(v[tid]) + y
        """, (A, B, V, OUT, SINK), helpers="""
@wp.func
def f0(p: float, q: float):
    if p > q:
        return p - q
    r = p * q
    return r + 1.0
""")),
    "atomics_and_return": (_kernel("""
        tid = wp.tid()
        wp.atomic_add(acc, tid % 3, a[tid])
        wp.atomic_max(acci, 0, i[tid])
        if a[tid] < 0.0:
            return
        out[tid] = a[tid]
        """, (A, I, OUT, ACC, ACCI))),
    "mat44_usd_code": (_kernel("""
        tid = wp.tid()
        x = m[tid]
        r = wp.inverse(x)
        p = wp.transform_point(x, v[tid])
        q = wp.transform_vector(r, v[tid])
        out[tid] = wp.determinant(x) + r[1, 2] + p[0] + q[1]
        """, (M44, V, OUT))),
    # the decompositions: svd.h's Givens/Jacobi code written out with jnp.where for its branches (the Jacobi
    # sweeps a lax.fori_loop), output arguments returned as a tuple
    "decompositions": (_kernel("""
        tid = wp.tid()
        x = m3[tid]
        Q = wp.matrix(shape=(3, 3), dtype=wp.float32)
        Rq = wp.matrix(shape=(3, 3), dtype=wp.float32)
        wp.qr3(x, Q, Rq)
        U = wp.matrix(shape=(3, 3), dtype=wp.float32)
        s = wp.vector(length=3, dtype=wp.float32)
        V = wp.matrix(shape=(3, 3), dtype=wp.float32)
        wp.svd3(x, U, s, V)
        E = wp.matrix(shape=(3, 3), dtype=wp.float32)
        d = wp.vector(length=3, dtype=wp.float32)
        wp.eig3(x + wp.transpose(x), E, d)
        U2 = wp.matrix(shape=(2, 2), dtype=wp.float32)
        s2 = wp.vector(length=2, dtype=wp.float32)
        V2 = wp.matrix(shape=(2, 2), dtype=wp.float32)
        wp.svd2(wp.mat22(x[0, 0], x[0, 1], x[2, 0], x[2, 2]), U2, s2, V2)
        out[tid] = Q[0, 1] + Rq[1, 2] + U[2, 0] + s[1] + V[0, 2] + E[1, 1] + d[0] + U2[1, 0] + s2[1] + V2[0, 1]
        """, (M33, OUT))),
    # Euler angles with computed axes (proper and Tait-Bryan orders both occur: ax == ay in some threads)
    "euler_angles": (_kernel("""
        tid = wp.tid()
        ax = wp.abs(i[tid] % 3)
        ay = wp.abs((i[tid] // 2) % 3)
        q = wp.quat_from_euler(wp.vec3(a[tid], b[tid], 0.5), ax, ay, 2)
        r = wp.quat_to_euler(wp.normalize(q), ax, 1, ay)
        out[tid] = q[0] + q[3] * 2.0 + r[0] + r[1] * 3.0 + r[2] * 5.0
        """, (A, B, I, OUT))),
    # sign / step / nonzero of an unsigned value: never the negative branch, whose literal (-1) must still be in
    # range for the type (a uint16 sign crashed the JAX program: `jnp.uint16(-1)`)
    "unsigned_selects": (_kernel("""
        tid = wp.tid()
        x = u[tid]
        outu[tid] = wp.sign(x) + wp.step(x) * wp.uint16(2) + wp.nonzero(x) * wp.uint16(4)
        """, (U16, OUTU))),
    "integer_semantics": (_kernel("""
        tid = wp.tid()
        k = i[tid]
        out[tid] = float(k / 7) + float(k % 7) * 10.0 + float(k // 7) * 100.0
        """, (I, OUT))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_translation_rule_agrees_with_the_reference(name):
    k = CASES[name]
    program = render(k)
    for seed in (1, 2, 3):
        values = make_inputs(k.params, k.dim, seed)
        expected = run_reference(k.kernel_source, k.params, values, k.dim).outputs
        actual = run_program(program, k, values)
        assert set(actual) == set(expected)
        for out in expected:
            np.testing.assert_allclose(actual[out].astype(np.float64), np.asarray(expected[out], np.float64),
                                       rtol=1e-5, atol=1e-6, err_msg=f"{name}: {out}, seed {seed}")


def test_structs_and_two_dimensional_launches_agree_with_the_reference():
    s = Struct("S", (("m0", FLOAT32), ("m1", VEC3), ("m2", INT32)))
    shape = (4, 2)
    params = (ParamSpec("a", "array", "S", "input", 0, 0, shape, s, ((-2.0, 2.0), (-1.0, 1.0), (-9, 9))),
              ParamSpec("out", "array", "S", "output", 0, 0, shape, s, ((0, 0),) * 3),
              ParamSpec("o", "array", "float32", "output", 0, 0, shape))
    source = """@wp.kernel
def kernel(a: wp.array(dtype=S, ndim=2), out: wp.array(dtype=S, ndim=2), o: wp.array(dtype=wp.float32, ndim=2)):
    ti, tj = wp.tid()
    r = S()
    r.m1 = a[ti, tj].m1 * 2.0
    if a[ti, tj].m0 > 0.0:
        r.m2 = a[ti, tj].m2 + 1
    out[ti, tj] = r
    o[ti, tj] = a[ti, tj].m0 + float(tj)
"""
    k = GeneratedKernel("kernel", cst.parse_statement(source), params, (), shape, (),
                        (cst.parse_statement("@wp.struct\nclass S:\n    m0: float\n    m1: wp.vec3\n    m2: int\n"),))
    program = render(k)
    values = make_inputs(k.params, k.dim, 5)
    expected = run_reference(k.kernel_source, k.params, values, k.dim).outputs
    actual = run_program(program, k, values)
    assert set(actual) == set(expected) == {"out.m0", "out.m1", "out.m2", "o"}
    for out in expected:
        np.testing.assert_allclose(actual[out].astype(np.float64), np.asarray(expected[out], np.float64), rtol=1e-6)


def test_a_struct_array_field_is_read_as_the_whole_input_array():
    """A struct parameter's array field (a view of an input; the grammar never writes one) is passed whole inside
    the struct's dict of fields and indexed like any input array."""
    from grammar.types import Array

    s = Struct("S", (("m0", VEC3), ("m1", Array(FLOAT32, 1))))
    params = (A, OUT, ParamSpec("sp", "scalar", "S", "param", 0, 0, (DIM,), s, ((-1.0, 1.0), (-4.0, 4.0))))
    source = """@wp.kernel
def kernel(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32), sp: S):
    tid = wp.tid()
    out[tid] = sp.m1[tid] * a[tid] + sp.m1[wp.clamp(tid + 1, 0, 7)] + sp.m0[1]
"""
    k = GeneratedKernel("kernel", cst.parse_statement(source), params, (), DIM, (),
                        (cst.parse_statement("@wp.struct\nclass S:\n    m0: wp.vec3\n    m1: wp.array(dtype=wp.float32)\n"),))
    program = render(k)
    for seed in (1, 2):
        values = make_inputs(k.params, k.dim, seed)
        expected = run_reference(k.kernel_source, k.params, values, k.dim).outputs
        actual = run_program(program, k, values)
        np.testing.assert_allclose(actual["out"].astype(np.float64), np.asarray(expected["out"], np.float64), rtol=1e-6)
        assert np.ptp(np.asarray(expected["out"])) > 0  # the field's elements differ per thread: a real read


def test_a_wrong_spelling_is_reported_as_a_mismatch(monkeypatch):
    """The oracle can fail: ``sin`` spelled as ``sin * (1 + 1e-3)`` must be caught by the comparison."""
    k = _kernel("tid = wp.tid()\nout[tid] = wp.sin(a[tid]) + b[tid]\n", (A, B, OUT))
    values = make_inputs(k.params, k.dim, 7)
    assert check_against_reference(render(k), k, values, 7)[0].status == "match"
    right = J.SPELLINGS[("semantics", "sin")]
    monkeypatch.setitem(J.SPELLINGS, ("semantics", "sin"), lambda sig, a: f"({right(sig, a)} * jnp.float32(1.001))")
    assert check_against_reference(render(k), k, values, 7)[0].status == "mismatch"


@pytest.mark.parametrize("body, params, reason", [
    ("tid = wp.tid()\nout[tid] = wp.atomic_add(acc, 0, a[tid])\n", (A, OUT, ACC), "atomic-result"),
    ("tid = wp.tid()\nwp.atomic_exch(acc, 0, a[tid])\n", (A, ACC), "order-dependent-atomic"),
    ("tid = wp.tid()\nwp.atomic_add(acc, 0, a[tid])\nwp.atomic_min(acc, 1, a[tid])\n", (A, ACC), "mixed-atomics"),
])
def test_what_jax_cannot_express_faithfully_is_refused_with_its_reason(body, params, reason):
    with pytest.raises(Inexpressible) as info:
        render(_kernel(body, params))
    assert info.value.reason == reason


def test_generated_kernels_that_render_agree_with_the_reference():
    """A batch of the default mix: every expressible kernel matches the reference or is screened by it (a JAX
    crash, i.e. XLA running out of memory in its child, is not a disagreement and stays rare)."""
    checker = IsolatedChecker()
    statuses = []
    try:
        for seed in (3100,):
            for n, k in enumerate(draw_kernels(seed, 12)):
                try:
                    program = render(k)
                except Inexpressible:
                    continue
                values = make_inputs(k.params, k.dim, n)
                statuses.append(checker.check(program, k, values, n)[0])
    finally:
        checker.close()
    assert len(statuses) >= 4
    assert set(statuses) <= {"match", "ill-conditioned", "jax-crash"}, statuses
    assert statuses.count("match") >= len(statuses) // 2


def test_collect_with_both_backends_writes_jax_sections_that_lower_again_to_the_same_hlo(tmp_path):
    """``collect --backend both``: every record carries a jax section; the expressible ones hold a program whose
    outputs matched the reference and whose HLO ``harness.jax_check`` lowers again to the same text."""
    import json
    import subprocess
    import sys

    out = tmp_path / "c"
    proc = subprocess.run([sys.executable, "-m", "harness.collect", "--out", str(out), "--target-mb", "0.02",
                           "--workers", "1", "--batch-size", "4", "--seed", "3", "--backend", "both",
                           "--no-progress"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from harness.store.corpus import read_records

    records = list(read_records(out))
    assert records and all("jax" in r for r in records)
    expressible = [r for r in records if r["jax"]["expressible"]]
    assert expressible, [r["jax"]["reason"] for r in records]
    for r in expressible:
        assert r["jax"]["reference_status"] in ("match", "ill-conditioned")
        assert "stablehlo" in r["jax"]["forward_hlo"] and "loc(" not in r["jax"]["forward_hlo"]
        assert r["cpu_forward"]  # both: Warp's code too
    for r in records:
        if not r["jax"]["expressible"]:
            assert r["jax"]["reason"] and r["jax"]["source"] == ""
    check = subprocess.run([sys.executable, "-m", "harness.jax_check", str(out)], capture_output=True, text=True,
                           timeout=600)
    assert check.returncode == 0, check.stderr
    assert f"{len(expressible)} JAX records re-lowered to the same HLO, 0 differ" in check.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    from harness.store.corpus import SCHEMA_VERSION

    assert manifest["meta"]["backend"] == "both" and manifest["schema_version"] == SCHEMA_VERSION
    # the exact gradient oracle ran on every record whose gradient the finite-difference check checked
    for r in records:
        status = r["jax"]["gradient_status"]
        if r["verification"]["gradient_status"] != "checked":
            assert status == "unchecked", r["jax"]["gradient_note"]
        else:
            assert status == "checked" or status.startswith("excluded:"), (status, r["jax"]["gradient_note"])
            assert r["jax"]["gradient_note"]


def test_a_changed_stored_hlo_is_caught_by_the_relowering_check(tmp_path):
    """The re-lowering check can fail: one character of a stored forward HLO changed -> exit 1."""
    from harness.store.corpus import CorpusWriter
    from harness.jax_backend.oracle import argument_specs, lower

    k = CASES["masked_branches"]
    program = render(k)
    values = make_inputs(k.params, k.dim, 1)
    arguments = argument_specs(program, k, values)
    texts = lower(program.source, arguments, ["a", "b"], ["out", "out2"])
    assert texts["backward"] and "stablehlo" in texts["backward"]
    section = {"expressible": True, "source": program.source, "arguments": arguments, "float_inputs": ["a", "b"],
               "float_outputs": ["out", "out2"], "forward_hlo": texts["forward"].replace("stablehlo.add", "stablehlo.subtract", 1),
               "backward_hlo": texts["backward"], "optimized_hlo": texts["optimized"], "jax_version": jax.__version__}
    assert section["forward_hlo"] != texts["forward"]
    import subprocess
    import sys

    from harness.store.canonical import canonical_id
    from harness.pipeline import Options, _record

    record = _record(k, canonical_id(k.source), {k.name: {"forward": "x", "backward": "y"}},
                     {k.name: {"forward": "x", "backward": "y"}},
                     {"cpu_executed": True, "reference_match": True, "nvrtc_compiled": False, "nvrtc_arch": "",
                      "outputs_checked": 1, "max_error_ulp": 0.0, "input_seed": 1, "gradient_checked": False,
                      "gradient_status": "unchecked", "gradient_note": ""}, Options(), "2026-01-01T00:00:00Z")
    record["jax"] = section
    with CorpusWriter(tmp_path / "c", meta={}, validate=False) as w:
        w.add(record)
    proc = subprocess.run([sys.executable, "-m", "harness.jax_check", str(tmp_path / "c")], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1 and "forward HLO differs" in proc.stderr, (proc.stdout, proc.stderr)


def run_without_jax(command: str, argv: list[str]):
    """``harness.<command>.main(argv)`` in a fresh process where ``import jax`` fails, as without the extra."""
    import subprocess
    import sys

    code = ("import sys, builtins; real = builtins.__import__\n"
            "def fake(name, *a, **k):\n"
            "    if name == 'jax' or name.startswith('jax.'): raise ImportError(name)\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = fake\n"
            f"from harness.{command} import main; sys.argv[0] = {command!r}\n"
            f"sys.exit(main({argv!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_backend_jax_without_the_extra_exits_2_naming_it(tmp_path):
    proc = run_without_jax("collect", ["--backend", "jax", "--out", str(tmp_path / "c")])
    assert proc.returncode == 2
    assert '.[jax]' in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_collect_with_the_jax_backend_alone_records_verified_jax_programs_without_warp_code(tmp_path):
    """``collect --backend jax``: no Warp stage runs; every record is valid, has empty Warp fields, says
    ``backend: jax`` and holds a JAX program whose outputs matched the reference."""
    import subprocess
    import sys

    from harness.store.corpus import read_records, validate_record

    out = tmp_path / "c"
    proc = subprocess.run([sys.executable, "-m", "harness.collect", "--out", str(out), "--target-mb", "0.02",
                           "--workers", "1", "--batch-size", "4", "--seed", "3", "--backend", "jax",
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"cpu_compile"' not in proc.stdout  # no Warp build
    records = list(read_records(out))
    assert records
    for r in records:
        assert validate_record(r) == []
        assert r["cpu_forward"] == r["cuda_backward"] == "" and r["verification"]["backend"] == "jax"
        assert r["jax"]["expressible"] and r["jax"]["reference_status"] == "match" and r["jax"]["source"]
