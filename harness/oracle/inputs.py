"""Seeded launch inputs for a generated kernel: ordinary values mixed with corner values.

``make_inputs(params, dim, seed, profile=...)`` gives one launch's inputs; outputs start at zero. A struct
parameter is a dict field -> value (an array field is a 1-D numpy array), an array of structs a numpy
structured array with one numpy field per struct field; each field is drawn in its own range
(``ParamSpec.field_ranges``). Every float value is exactly representable in its dtype, so the native and
high-precision references start from identical values. Profiles (:data:`PROFILES`):

* ``"grid"`` -- the mild launch: floats uniform on the 1/64 grid inside the spec's range, ints uniform in
  the spec's range (clipped to the dtype), bools uniform.
* ``"corner"`` -- each element is, independently, an ordinary grid value (about half of them) or a corner:

  - a **tie**: a value from a small pool drawn once per launch and shared by every array, scalar parameter
    and vector component of the launch (so ``a < b``, ``min``, ``clamp``, ``where``, ``==`` and atomic
    min/max meet equal operands); the pool mixes grid values, exact halves (``2.5``, ``-0.5``: ``round``
    and ``rint`` differ there) and integers (``floor``/``trunc`` fixed points);
  - a **signed zero** (``-0.0`` or ``0.0``), an **exact half**, the range's **bounds**;
  - ints: the range's bounds, ``0``, ``+-1`` (negative dividends and divisors), the tie pool;
  - ints of a **wrapping** type (uint8..64, int8, int16; :attr:`grammar.types.Scalar.wraps`) span the type's
    whole range, not the spec's: the generator tracks no interval for them (their values are assumed to be
    anything of the type: ``strategies.expressions.tracks_interval``), so ``2**31``, ``2**32 - 1``,
    ``-128`` are fair and reach the wrap-around of ``+``/``*``/``-``/shifts. Int32/int64 inputs stay in the
    spec's range, which the interval tracking (UB-freedom) starts from; struct fields stay in their ranges.
* ``"wide"`` -- ``"corner"`` plus, for floats, wide magnitudes (``+-2**k`` times a grid mantissa,
  ``|k| <= WIDE_EXP`` within the dtype) and denormals of the dtype in a share of the elements. No generator
  guard assumes a float range (casts clamp to +-1000, ``exp`` clamps its argument...), so this stays
  UB-free; it may overflow to inf in both Warp and the reference (a match) or be screened as ill-conditioned.

* ``"smooth"`` -- the gradient check's inputs: floats uniform in the spec's range, off the 1/64 grid (rounded
  to the dtype), so no two values tie and none sits on a literal of the kernel; ints as ``"grid"``. A
  derivative is only defined away from the kinks that the corner profiles aim at: checked there, an adjoint
  is either excluded as non-smooth or compared with a one-sided choice of Warp's.

Never generated: inf, NaN (a NaN reaching ``clamp`` and then a float->int cast is undefined in C++).
:func:`profile_for_attempt` is the profile of the pipeline's ``n``-th input attempt (a fraction of kernels
start with ``"wide"``, the rest with ``"corner"``; the last attempt is ``"grid"``, today's mild inputs).
"""

from __future__ import annotations

import numpy as np

from grammar.types import BY_NAME, Array, Composite

GRID = 64.0
PROFILES = ("grid", "corner", "wide", "smooth")
WIDE_EXP = 40  # wide magnitudes are up to 2**40 (~1e12) and down to 2**-40 (float16: its own range)
WIDE_SHARE = 3  # one kernel in WIDE_SHARE starts with the "wide" profile (:func:`profile_for_attempt`)
INPUT_ATTEMPTS = 3  # input draws the pipeline tries before it screens a kernel as ill-conditioned
_HALVES = (0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, -3.5)


