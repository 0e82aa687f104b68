"""The vector, matrix and spatial rows of grammar/ops_linalg.py agree with Warp on the CPU, bit for bit.

One case per (row, signature) added by :mod:`grammar.ops_linalg` (new rows and ``EXTEND`` signatures): a tiny
kernel applies the row to array loads (keyword and zero-argument forms are spelled with their keywords;
output-argument decompositions write into locals that are then stored), and Warp's results must equal the
reference's, computed in native precision. Operands are edge values inside each argument's domain (signed
zeros, subnormals, the largest finite values, inf and NaN where the domain allows them, ties for ``argmin``,
singular and rank-one matrices, float64 values that round differently to float16 directly and through float32)
plus random ones of several magnitudes.

Tolerance: none. The semantics repeat Warp's native order of operations (no contraction on the CPU; explicit
``fmaf``/``fma`` emulated exactly; float16 rounded after every operation), so every float result, float16
included, must be bit-equal (zeros of either sign compare equal, NaN equals NaN). The decompositions
(``svd3``, ``svd2``, ``qr3``, ``eig3``) are ported iteration for iteration and are held to the same standard.

Each new domain's guard is compiled and run on adversarial inputs (0, -0, +-inf, NaN, the largest and
smallest magnitudes) through Warp and the reference: both must agree bit for bit and land in the domain.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest
from conformance import Case, _column, annotation, build_cases, compile_cases, group_rows, run_case

from grammar import ops as OPS
from grammar import ops_linalg as M
from grammar.semantics import EvalContext, UndefinedBehaviour
from grammar.types import BOOL, FLOAT16, FLOAT32, FLOAT64, FLOATS, INT32, TRANSFORM, Composite, Scalar
from harness.warp_side import warp_adapter as W
from harness.oracle.reference import Runtime, run_reference

INF, NAN = math.inf, math.nan
N = 20  # operand tuples per case
Param = namedtuple("Param", "name kind role")

# ---- the rows under test ------------------------------------------------------------------------------------------


def _rows() -> list[tuple[OPS.Op, OPS.Signature]]:
    return group_rows(M)


ROWS = _rows()
OUTPUT_ROWS = [(op, s) for op, s in ROWS if op.outputs]
KEYWORD_ROWS = [(op, s) for op, s in ROWS if not op.outputs and (s.keywords or not s.args)]
PLAIN_ROWS = [(op, s) for op, s in ROWS if not op.outputs and s.args and not s.keywords]

# ---- operand values per (type, domain) ----------------------------------------------------------------------------

_BIG = {16: 6.0e4, 32: 3.0e38, 64: 1.0e308}
_TINY = {16: 6.0e-8, 32: 1.0e-45, 64: 5.0e-324}
#: float64 values that round one way to float16 directly and the other way through float32 (Warp's path)
DOUBLE_ROUNDING = (1.0 + 2.0**-11 + 2.0**-40, -(2.0 + 2.0**-10 + 2.0**-35), 1024.0 + 0.5 + 2.0**-30)


def _scalar_edges(d: Scalar) -> list[float]:
    big, tiny = _BIG[d.bits], _TINY[d.bits]
    return [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 0.1, 3.0, 1e-3, -7.25, tiny, big, -big, INF, -INF, NAN]


def _random_floats(rng, n: int, d: Scalar) -> list[float]:
    top = 3 if d.bits == 16 else 6
    return list(rng.standard_normal(n) * 10.0 ** rng.uniform(-top, top, n))


def _vector_edges(n: int, d: Scalar) -> list[np.ndarray]:
    big, tiny = _BIG[d.bits], _TINY[d.bits]
    ramp = np.arange(1.0, n + 1.0)
    edges = [
        np.zeros(n), -np.zeros(n), np.ones(n), np.eye(n)[0], -ramp, np.where(ramp % 2 == 0, ramp, -ramp),
        np.full(n, 2.0), np.r_[3.0, 3.0, -1.0, 3.0, 0.5, -0.0][:n], np.r_[NAN, 1.0, -2.0, 3.0, 0.25, 7.0][:n],
        np.r_[1.0, INF, -2.0, NAN, 0.0, -INF][:n], np.full(n, NAN), np.full(n, 0.6 * big), np.full(n, tiny),
        np.r_[-0.0, 0.0, -0.0, 0.0, 0.0, -0.0][:n], np.round(ramp * 1.7 - 3.0),
    ]
    if d == FLOAT64:
        edges.append(np.resize(np.array(DOUBLE_ROUNDING), n))
    return edges


def _random_vectors(rng, count: int, n: int, d: Scalar) -> list[np.ndarray]:
    top = 2 if d.bits == 16 else 4
    return [rng.standard_normal(n) * 10.0 ** rng.uniform(-top, top) for _ in range(count)]


def _matrix_edges(n: int, d: Scalar, rng) -> list[np.ndarray]:
    big, tiny = _BIG[d.bits], _TINY[d.bits]
    u = rng.standard_normal(n)
    nan = np.eye(n)
    nan[0, -1] = NAN
    inf = np.ones((n, n))
    inf[-1, 0] = INF
    return [
        np.zeros((n, n)), np.eye(n), -np.eye(n), np.outer(u, u), np.round(rng.standard_normal((n, n)) * 3),
        np.arange(n * n, dtype=float).reshape(n, n), nan, inf, np.full((n, n), 0.3 * big), np.full((n, n), tiny),
        np.diag(np.arange(1.0, n + 1.0)), -np.zeros((n, n)),
    ]


def _random_matrices(rng, count: int, n: int, d: Scalar) -> list[np.ndarray]:
    top = 1 if d.bits == 16 else 3
    return [rng.standard_normal((n, n)) * 10.0 ** rng.uniform(-top, top) for _ in range(count)]


def _invertible(rng, count: int, n: int) -> list[np.ndarray]:
    """What the ``invertible`` guard produces: ``I + e / (||e||_F^2 + n)``, for ``e`` of every magnitude."""
    out = [np.eye(n)]
    for _ in range(count - 1):
        e = rng.standard_normal((n, n)) * 10.0 ** rng.uniform(-4, 4)
        out.append(np.eye(n) + e / (np.sum(e * e) + n))
    return out


def _pick(rng, edges: list, randoms: list, n: int) -> list:
    """All edges (shuffled) topped up with random values to ``n``."""
    values = list(edges) + list(randoms)
    order = rng.permutation(len(edges))
    chosen = [edges[i] for i in order][:n]
    return chosen + list(randoms)[: max(0, n - len(chosen))]


def _transforms(rng, n: int) -> list[np.ndarray]:
    out = [np.r_[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], np.r_[1.0, -2.0, 0.5, 0.0, 0.0, 1.0, 0.0]]
    for k in range(n - 2):
        q = rng.standard_normal(4)
        out.append(np.r_[rng.standard_normal(3) * 3, q / np.linalg.norm(q) if k % 2 else q])
    return out


def samples(t, domain: str, rng, n: int) -> list:
    if t == BOOL:
        return [bool(k % 2) for k in range(n)]
    if t == INT32:
        return [int(k) for k in rng.integers(-7, 8, n)]
    if t == TRANSFORM:
        return _transforms(rng, n)
    if isinstance(t, Scalar):
        if domain == "positive":
            return list(rng.permutation([0.25, 0.5, 1.0, 1.5, 2.0, 7.25, 100.0, 1e6, 0.3, 4.0]))[:n] * 2
        if domain == "nonzero":
            return list(rng.permutation([0.5, -0.5, 1.0, -1.0, 3.0, -7.25, 1e4, -2e4, 0.75, 0.625, 1.5, -3.0]))
        edges = _scalar_edges(t)
        return [edges[i] for i in rng.permutation(len(edges))] + _random_floats(rng, max(0, n - len(edges)), t)
    d, size = t.scalar, t.shape[0]
    if len(t.shape) == 1:
        if domain == "nonzero_elements":
            return [1.0 + np.abs(v) for v in _random_vectors(rng, n, size, d)]
        return _pick(rng, _vector_edges(size, d), _random_vectors(rng, n, size, d), n)
    if domain == "invertible":
        return _invertible(rng, n, size)
    if domain == "symmetric":
        base = _pick(rng, _matrix_edges(size, d, rng), _random_matrices(rng, n, size, d), n)
        return [m + m.T for m in base]
    if domain == "nonzero_elements":
        return [1.0 + np.abs(m) for m in _random_matrices(rng, n, size, d)]
    return _pick(rng, _matrix_edges(size, d, rng), _random_matrices(rng, n, size, d), n)


def test_samples_lie_in_their_domains():
    rng = np.random.default_rng(1)
    for n in (2, 3, 4):
        for m in samples(M.mat(FLOAT32, n), "invertible", rng, 10):
            s = np.linalg.svd(m, compute_uv=False)
            assert s.min() > 0.6 and s.max() < 1.4
        for m in samples(M.mat(FLOAT32, n), "symmetric", rng, 10):
            assert np.array_equal(m, m.T, equal_nan=True)
    assert all(np.all(v >= 1.0) for v in samples(M.vec(FLOAT16, 4), "nonzero_elements", rng, 10))
    assert all(abs(x) >= 0.5 for x in samples(FLOAT32, "nonzero", rng, 10))
    assert all(x >= 0.25 for x in samples(FLOAT32, "positive", rng, 10))


# ---- cases --------------------------------------------------------------------------------------------------------


def _unique(cases: list[Case], tag: str) -> list[Case]:
    """Kernel names from the harness repeat when two signatures differ only in their result; number them."""
    for i, c in enumerate(cases):
        name = f"{c.kernel}_{tag}{i}"
        c.source = c.source.replace(f"def {c.kernel}(", f"def {name}(")
        c.kernel = name
    return cases


_RUNTIME = Runtime(np.float32)


def _keyword_case(op, s, rng, k: int) -> Case:
    """``wp.vector(a0[tid], length=3)``, ``wp.identity(n=3, dtype=wp.float16)``...: spelled with keywords;
    zero-argument forms run on two threads."""
    runtime = _RUNTIME
    columns = [samples(t, op.domain(i), rng, N) for i, t in enumerate(s.args)]
    tuples = list(zip(*columns)) if s.args else [(), ()]
    kept, expected = [], []
    for args in tuples:
        values = [runtime.coerce(v, t) for v, t in zip(args, s.args)]
        with np.errstate(all="ignore"):
            expected.append(runtime.call(op, s, *values))
        kept.append(tuple(values))
    name = f"k_{op.name}_kw{k}"
    params = [f"a{i}: wp.array(dtype={annotation(t)})" for i, t in enumerate(s.args)]
    params.append(f"out: wp.array(dtype={annotation(s.result)})")
    call_args = [f"a{i}[tid]" for i in range(len(s.args))] + [f"{key}={value}" for key, value in s.keywords]
    source = (f"@wp.kernel\ndef {name}({', '.join(params)}):\n    tid = wp.tid()\n"
              f"    out[tid] = {op.spelling}({', '.join(call_args)})\n")
    kw = ",".join(f"{key}={value}" for key, value in s.keywords)
    return Case(f"{op.name}({','.join(t.name for t in s.args)};{kw})", name, source, op, s, kept, expected,
                0.0 if op.exact else 0.0)


def _zero(t: Composite) -> str:
    """A zero value of ``t`` spelled with a row of the table (``wp.mat33h()`` is not one, see ops_linalg)."""
    d = t.scalar.warp_name
    if len(t.shape) == 1:
        return f"wp.vector(length={t.shape[0]}, dtype={d})"
    return f"wp.matrix(shape=({t.shape[0]}, {t.shape[1]}), dtype={d})"


def _output_case(op, s, rng, k: int) -> Case:
    """``wp.svd3(a0[tid], r0, r1, r2)`` into zero-initialised locals, each then stored to its own array."""
    inputs, outs = s.args[: -op.outputs], s.args[-op.outputs:]
    columns = [samples(t, op.domain(i), rng, N) for i, t in enumerate(inputs)]
    ctx = EvalContext(np.float32, high_precision=False)
    ctx.sig = s
    runtime = _RUNTIME
    kept, expected = [], []
    for args in zip(*columns):
        values = [runtime.coerce(v, t) for v, t in zip(args, inputs)]
        with np.errstate(all="ignore"):
            expected.append(tuple(np.asarray(v) for v in (s.semantics or op.semantics)(ctx, *values)))
        kept.append(tuple(values))
    name = f"k_{op.name}_out{k}"
    params = [f"a{i}: wp.array(dtype={t.warp_name})" for i, t in enumerate(inputs)]
    params += [f"o{j}: wp.array(dtype={t.warp_name})" for j, t in enumerate(outs)]
    lines = ["@wp.kernel", f"def {name}({', '.join(params)}):", "    tid = wp.tid()"]
    lines += [f"    r{j} = {_zero(t)}" for j, t in enumerate(outs)]
    call_args = [f"a{i}[tid]" for i in range(len(inputs))] + [f"r{j}" for j in range(len(outs))]
    lines.append(f"    {op.spelling}({', '.join(call_args)})")
    lines += [f"    o{j}[tid] = r{j}" for j in range(len(outs))]
    return Case(f"{op.name}({','.join(t.name for t in inputs)})", name, "\n".join(lines) + "\n", op, s, kept,
                expected)


def _build() -> tuple[list[Case], list[Case]]:
    rng = np.random.default_rng(0)
    plain = build_cases(PLAIN_ROWS, samples, n=N, seed=0, ulps=lambda op, s: 0.0)
    plain += [_keyword_case(op, s, rng, k) for k, (op, s) in enumerate(KEYWORD_ROWS)]
    outputs = [_output_case(op, s, rng, k) for k, (op, s) in enumerate(OUTPUT_ROWS)]
    return _unique(plain, "p"), outputs


CASES, OUTPUT_CASES = _build()


def _guard_kernels() -> list[tuple[str, Composite, str]]:
    out = []
    for t in M.MATRICES:
        if t.shape[0] != 6:
            out.append(("invertible", t, f"g_invertible_{t.name}"))
        if t.shape[0] == 3:
            out.append(("symmetric", t, f"g_symmetric_{t.name}"))
    for t in M.VECTORS + M.MATRICES:
        out.append(("nonzero_elements", t, f"g_nonzero_elements_{t.name}"))
    return out


GUARD_KERNELS = _guard_kernels()


def _guard_source(domain: str, t: Composite, name: str) -> str:
    return (f"@wp.kernel\ndef {name}(a0: wp.array(dtype={t.warp_name}), out: wp.array(dtype={t.warp_name})):\n"
            f"    tid = wp.tid()\n    out[tid] = {M.GUARDS[domain](t, 'a0[tid]')}\n")


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    guards = [Case(name, name, _guard_source(domain, t, name), None, None, [], []) for domain, t, name in GUARD_KERNELS]
    return compile_cases(CASES + OUTPUT_CASES + guards, tmp_path_factory)


def test_every_row_and_domain_is_covered():
    covered = {(c.op.name, c.signature) for c in CASES + OUTPUT_CASES}
    assert covered == {(op.name, s) for op, s in ROWS}
    assert set(M.DOMAINS) == set(M.GUARDS)
    used = {d for op in M.ROWS for d in op.domains} - set(OPS.DOMAINS)
    assert used <= set(M.DOMAINS) | {"positive"}


def _launch(module, case: Case) -> np.ndarray:
    s = case.signature
    arrays = [W.to_warp(_column(t, [a[k] for a in case.args]), "int32" if t == BOOL else t.name)
              for k, t in enumerate(s.args)]
    rt = INT32 if s.result == BOOL else s.result
    n = len(case.args)
    out = W.to_warp(np.zeros((n, *rt.shape) if isinstance(rt, Composite) else (n,), dtype=rt.numpy_dtype), rt.name)
    W.launch_cpu(getattr(module, case.kernel), n, arrays + [out])
    return W.to_numpy(out)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_row_matches_warp(module, case):
    run_case(module, case)
    if isinstance(case.signature.result, Composite) or case.signature.result.is_float:
        got = _launch(module, case)  # run_case lets zeros of either sign pass; the semantics get the sign right
        for args, g, w in zip(case.args, got, case.expected):
            w = np.asarray(w, dtype=np.float64)
            g = np.asarray(g, dtype=np.float64)
            zero = (g == 0) & (w == 0)
            assert np.array_equal(np.signbit(g[zero]), np.signbit(w[zero])), (
                f"{case.id}: sign of zero differs for {[np.asarray(a).tolist() for a in args]}: "
                f"reference {w.tolist()}, Warp {g.tolist()}")


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool(np.all((got == want) | (np.isnan(got) & np.isnan(want))))


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[c.id for c in OUTPUT_CASES])
def test_decomposition_matches_warp(module, case):
    s, op = case.signature, case.op
    inputs, outs = s.args[: -op.outputs], s.args[-op.outputs:]
    n = len(case.args)
    arrays = [W.to_warp(np.array([a[i] for a in case.args], dtype=t.numpy_dtype), t.name) for i, t in enumerate(inputs)]
    results = [W.to_warp(np.zeros((n, *t.shape), dtype=t.numpy_dtype), t.name) for t in outs]
    W.launch_cpu(getattr(module, case.kernel), n, arrays + results)
    got = [W.to_numpy(r) for r in results]
    bad = [f"{np.asarray(args[0]).tolist()}: output {j} reference {want[j].tolist()}, Warp {got[j][i].tolist()}"
           for i, (args, want) in enumerate(zip(case.args, case.expected)) for j in range(len(outs))
           if not _same(got[j][i], want[j])]
    assert not bad, f"{case.id}: {len(bad)} outputs differ:\n" + "\n".join(bad[:6])


# ---- guards -------------------------------------------------------------------------------------------------------


def _adversarial(t: Composite) -> list[np.ndarray]:
    d = t.scalar
    big, tiny = _BIG[d.bits], _TINY[d.bits]
    rng = np.random.default_rng(7)
    shape = t.shape
    fills = (0.0, -0.0, 1.0, -1.0, big, -big, tiny, 1e-3, 1e3, INF, -INF, NAN)
    out = [np.full(shape, f) for f in fills]
    out += [rng.standard_normal(shape) * s for s in (1e-6, 1.0, 1e2, (big ** 0.5) * 4)]
    mixed = rng.standard_normal(shape)
    mixed.flat[0] = NAN
    out.append(mixed)
    if len(shape) == 2:
        out += [np.eye(shape[0]) * -1.0, np.ones(shape)]
    return out


def _in_domain(domain: str, x: np.ndarray, y: np.ndarray) -> bool:
    """Is the guard's result ``y`` (of input ``x``) in the domain? NaN is allowed where the guard documents it."""
    y64 = y.astype(np.float64)
    if domain == "symmetric":
        return np.array_equal(y64, y64.T, equal_nan=True)
    if domain == "nonzero_elements":
        if y.ndim == 1:
            return bool(np.all(y64 >= 1.0))
        return bool(np.all((y64 >= 1.0) | np.isnan(x.astype(np.float64))))
    if not np.all(np.isfinite(x)):
        return True  # documented residual: inf/NaN entries may give NaN
    s = np.linalg.svd(y64, compute_uv=False)
    return bool(s.min() >= 0.6 and s.max() <= 1.4)


