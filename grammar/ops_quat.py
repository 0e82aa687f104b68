"""Quaternions and transforms: operator-table rows of Warp's "Quaternion Math" builtin group and "Transformations".

Conventions (see grammar/ops_core.py): ``ROWS`` are new rows; ``EXTEND`` maps an existing row's name to extra
signatures (each may carry ``semantics=`` when the row's own semantics does not fit the new types);
``DOMAINS`` names and documents new argument domains; ``GUARDS`` maps each new domain to a source template
``guard(t, e) -> str`` that turns any expression source ``e`` of type ``t`` into a fully parenthesised
expression whose value lies in the domain.

Every row has one signature per float scalar type (``quat``/``quath``/``quatd``, ``transform``/``transformh``/
``transformd``), except the builtins Warp writes as float32-only ``@wp.func`` (``quat_from_euler``,
``quat_to_euler``, ``quat_to_rpy``, ``quat_twist``, ``quat_twist_angle``, ``quat_twist_angle_signed``).
Semantics live in :mod:`grammar.semantics_quat`.

Constructors: the type constructors ``wp.quat*``/``wp.transform*`` are ``construct`` rows (the generator
builds literals from their all-scalar forms), ``wp.quaternion``/``wp.transformation`` are ``call`` rows that
also carry the dtype-keyword, fill and zero forms. ``wp.quat(s)`` (fill) does not compile and a transform
copy cannot change its dtype, so neither is listed.

Operators and other groups' builtins on quaternions/transforms are ``EXTEND`` signatures: ``+ - *`` (``q * q``
is the Hamilton product, ``t * t`` is ``transform_multiply``), ``q / s``, ``-q``, ``q[k]``/``t[k]``, ``where``,
``dot``/``length``/``normalize`` of quaternions, and (``SIBLING_EXTEND``, when ops_scalar/ops_linalg define the
row) ``+q``, ``length_sq``, ``isfinite``/``isnan``/``isinf`` and ``lerp``. Warp has no ``-t`` or ``t / s`` for
transforms; ``s / q`` exists but is left out (the ``div`` row's divisor domain would apply to a quaternion).

Statement rows (generated as statements, never inside expressions; checked against Warp by custom kernels in
``tests/test_conformance_quat.py``):

* ``transform_decompose(m)`` returns a tuple ``(position, rotation, scale)`` (``returns_tuple``);
* ``transform_set_translation(t, p)`` / ``transform_set_rotation(t, q)`` modify their *first* argument
  (``inplace``);
* ``quat_to_axis_angle(q, axis, angle)`` writes through its last two arguments (``outputs``).

Not rows: ``quat_to_axis_angle(q)``'s one-argument tuple form (the same builtin as the output form), and
``transform_set_translation_copy`` / ``transform_set_rotation_copy``, which do not compile in Warp 1.19
(documented: "currently unusable", the C++ return type stays the generic ``transform_t<Float>``).
"""

from __future__ import annotations

import math

from . import semantics_quat as Q
from .rows import Op, Signature, sig
from .ops_scalar import literal as _literal
from .types import BOOL, FLOAT32, FLOATS, INT32, Scalar, ValueType, composite


def _quat(d: Scalar):
    return composite("quat", d)


def _xform(d: Scalar):
    return composite("transform", d)


def _v3(d: Scalar):
    return composite("vector", d, 3)


def _m33(d: Scalar):
    return composite("matrix", d, 3)


def _m44(d: Scalar):
    return composite("matrix", d, 4)


def _dtype(d: Scalar) -> tuple[tuple[str, str], ...]:
    return (("dtype", d.warp_name),)


def _per_float(make) -> tuple[Signature, ...]:
    """``make(d)`` (one signature or a tuple of them) for each float scalar type, concatenated."""
    out: list[Signature] = []
    for d in FLOATS:
        s = make(d)
        out.extend(s if isinstance(s, tuple) else (s,))
    return tuple(out)


F32, QF, V3F = FLOAT32, _quat(FLOAT32), _v3(FLOAT32)
_AXIS = "axis_index"

# ---- constructors -------------------------------------------------------------------------------------------


