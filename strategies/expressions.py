"""Type-driven expression generation: ``expression(draw, scope, t, depth)`` returns an :class:`Expr` of type ``t``.

What is generated: a libcst expression of Warp type ``t`` built from the operator table
(:data:`grammar.ops.OPS`) over the variables in scope, input-array loads, scalar parameters and literals.
Literals of every type are built from the table too: ``wp.float16(1.5)`` is the float16 cast row applied
to a float literal, ``wp.vec3h(...)`` a constructor row over literals of its components - so the set of
types the generator can use (:data:`LITERAL_TYPES`) grows with the table.

Guarantees: well typed (only table signatures are used); every argument lies in its operator's domain
(see :mod:`strategies.guards`); int expressions of types whose overflow is undefined (int32, int64) carry
a sound interval within the policy's limit, so no signed overflow and no division by zero; array indices
lie inside the array.

Shrinking: at every node the alternatives are ordered simplest first (literal, variable, load, then
operators in table order) and depth shrinks toward 0, so failing expressions shrink toward a single
leaf or a single operator over leaves.
"""

from __future__ import annotations

from functools import lru_cache

import hypothesis.strategies as st
import libcst as cst

from grammar import ops as OPS
from grammar.ops import Op, Signature
from grammar.types import BOOL, COMPONENT_NAMES, FLOAT32, INT32, Composite, Scalar, ValueType, float_valued

from . import _cst as B
from .core import (Expr, FLOAT_LITERALS, cast_node, cast_row, choose, conversion_row, int_limit, is_constant,
                   tracks_interval, typed_float, typed_int)
from .registry import P
from .scope import Scope
from .static import static_leaf


# ---- what the table lets us build -------------------------------------------------------------------------------


def _constructor(t: Composite) -> tuple[Op, Signature] | None:
    """The simplest constructor row building ``t`` from literal-able arguments (all-scalar preferred)."""
    best = None
    for op in OPS.OPS:
        if op.syntax != "construct":
            continue
        for s in op.signatures:
            if s.result != t or s.keywords or op.outputs or any(a == t for a in s.args):
                continue
            key = (not all(isinstance(a, Scalar) for a in s.args), len(s.args))
            if best is None or key < best[0]:
                best = (key, op, s)
    return (best[1], best[2]) if best else None


@lru_cache(maxsize=1)
def literal_types() -> frozenset:
    """Every type with a literal form: float32/int32/bool, casts of those, constructors over literal types."""
    known = {FLOAT32, INT32, BOOL}
    from grammar.types import BY_NAME

    changed = True
    while changed:
        changed = False
        for t in BY_NAME.values():
            if t in known:
                continue
            if isinstance(t, Scalar) and cast_row(t) is not None:
                known.add(t)
                changed = True
            elif isinstance(t, Composite):
                c = _constructor(t)
                if c is not None and all(a in known for a in c[1].args):
                    known.add(t)
                    changed = True
    return frozenset(known)


@P.register
@lru_cache(maxsize=None)
def usable_ops(t: ValueType) -> tuple[tuple[Op, Signature], ...]:
    """(row, signature) pairs producing ``t`` whose argument types all have literals (table order)."""
    lits = literal_types()
    out = []
    for op, s in OPS.ops_returning(t):
        if op.outputs or s.keywords and any(a not in lits for a in s.args):
            continue
        if all(a in lits for a in s.args) and (not tracks_interval(t) or op.interval is not None
                                              or _is_cast(op, t)):
            out.append((op, s))
    return tuple(out)


def _is_cast(op: Op, t: ValueType) -> bool:
    """``op`` converts its argument into ``t`` (``wp.int32(x)``, or the Python-spelled ``int(x)``)."""
    return op.spelling == getattr(t, "warp_name", None) or op.family == "cast" and any(
        s.result == t for s in op.signatures)


# ---- leaves -------------------------------------------------------------------------------------------------


def int_literal(draw, sc: Scope, lo: int | None = None, hi: int | None = None, t: Scalar = INT32) -> Expr:
    """An int literal of type ``t`` in [lo, hi] (default +-``Policy.int_const_max``) and in ``t``'s range, cast
    through ``t``'s row unless int32; its interval is the value. Shrinks toward 0 (or the bound nearest it)."""
    m = sc.policy.int_const_max
    lo = max(-m if lo is None else lo, t.min)
    hi = min(m if hi is None else hi, t.max)
    v = draw(st.integers(lo, hi))
    node = B.int_lit(v) if t == INT32 else cast_node(t, B.int_lit(v))
    return Expr(node, t, v, v, True)


def float_literal(draw, sc: Scope, t: Scalar = FLOAT32) -> Expr:
    """A float literal of type ``t`` from :data:`FLOAT_LITERALS` (exact in every float width). Shrinks toward 0.0."""
    v = draw(st.sampled_from(FLOAT_LITERALS))
    return typed_float(v, t)