@pytest.mark.parametrize("domain,t,name", GUARD_KERNELS, ids=[g[2] for g in GUARD_KERNELS])
def test_guard_maps_adversarial_inputs_into_the_domain(module, domain, t, name):
    inputs = _adversarial(t)
    data = np.array(inputs, dtype=t.numpy_dtype)
    zeros = np.zeros_like(data)
    params = [Param("a0", "array", "input"), Param("out", "array", "output")]
    ref = run_reference(_guard_source(domain, t, name), params, {"a0": data, "out": zeros}, len(inputs)).outputs["out"]
    out = W.to_warp(zeros, t.name)
    W.launch_cpu(getattr(module, name), len(inputs), [W.to_warp(data, t.name), out])
    got = W.to_numpy(out)
    for x, r, w in zip(data, ref, got):
        assert _same(w, np.asarray(r, dtype=t.numpy_dtype)), f"{name}: reference {r.tolist()} != Warp {w.tolist()}"
        assert _in_domain(domain, x, w), f"{domain} guard of {x.tolist()} gave {w.tolist()}"


def test_inverse_of_the_guarded_matrix_is_accurate():
    """The point of ``invertible``: the reference's inverse of a guarded matrix is a true inverse."""
    rng = np.random.default_rng(3)
    runtime = Runtime(np.float32)
    op = OPS.BY_NAME["inverse"]
    for s in op.signatures:
        if s.args[0].scalar == FLOAT16:
            continue
        for m in samples(s.args[0], "invertible", rng, 8):
            a = runtime.coerce(m, s.args[0])
            inv = runtime.call(op, s, a).astype(np.float64)
            tol = 1e-5 if s.args[0].scalar == FLOAT32 else 1e-12
            assert np.allclose(inv @ a.astype(np.float64), np.eye(a.shape[0]), atol=tol)


