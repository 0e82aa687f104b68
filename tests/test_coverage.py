"""Coverage ratchet: the generator must keep reaching what it reaches today.

`tests/coverage_baseline.json` records, for a fixed sample (seed and size below), how many of Warp's core
builtins (groups Scalar Math, Vector Math, Quaternion Math, Transformations, Spatial Math, Operators) the
generated kernels use. This test fails if a change makes that number drop, if a builtin that was covered
disappears, or if a statement kind stops being generated. When coverage grows, raise the baseline:
``python -m harness.coverage --samples 400 --seed 0 --baseline > tests/coverage_baseline.json`` writes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.coverage import STATEMENT_KINDS, measure

BASELINE = Path(__file__).with_name("coverage_baseline.json")


@pytest.fixture(scope="module")
def report():
    base = json.loads(BASELINE.read_text())
    return base, measure(base["samples"], base["seed"])


def test_every_kernel_type_checks(report):
    _, now = report
    assert now["untypeable_kernels"] == 0


def test_builtin_coverage_does_not_drop(report):
    base, now = report
    # a builtin used by >= 8 sampled kernels must not disappear: any change to the strategies reshuffles the
    # sample (Hypothesis draws correlated examples), so rarer ones move in and out of it; the total below
    # still may not drop
    solid = {n for n, c in base["builtin_uses"].items() if c >= 8}
    lost = sorted(solid - {n for g in now["builtins"].values() for n, c in g.items() if c})
    assert not lost, f"builtins no longer generated: {lost}"
    assert now["covered"] >= base["covered"], f"covered {now['covered']} < baseline {base['covered']}"


@pytest.mark.parametrize("kind", STATEMENT_KINDS)
def test_every_statement_kind_is_generated(report, kind):
    _, now = report
    assert now["statement_kinds"][kind] > 0, f"no kernel in the sample uses {kind}"
