"""User ``@wp.struct`` types: their definitions, struct-valued expressions, field reads and field writes.

What is generated: per kernel 0..``policy.max_structs`` types ``S0``, ``S1``... (module-level classes) with
1..``policy.max_struct_fields`` fields ``m0``, ``m1``... of the kernel's scalar/vector/matrix types and, with
odds 1 : ``policy.struct_array_field_odds``, one trailing 1-D array field. Struct values appear as

* kernel parameters ``sp0: S0`` (the only place a struct with an array field appears: a local's array
  field would be null), read as ``sp0.m0``, ``sp0.m1[2]``, ``sp0.m2[tid]``;
* elements of input arrays ``a0: wp.array(dtype=S0)`` (``a0[tid].m0``) and of own-slot outputs
  (``out0[tid] = r3``, ``out0[tid].m1 = e``, ``out0[tid].m1[0] = e``);
* locals ``r3 = S0()`` (zero-initialised), ``r4 = a0[i]`` (a copy: Warp structs are values), with field
  writes ``r3.m0 = e`` and component writes ``r3.m1[2] = e`` / ``r3.m2[0, 1] = e``;
* arguments and results of ``@wp.func`` helpers.

Guarantees: int fields of interval-tracked types always hold a value in ``policy.int_input_range`` (inputs
are drawn there, writes are clamped into it, zero is inside), so reads carry that interval; array-field
indices are in bounds like every other index. Shrinking: toward no struct types (the count shrinks to 0),
fewer fields, no array field; struct-valued expressions shrink toward the zero constructor ``S0()``.
"""

from __future__ import annotations

import hypothesis.strategies as st
import libcst as cst

from grammar.types import FLOAT32, INT32, Array, Composite, Struct

from . import _cst as B
from .core import Expr, choose, clamp_into, tracks_interval
from .expressions import element_index, expression, index_expr
from .registry import P
from .scope import Scope


def struct_types(draw, policy, field_types: list) -> list[Struct]:
    """0..policy.max_structs struct types over ``field_types`` (simplest first: shrinking prefers them)."""
    counts = list(range(min(policy.max_structs, len(policy.struct_odds) - 1) + 1))
    n = choose(draw, counts, list(policy.struct_odds[: len(counts)]))
    out = []
    for i in range(n):
        fields = [(f"m{j}", choose(draw, field_types)) for j in range(draw(st.integers(1, policy.max_struct_fields)))]
        if draw(st.integers(0, policy.struct_array_field_odds)) == policy.struct_array_field_odds:
            fields.append((f"m{len(fields)}", Array(choose(draw, [FLOAT32, INT32]), 1)))
        out.append(Struct(f"S{i}", tuple(fields)))
    return out


def struct_def(s: Struct) -> cst.ClassDef:
    """The module-level ``@wp.struct`` class of ``s``."""
    return B.struct_def(s.name, [(f, t.warp_name) for f, t in s.fields])


def field_interval(sc: Scope, t) -> tuple[int, int]:
    """The interval every int field of type ``t`` stays in (inputs, clamped writes and the zero default)."""
    lo, hi = sc.policy.int_input_range
    return max(min(lo, 0), t.min), min(max(hi, 0), t.max)


def value_fields(s: Struct) -> list[tuple[str, object]]:
    """The (name, type) of each field of ``s`` that holds a value (its array fields left out)."""
    return [(f, t) for f, t in s.fields if not isinstance(t, Array)]


# ---- expressions --------------------------------------------------------------------------------------------------


