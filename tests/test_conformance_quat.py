"""Quaternion and transform rows (grammar/ops_quat.py) agree with Warp on the CPU.

One Warp module holds a small kernel per (row, signature) of ``ops_quat.ROWS`` and ``ops_quat.EXTEND``, plus
custom kernels for what the table cannot express (the output-argument form of ``quat_to_axis_angle``, the
tuple returns of ``transform_decompose`` and ``quat_to_axis_angle(q)``, the in-place ``transform_set_*``).
Inputs lie in each argument's domain and include edge values (signed zeros, identity and half-turn
rotations, gimbal lock, axis-aligned rotation matrices with tied diagonals, zero/huge/tiny/NaN/inf
quaternions where the domain allows); expected values come from the semantics in native precision.

An operand tuple is kept only when the reference is well-conditioned on it: the native and the
high-precision references agree within ``SCREEN_ULPS`` and no discontinuity was met within rounding
distance (the fuzzer screens such inputs the same way); every case must keep most of its tuples.

Tolerances (ulps of the result's own scalar type, measured against the expected magnitude or the
case's scale, see :func:`_scale`): exact rows 0; arithmetic 4; everything built from sums of products,
square roots or libm calls 8 (Warp's CPU build may fuse ``a*b + c`` into FMAs, numpy and libm may differ
in the last bit). float16 values are checked in float16 ulps.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest

from conformance import Case, annotation, compile_cases, differs, kernel_source, operand, run_case
from grammar import ops_quat, semantics_quat as Q
from grammar.ops import BY_NAME, Op, Signature
from grammar.semantics import EvalContext, UndefinedBehaviour, traces_fragile
from grammar.types import BOOL, FLOAT16, FLOATS, INT32, Composite, composite
from harness.warp_side import warp_adapter as W
from harness.oracle.reference import Runtime, run_reference

INF, NAN = math.inf, math.nan
N = 24  # operand tuples per case
SCREEN_ULPS = 64.0
EXACT_ARITH = {"add", "sub", "neg", "div", "component", "where", "quat_inverse"}

# ---- operand values per (type, domain) ------------------------------------------------------------------------

S2 = math.sqrt(0.5)
UNIT_QUATS = (
    (0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 0.0, -1.0), (-0.0, 0.0, -0.0, 1.0), (1.0, 0.0, 0.0, 0.0),
    (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (S2, 0.0, 0.0, S2), (0.0, -S2, 0.0, S2), (0.0, 0.0, S2, -S2),
    (0.5, 0.5, 0.5, 0.5), (-0.5, 0.5, -0.5, 0.5), (S2, S2, 0.0, 0.0),
    # gimbal lock of quat_rpy/quat_to_rpy: pitch = +-pi/2
    (0.0, S2, 0.0, S2), (0.5, 0.5, -0.5, 0.5),
)


def _unit_random(rng, n):
    q = rng.normal(size=(n, 4))
    return [tuple(r / np.linalg.norm(r)) for r in q]


def _big(d):
    return 300.0 if d == FLOAT16 else 1e20


def _tiny(d):
    return 1e-3 if d == FLOAT16 else 1e-18


def scalar_values(d, domain, rng, n):
    if domain == "nonzero":
        edge = [0.5, -0.5, 1.0, -3.0, 7.5, 1000.0, -0.75]
        return edge + list(rng.choice([-1, 1], size=n) * rng.uniform(0.5, 8.0, size=n))
    edge = [0.0, -0.0, 1.0, -1.0, 0.5, 3.1415927, -1.5707964, 1e-3, -7.25, 100.0, _tiny(d), INF, NAN]
    return edge + list(rng.uniform(-4.0, 4.0, size=n))


def vec_values(d, domain, rng, n):
    edge = [(0.0, 0.0, 0.0), (-0.0, 0.0, -0.0), (1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0),
            (3.0, -4.0, 12.0), (S2, S2, 0.0), (_tiny(d), 1.0, -_tiny(d)), (_big(d), -1.0, 2.0), (NAN, 0.0, 1.0),
            (INF, 0.0, 0.0)]
    return edge + [tuple(r) for r in rng.normal(scale=2.0, size=(n, 3))]


def quat_values(d, domain, rng, n):
    if domain == "unit_quat":
        return list(UNIT_QUATS) + _unit_random(rng, n)
    edge = [(0.0, 0.0, 0.0, 0.0), (-0.0, -0.0, -0.0, -0.0), (3.0, -4.0, 12.0, 0.5), (_big(d), 1.0, 0.0, -2.0),
            (_tiny(d), -_tiny(d), 0.0, _tiny(d)), (NAN, 0.0, 0.0, 1.0), (0.0, INF, 0.0, 1.0)]
    return list(UNIT_QUATS[:6]) + edge + [tuple(r) for r in rng.normal(scale=1.5, size=(n, 4))]


def _rotation(q) -> np.ndarray:
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def matrix_values(t, domain, rng, n):
    size = t.shape[0]
    if domain in ("rotation_matrix", "rotation_block"):
        rots = [_rotation(q) for q in UNIT_QUATS + ((S2, S2, 0.0, 0.0),) + tuple(_unit_random(rng, n))]
        # exact entries for the axis-aligned ones (0, +-1): the diagonal ties of quat_from_matrix are exact
        rots = [np.where(np.abs(r) < 1e-15, 0.0, r) for r in rots]
        if size == 3:
            return rots
        out = []
        for r in rots:
            m = np.eye(4)
            m[:3, :3] = r
            m[:3, 3] = rng.normal(scale=3.0, size=3)
            out.append(m)
        return out
    edge = [np.zeros((size, size)), np.eye(size), -np.eye(size)]
    return edge + list(rng.normal(scale=2.0, size=(n, size, size)))


def transform_values(t, domain, rng, n):
    qs = quat_values(t.scalar, "unit_quat" if domain == "rigid_transform" else "any", rng, n)
    ps = [(0.0, 0.0, 0.0), (-0.0, 1.0, 2.0), (100.0, -3.0, 0.5)] + [tuple(r) for r in rng.normal(size=(n, 3))]
    return [tuple(ps[i % len(ps)]) + tuple(q) for i, q in enumerate(qs)]


def values(t, domain, rng, n, *, index_of=None):
    """Operand values of type ``t`` in ``domain`` (``index_of``: the composite an int32 indexes)."""
    if t == BOOL:
        return [False, True]
    if t == INT32:
        if domain == "axis_index":
            return [0, 1, 2]
        m = index_of.shape[0]
        return list(range(-m, m))
    if not isinstance(t, Composite):
        return scalar_values(t, domain, rng, n)
    return {"vector": vec_values, "quat": quat_values, "matrix": matrix_values,
            "transform": transform_values}[t.kind](t if t.kind in ("matrix", "transform") else t.scalar,
                                                   domain, rng, n)


# ---- cases --------------------------------------------------------------------------------------------------------

_PROD_SCALE = {"mul", "dot", "length", "normalize", "quat_rotate", "quat_rotate_inv", "quat_to_matrix",
               "quat_slerp", "quat_twist", "transform_multiply", "transform_point", "transform_vector",
               "transform_inverse", "transform_to_matrix", "transform_compose", "quat_from_euler"}


def _magnitude(v) -> float:
    if isinstance(v, (bool, int)):
        return 0.0
    a = np.abs(np.asarray(v, dtype=np.float64))
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else 0.0


def _scale(name: str):
    """The magnitude ulps are measured against: sums of products are bounded by the product of the
    operands' magnitudes (each at least 1), everything else by the largest operand."""
    if name in _PROD_SCALE:
        return lambda args, want: 4.0 * math.prod(max(_magnitude(a), 1.0) for a in args)
    return lambda args, want: max([_magnitude(a) for a in args] + [0.0])


