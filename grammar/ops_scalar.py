"""Scalar math and operators: operator-table rows of Warp's "Scalar Math" builtin group, the scalar overloads
of "Operators", the scalar ``lerp``/``smoothstep``/``where``, and the conversions between scalar types.

Conventions (see grammar/ops_core.py): ``ROWS`` are new rows; ``EXTEND`` maps an existing row's name to extra
signatures (each may carry ``semantics=`` when the row's own semantics does not fit the new types);
``DOMAINS`` names and documents new argument domains; ``GUARDS`` maps each new domain to a source template
``guard(t, e) -> str`` that turns any expression source ``e`` of type ``t`` into a fully parenthesised
expression whose value lies in the domain.

Overloads follow Warp 1.19's ``builtins.py``: math on ``Float`` (float16/32/64), ``min``/``max``/``clamp``/
``abs``/``sign``/``step``/``nonzero`` and arithmetic on every ``Scalar`` (floats and the eight int types),
bitwise operators and ``bit_count`` on ``Int``, ``not`` on bool and ints, ``where`` with a bool or int
condition, and from the "Random" group ``rand_init(seed)`` / ``rand_init(seed, offset)``: int32 seeds hashed
into a uint32 state (exact; ``randi``/``randf``/``sample_*`` advance that state in place and are not covered).
Every operand of one call has the same type (Warp's ``sametypes``). Semantics are in
:mod:`grammar.semantics_scalar` (the Warp behaviour each copies is listed there).

Spellings: operators are Python syntax (``+x`` is ``pos``, ``~x`` ``invert``, ``&`` ``|`` ``^`` ``<<``
``>>``); conversions are constructor calls ``wp.int8(x)``... and the Python builtins ``float(x)``,
``int(x)``, ``bool(x)`` (Warp's aliases of float32/int32/bool). ``bool(x)`` of a float16 does not compile
(the C++ conversion from ``half`` to ``bool`` is ambiguous), nor does ``x and y`` on float16 operands, nor
``wp.float16(b)`` of a bool once the backward pass is built (``adj_float16<bool>``): those overloads are left
out (``tests/test_known_warp_bugs.py`` checks that Warp still fails on each).

What a generator must respect beyond the per-argument domains:

* ``wp.float64(c)``, ``wp.int64(c)``, ``wp.uint64(c)`` of a compile-time constant ``c`` are folded by Warp from
  the Python value of ``c``; the reference types a float literal as float32 first. Only wrap float literals
  that are exact in float32, and never pass a local bound to a bare literal (Warp 1.19 then retypes the
  local itself to the 64-bit type).
* ``uint16 * uint16`` is computed in ``int`` (integer promotion): a product above ``2**31 - 1`` is undefined.
* ``//`` and ``%`` of int32/int64 are undefined for ``MIN`` by ``-1`` (int8/int16 wrap instead).
* float16 overflows at 65504: ``exp``/``sinh``/``cosh`` of an ``exp_arg`` above 11 are inf.

Not covered: ``bfloat16`` (no bfloat16 type in :mod:`grammar.types`, numpy has none).
"""

from __future__ import annotations

from collections.abc import Callable

from . import intervals as IV
from . import semantics as S
from . import semantics_scalar as Q
from .rows import Op, Signature
from .policy import DEFAULT_POLICY
from .types import (
    BOOL, FLOAT16, FLOAT32, FLOAT64, FLOATS, INT8, INT16, INT32, INT64, INTS, UINT8, UINT16, UINT32, UINT64,
    Scalar, ValueType,
)

NUMERIC: tuple[Scalar, ...] = FLOATS + INTS
SCALARS: tuple[Scalar, ...] = NUMERIC + (BOOL,)


def _same(types, arity: int, semantics: Callable | None = None) -> tuple[Signature, ...]:
    return tuple(Signature((t,) * arity, t, semantics) for t in types)


def _to(result: ValueType, types, arity: int = 1, semantics: Callable | None = None) -> tuple[Signature, ...]:
    return tuple(Signature((t,) * arity, result, semantics) for t in types)


def _math(name: str, fn, arity: int = 1, domains: tuple[str, ...] = (), **kw) -> Op:
    return Op(name, "call", f"wp.{name}", _same(FLOATS, arity), fn, domains, family="math", **kw)


