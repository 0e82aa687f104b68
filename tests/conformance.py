"""Shared machinery for conformance tests: does an operator-table row's numpy semantics agree with Warp?

For each ``(row, signature)`` a tiny kernel loads its operands from typed input arrays, applies the row
once, and stores the result (bool results are stored as int32 0/1). All kernels of a test file go into one
Warp module (one build). Expected values come from :meth:`harness.oracle.reference.Runtime.call` in native
precision - the path the fuzzer's reference takes.

Usage in a test file::

    from conformance import Case, build_cases, run_case, compile_cases

    CASES = build_cases(rows, samples)            # rows: [(op, sig)], samples(t, domain, rng) -> list
    @pytest.fixture(scope="module")
    def module(tmp_path_factory): return compile_cases(CASES, tmp_path_factory)
    @pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
    def test_row(module, case): run_case(module, case)

Tolerance: ints/bools exact; ``exact`` rows bit-equal up to the sign of zero; other float rows within
``case.ulps`` ulp of the result's scalar type, measured against ``max(|expected|, scale)`` where
``scale`` defaults to the largest operand magnitude (sums of products may be fused by Warp).
NaN must match NaN; infinities must match exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from grammar.ops import Op, Signature
from grammar.semantics import UndefinedBehaviour
from grammar.types import BOOL, INT32, Composite, ValueType
from harness.warp_side import warp_adapter as W
from harness.oracle.reference import Runtime


@dataclass
class Case:
    id: str
    kernel: str
    source: str
    op: Op
    signature: Signature
    args: list[tuple]  # operand values per thread (reference representation)
    expected: list
    ulps: float = 4.0
    extra: dict = field(default_factory=dict)


def group_rows(module) -> list[tuple[Op, Signature]]:
    """(assembled row, signature) for every row of a group module and every ``EXTEND`` signature the core
    rows do not already have: what that module's conformance test must cover."""
    from grammar import ops as OPS

    core = {op.name: set(op.signatures) for op in OPS.CORE_OPS}
    rows = [(OPS.BY_NAME[op.name], s) for op in module.ROWS for s in op.signatures]
    for name, sigs in module.EXTEND.items():
        op = OPS.BY_NAME[name]
        for s in sigs:
            if s not in core.get(name, set()):
                rows.append((op, next(x for x in op.signatures if x == s)))
    return rows


def annotation(t: ValueType) -> str:
    return "wp.int32" if t == BOOL else t.warp_name


def operand(t: ValueType, k: int) -> str:
    return f"(a{k}[tid] != 0)" if t == BOOL else f"a{k}[tid]"


def expression(op: Op, operands: list[str]) -> str:
    if op.syntax in ("binop", "compare", "boolop"):
        return f"({operands[0]} {op.spelling} {operands[1]})"
    if op.syntax == "unop":
        return f"({op.spelling} {operands[0]})" if op.spelling in ("not",) else f"({op.spelling}{operands[0]})"
    if op.syntax == "index":
        return f"{operands[0]}[{', '.join(operands[1:])}]"
    return f"{op.spelling}({', '.join(operands)})"


def kernel_source(name: str, sig: Signature, expr: str) -> str:
    params = [f"a{k}: wp.array(dtype={annotation(t)})" for k, t in enumerate(sig.args)]
    params.append(f"out: wp.array(dtype={annotation(sig.result)})")
    lines = ["@wp.kernel", f"def {name}({', '.join(params)}):", "    tid = wp.tid()"]
    if sig.result == BOOL:
        lines += [f"    if {expr}:", "        out[tid] = 1", "    else:", "        out[tid] = 0"]
    else:
        lines.append(f"    out[tid] = {expr}")
    return "\n".join(lines) + "\n"


def build_cases(rows: list[tuple[Op, Signature]], samples: Callable, *, n: int = 24, seed: int = 0,
                ulps: Callable[[Op, Signature], float] | None = None) -> list[Case]:
    """One case per (row, signature); ``samples(t, domain, rng, n)`` gives ``n`` operand values of type ``t``.

    Operand tuples whose evaluation is undefined behaviour are dropped (they are never generated)."""
    rng = np.random.default_rng(seed)
    runtime = Runtime(np.float32)
    cases = []
    for op, sig in rows:
        columns = [samples(t, op.domain(i), rng, n) for i, t in enumerate(sig.args)]
        kept, expected = [], []
        for args in zip(*columns):
            try:
                values = [runtime.coerce(v, t) for v, t in zip(args, sig.args)]
                with np.errstate(all="ignore"):
                    want = runtime.call(op, sig, *values)
            except (UndefinedBehaviour, OverflowError, ValueError):
                continue
            kept.append(tuple(values))
            expected.append(want)
        suffix = "_".join(t.name for t in sig.args)
        name = f"k_{op.name}_{suffix}"
        source = kernel_source(name, sig, expression(op, [operand(t, k) for k, t in enumerate(sig.args)]))
        allowed = 0.0 if op.exact else (ulps(op, sig) if ulps else 4.0)
        cases.append(Case(f"{op.name}({','.join(t.name for t in sig.args)})", name, source, op, sig, kept,
                          expected, allowed))
    return cases


