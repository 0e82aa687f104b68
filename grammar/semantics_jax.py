"""JAX spellings of the operator table's rows: the twin of each numpy semantics function, as JAX source text.

The numpy semantics (:mod:`grammar.semantics` and its ``semantics_*`` siblings) evaluate one thread's values;
the JAX backend (:mod:`harness.jax_backend.render`) writes a JAX program instead, so each semantics function has a
*spelling* here with the same module and name: ``spell(sig, *args) -> str`` takes the resolved signature
(argument and result types) and the JAX code of the arguments and returns the JAX code of the result, of
exactly the signature's result dtype. A semantics function without a spelling makes a kernel that uses it
inexpressible (``no-jax-spelling:<module>.<name>``): a row is never approximated by a different computation.

The spellings follow the numpy semantics' conventions, which copy Warp 1.19's CPU code:

* float16 values are ``jnp.float16`` (each operation rounds, as Warp's half arithmetic does); float32 libm
  functions are evaluated in float64 and rounded, as the reference does ("correctly rounded, as Warp's libm
  nearly is"); float16 through float32.
* integer arithmetic of 8/16-bit operands is done in int32 and narrowed (C's integer promotions); ``/`` and
  ``%`` truncate (C), ``//`` floors (the reference's Python floor division), float ``%`` is ``fmod``.
* ``-x`` of a float scalar is ``0 - x`` (so ``-(+0.0)`` is ``+0.0``), of a vector each component negated;
  ``min``/``max`` ignore a NaN operand; ``acos``/``asin`` clamp with NaN-ignoring min/max; ``round`` rounds
  halves away from zero; ``sign(-0.0)`` is 1.
* vector sums are written out in Warp's order (``dot`` of a vec3 is ``(a0*b0 + a1*b1) + a2*b2``); the fused
  multiply-adds of Warp's matrix products (``muladd``) are plain ``a*b + c`` here, so matrix products can
  differ from the reference in the last bit: the comparison's tolerance covers one rounding per result.

Helpers too long for one expression are the ``_w_*`` functions below; the renderer copies the source of each
one a program uses into it, so an emitted program imports only ``jax``.
"""

from __future__ import annotations

import inspect
import re

try:  # the helpers' own namespace, for running them directly (rendering needs no JAX: it writes text)
    import jax  # noqa: F401
    import jax.numpy as jnp  # noqa: F401
    from jax import lax  # noqa: F401
except ImportError:  # pragma: no cover - the [jax] extra is not installed
    jax = jnp = lax = None

from .types import BOOL, BY_NAME as _TYPES, FLOAT16, FLOAT32, FLOAT64, INT32, Composite, Scalar

RAD_TO_DEG = 57.29577951308232087679
DEG_TO_RAD = 0.01745329251994329577


def dtype(t) -> str:
    """The ``jnp`` dtype of a scalar type or of a composite's components."""
    s = t.scalar if isinstance(t, Composite) else t
    return "jnp.bool_" if s == BOOL else f"jnp.{s.name}"


def scalar_of(t) -> Scalar:
    return t.scalar if isinstance(t, Composite) else t


def small_int(t) -> bool:
    """An integer type C promotes to ``int`` before any arithmetic."""
    s = scalar_of(t)
    return s.is_int and s.bits < 32


# ---- helpers copied into programs (plain JAX: jnp, lax) ---------------------------------------------------------


def _w_rand_pcg(state):
    b = state * jnp.uint32(747796405) + jnp.uint32(2891336453)
    c = ((b >> ((b >> jnp.uint32(28)) + jnp.uint32(4))) ^ b) * jnp.uint32(277803737)
    return (c >> jnp.uint32(22)) ^ c


def _rand_init(sig, seed, offset=None) -> str:
    """``rand_init``: the int32 seed (and offset) reinterpreted as uint32 bits, hashed by Warp's PCG."""
    s = f"lax.bitcast_convert_type({seed}, jnp.uint32)"
    if offset is None:
        return f"_w_rand_pcg({s})"
    return f"_w_rand_pcg({s} + _w_rand_pcg(lax.bitcast_convert_type({offset}, jnp.uint32)))"


def _w_fmin(a, b):
    """Warp's CPU ``min`` on floats: ``(a <= b) ? a : ((b == b) ? b : a)``."""
    return jnp.where(a <= b, a, jnp.where(b == b, b, a))


def _w_fmax(a, b):
    """Warp's CPU ``max`` on floats: ``(a >= b) ? a : ((b == b) ? b : a)``."""
    return jnp.where(a >= b, a, jnp.where(b == b, b, a))


def _w_dot(a, b):
    """``dot``: vec2/vec3 sum left to right, longer vectors accumulate from zero."""
    n = a.shape[0]
    if n <= 3:
        r = a[0] * b[0] + a[1] * b[1]
        return r + a[2] * b[2] if n == 3 else r
    r = jnp.zeros((), a.dtype)
    for i in range(n):
        r = r + a[i] * b[i]
    return r


def _w_normalize(a):
    """``a / length(a)``, or zeros when ``length(a) > 0`` is false."""
    n = jnp.sqrt(_w_dot(a, a))
    return jnp.where(n > 0, a / jnp.where(n > 0, n, jnp.ones((), a.dtype)), jnp.zeros_like(a))


def _w_cross(a, b):
    return jnp.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _w_round(x):
    """``roundf``: nearest integer, halves away from zero (``-0.3`` gives ``-0.0``)."""
    t = jnp.trunc(x)
    return jnp.where(jnp.abs(x - t) >= 0.5, t + jnp.copysign(jnp.ones((), x.dtype), x), t)


def _w_mat_vec(m, v):
    """``m * v``: ``col(0) * v[0]``, then ``+= col(i) * v[i]``."""
    r = m[:, 0] * v[0]
    for i in range(1, m.shape[1]):
        r = r + m[:, i] * v[i]
    return r


def _w_vec_mat(v, m):
    """``v * m`` (row vector): ``row(0) * v[0]``, then ``+= row(i) * v[i]``."""
    r = m[0, :] * v[0]
    for i in range(1, m.shape[0]):
        r = r + m[i, :] * v[i]
    return r


def _w_mat_mat(a, b):
    """``a * b``: each entry accumulates ``a[i][k] * b[k][j] + sum`` from zero (Warp fuses it: muladd)."""
    s = jnp.zeros((a.shape[0], b.shape[1]), a.dtype)
    for k in range(a.shape[1]):
        s = a[:, k:k + 1] * b[k:k + 1, :] + s
    return s


def _w_ddot(a, b):
    r = jnp.zeros((), a.dtype)
    for x, y in zip(a.ravel(), b.ravel()):
        r = x * y + r
    return r


def _w_trace(m):
    r = m[0, 0]
    for i in range(1, m.shape[0]):
        r = r + m[i, i]
    return r


def _w_det2(m):
    return m[0, 0] * m[1, 1] - m[1, 0] * m[0, 1]


def _w_det3(m):
    r0, r1, r2 = m[0], m[1], m[2]
    c0 = r1[1] * r2[2] - r1[2] * r2[1]
    c1 = r1[2] * r2[0] - r1[0] * r2[2]
    c2 = r1[0] * r2[1] - r1[1] * r2[0]
    return r0[0] * c0 + r0[1] * c1 + r0[2] * c2


def _w_skew(a):
    z = jnp.zeros((), a.dtype)
    return jnp.stack([jnp.stack([z, -a[2], a[1]]), jnp.stack([a[2], z, -a[0]]), jnp.stack([-a[1], a[0], z])])


def _w_arg(v, better):
    """``argmin``/``argmax``: the first index whose component beats every earlier one."""
    best, ret = v[0], jnp.uint32(0)
    for i in range(1, v.shape[0]):
        take = better(v[i], best)
        best, ret = jnp.where(take, v[i], best), jnp.where(take, jnp.uint32(i), ret)
    return ret


def _w_norm_l1(v):
    n = jnp.abs(v[0])
    for i in range(1, v.shape[0]):
        n = n + jnp.abs(v[i])
    return n


def _w_norm_huber(v, d):
    a = _w_dot(v, v)
    return jnp.where(a <= d * d, jnp.asarray(0.5, v.dtype) * a, d * (jnp.sqrt(a) - jnp.asarray(0.5, v.dtype) * d))


def _w_norm_pseudo_huber(v, d):
    a = _w_dot(v, v)
    return d * jnp.sqrt(jnp.ones((), v.dtype) + a / (d * d))


def _w_qmul(a, b):
    """The Hamilton product ``a * b`` (quat.h ``mul``)."""
    return jnp.stack([
        a[3] * b[0] + b[3] * a[0] + a[1] * b[2] - b[1] * a[2],
        a[3] * b[1] + b[3] * a[1] + a[2] * b[0] - b[2] * a[0],
        a[3] * b[2] + b[3] * a[2] + a[0] * b[1] - b[0] * a[1],
        a[3] * b[3] - a[0] * b[0] - a[1] * b[1] - a[2] * b[2],
    ])


