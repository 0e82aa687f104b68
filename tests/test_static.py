"""``wp.static(...)``: Warp evaluates the argument as *Python* at code generation; the reference must too.

Semantics note (Warp 1.19): ``wp.static(e)`` embeds the Python value of ``e`` as a constant - an int as
int32, a float as float32 (the double rounded to nearest), a bool as bool. Python's operators apply, so
``wp.static(-7 % 3) == 2`` and ``wp.static(-7 // 2) == -4`` while the kernel-level ``-7 % 3`` is ``-1``
(C); ``if wp.static(c):`` keeps only the taken branch; ``range(wp.static(e))`` is a constant trip count.
"""

from __future__ import annotations

from dataclasses import replace

import hypothesis.strategies as st
import libcst as cst
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from grammar.policy import DEFAULT_POLICY
from harness.coverage import StatementCensus
from harness.pipeline import Options, verify_batch
from harness.oracle.reference import ReferenceTypeError, run_reference, transpile
from strategies.kernels import GeneratedKernel, ParamSpec
from strategies.static import static_bool, static_float, static_int

from reach import reach

SOURCE = """@wp.kernel
def kernel(a0: wp.array(dtype=wp.float32), out0: wp.array(dtype=wp.int32), out1: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    i1 = wp.int32(wp.static(((-7) % 3)))
    i1 = i1 * 100 + wp.static(((-7) // 2)) * 10 + ((-7) % 3)
    x2 = a0[tid] + wp.static((1.0 / 3.0))
    for j3 in range(wp.static(((2 + 3) % 4))):
        x2 = x2 + 1.0
    if wp.static((((-7) % 3) == 2)):
        i1 = i1 + 1000
    else:
        i1 = i1 - 1000
    out0[tid] = i1
    out1[tid] = x2
"""
PARAMS = (ParamSpec("a0", "array", "float32", "input", -4.0, 4.0, (16,)),
          ParamSpec("out0", "array", "int32", "output", 0, 0, (16,)),
          ParamSpec("out1", "array", "float32", "output", 0, 0, (16,)))


def _kernel() -> GeneratedKernel:
    return GeneratedKernel("kernel", cst.parse_statement(SOURCE), PARAMS, (), 16)


def test_reference_evaluates_static_with_python_semantics():
    values = {"a0": np.arange(16, dtype=np.float32), "out0": np.zeros(16, np.int32), "out1": np.zeros(16, np.float32)}
    run = run_reference(SOURCE, list(PARAMS), values, 16)
    # 2 * 100 + (-4) * 10 + (-1) + 1000: Python % and // inside wp.static, C % outside
    assert list(run.outputs["out0"]) == [1159] * 16
    third = np.float32(1.0 / 3.0)  # a float32 constant: the double rounded to nearest
    assert np.array_equal(run.outputs["out1"], (np.arange(16, dtype=np.float32) + third) + np.float32(1.0))


def test_warp_agrees_with_the_static_semantics(tmp_path):
    (r,) = verify_batch([_kernel()], tmp_path, Options(nvrtc=False)).results
    assert r.verdict == "accepted", r.reason


def test_static_of_a_runtime_value_is_rejected():
    bad = SOURCE.replace("wp.static((1.0 / 3.0))", "wp.static(a0[tid])")
    with pytest.raises(ReferenceTypeError, match="not a constant expression"):
        transpile(bad)


@given(st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
def test_static_leaves_have_the_value_they_claim(data):
    lo = data.draw(st.integers(-9, 9))
    hi = data.draw(st.integers(lo, 9))
    e = data.draw(st.composite(lambda d: static_int(d, lo, hi))())
    value = eval(cst.Module(body=()).code_for_node(e.node.args[0].value))
    assert lo <= value <= hi and e.lo == e.hi == value
    f = data.draw(st.composite(lambda d: static_float(d))())
    assert isinstance(eval(cst.Module(body=()).code_for_node(f.node.args[0].value)), float)
    b = data.draw(st.composite(lambda d: static_bool(d))())
    assert isinstance(eval(cst.Module(body=()).code_for_node(b.node.args[0].value)), bool)


def _kinds(k: GeneratedKernel) -> set[str]:
    census = StatementCensus()
    k.func.visit(census)
    return census.kinds


@pytest.mark.parametrize("kind", ["for range(wp.static)", "if wp.static", "wp.static value"])
def test_every_static_form_is_reachable(kind):
    # the ordinary half of the default mix (a gradient-directed kernel's main block holds two statements)
    k = reach(replace(DEFAULT_POLICY, directed_weights=(1, 0)), lambda k: kind in _kinds(k))
    assert kind in _kinds(k)
