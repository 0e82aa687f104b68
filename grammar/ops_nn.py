"""Neural-network fragments: rows whose Warp spelling is a small library function, not a builtin.

The seed datasets' JAX extras (gelu, softmax, layer and batch normalisation, attention) as table rows usable by
both backends: Warp calls a ``@wp.func`` of the row's name whose source the row carries (``Op.definition``: one
function per signature, Warp resolving the overload by argument types), and a kernel using the row carries the
definitions it calls (``GeneratedKernel.fragments``); the reference evaluates the row's numpy semantics
(:mod:`grammar.semantics_nn`) and never reads those definitions; JAX spells the row with ``jax.numpy``
(:mod:`grammar.semantics_jax`). So Warp's compilation of the definition (its forward and its generated adjoint)
is checked against an independent computation, like a builtin's.

Kept to float32 and float64 (float16 exponentials and square roots in half precision round too coarsely for the
sums these rows make) and to small fixed shapes: ``softmax``/``layer_norm`` over vec2-vec4, ``batch_norm`` over a
3x3 batch (three samples of three features), ``attention`` of one vec3 query against three keys and values (the
rows of two mat33). Every row is smooth on every finite input (no domain): softmax shifts by the largest component
before ``exp``, the normalisations add eps = 1e-5 under the square root.

Reductions over a whole array (sum, min, max, mean) are the atomic rows (``wp.atomic_add`` into a shared
accumulator, ``harness.jax_backend.render``'s scatter reductions), and matrix products the ``matmul`` row (``m1 * m2``):
not repeated here.
"""

from __future__ import annotations

from . import semantics_nn as N
from .rows import Op, Signature, sig
from .types import FLOAT32, FLOAT64, Composite, Scalar, composite

_FAMILY = dict(family="nn")


def _lit(s: Scalar, x: str) -> str:
    """A float constant of ``s``: bare for float32 (Warp's literal type), converted for float64."""
    return x if s == FLOAT32 else f"wp.float64({x})"


def _components(name: str, n: int) -> list[str]:
    return [f"{name}[{i}]" for i in range(n)]


def _gelu(s: Signature) -> str:
    t = s.result
    c = lambda x: _lit(t, x)  # noqa: E731
    return (f"@wp.func\ndef gelu(x: {t.warp_name}) -> {t.warp_name}:\n"
            f"    return {c('0.5')} * x * ({c('1.0')} + wp.erf(x * {c(repr(N.INV_SQRT2))}))\n")


def _softmax_body(t: Composite, v: str, out: str) -> list[str]:
    n = t.shape[0]
    exps = ", ".join(f"wp.exp({x} - {out}_m)" for x in _components(v, n))
    return [f"    {out}_m = wp.max({v})",
            f"    {out}_e = {t.warp_name}({exps})",
            f"    {out} = {out}_e / ({' + '.join(_components(out + '_e', n))})"]


def _softmax(s: Signature) -> str:
    t = s.result
    return "\n".join([f"@wp.func\ndef softmax(v: {t.warp_name}) -> {t.warp_name}:", *_softmax_body(t, "v", "r"),
                      "    return r"]) + "\n"


def _layer_norm(s: Signature) -> str:
    t = s.result
    n = t.shape[0]
    c = lambda x: _lit(t.scalar, x)  # noqa: E731
    mean = ", ".join(["mean"] * n)
    return "\n".join([
        f"@wp.func\ndef layer_norm(v: {t.warp_name}) -> {t.warp_name}:",
        f"    mean = ({' + '.join(_components('v', n))}) / {c(f'{n}.0')}",
        f"    d = v - {t.warp_name}({mean})",
        f"    var = wp.dot(d, d) / {c(f'{n}.0')}",
        f"    return d / wp.sqrt(var + {c(repr(N.EPS))})",
    ]) + "\n"


def _batch_norm(s: Signature) -> str:
    t = s.result
    row = composite("vector", t.scalar, 3)
    c = lambda x: _lit(t.scalar, x)  # noqa: E731
    inv = ", ".join(f"{c('1.0')} / wp.sqrt(var[{j}] + {c(repr(N.EPS))})" for j in range(3))
    return "\n".join([
        f"@wp.func\ndef batch_norm(x: {t.warp_name}) -> {t.warp_name}:",
        f"    mean = (x[0] + x[1] + x[2]) / {c('3.0')}",
        "    d0 = x[0] - mean",
        "    d1 = x[1] - mean",
        "    d2 = x[2] - mean",
        f"    var = (wp.cw_mul(d0, d0) + wp.cw_mul(d1, d1) + wp.cw_mul(d2, d2)) / {c('3.0')}",
        f"    inv = {row.warp_name}({inv})",
        "    return wp.matrix_from_rows(wp.cw_mul(d0, inv), wp.cw_mul(d1, inv), wp.cw_mul(d2, inv))",
    ]) + "\n"


def _attention(s: Signature) -> str:
    q, k, v = s.args
    c = lambda x: _lit(q.scalar, x)  # noqa: E731
    return "\n".join([
        f"@wp.func\ndef attention(q: {q.warp_name}, k: {k.warp_name}, v: {v.warp_name}) -> {s.result.warp_name}:",
        f"    s = (k * q) * {c(repr(N.INV_SQRT3))}",
        *_softmax_body(q, "s", "w"),
        "    return w * v",
    ]) + "\n"


def _vectors(ns, scalars=(FLOAT32, FLOAT64)) -> tuple[Composite, ...]:
    return tuple(composite("vector", f, n) for f in scalars for n in ns)


ROWS: tuple[Op, ...] = (
    Op("gelu", "call", "gelu", tuple(sig(f, f) for f in (FLOAT32, FLOAT64)), N.gelu, definition=_gelu, **_FAMILY),
    Op("softmax", "call", "softmax", tuple(sig(t, t) for t in _vectors((2, 3, 4))), N.softmax,
       definition=_softmax, **_FAMILY),
    Op("layer_norm", "call", "layer_norm", tuple(sig(t, t) for t in _vectors((2, 3, 4))), N.layer_norm,
       definition=_layer_norm, **_FAMILY),
    Op("batch_norm", "call", "batch_norm",
       tuple(sig(m, m) for m in (composite("matrix", f, 3) for f in (FLOAT32, FLOAT64))), N.batch_norm,
       definition=_batch_norm, **_FAMILY),
    Op("attention", "call", "attention",
       tuple(sig(composite("vector", f, 3), composite("vector", f, 3), composite("matrix", f, 3),
                 composite("matrix", f, 3)) for f in (FLOAT32, FLOAT64)), N.attention,
       definition=_attention, **_FAMILY),
)
EXTEND: dict[str, tuple[Signature, ...]] = {}
