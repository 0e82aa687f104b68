"""JAX as a second oracle: the JAX program of a kernel (harness.jax_render) run on the kernel's inputs.

:func:`run_program` executes a :class:`~harness.jax_render.JaxProgram` on CPU (``jax.jit``) and returns its outputs
as numpy arrays named like the kernel's output arrays; :func:`check_against_reference` compares them with the numpy
reference through the same conditioned comparison Warp's outputs get (:mod:`harness.compare`). A disagreement is a
bug of ours (the renderer, a spelling, the reference) or of JAX, never a Warp report.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no accelerator probing (and no warning) on machines without one

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from grammar.types import Array, BY_NAME, Composite, Struct  # noqa: E402

from .jax_render import JaxProgram  # noqa: E402
from .reference import typed_ir  # noqa: E402


@lru_cache(maxsize=256)
def _compiled(source: str):
    namespace: dict = {}
    exec(compile(source, "<jax-program>", "exec"), namespace)
    return jax.jit(namespace["kernel"])


def _param_types(kernel) -> dict:
    _, envs, _ = typed_ir(kernel.kernel_source)
    return envs[list(envs)[-1]]


def jax_arguments(program: JaxProgram, kernel, values: dict) -> list:
    """The program's arguments for the kernel's input ``values`` (name -> numpy array / Python scalar)."""
    import jax.numpy as jnp

    def convert(value, t):
        if isinstance(t, Struct):  # a dict of fields (a numpy structured value or a mapping in ``values``)
            return {f: convert(value[f], ft) for f, ft in t.fields}
        scalar = t.scalar if isinstance(t, Composite) else t
        return jnp.asarray(np.asarray(value), dtype=np.dtype(scalar.numpy_dtype))

    types = _param_types(kernel)
    return [convert(values[name], types[name].dtype if isinstance(types[name], Array) else types[name])
            for name in program.params]


def run_program(program: JaxProgram, kernel, values: dict) -> dict[str, np.ndarray]:
    """The program's outputs on ``values``, as numpy arrays by output name."""
    out = _compiled(program.source)(*jax_arguments(program, kernel, values))
    return {name: np.asarray(v) for name, v in out.items()}


def check_against_reference(program: JaxProgram, kernel, values: dict, seed: int):
    """The conditioned comparison (harness.compare.Comparison) of the program's outputs with the reference."""
    from .pipeline import _reference_comparison

    actual = run_program(program, kernel, values)
    return _reference_comparison(kernel, values, actual, seed)[0], actual


_ = BY_NAME


# ---- isolation: XLA's CPU compiler can exhaust memory on a rare program (a std::bad_alloc abort, measured on one
# generated kernel in about a hundred): the checks run in a child process with an address-space cap, and a child
# that dies takes only its kernel with it.

MEMORY_CAP_BYTES = 6 * 2**30


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))


def _check_in_child(program: JaxProgram, kernel, values: dict, seed: int):
    comparison, _ = check_against_reference(program, kernel, values, seed)
    return comparison.status, comparison.mismatches[:3]


class IsolatedChecker:
    """Runs :func:`check_against_reference` in a child process (spawned, memory-capped); ``check`` returns the
    comparison status, ``"jax-crash"`` when the child died, or ``"jax-error: ..."`` when JAX raised."""

    def __init__(self):
        self._pool = None

    def _executor(self):
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_limit_memory)
        return self._pool

    def check(self, program: JaxProgram, kernel, values: dict, seed: int, timeout: float = 300.0):
        """(status, first mismatches): status is the comparison's, ``jax-crash`` (the child died: memory cap),
        ``jax-timeout`` or ``jax-error: <kind>: <message>``."""
        from concurrent.futures import TimeoutError as FutureTimeout
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self._executor().submit(_check_in_child, program, kernel, values, seed).result(timeout)
        except BrokenProcessPool:
            self.close()
            return "jax-crash", []
        except FutureTimeout:
            self.close(kill=True)
            return "jax-timeout", []
        except Exception as error:  # noqa: BLE001 - JAX's own errors, reported by kind
            return f"jax-error: {type(error).__name__}: {str(error)[:200]}", []

    def close(self, kill: bool = False) -> None:
        if self._pool is not None:
            if kill:
                for proc in list(getattr(self._pool, "_processes", {}).values()):
                    proc.kill()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
