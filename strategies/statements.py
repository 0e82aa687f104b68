"""Statement generation: blocks of declarations, assignments, stores, atomics, if/elif/else and for-range loops.

What is generated: a list of libcst statements valid in a Warp kernel body, given the :class:`Scope`.

Guarantees (on top of those of :mod:`strategies.expressions`):

* races: a thread stores only to ``out[tid]`` of its own-slot outputs; the other outputs are touched only
  with ``wp.atomic_*``; input arrays are never written;
* termination: every loop is ``range`` over a literal or an int scalar parameter whose range is bounded by
  the policy, and the product of enclosing trip counts never exceeds ``policy.max_trip_product``;
* no int overflow across statements: see the slack/core rules in :mod:`strategies.scope`; int atomics add at
  most ``policy.atomic_int_bound`` per execution, at most ``max_trip_product`` executions per statement and
  thread, and at most ``policy.max_atomic_stmts`` such statements;
* scoping: a variable declared in a block is never used after the block ends (Warp keeps it visible, but
  possibly uninitialised).

Shrinking: statement kinds are ordered simplest first (declaration, store, assignment, augmented
assignment, atomic, if, for), blocks shrink toward one statement and nesting toward none.
"""

from __future__ import annotations

import hypothesis.strategies as st
import libcst as cst

from grammar.types import BOOL, FLOAT32, INT32, VEC3

from . import _cst as B
from .expressions import Expr, choose, expression, index_expr, wrap
from .scope import Scope, Var

LOCAL_TYPES = (FLOAT32, INT32, BOOL, VEC3)


def block(draw, sc: Scope, max_stmts: int | None = None, min_stmts: int = 1) -> list[cst.BaseStatement]:
    """A block of ``min_stmts..max_stmts`` statements in a new variable scope (shrinks toward fewer)."""
    n = draw(st.integers(min_stmts, max_stmts or sc.policy.max_statements))
    sc.push()
    try:
        return [statement(draw, sc) for _ in range(n)]
    finally:
        sc.pop()


def statement(draw, sc: Scope) -> cst.BaseStatement:
    kinds = ["declare", "store", "assign", "augassign"]
    if sc.atomics and sc.n_atomic_stmts < sc.policy.max_atomic_stmts:
        kinds.append("atomic")
    if sc.block_depth < sc.policy.max_block_depth:
        kinds.append("if")
        if sc.loop_depth < sc.policy.max_loop_nesting and sc.trip < sc.policy.max_trip_product:
            kinds.append("for")
    weights = dict(sc.policy.statement_weights)
    kind = choose(draw, kinds, [weights[k] for k in kinds])
    stmt = _STATEMENTS[kind](draw, sc)
    return stmt if stmt is not None else declare(draw, sc)


def _depth(draw, sc: Scope) -> int:
    return draw(st.integers(0, sc.policy.max_expr_depth))


def declare(draw, sc: Scope) -> cst.BaseStatement:
    t = choose(draw, LOCAL_TYPES)
    e = expression(draw, sc, t, _depth(draw, sc))
    name = sc.fresh({FLOAT32: "x", INT32: "i", BOOL: "c", VEC3: "v"}[t])
    if t == INT32:
        if e.mag > sc.policy.int_var_bound:
            e = wrap(e, sc.policy.int_wrap_modulus)
        slack = sc.policy.int_aug_slack if draw(st.booleans()) else 0
        sc.declare(Var(name, t, "local", e.lo, e.hi, slack))
    else:
        sc.declare(Var(name, t, "local"))
    return B.assign(B.name(name), e.node)


def store(draw, sc: Scope) -> cst.BaseStatement | None:
    if not sc.outputs:
        return None
    out = choose(draw, sc.outputs)
    e = expression(draw, sc, out.dtype, _depth(draw, sc))
    return B.assign(B.subscript(B.name(out.name), B.name(sc.tid().name)), e.node)


def clamp_into(e: Expr, lo: int, hi: int) -> Expr:
    if lo <= e.lo and e.hi <= hi:
        return e
    return Expr(B.call("wp.clamp", e.node, B.int_lit(lo), B.int_lit(hi)), INT32, lo, hi)


