"""Numpy semantics of Warp's vector, matrix and spatial builtins, copied from warp-lang 1.19's native code.

Values follow :mod:`grammar.semantics`: vectors are 1-D numpy arrays, matrices 2-D (row-major), in the operands'
own dtype in native runs (``np.float16``/``np.float32``/``np.float64``, like Warp) and in float64 / long double
in high-precision runs. Every function below repeats the native expression's order of operations (``vec.h``,
``mat.h``, ``spatial.h``, ``svd.h`` and the ``@wp.func`` helpers of ``warp/_src/math.py``), which reproduces
Warp bit for bit on the CPU:

* Warp's CPU kernels are compiled without floating-point contraction (measured: the products and sums of
  ``dot(vec3, vec3)`` all round, although the host has FMA), so ``a*b + c`` rounds twice; the only fused
  operations are the explicit ``fmaf``/``fma`` calls of ``muladd`` (matrix products and ``ddot``), reproduced
  exactly by :func:`fma`.
* float16 (``half``) arithmetic converts to float32, computes, and rounds back after every operation - which
  is what numpy's float16 arithmetic does. A conversion from double to half goes through float
  (``half(float)`` is the only constructor), so it can round twice: :func:`narrow` does the same.
* 4x4 ``determinant``/``inverse`` keep some intermediates in ``double`` whatever the matrix type; for half
  matrices ``half * double`` is a ``half`` operator that rounds the double product through float.

Discontinuous choices (``argmin``/``argmax``, ``sign``, ``==``, ``normalize`` of a zero vector, ``inverse`` of a
singular matrix, every branch of the decompositions) report their distance to the switch through
``ctx.near_discontinuity``, with the relative gap already computed (scale 1).
"""

from __future__ import annotations

import math

import numpy as np

from .semantics import UndefinedBehaviour
from .types import FLOAT64

# ---- scalar rounding helpers --------------------------------------------------------------------------------------


def dtype_of(x) -> type:
    """The numpy type of a value (array dtype or scalar type)."""
    return x.dtype.type if isinstance(x, np.ndarray) else type(x)


def narrow(x, t: type):
    """C++ conversion of ``x`` to the numpy type ``t``; to half, a double first becomes a float."""
    if t is np.float16 and dtype_of(x) not in (np.float16, np.float32):
        x = np.asarray(x, dtype=np.float32) if isinstance(x, np.ndarray) else np.float32(x)
    return np.asarray(x, dtype=t) if isinstance(x, np.ndarray) else t(x)


def _fma32(x, y, z):
    """Correctly rounded float32 ``x*y + z``: the product is exact in double, the sum is rounded to odd
    (TwoSum error, then the last bit forced to 1 when inexact), and the final rounding to float is then
    correct (53 >= 24 + 2 bits)."""
    scalar = not any(isinstance(v, np.ndarray) for v in (x, y, z))
    p = np.asarray(x, dtype=np.float64) * np.asarray(y, dtype=np.float64)
    c = np.asarray(z, dtype=np.float64)
    s = p + c
    bb = s - p
    err = (p - (s - bb)) + (c - bb)
    odd = (np.asarray(s).view(np.int64) & 1) == 1
    fix = np.isfinite(s) & np.isfinite(err) & (err != 0) & ~odd
    s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    out = np.asarray(s, dtype=np.float32)
    return np.float32(out) if scalar else out


def _fma64_scalar(x: float, y: float, z: float) -> float:
    """Correctly rounded double ``x*y + z`` through exact integer arithmetic (CPython's int/int division
    rounds correctly, subnormals included)."""
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        if math.isfinite(x) and math.isfinite(y):
            return z  # the exact product is finite: an infinite (or NaN) addend wins, even where x*y overflows
        return x * y + z
    nx, dx = x.as_integer_ratio()
    ny, dy = y.as_integer_ratio()
    nz, dz = z.as_integer_ratio()
    num = nx * ny * dz + nz * dx * dy
    if num == 0:
        return x * y + z  # the sign of an exact zero follows IEEE addition
    try:
        return num / (dx * dy * dz)
    except OverflowError:
        return math.inf if num > 0 else -math.inf


def _fma64(x, y, z):
    if not any(isinstance(v, np.ndarray) for v in (x, y, z)):
        return np.float64(_fma64_scalar(float(x), float(y), float(z)))
    xs, ys, zs = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, y, z)))
    out = np.array([_fma64_scalar(float(a), float(b), float(c)) for a, b, c in zip(xs.ravel(), ys.ravel(),
                                                                                   zs.ravel())])
    return out.reshape(xs.shape)


