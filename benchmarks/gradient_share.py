"""Share of accepted kernels whose gradient the oracle checked, overall and per category.

    python benchmarks/gradient_share.py [--kernels 200] [--seed 0] [--batch-size 25] [--nvrtc] [--adjoint-reach]

Draws kernels in batches (each batch from its own seed, so the sample is not one Hypothesis run's
neighbourhood), runs them through the pipeline, and prints for the accepted kernels: how many were
checked, not gradient candidates, or excluded (with each exclusion reason), overall and per category.
NVRTC is skipped unless ``--nvrtc`` is given (it does not change the gradient check).

``--adjoint-reach`` also counts, per differentiable table row, the gradient-checked kernels in which that
row's adjoint is exercised on a live path (:func:`harness.liveness.adjoint_reach`: on the inputs the gradient
check used, perturbing every result of the row changes a float output, and the row's results differ between
the check's inputs and a second draw of them). An upper bound in one respect: an output the check left out
(a limit's narrowing) still counts. ``python -m harness.fuzz`` counts the same per run.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from grammar.policy import DEFAULT_POLICY  # noqa: E402
from harness import liveness as LV  # noqa: E402
from harness.generate import draw_kernels  # noqa: E402
from harness.pipeline import Options, verify_batch  # noqa: E402
from strategies.categories import CATEGORIES  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--nvrtc", action="store_true")
    parser.add_argument("--adjoint-reach", action="store_true",
                        help="count, per differentiable row, the checked kernels that exercise its adjoint on a live path")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=INT[,INT...]",
                        help="override an int (or int tuple) field of the default policy (A/B runs), e.g. --set "
                             "hoist_test_odds=3 or --set directed_weights=1,0")
    args = parser.parse_args(argv)
    try:
        policy = dataclasses.replace(DEFAULT_POLICY, **{
            k: tuple(int(x) for x in v.split(",")) if "," in v else int(v)
            for k, v in (s.split("=", 1) for s in args.set)})
    except (TypeError, ValueError) as e:
        parser.error(f"--set: {e}")

    verdicts, statuses, notes = Counter(), Counter(), Counter()
    deviations: dict[str, list[float]] = defaultdict(list)  # float path -> relative deviations of checked kernels
    per_category: dict[str, Counter] = defaultdict(Counter)
    by_kind: dict[str, Counter] = defaultdict(Counter)  # ordinary / gradient-directed -> exclusion -> kernels
    reach, used = Counter(), Counter()  # differentiable row -> checked kernels where live / where used
    start, drawn, batch = time.perf_counter(), 0, 0
    with tempfile.TemporaryDirectory() as work:
        while drawn < args.kernels:
            n = min(args.batch_size, args.kernels - drawn)
            kernels = draw_kernels(args.seed * 100_003 + batch, n, policy)
            drawn += n
            result = verify_batch(kernels, Path(work) / f"b{batch}", Options(nvrtc=args.nvrtc, seed=args.seed))
            batch += 1
            for r in result.results:
                verdicts[r.verdict] += 1
                if r.verdict == "warp-bug":
                    print(f"warp-bug: {r.reason.splitlines()[0][:200]}", file=sys.stderr)
                if r.verdict != "accepted":
                    continue
                v = r.record["verification"]
                status = v["gradient_status"]
                statuses[status] += 1
                m = re.search(r"\((float\d+) path, rtol [^,]+, deviation ([^ ]+) of the scale", v["gradient_note"])
                if status == "checked" and m:
                    deviations[m.group(1)].append(float(m.group(2)))
                kind = "gradient-directed" if r.kernel.directed else "ordinary"
                if status.startswith("excluded") or status == "not-differentiable":
                    notes[f"{status}: {v['gradient_note'].split(':')[0][:90]}"] += 1
                    by_kind[kind][status] += 1
                for c in ("all", kind, *r.record["categories"]):
                    per_category[c][status] += 1
                if args.adjoint_reach and status == "checked":
                    for row, live in LV.adjoint_reach(r.kernel, r.record["id"]).items():
                        used[row] += 1
                        reach[row] += live
            print(f"  {drawn} kernels drawn, {sum(statuses.values())} accepted, {statuses['checked']} checked",
                  file=sys.stderr)
    seconds = time.perf_counter() - start
    accepted = sum(statuses.values())

    def share(counter: Counter) -> str:
        total = sum(counter.values())
        candidates = total - counter["not-differentiable"]
        checked = counter["checked"]
        return (f"{checked:4d}/{total:<4d} = {100 * checked / max(total, 1):5.1f} %   of candidates "
                f"{checked:4d}/{candidates:<4d} = {100 * checked / max(candidates, 1):5.1f} %")

    print(f"{drawn} kernels drawn (seed {args.seed}) in {seconds:.0f} s; verdicts: {dict(verdicts)}")
    print(f"accepted {accepted}; gradient statuses: {dict(statuses)}")
    print("\nshare checked (of accepted; of gradient candidates = accepted minus not-differentiable):")
    for c in ("all", "gradient-directed", "ordinary", *CATEGORIES):
        if per_category[c]:
            print(f"  {c:<18} {share(per_category[c])}")
    print("\nrelative deviation |v·Ju - u·Jᵀv| / scale of the checked kernels, per float path "
          "(what the rtol must exceed):")
    for path, devs in sorted(deviations.items()):
        q = np.quantile(devs, [0.5, 0.9, 0.99, 1.0])
        print(f"  {path}: n={len(devs)}  median {q[0]:.2g}  p90 {q[1]:.2g}  p99 {q[2]:.2g}  max {q[3]:.2g}")
    if args.adjoint_reach:
        rows = sorted(LV.DIFFERENTIABLE, key=lambda row: (reach[row], row))
        print(f"\nadjoint reach: checked kernels exercising each differentiable row's adjoint on a live path "
              f"({sum(1 for row in rows if reach[row] >= 20)} of {len(rows)} rows >= 20; rows never drawn: "
              f"{sum(1 for row in rows if not used[row])})")
        print("  " + ", ".join(f"{row} {reach[row]}/{used[row]}" for row in rows))
    for kind, counter in sorted(by_kind.items()):
        print(f"\n{kind} kernels not checked: " + ", ".join(f"{k} {n}" for k, n in counter.most_common()))
    print("\nreasons:")
    for note, count in notes.most_common():
        print(f"  {count:4d}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
