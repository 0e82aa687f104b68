"""Numpy semantics of every Warp operator and builtin in the grammar, as Warp defines them.

Each function takes an evaluation context ``ctx`` first (see :class:`EvalContext`) and then the operand
values. Values are represented as:

* float scalars: numpy scalars of ``ctx.float_t`` (``np.float32`` to mimic Warp, ``np.float64`` for the
  high-precision reference),
* int scalars: Python ``int`` (exact; every result is range-checked, overflow raises :class:`UndefinedBehaviour`),
* bools: Python ``bool``,
* vectors: 1-D numpy arrays of ``ctx.float_t``.

Where Warp differs from Python/numpy we copy Warp (sources: ``warp/native/builtin.h`` and ``vec.h`` of
warp-lang 1.19; the semantics note in README.md lists each decision):

* int ``/`` truncates toward zero, int ``%`` takes the dividend's sign (C), int ``//`` floors;
* float ``%`` is ``fmodf``; float ``//`` is ``floorf(a / b)``;
* float ``min``/``max``/``clamp`` are ``fmin``/``fmax`` based (a NaN operand is ignored);
  ``clamp(x, a, b) = fmin(fmax(a, x), b)``;
* ``int32(x)`` of a float truncates toward zero (C cast; NaN or out of range is undefined behaviour);
* ``normalize(v)`` returns the zero vector when ``length(v) <= 0``.

Discontinuous operations (comparisons, ``floor``, ``//``, ``%``, float->int casts) report inputs that sit
within rounding distance of a discontinuity to ``ctx.near_discontinuity`` so the harness can screen them as
ill-conditioned instead of reporting a false alarm.
"""

from __future__ import annotations

import math

import numpy as np

from .types import INT32_MAX, INT32_MIN


class UndefinedBehaviour(ArithmeticError):
    """Raised when an operation would be undefined behaviour in the generated C++/CUDA code."""


class EvalContext:
    """What the semantics functions need from the evaluator: float precision, the signature being
    evaluated, and a discontinuity trace.

    ``high_precision`` runs hold float16/float32 values as float64 and float64 values as long double;
    native runs hold every value in its own dtype, like Warp. ``sig`` is the resolved signature of the
    call being evaluated (set by the runtime; None when a semantics function is called directly).

    Every evaluation of a discontinuous operation appends the *relative distance* of its input to the
    jump (0.0 for an exact tie) to ``trace``. Comparing the traces of the native, high-precision and
    perturbed runs tells a robust tie (an exact value, equal in every run) from a fragile one; see
    :func:`traces_fragile`.
    """

    def __init__(self, float_t: type = np.float32, *, high_precision: bool | None = None):
        self.high_precision = (float_t is not np.float32) if high_precision is None else high_precision
        self.sig = None
        self.trace: list[float] = []

    def ftype(self, scalar) -> type:
        """The numpy type holding values of float scalar type ``scalar`` in this run."""
        if not self.high_precision:
            return scalar.numpy_dtype
        return np.longdouble if scalar.bits == 64 else np.float64

    @property
    def float_t(self) -> type:
        """The numpy float type of the current result (float32's when unknown)."""
        from .types import FLOAT32

        t = getattr(self.sig, "result", None)
        scalar = getattr(t, "scalar", t)
        return self.ftype(scalar if getattr(scalar, "is_float", False) else FLOAT32)

    def near_discontinuity(self, distance: float, scale: float) -> None:
        d = abs(float(distance))
        self.trace.append(d / max(abs(float(scale)), 1e-30) if math.isfinite(d) else math.inf)


#: a discontinuity closer than this (relative) to a non-tie input makes the run fragile
FRAGILE_REL = 2e-5


def traces_fragile(reference: list[float], others: list[list[float]]) -> bool:
    """True when rounding could change which side of a discontinuity some evaluation falls on.

    ``reference`` is the float32 run's trace, ``others`` the float64 and perturbed runs'. Fragile when
    a run took another path (trace lengths differ), an input sat within ``FRAGILE_REL`` of a jump without
    being an exact tie, or an exact tie in one run is not a tie in another (the tied value was computed,
    not exact, so Warp's rounding may break the tie either way).
    """
    if any(0.0 < r <= FRAGILE_REL or not math.isfinite(r) for r in reference):
        return True
    for other in others:
        if len(other) != len(reference):
            return True
        if any((a == 0.0) != (b == 0.0) for a, b in zip(reference, other)):
            return True
    return False


