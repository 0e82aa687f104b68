"""Worker-process side of collection: one seeded batch -> records, verdict counts, failures.

Each worker process gets its own Warp kernel cache and scratch directory (a shared or stale cache has
produced partial kernels in some Warp releases), removed when the process exits. A batch is fully
described by ``(seed, batch_index, batch_size, options)``, so any batch can be re-run exactly.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grammar.policy import DEFAULT_POLICY

from . import warp_adapter as W
from .generate import draw_kernels
from .pipeline import Options, verify_batch

_scratch: Path | None = None


def init_worker(root: str | None = None) -> None:
    """Process initialiser: private kernel cache + scratch dir (under ``root``), Warp initialised once.

    The caller owns ``root`` and removes it (workers may be terminated without running atexit hooks).
    """
    global _scratch
    _scratch = Path(tempfile.mkdtemp(prefix=f"worker{os.getpid()}-", dir=root))
    atexit.register(shutil.rmtree, _scratch, True)
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
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # generator-error reasons, for the log


def run_batch(seed: int, batch_index: int, batch_size: int, opts: Options) -> BatchOutcome:
    if _scratch is None:
        init_worker()
    bseed = batch_seed(seed, batch_index)
    t = time.perf_counter()
    kernels = draw_kernels(bseed, batch_size, DEFAULT_POLICY)
    gen_time = time.perf_counter() - t
    workdir = Path(tempfile.mkdtemp(prefix=f"batch{batch_index}-", dir=_scratch))
    try:
        result = verify_batch(kernels, workdir, Options(**{**opts.__dict__, "seed": bseed}))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        W.clear_kernel_cache()
    out = BatchOutcome(batch_index, n_kernels=len(result.results))
    out.timings = {"generate": gen_time, **result.timings}
    out.verdicts = dict(result.counts())
    for r in result.results:
        if r.record is not None:
            out.records.append(r.record)
        if r.failure is not None:
            out.failures.append(r.failure)
        if r.verdict == "generator-error":
            out.notes.append(f"{r.kernel.name}: {r.reason.splitlines()[0][:300]}")
    return out


def worker_pid() -> int:
    return os.getpid()
