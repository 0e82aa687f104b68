"""The scalar rows of grammar/ops_scalar.py agree with Warp on the CPU, for every scalar dtype.

One case per (row, signature) added by :mod:`grammar.ops_scalar` (new rows and ``EXTEND`` signatures): a tiny
kernel applies the row to array loads, and Warp's results must equal the reference's (native precision,
through :class:`harness.oracle.reference.Runtime`). Operands are edge values inside each argument's domain (signed
zeros, values next to integers and half-integers, subnormals, the largest finite values, inf and NaN where
the domain allows them, every int type's extremes) plus random ones; operand tuples whose evaluation is
undefined behaviour are dropped by the harness. The shift operators are also run on operands *outside* their
domains, so the reference's undefined-behaviour boundary is checked (what it calls defined must match Warp).

Tolerances: ints, bools and ``exact`` rows bit-equal (and zeros must have the same sign); arithmetic 4 ulp of
the largest operand; libm functions 8 ulp of the result (float16: 2 ulp of float16). Each new domain's guard
is run on adversarial inputs (0, -0, +-inf, NaN, huge, tiny, the type's extremes) through Warp and the
reference: both must land inside the domain and agree.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
from conformance import Case, build_cases, compile_cases, group_rows, run_case

from grammar import ops as OPS
from grammar import ops_scalar as M
from grammar.policy import DEFAULT_POLICY
from grammar.types import BOOL, FLOAT16, FLOAT32, FLOAT64, INT32, INT64, INTS, UINT16, Scalar
from harness.warp_side import warp_adapter as W
from harness.oracle.reference import run_reference

INF, NAN = math.inf, math.nan


# ---- the rows under test ---------------------------------------------------------------------------------------

def _rows() -> list[tuple[OPS.Op, OPS.Signature]]:
    return group_rows(M)


ROWS = _rows()

# ---- operand values ----------------------------------------------------------------------------------------------

FLOAT_EDGES = (
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.5, 3.0, 0.1, -0.7, 1e-6, -1e-6, 1.2e-38, 1e-45, 100.0, -1000.0,
    12345.678, 1e20, -1e20, 0.99999994, 1.0000001, 2.9999998, -3.0000002, 0.49999997, 3.1415927, 8388607.5,
    -16777216.0, 3e38, INF, -INF, NAN,
)
#: float64 values that round differently to float16 directly and through float32 (Warp goes through float32)
FLOAT64_EXTRA = (1.0 + 2**-11 + 2**-40, -(2048.0 + 1.0 + 2**-30), 1e300, -1e-300, 5e-324, 4503599627370495.5,
                 0.49999999999999994, 1.0 + 2**-52)
HALF_EDGES = (
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.5, 3.0, 0.1, -0.7, 6e-8, 6.1e-5, -1e-4, 100.0, -1000.0, 1023.5,
    2047.0, 0.99951171875, 1.0009765625, 2.998046875, 65504.0, -65504.0, 3.140625, INF, -INF, NAN,
)
FLOAT_DOMAIN_EDGES = {
    "nonzero": (0.5, -0.5, 1.0, -1.0, 0.75, 3.0, -7.0, 2.5, 1.0000001, 1e4, -1e20, 0.50000006, INF),
    "positive": (0.25, 0.5, 1.0, 1.0000001, 2.0, 3.0, 4.0, 10.5, 1e4, 1e30, 0.99999994, INF),
    "exp_arg": (-15.0, -10.5, -1.0, -0.0, 0.0, 1e-6, 0.5, 1.0, 2.5, 10.0, 11.0, 14.999, 15.0),
    "pow_base": (0.25, 0.5, 0.99999994, 1.0, 1.5, 2.0, 3.7, 10.0, 100.0),
    "pow_exp": (-3.0, -2.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.0 / 3.0, 2.0, 3.0),
    "cast_arg": (-1000.0, -999.9, -2.7, -2.5, -1.0, -0.99999994, -0.5, -0.0, 0.0, 0.49999997, 0.5, 1.0, 2.5, 2.7,
                 999.99994, 1000.0),
    "cast_int8": (-128.0, -127.9, -2.5, -0.9, -0.0, 0.0, 0.5, 1.5, 126.99, 127.0),
    "cast_uint8": (-0.5, -0.25, -0.0, 0.0, 0.99999994, 1.0, 2.5, 128.5, 254.9, 255.0),
    "cast_uint": (-0.5, -0.25, -0.0, 0.0, 0.99999994, 1.0, 2.5, 255.5, 999.9, 1000.0),
    "erfinv_arg": (-0.9921875, -0.9, -0.5, -1e-3, -0.0, 0.0, 1e-10, 1e-30, 0.1, 0.5, 0.75, 0.9921875),
    "erfcinv_arg": (0.0078125, 0.01, 0.1, 0.5, 0.9999999, 1.0, 1.0000001, 1.5, 1.99, 1.9921875),
}
DOMAIN_BOUNDS = {
    "nonzero": (None, None), "positive": (0.25, INF), "exp_arg": (-15.0, 15.0), "pow_base": (0.25, 100.0),
    "pow_exp": (-3.0, 3.0), "cast_arg": (-1000.0, 1000.0), "cast_int8": (-128.0, 127.0),
    "cast_uint8": (-0.5, 255.0), "cast_uint": (-0.5, 1000.0), "erfinv_arg": (-0.9921875, 0.9921875),
    "erfcinv_arg": (0.0078125, 1.9921875),
}


def int_edges(t: Scalar) -> tuple[int, ...]:
    small = (0, 1, -1, 2, -2, 3, 7, -7, 100, -100, 127, -128, 255, 1023, -1024, 46340, -46341, 65535, 2**24 + 1)
    big = (t.min, t.max, t.min + 1, t.max - 1, t.max // 2, t.min // 2, 2**31 - 1, -(2**31), 2**53 + 1, 2**63 - 1,
           2**60 + 2**36 + 1, -(2**40 + 2**16 + 1))  # the last two round differently to float32 via double
    return tuple(dict.fromkeys(t.wrap(v) for v in small + big))


def _random_floats(t: Scalar, rng, n: int) -> list[float]:
    hi = 60000.0 if t == FLOAT16 else 1e6
    mags = np.exp(rng.uniform(np.log(1e-3), np.log(hi), n))
    return list(mags * rng.choice((-1.0, 1.0), n))


def _in_domain(domain: str, values, rng) -> list[float]:
    """Random values inside a float domain (as many as there are edge values)."""
    if domain == "nonzero":
        return [v + 0.5 * np.sign(v) for v in rng.uniform(-1e3, 1e3, len(values))]
    lo, hi = DOMAIN_BOUNDS[domain]
    return list(rng.uniform(lo, min(hi, 1e4), len(values)))


def _int_domain(t: Scalar, domain: str, rng, n: int) -> list[int]:
    """Int samples of ``domain`` for type ``t``: the guard applied to edges and random values."""
    mags = np.exp2(rng.uniform(0, t.bits, n)).astype(np.float64)
    raw = list(int_edges(t)) + [t.wrap(int(m) * int(s)) for m, s in zip(mags, rng.choice((-1, 1), n))]
    if domain == "nonzero":
        return [v or 1 for v in raw]
    if domain == "shift_count":
        return [v & (t.bits - 1) for v in raw]
    if domain == "lshift_count":
        return [v & M._lshift_count_max(t) for v in raw]
    if domain == "lshift_value":
        mask = M._lshift_value_mask(t)
        return raw if mask is None else [v & mask for v in raw]
    return raw


def samples(t, domain: str, rng, n: int) -> list:
    """``n`` values of ``t`` in ``domain``: every edge value (shuffled per column) then random ones."""
    if t == BOOL:
        pool = [False, True]
        edge_count = 2
    elif t.is_int:
        pool = _int_domain(t, domain, rng, n)
        edge_count = len(int_edges(t))
    elif domain in FLOAT_DOMAIN_EDGES:
        edges = list(FLOAT_DOMAIN_EDGES[domain])
        pool, edge_count = edges + _in_domain(domain, edges, rng), len(edges)
    else:
        edges = list(HALF_EDGES if t == FLOAT16 else FLOAT_EDGES + (FLOAT64_EXTRA if t == FLOAT64 else ()))
        pool, edge_count = edges + _random_floats(t, rng, n), len(edges)
    return _edges_first(pool, edge_count, rng, n)


def _edges_first(pool: list, edge_count: int, rng, n: int) -> list:
    """The first ``edge_count`` values of ``pool`` in random order, then the rest, repeated up to ``n``."""
    head = [pool[i] for i in rng.permutation(edge_count)] + pool[edge_count:]
    return (head * (n // len(head) + 1))[:n]


def wide_samples(t, domain: str, rng, n: int) -> list:
    """Edge values and small counts ignoring the domain (undefined cases are dropped by the harness)."""
    pool = list(int_edges(t)) + [t.wrap(v) for v in range(-2, 70)]
    return [pool[i] for i in rng.integers(0, len(pool), n)]


# ---- tolerances ----------------------------------------------------------------------------------------------------

LIBM = {"sqrt", "exp", "log", "sin", "cos", "tanh", "pow", "acos", "asin", "atan", "atan2", "tan", "sinh", "cosh",
        "cbrt", "log2", "log10", "erf", "erfc", "erfinv", "erfcinv"}


def ulps(op: OPS.Op, s: OPS.Signature) -> float:
    if op.name in LIBM:
        return 2.0 if s.result == FLOAT16 else 8.0
    return 4.0


def scale(case: Case):
    """Libm results are measured in ulps of themselves; arithmetic in ulps of the largest operand."""
    if case.op.name in LIBM:
        return lambda args, want: 0.0
    if case.op.name == "smoothstep":
        return lambda args, want: 1.0
    return None


N = 64
with np.errstate(over="ignore"):  # float16 operands beyond 65504 become inf on purpose
    CASES = build_cases(ROWS, samples, n=N, seed=1, ulps=ulps)


def _renamed(case: Case, suffix: str) -> Case:
    kernel = case.kernel + suffix
    source = case.source.replace(case.kernel, kernel)
    return dataclasses.replace(case, id=case.id + suffix, kernel=kernel, source=source)


WIDE_ROWS = [(op, s) for op, s in ROWS if op.name in ("lshift", "rshift")]
WIDE_CASES = [_renamed(c, "_wide") for c in build_cases(WIDE_ROWS, wide_samples, n=4 * N, seed=2)]


# ---- guards --------------------------------------------------------------------------------------------------------

def _guard_types(domain: str) -> tuple[Scalar, ...]:
    if domain in ("shift_count", "lshift_count", "lshift_value"):
        return INTS
    if domain == "promoted_factor":  # a uint16 factor of uint16 * uint16
        return (UINT16,)
    if domain.startswith("cast_"):
        return (FLOAT32, FLOAT64, FLOAT16, INT32, INT64)
    return (FLOAT32, FLOAT64, FLOAT16)


GUARD_INPUTS_FLOAT = (0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, -1e-30, 1e30, -1e30, 3e38, -3e38, 65504.0, -65504.0, INF,
                      -INF, NAN, 127.5, -128.5, 255.5, 1000.5, -0.75, 2.0, 1.9921876, 0.0078124)


def _guard_inputs(t: Scalar) -> list:
    if t.is_int:
        return list(int_edges(t))
    return list(GUARD_INPUTS_FLOAT)


def _domain_check(domain: str, t: Scalar):
    """Predicate: is a value of type ``t`` inside ``domain``?"""
    if t.is_int:
        if domain == "shift_count":
            return lambda v: 0 <= v < t.bits
        if domain == "lshift_count":
            return lambda v: 0 <= v <= M._lshift_count_max(t)
        if domain == "lshift_value":
            mask = M._lshift_value_mask(t)
            return lambda v: mask is None or 0 <= v <= mask
        if domain == "promoted_factor":
            return lambda v: 0 <= v < 2**15
        return lambda v: True
    lo, hi = DOMAIN_BOUNDS[domain]
    return lambda v: lo <= v <= hi  # False for NaN


GUARD_CASES = [
    SimpleNamespace(id=f"{d}-{t.name}", domain=d, t=t, kernel=f"g_{d}_{t.name}",
                    expr=M.GUARDS[d](t, "a0[tid]"))
    for d in M.GUARDS for t in _guard_types(d)
]
for g in GUARD_CASES:
    array = f"wp.array(dtype={g.t.warp_name})"
    g.source = f"@wp.kernel\ndef {g.kernel}(a0: {array}, out: {array}):\n    tid = wp.tid()\n    out[tid] = {g.expr}\n"


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    return compile_cases(CASES + WIDE_CASES + GUARD_CASES, tmp_path_factory)


# ---- tests ---------------------------------------------------------------------------------------------------------

def _zero_signs_match(module, case: Case) -> None:
    """Exact float rows: a zero result must carry the same sign as the reference's."""
    t = case.signature.result
    if not (case.op.exact and isinstance(t, Scalar) and t.is_float):
        return
    from conformance import _column

    cols = [_column(a, [args[k] for args in case.args]) for k, a in enumerate(case.signature.args)]
    arrays = [W.to_warp(c, "int32" if a == BOOL else a.name) for a, c in zip(case.signature.args, cols)]
    out = W.to_warp(np.zeros(len(case.args), dtype=t.numpy_dtype), t.name)
    W.launch_cpu(getattr(module, case.kernel), len(case.args), arrays + [out])
    got = W.to_numpy(out)
    bad = [(args, want, g) for args, want, g in zip(case.args, case.expected, got)
           if float(want) == 0.0 and float(g) == 0.0 and np.signbit(want) != np.signbit(g)]
    assert not bad, f"{case.id}: sign of zero differs: {bad[:5]}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_row_matches_warp(module, case: Case):
    run_case(module, case, scale(case))
    _zero_signs_match(module, case)


