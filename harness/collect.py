"""``python -m harness.collect``: grow a deduplicated corpus of Warp kernels to a target size.

With ``--verify full`` (the default) every record written passed: CPU compile, execution on seeded inputs
matching the numpy reference, NVRTC compilation of the CUDA code, and extraction of forward/backward
functions for both targets. ``--verify none`` only generates code and extracts it (raw volume, nothing
compiled or run; records say so in their ``verification`` facts).

Batches run in worker processes (both cores by default, see :mod:`harness.pool`); records are appended by
this process only, in batch order, so the same ``--seed``, ``--batch-size``, ``--verify`` and ``--policy`` give
the same records whatever ``--workers`` is, and re-running the same command into the same directory resumes where
it stopped, even after ``kill -9`` (``collect_state.json`` holds the next batch index; a batch re-run after
a crash is deduplicated by the corpus index).

A batch that crashes or hangs its worker (``--batch-timeout``) is split in halves and re-run until the
kernels responsible are alone; each is reported (``<out>/failures/``, kind ``crash``) and skipped, and the
rest of the batch is collected.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from grammar.policy import POLICIES

from . import GENERATOR_VERSION
from .cli import OneLineParser
from .executors import add_executor_arguments, executor_error, make_pool
from .pipeline import BACKENDS, NVRTC_MODES, VERIFY_MODES, Options
from .pool import (
    SCRATCH_PREFIXES,
    WorkerPool,
    WorkerStartupError,
    interrupt_on_sigterm,
    make_scratch,
    sweep_stale_scratch,
)
from .store.corpus import MANIFEST_NAME, CorpusError, CorpusWriter
from .worker import BatchOutcome, Task, pack_ids, run_task, serve

STATE_NAME = "collect_state.json"
DEFAULT_OUT = Path("corpus") / "data"
DEFAULT_BATCH_TIMEOUT_S = 900.0
WINDOW = 4


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = OneLineParser(
        prog="python -m harness.collect", name="collect",
        description="Collect Warp kernels (Python + generated C++/CUDA, forward and backward) into JSONL "
        "shards until the output directory holds --target-mb of records.",
    )
    p.add_argument("--target-mb", type=float, default=1.0, help="stop when the shards hold this many MB (default 1)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"corpus directory (default {DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    p.add_argument("--batch-size", type=int, default=64, help="kernels per Warp module (default 64)")
    p.add_argument("--verify", choices=VERIFY_MODES, default="full",
                   help="full: compile, run, compare with the reference, NVRTC (default); "
                   "none: code generation and extraction only")
    p.add_argument("--policy", choices=sorted(POLICIES), default="default",
                   help="default: the whole grammar; small: a few statements over float32/int32/bool/vec3, like "
                   "the seed datasets (about 5x more kernels/s, far fewer builtins)")
    p.add_argument("--batch-timeout", type=float, default=DEFAULT_BATCH_TIMEOUT_S,
                   help=f"seconds a worker may spend on one batch before it is killed and the batch bisected "
                   f"(default {DEFAULT_BATCH_TIMEOUT_S:g})")
    p.add_argument("--opt-level", type=int, default=0, choices=range(4), help="CPU optimization level (default 0)")
    p.add_argument("--nvrtc-arch", type=int, default=90, help="NVRTC target architecture (default 90)")
    p.add_argument("--nvrtc-mode", choices=NVRTC_MODES, default="hybrid",
                   help="hybrid (default): NVRTC -G for kernels up to 256 kB of CUDA, Warp's release build at level "
                   "3 for larger ones (-G is ~2.7x cheaper on our modules but blows up on huge functions: 18 unrolled "
                   "copies of a long expression took 13 s optimized, over 6 min with -G); optimized: level 3 for "
                   "every kernel; debug: -G for every kernel. Records say which (verification.nvrtc_mode)")
    p.add_argument("--backend", choices=BACKENDS, default="warp",
                   help="warp: records carry Warp's C++/CUDA (default); both: also the kernel as a JAX program with "
                   "its HLO (forward, backward, optimized), JAX checked against the reference; jax: no Warp, the "
                   "JAX program verified against the reference (needs the [jax] extra)")
    p.add_argument("--max-code-kb", type=int, default=None,
                   help="records whose four generated functions exceed this many kB are not kept (default: the "
                   "policy's max_code_kb, 64; 0: no budget)")
    add_executor_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if (problem := executor_error(args)) is not None:
        p.error(problem)
    if args.max_code_kb is None:
        args.max_code_kb = POLICIES[args.policy].max_code_kb or 0
    if args.max_code_kb < 0:
        p.error("--max-code-kb must be >= 0 (0: no budget)")
    if args.backend != "warp":
        try:
            import jax  # noqa: F401
        except ImportError:
            p.error(f"--backend {args.backend} needs JAX: pip install -e \".[jax]\"")
        if args.verify == "none":
            p.error(f"--backend {args.backend} verifies the JAX program: it cannot be combined with --verify none")
    if not args.target_mb > 0 or args.target_mb != args.target_mb or args.target_mb == float("inf"):
        p.error("--target-mb must be > 0")
    if args.workers < 1:
        p.error("--workers must be >= 1")
    if args.batch_size < 1:
        p.error("--batch-size must be >= 1")
    if args.seed < 0:
        p.error("--seed must be >= 0")
    if not args.batch_timeout > 0:
        p.error("--batch-timeout must be > 0")
    return args


def _run_key(args: argparse.Namespace) -> dict:
    """What decides which records batch ``i`` yields: resuming is only valid while these stay the same (a new
    generator version draws other kernels from the same seeds: batch numbering starts again, the records already
    collected stay and deduplicate the new ones)."""
    return {"seed": args.seed, "batch_size": args.batch_size, "verify": args.verify, "policy": args.policy,
            "backend": args.backend, "generator_version": GENERATOR_VERSION,
            "max_code_kb": getattr(args, "max_code_kb", None)}


def _read_state(out: Path, key: dict) -> int:
    path = out / STATE_NAME
    if not path.exists():
        return 0
    try:
        state = json.loads(path.read_text())
        next_batch = int(state["next_batch"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CorpusError(f"{path}: unreadable collect state ({error}); delete it to restart batch numbering")
    # older state files hold only seed and next_batch (and were written by default-policy runs of generator 0.1.0)
    older = {"seed": None, "policy": "default", "backend": "warp", "generator_version": "0.1.0"}
    same = all(state.get(k, older.get(k, v)) == v for k, v in key.items())
    return next_batch if same else 0


def _write_state(out: Path, key: dict, next_batch: int) -> None:
    tmp = out / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps({**key, "next_batch": next_batch}))
    os.replace(tmp, out / STATE_NAME)


def _check_verify_mode(out: Path, verify: str, backend: str = "warp") -> None:
    """Refuse to mix verified and unverified records in one corpus, and records with and without Warp code."""
    path = out / MANIFEST_NAME
    if not path.is_file():
        return
    try:
        meta = json.loads(path.read_text()).get("meta") or {}
    except (OSError, ValueError, AttributeError):
        return  # CorpusWriter reports a damaged manifest
    previous = meta.get("verify", "full")
    if previous != verify:
        raise CorpusError(f"{out} holds records collected with --verify {previous}; "
                          f"use another --out for --verify {verify}")
    before = meta.get("backend", "warp")
    if (before == "jax") != (backend == "jax"):
        raise CorpusError(f"{out} holds records collected with --backend {before}; "
                          f"use another --out for --backend {backend}")


class Progress:
    """A tqdm bar in MB with live counts; silent when disabled. The bar moves when a batch is stored (in
    batch order); :meth:`tick` refreshes it in between (elapsed time, batches in flight), so a long first
    batch does not look like a hang."""

    def __init__(self, target_bytes: int, start_bytes: int, enabled: bool):
        self.bar = None
        self.postfix: dict = {}
        self.last_tick = time.monotonic()
        if enabled:
            from tqdm import tqdm

            total = round(target_bytes / 1e6, 2)
            self.bar = tqdm(total=total, initial=min(round(start_bytes / 1e6, 2), total),
                            unit="MB", dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} MB [{elapsed}<{remaining}{postfix}]")

    def update(self, total_bytes: int, **postfix) -> None:
        if self.bar is not None:
            self.bar.n = min(round(total_bytes / 1e6, 2), self.bar.total)
            self.postfix = postfix
            self.bar.set_postfix(postfix, refresh=True)

    def tick(self, **extra) -> None:
        """Refresh the bar (at most once a second) with ``extra`` counts after the last update's."""
        if self.bar is not None and time.monotonic() - self.last_tick >= 1.0:
            self.last_tick = time.monotonic()
            self.bar.set_postfix({**self.postfix, **extra}, refresh=True)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


