"""Domain guards: expressions that are inside an operator argument's input domain by construction.

``guarded(draw, scope, t, domain, depth)`` returns an expression of type ``t`` whose value always lies in
``domain`` (the domain names are documented in :mod:`grammar.ops`). Guards are themselves built from rows
of the operator table (``wp.abs``, ``+``, ``wp.clamp``), so the reference needs no special support for them.

Shrinking: the first alternative is always a literal already inside the domain, so arguments shrink to a
constant; otherwise to the simplest guard around a shrunk sub-expression.
"""

from __future__ import annotations

import hypothesis.strategies as st

from grammar.types import FLOAT32, INT32, ValueType

from . import _cst as B
from .expressions import Expr, choose, expression

_NONZERO_FLOATS = (1.0, 2.0, -1.0, 0.5, -2.0, 4.0, 1.5, -0.5)
_POSITIVE_FLOATS = (1.0, 2.0, 0.5, 4.0, 1.5, 3.0, 0.25)


def guarded(draw, sc, t: ValueType, domain: str, depth: int) -> Expr:
    if domain == "any":
        return expression(draw, sc, t, depth)
    if t == INT32:
        assert domain == "nonzero", domain
        return nonzero_int(draw, sc, depth)
    assert t == FLOAT32, (t, domain)
    return _FLOAT_GUARDS[domain](draw, sc, depth)


def _flit(v: float) -> Expr:
    return Expr(B.float_lit(v), FLOAT32, is_literal=True)


def _abs_plus(e: Expr, c: float) -> Expr:
    return Expr(B.binop(B.call("wp.abs", e.node), "+", B.float_lit(c)), FLOAT32)


def _clamp(e: Expr, bound: float) -> Expr:
    return Expr(B.call("wp.clamp", e.node, B.float_lit(-bound), B.float_lit(bound)), FLOAT32)


def nonzero_float(draw, sc, depth: int) -> Expr:
    """|value| >= 0.5: ``(wp.abs(e) + 0.5)`` or its negation."""
    kind = draw(st.integers(0, 2))
    if kind == 0 or depth < 0:
        return _flit(draw(st.sampled_from(_NONZERO_FLOATS)))
    g = _abs_plus(expression(draw, sc, FLOAT32, depth), 0.5)
    return g if kind == 1 else Expr(B.unop("-", g.node), FLOAT32)


def positive_float(draw, sc, depth: int, floor: float = 0.25) -> Expr:
    """value >= 0.25: ``(wp.abs(e) + 0.25)``."""
    if depth < 0 or not draw(st.booleans()):
        return _flit(draw(st.sampled_from(_POSITIVE_FLOATS)))
    return _abs_plus(expression(draw, sc, FLOAT32, depth), floor)


def bounded_float(bound_of):
    def guard(draw, sc, depth: int) -> Expr:
        bound = bound_of(sc.policy)
        if depth < 0 or not draw(st.booleans()):
            v = draw(st.sampled_from((0.0, 1.0, 0.5, -1.0, 2.0, -2.0, 1.5)))
            return _flit(max(-bound, min(bound, v)))
        return _clamp(expression(draw, sc, FLOAT32, depth), bound)

    return guard


_FLOAT_GUARDS = {
    "nonzero": nonzero_float,
    "positive": positive_float,
    "pow_base": positive_float,
    "exp_arg": bounded_float(lambda p: p.exp_arg_bound),
    "pow_exp": bounded_float(lambda p: p.pow_exp_bound),
    "cast_arg": bounded_float(lambda p: p.float_cast_bound),
}


def nonzero_int(draw, sc, depth: int) -> Expr:
    """An int32 whose interval excludes 0: a non-zero literal, or ``(wp.abs(e) + 1)``/``(wp.abs(e) % 7 + 1)``."""
    kind = draw(st.integers(0, 2))
    if kind == 0 or depth < 0:
        v = draw(st.integers(1, sc.policy.int_const_max))
        v = -v if draw(st.booleans()) else v
        return Expr(B.int_lit(v), INT32, v, v, True)
    e = expression(draw, sc, INT32, depth)
    if e.lo > 0 or e.hi < 0:
        return e
    if kind == 1 and e.mag < 2**29:
        return Expr(B.binop(B.call("wp.abs", e.node), "+", B.int_lit(1)), INT32, 1, e.mag + 1)
    m = draw(st.integers(2, 9))
    return Expr(B.binop(B.binop(B.call("wp.abs", e.node), "%", B.int_lit(m)), "+", B.int_lit(1)), INT32, 1, m)