def literal(draw, sc: Scope, t: ValueType) -> Expr:
    """A constant of any literal type: bool, int, float, or a composite built by its simplest constructor from
    literals of its argument types. Shrinks toward False / 0 / 0.0 components."""
    if t == BOOL:
        v = draw(st.booleans())
        return Expr(B.bool_lit(v), BOOL, is_literal=True)
    if isinstance(t, Scalar):
        return float_literal(draw, sc, t) if t.is_float else int_literal(draw, sc, t=t)
    return constructed(t, lambda a: literal(draw, sc, a))


def constructed(t: Composite, part) -> Expr:
    """A constant ``t`` built by its simplest constructor (:func:`_constructor`) from ``part(arg_type)`` Exprs."""
    op, s = _constructor(t)
    return Expr(B.call(op.spelling, *[part(a).node for a in s.args]), t, is_literal=True)


def var_expr(v) -> Expr:
    """A read of variable ``v`` (marked read, so it needs no sink), carrying its interval when it has one."""
    v.unread = False
    lo, hi = v.interval if tracks_interval(v.type) else (0, 0)
    return Expr(B.name(v.name), v.type, lo, hi)


def index_expr(draw, sc: Scope, depth: int, n: int | None = None, tid=None) -> Expr:
    """An int32 expression whose value is always in [0, n) (default: the launch size ``policy.dim``)."""
    n = n or sc.dims[0]
    tid = tid or sc.tid()
    kind = draw(st.integers(0, 3))
    if kind == 0 and tid.hi < n:
        return var_expr(tid)
    if kind <= 1:
        return int_literal(draw, sc, 0, n - 1)
    e = expression(draw, sc, INT32, max(depth - 1, 0))
    if 0 <= e.lo and e.hi < n:
        return e
    if kind == 2:  # (|e| % n): abs is safe, |e| <= int_limit
        return Expr(B.binop(B.call("wp.abs", e.node), "%", B.int_lit(n)), INT32, 0, n - 1)
    return Expr(B.call("wp.clamp", e.node, B.int_lit(0), B.int_lit(n - 1)), INT32, 0, n - 1)


def element_index(draw, sc: Scope, depth: int) -> list[Expr]:
    """One in-bounds index expression per array dimension of the launch."""
    return [index_expr(draw, sc, depth, n, sc.tid(k)) for k, n in enumerate(sc.dims)]


def load(draw, sc: Scope, t: ValueType, depth: int) -> Expr | None:
    """``a[idx]`` of an input array of element type ``t`` at an in-bounds index (:func:`element_index`); an int
    load's interval is the policy's input range. None when no input has type ``t``. Shrinks toward ``a[tid]``."""
    arrays = [a for a in sc.inputs if a.dtype == t]
    if not arrays:
        return None
    a = choose(draw, arrays)
    idx = element_index(draw, sc, depth)
    lo, hi = (sc.policy.int_input_range if tracks_interval(t) else (0, 0))
    return Expr(B.subscript(B.name(a.name), *[i.node for i in idx]), t, lo, hi)


def nonliteral_leaf(draw, sc: Scope, t: ValueType, depth: int) -> Expr | None:
    """A variable or an input load of type ``t``, or None when there is none."""
    options = (["var"] if sc.of_type(t) else []) + (["load"] if any(a.dtype == t for a in sc.inputs) else [])
    if not options:
        return None
    if choose(draw, options) == "var":
        return var_expr(choose(draw, _data_vars(sc, t)))
    return load(draw, sc, t, depth)


def _data_vars(sc: Scope, t: ValueType) -> list:
    """The variables of type ``t``; in live mode those that are not a thread or loop index when there are
    some (an index is data, but the same for every input draw)."""
    vs = sc.of_type(t)
    if sc.live:
        return [v for v in vs if v.kind not in ("tid", "loop")] or vs
    return vs


class live:
    """``with live(sc):`` the expressions drawn inside prefer the kernel's data: leaves are variables, loads,
    comparisons or field reads whenever one exists (no literal, no ``wp.static``), and domain guards wrap a
    drawn expression instead of giving a literal. For operands that must carry data (the last operand of an
    operator over literals, ``if`` tests, final output values)."""

    def __init__(self, sc: Scope):
        self.sc = sc

    def __enter__(self):
        self.sc.live += 1

    def __exit__(self, *exc):
        self.sc.live -= 1