def is_int(x) -> bool:
    return type(x) is int


def is_vec(x) -> bool:
    return isinstance(x, np.ndarray)


def check_int(x: int) -> int:
    """Range check for int32 results (used when no signature is known)."""
    if not INT32_MIN <= x <= INT32_MAX:
        raise UndefinedBehaviour(f"int32 overflow: {x}")
    return x


def _int(ctx, x: int) -> int:
    """An exact int result: range-checked as int32 when called directly; the runtime checks or wraps
    it per the signature's result type otherwise."""
    return check_int(x) if ctx.sig is None else x


# ---- arithmetic -------------------------------------------------------------------------------------------


def add(ctx, a, b):
    return _int(ctx, a + b) if is_int(a) else a + b


def sub(ctx, a, b):
    return _int(ctx, a - b) if is_int(a) else a - b


def mul(ctx, a, b):
    return _int(ctx, a * b) if is_int(a) else a * b


def div(ctx, a, b):
    if is_int(a):
        if b == 0:
            raise UndefinedBehaviour("integer division by zero")
        q = abs(a) // abs(b)
        return _int(ctx, q if (a >= 0) == (b >= 0) else -q)
    return a / b


def floordiv(ctx, a, b):
    if is_int(a):
        if b == 0:
            raise UndefinedBehaviour("integer division by zero")
        return _int(ctx, a // b)
    q = a / b
    if math.isfinite(q):
        ctx.near_discontinuity(float(q) - round(float(q)), max(abs(float(q)), 1.0))
    return ctx.float_t(np.floor(q))


def mod(ctx, a, b):
    if is_int(a):
        if b == 0:
            raise UndefinedBehaviour("integer modulo by zero")
        t = getattr(ctx.sig, "result", None)
        lowest = INT32_MIN if t is None else (t.min if t.kind == "int" and not t.wraps else None)
        if b == -1 and a == lowest:  # the quotient overflows: undefined (x86 raises SIGFPE)
            raise UndefinedBehaviour(f"integer overflow: {a} % -1")
        r = abs(a) % abs(b)
        return r if a >= 0 else -r
    if math.isfinite(a) and math.isfinite(b) and b != 0:
        q = float(a) / float(b)
        if math.isfinite(q):  # 3e38 % 1e-30: the quotient overflows (fmod itself is exact)
            ctx.near_discontinuity(q - round(q), max(abs(q), 1.0))
    return ctx.float_t(np.fmod(a, b))


def neg(ctx, a):
    if is_int(a):
        return _int(ctx, -a)
    if is_vec(a):  # vec.h negates each component: -(+0.0) is -0.0 (measured: 1.0 / -wp.vec3(0.0) is -inf)
        return -a
    return ctx.float_t(0) - a  # a float: Warp's result is 0 - x, -(+0.0) is +0.0 (measured: 1.0 / -(x - x) is +inf)


def pos(ctx, a):
    return a


# ---- comparisons and logic ----------------------------------------------------------------------------------


def _compared(ctx, a, b):
    if not is_int(a):
        ctx.near_discontinuity(float(a) - float(b), max(abs(float(a)), abs(float(b))))
    return a, b


def lt(ctx, a, b):
    a, b = _compared(ctx, a, b)
    return bool(a < b)


def le(ctx, a, b):
    a, b = _compared(ctx, a, b)
    return bool(a <= b)


def gt(ctx, a, b):
    a, b = _compared(ctx, a, b)
    return bool(a > b)


def ge(ctx, a, b):
    a, b = _compared(ctx, a, b)
    return bool(a >= b)


def eq(ctx, a, b):
    return bool(a == b)


def ne(ctx, a, b):
    return bool(a != b)


def and_(ctx, a, b):
    return bool(a) and bool(b)


def or_(ctx, a, b):
    return bool(a) or bool(b)


def not_(ctx, a):
    return not a


def where(ctx, cond, a, b):
    return a if cond else b


# ---- scalar math ------------------------------------------------------------------------------------------


def min_(ctx, a, b):
    return min(a, b) if is_int(a) else np.fmin(a, b)


def max_(ctx, a, b):
    return max(a, b) if is_int(a) else np.fmax(a, b)


def abs_(ctx, a):
    return _int(ctx, abs(a)) if is_int(a) else np.abs(a)


def clamp(ctx, x, lo, hi):
    if is_int(x):
        return min(max(lo, x), hi)
    return np.fmin(np.fmax(lo, x), hi)


def sqrt(ctx, a):
    return np.sqrt(a)


def exp(ctx, a):
    return np.exp(a)


def log(ctx, a):
    return np.log(a)


def sin(ctx, a):
    return np.sin(a)


def cos(ctx, a):
    return np.cos(a)


def tanh(ctx, a):
    return np.tanh(a)


def floor(ctx, a):
    if math.isfinite(a):
        ctx.near_discontinuity(float(a) - round(float(a)), max(abs(float(a)), 1.0))
    return np.floor(a)


def pow_(ctx, a, b):
    return np.power(a, b)


# ---- conversions ------------------------------------------------------------------------------------------


def to_float32(ctx, a):
    return ctx.float_t(a)


def to_int32(ctx, a):
    if is_int(a):
        return a
    x = float(a)
    if not math.isfinite(x) or not INT32_MIN <= math.trunc(x) <= INT32_MAX:
        raise UndefinedBehaviour(f"float->int32 conversion of {x!r}")
    ctx.near_discontinuity(x - round(x), max(abs(x), 1.0))
    return math.trunc(x)


# ---- vectors ----------------------------------------------------------------------------------------------


def vec3(ctx, x, y, z):
    return np.array([x, y, z], dtype=ctx.float_t)


def dot(ctx, a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(ctx, a, b):
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], dtype=ctx.float_t
    )


