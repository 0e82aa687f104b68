"""Sink outputs: every local a kernel computes reaches an output.

A value that no output depends on tests nothing: a fault in the builtin that computed it cannot be seen.
So at the end of every block (the kernel body's too) each local that goes out of scope is stored into a
*sink* output: one array per value type, named ``sink<n>``, in which every thread owns ``K`` slots (one
per sink statement of that type) laid out along the last launch dimension,
``sink0[tid + k * n]`` (``[ti, tj + k * n]`` for 2-D launches, ``n`` the last launch extent). Each slot is
written by one statement of one thread, so there are no races; outside loops a slot is written at most
once, inside a loop the value is accumulated (``sink0[tid + k * n] += x``, Warp's in-place array add,
whose adjoint is right on every iteration) where the type has ``+`` and no overflow can happen (floats,
composites, wrapping unsigned ints), otherwise the last iteration's value is stored.

A value can also leave before its block ends, and is then sunk where it leaves (only when nothing has read
it: :attr:`strategies.scope.Var.unread`): before a plain assignment or a component write overwrites it
(``sink0[tid + 32] = x3; x3 = e``), and before a ``return`` (every local in scope) or a ``break``/``continue``
(the locals of the loop's body) that would skip the block's own sinks, inside the jump's ``if``. An output
stored to twice keeps the first value the same way: the later store accumulates (``out0[tid] += e``) where
the type allows (:func:`strategies.statements.accumulates`), else (ints, bools) goes to a sink slot of its own.

A struct local is sunk field by field (``sink2[tid] = r3.m0``; array fields, views of inputs, are not). A
``@wp.func`` helper (whose struct locals are not folded) has no
arrays to store into: a local of one of its nested blocks is folded into the helper's *carry* local of its
type instead (``k3 += x`` where the type has ``+`` and no overflow can happen, ``k3 = k3 ^ x`` for int32/int64,
else ``k3 = x``), declared
at the top of the helper with a literal and returned with the helper's results
(:mod:`strategies.functions`); its top-level locals are returned directly.

Shrinking: sink statements are derived from the locals, not drawn, so they shrink with them.
"""

from __future__ import annotations

import libcst as cst

from grammar.types import Composite, Scalar, Struct

from . import _cst as B
from .core import accumulates, has_binop, tracks_interval
from .scope import Scope, Var


def _accumulates(t) -> bool:
    return accumulates(t)


def sink_index(sc: Scope, k: int) -> list[cst.BaseExpression]:
    """This thread's slot ``k``: the own-slot index with ``k * n`` added to the last launch dimension."""
    idx = sc.own_slot()
    if k:
        idx[-1] = B.binop(idx[-1], "+", B.int_lit(k * sc.dims[-1]))
    return idx


def sink_target(sc: Scope, t) -> cst.Subscript:
    """A fresh slot of this thread in the sink array of type ``t``, as an assignment target (``sink0[tid + 32]``)."""
    name, k = sc.sink_slot(t)
    return B.subscript(B.name(name), *sink_index(sc, k))


def sink_statements(sc: Scope, variables: list[Var]) -> list[cst.BaseStatement]:
    """One sink store per local in ``variables`` (see the module docstring)."""
    if sc.in_func:
        return carry_statements(sc, variables)
    out = []
    for v in variables:
        if v.kind != "local":
            continue
        values = [(B.name(v.name), v.type)]
        if isinstance(v.type, Struct):  # each value field (array fields are views of inputs)
            values = [(B.attribute(B.name(v.name), f), ft) for f, ft in v.type.fields
                      if isinstance(ft, (Scalar, Composite))]
        for value, t in values:
            target = sink_target(sc, t)
            if sc.loop_depth > 0 and _accumulates(t):
                out.append(B.aug_assign(target, "+", value))
            else:
                out.append(B.assign(target, value))
    return out


def carry_statements(sc: Scope, variables: list[Var]) -> list[cst.BaseStatement]:
    """In a helper: one fold of each local of ``variables`` into the carry of its type (see the module
    docstring); the carries are declared and returned by :func:`strategies.functions.helper_function`."""
    out = []
    for v in variables:
        if v.kind != "local" or isinstance(v.type, Struct):
            continue
        lo, hi = v.interval if tracks_interval(v.type) else (0, 0)
        name, _ = sc.carry(v.type, lo, hi)
        if _accumulates(v.type):
            out.append(B.aug_assign(B.name(name), "+", B.name(v.name)))
        elif xor_folds(v.type):  # every folded value reaches the result (`k = x` kept only the last one)
            out.append(B.assign(B.name(name), B.binop(B.name(name), "^", B.name(v.name))))
        else:
            out.append(B.assign(B.name(name), B.name(v.name)))
    return out


def xor_folds(t) -> bool:
    """An int carry of a tracked type is folded with ``^`` (no overflow; see :func:`xor_closure`)."""
    return tracks_interval(t) and has_binop("^", t)


def xor_closure(lo: int, hi: int) -> tuple[int, int]:
    """The smallest ``[-2**m, 2**m - 1]`` holding ``[lo, hi]``: closed under ``^``, so a carry folded with
    ``^`` from values in it (its literal start included) stays in it."""
    m = max(abs(lo), abs(hi)).bit_length()
    return -(2 ** m), 2 ** m - 1


def sink_shapes(sc: Scope) -> list[tuple[str, object, tuple[int, ...]]]:
    """(name, element type, array shape) of every sink array the kernel uses, in creation order."""
    dims = sc.dims
    return [(name, t, (*dims[:-1], dims[-1] * count)) for t, (name, count) in sc.sinks.items()]