def converted_leaf(draw, sc: Scope, t: ValueType) -> Expr | None:
    """An expression of type ``t`` built from the kernel's data when no variable or load of ``t`` exists:
    a component of a composite variable or load (``a0[tid].y``), a cast of a data leaf of another scalar
    type (float32 first: ``wp.float16(a0[tid])``), or the simplest constructor of ``t`` with its first
    component from the data and each further one from the data with odds 1 : 1 (else a literal). None
    when the table has no such route (at most three conversions deep)."""
    if sc.converting >= 3 or t == BOOL or getattr(t, "kind", None) == "struct":
        return None
    sc.converting += 1
    try:
        if isinstance(t, Scalar):
            # a component of a composite variable or load (``a0[tid].y``), else a conversion from float32
            # data, from any other scalar with data, else a component of a matrix's row (``m[1][2]``), else a
            # conversion from an int32 (tid always is one; in a helper it may be a literal)
            parts = [(op, s) for op, s in _component_rows(t) if _has_data(sc, s.args[0])]
            if parts:
                op, s = choose(draw, parts)
                with live(sc):
                    return apply_op(draw, sc, op, s, 1)
            held = [v.type for v in sc.vars] + [a.dtype for a in sc.inputs]
            scalars = sorted({x for x in held} | {getattr(x, "scalar", None) for x in held},
                             key=lambda x: getattr(x, "name", ""))
            sources = [x for x in (FLOAT32, *scalars, INT32) if isinstance(x, Scalar) and x not in (t, BOOL) and (
                _has_data(sc, x) or any(_has_data(sc, s.args[0]) for _, s in _component_rows(x)))]
            rows = [r for r in (conversion_row(t, x) for x in dict.fromkeys(sources)) if r is not None]
            rows = rows or _row_components(sc, t) or [r for r in [conversion_row(t, INT32)] if r is not None]
            if rows:
                op, s = rows[0] if rows[0][0].syntax != "index" else choose(draw, rows)
                with live(sc):
                    return apply_op(draw, sc, op, s, 1)
            return None
        row = _constructor(t) if isinstance(t, Composite) else None
        if row is None or not row[1].args:
            return None
        op, sig = row
        with live(sc):
            first = nonliteral_leaf(draw, sc, sig.args[0], 0) or converted_leaf(draw, sc, sig.args[0])
        if first is None:
            rows = _row_components(sc, t) or [(op, s) for op, s in _component_rows(t) if _has_data(sc, s.args[0])]
            if not rows:  # a matrix's row (``m[1]``): a vector from the data
                return None
            op, s = choose(draw, rows)
            with live(sc):
                return apply_op(draw, sc, op, s, 1)
        parts = [first.node]
        for a in sig.args[1:]:  # each further component from the data with odds 1 : 1 (shrinks to a literal)
            data = None
            if draw(st.booleans()):
                with live(sc):
                    data = nonliteral_leaf(draw, sc, a, 0) or converted_leaf(draw, sc, a)
            parts.append((data or literal(draw, sc, a)).node)
        return Expr(B.call(op.spelling, *parts), t)
    finally:
        sc.converting -= 1


def _has_data(sc: Scope, t: ValueType) -> bool:
    """A variable or an input array of type ``t`` exists."""
    return bool(sc.of_type(t)) or any(a.dtype == t for a in sc.inputs)


def _row_components(sc: Scope, t: ValueType) -> list[tuple[Op, Signature]]:
    """The component rows giving ``t`` from a composite that is itself a component of data the kernel holds
    (a matrix ``m`` gives the row ``m[i]``, whose component is ``t``)."""
    return [(op, s) for op, s in _component_rows(t)
            if any(_has_data(sc, s2.args[0]) for _, s2 in _component_rows(s.args[0]))]


@lru_cache(maxsize=None)
def _component_rows(t: ValueType) -> tuple[tuple[Op, Signature], ...]:
    """The component rows (``v[k]``, ``m[i]``) whose result is ``t``."""
    return tuple((op, s) for op in OPS.OPS if op.syntax == "index" for s in op.signatures
                 if s.result == t and isinstance(s.args[0], Composite))


