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


def corrupt(task, kernels) -> None:
    """Warp's results are wrong: the first element of every float output is off by one (a mismatch the
    fuzz run must find, shrink and report), plus the faults of ``WARPSMITH_TEST_FAULT`` if set."""
    import harness.pipeline as pipeline

    if not getattr(pipeline.run_warp, "corrupted", False):
        real_run_warp = pipeline.run_warp

        def corrupted(module, kernel, values):
            outputs = real_run_warp(module, kernel, values)
            for array in outputs.values():
                if array.dtype.kind == "f":
                    array.reshape(-1)[0] += 1.0
            return outputs

        corrupted.corrupted = True
        pipeline.run_warp = corrupted
    if os.environ.get("WARPSMITH_TEST_FAULT"):
        inject(task, kernels)


def scale_floats(name, outputs):
    """``WARPSMITH_COMPANION_HOOK=tests.fault_hooks:scale_floats``: a "release" whose every float output is off by
    a relative 1e-3 (harness.warp_side.companion applies it to each launch's outputs)."""
    import numpy as np

    return {n: (v * v.dtype.type(1.001) if v.dtype.kind == "f" else v) for n, v in outputs.items()}
