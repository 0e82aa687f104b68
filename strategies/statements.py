"""Statement generation: declarations, stores, (augmented) assignments, component writes, atomics,
if/elif/else, for-range and while loops, break/continue, early return.

What is generated: a list of libcst statements valid in a Warp kernel body, given the :class:`Scope`.

Guarantees (on top of those of :mod:`strategies.expressions`):

* races: a thread stores only to its own element (``out[tid]``, ``out[i, j]``) of the own-slot outputs;
  the other outputs are touched only with ``wp.atomic_*``; input arrays are never written;
* termination: ``for`` loops run over ``range`` of literals or of an int scalar parameter with a bounded
  range; ``while`` loops count a dedicated counter up to a literal, incrementing it *first* so that
  ``continue`` cannot skip it; the product of enclosing trip counts never exceeds
  ``policy.max_trip_product``;
* no int overflow across statements: see the slack/core rules in :mod:`strategies.scope`; int atomics add at
  most ``policy.atomic_int_bound`` per execution, at most ``max_trip_product`` executions per statement and
  thread, and at most ``policy.max_atomic_stmts`` such statements;
* scoping: a variable declared in a block is never used after the block ends (Warp keeps it visible, but
  possibly uninitialised);
* gradient-directed kernels (``Scope.directed``): no ``while``, ``break``, ``continue`` or ``for`` over a
  parameter (every loop unrolled), no float ``*=``, no component write of a local and no in-place builtin, no
  float ``atomic_exch`` store, only additive atomics: nothing that Warp 1.19 cannot differentiate
  (``harness.oracle.gradient_limits``).

Shrinking: statement kinds are ordered simplest first (declaration, store, assignment, augmented
assignment, atomic, if, for, ...), blocks shrink toward one statement and nesting toward none.
"""

from __future__ import annotations

from functools import lru_cache

import hypothesis.strategies as st
import libcst as cst

from grammar.types import BOOL, COMPONENT_NAMES, FLOAT32, INT32, Composite, Scalar, float_valued

from . import _cst as B
from .core import (Expr, accumulates, choose, clamp_into, dynamic, has_binop, name_prefix, spread_choice,
                   tracks_interval, typed_float, typed_int)
from .expressions import (apply_op, branch_test, by_name, element_index, enliven, expression, lane_uniform,
                          literal_types, live, render_op, wrap)
from .functions import call_args
from .guards import guarded
from .registry import P
from .scope import Scope, Var
from .sinks import sink_statements, sink_target
from .static import static_bool, static_int
from .structs import field_store, field_write, struct_declare

LOCAL_TYPES = (FLOAT32, INT32, BOOL)


def local_types(sc: Scope) -> list:
    """Types a new local may have in this kernel (core types first: shrinking prefers them)."""
    extra = sorted((t for t in (sc.palette or literal_types()) if t not in LOCAL_TYPES), key=lambda t: t.name)
    return list(LOCAL_TYPES) + extra


def block(draw, sc: Scope, max_stmts: int | None = None, min_stmts: int = 1) -> list[cst.BaseStatement]:
    """A block of ``min_stmts..max_stmts`` statements in a new variable scope (shrinks toward fewer), ended by
    a sink store of each local declared in it (:mod:`strategies.sinks`)."""
    n = draw(st.integers(min_stmts, max_stmts or sc.policy.max_statements))
    sc.push()
    try:
        out: list[cst.BaseStatement] = []
        for _ in range(n):
            s = statement(draw, sc)
            out.extend(s if isinstance(s, list) else [s])
        return out + sink_statements(sc, sc.block_locals())  # every local reaches an output
    finally:
        sc.pop()