def leaf(draw, sc: Scope, t: ValueType, depth: int) -> Expr:
    """An expression of type ``t`` without an operator of the table at its top: a literal, a variable, an input
    load, a comparison (bools), a struct field read, a ``wp.static`` constant, or a conversion/constructor over
    data when no variable or load of ``t`` exists. Data leaves outweigh literals (in live mode only data), so
    computations read the inputs; literals stay first, so shrinking goes to a constant."""
    options = ["literal"]
    if sc.of_type(t):
        options.append("var")
    if any(a.dtype == t for a in sc.inputs):
        options.append("load")
    if t == BOOL:
        options.append("compare")
    weights = [4] * len(options)
    if sc.structs and P.has_field_reads(sc, t):
        options.append("field")
        weights.append(4)
    if t in (INT32, FLOAT32, BOOL):  # a compile-time constant wp.static(...), rarely
        options.append("static")
        weights.append(1)
    data = [o for o in options if o not in ("literal", "static")]
    if not data and (sc.live or t not in (INT32, FLOAT32, BOOL) and draw(st.integers(0, 3))):
        # no variable or load of t: a conversion or constructor over the data (always in live mode, else
        # with odds 3 : 1 against a literal, which stays the simplest choice)
        converted = converted_leaf(draw, sc, t)
        if converted is not None:
            return converted
    if data and sc.live:
        options, weights = data, [4] * len(data)
    elif data:  # literals stay the simplest choice (shrinking goes there) but data leaves dominate; a
        weights[0] = 1 if isinstance(t, Composite) else 2  # composite literal is all constants: rarer
    kind = choose(draw, options, weights)
    if kind == "static":
        m = sc.policy.int_const_max
        return static_leaf(draw, t, -m, m)
    if kind == "literal":
        return literal(draw, sc, t)
    if kind == "var":
        return var_expr(choose(draw, _data_vars(sc, t)))
    if kind == "load":
        return load(draw, sc, t, depth)
    if kind == "field":
        return P.field_read(draw, sc, t, depth)
    ct = choose(draw, [FLOAT32, INT32])
    op_name = choose(draw, ["<", "<=", ">", ">="])
    left = nonliteral_leaf(draw, sc, ct, 0) or leaf(draw, sc, ct, 0)
    right = (draw(st.integers(0, 2)) and nonliteral_leaf(draw, sc, ct, 0)) or leaf(draw, sc, ct, 0)
    right = splitting(draw, left, independent(draw, sc, ct, left, right))
    return Expr(B.compare(left.node, op_name, right.node), BOOL)


def splitting(draw, left: Expr, right: Expr) -> Expr:
    """``right`` as the second operand of a comparison with ``left``, or a literal that splits the values of
    ``left`` better, since a comparison that always holds or always fails leaves a branch (or a ``wp.where``
    arm) dead:

    * an int constant outside the interval of ``left`` (``tid < 0`` never holds) becomes a constant in the
      middle half of that interval (the ends of a sound interval are rarely reached);
    * an int constant beyond +-3 compared with a value of a wide interval (wider than 64: a float converted
      to int, an int input) becomes one in [-3, 3]: such values cluster around zero (floats come in [-4, 4]);
    * a float constant beyond +-2 (``x > 10.0``) becomes one of 0, 0.5, -0.5, 1, -1 (float inputs are in
      [-4, 4], float parameters in [-2, 2]).

    Shrinks toward the middle of the interval, toward zero."""
    t = left.type
    if not right.is_literal or right.type != t or not isinstance(t, Scalar):
        return right
    if tracks_interval(t):
        if left.lo < left.hi and not (left.lo < right.lo <= left.hi):
            mid, quarter = (left.lo + left.hi + 1) // 2, (left.hi - left.lo) // 4
            return typed_int(min(max(mid + draw(st.integers(-quarter, quarter)), left.lo + 1), left.hi), t)
        if left.hi - left.lo > 64 and abs(right.lo) > 3:
            lo, hi = max(-3, left.lo + 1, t.min), min(3, left.hi, t.max)
            if lo <= hi:
                return typed_int(draw(st.integers(lo, hi)), t)
        return right
    if t.is_float and abs(_float_value(right.node)) > 2.0:
        return typed_float(draw(st.sampled_from(SPLITTING_FLOATS)), t)
    return right


#: the float constants a comparison with a data value gets (:func:`splitting`)
SPLITTING_FLOATS = (0.0, 0.5, -0.5, 1.0, -1.0)


def _float_value(node: cst.BaseExpression) -> float:
    """The value of a float literal node (``2.0``, ``(-3.5)``, ``wp.float16(4.0)``); 0.0 when not one."""
    sign = 1.0
    while True:
        if isinstance(node, cst.Call) and len(node.args) == 1:
            node = node.args[0].value
        elif isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            sign, node = -sign, node.expression
        elif isinstance(node, (cst.Float, cst.Integer)):
            return sign * float(node.value)
        else:
            return 0.0


def independent(draw, sc: Scope, t: ValueType, left: Expr, right: Expr) -> Expr:
    """``right`` as the second operand of a comparison with ``left``, or, when the two read a common piece of
    data (:func:`strategies._cst.shares_data`: ``x / (abs(x) + 0.5) >= x``, ``tid > +tid``, ``p2[1] <= p2.y``)
    or are the same constant, another leaf of type ``t`` (a variable or load reading other data, else a
    literal): a relation of one value with itself mostly holds always or never, leaving a branch dead.
    Shrinks toward the first variable of that type."""
    for _ in range(2):
        if not _related(left, right):
            return right
        right = nonliteral_leaf(draw, sc, t, 0) or literal(draw, sc, t)
    return literal(draw, sc, t) if _related(left, right) else right


def _related(left: Expr, right: Expr) -> bool:
    return right.node.deep_equals(left.node) or B.shares_data(left.node, right.node)


#: spellings of the predicates with one result on finite data (Op.fixed_on_finite: ``wp.isnan(x)``); a test
#: calling one is drawn again as a comparison of data
_FIXED_ON_FINITE = frozenset(op.spelling for op in OPS.OPS if op.fixed_on_finite)


