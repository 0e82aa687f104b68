"""The operator table: one row per Warp operator or builtin the generator may emit, assembled from the group
modules (:mod:`grammar.ops_core`, :mod:`grammar.ops_scalar`, :mod:`grammar.ops_linalg`, :mod:`grammar.ops_quat`,
:mod:`grammar.ops_nn`), and the views the strategies and the reference read (by name, by spelling, by result
type). The row types are in :mod:`grammar.rows`. Adding a builtin is one row in a group module, its semantics
function, and its tests.
"""

from __future__ import annotations

from dataclasses import replace

from . import ops_core, ops_linalg, ops_nn, ops_quat, ops_scalar
from .ops_core import (  # noqa: F401  (re-exported: the table's readers import them from here)
    ATOMIC_CLASSES, ATOMICS, MISSING_ADJOINTS, OWN_SLOT_ATOMICS, adjoint_missing,
)
from .rows import DOMAINS, Op, Signature, sig  # noqa: F401  (re-exported)
from .types import ValueType

#: the core rows (:mod:`grammar.ops_core`)
CORE_OPS: tuple[Op, ...] = ops_core.ROWS


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


GROUP_MODULES = (ops_scalar, ops_linalg, ops_quat, ops_nn)
OPS = _assemble(CORE_OPS, GROUP_MODULES)
#: every argument domain of the table (the core ones, then each group module's) and what it guarantees
DOMAIN_DOCS: dict[str, str] = dict(DOMAINS)
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
    an older Warp release does not have (``harness.warp_side.warp_adapter.missing_rows``; none on the release the table
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
    (``harness.warp_side.overloads``); a row left without any overload is left out whole. :data:`BY_NAME` keeps every
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
