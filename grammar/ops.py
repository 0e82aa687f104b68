"""The operator table: one row per Warp operator or builtin the generator may emit.

A row says how the construct is spelled (``syntax`` + ``spelling``), which typed signatures it has, what
its numpy semantics are (a function of :mod:`grammar.semantics`), which input domain each argument must lie
in, whether Warp can differentiate it, and which family it belongs to (families drive the kernel categories
and swarm testing). The strategies pick rows by result type; the reference evaluates rows by name. Adding a
builtin is one row here, its semantics function, and its tests.

Domains (per argument; strategies keep arguments inside them by construction, see ``strategies.guards``):

``any``       no constraint
``nonzero``   divisor: never zero (ints: by interval; floats: magnitude >= 0.5)
``positive``  strictly positive (sqrt, log): >= 0.25
``exp_arg``   within +-policy.exp_arg_bound, so exp() cannot overflow float32
``pow_base``  >= 0.25 (no negative base: powf of a negative base and fractional exponent is NaN)
``pow_exp``   within +-policy.pow_exp_bound
``cast_arg``  within +-policy.float_cast_bound, so a float->int conversion is defined
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import semantics as S
from .types import BOOL, FLOAT32, INT32, VEC3, Scalar, ValueType

DOMAINS = ("any", "nonzero", "positive", "exp_arg", "pow_base", "pow_exp", "cast_arg")


@dataclass(frozen=True)
class Signature:
    args: tuple[ValueType, ...]
    result: ValueType
    # specialised numpy semantics for this overload (e.g. mat * vec is a matrix product where the row's
    # semantics is element-wise); None means the row's semantics
    semantics: Callable | None = field(default=None, compare=False, hash=False)
    # compile-time keyword arguments spelled after the positional ones, e.g. (("n", "3"), ("dtype", "wp.float32"))
    # for wp.identity(n=3, dtype=wp.float32); part of the overload's identity
    keywords: tuple[tuple[str, str], ...] = ()
    # per-argument domains of this overload where they differ from the row's (``uint16 * uint16`` needs one
    # factor below 2**15, other ``*`` overloads do not); empty means the row's domains
    domains: tuple[str, ...] = field(default=(), compare=False, hash=False)


@dataclass(frozen=True)
class Op:
    name: str  # key; also the reference's dispatch name
    syntax: str  # "binop" | "unop" | "compare" | "boolop" | "call" | "construct" | "index"
    spelling: str  # "+", "<", "and", "not", "wp.sin", ...
    signatures: tuple[Signature, ...]
    semantics: Callable
    domains: tuple[str, ...] = ()  # per argument; missing means "any"
    # False for piecewise-constant rows (floor, sign, comparisons...): their derivative is zero almost
    # everywhere. True when the row has a non-zero derivative almost everywhere (fmod, casts between float
    # widths and atomic min/max included); the gradient oracle records the value of piecewise-constant
    # results to detect steps, see harness.gradient
    differentiable: bool = True
    family: str = "arith"  # arith | math | compare | logic | select | cast | vector | nn
    # True when the result is fully determined by IEEE rules with no rounding latitude for an
    # implementation (negation, abs, min/max, selection, floor, casts, fmod...). Other float results may
    # legitimately differ by an ulp or so between Warp (libm, fused multiply-add) and numpy; the reference
    # perturbs those to measure how much that can move each output.
    exact: bool = False
    # the magnitude of the intermediate values whose rounding reaches an inexact result: its perturbation step is one
    # ulp of the larger of this and the result's largest component. ``quat_to_euler`` returns differences of angles
    # up to pi (``tp - tm``): Warp's libm atan2, one ulp of pi from numpy's, moved a 0.139 component by 8 of its
    # own ulps (a 30-minute fuzz false alarm of generator 0.5.4). 0: the result's own magnitude
    perturb_floor: float = 0.0
    # builtins that return through their last `outputs` arguments (wp.svd3(A, U, sigma, V)): the semantics
    # returns a tuple of those values; the signature's ``args`` lists all arguments, outputs included,
    # and its ``result`` is None
    outputs: int = 0
    # ... or, with ``returns_tuple``, returns those values as a tuple (``p, q, s = wp.transform_decompose(m)``):
    # the signature is laid out the same way (inputs, then the returned types; ``result`` None)
    returns_tuple: bool = False
    # builtins that update their *first* argument in place (``wp.transform_set_translation(t, p)``): the
    # semantics returns the argument's new value; ``result`` is None
    inplace: bool = False
    # a predicate with one result for every finite argument (isnan, isinf: False; isfinite: True). Inputs are
    # finite (harness.inputs), so an `if` on it never takes one of its branches: branch tests avoid it
    fixed_on_finite: bool = False
    # the argument values where an implementation of the row typically goes wrong while being right elsewhere
    # (predicates in ``grammar.semantics``: ``half_corner`` for round/rint, ``tie_corner`` for comparisons and
    # min/max, ``unsigned_wrap_corner`` for a wrapping unsigned difference): a predicate ``corner(signature, *args) -> bool``. The first attempt's input
    # choice (harness.input_choice) prefers a draw on which the row meets it
    corner: Callable | None = field(default=None, compare=False, hash=False)
    # rows implemented in Warp's language rather than as a builtin (grammar.ops_nn): the source of the
    # ``@wp.func`` of one signature, named like the spelling. A kernel using the row carries the definitions of
    # the overloads it calls; the reference evaluates the row's semantics and never reads them
    definition: Callable[[Signature], str] | None = field(default=None, compare=False, hash=False)

    def domain(self, i: int, signature: Signature | None = None) -> str:
        """The domain of argument ``i`` (of ``signature`` when given: an overload may narrow it)."""
        domains = signature.domains if signature is not None and signature.domains else self.domains
        return domains[i] if i < len(domains) else "any"


def sig(result: ValueType, *args: ValueType) -> Signature:
    return Signature(tuple(args), result)


F, I, B, V = FLOAT32, INT32, BOOL, VEC3


def _same(*ts: ValueType, arity: int) -> tuple[Signature, ...]:
    return tuple(sig(t, *([t] * arity)) for t in ts)


OPS: tuple[Op, ...] = (
    # --- operators ---
    Op("add", "binop", "+", _same(F, I, V, arity=2), S.add),
    Op("sub", "binop", "-", _same(F, I, V, arity=2), S.sub, corner=S.unsigned_wrap_corner),
    Op("mul", "binop", "*", _same(F, I, arity=2) + (sig(V, V, F), sig(V, F, V)), S.mul),
    Op("div", "binop", "/", (sig(F, F, F), sig(I, I, I), sig(V, V, F)), S.div, ("any", "nonzero")),
    Op("floordiv", "binop", "//", (sig(I, I, I),), S.floordiv, ("any", "nonzero"), differentiable=False, exact=True),
    Op("mod", "binop", "%", (sig(I, I, I), sig(F, F, F)), S.mod, ("any", "nonzero"), exact=True),
    Op("neg", "unop", "-", (sig(F, F), sig(I, I), sig(V, V)), S.neg, exact=True),
    # --- comparisons and logic ---
    Op("lt", "compare", "<", (sig(B, F, F), sig(B, I, I)), S.lt, family="compare", corner=S.tie_corner),
    Op("le", "compare", "<=", (sig(B, F, F), sig(B, I, I)), S.le, family="compare", corner=S.tie_corner),
    Op("gt", "compare", ">", (sig(B, F, F), sig(B, I, I)), S.gt, family="compare", corner=S.tie_corner),
    Op("ge", "compare", ">=", (sig(B, F, F), sig(B, I, I)), S.ge, family="compare", corner=S.tie_corner),
    Op("eq", "compare", "==", (sig(B, I, I),), S.eq, family="compare", corner=S.tie_corner),
    Op("ne", "compare", "!=", (sig(B, I, I),), S.ne, family="compare", corner=S.tie_corner),
    Op("and_", "boolop", "and", (sig(B, B, B),), S.and_, family="logic"),
    Op("or_", "boolop", "or", (sig(B, B, B),), S.or_, family="logic"),
    Op("not_", "unop", "not", (sig(B, B),), S.not_, family="logic"),
    Op("where", "call", "wp.where", (sig(F, B, F, F), sig(I, B, I, I), sig(V, B, V, V)), S.where, family="select", exact=True),
    # --- scalar math ---
    Op("min", "call", "wp.min", _same(F, I, arity=2), S.min_, family="math", exact=True, corner=S.tie_corner),
    Op("max", "call", "wp.max", _same(F, I, arity=2), S.max_, family="math", exact=True, corner=S.tie_corner),
    Op("abs", "call", "wp.abs", _same(F, I, arity=1), S.abs_, family="math", exact=True),
    Op("clamp", "call", "wp.clamp", _same(F, I, arity=3), S.clamp, family="math", exact=True),
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
    Op("int32", "call", "wp.int32", (sig(I, F), sig(I, I)), S.to_int32, ("cast_arg",), differentiable=False, family="cast", exact=True),
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
#: rows whose Warp 1.19 adjoint is missing although their derivative is not zero (warp/native/builtin.h
#: adj_frac: "MISSINGADJOINT"): the gradient check leaves out a kernel evaluating one on varying data
#: (harness.gradient), so gradient-directed kernels do not draw them
MISSING_ADJOINTS: frozenset = frozenset({"frac"})


def adjoint_missing(op: Op, signature: Signature) -> bool:
    """Whether Warp 1.19 lacks this overload's adjoint although its derivative is not zero: the
    :data:`MISSING_ADJOINTS` rows, and vector ``%`` (known_bugs/vector_mod_adjoint/)."""
    return op.name in MISSING_ADJOINTS or op.name == "mod" and not isinstance(signature.result, Scalar)

ATOMIC_CLASSES: tuple[frozenset, ...] = (frozenset({"atomic_add", "atomic_sub"}), frozenset({"atomic_min"}),
                                         frozenset({"atomic_max"}), frozenset({"atomic_and"}),
                                         frozenset({"atomic_or"}), frozenset({"atomic_xor"}))

CORE_OPS = OPS


def _assemble(core: tuple[Op, ...], modules) -> tuple[Op, ...]:
    """The core rows extended by each group module's ``EXTEND`` signatures, followed by its ``ROWS``."""
    rows = {op.name: op for op in core}
    order = [op.name for op in core]
    for m in modules:
        for op in m.ROWS:
            if op.name in rows:
                raise ValueError(f"row {op.name} defined twice")
            rows[op.name] = op
            order.append(op.name)
        for name, sigs in m.EXTEND.items():
            op = rows[name]
            known = {s.args for s in op.signatures}
            new = tuple(s for s in sigs if s.args not in known)
            rows[name] = replace(op, signatures=op.signatures + new)
    return tuple(rows[n] for n in order)


