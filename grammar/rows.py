"""The row types of the operator table: :class:`Op` (one Warp operator or builtin) and :class:`Signature` (one of
its typed overloads), and the core argument domains.

A row says how the construct is spelled (``syntax`` + ``spelling``), which typed signatures it has, what
its numpy semantics are (a function of :mod:`grammar.semantics`), which input domain each argument must lie
in, whether Warp can differentiate it, and which family it belongs to (families drive the kernel categories
and swarm testing). The rows themselves live in the group modules (``grammar/ops_core.py``, ``ops_scalar.py``,
``ops_linalg.py``, ``ops_quat.py``, ``ops_nn.py``); :mod:`grammar.ops` assembles them into the table.

Domains (per argument; strategies keep arguments inside them by construction, see ``strategies.guards``): the
core ones are :data:`DOMAINS`, each documented; a group module adds its own in its ``DOMAINS`` dict (with a
``GUARDS`` source template each), and :data:`grammar.ops.DOMAIN_DOCS` holds them all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .types import ValueType

#: the core argument domains, each with what it guarantees (their float guards: :data:`FLOAT_GUARDS`)
DOMAINS: dict[str, str] = {
    "any": "no constraint",
    "nonzero": "a divisor: never zero (ints: by interval; floats: magnitude >= 0.5)",
    "positive": "strictly positive (sqrt, log): >= 0.25",
    "exp_arg": "within +-policy.exp_arg_bound, so exp() cannot overflow float32",
    "pow_base": ">= 0.25 (no negative base: powf of a negative base and fractional exponent is NaN)",
    "pow_exp": "within +-policy.pow_exp_bound",
    "cast_arg": "within +-policy.float_cast_bound, so a float->int conversion is defined",
}


@dataclass(frozen=True)
class FloatGuard:
    """How a float argument is kept inside a core domain, as data (the group modules' domains have ``GUARDS``
    source templates instead; both are applied by ``strategies.guards.guarded``).

    ``literals``: constants inside the domain, the first alternative (what an argument shrinks to). ``kind``:
    ``"abs_plus"`` writes ``(wp.abs(e) + floor)`` around a drawn expression ``e``, and when ``negatable`` negates it in
    one draw of three (both signs, magnitude >= ``floor``); ``"clamp"`` writes ``wp.clamp(e, -b, b)`` with ``b`` the
    :class:`grammar.policy.Policy` field named ``bound`` (a literal is clamped into it too)."""

    kind: str  # "abs_plus" | "clamp"
    literals: tuple[float, ...]
    floor: float = 0.0
    negatable: bool = False
    bound: str = ""


_POSITIVE = FloatGuard("abs_plus", (1.0, 2.0, 0.5, 4.0, 1.5, 3.0, 0.25), floor=0.25)
_BOUNDED_LITERALS = (0.0, 1.0, 0.5, -1.0, 2.0, -2.0, 1.5)

#: the guard of each core domain that constrains floats (the others, and ints but for ``nonzero``, are unconstrained;
#: a non-zero int is guarded through its interval: ``strategies.guards.nonzero_int``)
FLOAT_GUARDS: dict[str, FloatGuard] = {
    "nonzero": FloatGuard("abs_plus", (1.0, 2.0, -1.0, 0.5, -2.0, 4.0, 1.5, -0.5), floor=0.5, negatable=True),
    "positive": _POSITIVE,
    "pow_base": _POSITIVE,
    "exp_arg": FloatGuard("clamp", _BOUNDED_LITERALS, bound="exp_arg_bound"),
    "pow_exp": FloatGuard("clamp", _BOUNDED_LITERALS, bound="pow_exp_bound"),
    "cast_arg": FloatGuard("clamp", _BOUNDED_LITERALS, bound="float_cast_bound"),
}


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
    # results to detect steps, see harness.oracle.gradient
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
    # finite (harness.oracle.inputs), so an `if` on it never takes one of its branches: branch tests avoid it
    fixed_on_finite: bool = False
    # the argument values where an implementation of the row typically goes wrong while being right elsewhere
    # (predicates in ``grammar.semantics``: ``half_corner`` for round/rint, ``tie_corner`` for comparisons and
    # min/max, ``unsigned_wrap_corner`` for a wrapping unsigned difference): a predicate
    # ``corner(signature, *args) -> bool``. The first attempt's input choice (harness.oracle.input_choice) prefers
    # a draw on which the row meets it
    corner: Callable | None = field(default=None, compare=False, hash=False)
    # rows implemented in Warp's language rather than as a builtin (grammar.ops_nn): the source of the
    # ``@wp.func`` of one signature, named like the spelling. A kernel using the row carries the definitions of
    # the overloads it calls; the reference evaluates the row's semantics and never reads them
    definition: Callable[[Signature], str] | None = field(default=None, compare=False, hash=False)
    # the interval rule of an int row (a function of :mod:`grammar.intervals`): the range of its result from its
    # arguments' ranges. Only rows with one produce int32/int64 values (the types whose overflow is undefined)
    interval: Callable | None = field(default=None, compare=False, hash=False)

    def domain(self, i: int, signature: Signature | None = None) -> str:
        """The domain of argument ``i`` (of ``signature`` when given: an overload may narrow it)."""
        domains = signature.domains if signature is not None and signature.domains else self.domains
        return domains[i] if i < len(domains) else "any"


def sig(result: ValueType, *args: ValueType) -> Signature:
    return Signature(tuple(args), result)
