"""Seeded launch inputs for a generated kernel, inside the ranges its parameter specs promise.

Float inputs (scalars and composite components) are drawn on a grid of multiples of 1/64, exactly
representable in float16/32/64, so the native and high-precision references start from identical values;
ints uniformly in range (clipped to the dtype); bools uniformly; outputs start at zero.
"""

from __future__ import annotations

import numpy as np

from grammar.types import BY_NAME, Composite

GRID = 64.0


def _shape(p, dim: int) -> tuple[int, ...]:
    return tuple(getattr(p, "shape", ()) or (dim,))


def make_inputs(params, dim: int, seed: int) -> dict:
    """name -> numpy array (arrays: shape ``(*array_shape, *element_shape)``) or python scalar, for one launch."""
    rng = np.random.default_rng(seed)
    values: dict = {}
    for p in params:
        t = BY_NAME[p.dtype]
        element = t.shape if isinstance(t, Composite) else ()
        shape = () if p.kind == "scalar" else _shape(p, dim) + element
        if p.kind == "scalar" and element:
            shape = element
        scalar = t.scalar if isinstance(t, Composite) else t
        if p.role in ("output", "atomic"):
            values[p.name] = np.zeros(shape, dtype=scalar.numpy_dtype)
            continue
        if scalar.kind == "bool":
            v = rng.integers(0, 2, size=shape).astype(np.bool_)
        elif scalar.is_int:
            lo, hi = max(int(p.low), scalar.min), min(int(p.high), scalar.max)
            v = rng.integers(lo, hi, size=shape, endpoint=True).astype(scalar.numpy_dtype)
        else:
            v = (np.round(rng.uniform(p.low, p.high, size=shape) * GRID) / GRID).astype(scalar.numpy_dtype)
        if p.kind == "scalar" and not element:
            v = bool(v) if scalar.kind == "bool" else (int(v) if scalar.is_int else float(v))
        values[p.name] = v
    return values