def fma(x, y, z):
    """``fmaf``/``fma`` for float32/float64 values; any other type (high-precision runs) computes ``x*y + z``."""
    t = dtype_of(x)
    if t is np.float32:
        return _fma32(x, y, z)
    if t is np.float64 and dtype_of(z) is np.float64:
        return _fma64(x, y, z)
    return x * y + z


def muladd(ctx, a, b, c):
    """Warp's ``muladd<Type>(a, b, c)``: ``fmaf``/``fma`` for float and double, ``c + a*b`` for half."""
    if ctx.high_precision or dtype_of(a) is np.float16:
        return c + a * b
    return fma(a, b, c)


def _fmin(a, b):
    """Warp's CPU ``min`` on floats: ``(a <= b) ? a : ((b == b) ? b : a)``."""
    return np.where(a <= b, a, np.where(b == b, b, a)).astype(dtype_of(a))[()]


def _fmax(a, b):
    return np.where(a >= b, a, np.where(b == b, b, a)).astype(dtype_of(a))[()]


def _gap(x, y) -> float:
    """Relative distance between two compared values: 0 for an exact tie, 1 when either is not finite."""
    x, y = float(x), float(y)
    if x == y:
        return 0.0
    if not (math.isfinite(x) and math.isfinite(y)):
        return 1.0
    return abs(x - y) / max(abs(x), abs(y))


def _switch(ctx, x, y) -> None:
    """Record a comparison of ``x`` with ``y`` as a discontinuity."""
    ctx.near_discontinuity(_gap(x, y), 1.0)


def _sign_switch(ctx, x, scale) -> None:
    """Record a test of ``x``'s sign (``x < 0``, ``x == 0``), ``x`` being a rounded quantity of size ``scale``."""
    x, scale = abs(float(x)), abs(float(scale))
    if x == 0.0:
        gap = 0.0
    elif not (math.isfinite(x) and math.isfinite(scale)) or scale == 0.0:
        gap = 1.0
    else:
        gap = min(x / scale, 1.0)
    ctx.near_discontinuity(gap, 1.0)


def _result_t(ctx) -> type:
    return ctx.ftype(ctx.sig.result.scalar)


def _zero_like(x):
    return np.zeros_like(x)


# ---- vectors ------------------------------------------------------------------------------------------------------


def _dot(a, b):
    """``dot``: the vec2/vec3 specialisations sum left to right; longer vectors accumulate from zero."""
    n = a.shape[0]
    if n <= 3:
        r = a[0] * b[0] + a[1] * b[1]
        return r + a[2] * b[2] if n == 3 else r
    r = dtype_of(a)(0)
    for i in range(n):
        r = r + a[i] * b[i]
    return r


def dot(ctx, a, b):
    return _dot(a, b)


def length_sq(ctx, a):
    return _dot(a, a)


def length(ctx, a):
    return np.sqrt(_dot(a, a))


def normalize(ctx, a):
    """``a / length(a)``, or the zero vector when ``length(a) > 0`` is false (zero, underflow, NaN)."""
    n = np.sqrt(_dot(a, a))
    if math.isfinite(float(n)):
        big = float(np.max(np.abs(a.astype(np.float64))))
        ctx.near_discontinuity(float(n) / big if big > 0 else 0.0, 1.0)
    if n > 0:
        return a / n
    return _zero_like(a)


def cross(ctx, a, b):
    t = dtype_of(a)
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], dtype=t)


def cw_mul(ctx, a, b):
    return a * b


def cw_div(ctx, a, b):
    return a / b


def neg(ctx, a):
    """Component-wise ``-x`` (a true negation: ``-(+0.0)`` is ``-0.0``)."""
    return -a


def pos(ctx, a):
    return a.copy()


def vec_min(ctx, a, b):
    return _fmin(a, b)


def vec_max(ctx, a, b):
    return _fmax(a, b)


def reduce_min(ctx, v):
    r = v[0]
    for i in range(1, v.shape[0]):
        r = _fmin(r, v[i])
    return r


def reduce_max(ctx, v):
    r = v[0]
    for i in range(1, v.shape[0]):
        r = _fmax(r, v[i])
    return r


def _arg(ctx, v, better) -> int:
    """Warp's argmin/argmax: skip NaN slots, keep the first of equal extrema, 0 when all are NaN."""
    n = v.shape[0]
    isnan = [math.isnan(float(x)) for x in v]
    ret = 0
    while ret < n and isnan[ret]:
        ret += 1
    if ret == n:
        return 0
    for i in range(ret + 1, n):
        if not isnan[i] and better(v[i], v[ret]):
            ret = i
    gaps = [_gap(v[i], v[ret]) for i in range(n) if i != ret and not isnan[i]]
    if gaps:
        ctx.near_discontinuity(min(gaps), 1.0)
    return ret


