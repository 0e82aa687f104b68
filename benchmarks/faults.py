"""Fault-injection benchmark: how many injected Warp faults does ``python -m harness.fuzz`` kill?

    python benchmarks/faults.py --budget-s 120 [--seed 0] [--faults id1,id2 | --category C]
                                [--fuzz-args "..."] [--json out.json] [--no-control] [--probe] [--list]

The installed ``warp`` package is copied to a temporary directory (``bin/`` libraries symlinked); each
fault of ``benchmarks/fault_table.py`` is applied to that copy only, and the fuzzer runs with the copy's
parent first on ``PYTHONPATH`` (the subprocess checks ``warp.__file__`` is in the copy before it starts).
The fuzzer uses a private, fresh kernel cache, so a patched native header takes effect.

Per fault it prints: killed / not killed / overran, the time to kill (the first ``[fuzz] found <kind>`` or
``[fuzz] <kind>:`` line on the fuzzer's stdout, else the exit with status 1), and the report kinds found in
``<reports>/<signature>/failure.json`` (generator errors do not count). Then the kill rate, and a control
run on an unpatched copy whose Warp-failure reports are false alarms.

Before any fuzzing each fault's probe (a one-kernel script) runs on the patched copy and on the unpatched
copy; a fault whose probe prints the same on both is ``inert`` and excluded from the kill rate.
``--probe`` runs only the probes. The installed package is checksummed (sha256 over every file) before
and after; a change raises.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fault_table as T  # noqa: E402

WARP_FAILURE_KINDS = ("mismatch", "gradient-mismatch", "compile-error", "nvrtc-error", "crash")
PROBE_TIMEOUT_S = 300
_FOUND_LINE = re.compile(r"^\[fuzz\] (?:found )?([a-z][a-z0-9-]*)\b")


def is_warp_failure_kind(kind: str) -> bool:
    return kind in WARP_FAILURE_KINDS or kind.startswith("differential-")


def _env(copy_parent: Path, cache: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy_parent), str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["WARP_CACHE_PATH"] = cache
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _guard(copy_dir: Path) -> str:
    """Python source that aborts unless ``import warp`` resolves to the scratch copy."""
    return (f"import os, warp\n"
            f"if not os.path.realpath(warp.__file__).startswith({str(copy_dir.resolve()) + os.sep!r}):\n"
            f"    raise SystemExit('warp was imported from ' + warp.__file__ + ', not the scratch copy')\n")


# ---- probes ----------------------------------------------------------------------------------------

def run_probe(fault: T.Fault, copy_dir: Path, workdir: Path) -> tuple[str, str]:
    """Run the fault's probe against the copy as it is now; returns (status, printed line or error)."""
    script = workdir / f"probe_{fault.id.replace('-', '_')}.py"
    script.write_text(_guard(copy_dir) + T.PROBE_PRELUDE + fault.probe)
    with tempfile.TemporaryDirectory(prefix="faults-cache-") as cache:
        try:
            proc = subprocess.run([sys.executable, str(script)], cwd=workdir, env=_env(copy_dir.parent, cache),
                                  capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return "error", "timeout"
    out = " ".join(" ".join(line.split()[1:]) for line in proc.stdout.splitlines() if line.startswith("PROBE "))
    if proc.returncode != 0 or not out:
        last = proc.stderr.strip().splitlines()[-1:] or proc.stdout.strip().splitlines()[-1:]
        return "error", (f"exit {proc.returncode}: " + " ".join(last))[-300:]
    return "ok", out


def probe_faults(faults, copy_dir: Path, warp_dir: Path, workdir: Path) -> dict[str, dict]:
    """{id: {status: active|inert|error, faulty, expected}}; the expected line comes from the unpatched copy."""
    results = {}
    for fault in faults:
        status, expected = run_probe(fault, copy_dir, workdir)
        if status != "ok":
            results[fault.id] = {"status": "error", "faulty": "", "expected": expected}
        else:
            T.apply_fault(fault, copy_dir, warp_dir)
            try:
                status, faulty = run_probe(fault, copy_dir, workdir)
            finally:
                T.restore_file(fault, copy_dir, warp_dir)
            if status != "ok":
                # a patched Warp that fails the probe (crash, compile error) is active
                results[fault.id] = {"status": "active", "faulty": faulty, "expected": expected}
            else:
                results[fault.id] = {"status": "active" if faulty != expected else "inert",
                                     "faulty": faulty, "expected": expected}
        r = results[fault.id]
        print(f"probe {fault.id:32s} {r['status']:7s} faulty {r['faulty'][:70]!s:72s} expected {r['expected'][:70]}",
              flush=True)
    return results


# ---- fuzz runs ---------------------------------------------------------------------------------------

def run_fuzz(label: str, copy_dir: Path, reports: Path, budget_s: float, seed: int, fuzz_args: list[str],
             shrink_allowance_s: float, stop_at_kill: bool = False) -> dict:
    """One ``python -m harness.fuzz`` run against the copy as it is now; with ``stop_at_kill`` the run's
    process group is killed as soon as its first Warp-failure line appears."""
    argv = ["--budget-s", str(budget_s), "--seed", str(seed), "--reports", str(reports), *fuzz_args]
    code = _guard(copy_dir) + f"import runpy, sys\nsys.argv = ['harness.fuzz', *{argv!r}]\n" \
                              f"runpy.run_module('harness.fuzz', run_name='__main__')\n"
    limit = budget_s + 60 + shrink_allowance_s
    with tempfile.TemporaryDirectory(prefix="faults-cache-") as cache:
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=_env(copy_dir.parent, cache),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        first_found: list[tuple[float, str]] = []
        stopped: list[bool] = []
        tail: list[str] = []

        def read():
            for line in proc.stdout:
                tail.append(line.rstrip())
                del tail[:-40]
                m = _FOUND_LINE.match(line)
                if m and is_warp_failure_kind(m.group(1)) and not first_found:
                    first_found.append((time.monotonic() - start, m.group(1)))
                    if stop_at_kill:
                        stopped.append(True)
                        _kill_group(proc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        overran = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            overran = True
            _kill_group(proc)
            proc.wait()
        elapsed = time.monotonic() - start
        reader.join(timeout=10)
    kinds = report_kinds(reports)
    if not kinds and first_found:
        kinds = [first_found[0][1]]  # stopped before the report was written
    killed = bool(first_found) or proc.returncode == 1 or bool(kinds)
    time_to_kill = first_found[0][0] if first_found else (elapsed if killed else None)
    if proc.returncode not in (0, 1) and not overran and not stopped:
        status = "error"
    else:
        status = "killed" if killed else ("overran" if overran else "not killed")
    if overran and killed:
        status = "killed (overran)"
    return {"label": label, "status": status, "killed": killed, "overran": overran,
            "time_to_kill_s": None if time_to_kill is None else round(time_to_kill, 1),
            "elapsed_s": round(elapsed, 1), "returncode": proc.returncode, "kinds": kinds,
            "reports": str(reports), "tail": tail[-8:]}


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def report_kinds(reports: Path) -> list[str]:
    """Warp-failure kinds of the reports written (``generator-errors/`` is ours, not Warp's)."""
    kinds = []
    if reports.is_dir():
        for meta in sorted(reports.glob("*/failure.json")):
            if meta.parent.name == "generator-errors":
                continue
            try:
                kind = json.loads(meta.read_text()).get("kind", "?")
            except (OSError, json.JSONDecodeError):
                kind = "?"
            if is_warp_failure_kind(kind):
                kinds.append(kind)
    return sorted(set(kinds))


# ---- command line ----------------------------------------------------------------------------------

def select_faults(args) -> list[T.Fault]:
    faults = list(T.FAULTS)
    if args.faults:
        ids = [i.strip() for i in args.faults.split(",") if i.strip()]
        unknown = [i for i in ids if i not in T.FAULTS_BY_ID]
        if unknown:
            raise SystemExit(f"faults: unknown fault ids {unknown}; see --list")
        faults = [T.FAULTS_BY_ID[i] for i in ids]
    if args.category:
        if args.category not in T.CATEGORIES:
            raise SystemExit(f"faults: unknown category {args.category!r}; one of {', '.join(T.CATEGORIES)}")
        faults = [f for f in faults if f.category == args.category]
    return faults


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python benchmarks/faults.py", description=__doc__.splitlines()[0])
    p.add_argument("--budget-s", type=float, default=120, help="fuzz budget per fault (default 120)")
    p.add_argument("--seed", type=int, default=0, help="fuzzer seed, the same for every fault (default 0)")
    sel = p.add_mutually_exclusive_group()
    sel.add_argument("--faults", help="comma-separated fault ids")
    sel.add_argument("--category", help=f"one of {', '.join(T.CATEGORIES)}")
    p.add_argument("--fuzz-args", default="", help="extra arguments for python -m harness.fuzz")
    p.add_argument("--shrink-allowance-s", type=float, default=240,
                   help="seconds past budget + 60 s before a fuzz run is killed as overran (default 240)")
    p.add_argument("--stop-at-kill", action="store_true",
                   help="end a fault's fuzz run at its first Warp-failure line (saves the rest of the budget)")
    p.add_argument("--json", type=Path, help="write the results as JSON")
    p.add_argument("--no-control", action="store_true", help="skip the control run on unpatched Warp")
    p.add_argument("--probe", action="store_true", help="only run the probes")
    p.add_argument("--list", action="store_true", help="list the faults and exit")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    faults = select_faults(args)
    warp_dir = T.installed_warp_dir()
    for fault in faults:  # refuse a table whose anchors moved (Warp upgraded)
        T.check_anchor(fault, warp_dir)
    if args.list:
        for f in faults:
            print(f"{f.id:32s} {f.category:12s} {f.file:18s} {f.description}")
        print(f"{len(faults)} faults")
        return 0
    before = T.package_checksum(warp_dir)
    results: dict = {"warp_dir": str(warp_dir), "budget_s": args.budget_s, "seed": args.seed,
                     "fuzz_args": args.fuzz_args, "faults": {}}
    try:
        with tempfile.TemporaryDirectory(prefix="warpsmith-faults-") as tmp:
            tmp = Path(tmp)
            copy_dir = T.make_scratch_copy(warp_dir, tmp / "pkg")
            workdir = tmp / "work"
            workdir.mkdir()
            probes = probe_faults(faults, copy_dir, warp_dir, workdir)
            for fid, p in probes.items():
                results["faults"][fid] = {"probe": p}
            counts = {s: sum(1 for p in probes.values() if p["status"] == s) for s in ("active", "inert", "error")}
            print(f"probes: {counts['active']} active, {counts['inert']} inert, {counts['error']} error "
                  f"(inert and error faults are excluded from the kill rate)", flush=True)
            if not args.probe:
                fuzz_args = shlex.split(args.fuzz_args)
                active = [f for f in faults if probes[f.id]["status"] == "active"]
                for fault in active:
                    T.apply_fault(fault, copy_dir, warp_dir)
                    try:
                        r = run_fuzz(fault.id, copy_dir, tmp / "reports" / fault.id, args.budget_s, args.seed,
                                     fuzz_args, args.shrink_allowance_s, args.stop_at_kill)
                    finally:
                        T.restore_file(fault, copy_dir, warp_dir)
                    results["faults"][fault.id]["fuzz"] = r
                    ttk = "" if r["time_to_kill_s"] is None else f"{r['time_to_kill_s']:7.1f} s"
                    print(f"fuzz  {fault.id:32s} {r['status']:17s} {ttk:9s} {','.join(r['kinds']) or '-':24s} "
                          f"(ran {r['elapsed_s']:.0f} s)", flush=True)
                    if r["status"] == "error":
                        print("      " + "\n      ".join(r["tail"]), flush=True)
                killed = [f.id for f in active if results["faults"][f.id]["fuzz"]["killed"]]
                times = sorted(results["faults"][i]["fuzz"]["time_to_kill_s"] for i in killed)
                results["kill_rate"] = len(killed) / len(active) if active else None
                median = f", median time to kill {times[len(times) // 2]:.1f} s" if times else ""
                print(f"kill rate: {len(killed)}/{len(active)} active faults"
                      f"{'' if not active else f' ({100 * len(killed) / len(active):.0f} %)'}{median}; "
                      f"{counts['inert']} inert and {counts['error']} probe errors excluded", flush=True)
                if not args.no_control:
                    r = run_fuzz("control", copy_dir, tmp / "reports" / "control", args.budget_s, args.seed,
                                 fuzz_args, args.shrink_allowance_s)
                    results["control"] = r
                    print(f"control (unpatched Warp): {len(r['kinds'])} false-alarm kinds "
                          f"{','.join(r['kinds']) or '-'}; status {r['status']}, ran {r['elapsed_s']:.0f} s",
                          flush=True)
    finally:
        after = T.package_checksum(warp_dir)
        if after != before:
            raise RuntimeError(f"the installed Warp package at {warp_dir} CHANGED during the benchmark "
                               f"(sha256 {before} -> {after})")
    print(f"installed Warp unchanged (sha256 {after[:16]}...)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
