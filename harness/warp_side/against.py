"""Cross-release differential: the kernels of a batch also built and launched with a second Warp release.

``harness.fuzz --against X.Y.Z`` gives every fuzz worker a :class:`Companion`: a long-lived process
(:mod:`harness.warp_side.companion`) running warp-lang X.Y.Z from its cached environment (:mod:`harness.releases`,
installed on first use) with this checkout on its path. After the main release has checked a batch, the
pipeline (:func:`harness.pipeline.verify_batch`, ``Options.against``) sends it every kernel the main release
launched, with the inputs of its last verification attempt, and compares the outputs. Decisions, per kernel:

===========================  ==========================================================================
main release, other release  outcome
===========================  ==========================================================================
same bits                    ``identical`` (a main-release mismatch notes that the other release has it too)
main matched the reference,  ``tolerated`` when the other output also passes the reference comparison
other differs                (a legitimate rounding difference); otherwise a ``release-mismatch`` failure:
                             the *other* release computes a wrong result (reproducer: the ordinary mismatch
                             script, expected values from the reference, to be run on that release) -- unless
                             the reference run meets a NaN convention (:data:`NAN_CONVENTION_ROWS`), which the
                             reference copies from the table's release: then a ``release-difference``
main mismatched,             the main failure's detail says whether the other release passes the
other differs                comparison (a regression since it) or is wrong too
screened on main (the        a ``release-difference`` failure: the two releases disagree where the
reference cannot decide)     reference cannot tell which is right (ill-conditioned, a fragile tie, a
                             non-finite value); the reproducer holds the main release's output and exits 1
                             on a release that computes anything else
other release cannot build   ``build-error`` (counted, first lines kept): a builtin or overload it lacks,
or launch it                 or one of its bugs; not reported
===========================  ==========================================================================

A companion that dies or does not answer within ``timeout`` seconds is restarted for the next batch; its
batch counts as ``unavailable``.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import releases
from ..frames import read_frame, stop_child, write_frame

ROOT = Path(__file__).resolve().parents[2]  # the checkout: harness/warp_side/against.py
#: comma-separated table rows :mod:`harness.generate` leaves out besides those the installed Warp lacks:
#: ``harness.fuzz --against`` sets it to the rows the other release lacks, for its worker processes
UNAVAILABLE_ENV = "WARPSMITH_UNAVAILABLE_ROWS"
#: seconds a companion may take to start (import Warp, initialise it) or to answer one batch
START_TIMEOUT = 300.0
BATCH_TIMEOUT = 300.0


#: rows whose result on a NaN operand is each release's implementation choice (``min``/``max``/``clamp`` as
#: ternaries or ``fmin``/``fmax``; ``sign`` as a comparison), and ``smoothstep`` with equal edges (``0/0`` inside,
#: then ``clamp``): the reference copies the table's release there, so it cannot decide between two releases
NAN_CONVENTION_ROWS = frozenset({"min", "max", "clamp", "sign", "smoothstep"})


def nan_conventions(k, values: dict) -> set[str]:
    """The rows of :data:`NAN_CONVENTION_ROWS` that a float32 reference run of ``k`` on ``values`` evaluates with a
    NaN operand (``smoothstep``: or with equal edges)."""
    import numpy as np

    from ..oracle.reference import Runtime, run_reference

    hit: set[str] = set()

    class _Watch(Runtime):
        def _bind(self, op, sig):
            fn = super()._bind(op, sig)
            if op.name not in NAN_CONVENTION_ROWS:
                return fn

            def watched(*args):
                floats = [np.asarray(a) for a in args if np.asarray(a).dtype.kind == "f"]
                if any(np.isnan(a).any() for a in floats) or (
                        op.name == "smoothstep" and np.array_equal(np.asarray(args[0]), np.asarray(args[1]))):
                    hit.add(op.name)
                return fn(*args)

            return watched

    try:
        run_reference(k.kernel_source, k.params, values, k.dim, runtime=_Watch())
    except Exception:  # noqa: BLE001 - the main release's check ran this reference already
        pass
    return hit


class CompanionError(RuntimeError):
    """The companion died, timed out or could not start (one-line message)."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the companion still exits when its stdin closes
        pass


class Companion:
    """A process running warp-lang ``version`` that builds and launches kernels for this one."""

    def __init__(self, version: str, log=None):
        self.version = version
        self.python = releases.interpreter(version, log=log, harness=True)
        self.proc: subprocess.Popen | None = None
        self._stderr = None
        self.missing_rows: list[str] = []  # the table rows whose builtin the release lacks (from its first answer)

    def _start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WARPSMITH_WORKER_HOOK")}
        env["PYTHONPATH"] = str(ROOT)
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([self.python, "-m", "harness.warp_side.companion"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=str(ROOT),
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        hello = self._read(START_TIMEOUT)
        if not hello.get("ready"):
            raise self._failed("did not start")
        if hello.get("version") != self.version:
            raise self._failed(f"imports warp-lang {hello.get('version')}, not {self.version}")
        self.missing_rows = list(hello.get("missing_rows", []))

    def _failed(self, what: str) -> CompanionError:
        tail = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = [ln for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()]
            tail = f": {lines[-1].strip()}" if lines else ""
        self.close()
        return CompanionError(f"the warp-lang {self.version} companion {what}{tail}")

    def _read(self, timeout: float) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise self._failed(f"gave no answer within {timeout:.0f} s")
        reply = read_frame(self.proc.stdout)
        if reply is None:
            raise self._failed("exited")
        return reply

    def run(self, kernels: list[tuple], options: dict, timeout: float = BATCH_TIMEOUT) -> dict:
        """``kernels``: (name, dim, params, inputs, kernel source) each; name -> ("ok", outputs) |
        ("build-error", text) | ("launch-error", text). Raises :class:`CompanionError`."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            write_frame(self.proc.stdin, {"options": options, "kernels": kernels})
        except (BrokenPipeError, OSError):
            raise self._failed("exited") from None
        reply = self._read(timeout)
        if "error" in reply:
            raise CompanionError(f"the warp-lang {self.version} companion failed: "
                                 f"{reply['error'].strip().splitlines()[-1]}")
        return reply["results"]

    def close(self) -> None:
        if self.proc is not None:
            stop_child(self.proc)
            self.proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


_companions: dict[str, Companion] = {}


def companion(version: str) -> Companion:
    """This process's companion for ``version`` (made on first use, closed at exit)."""
    if version not in _companions:
        _companions[version] = Companion(version)
        if len(_companions) == 1:
            atexit.register(close_all)
    return _companions[version]


def close_all() -> None:
    for c in _companions.values():
        c.close()


def check_release(version: str) -> list[str]:
    """Start release ``version``'s companion once (its environment is installed on first use, with the fuzzer's
    dependencies) and return the table rows whose builtin it lacks: what ``harness.fuzz --against`` does before
    hunting. Raises :class:`harness.releases.ReleaseError` or :class:`CompanionError`."""
    log = (lambda line: print(f"[against] {line}", file=sys.stderr, flush=True))
    c = Companion(version, log=log)
    started = time.monotonic()
    try:
        c._start()
    finally:
        c.close()
    log(f"warp-lang {version} companion starts in {time.monotonic() - started:.1f} s")
    return c.missing_rows
