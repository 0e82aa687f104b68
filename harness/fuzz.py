"""``python -m harness.fuzz``: hunt for Warp bugs for a time budget on every core, one shrunk report per bug.

The hunt runs seeded batches of generated kernels (batch ``i`` of seed ``S`` is drawn as ``collect`` draws
it, :mod:`harness.generate`, so a report names the seed and batch that found it) in isolated worker
processes (:mod:`harness.pool`, :mod:`harness.fuzz_worker`; ``--workers``, default all cores, each with its
own Warp kernel cache). The parent keeps the canonical ids of every kernel verified so far and passes them
to the workers, so no kernel is verified twice (Hypothesis starts every batch with the same simplest
kernels); those are counted as ``skipped``. NVRTC runs on one batch in ``--nvrtc-every``, a variant build of the
batch (:mod:`harness.warp_side.differential`) on one in ``--differential-every``.

* A Warp failure of any ``Failure.kind`` (mismatch, compile error, NVRTC error, gradient mismatch, and
  whatever kinds the pipeline adds) is announced at once as ``[fuzz] found <kind> after <t> s: <message>``
  on stdout, then shrunk in a worker: the batch's Hypothesis seed is replayed up to the failing kernel
  and Hypothesis shrinks it while it fails with the same kind, for at most ``--shrink-s`` seconds. The
  smallest failure found is written by :class:`harness.report.ReportWriter` (deduplicated by signature)
  as ``<reports>/<signature>/{repro.py, report.md, failure.json}``; ``failure.json`` says whether the
  shrink finished (``shrink``) and, after a standalone re-run of ``repro.py`` in a fresh process with an
  empty kernel cache (one at a time, in the order the reports are written; the hunt goes on meanwhile), whether
  it reproduced there (``reproduces_standalone``; null when the run ended first).
* A batch that crashes or hangs its worker (``--batch-timeout``) is bisected to the kernel responsible,
  which is written up as a ``crash`` report (``harness.collect.culprit_failure``); the hunt goes on.
* Adjoint coverage feedback: the workers report, per differentiable table row, the gradient-checked kernels
  that exercised its adjoint on a live path (:func:`harness.liveness.adjoint_reach`); each new batch's
  gradient-directed kernels draw their favoured rows from the ``--focus-pool`` rows exercised least so far
  (``Policy.directed_focus_pool``; a batch still running counts one for each row of its pool; ties broken by a
  hash of seed, batch and row), so rare adjoints catch up
  with the common ones instead of waiting for chance. ``--no-feedback`` draws them from every row. The
  pool of each batch is kept with its reports (``failure.json``: ``focus_pool``): seed, batch and pool
  replay the batch. The counts are in the summary (``adjoint_reach``); a row's live count is measured until it
  reaches the goal (``REACH_GOAL``) and only its use count after that (the measure costs a reference run per
  row and kernel).

* ``--against X.Y.Z``: each worker also builds and launches its batches with warp-lang X.Y.Z in a companion
  process (:mod:`harness.warp_side.against`; the release is installed into its cached environment before the budget
  starts, and the table rows and overloads it lacks are not drawn); a ``release-mismatch`` (the other release
  fails the reference comparison the installed one passes) or ``release-difference`` (the two differ where the
  reference cannot decide) is reported like any failure, its re-run made with the other release's Python. The
  outcome counts are in the progress line and the summary (``against``).

Time: no new batch starts after ``--budget-s``; batches still running get a short grace and are then
killed; shrinking and the standalone re-runs fit into a fixed allowance after the budget
(:func:`allowances`), so a run ends within ``budget + min(25, max(12, budget / 4))`` seconds plus teardown. The
budget counts from the moment the workers start (``--executor ray``: once the Ray instance is up).
A progress line goes to stderr every ``--progress-s`` seconds (``--quiet`` silences it). At the end: a
one-line summary and ``<reports>/fuzz_summary.json``.

Exit status: 1 if any Warp failure was found, 0 if none, 2 on bad arguments.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

from grammar.policy import POLICIES

from .cli import OneLineParser
from .executors import add_executor_arguments, executor_error, make_pool
from .pipeline import FUZZ_DIFFERENTIAL, Options
from .pool import SCRATCH_PREFIXES, WorkerStartupError, interrupt_on_sigterm, make_scratch, sweep_stale_scratch

DEFAULT_BATCH_TIMEOUT_S = 300.0
#: rows in a batch's adjoint-feedback pool: a batch of 12 has about 6 gradient-directed kernels favouring 4-6
#: rows each, so each pool row is favoured about 3 times per batch
FOCUS_POOL = 8
#: NVRTC (level 3, forward and backward) costs about as much as the rest of a batch's verification: on one batch
#: in 8 it took 18 % of a 10-minute run's worker time (seed 19), on one in 16 8 % of a 20-minute one
NVRTC_EVERY = 16
#: live checked uses per differentiable row the feedback aims at (the goal of the gradient reach)
REACH_GOAL = 20


def feedback_rows() -> tuple[str, ...]:
    """The rows the feedback can steer toward: those a gradient-directed kernel may favour
    (:func:`strategies.kernels.differentiable_rows`) whose adjoint reach is counted
    (:data:`harness.liveness.DIFFERENTIABLE`), in table order."""
    from strategies.kernels import differentiable_rows

    from . import generate  # noqa: F401  (first: the table without the rows the Warp release lacks)
    from .liveness import DIFFERENTIABLE

    return tuple(op.name for op, _ in differentiable_rows() if op.name in DIFFERENTIABLE)


def focus_pool(live: Counter, rows: tuple[str, ...], seed: int, batch_index: int, size: int) -> tuple[str, ...]:
    """The ``size`` rows of ``rows`` with the fewest live checked uses in ``live``; ties broken by a hash of
    (seed, batch, row), so equal rows take turns. Sorted by name (the pool is a set)."""
    import hashlib

    def tie(row: str) -> bytes:
        return hashlib.blake2b(f"{seed}/{batch_index}/{row}".encode(), digest_size=8).digest()

    return tuple(sorted(sorted(rows, key=lambda r: (live[r], tie(r)))[:size]))


class StandaloneRun:
    """``repro.py`` of a report run in a fresh process with an empty kernel cache, started at once and polled,
    so the hunt goes on meanwhile. :attr:`result`: True if it still fails, False if not, None if unfinished."""

    def __init__(self, report_dir: Path, release: str | None = None):
        from .releases import interpreter

        self.report_dir = report_dir
        self.cache = tempfile.mkdtemp(prefix="warpsmith-repro-")
        tmp = Path(self.cache) / "tmp"  # Warp's and NVRTC's precompiled headers too: the run may be killed (stop)
        tmp.mkdir()
        env = {**os.environ, "WARP_CACHE_PATH": self.cache, "TMPDIR": str(tmp)}
        env.pop("WARPSMITH_WORKER_HOOK", None)
        python = interpreter(release) if release else sys.executable  # a release-* failure: on its release
        self.proc = subprocess.Popen([python, "repro.py"], cwd=report_dir, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.result: bool | None = None

    def poll(self) -> bool:
        """True once the run has ended (and :attr:`result` holds its verdict)."""
        code = self.proc.poll()
        if code is None:
            return False
        self.result = code != 0
        shutil.rmtree(self.cache, ignore_errors=True)
        return True

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.cache, ignore_errors=True)


def allowances(budget: float) -> dict[str, float]:
    """Seconds after the budget: ``grace`` for batches in flight, ``post`` for everything (shrinks that
    run past the budget and the standalone re-runs included); ``repro`` of ``post`` is kept for re-runs."""
    post = min(25.0, max(12.0, budget / 4))
    return {"grace": min(10.0, post / 3), "post": post, "repro": min(15.0, post / 2)}


def parse_args(argv):
    p = OneLineParser(prog="python -m harness.fuzz", name="fuzz",
                description="Hunt for Warp bugs with generated kernels for a time budget.")
    p.add_argument("--budget-s", type=float, required=True, help="seconds to hunt (see the module doc for the end)")
    p.add_argument("--shrink-s", type=float, default=None,
                   help="seconds to shrink one failure (default min(30, budget/4); at most the budget)")
    p.add_argument("--reports", type=Path, default=Path("reports"), help="report directory (default ./reports)")
    p.add_argument("--seed", type=int, default=None, help="generation seed (default: random)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    p.add_argument("--batch-size", type=int, default=12, help="kernels per Warp module (default 12: work in flight at the deadline is lost)")
    p.add_argument("--batch-timeout", type=float, default=DEFAULT_BATCH_TIMEOUT_S,
                   help=f"seconds a worker may spend on one batch before it is killed and the batch bisected "
                   f"(default {DEFAULT_BATCH_TIMEOUT_S:g})")
    p.add_argument("--policy", choices=sorted(POLICIES), default="default",
                   help="generator policy (default: default; hunt: two gradient-directed kernels to one ordinary, "
                   "more adjoint reach per minute, fewer forward faults found: benchmarks/RESULTS.md)")
    p.add_argument("--opt-level", type=int, default=0, choices=range(4), help="CPU optimization level (default 0)")
    p.add_argument("--nvrtc-every", type=int, default=NVRTC_EVERY,
                   help=f"compile with NVRTC one batch in N (default {NVRTC_EVERY})")
    p.add_argument("--differential-every", type=int, default=4,
                   help="build one batch in N also in a variant configuration and compare "
                   "(harness.warp_side.differential; default 4: a variant build costs about as much as the batch's "
                   "own build)")
    p.add_argument("--no-differential", action="store_true",
                   help="never build a batch in a variant configuration")
    p.add_argument("--no-nvrtc", action="store_true", help="never compile the CUDA code with NVRTC")
    p.add_argument("--focus-pool", type=int, default=FOCUS_POOL,
                   help=f"rows in each batch's adjoint-feedback pool (default {FOCUS_POOL})")
    p.add_argument("--no-feedback", action="store_true",
                   help="no adjoint coverage feedback: gradient-directed kernels favour any differentiable row")
    p.add_argument("--against", metavar="X.Y.Z", default=None,
                   help="also build and launch every batch with warp-lang X.Y.Z (installed once into a cached "
                   "environment) and report where the two releases disagree (harness.warp_side.against)")
    p.add_argument("--jax-gradient", action="store_true",
                   help="also compare every gradient the finite-difference check checked with JAX's exact derivative "
                   "of the kernel's JAX program, element by element (harness.jax_backend.gradient; about 1 s per "
                   "checked kernel; needs the [jax] extra)")
    add_executor_arguments(p)
    p.add_argument("--progress-s", type=float, default=10.0, help="seconds between progress lines (default 10)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    args = p.parse_args(argv)
    if (problem := executor_error(args)) is not None:
        p.error(problem)
    finite = lambda x: x == x and x not in (float("inf"), float("-inf"))  # noqa: E731
    if not (args.budget_s > 0 and finite(args.budget_s)):
        p.error("--budget-s must be > 0")
    if args.shrink_s is None:
        args.shrink_s = min(30.0, args.budget_s / 4)
    if not (0 < args.shrink_s <= args.budget_s):
        p.error("--shrink-s must be > 0 and <= --budget-s")
    if args.workers < 1:
        p.error("--workers must be >= 1")
    if args.batch_size < 1:
        p.error("--batch-size must be >= 1")
    if not args.batch_timeout > 0:
        p.error("--batch-timeout must be > 0")
    if args.nvrtc_every < 1:
        p.error("--nvrtc-every must be >= 1")
    if args.differential_every < 1:
        p.error("--differential-every must be >= 1")
    if args.focus_pool < 1:
        p.error("--focus-pool must be >= 1")
    if not args.progress_s > 0:
        p.error("--progress-s must be > 0")
    if args.seed is not None and args.seed < 0:
        p.error("--seed must be >= 0")
    if args.jax_gradient:
        try:
            import jax  # noqa: F401
        except ImportError:
            p.error('--jax-gradient needs JAX: pip install -e ".[jax]"')
    if args.against is not None and not re.fullmatch(r"\d+\.\d+\.\d+", args.against):
        p.error(f"--against takes a warp-lang release number such as 1.10.0, not {args.against!r}")
    return args


class Hunt:
    """The parent's state of one fuzz run (see the module docstring)."""

    def __init__(self, args, scratch: str):
        from .report import ReportWriter
        from .warp_side import warp_adapter as W

        self.args = args
        self.scratch = scratch
        self.seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little") >> 1
        self.allow = allowances(args.budget_s)
        self.start_clock()
        self.verified: set[str] = set()
        self.verdicts: Counter = Counter()
        self.timings: Counter = Counter()
        self.kernels = self.skipped = 0
        self.next_batch = 0
        self.queue: deque = deque()  # bisected parts, before new batches
        self.pending: deque = deque()  # (failure, batch index, found-after seconds) waiting for a shrink
        self.shrinking = 0
        self.signatures: set[str] = set()  # unshrunk signatures already announced
        self.entries: list[dict] = []  # one per failure found
        self.new_reports: list[tuple[Path, dict]] = []
        self.standalone: list[tuple[StandaloneRun, dict]] = []  # re-runs of new reports still going
        # new reports waiting for their re-run: one runs at a time (each is a Python process importing Warp and
        # building a kernel; 22 started at once at the end of a run overran its end by 10 s on 2 cores)
        self.standalone_waiting: deque = deque()
        self.worker_errors: list[str] = []
        self.generator_errors = 0
        self.adjoint_live: Counter = Counter()  # differentiable row -> checked kernels exercising it live
        self.adjoint_used: Counter = Counter()  # differentiable row -> checked kernels using it
        self.checkable = feedback_rows()  # the rows whose adjoint a gradient-directed kernel can exercise
        self.feedback_rows = () if args.no_feedback else self.checkable
        self.pools: dict[int, tuple[str, ...]] = {}  # batch index -> its focus pool
        self.in_flight: set[int] = set()  # batches whose outcome has not come back yet
        self.gradient: Counter = Counter()  # gradient status (checked, excluded, ...) -> accepted kernels
        self.exact: Counter = Counter()  # --jax-gradient: the exact check's status -> kernels it ran on
        self.against: Counter = Counter()  # --against: outcome -> kernels (harness.warp_side.against)
        self.against_examples: list[str] = []  # the first build/launch errors of the other release

        def release_diagnostics(version: str) -> str:
            from .releases import diagnostics as child_diagnostics
            from .releases import interpreter

            return child_diagnostics(interpreter(version))

        def diagnostics():
            W.init(cache_dir=os.path.join(scratch, "main-cache"))
            return W.diagnostics()

        self.writer = ReportWriter(args.reports, diagnostics, release_diagnostics)

    # -- helpers ------------------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() - self.start

    def start_clock(self) -> None:
        """The budget starts now (again, once the executor is up: starting a Ray instance, about 5 s and more on a
        loaded machine, is not hunting time; the local pool starts at once)."""
        self.start = time.monotonic()
        self.deadline = self.start + self.args.budget_s
        self.hard_end = self.deadline + self.allow["post"]

    def opts(self, batch_index: int, nvrtc: bool | None = None, kind: str = "") -> Options:
        """The pipeline options of a batch: NVRTC on one batch in ``--nvrtc-every``, and the differential
        oracles on one batch in ``--differential-every`` (harness.warp_side.differential: the batch is also built in
        one variant configuration, chosen by content); shrinking a ``differential-<variant>`` failure keeps
        that variant. Hunting batches drop input-independent kernels before Warp is called (they test
        nothing); shrinking keeps every kernel."""
        if nvrtc is None:
            nvrtc = not self.args.no_nvrtc and batch_index % self.args.nvrtc_every == 0
        # batches 1, 1 + N, 1 + 2N...: off the NVRTC batches 0, 16, 32... (with the default intervals)
        on = not self.args.no_differential and (batch_index - 1) % self.args.differential_every == 0
        differential = FUZZ_DIFFERENTIAL if on else ()
        if kind.startswith("differential-"):
            differential = (kind.removeprefix("differential-"),)
        return Options(optimization_level=self.args.opt_level, nvrtc=nvrtc, seed=self.seed, policy=self.args.policy,
                       differential=differential, skip_input_independent=not kind, against=self.args.against,
                       jax_gradient=self.args.jax_gradient)

    def say(self, line: str) -> None:
        print(line, flush=True)

    def progress(self) -> None:
        if self.args.quiet:
            return
        t = self.now()
        rate = self.kernels / t if t > 0 else 0.0
        verdicts = ", ".join(f"{k} {n}" for k, n in sorted(self.verdicts.items())) or "none yet"
        reach = sum(1 for row in self.checkable if self.adjoint_live[row] >= REACH_GOAL)
        print(f"[fuzz] {t:.0f} s: {self.kernels} kernels verified ({rate:.2f}/s), {self.skipped} skipped, "
              f"verdicts: {verdicts}; adjoints live-checked >= {REACH_GOAL}x: {reach}/{len(self.checkable)} "
              f"rows; {self.against_line()}{len(self.entries)} failures, {len(self.new_reports)} reports"
              f"{f', {self.shrinking} shrinking' if self.shrinking else ''}", file=sys.stderr, flush=True)

    def against_line(self) -> str:
        """``against X.Y.Z: 40 identical, 2 tolerated...; `` (empty without --against)."""
        if not self.args.against:
            return ""
        counts = ", ".join(f"{n} {k}" for k, n in self.against.most_common()) or "nothing compared yet"
        return f"against {self.args.against}: {counts}; "

    @staticmethod
    def reach_rows() -> tuple[str, ...]:
        """Every differentiable row whose adjoint reach is counted."""
        from .liveness import DIFFERENTIABLE

        return tuple(sorted(DIFFERENTIABLE))

    def reach_done(self) -> frozenset:
        """The rows whose adjoint reach is at the goal: the workers stop measuring it (one reference run per
        row and checked kernel saved; the feedback only looks at the rows below the goal)."""
        return frozenset(row for row, n in self.adjoint_live.items() if n >= REACH_GOAL)

    def pool(self, batch_index: int) -> tuple[str, ...]:
        """The focus pool of a new batch (empty without feedback), kept for its reports."""
        if not self.feedback_rows:
            return ()
        # the pools of batches still running count as if each of their rows had gained one live check already,
        # so two batches drawn before either reports favour different rows
        pending = Counter(row for b in self.in_flight for row in self.pools.get(b, ()))
        pool = focus_pool(self.adjoint_live + pending, self.feedback_rows, self.seed, batch_index,
                          self.args.focus_pool)
        self.pools[batch_index] = pool
        self.in_flight.add(batch_index)
        return pool

    def write(self, failure, entry: dict, shrink: str, extra: dict | None = None) -> None:
        """Write ``failure``'s report (deduplicated) and note it in ``entry``."""
        try:
            report_dir = self.writer.write(failure)
        except Exception as error:  # e.g. a failure kind the report format does not know yet
            entry["report"] = f"not written: {type(error).__name__}: {error}"
            return
        entry["report"] = str(report_dir) if report_dir else "duplicate"
        entry["shrink"] = shrink
        if report_dir is not None:
            meta = {"shrink": shrink, "fuzz_seed": self.seed, "batch": entry.get("batch"),
                    "batch_size": self.args.batch_size, "policy": self.args.policy,
                    "focus_pool": list(self.pools.get(entry.get("batch"), ())), **(extra or {})}
            self._update_meta(report_dir, meta)
            self.new_reports.append((report_dir, entry))
            if entry.get("kind") != "hang":  # a hang's re-run would only spin until the end of the run
                self.standalone_waiting.append((report_dir, entry, failure.warp_version
                                                if failure.kind.startswith("release-") else None))
                self.start_standalone()

    def start_standalone(self) -> None:
        """Start the next waiting re-run when none is going and the run's end leaves it time."""
        if self.standalone_waiting and not self.standalone and (
                time.monotonic() < self.hard_end - self.allow["repro"]):
            report_dir, entry, release = self.standalone_waiting.popleft()
            self.standalone.append((StandaloneRun(report_dir, release), entry))

    def poll_standalone(self) -> None:
        """Note the verdict of every standalone re-run that has ended."""
        for run, entry in list(self.standalone):
            if run.poll():
                self.standalone.remove((run, entry))
                entry["reproduces_standalone"] = run.result
                self._update_meta(run.report_dir, {"reproduces_standalone": run.result})
        self.start_standalone()

    @staticmethod
    def _update_meta(report_dir: Path, extra: dict) -> None:
        path = report_dir / "failure.json"
        meta = json.loads(path.read_text())
        meta.update(extra)
        path.write_text(json.dumps(meta, indent=2) + "\n")

    def found(self, failure, batch_index: int, kind: str | None = None) -> dict | None:
        """Announce a failure (once per unshrunk signature); return its summary entry, None if known."""
        from .report import failure_signature

        try:
            signature = failure_signature(failure)
        except Exception:
            signature = f"{failure.kind}:{failure.kernel_name}"
        if signature in self.signatures:
            return None
        self.signatures.add(signature)
        t = self.now()
        kind = kind or failure.kind
        message = " ".join(failure.message.split())[:200]
        self.say(f"[fuzz] found {kind} after {t:.1f} s: {message}")
        entry = {"kind": kind, "kernel": failure.kernel_name, "message": message, "found_after_s": round(t, 1),
                 "batch": batch_index}
        self.entries.append(entry)
        return entry

    # -- outcomes -----------------------------------------------------------------------------------

    def hunted(self, out) -> None:
        self.verified.update(out.verified_ids)
        self.verdicts.update(out.verdicts)
        self.timings.update(out.timings)
        self.kernels += out.n_kernels
        self.skipped += out.skipped
        self.adjoint_live.update(out.adjoint_live)
        self.adjoint_used.update(out.adjoint_used)
        self.in_flight.discard(out.batch_index)
        self.gradient.update(out.gradient)
        self.exact.update(out.exact)
        self.against.update({k: v for k, v in out.against.items() if k != "examples"})
        for line in out.against.get("examples", []):
            if len(self.against_examples) < 10 and line not in self.against_examples:
                self.against_examples.append(line)
        for name, source, reason in out.notes:
            self.generator_errors += 1
            errors = self.args.reports / "generator-errors"
            errors.mkdir(parents=True, exist_ok=True)
            path = errors / f"{name}.txt"
            if not path.exists():
                path.write_text(f"{source}\n\n# {reason}\n")
                self.say(f"[fuzz] generator-error (a bug of ours): {reason.splitlines()[0][:200]} -> {path}")
        for failure in out.failures:
            entry = self.found(failure, out.batch_index)
            if entry is not None:
                self.pending.append((failure, out.batch_index, entry))

    def culprit(self, task, status: str, detail: str) -> None:
        from .collect import culprit_failure

        self.kernels += 1
        kind = {"crash": "crash", "timeout": "hang"}.get(status)
        try:
            kernel, failure = culprit_failure(task, status, detail)
        except Exception as error:
            self.worker_errors.append(f"batch {task.batch_index}: culprit write-up failed: {error}")
            return
        if kernel is not None:
            from .store.canonical import canonical_id
            self.verified.add(canonical_id(kernel.source))
        if failure is None:  # a Python error in the worker on one kernel: a bug of ours
            self.verdicts["worker-error"] += 1
            self.worker_errors.append(f"batch {task.batch_index} position {task.all_positions()[0]}: {detail}")
            return
        self.verdicts[f"worker-{status}"] += 1
        entry = self.found(failure, task.batch_index, kind)
        if entry is not None:
            entry["position"] = task.all_positions()[0]
            self.write(failure, entry, "not attempted (crash/hang)", {"worker_status": status})

    def shrunk(self, task, done) -> None:
        failure, entry = task._failure, task._entry
        self.shrinking -= 1
        best, status = None, done.status
        if done.status == "ok":
            best, status = done.result.failure, done.result.status
            entry["shrink_candidates"] = done.result.candidates
        if best is None and os.path.exists(task.progress_path):
            with open(task.progress_path, "rb") as fh:
                best = pickle.load(fh)
            status = f"capped (worker {done.status})"
        if best is None:
            best = failure
            status = f"unshrunk ({status})"
        entry["shrink_s"] = round(time.monotonic() - task._started, 1)
        self.write(best, entry, status)

    # -- the loop -----------------------------------------------------------------------------------

    def run(self) -> None:
        from .fuzz_worker import HuntTask, ShrinkTask, run, serve

        args = self.args
        pool = make_pool(args, serve, run, self.scratch, args.batch_timeout)
        self.start_clock()
        shrink_tasks: dict[int, object] = {}
        last_progress = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                hunting = now < self.deadline
                # shrinks first: at most half the workers (one at least), while the cap still fits
                while self.pending and pool.idle() and self.shrinking < max(1, args.workers // 2):
                    cap = min(args.shrink_s, self.hard_end - self.allow["repro"] - now)
                    if cap < 2:
                        break
                    failure, batch_index, entry = self.pending.popleft()
                    path = os.path.join(self.scratch, f"shrink-{len(shrink_tasks)}.pkl")
                    task = ShrinkTask(self.seed, batch_index, args.batch_size,
                                      self.opts(batch_index, nvrtc=failure.kind == "nvrtc-error", kind=failure.kind),
                                      failure.kind, failure.kernel_name, cap, path,
                                      self.pools.get(batch_index, ()))
                    object.__setattr__(task, "_failure", failure)
                    object.__setattr__(task, "_entry", entry)
                    object.__setattr__(task, "_started", now)
                    shrink_tasks[id(task)] = task
                    pool.submit(task, timeout_s=cap + 15)
                    self.shrinking += 1
                while hunting and pool.idle():
                    if self.queue:
                        task = self.queue.popleft()
                    else:
                        task = HuntTask(self.seed, self.next_batch, args.batch_size, self.opts(self.next_batch),
                                        skip_ids=frozenset(self.verified), focus_pool=self.pool(self.next_batch),
                                        reach_done=self.reach_done())
                        self.next_batch += 1
                    pool.submit(task)
                busy_hunts = pool.busy() - self.shrinking
                if not hunting:
                    past = now - self.deadline
                    if (busy_hunts == 0 or past > self.allow["grace"]) and (
                            (not self.shrinking and not self.pending) or now > self.hard_end - self.allow["repro"]):
                        break
                for done in pool.poll(timeout=0.5):
                    task = done.task
                    if isinstance(task, ShrinkTask):
                        self.shrunk(task, done)
                    elif done.status == "ok":
                        self.hunted(done.result)
                    elif len(task.all_positions()) > 1:
                        if done.status == "error":
                            self.worker_errors.append(done.detail.strip().splitlines()[-1])
                        left, right = task.halves()
                        self.queue.extendleft([right, left])
                    else:
                        detail = done.detail.strip().splitlines()[-1] if done.detail.strip() else done.status
                        self.culprit(task, done.status, detail)
                self.poll_standalone()
                if time.monotonic() - last_progress >= args.progress_s:
                    self.progress()
                    last_progress = time.monotonic()
        finally:
            pool.close()
        # shrinks cut off by the end, and failures never shrunk: written as they are
        for task in list(shrink_tasks.values()):
            if "report" in task._entry:
                continue
            from .pool import TaskDone
            self.shrinking += 1
            self.shrunk(task, TaskDone(task, "killed at the end of the run"))
        while self.pending:
            failure, _, entry = self.pending.popleft()
            self.write(failure, entry, "not started (budget spent)")

    def finish_standalone(self) -> None:
        """Wait for the standalone re-runs still going, until the run's end; those cut off are noted."""
        while self.standalone and time.monotonic() < self.hard_end - 1:
            self.poll_standalone()
            time.sleep(0.1)
        for run, entry in self.standalone:
            run.stop()
            entry["reproduces_standalone"] = None
            self._update_meta(run.report_dir, {"reproduces_standalone": None,
                                               "standalone_note": "cut off at the end of the run: run repro.py"})
        self.standalone = []
        while self.standalone_waiting:  # never started: no time was left
            report_dir, entry, _ = self.standalone_waiting.popleft()
            entry["reproduces_standalone"] = None
            self._update_meta(report_dir, {"reproduces_standalone": None,
                                           "standalone_note": "not run before the end of the run: run repro.py"})

    def summary(self) -> dict:
        elapsed = self.now()
        return {
            "elapsed_s": round(elapsed, 1),
            "seed": self.seed,
            "policy": self.args.policy,
            "workers": self.args.workers,
            "executor": self.args.executor,
            "batches": self.next_batch,
            "kernels": self.kernels,
            "kernels_per_s": round(self.kernels / elapsed, 3) if elapsed else 0.0,
            "skipped": self.skipped,
            "verdicts": dict(self.verdicts),
            "failures": self.entries,
            "reports": len(self.new_reports),
            "generator_errors": self.generator_errors,
            "worker_errors": self.worker_errors[:20],
            "stage_seconds_summed_over_workers": {k: round(v, 1) for k, v in self.timings.items()},
            # accepted kernels per gradient-check status, exclusions with their limit key (excluded:ill-conditioned)
            "gradient_status": dict(self.gradient.most_common()),
            # --jax-gradient: kernels per status of the exact gradient oracle (checked, mismatch, unchecked: the
            # finite-difference check did not check it, excluded:<why>)
            "exact_gradient_status": dict(self.exact.most_common()),
            "adjoint_feedback": not self.args.no_feedback,
            # differentiable row -> gradient-checked kernels exercising its adjoint on a live path (measured until
            # the row reaches REACH_GOAL) / using it
            "adjoint_reach": {row: [self.adjoint_live[row], self.adjoint_used[row]] for row in self.reach_rows()},
            # of the rows a gradient-directed kernel can exercise (not the float16 matrix/quaternion/transform
            # constructors: the gradient check leaves float16 composites out), those with >= REACH_GOAL
            "adjoint_rows_at_goal": sum(1 for row in self.checkable if self.adjoint_live[row] >= REACH_GOAL),
            "adjoint_rows_checkable": len(self.checkable),
            # --against X.Y.Z: kernels per outcome of the cross-release comparison (harness.warp_side.against)
            "against": ({"release": self.args.against, **dict(self.against.most_common()),
                         "examples": self.against_examples} if self.args.against else None),
        }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        args.reports.mkdir(parents=True, exist_ok=True)
        probe = args.reports / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        print(f"fuzz: error: cannot write reports to {args.reports}: {error}", file=sys.stderr)
        return 2
    if args.against:
        from .releases import ReleaseError
        from .warp_side.against import UNAVAILABLE_ENV, CompanionError, check_release

        try:
            missing = check_release(args.against)  # installs it on first use: before the budget starts
        except (ReleaseError, CompanionError) as error:
            print(f"fuzz: error: --against {args.against}: {error}", file=sys.stderr)
            return 2
        if missing:  # drawn by no worker (harness.generate reads it at import): both releases build every row
            os.environ[UNAVAILABLE_ENV] = ",".join(missing)
            rows = [m for m in missing if ":" not in m]
            within = [m for m in missing if ":" in m and m.split(":")[0] not in rows]
            print(f"[against] not drawn, as warp-lang {args.against} lacks them: {len(rows)} table rows "
                  f"({', '.join(rows) or 'none'}) and {len(within)} overloads of other rows", file=sys.stderr,
                  flush=True)
    sweep_stale_scratch()
    scratch = make_scratch(SCRATCH_PREFIXES["fuzz"])
    try:
        hunt = Hunt(args, scratch)
        try:
            hunt.run()
        except WorkerStartupError as error:
            print(f"fuzz: error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            for run, _ in hunt.standalone:
                run.stop()
            print("fuzz: interrupted", file=sys.stderr)
            return 130
        hunt.finish_standalone()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary = hunt.summary()
    (args.reports / "fuzz_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    v = ", ".join(f"{k} {n}" for k, n in sorted(summary["verdicts"].items())) or "none"
    print(f"fuzz: {summary['elapsed_s']} s, seed {summary['seed']}, {summary['workers']} workers: "
          f"{summary['kernels']} kernels verified ({summary['kernels_per_s']}/s), {summary['skipped']} skipped; "
          f"verdicts: {v}; gradient checked on {summary['gradient_status'].get('checked', 0)} of "
          f"{sum(summary['gradient_status'].values())} accepted"
          + (f" (exactly, through JAX: {summary['exact_gradient_status'].get('checked', 0)})" if args.jax_gradient
             else "") + f"; adjoints live-checked >= {REACH_GOAL}x: "
          f"{summary['adjoint_rows_at_goal']}/"
          f"{summary['adjoint_rows_checkable']} rows; {hunt.against_line()}{len(summary['failures'])} failures, "
          f"{summary['reports']} new "
          f"reports in {args.reports}")
    print(json.dumps(summary))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    interrupt_on_sigterm()
    raise SystemExit(main())
