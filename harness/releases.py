"""Other Warp releases, each in a cached virtual environment, and standalone reproducers run against them.

A reproducer is a ``repro.py`` (``known_bugs/<bug>/`` or a fuzz report directory) that imports only warp,
numpy and the standard library, exits with status 1 while its bug is present and prints ``not reproduced``
(status 0) otherwise. :func:`run_repro` runs one in a fresh process with an empty Warp kernel cache and
classifies the outcome; :func:`interpreter` gives the Python of a release, creating its environment on first
use with ``pip install warp-lang==X numpy`` from the package index (the only network access; nothing else is
downloaded). Environments live under ``$WARPSMITH_VENVS`` (default ``~/.cache/warpsmith/venvs``), one per
release, and are reused.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: the oldest release the reproducers and bisection are meant for (Warp's 1.x API they use is stable since)
OLDEST = "1.10.0"
#: how an exit status 1 that is a crash of the script itself (not the bug) shows on stderr
_TRACEBACK = "Traceback (most recent call last)"


class ReleaseError(RuntimeError):
    """A release could not be listed or installed (one-line message)."""


def version_key(version: str) -> tuple[int, ...]:
    """``"1.10.1"`` -> ``(1, 10, 1)``; pre-release and local suffixes are dropped."""
    return tuple(int(x) for x in re.findall(r"\d+", version.split("+")[0])[:3])


def installed_version() -> str:
    """The warp-lang version of this interpreter (without importing warp)."""
    from importlib.metadata import version

    return version("warp-lang")


def available_versions(oldest: str = OLDEST, newest: str | None = None) -> list[str]:
    """Final releases of warp-lang on the package index from ``oldest`` to ``newest`` (default: all newer),
    oldest first (``pip index versions``)."""
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "warp-lang"], capture_output=True,
                             text=True, timeout=120, check=False)
    except subprocess.TimeoutExpired as error:
        raise ReleaseError("pip index versions warp-lang timed out") from error
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("Available versions:")), None)
    if line is None:
        raise ReleaseError(f"cannot list warp-lang releases: {(out.stderr.strip().splitlines() or ['no output'])[-1]}")
    versions = [v.strip() for v in line.split(":", 1)[1].split(",")]
    versions = [v for v in versions if re.fullmatch(r"\d+\.\d+\.\d+", v)]
    low, high = version_key(oldest), version_key(newest) if newest else (10**6,)
    return sorted((v for v in versions if low <= version_key(v) <= high), key=version_key)


def venv_root() -> Path:
    return Path(os.environ.get("WARPSMITH_VENVS", Path.home() / ".cache" / "warpsmith" / "venvs"))


#: what ``harness.fuzz`` needs besides warp and numpy, for a release's environment (``harness=True``)
HARNESS_REQUIREMENTS = ("hypothesis>=6.100", "libcst>=1.5", "tqdm>=4.60")


def interpreter(version: str | None, log=None, harness: bool = False) -> str:
    """The Python executable that imports warp-lang ``version`` (None or the installed one: this interpreter);
    creates and caches its virtual environment on first use (``harness=True``: with what ``harness.fuzz`` needs,
    to run the hunt itself on that release from a checkout). A lock file serialises concurrent callers.
    ``log`` receives one line per step."""
    if version is None or version == installed_version():
        return sys.executable
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ReleaseError(f"not a warp-lang release number: {version!r}")
    root = venv_root() / f"warp-{version}"
    python = root / "bin" / "python"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"warp-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ((root / ".complete").is_file() and python.exists()):
            shutil.rmtree(root, ignore_errors=True)  # a half-made environment from an interrupted run
            _install(root, [[sys.executable, "-m", "venv", str(root)], _pip(python, f"warp-lang=={version}", "numpy")],
                     f"warp-lang {version}", log)
            (root / ".complete").write_text(version)
        if harness and not (root / ".harness").is_file():
            _install(root, [_pip(python, *HARNESS_REQUIREMENTS)], f"the fuzzer's dependencies for warp-lang {version}",
                     log, remove=False)
            (root / ".harness").write_text(version)
    return str(python)


def _pip(python: Path, *requirements: str) -> list[str]:
    return [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]


def _install(root: Path, steps: list[list[str]], what: str, log, remove: bool = True) -> None:
    started = time.monotonic()
    if log:
        log(f"installing {what} into {root} (once; reused afterwards)")
    for step in steps:
        run = subprocess.run(step, capture_output=True, text=True, check=False)
        if run.returncode != 0:
            if remove:
                shutil.rmtree(root, ignore_errors=True)
            last = (run.stderr.strip().splitlines() or run.stdout.strip().splitlines() or ["no output"])[-1]
            raise ReleaseError(f"cannot install {what}: {last}")
    if log:
        log(f"{what} installed in {time.monotonic() - started:.0f} s")


@dataclass
class ReproRun:
    outcome: str  # "present" | "fixed" | "error" | "timeout"
    returncode: int | None
    seconds: float
    stdout: str
    stderr: str

    @property
    def detail(self) -> str:
        """The last line that says what happened (the bug's message, or the script's error)."""
        lines = [ln.strip() for ln in (self.stdout + "\n" + self.stderr).splitlines() if ln.strip()]
        said = [ln for ln in lines if "bug reproduced" in ln or ln == "not reproduced" or ln.startswith("inconclusive")]
        return (said or lines or [""])[-1]


def classify(returncode: int | None, stdout: str, stderr: str) -> str:
    """``present``: status 1 without a Python traceback (the script raised ``SystemExit`` on purpose);
    ``fixed``: status 0 and ``not reproduced`` printed; anything else (an exception in the script, say an API
    an older release lacks, or a crash) is an ``error``."""
    if returncode == 1 and _TRACEBACK not in stderr:
        return "present"
    if returncode == 0 and "not reproduced" in stdout:
        return "fixed"
    return "error"


def run_repro(script: Path, python: str = sys.executable, timeout: float = 300.0) -> ReproRun:
    """Run ``script`` with ``python`` in a fresh process, an empty kernel cache and a scratch working
    directory; a run longer than ``timeout`` seconds is killed (outcome ``timeout``)."""
    script = Path(script).resolve()
    with tempfile.TemporaryDirectory(prefix="warpsmith-repro-") as scratch:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WARPSMITH_WORKER_HOOK")}
        env["WARP_CACHE_PATH"] = str(Path(scratch) / "kernel-cache")
        started = time.monotonic()
        try:
            run = subprocess.run([python, str(script)], cwd=scratch, env=env, capture_output=True, text=True,
                                 timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            out = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
            err = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
            return ReproRun("timeout", None, time.monotonic() - started, out, err)
    seconds = time.monotonic() - started
    return ReproRun(classify(run.returncode, run.stdout, run.stderr), run.returncode, seconds, run.stdout,
                    run.stderr)


def diagnostics(python: str = sys.executable) -> str:
    """``warp.print_diagnostics()`` of the Warp that ``python`` imports, run in a child process (releases without
    it: the Warp, Python, platform and NumPy versions)."""
    code = ("import platform, sys, numpy, warp\n"
            "if hasattr(warp, 'print_diagnostics'):\n    warp.print_diagnostics()\n"
            "else:\n    print(f'Warp {warp.config.version} (no warp.print_diagnostics() in this release)')\n"
            "    print('Python', sys.version.split()[0], 'on', platform.platform()); print('NumPy', numpy.__version__)")
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    return (run.stdout + run.stderr).strip("\n")


def main(argv=None) -> int:
    """``python -m harness.releases install X.Y.Z [--harness]``: make (or find) the environment of a release and
    print its Python; ``python -m harness.releases list``: the releases from the oldest supported one."""
    from .cli import OneLineParser

    p = OneLineParser(prog="python -m harness.releases", name="releases",
                      description="Cached virtual environments of warp-lang releases.")
    sub = p.add_subparsers(dest="command", required=True)
    install = sub.add_parser("install", help="install a release (once) and print its Python")
    install.add_argument("version")
    install.add_argument("--harness", action="store_true", help="also what harness.fuzz needs")
    sub.add_parser("list", help=f"print the releases from {OLDEST} on")
    args = p.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(available_versions()))
        else:
            print(interpreter(args.version, log=lambda line: print(f"[releases] {line}", file=sys.stderr),
                              harness=args.harness))
    except ReleaseError as error:
        print(f"releases: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
