"""The pieces every generator module shares, with no recursion into the generators: the typed expression value
(:class:`Expr`), weighted and spread choices (:func:`choose`, :func:`spread_choice`), typed literals read from
the operator table (:func:`typed_int`, :func:`typed_float`), which int types carry intervals, and the helpers
statements, helper functions, sinks and structs all use (:func:`clamp_into`, :func:`dynamic`,
:func:`accumulates`). Nothing here draws a statement or an expression, so any module may import it at the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import hypothesis.strategies as st
import libcst as cst

from grammar import ops as OPS
from grammar.ops import Op, Signature
from grammar.types import FLOAT32, INT32, Composite, Scalar, ValueType

from . import _cst as B

if TYPE_CHECKING:  # annotations only: core imports no generator module
    from .scope import Scope

#: literals whose float value is exact in float16/32/64 (shrinks toward 0.0, 1.0, ...)
FLOAT_LITERALS = (0.0, 1.0, 0.5, 2.0, -1.0, 0.25, 3.0, -0.5, 1.5, -2.0, 4.0, 0.125, 0.75, -3.5, 10.0)


@dataclass(frozen=True)
class Expr:
    node: cst.BaseExpression
    type: ValueType
    lo: int = 0  # int interval (int types only)
    hi: int = 0
    is_literal: bool = False
    operands: tuple = ()  # a comparison's two operand Exprs (branch_test: what hoisting may hold in locals)

    @property
    def mag(self) -> int:
        return max(abs(self.lo), abs(self.hi))


def choose(draw, options: list, weights: list[int] | None = None):
    """Pick one option (optionally weighted); earlier options are simpler and shrinking moves toward index 0."""
    if weights is None:
        return options[draw(st.integers(0, len(options) - 1))]
    k = draw(st.integers(0, sum(weights) - 1))
    for option, w in zip(options, weights):
        if k < w:
            return option
        k -= w
    raise AssertionError("unreachable")


def spread_choice(draw, options: list):
    """Pick one option nearly uniformly. Hypothesis draws a bounded integer at its lower bound far more often
    than elsewhere (over a third of the time for eight options), which suits :func:`choose` but starves the
    end of a long list; the sum of two draws modulo the length flattens that. Still shrinks toward index 0."""
    n = len(options)
    return options[(draw(st.integers(0, n - 1)) + draw(st.integers(0, n - 1))) % n]


def tracks_interval(t: ValueType) -> bool:
    """Int types whose overflow is undefined behaviour: their expressions carry intervals."""
    return isinstance(t, Scalar) and t.is_int and not t.wraps


def int_limit(t: Scalar, policy) -> int:
    """The largest magnitude an interval-tracked expression of type ``t`` may reach (``Policy.int_limit`` for
    32-bit and narrower types, 2**62 for int64): headroom below the type's own limit."""
    return policy.int_limit if t.bits <= 32 else 2**62


def cast_row(t: Scalar) -> tuple[Op, Signature] | None:
    """The row spelled like ``t`` (``wp.float16``) converting a float32/int32 literal into ``t``."""
    return conversion_row(t, FLOAT32 if t.is_float else INT32)


@lru_cache(maxsize=None)
def conversion_row(t: Scalar, source: Scalar) -> tuple[Op, Signature] | None:
    """The row spelled like ``t`` converting a ``source`` value into ``t`` (``wp.float16(x)``)."""
    for op in OPS.OPS:
        if op.spelling == t.warp_name:
            for s in op.signatures:
                if s.args == (source,) and s.result == t and not s.keywords:
                    return op, s
    return None


def cast_node(t: Scalar, inner: cst.BaseExpression) -> cst.BaseExpression:
    """``inner`` converted into ``t`` by ``t``'s conversion row (``wp.float16(inner)``). Draws nothing."""
    op, _ = cast_row(t)
    return B.call(op.spelling, inner)


def typed_float(v: float, t: Scalar = FLOAT32) -> Expr:
    """The float literal ``v`` as a ``t`` (wrapped in ``t``'s conversion unless float32). Draws nothing."""
    node = B.float_lit(v) if t == FLOAT32 else cast_node(t, B.float_lit(v))
    return Expr(node, t, is_literal=True)


