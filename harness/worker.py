"""Worker-process side of collection: one seeded batch (or part of one) -> records, verdicts, failures.

Each worker process gets its own Warp kernel cache and scratch directory (a shared or stale cache has
produced partial kernels in some Warp releases), removed when the process exits. A batch is fully
described by ``(seed, batch_index, batch_size, options)``, so any batch can be re-run exactly; a
:class:`Task` may name a subset of the batch's positions, which is how ``collect`` bisects a batch that
crashed or hung its worker down to the kernel responsible.

``WARPSMITH_WORKER_HOOK=package.module:function`` makes every worker call ``function(task, kernels)``
before verifying a task; the tests inject crashes and hangs through it.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from grammar.policy import POLICIES

from .generate import draw_kernels
from .pipeline import Options, verify_batch
from .store.corpus import validate_record
from .warp_side import warp_adapter as W

_scratch: Path | None = None
# record id -> lowest batch index this worker made that record in. A kernel accepted in an earlier batch is
# not verified again (its record is a duplicate the corpus would drop): only ids from *earlier* batches are
# skipped, so the records written, and their order, are those of a run without the skipping. The ids of
# records other workers made reach a batch with its task (Task.known).
_made: dict[str, int] = {}


def init_worker(root: str | None = None) -> None:
    """Process initialiser: private kernel cache + scratch dir (under ``root``), Warp initialised once.

    The caller owns ``root`` and removes it (workers may be terminated without running atexit hooks); with a
    ``root`` the process's temporary directory is moved into its scratch too.
    """
    global _scratch
    _scratch = Path(tempfile.mkdtemp(prefix=f"worker{os.getpid()}-", dir=root))
    atexit.register(shutil.rmtree, _scratch, True)
    if root is not None:
        # A pool worker is killed, never exits: what this process and its children (the JAX oracle's, a companion
        # release) put in the temporary directory -- Warp's and NVRTC's precompiled headers, about 90 MB per
        # process -- goes into the scratch the parent removes, not into /tmp for good.
        tmp = _scratch / "tmp"
        tmp.mkdir()
        os.environ["TMPDIR"] = tempfile.tempdir = str(tmp)
    W.init(cache_dir=str(_scratch / "kernel-cache"))


def batch_seed(seed: int, batch_index: int) -> int:
    """The Hypothesis seed of batch ``batch_index`` of a run seeded with ``seed``."""
    digest = hashlib.sha256(f"{seed}:{batch_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@dataclass
class BatchOutcome:
    batch_index: int
    records: list[dict] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    failures: list = field(default_factory=list)  # harness.report.Failure
    n_kernels: int = 0
    skipped: int = 0  # kernels not verified again: their records were made in an earlier batch
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # generator-error reasons, for the log

    @classmethod
    def merged(cls, batch_index: int, parts: list["BatchOutcome"]) -> "BatchOutcome":
        """One outcome from the outcomes of parts of a batch, given in batch order."""
        out = cls(batch_index)
        verdicts: dict[str, int] = {}
        timings: dict[str, float] = {}
        for part in parts:
            out.records += part.records
            out.failures += part.failures
            out.notes += part.notes
            out.n_kernels += part.n_kernels
            out.skipped += part.skipped
            for k, v in part.verdicts.items():
                verdicts[k] = verdicts.get(k, 0) + v
            for k, v in part.timings.items():
                timings[k] = timings.get(k, 0.0) + v
        out.verdicts, out.timings = verdicts, timings
        return out


@dataclass(frozen=True)
class Task:
    """Verify batch ``batch_index`` of a run, or only the kernels at ``positions`` of it."""

    seed: int
    batch_index: int
    batch_size: int
    opts: Options
    positions: tuple[int, ...] | None = None  # None: the whole batch
    # the records the corpus held when the batch was handed out (every one from an earlier batch or run), as
    # packed 8-byte id prefixes (KnownIds): their kernels are not verified again, whichever worker made them
    known: bytes = b""

    def all_positions(self) -> tuple[int, ...]:
        return self.positions if self.positions is not None else tuple(range(self.batch_size))

    def halves(self) -> tuple["Task", "Task"]:
        p = self.all_positions()
        mid = len(p) // 2
        return (Task(self.seed, self.batch_index, self.batch_size, self.opts, p[:mid], self.known),
                Task(self.seed, self.batch_index, self.batch_size, self.opts, p[mid:], self.known))


ID_PREFIX_BYTES = 8


def pack_ids(ids) -> bytes:
    """Record ids (hex) as the packed prefixes of :attr:`Task.known`: 8 bytes each, so that a 200 MB corpus's
    ids travel with each batch as ~50 kB (two distinct kernels share a prefix with probability ~n^2 / 2^65: for a
    million records, 3e-8 that one kernel is ever skipped wrongly)."""
    out = bytearray()
    for i in ids:
        try:
            prefix = bytes.fromhex(i[: 2 * ID_PREFIX_BYTES])
        except ValueError:
            continue  # not an id of ours: never matched
        if len(prefix) == ID_PREFIX_BYTES:
            out += prefix
    return bytes(out)


class KnownIds:
    """The record ids a batch need not verify: those this worker made in earlier batches, and those of
    :attr:`Task.known` (matched on their prefix)."""

    def __init__(self, made: frozenset[str], packed: bytes):
        self.made = made
        self.prefixes = {packed[i : i + ID_PREFIX_BYTES] for i in range(0, len(packed), ID_PREFIX_BYTES)}

    def __contains__(self, record_id: object) -> bool:
        if record_id in self.made:
            return True
        try:
            return bytes.fromhex(str(record_id)[: 2 * ID_PREFIX_BYTES]) in self.prefixes
        except ValueError:
            return False


def run_task(task: Task, hook=None) -> BatchOutcome:
    """Draw the task's batch, keep the kernels at its positions, verify them."""
    return run_batch(task.seed, task.batch_index, task.batch_size, task.opts, task.positions,
                     hook=(lambda kernels: hook(task, kernels)) if hook else None, known=task.known)