def _w_qdot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]


def _w_qinverse(q):
    return jnp.stack([-q[0], -q[1], -q[2], q[3]])


def _w_qnormalize(q):
    """``q / |q|``, or the identity quaternion when ``|q| > 0`` is false."""
    one = jnp.ones((), q.dtype)
    n = jnp.sqrt(_w_qdot(q, q))
    inv = one / jnp.where(n > 0, n, one)
    ident = jnp.zeros(4, q.dtype).at[3].set(one)
    return jnp.where(n > 0, jnp.stack([q[0] * inv, q[1] * inv, q[2] * inv, q[3] * inv]), ident)


def _w_rotate(q, x, inverse=False):
    """quat.h ``quat_rotate`` (``inverse``: ``quat_rotate_inv``)."""
    two = jnp.asarray(2, q.dtype)
    c = two * q[3] * q[3] - jnp.ones((), q.dtype)
    d = two * (q[0] * x[0] + q[1] * x[1] + q[2] * x[2])
    e0 = (q[1] * x[2] - q[2] * x[1]) * q[3] * two
    e1 = (q[2] * x[0] - q[0] * x[2]) * q[3] * two
    e2 = (q[0] * x[1] - q[1] * x[0]) * q[3] * two
    if inverse:
        return jnp.stack([x[0] * c + q[0] * d - e0, x[1] * c + q[1] * d - e1, x[2] * c + q[2] * d - e2])
    return jnp.stack([x[0] * c + q[0] * d + e0, x[1] * c + q[1] * d + e1, x[2] * c + q[2] * d + e2])


def _w_transform_multiply(a, b):
    """``(quat_rotate(a.q, b.p) + a.p, a.q * b.q)``."""
    return jnp.concatenate([_w_rotate(a[3:], b[:3]) + a[:3], _w_qmul(a[3:], b[3:])])


def _w_transform_inverse(t):
    q_inv = _w_qinverse(t[3:])
    return jnp.concatenate([-_w_rotate(q_inv, t[:3]), q_inv])


def _w_spatial_cross(a, b):
    w = _w_cross(a[:3], b[:3])
    v = _w_cross(a[3:], b[:3]) + _w_cross(a[:3], b[3:])
    return jnp.concatenate([w, v])


def _w_spatial_cross_dual(a, b):
    w = _w_cross(a[:3], b[:3]) + _w_cross(a[3:], b[3:])
    v = _w_cross(a[:3], b[3:])
    return jnp.concatenate([w, v])


def _w_inverse2(m):
    """2x2 ``inverse``: the adjugate over the determinant, zeros when ``det > 0 || det < 0`` is false."""
    det = _w_det2(m)
    ok = (det > 0) | (det < 0)
    r = jnp.ones((), m.dtype) / jnp.where(ok, det, jnp.ones((), m.dtype))
    adj = jnp.stack([jnp.stack([m[1, 1], -m[0, 1]]), jnp.stack([-m[1, 0], m[0, 0]])])
    return jnp.where(ok, adj * r, jnp.zeros_like(m))


def _w_inverse3(m):
    """3x3 ``inverse``: the adjugate times ``1 / det``, zeros when ``det != 0`` is false."""
    det = _w_det3(m)
    ok = det != 0
    b = jnp.stack([
        jnp.stack([m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1], m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2],
                   m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]]),
        jnp.stack([m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2], m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0],
                   m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2]]),
        jnp.stack([m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0], m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1],
                   m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]]),
    ])
    r = jnp.ones((), m.dtype) / jnp.where(ok, det, jnp.ones((), m.dtype))
    return jnp.where(ok, b * r, jnp.zeros_like(m))


def _w_det4_parts(m, full):
    """The cofactors and determinant of a 4x4 matrix as ``inverse_impl<4>``/``determinant<4>`` (mat.h, USD code):
    products of two entries in the matrix's type, cofactor terms ``Type * double`` in double (for half: rounded
    back to half through float), the first two columns' cofactors stored in the type, the last two in double."""
    T = m.dtype
    half = T == jnp.float16

    def d(v):
        return v.astype(jnp.float64)

    def td(a, y):
        p = a.astype(jnp.float64) * y
        return p.astype(jnp.float32).astype(jnp.float16) if half else p

    def t(v):
        return (v.astype(jnp.float32) if half and v.dtype == jnp.float64 else v).astype(T)

    x00, x01, x10, x11, x20, x21, x30, x31 = (m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[2, 0], m[2, 1], m[3, 0], m[3, 1])
    x02, x03, x12, x13, x22, x23, x32, x33 = (m[0, 2], m[0, 3], m[1, 2], m[1, 3], m[2, 2], m[2, 3], m[3, 2], m[3, 3])
    y01, y02, y03 = d(x00 * x11 - x10 * x01), d(x00 * x21 - x20 * x01), d(x00 * x31 - x30 * x01)
    y12, y13, y23 = d(x10 * x21 - x20 * x11), d(x10 * x31 - x30 * x11), d(x20 * x31 - x30 * x21)
    z = {}
    if full:
        z[3, 3] = d(td(x02, y12) - td(x12, y02) + td(x22, y01))
        z[2, 3] = d(td(x12, y03) - td(x32, y01) - td(x02, y13))
        z[1, 3] = d(td(x02, y23) - td(x22, y03) + td(x32, y02))
        z[0, 3] = d(td(x22, y13) - td(x32, y12) - td(x12, y23))
        z[3, 2] = d(td(x13, y02) - td(x23, y01) - td(x03, y12))
        z[2, 2] = d(td(x03, y13) - td(x13, y03) + td(x33, y01))
        z[1, 2] = d(td(x23, y03) - td(x33, y02) - td(x03, y23))
        z[0, 2] = d(td(x13, y23) - td(x23, y13) + td(x33, y12))
    y01, y02, y03 = d(x02 * x13 - x12 * x03), d(x02 * x23 - x22 * x03), d(x02 * x33 - x32 * x03)
    y12, y13, y23 = d(x12 * x23 - x22 * x13), d(x12 * x33 - x32 * x13), d(x22 * x33 - x32 * x23)
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
    return z, det


def _w_det4(m):
    """4x4 ``determinant`` (:func:`_w_det4_parts`), converted to the matrix's type (half through float)."""
    _, det = _w_det4_parts(m, False)
    return (det.astype(jnp.float32) if m.dtype == jnp.float16 else det).astype(m.dtype)


def _w_inverse4(m):
    """4x4 ``inverse``: cofactor (i, j) times ``1 / det`` in double lands at (j, i); zeros unless ``|det| > 0``."""
    z, det = _w_det4_parts(m, True)
    ok = jnp.abs(det) > 0
    rcp = 1.0 / jnp.where(ok, det, 1.0)
    rows = []
    for j in range(4):
        row = []
        for i in range(4):
            v = z[i, j].astype(jnp.float64) * rcp
            row.append((v.astype(jnp.float32) if m.dtype == jnp.float16 else v).astype(m.dtype))
        rows.append(jnp.stack(row))
    return jnp.where(ok, jnp.stack(rows), jnp.zeros_like(m))


def _w_mat44_apply(m, x, w):
    """``transform_point``/``transform_vector`` of a 4x4 matrix: ``mul(m, vec4(x, w))`` accumulated column by
    column, the first three components."""
    v = (x[0], x[1], x[2], w)
    r = m[:, 0] * v[0]
    for c in range(1, 4):
        r = r + m[:, c] * v[c]
    return r[:3]


def _w_from_axis_angle(axis, angle):
    half = angle * jnp.asarray(0.5, angle.dtype)
    s = jnp.sin(half)
    return jnp.stack([axis[0] * s, axis[1] * s, axis[2] * s, jnp.cos(half)])


def _w_vnormalize3(v):
    n = jnp.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    safe = jnp.where(n > 0, n, jnp.ones((), v.dtype))
    return jnp.where(n > 0, jnp.stack([v[0] / safe, v[1] / safe, v[2] / safe]), jnp.zeros(3, v.dtype))


def _w_to_axis_angle(q):
    """``(axis, angle)`` of a quaternion (the axis flips when ``q.w < 0``)."""
    v = q[:3]
    n = _w_vnormalize3(v)
    axis = jnp.where(q[3] < 0, -n, n)
    angle = jnp.asarray(2, q.dtype) * jnp.arctan2(jnp.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]), jnp.abs(q[3]))
    return axis, angle


def _w_quat_rpy(roll, pitch, yaw):
    half = jnp.asarray(0.5, roll.dtype)
    cy, sy = jnp.cos(yaw * half), jnp.sin(yaw * half)
    cr, sr = jnp.cos(roll * half), jnp.sin(roll * half)
    cp, sp = jnp.cos(pitch * half), jnp.sin(pitch * half)
    return jnp.stack([cy * sr * cp - sy * cr * sp, cy * cr * sp + sy * sr * cp, sy * cr * cp - cy * sr * sp,
                      cy * cr * cp + sy * sr * sp])


