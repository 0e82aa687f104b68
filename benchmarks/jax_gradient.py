"""The exact gradient oracle measured: how many kernels JAX checks exactly, how far Warp's gradient lies from JAX's
on unpatched Warp, and which injected adjoint faults the exact check catches that the finite-difference check misses.

    python benchmarks/jax_gradient.py [--kernels 96] [--batch-size 12] [--seed 0] [--policy default]
                                      [--faults id1,id2 | --faults small] [--jobs 2] [--json out.json]

Each configuration (``control``: unpatched Warp; then each fault of ``--faults``, ``small`` meaning
``fault_table.EXACT_GRADIENT_FAULTS``) runs the same kernels (``--kernels`` drawn in batches of ``--batch-size`` from
``--seed``) through ``pipeline.verify_batch`` with ``Options(jax_gradient=True)`` in a child process whose ``warp`` is
a scratch copy with the fault applied (``benchmarks/fault_table.py``; a fresh kernel cache; the installed package is
checksummed before and after). ``--jobs`` configurations run at once.

Prints, per configuration: accepted kernels, gradient checked by finite differences (FD), of those checked exactly
by JAX (reverse / forward mode) and why the others were not; the reports: ``gradient-mismatch`` from FD,
``jax-gradient-mismatch`` from the exact check (FD passed those), other kinds. For the control, the distribution of
the exact check's deviation per float width (the tolerance's margin: ``harness.jax_backend.gradient.RTOLS``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(ROOT))

import fault_table as T  # noqa: E402


def _worker(args) -> int:
    """The child: verify the kernels and print one JSON line per kernel."""
    from harness.warp_side import warp_adapter as W
    from harness.generate import batch_policy, draw_kernels
    from harness.pipeline import Options, verify_batch

    W.init(os.environ.get("WARP_CACHE_PATH"))
    opts = Options(jax_gradient=True, nvrtc=False, policy=args.policy)
    batches = (args.kernels + args.batch_size - 1) // args.batch_size
    with tempfile.TemporaryDirectory(prefix="jax-gradient-") as work:
        for b in range(batches):
            ks = draw_kernels(args.seed + b, args.batch_size, batch_policy(args.policy))
            result = verify_batch(ks, Path(work), opts, batch_index=b)
            for r in result.results:
                e = r.exact
                fd = (r.record or {}).get("verification", {}).get("gradient_status", "")
                kind = r.reason.split(":", 1)[0] if r.verdict == "warp-bug" else ""
                print(json.dumps({"batch": b, "kernel": r.kernel.name, "verdict": r.verdict, "fd": fd, "kind": kind,
                                  "exact": None if e is None else e.status, "mode": None if e is None else e.mode,
                                  "deviation": None if e is None else e.deviation,
                                  "precision": None if e is None else e.precision,
                                  "profile": {} if e is None else {str(f): d for f, d in e.profile.items()},
                                  "note": "" if e is None else e.note[:200]}), flush=True)
    return 0


def run_config(label: str, fault, args, warp_dir: Path) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix=f"jg-{label}-") as tmp:
        tmp = Path(tmp)
        copy = T.make_scratch_copy(warp_dir, tmp)
        if fault is not None:
            T.apply_fault(fault, copy, warp_dir)
        cache = tmp / "cache"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp), str(ROOT), os.environ.get("PYTHONPATH", "")]),
                   WARP_CACHE_PATH=str(cache), PYTHONDONTWRITEBYTECODE="1")
        guard = (f"import os, warp\nassert os.path.realpath(warp.__file__).startswith({str(copy.resolve()) + os.sep!r})\n"
                 f"__file__ = {str(Path(__file__).resolve())!r}\nimport sys\nsys.argv = {[sys.argv[0], '--worker', *_child_argv(args)]!r}\n"
                 f"exec(compile(open({str(Path(__file__).resolve())!r}).read(), 'jax_gradient.py', 'exec'))\n")
        t = time.time()
        proc = subprocess.run([sys.executable, "-c", guard], env=env, capture_output=True, text=True, cwd=tmp)
        rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            print(f"[{label}] child exited {proc.returncode}: {tail}", flush=True)
        print(f"[{label}] {len(rows)} kernels in {time.time() - t:.0f} s", flush=True)
        return rows


def _child_argv(args) -> list[str]:
    return ["--kernels", str(args.kernels), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
            "--policy", args.policy]


def summarise(label: str, rows: list[dict]) -> dict:
    accepted = [r for r in rows if r["verdict"] == "accepted"]
    fd_checked = [r for r in rows if r["fd"] == "checked" or r["kind"] in ("gradient-mismatch",
                                                                             "jax-gradient-mismatch")]
    exact = [r for r in rows if r["exact"] in ("checked", "mismatch")]
    not_exact = Counter((r["exact"] or "none").split(":", 1)[-1] if r["exact"] != "unchecked" else "fd-unchecked"
                        for r in rows if r["verdict"] == "accepted" and r["exact"] not in ("checked", "mismatch"))
    kinds = Counter(r["kind"] for r in rows if r["verdict"] == "warp-bug")
    s = {"label": label, "kernels": len(rows), "accepted": len(accepted), "fd_checked": len(fd_checked),
         "exact_checked": len(exact), "exact_vjp": sum(r["mode"] == "vjp" for r in exact),
         "exact_jvp": sum(r["mode"] == "jvp" for r in exact), "not_exact": dict(not_exact), "reports": dict(kinds)}
    print(f"{label:22s} kernels {len(rows):4d}  accepted {len(accepted):4d}  FD-checked {len(fd_checked):4d}  "
          f"exact {len(exact):4d} (vjp {s['exact_vjp']}, jvp {s['exact_jvp']})  reports {dict(kinds) or '-'}")
    if not_exact:
        print(f"{'':22s} accepted, not exact: {dict(not_exact.most_common())}")
    return s


def deviations(rows: list[dict]) -> None:
    """The deviation's distribution per float width and mode; in reverse mode per element floor too."""
    import numpy as np

    from harness.jax_backend.gradient import FLOOR, PROFILE_FLOORS

    for precision in (16, 32, 64):
        for mode in ("vjp", "jvp"):
            done = [r for r in rows if r["exact"] in ("checked", "mismatch") and r["precision"] == precision
                    and r["mode"] == mode]
            if not done:
                continue
            floors = [None] + (list(PROFILE_FLOORS) if mode == "vjp" else [])
            for f in floors:
                d = np.array([r["deviation"] if f is None else r["profile"][str(f)] for r in done])
                label = f"floor {FLOOR:g} (the check)" if f is None else f"floor {f:g}"
                print(f"  float{precision} {mode} {label:22s} n {len(d)}, zero {int(np.sum(d == 0))}, "
                      f"median {np.median(d):.3g}, p99 {np.quantile(d, 0.99):.3g}, max {d.max():.3g}")