def _quat_type_row(d: Scalar) -> Op:
    """``wp.quat``/``wp.quath``/``wp.quatd``: four scalars, ``(vec3, w)``, a copy, or a dtype conversion."""
    q = _quat(d)
    sigs = (sig(q, d, d, d, d), sig(q, _v3(d), d)) + tuple(sig(q, _quat(src)) for src in FLOATS)
    return Op(q.name, "construct", q.warp_name, sigs, Q.quaternion, family="quat", exact=True)


def _transform_type_row(d: Scalar) -> Op:
    """``wp.transform``/``wp.transformh``/``wp.transformd``: seven scalars, ``(p, q)``, ``(p)``, a copy."""
    t = _xform(d)
    sigs = (sig(t, *([d] * 7)), sig(t, _v3(d), _quat(d)), sig(t, _v3(d)), sig(t, t))
    return Op(t.name, "construct", t.warp_name, sigs, Q.transformation, family="transform", exact=True)


_QUATERNION_SIGS = _per_float(lambda d: (
    sig(_quat(d), d, d, d, d),
    sig(_quat(d), _v3(d), d),
    sig(_quat(d), _quat(d)),
    *(Signature((_quat(src),), _quat(d), keywords=_dtype(d)) for src in FLOATS),
    Signature((), _quat(d), keywords=_dtype(d)),
)) + (sig(QF),)

_TRANSFORMATION_SIGS = _per_float(lambda d: (
    sig(_xform(d), _v3(d), _quat(d)),
    sig(_xform(d), _v3(d)),
    sig(_xform(d), *([d] * 7)),
    sig(_xform(d), d),
    sig(_xform(d), _xform(d)),
    Signature((), _xform(d), keywords=_dtype(d)),
)) + (sig(_xform(F32)),)

_IDENTITY = {"quat": sig(QF), "transform": sig(_xform(F32))}


def _identity_sigs(kind: str) -> tuple[Signature, ...]:
    return (_IDENTITY[kind],) + _per_float(lambda d: Signature((), composite(kind, d), keywords=_dtype(d)))


# ---- rows -------------------------------------------------------------------------------------------------------

_RQ = dict(family="quat")
_RT = dict(family="transform")

