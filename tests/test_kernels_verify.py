"""The main property: every generated kernel compiles, runs on the CPU like the numpy reference says,
and compiles with NVRTC - or is screened as ill-conditioned. A warp-bug verdict fails the test (and
Hypothesis shrinks the batch to a minimal kernel); a generator-error verdict is a bug of ours.

With ``--hypothesis-profile=dataset`` accepted kernels are appended to the corpus (see conftest).
"""

from __future__ import annotations

import itertools

import hypothesis.strategies as st
import pytest
from hypothesis import given

from harness.pipeline import Options, verify_batch
from strategies import kernels

BATCH = 16
_rounds = itertools.count()


@pytest.mark.generated
@given(batch=st.lists(kernels(), min_size=1, max_size=BATCH))
def test_generated_kernels_verify(batch, corpus_sink, session_workdir):
    result = verify_batch(batch, session_workdir / f"round{next(_rounds)}", Options())
    problems = []
    for r in result.results:
        if r.verdict == "accepted":
            assert r.record is not None and r.record["verification"]["reference_match"]
            assert r.record["cpu_forward"] and r.record["cuda_forward"] and r.record["cpu_backward"]
            if corpus_sink is not None:
                corpus_sink.add(r.record)
        elif r.verdict in ("warp-bug", "generator-error"):
            problems.append(f"{r.verdict} ({r.reason.splitlines()[0][:300]}):\n{r.kernel.kernel_source}")
    assert not problems, "\n\n".join(problems)
    assert any(r.verdict in ("accepted", "screened") for r in result.results)