def _ulps(op: Op) -> float:
    return 0.0 if op.exact else (4.0 if op.name in EXACT_ARITH else 8.0)


def _render(op: Op, sig: Signature, operands: list[str]) -> str:
    if op.syntax != "call" and op.syntax != "construct":
        from conformance import expression

        return expression(op, operands)
    args = operands + [f"{k}={v}" for k, v in sig.keywords]
    return f"{op.spelling}({', '.join(args)})"


_RUNTIMES: dict = {}


def _runtime(float_t) -> Runtime:
    rt = _RUNTIMES.get(float_t) or _RUNTIMES.setdefault(float_t, Runtime(float_t))
    rt.ctx.trace = []
    return rt


def _screened(compute, result_types, scale, ulps=SCREEN_ULPS):
    """``compute(runtime) -> values`` in native and high precision: the native values, or None when the
    input is ill-conditioned (references disagree, or a discontinuity was met within rounding distance)."""
    native, high = _runtime(np.float32), _runtime(np.float64)
    try:
        with np.errstate(all="ignore"):
            want = compute(native)
            check = compute(high)
    except (UndefinedBehaviour, OverflowError, ValueError):
        return None
    if traces_fragile(native.ctx.trace, [high.ctx.trace]):
        return None
    for w, c, t in zip(want, check, result_types):
        if differs(c, w, t, ulps, scale):
            return None
    return want


