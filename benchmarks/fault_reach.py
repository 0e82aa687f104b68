"""Per-kernel reach of injected Warp faults: in how many generated kernels does each fault show?

    python benchmarks/fault_reach.py --faults id1,id2 [--kernels 200] [--seed 0] [--no-control]

The fuzz benchmark (``faults.py``) asks whether a fault is found within a time budget; this one asks a finer
question that tells a generator change apart from luck: of ``--kernels`` kernels drawn as
``benchmarks/gradient_share.py`` draws them (fixed seeds, batches of 25), how many does the harness report
as Warp failures (mismatch, gradient mismatch, compile error...) with the fault applied to a scratch copy of
Warp? A control run on the unpatched copy must report none (any it reports are false alarms of ours).

The installed package is never written (checksummed before and after, as in ``faults.py``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fault_table as T  # noqa: E402

def run_sample(copy_dir: Path, kernels: int, seed: int) -> dict:
    """Run gradient_share.py against the copy as it is now; returns counts of Warp-failure kernels."""
    with tempfile.TemporaryDirectory(prefix="fault-reach-cache-") as cache:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(copy_dir.parent), str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
        env["WARP_CACHE_PATH"] = cache
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gradient_share.py"), "--kernels",
                               str(kernels), "--seed", str(seed)], env=env, capture_output=True, text=True)
    bugs = [line[len("warp-bug: "):] for line in proc.stderr.splitlines() if line.startswith("warp-bug: ")]
    return {"returncode": proc.returncode, "warp_bugs": bugs, "elapsed_s": time.perf_counter() - start,
            "tail": proc.stderr.strip().splitlines()[-3:] if proc.returncode else []}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", required=True, help="comma-separated fault ids (see faults.py --list)")
    parser.add_argument("--kernels", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-control", action="store_true")
    args = parser.parse_args(argv)
    by_id = {f.id: f for f in T.FAULTS}
    unknown = [i for i in args.faults.split(",") if i not in by_id]
    if unknown:
        parser.error(f"unknown fault id(s): {', '.join(unknown)}")
    faults = [by_id[i] for i in args.faults.split(",")]
    warp_dir = T.installed_warp_dir()
    for f in faults:
        T.check_anchor(f, warp_dir)
    before = T.package_checksum(warp_dir)
    with tempfile.TemporaryDirectory(prefix="warpsmith-reach-") as tmp:
        copy_dir = T.make_scratch_copy(warp_dir, Path(tmp) / "pkg")
        runs = [(f.id, f) for f in faults] + ([] if args.no_control else [("control", None)])
        for label, fault in runs:
            if fault is not None:
                T.apply_fault(fault, copy_dir, warp_dir)
            try:
                r = run_sample(copy_dir, args.kernels, args.seed)
            finally:
                if fault is not None:
                    T.restore_file(fault, copy_dir, warp_dir)
            n = len(r["warp_bugs"])
            print(f"{label:32s} {n:4d} of {args.kernels} kernels report a Warp failure "
                  f"({100 * n / args.kernels:.1f} %), ran {r['elapsed_s']:.0f} s", flush=True)
            for line in r["warp_bugs"][:3]:
                print(f"      {line[:160]}")
            if r["returncode"]:
                print("      error: " + " | ".join(r["tail"]))
    after = T.package_checksum(warp_dir)
    if after != before:
        raise RuntimeError(f"the installed Warp package at {warp_dir} CHANGED (sha256 {before} -> {after})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
