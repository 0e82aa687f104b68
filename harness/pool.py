"""Worker processes that may crash or hang: one task per worker at a time, a deadline per task.

:class:`WorkerPool` starts ``n`` spawned processes, each running :func:`harness.worker.serve` with its
own Warp kernel cache. The parent sends a task to an idle worker and waits on all pipes and process
sentinels at once. Each task ends in exactly one :class:`TaskDone`:

* ``ok``: the worker's result;
* ``crash``: the worker process died (a segfault in Warp's runtime, ``os._exit``, the OOM killer); it
  is replaced by a new worker;
* ``timeout``: the task ran past ``timeout_s``; the worker is killed (SIGKILL) and replaced;
* ``error``: the task raised a Python exception (the traceback is the detail); the worker lives on.

Unlike :class:`concurrent.futures.ProcessPoolExecutor`, one dead worker costs only the task it was
running, and a hung worker is detected at all. The deadline starts when the task is sent to a worker
that has finished starting (importing and initialising Warp is not counted).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, fields
from multiprocessing import get_context
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

STARTUP_TIMEOUT_S = 300.0  # importing Warp on a loaded machine can take a while
# the runs whose workers keep their files in a scratch, and a local Ray instance's session directory
SCRATCH_PREFIXES = {"collect": "warpsmith-collect-", "fuzz": "warpsmith-fuzz-", "ray": "warpsmith-ray-"}
OWNER_NAME = "owner.pid"
SHORT_TEMP = "/tmp"  # where a directory holding AF_UNIX sockets goes when TMPDIR is too long for them (107 bytes)


def make_scratch(prefix: str, dir: str | None = None) -> str:
    """A scratch directory for one run's workers (kernel caches, batch modules, PTX, and everything Warp and NVRTC
    put in the temporary directory: :func:`harness.worker.init_worker` points the workers' ``TMPDIR`` into it),
    marked with the running process's pid so that a later run can remove it if this one is killed with ``kill -9``
    (:func:`sweep_stale_scratch`). The caller removes it when the run ends."""
    scratch = tempfile.mkdtemp(prefix=prefix, dir=dir)
    (Path(scratch) / OWNER_NAME).write_text(str(os.getpid()))
    return scratch


def sweep_stale_scratch(root: str | None = None) -> int:
    """Remove the scratch directories of collect and fuzz runs that died without removing them (``kill -9``, a
    power cut): those whose owning process is gone. Returns how many."""
    removed = 0
    roots = {root} if root else {tempfile.gettempdir(), SHORT_TEMP}  # a Ray session may be under SHORT_TEMP
    for prefix, base in ((p, b) for p in SCRATCH_PREFIXES.values() for b in sorted(roots) if Path(b).is_dir()):
        for d in Path(base).glob(prefix + "*"):
            try:
                pid = int((d / OWNER_NAME).read_text())
            except (OSError, ValueError):
                continue  # not one of ours, or still being created
            try:
                os.kill(pid, 0)
                continue  # still running
            except ProcessLookupError:
                pass
            except PermissionError:
                continue  # another user's live process
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed


def interrupt_on_sigterm() -> None:
    """Make SIGTERM (``timeout``, ``kill``, a batch scheduler ending the job) raise :class:`KeyboardInterrupt` in
    the main thread, so a command line stops as on Ctrl-C: its ``finally`` blocks stop the workers and remove the
    scratch, and what was written stays consistent."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


class WorkerStartupError(RuntimeError):
    """A worker process died or stalled before it was ready (Warp cannot be imported or initialised)."""


@dataclass
class TaskDone:
    task: Any
    status: str  # ok | crash | timeout | error
    result: Any = None  # the worker's return value when ok
    detail: str = ""  # exit code / signal, or the traceback


@dataclass
class Slot:
    """One worker of a pool and its task: whether it has started, when the task was sent, its deadline."""

    ready: bool = False
    task: Any = None
    deadline: float = 0.0
    started: float = 0.0
    timeout: float = 0.0


@dataclass
class _Slot(Slot):
    process: Any = None
    conn: Any = None


