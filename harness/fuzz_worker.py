"""Worker-process side of ``harness.fuzz``: verify a seeded batch, or shrink one failing kernel of it.

Tasks run in :class:`harness.pool.WorkerPool` processes (own Warp cache each, see :mod:`harness.worker`):

* :class:`HuntTask` -- draw batch ``batch_index`` of the run (``harness.generate``, as ``collect`` does,
  with the run's policy and the batch's ``focus_pool``: :func:`harness.generate.batch_policy`), keep the
  kernels at ``positions``, and verify those whose canonical id is not in ``skip_ids`` (kernels the run already
  verified). Answers a :class:`HuntOutcome`: verdict counts, the Warp failures, the canonical ids of every
  kernel verified, and per differentiable row the gradient-checked kernels that used it and those that
  exercised its adjoint on a live path (:func:`harness.liveness.adjoint_reach`; not measured for the rows in
  ``reach_done``, which the parent has seen reach its goal).
* :class:`ShrinkTask` -- replay the batch's Hypothesis seed with the shrink phase on, verifying nothing
  until the failing kernel (by canonical id) comes up, then let Hypothesis shrink it while each candidate
  still fails with the same kind. Stops verifying after ``cap_s`` seconds. The smallest failure so far is
  pickled to ``progress_path`` at each improvement, so the parent keeps it even if it kills the worker.

``WARPSMITH_WORKER_HOOK`` (see :mod:`harness.worker`) is called with ``(task, kernels)`` before either
kind of task (a ShrinkTask's ``all_positions()`` is empty).
"""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings

from strategies import kernels as kernel_strategy

from . import worker as _worker
from .generate import _no_local_constants, batch_policy, draw_kernels
from .liveness import adjoint_reach
from .pipeline import Options, name_kernels, verify_batch
from .store.canonical import canonical_id
from .warp_side import warp_adapter as W


@dataclass(frozen=True)
class HuntTask:
    seed: int
    batch_index: int
    batch_size: int
    opts: Options
    positions: tuple[int, ...] | None = None  # None: the whole batch
    skip_ids: frozenset = frozenset()
    focus_pool: tuple[str, ...] = ()  # Policy.directed_focus_pool of this batch (the parent's feedback)
    reach_done: frozenset = frozenset()  # rows at the parent's reach goal: their adjoint reach is not measured

    def all_positions(self) -> tuple[int, ...]:
        return self.positions if self.positions is not None else tuple(range(self.batch_size))

    def halves(self) -> tuple["HuntTask", "HuntTask"]:
        p = self.all_positions()
        mid = len(p) // 2
        return (dataclasses.replace(self, positions=p[:mid]), dataclasses.replace(self, positions=p[mid:]))


@dataclass
class HuntOutcome:
    batch_index: int
    verdicts: dict[str, int] = field(default_factory=dict)
    failures: list = field(default_factory=list)  # harness.report.Failure
    verified_ids: list[str] = field(default_factory=list)
    n_kernels: int = 0
    skipped: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # generator errors: (name, source, reason)
    adjoint_live: Counter = field(default_factory=Counter)  # row -> checked kernels exercising its adjoint live
    adjoint_used: Counter = field(default_factory=Counter)  # row -> checked kernels using it
    gradient: Counter = field(default_factory=Counter)  # gradient status -> accepted kernels
    exact: Counter = field(default_factory=Counter)  # Options.jax_gradient: the exact check's status -> kernels
    against: dict = field(default_factory=dict)  # Options.against: outcome counts (pipeline.BatchResult.against)


@dataclass(frozen=True)
class ShrinkTask:
    seed: int
    batch_index: int
    batch_size: int
    opts: Options
    kind: str  # the failure kind a candidate must reproduce
    kernel_name: str  # k_<canonical id prefix>, as pipeline.name_kernels names it
    cap_s: float
    progress_path: str
    focus_pool: tuple[str, ...] = ()  # the batch's (HuntTask.focus_pool): the replay draws the same kernels

    def all_positions(self) -> tuple[int, ...]:
        return ()


@dataclass
class ShrinkOutcome:
    failure: object | None  # the smallest failure found (None: the kernel never failed again)
    status: str  # shrunk | capped | not-reproduced
    candidates: int = 0
    seconds: float = 0.0