def _case(name, source, op, signature, args, expected, ulps) -> Case:
    return Case(name, source.split("(")[0].split()[-1], source, op, signature, args, expected, ulps)


def _row_cases(rows, rng) -> list[Case]:
    cases = []
    for op, sig in rows:
        if op.outputs or op.inplace:  # statement rows: custom cases below
            continue
        columns = []
        for i, t in enumerate(sig.args):
            columns.append(values(t, op.domain(i), rng, N, index_of=sig.args[0]))
        if op.name in ("quat_from_euler", "quat_to_euler"):  # every axis sequence, each with a few angles
            firsts = columns[0]
            tuples = [(firsts[(a * 9 + b * 3 + c + s) % len(firsts)], a, b, c)
                      for a in range(3) for b in range(3) for c in range(3) for s in (0, 11, 19)]
        elif not sig.args:
            tuples = [(), ()]
        else:
            length = max(len(c) for c in columns)
            tuples = [tuple(c[(k * (j + 1)) % len(c)] for j, c in enumerate(columns)) for k in range(length)]
        scale = _scale(op.name)
        kept, expected = [], []
        for raw in tuples:
            coerce_rt = _runtime(np.float32)
            try:
                vals = tuple(coerce_rt.coerce(v, t) for v, t in zip(raw, sig.args))
            except (UndefinedBehaviour, OverflowError, ValueError):
                continue

            def compute(rt, vals=vals):
                hp = tuple(rt.coerce(v, t) for v, t in zip(vals, sig.args))
                return [rt.call(op, sig, *hp)]

            want = _screened(compute, [sig.result], scale(vals, None))
            if want is not None:
                kept.append(vals)
                expected.append(want[0])
        name = f"k{len(cases)}_{op.name}"
        operands = [operand(t, k) for k, t in enumerate(sig.args)]
        source = kernel_source(name, sig, _render(op, sig, operands))
        kw = "".join(f",{k}={v.split('.')[-1]}" for k, v in sig.keywords)
        cid = f"{op.name}({','.join(t.name for t in sig.args)}{kw})->{sig.result}"
        case = _case(cid, source, op, sig, kept, expected, _ulps(op))
        case.extra.update(tried=len(tuples), scale=scale)
        cases.append(case)
    return cases


