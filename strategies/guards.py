"""Domain guards: expressions that are inside an operator argument's input domain by construction.

``guarded(draw, scope, t, domain, depth)`` returns an expression of type ``t`` whose value always lies in
``domain``. What each guard writes is data of the grammar: the core float domains' guards are
:data:`grammar.rows.FLOAT_GUARDS` (literals, ``wp.abs(e) + floor`` or ``wp.clamp`` with a policy bound), the group
modules document their domains in ``DOMAINS`` and give a source template for each in ``GUARDS``; only a non-zero
int, which follows the interval of its expression, is written here (:func:`nonzero_int`). Guards are themselves built
from rows of the operator table (``wp.abs``, ``+``, ``wp.clamp``, ``wp.normalize``...), so the reference needs no
special support for them. A domain that does not constrain the argument's type (``cast_arg`` on an int) is "any".

Shrinking: the first alternative is always a literal already inside the domain where one exists, so
arguments shrink to a constant; otherwise to the simplest guard around a shrunk sub-expression.
"""

from __future__ import annotations

import hypothesis.strategies as st
import libcst as cst

from grammar import ops as OPS
from grammar.rows import FLOAT_GUARDS, FloatGuard
from grammar.types import Scalar, ValueType

from . import _cst as B
from .core import Expr, tracks_interval, typed_float, typed_int
from .expressions import expression
from .registry import P


def _has(name: str, *args: ValueType) -> bool:
    op = OPS.BY_NAME.get(name)
    return op is not None and any(s.args == args for s in op.signatures)


@P.register
def guarded(draw, sc, t: ValueType, domain: str, depth: int) -> Expr:
    """An expression of type ``t`` whose value lies in the row argument's ``domain`` (``"any"``: unconstrained):
    the core float domains by their :data:`grammar.rows.FLOAT_GUARDS` (:func:`float_guard`), a non-zero int by
    :func:`nonzero_int`, the group rows' domains by their source templates (:func:`template_guard`). Shrinks with the
    guarded expression."""
    if domain == "any":
        return expression(draw, sc, t, depth)
    is_float = isinstance(t, Scalar) and t.is_float
    if domain in FLOAT_GUARDS and is_float:
        return float_guard(draw, sc, t, depth, FLOAT_GUARDS[domain])
    if domain == "nonzero" and isinstance(t, Scalar) and t.is_int:
        return nonzero_int(draw, sc, t, depth)
    if domain in FLOAT_GUARDS:
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


def float_guard(draw, sc, t: Scalar, depth: int, g: FloatGuard) -> Expr:
    """A float inside a core domain, as its :class:`grammar.rows.FloatGuard` says: one of its literals, or its guard
    around a drawn expression (always the guard in live mode, so the value stays computed). Shrinks toward the
    first literal."""
    if g.kind == "abs_plus" and g.negatable:  # |value| >= floor, both signs: literal / guard / negated guard
        kind = draw(st.integers(0, 2))
        if sc.live and kind == 0:
            kind = 1
        if kind == 0 or depth < 0 or not _can_abs_plus(t) or not _has("neg", t):
            return typed_float(draw(st.sampled_from(g.literals)), t)
        e = _abs_plus(expression(draw, sc, t, depth), g.floor, t)
        return e if kind == 1 else Expr(B.unop("-", e.node), t)
    if g.kind == "abs_plus":  # value >= floor
        if depth < 0 or not _can_abs_plus(t) or not (sc.live or draw(st.booleans())):
            return typed_float(draw(st.sampled_from(g.literals)), t)
        return _abs_plus(expression(draw, sc, t, depth), g.floor, t)
    if g.kind == "clamp":  # within +-bound
        bound = getattr(sc.policy, g.bound)
        if depth < 0 or not _has("clamp", t, t, t) or not (sc.live or draw(st.booleans())):
            v = draw(st.sampled_from(g.literals))
            return typed_float(max(-bound, min(bound, v)), t)
        return _clamp(expression(draw, sc, t, depth), bound, t)
    raise ValueError(f"unknown float guard kind {g.kind!r}")


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
