"""Faults for collect's worker processes, injected through ``WARPSMITH_WORKER_HOOK=tests.fault_hooks:inject``.

``WARPSMITH_TEST_FAULT=<kind>:<batch>:<position>[,...]`` makes every worker task that holds kernel
``position`` of batch ``batch`` fail the way ``kind`` says, as a kernel that breaks Warp's runtime would:

* ``segv`` - the worker process dies of SIGSEGV;
* ``hang`` - the worker sleeps for an hour;
* ``raise`` - the task raises a Python exception.
"""

from __future__ import annotations

import os
import signal
import time


def inject(task, kernels) -> None:
    for fault in os.environ["WARPSMITH_TEST_FAULT"].split(","):
        kind, batch, position = fault.split(":")
        if task.batch_index == int(batch) and int(position) in task.all_positions():
            _fail(kind)


def _fail(kind: str) -> None:
    if kind == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif kind == "hang":
        time.sleep(3600)
    elif kind == "raise":
        raise RuntimeError("injected fault")
    else:
        raise ValueError(f"unknown fault kind {kind!r}")


def invalidate(task, kernels) -> None:
    """Every record this worker makes fails validation (as after a schema change the builder missed)."""
    from harness import worker

    worker.validate_record = lambda record: ["missing field verification.made_up"]