def _w_quat_to_rpy(q):
    one, two = jnp.ones((), q.dtype), jnp.asarray(2, q.dtype)
    x, y, z, w = q[0], q[1], q[2], q[3]
    roll = jnp.arctan2(two * (w * x + y * z), one - two * (x * x + y * y))
    t2 = _w_fmin(_w_fmax(-one, two * (w * y - z * x)), one)
    pitch = jnp.arcsin(_w_fmin(_w_fmax(t2, -one), one))
    yaw = jnp.arctan2(two * (w * z + x * y), one - two * (y * y + z * z))
    return jnp.stack([roll, pitch, yaw])


def _w_quat_slerp(a, b, t):
    axis, angle = _w_to_axis_angle(_w_qmul(_w_qinverse(a), b))
    return _w_qmul(a, _w_from_axis_angle(axis, t * angle))


def _w_to_matrix(q):
    one, zero = jnp.ones((), q.dtype), jnp.zeros((), q.dtype)
    c1 = _w_rotate(q, jnp.stack([one, zero, zero]))
    c2 = _w_rotate(q, jnp.stack([zero, one, zero]))
    c3 = _w_rotate(q, jnp.stack([zero, zero, one]))
    return jnp.stack([c1, c2, c3], axis=1)


def _w_transform_to_matrix(t):
    m = jnp.zeros((4, 4), t.dtype)
    m = m.at[:3, :3].set(_w_to_matrix(t[3:]))
    m = m.at[:3, 3].set(t[:3])
    return m.at[3, 3].set(jnp.ones((), t.dtype))


def _w_from_matrix(m):
    """quat.h ``quat_from_matrix``: every branch computed, the one Warp takes selected. A branch not taken gets 1 under
    its square root, so that its derivative (infinite or NaN at a zero or negative argument) does not reach the
    gradient through ``jnp.where`` (0 * inf is NaN); the taken branch computes exactly what it did."""
    half, one = jnp.asarray(0.5, m.dtype), jnp.ones((), m.dtype)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    use_tr = tr >= 0
    k1 = m[1, 1] > m[0, 0]
    kk = jnp.where(k1, m[1, 1], m[0, 0])
    k2 = m[2, 2] > kk
    taken = {"tr": use_tr, 0: ~use_tr & ~k2 & ~k1, 1: ~use_tr & ~k2 & k1, 2: ~use_tr & k2}

    def root(branch, x):
        return jnp.sqrt(jnp.where(taken[branch], x, one))

    h = root("tr", tr + one)
    g = half / h
    q_tr = jnp.stack([(m[2, 1] - m[1, 2]) * g, (m[0, 2] - m[2, 0]) * g, (m[1, 0] - m[0, 1]) * g, half * h])
    h0 = root(0, (m[0, 0] - (m[1, 1] + m[2, 2])) + one)
    g0 = half / h0
    q0 = jnp.stack([half * h0, (m[0, 1] + m[1, 0]) * g0, (m[2, 0] + m[0, 2]) * g0, (m[2, 1] - m[1, 2]) * g0])
    h1 = root(1, (m[1, 1] - (m[2, 2] + m[0, 0])) + one)
    g1 = half / h1
    q1 = jnp.stack([(m[0, 1] + m[1, 0]) * g1, half * h1, (m[1, 2] + m[2, 1]) * g1, (m[0, 2] - m[2, 0]) * g1])
    h2 = root(2, (m[2, 2] - (m[0, 0] + m[1, 1])) + one)
    g2 = half / h2
    q2 = jnp.stack([(m[2, 0] + m[0, 2]) * g2, (m[1, 2] + m[2, 1]) * g2, half * h2, (m[1, 0] - m[0, 1]) * g2])
    other = jnp.where(k2, q2, jnp.where(k1, q1, q0))
    return _w_qnormalize(jnp.where(use_tr, q_tr, other))


def _w_transform_decompose(m):
    position = jnp.stack([m[0, 3], m[1, 3], m[2, 3]])
    r = m[:3, :3]
    scales = []
    for col in range(3):
        c = r[:, col]
        sc = jnp.sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2])
        r = r.at[:, col].set(jnp.where(sc != 0, c / jnp.where(sc != 0, sc, jnp.ones((), m.dtype)), c))
        scales.append(sc)
    return position, _w_from_matrix(r), jnp.stack(scales)


def _w_transform_compose(position, rotation, scale):
    r = _w_to_matrix(rotation)
    m = jnp.zeros((4, 4), rotation.dtype)
    for row in range(3):
        for col in range(3):
            m = m.at[row, col].set(scale[col] * r[row, col])
        m = m.at[row, 3].set(position[row])
    return m.at[3, 3].set(jnp.ones((), rotation.dtype))


def _w_quat_twist(axis, q):
    proj = q[0] * axis[0] + q[1] * axis[1] + q[2] * axis[2]
    return _w_qnormalize(jnp.stack([proj * axis[0], proj * axis[1], proj * axis[2], q[3]]))


def _w_transform_twist(xf, s):
    w = _w_rotate(xf[3:], s[:3])
    v = _w_rotate(xf[3:], s[3:]) + _w_cross(xf[:3], w)
    return jnp.concatenate([w, v])


def _w_transform_wrench(xf, s):
    f = _w_rotate(xf[3:], s[3:])
    tau = _w_rotate(xf[3:], s[:3]) + _w_cross(xf[:3], f)
    return jnp.concatenate([tau, f])


def _w_spatial_adjoint(r, s):
    out = jnp.zeros((6, 6), r.dtype)
    return out.at[:3, :3].set(r).at[3:, 3:].set(r).at[3:, :3].set(s)


def _w_polevl(x, coefs):
    r = jnp.zeros_like(x) + coefs[0]
    for c in coefs[1:]:
        r = r * x + c
    return r


def _w_p1evl(x, coefs):
    r = x + coefs[0]
    for c in coefs[1:]:
        r = r * x + c
    return r


def _w_ndtri(y):
    """Cephes ``ndtri`` as warp/native/crt.h writes it, in double precision (every branch computed)."""
    p0 = (-59.96335010141079, 98.00107541859997, -56.67628574690703, 13.931260938727968, -1.2391658386738125)
    q0 = (1.9544885833814176, 4.676279128988815, 86.36024213908905, -225.46268785411937, 200.26021238006066, -82.03722561683334, 15.90562251262117, -1.1833162112133)
    p1 = (4.0554489230596245, 31.525109459989388, 57.16281922464213, 44.08050738932008, 14.684956192885803, 2.1866330685079025, -0.1402560791713545, -0.03504246268278482, -0.0008574567851546854)
    q1 = (15.779988325646675, 45.39076351288792, 41.3172038254672, 15.04253856929075, 2.504649462083094, -0.14218292285478779, -0.03808064076915783, -0.0009332594808954574)
    p2 = (3.2377489177694603, 6.915228890689842, 3.9388102529247444, 1.3330346081580755, 0.20148538954917908, 0.012371663481782003, 0.00030158155350823543, 2.6580697468673755e-06, 6.239745391849833e-09)
    q2 = (6.02427039364742, 3.6798356385616087, 1.3770209948908132, 0.21623699359449663, 0.013420400608854318, 0.00032801446468212774, 2.8924786474538068e-06, 6.790194080099813e-09)
    exp_neg2 = 0.13533528323661269189
    upper = y > 1.0 - exp_neg2
    y = jnp.where(upper, 1.0 - y, y)
    ym = y - 0.5
    y2 = ym * ym
    central = (ym + ym * (y2 * _w_polevl(y2, p0) / _w_p1evl(y2, q0))) * 2.50662827463100050242e0
    ys = jnp.where((y > 0) & (y < 1), y, 0.5)
    x = jnp.sqrt(-2.0 * jnp.log(ys))
    x0 = x - jnp.log(x) / x
    z = 1.0 / x
    x1 = jnp.where(x < 8.0, z * _w_polevl(z, p1) / _w_p1evl(z, q1), z * _w_polevl(z, p2) / _w_p1evl(z, q2))
    tail = jnp.where(upper, x0 - x1, -(x0 - x1))
    out = jnp.where(y > exp_neg2, central, tail)
    return jnp.where(y <= 0.0, jnp.where(upper, jnp.inf, -jnp.inf), out)


def _w_erfinv64(z):
    """Warp's CPU ``erfinv`` in double: 0, +-inf at +-1, NaN outside [-1, 1], else ``ndtri((z + 1) / 2) / sqrt(2)``."""
    inner = _w_ndtri((z + 1.0) / 2.0) / jnp.sqrt(2.0)
    out = jnp.where(z == 0.0, 0.0, inner)
    out = jnp.where(z == 1.0, jnp.inf, jnp.where(z == -1.0, -jnp.inf, out))
    return jnp.where(jnp.isnan(z) | (z < -1.0) | (z > 1.0), jnp.nan, out)


# the per-thread memory of harness.jax_backend.render (struct values are dicts of fields)