from . import ops_linalg, ops_nn, ops_quat, ops_scalar  # noqa: E402  (group modules build on the names above)

GROUP_MODULES = (ops_scalar, ops_linalg, ops_quat, ops_nn)
OPS = _assemble(CORE_OPS, GROUP_MODULES)
DOMAIN_DOCS: dict[str, str] = {d: "" for d in DOMAINS}
for _m in GROUP_MODULES:
    DOMAIN_DOCS.update(getattr(_m, "DOMAINS", {}))

BY_NAME: dict[str, Op] = {op.name: op for op in OPS + ATOMICS}
#: Python-syntax spelling -> op name, per syntax kind (the reference's transpiler uses these).
BINOPS = {op.spelling: op.name for op in OPS if op.syntax == "binop"}
UNOPS = {op.spelling: op.name for op in OPS if op.syntax == "unop"}
COMPARES = {op.spelling: op.name for op in OPS if op.syntax == "compare"}
BOOLOPS = {op.spelling: op.name for op in OPS if op.syntax == "boolop"}
CALLS = {op.spelling: op.name for op in OPS + ATOMICS if op.syntax in ("call", "construct")}
#: spellings of the rows implemented as ``@wp.func`` library functions (:attr:`Op.definition`): the names of
#: the definitions a kernel carries, which the reference skips
FRAGMENT_NAMES: frozenset[str] = frozenset(op.spelling for op in OPS if op.definition is not None)