def _fixed_relation(node: cst.BaseExpression) -> bool:
    """A comparison whose operands read common data (see :func:`independent`)."""
    return (isinstance(node, cst.Comparison) and len(node.comparisons) == 1
            and B.shares_data(node.left, node.comparisons[0].comparator))


def lane_uniform(sc: Scope, *exprs: Expr) -> bool:
    """Whether the expressions take one value in every thread of a launch: in a kernel body, they refer to no
    thread index, loop counter or local other than a :attr:`~strategies.scope.Var.uniform` one (scalar and
    struct parameters, literals and loads at constant indices are the same for every thread). A branch on such
    a test runs in all threads or in none, so one of its bodies is dead for a whole launch. False in a helper
    (its parameters may vary)."""
    if sc.in_func:
        return False
    varying = {v.name for v in sc.vars if v.kind in ("tid", "loop") or v.kind == "local" and not v.uniform}
    return not (varying & B.names_in(*(e.node for e in exprs)))


def lane_leaf(draw, sc: Scope, t: ValueType) -> Expr | None:
    """A leaf of type ``t`` that differs between threads: this thread's element of an input array
    (``a0[tid]``), else a thread index or loop counter, else a component of this thread's element of a
    composite input (``a1[tid][2]``), else a float scalar converted from a thread index (``wp.float32(tid)``),
    else a composite built from such scalars and literals (``wp.vec3(a0[tid], 0.5, a2[tid])``); None when there
    is none of these. Shrinks toward the first kind the kernel has."""
    arrays = [a for a in sc.inputs if a.dtype == t]
    if arrays:
        a = choose(draw, arrays)
        lo, hi = (sc.policy.int_input_range if tracks_interval(t) else (0, 0))
        return Expr(B.subscript(B.name(a.name), *sc.own_slot()), t, lo, hi)
    indices = [v for v in sc.of_type(t) if v.kind in ("tid", "loop")]
    if indices:
        return var_expr(choose(draw, indices))
    if isinstance(t, Scalar) and t.is_float:
        holders = [a for a in sc.inputs if isinstance(a.dtype, Composite) and a.dtype.scalar == t
                   and a.dtype.is_vector_like]
        if holders:
            a = choose(draw, holders)
            k = draw(st.integers(0, a.dtype.length - 1))
            return Expr(B.subscript(B.subscript(B.name(a.name), *sc.own_slot()), B.int_lit(k)), t)
        row = conversion_row(t, INT32)
        counters = [v for v in sc.of_type(INT32) if v.kind in ("tid", "loop")]
        if row is not None and counters:
            counter = Expr(B.name(choose(draw, counters).name), INT32)
            args = [counter]
            _unpin_constant_arguments(sc, row[0], args)  # `wp.float64(j)` retypes an unrolled loop's j
            return Expr(B.call(row[0].spelling, args[0].node), t)
        return None
    if isinstance(t, Composite):
        row = _constructor(t)
        if row is None or not row[1].args or not all(isinstance(a, Scalar) for a in row[1].args):
            return None
        first = lane_leaf(draw, sc, row[1].args[0])
        if first is None:
            return None
        rest = [(draw(st.booleans()) and lane_leaf(draw, sc, a)) or literal(draw, sc, a) for a in row[1].args[1:]]
        return Expr(B.call(row[0].spelling, first.node, *(e.node for e in rest)), t)
    return None


def branch_test(draw, sc: Scope, depth: int) -> Expr:
    """The test of an ``if``/``elif`` or of a guarded jump. A test that (almost) always holds or fails leaves
    a branch dead (``wp.isfinite(x)``, ``x < 10.0`` for inputs in [-4, 4]), so with odds 3 : 1 it compares
    two data expressions of the same type, which holds for about half of the inputs; otherwise any bool
    expression over the data, unless it relates a value to itself (:func:`independent`) or calls a predicate
    with one result on finite data (``Op.fixed_on_finite``: ``wp.isnan(x)``). A test that is the same in every
    thread (:func:`lane_uniform`: ``s0 > 2``) compares this thread's data instead when the kernel has some
    (:func:`lane_leaf`); the two operands read different data (:func:`independent`) and a constant operand
    splits the data (:func:`splitting`). Shrinks toward the comparison of two leaves."""
    with live(sc):
        if not draw(st.integers(0, 3)):
            test = expression(draw, sc, BOOL, depth)
            if not lane_uniform(sc, test) and not _fixed_relation(test.node) and not (
                    _FIXED_ON_FINITE & B.called_spellings(test.node)):
                return test
        ct = choose(draw, [FLOAT32, INT32])
        left = expression(draw, sc, ct, min(depth, 1))
        right = independent(draw, sc, ct, left, expression(draw, sc, ct, min(depth, 1)))
        if lane_uniform(sc, left, right):  # after `independent`, which may replace a varying right operand
            left = lane_leaf(draw, sc, ct) or left
            right = independent(draw, sc, ct, left, right)
        right = splitting(draw, left, right)
    args = [left, right]
    if tracks_interval(ct):
        args = fit_int_operands(OPS.BY_NAME["lt"], args, sc.policy, ct)
    return Expr(B.compare(args[0].node, choose(draw, ["<", "<=", ">", ">="]), args[1].node), BOOL,
                operands=(args[0], args[1]))