@P.register
def statement(draw, sc: Scope) -> cst.BaseStatement | list[cst.BaseStatement]:
    """One statement of a kind the scope allows (``Policy.statement_weights``; declarations first, so shrinking
    moves toward ``x = e``): declarations, stores, assignments, component writes, atomics, ``if``, ``for``,
    ``while``, jumps, builtin calls, struct statements. Kinds that cannot apply here are not offered (no room in
    the nesting or trip budget, no loop around a jump); a generator that finds no target returns None and a
    declaration is drawn instead. Guarantees are those of each kind's generator."""
    # a gradient-directed kernel writes no component of a local: after a read, or of a value computed from
    # variables, Warp's in-place write spoils the gradient (gradient_limits: component-overwrite)
    kinds = ["declare", "store", "assign", "augassign"] + ([] if sc.directed else ["component"])
    if any(len(f.returns) > 1 for f in sc.funcs):
        kinds.append("unpack")
    if sc.atomics and sc.n_atomic_stmts < sc.policy.max_atomic_stmts:
        kinds.append("atomic")
    if sc.block_depth < sc.policy.max_block_depth:
        if sc.if_depth < sc.policy.max_if_nesting:
            kinds.append("if")
        if sc.loop_depth < sc.policy.max_loop_nesting and sc.trip < sc.policy.max_trip_product:
            kinds += ["for"] if sc.directed else ["for", "while"]  # a gradient-directed kernel: no dynamic loops
    if sc.loop_depth > 0 and not sc.directed:  # a jump makes its loop dynamic
        kinds += ["break", "continue"]
    if not sc.in_func:
        kinds.append("return")
    if statement_rows(sc):
        kinds.append("builtin")
    if sc.structs:
        kinds += ["struct", "field"]
    weights = dict(sc.policy.statement_weights)
    kind = choose(draw, kinds, [weights.get(k, 1) for k in kinds])
    if kind == "return" and sc.dynamic_loops and choose(draw, [False, True], [1, sc.policy.dynamic_return_odds]):
        kind = "declare"  # Warp's backward of a return in a dynamic loop is wrong or hangs: see the policy field
    stmt = _STATEMENTS[kind](draw, sc)
    return stmt if stmt is not None else declare(draw, sc)


def _depth(draw, sc: Scope) -> int:
    return draw(st.integers(0, sc.policy.max_expr_depth))


def declare(draw, sc: Scope) -> cst.BaseStatement:
    """``x<n> = e`` of a type in the kernel's palette: a fresh local (:func:`declare_value`), a constant written
    through its type's constructor where Warp would otherwise fold it (:func:`dynamic`). Shrinks toward the
    first local type and a leaf."""
    t = choose(draw, local_types(sc))
    return declare_value(draw, sc, dynamic(expression(draw, sc, t, _depth(draw, sc)), sc))


@P.register
def declare_value(draw, sc: Scope, e: Expr) -> cst.BaseStatement:
    """``x<n> = e`` for a fresh local (an int local is wrapped into the policy's bound)."""
    t = e.type
    name = sc.fresh(name_prefix(t))
    if tracks_interval(t):
        if e.mag > sc.policy.int_var_bound:
            e = wrap(e, sc.policy.int_wrap_modulus)
        slack = sc.policy.int_aug_slack if draw(st.booleans()) else 0
        var = sc.declare(Var(name, t, "local", e.lo, e.hi, slack))
    else:
        var = sc.declare(Var(name, t, "local"))
    var.uniform = lane_uniform(sc, e)
    return B.assign(B.name(name), e.node)