def _custom_cases(rng) -> list[Case]:
    """Kernels for builtins the table cannot express; each checks one output against its semantics."""
    cases = []

    def add(name, body, arg_types, out_type, fn, samples, ulps=8.0, op_name="quat_to_axis_angle"):
        kname = f"c{len(cases)}_{op_name}"
        params = [f"a{k}: wp.array(dtype={annotation(t)})" for k, t in enumerate(arg_types)]
        params.append(f"out: wp.array(dtype={annotation(out_type)})")
        source = "\n".join(["@wp.kernel", f"def {kname}({', '.join(params)}):", "    tid = wp.tid()"]
                           + [f"    {line}" for line in body]) + "\n"
        sig = Signature(tuple(arg_types), out_type)
        scale = _scale("mul")
        kept, expected = [], []
        for raw in samples:
            vals = tuple(_runtime(np.float32).coerce(v, t) for v, t in zip(raw, arg_types))

            def compute(rt, vals=vals):
                hp = tuple(rt.coerce(v, t) for v, t in zip(vals, arg_types))
                rt.ctx.sig = sig
                return [rt.coerce(fn(rt.ctx, *hp), out_type)]

            want = _screened(compute, [out_type], scale(vals, None))
            if want is not None:
                kept.append(vals)
                expected.append(want[0])
        op = BY_NAME.get(op_name) or Op(op_name, "call", f"wp.{op_name}", (sig,), fn)
        case = _case(name, source, op, sig, kept, expected, ulps)
        case.extra.update(tried=len(samples), scale=scale)
        cases.append(case)

    for d in FLOATS:
        q, v3, m44, t = composite("quat", d), composite("vector", d, 3), composite("matrix", d, 4), \
            composite("transform", d)
        quats = [(x,) for x in quat_values(d, "any", rng, N)]
        zero = f"{d.warp_name}(0.0)"
        for k, part in enumerate(("axis", "angle")):
            out_t = v3 if part == "axis" else d
            pick = (lambda k: lambda ctx, qv: Q.quat_to_axis_angle(ctx, qv)[k])(k)
            add(f"quat_to_axis_angle[{part}]({q})",
                [f"axis = {v3.warp_name}()", f"angle = {zero}", "wp.quat_to_axis_angle(a0[tid], axis, angle)",
                 f"out[tid] = {part}"], [q], out_t, pick, quats)
            add(f"quat_to_axis_angle(q)[{part}]({q})",
                ["axis, angle = wp.quat_to_axis_angle(a0[tid])", f"out[tid] = {part}"], [q], out_t, pick, quats)
        mats = [(m,) for m in matrix_values(m44, "any", rng, N) + matrix_values(m44, "rotation_matrix", rng, N)]
        scaled = [(np.diag([2.0, 0.5, 3.0, 1.0]) @ m[0],) for m in mats[-8:]]
        for k, part in enumerate(("position", "rotation", "scale")):
            pick = (lambda k: lambda ctx, m: Q.transform_decompose(ctx, m)[k])(k)
            add(f"transform_decompose[{part}]({m44})",
                ["position, rotation, scale = wp.transform_decompose(a0[tid])", f"out[tid] = {part}"],
                [m44], (v3, q, v3)[k], pick, mats + scaled, op_name="transform_decompose")
        pairs = list(zip(transform_values(t, "any", rng, N), vec_values(d, "any", rng, N)))
        add(f"transform_set_translation({t})", ["x = a0[tid]", "wp.transform_set_translation(x, a1[tid])",
                                                  "out[tid] = x"], [t, v3], t, Q.transform_set_translation,
            pairs, ulps=0.0, op_name="transform_set_translation")
        pairs = list(zip(transform_values(t, "any", rng, N), quat_values(d, "any", rng, N)))
        add(f"transform_set_rotation({t})", ["x = a0[tid]", "wp.transform_set_rotation(x, a1[tid])",
                                               "out[tid] = x"], [t, q], t, Q.transform_set_rotation,
            pairs, ulps=0.0, op_name="transform_set_rotation")
    return cases


def _all_rows():
    rows = [(op, s) for op in ops_quat.ROWS for s in op.signatures]
    for name, sigs in ops_quat.EXTEND.items():
        op = BY_NAME[name]
        rows += [(op, next(t for t in op.signatures if t == s)) for s in sigs]
    return rows