def fragment_source(op: Op, signature: Signature) -> str:
    """The Warp source (a ``@wp.func`` definition) of one overload of a row implemented in Warp's language."""
    return op.definition(signature)


#: the Warp release the table follows: an older one may lack rows (:func:`restrict`) or overloads
#: (:func:`restrict_signatures`)
TABLE_RELEASE = "1.19.0"

#: names of the rows left out of :data:`OPS` because the Warp release in use lacks their builtin (:func:`restrict`)
UNAVAILABLE: frozenset[str] = frozenset()


def restrict(missing) -> None:
    """Leave the rows named in ``missing`` out of :data:`OPS`, the table the generator draws from: the builtins
    an older Warp release does not have (``harness.warp_adapter.missing_rows``; none on the release the table
    follows). :data:`BY_NAME` keeps every row (the reference still reads any kernel). Call it before anything is
    drawn: the strategies cache what they read from the table."""
    global OPS, UNAVAILABLE
    missing = frozenset(missing) - UNAVAILABLE
    if missing:
        UNAVAILABLE = UNAVAILABLE | missing
        OPS = tuple(op for op in OPS if op.name not in UNAVAILABLE)


#: ``row:index`` keys of the overloads left out of :data:`OPS` (:func:`restrict_signatures`)
UNAVAILABLE_SIGNATURES: frozenset[str] = frozenset()


def restrict_signatures(missing) -> None:
    """Leave the overloads keyed ``row:index`` in ``missing`` (``index``: the signature's position in its row of
    the full table, :data:`BY_NAME`) out of :data:`OPS`: those an older Warp release lacks within a builtin it has
    (``harness.overloads``); a row left without any overload is left out whole. :data:`BY_NAME` keeps every
    overload. Call it before anything is drawn, like :func:`restrict`."""
    global OPS, UNAVAILABLE, UNAVAILABLE_SIGNATURES
    missing = frozenset(missing) - UNAVAILABLE_SIGNATURES
    if not missing:
        return
    UNAVAILABLE_SIGNATURES = UNAVAILABLE_SIGNATURES | missing
    rows: list[Op] = []
    for op in OPS:
        full = BY_NAME[op.name].signatures
        keep = tuple(s for s in op.signatures
                     if f"{op.name}:{next(i for i, f in enumerate(full) if f is s)}" not in UNAVAILABLE_SIGNATURES)
        if not keep:
            UNAVAILABLE = UNAVAILABLE | {op.name}
        elif len(keep) == len(op.signatures):
            rows.append(op)
        else:
            rows.append(replace(op, signatures=keep))
    OPS = tuple(rows)


def ops_returning(t: ValueType) -> list[tuple[Op, Signature]]:
    """Every (row, signature) pair whose result type is ``t``, in table order (simplest first)."""
    return [(op, s) for op in OPS for s in op.signatures if s.result == t]