def _w_select(m, a, b):
    """``jnp.where(m, a, b)`` over a value of any type (a struct is a dict of fields)."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(m, x, y), a, b)


def _w_at(tree, idx):
    """Element ``idx`` of an array of structs (a dict of field arrays)."""
    return jax.tree_util.tree_map(lambda x: x[idx], tree)


def _w_set(tree, idx, value, m):
    """``tree[idx] = value`` where ``m`` holds, on an array of structs."""
    return jax.tree_util.tree_map(lambda x, v: x.at[idx].set(jnp.where(m, v, x[idx])), tree, value)


def _w_shape(tree):
    """The shape of an array, or of an array of structs (its first field's leading axes included)."""
    return jax.tree_util.tree_leaves(tree)[0].shape


def _w_merge(orig, w, m):
    """Each slot: the value of the one thread that wrote it, else the array's input value."""
    k = jnp.argmax(m, axis=0)
    extra = (1,) * (w.ndim - 1 - k.ndim)
    picked = jnp.take_along_axis(w, k.reshape((1,) + k.shape + extra), axis=0)[0]
    return jnp.where(jnp.any(m, axis=0).reshape(k.shape + extra), picked, orig)


# ---- the neural-network fragments (grammar.ops_nn, grammar.semantics_nn): the same order of operations -----------


def _w_wide(fn, x):
    """A libm function of a float32 value evaluated in float64 and rounded back (float64: as is)."""
    return fn(x.astype(jnp.float64)).astype(x.dtype)


def _w_sum(v):
    """Components summed left to right."""
    r = v[0]
    for i in range(1, v.shape[0]):
        r = r + v[i]
    return r


def _w_gelu(x):
    one, half = jnp.ones((), x.dtype), jnp.asarray(0.5, x.dtype)
    return half * x * (one + _w_wide(jax.scipy.special.erf, x * jnp.asarray(0.7071067811865476, x.dtype)))


def _w_softmax(v):
    e = _w_wide(jnp.exp, v - jnp.max(v))
    return e / _w_sum(e)


def _w_layer_norm(v):
    n = jnp.asarray(v.shape[0], v.dtype)
    d = v - _w_sum(v) / n
    return d / jnp.sqrt(_w_dot(d, d) / n + jnp.asarray(1e-5, v.dtype))


def _w_batch_norm(x):
    n = jnp.asarray(x.shape[0], x.dtype)
    d = x - (x[0] + x[1] + x[2]) / n
    var = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) / n
    return d * (jnp.ones((), x.dtype) / jnp.sqrt(var + jnp.asarray(1e-5, x.dtype)))


def _w_attention(q, k, v):
    return _w_vec_mat(_w_softmax(_w_mat_vec(k, q) * jnp.asarray(0.5773502691896258, q.dtype)), v)


def _w_svd_c(v, T):
    """``Type(constant)`` of svd.h: a double constant converted like C++ does (to half through float)."""
    return jnp.asarray(v, jnp.float64 if T == jnp.float64 else jnp.float32).astype(T)


def _w_svd_eps(T):
    return _w_svd_c(1e-12 if T == jnp.float64 else 1e-6, T)


def _w_givens_quaternion(a11, a12, a22):
    """approximateGivensQuaternion (svd.h)."""
    T = a11.dtype
    ch = jnp.asarray(2, T) * (a11 - a22)
    sh = a12
    b = _w_svd_c(5.82842712474619, T) * sh * sh < ch * ch
    w = jnp.ones((), T) / jnp.sqrt(ch * ch + sh * sh)
    return (jnp.where(b, w * ch, _w_svd_c(0.9238795325112867, T)),
            jnp.where(b, w * sh, _w_svd_c(0.3826834323650898, T)))


def _w_jacobi_conjugate(x, y, z, s, qv):
    """jacobiConjugation on s = [s11, s21, s22, s31, s32, s33] and the quaternion list qv (x, y, z, w)."""
    s11, s21, s22, s31, s32, s33 = s
    T = s11.dtype
    ch, sh = _w_givens_quaternion(s11, s21, s22)
    scale = ch * ch + sh * sh
    a = (ch * ch - sh * sh) / scale
    b = (jnp.asarray(2, T) * sh * ch) / scale
    n11 = a * (a * s11 + b * s21) + b * (a * s21 + b * s22)
    n21 = a * (-b * s11 + a * s21) + b * (-b * s21 + a * s22)
    n22 = -b * (-b * s11 + a * s21) + a * (-b * s21 + a * s22)
    n31 = a * s31 + b * s32
    n32 = -b * s31 + a * s32
    tmp = [qv[0] * sh, qv[1] * sh, qv[2] * sh]
    sh = sh * qv[3]
    qv = [c * ch for c in qv]
    qv[z] = qv[z] + sh
    qv[3] = qv[3] - tmp[z]
    qv[x] = qv[x] + tmp[y]
    qv[y] = qv[y] - tmp[x]
    return [n22, n32, s33, n21, n31, n11], qv


def _w_jacobi(s):
    """jacobiEigenanalysis: 4 sweeps (8 in double) of three conjugations; (s, quaternion list). The sweeps are a
    ``lax.fori_loop`` (the same operations in the same order): unrolled, XLA's CPU compiler fuses the eight double
    sweeps into one expression that took it minutes to compile."""
    T = s[0].dtype
    qv = [jnp.zeros((), T), jnp.zeros((), T), jnp.zeros((), T), jnp.ones((), T)]

    def sweep(_, carry):
        s, qv = carry
        s, qv = _w_jacobi_conjugate(0, 1, 2, list(s), list(qv))
        s, qv = _w_jacobi_conjugate(1, 2, 0, s, qv)
        s, qv = _w_jacobi_conjugate(2, 0, 1, s, qv)
        return tuple(s), tuple(qv)

    s, qv = lax.fori_loop(0, 8 if T == jnp.float64 else 4, sweep, (tuple(s), tuple(qv)))
    return list(s), list(qv)


def _w_svd_quat_to_mat(qv):
    x, y, z, w = qv
    one, two = jnp.ones((), x.dtype), jnp.asarray(2, x.dtype)
    qxx, qyy, qzz = x * x, y * y, z * z
    qxz, qxy, qyz = x * z, x * y, y * z
    qwx, qwy, qwz = w * x, w * y, w * z
    return [[one - two * (qyy + qzz), two * (qxy - qwz), two * (qxz + qwy)],
            [two * (qxy + qwz), one - two * (qxx + qzz), two * (qyz - qwx)],
            [two * (qxz - qwy), two * (qyz + qwx), one - two * (qxx + qyy)]]


def _w_rows3(m):
    return [[m[i, j] for j in range(3)] for i in range(3)]


def _w_svd_ab(a, b):
    return [[a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j] for j in range(3)] for i in range(3)]


def _w_svd_atb(a, b):
    return [[a[0][i] * b[0][j] + a[1][i] * b[1][j] + a[2][i] * b[2][j] for j in range(3)] for i in range(3)]


def _w_qr_givens(a1, a2):
    """QRGivensQuaternion (svd.h): (ch, sh)."""
    T = a1.dtype
    eps = _w_svd_eps(T)
    rho = jnp.sqrt(a1 * a1 + a2 * a2)
    sh = jnp.where(rho > eps, a2, jnp.zeros((), T))
    ch = jnp.abs(a1) + _w_fmax(rho, eps)
    neg = a1 < jnp.zeros((), T)
    sh, ch = jnp.where(neg, ch, sh), jnp.where(neg, sh, ch)
    w = jnp.ones((), T) / jnp.sqrt(ch * ch + sh * sh)
    return ch * w, sh * w


def _w_qr_lists(b):
    """QRDecomposition (svd.h) of a 3x3 list of lists: (Q, R) as lists of lists."""
    T = b[0][0].dtype
    one, two, m1 = jnp.ones((), T), jnp.asarray(2, T), jnp.asarray(-1, T)
    (b11, b12, b13), (b21, b22, b23), (b31, b32, b33) = b
    ch1, sh1 = _w_qr_givens(b11, b21)
    a = one - two * sh1 * sh1
    bb = two * ch1 * sh1
    r11, r12, r13 = a * b11 + bb * b21, a * b12 + bb * b22, a * b13 + bb * b23
    r21, r22, r23 = -bb * b11 + a * b21, -bb * b12 + a * b22, -bb * b13 + a * b23
    r31, r32, r33 = b31, b32, b33
    ch2, sh2 = _w_qr_givens(r11, r31)
    a = one - two * sh2 * sh2
    bb = two * ch2 * sh2
    b11, b12, b13 = a * r11 + bb * r31, a * r12 + bb * r32, a * r13 + bb * r33
    b21, b22, b23 = r21, r22, r23
    b31, b32, b33 = -bb * r11 + a * r31, -bb * r12 + a * r32, -bb * r13 + a * r33
    ch3, sh3 = _w_qr_givens(b22, b32)
    a = one - two * sh3 * sh3
    bb = two * ch3 * sh3
    r11, r12, r13 = b11, b12, b13
    r21, r22, r23 = a * b21 + bb * b31, a * b22 + bb * b32, a * b23 + bb * b33
    r31, r32, r33 = -bb * b21 + a * b31, -bb * b22 + a * b32, -bb * b23 + a * b33
    sh12, sh22, sh32 = sh1 * sh1, sh2 * sh2, sh3 * sh3
    q11 = (m1 + two * sh12) * (m1 + two * sh22)
    q12 = jnp.asarray(4, T) * ch2 * ch3 * (m1 + two * sh12) * sh2 * sh3 + two * ch1 * sh1 * (m1 + two * sh32)
    q13 = jnp.asarray(4, T) * ch1 * ch3 * sh1 * sh3 - two * ch2 * (m1 + two * sh12) * sh2 * (m1 + two * sh32)
    q21 = two * ch1 * sh1 * (one - two * sh22)
    q22 = jnp.asarray(-8, T) * ch1 * ch2 * ch3 * sh1 * sh2 * sh3 + (m1 + two * sh12) * (m1 + two * sh32)
    q23 = jnp.asarray(-2, T) * ch3 * sh3 + jnp.asarray(4, T) * sh1 * (
        ch3 * sh1 * sh3 + ch1 * ch2 * sh2 * (m1 + two * sh32))
    q31 = two * ch2 * sh2
    q32 = two * ch3 * (one - two * sh22) * sh3
    q33 = (m1 + two * sh22) * (m1 + two * sh32)
    return ([[q11, q12, q13], [q21, q22, q23], [q31, q32, q33]],
            [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]])


