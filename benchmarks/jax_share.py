"""How much of the generated mix the JAX backend expresses, and whether JAX agrees with the numpy reference.

    python benchmarks/jax_share.py [--batches 8] [--seed 3000] [--policy default] [--no-run]

Draws ``--batches`` batches of 12 kernels (the generator's seeded draws, ``harness.generate.draw_kernels``), renders
each with :func:`harness.jax_backend.render.render` and prints the expressible share per category (a kernel counts in
every category it exercises) and the reasons of the rest (the first construct met). Unless ``--no-run``, every
expressible kernel is run by JAX (jit, CPU, in a memory-capped child process) on its first coverage-chosen inputs and
compared with the numpy reference by the same conditioned comparison Warp's outputs get: ``match`` / ``ill-conditioned``
(screened) / ``mismatch`` (a bug of ours or of JAX, to triage) / ``jax-crash`` / ``jax-error``.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grammar.policy import POLICIES  # noqa: E402
from harness.generate import batch_policy, draw_kernels  # noqa: E402
from harness.oracle.input_choice import first_inputs  # noqa: E402
from harness.oracle.inputs import INPUT_ATTEMPTS, profile_for_attempt  # noqa: E402
from harness.jax_backend.render import Inexpressible, render  # noqa: E402
from strategies.categories import CATEGORIES  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/jax_share.py", description=__doc__.split("\n")[0])
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--seed", type=int, default=3000)
    p.add_argument("--policy", choices=sorted(POLICIES), default="default")
    p.add_argument("--no-run", action="store_true", help="only render (no JAX execution)")
    args = p.parse_args(argv)

    checker = None
    if not args.no_run:
        from harness.jax_backend.oracle import IsolatedChecker

        checker = IsolatedChecker()
    per_cat = collections.defaultdict(lambda: [0, 0])
    reasons, statuses = collections.Counter(), collections.Counter()
    started, n = time.perf_counter(), 0
    for b in range(args.batches):
        for k in draw_kernels(args.seed + b, 12, batch_policy(args.policy)):
            n += 1
            try:
                program = render(k)
            except Inexpressible as e:
                reasons[str(e).split(" (")[0] if e.reason == "no-jax-spelling" else e.reason] += 1
                for c in k.categories:
                    per_cat[c][1] += 1
                continue
            for c in k.categories:
                per_cat[c][0] += 1
                per_cat[c][1] += 1
            if checker is None:
                continue
            base = (args.seed + b) * 100 + n
            seed, values = first_inputs(k, base, profile_for_attempt(0, base, INPUT_ATTEMPTS))
            status, mismatches = checker.check(program, k, values, seed)
            statuses[status] += 1
            if status == "mismatch":
                print(f"mismatch: batch seed {args.seed + b}, kernel {k.name}: {mismatches}", file=sys.stderr)
        print(f"[jax_share] {b + 1}/{args.batches} batches, {n} kernels, {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
    if checker is not None:
        checker.close()
    expressible = n - sum(reasons.values())
    print(f"{n} kernels (seeds {args.seed}..{args.seed + args.batches - 1}, policy {args.policy}): "
          f"{expressible} expressible ({100 * expressible / max(n, 1):.1f} %)")
    print("per category: expressible / kernels in it")
    for c in CATEGORIES:
        e, t = per_cat[c]
        print(f"  {c:18s} {e:4d} / {t:4d}  ({100 * e / max(t, 1):5.1f} %)")
    print("first inexpressible construct:")
    for r, c in reasons.most_common():
        print(f"  {c:4d}  {r}")
    if checker is not None:
        print("JAX vs the numpy reference: " + ", ".join(f"{s} {c}" for s, c in statuses.most_common()))
    print(f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