def assign(draw, sc: Scope) -> cst.BaseStatement | None:
    targets = [v for v in sc.vars if v.assignable]
    if not targets:
        return None
    v = choose(draw, targets)
    e = expression(draw, sc, v.type, _depth(draw, sc))
    if v.type == INT32:
        e = clamp_into(e, v.lo, v.hi)
    return B.assign(B.name(v.name), e.node)


def aug_assign(draw, sc: Scope) -> cst.BaseStatement | None:
    targets = [v for v in sc.vars if v.assignable and v.type != BOOL]
    if not targets:
        return None
    v = choose(draw, targets)
    ops = ["+", "-", "*"] if v.type == FLOAT32 else ["+", "-"]
    op = choose(draw, ops)
    e = expression(draw, sc, v.type, _depth(draw, sc))
    if v.type == INT32:
        cost = e.mag * sc.trip
        if cost > v.slack - v.slack_used:
            return None
        v.slack_used += cost
    return B.aug_assign(B.name(v.name), op, e.node)


def atomic(draw, sc: Scope) -> cst.BaseStatement:
    arr = choose(draw, sc.atomics)
    fn = choose(draw, ["wp.atomic_add", "wp.atomic_min", "wp.atomic_max"])
    idx = index_expr(draw, sc, 1)
    e = expression(draw, sc, arr.dtype, _depth(draw, sc))
    if arr.dtype == INT32 and e.mag > sc.policy.atomic_int_bound:
        e = wrap(e, sc.policy.int_wrap_modulus)
    sc.n_atomic_stmts += 1
    return B.expr_stmt(B.call(fn, B.name(arr.name), idx.node, e.node))


def if_stmt(draw, sc: Scope) -> cst.BaseStatement:
    test = expression(draw, sc, BOOL, _depth(draw, sc))
    body = block(draw, sc, 3)
    n_elif = draw(st.integers(0, 2))
    has_else = draw(st.booleans())
    orelse: cst.If | cst.Else | None = B.else_(block(draw, sc, 3)) if has_else else None
    for _ in range(n_elif):
        cond = expression(draw, sc, BOOL, _depth(draw, sc))
        orelse = B.if_(cond.node, block(draw, sc, 3), orelse)
    return B.if_(test.node, body, orelse)


def for_stmt(draw, sc: Scope) -> cst.BaseStatement:
    p = sc.policy
    room = max(1, min(p.max_const_trip, p.max_trip_product // sc.trip))
    int_params = [v for v in sc.vars if v.kind == "param" and v.type == INT32 and v.hi * sc.trip <= p.max_trip_product]
    kinds = ["const", "range2"] + (["param"] if int_params else [])
    kind = choose(draw, kinds)
    if kind == "const":
        k = draw(st.integers(1, room))
        bounds, lo, hi, trip = [B.int_lit(k)], 0, k - 1, k
    elif kind == "range2":
        start = draw(st.integers(0, 3))
        k = draw(st.integers(1, room))
        bounds, lo, hi, trip = [B.int_lit(start), B.int_lit(start + k)], start, start + k - 1, k
    else:
        n = choose(draw, int_params)
        bounds, lo, hi, trip = [B.name(n.name)], 0, max(n.hi - 1, 0), max(n.hi, 0)
    var = sc.fresh("j")
    sc.push(nests=False)
    sc.declare(Var(var, INT32, "loop", lo, hi))
    saved_trip = sc.trip
    sc.trip *= max(trip, 1)
    sc.loop_depth += 1
    try:
        body = block(draw, sc, 3)
    finally:
        sc.loop_depth -= 1
        sc.trip = saved_trip
        sc.pop()
    return B.for_range(var, bounds, body)


_STATEMENTS = {
    "declare": declare,
    "store": store,
    "assign": assign,
    "augassign": aug_assign,
    "atomic": atomic,
    "if": if_stmt,
    "for": for_stmt,
}
