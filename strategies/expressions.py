"""Type-driven expression generation: ``expression(draw, scope, t, depth)`` returns an :class:`Expr` of type ``t``.

What is generated: a libcst expression of Warp type ``t`` built from the operator table
(:data:`grammar.ops.OPS`) over the variables in scope, input-array loads, scalar parameters and literals.

Guarantees: well typed (only table signatures are used); every argument lies in its operator's domain
(see :mod:`strategies.guards`); int expressions carry a sound interval within ``+-policy.int_limit`` so no
signed overflow, no division by zero; array indices lie in ``[0, dim)``.

Shrinking: at every node the alternatives are ordered simplest first (literal, variable, load, then
operators in table order) and depth shrinks toward 0, so failing expressions shrink toward a single
leaf or a single operator over leaves.
"""

from __future__ import annotations

from dataclasses import dataclass

import hypothesis.strategies as st
import libcst as cst

from grammar.ops import Op, Signature, ops_returning
from grammar.types import BOOL, FLOAT32, INT32, VEC3, ValueType

from . import _cst as B
from .scope import Scope

#: literals whose float32 value is exact (shrinks toward 0.0, 1.0, ...)
FLOAT_LITERALS = (0.0, 1.0, 0.5, 2.0, -1.0, 0.25, 3.0, -0.5, 1.5, -2.0, 4.0, 0.1, 0.75, -3.5, 10.0)


@dataclass(frozen=True)
class Expr:
    node: cst.BaseExpression
    type: ValueType
    lo: int = 0  # int interval (ints only)
    hi: int = 0
    is_literal: bool = False

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


# ---- leaves -------------------------------------------------------------------------------------------------


def int_literal(draw, sc: Scope, lo: int | None = None, hi: int | None = None) -> Expr:
    m = sc.policy.int_const_max
    lo = -m if lo is None else lo
    hi = m if hi is None else hi
    v = draw(st.integers(lo, hi))
    return Expr(B.int_lit(v), INT32, v, v, True)


def float_literal(draw, sc: Scope) -> Expr:
    v = draw(st.sampled_from(FLOAT_LITERALS))
    return Expr(B.float_lit(v), FLOAT32, is_literal=True)


def literal(draw, sc: Scope, t: ValueType) -> Expr:
    if t == INT32:
        return int_literal(draw, sc)
    if t == FLOAT32:
        return float_literal(draw, sc)
    if t == BOOL:
        v = draw(st.booleans())
        return Expr(B.bool_lit(v), BOOL, is_literal=True)
    parts = [float_literal(draw, sc).node for _ in range(3)]
    return Expr(B.call("wp.vec3", *parts), VEC3, is_literal=True)


def var_expr(v) -> Expr:
    lo, hi = v.interval if v.type == INT32 else (0, 0)
    return Expr(B.name(v.name), v.type, lo, hi)


def index_expr(draw, sc: Scope, depth: int) -> Expr:
    """An int32 expression whose value is always a valid index into every array, i.e. in [0, dim)."""
    n = sc.policy.dim
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return var_expr(sc.tid())
    if kind == 1:
        return int_literal(draw, sc, 0, n - 1)
    e = expression(draw, sc, INT32, max(depth - 1, 0))
    if 0 <= e.lo and e.hi < n:
        return e
    if kind == 2:  # (|e| % n): abs is safe, |e| <= int_limit
        return Expr(B.binop(B.call("wp.abs", e.node), "%", B.int_lit(n)), INT32, 0, n - 1)
    return Expr(B.call("wp.clamp", e.node, B.int_lit(0), B.int_lit(n - 1)), INT32, 0, n - 1)


def load(draw, sc: Scope, t: ValueType, depth: int) -> Expr | None:
    arrays = [a for a in sc.inputs if a.dtype == t]
    if not arrays:
        return None
    a = choose(draw, arrays)
    idx = index_expr(draw, sc, depth)
    lo, hi = sc.policy.int_input_range if t == INT32 else (0, 0)
    return Expr(B.subscript(B.name(a.name), idx.node), t, lo, hi)


def nonliteral_leaf(draw, sc: Scope, t: ValueType, depth: int) -> Expr | None:
    """A variable or an input load of type ``t``, or None when there is none."""
    options = (["var"] if sc.of_type(t) else []) + (["load"] if any(a.dtype == t for a in sc.inputs) else [])
    if not options:
        return None
    if choose(draw, options) == "var":
        return var_expr(choose(draw, sc.of_type(t)))
    return load(draw, sc, t, depth)


def leaf(draw, sc: Scope, t: ValueType, depth: int) -> Expr:
    options = ["literal"]
    if sc.of_type(t):
        options.append("var")
    if any(a.dtype == t for a in sc.inputs):
        options.append("load")
    if t == BOOL:
        options.append("compare")
    kind = choose(draw, options)
    if kind == "literal":
        return literal(draw, sc, t)
    if kind == "var":
        return var_expr(choose(draw, sc.of_type(t)))
    if kind == "load":
        return load(draw, sc, t, depth)
    ct = choose(draw, [FLOAT32, INT32])
    op_name = choose(draw, ["<", "<=", ">", ">="])
    left = nonliteral_leaf(draw, sc, ct, 0) or leaf(draw, sc, ct, 0)
    return Expr(B.compare(left.node, op_name, leaf(draw, sc, ct, 0).node), BOOL)