_report_writer = None


def _reports(out: Path):
    """Unshrunk reports of Warp failures met while collecting go to ``<out>/failures/`` (see fuzz for shrunk ones)."""
    global _report_writer
    if _report_writer is None or _report_writer.reports_dir != out / "failures":
        from .report import ReportWriter
        from .warp_side import warp_adapter

        _report_writer = ReportWriter(out / "failures", warp_adapter.diagnostics)
    return _report_writer


@dataclass
class _Batch:
    """A batch in flight: the outcomes of its parts (keyed by first position) and parts still running."""

    parts: dict[int, BatchOutcome] = field(default_factory=dict)
    running: int = 1


def culprit_failure(task: Task, status: str, detail: str):
    """The single kernel of ``task`` (a bisected part of one kernel) that crashed, hung or broke its worker,
    named as the pipeline names it, and its Warp report (kind ``crash``; None for a Python error).
    Returns (None, None) when the batch has no kernel at that position."""
    from .generate import batch_policy, draw_kernels
    from .pipeline import _build_failure, name_kernels
    from .worker import batch_seed

    position = task.all_positions()[0]
    policy = batch_policy(task.opts.policy, getattr(task, "focus_pool", ()))  # (a fuzz batch's coverage feedback)
    kernels = draw_kernels(batch_seed(task.seed, task.batch_index), task.batch_size, policy)
    if position >= len(kernels):
        return None, None
    _, kernel = name_kernels([kernels[position]])[0]
    failure = None
    if status in ("crash", "timeout"):
        what = "hung (no result within the batch timeout)" if status == "timeout" else "crashed"
        failure = _build_failure(kernel, "crash", f"verifying this kernel {what} the worker process: {detail}")
        failure.seed = batch_seed(task.seed, task.batch_index)
    return kernel, failure


