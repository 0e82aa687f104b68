"""JAX spellings of the operator table's rows: the twin of each numpy semantics function, as JAX source text.

The numpy semantics (:mod:`grammar.semantics` and its ``semantics_*`` siblings) evaluate one thread's values;
the JAX backend (:mod:`harness.jax_render`) writes a JAX program instead, so each semantics function has a
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
    import jax.numpy as jnp  # noqa: F401
    from jax import lax  # noqa: F401
except ImportError:  # pragma: no cover - the [jax] extra is not installed
    jnp = lax = None

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


def _and(sig, a, b):
    return f"({_truth(a, _a(sig))} & {_truth(b, _a(sig, 1))})"


def _or(sig, a, b):
    return f"({_truth(a, _a(sig))} | {_truth(b, _a(sig, 1))})"


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
        return f"jnp.where({test.format(x)}, {dtype(sig.result)}({yes}), {dtype(sig.result)}({no}))"
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
    "and_": _and, "or_": _or, "not_": _not, "where": _where,
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
    "lerp": _lerp, "smoothstep": _smoothstep,
    "eq_float": _compare("=="), "ne_float": _compare("!="), "and_any": _and, "or_any": _or,
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
_register("semantics_linalg", _LINALG)


def _determinant(sig, m):
    n = _a(sig).shape[0]
    if n == 2:
        return f"_w_det2({m})"
    if n == 3:
        return f"_w_det3({m})"
    return None  # 4x4: Warp's mixed float/double USD code, not spelled yet


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
        if len(_a(sig).shape) == 2:
            return None  # the 4x4 matrix overloads (mat.h column accumulation): not spelled yet
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


def spelling_key(op, sig) -> tuple[str, str]:
    """(semantics module, function name) of a (row, signature): the key of its JAX spelling."""
    fn = sig.semantics or op.semantics
    return fn.__module__.rsplit(".", 1)[-1], fn.__name__


def spell(op, sig, args: list[str]) -> str | None:
    """The JAX code of one row use, or None when the row (or this overload of it) has no spelling."""
    s = SPELLINGS.get(spelling_key(op, sig))
    return None if s is None else s(sig, *args)