# ---- operators ----------------------------------------------------------------------------------------------


def expression(draw, sc: Scope, t: ValueType, depth: int) -> Expr:
    """An expression of type ``t`` at most ``depth`` operators deep."""
    p = sc.policy
    if getattr(t, "kind", None) == "struct":
        return P.struct_expr(draw, sc, t, depth)
    if depth <= 0 or choose(draw, ["leaf", "op"], [p.leaf_weight, p.operator_weight + p.leaf_weight * (sc.live > 0)]) == "leaf":
        return leaf(draw, sc, t, depth)
    candidates = sc.ops_for(t)
    if sc.directed:  # an overload without Warp adjoint would leave the kernel out of the gradient check
        candidates = [(op, s) for op, s in candidates if not OPS.adjoint_missing(op, s)]
    if not candidates and not any(f.returns == (t,) for f in sc.funcs):
        return leaf(draw, sc, t, depth)
    by_row: dict[str, list] = {}
    for op, s in candidates:  # pick the row first, then its overload: rows with many overloads don't dominate
        by_row.setdefault(op.name, []).append((op, s))
    groups = list(by_row.values())
    weights = [p.focus_weight if name in sc.focus else 1 for name in by_row]
    if any(f.returns == (t,) for f in sc.funcs):
        groups.append("call")
        weights.append(1)
    group = choose(draw, groups, weights)
    if group == "call":
        return P.call_expr(draw, sc, t, depth)
    op, signature = choose(draw, group)
    return apply_op(draw, sc, op, signature, depth)


def apply_op(draw, sc: Scope, op: Op, signature: Signature, depth: int) -> Expr:
    """Row ``op`` applied at ``signature`` to argument expressions of depth ``depth - 1``, each kept inside the
    row's domain by a guard (:mod:`strategies.guards`: non-zero divisors, bounded exp arguments, in-range casts...)
    and, for interval-tracked ints, with the result's interval computed (:func:`int_interval`); arguments of
    rows whose result jumps at particular values are data leaves with odds ``Policy.edge_leaf_odds``. Shrinks
    toward leaf arguments."""
    if op.syntax == "index":  # component v[k]
        base = signature.args[0]
        vec = expression(draw, sc, base, depth - 1)
        k = draw(st.integers(0, base.shape[0] - 1))
        if by_name(base, k) and draw(st.booleans()):  # v.y
            return Expr(B.attribute(vec.node, COMPONENT_NAMES[k]), signature.result)
        return Expr(B.subscript(vec.node, B.int_lit(k)), signature.result)
    arg_depth = depth - 1
    if depth > 1 and (_truth_only(op, signature) or _edge_sensitive(op) and choose(
            draw, [False, True], [1, sc.policy.edge_leaf_odds])):  # the input's corner value itself
        arg_depth = 0
        with live(sc):
            args = [P.guarded(draw, sc, a, op.domain(i, signature), 0) for i, a in enumerate(signature.args)]
    else:
        args = [P.guarded(draw, sc, a, op.domain(i, signature), arg_depth) for i, a in enumerate(signature.args)]
    enliven(draw, sc, op, signature.args, args, depth)
    _unpin_constant_arguments(sc, op, args)
    if len(args) == 2 and args[0].node.deep_equals(args[1].node) and (
            op.syntax in ("compare", "binop", "boolop") or op.syntax == "call" and signature.args[0] == signature.args[1]):
        # also `wp.cross(v, v)`, `wp.spatial_cross(v, v)`: zero, and Warp's float32 adjoint adds and subtracts two
        # large equal terms into v's adjoint, losing what it already held (a 10-minute fuzz gradient mismatch;
        # known_bugs/self_cross_product_adjoint_cancellation/)
        args[1] = P.guarded(draw, sc, signature.args[1], op.domain(1, signature), arg_depth)  # `x - x`, `x < x`: constants
        if args[0].node.deep_equals(args[1].node) and op.domain(1, signature) == "any" and (
                signature.args[1] in literal_types()):  # the only leaf of that type: a constant operand
            args[1] = literal(draw, sc, signature.args[1])
    if op.name == "mod" and float_valued(signature.result) and (sc.directed or choose(
            draw, [False, True], [1, sc.policy.float_mod_constant_odds])):
        # Warp 1.19's float % adjoint lacks the divisor's term (known_bugs/mod_divisor_adjoint/): with a
        # divisor that varies, the gradient check leaves the kernel out (float-mod); a constant one keeps it
        # (a vector's: nonzero constant components)
        args[1] = float_mod_divisor(draw, signature.args[1])
    if op.name == "where":
        if args[0].is_literal:  # `wp.where(True, x, y)`: one arm is never taken, the other never tested
            with live(sc):
                args[0] = leaf(draw, sc, BOOL, 0)
        if args[1].node.deep_equals(args[2].node):  # `wp.where(c, x, x)`: the condition reaches nothing
            args[2] = P.guarded(draw, sc, signature.args[2], op.domain(2, signature), arg_depth)
    if op.name in _SHIFTS:
        for _ in range(2):  # `x >> (x & 31)` is 0 for every x in [1, 2**31): the count reads other data
            if not B.shares_data(args[0].node, args[1].node):
                break
            args[1] = P.guarded(draw, sc, signature.args[1], op.domain(1, signature), depth - 1)
        if B.shares_data(args[0].node, args[1].node):  # no other data of that type: a count in every domain
            args[1] = typed_int(draw(st.integers(0, 3)), signature.args[1])
    if op.syntax in ("compare", "boolop") and len(args) == 2:
        t = signature.args[1]  # `x or x`, `tid > +tid`: a relation of one value with itself
        if isinstance(t, Scalar) and op.domain(1, signature) == "any" and t in literal_types():
            args[1] = independent(draw, sc, t, args[0], args[1])
    if op.syntax == "compare" and len(args) == 2:
        args[1] = splitting(draw, args[0], args[1])
    if op.name in ("min", "max") and len(args) == 2 and isinstance(signature.result, Scalar):
        # `wp.min(wp.bit_count(x), -3)` is -3 whatever x: a constant operand splits the other's values, as a
        # constant compared with data does (since generator 0.5.4)
        if args[1].is_literal and not args[0].is_literal:
            args[1] = splitting(draw, args[0], args[1])
        elif args[0].is_literal and not args[1].is_literal:
            args[0] = splitting(draw, args[1], args[0])
    result = signature.result
    cast = _is_cast(op, result)
    if not cast and (tracks_interval(result) or (op.syntax == "compare" and tracks_interval(signature.args[0]))):
        args = fit_int_operands(op, args, sc.policy, result if tracks_interval(result) else signature.args[0])
    node = render_op(op, [a.node for a in args], signature)
    if op.definition is not None:  # a library-function row: the kernel carries its definition
        sc.fragments[(op.name, signature)] = None
    if not tracks_interval(result):
        return Expr(node, result)
    lo, hi = int_interval(op, args, sc.policy.float_cast_bound, result)
    e = Expr(node, result, lo, hi)
    if max(abs(lo), abs(hi)) > int_limit(result, sc.policy):  # a conversion from a wider/unsigned type
        e = wrap(e, sc.policy.int_wrap_modulus)
    return e