def test_decompositions_reconstruct_their_input():
    """Warp's conventions hold for the reference's ports: A = U diag(s) V^T, A = Q R, A = Q diag(d) Q^T."""
    rng = np.random.default_rng(5)
    ctx = EvalContext(np.float64, high_precision=True)
    for name, n in (("svd3", 3), ("svd2", 2), ("qr3", 3), ("eig3", 3)):
        op = OPS.BY_NAME[name]
        s = next(x for x in op.signatures if x.args[0].scalar == FLOAT32)
        ctx.sig = s
        for _ in range(5):
            a = rng.standard_normal((n, n))
            if name == "eig3":
                a = a + a.T
            out = op.semantics(ctx, a)
            if name in ("svd3", "svd2"):
                u, sigma, v = out
                rebuilt = u @ np.diag(sigma) @ v.T
            elif name == "qr3":
                rebuilt = out[0] @ out[1]
            else:
                rebuilt = out[0] @ np.diag(out[1]) @ out[0].T
            assert np.allclose(rebuilt, a, atol=1e-4 * np.abs(a).max()), name


def test_float16_conversion_from_float64_rounds_through_float32():
    op = OPS.BY_NAME["vec3h"]
    s = next(x for x in op.signatures if x.args == (M.vec(FLOAT64, 3),))
    got = Runtime(np.float32).call(op, s, np.array(DOUBLE_ROUNDING))
    direct = np.array(DOUBLE_ROUNDING).astype(np.float16)
    assert not np.array_equal(got, direct)
    assert np.array_equal(got, np.array(DOUBLE_ROUNDING).astype(np.float32).astype(np.float16))