class SlotPool:
    """What the local pool and the Ray pool (:class:`harness.ray_pool.RayPool`) share: ``_slots`` each holding one
    worker, its task, when it started and its deadline. A subclass sends tasks (:meth:`_send`), stops a worker
    (:meth:`_kill`) and starts one (:meth:`_spawn`, a :class:`Slot` of its own kind); ``WORKER`` names its workers
    in messages."""

    WORKER = "worker process"
    _slots: list
    timeout_s: float

    def idle(self) -> int:
        """Workers that are ready for a task."""
        return sum(s.ready and s.task is None for s in self._slots)

    def busy(self) -> int:
        return sum(s.task is not None for s in self._slots)

    def submit(self, task: Any, timeout_s: float | None = None) -> None:
        """Send ``task`` to an idle worker (call only when :meth:`idle` is non-zero); ``timeout_s``
        overrides the pool's deadline for this task."""
        slot = next(s for s in self._slots if s.ready and s.task is None)
        slot.task = task
        slot.started = time.monotonic()
        slot.timeout = self.timeout_s if timeout_s is None else timeout_s
        slot.deadline = slot.started + slot.timeout
        self._send(slot, task)

    def _wait_s(self, timeout: float) -> float:
        """How long :meth:`poll` may wait: ``timeout``, or less when a deadline comes first."""
        now = time.monotonic()
        return max(0.0, min([timeout] + [s.deadline - now for s in self._slots if s.task is not None]))

    def _expire(self, done: list[TaskDone]) -> None:
        """Tasks past their deadline end as ``timeout`` (their worker killed and replaced); a worker that has not
        started within :data:`STARTUP_TIMEOUT_S` is an error of the whole run."""
        now = time.monotonic()
        for slot in self._slots:
            if slot.task is not None and now >= slot.deadline:
                task, slot_timeout = slot.task, slot.timeout
                self._replace(slot)
                done.append(TaskDone(task, "timeout", detail=f"no result after {slot_timeout:g} s; {self.WORKER} "
                                     "killed"))
            elif not slot.ready and now - slot.started > STARTUP_TIMEOUT_S:
                raise WorkerStartupError(f"a {self.WORKER} did not start within {STARTUP_TIMEOUT_S:g} s")

    def close(self) -> None:
        """Stop every worker now (running tasks are abandoned)."""
        for slot in self._slots:
            self._kill(slot)
        self._slots = []

    def _replace(self, slot: Slot) -> None:
        """Stop the slot's worker and start a fresh one in its place (the slot object stays: callers hold it)."""
        self._kill(slot)
        fresh = self._spawn()
        for f in fields(fresh):
            setattr(slot, f.name, getattr(fresh, f.name))
        self.restarts += 1


class WorkerPool(SlotPool):
    """``n`` worker processes; ``target(conn, *args)`` is the worker's main loop (see worker.serve)."""

    def __init__(self, n: int, target, args: tuple = (), timeout_s: float = 600.0):
        self.n = n
        self.target = target
        self.args = args
        self.timeout_s = timeout_s
        self._ctx = get_context("spawn")
        self._slots: list[_Slot] = [self._spawn() for _ in range(n)]
        self.restarts = 0

    # -- public ------------------------------------------------------------------------------------

    def poll(self, timeout: float) -> list[TaskDone]:
        """Wait up to ``timeout`` seconds for tasks to end, worker start-ups included; return what ended."""
        done: list[TaskDone] = []
        wait_s = self._wait_s(timeout)
        waitables = {}
        for slot in self._slots:
            waitables[slot.conn] = (slot, slot.process)
            waitables[slot.process.sentinel] = (slot, slot.process)
        for ready in wait(list(waitables), timeout=wait_s):
            slot, process = waitables[ready]
            if slot.process is not process:
                continue  # that worker was already replaced in this round
            if ready is slot.conn:
                try:
                    message = slot.conn.recv()
                except (EOFError, OSError):
                    self._died(slot, done)
                    continue
                if not slot.ready:
                    slot.ready = message == "ready"
                    continue
                kind, payload = message
                done.append(TaskDone(slot.task, "ok" if kind == "ok" else "error", payload if kind == "ok" else None,
                                     "" if kind == "ok" else payload))
                slot.task = None
            elif not slot.process.is_alive():
                self._died(slot, done)
        self._expire(done)
        return done

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------

    def _send(self, slot: _Slot, task: Any) -> None:
        slot.conn.send(task)

    def _spawn(self) -> _Slot:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=self.target, args=(child, *self.args), daemon=True)
        process.start()
        child.close()
        return _Slot(process=process, conn=parent, started=time.monotonic())

    def _died(self, slot: _Slot, done: list[TaskDone]) -> None:
        slot.process.join(timeout=5)
        code = slot.process.exitcode
        if not slot.ready:
            self._kill(slot)
            raise WorkerStartupError(f"a worker process exited with code {code} while starting")
        task = slot.task
        self._replace(slot)
        if task is not None:
            detail = f"worker killed by signal {-code}" if code is not None and code < 0 else f"worker exited with code {code}"
            done.append(TaskDone(task, "crash", detail=detail))

    @staticmethod
    def _kill(slot: _Slot) -> None:
        process = slot.process
        if process is None:
            return
        if process.is_alive():
            process.kill()
        process.join(timeout=10)
        slot.conn.close()