def argmin(ctx, v):
    return _arg(ctx, v, lambda x, y: x < y)


def argmax(ctx, v):
    return _arg(ctx, v, lambda x, y: x > y)


def abs_(ctx, v):
    return np.abs(v)


def sign(ctx, v):
    """``v[i] < 0 ? -1 : 1`` per component (so ``sign(-0.0)`` is 1)."""
    for x in v.ravel():
        _sign_switch(ctx, x, max(abs(float(x)), 1.0))
    return np.where(v < 0, -1, 1).astype(dtype_of(v))


def isnan(ctx, v):
    return bool(np.isnan(v).any())


def isinf(ctx, v):
    return bool(np.isinf(v).any())


def isfinite(ctx, v):
    return bool(np.isfinite(v).all())


def eq(ctx, a, b):
    """``a == b`` on vectors and matrices: every component compares equal (NaN never does, ``-0 == +0``)."""
    for x, y in zip(a.ravel(), b.ravel()):
        _switch(ctx, x, y)
    return bool(np.all(a == b))


def mod(ctx, a, b):
    """Component-wise ``fmod`` (float16: ``fmodf`` of the floats, exact)."""
    for x, y in zip(a.ravel(), b.ravel()):
        x, y = float(x), float(y)
        if math.isfinite(x) and math.isfinite(y) and y != 0 and math.isfinite(x / y):  # x / y may overflow
            q = x / y
            ctx.near_discontinuity(abs(q - round(q)) / max(abs(q), 1.0), 1.0)
    return np.fmod(a, b)


def lerp(ctx, a, b, t):
    """``a * (1 - t) + b * t`` (a scaled copy of each, then a component-wise sum)."""
    one = dtype_of(t)(1)
    return a * (one - t) + b * t


def len_(ctx, v) -> int:
    """``len(v)``: components of a vector, rows of a matrix."""
    return int(v.shape[0])


def component(ctx, v, i):
    """``v[i]`` (a matrix gives its row ``i``); Warp wraps a negative index like Python, anything outside
    ``[-n, n)`` reads out of bounds (undefined)."""
    n = v.shape[0]
    if not -n <= i < n:
        raise UndefinedBehaviour(f"component index {i} out of range for length {n}")
    r = v[i]
    return r.copy() if isinstance(r, np.ndarray) else r


# ---- norms (float32-only @wp.func helpers of warp/_src/math.py) ---------------------------------------------------


def norm_l1(ctx, v):
    n = np.float32(0.0) if not ctx.high_precision else dtype_of(v)(0)
    for x in v:
        n = n + np.abs(x)
    return n


def norm_l2(ctx, v):
    return length(ctx, v)


def _delta(v, delta):
    return dtype_of(v)(1.0) if delta is None else delta


def norm_huber(ctx, v, delta=None):
    d = _delta(v, delta)
    t = dtype_of(v)
    a = _dot(v, v)
    if a <= d * d:
        return t(0.5) * a
    return d * (np.sqrt(a) - t(0.5) * d)


def norm_pseudo_huber(ctx, v, delta=None):
    d = _delta(v, delta)
    a = _dot(v, v)
    return d * np.sqrt(dtype_of(v)(1.0) + a / (d * d))


def smooth_normalize(ctx, v, delta=None):
    return v / norm_pseudo_huber(ctx, v, delta)


# ---- matrices -----------------------------------------------------------------------------------------------------


def mat_vec(ctx, m, v):
    """``m * v``: ``col(0) * v[0]``, then ``+= col(i) * v[i]``."""
    r = m[:, 0] * v[0]
    for i in range(1, m.shape[1]):
        r = r + m[:, i] * v[i]
    return r


def vec_mat(ctx, v, m):
    """``v * m`` (row vector): ``row(0) * v[0]``, then ``+= row(i) * v[i]``."""
    r = m[0, :] * v[0]
    for i in range(1, m.shape[0]):
        r = r + m[i, :] * v[i]
    return r


def mat_mat(ctx, a, b):
    """``a * b``: each entry accumulates ``muladd(a[i][k], b[k][j], sum)`` from zero."""
    s = np.zeros((a.shape[0], b.shape[1]), dtype=dtype_of(a))
    for k in range(a.shape[1]):
        s = muladd(ctx, a[:, k:k + 1], b[k:k + 1, :], s)
    return np.asarray(s, dtype=dtype_of(a))


def ddot(ctx, a, b):
    r = dtype_of(a)(0)
    for x, y in zip(a.ravel(), b.ravel()):
        r = muladd(ctx, x, y, r)
    return dtype_of(a)(r)


