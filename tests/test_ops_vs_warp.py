"""Every operator-table row's numpy semantics agree with Warp on the CPU.

One Warp module holds one small kernel per (row, signature) of :data:`grammar.ops.OPS` plus the atomics:
each kernel loads its operands from input arrays (``a0[tid]``, ``a1[tid]``, ...), applies the row once and
stores the result. The inputs are edge cases inside each argument's domain (the domain list is in
:mod:`grammar.ops`), and the expected values come from the row's ``semantics`` evaluated through
:class:`harness.oracle.reference.Runtime` in float32 - the same path the fuzzer's reference takes. This is the test
that shows the reference copies Warp's semantics rather than Python's or numpy's.

Tolerances: ints and bools exact; rows marked ``exact`` bit-equal up to the sign of zero; other float rows within 4 ulp,
libm functions (sin, cos, exp, log, tanh, pow) within 8 ulp. ``dot``/``cross``/``length``/``normalize`` measure ulps
against the sum of absolute products, since Warp may contract ``a*b + c`` into a fused multiply-add (module option
``fuse_fp``, on by default). Zeros compare equal whatever their sign, as in :mod:`harness.oracle.compare`: Warp's ``-x``
is ``0 - x`` (so ``-(0.0)`` is ``+0.0``) and its CPU ``min``/``max`` pick the first operand on a tie, where numpy may
pick the other zero; no row of the grammar can observe the difference (divisors are kept away from zero), see
tests/test_semantics.py.

One module build (a few seconds); everything runs on the CPU.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest

from grammar.ops import ATOMICS, CORE_OPS, OPS, Op, Signature
from grammar.policy import DEFAULT_POLICY
from grammar.semantics import UndefinedBehaviour
from grammar.types import BOOL, FLOAT32, INT32, VEC3, ValueType
from harness.warp_side import warp_adapter as W
from harness.oracle.reference import RefArray, Runtime

INF, NAN = math.inf, math.nan

# ---- edge cases per (type, domain) -------------------------------------------------------------------------

#: float32 values for domain "any": signed zeros, tiny and huge magnitudes, values one ulp off an integer,
#: halves (rounding ties), values past float32's integer precision, and the non-finite values that
#: generated float code can reach (overflow in loops), which the reference must get right too.
FLOAT_ANY = (
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.5, 3.0, -3.0, 0.1, -0.7, 1e-6, -1e-6, 1.2e-38,
    100.0, -1000.0, 12345.678, 1e20, -1e20, 0.99999994, 1.0000001, 2.9999998, -3.0000002, 3.1415927,
    8388607.5, -16777216.0, INF, -INF, NAN,
)
#: a shorter list for three-argument rows (clamp, where) so the cartesian product stays small
FLOAT_ANY_SHORT = (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-6, 100.0, -1e20, 2.9999998, INF, -INF, NAN)
FLOAT_DOMAINS = {
    "nonzero": (0.5, -0.5, 1.0, -1.0, 0.75, 3.0, -7.0, 2.5, 1.0000001, 1e6, -1e20, 0.50000006),
    "positive": (0.25, 0.5, 1.0, 1.0000001, 2.0, 3.0, 4.0, 10.5, 1e6, 1e30, 0.99999994),
    "exp_arg": (-15.0, -10.5, -1.0, -0.0, 0.0, 1e-6, 0.5, 1.0, 2.5, 10.0, 14.999, 15.0),
    "pow_base": (0.25, 0.5, 0.99999994, 1.0, 1.5, 2.0, 3.7, 10.0, 100.0),
    "pow_exp": (-3.0, -2.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.0 / 3.0, 2.0, 3.0),
    "cast_arg": (
        -1000.0, -999.9, -2.7, -2.5, -1.0, -0.99999994, -0.5, -0.0, 0.0, 0.49999997, 0.5, 1.0, 2.5,
        2.7, 999.99994, 1000.0,
    ),
}
#: int32 values: negatives, zero, both signs of small odd/even numbers, and large values that stay clear
#: of overflow for most rows (cases a row would overflow on are dropped: they are UB, not semantics)
INT_ANY = (
    0, 1, -1, 2, -2, 7, -7, 100, -100, 1023, -1024, 46340, -46341, 2**24 + 1, 2**30, -(2**30), 2**31 - 1, -(2**31),
)
INT_NONZERO = (1, -1, 2, -2, 3, -3, 7, -7, 1024, -1024, 2**30, -(2**30))
INT_SHORT = (0, 1, -1, 7, -7, 100, -(2**30), 2**31 - 1)
VEC_ANY = (
    (0.0, 0.0, 0.0), (-0.0, 0.0, -0.0), (1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (3.0, 4.0, 12.0),
    (-2.5, 0.5, 1.5), (1e-3, 1e3, -1.0), (0.1, 0.2, 0.3), (1e18, -1e18, 1.0), (2e19, 0.0, 0.0),
    (1.0000001, -0.99999994, 2.9999998),
)
BOOLS = (False, True)

LIBM = {"sin", "cos", "exp", "log", "tanh", "pow"}
#: rows whose result is a sum of products: Warp may contract them into FMAs
SUM_OF_PRODUCTS = {"dot", "cross", "length", "normalize"}


def edge_values(t: ValueType, domain: str, short: bool) -> tuple:
    if t == BOOL:
        return BOOLS
    if t == VEC3:
        return VEC_ANY
    if t == INT32:
        if domain == "nonzero":
            return INT_NONZERO
        return INT_SHORT if short else INT_ANY
    if domain != "any":
        return FLOAT_DOMAINS[domain]
    return FLOAT_ANY_SHORT if short else FLOAT_ANY


def test_edge_values_lie_in_their_domains():
    p = DEFAULT_POLICY
    checks = {
        "nonzero": lambda v: abs(v) >= 0.5,
        "positive": lambda v: v >= 0.25,
        "exp_arg": lambda v: abs(v) <= p.exp_arg_bound,
        "pow_base": lambda v: v >= 0.25,
        "pow_exp": lambda v: abs(v) <= p.pow_exp_bound,
        "cast_arg": lambda v: abs(v) <= p.float_cast_bound,
    }
    for domain, ok in checks.items():
        for v in FLOAT_DOMAINS[domain]:
            assert ok(float(np.float32(v))), (domain, v)
    assert 0 not in INT_NONZERO


# ---- kernels -----------------------------------------------------------------------------------------------

_ANNOTATION = {FLOAT32: "wp.float32", INT32: "wp.int32", BOOL: "wp.int32", VEC3: "wp.vec3"}
_ADAPTER_DTYPE = {FLOAT32: "float32", INT32: "int32", BOOL: "int32", VEC3: "vec3"}


@dataclass
class Case:
    """One kernel: the row applied once to array loads, with its inputs and the reference's results."""

    id: str
    kernel: str  # kernel function name in the module
    source: str  # the kernel's source text
    op: Op
    signature: Signature
    arg_types: tuple[ValueType, ...]  # types of the kernel's input arrays, in order
    args: list[tuple]  # one tuple of operand values per thread
    expected: list  # one reference result per thread
    component: int | None = None  # for v[k]: the literal k