def test_undefined_component_index():
    op = OPS.BY_NAME["component"]
    s = next(x for x in op.signatures if x.args[0] == M.vec(FLOAT64, 4))
    runtime = Runtime(np.float32)
    assert runtime.call(op, s, np.arange(4.0), -1) == 3.0
    with pytest.raises(UndefinedBehaviour):
        runtime.call(op, s, np.arange(4.0), 4)


def test_all_float_types_have_a_vector_and_matrix_constructor():
    names = {op.name for op in M.ROWS}
    for d in FLOATS:
        for n in (2, 3, 4, 6):
            assert M.vec(d, n).name in names or M.vec(d, n).name == "vec3"
            assert M.mat(d, n).name in names


def test_rows_evaluate_in_high_precision():
    """The fuzzer's high-precision and perturbed runs (float64 / long double values) go through every row."""
    for seed, float_t in ((None, np.float64), (11, np.float32)):
        runtime = Runtime(float_t, perturb_seed=seed)
        for case in CASES:
            s = case.signature
            for args in case.args[:3]:
                values = [runtime.coerce(v, t) for v, t in zip(args, s.args)]
                with np.errstate(all="ignore"):
                    got = runtime.call(case.op, s, *values)
                if isinstance(s.result, Composite):
                    assert got.shape == s.result.shape, case.id
    ctx = EvalContext(np.float64)
    for case in OUTPUT_CASES:
        ctx.sig = case.signature
        for args in case.args[:3]:
            with np.errstate(all="ignore"):
                out = case.op.semantics(ctx, *(np.asarray(a, dtype=np.float64) for a in args))
            assert all(o.dtype in (np.float64, np.longdouble) for o in out), case.id