def trace(ctx, m):
    r = m[0, 0]
    for i in range(1, m.shape[0]):
        r = r + m[i, i]
    return r


def transpose(ctx, m):
    return m.T.copy()


def get_diag(ctx, m):
    return np.diagonal(m).copy()


def diag(ctx, v):
    out = np.zeros((v.shape[0], v.shape[0]), dtype=dtype_of(v))
    np.fill_diagonal(out, v)
    return out


def outer(ctx, a, b):
    return a[:, None] * b[None, :]


def skew(ctx, a):
    z = dtype_of(a)(0)
    return np.array([[z, -a[2], a[1]], [a[2], z, -a[0]], [-a[1], a[0], z]], dtype=dtype_of(a))


def identity(ctx):
    t = ctx.sig.result
    return np.eye(t.shape[0], dtype=_result_t(ctx))


def matrix_from_cols(ctx, *cols):
    return np.stack(cols, axis=1)


def matrix_from_rows(ctx, *rows):
    return np.stack(rows, axis=0)


def _det2(m):
    return m[0, 0] * m[1, 1] - m[1, 0] * m[0, 1]


def _det3(m):
    r0, r1, r2 = m[0], m[1], m[2]
    c0 = r1[1] * r2[2] - r1[2] * r2[1]
    c1 = r1[2] * r2[0] - r1[0] * r2[2]
    c2 = r1[0] * r2[1] - r1[1] * r2[0]
    return r0[0] * c0 + r0[1] * c1 + r0[2] * c2


class _Mixed:
    """The ``Type``/``double`` arithmetic of the USD-derived 4x4 determinant and inverse (mat.h)."""

    def __init__(self, ctx, m):
        self.T = dtype_of(m)
        self.half = self.T is np.float16 and not ctx.high_precision
        self.D = np.float64 if not ctx.high_precision else self.T

    def td(self, x, y):
        """``x * y`` with ``x`` of ``Type`` and ``y`` a double: a double product, except for half, whose
        ``operator*(half, double)`` rounds it (through float) back to half."""
        p = self.D(x) * y
        return narrow(p, np.float16) if self.half else p

    def to_t(self, x):
        return narrow(x, self.T)

    def to_d(self, x):
        return self.D(x)


def _det4_parts(ctx, m, full: bool):
    """The cofactors and determinant of a 4x4 matrix exactly as ``inverse_impl<4>``/``determinant<4>``."""
    X = _Mixed(ctx, m)
    x = {(i, j): m[i, j] for i in range(4) for j in range(4)}
    x00, x01, x10, x11, x20, x21, x30, x31 = (x[k] for k in ((0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0),
                                                              (3, 1)))
    d = X.to_d
    y01 = d(x00 * x11 - x10 * x01)
    y02 = d(x00 * x21 - x20 * x01)
    y03 = d(x00 * x31 - x30 * x01)
    y12 = d(x10 * x21 - x20 * x11)
    y13 = d(x10 * x31 - x30 * x11)
    y23 = d(x20 * x31 - x30 * x21)
    x02, x03, x12, x13, x22, x23, x32, x33 = (x[k] for k in ((0, 2), (0, 3), (1, 2), (1, 3), (2, 2), (2, 3), (3, 2),
                                                              (3, 3)))
    td = X.td
    z = {}
    if full:  # cofactors of the 2nd two columns (double variables)
        z[3, 3] = d(td(x02, y12) - td(x12, y02) + td(x22, y01))
        z[2, 3] = d(td(x12, y03) - td(x32, y01) - td(x02, y13))
        z[1, 3] = d(td(x02, y23) - td(x22, y03) + td(x32, y02))
        z[0, 3] = d(td(x22, y13) - td(x32, y12) - td(x12, y23))
        z[3, 2] = d(td(x13, y02) - td(x23, y01) - td(x03, y12))
        z[2, 2] = d(td(x03, y13) - td(x13, y03) + td(x33, y01))
        z[1, 2] = d(td(x23, y03) - td(x33, y02) - td(x03, y23))
        z[0, 2] = d(td(x13, y23) - td(x23, y13) + td(x33, y12))
    y01 = d(x02 * x13 - x12 * x03)
    y02 = d(x02 * x23 - x22 * x03)
    y03 = d(x02 * x33 - x32 * x03)
    y12 = d(x12 * x23 - x22 * x13)
    y13 = d(x12 * x33 - x32 * x13)
    y23 = d(x22 * x33 - x32 * x23)
    t = X.to_t  # cofactors of the 1st two columns (Type variables)
    z[3, 0] = t(td(x11, y02) - td(x21, y01) - td(x01, y12))
    z[2, 0] = t(td(x01, y13) - td(x11, y03) + td(x31, y01))
    z[1, 0] = t(td(x21, y03) - td(x31, y02) - td(x01, y23))
    z[0, 0] = t(td(x11, y23) - td(x21, y13) + td(x31, y12))
    if full:
        z[3, 1] = t(td(x00, y12) - td(x10, y02) + td(x20, y01))
        z[2, 1] = t(td(x10, y03) - td(x30, y01) - td(x00, y13))
        z[1, 1] = t(td(x00, y23) - td(x20, y03) + td(x30, y02))
        z[0, 1] = t(td(x20, y13) - td(x30, y12) - td(x10, y23))
    det = d(x30 * z[3, 0] + x20 * z[2, 0] + x10 * z[1, 0] + x00 * z[0, 0])
    return X, z, det