def would_catch(label: str, rows: list[dict]) -> None:
    """Per element floor: the kernels the finite-difference check passed whose exact deviation exceeds RTOLS."""
    from harness.jax_backend.gradient import PROFILE_FLOORS, RTOLS

    done = [r for r in rows if r["mode"] == "vjp" and r["profile"]]
    counts = {f: sum(r["profile"][str(f)] > RTOLS[r["precision"]] for r in done) for f in PROFILE_FLOORS}
    print(f"{label:22s} reverse-mode kernels over the tolerance, per element floor: "
          + ", ".join(f"{f:g}: {n}" for f, n in counts.items()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kernels", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--policy", default="default")
    p.add_argument("--faults", default="", help="comma-separated fault ids; 'small' stands for EXACT_GRADIENT_FAULTS")
    p.add_argument("--no-control", action="store_true")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--json", type=Path)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args)
    ids = []
    for i in filter(None, args.faults.split(",")):
        ids += [f.id for f in T.EXACT_GRADIENT_FAULTS] if i == "small" else [i]
    unknown = [i for i in ids if i not in T.FAULTS_BY_ID]
    if unknown:
        p.error(f"unknown fault ids: {', '.join(unknown)}")
    faults = [T.FAULTS_BY_ID[i] for i in ids]
    configs = ([] if args.no_control else [("control", None)]) + [(f.id, f) for f in faults]
    warp_dir = T.installed_warp_dir()
    before = T.package_checksum(warp_dir)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        runs = list(pool.map(lambda c: (c[0], run_config(c[0], c[1], args, warp_dir)), configs))
    if T.package_checksum(warp_dir) != before:
        raise SystemExit("the installed warp package changed")
    if args.json:
        args.json.write_text(json.dumps({"rows": {label: rows for label, rows in runs}}))
    print()
    summaries = [summarise(label, rows) for label, rows in runs]
    print()
    for label, rows in runs:
        would_catch(label, rows)
    for label, rows in runs:
        if label == "control":
            print("\nthe exact check's deviation on unpatched Warp:")
            deviations(rows)
    if args.json:
        args.json.write_text(json.dumps({"summaries": summaries, "rows": {label: rows for label, rows in runs}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
