"""Compile-time expressions: ``wp.static(<Python expression over literals>)``.

What is generated: Warp evaluates the argument of ``wp.static`` with *Python* semantics when it generates
code and embeds the result as a constant. So ``wp.static(-7 % 3)`` is ``2`` (Python's floored modulo)
where the kernel-level ``-7 % 3`` is ``-1`` (C), and ``wp.static(-7 // 2)`` is ``-4``. The forms are

- int values: ``wp.static(v)`` or ``wp.static(((a OP b) + c))`` with ``OP`` in ``+ - * // %`` over small
  literals (non-zero divisors), ``c`` chosen so the value is exactly the ``v`` drawn from the requested
  interval (used as an int32 leaf and as a loop bound ``range(wp.static(...))``);
- float values: ``wp.static((x OP y))`` over float literals (``OP`` in ``+ - * /``), embedded by Warp as a
  float32 constant (the double is rounded to nearest, which the reference copies);
- bool values: ``wp.static((a OP b) CMP c)`` (used as a leaf and as an ``if`` test, whose dead branch
  Warp drops at code generation).

Guarantees: the value fits its type; no division by zero happens even at code-generation time.
Shrinking: toward ``wp.static(v)`` with ``v`` the simplest value, operands toward 0 and the first operator.
"""

from __future__ import annotations

import operator

import hypothesis.strategies as st

from grammar.types import BOOL, FLOAT32, INT32

from . import _cst as B
from .core import FLOAT_LITERALS, Expr, choose

#: Python's semantics of each operator (what Warp runs at code-generation time)
INT_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv, "%": operator.mod}
FLOAT_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
COMPARES = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt,
            ">=": operator.ge}
OPERAND = 9  # |literal operands| <= this


def static(node) -> "B.cst.Call":
    """``wp.static(node)``: Warp evaluates ``node`` at code generation (its Python semantics: :data:`INT_OPS`)."""
    return B.call("wp.static", node)


def _int_pair(draw) -> tuple:
    """``(a OP b)`` over small literals with its Python value (divisors non-zero)."""
    op = choose(draw, list(INT_OPS))
    a = draw(st.integers(-OPERAND, OPERAND))
    b = draw(st.integers(-OPERAND, OPERAND))
    if op in ("//", "%") and b == 0:
        b = 1
    return B.binop(B.int_lit(a), op, B.int_lit(b)), INT_OPS[op](a, b)


def static_int(draw, lo: int, hi: int) -> Expr:
    """An int32 compile-time constant with value in [lo, hi] (a constant, like a literal)."""
    v = draw(st.integers(lo, hi))
    if not draw(st.booleans()):
        return Expr(static(B.int_lit(v)), INT32, v, v, True)
    pair, w = _int_pair(draw)
    return Expr(static(B.binop(pair, "+", B.int_lit(v - w))), INT32, v, v, True)


def static_float(draw) -> Expr:
    """A float32 compile-time constant ``wp.static((x OP y))`` (|value| <= 10 / 0.125 = 80)."""
    op = choose(draw, list(FLOAT_OPS))
    x = draw(st.sampled_from(FLOAT_LITERALS))
    y = draw(st.sampled_from(FLOAT_LITERALS))
    if op == "/" and y == 0.0:
        y = 1.0
    return Expr(static(B.binop(B.float_lit(x), op, B.float_lit(y))), FLOAT32, is_literal=True)


def static_bool(draw) -> Expr:
    """A bool compile-time constant ``wp.static(((a OP b) CMP c))``; its value is the Expr's ``lo`` (= ``hi``)."""
    pair, w = _int_pair(draw)
    cmp = choose(draw, list(COMPARES))
    c = draw(st.integers(-OPERAND, OPERAND))
    value = int(COMPARES[cmp](w, c))
    return Expr(static(B.compare(pair, cmp, B.int_lit(c))), BOOL, value, value, is_literal=True)


def static_leaf(draw, t, lo: int = -OPERAND, hi: int = OPERAND) -> Expr | None:
    """A compile-time constant of ``t`` (int32, float32 or bool), or None for other types."""
    if t == INT32:
        return static_int(draw, lo, hi)
    if t == FLOAT32:
        return static_float(draw)
    if t == BOOL:
        return static_bool(draw)
    return None
