"""How often launch inputs reach corners, and what that costs in screening, per input profile.

    python benchmarks/input_corners.py [--kernels 300] [--seed 0] [--batch-size 25] [--profiles grid,attempts]

For each mode (``grid``: every attempt draws the mild ``"grid"`` inputs, as before the corner profiles;
``attempts``: the pipeline's per-attempt profiles, :func:`harness.oracle.inputs.profile_for_attempt`) the same
kernels (each batch drawn from its own seed) run through the pipeline without NVRTC, and the script prints:
verdict shares (screened, generator-error, warp-bug), gradient status shares, and for the first attempt's
inputs: the share of kernels whose float32 reference evaluation met an exact tie at a discontinuity (a
comparison, selection, ``floor``... with equal operands: a 0.0 in the reference's trace), the share of float
input elements that are -0.0, and the largest |int| input.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from harness.oracle import inputs as I  # noqa: E402
from harness import pipeline as P  # noqa: E402
from harness.generate import draw_kernels  # noqa: E402
from harness.oracle.input_choice import first_inputs  # noqa: E402
from harness.oracle.reference import run_reference  # noqa: E402


def _input_stats(kernels, profile_of) -> Counter:
    c = Counter()
    for k in kernels:
        cid = P.name_kernels([k])[0][0]
        seed = int(cid[:8], 16)
        seed, values = first_inputs(k, seed, profile_of(0, seed, P.INPUT_ATTEMPTS))  # as the pipeline chooses
        for p in k.params:
            if p.role not in ("input", "param") or getattr(p, "struct", None) is not None:
                continue
            v = np.asarray(values[p.name])
            if v.dtype.kind == "f":
                c["float_elements"] += v.size
                c["neg_zero"] += int(np.sum((v == 0) & np.signbit(v)))
            elif v.dtype.kind in "iu":
                c["max_abs_int"] = max(c["max_abs_int"], int(np.max(np.abs(v.astype(object)))) if v.size else 0)
        try:
            r = run_reference(k.kernel_source, k.params, values, k.dim)
        except Exception:
            c["reference_error"] += 1
            continue
        c["kernels"] += 1
        c["tie_kernels"] += any(t == 0.0 for t in r.trace)
        c["trace_kernels"] += bool(r.trace)
    return c


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--modes", default="grid,attempts")
    args = parser.parse_args(argv)
    batches, drawn, b = [], 0, 0
    while drawn < args.kernels:
        ks = draw_kernels(args.seed * 1000 + b, min(args.batch_size, args.kernels - drawn))
        batches.append(ks)
        drawn += len(ks)
        b += 1
    original = I.profile_for_attempt
    for mode in args.modes.split(","):
        profile_of = (lambda a, s, n=3: "grid") if mode == "grid" else original
        P.profile_for_attempt = profile_of
        verdicts, grads, reasons = Counter(), Counter(), Counter()
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            for i, ks in enumerate(batches):
                res = P.verify_batch(ks, Path(work) / f"b{i}", P.Options(nvrtc=False))
                for r in res.results:
                    verdicts[r.verdict] += 1
                    if r.verdict != "accepted":
                        reasons[f"{r.verdict}: {r.reason[:90]}"] += 1
                    if r.record:
                        grads[r.record["verification"].get("gradient_status", "?").split(":")[0] + ":" +
                              r.record["verification"].get("gradient_status", "?").split(":")[-1]] += 1
        stats = _input_stats([k for ks in batches for k in ks], profile_of)
        n = sum(verdicts.values())
        print(f"== mode {mode}: {n} kernels, {time.perf_counter() - start:.0f} s")
        for v, c in sorted(verdicts.items()):
            print(f"  verdict {v:16s} {c:5d}  {100 * c / n:5.1f} %")
        acc = sum(grads.values()) or 1
        for g, c in sorted(grads.items()):
            print(f"  gradient {g:30s} {c:5d}  {100 * c / acc:5.1f} % of accepted")
        kk = stats["kernels"] or 1
        print(f"  first-attempt inputs: exact tie in the reference's trace in {stats['tie_kernels']} / {kk} kernels "
              f"({100 * stats['tie_kernels'] / kk:.1f} %; {stats['trace_kernels']} have a discontinuity at all)")
        fe = stats["float_elements"] or 1
        print(f"  -0.0 share of float input elements {100 * stats['neg_zero'] / fe:.2f} %, max |int| input "
              f"{stats['max_abs_int']}")
        for r, c in reasons.most_common(12):
            print(f"    {c:4d}  {r}")
    P.profile_for_attempt = original
    return 0


if __name__ == "__main__":
    sys.exit(main())