def determinant(ctx, m):
    n = m.shape[0]
    if n == 2:
        return _det2(m)
    if n == 3:
        return _det3(m)
    _, _, det = _det4_parts(ctx, m, full=False)
    return narrow(det, dtype_of(m))


def _singular_gap(ctx, m, det) -> None:
    """Report how close ``det`` is to the jump to the zero matrix, relative to Hadamard's bound."""
    if not math.isfinite(float(det)):
        return
    rows = np.sqrt(np.sum(np.square(m.astype(np.float64)), axis=1))
    bound = float(np.prod(rows))
    if math.isfinite(bound):
        ctx.near_discontinuity(abs(float(det)) / bound if bound > 0 else 0.0, 1.0)


def inverse(ctx, m):
    """``inverse``; a singular matrix gives the zero matrix (2x2 and 4x4: also a NaN determinant; 3x3 only
    an exactly zero one - a NaN determinant goes through the adjugate)."""
    t = dtype_of(m)
    n = m.shape[0]
    if n == 2:
        det = _det2(m)
        _singular_gap(ctx, m, det)
        if det > 0 or det < 0:
            r = t(1.0) / det
            return np.array([[m[1, 1], -m[0, 1]], [-m[1, 0], m[0, 0]]], dtype=t) * r
        return np.zeros((2, 2), dtype=t)
    if n == 3:
        det = _det3(m)
        _singular_gap(ctx, m, det)
        if det != 0:
            b = np.empty((3, 3), dtype=t)
            b[0, 0] = m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]
            b[1, 0] = m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2]
            b[2, 0] = m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]
            b[0, 1] = m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2]
            b[1, 1] = m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0]
            b[2, 1] = m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1]
            b[0, 2] = m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]
            b[1, 2] = m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2]
            b[2, 2] = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
            return b * (t(1.0) / det)
        return np.zeros((3, 3), dtype=t)
    X, z, det = _det4_parts(ctx, m, full=True)
    _singular_gap(ctx, m, det)
    out = np.zeros((4, 4), dtype=t)
    if abs(det) > 0:
        rcp = X.D(1.0) / det
        for (i, j), v in z.items():
            out[j, i] = narrow(X.D(v) * rcp, t)  # cofactor (i, j) lands transposed
    return out


# ---- constructors -------------------------------------------------------------------------------------------------


def construct(ctx, *args):
    """Typed and generic vector/matrix constructors: zero (no argument), fill (one scalar), components,
    or conversion of a composite of another dtype; the shape and dtype come from the signature's result."""
    t = ctx.sig.result
    rt = _result_t(ctx)
    if not args:
        return np.zeros(t.shape, dtype=rt)
    if len(args) == 1 and not isinstance(args[0], np.ndarray):
        return np.full(t.shape, args[0], dtype=rt)
    if len(args) == 1:
        return narrow(np.asarray(args[0]), rt).reshape(t.shape)
    if all(isinstance(a, np.ndarray) for a in args):  # spatial_vector(w, v)
        return np.concatenate(args).astype(rt)
    return np.array(args, dtype=rt).reshape(t.shape)


# ---- spatial ------------------------------------------------------------------------------------------------------


def spatial_top(ctx, a):
    return a[:3].copy()


def spatial_bottom(ctx, a):
    return a[3:].copy()


def spatial_dot(ctx, a, b):
    return _dot(a, b)


def spatial_cross(ctx, a, b):
    w = cross(ctx, a[:3], b[:3])
    v = cross(ctx, a[3:], b[:3]) + cross(ctx, a[:3], b[3:])
    return np.concatenate([w, v])


def spatial_cross_dual(ctx, a, b):
    w = cross(ctx, a[:3], b[:3]) + cross(ctx, a[3:], b[3:])
    v = cross(ctx, a[:3], b[3:])
    return np.concatenate([w, v])