def store(draw, sc: Scope) -> cst.BaseStatement | None:
    """A write to this thread's own slot of an output (no race: ``out[tid]`` / ``out[i, j]``), in one of the forms
    of ``Policy.store_form_weights`` (plain, ``+=``, ``wp.atomic_exch``, one component), or a struct field.
    Never overwrites what an earlier store left: a second store accumulates, or (ints, bools) goes to a sink
    slot. None when the kernel has no output. Shrinks toward a plain store of a leaf."""
    if not sc.outputs:
        return None
    out = choose(draw, sc.outputs)
    target = B.subscript(B.name(out.name), *sc.own_slot())
    if getattr(out.dtype, "kind", None) == "struct" and draw(st.booleans()):
        return field_store(draw, sc, target, out.dtype, _depth(draw, sc))  # out[tid].m0 = e
    e = expression(draw, sc, out.dtype, _depth(draw, sc))
    form = choose(draw, ["store", "update", "exchange", "component"], list(sc.policy.store_form_weights))
    if form == "exchange" and out.dtype not in (FLOAT32, INT32) or form == "component" and not isinstance(
            out.dtype, Composite):
        form = "store"  # the form does not apply to the type: a plain store, which may not overwrite either
    if sc.directed and form == "exchange" and float_valued(out.dtype):
        form = "store"  # (atomic_exch has no adjoint, and the value it returns is not replayed: atomic-result)
    overwrites = out.name in sc.written
    sc.written.add(out.name)
    if form in ("store", "update") and accumulates(out.dtype) and (form == "update" or overwrites or sc.loop_depth):
        # in-place update of the own element; a plain store after an earlier one would overwrite the value
        # that one stored (no statement reads an output back), so it accumulates too; so does one in a loop,
        # where the next iteration would overwrite what this one stored
        return B.aug_assign(target, "+", e.node)
    if overwrites and form == "exchange" and out.dtype == INT32 and not sc.directed:
        return _exchange(draw, sc, out, e, keep=True)  # the value the earlier store left goes on in a local
    if overwrites and form != "component" and not accumulates(out.dtype) and getattr(out.dtype, "kind", None) != "struct":
        # an int or bool output already written cannot accumulate: the value goes to a sink slot of its own
        # instead of overwriting what the earlier store (or atomic_exch) left there (`atomic_exch` was 3 of 14
        # live row uses in a liveness census: a later plain store overwrote its slot)
        return B.assign(sink_target(sc, out.dtype), e.node)
    if form == "component" and isinstance(out.dtype, Composite):  # out[tid].y = x, out[tid][1] += x
        part = _component(draw, target, out.dtype)
        x = expression(draw, sc, out.dtype.scalar, _depth(draw, sc))
        if draw(st.booleans()) and has_binop("+", out.dtype.scalar):
            return B.aug_assign(part, "+", x.node)
        return B.assign(part, x.node)
    if form == "exchange" and out.dtype in (FLOAT32, INT32):
        return _exchange(draw, sc, out, e)
    return B.assign(target, e.node)


def _exchange(draw, sc: Scope, out, e: Expr, keep: bool = False) -> cst.BaseStatement:
    """``x = wp.atomic_exch(out, own, e)`` (float: the old value is kept in a new local) or
    ``wp.atomic_cas(out, own, c, e)`` (int): only on the thread's own slot, which no other thread touches, so
    the result does not depend on thread order. ``keep``: an int slot an earlier statement stored to, whose
    value the call returns into a new local (within ``int_limit``, like every int value stored)."""
    own = sc.own_slot()
    if out.dtype == INT32 and draw(st.booleans()):
        c = expression(draw, sc, INT32, 0)
        call = B.call("wp.atomic_cas", B.name(out.name), *own, c.node, e.node)
    else:
        call = B.call("wp.atomic_exch", B.name(out.name), *own, e.node)
    if out.dtype == INT32 and keep:
        name = sc.fresh(name_prefix(INT32))
        lim = sc.policy.int_limit
        sc.declare(Var(name, INT32, "local", -lim, lim))
        return B.assign(B.name(name), call)
    if out.dtype != FLOAT32:
        return B.expr_stmt(call)
    name = sc.fresh(name_prefix(FLOAT32))
    sc.declare(Var(name, FLOAT32, "local"))
    return B.assign(B.name(name), call)


def keep_unread(sc: Scope, v: Var) -> list[cst.BaseStatement]:
    """Before ``v`` is overwritten: a sink store of its value when nothing has read it (else it would reach
    no output), nothing otherwise (:mod:`strategies.sinks`)."""
    if not v.unread:
        return []
    return sink_statements(sc, [v])


def assign(draw, sc: Scope) -> list[cst.BaseStatement] | None:
    """``x = e`` on a local, preceded by a sink store of the value it overwrites when nothing read that
    value (:func:`keep_unread`); ``e`` reading ``x`` reads it."""
    targets = [v for v in sc.vars if v.assignable and not (sc.loop_depth and v.name in sc.pinned)
               and not (tracks_interval(v.type) and v.lo == v.hi)]  # `i = 5` keeps [5, 5]: clamped to 5
    if not targets:
        return None
    v = choose(draw, targets)
    v.uniform = False  # the new value, or the branch it is assigned in, may differ between threads
    e = expression(draw, sc, v.type, _depth(draw, sc))
    if tracks_interval(v.type):
        e = clamp_into(e, v.lo, v.hi)
    kept = keep_unread(sc, v)
    v.unread = True
    # `x = 10.0` would make x a constant again, and a later dynamic loop could not mutate it (a fuzz report)
    return [*kept, B.assign(B.name(v.name), dynamic(e, sc).node)]