def profile_for_attempt(attempt: int, seed: int, attempts: int = INPUT_ATTEMPTS) -> str:
    """The input profile of input attempt ``attempt`` (of ``attempts``) whose seed is ``seed``: attempt 0 is
    ``"wide"`` for one seed in :data:`WIDE_SHARE`, else ``"corner"``; later attempts get milder, and the last
    one (when there are at least two) is ``"grid"``, so an input screened as ill-conditioned because of a
    corner value is retried on ordinary values."""
    if attempts > 1 and attempt >= attempts - 1:
        return "grid"
    if attempt == 0 and seed % WIDE_SHARE == 0:
        return "wide"
    return "corner"


def _shape(p, dim: int) -> tuple[int, ...]:
    return tuple(getattr(p, "shape", ()) or (dim,))


class _Draws:
    """The per-launch random state: the generator, the profile and the shared tie pools."""

    def __init__(self, seed: int, profile: str):
        if profile not in PROFILES:
            raise ValueError(f"unknown input profile {profile!r} (one of {', '.join(PROFILES)})")
        self.rng = np.random.default_rng(seed)
        self.profile = profile
        r = np.random.default_rng([seed, 1])  # pools from their own stream: "grid" draws are unchanged
        grid = [float(np.round(r.uniform(-4, 4) * GRID) / GRID) for _ in range(2)]
        self.float_pool = [*grid, float(r.choice(_HALVES)), float(r.integers(-3, 4))]
        self.int_pool = [int(v) for v in r.integers(-9, 10, size=3)]

    # -- floats --------------------------------------------------------------------------------------------
    def floats(self, low: float, high: float, shape, dtype) -> np.ndarray:
        r = self.rng
        if self.profile == "smooth":  # off every grid: no ties with each other or with the kernel's literals
            return r.uniform(low, high, size=shape).astype(dtype)
        base = np.round(r.uniform(low, high, size=shape) * GRID) / GRID
        if self.profile == "grid":
            return base.astype(dtype)
        lo_b, hi_b = float(low), float(high)
        pool = [v for v in self.float_pool if lo_b <= v <= hi_b] or [lo_b]
        halves = [v for v in _HALVES if lo_b <= v <= hi_b] or [lo_b]
        kinds = ["grid", "tie", "zero", "half", "bound"] + (["wide", "denormal"] if self.profile == "wide" else [])
        weights = [0.45, 0.25, 0.12, 0.08, 0.05] + ([0.10, 0.03] if self.profile == "wide" else [])
        w = np.array(weights) / sum(weights)
        kind = r.choice(len(kinds), size=shape, p=w)
        out = base.copy()
        flat, k = out.reshape(-1), kind.reshape(-1)
        flat[k == kinds.index("tie")] = r.choice(pool, size=int((k == 1).sum()))
        zeros = k == kinds.index("zero")
        flat[zeros] = np.where(r.integers(0, 2, size=int(zeros.sum())) == 1, -0.0, 0.0)
        flat[k == 3] = r.choice(halves, size=int((k == 3).sum()))
        flat[k == 4] = r.choice([lo_b, hi_b], size=int((k == 4).sum()))
        if self.profile == "wide":
            fi = np.finfo(dtype)
            top = min(WIDE_EXP, int(np.log2(float(fi.max))) - 3)
            bottom = max(-WIDE_EXP, int(np.log2(float(fi.tiny))) + 1)
            m = int((k == 5).sum())
            mant = r.integers(1, 64, size=m) / 32.0
            exps = r.integers(bottom, top + 1, size=m)
            signs = np.where(r.integers(0, 2, size=m) == 1, -1.0, 1.0)
            flat[k == 5] = signs * np.ldexp(mant, exps)
            d = int((k == 6).sum())
            tiny = float(fi.tiny)
            flat[k == 6] = np.where(r.integers(0, 2, size=d) == 1, -1.0, 1.0) * tiny * r.integers(1, 8, size=d) / 8
        return out.astype(dtype)

    # -- ints ----------------------------------------------------------------------------------------------
    def ints(self, low: int, high: int, scalar, shape, *, whole_type: bool = False) -> np.ndarray:
        r = self.rng
        if self.profile not in ("grid", "smooth") and whole_type:
            low, high = scalar.min, scalar.max
        lo, hi = max(int(low), scalar.min), min(int(high), scalar.max)
        base = r.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64 if hi < 2**63 else np.uint64)
        if self.profile in ("grid", "smooth"):
            return base.astype(scalar.numpy_dtype)
        corners = {lo, hi, 0, 1, -1, *self.int_pool}
        if whole_type:
            half = 2 ** (scalar.bits - 1)
            corners |= {half, half - 1, lo + 1, hi - 1, hi // 2, 2**16 - 1, 2**16, 31, 32, 255, 256}
        corners = sorted(c for c in corners if lo <= c <= hi)
        out = base.astype(object).reshape(-1)
        pick = r.random(size=out.size) < 0.5
        out[pick] = [corners[i] for i in r.integers(0, len(corners), size=int(pick.sum()))]
        return np.array([int(v) for v in out], dtype=object).reshape(shape).astype(scalar.numpy_dtype)

    def bools(self, shape) -> np.ndarray:
        return self.rng.integers(0, 2, size=shape).astype(np.bool_)


def make_inputs(params, dim: int, seed: int, profile: str = "grid") -> dict:
    """name -> numpy array (arrays: shape ``(*array_shape, *element_shape)``) or python scalar, for one launch
    of profile ``profile`` (see the module docstring; ``"grid"`` is the mild default)."""
    d = _Draws(seed, profile)
    values: dict = {}
    for p in params:
        if getattr(p, "struct", None) is not None:
            values[p.name] = _struct_values(d, p, dim)
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
            v = d.bools(shape)
        elif scalar.is_int:
            v = d.ints(p.low, p.high, scalar, shape, whole_type=scalar.wraps)
        else:
            v = d.floats(p.low, p.high, shape, scalar.numpy_dtype)
        if p.kind == "scalar" and not element:
            v = bool(v) if scalar.kind == "bool" else (int(v) if scalar.is_int else float(v))
        values[p.name] = v
    return values


def _draw(d: _Draws, t, low, high, shape):
    """Values of scalar or composite type ``t`` in ``[low, high]`` (struct fields: never the whole type)."""
    scalar = t.scalar if isinstance(t, Composite) else t
    shape = tuple(shape) + (t.shape if isinstance(t, Composite) else ())
    if scalar.kind == "bool":
        return d.bools(shape)
    if scalar.is_int:
        return d.ints(low, high, scalar, shape)
    return d.floats(low, high, shape, scalar.numpy_dtype)


def struct_numpy_dtype(s) -> np.dtype:
    """The plain numpy structured dtype of an array of struct ``s`` (value fields only)."""
    fields = []
    for f, t in s.fields:
        if isinstance(t, Array):
            raise ValueError(f"{s.name} has an array field: it cannot be an array element")
        scalar = t.scalar if isinstance(t, Composite) else t
        fields.append((f, scalar.numpy_dtype, t.shape) if isinstance(t, Composite) else (f, scalar.numpy_dtype))
    return np.dtype(fields)


def _struct_values(d: _Draws, p, dim: int):
    s = p.struct
    if p.kind == "array":
        out = np.zeros(_shape(p, dim), dtype=struct_numpy_dtype(s))
        if p.role == "input":
            for (f, t), (lo, hi) in zip(s.fields, p.field_ranges):
                out[f] = _draw(d, t, lo, hi, out.shape)
        return out
    values = {}
    for (f, t), (lo, hi) in zip(s.fields, p.field_ranges):
        if isinstance(t, Array):
            values[f] = _draw(d, t.dtype, lo, hi, tuple(p.shape) or (dim,))
            continue
        v = _draw(d, t, lo, hi, ())
        if not isinstance(t, Composite):
            v = bool(v) if t.kind == "bool" else (int(v) if t.is_int else float(v))
        values[f] = v
    return values
