"""Added cost of the differential oracles: full verification of the same batches without a variant and with
each variant (one variant build per batch), kernels/s and the added milliseconds per kernel.

    python benchmarks/differential.py [--kernels 48] [--batch-size 24] [--seed 7] [--variants opt2,debug]
                                      [--variant-backward both]

``--variant-backward both`` times each variant's stage twice: built forward only (the default since generator 0.5.1's
tree) and with its backward code, which no variant launches.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.warp_side import differential as D  # noqa: E402
from harness.generate import draw_kernels  # noqa: E402
from harness.pipeline import Options, verify_batch  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernels", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--variants", default=",".join(D.VARIANTS), help="comma-separated (default: all)")
    ap.add_argument("--variant-backward", choices=("off", "on", "both"), default="off")
    args = ap.parse_args()
    wanted = [v for v in args.variants.split(",") if v]
    unknown = [v for v in wanted if v not in D.VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; expected some of {', '.join(D.VARIANTS)}")
    backward = {"off": (False,), "on": (True,), "both": (False, True)}[args.variant_backward]
    scratch = Path(tempfile.mkdtemp(prefix="warpsmith-diffbench-"))
    batches = [draw_kernels(args.seed + i, args.batch_size) for i in range(args.kernels // args.batch_size)]
    verify_batch(draw_kernels(12345, 2), scratch / "warm-up", Options(nvrtc=False))
    base = None
    runs = [("", False)] + [(v, b) for v in wanted if D.available(v) for b in backward]
    for variant, with_backward in runs:
        t, n, stage, verdicts = time.perf_counter(), 0, 0.0, {}
        for i, batch in enumerate(batches):
            r = verify_batch(batch, scratch / f"{variant or 'none'}{int(with_backward)}{i}", Options(
                nvrtc=False, differential=(variant,) if variant else (), variant_backward=with_backward),
                batch_index=0)
            n += len(r.results)
            stage += r.timings.get("differential", 0.0)
            for k, c in r.counts().items():
                verdicts[k] = verdicts.get(k, 0) + c
        seconds = time.perf_counter() - t
        base = base if base is not None else seconds
        label = f"{variant} ({'with' if with_backward else 'no'} backward)" if variant else "no variant"
        print(f"{label:>26}: {n / seconds:6.2f} kernels/s  differential stage "
              f"{1000 * stage / n:6.1f} ms/kernel  added {1000 * (seconds - base) / n:+7.1f} ms/kernel  {verdicts}",
              flush=True)


if __name__ == "__main__":
    main()