ROWS: tuple[Op, ...] = (
    # constructors (type constructors first: the generator's literals come from them)
    *(_quat_type_row(d) for d in FLOATS),
    *(_transform_type_row(d) for d in FLOATS),
    Op("quaternion", "call", "wp.quaternion", _QUATERNION_SIGS, Q.quaternion, exact=True, **_RQ),
    Op("transformation", "call", "wp.transformation", _TRANSFORMATION_SIGS, Q.transformation, exact=True, **_RT),
    Op("quat_identity", "call", "wp.quat_identity", _identity_sigs("quat"), Q.quat_identity,
       differentiable=False, exact=True, **_RQ),
    Op("transform_identity", "call", "wp.transform_identity", _identity_sigs("transform"), Q.transform_identity,
       differentiable=False, exact=True, **_RT),
    # --- Quaternion Math ---
    Op("quat_inverse", "call", "wp.quat_inverse", _per_float(lambda d: sig(_quat(d), _quat(d))), Q.quat_inverse,
       exact=True, **_RQ),
    Op("quat_from_axis_angle", "call", "wp.quat_from_axis_angle",
       _per_float(lambda d: sig(_quat(d), _v3(d), d)), Q.quat_from_axis_angle, **_RQ),
    Op("quat_rpy", "call", "wp.quat_rpy", _per_float(lambda d: sig(_quat(d), d, d, d)), Q.quat_rpy, **_RQ),
    Op("quat_rotate", "call", "wp.quat_rotate", _per_float(lambda d: sig(_v3(d), _quat(d), _v3(d))),
       Q.quat_rotate, ("unit_quat", "any"), **_RQ),
    Op("quat_rotate_inv", "call", "wp.quat_rotate_inv", _per_float(lambda d: sig(_v3(d), _quat(d), _v3(d))),
       Q.quat_rotate_inv, ("unit_quat", "any"), **_RQ),
    Op("quat_slerp", "call", "wp.quat_slerp", _per_float(lambda d: sig(_quat(d), _quat(d), _quat(d), d)),
       Q.quat_slerp, ("unit_quat", "any", "any"), **_RQ),
    Op("quat_to_matrix", "call", "wp.quat_to_matrix", _per_float(lambda d: sig(_m33(d), _quat(d))),
       Q.quat_to_matrix, ("unit_quat",), **_RQ),
    Op("quat_from_matrix", "call", "wp.quat_from_matrix",
       _per_float(lambda d: (sig(_quat(d), _m33(d)), sig(_quat(d), _m44(d)))), Q.quat_from_matrix,
       ("rotation_block",), **_RQ),
    Op("quat_to_axis_angle", "call", "wp.quat_to_axis_angle",
       _per_float(lambda d: Signature((_quat(d), _v3(d), d), None)), Q.quat_to_axis_angle, outputs=2, **_RQ),
    # float32-only @wp.func builtins of warp/_src/math.py
    Op("quat_from_euler", "call", "wp.quat_from_euler", (sig(QF, V3F, INT32, INT32, INT32),), Q.quat_from_euler,
       ("any", _AXIS, _AXIS, _AXIS), **_RQ),
    Op("quat_to_euler", "call", "wp.quat_to_euler", (sig(V3F, QF, INT32, INT32, INT32),), Q.quat_to_euler,
       ("any", _AXIS, _AXIS, _AXIS), perturb_floor=math.pi, **_RQ),
    Op("quat_to_rpy", "call", "wp.quat_to_rpy", (sig(V3F, QF),), Q.quat_to_rpy, ("unit_quat",), **_RQ),
    Op("quat_twist", "call", "wp.quat_twist", (sig(QF, V3F, QF),), Q.quat_twist, **_RQ),
    Op("quat_twist_angle", "call", "wp.quat_twist_angle", (sig(F32, V3F, QF),), Q.quat_twist_angle, **_RQ),
    Op("quat_twist_angle_signed", "call", "wp.quat_twist_angle_signed", (sig(F32, V3F, QF),),
       Q.quat_twist_angle_signed, **_RQ),
    # --- Transformations ---
    Op("transform_get_translation", "call", "wp.transform_get_translation",
       _per_float(lambda d: sig(_v3(d), _xform(d))), Q.transform_get_translation, exact=True, **_RT),
    Op("transform_get_rotation", "call", "wp.transform_get_rotation",
       _per_float(lambda d: sig(_quat(d), _xform(d))), Q.transform_get_rotation, exact=True, **_RT),
    Op("transform_multiply", "call", "wp.transform_multiply",
       _per_float(lambda d: sig(_xform(d), _xform(d), _xform(d))), Q.transform_multiply, **_RT),
    # the 4x4-matrix overloads of transform_point/transform_vector are in Warp's "Vector Math" group; one row
    # per builtin name holds both
    Op("transform_point", "call", "wp.transform_point",
       _per_float(lambda d: (sig(_v3(d), _xform(d), _v3(d)), sig(_v3(d), _m44(d), _v3(d)))), Q.transform_point,
       ("rigid_transform", "any"), **_RT),
    Op("transform_vector", "call", "wp.transform_vector",
       _per_float(lambda d: (sig(_v3(d), _xform(d), _v3(d)), sig(_v3(d), _m44(d), _v3(d)))), Q.transform_vector,
       ("rigid_transform", "any"), **_RT),
    Op("transform_inverse", "call", "wp.transform_inverse", _per_float(lambda d: sig(_xform(d), _xform(d))),
       Q.transform_inverse, ("rigid_transform",), **_RT),
    Op("transform_to_matrix", "call", "wp.transform_to_matrix", _per_float(lambda d: sig(_m44(d), _xform(d))),
       Q.transform_to_matrix, **_RT),
    Op("transform_from_matrix", "call", "wp.transform_from_matrix", _per_float(lambda d: sig(_xform(d), _m44(d))),
       Q.transform_from_matrix, ("rotation_matrix",), **_RT),
    Op("transform_compose", "call", "wp.transform_compose",
       _per_float(lambda d: sig(_m44(d), _v3(d), _quat(d), _v3(d))), Q.transform_compose, **_RT),
    # statements, not expressions (strategies.statements.builtin_statement)
    Op("transform_decompose", "call", "wp.transform_decompose",
       _per_float(lambda d: Signature((_m44(d), _v3(d), _quat(d), _v3(d)), None)), Q.transform_decompose,
       outputs=3, returns_tuple=True, **_RT),
    Op("transform_set_translation", "call", "wp.transform_set_translation",
       _per_float(lambda d: Signature((_xform(d), _v3(d)), None)), Q.transform_set_translation, exact=True,
       inplace=True, **_RT),
    Op("transform_set_rotation", "call", "wp.transform_set_rotation",
       _per_float(lambda d: Signature((_xform(d), _quat(d)), None)), Q.transform_set_rotation, exact=True,
       inplace=True, **_RT),
)