def _operand(t: ValueType, k: int) -> str:
    return f"(a{k}[tid] != 0)" if t == BOOL else f"a{k}[tid]"


def _expression(op: Op, operands: list[str], component: int | None) -> str:
    if op.syntax == "index":
        return f"{operands[0]}[{component}]"
    if op.syntax in ("binop", "compare", "boolop"):
        return f"({operands[0]} {op.spelling} {operands[1]})"
    if op.syntax == "unop":
        return f"({op.spelling} {operands[0]})" if op.spelling == "not" else f"(-{operands[0]})"
    return f"{op.spelling}({', '.join(operands)})"


def _kernel_source(name: str, arg_types, result: ValueType, expression: str) -> str:
    params = [f"a{k}: wp.array(dtype={_ANNOTATION[t]})" for k, t in enumerate(arg_types)]
    params.append(f"out: wp.array(dtype={_ANNOTATION[result]})")
    lines = ["@wp.kernel", f"def {name}({', '.join(params)}):", "    tid = wp.tid()"]
    if result == BOOL:  # bools travel as int32 0/1, without using another row of the table
        lines += [f"    if {expression}:", "        out[tid] = 1", "    else:", "        out[tid] = 0"]
    else:
        lines.append(f"    out[tid] = {expression}")
    return "\n".join(lines) + "\n"


