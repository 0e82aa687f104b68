"""Numpy semantics of Warp's quaternion and transform builtins, transcribed from warp-lang 1.19.

Sources: ``warp/native/quat.h`` (quaternion algebra, rotation, slerp, matrix conversions), ``spatial.h``
(``transform_t``), ``mat.h`` (``transform_point``/``transform_vector`` of a 4x4 matrix) and
``warp/_src/math.py`` (the builtins Warp writes in Python as ``@wp.func``: Euler angles, twist, roll-pitch-yaw,
``transform_compose``/``decompose``/``from_matrix``/``to_matrix``). Each function repeats Warp's operations in
Warp's order, in the operands' own precision (numpy scalars of the operand dtype), so the native reference
rounds like the generated code; the high-precision reference runs the same code on float64/long double.

Values: a quaternion is a ``(4,)`` array ``(x, y, z, w)``, a transform a ``(7,)`` array ``(p, q)``, matrices
``(r, c)`` arrays (row-major), scalars numpy scalars.

Warp details copied here (each one is checked by ``tests/test_conformance_quat.py``):

* ``normalize(q)`` multiplies by ``1 / length`` and returns the identity ``(0, 0, 0, 1)`` when the length is
  not ``> 0`` (zero *or NaN*: ``kEps`` is ``0``), while ``normalize(v)`` of a vec3 divides by the length
  and returns the zero vector;
* ``-q`` and ``quat_inverse`` negate (``-(+0.0)`` is ``-0.0``), unlike the scalar ``neg`` builtin;
* ``acos``/``asin`` clamp their argument with NaN-ignoring ``min``/``max``, so ``acos(NaN)`` is ``pi`` and
  ``asin(NaN)`` is ``-pi/2``;
* float16 arithmetic is float32 arithmetic rounded after every operation (numpy float16 does the same),
  float16 ``sin``/``cos``/``atan2``/``acos``/``sqrt`` are the float32 functions rounded once;
  a float64 -> float16 conversion goes through float32 (``half(float(x))``: double rounding).

Discontinuities (branch choices, atan2's branch cut, ``q.w < 0`` in ``quat_to_axis_angle``, the branches of
``quat_from_matrix`` and the gimbal-lock branches of ``quat_to_euler``) are reported to
``ctx.near_discontinuity`` so inputs within rounding distance of a jump are screened as ill-conditioned.
"""

from __future__ import annotations

import math

import numpy as np

from .semantics import UndefinedBehaviour
from .types import FLOAT16, INT32_MAX, INT32_MIN, Composite

# ---- helpers: Warp's building blocks in the operands' precision --------------------------------------------


def _t(x) -> type:
    """The numpy scalar type of a value (an array's element type)."""
    return x.dtype.type if isinstance(x, np.ndarray) else type(x)


def _arr(t: type, *values) -> np.ndarray:
    return np.array(values, dtype=t)


def _result_t(ctx) -> type:
    """The numpy type holding the current signature's result scalar in this run."""
    r = ctx.sig.result if ctx.sig is not None else None
    scalar = r.scalar if isinstance(r, Composite) else r
    if scalar is None:
        raise TypeError("the result type is unknown: call through a Runtime or set ctx.sig")
    return ctx.ftype(scalar)


def _fmin(a, b):
    """Warp's CPU ``min`` for floats: ``(a <= b) ? a : ((b == b) ? b : a)``."""
    return a if a <= b else (b if b == b else a)


def _fmax(a, b):
    return a if a >= b else (b if b == b else a)


def _acos(x):
    T = _t(x)
    return np.arccos(_fmin(_fmax(x, T(-1)), T(1)))


def _asin(x):
    T = _t(x)
    return np.arcsin(_fmin(_fmax(x, T(-1)), T(1)))


