"""Throughput figures for the three stages of the pipeline, in one process.

    python benchmarks/throughput.py [--kernels 128] [--batch-size 64] [--seed 0]

Prints kernels/s for
  1. generation only (Hypothesis draws + libcst rendering),
  2. generation + code generation (one Warp module per batch, CPU and CUDA source, extraction; nothing compiled),
  3. full verification (CPU compile, run, numpy reference, NVRTC, extraction) - what collect does per worker,
and the time per verification stage. Figures are for one process; collect runs one per core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import warp_adapter as W  # noqa: E402
from harness.extract import extract_all, normalise  # noqa: E402
from harness.generate import draw_kernels  # noqa: E402
from harness.pipeline import Options, _Build, name_kernels, verify_batch  # noqa: E402


def batches(seed: int, n: int, batch_size: int):
    i = 0
    while n > 0:
        yield draw_kernels(seed * 1000 + i, min(batch_size, n))
        n -= batch_size
        i += 1


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kernels", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="warpsmith-bench-"))
    W.init(cache_dir=str(scratch / "cache"))

    t = time.perf_counter()
    n = 0
    for b in batches(args.seed, args.kernels, args.batch_size):
        n += sum(len(k.source) > 0 for k in b)
    gen = time.perf_counter() - t
    print(f"generation only:           {n / gen:8.1f} kernels/s  ({n} kernels, {gen:.1f} s)")

    t = time.perf_counter()
    n = 0
    for i, b in enumerate(batches(args.seed + 1, args.kernels, args.batch_size)):
        ks = [k for _, k in name_kernels(b)]
        build = _Build(ks, scratch, Options())
        names = [k.name for k in ks]
        for target in ("cpu", "cuda"):
            for fns in extract_all(W.generate_source(build.module, target), names, target).values():
                normalise(fns["forward"]), normalise(fns["backward"])
        n += len(ks)
    cg = time.perf_counter() - t
    print(f"generation + codegen:      {n / cg:8.1f} kernels/s  ({n} kernels, {cg:.1f} s)")

    t = time.perf_counter()
    n = 0
    stages: Counter = Counter()
    verdicts: Counter = Counter()
    for i, b in enumerate(batches(args.seed + 2, args.kernels, args.batch_size)):
        result = verify_batch(b, scratch / f"v{i}", Options())
        stages.update(result.timings)
        verdicts.update(result.counts())
        n += len(result.results)
        W.clear_kernel_cache()
    full = time.perf_counter() - t
    print(f"full verification:         {n / full:8.1f} kernels/s  ({n} kernels, {full:.1f} s, incl. generation)")
    print("  verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    for k, v in stages.items():
        print(f"  {k:<20} {1000 * v / max(n, 1):7.1f} ms/kernel")


if __name__ == "__main__":
    main()