def _reference_run(case: Case, outputs: tuple) -> dict:
    n = len(case.args)
    inputs = case.signature.args[: len(case.signature.args) - len(outputs)] if outputs else case.signature.args
    values = {f"a{k}": _column(t, [a[k] for a in case.args]) for k, t in enumerate(inputs)}
    params = [Param(name, "array", "input") for name in values]
    targets = [(f"o{j}", t) for j, t in enumerate(outputs)] if outputs else [("out", case.signature.result)]
    for name, t in targets:
        rt = INT32 if t == BOOL else t
        values[name] = np.zeros((n, *rt.shape) if isinstance(rt, Composite) else (n,), dtype=rt.numpy_dtype)
        params.append(Param(name, "array", "output"))
    return run_reference(case.source, params, values, n).outputs


def _sample_of_cases() -> list[Case]:
    """One case per (row, result kind, keyword names), float16 preferred (a reference run costs ~20 ms)."""
    seen, out = set(), []
    ordered = sorted(CASES, key=lambda c: getattr(c.signature.result, "scalar", c.signature.result) != FLOAT16)
    for case in ordered:
        s = case.signature
        key = (case.op.name, getattr(s.result, "kind", s.result), tuple(k for k, _ in s.keywords))
        if key not in seen:
            seen.add(key)
            out.append(case)
    return out


def test_reference_runs_the_case_kernels():
    """The fuzzer's path: transpile a case's kernel, resolve its overload (keywords included) and run it."""
    bad = []
    for case in _sample_of_cases():
        if case.op.name == "component":  # Warp wraps v[-1]; the reference's cget calls it undefined (stricter)
            kept = [k for k, a in enumerate(case.args) if a[1] >= 0]
            case = Case(case.id, case.kernel, case.source, case.op, case.signature, [case.args[k] for k in kept],
                        [case.expected[k] for k in kept])
        got = _reference_run(case, ())["out"]
        want = [int(w) if case.signature.result == BOOL else w for w in case.expected]
        if not all(_same(np.asarray(g, dtype=np.float64), np.asarray(w, dtype=np.float64)) for g, w in zip(got, want)):
            bad.append(case.id)
    assert not bad, bad[:10]


def test_reference_runs_every_decomposition_kernel():
    for case in OUTPUT_CASES:
        outs = case.signature.args[-case.op.outputs:]
        got = _reference_run(case, outs)
        for j in range(len(outs)):
            for i, want in enumerate(case.expected):
                assert _same(np.asarray(got[f"o{j}"][i]), want[j]), case.id