def _culprit(args: argparse.Namespace, task: Task, status: str, detail: str) -> dict:
    """Record the single kernel of ``task`` that crashed, hung or broke its worker; return a summary entry.

    Its source goes to ``<out>/culprits/b<batch>-p<position>-<status>.py``; a crash or hang is also
    written up as a Warp report (kind ``crash``) in ``<out>/failures/`` when the report format covers it.
    """
    position = task.all_positions()[0]
    entry = {"batch": task.batch_index, "position": position, "kind": status, "detail": detail}
    try:
        from .pipeline import module_source

        kernel, failure = culprit_failure(task, status, detail)
        if kernel is None:
            return entry
        entry["kernel_name"] = kernel.name
        culprits = args.out / "culprits"
        culprits.mkdir(exist_ok=True)
        path = culprits / f"b{task.batch_index}-p{position}-{status}.py"
        header = f"# collect --seed {task.seed} --batch-size {task.batch_size}: batch {task.batch_index}, " \
                 f"kernel {position}: {status} ({detail})\n"
        path.write_text(header + module_source([kernel]) + "\n")
        entry["source"] = str(path)
        if failure is not None:
            report = _reports(args.out).write(failure)
            entry["report"] = str(report) if report else "(already reported)"
    except Exception as error:  # the write-up is a courtesy; collection goes on without it
        entry["report_error"] = f"{type(error).__name__}: {error}"
    return entry


INVALID_STREAK = 3


SCRATCH_PREFIX = SCRATCH_PREFIXES["collect"]


class CollectAborted(Exception):
    """Collection cannot make progress (every record fails validation): exit status 1."""


