"""``python -m harness.bisect REPORT_DIR``: the first Warp release where a bug reproduces.

``REPORT_DIR`` holds a standalone ``repro.py`` (``known_bugs/<bug>/`` or a report directory written by
``harness.fuzz``/``collect``): status 1 while the bug is present, ``not reproduced`` otherwise. The releases of
warp-lang from ``--oldest`` (default 1.10.0) to ``--newest`` (default: the installed one) are listed from the
package index, each installed once into a cached virtual environment (:mod:`harness.releases`), and the
reproducer is run in a fresh process per release. The newest and the oldest releases are tried first; when they
differ, a binary search finds the transition (the bug is assumed to appear once and stay, or to be fixed once
and stay fixed). A release on which the script itself fails (an API it does not have: outcome ``error``) is
printed and skipped by the search.

    python -m harness.bisect known_bugs/mod_divisor_adjoint [--oldest 1.10.0] [--newest 1.19.0] [--timeout 300]

Prints one line per release tried, then ``first reproducing: X`` and ``last not reproducing: Y`` for a bug
that appeared within the range (``last reproducing`` / ``first fixed`` for one fixed within it; only the oldest
release when it reproduces in every release tried). Exit status: 0 when a verdict was reached, 1 when no release could run
the script, 2 on bad arguments or when the releases cannot be listed or installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .cli import OneLineParser
from .releases import OLDEST, ReleaseError, available_versions, installed_version, interpreter, run_repro, version_key


def parse_args(argv):
    p = OneLineParser(prog="python -m harness.bisect", name="bisect",
                      description="Find the first warp-lang release where a reproducer reproduces.")
    p.add_argument("report_dir", type=Path, help="a directory holding repro.py")
    p.add_argument("--oldest", default=OLDEST, help=f"oldest release to try (default {OLDEST})")
    p.add_argument("--newest", default=None, help="newest release to try (default: the installed one)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per run (default 300)")
    args = p.parse_args(argv)
    if not (args.report_dir / "repro.py").is_file():
        p.error(f"{args.report_dir} has no repro.py")
    for flag in ("oldest", "newest"):
        value = getattr(args, flag)
        if value is not None and not all(part.isdigit() for part in value.split(".")):
            p.error(f"--{flag}: not a release number: {value!r}")
    if args.timeout <= 0:
        p.error("--timeout must be > 0")
    return args


class Bisection:
    """Runs the reproducer on releases, remembering each outcome."""

    def __init__(self, script: Path, timeout: float, say=print):
        self.script, self.timeout, self.say = script, timeout, say
        self.outcomes: dict[str, str] = {}

    def outcome(self, version: str) -> str:
        if version not in self.outcomes:
            python = interpreter(version, log=lambda line: self.say(f"  {line}"))
            run = run_repro(self.script, python, self.timeout)
            self.outcomes[version] = run.outcome
            self.say(f"warp-lang {version:<8} {run.outcome:<8} ({run.seconds:.1f} s) {run.detail[:100]}")
        return self.outcomes[version]


def bisect(versions: list[str], probe) -> dict:
    """The verdict over ``versions`` (oldest first): ``probe(v)`` gives ``present``/``fixed``/``error``/
    ``timeout``; releases whose probe is neither present nor fixed are skipped. Returns a dict with
    ``first_reproducing`` and ``last_not_reproducing`` (a bug that appeared), or ``last_reproducing`` and
    ``first_fixed`` (a bug fixed within the range), or only ``first_reproducing`` / ``last_not_reproducing``
    when every release agrees, plus a one-line ``summary``."""
    usable = list(versions)

    def verdict(i: int) -> str:
        return probe(usable[i])

    # the newest usable release, then the oldest
    while usable and verdict(len(usable) - 1) not in ("present", "fixed"):
        usable.pop()
    while usable and verdict(0) not in ("present", "fixed"):
        usable.pop(0)
    if not usable:
        return {"summary": "the reproducer ran on none of the releases tried"}
    newest, oldest = verdict(len(usable) - 1), verdict(0)
    if newest == oldest:
        if newest == "present":
            return {"first_reproducing": usable[0],
                    "summary": f"reproduces in every release tried ({usable[0]} .. {usable[-1]})"}
        return {"last_not_reproducing": usable[-1],
                "summary": f"reproduces in none of the releases tried ({usable[0]} .. {usable[-1]})"}
    lo, hi = 0, len(usable) - 1  # verdict(lo) == oldest, verdict(hi) == newest, and they differ
    while hi - lo > 1:
        mid = (lo + hi) // 2
        v = verdict(mid)
        if v not in ("present", "fixed"):
            del usable[mid]  # the elements after mid move down one place
            hi -= 1
            continue
        if v == oldest:
            lo = mid
        else:
            hi = mid
    if newest == "present":
        return {"first_reproducing": usable[hi], "last_not_reproducing": usable[lo],
                "summary": f"appeared in {usable[hi]} (not in {usable[lo]})"}
    return {"last_reproducing": usable[lo], "first_fixed": usable[hi],
            "summary": f"fixed in {usable[hi]} (still in {usable[lo]})"}


def main(argv=None) -> int:
    args = parse_args(argv)
    newest = args.newest or installed_version()
    try:
        versions = available_versions(args.oldest, newest)
    except ReleaseError as error:
        print(f"bisect: error: {error}", file=sys.stderr)
        return 2
    if not versions:
        print(f"bisect: error: no warp-lang release between {args.oldest} and {newest}", file=sys.stderr)
        return 2
    print(f"bisecting {args.report_dir / 'repro.py'} over {len(versions)} warp-lang releases "
          f"({versions[0]} .. {versions[-1]})", flush=True)
    search = Bisection(args.report_dir / "repro.py", args.timeout, say=lambda line: print(line, flush=True))
    try:
        result = bisect(versions, search.outcome)
    except ReleaseError as error:
        print(f"bisect: error: {error}", file=sys.stderr)
        return 2
    for key in ("first_reproducing", "last_not_reproducing", "last_reproducing", "first_fixed"):
        if key in result:
            print(f"{key.replace('_', ' ')}: {result[key]}")
    print(result["summary"])
    tried = sorted(search.outcomes, key=version_key)
    print("tried: " + ", ".join(f"{v} {search.outcomes[v]}" for v in tried))
    return 0 if len(result) > 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
