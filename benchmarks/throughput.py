"""Throughput of collection, stage by stage, and a seed-style baseline measured in the same run.

    python benchmarks/throughput.py [--kernels 128] [--batch-size 64] [--seed 0] [--workers 2]
                                    [--collect-mb 1.0] [--profile] [--skip-collect]

Prints, in this order:
  1. seed-style baseline: templated float kernels, 10 per module, CPU + CUDA code generation and
     extraction, nothing compiled or checked ((kernel, target) pairs/s, one process);
  2. generation only (Hypothesis draws + libcst rendering), one process;
  3. ``--verify none`` (generation + code generation + extraction), one process;
  4. full verification (CPU compile, run, numpy reference, NVRTC, extraction), one process, with
     milliseconds per kernel for each stage and generation's share of the time; with ``--small`` also on
     small kernels (``SMALL_POLICY``: a few statements over float32/int32/bool/vec3, like the kernels the
     issue's per-kernel costs were measured on);
  5. ``python -m harness.collect`` end to end with ``--workers`` processes for ``--verify none`` and
     ``full`` (``--collect-mb`` each, fresh directories): kernels/s, MB/s, and the minutes 200 MB would take;
  6. with ``--profile``: a cProfile of one full-verification batch (top functions by own time).

Figures depend on the machine and on what else runs on it; the kernels vary a lot in size (records
from 2 kB to 1 MB), so use several hundred kernels for stable per-kernel numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.warp_side import warp_adapter as W  # noqa: E402
from harness.warp_side.extract import extract_all, normalise  # noqa: E402
from harness.generate import draw_kernels  # noqa: E402
from harness.pipeline import NVRTC_MODES, Options, verify_batch  # noqa: E402
from grammar.policy import DEFAULT_POLICY, SMALL_POLICY, Policy  # noqa: E402

SEED_TEMPLATES = [
    "    out[tid] = a[tid] * {c0} + b[tid] * {c1}\n",
    "    x = a[tid]\n    if x > {c0}:\n        x = x * {c1}\n    else:\n        x = x - {c1}\n    out[tid] = x\n",
    "    s = float(0.0)\n    for i in range({n}):\n        s = s + a[tid] * float(i) + {c0}\n    out[tid] = s\n",
    "    out[tid] = wp.sin(a[tid]) * wp.exp(b[tid] * {c0}) + wp.sqrt(wp.abs(a[tid]) + {c1})\n",
    "    v = wp.vec3(a[tid], b[tid], {c0})\n    out[tid] = wp.length(v) + wp.dot(v, v) * {c1}\n",
    "    wp.atomic_add(out, 0, a[tid] * {c0})\n",
]


def seed_style_module(index: int, n: int, rng: random.Random) -> str:
    """``n`` templated kernels over float arrays, the way the seed datasets were made."""
    parts = ["import warp as wp\n\n"]
    for j in range(n):
        body = rng.choice(SEED_TEMPLATES).format(c0=round(rng.uniform(-2, 2), 3), c1=round(rng.uniform(0.1, 3), 3),
                                                 n=rng.randint(2, 8))
        parts.append(f"\n@wp.kernel\ndef seed_{index}_{j}(a: wp.array(dtype=float), b: wp.array(dtype=float), "
                     f"out: wp.array(dtype=float)):\n    tid = wp.tid()\n{body}")
    return "".join(parts)


def seed_style(scratch: Path, n_kernels: int, per_module: int = 10) -> tuple[int, float, int]:
    """(pairs, seconds, bytes of extracted code) of the seed-style pipeline: render, import, codegen both
    targets, extract."""
    rng = random.Random(0)
    pairs, code_bytes, start = 0, 0, time.perf_counter()
    for index in range(0, n_kernels, per_module):
        path = scratch / f"seed_style_{index}.py"
        path.write_text(seed_style_module(index, per_module, rng))
        module = W.import_kernel_module(path)
        names = [f"seed_{index}_{j}" for j in range(per_module)]
        for target in ("cpu", "cuda"):
            for fns in extract_all(W.generate_source(module, target), names, target).values():
                code_bytes += len(normalise(fns["forward"])) + len(normalise(fns["backward"]))
                pairs += 1
        W.release_module(module)
    return pairs, time.perf_counter() - start, code_bytes


def batches(seed: int, n: int, batch_size: int, policy: Policy = DEFAULT_POLICY):
    i = 0
    while n > 0:
        t = time.perf_counter()
        kernels = draw_kernels(seed * 1000 + i, min(batch_size, n), policy)
        yield kernels, time.perf_counter() - t
        n -= batch_size
        i += 1


CODE_FIELDS = ("cpu_forward", "cpu_backward", "cuda_forward", "cuda_backward")


def pipeline(scratch: Path, seed: int, n: int, batch_size: int, verify: str,
             nvrtc_mode: str = "hybrid", policy: Policy = DEFAULT_POLICY) -> tuple[int, float, Counter, Counter]:
    """(kernels, seconds, verdicts, stage seconds) of verify_batch over fresh batches, generation included;
    the stage ``code_bytes`` counts the extracted code of the records."""
    stages: Counter = Counter()
    verdicts: Counter = Counter()
    done, start = 0, time.perf_counter()
    for i, (kernels, gen_s) in enumerate(batches(seed, n, batch_size, policy)):
        # collect's options: the policy's code-size budget, the NVRTC mode
        result = verify_batch(kernels, scratch / f"{verify}{seed}_{i}", Options(
            verify=verify, nvrtc_mode=nvrtc_mode, max_code_kb=policy.max_code_kb or None))
        stages["generate"] += gen_s
        stages.update(result.timings)
        verdicts.update(result.counts())
        stages["code_bytes"] += sum(len(r.record[f]) for r in result.results if r.record for f in CODE_FIELDS)
        done += len(kernels)
        W.clear_kernel_cache()
    return done, time.perf_counter() - start, verdicts, stages


def collect_end_to_end(scratch: Path, verify: str, mb: float, workers: int, batch_size: int, seed: int,
                       nvrtc_mode: str = "hybrid") -> dict:
    out = scratch / f"collect-{verify}"
    cmd = [sys.executable, "-m", "harness.collect", "--out", str(out), "--target-mb", str(mb), "--verify", verify,
           "--workers", str(workers), "--batch-size", str(batch_size), "--seed", str(seed), "--no-progress",
           "--nvrtc-mode", nvrtc_mode]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"collect failed: {proc.stderr.strip().splitlines()[-1:]}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    summary["wall_s"] = wall
    summary["cmd"] = " ".join(["python"] + cmd[1:]).replace(str(out), "<tmp dir>")
    return summary


def profile_batch(scratch: Path, seed: int, batch_size: int, top: int = 18) -> str:
    kernels = draw_kernels(seed * 1000 + 999, batch_size)
    profiler = cProfile.Profile()
    profiler.enable()
    result = verify_batch(kernels, scratch / "profile", Options())
    profiler.disable()
    W.clear_kernel_cache()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("tottime").print_stats(top)
    lines = [line for line in text.getvalue().splitlines() if line.strip()]
    body = "\n".join(lines[lines.index(next(line for line in lines if "ncalls" in line)):])
    body = re.sub(r"\S*site-packages/|" + re.escape(str(ROOT)) + "/", "", body)  # package-relative paths
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    return f"one full batch of {len(kernels)} kernels; stages: {stages}\n{body}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kernels", type=int, default=128, help="kernels per one-process measurement")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, help="worker processes for the collect measurements")
    p.add_argument("--collect-mb", type=float, default=1.0, help="target of each collect measurement")
    p.add_argument("--profile", action="store_true", help="also profile one full-verification batch")
    p.add_argument("--skip-collect", action="store_true", help="no end-to-end collect measurements")
    p.add_argument("--small", action="store_true",
                   help="also run step 4 on small kernels (SMALL_POLICY), like those of the issue's cost figures")
    p.add_argument("--skip-full", action="store_true", help="no one-process full verification (step 4)")
    p.add_argument("--nvrtc-mode", choices=NVRTC_MODES, default="hybrid",
                   help="NVRTC configuration of step 4 and of collect --verify full (default hybrid, collect's)")
    p.add_argument("--collect-modes", default="none,full", help="verify modes of step 5 (default none,full)")
    args = p.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="warpsmith-bench-"))
    W.init(cache_dir=str(scratch / "cache"))
    verify_batch(draw_kernels(12345, 2), scratch / "warm-up", Options())  # Clang's precompiled header, imports
    W.clear_kernel_cache()

    pairs, s, code = seed_style(scratch, args.kernels)
    seed_rate, seed_code_rate = pairs / s, code / s / 1e6
    print(f"1. seed-style baseline:      {seed_rate:8.1f} pairs/s  ({pairs} (kernel, target) pairs, {s:.1f} s, 1 process; "
          f"{seed_code_rate:.3f} MB of extracted code/s, {code / pairs / 1e3:.1f} kB per pair)")

    n, s = 0, 0.0
    for kernels, gen_s in batches(args.seed, args.kernels, args.batch_size):
        n, s = n + len(kernels), s + gen_s
    print(f"2. generation only:          {n / s:8.1f} kernels/s ({n} kernels, {s:.1f} s)")

    n, s, verdicts, stages = pipeline(scratch, args.seed + 1, args.kernels, args.batch_size, "none")
    code = stages.pop("code_bytes")
    print(f"3. --verify none:            {n / s:8.1f} kernels/s = {2 * n / s:.1f} pairs/s "
          f"({2 * n / s / seed_rate:.2f}x the baseline; {n} kernels, {s:.1f} s, 1 process; "
          f"{code / s / 1e6:.3f} MB of extracted code/s = {code / s / 1e6 / seed_code_rate:.2f}x the baseline, "
          f"{code / max(2 * verdicts['accepted'], 1) / 1e3:.1f} kB per pair)")
    print("   " + ", ".join(f"{k} {100 * v / s:.0f} %" for k, v in stages.items()))

    if not args.skip_full:
        full_verification(scratch, args)

    if not args.skip_collect:
        for verify in args.collect_modes.split(","):
            r = collect_end_to_end(scratch, verify, args.collect_mb, args.workers, args.batch_size, args.seed,
                                   args.nvrtc_mode)
            mb_s = r["mb"] / r["wall_s"]
            print(f"5. collect --verify {verify:<5} {r['kernels_per_s']:8.2f} kernels/s, {mb_s:.3f} MB/s, "
                  f"{r['records']} records, {r['mb']} MB in {r['wall_s']:.1f} s wall (start-up included); "
                  f"200 MB would take ~{200 / mb_s / 60:.0f} min")
            if verify == "none":
                print(f"   = {2 * r['kernels_per_s']:.1f} pairs/s, {2 * r['kernels_per_s'] / seed_rate:.2f}x the baseline's pairs/s; "
                      f"{mb_s / seed_code_rate:.2f}x its MB/s (records hold the Python source and JSON too)")
            print(f"   {r['cmd']}")

    if args.profile:
        print("6. profile: " + profile_batch(scratch, args.seed + 3, args.batch_size))


def full_verification(scratch: Path, args: argparse.Namespace) -> None:
    runs = [("4. full verification:", DEFAULT_POLICY)]
    if args.small:
        runs.append(("4s. ... on small kernels:", SMALL_POLICY))
    for title, policy in runs:
        n, s, verdicts, stages = pipeline(scratch, args.seed + 2, args.kernels, args.batch_size, "full",
                                          args.nvrtc_mode, policy)
        code = stages.pop("code_bytes")
        accepted = max(verdicts["accepted"], 1)
        print(f"{title:<29} {n / s:8.2f} kernels/s ({n} kernels, {s:.1f} s, 1 process, incl. generation; "
              f"NVRTC {args.nvrtc_mode}; {code / accepted / 1e3:.1f} kB of extracted code per accepted kernel)")
        print("   verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
        for k, v in stages.items():
            print(f"   {k:<20} {1000 * v / max(n, 1):8.1f} ms/kernel  {100 * v / s:5.1f} %")


if __name__ == "__main__":
    main()
