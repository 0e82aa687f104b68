"""Numpy semantics of Warp's scalar builtins and operators beyond the core rows, for every scalar dtype.

Conventions are those of :mod:`grammar.semantics`: each function takes the evaluation context first; float
operands are numpy scalars of their own dtype in native runs (float64, or long double for float64, in
high-precision runs), ints are exact Python ints and the runtime wraps or range-checks the returned value
per the signature's result type. Functions that depend on the operand type read it from ``ctx.sig``.

What is copied from Warp 1.19 (``warp/native/builtin.h``, ``crt.h``; CPU kernels are C++17 built by Clang):

* float16 math: Warp converts half operands to float, calls the float32 libm function and rounds the
  result to half once (``half sin(half x) { return ::sinf(float(x)); }``); half ``+ - * /`` are float32
  operations rounded to half (which equals correctly rounded half arithmetic). :func:`_wide` does the same.
* ``acos``/``asin`` clamp their argument with the NaN-ignoring ``min(max(x, -1), 1)``, so a NaN argument
  becomes -1: ``acos(NaN) = pi``, ``asin(NaN) = -pi/2``.
* ``degrees``/``radians`` multiply by a *double* constant: ``float32(double(x) * RAD_TO_DEG)``; for float16
  the double product is converted to float and then to half (two roundings).
* ``round`` rounds halfway cases away from zero (``roundf``), ``rint`` to even, ``frac(x) = x - trunc(x)``.
* ``sign(x) = x < 0 ? -1 : 1`` (so ``sign(-0.0) = sign(NaN) = 1``, ``sign(0) = 1`` for ints, unsigned
  ``sign`` is always 1); ``step(x) = x < 0 ? 1 : 0``; ``nonzero(x) = x == 0 ? 0 : 1``.
* ``bit_count`` counts the set bits of the two's-complement representation in the operand's width.
* ``erfinv``/``erfcinv`` on the CPU are Warp's own double-precision code (``crt.h``): ``erfinv(z) =
  ndtri((z + 1) / 2) / sqrt(2)`` (Cephes ``ndtri``), ``erfcinv(x) = erfinv(1 - x)``, float32 and float16
  evaluate it in double and round. :func:`erfinv` ports it; it loses accuracy near 0 (``erfinv(1e-30f)``
  is 0) and ``erfcinv`` overflows to inf for arguments below about 1e-16.
* ``lerp(a, b, t) = a*(1-t) + b*t``; ``smoothstep(e0, e1, x)``: ``x = clamp((x - e0)/(e1 - e0), 0, 1)`` then
  ``x*x*(3 - 2*x)``, every operation in the operand type (Clang does not contract them into FMAs).
* Integer operators: 8/16-bit operands are promoted to ``int``. So ``uint16 * uint16`` can overflow ``int``
  (undefined); ``<<`` is undefined for a negative promoted left operand, a count outside ``[0, width of the
  promoted type)``, or a result that does not fit the unsigned promoted type (C++17 [expr.shift]); ``>>``
  of a negative value is arithmetic. Narrowing back to the result type wraps.
* Conversions (``wp.int8(x)``, ``float(x)``, ``bool(x)``...): float -> int truncates, undefined when the
  truncated value does not fit (NaN, inf included); int -> int wraps; int -> float rounds to nearest even;
  float64 -> float16 goes through float32 (``half(float)`` is the only constructor), so it rounds twice;
  int -> float16 likewise rounds to float32 first; x -> bool is ``x != 0`` (NaN is true).

Discontinuous functions report their distance to the jump through ``ctx.near_discontinuity``.
"""

from __future__ import annotations

import math

import numpy as np

from .semantics import UndefinedBehaviour, is_int
from .types import BOOL, FLOAT16, FLOAT64, Scalar

RAD_TO_DEG = 57.29577951308232087679  # the double literals of builtin.h
DEG_TO_RAD = 0.01745329251994329577



