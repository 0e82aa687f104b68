"""``python -m harness.known_bugs``: is each Warp bug we found still there?

Every bug has a directory ``known_bugs/<slug>/`` with ``repro.py`` (standalone: exits 1 while the bug is
present, prints ``not reproduced`` otherwise), ``report.md`` (ready for Warp's bug-report form) and
``meta.json`` (title, kind, status: new / documented-limitation / duplicate / related, upstream thread, root
cause, how the fuzzer steers around it). This command runs every reproducer in its own process with an
empty kernel cache (:func:`harness.releases.run_repro`) and prints one line per bug: ``present`` or
``fixed`` (or ``error``/``timeout`` when the script itself failed, e.g. an API an old release lacks), so an
exclusion or grammar restriction can be lifted the day Warp fixes its bug.

    python -m harness.known_bugs [--warp-version X.Y.Z] [--only SLUG ...] [--timeout S] [--jobs N]
                                 [--update-reports] [--index]

``--warp-version`` runs the reproducers with another warp-lang release, installed once into a cached virtual
environment (:mod:`harness.releases`). ``--update-reports`` writes the *System Information* section of
each ``report.md`` (``warp.print_diagnostics()`` of the Warp used, and whether it reproduced there);
``--index`` rewrites ``known_bugs/README.md`` from the ``meta.json`` files. ``--json`` prints the
results as JSON instead of the table.

Exit status: 0 when every reproducer ran (present or fixed), 1 when one ended in ``error``/``timeout``,
2 on bad arguments or an uninstallable release.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .cli import OneLineParser
from .releases import ReleaseError, ReproRun, diagnostics, installed_version, interpreter, run_repro

ROOT = Path(__file__).resolve().parents[1] / "known_bugs"
META_FIELDS = ("slug", "title", "kind", "status", "upstream", "status_note", "root_cause", "handled_by", "found_by")
STATUSES = ("new", "documented-limitation", "duplicate", "related")
KINDS = ("wrong-gradient", "wrong-result", "build-failure", "hang", "precision")
SYSINFO_BEGIN, SYSINFO_END = "<!-- system-info:begin -->", "<!-- system-info:end -->"


def bug_dirs(root: Path = ROOT) -> list[Path]:
    """The bug directories (those holding a ``repro.py``), by name."""
    return sorted(p.parent for p in root.glob("*/repro.py"))


def load_meta(bug: Path) -> dict:
    """``meta.json`` of a bug directory, checked: every field present, status and kind from their lists."""
    meta = json.loads((bug / "meta.json").read_text())
    missing = [f for f in META_FIELDS if f not in meta]
    if missing:
        raise ValueError(f"{bug.name}/meta.json lacks {', '.join(missing)}")
    if meta["status"] not in STATUSES:
        raise ValueError(f"{bug.name}/meta.json: status {meta['status']!r} is not one of {', '.join(STATUSES)}")
    if meta["kind"] not in KINDS:
        raise ValueError(f"{bug.name}/meta.json: kind {meta['kind']!r} is not one of {', '.join(KINDS)}")
    if meta["slug"] != bug.name:
        raise ValueError(f"{bug.name}/meta.json: slug {meta['slug']!r} is not the directory name")
    return meta


def status_text(meta: dict) -> str:
    upstream = meta["upstream"]
    return {"new": "new", "documented-limitation": "documented limitation",
            "duplicate": f"duplicate of {upstream}", "related": f"related to {upstream}"}[meta["status"]]


def index_markdown(bugs: list[Path]) -> str:
    """``known_bugs/README.md``: one line per bug, grouped by root cause (bugs sharing one are adjacent)."""
    metas = [load_meta(b) for b in bugs]
    order = {}
    for m in metas:
        order.setdefault(m["root_cause"], len(order))
    metas.sort(key=lambda m: (order[m["root_cause"]], m["slug"]))
    counts = {s: sum(1 for m in metas if m["status"] == s) for s in STATUSES}
    lines = [
        "# Warp bugs found by warpsmith",
        "",
        "One directory per bug: `repro.py` (standalone, warp + numpy: exits 1 while the bug is present, prints "
        "`not reproduced` otherwise), `report.md` (ready to paste into Warp's GitHub bug-report form: suggested "
        "title, description, minimal script, expected vs actual and how the expected value was derived, a variant "
        "that works, the generated C++ lines, system information) and `meta.json` (the fields of this table).",
        "",
        "`python -m harness.known_bugs` runs every reproducer in its own process with an empty kernel cache and "
        "prints which are still present; `--warp-version X.Y.Z` does it with another release (installed once into "
        "a cached virtual environment); `python -m harness.bisect known_bugs/<bug>` finds the first release "
        "where one reproduces. `tests/test_gradient.py` fails when a reproducer stops reproducing, so the "
        "matching restriction can be lifted.",
        "",
        f"{len(metas)} bugs: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s]) + ". Rows sharing a "
        "root cause are adjacent (same *root cause* key).",
        "",
        "| bug | kind | status | root cause | how warpsmith steers around it | found by |",
        "|---|---|---|---|---|---|",
    ]
    for m in metas:
        cells = [f"[{m['title']}]({m['slug']}/report.md)", m["kind"], status_text(m), f"`{m['root_cause']}`",
                 m["handled_by"], m["found_by"] or "—"]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    lines += ["", "Status notes:", ""]
    lines += [f"- `{m['slug']}`: {m['status_note']}" for m in metas]
    return "\n".join(lines) + "\n"


def system_information(version: str, run: ReproRun, diag: str) -> str:
    verdict = {"present": "reproduces (the script exits with status 1)",
               "fixed": "does not reproduce (`not reproduced`)"}.get(run.outcome, f"could not be run ({run.outcome})")
    return "\n".join([SYSINFO_BEGIN, f"Warp {version}, CPU device: the script above {verdict}.", "",
                      'Output of `python -c "import warp; warp.print_diagnostics()"`:', "", "```text", diag, "```",
                      SYSINFO_END])


def update_report(bug: Path, text: str) -> bool:
    """Replace the system-information block of ``bug/report.md``; False when the markers are missing."""
    path = bug / "report.md"
    report = path.read_text()
    start, end = report.find(SYSINFO_BEGIN), report.find(SYSINFO_END)
    if start < 0 or end < start:
        return False
    path.write_text(report[:start] + text + report[end + len(SYSINFO_END):])
    return True


def parse_args(argv):
    p = OneLineParser(prog="python -m harness.known_bugs", name="known_bugs",
                      description="Run every known Warp bug's reproducer and print which are still present.")
    p.add_argument("--warp-version", default=None, help="run with this warp-lang release (default: the installed one)")
    p.add_argument("--only", nargs="+", default=None, metavar="SLUG", help="only these bugs (directory names)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per reproducer (default 300)")
    p.add_argument("--jobs", type=int, default=1, help="reproducers run at once (default 1)")
    p.add_argument("--update-reports", action="store_true", help="write each report.md's System Information")
    p.add_argument("--index", action="store_true", help="rewrite known_bugs/README.md from the meta.json files")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.timeout <= 0:
        p.error("--timeout must be > 0")
    if args.jobs < 1:
        p.error("--jobs must be >= 1")
    bugs = bug_dirs(args.root)
    if args.only:
        unknown = sorted(set(args.only) - {b.name for b in bugs})
        if unknown:
            p.error(f"no such bug: {', '.join(unknown)} (see {args.root.name}/README.md)")
        bugs = [b for b in bugs if b.name in args.only]
    if not bugs:
        p.error(f"no bug directories with a repro.py under {args.root}")
    try:
        for b in bugs:
            load_meta(b)
    except (ValueError, OSError) as error:
        p.error(str(error))
    return args, bugs


def main(argv=None) -> int:
    args, bugs = parse_args(argv)
    if args.index:
        (args.root / "README.md").write_text(index_markdown(bug_dirs(args.root)))
        print(f"wrote {args.root.name}/README.md ({len(bug_dirs(args.root))} bugs)", file=sys.stderr)
    try:
        python = interpreter(args.warp_version, log=lambda line: print(f"[known_bugs] {line}", file=sys.stderr))
    except ReleaseError as error:
        print(f"known_bugs: error: {error}", file=sys.stderr)
        return 2
    version = args.warp_version or installed_version()
    print(f"[known_bugs] {len(bugs)} reproducers with warp-lang {version}, each in a fresh process", file=sys.stderr)

    def one(bug: Path) -> tuple[Path, ReproRun]:
        run = run_repro(bug / "repro.py", python, args.timeout)
        print(f"[known_bugs] {bug.name}: {run.outcome} ({run.seconds:.1f} s)", file=sys.stderr, flush=True)
        return bug, run

    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, bugs))
    if args.update_reports:
        diag = diagnostics(python)
        for bug, run in results:
            if not update_report(bug, system_information(version, run, diag)):
                print(f"known_bugs: warning: {bug.name}/report.md has no system-info markers", file=sys.stderr)
    rows = []
    for bug, run in results:
        meta = load_meta(bug)
        rows.append({"bug": bug.name, "kind": meta["kind"], "status": status_text(meta), "warp": version,
                     "result": run.outcome, "seconds": round(run.seconds, 1), "detail": run.detail[:200]})
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        width = max(len(r["bug"]) for r in rows)
        print(f"{'bug':<{width}}  {'kind':<14}  {'result':<8}  {'s':>5}  detail")
        for r in rows:
            print(f"{r['bug']:<{width}}  {r['kind']:<14}  {r['result']:<8}  {r['seconds']:>5.1f}  {r['detail'][:90]}")
        tally = {o: sum(1 for r in rows if r["result"] == o) for o in ("present", "fixed", "error", "timeout")}
        print(f"warp-lang {version}: " + ", ".join(f"{n} {o}" for o, n in tally.items() if n))
    return 1 if any(r["result"] in ("error", "timeout") for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