#: Warp 1.19 retypes a compile-time constant variable passed alone to one of these constructors (codegen
#: ``add_call``, "constant precision preservation"): an unrolled loop's variable ``j`` becomes a float64 for the
#: rest of the function after ``wp.float64(j)``, and ``j & j`` then fails to compile; so does a local computed from
#: it (``i = -j``; tests/test_known_warp_bugs.py)
_RETYPING_CONSTRUCTORS = ("wp.float64", "wp.int64", "wp.uint64")


def _unpin_constant_arguments(sc: Scope, op: Op, args: list[Expr]) -> None:
    """Steer around the Warp bug above: a variable (a loop variable, or a local computed from one, is constant
    when the loop is unrolled) passed alone to a 64-bit constructor is passed as ``(+x)``, a new non-constant
    value, instead."""
    if op.spelling not in _RETYPING_CONSTRUCTORS or len(args) != 1 or not isinstance(args[0].node, cst.Name):
        return
    args[0] = Expr(B.unop("+", args[0].node), args[0].type, args[0].lo, args[0].hi)


#: the constant divisors of float ``%`` (:func:`apply_op`, ``Policy.float_mod_constant_odds``)
FLOAT_MOD_DIVISORS = (1.5, 0.75, 2.0, -1.5, 3.0)

def float_mod_divisor(draw, t: ValueType) -> Expr:
    """A constant divisor of float (or float vector) ``%`` from :data:`FLOAT_MOD_DIVISORS`."""
    if isinstance(t, Scalar):
        return typed_float(draw(st.sampled_from(FLOAT_MOD_DIVISORS)), t)
    return constructed(t, lambda a: float_mod_divisor(draw, a))


#: the shift rows: their count is drawn to read other data than the shifted value (:func:`apply_op`)
_SHIFTS = frozenset(("lshift", "rshift"))


def _truth_only(op: Op, signature: Signature) -> bool:
    """Rows that read only their arguments' truth value (``x and y`` of floats, ``bool(x)``) or a property
    that finite data never changes (``wp.isnan``): a computed argument's value would reach nothing."""
    return op.fixed_on_finite or (op.syntax == "boolop" or op.name == "bool") and any(
        a != BOOL for a in signature.args)