ROW_CASES = _row_cases(_all_rows(), np.random.default_rng(0))
CUSTOM_CASES = _custom_cases(np.random.default_rng(1))
CASES = ROW_CASES + CUSTOM_CASES


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    return compile_cases(CASES, tmp_path_factory)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_warp_agrees_with_the_reference(module, case):
    tried = case.extra["tried"]
    assert len(case.args) >= max(2, tried // 2), f"{case.id}: only {len(case.args)}/{tried} tuples well-conditioned"
    run_case(module, case, case.extra["scale"])


def test_overloads_of_other_groups_rows_found_their_rows():
    """pos, lerp, length_sq, isnan... are rows of ops_scalar/ops_linalg: a renamed row would drop them."""
    assert set(ops_quat.SIBLING_EXTEND) <= set(ops_quat.EXTEND)


def test_every_row_and_extension_has_a_case():
    covered = {(c.op.name, c.signature) for c in ROW_CASES}
    for op, s in _all_rows():
        assert op.outputs or op.inplace or (op.name, s) in covered, (op.name, s)
    custom = [c.id for c in CUSTOM_CASES]
    for row, n in (("quat_to_axis_angle[", 2), ("transform_decompose[", 3), ("transform_set_translation(", 1),
                   ("transform_set_rotation(", 1)):
        assert sum(c.startswith(row) for c in custom) == n * len(FLOATS), row


# ---- Warp details the semantics copy -------------------------------------------------------------------------


def _launch(module, case, columns, out_type):
    arrays = [W.to_warp(np.asarray(c), annotation_name(t)) for c, t in zip(columns, case.signature.args)]
    n = len(columns[0]) if columns else 2
    shape = (n, *out_type.shape) if isinstance(out_type, Composite) else (n,)
    out = W.to_warp(np.zeros(shape, dtype=out_type.numpy_dtype), out_type.name)
    W.launch_cpu(getattr(module, case.kernel), n, arrays + [out])
    return W.to_numpy(out)


def annotation_name(t):
    return "int32" if t == BOOL else t.name


def _find(prefix: str) -> Case:
    return next(c for c in ROW_CASES if c.id.startswith(prefix))


def test_quaternion_negation_flips_the_sign_of_zero(module):
    case = _find("neg(quat)")
    got = _launch(module, case, [np.array([[0.0, -0.0, 1.0, 0.0]], dtype=np.float32)], case.signature.result)
    want = Q.quat_neg(None, np.array([0.0, -0.0, 1.0, 0.0], dtype=np.float32))
    assert np.signbit(got[0]).tolist() == np.signbit(want).tolist() == [True, False, True, True]


def test_normalize_of_zero_and_nan_quaternions_is_the_identity(module):
    case = _find("normalize(quat)")
    got = _launch(module, case, [np.array([[0.0] * 4, [NAN, 1.0, 0.0, 0.0]], dtype=np.float32)],
                  case.signature.result)
    ctx = EvalContext(np.float32)
    for row, q in zip(got, ([0.0] * 4, [NAN, 1.0, 0.0, 0.0])):
        assert row.tolist() == [0.0, 0.0, 0.0, 1.0] == Q.quat_normalize(ctx, np.array(q, np.float32)).tolist()


@pytest.mark.parametrize("prefix", ["quaternion(quatd,dtype=float16)", "quath(quatd)"])
def test_float64_to_float16_conversion_rounds_through_float32(module, prefix):
    """1 + 2**-11 + 2**-40 rounds up to 1 + 2**-10 directly, but to float32 1 + 2**-11 (a float16 tie) and
    then to even, 1.0: Warp's ``half(double)`` goes through float."""
    x = 1.0 + 2.0**-11 + 2.0**-40
    case = _find(prefix)
    got = _launch(module, case, [np.array([[x, -x, 0.0, 1.0]])], case.signature.result)
    ctx = EvalContext(np.float32)
    ctx.sig = case.signature
    want = Q.quaternion(ctx, np.array([x, -x, 0.0, 1.0]))
    assert got[0].tolist() == want.tolist() == [1.0, -1.0, 0.0, 1.0]
    assert float(np.float16(x)) == 1.0 + 2.0**-10


def test_acos_of_nan_is_pi_in_quat_to_euler(module):
    """The zero quaternion makes quat_to_euler's cosine 0/0 = NaN; Warp's clamped acos turns it into pi."""
    case = _find("quat_to_euler")
    cols = [np.zeros((1, 4), np.float32), np.array([0], np.int32), np.array([1], np.int32), np.array([0], np.int32)]
    got = _launch(module, case, cols, case.signature.result)
    with np.errstate(invalid="ignore"):
        want = Q.quat_to_euler(EvalContext(np.float32), np.zeros(4, np.float32), 0, 1, 0)
    assert np.allclose(got[0], want) and float(want[1]) == pytest.approx(math.pi)


# ---- guards --------------------------------------------------------------------------------------------------------

Param = namedtuple("Param", "name kind role")
GUARD_TYPES = {
    "unit_quat": [composite("quat", d) for d in FLOATS],
    "rigid_transform": [composite("transform", d) for d in FLOATS] + [composite("matrix", FLOAT16, 4)],
    "rotation_matrix": [composite("matrix", d, n) for d in FLOATS for n in (3, 4)],
    "rotation_block": [composite("matrix", d, n) for d in FLOATS for n in (3, 4)],
    "axis_index": [INT32],
}


def _adversarial(t) -> list[np.ndarray]:
    """Zero, -0, huge, tiny, NaN, inf and ordinary values of type ``t``."""
    if t == INT32:
        return [0, 1, -1, 2, -2, 3, -3, 7, -8, 2**31 - 1, -(2**31)]
    big = float(np.finfo(t.numpy_dtype).max)
    size = int(np.prod(t.shape))
    out = []
    for v in (0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, 1e-6, 300.0, 1e20, big, -big, INF, -INF, NAN):
        out.append(np.full(size, v))
    rng = np.random.default_rng(3)
    out += [rng.normal(scale=s, size=size) for s in (1.0, 1e3, 1e-4)]
    mixed = np.zeros(size)
    mixed[0], mixed[-1] = NAN, INF
    out.append(mixed)
    one_hot = np.zeros(size)
    one_hot[-1] = -1.0  # the antipode of the identity in the last slot
    out.append(one_hot)
    with np.errstate(over="ignore"):
        return [v.reshape(t.shape).astype(t.numpy_dtype) for v in out]


def _in_domain(domain, t, v) -> bool:
    if domain == "axis_index":
        return int(v) in (0, 1, 2)
    v = np.asarray(v, dtype=np.float64)
    tol = 4e-3 if t.scalar == FLOAT16 else 1e-5
    if domain == "unit_quat":
        return abs(np.linalg.norm(v) - 1.0) <= tol
    if domain == "rigid_transform":
        return t.kind != "transform" or abs(np.linalg.norm(v[3:]) - 1.0) <= tol
    r = v[:3, :3]
    if v.shape == (4, 4) and not np.array_equal(v[3], [0.0, 0.0, 0.0, 1.0]):
        return False
    return np.allclose(r @ r.T, np.eye(3), atol=4 * tol) and abs(np.linalg.det(r) - 1.0) <= 4 * tol


GUARD_KERNELS = [(domain, t, f"g_{domain}_{t.name}") for domain, ts in GUARD_TYPES.items() for t in ts]


def _guard_source(domain, t, name):
    guard = ops_quat.GUARDS[domain]
    return (f"@wp.kernel\ndef {name}(a0: wp.array(dtype={t.warp_name}), out: wp.array(dtype={t.warp_name})):\n"
            f"    tid = wp.tid()\n    out[tid] = {guard(t, 'a0[tid]')}\n")


@pytest.fixture(scope="module")
def guard_module(tmp_path_factory):
    W.init(str(tmp_path_factory.mktemp("warp-cache")))
    path = tmp_path_factory.mktemp("guards") / "quat_guard_kernels.py"
    path.write_text("import warp as wp\n\n\n" + "\n\n".join(_guard_source(*g) for g in GUARD_KERNELS))
    pymodule = W.import_kernel_module(path)
    W.set_module_options(pymodule, optimization_level=0, enable_backward=False)
    W.compile_cpu(pymodule)
    return pymodule


def test_the_rotation_block_guard_spells_its_argument_once():
    """quat_from_matrix reads only a 4x4's rotation: a translation kept from the argument (as rotation_matrix
    keeps it, through transform_from_matrix) could never reach an output."""
    for d in FLOATS:
        for n in (3, 4):
            text = ops_quat.GUARDS["rotation_block"](composite("matrix", d, n), "e")
            assert text.count("(e)") == 1 and "transform_from_matrix" not in text, text


@pytest.mark.parametrize("domain,t,name", GUARD_KERNELS, ids=[g[2] for g in GUARD_KERNELS])
def test_guard_maps_adversarial_inputs_into_the_domain(guard_module, domain, t, name):
    inputs = _adversarial(t)
    data = np.array(inputs, dtype=np.int32 if t == INT32 else t.numpy_dtype)
    params = [Param("a0", "array", "input"), Param("out", "array", "output")]
    zeros = np.zeros_like(data)
    source = _guard_source(domain, t, name)
    ref = run_reference(source, params, {"a0": data, "out": zeros}, len(inputs)).outputs["out"]
    out = W.to_warp(zeros, t.name)
    W.launch_cpu(getattr(guard_module, name), len(inputs), [W.to_warp(data, t.name), out])
    got = W.to_numpy(out)
    for x, r, w in zip(inputs, ref, got):
        assert _in_domain(domain, t, r), f"reference: {domain} guard of {np.asarray(x).tolist()} gave {r}"
        assert _in_domain(domain, t, w), f"Warp: {domain} guard of {np.asarray(x).tolist()} gave {w}"
