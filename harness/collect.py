"""``python -m harness.collect``: grow a verified, deduplicated corpus of Warp kernels to a target size.

Every record written passed: CPU compile, execution on seeded inputs matching the numpy reference,
NVRTC compilation of the CUDA code, and extraction of forward/backward functions for both targets.
Batches run in worker processes (both cores by default); records are appended by this process only, in
batch order, so the same ``--seed`` and ``--workers`` give the same records, and re-running the same command
into the same directory resumes where it stopped (``collect_state.json`` holds the next batch index; a
batch re-run after a crash is deduplicated by the corpus index).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path

from . import GENERATOR_VERSION
from .corpus import CorpusError, CorpusWriter
from .pipeline import Options
from .worker import BatchOutcome, init_worker, run_batch

STATE_NAME = "collect_state.json"
DEFAULT_OUT = Path("corpus") / "data"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m harness.collect",
        description="Collect verified Warp kernels (Python + generated C++/CUDA, forward and backward) "
        "into JSONL shards until the output directory holds --target-mb of records.",
    )
    p.add_argument("--target-mb", type=float, default=1.0, help="stop when the shards hold this many MB (default 1)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"corpus directory (default {DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    p.add_argument("--batch-size", type=int, default=64, help="kernels per Warp module (default 64)")
    p.add_argument("--opt-level", type=int, default=0, choices=range(4), help="CPU optimization level (default 0)")
    p.add_argument("--nvrtc-arch", type=int, default=90, help="NVRTC target architecture (default 90)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if not args.target_mb > 0:
        p.error("--target-mb must be > 0")
    if args.workers < 1:
        p.error("--workers must be >= 1")
    if args.batch_size < 1:
        p.error("--batch-size must be >= 1")
    if args.seed < 0:
        p.error("--seed must be >= 0")
    return args


def _read_state(out: Path, seed: int) -> int:
    path = out / STATE_NAME
    if not path.exists():
        return 0
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CorpusError(f"{path}: unreadable collect state ({error}); delete it to restart batch numbering")
    return int(state["next_batch"]) if state.get("seed") == seed else 0


def _write_state(out: Path, seed: int, next_batch: int) -> None:
    tmp = out / (STATE_NAME + ".tmp")
    tmp.write_text(json.dumps({"seed": seed, "next_batch": next_batch}))
    os.replace(tmp, out / STATE_NAME)


class Progress:
    """A tqdm bar in MB with live counts; silent when disabled."""

    def __init__(self, target_bytes: int, start_bytes: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=round(target_bytes / 1e6, 2), initial=round(start_bytes / 1e6, 2),
                            unit="MB", dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} MB [{elapsed}<{remaining}{postfix}]")

    def update(self, total_bytes: int, **postfix) -> None:
        if self.bar is not None:
            self.bar.n = min(round(total_bytes / 1e6, 2), self.bar.total)
            self.bar.set_postfix(postfix, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


_report_writer = None


def _reports(out: Path):
    """Unshrunk reports of Warp failures met while collecting go to ``<out>/failures/`` (see fuzz for shrunk ones)."""
    global _report_writer
    if _report_writer is None:
        from . import warp_adapter
        from .report import ReportWriter

        _report_writer = ReportWriter(out / "failures", warp_adapter.diagnostics)
    return _report_writer


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: batches still running are abandoned (a re-run redoes them), not awaited."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)


def collect(args: argparse.Namespace) -> dict:
    opts = Options(optimization_level=args.opt_level, nvrtc_arch=args.nvrtc_arch, seed=args.seed)
    target = int(args.target_mb * 1e6)
    meta = {"generator_version": GENERATOR_VERSION, "seed": args.seed, "workers": args.workers,
            "batch_size": args.batch_size}
    verdicts: Counter = Counter()
    timings: Counter = Counter()
    n_kernels = n_new = crashed = reported = 0
    notes: list[str] = []
    start = time.perf_counter()
    with CorpusWriter(args.out, meta=meta) as corpus:
        next_batch = _read_state(args.out, args.seed)
        start_bytes = corpus.total_bytes
        progress = Progress(target, start_bytes, not args.no_progress)
        pending: dict = {}
        ready: dict[int, BatchOutcome] = {}
        submitted = next_batch
        ctx = get_context("spawn")
        scratch = tempfile.mkdtemp(prefix="warpsmith-collect-")
        pool = ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=init_worker, initargs=(scratch,))
        try:
            while corpus.total_bytes < target:
                while len(pending) < 2 * args.workers:
                    fut = pool.submit(run_batch, args.seed, submitted, args.batch_size, opts)
                    pending[fut] = submitted
                    submitted += 1
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    index = pending.pop(fut)
                    try:
                        ready[index] = fut.result()
                    except BrokenProcessPool:
                        crashed += 1
                        ready[index] = BatchOutcome(index, notes=[f"batch {index}: worker process died"])
                # consume in batch order so the same seed gives the same records
                while next_batch in ready and corpus.total_bytes < target:
                    outcome = ready.pop(next_batch)
                    for record in outcome.records:
                        if corpus.total_bytes >= target:
                            break  # stop at the target, not at the end of a batch
                        n_new += corpus.add(record)
                    for failure in outcome.failures:
                        reported += _reports(args.out).write(failure) is not None
                    corpus.flush()
                    next_batch += 1
                    _write_state(args.out, args.seed, next_batch)
                    verdicts.update(outcome.verdicts)
                    timings.update(outcome.timings)
                    n_kernels += outcome.n_kernels
                    notes.extend(outcome.notes)
                    elapsed = time.perf_counter() - start
                    progress.update(corpus.total_bytes, records=corpus.n_records,
                                    kps=f"{n_kernels / elapsed:.1f}", **dict(verdicts))
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done if f.done() and not f.cancelled()):
                    if crashed > 3:
                        raise RuntimeError("worker processes keep dying; see the batches listed above")
                    _stop(pool)
                    for fut, index in pending.items():
                        ready.setdefault(index, BatchOutcome(index, notes=[f"batch {index}: lost with a dead worker"]))
                    pending.clear()
                    pool = ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=init_worker, initargs=(scratch,))
        finally:
            progress.close()
            _stop(pool)
            shutil.rmtree(scratch, ignore_errors=True)
        elapsed = time.perf_counter() - start
        summary = {
            "out": str(args.out),
            "records": corpus.n_records,
            "new_records": n_new,
            "mb": round(corpus.total_bytes / 1e6, 3),
            "kernels_verified": n_kernels,
            "seconds": round(elapsed, 1),
            "kernels_per_s": round(n_kernels / elapsed, 2) if elapsed else 0.0,
            "verdicts": dict(verdicts),
            "stage_seconds_summed_over_workers": {k: round(v, 1) for k, v in timings.items()},
            "batches_lost_to_crashes": crashed,
            "failure_reports": reported,
        }
    if notes:
        print(f"{len(notes)} generator errors (bugs of ours, not Warp's); first: {notes[0]}", file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = collect(args)
    except CorpusError as error:
        print(f"collect: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("collect: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    v = summary["verdicts"]
    print(
        f"collected {summary['new_records']} new records ({summary['records']} total, {summary['mb']} MB) in "
        f"{summary['seconds']} s: {summary['kernels_verified']} kernels verified, {summary['kernels_per_s']} kernels/s; "
        f"verdicts: " + ", ".join(f"{k} {n}" for k, n in sorted(v.items()))
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
