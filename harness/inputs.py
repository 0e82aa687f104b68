"""Seeded launch inputs for a generated kernel, inside the ranges its parameter specs promise.

Float inputs (scalars and composite components) are drawn on a grid of multiples of 1/64, exactly
representable in float16/32/64, so the native and high-precision references start from identical values;
ints uniformly in range (clipped to the dtype); bools uniformly; outputs start at zero. A struct parameter
is a dict field -> value (an array field is a 1-D numpy array), an array of structs a numpy structured array
with one numpy field per struct field; each field is drawn in its own range (``ParamSpec.field_ranges``).
"""

from __future__ import annotations

import numpy as np

from grammar.types import BY_NAME, Array, Composite

GRID = 64.0


def _shape(p, dim: int) -> tuple[int, ...]:
    return tuple(getattr(p, "shape", ()) or (dim,))


def make_inputs(params, dim: int, seed: int) -> dict:
    """name -> numpy array (arrays: shape ``(*array_shape, *element_shape)``) or python scalar, for one launch."""
    rng = np.random.default_rng(seed)
    values: dict = {}
    for p in params:
        if getattr(p, "struct", None) is not None:
            values[p.name] = _struct_values(rng, p, dim)
            continue
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


def _draw(rng, t, low, high, shape):
    """Values of scalar or composite type ``t`` in ``[low, high]`` (see the module docstring)."""
    scalar = t.scalar if isinstance(t, Composite) else t
    shape = tuple(shape) + (t.shape if isinstance(t, Composite) else ())
    if scalar.kind == "bool":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if scalar.is_int:
        lo, hi = max(int(low), scalar.min), min(int(high), scalar.max)
        return rng.integers(lo, hi, size=shape, endpoint=True).astype(scalar.numpy_dtype)
    return (np.round(rng.uniform(low, high, size=shape) * GRID) / GRID).astype(scalar.numpy_dtype)


def struct_numpy_dtype(s) -> np.dtype:
    """The plain numpy structured dtype of an array of struct ``s`` (value fields only)."""
    fields = []
    for f, t in s.fields:
        if isinstance(t, Array):
            raise ValueError(f"{s.name} has an array field: it cannot be an array element")
        scalar = t.scalar if isinstance(t, Composite) else t
        fields.append((f, scalar.numpy_dtype, t.shape) if isinstance(t, Composite) else (f, scalar.numpy_dtype))
    return np.dtype(fields)


def _struct_values(rng, p, dim: int):
    s = p.struct
    if p.kind == "array":
        out = np.zeros(_shape(p, dim), dtype=struct_numpy_dtype(s))
        if p.role == "input":
            for (f, t), (lo, hi) in zip(s.fields, p.field_ranges):
                out[f] = _draw(rng, t, lo, hi, out.shape)
        return out
    values = {}
    for (f, t), (lo, hi) in zip(s.fields, p.field_ranges):
        if isinstance(t, Array):
            values[f] = _draw(rng, t.dtype, lo, hi, tuple(p.shape) or (dim,))
            continue
        v = _draw(rng, t, lo, hi, ())
        if not isinstance(t, Composite):
            v = bool(v) if t.kind == "bool" else (int(v) if t.is_int else float(v))
        values[f] = v
    return values
