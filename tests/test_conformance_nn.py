"""The neural-network fragments of grammar/ops_nn.py: Warp's build of each row's ``@wp.func`` definition agrees
with the row's numpy semantics (forward), and Warp's generated adjoint with central differences of it (backward).

One case per (row, signature): a tiny kernel applies the row to array loads, in one Warp module that holds the
rows' definitions once (as :func:`harness.pipeline.module_source` writes them). Operands: random values at several
scales, ties (equal components: softmax's max, a zero variance), signed zeros, magnitudes up to 1e20 (products
that overflow float32), and a few non-finite ones, where both sides must give the same IEEE result.

Tolerances: the semantics follow the definition's order of operations, so Warp differs only through its libm
(``exp``, ``erf``) and the rounding that propagates from it: 8 ulp of the largest expected component. The adjoint
is checked on the float64 overloads: Warp's vector-Jacobian product against central differences of the float64
semantics (step 1e-6), within 1e-6 relative to the largest gradient component.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conformance import build_cases, group_rows, run_case

from grammar import ops as OPS
from grammar import ops_nn as M
from grammar.types import FLOAT64, Composite
from harness.warp_side import warp_adapter as W
from harness.oracle.reference import Runtime

INF, NAN = math.inf, math.nan
ROWS = group_rows(M)


def _scalars(rng, n: int) -> list[float]:
    """``n`` values: edge values first, then random ones at three scales."""
    edges = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, -7.25, 1e-6, 1e20, -1e20, 40.0, -40.0]
    out = edges[:n]
    while len(out) < n:
        out.append(float(rng.normal() * rng.choice([0.1, 1.0, 10.0])))
    return out


def samples(t, domain, rng, n):
    if not isinstance(t, Composite):
        return _scalars(rng, n)
    size = int(np.prod(t.shape))
    values = []
    for i in range(n):
        if i == 0:
            v = np.zeros(size)  # every component equal: softmax ties, zero variance
        elif i == 1:
            v = np.full(size, 2.5)
        elif i == 2:
            v = np.array([1e20 if k % 2 else -1e20 for k in range(size)])  # d*d overflows float32
        elif i == 3:
            v = np.array([INF] + [1.0] * (size - 1))  # non-finite: both sides give NaN/inf alike
        elif i == 4:
            v = np.array([-0.0] * size)
        elif i == 5:
            v = np.array([3.0, 3.0] + [-1.0] * (size - 2))  # a tie at the largest component
        else:
            v = rng.normal(size=size) * rng.choice([0.01, 1.0, 30.0])
        values.append(tuple(v.reshape(t.shape).tolist()) if len(t.shape) == 1 else
                      tuple(tuple(r) for r in v.reshape(t.shape).tolist()))
    return values


CASES = build_cases(ROWS, samples, n=32, ulps=lambda op, sig: 8.0)


def _definitions() -> str:
    return "\n\n".join(OPS.fragment_source(op, s) for op, s in ROWS)


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    W.init(str(tmp_path_factory.mktemp("warp-cache")))
    path = tmp_path_factory.mktemp("conformance_nn") / "conformance_nn_kernels.py"
    path.write_text("import warp as wp\n\n\n" + _definitions() + "\n\n" + "\n\n".join(c.source for c in CASES))
    pymodule = W.import_kernel_module(path)
    W.set_module_options(pymodule, optimization_level=0, enable_backward=True)
    W.compile_cpu(pymodule)
    return pymodule


def _largest_expected(args, want) -> float:
    w = np.asarray(want, dtype=np.float64)
    finite = w[np.isfinite(w)]
    return float(np.max(np.abs(finite), initial=0.0))


def test_every_fragment_row_has_a_case_per_signature():
    assert {op.name for op, _ in ROWS} == {"gelu", "softmax", "layer_norm", "batch_norm", "attention"}
    assert all(op.definition is not None and op.family == "nn" for op, _ in ROWS)
    assert len(CASES) == sum(len(op.signatures) for op in M.ROWS) == 18


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_row(module, case):
    run_case(module, case, scale=_largest_expected)


F64_CASES = [c for c in CASES if (c.signature.result.scalar if isinstance(c.signature.result, Composite)
                                   else c.signature.result) == FLOAT64]


@pytest.mark.parametrize("case", F64_CASES, ids=[c.id for c in F64_CASES])
def test_adjoint_matches_central_differences(module, case):
    """Warp's backward of the definition, seeded with a random cotangent, against central differences of the
    float64 semantics, on well-scaled random operands."""
    sig, op = case.signature, case.op
    rng = np.random.default_rng(7)
    runtime = Runtime(np.float64)
    n = 6
    args = [rng.normal(size=(n, *(t.shape if isinstance(t, Composite) else ()))) for t in sig.args]
    result_shape = sig.result.shape if isinstance(sig.result, Composite) else ()
    cot = rng.normal(size=(n, *result_shape))
    params = [(a, t.name, (n,), True) for a, t in zip(args, sig.args)]
    params.append((np.zeros((n, *result_shape)), sig.result.name, (n,), True))
    _, grads = W.launch_cpu_backward(getattr(module, case.kernel), n, params, {len(args): cot})

    def f(i, xs):
        return np.asarray(runtime.call(op, sig, *[x if x.shape else x[()] for x in xs]), dtype=np.float64)

    h = 1e-6
    for k, a in enumerate(args):
        fd = np.zeros_like(a)
        for i in range(n):
            for idx in np.ndindex(a.shape[1:]):
                plus = [np.array(x[i]) for x in args]
                minus = [np.array(x[i]) for x in args]
                plus[k][idx] += h
                minus[k][idx] -= h
                fd[(i, *idx)] = np.sum(cot[i] * (f(i, plus) - f(i, minus))) / (2 * h)
        scale = max(float(np.max(np.abs(fd))), 1e-3)
        assert np.max(np.abs(grads[k] - fd)) <= 1e-6 * scale, (case.id, k, grads[k], fd)