def _atan2(ctx, y, x):
    """``atan2(y, x)``, reporting the branch cut (``x < 0``, ``y`` crossing zero: a jump of 2 pi)."""
    if x < 0 and math.isfinite(float(y)):
        ctx.near_discontinuity(float(y), max(abs(float(x)), abs(float(y))))
    else:
        ctx.near_discontinuity(1.0, 1.0)  # one trace entry per call, whatever the branch
    return np.arctan2(y, x)


def _scale(*values) -> float:
    finite = [abs(float(v)) for v in values if math.isfinite(float(v))]
    return max(finite, default=0.0)


def _qdot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]


def _qnormalize(ctx, q):
    T = _t(q)
    l = np.sqrt(_qdot(q, q))
    if math.isfinite(float(l)):
        ctx.near_discontinuity(float(l), _scale(*q))  # l > 0 decides between q / |q| and the identity
    if l > T(0):
        inv = T(1) / l
        return _arr(T, q[0] * inv, q[1] * inv, q[2] * inv, q[3] * inv)
    return _arr(T, 0, 0, 0, 1)


def _vlength(v):
    return np.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _vnormalize(ctx, v):
    T = _t(v)
    l = _vlength(v)
    if math.isfinite(float(l)):
        ctx.near_discontinuity(float(l), _scale(*v))
    if l > T(0):
        return _arr(T, v[0] / l, v[1] / l, v[2] / l)
    return np.zeros(3, dtype=T)


def _vdot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _qmul(a, b):
    """The Hamilton product ``a * b`` (quat.h ``mul``)."""
    T = _t(a)
    return _arr(
        T,
        a[3] * b[0] + b[3] * a[0] + a[1] * b[2] - b[1] * a[2],
        a[3] * b[1] + b[3] * a[1] + a[2] * b[0] - b[2] * a[0],
        a[3] * b[2] + b[3] * a[2] + a[0] * b[1] - b[0] * a[1],
        a[3] * b[3] - a[0] * b[0] - a[1] * b[1] - a[2] * b[2],
    )


def _qinverse(q):
    return _arr(_t(q), -q[0], -q[1], -q[2], q[3])


def _rotate(q, x, inverse: bool = False):
    """quat.h ``quat_rotate`` (``inverse``: ``quat_rotate_inv``)."""
    T = _t(q)
    two = T(2)
    c = two * q[3] * q[3] - T(1)
    d = two * (q[0] * x[0] + q[1] * x[1] + q[2] * x[2])
    e0 = (q[1] * x[2] - q[2] * x[1]) * q[3] * two
    e1 = (q[2] * x[0] - q[0] * x[2]) * q[3] * two
    e2 = (q[0] * x[1] - q[1] * x[0]) * q[3] * two
    if inverse:
        return _arr(T, x[0] * c + q[0] * d - e0, x[1] * c + q[1] * d - e1, x[2] * c + q[2] * d - e2)
    return _arr(T, x[0] * c + q[0] * d + e0, x[1] * c + q[1] * d + e1, x[2] * c + q[2] * d + e2)


def _from_axis_angle(axis, angle):
    T = _t(angle)
    half = angle * T(0.5)
    w = np.cos(half)
    s = np.sin(half)
    return _arr(T, axis[0] * s, axis[1] * s, axis[2] * s, w)


def _to_axis_angle(ctx, q):
    T = _t(q)
    v = _arr(T, q[0], q[1], q[2])
    if math.isfinite(float(q[3])):
        ctx.near_discontinuity(float(q[3]), _scale(*q))  # q.w < 0 flips the axis
    n = _vnormalize(ctx, v)
    axis = -n if q[3] < T(0) else n
    angle = T(2) * np.arctan2(_vlength(v), np.abs(q[3]))
    return axis, angle


def _to_matrix(q):
    T = _t(q)
    c1 = _rotate(q, _arr(T, 1, 0, 0))
    c2 = _rotate(q, _arr(T, 0, 1, 0))
    c3 = _rotate(q, _arr(T, 0, 0, 1))
    return np.stack([c1, c2, c3], axis=1)