def _w_mat_of(rows):
    return jnp.stack([jnp.stack(r) for r in rows])


def _w_qr3(m):
    """``qr3(A, Q, R)``: (Q, R) by svd.h's three Givens rotations."""
    q, r = _w_qr_lists(_w_rows3(m))
    return _w_mat_of(q), _w_mat_of(r)


def _w_eig3(m):
    """``eig3(A, Q, d)``: Jacobi on A's lower triangle, then ``d = diag(Q^T A Q)`` with A's full entries."""
    a = _w_rows3(m)
    _, qv = _w_jacobi([a[0][0], a[1][0], a[1][1], a[2][0], a[2][1], a[2][2]])
    q = _w_svd_quat_to_mat(qv)
    u = _w_svd_ab(_w_svd_atb(q, a), q)
    return _w_mat_of(q), jnp.stack([u[0][0], u[1][1], u[2][2]])


def _w_svd3(m):
    """``svd3(A, U, sigma, V)``: Jacobi on A^T A, the columns of A V sorted by decreasing norm (the moved one
    negated), then QR."""
    a = _w_rows3(m)
    ata = _w_svd_atb(a, a)
    _, qv = _w_jacobi([ata[0][0], ata[1][0], ata[1][1], ata[2][0], ata[2][1], ata[2][2]])
    v = _w_svd_quat_to_mat(qv)
    b = _w_svd_ab(a, v)
    rho = [b[0][j] * b[0][j] + b[1][j] * b[1][j] + b[2][j] * b[2][j] for j in range(3)]
    for j, k in ((0, 1), (0, 2), (1, 2)):
        c = rho[j] < rho[k]
        for mm in (b, v):
            for i in range(3):
                mj, mk = mm[i][j], mm[i][k]
                mm[i][j], mm[i][k] = jnp.where(c, mk, mj), jnp.where(c, -mj, mk)
        rho[j], rho[k] = jnp.where(c, rho[k], rho[j]), jnp.where(c, rho[j], rho[k])
    q, r = _w_qr_lists(b)
    return _w_mat_of(q), jnp.stack([r[0][0], r[1][1], r[2][2]]), _w_mat_of(v)


def _w_svd2(m):
    """``svd2(A, U, sigma, V)`` (svd.h ``_svd_2``): closed-form eigen-analysis of A^T A."""
    T = m.dtype
    one, two, half, zero = jnp.ones((), T), jnp.asarray(2, T), jnp.asarray(0.5, T), jnp.zeros((), T)
    a11, a12, a21, a22 = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
    ata11 = a11 * a11 + a21 * a21
    ata12 = a11 * a12 + a21 * a22
    ata22 = a12 * a12 + a22 * a22
    tr = ata11 + ata22
    diff = ata11 - ata22
    disc = diff * diff + jnp.asarray(4, T) * ata12 * ata12
    degenerate = disc == zero
    sq = jnp.sqrt(disc)
    lambda1 = (tr + sq) * half
    lambda2 = (tr - sq) * half
    inv_sigma1 = one / jnp.sqrt(lambda1)
    sigma1 = one / inv_sigma1
    sigma2 = jnp.sqrt(lambda2)
    v1y = diff - sq + two * ata12
    v1x = diff + sq - two * ata12
    len1_sq = v1x * v1x + v1y * v1y
    flat = len1_sq == zero
    inv_len1 = one / jnp.sqrt(jnp.where(flat, one, len1_sq))
    r2 = _w_svd_c(0.707106781186547524401, T)
    v11 = jnp.where(flat, r2, v1x * inv_len1)
    v21 = jnp.where(flat, r2, v1y * inv_len1)
    v12, v22 = -v21, v11
    u11 = (a11 * v11 + a12 * v21) * inv_sigma1
    u21 = (a21 * v11 + a22 * v21) * inv_sigma1
    det = a11 * a22 - a12 * a21
    det_sign = jnp.where(det < zero, -one, one)
    u12 = -u21 * det_sign
    u22 = u11 * det_sign
    s = jnp.sqrt(half * tr)
    eye = jnp.eye(2, dtype=T)
    u = jnp.where(degenerate, eye, jnp.stack([jnp.stack([u11, u12]), jnp.stack([u21, u22])]))
    sigma = jnp.where(degenerate, jnp.stack([s, s]), jnp.stack([sigma1, sigma2]))
    v = jnp.where(degenerate, eye, jnp.stack([jnp.stack([v11, v12]), jnp.stack([v21, v22])]))
    return u, sigma, v


def _w_quat_from_euler(e, i, j, k):
    """``quat_from_euler(e, i, j, k)`` with computed axes (math.py): the product of three axis rotations, each axis
    picked by value (0: x, 1: y, anything else: z, as the reference's port)."""
    T = e.dtype
    half, zero = jnp.asarray(0.5, T), jnp.zeros((), T)

    def axis_quat(n):
        h = half * e[n]
        s = jnp.sin(h)
        return jnp.stack([jnp.where(n == 0, s, zero), jnp.where(n == 1, s, zero),
                          jnp.where((n != 0) & (n != 1), s, zero), jnp.cos(h)])

    return _w_qmul(axis_quat(k), _w_qmul(axis_quat(j), axis_quat(i)))


def _w_quat_to_euler(q, i, j, k):
    """``quat_to_euler(q, i, j, k)`` (math.py): Warp's transcription for scalar-first quaternions; every branch on
    the axes and on the gimbal lock is a ``jnp.where`` (both sides computed, one kept)."""
    T = q.dtype
    one, two, zero = jnp.ones((), T), jnp.asarray(2, T), jnp.zeros((), T)
    q0, q1, q2, q3 = q[3], q[0], q[1], q[2]
    i, j, k = i + 1, j + 1, k + 1
    not_proper = i != k
    k = jnp.where(not_proper, k, 6 - i - j)
    e = ((i - j) * (j - k) * (k - i)).astype(T) / two  # Levi-Civita symbol

    def pick(n):
        return jnp.where(n == 2, q2, jnp.where(n == 3, q3, q1))

    a, b, c, d = q0, pick(i), pick(j), pick(k) * e
    a = jnp.where(not_proper, a - pick(j), a)
    b = jnp.where(not_proper, b + pick(k) * e, b)
    c = jnp.where(not_proper, c + q0, c)
    d = jnp.where(not_proper, d - pick(i), d)
    cosine = two * (a * a + b * b) / (a * a + b * b + c * c + d * d) - one
    t2 = jnp.arccos(_w_fmin(_w_fmax(cosine, -one), one))
    tp = jnp.arctan2(b, a)
    tm = jnp.arctan2(d, c)
    lock0 = jnp.abs(t2) < jnp.asarray(1e-6, T)
    lock_pi = jnp.abs(t2 - jnp.asarray(3.141592653589793, T)) < jnp.asarray(1e-6, T)
    t1 = jnp.where(lock0 | lock_pi, zero, tp - tm)
    t3 = jnp.where(lock0, two * tp - zero, jnp.where(lock_pi, two * tm + zero, tp + tm))
    t2 = jnp.where(not_proper, t2 - jnp.asarray(1.5707963267948966, T), t2)
    t3 = jnp.where(not_proper, t3 * e, t3)
    ex = jnp.where(i == 2, t2, jnp.where(i == 3, t3, t1))
    ey = jnp.where(i == 2, t1, t2)
    ez = jnp.where(i == 3, t1, t3)
    ex, ey, ez = jnp.where(j == 1, t2, ex), jnp.where(j == 2, t2, ey), jnp.where((j != 1) & (j != 2), t2, ez)
    ex, ey, ez = jnp.where(k == 1, t3, ex), jnp.where(k == 2, t3, ey), jnp.where((k != 1) & (k != 2), t3, ez)
    return jnp.stack([ex, ey, ez])