class _Run:
    """One collect run in progress: the batches in flight and the parts queued, the counts, and the corpus they
    fill. :meth:`step` keeps the workers busy, takes what they finished and stores completed batches in batch
    order (so the same seed gives the same records)."""

    def __init__(self, args: argparse.Namespace, opts: Options, key: dict, corpus: CorpusWriter,
                 pool: WorkerPool, progress: Progress, start: float):
        self.args, self.opts, self.key, self.corpus, self.pool, self.progress = args, opts, key, corpus, pool, progress
        self.target = int(args.target_mb * 1e6)
        self.next_batch = self.submitted = _read_state(args.out, key)
        self.batches: dict[int, _Batch] = {}
        self.queue: deque[Task] = deque()  # parts of bisected batches, run before new batches
        self.verdicts: Counter = Counter()
        self.timings: Counter = Counter()
        self.n_kernels = self.n_new = self.reported = self.n_skipped = 0
        self.notes: list[str] = []
        self.invalid_streak = 0
        self.culprits: list[dict] = []
        self.worker_errors: list[str] = []
        self.start = start
        # the ids of the records held, packed (worker.pack_ids): each new batch carries them, so that no worker
        # verifies again a kernel whose record another one made (the corpus would drop it as a duplicate)
        self.known = bytearray(pack_ids(corpus.ids))

    def done(self) -> bool:
        return self.corpus.total_bytes >= self.target

    def step(self) -> None:
        self._submit()
        for finished in self.pool.poll(timeout=1.0):
            self._receive(finished)
        self.progress.tick(verifying=f"{sum(b.running for b in self.batches.values())} batch(es) of "
                                     f"{self.args.batch_size}")
        while (self.next_batch in self.batches and self.batches[self.next_batch].running == 0
               and not self.done()):
            self._store(self.batches.pop(self.next_batch).parts)

    def _submit(self) -> None:
        """Up to WINDOW batches per worker in hand, so that a slow batch holding up the in-order consumption does
        not leave the other workers idle; bisected parts first."""
        args = self.args
        while self.pool.idle() and (self.queue or len(self.batches) < WINDOW * args.workers):
            if not self.queue:
                self.queue.append(Task(args.seed, self.submitted, args.batch_size, self.opts, known=self._known()))
                self.batches[self.submitted] = _Batch()
                self.submitted += 1
            self.pool.submit(self.queue.popleft())

    def _known(self) -> bytes:
        """The ids a new batch need not verify: the records stored, and those of finished batches still waiting
        for an earlier one (every batch in hand is earlier than the new one, and is stored before it)."""
        waiting = [r["id"] for batch in self.batches.values() for part in batch.parts.values() for r in part.records]
        return bytes(self.known) + pack_ids(waiting)

    def _receive(self, finished) -> None:
        """A finished part: kept; or, when it failed, bisected; or, a single kernel, skipped as a culprit."""
        task, batch = finished.task, self.batches[finished.task.batch_index]
        batch.running -= 1
        first = task.all_positions()[0] if task.all_positions() else 0
        if finished.status == "ok":
            batch.parts[first] = finished.result
        elif len(task.all_positions()) > 1:
            left, right = task.halves()
            self.queue.appendleft(right)
            self.queue.appendleft(left)
            batch.running += 2
            if finished.status == "error":
                self.worker_errors.append(finished.detail.strip().splitlines()[-1])
        else:
            detail = finished.detail.strip().splitlines()[-1] if finished.detail.strip() else finished.status
            entry = _culprit(self.args, task, finished.status, detail)
            self.culprits.append(entry)
            self.n_kernels += 1
            self.progress.write(f"collect: batch {entry['batch']} kernel {entry['position']} "
                                f"({entry.get('kernel_name', '?')}): {finished.status}, {entry['detail']}; "
                                f"skipped; source in {entry.get('source', '?')}")

    def _store(self, parts: dict[int, BatchOutcome]) -> None:
        """The next batch in order: its records stored up to the target, its failures reported, its counts kept."""
        corpus, out = self.corpus, self.args.out
        outcome = BatchOutcome.merged(self.next_batch, [parts[k] for k in sorted(parts)])
        stored_all = True
        for record in outcome.records:
            if self.done():
                stored_all = False  # stop at the target, not at the end of a batch
                break
            if corpus.add(record):
                self.n_new += 1
                self.known += pack_ids([record["id"]])
        for failure in outcome.failures:
            self.reported += _reports(out).write(failure) is not None
        corpus.flush()
        if stored_all:  # else a run with a larger target redoes this batch and stores the rest
            self.next_batch += 1
            _write_state(out, self.key, self.next_batch)
        self.verdicts.update(outcome.verdicts)
        self.timings.update(outcome.timings)
        self.n_kernels += outcome.n_kernels
        self.n_skipped += outcome.skipped
        self.notes.extend(outcome.notes)
        invalid = [n for n in outcome.notes if ": invalid record:" in n]
        self.invalid_streak = self.invalid_streak + 1 if invalid and not outcome.records else 0
        if self.invalid_streak >= INVALID_STREAK:  # a bug of ours: never spin without progress
            raise CollectAborted(f"the last {INVALID_STREAK} batches produced only invalid records "
                                 f"(a bug of warpsmith's); first: {invalid[0]}")
        elapsed = time.perf_counter() - self.start
        self.progress.update(corpus.total_bytes, records=corpus.n_records,
                             kps=f"{self.n_kernels / elapsed:.1f}", **dict(self.verdicts))

    def summary(self) -> dict:
        elapsed = time.perf_counter() - self.start
        self.verdicts.update(f"worker-{c['kind']}" for c in self.culprits)
        return {
            "out": str(self.args.out),
            "verify": self.args.verify,
            "records": self.corpus.n_records,
            "new_records": self.n_new,
            "mb": round(self.corpus.total_bytes / 1e6, 3),
            "kernels_processed": self.n_kernels,
            "known_kernels_skipped": self.n_skipped,  # drawn again after their record was made: not re-verified
            "seconds": round(elapsed, 1),
            "kernels_per_s": round(self.n_kernels / elapsed, 2) if elapsed else 0.0,
            "verdicts": dict(self.verdicts),
            "stage_seconds_summed_over_workers": {k: round(v, 1) for k, v in self.timings.items()},
            "executor": self.args.executor,
            "workers": self.args.workers,
            "worker_restarts": self.pool.restarts,
            "culprits": self.culprits,
            "failure_reports": self.reported,
        }


