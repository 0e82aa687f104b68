"""The core rows of the operator table: Python's arithmetic, comparison and boolean operators on float32, int32 and
vec3, ``wp.where``, the scalar math every kernel category draws on, the float32/int32 conversions, the vec3
builtins, and the atomic read-modify-write builtins.

Conventions shared by every group module (:mod:`grammar.ops` assembles them): ``ROWS`` are new rows; ``EXTEND``
maps an existing row's name to extra signatures; ``DOMAINS`` names and documents new argument domains (the core
domains are :data:`grammar.rows.DOMAINS`); ``GUARDS`` maps each new domain to a source template. The group modules
extend these rows to the other scalar types, vectors and matrices.
"""

from __future__ import annotations

from . import intervals as IV
from . import semantics as S
from .rows import Op, Signature, sig
from .types import BOOL, FLOAT32, INT32, VEC3, Scalar, ValueType

F, I, B, V = FLOAT32, INT32, BOOL, VEC3


def _same(*ts: ValueType, arity: int) -> tuple[Signature, ...]:
    return tuple(sig(t, *([t] * arity)) for t in ts)


def _compare(name: str, spelling: str, signatures: tuple[Signature, ...], semantics) -> Op:
    """A comparison operator: a bool result; its corner is a tie of its operands."""
    return Op(name, "compare", spelling, signatures, semantics, family="compare", corner=S.tie_corner,
              interval=IV.truth)


ROWS: tuple[Op, ...] = (
    # --- operators ---
    Op("add", "binop", "+", _same(F, I, V, arity=2), S.add, interval=IV.add),
    Op("sub", "binop", "-", _same(F, I, V, arity=2), S.sub, corner=S.unsigned_wrap_corner, interval=IV.sub),
    Op("mul", "binop", "*", _same(F, I, arity=2) + (sig(V, V, F), sig(V, F, V)), S.mul, interval=IV.mul),
    Op("div", "binop", "/", (sig(F, F, F), sig(I, I, I), sig(V, V, F)), S.div, ("any", "nonzero"), interval=IV.div),
    Op("floordiv", "binop", "//", (sig(I, I, I),), S.floordiv, ("any", "nonzero"), differentiable=False, exact=True,
       interval=IV.floordiv),
    Op("mod", "binop", "%", (sig(I, I, I), sig(F, F, F)), S.mod, ("any", "nonzero"), exact=True, interval=IV.mod),
    Op("neg", "unop", "-", (sig(F, F), sig(I, I), sig(V, V)), S.neg, exact=True, interval=IV.neg),
    # --- comparisons and logic ---
    _compare("lt", "<", (sig(B, F, F), sig(B, I, I)), S.lt),
    _compare("le", "<=", (sig(B, F, F), sig(B, I, I)), S.le),
    _compare("gt", ">", (sig(B, F, F), sig(B, I, I)), S.gt),
    _compare("ge", ">=", (sig(B, F, F), sig(B, I, I)), S.ge),
    _compare("eq", "==", (sig(B, I, I),), S.eq),
    _compare("ne", "!=", (sig(B, I, I),), S.ne),
    Op("and_", "boolop", "and", (sig(B, B, B),), S.and_, family="logic"),
    Op("or_", "boolop", "or", (sig(B, B, B),), S.or_, family="logic"),
    Op("not_", "unop", "not", (sig(B, B),), S.not_, family="logic"),
    Op("where", "call", "wp.where", (sig(F, B, F, F), sig(I, B, I, I), sig(V, B, V, V)), S.where, family="select",
       exact=True, interval=IV.where),
    # --- scalar math ---
    Op("min", "call", "wp.min", _same(F, I, arity=2), S.min_, family="math", exact=True, corner=S.tie_corner,
       interval=IV.min_),
    Op("max", "call", "wp.max", _same(F, I, arity=2), S.max_, family="math", exact=True, corner=S.tie_corner,
       interval=IV.max_),
    Op("abs", "call", "wp.abs", _same(F, I, arity=1), S.abs_, family="math", exact=True, interval=IV.abs_),
    Op("clamp", "call", "wp.clamp", _same(F, I, arity=3), S.clamp, family="math", exact=True, interval=IV.clamp),
    Op("sqrt", "call", "wp.sqrt", (sig(F, F),), S.sqrt, ("positive",), family="math"),
    Op("exp", "call", "wp.exp", (sig(F, F),), S.exp, ("exp_arg",), family="math"),
    Op("log", "call", "wp.log", (sig(F, F),), S.log, ("positive",), family="math"),
    Op("sin", "call", "wp.sin", (sig(F, F),), S.sin, family="math"),
    Op("cos", "call", "wp.cos", (sig(F, F),), S.cos, family="math"),
    Op("tanh", "call", "wp.tanh", (sig(F, F),), S.tanh, family="math"),
    Op("floor", "call", "wp.floor", (sig(F, F),), S.floor, differentiable=False, family="math", exact=True),
    Op("pow", "call", "wp.pow", (sig(F, F, F),), S.pow_, ("pow_base", "pow_exp"), family="math"),
    # --- conversions ---
    Op("float32", "call", "wp.float32", (sig(F, I), sig(F, F)), S.to_float32, family="cast", exact=True),
    Op("int32", "call", "wp.int32", (sig(I, F), sig(I, I)), S.to_int32, ("cast_arg",), differentiable=False,
       family="cast", exact=True),
    # --- vectors ---
    Op("vec3", "construct", "wp.vec3", (sig(V, F, F, F),), S.vec3, family="vector", exact=True),
    Op("dot", "call", "wp.dot", (sig(F, V, V),), S.dot, family="vector"),
    Op("cross", "call", "wp.cross", (sig(V, V, V),), S.cross, family="vector"),
    Op("length", "call", "wp.length", (sig(F, V),), S.length, family="vector"),
    Op("normalize", "call", "wp.normalize", (sig(V, V),), S.normalize, family="vector"),
    Op("component", "index", "[]", (sig(F, V, I),), S.component, family="vector", exact=True),
)