def _wide(x):
    """``x`` in the type Warp computes with: float16 operands are widened to float32."""
    return np.float32(x) if isinstance(x, np.float16) else x


def _arg(ctx, i: int = 0) -> Scalar:
    return ctx.sig.args[i]


def _near_integer(ctx, x) -> None:
    """Report the distance of ``x`` to the nearest integer (floor, ceil, trunc, frac, float -> int)."""
    if math.isfinite(float(x)):
        f = float(x)
        ctx.near_discontinuity(f - round(f), max(abs(f), 1.0))


def _near_half_integer(ctx, x) -> None:
    """Report the distance of ``x`` to the nearest half-integer (round, rint)."""
    if math.isfinite(float(x)):
        f = float(x)
        ctx.near_discontinuity(f - (math.floor(f) + 0.5), max(abs(f), 1.0))


def _near_zero(ctx, x) -> None:
    """Report whether ``x`` sits on the jump at zero (sign, step, nonzero, truthiness): 0.0 for an exact
    zero, 1.0 otherwise, so a zero that only some runs produce marks the run as fragile."""
    if math.isfinite(float(x)):
        ctx.near_discontinuity(float(x), abs(float(x)))


# ---- operators ----------------------------------------------------------------------------------------------


def mul_int(ctx, a: int, b: int) -> int:
    """Integer ``*``: uint16 operands are promoted to ``int``, whose overflow is undefined."""
    t = _arg(ctx)
    if t.kind == "uint" and t.bits == 16 and a * b > 2**31 - 1:
        raise UndefinedBehaviour(f"uint16 * uint16 overflows int: {a} * {b}")
    return a * b


def bit_and(ctx, a, b):
    return a & b


def bit_or(ctx, a, b):
    return a | b


def bit_xor(ctx, a, b):
    return a ^ b


def invert(ctx, a):
    return ~a


def _promoted(t: Scalar) -> tuple[int, bool]:
    """(width, signed) of ``t`` after the integer promotions."""
    return (32, True) if t.bits < 32 else (t.bits, t.is_signed)


def lshift(ctx, a: int, b: int) -> int:
    t = _arg(ctx)
    width, signed = _promoted(t)
    if not 0 <= b < width:
        raise UndefinedBehaviour(f"shift count {b} outside [0, {width})")
    if signed and (a < 0 or (a << b) >= 2**width):
        raise UndefinedBehaviour(f"{a} << {b} is undefined for a signed {width}-bit left operand")
    return t.wrap(a << b)


def rshift(ctx, a: int, b: int) -> int:
    width, _ = _promoted(_arg(ctx))
    if not 0 <= b < width:
        raise UndefinedBehaviour(f"shift count {b} outside [0, {width})")
    return a >> b  # arithmetic for negative values, like Clang


def div_approx(ctx, a, b):
    """``wp.div_approx``: approximate on the GPU, exact division on the CPU (builtin.h ``approx_div``)."""
    return a / b


def eq_float(ctx, a, b):
    _compared(ctx, a, b)
    return bool(a == b)


def ne_float(ctx, a, b):
    _compared(ctx, a, b)
    return bool(a != b)


def _compared(ctx, a, b) -> None:
    ctx.near_discontinuity(float(a) - float(b), max(abs(float(a)), abs(float(b))))


def _truth(ctx, a) -> bool:
    if not is_int(a) and not isinstance(a, bool):
        _near_zero(ctx, a)
    return bool(a != 0)


def and_any(ctx, a, b):
    """``a and b`` on non-bool operands: each is converted to bool (``x != 0``); Warp short-circuits."""
    return _truth(ctx, a) and _truth(ctx, b)


def or_any(ctx, a, b):
    return _truth(ctx, a) or _truth(ctx, b)


# ---- scalar math ------------------------------------------------------------------------------------------------