def _discrete(name: str, fn, types=FLOATS, corner=None, interval=None) -> Op:
    """A piecewise-constant scalar function: exact, not differentiable."""
    return Op(name, "call", f"wp.{name}", _same(types, 1), fn, differentiable=False, family="math", exact=True,
              corner=corner, interval=interval)


def _casts(target: Scalar, sources=SCALARS) -> tuple[Signature, ...]:
    fn = Q.cast(target)
    return tuple(Signature((s,), target, fn) for s in sources)


#: the domain of a conversion's argument, by target type (float sources must truncate into the target)
_CAST_DOMAIN = {INT8: "cast_int8", UINT8: "cast_uint8", INT16: "cast_arg", INT32: "cast_arg", INT64: "cast_arg",
                UINT16: "cast_uint", UINT32: "cast_uint", UINT64: "cast_uint"}


def _cast_row(name: str, spelling: str, target: Scalar, sources=SCALARS) -> Op:
    domain = _CAST_DOMAIN.get(target)
    return Op(name, "call", spelling, _casts(target, sources), Q.cast(target), (domain,) if domain else (),
              differentiable=target.is_float, family="cast", exact=True)


_INT_OPS = dict(differentiable=False, exact=True)
_NO_BOOL = tuple(t for t in SCALARS if t != BOOL)

ROWS: tuple[Op, ...] = (
    # --- operators ---
    Op("pos", "unop", "+", _same(NUMERIC, 1), S.pos, exact=True, interval=IV.pos),
    Op("bit_and", "binop", "&", _same(INTS, 2), Q.bit_and, interval=IV.bit_and, **_INT_OPS),
    Op("bit_or", "binop", "|", _same(INTS, 2), Q.bit_or, interval=IV.bit_or, **_INT_OPS),
    Op("bit_xor", "binop", "^", _same(INTS, 2), Q.bit_xor, interval=IV.bit_xor, **_INT_OPS),
    Op("lshift", "binop", "<<", _same(INTS, 2), Q.lshift, ("lshift_value", "lshift_count"), interval=IV.lshift,
       **_INT_OPS),
    Op("rshift", "binop", ">>", _same(INTS, 2), Q.rshift, ("any", "shift_count"), interval=IV.rshift, **_INT_OPS),
    Op("invert", "unop", "~", _same(INTS, 1), Q.invert, interval=IV.invert, **_INT_OPS),
    Op("div_approx", "call", "wp.div_approx", _same(FLOATS, 2), Q.div_approx, ("any", "nonzero")),
    # --- scalar math ---
    _math("acos", Q.acos),
    _math("asin", Q.asin),
    _math("atan", Q.atan),
    _math("atan2", Q.atan2, 2),
    _math("tan", Q.tan),
    _math("sinh", Q.sinh, domains=("exp_arg",)),
    _math("cosh", Q.cosh, domains=("exp_arg",)),
    _math("cbrt", Q.cbrt),
    _math("log2", Q.log2, domains=("positive",)),
    _math("log10", Q.log10, domains=("positive",)),
    _math("erf", Q.erf),
    _math("erfc", Q.erfc),
    _math("erfinv", Q.erfinv, domains=("erfinv_arg",)),
    _math("erfcinv", Q.erfcinv, domains=("erfcinv_arg",)),
    _math("degrees", Q.degrees, exact=True),
    _math("radians", Q.radians, exact=True),
    _math("copysign", Q.copysign, 2, exact=True),
    _discrete("round", Q.round_, corner=S.half_corner),
    _discrete("rint", Q.rint, corner=S.half_corner),
    _discrete("trunc", Q.trunc),
    _discrete("ceil", Q.ceil),
    _discrete("frac", Q.frac),
    _discrete("sign", Q.sign, NUMERIC, interval=IV.sign),
    _discrete("step", Q.step, NUMERIC),
    _discrete("nonzero", Q.nonzero, NUMERIC, interval=IV.nonzero),
    Op("bit_count", "call", "wp.bit_count", _to(INT32, INTS), Q.bit_count, family="math", interval=IV.bit_count,
       **_INT_OPS),
    Op("isfinite", "call", "wp.isfinite", _to(BOOL, FLOATS), Q.isfinite, family="math", fixed_on_finite=True,
       **_INT_OPS),
    Op("isinf", "call", "wp.isinf", _to(BOOL, FLOATS), Q.isinf, family="math", fixed_on_finite=True,
       **_INT_OPS),
    Op("isnan", "call", "wp.isnan", _to(BOOL, FLOATS), Q.isnan, family="math", fixed_on_finite=True,
       **_INT_OPS),
    # --- utility ---
    _math("lerp", Q.lerp, 3),
    _math("smoothstep", Q.smoothstep, 3),
    # --- random: the seed hash (the rand*/sample_* builtins advance a state variable in place: not covered) ---
    Op("rand_init", "call", "wp.rand_init", _to(UINT32, (INT32,)) + _to(UINT32, (INT32,), 2), Q.rand_init,
       family="math", **_INT_OPS),
    # --- conversions (float32 and int32 are core rows, extended below) ---
    # wp.float16(bool) does not build with backward enabled (adj_float16<bool>: ambiguous half -> bool)
    _cast_row("float16", "wp.float16", FLOAT16, tuple(t for t in SCALARS if t != BOOL)),
    # wp.float64(True) / wp.int64(True) / wp.uint64(True) are folded into C++ spelled `True`, `Truell`: no build;
    # the 64-bit rows take no bool source (a bool argument may be a literal)
    _cast_row("float64", "wp.float64", FLOAT64, _NO_BOOL),
    _cast_row("int8", "wp.int8", INT8),
    _cast_row("int16", "wp.int16", INT16),
    _cast_row("int64", "wp.int64", INT64, _NO_BOOL),
    _cast_row("uint8", "wp.uint8", UINT8),
    _cast_row("uint16", "wp.uint16", UINT16),
    _cast_row("uint32", "wp.uint32", UINT32),
    _cast_row("uint64", "wp.uint64", UINT64, _NO_BOOL),
    _cast_row("float", "float", FLOAT32),
    _cast_row("int", "int", INT32),
    _cast_row("bool", "bool", BOOL, tuple(t for t in SCALARS if t != FLOAT16)),
)


