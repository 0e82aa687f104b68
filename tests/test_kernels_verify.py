"""The main property: every generated kernel compiles, runs on the CPU like the numpy reference says,
and compiles with NVRTC - or is screened as ill-conditioned. A warp-bug verdict fails the test (and
Hypothesis shrinks the batch to a minimal kernel); a generator-error verdict is a bug of ours.

With ``--hypothesis-profile=dataset`` accepted kernels are appended to the corpus (see conftest).
"""

from __future__ import annotations

import itertools
import textwrap

import hypothesis.strategies as st
import libcst as cst
import pytest
from hypothesis import given

from grammar.policy import DEFAULT_POLICY
from harness.store.corpus import code_bytes
from harness import pipeline
from harness.pipeline import Options, verify_batch
from strategies import kernels
from strategies.kernels import GeneratedKernel, ParamSpec

BATCH = 16
_rounds = itertools.count()


@pytest.mark.generated
@given(batch=st.lists(kernels(), min_size=1, max_size=BATCH))
def test_generated_kernels_verify(batch, corpus_sink, session_workdir):
    # the records of the dataset profile keep the default policy's code-size budget, as collect's do
    result = verify_batch(batch, session_workdir / f"round{next(_rounds)}", Options(max_code_kb=DEFAULT_POLICY.max_code_kb))
    problems = []
    for r in result.results:
        if r.verdict == "accepted":
            assert r.record is not None and r.record["verification"]["reference_match"]
            assert r.record["verification"]["code_bytes"] == code_bytes(r.record) <= DEFAULT_POLICY.max_code_kb * 1000
            assert r.record["cpu_forward"] and r.record["cuda_forward"] and r.record["cpu_backward"]
            if corpus_sink is not None:
                corpus_sink.add(r.record)
        elif r.verdict in ("warp-bug", "generator-error"):
            problems.append(f"{r.verdict} ({r.reason.splitlines()[0][:300]}):\n{r.kernel.kernel_source}")
    assert not problems, "\n\n".join(problems)
    assert any(r.verdict in ("accepted", "screened") for r in result.results)


def _fixed(name: str, body: str) -> GeneratedKernel:
    dim = 8
    a = ParamSpec("a", "array", "float32", "input", -2.0, 2.0, (dim,))
    out = ParamSpec("out", "array", "float32", "output", -2.0, 2.0, (dim,))
    source = textwrap.dedent(f"""\
        @wp.kernel
        def {name}(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
            tid = wp.tid()
        """) + textwrap.indent(textwrap.dedent(body), "    ")
    return GeneratedKernel(name, cst.parse_statement(source), (a, out), (), dim)


def test_the_code_size_budget_screens_records_over_it_and_each_record_states_its_size(session_workdir):
    small = _fixed("k_small", "out[tid] = a[tid] * 2.0\n")
    big = _fixed("k_big", "x = a[tid]\n" + "".join(f"x = x + wp.sin(a[tid] * {i + 1}.0) * 0.25\n" for i in range(12))
                 + "out[tid] = x\n")
    unbounded = verify_batch([small, big], session_workdir / "budget0", Options(nvrtc=False))
    def which(r):  # the pipeline renames kernels after their canonical ids
        return "k_big" if "wp.sin" in r.kernel.kernel_source else "k_small"

    assert [r.verdict for r in unbounded.results] == ["accepted", "accepted"], [(r.verdict, r.reason) for r in unbounded.results]
    sizes = {which(r): r.record["verification"]["code_bytes"] for r in unbounded.results}
    assert sizes["k_small"] < sizes["k_big"]
    budget_kb = (sizes["k_small"] + sizes["k_big"]) // 2000
    assert sizes["k_small"] <= budget_kb * 1000 < sizes["k_big"]
    bounded = verify_batch([small, big], session_workdir / "budget1", Options(nvrtc=False, max_code_kb=budget_kb))
    verdicts = {which(r): (r.verdict, r.reason) for r in bounded.results}
    assert verdicts == {"k_small": ("accepted", ""), "k_big": ("screened", "code-size")}
    # the budget is applied before anything is compiled, measured as the records state it
    named = [k for _, k in pipeline.name_kernels([small, big])]
    (session_workdir / "budget2").mkdir()
    _, measured = pipeline._code_sizes(named, session_workdir / "budget2", Options())
    assert measured == {r.kernel.name: r.record["verification"]["code_bytes"] for r in unbounded.results}
    alone = verify_batch([big], session_workdir / "budget3", Options(max_code_kb=budget_kb))
    assert [(r.verdict, r.reason) for r in alone.results] == [("screened", "code-size")]
    assert "code_size" in alone.timings and "cpu_compile" not in alone.timings and "nvrtc" not in alone.timings