def _libm(fn, name: str):
    def f(ctx, *args):
        wide = [_wide(a) for a in args]
        if any(getattr(a, "dtype", None) == np.float32 for a in wide):  # correctly rounded, as Warp's libm nearly is
            with np.errstate(over="ignore"):  # (float32 overflow to inf, as in float32)
                return np.asarray(fn(*(np.float64(a) if np.ndim(a) == 0 else np.asarray(a, np.float64) for a in wide)),
                                  dtype=np.float32)[()]
        return fn(*wide)

    f.__name__ = name
    f.__doc__ = (f"``wp.{name}``: the libm function in the operand's precision (float16 via float32); a float32 "
                 "result is the float64 one rounded (numpy's own float32 kernels are up to a few ulps off).")
    return f


sqrt = _libm(np.sqrt, "sqrt")
cbrt = _libm(np.cbrt, "cbrt")
exp = _libm(np.exp, "exp")
log = _libm(np.log, "log")
log2 = _libm(np.log2, "log2")
log10 = _libm(np.log10, "log10")
sin = _libm(np.sin, "sin")
cos = _libm(np.cos, "cos")
tan = _libm(np.tan, "tan")
atan = _libm(np.arctan, "atan")
atan2 = _libm(np.arctan2, "atan2")
sinh = _libm(np.sinh, "sinh")
cosh = _libm(np.cosh, "cosh")
tanh = _libm(np.tanh, "tanh")
pow_ = _libm(np.power, "pow")


def _clamp_unit(x):
    """Warp's ``min(max(x, -1), 1)`` with NaN-ignoring min/max: NaN becomes -1."""
    one = type(x)(1)
    return np.fmin(np.fmax(x, -one), one)


def acos(ctx, x):
    return np.arccos(_clamp_unit(_wide(x)))


def asin(ctx, x):
    return np.arcsin(_clamp_unit(_wide(x)))


def _erf_of(fn, x):
    """``fn`` from Python's math module (glibc's double erf/erfc) on a numpy float (float16 via float32)."""
    x = _wide(x)
    if isinstance(x, np.float32):
        return np.float32(fn(float(x)))
    return type(x)(fn(float(x)))  # float64 (long double runs fall back to double accuracy)


def erf(ctx, x):
    return _erf_of(math.erf, x)


def erfc(ctx, x):
    return _erf_of(math.erfc, x)


# Cephes ndtri coefficients, as in warp/native/crt.h
_P0 = (-5.99633501014107895267e1, 9.80010754185999661536e1, -5.66762857469070293439e1, 1.39312609387279679503e1,
       -1.23916583867381258016e0)
_Q0 = (1.95448858338141759834e0, 4.67627912898881538453e0, 8.63602421390890590575e1, -2.25462687854119370527e2,
       2.00260212380060660359e2, -8.20372256168333339912e1, 1.59056225126211695515e1, -1.18331621121330003142e0)
_P1 = (4.05544892305962419923e0, 3.15251094599893866154e1, 5.71628192246421288162e1, 4.40805073893200834700e1,
       1.46849561928858024014e1, 2.18663306850790267539e0, -1.40256079171354495875e-1, -3.50424626827848203418e-2,
       -8.57456785154685413611e-4)
_Q1 = (1.57799883256466749731e1, 4.53907635128879210584e1, 4.13172038254672030440e1, 1.50425385692907503408e1,
       2.50464946208309415979e0, -1.42182922854787788574e-1, -3.80806407691578277194e-2, -9.33259480895457427372e-4)
_P2 = (3.23774891776946035970e0, 6.91522889068984211695e0, 3.93881025292474443415e0, 1.33303460815807542389e0,
       2.01485389549179081538e-1, 1.23716634817820021358e-2, 3.01581553508235416007e-4, 2.65806974686737550832e-6,
       6.23974539184983293730e-9)
_Q2 = (6.02427039364742014255e0, 3.67983563856160859403e0, 1.37702099489081330271e0, 2.16236993594496635890e-1,
       1.34204006088543189037e-2, 3.28014464682127739104e-4, 2.89247864745380683936e-6, 6.79019408009981274425e-9)