def spatial_adjoint(ctx, r, s):
    out = np.zeros((6, 6), dtype=dtype_of(r))
    out[:3, :3] = r
    out[3:, 3:] = r
    out[3:, :3] = s
    return out


def _quat_rotate(q, x):
    """quat.h ``quat_rotate(q, x)``; ``q`` is laid out (x, y, z, w)."""
    t = dtype_of(q)
    qx, qy, qz, qw = q[0], q[1], q[2], q[3]
    two, one = t(2), t(1)
    c = two * qw * qw - one
    d = two * (qx * x[0] + qy * x[1] + qz * x[2])
    return np.array([
        x[0] * c + qx * d + (qy * x[2] - qz * x[1]) * qw * two,
        x[1] * c + qy * d + (qz * x[0] - qx * x[2]) * qw * two,
        x[2] * c + qz * d + (qx * x[1] - qy * x[0]) * qw * two,
    ], dtype=t)


def transform_twist(ctx, xf, s):
    """``w' = R w``, ``v' = R v + p x w'`` (math.py)."""
    p, q = xf[:3], xf[3:]
    w = _quat_rotate(q, s[:3])
    v = _quat_rotate(q, s[3:]) + cross(ctx, p, w)
    return np.concatenate([w, v])


def transform_wrench(ctx, xf, s):
    """``f' = R f``, ``tau' = R tau + p x f'`` (math.py)."""
    p, q = xf[:3], xf[3:]
    f = _quat_rotate(q, s[3:])
    tau = _quat_rotate(q, s[:3]) + cross(ctx, p, f)
    return np.concatenate([tau, f])


def velocity_at_point(ctx, qd, r):
    return qd[3:] + cross(ctx, qd[:3], r)


# ---- decompositions (svd.h, a port of Eric Jang's svd3) -----------------------------------------------------------