def _edge_sensitive(op: Op) -> bool:
    """Rows whose result jumps at particular argument values (floor/round/rint/trunc/ceil at integers and halves,
    sign/step/nonzero at zero, ``//``, comparisons at ties): half of their uses take data leaves as arguments,
    so the corner inputs (exact halves, signed zeros, ties shared across arrays) reach them unchanged instead of
    through arithmetic that moves them off the corner."""
    return op.syntax == "compare" or (not op.differentiable and op.family not in ("atomic", "cast"))


def enliven(draw, sc: Scope, op: Op, types, args: list[Expr], depth: int) -> None:
    """An operator (or a constructor) over constants only is constant-folded by any compiler and tests one
    argument value: redraw its first operand from the kernel's data (in place; kept when there is none)."""
    if not args or not all(_constant(a) for a in args):
        return
    if op.domain(0) == "any":
        args[0] = nonliteral_leaf(draw, sc, types[0], depth) or converted_leaf(draw, sc, types[0]) or args[0]
    elif op.syntax != "construct":
        with live(sc):
            args[0] = P.guarded(draw, sc, types[0], op.domain(0), max(depth - 1, 0))


def _constant(e: Expr) -> bool:
    """A literal, or a guard applied to one (``wp.abs(2.0) + 0.25``): nothing from the kernel's data."""
    if e.is_literal:
        return True
    return is_constant(e.node)


def by_name(t: ValueType, k: int) -> bool:
    """Component ``k`` of ``t`` can be spelled ``.x``/``.y``/``.z``/``.w`` (vectors up to 4, quaternions)."""
    return isinstance(t, Composite) and t.kind in ("vector", "quaternion") and len(t.shape) == 1 and k < min(
        t.shape[0], 4)


def render_op(op: Op, args: list[cst.BaseExpression], signature: Signature | None = None) -> cst.BaseExpression:
    """Row ``op`` written over argument nodes in its syntax: an operator (binary, unary, comparison, boolean) or
    a call of its spelling with the signature's keywords. Draws nothing."""
    if op.syntax == "binop":
        return B.binop(args[0], op.spelling, args[1])
    if op.syntax == "unop":
        return B.unop(op.spelling, args[0])
    if op.syntax == "compare":
        return B.compare(args[0], op.spelling, args[1])
    if op.syntax == "boolop":
        return B.boolop(args[0], op.spelling, args[1])
    return B.call(op.spelling, *args, keywords=signature.keywords if signature else ())


# ---- integer intervals (no signed overflow by construction) ----------------------------------------------------


def wrap(e: Expr, modulus: int) -> Expr:
    """``(e % modulus)``: C-style, so the result keeps e's sign and lies in (-modulus, modulus)."""
    lo = 0 if e.lo >= 0 else -(modulus - 1)
    hi = 0 if e.hi <= 0 else modulus - 1
    return Expr(B.binop(e.node, "%", typed_int(modulus, e.type).node), e.type, lo, hi)


def fit_int_operands(op: Op, args: list[Expr], policy, t: Scalar = INT32) -> list[Expr]:
    """Wrap the largest operand until the op's result interval stays within the type's limit."""
    args = list(args)
    limit, modulus = int_limit(t, policy), policy.int_wrap_modulus
    while True:
        lo, hi = int_interval(op, args, policy.float_cast_bound, t)
        if -limit <= lo and hi <= limit:
            return args
        i = max(range(len(args)), key=lambda j: args[j].mag if tracks_interval(args[j].type) else -1)
        if args[i].mag < modulus:
            raise AssertionError(f"cannot bound {op.name} over {[(a.lo, a.hi) for a in args]}")
        args[i] = wrap(args[i], modulus)


def int_interval(op: Op, a: list[Expr], cast_bound: float = 1000.0, t: Scalar = INT32) -> tuple[int, int]:
    """The interval of ``op``'s result over arguments ``a``: a conversion into ``t`` by its source, any other row by
    its interval rule (:mod:`grammar.intervals`)."""
    if _is_cast(op, t):  # a conversion into t
        src = a[0]
        if src.type == BOOL:
            return (0, 1)
        if isinstance(src.type, Scalar) and src.type.is_float:
            return -int(cast_bound), int(cast_bound)  # the argument is clamped (domain "cast_arg")
        if tracks_interval(src.type) and t.min <= src.lo and src.hi <= t.max:
            return src.lo, src.hi
        st_ = src.type
        if isinstance(st_, Scalar) and st_.is_int and t.min <= st_.min and st_.max <= t.max:
            return st_.min, st_.max
        return t.min, t.max
    if op.interval is None:
        raise KeyError(f"no interval rule for int op {op.name}")
    return op.interval(a)