# ---- operators ----------------------------------------------------------------------------------------------


def expression(draw, sc: Scope, t: ValueType, depth: int) -> Expr:
    """An expression of type ``t`` at most ``depth`` operators deep."""
    p = sc.policy
    if depth <= 0 or choose(draw, ["leaf", "op"], [p.leaf_weight, p.operator_weight]) == "leaf":
        return leaf(draw, sc, t, depth)
    op, signature = choose(draw, ops_returning(t))
    return apply_op(draw, sc, op, signature, depth)


def apply_op(draw, sc: Scope, op: Op, signature: Signature, depth: int) -> Expr:
    from .guards import guarded  # guards build on expression(); imported late to avoid a cycle

    if op.syntax == "index":  # vector component v[k]
        vec = expression(draw, sc, VEC3, depth - 1)
        k = draw(st.integers(0, 2))
        return Expr(B.subscript(vec.node, B.int_lit(k)), signature.result)
    args = [guarded(draw, sc, a, op.domain(i), depth - 1) for i, a in enumerate(signature.args)]
    if op.syntax != "construct" and op.domain(0) == "any" and all(a.is_literal for a in args):
        # an operator over literals only is constant-folded by any compiler: use a live operand instead
        args[0] = nonliteral_leaf(draw, sc, signature.args[0], depth) or args[0]
    if signature.result == INT32 or (op.syntax == "compare" and signature.args[0] == INT32):
        args = fit_int_operands(op, args, sc.policy)
    node = render_op(op, [a.node for a in args])
    if signature.result != INT32:
        return Expr(node, signature.result)
    lo, hi = int_interval(op, args, sc.policy.float_cast_bound)
    return Expr(node, INT32, lo, hi)


def render_op(op: Op, args: list[cst.BaseExpression]) -> cst.BaseExpression:
    if op.syntax == "binop":
        return B.binop(args[0], op.spelling, args[1])
    if op.syntax == "unop":
        return B.unop(op.spelling, args[0])
    if op.syntax == "compare":
        return B.compare(args[0], op.spelling, args[1])
    if op.syntax == "boolop":
        return B.boolop(args[0], op.spelling, args[1])
    return B.call(op.spelling, *args)


# ---- integer intervals (no signed overflow by construction) ----------------------------------------------------

def wrap(e: Expr, modulus: int) -> Expr:
    """``(e % modulus)``: C-style, so the result keeps e's sign and lies in (-modulus, modulus)."""
    lo = 0 if e.lo >= 0 else -(modulus - 1)
    hi = 0 if e.hi <= 0 else modulus - 1
    return Expr(B.binop(e.node, "%", B.int_lit(modulus)), INT32, lo, hi)


def fit_int_operands(op: Op, args: list[Expr], policy) -> list[Expr]:
    """Wrap the largest operand until the op's result interval stays within +-policy.int_limit."""
    args = list(args)
    limit, modulus = policy.int_limit, policy.int_wrap_modulus
    while True:
        lo, hi = int_interval(op, args)
        if -limit <= lo and hi <= limit:
            return args
        i = max(range(len(args)), key=lambda j: args[j].mag if args[j].type == INT32 else -1)
        if args[i].mag < modulus:
            raise AssertionError(f"cannot bound {op.name} over {[(a.lo, a.hi) for a in args]}")
        args[i] = wrap(args[i], modulus)


def int_interval(op: Op, a: list[Expr], cast_bound: float = 1000.0) -> tuple[int, int]:
    n = op.name
    if n in ("lt", "le", "gt", "ge", "eq", "ne"):
        return (0, 1)  # only the operands' size matters (their subtraction is never emitted)
    if n == "add":
        return a[0].lo + a[1].lo, a[0].hi + a[1].hi
    if n == "sub":
        return a[0].lo - a[1].hi, a[0].hi - a[1].lo
    if n == "mul":
        c = [x * y for x in (a[0].lo, a[0].hi) for y in (a[1].lo, a[1].hi)]
        return min(c), max(c)
    if n == "div":
        return -a[0].mag, a[0].mag
    if n == "floordiv":
        m = max(a[0].mag, 1)
        return -m, m
    if n == "mod":
        m = a[1].mag - 1
        return (0 if a[0].lo >= 0 else -m), (0 if a[0].hi <= 0 else m)
    if n == "neg":
        return -a[0].hi, -a[0].lo
    if n == "abs":
        return (0 if a[0].lo <= 0 <= a[0].hi else min(abs(a[0].lo), abs(a[0].hi))), a[0].mag
    if n == "min":
        return min(a[0].lo, a[1].lo), min(a[0].hi, a[1].hi)
    if n == "max":
        return max(a[0].lo, a[1].lo), max(a[0].hi, a[1].hi)
    if n == "clamp":  # min(max(lo, x), hi), exactly as Warp computes it
        m_lo, m_hi = max(a[1].lo, a[0].lo), max(a[1].hi, a[0].hi)
        return min(m_lo, a[2].lo), min(m_hi, a[2].hi)
    if n == "where":
        return min(a[1].lo, a[2].lo), max(a[1].hi, a[2].hi)
    if n == "int32":  # the argument is clamped to +-cast_bound (domain "cast_arg")
        return -int(cast_bound), int(cast_bound)
    raise KeyError(f"no interval rule for int op {n}")