def aug_assign(draw, sc: Scope) -> cst.BaseStatement | None:
    """``v += e`` / ``-=`` / ``*=`` on an assignable local: ints only ``+=``/``-=``, an interval-tracked int within
    its growth budget (no overflow, even in loops: the cost is scaled by the trip count), no float ``*=`` in a
    gradient-directed kernel (no correct adjoint in Warp). None when nothing is assignable or the budget is
    spent. Shrinks toward ``+=`` of a leaf."""
    targets = [v for v in sc.vars if v.assignable and v.type != BOOL]
    if not targets:
        return None
    v = choose(draw, targets)
    ops = [o for o in ("+", "-", "*") if has_binop(o, v.type)]
    if isinstance(v.type, Scalar) and v.type.is_int or sc.directed and float_valued(v.type):
        ops = [o for o in ops if o != "*"]  # a float `*=` has no correct adjoint in Warp (inplace-mul-div)
    if not ops:
        return None
    op = choose(draw, ops)
    v.uniform = False
    e = expression(draw, sc, v.type, _depth(draw, sc))
    if op == "-" and e.node.deep_equals(B.name(v.name)):
        op = "+"  # `x -= x` is zero whatever x held: the value it had would reach no output
    if tracks_interval(v.type):
        cost = e.mag * sc.trip
        if cost > v.slack - v.slack_used:
            return None
        v.slack_used += cost
    return B.aug_assign(B.name(v.name), op, e.node)


def component_write(draw, sc: Scope) -> cst.BaseStatement | None:
    """``v[k] = x`` on a local vector-like composite, ``m[i, j] = x`` on a local matrix."""
    targets = [v for v in sc.vars if v.assignable and isinstance(v.type, Composite)]
    if not targets:
        return None
    v = choose(draw, targets)
    v.uniform = False
    part = _component(draw, B.name(v.name), v.type)
    x = expression(draw, sc, v.type.scalar, _depth(draw, sc))
    kept = keep_unread(sc, v)  # the component it overwrites
    v.unread = True
    return [*kept, B.assign(part, x.node)]


def _component(draw, base: cst.BaseExpression, t: Composite) -> cst.BaseAssignTargetExpression:
    """A component of ``base``: ``v[k]``, ``m[i, j]``, or by name ``v.y`` (vectors up to 4, quaternions)."""
    ks = [draw(st.integers(0, n - 1)) for n in t.shape]
    if by_name(t, ks[0]) and draw(st.booleans()):
        return B.attribute(base, COMPONENT_NAMES[ks[0]])
    return B.subscript(base, *[B.int_lit(k) for k in ks])


def atomic(draw, sc: Scope) -> cst.BaseStatement:
    """``wp.atomic_<op>(acc, index, e)`` on a shared accumulator: an order-independent update (add, sub,
    min, max; and, or, xor on ints), one commuting class per accumulator (see ``ATOMIC_CLASSES``). Int values are bounded by ``atomic_int_bound``; bitwise updates keep
    the element within the power-of-two envelope the adds built, so the int32 total cannot overflow."""
    from grammar.ops import ATOMIC_CLASSES, ATOMICS, OWN_SLOT_ATOMICS

    arr = choose(draw, sc.atomics)
    allowed = sc.atomic_class.get(arr.name)  # fixed by the first atomic on this accumulator
    rows = [op for op in ATOMICS if op.name not in OWN_SLOT_ATOMICS and (allowed is None or op.name in allowed)
            and any(s.args[0] == arr.dtype for s in op.signatures)]
    if sc.directed:  # a gradient-directed kernel: additive atomics (min/max have no adjoint at ties)
        rows = [op for op in rows if op.name in ATOMIC_CLASSES[0]] or rows
    op = spread_choice(draw, rows)
    sc.atomic_class[arr.name] = next(c for c in ATOMIC_CLASSES if op.name in c)
    fn = op.spelling
    idx = element_index(draw, sc, 1)
    e = expression(draw, sc, arr.dtype, _depth(draw, sc))
    if tracks_interval(arr.dtype) and e.mag > sc.policy.atomic_int_bound:
        e = wrap(e, sc.policy.int_wrap_modulus)
    sc.n_atomic_stmts += 1
    return B.expr_stmt(B.call(fn, B.name(arr.name), *[i.node for i in idx], e.node))