def _ref_value(t: ValueType, v):
    if t == FLOAT32:
        return np.float32(v)
    if t == INT32:
        return int(v)
    if t == BOOL:
        return bool(v)
    return np.array(v, dtype=np.float32)


def _traps_in_c(op: Op, values: list) -> bool:
    """``INT32_MIN / -1`` and ``INT32_MIN % -1`` are undefined in C++ and raise SIGFPE on x86, which would
    kill the test process. Never launched, whatever the reference says about them (for ``%`` it wrongly
    says 0; tests/test_semantics.py holds the xfail for that)."""
    int_division = op.name in ("div", "floordiv", "mod") and type(values[0]) is int
    return int_division and values[0] == -(2**31) and values[1] == -1


def _evaluate(op: Op, arg_types, cases: list[tuple], component: int | None):
    """(kept cases, reference results): a case whose evaluation is undefined behaviour is dropped."""
    runtime = Runtime(np.float32)
    fn = getattr(runtime, op.name)
    kept, results = [], []
    with np.errstate(all="ignore"):
        for case in cases:
            values = [_ref_value(t, v) for t, v in zip(arg_types, case)]
            if component is not None:
                values.append(component)
            if _traps_in_c(op, values):
                continue
            try:
                results.append(fn(*values))
            except UndefinedBehaviour:
                continue
            kept.append(case)
    return kept, results


CORE_TYPES = {FLOAT32, INT32, BOOL, VEC3}
CORE_NAMES = {op.name for op in CORE_OPS}


def _core_signatures(op: Op) -> list[tuple[int, Signature]]:
    """The core rows' float32/int32/bool/vec3 overloads (group modules test their own rows and types)."""
    if op.name not in CORE_NAMES:
        return []
    return [(i, s) for i, s in enumerate(op.signatures)
            if set(s.args) <= CORE_TYPES and s.result in CORE_TYPES and not s.keywords]


def _build_cases() -> list[Case]:
    cases = []
    for op in OPS:
        for si, signature in _core_signatures(op):
            arg_types = signature.args[:1] if op.syntax == "index" else signature.args
            short = len(arg_types) >= 3
            pools = [edge_values(t, op.domain(i), short) for i, t in enumerate(arg_types)]
            product = list(itertools.product(*pools))
            for component in (0, 1, 2) if op.syntax == "index" else (None,):
                suffix = f"_k{component}" if component is not None else ""
                name = f"k_{op.name}_{si}{suffix}"
                operands = [_operand(t, k) for k, t in enumerate(arg_types)]
                source = _kernel_source(name, arg_types, signature.result, _expression(op, operands, component))
                kept, expected = _evaluate(op, arg_types, product, component)
                sig_text = ",".join(t.name for t in signature.args)
                case_id = f"{op.name}({sig_text}){suffix}"
                cases.append(Case(case_id, name, source, op, signature, arg_types, kept, expected, component))
    return cases


CASES = _build_cases()

ATOMIC_INPUTS = {
    INT32: [5, -3, 7, 100, -100, 0, 12, -7, 2**15, -(2**15), 1, 1, -1, 9, 3, -50],
    FLOAT32: [1.5, -2.25, 0.1, 3e7, -0.0, 7.0, 0.3, -1e-3, 2.5, 1e-7, -3e7, 0.7, 4.0, -4.0, 1.0, 0.2],
}
ATOMIC_INITIAL = {INT32: [0, 5, -5, 100], FLOAT32: [0.0, 2.5, -2.5, 100.0]}


#: operands of an atomic by arity; compare-and-swap compares with the current element on even threads (a hit)
_OPERANDS = {1: "a[tid]", 2: "wp.where(tid % 2 == 0, out[tid % 4], a[(tid + 1) % 16]), a[tid]"}