def _load_hook():
    spec = os.environ.get("WARPSMITH_WORKER_HOOK")
    if not spec:
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def serve(conn, root: str | None = None, run=None) -> None:
    """A worker's main loop: initialise, say ``"ready"``, then answer each task with ``run(task, hook)``
    (default :func:`run_task`) until the pipe closes.

    Answers are ``("ok", result)`` or ``("error", traceback text)``. A crash or hang is the
    parent's to notice (see :mod:`harness.pool`).
    """
    run = run or run_task
    _die_with_parent()
    try:
        init_worker(root)
        hook = _load_hook()
        conn.send("ready")
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return  # the parent is gone
            if task is None:
                return
            try:
                answer = ("ok", run(task, hook))
            except Exception:
                answer = ("error", traceback.format_exc())
            try:
                conn.send(answer)
            except (BrokenPipeError, OSError):
                return
    except KeyboardInterrupt:
        return


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker when its parent dies (``kill -9`` of collect), instead of
    finishing a batch nobody will read."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the worker stops at its next send to the closed pipe


def run_batch(seed: int, batch_index: int, batch_size: int, opts: Options,
              positions: tuple[int, ...] | None = None, hook=None, known: bytes = b"") -> BatchOutcome:
    if _scratch is None:
        init_worker()
    bseed = batch_seed(seed, batch_index)
    t = time.perf_counter()
    kernels = draw_kernels(bseed, batch_size, POLICIES[opts.policy])
    if positions is not None:
        kernels = [kernels[i] for i in positions if i < len(kernels)]
    gen_time = time.perf_counter() - t
    if hook is not None:
        hook(kernels)
    if not kernels:
        return BatchOutcome(batch_index, timings={"generate": gen_time})
    workdir = Path(tempfile.mkdtemp(prefix=f"batch{batch_index}-", dir=_scratch))
    skip = KnownIds(frozenset(i for i, b in _made.items() if b < batch_index), known)
    try:
        result = verify_batch(kernels, workdir, Options(**{**opts.__dict__, "seed": bseed}), skip)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        W.clear_kernel_cache()
    for r in result.results:
        if r.record is not None:
            _made[r.record["id"]] = min(_made.get(r.record["id"], batch_index), batch_index)
    out = BatchOutcome(batch_index, n_kernels=len(result.results), skipped=result.skipped)
    out.timings = {"generate": gen_time, **result.timings}
    out.verdicts = dict(result.counts())
    for r in result.results:
        if r.record is not None:
            problems = validate_record(r.record)  # here, in parallel, rather than in the writing process
            if problems:
                out.notes.append(f"{r.kernel.name}: invalid record: {'; '.join(problems)[:300]}")
            else:
                out.records.append(r.record)
        if r.failure is not None:
            out.failures.append(r.failure)
        if r.verdict == "generator-error":
            out.notes.append(f"{r.kernel.name}: {r.reason.splitlines()[0][:300]}")
    return out


def worker_pid() -> int:
    return os.getpid()
