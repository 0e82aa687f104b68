"""The overload probe (harness.warp_side.overloads) and the generator's restriction to what a release has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grammar import ops as OPS
from harness.warp_side import overloads as O
from harness import releases as R

ROOT = Path(__file__).resolve().parent.parent
OLD_WARP = os.environ.get("WARPSMITH_OLD_WARP")


def test_every_overload_of_the_table_generates_code_on_the_release_it_follows():
    """The probe itself is sound: on the installed release (the table's) no probe kernel fails, so a failure on
    an older one is the release's, not the probe's spelling."""
    probes = O.probes()
    assert len(probes) > 1500
    assert len({name for _, name, _ in probes}) == len(probes)
    assert O.missing() == set()


def test_a_row_returning_a_tuple_is_probed_with_its_inputs_only():
    (src,) = [s for k, _, s in O.probes() if k == "transform_decompose:0"]
    assert "r0, r1, r2 = wp.transform_decompose(a0[0])" in src and "a1" not in src


def test_left_out_overloads_are_never_drawn_and_the_reference_still_reads_them(tmp_path):
    """A restriction by ``row:index`` (what ``--against`` passes to the workers) removes those overloads from the
    generator's table only: kernels drawn afterwards never call them, the full table still resolves them."""
    code = """
import json, sys
from grammar import ops as OPS
from harness import generate
from harness.oracle.reference import resolve, rows_used
from grammar.types import BY_NAME as T
drawn = generate.draw_kernels(5, 40)
lerp = {tuple(str(a) for a in s.args) for op in OPS.OPS if op.name == "lerp" for s in op.signatures}
print(json.dumps({"rows": sorted(OPS.UNAVAILABLE), "lerp": sorted(lerp), "n": len(drawn),
                  "full_lerp": len(OPS.BY_NAME["lerp"].signatures),
                  "used": sorted(set().union(*(rows_used(k.kernel_source) for k in drawn)))}))
"""
    lerp = OPS.BY_NAME["lerp"].signatures
    named = [f"lerp:{i}" for i in range(1, len(lerp))] + [f"smoothstep:{i}" for i in
                                                          range(len(OPS.BY_NAME["smoothstep"].signatures))]
    env = {**os.environ, "WARPSMITH_UNAVAILABLE_ROWS": ",".join(named)}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["lerp"] == [[str(a) for a in lerp[0].args]]  # the first overload only
    assert out["full_lerp"] == len(lerp) > 1
    assert "smoothstep" in out["rows"]  # no overload left: the row goes
    assert "smoothstep" not in out["used"] and out["n"] >= 20


@pytest.mark.skipif(not OLD_WARP, reason="WARPSMITH_OLD_WARP names no older release to probe")
def test_an_older_release_lacks_overloads_within_rows_it_has(tmp_path):
    """On the older release the probe finds every overload of the rows it lacks, and overloads of rows it has
    (1.10: the ``wp.transformation`` overloads, the transform copy constructor): cached per release."""
    python = R.interpreter(OLD_WARP, harness=True)
    code = ("import json; from harness.warp_side import overloads as O, warp_adapter as W; "
            "from grammar import ops as OPS; "
            "print(json.dumps({'missing': sorted(O.cached_missing()), "
            "'rows': sorted(W.missing_rows(OPS.BY_NAME.values()))}))")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT),
                                                                        "WARPSMITH_VENVS": str(tmp_path)}
    run = subprocess.run([python, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    missing = set(out["missing"])
    for row in out["rows"]:
        assert {f"{row}:{i}" for i in range(len(OPS.BY_NAME[row].signatures))} <= missing, row
    within = {k for k in missing if k.split(":")[0] not in out["rows"]}
    assert within, "no overload missing within the rows the older release has"
    assert list(tmp_path.glob(f"overloads-{OLD_WARP}-*.json"))


def test_a_release_whose_code_generation_fails_outright_is_an_error_not_a_table_without_overloads(monkeypatch):
    """An adapter gap (code generation failing for every kernel, as the 1.18 builder's signature once did) must
    not read as "this release lacks every overload": the probe raises instead."""
    from harness.warp_side import warp_adapter as W

    def broken(module, target):
        raise W.BuildError("TypeError: ModuleBuilder.__init__() got an unexpected keyword argument 'target'")

    monkeypatch.setattr(W, "generate_source", broken)
    with pytest.raises(O.ProbeError, match="trivial kernel"):
        O.missing()