def compile_cases(cases: list[Case], tmp_path_factory) -> object:
    W.init(str(tmp_path_factory.mktemp("warp-cache")))
    path = tmp_path_factory.mktemp("conformance") / "conformance_kernels.py"
    path.write_text("import warp as wp\n\n\n" + "\n\n".join(c.source for c in cases))
    pymodule = W.import_kernel_module(path)
    W.set_module_options(pymodule, optimization_level=0, enable_backward=False)
    W.compile_cpu(pymodule)
    return pymodule


def _column(t: ValueType, values: list) -> np.ndarray:
    if t == BOOL:
        return np.array([int(bool(v)) for v in values], dtype=np.int32)
    if isinstance(t, Composite):
        return np.array([np.asarray(v, dtype=np.float64) for v in values], dtype=t.numpy_dtype).reshape(-1, *t.shape)
    if t.is_int:
        return np.array([int(v) for v in values], dtype=t.numpy_dtype)
    return np.array([float(v) for v in values], dtype=t.numpy_dtype)


def _ulp(x: float, scalar) -> float:
    if not math.isfinite(x):
        return 0.0
    ft = scalar.numpy_dtype
    with np.errstate(over="ignore"):
        return float(np.spacing(ft(min(abs(x), float(np.finfo(ft).max)))))


def differs(got, want, t: ValueType, allowed_ulps: float, scale: float = 0.0) -> bool:
    if t == BOOL or (not isinstance(t, Composite) and t.is_int):
        return int(got) != int(want)
    scalar = t.scalar if isinstance(t, Composite) else t
    g = np.asarray(got, dtype=np.float64).reshape(-1)
    w = np.asarray(want, dtype=np.float64).reshape(-1)
    for gi, wi in zip(g, w):
        if math.isnan(wi) or math.isnan(gi):
            if not (math.isnan(wi) and math.isnan(gi)):
                return True
        elif math.isinf(wi) or math.isinf(gi):
            if gi != wi:
                return True
        elif abs(gi - wi) > allowed_ulps * _ulp(max(abs(wi), scale), scalar):
            return True
    return False


def run_case(pymodule, case: Case, scale: Callable[[tuple, object], float] | None = None) -> None:
    """Launch the case's kernel and assert Warp agrees with the reference on every kept operand tuple."""
    assert len(case.args) >= 2, f"{case.id}: fewer than two defined operand tuples"
    sig = case.signature
    columns = [_column(t, [a[k] for a in case.args]) for k, t in enumerate(sig.args)]
    arrays = [W.to_warp(c, "int32" if t == BOOL else t.name) for t, c in zip(sig.args, columns)]
    n = len(case.args)
    rt = INT32 if sig.result == BOOL else sig.result
    out_shape = (n, *rt.shape) if isinstance(rt, Composite) else (n,)
    out = W.to_warp(np.zeros(out_shape, dtype=rt.numpy_dtype), rt.name)
    W.launch_cpu(getattr(pymodule, case.kernel), n, arrays + [out])
    got = W.to_numpy(out)
    bad = []
    for i, (args, want) in enumerate(zip(case.args, case.expected)):
        s = scale(args, want) if scale else max(
            [float(np.max(np.abs(np.asarray(a, dtype=np.float64)), initial=0.0)) for a in args
             if not isinstance(a, bool)] + [0.0])
        s = s if math.isfinite(s) else 0.0
        if differs(got[i], want, sig.result, case.ulps, s):
            bad.append(f"{case.op.spelling}{tuple(np.asarray(a).tolist() for a in args)} -> reference "
                       f"{np.asarray(want).tolist()!r}, Warp {np.asarray(got[i]).tolist()!r}")
    assert not bad, f"{case.id}: {len(bad)}/{n} differ (allowed {case.ulps} ulp):\n" + "\n".join(bad[:10])