def _from_matrix(ctx, m):
    """quat.h ``quat_from_matrix`` (the top-left 3x3 block of a 3x3 or 4x4 matrix)."""
    T = _t(m)
    half, one = T(0.5), T(1)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    diag = _scale(m[0, 0], m[1, 1], m[2, 2])
    if math.isfinite(float(tr)):
        ctx.near_discontinuity(float(tr), max(diag, 1.0))
    if tr >= T(0):
        h = np.sqrt(tr + one)
        w = half * h
        h = half / h
        x = (m[2, 1] - m[1, 2]) * h
        y = (m[0, 2] - m[2, 0]) * h
        z = (m[1, 0] - m[0, 1]) * h
    else:
        x = y = z = w = T(0)
        _near(ctx, m[1, 1], m[0, 0])
        k = 1 if m[1, 1] > m[0, 0] else 0
        _near(ctx, m[2, 2], m[k, k])
        if m[2, 2] > m[k, k]:
            k = 2
        if k == 0:
            h = np.sqrt((m[0, 0] - (m[1, 1] + m[2, 2])) + one)
            x = half * h
            h = half / h
            y = (m[0, 1] + m[1, 0]) * h
            z = (m[2, 0] + m[0, 2]) * h
            w = (m[2, 1] - m[1, 2]) * h
        elif k == 1:
            h = np.sqrt((m[1, 1] - (m[2, 2] + m[0, 0])) + one)
            y = half * h
            h = half / h
            z = (m[1, 2] + m[2, 1]) * h
            x = (m[0, 1] + m[1, 0]) * h
            w = (m[0, 2] - m[2, 0]) * h
        else:
            h = np.sqrt((m[2, 2] - (m[0, 0] + m[1, 1])) + one)
            z = half * h
            h = half / h
            x = (m[2, 0] + m[0, 2]) * h
            y = (m[1, 2] + m[2, 1]) * h
            w = (m[1, 0] - m[0, 1]) * h
    return _qnormalize(ctx, _arr(T, x, y, z, w))


def _near(ctx, a, b) -> None:
    """Report the comparison ``a > b`` (a tie decides a branch)."""
    if math.isfinite(float(a)) and math.isfinite(float(b)):
        ctx.near_discontinuity(float(a) - float(b), max(abs(float(a)), abs(float(b)), 1.0))
    else:
        ctx.near_discontinuity(1.0, 1.0)


def _convert(ctx, values: np.ndarray, target) -> np.ndarray:
    """``static_cast<target>`` of each component; float64 -> float16 rounds through float32 like ``half(float)``."""
    if not ctx.high_precision and target == FLOAT16 and values.dtype == np.float64:
        values = values.astype(np.float32)
    return values.astype(ctx.ftype(target))


# ---- operators on quaternions and transforms --------------------------------------------------------------


def quat_mul(ctx, a, b):
    """``a * b`` for quaternions: the Hamilton product."""
    return _qmul(a, b)


def quat_neg(ctx, q):
    """``-q``: component negation (``operator-`` negates, so ``-(+0.0)`` is ``-0.0``)."""
    return -q


def quat_dot(ctx, a, b):
    return _qdot(a, b)


def quat_length(ctx, q):
    return np.sqrt(_qdot(q, q))


def quat_normalize(ctx, q):
    return _qnormalize(ctx, q)


def quat_pos(ctx, q):
    return q.copy()


def quat_length_sq(ctx, q):
    return _qdot(q, q)


def quat_isfinite(ctx, q):
    return bool(np.all(np.isfinite(q)))


def quat_isnan(ctx, q):
    return bool(np.any(np.isnan(q)))


def quat_isinf(ctx, q):
    return bool(np.any(np.isinf(q)))


def lerp(ctx, a, b, t):
    """``lerp`` of quaternions or transforms: ``a * (1 - t) + b * t`` component-wise."""
    return a * (_t(t)(1) - t) + b * t