def if_stmt(draw, sc: Scope) -> list[cst.BaseStatement]:
    """if/elif/else, preceded by the locals that hold its tests' computed operands (:func:`hoist_test`); one
    test in eight (``Policy.static_if_weights``) is ``wp.static(...)``. Warp drops the branch such a test does
    not take at code generation, so that branch is empty: a true one has no ``elif``/``else``, a false one the
    body ``pass`` (then its ``elif``/``else`` chain as usual)."""
    static = choose(draw, [False, True], list(sc.policy.static_if_weights))
    hoisted: list[cst.BaseStatement] = []
    test = static_bool(draw) if static else hoist_test(draw, sc, branch_test(draw, sc, _depth(draw, sc)), hoisted)
    sc.if_depth += 1
    try:
        if static and test.lo:
            return [B.if_(test.node, block(draw, sc, 3))]
        body = [] if static else _pinned_block(draw, sc, test.node)
        n_elif = draw(st.integers(0, sc.policy.max_elifs))
        has_else = draw(st.booleans())
        # the branches are drawn in source order (elif tests and bodies first, the else last), so that what a
        # branch stores is known to the branches after it: in a loop, an earlier iteration may take any branch
        # (strategies.statements.store never overwrites an output slot a statement before it stored to)
        elifs = []
        for _ in range(n_elif):
            # hoisted before the whole `if`: an elif test runs only when the tests before it failed, and then no
            # branch body has run, so its operands hold the same values there
            cond = hoist_test(draw, sc, branch_test(draw, sc, _depth(draw, sc)), hoisted)
            elifs.append((cond.node, _pinned_block(draw, sc, cond.node)))
        orelse: cst.If | cst.Else | None = B.else_(block(draw, sc, 3)) if has_else else None
        for cond_node, elif_body in reversed(elifs):
            orelse = B.if_(cond_node, elif_body, orelse)
    finally:
        sc.if_depth -= 1
    return [*hoisted, B.if_(test.node, body, orelse)]


def _pinned_block(draw, sc: Scope, test: cst.BaseExpression) -> list[cst.BaseStatement]:
    """The body of an ``if``/``elif`` whose test is ``test``; a bare-name test is pinned (``Scope.pinned``)."""
    name = test.value if isinstance(test, cst.Name) else None
    added = name is not None and name not in sc.pinned
    if added:
        sc.pinned.add(name)
    try:
        return block(draw, sc, 3)
    finally:
        if added:
            sc.pinned.discard(name)


def _is_leaf(node: cst.BaseExpression) -> bool:
    """A name, a literal, or a load/component at constant or plain-name indices (``a0[tid]``, ``v.x``)."""
    while isinstance(node, (cst.Subscript, cst.Attribute)):
        if isinstance(node, cst.Subscript) and not all(
                isinstance(e.slice.value, (cst.Name, cst.Integer)) for e in node.slice):
            return False
        node = node.value
    return isinstance(node, (cst.Name, cst.Integer, cst.Float)) or (
        isinstance(node, cst.UnaryOperation) and isinstance(node.expression, (cst.Integer, cst.Float)))