HELPERS = {name: fn for name, fn in dict(globals()).items() if name.startswith("_w_") and callable(fn)}


def helper_source(name: str) -> str:
    return inspect.getsource(HELPERS[name])


def helpers_called(code: str) -> set[str]:
    """The ``_w_*`` helpers ``code`` calls, with the helpers those call (transitively)."""
    found: set[str] = set()
    todo = set(re.findall(r"\b(_w_\w+)\(", code))
    while todo:
        name = todo.pop()
        if name in found or name not in HELPERS:
            continue
        found.add(name)
        todo |= set(re.findall(r"\b(_w_\w+)\(", helper_source(name).split("\n", 1)[1]))
    return found


# ---- spellings --------------------------------------------------------------------------------------------------


def _a(sig, i=0):
    return sig.args[i]


def _cast(code: str, t) -> str:
    return f"{code}.astype({dtype(t)})"


def _int_op(op: str):
    """An integer operator: 8/16-bit operands computed in int32 and narrowed (C's promotions)."""
    def spell(sig, a, b):
        if small_int(sig.result):
            return _cast(f"({_cast(a, INT32)} {op} {_cast(b, INT32)})", sig.result)
        return f"({a} {op} {b})"
    return spell


def _arith(op: str):
    int_spell = _int_op(op)

    def spell(sig, a, b):
        if scalar_of(sig.result).is_int:
            return int_spell(sig, a, b)
        return f"({a} {op} {b})"
    return spell


def _wide_fn(fn: str):
    """A libm function: float16/float32 evaluated in float64 and rounded to float32 (then float16)."""
    def spell(sig, *args):
        t = sig.result
        if scalar_of(t) == FLOAT64:
            return f"{fn}({', '.join(args)})"
        wide = ", ".join(_cast(a, FLOAT64) for a in args)
        out = _cast(f"{fn}({wide})", FLOAT32)
        return _cast(out, FLOAT16) if scalar_of(t) == FLOAT16 else out
    return spell


def _div(sig, a, b):
    if scalar_of(sig.result).is_int:
        if small_int(sig.result):
            return _cast(f"lax.div({_cast(a, _I32)}, {_cast(b, _I32)})", sig.result)
        return f"lax.div({a}, {b})"  # truncates, like C
    return f"({a} / {b})"


def _floordiv(sig, a, b):
    if scalar_of(sig.result).is_int:
        if small_int(sig.result):
            return _cast(f"jnp.floor_divide({_cast(a, _I32)}, {_cast(b, _I32)})", sig.result)
        return f"jnp.floor_divide({a}, {b})"
    return f"jnp.floor({a} / {b})"


def _mod(sig, a, b):
    """C's ``%`` (the dividend's sign) for ints, ``fmod`` for floats."""
    if small_int(sig.result):
        return _cast(f"jnp.fmod({_cast(a, _I32)}, {_cast(b, _I32)})", sig.result)
    return f"jnp.fmod({a}, {b})"


def _neg(sig, a):
    t = sig.result
    if isinstance(t, Composite):
        return f"(-{a})"
    if scalar_of(t).is_float:
        return f"({dtype(t)}(0) - {a})"
    if small_int(t):
        return _cast(f"(-{_cast(a, _I32)})", t)
    return f"(-{a})"


def _compare(op: str):
    def spell(sig, a, b):
        return f"({a} {op} {b})"
    return spell


def _truth(code: str, t) -> str:
    return code if t == BOOL else f"({code} != 0)"


def _logic(op: str):
    """``and``/``or``: both operands as truth values (``x != 0`` unless bool), both evaluated, like Warp."""
    def spell(sig, a, b):
        return f"({_truth(a, _a(sig))} {op} {_truth(b, _a(sig, 1))})"
    return spell


def _not(sig, a):
    return f"jnp.logical_not({_truth(a, _a(sig))})"


def _where(sig, c, a, b):
    return f"jnp.where({_truth(c, _a(sig))}, {a}, {b})"


def _minmax(helper: str, int_fn: str):
    def spell(sig, a, b):
        if scalar_of(sig.result).is_float:
            return f"{helper}({a}, {b})"
        return f"{int_fn}({a}, {b})"
    return spell


def _clamp(sig, x, lo, hi):
    if scalar_of(sig.result).is_float:
        return f"_w_fmin(_w_fmax({lo}, {x}), {hi})"
    return f"jnp.minimum(jnp.maximum({lo}, {x}), {hi})"


def _abs(sig, a):
    if small_int(sig.result):
        return _cast(f"jnp.abs({_cast(a, _I32)})", sig.result)
    return f"jnp.abs({a})"


def _convert(target):
    def spell(sig, a):
        source = scalar_of(_a(sig))
        if target == BOOL:
            return f"({a} != 0)" if source != BOOL else a
        if target == FLOAT16 and source not in (FLOAT16, FLOAT32):
            return _cast(_cast(a, FLOAT32), FLOAT16)  # half(float) only: ints and doubles go through float
        return _cast(a, target)
    return spell


def _scaled(c: float):
    def spell(sig, a):
        t = scalar_of(sig.result)
        if t == FLOAT64:
            return f"({a} * jnp.float64({c!r}))"
        out = _cast(f"({_cast(a, FLOAT64)} * {c!r})", FLOAT32)
        return _cast(out, FLOAT16) if t == FLOAT16 else out
    return spell


def _unit_clamped(fn: str):
    inner = _wide_fn(fn)

    def spell(sig, x):
        one = f"{dtype(sig.result)}(1)"
        return inner(sig, f"_w_fmin(_w_fmax({x}, -{one}), {one})")
    return spell


def _select01(test: str, yes: int, no: int):
    def spell(sig, x):
        t = scalar_of(sig.result)
        # an unsigned type never takes ``sign``'s -1 branch, but its literal must still be in range (C's wrap)
        lit = t.wrap if t.is_int else (lambda v: v)
        return f"jnp.where({test.format(x)}, {dtype(sig.result)}({lit(yes)}), {dtype(sig.result)}({lit(no)}))"
    return spell


def _shift(op: str):
    def spell(sig, a, b):
        t = scalar_of(sig.result)
        if t.bits < 32:
            return _cast(f"({_cast(a, _I32)} {op} {_cast(b, _I32)})", t)
        return f"({a} {op} {b})"
    return spell


def _lerp(sig, a, b, t):
    one = f"{dtype(_a(sig, 2))}(1)"
    return f"({a} * ({one} - {t}) + {b} * {t})"


def _smoothstep(sig, e0, e1, x):
    d = dtype(sig.result)
    return (f"(lambda _x: _x * _x * ({d}(3) - {d}(2) * _x))"
            f"(_w_fmin(_w_fmax({d}(0), ({x} - {e0}) / ({e1} - {e0})), {d}(1)))")


def _construct(sig, *args):
    t = sig.result
    d = dtype(t)
    if not args:
        return f"jnp.zeros({t.shape}, {d})"
    if len(args) == 1 and not isinstance(_a(sig), Composite):
        return f"jnp.full({t.shape}, {args[0]}, {d})"
    if len(args) == 1:
        source = scalar_of(_a(sig))
        a = args[0]
        if scalar_of(t) == FLOAT16 and source == FLOAT64:
            a = _cast(a, FLOAT32)
        return f"{_cast(a, t)}.reshape({t.shape})"
    if all(isinstance(x, Composite) for x in sig.args):  # spatial_vector(w, v)
        return _cast(f"jnp.concatenate([{', '.join(args)}])", t)
    return f"jnp.stack([{', '.join(args)}]).astype({d}).reshape({t.shape})"


def _component(sig, v, i):
    return f"{v}[{i}]"


def _eq_composite(sig, a, b):
    return f"jnp.all({a} == {b})"


def _vec_sign(sig, v):
    return f"jnp.where({v} < 0, {dtype(sig.result)}(-1), {dtype(sig.result)}(1))"


def _reduce(helper: str):
    def spell(sig, v):
        n = _a(sig).shape[0]
        code = f"{v}[0]"
        for i in range(1, n):
            code = f"{helper}({code}, {v}[{i}])"
        return code
    return spell


def _delta(sig, v, d=None):
    return d if d is not None else f"{dtype(sig.result)}(1)"


_I32 = INT32

SPELLINGS: dict[tuple[str, str], object] = {}


def _register(module: str, table: dict) -> None:
    for name, spell in table.items():
        SPELLINGS[(module, name)] = spell


