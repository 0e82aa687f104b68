"""Numpy semantics of the neural-network fragments (:mod:`grammar.ops_nn`): gelu, softmax, layer and batch
normalisation, one attention head.

Values follow :mod:`grammar.semantics_linalg`: vectors are 1-D numpy arrays and matrices 2-D, in the operands'
own dtype in native runs and in float64 / long double in high-precision runs. Each function is the row's
textbook definition, written in the order of operations of its Warp definition (:mod:`grammar.ops_nn`), so a
native run rounds where Warp rounds; the sums of components go left to right, as Warp's written-out sums do.

* ``gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2)))`` (the exact form, not the tanh approximation); ``erf`` as the
  ``erf`` row computes it (its semantics function is called).
* ``softmax(v)_i = exp(v_i - max(v)) / sum_j exp(v_j - max(v))``: the shift by the largest component keeps
  every exponent <= 0, so nothing overflows for any finite input.
* ``layer_norm(v) = (v - mean(v)) / sqrt(var(v) + 1e-5)`` over the components (population variance). Where
  the components are (nearly) equal, the result is the rounding of the mean magnified by 1/sqrt(1e-5): the run
  is reported fragile (``_spread``), as for an input on a jump.
* ``batch_norm(x)``: the rows of a 3x3 matrix are three samples, the columns three features; each column is
  normalised like ``layer_norm`` (its mean and population variance over the rows), eps 1e-5.
* ``attention(q, k, v) = softmax(k q / sqrt(3)) v``: one query against three keys (the rows of ``k``), a weighted
  sum of the rows of ``v``.
"""

from __future__ import annotations

import numpy as np

from . import semantics_linalg as L
from . import semantics_scalar as Q

EPS = 1e-5
INV_SQRT2 = 0.7071067811865476
INV_SQRT3 = 0.5773502691896258


def _sum(v):
    """Components summed left to right (Warp's written-out ``v[0] + v[1] + ...``)."""
    r = v[0]
    for i in range(1, v.shape[0]):
        r = r + v[i]
    return r


def gelu(ctx, x):
    t = L.dtype_of(x)
    return t(0.5) * x * (t(1.0) + Q.erf(ctx, x * t(INV_SQRT2)))


def softmax(ctx, v):
    e = np.exp(v - np.max(v))
    return e / _sum(e)


def _spread(ctx, d, v) -> None:
    """Report how far the centred values ``d`` of ``v`` are from a tie of its components (all equal).

    There the result is ``d / sqrt(eps)``: the rounding of the mean, magnified 316 times, and it depends on the
    last bits of the components (a float32 ``(x + x + x) / 3`` is not ``x`` for one value in six: one ulp of
    ``x`` in Warp's ``tanh`` or ``log10`` turned a zero output into 1e-6, two fuzz reports). A spread within
    rounding distance of zero, or zero with components that are not all zero (a tie of computed values: Warp's
    may round another way), is a fragile run, screened like an input on a jump."""
    spread = float(np.max(np.abs(np.asarray(d, dtype=np.float64))))
    scale = float(np.max(np.abs(np.asarray(v, dtype=np.float64))))
    ctx.near_discontinuity(spread if spread or not scale else scale * 1e-30, scale)


def layer_norm(ctx, v):
    t = L.dtype_of(v)
    n = t(v.shape[0])
    d = v - _sum(v) / n
    _spread(ctx, d, v)
    var = L._dot(d, d) / n
    return d / np.sqrt(var + t(EPS))


def batch_norm(ctx, x):
    t = L.dtype_of(x)
    n = t(x.shape[0])
    mean = (x[0] + x[1] + x[2]) / n
    d = x - mean
    for j in range(x.shape[1]):  # each column (feature) is normalised over its own samples
        _spread(ctx, d[:, j], x[:, j])
    var = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) / n
    inv = t(1.0) / np.sqrt(var + t(EPS))
    return d * inv


def attention(ctx, q, k, v):
    t = L.dtype_of(q)
    s = L.mat_vec(ctx, k, q) * t(INV_SQRT3)
    return L.vec_mat(ctx, softmax(ctx, s), v)
