"""The Ray executor: the worker pool of collect and fuzz as Ray actors, on this machine or on a Ray cluster.

:class:`RayPool` has the interface of :class:`harness.pool.WorkerPool` (``idle``, ``busy``, ``submit``, ``poll``,
``close``, ``restarts``), so ``collect --executor ray`` and ``fuzz --executor ray`` drive it exactly as they drive the
local pool: batches are tasks, results come back to the one process that writes the corpus or the reports, in batch
order, so the same seed gives the same records. Each worker is one actor (one CPU, one process, its own Warp kernel
cache, initialised once like a pool worker), running the same task function a pool worker runs. Each task ends in
exactly one :class:`harness.pool.TaskDone`:

* ``ok``: the actor's result; ``error``: the task raised (Ray's traceback is the detail), the actor lives on;
* ``crash``: the actor's process died (a segfault in Warp, ``os._exit``, the OOM killer): the task's batch is
  bisected by the caller as with the local pool, the actor replaced;
* ``timeout``: no result by the deadline: the actor is killed (``ray.kill``) and replaced.

``ray.init()`` starts a local Ray instance with ``--workers`` CPUs when no address is given (its session files go
into a directory of the run's, removed at the end); ``--ray-address`` joins a running cluster (``auto``, or
``ray://host:10001`` through Ray Client), with this checkout shipped to the workers as Ray's ``working_dir`` (the
generated corpus and git metadata left out) and the ``WARPSMITH_*`` variables set on them. Needs the ``[ray]``
extra (``pip install -e ".[ray]"``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .pool import SCRATCH_PREFIXES, SHORT_TEMP, Slot, SlotPool, TaskDone, WorkerStartupError, make_scratch

ROOT = Path(__file__).resolve().parents[1]  # the checkout (harness/ray_pool.py)
EXTRA_HINT = 'the Ray executor needs the [ray] extra: pip install -e ".[ray]"'


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


class _Actor:
    """One worker: initialised like a pool worker (:func:`harness.worker.init_worker`), then runs tasks."""

    def __init__(self, run, root: str | None):
        from .worker import _load_hook, init_worker

        init_worker(root if root and Path(root).is_dir() else None)  # on another node the driver's scratch is absent
        self._run, self._hook = run, _load_hook()

    def ready(self) -> int:
        return os.getpid()

    def run(self, task):
        return self._run(task, self._hook)


@dataclass
class _Slot(Slot):
    actor: Any = None
    ref: Any = None  # the pending call: ``ready`` while starting, then the task's


class RayPool(SlotPool):
    """``n`` Ray actors running ``run(task, hook)`` (:func:`harness.worker.run_task`, or fuzz's task function)."""

    WORKER = "Ray worker"

    def __init__(self, n: int, run, root: str | None = None, timeout_s: float = 600.0, address: str | None = None):
        import ray

        self._ray = ray
        self._temp = None
        self.n, self.run, self.root, self.timeout_s = n, run, root, timeout_s
        env = {k: v for k, v in os.environ.items() if k.startswith("WARPSMITH_")}
        if address:
            runtime_env = {"env_vars": env, "working_dir": str(ROOT),
                           "excludes": [".git", "corpus/data", "*.jsonl", "reports", "__pycache__"]}
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, configure_logging=False)
        else:  # a local instance: workers inherit this process's environment and find the checkout on its path
            # Ray's session (logs, sockets) in a directory of its own, removed at close (swept after kill -9); its
            # socket paths must stay under 107 bytes, so a long TMPDIR is passed over for /tmp
            base = tempfile.gettempdir()
            self._temp = make_scratch(SCRATCH_PREFIXES["ray"], base if len(base) <= 40 or not Path(SHORT_TEMP).is_dir()
                                      else SHORT_TEMP)
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private local instance: no token prompt
            # Ray starts its workers at niceness 15: beside any other busy process (another job, a test worker) they
            # get a few percent of a core (two actors took 50 s instead of 6 s to start next to two busy processes);
            # the batches are this run's work, so they run at normal priority
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     _temp_dir=self._temp, runtime_env={"env_vars": {**env, "PYTHONPATH": _pythonpath()}})
        self._cls = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_Actor)
        self._slots = [self._spawn() for _ in range(n)]
        self.restarts = 0

    # -- the interface of harness.pool.WorkerPool (idle, busy, submit: harness.pool.SlotPool) -----------------

    def poll(self, timeout: float) -> list[TaskDone]:
        ray = self._ray
        done: list[TaskDone] = []
        pending = {s.ref: s for s in self._slots if s.ref is not None}
        wait_s = self._wait_s(timeout)
        if pending:
            first, _ = ray.wait(list(pending), num_returns=1, timeout=wait_s)
            ready = ray.wait(list(pending), num_returns=len(pending), timeout=0)[0] if first else []
        else:
            time.sleep(wait_s)
            ready = []
        for ref in ready:
            slot = pending[ref]
            slot.ref = None
            try:
                value = ray.get(ref)
            except ray.exceptions.RayActorError as error:  # the actor's process died
                if not slot.ready:
                    raise WorkerStartupError(f"a Ray worker died while starting: {_first_line(error)}") from None
                task = slot.task
                self._replace(slot)
                done.append(TaskDone(task, "crash", detail=f"Ray worker died: {_first_line(error)}"))
                continue
            except ray.exceptions.RayTaskError as error:  # the task (or the actor's initialiser) raised
                if not slot.ready:
                    raise WorkerStartupError(f"a Ray worker failed to start: {error}") from None
                done.append(TaskDone(slot.task, "error", detail=_traceback(error)))
                slot.task = None
                continue
            if not slot.ready:
                slot.ready = True
                continue
            done.append(TaskDone(slot.task, "ok", value))
            slot.task = None
        self._expire(done)
        return done

    def close(self) -> None:
        """Stop every actor now (running tasks are abandoned) and disconnect (a local instance is shut down)."""
        super().close()
        self._ray.shutdown()
        if self._temp:
            shutil.rmtree(self._temp, ignore_errors=True)

    # -- internals ---------------------------------------------------------------------------------------------

    def _send(self, slot: _Slot, task: Any) -> None:
        slot.ref = slot.actor.run.remote(task)

    def _spawn(self) -> _Slot:
        actor = self._cls.remote(self.run, self.root)
        return _Slot(actor=actor, ref=actor.ready.remote(), started=time.monotonic())

    def _kill(self, slot: _Slot) -> None:
        if slot.actor is not None:
            try:
                self._ray.kill(slot.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        slot.actor, slot.ref = None, None


def _traceback(error: Exception) -> str:
    """The task's own exception as a local worker reports it (traceback text ending in ``Type: message``)."""
    import traceback

    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return str(error).rstrip() + "\n" + "".join(traceback.format_exception_only(type(cause), cause))
    return str(error)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _pythonpath() -> str:
    """This checkout first, then what the driver had: local workers import the harness from it."""
    return os.pathsep.join([str(ROOT), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