@P.register
def struct_expr(draw, sc: Scope, s: Struct, depth: int) -> Expr:
    """A value of struct type ``s``: ``S0()``, a variable, an input element ``a0[i]`` or a helper call."""
    options = ["new"]
    if sc.of_type(s):
        options.append("var")
    if any(a.dtype == s for a in sc.inputs):
        options.append("load")
    if depth > 0 and any(f.returns == (s,) for f in sc.funcs):
        options.append("call")
    kind = choose(draw, options)
    if kind == "var":
        v = choose(draw, sc.of_type(s))
        v.unread = False
        return Expr(B.name(v.name), s)
    if kind == "load":
        a = choose(draw, [a for a in sc.inputs if a.dtype == s])
        idx = element_index(draw, sc, depth)
        return Expr(B.subscript(B.name(a.name), *[i.node for i in idx]), s)
    if kind == "call":
        return P.call_expr(draw, sc, s, depth)
    return Expr(B.call(s.name), s, is_literal=True)


def _sources(sc: Scope, t) -> list[tuple[str, object, str]]:
    out = []
    for v in sc.vars:
        if isinstance(v.type, Struct):
            for f, ft in v.type.fields:
                if ft == t:
                    out.append(("var", v, f))
                elif isinstance(ft, Array) and ft.dtype == t and v.kind == "param" and not sc.in_func:
                    out.append(("array", v, f))
    for a in sc.inputs:
        if isinstance(a.dtype, Struct):
            out += [("load", a, f) for f, ft in a.dtype.fields if ft == t]
    return out


@P.register
def has_field_reads(sc: Scope, t) -> bool:
    """Whether some struct in scope has a field of type ``t`` an expression may read (:func:`field_read`)."""
    return bool(_sources(sc, t))


@P.register
def field_read(draw, sc: Scope, t, depth: int) -> Expr | None:
    """A read of a field of type ``t`` (``r3.m0``, ``a0[tid].m1``, ``sp0.m2[i]``), or None when there is none."""
    sources = _sources(sc, t)
    if not sources:
        return None
    kind, src, f = choose(draw, sources)
    if kind == "load":
        idx = element_index(draw, sc, depth)
        node = B.attribute(B.subscript(B.name(src.name), *[i.node for i in idx]), f)
    elif kind == "array":
        i = index_expr(draw, sc, depth, sc.dims[0], sc.tid(0))
        node = B.subscript(B.attribute(B.name(src.name), f), i.node)
    else:
        node = B.attribute(B.name(src.name), f)
        src.unread = False
    lo, hi = field_interval(sc, t) if tracks_interval(t) else (0, 0)
    return Expr(node, t, lo, hi)


# ---- statements ---------------------------------------------------------------------------------------------------


def field_store(draw, sc: Scope, base: cst.BaseExpression, s: Struct, depth: int) -> cst.BaseStatement:
    """``base.m = e``, or ``base.m[k] = e`` / ``base.m[i, j] = e`` on a composite field."""
    f, t = choose(draw, value_fields(s))
    target = B.attribute(base, f)
    if isinstance(t, Composite) and draw(st.booleans()):
        index = [B.int_lit(draw(st.integers(0, n - 1))) for n in t.shape]
        return B.assign(B.subscript(target, *index), expression(draw, sc, t.scalar, depth).node)
    e = expression(draw, sc, t, depth)
    if tracks_interval(t):
        e = clamp_into(e, *field_interval(sc, t))
    return B.assign(target, e.node)


def struct_declare(draw, sc: Scope) -> cst.BaseStatement | None:
    """``r<n> = <struct value>``: a new struct local (types with an array field are never locals)."""
    types = [s for s in sc.structs if not s.has_array]
    if not types:
        return None
    s = choose(draw, types)
    return P.declare_value(draw, sc, struct_expr(draw, sc, s, draw(st.integers(0, sc.policy.max_expr_depth))))


def field_write(draw, sc: Scope) -> cst.BaseStatement | None:
    """A field or field-component write on a struct local."""
    targets = [v for v in sc.vars if v.assignable and isinstance(v.type, Struct)]
    if not targets:
        return None
    v = choose(draw, targets)
    return field_store(draw, sc, B.name(v.name), v.type, draw(st.integers(0, sc.policy.max_expr_depth)))