def _compare(result: ValueType = BOOL) -> tuple[Signature, ...]:
    return _to(result, NUMERIC, 2)


_FLOAT_LIBM = (FLOAT16, FLOAT64)  # float32 is a core signature

EXTEND: dict[str, tuple[Signature, ...]] = {
    "add": _same(NUMERIC, 2),
    "sub": _same(NUMERIC, 2),
    "mul": _same(FLOATS, 2) + _same(tuple(t for t in INTS if t != UINT16), 2, Q.mul_int)
    + (Signature((UINT16, UINT16), UINT16, Q.mul_int, domains=("any", "promoted_factor")),),
    "div": _same(NUMERIC, 2),
    "floordiv": _same(NUMERIC, 2),
    "mod": _same(NUMERIC, 2),
    "neg": _same(NUMERIC, 1),
    "lt": _compare(),
    "le": _compare(),
    "gt": _compare(),
    "ge": _compare(),
    "eq": _to(BOOL, FLOATS, 2, Q.eq_float) + _to(BOOL, INTS + (BOOL,), 2),
    "ne": _to(BOOL, FLOATS, 2, Q.ne_float) + _to(BOOL, INTS + (BOOL,), 2),
    "and_": _to(BOOL, (FLOAT32, FLOAT64) + INTS, 2, Q.and_any),
    "or_": _to(BOOL, (FLOAT32, FLOAT64) + INTS, 2, Q.or_any),
    "not_": _to(BOOL, INTS),
    "where": tuple(Signature((BOOL, t, t), t) for t in SCALARS)
    + tuple(Signature((c, t, t), t) for c in INTS for t in (c, FLOAT32)),
    "min": _same(NUMERIC, 2),
    "max": _same(NUMERIC, 2),
    "clamp": _same(NUMERIC, 3),
    "abs": _same(NUMERIC, 1),
    "sqrt": _same(_FLOAT_LIBM, 1, Q.sqrt),
    "exp": _same(_FLOAT_LIBM, 1, Q.exp),
    "log": _same(_FLOAT_LIBM, 1, Q.log),
    "sin": _same(_FLOAT_LIBM, 1, Q.sin),
    "cos": _same(_FLOAT_LIBM, 1, Q.cos),
    "tanh": _same(_FLOAT_LIBM, 1, Q.tanh),
    "floor": _same(_FLOAT_LIBM, 1, Q.floor),
    "pow": _same(_FLOAT_LIBM, 2, Q.pow_),
    "float32": _casts(FLOAT32),
    "int32": _casts(INT32),
}