def component(ctx, v, i):
    """``v[i]`` of a quaternion or transform (Python-style negative indices, as Warp's ``extract``)."""
    n = v.shape[0]
    if not -n <= i < n:
        raise UndefinedBehaviour(f"component index {i} out of range for length {n}")
    return v[i]


# ---- constructors -------------------------------------------------------------------------------------------


def quaternion(ctx, *args):
    """``wp.quaternion``/``wp.quat*``: from four scalars, from ``(vec3, w)``, from another quaternion
    (converting its dtype), or zero-initialised."""
    scalar = ctx.sig.result.scalar
    if not args:
        return np.zeros(4, dtype=ctx.ftype(scalar))
    if len(args) == 1:
        return _convert(ctx, np.asarray(args[0]), scalar)
    if len(args) == 2:
        v, w = args
        return _arr(ctx.ftype(scalar), v[0], v[1], v[2], w)
    return _arr(ctx.ftype(scalar), *args)


def transformation(ctx, *args):
    """``wp.transformation``/``wp.transform*``: ``(p, q)``, ``(p)`` with the identity rotation, seven scalars,
    one scalar filling all seven components, a copy, or zero-initialised."""
    T = ctx.ftype(ctx.sig.result.scalar)
    if not args:
        return np.zeros(7, dtype=T)
    if len(args) == 7:
        return _arr(T, *args)
    if len(args) == 2:
        p, q = args
        return np.concatenate([p, q]).astype(T)
    (a,) = args
    if isinstance(a, np.ndarray) and a.shape == (7,):
        return a.copy()
    if isinstance(a, np.ndarray):  # translation only
        return np.concatenate([a, _arr(T, 0, 0, 0, 1)]).astype(T)
    return np.full(7, a, dtype=T)


def quat_identity(ctx):
    return _arr(_result_t(ctx), 0, 0, 0, 1)


def transform_identity(ctx):
    return _arr(_result_t(ctx), 0, 0, 0, 0, 0, 0, 1)


# ---- Quaternion Math ------------------------------------------------------------------------------------------


def quat_from_axis_angle(ctx, axis, angle):
    return _from_axis_angle(axis, angle)


def quat_to_axis_angle(ctx, q):
    """The output-argument form ``wp.quat_to_axis_angle(q, axis, angle)``: returns ``(axis, angle)``."""
    return _to_axis_angle(ctx, q)


def quat_rpy(ctx, roll, pitch, yaw):
    T = _t(roll)
    half = T(0.5)
    cy, sy = np.cos(yaw * half), np.sin(yaw * half)
    cr, sr = np.cos(roll * half), np.sin(roll * half)
    cp, sp = np.cos(pitch * half), np.sin(pitch * half)
    w = cy * cr * cp + sy * sr * sp
    x = cy * sr * cp - sy * cr * sp
    y = cy * cr * sp + sy * sr * cp
    z = sy * cr * cp - cy * sr * sp
    return _arr(T, x, y, z, w)


def quat_inverse(ctx, q):
    return _qinverse(q)


def quat_rotate(ctx, q, v):
    return _rotate(q, v)


def quat_rotate_inv(ctx, q, v):
    return _rotate(q, v, inverse=True)


def quat_slerp(ctx, a, b, t):
    axis, angle = _to_axis_angle(ctx, _qmul(_qinverse(a), b))
    return _qmul(a, _from_axis_angle(axis, t * angle))


def quat_to_matrix(ctx, q):
    return _to_matrix(q)


def quat_from_matrix(ctx, m):
    return _from_matrix(ctx, m)


def quat_twist(ctx, axis, q):
    T = _t(q)
    a = _arr(T, q[0], q[1], q[2])
    proj = _vdot(a, axis)
    a = _arr(T, proj * axis[0], proj * axis[1], proj * axis[2])
    return _qnormalize(ctx, _arr(T, a[0], a[1], a[2], q[3]))


def quat_twist_angle(ctx, axis, q):
    T = _t(q)
    sin_half = np.abs(_vdot(axis, _arr(T, q[0], q[1], q[2])))
    return T(2) * _atan2(ctx, sin_half, q[3])


