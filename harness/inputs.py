"""Seeded launch inputs for a generated kernel, inside the ranges its parameter specs promise.

Float inputs are drawn on a grid of multiples of 1/64 (exactly representable in float32, so the float32
and float64 references start from identical values); ints uniformly in range; outputs start at zero.
"""

from __future__ import annotations

import numpy as np

GRID = 64.0


def make_inputs(params, dim: int, seed: int) -> dict:
    """name -> numpy array (arrays; vec3 arrays are (dim, 3)) or python scalar, for one launch."""
    rng = np.random.default_rng(seed)
    values: dict = {}
    for p in params:
        shape = (dim, 3) if p.dtype == "vec3" else (dim,)
        if p.kind == "scalar":
            shape = ()
        if p.role in ("output", "atomic"):
            values[p.name] = np.zeros(shape, dtype=np.int32 if p.dtype == "int32" else np.float32)
        elif p.dtype == "int32":
            v = rng.integers(int(p.low), int(p.high), size=shape, endpoint=True)
            values[p.name] = int(v) if p.kind == "scalar" else v.astype(np.int32)
        else:
            v = np.round(rng.uniform(p.low, p.high, size=shape) * GRID) / GRID
            values[p.name] = float(v) if p.kind == "scalar" else v.astype(np.float32)
    return values