_CORE = {
    "add": _arith("+"), "sub": _arith("-"), "mul": _arith("*"), "div": _div, "floordiv": _floordiv, "mod": _mod,
    "neg": _neg, "pos": lambda sig, a: a,
    "lt": _compare("<"), "le": _compare("<="), "gt": _compare(">"), "ge": _compare(">="),
    "eq": _compare("=="), "ne": _compare("!="),
    "and_": _logic("&"), "or_": _logic("|"), "not_": _not, "where": _where,
    "min_": _minmax("_w_fmin", "jnp.minimum"), "max_": _minmax("_w_fmax", "jnp.maximum"),
    "abs_": _abs, "clamp": _clamp,
    "sqrt": _wide_fn("jnp.sqrt"), "exp": _wide_fn("jnp.exp"), "log": _wide_fn("jnp.log"),
    "sin": _wide_fn("jnp.sin"), "cos": _wide_fn("jnp.cos"), "tanh": _wide_fn("jnp.tanh"),
    "floor": lambda sig, a: f"jnp.floor({a})", "pow_": _wide_fn("jnp.power"),
    "to_float32": _convert(FLOAT32), "to_int32": _convert(_I32),
    "vec3": lambda sig, x, y, z: f"jnp.stack([{x}, {y}, {z}]).astype(jnp.float32)",
    "dot": lambda sig, a, b: f"_w_dot({a}, {b})", "cross": lambda sig, a, b: f"_w_cross({a}, {b})",
    "length": lambda sig, a: f"jnp.sqrt(_w_dot({a}, {a}))", "normalize": lambda sig, a: f"_w_normalize({a})",
    "component": _component,
}
_register("semantics", _CORE)

_SCALAR = {
    "mul_int": _int_op("*"), "bit_and": _int_op("&"), "bit_or": _int_op("|"), "bit_xor": _int_op("^"),
    "invert": lambda sig, a: _cast(f"(~{_cast(a, _I32)})", sig.result) if small_int(sig.result) else f"(~{a})",
    "lshift": _shift("<<"), "rshift": _shift(">>"),
    "div_approx": lambda sig, a, b: f"({a} / {b})",
    "acos": _unit_clamped("jnp.arccos"), "asin": _unit_clamped("jnp.arcsin"),
    "atan": _wide_fn("jnp.arctan"), "atan2": _wide_fn("jnp.arctan2"), "tan": _wide_fn("jnp.tan"),
    "sinh": _wide_fn("jnp.sinh"), "cosh": _wide_fn("jnp.cosh"), "cbrt": _wide_fn("jnp.cbrt"),
    "log2": _wide_fn("jnp.log2"), "log10": _wide_fn("jnp.log10"), "exp": _wide_fn("jnp.exp"),
    "log": _wide_fn("jnp.log"), "sin": _wide_fn("jnp.sin"), "cos": _wide_fn("jnp.cos"),
    "tanh": _wide_fn("jnp.tanh"), "sqrt": _wide_fn("jnp.sqrt"), "pow": _wide_fn("jnp.power"),
    "erf": _wide_fn("jax.scipy.special.erf"), "erfc": _wide_fn("jax.scipy.special.erfc"),
    "floor": lambda sig, a: f"jnp.floor({a})",
    "degrees": _scaled(RAD_TO_DEG), "radians": _scaled(DEG_TO_RAD),
    "copysign": lambda sig, x, y: f"jnp.copysign({x}, {y})",
    "round_": lambda sig, x: f"_w_round({x})", "rint": lambda sig, x: f"jnp.rint({x})",
    "trunc": lambda sig, x: f"jnp.trunc({x})", "ceil": lambda sig, x: f"jnp.ceil({x})",
    "frac": lambda sig, x: f"({x} - jnp.trunc({x}))",
    "sign": _select01("{} < 0", -1, 1), "step": _select01("{} < 0", 1, 0), "nonzero": _select01("{} == 0", 0, 1),
    "bit_count": lambda sig, x: f"lax.population_count({x}).astype(jnp.int32)",
    "isfinite": lambda sig, x: f"jnp.isfinite({x})", "isinf": lambda sig, x: f"jnp.isinf({x})",
    "isnan": lambda sig, x: f"jnp.isnan({x})",
    "lerp": _lerp, "smoothstep": _smoothstep, "rand_init": _rand_init,
    "eq_float": _compare("=="), "ne_float": _compare("!="), "and_any": _logic("&"), "or_any": _logic("|"),
}
for _name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
              "uint64", "bool"):
    _SCALAR[f"to_{_name}"] = _convert(_TYPES[_name] if _name != "bool" else BOOL)
_register("semantics_scalar", _SCALAR)

_LINALG = {
    "construct": _construct, "component": _component,
    "abs_": lambda sig, a: f"jnp.abs({a})", "neg": lambda sig, a: f"(-{a})", "pos": lambda sig, a: a,
    "dot": lambda sig, a, b: f"_w_dot({a}, {b})", "length_sq": lambda sig, a: f"_w_dot({a}, {a})",
    "length": lambda sig, a: f"jnp.sqrt(_w_dot({a}, {a}))", "normalize": lambda sig, a: f"_w_normalize({a})",
    "cross": lambda sig, a, b: f"_w_cross({a}, {b})",
    "cw_mul": lambda sig, a, b: f"({a} * {b})", "cw_div": lambda sig, a, b: f"({a} / {b})",
    "vec_min": lambda sig, a, b: f"_w_fmin({a}, {b})", "vec_max": lambda sig, a, b: f"_w_fmax({a}, {b})",
    "reduce_min": _reduce("_w_fmin"), "reduce_max": _reduce("_w_fmax"),
    "argmin": lambda sig, v: f"_w_arg({v}, lambda x, y: x < y)",
    "argmax": lambda sig, v: f"_w_arg({v}, lambda x, y: x > y)",
    "sign": _vec_sign,
    "isnan": lambda sig, v: f"jnp.any(jnp.isnan({v}))", "isinf": lambda sig, v: f"jnp.any(jnp.isinf({v}))",
    "isfinite": lambda sig, v: f"jnp.all(jnp.isfinite({v}))",
    "eq": _eq_composite, "mod": lambda sig, a, b: f"jnp.fmod({a}, {b})", "lerp": _lerp,
    "len_": lambda sig, v: f"jnp.int32({_a(sig).shape[0]})",
    "norm_l1": lambda sig, v: f"_w_norm_l1({v})", "norm_l2": lambda sig, v: f"jnp.sqrt(_w_dot({v}, {v}))",
    "norm_huber": lambda sig, v, d=None: f"_w_norm_huber({v}, {_delta(sig, v, d)})",
    "norm_pseudo_huber": lambda sig, v, d=None: f"_w_norm_pseudo_huber({v}, {_delta(sig, v, d)})",
    "smooth_normalize": lambda sig, v, d=None: f"({v} / _w_norm_pseudo_huber({v}, {_delta(sig, v, d)}))",
    "mat_vec": lambda sig, m, v: f"_w_mat_vec({m}, {v})", "vec_mat": lambda sig, v, m: f"_w_vec_mat({v}, {m})",
    "mat_mat": lambda sig, a, b: f"_w_mat_mat({a}, {b})", "ddot": lambda sig, a, b: f"_w_ddot({a}, {b})",
    "trace": lambda sig, m: f"_w_trace({m})", "transpose": lambda sig, m: f"{m}.T",
    "get_diag": lambda sig, m: f"jnp.diagonal({m})", "diag": lambda sig, v: f"jnp.diag({v})",
    "outer": lambda sig, a, b: f"({a}[:, None] * {b}[None, :])", "skew": lambda sig, a: f"_w_skew({a})",
    "identity": lambda sig: f"jnp.eye({sig.result.shape[0]}, dtype={dtype(sig.result)})",
    "matrix_from_cols": lambda sig, *c: f"jnp.stack([{', '.join(c)}], axis=1)",
    "matrix_from_rows": lambda sig, *r: f"jnp.stack([{', '.join(r)}], axis=0)",
}
_LINALG |= {
    "qr3": lambda sig, m: f"_w_qr3({m})", "eig3": lambda sig, m: f"_w_eig3({m})",
    "svd3": lambda sig, m: f"_w_svd3({m})", "svd2": lambda sig, m: f"_w_svd2({m})",
}
_register("semantics_linalg", _LINALG)


def _determinant(sig, m):
    n = _a(sig).shape[0]
    if n == 2:
        return f"_w_det2({m})"
    if n == 3:
        return f"_w_det3({m})"
    return f"_w_det4({m})"  # Warp's mixed float/double USD code


SPELLINGS[("semantics_linalg", "determinant")] = _determinant


def _quaternion(sig, *args):
    t = sig.result
    d = dtype(t)
    if not args:
        return f"jnp.zeros(4, {d})"
    if len(args) == 1:
        a = args[0]
        if scalar_of(t) == FLOAT16 and scalar_of(_a(sig)) == FLOAT64:
            a = _cast(a, FLOAT32)
        return _cast(a, t)
    if len(args) == 2:
        v, w = args
        return f"jnp.stack([{v}[0], {v}[1], {v}[2], {w}]).astype({d})"
    return f"jnp.stack([{', '.join(args)}]).astype({d})"