def hoist_test(draw, sc: Scope, test: Expr, hoisted: list) -> Expr:
    """``test`` with, with odds ``policy.hoist_test_odds`` : 1, each computed operand of its comparison (or
    the whole test when it is not a comparison) first held in a fresh local, whose declaration is appended
    to ``hoisted``: the local is sunk when it goes out of scope (in a helper's nested block: folded into a
    carry), so the operand's computation reaches an output whichever way the test goes. Leaves stay inline;
    nothing is hoisted at a helper's top level (it returns only the top-level locals nothing reads), nor in a
    loop Warp does not unroll (a ``while`` loop, a ``for`` loop over a parameter): a float local assigned
    there from what the loop changes is left out of the gradient check, and a branch on it leaves out the
    whole kernel (:mod:`harness.oracle.gradient_limits`). Shrinks toward no hoisting."""
    if not sc.policy.hoist_test_odds or sc.in_func and sc.block_depth < 2 or sc.dynamic_loops or not choose(
            draw, [False, True], [1, sc.policy.hoist_test_odds]):
        return test  # a helper returns only the top-level locals nothing reads: a hoisted one would be lost
    node = test.node
    if test.operands:  # a comparison of two operands: each computed one held in a local
        sides = []
        for e in test.operands:
            if _is_leaf(e.node):
                sides.append(e.node)
                continue
            # dynamic(): `i8 = len(v)` is a Warp constant, which a dynamic loop may not assign (a fuzz report)
            stmt = declare_value(draw, sc, dynamic(e, sc))
            hoisted.append(stmt)
            sides.append(stmt.body[0].targets[0].target)
        return Expr(node.with_changes(left=sides[0], comparisons=(node.comparisons[0].with_changes(
            comparator=sides[1]),)), BOOL)
    if _is_leaf(node):
        return test
    stmt = declare_value(draw, sc, dynamic(test, sc))
    hoisted.append(stmt)
    return Expr(stmt.body[0].targets[0].target, BOOL)


def _loop_body(draw, sc: Scope, var: Var, trip: int, prefix: list | None = None, dynamic_loop: bool = False) -> list:
    """The body of a loop over ``var`` (``dynamic_loop``: one Warp does not unroll, see :func:`hoist_test`)."""
    sc.dynamic_loops += dynamic_loop
    try:
        return _loop_block(draw, sc, var, trip, prefix)
    finally:
        sc.dynamic_loops -= dynamic_loop


def _loop_block(draw, sc: Scope, var: Var, trip: int, prefix: list | None) -> list:
    sc.push(nests=False)
    sc.declare(var)
    saved_trip = sc.trip
    sc.trip *= max(trip, 1)
    sc.loop_depth += 1
    sc.loop_marks.append(len(sc.vars))
    try:
        return (prefix or []) + block(draw, sc, 3)
    finally:
        sc.loop_marks.pop()
        sc.loop_depth -= 1
        sc.trip = saved_trip
        sc.pop()