def _polevl(x: float, coefs) -> float:
    ans = coefs[0]
    for c in coefs[1:]:
        ans = ans * x + c
    return ans


def _p1evl(x: float, coefs) -> float:
    ans = x + coefs[0]
    for c in coefs[1:]:
        ans = ans * x + c
    return ans


def _ndtri(y: float) -> float:
    """Cephes ``ndtri`` exactly as warp/native/crt.h writes it, in double precision."""
    if y <= 0.0 or y >= 1.0:
        return -math.inf if y <= 0.0 else math.inf
    exp_neg2 = 0.13533528323661269189
    code = 1
    if y > 1.0 - exp_neg2:
        y = 1.0 - y
        code = 0
    if y > exp_neg2:
        y -= 0.5
        y2 = y * y
        return (y + y * (y2 * _polevl(y2, _P0) / _p1evl(y2, _Q0))) * 2.50662827463100050242e0
    x = math.sqrt(-2.0 * math.log(y))
    x0 = x - math.log(x) / x
    z = 1.0 / x
    x1 = z * _polevl(z, _P1) / _p1evl(z, _Q1) if x < 8.0 else z * _polevl(z, _P2) / _p1evl(z, _Q2)
    x = x0 - x1
    return -x if code != 0 else x


def _erfinv_double(z: float) -> float:
    if z == 0.0:
        return 0.0
    if z == 1.0:
        return math.inf
    if z == -1.0:
        return -math.inf
    if math.isnan(z) or z < -1.0 or z > 1.0:
        return math.nan
    return _ndtri((z + 1.0) / 2.0) / math.sqrt(2.0)


def _via_double(x, fn):
    if isinstance(x, (np.float16, np.float32)):
        return np.float32(fn(float(x)))  # the runtime rounds float16 results from this float
    return type(x)(fn(float(x)))


def erfinv(ctx, x):
    return _via_double(x, _erfinv_double)


def erfcinv(ctx, x):
    return _via_double(x, lambda v: _erfinv_double(1.0 - v))


def degrees(ctx, x):
    return _scaled(x, RAD_TO_DEG)


def radians(ctx, x):
    return _scaled(x, DEG_TO_RAD)


def _scaled(x, c: float):
    """``x * c`` with ``c`` a double constant, as builtin.h computes it for each operand type."""
    if isinstance(x, np.float16):
        return np.float16(np.float32(np.float64(x) * c))
    if isinstance(x, np.float32):
        return np.float32(np.float64(x) * c)
    return x * type(x)(c)


def round_(ctx, x):
    """``roundf``: nearest integer, halfway cases away from zero."""
    _near_half_integer(ctx, x)
    if not np.isfinite(x):
        return x
    t = np.trunc(x)
    if abs(float(x) - float(t)) >= 0.5:
        t = t + np.copysign(type(x)(1), x)
    return t


def rint(ctx, x):
    _near_half_integer(ctx, x)
    return np.rint(x)


def trunc(ctx, x):
    _near_integer(ctx, x)
    return np.trunc(x)


def floor(ctx, x):
    _near_integer(ctx, x)
    return np.floor(x)


def ceil(ctx, x):
    _near_integer(ctx, x)
    return np.ceil(x)


def frac(ctx, x):
    _near_integer(ctx, x)
    return x - np.trunc(x)


def sign(ctx, x):
    if is_int(x):
        return -1 if x < 0 else 1
    _near_zero(ctx, x)
    return type(x)(-1 if x < 0 else 1)


def step(ctx, x):
    if is_int(x):
        return 1 if x < 0 else 0
    _near_zero(ctx, x)
    return type(x)(1 if x < 0 else 0)


def nonzero(ctx, x):
    if is_int(x):
        return 0 if x == 0 else 1
    _near_zero(ctx, x)
    return type(x)(0 if x == 0 else 1)


def copysign(ctx, x, y):
    return np.copysign(x, y)


