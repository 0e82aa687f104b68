"""Coverage-guided choice of the inputs of a kernel's first verification attempt (reference only).

One random draw of a kernel's inputs leaves part of the kernel unexecuted: an ``if`` whose test fails in
every thread, a helper whose branch is fixed by its arguments, a loop whose bound is not positive. A fault of
Warp there cannot be seen. Before Warp is called, :func:`first_inputs` draws :data:`CANDIDATES` input sets
of the first attempt's profile, runs each through the numpy reference with every assigned value and every
table row tapped, and keeps the set that executes the most distinct statements and rows (the first such
set on a tie, so one candidate is the old single draw). Warp is then verified on those inputs, and
:mod:`harness.liveness` measures liveness on the same choice, so its figures are those of the hunt.

Every candidate seed is ``base_seed + j * STEP`` with ``STEP`` a multiple of
:data:`harness.oracle.inputs.WIDE_SHARE`: each candidate has the profile the base seed has
(:func:`harness.oracle.inputs.profile_for_attempt`), and the chosen seed, recorded as the record's
``input_seed``, gives back the same inputs with ``make_inputs(params, dim, seed, profile_for_attempt(0,
seed))``. A candidate on which the reference fails (undefined behaviour, an evaluation error) is never
chosen; when every candidate fails, the base seed's inputs are returned and the verification reports the
failure as it always has. Cost: about 10 ms of reference time per candidate.

Corners count as coverage: a row with a corner (:attr:`grammar.ops.Op.corner`: an exact half for ``round``/``rint``,
equal operands for comparisons and ``min``/``max``, a wrapping unsigned ``-``) some call of which meets it adds
``("corner", row)`` to what a candidate executes, so a draw that puts a fault's trigger in front of Warp wins. The
choice keeps its runs (:func:`choose_first`): the chosen candidate's run is the first attempt's float32 reference run,
and another candidate's outputs serve the input-dependence test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grammar import ops as OPS

from .inputs import WIDE_SHARE, make_inputs
from .reference import ReferenceRun, Runtime, rows_used, run_reference, tapped

#: input sets drawn for the first attempt; the one executing the most of the kernel is verified
CANDIDATES = 6
#: distance between candidate seeds (a multiple of WIDE_SHARE: every candidate has the base seed's profile)
STEP = WIDE_SHARE * 7919


class _Executed(Runtime):
    """A float32 runtime that records which taps (assigned values) and table rows a run executes."""

    def __init__(self):
        super().__init__(np.float32, None, None)
        self.executed: set = set()

    def _bind(self, op, sig):
        fn = super()._bind(op, sig)
        name, corner = op.name, op.corner
        if corner is None:
            def recorded(*args):
                self.executed.add(name)
                return fn(*args)

            return recorded
        key = ("corner", name)

        def recorded_corner(*args):
            self.executed.add(name)
            if key not in self.executed and corner(sig, *args):
                self.executed.add(key)
            return fn(*args)

        return recorded_corner

    def result(self, row, value):
        self.executed.add(row)
        return value

    def atomic(self, name, arr, index, *operands):
        self.executed.add(name)
        return super().atomic(name, arr, index, *operands)

    def tap(self, k, value):
        self.executed.add(k)
        return value


def executed(k, values: dict) -> set | None:
    """The taps (ints) and row names (strs) a reference run of ``k`` on ``values`` executes, and
    ``("corner", row)`` for each row with a corner (:attr:`grammar.ops.Op.corner`) some call of which met it;
    None when the reference fails on them."""
    run = _executed_run(k, values)
    return None if run is None else run[0]


def _executed_run(k, values: dict) -> tuple[set, ReferenceRun] | None:
    """(:func:`executed`, the run itself). The run is the plain float32 reference run: a tap returns its value
    unchanged and the recording runtime is the float32 one, so outputs and trace are those of
    ``run_reference(source, params, values, dim)`` (``tests/test_liveness.py`` checks it)."""
    runtime = _Executed()
    try:
        run = run_reference(k.kernel_source, k.params, values, k.dim, runtime=runtime, taps=True)
    except Exception:
        return None
    return runtime.executed, run


def candidate_seeds(base_seed: int, n: int = CANDIDATES) -> list[int]:
    return [base_seed + j * STEP for j in range(n)]


@dataclass
class Choice:
    """The first attempt's inputs and what choosing them already computed."""

    seed: int
    values: dict
    #: the float32 reference run on ``values`` (None: not made, with one candidate or when every candidate failed)
    run: ReferenceRun | None = None
    #: the reference outputs of another candidate that ran (None: no other one ran), for the input-dependence test
    other: dict | None = None


def first_inputs(k, base_seed: int, profile: str, candidates: int = CANDIDATES) -> tuple[int, dict]:
    """``(seed, inputs)`` of the first verification attempt of ``k``: of ``candidates`` draws of ``profile``
    (the first attempt's, ``profile_for_attempt(0, base_seed)``), the one whose reference run executes the
    most taps and rows (``candidates=1``: the base seed's draw, the choice of earlier versions)."""
    choice = choose_first(k, base_seed, profile, candidates)
    return choice.seed, choice.values


def choose_first(k, base_seed: int, profile: str, candidates: int = CANDIDATES) -> Choice:
    """:func:`first_inputs` with the reference runs the choice made: the chosen candidate's (the pipeline's
    float32 run of the first attempt, not made again) and another candidate's outputs."""
    best: tuple[int, int, dict, ReferenceRun] | None = None
    other = None
    if candidates > 1:
        try:
            rows = rows_used(k.kernel_source)
            everything = len(tapped(k.kernel_source)[1]) + len(rows) + sum(
                1 for r in rows if getattr(OPS.BY_NAME.get(r), "corner", None) is not None)
        except Exception:
            candidates = 1  # the reference cannot read the kernel: verification reports it
    for seed in candidate_seeds(base_seed, max(candidates, 1)):
        values = make_inputs(k.params, k.dim, seed, profile)
        if candidates <= 1:
            return Choice(seed, values)
        done = _executed_run(k, values)
        if done is None:
            continue
        if best is None or len(done[0]) > best[0]:
            if best is not None:
                other = best[3].outputs
            best = (len(done[0]), seed, values, done[1])
            if len(done[0]) >= everything:  # nothing left to execute
                break
        elif other is None:
            other = done[1].outputs
    if best is None:
        return Choice(base_seed, make_inputs(k.params, k.dim, base_seed, profile))
    return Choice(best[1], best[2], best[3], other)