def _transformation(sig, *args):
    t = sig.result
    d = dtype(t)
    if not args:
        return f"jnp.zeros(7, {d})"
    if len(args) == 7:
        return f"jnp.stack([{', '.join(args)}]).astype({d})"
    if len(args) == 2:
        return f"jnp.concatenate([{args[0]}, {args[1]}]).astype({d})"
    a, at = args[0], _a(sig)
    if isinstance(at, Composite) and at.shape == (7,):
        return a
    if isinstance(at, Composite):
        return f"jnp.concatenate([{a}, jnp.array([0, 0, 0, 1], {d})]).astype({d})"
    return f"jnp.full(7, {a}, {d})"


def _transform_apply(point: bool):
    def spell(sig, t, x):
        if len(_a(sig).shape) == 2:  # the 4x4 matrix overloads (mat.h column accumulation)
            return f"_w_mat44_apply({t}, {x}, jnp.asarray({1 if point else 0}, {t}.dtype))"
        return f"({t}[:3] + _w_rotate({t}[3:], {x}))" if point else f"_w_rotate({t}[3:], {x})"
    return spell


_QUAT = {
    "quaternion": _quaternion, "transformation": _transformation,
    "quat_identity": lambda sig: f"jnp.array([0, 0, 0, 1], {dtype(sig.result)})",
    "transform_identity": lambda sig: f"jnp.array([0, 0, 0, 0, 0, 0, 1], {dtype(sig.result)})",
    "transform_get_translation": lambda sig, t: f"{t}[:3]", "transform_get_rotation": lambda sig, t: f"{t}[3:]",
    "component": _component, "lerp": _lerp,
    "quat_dot": lambda sig, a, b: f"_w_qdot({a}, {b})", "quat_length_sq": lambda sig, q: f"_w_qdot({q}, {q})",
    "quat_length": lambda sig, q: f"jnp.sqrt(_w_qdot({q}, {q}))", "quat_normalize": lambda sig, q: f"_w_qnormalize({q})",
    "quat_mul": lambda sig, a, b: f"_w_qmul({a}, {b})", "quat_inverse": lambda sig, q: f"_w_qinverse({q})",
    "quat_neg": lambda sig, q: f"(-{q})", "quat_pos": lambda sig, q: q,
    "quat_isnan": lambda sig, q: f"jnp.any(jnp.isnan({q}))", "quat_isinf": lambda sig, q: f"jnp.any(jnp.isinf({q}))",
    "quat_isfinite": lambda sig, q: f"jnp.all(jnp.isfinite({q}))",
    "quat_rotate": lambda sig, q, v: f"_w_rotate({q}, {v})",
    "quat_rotate_inv": lambda sig, q, v: f"_w_rotate({q}, {v}, inverse=True)",
    "transform_point": _transform_apply(True), "transform_vector": _transform_apply(False),
    "transform_multiply": lambda sig, a, b: f"_w_transform_multiply({a}, {b})",
    "transform_inverse": lambda sig, t: f"_w_transform_inverse({t})",
    "transform_set_translation": lambda sig, t, p: f"{t}.at[:3].set({p})",
    "transform_set_rotation": lambda sig, t, q: f"{t}.at[3:].set({q})",
}
_register("semantics_quat", _QUAT)
_register("semantics_linalg", {
    "spatial_top": lambda sig, a: f"{a}[:3]", "spatial_bottom": lambda sig, a: f"{a}[3:]",
    "spatial_dot": lambda sig, a, b: f"_w_dot({a}, {b})",
    "spatial_cross": lambda sig, a, b: f"_w_spatial_cross({a}, {b})",
    "spatial_cross_dual": lambda sig, a, b: f"_w_spatial_cross_dual({a}, {b})",
})


def _static_int(code: str) -> int | None:
    """The value of an int literal's code (``jnp.int32(2)``), None for anything computed."""
    m = re.fullmatch(r"jnp\.int32\((-?\d+)\)", code.strip())
    return int(m.group(1)) if m else None


def _quat_from_euler(sig, e, i, j, k):
    axes = [_static_int(c) for c in (i, j, k)]
    if any(a is None or not 0 <= a < 3 for a in axes):
        return f"_w_quat_from_euler({e}, {i}, {j}, {k})"  # computed axis indices pick the axes by value
    d = dtype(sig.result)
    half = f"{d}(0.5)"

    def axis_quat(n):
        s, c = f"jnp.sin({half} * {e}[{n}])", f"jnp.cos({half} * {e}[{n}])"
        comps = [f"{d}(0)"] * 3
        comps[n] = s
        return f"jnp.stack([{', '.join(comps)}, {c}])"

    qi, qj, qk = (axis_quat(a) for a in axes)
    return f"_w_qmul({qk}, _w_qmul({qj}, {qi}))"


def _inverse(sig, m):
    n = _a(sig).shape[0]
    return f"_w_inverse2({m})" if n == 2 else (f"_w_inverse3({m})" if n == 3 else f"_w_inverse4({m})")


def _twist_angle(signed: bool):
    def spell(sig, axis, q):
        dot = f"({axis}[0] * {q}[0] + {axis}[1] * {q}[1] + {axis}[2] * {q}[2])"
        sin_half = dot if signed else f"jnp.abs({dot})"
        return f"({dtype(sig.result)}(2) * jnp.arctan2({sin_half}, {q}[3]))"
    return spell


def _matrix_only(fn: str):
    def spell(sig, m):
        return f"{fn}({m})" if len(_a(sig).shape) == 2 and _a(sig).shape[0] >= 3 else None
    return spell


_register("semantics_quat", {
    "quat_from_axis_angle": lambda sig, axis, angle: f"_w_from_axis_angle({axis}, {angle})",
    "quat_to_axis_angle": lambda sig, q: f"_w_to_axis_angle({q})",
    "quat_rpy": lambda sig, r, p, y: f"_w_quat_rpy({r}, {p}, {y})",
    "quat_to_rpy": lambda sig, q: f"_w_quat_to_rpy({q})",
    "quat_from_euler": _quat_from_euler,
    "quat_to_euler": lambda sig, q, i, j, k: f"_w_quat_to_euler({q}, {i}, {j}, {k})",
    "quat_slerp": lambda sig, a, b, t: f"_w_quat_slerp({a}, {b}, {t})",
    "quat_to_matrix": lambda sig, q: f"_w_to_matrix({q})",
    "transform_to_matrix": lambda sig, t: f"_w_transform_to_matrix({t})",
    "quat_from_matrix": _matrix_only("_w_from_matrix"),
    "transform_from_matrix": lambda sig, m: (f"jnp.concatenate([jnp.stack([{m}[0, 3], {m}[1, 3], {m}[2, 3]]), "
                                             f"_w_from_matrix({m})])"),
    "transform_decompose": lambda sig, m: f"_w_transform_decompose({m})",
    "transform_compose": lambda sig, p, q, s: f"_w_transform_compose({p}, {q}, {s})",
    "quat_twist": lambda sig, axis, q: f"_w_quat_twist({axis}, {q})",
    "quat_twist_angle": _twist_angle(False), "quat_twist_angle_signed": _twist_angle(True),
})
_register("semantics_linalg", {
    "inverse": _inverse,
    "transform_twist": lambda sig, xf, s: f"_w_transform_twist({xf}, {s})",
    "transform_wrench": lambda sig, xf, s: f"_w_transform_wrench({xf}, {s})",
    "velocity_at_point": lambda sig, qd, r: f"({qd}[3:] + _w_cross({qd}[:3], {r}))",
    "spatial_adjoint": lambda sig, r, s: f"_w_spatial_adjoint({r}, {s})",
})


def _erfinv(complement: bool):
    def spell(sig, x):
        wide = _cast(x, FLOAT64)
        arg = f"(1.0 - {wide})" if complement else wide
        out = f"_w_erfinv64({arg})"
        t = scalar_of(sig.result)
        if t == FLOAT64:
            return out
        out = _cast(out, FLOAT32)  # float16/float32 evaluate in double and round to float (then half)
        return _cast(out, FLOAT16) if t == FLOAT16 else out
    return spell


_register("semantics_scalar", {"erfinv": _erfinv(False), "erfcinv": _erfinv(True)})
_register("semantics_nn", {
    "gelu": lambda sig, x: f"_w_gelu({x})", "softmax": lambda sig, v: f"_w_softmax({v})",
    "layer_norm": lambda sig, v: f"_w_layer_norm({v})", "batch_norm": lambda sig, x: f"_w_batch_norm({x})",
    "attention": lambda sig, q, k, v: f"_w_attention({q}, {k}, {v})",
})


def spelling_key(op, sig) -> tuple[str, str]:
    """(semantics module, function name) of a (row, signature): the key of its JAX spelling."""
    fn = sig.semantics or op.semantics
    return fn.__module__.rsplit(".", 1)[-1], fn.__name__


def spell(op, sig, args: list[str]) -> str | None:
    """The JAX code of one row use, or None when the row (or this overload of it) has no spelling."""
    s = SPELLINGS.get(spelling_key(op, sig))
    return None if s is None else s(sig, *args)