def typed_int(v: int, t: Scalar = INT32) -> Expr:
    """The int literal ``v`` as a ``t`` (wrapped in ``t``'s conversion unless int32); its interval is ``[v, v]``.
    Draws nothing."""
    node = B.int_lit(v) if t == INT32 else cast_node(t, B.int_lit(v))
    return Expr(node, t, v, v, True)


_PREFIX = {"float": "x", "int": "i", "uint": "u", "bool": "c", "struct": "r"}


def name_prefix(t) -> str:
    """The first letter of a new local's name of type ``t`` (``x`` floats, ``i`` ints, ``v`` composites...)."""
    return "v" if isinstance(t, Composite) else _PREFIX[t.kind]


class _Names(cst.CSTVisitor):
    def __init__(self, constants: frozenset = frozenset()) -> None:
        self.found = False
        self.constants = constants

    def visit_Call(self, node: cst.Call) -> bool:
        # len(v) is a compile-time constant whatever v is (a vector's length is part of its type)
        return not (isinstance(node.func, cst.Name) and node.func.value == "len")

    def visit_Name(self, node: cst.Name) -> None:
        # "static": wp.static(...) is a constant too (a builtin's name such as wp.sin is not: Warp only
        # treats literals and folded constants as constants)
        if node.value not in ("wp", "True", "False", "static") and node.value not in self.constants:
            self.found = True


def is_constant(node: cst.BaseExpression, constants: frozenset = frozenset()) -> bool:
    """No variable (but those named in ``constants``), parameter or load in the expression: Warp may fold it
    into a constant."""
    v = _Names(constants)
    B.look(v, node)
    return not v.found


def _has_identity_cast(t: Scalar) -> bool:
    return any(op.spelling == t.warp_name and any(s.args == (t,) and s.result == t for s in op.signatures)
               for op in OPS.OPS)


def dynamic(e: Expr, sc: Scope | None = None) -> Expr:
    """Warp treats ``x = <literal>`` as a constant that may not be mutated inside a dynamic loop; declaring
    it through its type's constructor (``wp.float32(0.5)``) makes it a variable (documented Warp rule). So is
    an expression over an unrolled loop's variable (``i9 = (-j1)``: a gradient-share run's compile error), so
    with ``sc`` the loop variables in scope count as constants too (the cast is harmless where a loop is not
    unrolled)."""
    loops = frozenset(v.name for v in sc.vars if v.kind == "loop") if sc is not None else frozenset()
    if not isinstance(e.type, Scalar) or not is_constant(e.node, loops):
        return e
    if not _has_identity_cast(e.type):
        return e
    return Expr(B.call(e.type.warp_name, e.node), e.type, e.lo, e.hi, False)


def clamp_into(e: Expr, lo: int, hi: int) -> Expr:
    """``e`` kept inside [lo, hi]: itself when its interval fits, else ``wp.clamp(e, lo, hi)``. When the two
    intervals share at most one value (``wp.clamp(len(v), 0, 1)`` of a length 3) every value of ``e`` would
    clamp to the same end and reach nothing: ``e`` is first shifted to the middle of [lo, hi]
    (``wp.clamp((len(v) - 3), 0, 1)``)."""
    if lo <= e.lo and e.hi <= hi:
        return e
    t = e.type
    if lo < hi and min(e.hi, hi) - max(e.lo, lo) < 1:
        c = (e.lo + e.hi) // 2 - (lo + hi) // 2
        if abs(c) < 2**30:
            e = Expr(B.binop(e.node, "-", typed_int(c, t).node), t, e.lo - c, e.hi - c)
            if lo <= e.lo and e.hi <= hi:
                return e
    return Expr(B.call("wp.clamp", e.node, typed_int(lo, t).node, typed_int(hi, t).node), t, lo, hi)


def has_binop(spelling: str, t) -> bool:
    """Whether the table has the binary operator ``spelling`` on two ``t`` giving a ``t``."""
    op = OPS.BY_NAME.get(OPS.BINOPS.get(spelling, ""))
    return op is not None and any(s.args == (t, t) and s.result == t for s in op.signatures)


def accumulates(t) -> bool:
    """Whether a value of type ``t`` can be summed into a slot with ``+=`` without overflow (floats,
    composites, wrapping unsigned ints; not the interval-tracked ints, not bool)."""
    return not tracks_interval(t) and getattr(t, "kind", None) != "bool" and has_binop("+", t)