DOMAINS: dict[str, str] = {
    "erfinv_arg": "within [-0.9921875, 0.9921875] (erfinv is +-inf at +-1 and NaN outside)",
    "erfcinv_arg": "within [0.0078125, 1.9921875] (erfcinv is +-inf at 0 and 2 and NaN outside)",
    "shift_count": "an int shift count in [0, bits of the type)",
    "lshift_count": "a left-shift count: [0, 15] for int32, [0, 31] for int64, [0, bits) otherwise",
    "lshift_value": "a left-shift operand whose shift by an lshift_count is defined in C++17: [0, 65535] for "
                    "int32, [0, 2**31 - 1] for int64, non-negative for int8/int16, any unsigned value",
    "promoted_factor": "a uint16 factor in [0, 32767]: uint16 operands are multiplied in int, so one factor "
                       "below 2**15 keeps the product below 2**31",
    "cast_int8": "a float whose truncation fits int8: [-128, 127] (any int)",
    "cast_uint8": "a float whose truncation fits uint8: [-0.5, 255] (any int)",
    "cast_uint": f"a float whose truncation fits uint16/32/64: [-0.5, {DEFAULT_POLICY.float_cast_bound:g}] (any int)",
}


# ---- guards -----------------------------------------------------------------------------------------------------


def literal(t: Scalar, v) -> str:
    """Source of the constant ``v`` of type ``t``: a bare literal for float32/int32, else a constructor call.

    Float constants must be exact in float16 (and so in float32): ``wp.float64(c)`` of a literal is folded
    from the literal's exact value, while the reference rounds it to float32 first."""
    text = repr(float(v)) if t.is_float else str(int(v))
    if text.startswith("-"):  # a negation: parenthesised like every operator the builder writes
        text = f"({text})"
    return text if t in (FLOAT32, INT32) else f"{t.warp_name}({text})"


def _clamp_guard(lo: float, hi: float) -> Callable[[ValueType, str], str]:
    """``wp.clamp(e, lo, hi)`` for floats (NaN maps to lo, +-inf to the bounds); ints and bools unchanged."""

    def guard(t: ValueType, e: str) -> str:
        if isinstance(t, Scalar) and t.is_float:
            return f"wp.clamp(({e}), {literal(t, lo)}, {literal(t, hi)})"
        return f"({e})"

    return guard


def _mask_guard(mask_of: Callable[[Scalar], int | None]) -> Callable[[ValueType, str], str]:
    """``(e & mask)`` with a non-negative mask: the value lies in ``[0, mask]`` (two's complement)."""

    def guard(t: ValueType, e: str) -> str:
        mask = mask_of(t)
        return f"({e})" if mask is None else f"(({e}) & {literal(t, mask)})"

    def interval(t: ValueType) -> tuple[int, int] | None:
        """The guarded value's interval, ``[0, mask]`` (None: unmasked, the type's range)."""
        mask = mask_of(t) if isinstance(t, Scalar) else None
        return None if mask is None else (0, mask)

    guard.interval = interval
    return guard


def _lshift_count_max(t: Scalar) -> int:
    return {INT32: 15, INT64: 31}.get(t, t.bits - 1)


def _lshift_value_mask(t: Scalar) -> int | None:
    if t == INT32:
        return 2**16 - 1
    if t == INT64:
        return 2**31 - 1
    return t.max if t.is_signed else None  # unsigned: any value


GUARDS: dict[str, Callable[[ValueType, str], str]] = {
    "erfinv_arg": _clamp_guard(-0.9921875, 0.9921875),
    "erfcinv_arg": _clamp_guard(0.0078125, 1.9921875),
    "shift_count": _mask_guard(lambda t: t.bits - 1),
    "lshift_count": _mask_guard(_lshift_count_max),
    "lshift_value": _mask_guard(_lshift_value_mask),
    "promoted_factor": _mask_guard(lambda t: 2**15 - 1 if t == UINT16 else None),
    "cast_int8": _clamp_guard(-128.0, 127.0),
    "cast_uint8": _clamp_guard(-0.5, 255.0),
    "cast_uint": _clamp_guard(-0.5, DEFAULT_POLICY.float_cast_bound),
}