def quat_twist_angle_signed(ctx, axis, q):
    T = _t(q)
    sin_half = _vdot(axis, _arr(T, q[0], q[1], q[2]))
    return T(2) * _atan2(ctx, sin_half, q[3])


def quat_to_rpy(ctx, q):
    T = _t(q)
    one, two = T(1), T(2)
    x, y, z, w = q
    roll = _atan2(ctx, two * (w * x + y * z), one - two * (x * x + y * y))
    t2 = two * (w * y - z * x)
    t2 = _fmin(_fmax(T(-1), t2), one)  # wp.clamp(t2, -1.0, 1.0)
    pitch = _asin(t2)
    yaw = _atan2(ctx, two * (w * z + x * y), one - two * (y * y + z * z))
    return _arr(T, roll, pitch, yaw)


def _int32(v: int) -> int:
    if not INT32_MIN <= v <= INT32_MAX:
        raise UndefinedBehaviour(f"int32 overflow: {v}")
    return v


def quat_to_euler(ctx, q, i, j, k):
    """math.py ``quat_to_euler``: Warp's transcription for scalar-first quaternions, branch by branch."""
    T = _t(q)
    one, two = T(1), T(2)
    q0, q1, q2, q3 = q[3], q[0], q[1], q[2]
    i, j, k = _int32(i + 1), _int32(j + 1), _int32(k + 1)
    not_proper = True
    if i == k:
        not_proper = False
        k = _int32(6 - i - j)
    e = T(_int32(_int32(_int32(i - j) * _int32(j - k)) * _int32(k - i))) / two  # Levi-Civita symbol
    a, b, c, d = q0, q1, q1, q1 * e
    if i == 2:
        b = q2
    elif i == 3:
        b = q3
    if j == 2:
        c = q2
    elif j == 3:
        c = q3
    if k == 2:
        d = q2 * e
    elif k == 3:
        d = q3 * e
    if not_proper:
        qj = q2 if j == 2 else (q3 if j == 3 else q1)
        qk = q2 if k == 2 else (q3 if k == 3 else q1)
        qi = q2 if i == 2 else (q3 if i == 3 else q1)
        a = a - qj
        b = b + qk * e
        c = c + q0
        d = d - qi
    cosine = two * (a * a + b * b) / (a * a + b * b + c * c + d * d) - one
    # the gimbal-lock branches below are taken exactly when the clamped cosine is +-1 (in float32, acos of
    # anything else is >= 3.4e-4): report the cosine's distance to +-1
    for end in (1.0, -1.0):
        dist = float(cosine) - end
        ctx.near_discontinuity(dist if math.isfinite(dist) else 1.0, 1.0)
    t2 = _acos(cosine)
    tp = _atan2(ctx, b, a)
    tm = _atan2(ctx, d, c)
    t1 = T(0)
    t3 = T(0)
    if np.abs(t2) < T(1e-6):
        t3 = two * tp - t1
    elif np.abs(t2 - T(math.pi)) < T(1e-6):
        t3 = two * tm + t1
    else:
        t1 = tp - tm
        t3 = tp + tm
    if not_proper:
        t2 = t2 - T(math.pi / 2)
        t3 = t3 * e
    ex, ey, ez = t1, t2, t3
    if i == 2:
        ex, ey = t2, t1
    elif i == 3:
        ex, ez = t3, t1
    if j == 1:
        ex = t2
    elif j == 2:
        ey = t2
    else:
        ez = t2
    if k == 1:
        ex = t3
    elif k == 2:
        ey = t3
    else:
        ez = t3
    return _arr(T, ex, ey, ez)


def _vec_index(v, i: int):
    if not -3 <= i < 3:
        raise UndefinedBehaviour(f"vec3 index {i} out of range")
    return v[i]