class _Svd:
    """Scalar arithmetic of svd.h in one Warp scalar type (``scalar``), on numpy scalars of type ``t``."""

    def __init__(self, ctx, scalar, t: type):
        self.ctx = ctx
        self.t = t
        double = scalar == FLOAT64
        self.iterations = 8 if double else 4
        self.eps = self.c(1e-12 if double else np.float32(1e-6))

    def c(self, value):
        """``Type(constant)``: a double constant converted like C++ does (to half through float)."""
        return narrow(np.float64(value), self.t) if self.t is not np.longdouble else self.t(value)

    def rsqrt(self, x):
        return self.t(1) / np.sqrt(x)

    def givens_quaternion(self, a11, a12, a22):
        """approximateGivensQuaternion"""
        t = self.t
        ch = t(2) * (a11 - a22)
        sh = a12
        lhs, rhs = self.c(5.82842712474619) * sh * sh, ch * ch
        _switch(self.ctx, lhs, rhs)
        b = lhs < rhs
        w = self.rsqrt(ch * ch + sh * sh)
        return (w * ch, w * sh) if b else (self.c(0.9238795325112867), self.c(0.3826834323650898))

    def conjugate(self, x, y, z, s, qv):
        """jacobiConjugation on s = [s11, s21, s22, s31, s32, s33] and the quaternion qv (x, y, z, w)."""
        t = self.t
        s11, s21, s22, s31, s32, s33 = s
        ch, sh = self.givens_quaternion(s11, s21, s22)
        scale = ch * ch + sh * sh
        a = (ch * ch - sh * sh) / scale
        b = (t(2) * sh * ch) / scale
        n11 = a * (a * s11 + b * s21) + b * (a * s21 + b * s22)
        n21 = a * (-b * s11 + a * s21) + b * (-b * s21 + a * s22)
        n22 = -b * (-b * s11 + a * s21) + a * (-b * s21 + a * s22)
        n31 = a * s31 + b * s32
        n32 = -b * s31 + a * s32
        n33 = s33
        tmp = [qv[0] * sh, qv[1] * sh, qv[2] * sh]
        sh = sh * qv[3]
        for i in range(4):
            qv[i] = qv[i] * ch
        qv[z] = qv[z] + sh
        qv[3] = qv[3] - tmp[z]
        qv[x] = qv[x] + tmp[y]
        qv[y] = qv[y] - tmp[x]
        return [n22, n32, n33, n21, n31, n11]

    def jacobi(self, s):
        t = self.t
        qv = [t(0), t(0), t(0), t(1)]
        for _ in range(self.iterations):
            s = self.conjugate(0, 1, 2, s, qv)
            s = self.conjugate(1, 2, 0, s, qv)
            s = self.conjugate(2, 0, 1, s, qv)
        return s, qv

    def quat_to_mat(self, qv):
        t = self.t
        x, y, z, w = qv
        qxx, qyy, qzz = x * x, y * y, z * z
        qxz, qxy, qyz = x * z, x * y, y * z
        qwx, qwy, qwz = w * x, w * y, w * z
        one, two = t(1), t(2)
        return [[one - two * (qyy + qzz), two * (qxy - qwz), two * (qxz + qwy)],
                [two * (qxy + qwz), one - two * (qxx + qzz), two * (qyz - qwx)],
                [two * (qxz - qwy), two * (qyz + qwx), one - two * (qxx + qyy)]]

    @staticmethod
    def mult_ab(a, b):
        return [[a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j] for j in range(3)] for i in range(3)]

    @staticmethod
    def mult_atb(a, b):
        return [[a[0][i] * b[0][j] + a[1][i] * b[1][j] + a[2][i] * b[2][j] for j in range(3)] for i in range(3)]

    def sort(self, b, v):
        """sortSingularValues: order the columns of b (and v) by decreasing norm, negating the moved one."""
        rho = [b[0][j] * b[0][j] + b[1][j] * b[1][j] + b[2][j] * b[2][j] for j in range(3)]

        def neg_swap(j, k):
            for m in (b, v):
                for i in range(3):
                    m[i][j], m[i][k] = m[i][k], -m[i][j]

        for j, k in ((0, 1), (0, 2), (1, 2)):
            _switch(self.ctx, rho[j], rho[k])
            if rho[j] < rho[k]:
                neg_swap(j, k)
                rho[j], rho[k] = rho[k], rho[j]

    def qr_givens(self, a1, a2):
        """QRGivensQuaternion"""
        t = self.t
        rho = np.sqrt(a1 * a1 + a2 * a2)
        _switch(self.ctx, rho, self.eps)
        sh = a2 if rho > self.eps else t(0)
        ch = np.abs(a1) + _fmax(rho, self.eps)
        _sign_switch(self.ctx, a1, rho)
        if a1 < t(0):
            sh, ch = ch, sh
        w = self.rsqrt(ch * ch + sh * sh)
        return ch * w, sh * w

    def qr(self, b):
        """QRDecomposition of the 3x3 list b: (Q, R)"""
        t = self.t
        one, two = t(1), t(2)
        (b11, b12, b13), (b21, b22, b23), (b31, b32, b33) = b
        ch1, sh1 = self.qr_givens(b11, b21)
        a = one - two * sh1 * sh1
        bb = two * ch1 * sh1
        r11, r12, r13 = a * b11 + bb * b21, a * b12 + bb * b22, a * b13 + bb * b23
        r21, r22, r23 = -bb * b11 + a * b21, -bb * b12 + a * b22, -bb * b13 + a * b23
        r31, r32, r33 = b31, b32, b33
        ch2, sh2 = self.qr_givens(r11, r31)
        a = one - two * sh2 * sh2
        bb = two * ch2 * sh2
        b11, b12, b13 = a * r11 + bb * r31, a * r12 + bb * r32, a * r13 + bb * r33
        b21, b22, b23 = r21, r22, r23
        b31, b32, b33 = -bb * r11 + a * r31, -bb * r12 + a * r32, -bb * r13 + a * r33
        ch3, sh3 = self.qr_givens(b22, b32)
        a = one - two * sh3 * sh3
        bb = two * ch3 * sh3
        r11, r12, r13 = b11, b12, b13
        r21, r22, r23 = a * b21 + bb * b31, a * b22 + bb * b32, a * b23 + bb * b33
        r31, r32, r33 = -bb * b21 + a * b31, -bb * b22 + a * b32, -bb * b23 + a * b33
        sh12, sh22, sh32 = sh1 * sh1, sh2 * sh2, sh3 * sh3
        m1 = t(-1)
        q11 = (m1 + two * sh12) * (m1 + two * sh22)
        q12 = t(4) * ch2 * ch3 * (m1 + two * sh12) * sh2 * sh3 + two * ch1 * sh1 * (m1 + two * sh32)
        q13 = t(4) * ch1 * ch3 * sh1 * sh3 - two * ch2 * (m1 + two * sh12) * sh2 * (m1 + two * sh32)
        q21 = two * ch1 * sh1 * (one - two * sh22)
        q22 = t(-8) * ch1 * ch2 * ch3 * sh1 * sh2 * sh3 + (m1 + two * sh12) * (m1 + two * sh32)
        q23 = t(-2) * ch3 * sh3 + t(4) * sh1 * (ch3 * sh1 * sh3 + ch1 * ch2 * sh2 * (m1 + two * sh32))
        q31 = two * ch2 * sh2
        q32 = two * ch3 * (one - two * sh22) * sh3
        q33 = (m1 + two * sh22) * (m1 + two * sh32)
        q = [[q11, q12, q13], [q21, q22, q23], [q31, q32, q33]]
        r = [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]]
        return q, r


