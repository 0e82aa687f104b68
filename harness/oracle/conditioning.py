"""The conditioned reference comparison: Warp's outputs judged against the reference and its conditioning.

A float32 output of Warp is not compared with one reference value but with what rounding can do to it:
:func:`conditioning` runs the reference again in float64 and :data:`PERTURBED_RUNS` times in float32 with every
inexact result moved by one ulp (``perturb_seed``), and notes whether a discontinuity was evaluated within rounding
distance (``traces_fragile``). :func:`reference_comparison` hands all of it to
:func:`harness.oracle.compare.compare_outputs`, which decides match, mismatch or ill-conditioned per output element.
Used for every main-build comparison (through :mod:`harness.pipeline`), the differential variants, the cross-release
companion and the JAX program's outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grammar.semantics import traces_fragile
from grammar.types import BY_NAME, Composite
from strategies import GeneratedKernel

from .compare import Comparison, compare_outputs
from .reference import run_reference

PERTURBED_RUNS = 2


def reference_comparison(k, values, actual, seed) -> tuple[Comparison, object]:
    """(the conditioned reference comparison of ``actual``, the float32 reference run)."""
    r32 = run_reference(k.kernel_source, k.params, values, k.dim)
    c = conditioning(k, values, r32, seed)
    return compare_outputs(actual, r32.outputs, c.r64, c.perturbed, fragile=c.fragile,
                           element_ndim=element_ndim(k)), r32


def fails_reference(k, values, actual, seed) -> bool:
    """True when ``actual`` is a mismatch under the conditioned reference comparison (screened is not)."""
    return reference_comparison(k, values, actual, seed)[0].status == "mismatch"


def element_ndim(k: GeneratedKernel) -> dict[str, int]:
    """Array parameter name -> number of component axes of its element type (vec: 1, mat: 2, scalar: 0)."""
    out = {}
    for p in k.params:
        t = BY_NAME.get(p.dtype)
        out[p.name] = len(t.shape) if isinstance(t, Composite) else 0
    return out


@dataclass
class Conditioning:
    r64: dict  # the float64 reference's outputs
    perturbed: list  # the perturbed float32 runs' outputs
    fragile: bool  # a discontinuity was evaluated within rounding distance


def conditioning(k, values, r32, seed) -> Conditioning:
    """The runs that measure how well-conditioned ``values`` are around the float32 run ``r32``."""
    r64 = run_reference(k.kernel_source, k.params, values, k.dim, float_t=np.float64)
    perturbed = [run_reference(k.kernel_source, k.params, values, k.dim, perturb_seed=seed * 7 + j)
                 for j in range(PERTURBED_RUNS)]
    fragile = traces_fragile(r32.trace, [r64.trace] + [p.trace for p in perturbed])
    return Conditioning(r64.outputs, [p.outputs for p in perturbed], fragile)