@pytest.mark.parametrize("case", WIDE_CASES, ids=[c.id for c in WIDE_CASES])
def test_shift_outside_domain_matches_warp_where_defined(module, case: Case):
    run_case(module, case)


@pytest.mark.parametrize("g", GUARD_CASES, ids=[g.id for g in GUARD_CASES])
def test_guard_maps_adversarial_inputs_into_domain(module, g):
    values = _guard_inputs(g.t)
    with np.errstate(over="ignore"):
        data = np.array(values, dtype=g.t.numpy_dtype)
    out = W.to_warp(np.zeros(len(values), dtype=g.t.numpy_dtype), g.t.name)
    W.launch_cpu(getattr(module, g.kernel), len(values), [W.to_warp(data, g.t.name), out])
    got = W.to_numpy(out)
    params = [SimpleNamespace(name="a0", kind="input", role="input"), SimpleNamespace(name="out", kind="output",
                                                                                     role="output")]
    ref = run_reference(g.source, params, {"a0": data, "out": np.zeros_like(data)}, len(values))
    inside = _domain_check(g.domain, g.t)
    for v, w, r in zip(values, got, ref.outputs["out"]):
        w = int(w) if g.t.is_int else float(w)
        assert inside(w), f"{g.expr} maps {v!r} to {w!r}, outside {g.domain}"
        assert (int(r) if g.t.is_int else float(r)) == w, f"{g.expr} of {v!r}: Warp {w!r}, reference {r!r}"


def test_every_new_signature_has_a_case_with_inputs():
    assert {(c.op.name, c.signature) for c in CASES} == {(op.name, s) for op, s in ROWS}
    thin = [c.id for c in CASES if len(c.args) < 8]
    assert not thin, f"cases with fewer than 8 defined operand tuples: {thin}"


def test_every_new_domain_is_documented_and_guarded():
    used = {d for op, _ in ROWS for d in op.domains}
    core = set(OPS.DOMAINS)
    assert used - core <= set(M.DOMAINS) == set(M.GUARDS)


def test_guard_literals_are_exact_in_float16():
    for d in M.GUARDS:
        for t in (FLOAT16, FLOAT64):
            text = M.GUARDS[d](t, "x")
            for part in text.replace("(", " ").replace(")", " ").replace(",", " ").split():
                try:
                    v = float(part)
                except ValueError:
                    continue
                assert float(np.float16(v)) == v, (d, part)
    assert DEFAULT_POLICY.float_cast_bound == float(np.float16(DEFAULT_POLICY.float_cast_bound))