def _atomic_kernel(op: Op, t: ValueType) -> tuple[str, str]:
    name = f"k_{op.name}_{t.name}"
    a = _ANNOTATION[t]
    source = (
        f"@wp.kernel\ndef {name}(a: wp.array(dtype={a}), out: wp.array(dtype={a})):\n"
        f"    tid = wp.tid()\n    {op.spelling}(out, tid % 4, {_OPERANDS[len(op.signatures[0].args)]})\n"
    )
    return name, source


ATOMIC_KERNELS = [(op, sig.args[0], *_atomic_kernel(op, sig.args[0])) for op in ATOMICS for sig in op.signatures]


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    W.init(str(tmp_path_factory.mktemp("warp-cache")))
    path = tmp_path_factory.mktemp("ops") / "ops_vs_warp.py"
    sources = [c.source for c in CASES] + [k[3] for k in ATOMIC_KERNELS]
    path.write_text("import warp as wp\n\n\n" + "\n\n".join(sources))
    pymodule = W.import_kernel_module(path)
    W.set_module_options(pymodule, optimization_level=0, enable_backward=False)  # the pipeline's level
    W.compile_cpu(pymodule)
    return pymodule


# ---- comparison --------------------------------------------------------------------------------------------


def _ulp(x: float) -> float:
    """The float32 ulp at |x| (capped at float32's largest finite value: ``scale`` may exceed it)."""
    if not math.isfinite(x):
        return 0.0
    with np.errstate(over="ignore"):
        return float(np.spacing(np.float32(min(abs(x), float(np.finfo(np.float32).max)))))


def _scale(op: Op, args: tuple, expected) -> np.ndarray:
    """Magnitude the allowed ulps are measured against (per component)."""
    e = np.abs(np.asarray(expected, dtype=np.float64))
    if op.name not in SUM_OF_PRODUCTS:
        return e
    a = np.asarray(args[0], dtype=np.float64)
    b = np.asarray(args[1] if op.name in ("dot", "cross") else args[0], dtype=np.float64)
    terms = float(np.sum(np.abs(a * b)))
    if op.name == "normalize":
        return np.maximum(e, 1.0)  # components are |v_i| / |v| <= 1: an ulp of 1 bounds the rounding
    if op.name == "length":
        return np.maximum(e, math.sqrt(terms))
    return np.maximum(e, terms)


def _float_differs(got, want, allowed_ulps: float, scale) -> bool:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), want.shape)
    for g, w, s in zip(got.reshape(-1), want.reshape(-1), scale.reshape(-1)):
        if math.isnan(w) or math.isnan(g):
            if not (math.isnan(w) and math.isnan(g)):
                return True
        elif math.isinf(w) or math.isinf(g):
            if g != w:
                return True
        elif abs(g - w) > allowed_ulps * _ulp(s):
            return True
    return False


def _allowed_ulps(op: Op) -> float:
    if op.exact:
        return 0.0
    return 8.0 if op.name in LIBM else 4.0


def _launch(pymodule, kernel: str, arg_types, columns: list[np.ndarray], out: np.ndarray, out_type) -> np.ndarray:
    """Launch one thread per input element; return the output array."""
    arrays = [W.to_warp(col, _ADAPTER_DTYPE[t]) for t, col in zip(arg_types, columns)]
    out_arr = W.to_warp(out, _ADAPTER_DTYPE[out_type])
    W.launch_cpu(getattr(pymodule, kernel), columns[0].shape[0], arrays + [out_arr])
    return W.to_numpy(out_arr)