#: Atomic read-modify-write builtins: ``wp.atomic_<op>(arr, index..., operands)``; a signature's result is
#: the element type, its arguments the operands (``atomic_cas``: compare, value). The first group is used on *shared*
#: accumulator arrays (any thread, any slot: the result must not depend on the order threads run in, so
#: only commutative updates); ``OWN_SLOT_ATOMICS`` only on a thread's own slot of an output array, where
#: no other thread ever touches the element (exchange and compare-and-swap are order dependent).
ATOMICS: tuple[Op, ...] = (
    Op("atomic_add", "call", "wp.atomic_add", (sig(F, F), sig(I, I)), S.atomic_add, family="atomic"),
    Op("atomic_min", "call", "wp.atomic_min", (sig(F, F), sig(I, I)), S.atomic_min, family="atomic"),
    Op("atomic_max", "call", "wp.atomic_max", (sig(F, F), sig(I, I)), S.atomic_max, family="atomic"),
    Op("atomic_sub", "call", "wp.atomic_sub", (sig(F, F), sig(I, I)), S.atomic_sub, family="atomic"),
    Op("atomic_and", "call", "wp.atomic_and", (sig(I, I),), S.atomic_and, differentiable=False, family="atomic"),
    Op("atomic_or", "call", "wp.atomic_or", (sig(I, I),), S.atomic_or, differentiable=False, family="atomic"),
    Op("atomic_xor", "call", "wp.atomic_xor", (sig(I, I),), S.atomic_xor, differentiable=False, family="atomic"),
    Op("atomic_exch", "call", "wp.atomic_exch", (sig(F, F), sig(I, I)), S.atomic_exch, differentiable=False,
       family="atomic"),
    Op("atomic_cas", "call", "wp.atomic_cas", (sig(I, I, I),), S.atomic_cas, differentiable=False,
       family="atomic"),
)
OWN_SLOT_ATOMICS = frozenset({"atomic_exch", "atomic_cas"})
#: atomics that commute with each other: one accumulator only ever sees atomics of one class, so the final
#: value does not depend on the order threads run in (add then xor != xor then add)
ATOMIC_CLASSES: tuple[frozenset, ...] = (frozenset({"atomic_add", "atomic_sub"}), frozenset({"atomic_min"}),
                                         frozenset({"atomic_max"}), frozenset({"atomic_and"}),
                                         frozenset({"atomic_or"}), frozenset({"atomic_xor"}))

#: rows whose Warp 1.19 adjoint is missing although their derivative is not zero (warp/native/builtin.h
#: adj_frac: "MISSINGADJOINT"): the gradient check leaves out a kernel evaluating one on varying data
#: (harness.oracle.gradient), so gradient-directed kernels do not draw them
MISSING_ADJOINTS: frozenset = frozenset({"frac"})


def adjoint_missing(op: Op, signature: Signature) -> bool:
    """Whether Warp 1.19 lacks this overload's adjoint although its derivative is not zero: the
    :data:`MISSING_ADJOINTS` rows, and vector ``%`` (known_bugs/vector_mod_adjoint/)."""
    return op.name in MISSING_ADJOINTS or op.name == "mod" and not isinstance(signature.result, Scalar)


#: the core rows take no extra signatures and define no domains of their own
EXTEND: dict[str, tuple[Signature, ...]] = {}