# ---- quaternion and transform overloads of core rows ------------------------------------------------------------


def _same2(make) -> tuple[Signature, ...]:
    return _per_float(lambda d: (sig(make(d), make(d), make(d))))


EXTEND: dict[str, tuple[Signature, ...]] = {
    "add": _same2(_quat) + _same2(_xform),
    "sub": _same2(_quat) + _same2(_xform),
    "mul": _per_float(lambda d: (
        Signature((_quat(d), _quat(d)), _quat(d), Q.quat_mul),  # Hamilton product
        sig(_quat(d), _quat(d), d),
        sig(_quat(d), d, _quat(d)),
        Signature((_xform(d), _xform(d)), _xform(d), Q.transform_multiply),
        sig(_xform(d), _xform(d), d),
        sig(_xform(d), d, _xform(d)),
    )),
    # quat / scalar only: `scalar / quat` (component-wise) exists too, but the div row's divisor domain
    # ("nonzero") would then apply to a quaternion
    "div": _per_float(lambda d: sig(_quat(d), _quat(d), d)),
    "neg": _per_float(lambda d: Signature((_quat(d),), _quat(d), Q.quat_neg)),
    "dot": _per_float(lambda d: Signature((_quat(d), _quat(d)), d, Q.quat_dot)),
    "length": _per_float(lambda d: Signature((_quat(d),), d, Q.quat_length)),
    "normalize": _per_float(lambda d: Signature((_quat(d),), _quat(d), Q.quat_normalize)),
    "component": _per_float(lambda d: (Signature((_quat(d), INT32), d, Q.component),
                                       Signature((_xform(d), INT32), d, Q.component))),
    "where": _per_float(lambda d: (sig(_quat(d), BOOL, _quat(d), _quat(d)),
                                   sig(_xform(d), BOOL, _xform(d), _xform(d)))),
}

#: quaternion/transform overloads of rows that other group modules define; each is added to ``EXTEND`` when
#: its row exists (ops.py assembles ops_scalar and ops_linalg before this module)
SIBLING_EXTEND: dict[str, tuple[Signature, ...]] = {
    "pos": _per_float(lambda d: Signature((_quat(d),), _quat(d), Q.quat_pos)),
    "length_sq": _per_float(lambda d: Signature((_quat(d),), d, Q.quat_length_sq)),
    "isfinite": _per_float(lambda d: Signature((_quat(d),), BOOL, Q.quat_isfinite)),
    "isnan": _per_float(lambda d: Signature((_quat(d),), BOOL, Q.quat_isnan)),
    "isinf": _per_float(lambda d: Signature((_quat(d),), BOOL, Q.quat_isinf)),
    "lerp": _per_float(lambda d: (Signature((_quat(d), _quat(d), d), _quat(d), Q.lerp),
                                  Signature((_xform(d), _xform(d), d), _xform(d), Q.lerp))),
}


def _sibling_rows() -> set[str]:
    from . import ops_linalg, ops_scalar

    return {op.name for m in (ops_scalar, ops_linalg) for op in m.ROWS}


