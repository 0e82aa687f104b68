"""Differential oracles: the same batch built with another Warp configuration, compared with the main build.

A *variant* is a second build of the kernels that passed the reference check, launched on the same inputs.
Its outputs are compared with the main build's:

* ``exact`` variants must agree bit for bit (NaN == NaN, the sign of zero): ``nobackward`` (enable_backward
  off: the forward code is the same), ``unroll0`` (``max_unroll=0``: dynamic instead of unrolled loops, the
  same operations in the same order at optimisation level 0), ``debug`` (module ``mode="debug"``).
* ``tolerant`` variants may round differently: ``opt2`` (Warp's CPU default level 2; Warp passes
  ``fuse_fp=True`` to Clang, so -O2 may contract into FMA) and ``cuda`` (GPU libm, FMA). A difference is only
  a bug when the variant's output fails the reference comparison (:func:`harness.oracle.compare.compare_outputs`)
  that the main build passed.

A disagreement is a ``warp-bug`` with ``Failure.kind == "differential-<variant>"``.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass

import numpy as np

from . import warp_adapter as W


@dataclass(frozen=True)
class Variant:
    name: str
    options: dict  # warp_adapter.set_module_options keywords that differ from the main build
    device: str = "cpu"
    exact: bool = True


VARIANTS: dict[str, Variant] = {
    "opt2": Variant("opt2", {"optimization_level": 2}, exact=False),
    "nobackward": Variant("nobackward", {"enable_backward": False}),
    "unroll0": Variant("unroll0", {"max_unroll": 0}),
    "debug": Variant("debug", {"mode": "debug"}),
    "cuda": Variant("cuda", {}, device="cuda:0", exact=False),
}

_skipped_said: set[str] = set()


def available(name: str) -> bool:
    """False (with one line on stderr, once per process) for a variant this machine cannot run."""
    if VARIANTS[name].device.startswith("cuda") and not W.cuda_available():
        if name not in _skipped_said:
            _skipped_said.add(name)
            print(f"[differential] variant {name!r} skipped: no CUDA device", file=sys.stderr, flush=True)
        return False
    return True


def choose(variants: tuple[str, ...], batch_index: int | None, key: str) -> str | None:
    """The variant of a batch: ``variants[batch_index % n]``; without an index, one chosen from ``key`` (the
    batch's content), so the same batch always gets the same variant (Hypothesis replays stay deterministic)."""
    if not variants:
        return None
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(f"unknown differential variant {v!r}; expected one of {tuple(VARIANTS)}")
    if batch_index is None:
        batch_index = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    return variants[batch_index % len(variants)]


def identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Bitwise equality (so NaN == NaN with the same bits, and -0.0 != 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def differing(main: dict, other: dict) -> list[str]:
    """Output names whose values differ bitwise between two builds."""
    return [n for n in main if n not in other or not identical(main[n], other[n])]