def for_stmt(draw, sc: Scope) -> cst.BaseStatement:
    """``for j in range(...)``: a constant bound, ``range(start, start + k)``, an int parameter (a loop Warp does
    not unroll; not in gradient-directed kernels) or ``range(wp.static(...))`` (``Policy.loop_kind_weights``).
    The trip count keeps the product of enclosing trips within ``Policy.max_trip_product``; the loop variable's
    interval is known to the body. Shrinks toward ``range(1)`` with a short body."""
    p = sc.policy
    room = max(1, min(p.max_const_trip, p.max_trip_product // sc.trip))
    int_params = [v for v in sc.vars if v.kind == "param" and v.type == INT32 and v.hi * sc.trip <= p.max_trip_product]
    kinds = ["const", "range2"] + (["param"] if int_params and not sc.directed else []) + ["static"]
    runtime, static = p.loop_kind_weights
    kind = choose(draw, kinds, [runtime] * (len(kinds) - 1) + [static])
    if kind == "const":
        k = draw(st.integers(1, room))
        bounds, lo, hi, trip = [B.int_lit(k)], 0, k - 1, k
    elif kind == "static":  # range(wp.static(...)): a trip count computed at code-generation time
        bound = static_int(draw, 1, room)
        bounds, lo, hi, trip = [bound.node], 0, bound.hi - 1, bound.hi
    elif kind == "range2":
        start = draw(st.integers(0, p.max_range_start))
        k = draw(st.integers(1, room))
        bounds, lo, hi, trip = [B.int_lit(start), B.int_lit(start + k)], start, start + k - 1, k
    else:
        n = choose(draw, int_params)
        bounds, lo, hi, trip = [B.name(n.name)], 0, max(n.hi - 1, 0), max(n.hi, 0)
    name = sc.fresh("j")
    body = _loop_body(draw, sc, Var(name, INT32, "loop", lo, hi), trip, dynamic_loop=kind == "param")
    return B.for_range(name, bounds, body)


def while_stmt(draw, sc: Scope) -> list[cst.BaseStatement]:
    """``w = 0; while w < k: w = w + 1; ...``: the counter is bumped first, so ``continue`` is safe."""
    p = sc.policy
    room = max(1, min(p.max_const_trip, p.max_trip_product // sc.trip))
    k = draw(st.integers(1, room))
    name = sc.fresh("w")
    bump = B.assign(B.name(name), B.binop(B.name(name), "+", B.int_lit(1)))
    body = _loop_body(draw, sc, Var(name, INT32, "loop", 1, k), k, [bump], dynamic_loop=True)
    loop = cst.While(test=B.compare(B.name(name), "<", B.int_lit(k)), body=B.block(body))
    return [B.assign(B.name(name), B.call("wp.int32", B.int_lit(0))), loop]


def _guarded_jump(draw, sc: Scope, jump: cst.BaseSmallStatement) -> list[cst.BaseStatement]:
    """``if test: <jump>``, the jump preceded by a sink store of each local that the jump leaves
    before its block's own sinks and that nothing has read (:func:`keep_unread`): every local in scope for
    a ``return``, those of the innermost loop's body for ``break``/``continue``. A thread that jumps would
    otherwise take their values nowhere."""
    hoisted: list[cst.BaseStatement] = []
    test = hoist_test(draw, sc, branch_test(draw, sc, _depth(draw, sc)), hoisted)
    start = 0 if isinstance(jump, cst.Return) else sc.loop_marks[-1]
    kept = sink_statements(sc, [v for v in sc.vars[start:] if v.kind == "local" and v.unread])
    return [*hoisted, B.if_(test.node, [*kept, cst.SimpleStatementLine((jump,))])]


def break_stmt(draw, sc: Scope) -> cst.BaseStatement:
    """``if test: break`` inside a loop (:func:`_guarded_jump`: the locals it would drop are sunk first)."""
    return _guarded_jump(draw, sc, cst.Break())


def continue_stmt(draw, sc: Scope) -> cst.BaseStatement:
    """``if test: continue`` inside a loop (:func:`_guarded_jump`)."""
    return _guarded_jump(draw, sc, cst.Continue())


def return_stmt(draw, sc: Scope) -> cst.BaseStatement:
    """``if test: return`` (:func:`_guarded_jump`: every unread local in scope is sunk before it)."""
    return _guarded_jump(draw, sc, cst.Return())


def unpack(draw, sc: Scope) -> cst.BaseStatement | None:
    """``a, b = f(...)``: declare the results of a @wp.func with several return values."""
    funcs = [f for f in sc.funcs if len(f.returns) > 1]
    if not funcs:
        return None
    f = choose(draw, funcs)
    args = call_args(draw, sc, f, _depth(draw, sc))
    names = []
    for t, (lo, hi) in zip(f.returns, f.intervals):
        name = sc.fresh(name_prefix(t))
        sc.declare(Var(name, t, "local", lo, hi) if tracks_interval(t) else Var(name, t, "local"))
        names.append(name)
    return B.assign(B.names_tuple(names), B.call(f.name, *args))


def statement_rows(sc: Scope) -> list:
    """(row, signature) pairs of the builtins generated as statements (output arguments, tuple results,
    in-place updates) whose types this kernel uses, in table order."""
    return _statement_rows(sc.palette)


@lru_cache(maxsize=256)
def _statement_rows(palette: frozenset) -> list:
    from grammar.ops import OPS

    lits = literal_types()
    allowed = (lambda t: True) if not palette else (lambda t: t in palette or t in (BOOL, INT32))
    return [(op, s) for op in OPS if op.outputs or op.inplace for s in op.signatures
            if all(a in lits and allowed(a) for a in s.args)]


def _zero(t) -> cst.BaseExpression:
    """A fresh value of type ``t`` to pass as an output argument: the zero constructor
    (``wp.vector(length=3, dtype=wp.float32)``) of a composite, ``wp.float32(0.0)`` of a scalar."""
    from grammar.ops import OPS

    if isinstance(t, Scalar):
        e = typed_float(0.0, t) if t.is_float else typed_int(0, t)
        return dynamic(e).node
    op, sig = next((op, s) for op in OPS for s in op.signatures if s.args == () and s.result == t)
    return render_op(op, [], sig)


def builtin_statement(draw, sc: Scope) -> list[cst.BaseStatement] | None:
    """A builtin that returns through its arguments or as a tuple:

    * ``U = wp.matrix(shape=(3, 3), ...); s = ...; V = ...; wp.svd3(A, U, s, V)`` (fresh output locals);
    * ``p, q, s = wp.transform_decompose(m)``;
    * ``wp.transform_set_translation(x, p)`` on an assignable local ``x`` (declared first when none exists).
    Focus rows are favoured like in expressions."""
    rows = [(op, s) for op, s in statement_rows(sc) if not (sc.directed and op.inplace)]  # (component writes)
    if not rows:
        return None
    by_row: dict[str, list] = {}
    for op, sig in rows:
        by_row.setdefault(op.name, []).append((op, sig))
    names = list(by_row)
    name = choose(draw, names, [sc.policy.focus_weight if n in sc.focus else 1 for n in names])
    return call_statement(draw, sc, *choose(draw, by_row[name]))


def call_statement(draw, sc: Scope, op, sig) -> list[cst.BaseStatement]:
    """One use of ``op`` with signature ``sig`` as statements: a builtin statement (see
    :func:`builtin_statement`) or, for an expression row, a new local ``x = op(...)``."""
    depth = max(_depth(draw, sc), 1)
    if not (op.outputs or op.inplace):
        return [declare_value(draw, sc, dynamic(apply_op(draw, sc, op, sig, depth), sc))]
    out: list[cst.BaseStatement] = []
    if op.inplace:
        t = sig.args[0]
        targets = sc.of_type(t, assignable=True)
        if targets and draw(st.booleans()):
            chosen = choose(draw, targets)
            chosen.uniform = False
            target = chosen.name
        else:
            target = sc.fresh(name_prefix(t))
            out.append(B.assign(B.name(target), expression(draw, sc, t, depth).node))
            sc.declare(Var(target, t, "local"))
        with live(sc):
            rest = [guarded(draw, sc, a, op.domain(i + 1, sig), depth).node for i, a in enumerate(sig.args[1:])]
        return out + [B.expr_stmt(B.call(op.spelling, B.name(target), *rest))]
    inputs, results = sig.args[: -op.outputs], sig.args[-op.outputs:]
    arg_exprs = [guarded(draw, sc, a, op.domain(i, sig), depth) for i, a in enumerate(inputs)]
    enliven(draw, sc, op, inputs, arg_exprs, depth)
    args = [e.node for e in arg_exprs]
    names_out = [sc.fresh(name_prefix(t)) for t in results]
    if op.returns_tuple:
        out.append(B.assign(B.names_tuple(names_out), B.call(op.spelling, *args)))
    else:
        out += [B.assign(B.name(n), _zero(t)) for n, t in zip(names_out, results)]
        out.append(B.expr_stmt(B.call(op.spelling, *args, *[B.name(n) for n in names_out])))
    for n, t in zip(names_out, results):
        sc.declare(Var(n, t, "local"))
    return out


def _struct_declare(draw, sc: Scope):
    return struct_declare(draw, sc)


def _field_write(draw, sc: Scope):
    return field_write(draw, sc)


_STATEMENTS = {
    "struct": _struct_declare,
    "field": _field_write,
    "builtin": builtin_statement,
    "unpack": unpack,
    "declare": declare,
    "store": store,
    "assign": assign,
    "augassign": aug_assign,
    "component": component_write,
    "atomic": atomic,
    "if": if_stmt,
    "for": for_stmt,
    "while": while_stmt,
    "break": break_stmt,
    "continue": continue_stmt,
    "return": return_stmt,
}
