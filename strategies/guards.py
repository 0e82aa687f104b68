"""Domain guards: expressions that are inside an operator argument's input domain by construction.

``guarded(draw, scope, t, domain, depth)`` returns an expression of type ``t`` whose value always lies in
``domain`` (the core domain names are documented in :mod:`grammar.ops`; group modules document theirs in
``DOMAINS`` and give a source template for each in ``GUARDS``). Guards are themselves built from rows of the
operator table (``wp.abs``, ``+``, ``wp.clamp``, ``wp.normalize``...), so the reference needs no special
support for them. A domain that does not constrain the argument's type (``cast_arg`` on an int) is "any".

Shrinking: the first alternative is always a literal already inside the domain where one exists, so
arguments shrink to a constant; otherwise to the simplest guard around a shrunk sub-expression.
"""

from __future__ import annotations

import hypothesis.strategies as st
import libcst as cst

from grammar import ops as OPS
from grammar.types import Scalar, ValueType

from . import _cst as B
from .core import Expr, tracks_interval, typed_float, typed_int
from .expressions import expression
from .registry import P

_NONZERO_FLOATS = (1.0, 2.0, -1.0, 0.5, -2.0, 4.0, 1.5, -0.5)
_POSITIVE_FLOATS = (1.0, 2.0, 0.5, 4.0, 1.5, 3.0, 0.25)
_FLOAT_DOMAINS = ("nonzero", "positive", "exp_arg", "pow_base", "pow_exp", "cast_arg")


def _has(name: str, *args: ValueType) -> bool:
    op = OPS.BY_NAME.get(name)
    return op is not None and any(s.args == args for s in op.signatures)


@P.register
def guarded(draw, sc, t: ValueType, domain: str, depth: int) -> Expr:
    """An expression of type ``t`` whose value lies in the row argument's ``domain`` (``"any"``: unconstrained):
    the core float domains by their hand-written guards, a non-zero int by :func:`nonzero_int`, the group rows'
    domains by their source templates (:func:`template_guard`). Shrinks with the guarded expression."""
    if domain == "any":
        return expression(draw, sc, t, depth)
    is_float = isinstance(t, Scalar) and t.is_float
    if domain in _FLOAT_DOMAINS and is_float:
        return _FLOAT_GUARDS[domain](draw, sc, t, depth)
    if domain == "nonzero" and isinstance(t, Scalar) and t.is_int:
        return nonzero_int(draw, sc, t, depth)
    if domain in _FLOAT_DOMAINS:
        return expression(draw, sc, t, depth)  # the domain does not constrain this type
    return template_guard(draw, sc, t, domain, depth)


def template_guard(draw, sc, t: ValueType, domain: str, depth: int) -> Expr:
    """Apply a group module's ``GUARDS[domain]`` source template to a drawn expression of type ``t``."""
    for m in OPS.GROUP_MODULES:
        guard = getattr(m, "GUARDS", {}).get(domain)
        if guard is not None:
            inner = expression(draw, sc, t, depth)
            source = guard(t, B.render(inner.node))
            lo, hi = 0, 0
            if tracks_interval(t):  # a guard that knows its result's interval (a mask: [0, mask]); else the type's
                lo, hi = getattr(guard, "interval", lambda _t: None)(t) or (t.min, t.max)
            return Expr(cst.parse_expression(source), t, lo, hi)
    raise KeyError(f"no guard for domain {domain!r}")


def _abs_plus(e: Expr, c: float, t: Scalar) -> Expr:
    return Expr(B.binop(B.call("wp.abs", e.node), "+", typed_float(c, t).node), t)


def _clamp(e: Expr, bound: float, t: Scalar) -> Expr:
    return Expr(B.call("wp.clamp", e.node, typed_float(-bound, t).node, typed_float(bound, t).node), t)


def _can_abs_plus(t: Scalar) -> bool:
    return _has("abs", t) and _has("add", t, t)


def nonzero_float(draw, sc, t: Scalar, depth: int) -> Expr:
    """|value| >= 0.5: ``(wp.abs(e) + 0.5)`` or its negation."""
    kind = draw(st.integers(0, 2))
    if sc.live and kind == 0:
        kind = 1
    if kind == 0 or depth < 0 or not _can_abs_plus(t) or not _has("neg", t):
        return typed_float(draw(st.sampled_from(_NONZERO_FLOATS)), t)
    g = _abs_plus(expression(draw, sc, t, depth), 0.5, t)
    return g if kind == 1 else Expr(B.unop("-", g.node), t)


def positive_float(draw, sc, t: Scalar, depth: int, floor: float = 0.25) -> Expr:
    """value >= 0.25: ``(wp.abs(e) + 0.25)``."""
    if depth < 0 or not _can_abs_plus(t) or not (sc.live or draw(st.booleans())):
        return typed_float(draw(st.sampled_from(_POSITIVE_FLOATS)), t)
    return _abs_plus(expression(draw, sc, t, depth), floor, t)


def bounded_float(bound_of):
    """A guard keeping a float inside +-``bound_of(policy)``: a literal in the bound, or ``wp.clamp(e, -b, b)``
    (always the clamp in live mode, so the value stays computed). Shrinks toward the literal."""
    def guard(draw, sc, t: Scalar, depth: int) -> Expr:
        bound = bound_of(sc.policy)
        if depth < 0 or not _has("clamp", t, t, t) or not (sc.live or draw(st.booleans())):
            v = draw(st.sampled_from((0.0, 1.0, 0.5, -1.0, 2.0, -2.0, 1.5)))
            return typed_float(max(-bound, min(bound, v)), t)
        return _clamp(expression(draw, sc, t, depth), bound, t)

    return guard


_FLOAT_GUARDS = {
    "nonzero": nonzero_float,
    "positive": positive_float,
    "pow_base": positive_float,
    "exp_arg": bounded_float(lambda p: p.exp_arg_bound),
    "pow_exp": bounded_float(lambda p: p.pow_exp_bound),
    "cast_arg": bounded_float(lambda p: p.float_cast_bound),
}


def nonzero_int(draw, sc, t: Scalar, depth: int) -> Expr:
    """A non-zero int: a literal, or for interval-tracked types ``(wp.abs(e) + 1)`` / ``(wp.abs(e) % m + 1)``
    (negated half the time for signed types, so divisions and remainders meet negative divisors), for
    wrapping types ``wp.max(e, 1)``."""
    kind = draw(st.integers(0, 2))
    if sc.live and kind == 0:
        kind = 2
    if kind == 0 or depth < 0:
        v = draw(st.integers(1, min(sc.policy.int_const_max, t.max)))
        v = -v if t.is_signed and draw(st.booleans()) else v
        return typed_int(v, t)
    e = expression(draw, sc, t, depth)
    if not tracks_interval(t):
        if not _has("max", t, t):
            return typed_int(1, t)
        return Expr(B.call("wp.max", e.node, typed_int(1, t).node), t)
    if e.lo > 0 or e.hi < 0:
        return e
    one = typed_int(1, t).node
    if kind == 1 and e.mag < 2**29:
        g = Expr(B.binop(B.call("wp.abs", e.node), "+", one), t, 1, e.mag + 1)
    else:
        m = draw(st.integers(2, 9))
        g = Expr(B.binop(B.binop(B.call("wp.abs", e.node), "%", typed_int(m, t).node), "+", one), t, 1, m)
    if t.is_signed and _has("neg", t) and draw(st.booleans()):  # negative divisors: C's truncation meets both signs
        return Expr(B.unop("-", g.node), t, -g.hi, -g.lo)
    return g
