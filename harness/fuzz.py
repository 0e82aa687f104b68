"""``python -m harness.fuzz``: hunt for Warp bugs for a time budget, writing one shrunk report per bug.

Each round runs Hypothesis over batches of generated kernels (``lists(kernels())``). A batch in which Warp
disagrees with the reference, fails to compile a valid kernel, or fails NVRTC raises; Hypothesis then
shrinks the batch to one kernel and that kernel to a minimal one, and the minimal failure is written by
:class:`harness.report.ReportWriter` as ``<reports>/<signature>/{repro.py, report.md, failure.json}``,
deduplicated by signature across runs. Every report's reproducer is then re-run in a fresh process with
a fresh kernel cache; ``failure.json`` records whether it reproduced there.

Exit status: 1 if any Warp failure was found, 0 if none, 2 on bad arguments.
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
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Flaky

from grammar.policy import DEFAULT_POLICY
from strategies import kernels

from . import warp_adapter as W
from .pipeline import Options, verify_batch
from .report import Failure, ReportWriter


class WarpFailureFound(Exception):
    """Raised inside the property so Hypothesis shrinks; one subclass per failure kind."""


class _KindExceptions(dict):
    """One WarpFailureFound subclass per failure kind, made on first use (any kind, e.g. differential-opt2)."""

    def __missing__(self, kind):
        self[kind] = type(kind.title().replace("-", "") + "Found", (WarpFailureFound,), {})
        return self[kind]


_KIND_EXCEPTIONS = _KindExceptions()


def check_batch(batch, workdir: Path, opts: Options, stats: Counter, found: dict,
                errors_dir: Path | None = None) -> None:
    """The property: every kernel of the batch is accepted, screened or (our) generator error. Generator
    errors are bugs of warpsmith, not Warp's: each is written to ``errors_dir`` (kernel + reason)."""
    result = verify_batch(batch, workdir, opts)
    stats.update(result.counts())
    for r in result.results:
        if r.verdict == "generator-error" and errors_dir is not None:
            errors_dir.mkdir(parents=True, exist_ok=True)
            path = errors_dir / f"{r.kernel.name}.txt"
            if not path.exists():
                path.write_text(f"{r.kernel.source}\n# {r.reason}\n".replace("\n# ", "\n\n# ", 1))
                print(f"[fuzz] generator-error (a bug of ours): {r.reason.splitlines()[0][:200]} -> {path}",
                      flush=True)
        if r.verdict == "warp-bug" and r.failure is not None:
            found[r.failure.kind] = r.failure
            raise _KIND_EXCEPTIONS[r.failure.kind](r.reason.splitlines()[0])


def hunt(seed: int, examples: int, batch_size: int, opts: Options, workdir: Path, deadline: float,
         stats: Counter, errors_dir: Path | None = None) -> tuple[Failure | None, str]:
    """One Hypothesis run; returns (minimal failure or None, status)."""
    found: dict[str, Failure] = {}

    @settings(
        max_examples=examples, database=None, deadline=None, derandomize=False,
        suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
        report_multiple_bugs=False, verbosity=Verbosity.quiet,
    )
    @hypothesis.seed(seed)
    @given(st.lists(kernels(DEFAULT_POLICY), min_size=1, max_size=batch_size))
    def prop(batch):
        if not found and time.monotonic() > deadline:
            return  # budget spent while still searching: let the run end quickly
        check_batch(batch, workdir, opts, stats, found, errors_dir)

    try:
        prop()
    except WarpFailureFound as error:
        kind = next(k for k, exc in _KIND_EXCEPTIONS.items() if isinstance(error, exc))
        return found[kind], "found"
    except Flaky as error:
        first = next(iter(found.values()), None)
        return first, f"flaky ({type(error).__name__})"
    return None, "clean"


def reproduces_standalone(report_dir: Path, timeout: float = 300) -> bool | None:
    """Run repro.py in a fresh process with an empty kernel cache; True if it still fails."""
    with tempfile.TemporaryDirectory(prefix="warpsmith-repro-") as cache:
        env = {**os.environ, "WARP_CACHE_PATH": cache}
        try:
            proc = subprocess.run([sys.executable, "repro.py"], cwd=report_dir, env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
    return proc.returncode != 0


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m harness.fuzz",
                                description="Hunt for Warp bugs with generated kernels for a time budget.")
    p.add_argument("--budget-s", type=float, required=True, help="seconds to search (shrinking may run past it)")
    p.add_argument("--reports", type=Path, default=Path("reports"), help="report directory (default ./reports)")
    p.add_argument("--seed", type=int, default=None, help="first Hypothesis seed (default: random)")
    p.add_argument("--batch-size", type=int, default=24, help="kernels per Warp module (default 24)")
    p.add_argument("--examples-per-round", type=int, default=8, help="batches per Hypothesis run (default 8)")
    p.add_argument("--opt-level", type=int, default=0, choices=range(4))
    p.add_argument("--no-nvrtc", action="store_true", help="skip NVRTC compilation of the CUDA code")
    args = p.parse_args(argv)
    if not args.budget_s > 0:
        p.error("--budget-s must be > 0")
    if args.batch_size < 1 or args.examples_per_round < 1:
        p.error("--batch-size and --examples-per-round must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        args.reports.mkdir(parents=True, exist_ok=True)
        probe = args.reports / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        print(f"fuzz: error: cannot write reports to {args.reports}: {error}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    start = time.monotonic()
    deadline = start + args.budget_s
    stats: Counter = Counter()
    writer = ReportWriter(args.reports, W.diagnostics)
    found: list[dict] = []
    from .pipeline import FUZZ_DIFFERENTIAL

    # the differential oracles (harness.differential): each batch is also built in one variant configuration
    opts = Options(optimization_level=args.opt_level, nvrtc=not args.no_nvrtc, differential=FUZZ_DIFFERENTIAL)
    rounds = 0
    with tempfile.TemporaryDirectory(prefix="warpsmith-fuzz-") as scratch:
        W.init(cache_dir=os.path.join(scratch, "kernel-cache"))
        while time.monotonic() < deadline:
            round_seed = seed + rounds
            rounds += 1
            workdir = Path(scratch) / f"round{rounds}"
            failure, status = hunt(round_seed, args.examples_per_round, args.batch_size, opts, workdir,
                                   deadline, stats, Path(args.reports) / "generator-errors")
            W.clear_kernel_cache()
            if failure is None:
                continue
            report_dir = writer.write(failure)
            entry = {"kind": failure.kind, "kernel": failure.kernel_name, "message": failure.message[:200],
                     "seed": round_seed, "status": status, "report": str(report_dir) if report_dir else "duplicate"}
            if report_dir is not None:
                entry["reproduces_standalone"] = reproduces_standalone(report_dir)
                meta_path = report_dir / "failure.json"
                meta = json.loads(meta_path.read_text())
                meta.update(hypothesis_seed=round_seed, status=status,
                            reproduces_standalone=entry["reproduces_standalone"])
                meta_path.write_text(json.dumps(meta, indent=2) + "\n")
            found.append(entry)
            print(f"[fuzz] {failure.kind}: {failure.message[:160]} -> {entry['report']}", flush=True)
    elapsed = time.monotonic() - start
    tested = sum(stats.values())
    print(f"fuzz: {elapsed:.0f} s, {rounds} rounds from seed {seed}, {tested} kernel verifications "
          f"({', '.join(f'{k} {n}' for k, n in sorted(stats.items())) or 'none'}); "
          f"{len(found)} failures found, {sum(1 for f in found if f['report'] != 'duplicate')} new reports in {args.reports}")
    for f in found:
        print("  " + json.dumps(f))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