def run_hunt(task: HuntTask, hook=None) -> HuntOutcome:
    t = time.perf_counter()
    bseed = _worker.batch_seed(task.seed, task.batch_index)
    kernels = draw_kernels(bseed, task.batch_size, batch_policy(task.opts.policy, task.focus_pool))
    if task.positions is not None:
        kernels = [kernels[i] for i in task.positions if i < len(kernels)]
    gen_time = time.perf_counter() - t
    if hook is not None:
        hook(task, kernels)
    out = HuntOutcome(task.batch_index, timings={"generate": gen_time})
    if not kernels:
        return out
    named = name_kernels(kernels)
    ids = {k.name: cid for cid, k in named}
    workdir = Path(tempfile.mkdtemp(prefix=f"batch{task.batch_index}-", dir=_worker._scratch))
    try:
        result = verify_batch(kernels, workdir, Options(**{**task.opts.__dict__, "seed": bseed}), task.skip_ids,
                              named=named)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        W.clear_kernel_cache()
    out.n_kernels, out.skipped = len(result.results), result.skipped
    out.timings.update(result.timings)
    out.verdicts = dict(result.counts())
    out.against = result.against
    for f in result.extra_failures:  # failures of the --against release
        f.seed = bseed
        out.failures.append(f)
    for r in result.results:
        out.verified_ids.append(ids.get(r.kernel.name, r.kernel.name))
        if r.failure is not None:
            r.failure.seed = bseed
            out.failures.append(r.failure)
        if r.verdict == "generator-error":
            out.notes.append((r.kernel.name, r.kernel.source, r.reason))
        if r.exact is not None:
            out.exact[r.exact.status] += 1
        if r.verdict == "accepted" and r.record is not None:
            out.gradient[r.record["verification"].get("gradient_status", "unknown")] += 1  # with its limit key
        if r.record is not None and r.record["verification"].get("gradient_status") == "checked":
            t = time.perf_counter()
            for row, live in adjoint_reach(r.kernel, r.record["id"], task.reach_done).items():
                out.adjoint_used[row] += 1
                out.adjoint_live[row] += bool(live)
            out.timings["adjoint-reach"] = out.timings.get("adjoint-reach", 0.0) + time.perf_counter() - t
    return out


def _size(failure) -> tuple[int, int]:
    src = failure.module_source
    return (len(src.strip().splitlines()), len(src))


def run_shrink(task: ShrinkTask, hook=None) -> ShrinkOutcome:
    start = time.monotonic()
    stop = start + task.cap_s
    bseed = _worker.batch_seed(task.seed, task.batch_index)
    target = task.kernel_name[2:]  # canonical id prefix
    if hook is not None:
        hook(task, [])
    state = {"found": False, "best": None, "candidates": 0, "capped": False}
    opts = Options(**{**task.opts.__dict__, "seed": bseed})

    @settings(max_examples=task.batch_size, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
              report_multiple_bugs=False, verbosity=Verbosity.quiet)
    @hypothesis.seed(bseed)
    @given(kernel_strategy(batch_policy(task.opts.policy, task.focus_pool)))
    def prop(kernel):
        if not state["found"]:
            if not canonical_id(kernel.source).startswith(target):
                return  # not the failing kernel: the batch's earlier kernels were verified by the hunt
            state["found"] = True
        if time.monotonic() > stop:
            state["capped"] = True
            return  # cap spent: every further candidate "passes", Hypothesis ends quickly
        state["candidates"] += 1
        workdir = Path(tempfile.mkdtemp(prefix="shrink-", dir=_worker._scratch))
        try:
            result = verify_batch([kernel], workdir, opts)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            W.clear_kernel_cache()
        for failure in [r.failure for r in result.results] + result.extra_failures:
            if failure is not None and failure.kind == task.kind:
                failure.seed = bseed
                if state["best"] is None or _size(failure) < _size(state["best"]):
                    state["best"] = failure
                    with open(task.progress_path + ".tmp", "wb") as fh:
                        pickle.dump(failure, fh)
                    Path(task.progress_path + ".tmp").replace(task.progress_path)
                raise AssertionError(f"{task.kind}: still failing")

    try:
        with _no_local_constants():
            prop()
        status = "not-reproduced" if state["best"] is None else "capped"
    except AssertionError:
        status = "capped" if state["capped"] else "shrunk"
    except Exception:  # Flaky: the final replay passed (the cap was hit, or the failure is flaky)
        status = "capped" if state["capped"] else "shrunk (flaky)"
    if state["best"] is None:
        status = "not-reproduced"
    return ShrinkOutcome(state["best"], status, state["candidates"], time.monotonic() - start)


def serve(conn, root: str | None = None) -> None:
    """A fuzz worker's main loop: :func:`harness.worker.serve` answering HuntTask and ShrinkTask."""
    _worker.serve(conn, root, run=run)


def run(task, hook):
    return (run_shrink if isinstance(task, ShrinkTask) else run_hunt)(task, hook)