def _rows(m) -> list[list]:
    return [[m[i, j] for j in range(m.shape[1])] for i in range(m.shape[0])]


def _svd_engine(ctx, m) -> _Svd:
    return _Svd(ctx, ctx.sig.args[0].scalar, dtype_of(m))


def svd3(ctx, a):
    """``svd3(A, U, sigma, V)``: returns ``(U, sigma, V)`` as Warp's fixed-iteration Jacobi + QR computes them."""
    e = _svd_engine(ctx, a)
    A = _rows(a)
    ata = e.mult_atb(A, A)
    s, qv = e.jacobi([ata[0][0], ata[1][0], ata[1][1], ata[2][0], ata[2][1], ata[2][2]])
    v = e.quat_to_mat(qv)
    b = e.mult_ab(A, v)
    e.sort(b, v)
    q, r = e.qr(b)
    t = e.t
    return (np.array(q, dtype=t), np.array([r[0][0], r[1][1], r[2][2]], dtype=t), np.array(v, dtype=t))


def qr3(ctx, a):
    """``qr3(A, Q, R)``: returns ``(Q, R)``; R's lower triangle holds the (tiny) Givens residuals."""
    e = _svd_engine(ctx, a)
    q, r = e.qr(_rows(a))
    return np.array(q, dtype=e.t), np.array(r, dtype=e.t)


def eig3(ctx, a):
    """``eig3(A, Q, d)``: Jacobi on A's lower triangle, then ``d = diag(Q^T A Q)`` with A's full entries."""
    e = _svd_engine(ctx, a)
    A = _rows(a)
    _, qv = e.jacobi([A[0][0], A[1][0], A[1][1], A[2][0], A[2][1], A[2][2]])
    q = e.quat_to_mat(qv)
    u = e.mult_ab(e.mult_atb(q, A), q)
    return np.array(q, dtype=e.t), np.array([u[0][0], u[1][1], u[2][2]], dtype=e.t)


def svd2(ctx, a):
    """``svd2(A, U, sigma, V)`` (svd.h ``_svd_2``): closed-form eigen-analysis of ``A^T A``."""
    e = _svd_engine(ctx, a)
    t = e.t
    one, two, half = t(1), t(2), t(0.5)
    a11, a12, a21, a22 = a[0, 0], a[0, 1], a[1, 0], a[1, 1]
    ata11 = a11 * a11 + a21 * a21
    ata12 = a11 * a12 + a21 * a22
    ata22 = a12 * a12 + a22 * a22
    tr = ata11 + ata22
    diff = ata11 - ata22
    disc = diff * diff + t(4) * ata12 * ata12
    _sign_switch(ctx, disc, tr * tr)
    if disc == t(0):
        s = np.sqrt(half * tr)
        eye = np.eye(2, dtype=t)
        return eye, np.array([s, s], dtype=t), eye.copy()
    sq = np.sqrt(disc)
    lambda1 = (tr + sq) * half
    lambda2 = (tr - sq) * half
    inv_sigma1 = e.rsqrt(lambda1)
    sigma1 = one / inv_sigma1
    sigma2 = np.sqrt(lambda2)
    v1y = diff - sq + two * ata12
    v1x = diff + sq - two * ata12
    len1_sq = v1x * v1x + v1y * v1y
    _sign_switch(ctx, len1_sq, (np.abs(diff) + sq + two * np.abs(ata12)) ** 2)
    if len1_sq == t(0):
        v11 = e.c(0.707106781186547524401)
        v21 = v11
    else:
        inv_len1 = e.rsqrt(len1_sq)
        v11 = v1x * inv_len1
        v21 = v1y * inv_len1
    v12, v22 = -v21, v11
    u11 = (a11 * v11 + a12 * v21) * inv_sigma1
    u21 = (a21 * v11 + a22 * v21) * inv_sigma1
    det = a11 * a22 - a12 * a21
    _sign_switch(ctx, det, np.abs(a11 * a22) + np.abs(a12 * a21))
    det_sign = t(-1) if det < t(0) else one
    u12 = -u21 * det_sign
    u22 = u11 * det_sign
    return (np.array([[u11, u12], [u21, u22]], dtype=t), np.array([sigma1, sigma2], dtype=t),
            np.array([[v11, v12], [v21, v22]], dtype=t))