def bit_count(ctx, x: int) -> int:
    t = _arg(ctx)
    return (x % 2**t.bits).bit_count()


def _rand_pcg(state: int) -> int:
    """Warp's ``rand_pcg`` (native/rand.h): the PCG hash of Jarzynski and Olano (2020) in uint32 arithmetic."""
    b = (state * 747796405 + 2891336453) % 2**32
    c = (((b >> ((b >> 28) + 4)) ^ b) * 277803737) % 2**32
    return (c >> 22) ^ c


def rand_init(ctx, seed, offset=None) -> int:
    """``wp.rand_init(seed)`` = ``rand_pcg(uint32(seed))``; ``wp.rand_init(seed, offset)`` =
    ``rand_pcg(uint32(seed) + rand_pcg(uint32(offset)))`` (int32 seeds wrap into uint32, the sum wraps)."""
    s = int(seed) % 2**32
    if offset is None:
        return _rand_pcg(s)
    return _rand_pcg((s + _rand_pcg(int(offset) % 2**32)) % 2**32)


def isfinite(ctx, x):
    return bool(np.isfinite(x))


def isinf(ctx, x):
    return bool(np.isinf(x))


def isnan(ctx, x):
    return bool(np.isnan(x))


def lerp(ctx, a, b, t):
    one = type(t)(1)
    return a * (one - t) + b * t


def smoothstep(ctx, e0, e1, x):
    ft = type(x)
    x = np.fmin(np.fmax(ft(0), (x - e0) / (e1 - e0)), ft(1))
    return x * x * (ft(3) - ft(2) * x)


# ---- conversions --------------------------------------------------------------------------------------------


def _int_to_float32(v: int) -> np.float32:
    """``v`` rounded once to float32 (nearest, ties to even), like a C++ int -> float conversion."""
    if abs(v) < 2**53:
        return np.float32(float(v))  # exact in double, then one rounding
    m = abs(v)
    shift = m.bit_length() - 24
    q, r = divmod(m, 2**shift)
    half = 2 ** (shift - 1)
    if r > half or (r == half and q % 2 == 1):
        q += 1
    return np.float32(math.copysign(float(q * 2**shift), v))


def _to_float(ctx, target: Scalar, source: Scalar, a):
    if ctx.high_precision:
        return ctx.ftype(target)(int(a) if source.kind in ("bool", "int", "uint") else a)
    if source.kind in ("bool", "int", "uint"):
        v = int(a)
        if target == FLOAT64:
            return np.float64(float(v))
        return np.float16(_int_to_float32(v)) if target == FLOAT16 else _int_to_float32(v)
    if target == FLOAT16 and source == FLOAT64:
        return np.float16(np.float32(a))  # half(float) is half's only constructor: double -> float -> half
    return target.numpy_dtype(a)


def _to_int(ctx, target: Scalar, source: Scalar, a) -> int:
    if source.kind in ("bool", "int", "uint"):
        return target.wrap(int(a))
    x = float(a)
    if not math.isfinite(x):
        raise UndefinedBehaviour(f"float -> {target.name} conversion of {x!r}")
    v = int(np.trunc(a)) if isinstance(a, np.longdouble) else math.trunc(x)
    if not target.min <= v <= target.max:
        raise UndefinedBehaviour(f"float -> {target.name} conversion of {x!r}: out of range")
    _near_integer(ctx, a)
    return v


def cast(target: Scalar):
    """Semantics of the conversion to ``target`` (``wp.int8(x)``, ``float(x)``...), for any scalar source."""

    def fn(ctx, a):
        source = _arg(ctx)
        if target == BOOL:
            return _truth(ctx, a)
        if target.is_float:
            return _to_float(ctx, target, source, a)
        return _to_int(ctx, target, source, a)

    fn.__name__ = f"to_{target.name}"
    fn.__doc__ = f"Conversion of any scalar to {target.name} (see the module docstring for the rules)."
    return fn