EXTEND.update({name: sigs for name, sigs in SIBLING_EXTEND.items() if name in _sibling_rows()})

# ---- domains ----------------------------------------------------------------------------------------------------

DOMAINS: dict[str, str] = {
    "unit_quat": "a quaternion of unit length (up to rounding): a rotation",
    "rigid_transform": "a transform whose rotation has unit length (a 4x4 matrix argument is unconstrained)",
    "rotation_matrix": "a 3x3 rotation matrix, or a 4x4 matrix whose top-left 3x3 block is one",
    "rotation_block": "a rotation_matrix of which the row reads only the 3x3 rotation (a 4x4's translation is "
                      "never read)",
    "axis_index": "an int32 axis index in {0, 1, 2}",
}


def unit_quat_source(t: ValueType, e: str) -> str:
    """``normalize(2 normalize(e) + 1)`` with ``1`` the identity quaternion of ``t``'s dtype.

    ``normalize(e)`` is a unit quaternion, the identity (``e`` zero or NaN: Warp's normalize falls back to
    it), zero (``|e|^2`` overflows: ``e * (1/inf)``) or NaN (``e`` has an infinite component). Doubling is
    exact (a Hamilton product with ``(0, 0, 0, 2)``, written ``I + I`` so no literal of ``t``'s dtype is
    needed); adding the identity gives a length >= 1 for a unit quaternion, 2 for the identity, 1 for zero,
    NaN for NaN; the outer normalize maps all of these to unit length (NaN to the identity). Every rotation
    is reachable: ``-1`` gives ``(0, 0, 0, -1)``.
    """
    one = f"wp.quat_identity(dtype={t.scalar.warp_name})"
    return f"wp.normalize(((wp.normalize({e}) * ({one} + {one})) + {one}))"


def rigid_transform_source(t: ValueType, e: str) -> str:
    """``transformation(translation of e, unit_quat(rotation of e))``; ``e`` is spelled twice (there is no
    single-use way to replace a transform's rotation). Matrix arguments pass unchanged."""
    if t.kind != "transform":
        return f"({e})"
    q = unit_quat_source(_quat(t.scalar), f"wp.transform_get_rotation({e})")
    return f"wp.transformation(wp.transform_get_translation({e}), {q})"


def rotation_matrix_source(t: ValueType, e: str) -> str:
    """The rotation of ``unit_quat(quat_from_matrix(e))``; a 4x4 matrix keeps ``e``'s translation column
    (``e`` is then spelled twice) and gets the bottom row ``(0, 0, 0, 1)``."""
    q = unit_quat_source(_quat(t.scalar), f"wp.quat_from_matrix({e})")
    if t.shape == (3, 3):
        return f"wp.quat_to_matrix({q})"
    return (f"wp.transform_to_matrix(wp.transformation("
            f"wp.transform_get_translation(wp.transform_from_matrix({e})), {q}))")


def rotation_block_source(t: ValueType, e: str) -> str:
    """:func:`rotation_matrix_source` for a row that reads only the rotation (``quat_from_matrix``): a 4x4
    matrix gets a zero translation, since any translation kept from ``e`` could not reach an output (it was
    ``transform_from_matrix(e)``'s translation: a use of that row that no fault of it could ever show through)."""
    if t.shape == (3, 3):
        return rotation_matrix_source(t, e)  # a 3x3 has no translation: the same guard
    q = unit_quat_source(_quat(t.scalar), f"wp.quat_from_matrix({e})")
    zero = _literal(t.scalar, 0.0)
    return f"wp.transform_to_matrix(wp.transformation({_v3(t.scalar).warp_name}({zero}, {zero}, {zero}), {q}))"


def axis_index_source(t: ValueType, e: str) -> str:
    """``|e % 3|``: C's ``%`` keeps the dividend's sign, so ``e % 3`` is in (-3, 3)."""
    return f"wp.abs(({e}) % 3)"


GUARDS = {
    "unit_quat": unit_quat_source,
    "rigid_transform": rigid_transform_source,
    "rotation_matrix": rotation_matrix_source,
    "rotation_block": rotation_block_source,
    "axis_index": axis_index_source,
}