def length(ctx, a):
    return np.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


def normalize(ctx, a):
    n = length(ctx, a)
    if n > 0:
        return np.array([a[0] / n, a[1] / n, a[2] / n], dtype=ctx.float_t)
    return np.zeros(3, dtype=ctx.float_t)


def component(ctx, v, i):
    return v[i]


# ---- atomics: the new value of the element; the runtime does the read-modify-write and returns the old ---------


def atomic_add(ctx, old, v):
    return old + v


def atomic_min(ctx, old, v):
    return min(old, v) if is_int(old) else np.fmin(old, v)


def atomic_max(ctx, old, v):
    return max(old, v) if is_int(old) else np.fmax(old, v)


def atomic_sub(ctx, old, v):
    return old - v


def atomic_and(ctx, old, v):
    return old & v  # Python ints: two's complement bitwise, as int32 for values in range


def atomic_or(ctx, old, v):
    return old | v


def atomic_xor(ctx, old, v):
    return old ^ v


def atomic_exch(ctx, old, v):
    return v


def atomic_cas(ctx, old, compare, v):
    return v if old == compare else old


# ---- corners: where a faulty implementation of a row typically differs (grammar.ops.Op.corner) ----------------


def tie_corner(sig, *args) -> bool:
    """Two operands equal in some component (a comparison or min/max between equal values: ``<`` lowered as
    ``<=`` differs only there)."""
    if len(args) != 2:
        return False
    with np.errstate(all="ignore"):
        return bool(np.any(np.asarray(args[0]) == np.asarray(args[1])))


def half_corner(sig, *args) -> bool:
    """A component exactly halfway between two integers (``round`` and ``rint`` differ only there)."""
    x = np.asarray(args[0], dtype=np.float64)
    with np.errstate(all="ignore"):
        return bool(np.any(np.abs(x - np.trunc(x)) == 0.5))


def unsigned_wrap_corner(sig, *args) -> bool:
    """An unsigned difference that wraps (``a - b`` with ``b > a``: saturating or signed arithmetic differs only
    there)."""
    t = sig.args[0]
    return getattr(t, "kind", None) == "uint" and len(args) == 2 and int(args[0]) < int(args[1])