def collect(args: argparse.Namespace) -> dict:
    """Fill ``args.out`` up to ``--target-mb`` with verified records, resuming where an earlier run with the same
    key stopped; the run's summary (counts, verdicts, stage times, culprits)."""
    opts = Options(optimization_level=args.opt_level, nvrtc_arch=args.nvrtc_arch, seed=args.seed,
                   verify=args.verify, nvrtc=args.verify == "full", nvrtc_mode=args.nvrtc_mode,
                   policy=args.policy, backend=args.backend, max_code_kb=args.max_code_kb or None)
    target = int(args.target_mb * 1e6)
    key = _run_key(args)
    meta = {"generator_version": GENERATOR_VERSION, **key, "workers": args.workers}
    start = time.perf_counter()
    _check_verify_mode(args.out, args.verify, args.backend)
    # records are validated in the workers (validate_record parses every source: too slow for one process)
    with CorpusWriter(args.out, meta=meta, validate=False) as corpus:
        if corpus.total_bytes >= target:
            print(f"collect: {args.out} already holds {corpus.total_bytes / 1e6:.2f} MB >= --target-mb "
                  f"{args.target_mb:g}: nothing to collect (raise --target-mb to add records)", file=sys.stderr)
        progress = Progress(target, corpus.total_bytes, not args.no_progress and corpus.total_bytes < target)
        sweep_stale_scratch()
        scratch = make_scratch(SCRATCH_PREFIX)
        pool = make_pool(args, serve, run_task, scratch, args.batch_timeout)
        run = _Run(args, opts, key, corpus, pool, progress, start)
        try:
            while not run.done():
                run.step()
        finally:
            progress.close()
            pool.close()
            shutil.rmtree(scratch, ignore_errors=True)
        summary = run.summary()
    if run.notes:
        print(f"{len(run.notes)} generator errors (bugs of ours, not Warp's); first: {run.notes[0]}", file=sys.stderr)
    if run.worker_errors:
        print(f"{len(run.worker_errors)} batch parts raised in a worker (bisected); first: {run.worker_errors[0]}",
              file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = collect(args)
    except CorpusError as error:
        print(f"collect: error: {error}", file=sys.stderr)
        return 2
    except CollectAborted as error:
        print(f"collect: error: {error}", file=sys.stderr)
        return 1
    except WorkerStartupError as error:
        print(f"collect: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("collect: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    v = summary["verdicts"]
    print(
        f"collected {summary['new_records']} new records ({summary['records']} total, {summary['mb']} MB) in "
        f"{summary['seconds']} s: {summary['kernels_processed']} kernels ({summary['verify']} verification), "
        f"{summary['kernels_per_s']} kernels/s; verdicts: " + ", ".join(f"{k} {n}" for k, n in sorted(v.items()))
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    interrupt_on_sigterm()
    raise SystemExit(main())