def quat_from_euler(ctx, e, i, j, k):
    T = _t(e)
    half = T(0.5)
    hi, hj, hk = half * _vec_index(e, i), half * _vec_index(e, j), half * _vec_index(e, k)
    si, sj, sk = np.sin(hi), np.sin(hj), np.sin(hk)
    ci, cj, ck = np.cos(hi), np.cos(hj), np.cos(hk)

    def axis_quat(n, s, c):
        return _arr(T, s, 0, 0, c) if n == 0 else (_arr(T, 0, s, 0, c) if n == 1 else _arr(T, 0, 0, s, c))

    qi, qj, qk = axis_quat(i, si, ci), axis_quat(j, sj, cj), axis_quat(k, sk, ck)
    return _qmul(qk, _qmul(qj, qi))


# ---- Transformations -----------------------------------------------------------------------------------------


def _p(t):
    return t[:3]


def _q(t):
    return t[3:]


def _transform(p, q):
    return np.concatenate([p, q])


def transform_get_translation(ctx, t):
    return _p(t).copy()


def transform_get_rotation(ctx, t):
    return _q(t).copy()


def transform_set_translation(ctx, t, p):
    """The in-place ``wp.transform_set_translation(t, p)``: returns the updated ``t``."""
    return _transform(p, _q(t))


def transform_set_rotation(ctx, t, q):
    """The in-place ``wp.transform_set_rotation(t, q)``: returns the updated ``t``."""
    return _transform(_p(t), q)


def transform_multiply(ctx, a, b):
    """``a * b`` for transforms: ``(quat_rotate(a.q, b.p) + a.p, a.q * b.q)``."""
    return _transform(_rotate(_q(a), _p(b)) + _p(a), _qmul(_q(a), _q(b)))


def transform_point(ctx, t, x):
    if t.ndim == 2:  # mat.h: mul(m, vec4(x, 1)), accumulated column by column
        return _mat44_apply(t, x, _t(t)(1))
    return _p(t) + _rotate(_q(t), x)


def transform_vector(ctx, t, x):
    if t.ndim == 2:
        return _mat44_apply(t, x, _t(t)(0))
    return _rotate(_q(t), x)


def _mat44_apply(m, x, w):
    v = (x[0], x[1], x[2], w)
    r = m[:, 0] * v[0]
    for c in range(1, 4):
        r = r + m[:, c] * v[c]
    return r[:3]


def transform_inverse(ctx, t):
    q_inv = _qinverse(_q(t))
    return _transform(-_rotate(q_inv, _p(t)), q_inv)


def transform_to_matrix(ctx, t):
    T = _t(t)
    rot = _to_matrix(_q(t))
    p = _p(t)
    m = np.zeros((4, 4), dtype=T)
    m[:3, :3] = rot
    m[:3, 3] = p
    m[3, 3] = T(1)
    return m


def transform_from_matrix(ctx, m):
    p = _arr(_t(m), m[0, 3], m[1, 3], m[2, 3])
    return _transform(p, _from_matrix(ctx, m))


def transform_compose(ctx, position, rotation, scale):
    T = _t(rotation)
    r = _to_matrix(rotation)
    m = np.zeros((4, 4), dtype=T)
    for row in range(3):
        for col in range(3):
            m[row, col] = scale[col] * r[row, col]
        m[row, 3] = position[row]
    m[3, 3] = T(1)
    return m


def transform_decompose(ctx, m):
    """``position, rotation, scale = wp.transform_decompose(m)`` (a tuple-returning ``@wp.func``)."""
    T = _t(m)
    position = _arr(T, m[0, 3], m[1, 3], m[2, 3])
    r = m[:3, :3].copy()
    s = []
    for col in range(3):
        c = r[:, col]
        sc = np.sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2])
        if math.isfinite(float(sc)):
            ctx.near_discontinuity(float(sc), _scale(*c))  # `if s != 0` divides the column
        if sc != T(0):
            r[:, col] = c / sc
        s.append(sc)
    return position, _from_matrix(ctx, r), _arr(T, *s)