def _column(t: ValueType, values: list) -> np.ndarray:
    if t == VEC3:
        return np.array(values, dtype=np.float32).reshape(-1, 3)
    if t in (INT32, BOOL):
        return np.array([int(v) for v in values], dtype=np.int32)
    return np.array(values, dtype=np.float32)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_row_semantics_match_warp(module, case: Case):
    assert len(case.args) >= 2, f"{case.id}: fewer than two defined cases"
    n = len(case.args)
    columns = [_column(t, [args[k] for args in case.args]) for k, t in enumerate(case.arg_types)]
    result = case.signature.result
    out = np.zeros((n, 3) if result == VEC3 else (n,), dtype=np.float32 if result in (FLOAT32, VEC3) else np.int32)
    got = _launch(module, case.kernel, case.arg_types, columns, out, result)
    allowed = _allowed_ulps(case.op)
    bad = []
    for i, (args, want) in enumerate(zip(case.args, case.expected)):
        if result in (INT32, BOOL):
            differs = int(got[i]) != int(want)
        else:
            differs = _float_differs(got[i], want, allowed, _scale(case.op, args, want))
        if differs:
            bad.append(f"{case.op.spelling}{args} -> reference {want!r}, Warp {got[i]!r}")
    assert not bad, f"{case.id}: {len(bad)}/{n} cases differ (allowed {allowed} ulp):\n" + "\n".join(bad[:12])


def test_every_row_and_signature_has_a_kernel():
    covered = {(c.op.name, c.signature) for c in CASES}
    assert covered == {(op.name, s) for op in OPS for _, s in _core_signatures(op)}


@pytest.mark.parametrize("op, t, kernel", [k[:3] for k in ATOMIC_KERNELS], ids=[k[2] for k in ATOMIC_KERNELS])
def test_atomic_semantics_applied_in_thread_order_match_warp(module, op: Op, t: ValueType, kernel: str):
    np_t = np.int32 if t == INT32 else np.float32
    values = np.array(ATOMIC_INPUTS[t], dtype=np_t)
    initial = np.array(ATOMIC_INITIAL[t], dtype=np_t)
    got = _launch(module, kernel, (t,), [values], initial.copy(), t)

    runtime = Runtime(np.float32)
    acc = RefArray(initial.astype(np.int64 if t == INT32 else np.float32), "out")
    conv = int if t == INT32 else np.float32
    for tid, v in enumerate(values):
        operands = [conv(v)]
        if len(op.signatures[0].args) == 2:
            operands.insert(0, acc.data[tid % 4] if tid % 2 == 0 else conv(values[(tid + 1) % 16]))
        getattr(runtime, op.name)(acc, tid % 4, *operands)
    if t == INT32:
        np.testing.assert_array_equal(got, acc.data)
    else:
        for g, w in zip(got, acc.data):
            assert abs(float(g) - float(w)) <= 4 * _ulp(float(w)), (got, acc.data)


def test_every_domain_a_row_uses_is_documented_in_one_table():
    """The core domains and each group module's are documented in one place (grammar.ops.DOMAIN_DOCS); a row may
    use no other."""
    from grammar.ops import DOMAIN_DOCS

    used = {d for op in OPS + ATOMICS for s in (None, *op.signatures) for d in
            (op.domains if s is None else s.domains)}
    assert used <= set(DOMAIN_DOCS), sorted(used - set(DOMAIN_DOCS))
    assert all(doc.strip() for doc in DOMAIN_DOCS.values())


def test_every_domain_has_its_guard_as_data_and_the_guards_literals_lie_inside_it():
    """A domain's guard is data of the grammar: a core float domain's in grammar.rows.FLOAT_GUARDS, a group
    module's as a GUARDS source template (the strategies only apply them; a non-zero int follows its interval).
    The literals a guard may write instead of guarding an expression lie inside the domain."""
    from grammar.ops import DOMAIN_DOCS, GROUP_MODULES
    from grammar.policy import POLICIES
    from grammar.rows import DOMAINS, FLOAT_GUARDS

    templates = {d for m in GROUP_MODULES for d in getattr(m, "GUARDS", {})}
    assert set(DOMAINS) - {"any"} == set(FLOAT_GUARDS)
    assert set(DOMAIN_DOCS) - set(DOMAINS) == templates
    for domain, g in FLOAT_GUARDS.items():
        assert g.literals, domain
        if g.kind == "abs_plus":
            assert all(abs(v) >= g.floor > 0 for v in g.literals), domain
            assert g.negatable or all(v > 0 for v in g.literals), domain
        else:
            assert g.kind == "clamp" and all(hasattr(p, g.bound) for p in POLICIES.values()), domain
