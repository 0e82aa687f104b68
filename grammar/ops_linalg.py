"""Vector, matrix and spatial math: operator-table rows of Warp's "Vector Math" builtin group, "Spatial Math" and the composite overloads of "Operators".

Conventions (see grammar/ops_core.py): ``ROWS`` are new rows; ``EXTEND`` maps an existing row's name to extra
signatures (each may carry ``semantics=`` when the row's own semantics does not fit the new types);
``DOMAINS`` names and documents new argument domains; ``GUARDS`` maps each new domain to a source template
``guard(t, e) -> str`` that turns any expression source ``e`` of type ``t`` into a fully parenthesised
expression whose value lies in the domain.

Types: the vectors are ``vec2/3/4`` and ``spatial_vector`` (Warp's ``vector(length=6)``), the matrices
``mat22/33/44`` and ``spatial_matrix`` (``matrix(shape=(6, 6))``), each over float32, float64 and float16
(``vec3``/``vec3d``/``vec3h``...). A builtin Warp defines for ``vector(length=Any)`` or ``matrix(shape=(Any,
Any))`` gets one signature per such type; non-square results (``outer`` of two lengths, ``matrix_from_cols``
of two vec3) have no type in the grammar and are left out. Semantics live in :mod:`grammar.semantics_linalg`
and reproduce Warp's CPU results bit for bit (see its docstring).

Constructors: the type constructors (``wp.vec3h(x, y, z)``, ``wp.mat22d(a, b, c, d)``, ``wp.vec3h(v)`` from
another dtype) are ``construct`` rows; the generator builds its literals from their all-scalar forms, so their
zero (``wp.vec3()``) and fill (``wp.vec3(s)``) forms are spelled through the generic ``wp.vector``/
``wp.matrix`` rows instead (``wp.vector(length=3, dtype=wp.float16)``, ``wp.vector(s, length=3)``,
``wp.matrix(s, shape=(2, 2))``, ``wp.vector(v, dtype=wp.float64)``...).

Left out, because Warp 1.19 rejects them (codegen errors, or C++ that does not build):

* ``!=`` and ``<``/``<=``/``>``/``>=`` on vectors and matrices (codegen accepts them, the C++ does not compile;
  ``==`` works and is a signature of ``eq``);
* conversions of a matrix to float16 (``wp.mat22h(m)`` with ``m`` a ``mat22``): the generated adjoint does not
  compile (ambiguous ``float += half``);
* ``wp.spatial_vector(s)`` (fill) and every ``dtype=`` form of ``wp.spatial_vector`` but float32's, so the
  ``(w, v)`` constructor exists for float32 only; ``wp.spatial_vector(v)`` (copy) does not resolve;
* a matrix "filled" with a vector (``wp.mat22(v)``);
* ``norm_l1``, ``norm_huber``, ``norm_pseudo_huber``, ``smooth_normalize`` on float16/float64 vectors (the
  ``@wp.func`` helpers mix their float32 literals with the vector's dtype), and ``velocity_at_point``,
  ``transform_twist``, ``transform_wrench`` on anything but float32 (annotated ``wp.spatial_vector``);
* ``m[i, j]`` (two indices): the reference reads it (``Runtime.cget``), but the ``index`` syntax of the table
  renders one index, so only the row read ``m[i]`` is a ``component`` signature.

The decompositions ``svd3``, ``svd2``, ``qr3``, ``eig3`` are output-argument rows (``outputs=k``): their
semantics take the input matrix only and return the tuple of outputs, which equal Warp's bit for bit
(fixed-iteration Jacobi and Givens, ported from svd.h), so their non-unique signs and orderings need no
special treatment.

Builtins whose scalar rows belong to :mod:`grammar.ops_scalar` (``sign``, ``isnan``, ``isinf``, ``isfinite``,
``lerp``, unary ``+``) get their vector/matrix overloads as ``EXTEND`` signatures when that module (or the core)
defines the row, and as rows of this module otherwise.
"""

from __future__ import annotations

from . import intervals as IV
from . import ops_scalar
from . import semantics_linalg as L
from .ops_core import ROWS as CORE_OPS
from .rows import Op, Signature, sig
from .types import BOOL, FLOAT32, FLOATS, INT32, TRANSFORM, UINT32, Composite, Scalar, ValueType, composite

SIZES = (2, 3, 4, 6)  # 6: spatial_vector / spatial_matrix
SQUARE = (2, 3, 4)  # sizes with determinant and inverse


def vec(d: Scalar, n: int) -> Composite:
    return composite("spatial_vector", d) if n == 6 else composite("vector", d, n)


def mat(d: Scalar, n: int) -> Composite:
    return composite("spatial_matrix", d) if n == 6 else composite("matrix", d, n)


VECTORS: tuple[Composite, ...] = tuple(vec(d, n) for d in FLOATS for n in SIZES)
MATRICES: tuple[Composite, ...] = tuple(mat(d, n) for d in FLOATS for n in SIZES)
F32_VECTORS: tuple[Composite, ...] = tuple(vec(FLOAT32, n) for n in SIZES)
V3F, SVF = vec(FLOAT32, 3), vec(FLOAT32, 6)


def _kw(**pairs: str) -> tuple[tuple[str, str], ...]:
    return tuple(pairs.items())


def _each(types, make) -> tuple[Signature, ...]:
    """``make(t)`` (a signature or a tuple of them) for every type, concatenated."""
    out: list[Signature] = []
    for t in types:
        s = make(t)
        out.extend(s if isinstance(s, tuple) else (s,))
    return tuple(out)


def _with(semantics, *sigs: Signature) -> tuple[Signature, ...]:
    return tuple(Signature(s.args, s.result, semantics, s.keywords) for s in sigs)


def _size(t: Composite) -> int:
    return t.shape[0]


# ---- constructors -------------------------------------------------------------------------------------------------


def _vector_type_row(t: Composite) -> Op:
    """``wp.vecNx(c0, ..., cN-1)`` and ``wp.vecNx(v)`` converting a vector of another dtype."""
    n, d = _size(t), t.scalar
    sigs = (sig(t, *([d] * n)),) + tuple(sig(t, vec(src, n)) for src in FLOATS if src != d)
    return Op(t.name, "construct", t.warp_name, sigs, L.construct, family="vector", exact=True)


def _matrix_type_row(t: Composite) -> Op:
    """``wp.matNNx(m00, m01, ...)`` (row-major scalars) and ``wp.matNNx(m)`` converting a matrix of another
    dtype (not to float16: Warp's adjoint of that conversion does not compile)."""
    n, d = _size(t), t.scalar
    sigs = (sig(t, *([d] * (n * n))),)
    if d.bits != 16:
        sigs += tuple(sig(t, mat(src, n)) for src in FLOATS if src != d)
    return Op(t.name, "construct", t.warp_name, sigs, L.construct, family="vector", exact=True)


def _spatial_vector_row() -> Op:
    """``wp.spatial_vector`` (the Spatial Math builtin): six float32 scalars or ``(w, v)``."""
    return Op("spatial_vector", "construct", "wp.spatial_vector", (sig(SVF, *([FLOAT32] * 6)), sig(SVF, V3F, V3F)),
              L.construct, family="spatial", exact=True)


_CONSTRUCTOR_ROWS = (
    tuple(_vector_type_row(vec(d, n)) for d in FLOATS for n in SIZES if (d, n) not in ((FLOAT32, 3), (FLOAT32, 6)))
    + (_spatial_vector_row(),)
    + tuple(_matrix_type_row(mat(d, n)) for d in FLOATS for n in SIZES)
)


def _vector_sigs(t: Composite) -> tuple[Signature, ...]:
    """``wp.vector``: components, zero (``length``, ``dtype``), fill (``length``), conversion (``dtype``)."""
    n, d = _size(t), t.scalar
    return (
        sig(t, *([d] * n)),
        Signature((), t, keywords=_kw(length=str(n), dtype=d.warp_name)),
        Signature((d,), t, keywords=_kw(length=str(n))),
        *(Signature((vec(src, n),), t, keywords=_kw(dtype=d.warp_name)) for src in FLOATS if src != d),
    )


def _shape(n: int) -> str:
    return f"({n}, {n})"


def _matrix_sigs(t: Composite) -> tuple[Signature, ...]:
    """``wp.matrix``: components (``shape``; 2x2 to 4x4), zero (``shape``, ``dtype``), fill (``shape``),
    conversion (``dtype``; not to float16)."""
    n, d = _size(t), t.scalar
    out = []
    if n in SQUARE:
        out.append(Signature(tuple([d] * (n * n)), t, keywords=_kw(shape=_shape(n))))
    out += [Signature((), t, keywords=_kw(shape=_shape(n), dtype=d.warp_name)),
            Signature((d,), t, keywords=_kw(shape=_shape(n)))]
    if d.bits != 16:
        out += [Signature((mat(src, n),), t, keywords=_kw(dtype=d.warp_name)) for src in FLOATS if src != d]
    return tuple(out)


def _identity_sig(t: Composite) -> Signature:
    return Signature((), t, keywords=_kw(n=str(_size(t)), dtype=t.scalar.warp_name))


# ---- per-type signature families ----------------------------------------------------------------------------------


def _unary_same(types, semantics=None) -> tuple[Signature, ...]:
    return _each(types, lambda t: Signature((t,), t, semantics))


def _binary_same(types, semantics=None) -> tuple[Signature, ...]:
    return _each(types, lambda t: Signature((t, t), t, semantics))


def _reduce(types, semantics=None) -> tuple[Signature, ...]:
    """``t -> scalar`` (the scalar of ``t``)."""
    return _each(types, lambda t: Signature((t,), t.scalar, semantics))


def _square_mats(d: Scalar) -> tuple[Composite, ...]:
    return tuple(mat(d, n) for n in SQUARE)


def _products(m: Composite) -> tuple[Signature, ...]:
    """``m * v`` (matrix-vector), ``v * m`` (row vector), ``m * m`` - also spelled ``@``."""
    v = vec(m.scalar, _size(m))
    return (Signature((m, v), v, L.mat_vec), Signature((v, m), v, L.vec_mat), Signature((m, m), m, L.mat_mat))


def _outputs(make) -> tuple[Signature, ...]:
    """One output-argument signature per float type: ``make(d)`` lists the input, then the outputs."""
    return tuple(Signature(make(d), None) for d in FLOATS)


_RV = dict(family="vector")
_RS = dict(family="spatial")

# ---- rows ---------------------------------------------------------------------------------------------------------

_ROWS: list[Op] = [
    # constructors (type constructors first: the generator's literals come from them)
    *_CONSTRUCTOR_ROWS,
    # len(v): the number of components of a vector, of rows of a matrix (an int32 constant)
    Op("len", "call", "len", _each(VECTORS + MATRICES, lambda t: Signature((t,), INT32)), L.len_,
       family="utility", exact=True, differentiable=False, interval=IV.length_of),
    Op("vector", "call", "wp.vector", _each(VECTORS, _vector_sigs), L.construct, exact=True, **_RV),
    Op("matrix", "call", "wp.matrix", _each(MATRICES, _matrix_sigs), L.construct, exact=True, **_RV),
    Op("identity", "call", "wp.identity", _each(MATRICES, _identity_sig), L.identity, differentiable=False,
       exact=True, **_RV),
    Op("matrix_from_rows", "call", "wp.matrix_from_rows",
       _each(MATRICES, lambda m: sig(m, *([vec(m.scalar, _size(m))] * _size(m)))), L.matrix_from_rows, exact=True,
       **_RV),
    Op("matrix_from_cols", "call", "wp.matrix_from_cols",
       _each(MATRICES, lambda m: sig(m, *([vec(m.scalar, _size(m))] * _size(m)))), L.matrix_from_cols, exact=True,
       **_RV),
    Op("diag", "call", "wp.diag", _each(VECTORS, lambda v: sig(mat(v.scalar, _size(v)), v)), L.diag, exact=True,
       **_RV),
    Op("get_diag", "call", "wp.get_diag", _each(MATRICES, lambda m: sig(vec(m.scalar, _size(m)), m)), L.get_diag,
       exact=True, **_RV),
    Op("transpose", "call", "wp.transpose", _unary_same(MATRICES), L.transpose, exact=True, **_RV),
    Op("skew", "call", "wp.skew", _each(FLOATS, lambda d: sig(mat(d, 3), vec(d, 3))), L.skew, exact=True, **_RV),
    # --- Vector Math: reductions and products ---
    Op("length_sq", "call", "wp.length_sq", _reduce(VECTORS), L.length_sq, **_RV),
    Op("argmin", "call", "wp.argmin", _each(VECTORS, lambda v: sig(UINT32, v)), L.argmin, differentiable=False,
       exact=True, interval=IV.vector_index, **_RV),
    Op("argmax", "call", "wp.argmax", _each(VECTORS, lambda v: sig(UINT32, v)), L.argmax, differentiable=False,
       exact=True, interval=IV.vector_index, **_RV),
    Op("cw_mul", "call", "wp.cw_mul", _binary_same(VECTORS + MATRICES), L.cw_mul, **_RV),
    Op("cw_div", "call", "wp.cw_div", _binary_same(VECTORS + MATRICES), L.cw_div, ("any", "nonzero_elements"),
       **_RV),
    Op("outer", "call", "wp.outer", _each(VECTORS, lambda v: sig(mat(v.scalar, _size(v)), v, v)), L.outer, **_RV),
    Op("ddot", "call", "wp.ddot", _each(MATRICES, lambda m: sig(m.scalar, m, m)), L.ddot, **_RV),
    Op("trace", "call", "wp.trace", _reduce(MATRICES), L.trace, **_RV),
    Op("determinant", "call", "wp.determinant", _each(FLOATS, lambda d: tuple(sig(d, m) for m in _square_mats(d))),
       L.determinant, **_RV),
    Op("inverse", "call", "wp.inverse", _each(FLOATS, lambda d: tuple(sig(m, m) for m in _square_mats(d))),
       L.inverse, ("invertible",), **_RV),
    Op("inverse_approx", "call", "wp.inverse_approx",
       _each(FLOATS, lambda d: tuple(sig(m, m) for m in _square_mats(d))), L.inverse, ("invertible",), **_RV),
    # --- norms (@wp.func helpers; all but norm_l2 float32 only) ---
    Op("norm_l1", "call", "wp.norm_l1", _reduce(F32_VECTORS), L.norm_l1, **_RV),
    Op("norm_l2", "call", "wp.norm_l2", _reduce(VECTORS), L.norm_l2, **_RV),
    Op("norm_huber", "call", "wp.norm_huber", _each(F32_VECTORS, lambda v: (sig(FLOAT32, v), sig(FLOAT32, v, FLOAT32))),
       L.norm_huber, ("any", "positive"), **_RV),
    Op("norm_pseudo_huber", "call", "wp.norm_pseudo_huber",
       _each(F32_VECTORS, lambda v: (sig(FLOAT32, v), sig(FLOAT32, v, FLOAT32))), L.norm_pseudo_huber,
       ("any", "positive"), **_RV),
    Op("smooth_normalize", "call", "wp.smooth_normalize",
       _each(F32_VECTORS, lambda v: (sig(v, v), sig(v, v, FLOAT32))), L.smooth_normalize, ("any", "positive"),
       **_RV),
    # --- decompositions: output arguments ---
    Op("svd3", "call", "wp.svd3", _outputs(lambda d: (mat(d, 3), mat(d, 3), vec(d, 3), mat(d, 3))), L.svd3,
       outputs=3, **_RV),
    Op("svd2", "call", "wp.svd2", _outputs(lambda d: (mat(d, 2), mat(d, 2), vec(d, 2), mat(d, 2))), L.svd2,
       outputs=3, **_RV),
    Op("qr3", "call", "wp.qr3", _outputs(lambda d: (mat(d, 3), mat(d, 3), mat(d, 3))), L.qr3, outputs=2, **_RV),
    Op("eig3", "call", "wp.eig3", _outputs(lambda d: (mat(d, 3), mat(d, 3), vec(d, 3))), L.eig3, ("symmetric",),
       outputs=2, **_RV),
    # --- Spatial Math ---
    Op("spatial_top", "call", "wp.spatial_top", _each(FLOATS, lambda d: sig(vec(d, 3), vec(d, 6))), L.spatial_top,
       exact=True, **_RS),
    Op("spatial_bottom", "call", "wp.spatial_bottom", _each(FLOATS, lambda d: sig(vec(d, 3), vec(d, 6))),
       L.spatial_bottom, exact=True, **_RS),
    Op("spatial_dot", "call", "wp.spatial_dot", _each(FLOATS, lambda d: sig(d, vec(d, 6), vec(d, 6))),
       L.spatial_dot, **_RS),
    Op("spatial_cross", "call", "wp.spatial_cross", _each(FLOATS, lambda d: sig(vec(d, 6), vec(d, 6), vec(d, 6))),
       L.spatial_cross, **_RS),
    Op("spatial_cross_dual", "call", "wp.spatial_cross_dual",
       _each(FLOATS, lambda d: sig(vec(d, 6), vec(d, 6), vec(d, 6))), L.spatial_cross_dual, **_RS),
    Op("spatial_adjoint", "call", "wp.spatial_adjoint",
       _each(FLOATS, lambda d: sig(mat(d, 6), mat(d, 3), mat(d, 3))), L.spatial_adjoint, exact=True, **_RS),
    Op("transform_twist", "call", "wp.transform_twist", (sig(SVF, TRANSFORM, SVF),), L.transform_twist, **_RS),
    Op("transform_wrench", "call", "wp.transform_wrench", (sig(SVF, TRANSFORM, SVF),), L.transform_wrench, **_RS),
    Op("velocity_at_point", "call", "wp.velocity_at_point", (sig(V3F, SVF, V3F),), L.velocity_at_point, **_RS),
    # --- operators ---
    Op("matmul", "binop", "@", _each(MATRICES, _products), L.mat_mat, **_RV),
]

# ---- composite overloads of existing rows -------------------------------------------------------------------------

_VEC3F = vec(FLOAT32, 3)
_NOT_CORE_VEC3 = tuple(v for v in VECTORS if v != _VEC3F)


def _scaled(t: Composite) -> tuple[Signature, ...]:
    """``t * s``, ``s * t`` (component-wise)."""
    return (sig(t, t, t.scalar), sig(t, t.scalar, t))


EXTEND: dict[str, tuple[Signature, ...]] = {
    "vec3": _with(L.construct, *(sig(_VEC3F, vec(src, 3)) for src in FLOATS if src != FLOAT32)),
    "add": _binary_same(VECTORS + MATRICES),
    "sub": _binary_same(VECTORS + MATRICES),
    "mul": _each(VECTORS + MATRICES, _scaled) + _each(MATRICES, _products),
    # `s / v` and `s / m` are component-wise: the divisor domain "nonzero" does not constrain a composite
    # (strategies.guards leaves it unguarded), and a float division by zero is IEEE-defined (inf/NaN)
    "div": _each(VECTORS + MATRICES, _scaled),
    "mod": _binary_same(VECTORS, L.mod),
    "neg": _unary_same(VECTORS + MATRICES, L.neg),
    "eq": _each(VECTORS + MATRICES, lambda t: Signature((t, t), BOOL, L.eq)),
    "where": _each(VECTORS + MATRICES, lambda t: sig(t, BOOL, t, t)),
    "min": _binary_same(VECTORS, L.vec_min) + _reduce(VECTORS, L.reduce_min),
    "max": _binary_same(VECTORS, L.vec_max) + _reduce(VECTORS, L.reduce_max),
    "abs": _unary_same(VECTORS, L.abs_),
    "dot": _each(_NOT_CORE_VEC3, lambda v: Signature((v, v), v.scalar, L.dot)),
    "length": _reduce(_NOT_CORE_VEC3, L.length),
    "normalize": _unary_same(_NOT_CORE_VEC3, L.normalize),
    "cross": _each(FLOATS, lambda d: Signature((vec(d, 3), vec(d, 3)), vec(d, 3), L.cross)),
    "component": _each(VECTORS, lambda v: Signature((v, INT32), v.scalar, L.component))
    + _each(MATRICES, lambda m: Signature((m, INT32), vec(m.scalar, _size(m)), L.component)),
}

#: overloads of builtins whose scalar rows live in ops_scalar: (row name, syntax, spelling, signatures, row kwargs)
_SHARED: tuple = (
    ("pos", "unop", "+", _unary_same(VECTORS + MATRICES, L.pos), dict(family="arith", exact=True)),
    ("sign", "call", "wp.sign", _unary_same(VECTORS, L.sign), dict(family="math", exact=True, differentiable=False)),
    ("isnan", "call", "wp.isnan", _each(VECTORS + MATRICES, lambda t: Signature((t,), BOOL, L.isnan)),
     dict(family="math", exact=True, differentiable=False, fixed_on_finite=True)),
    ("isinf", "call", "wp.isinf", _each(VECTORS + MATRICES, lambda t: Signature((t,), BOOL, L.isinf)),
     dict(family="math", exact=True, differentiable=False, fixed_on_finite=True)),
    ("isfinite", "call", "wp.isfinite", _each(VECTORS + MATRICES, lambda t: Signature((t,), BOOL, L.isfinite)),
     dict(family="math", exact=True, differentiable=False, fixed_on_finite=True)),
    ("lerp", "call", "wp.lerp",
     _each(VECTORS + MATRICES, lambda t: Signature((t, t, t.scalar), t, L.lerp)),
     dict(family="math")),
)


def _claim_shared() -> list[Op]:
    """EXTEND the rows the core or ops_scalar already define; define the others here."""
    defined = {op.name for op in CORE_OPS} | {op.name for op in getattr(ops_scalar, "ROWS", ())}
    rows = []
    for name, syntax, spelling, sigs, kwargs in _SHARED:
        if name in defined:
            EXTEND[name] = EXTEND.get(name, ()) + sigs
        else:
            first = sigs[0].semantics
            rows.append(Op(name, syntax, spelling, sigs, first, **kwargs))
    return rows


ROWS: tuple[Op, ...] = tuple(_ROWS + _claim_shared())

# ---- domains ------------------------------------------------------------------------------------------------------

DOMAINS: dict[str, str] = {
    "invertible": "a well-conditioned square matrix: I + B with ||B||_F <= 1/(2 sqrt(n)) (condition number <= 2.1)",
    "nonzero_elements": "a vector with every component >= 1, or a matrix with every entry >= 1 (NaN stays NaN)",
    "symmetric": "a symmetric matrix (exactly: entry (i, j) and (j, i) are the same float sum)",
}


def _ones(t: Composite) -> str:
    """The all-ones vector of ``t``'s size and dtype, without a literal: the identity's diagonal."""
    return f"wp.get_diag(wp.identity(n={_size(t)}, dtype={t.scalar.warp_name}))"


def invertible_source(t: ValueType, e: str) -> str:
    """``I + e / trace(e^T e + I)``.

    With ``s = ||e||_F^2 + n``, ``||e / s||_F = ||e||_F / (||e||_F^2 + n) <= 1/(2 sqrt(n))`` (AM-GM), so the
    singular values of the result lie in ``[1 - 0.36, 1 + 0.36]``: invertible with condition number <= 2.1
    whatever ``e`` is, tiny or huge (``e^T e`` overflowing to inf gives ``e / inf = 0``, the identity). Residual
    risk: an infinite or NaN entry of ``e`` gives ``inf / inf`` = NaN entries (Warp's inverse of such a matrix
    is still defined: the zero matrix for 2x2 and 4x4, NaN for 3x3). ``e`` is spelled three times.
    """
    eye = f"wp.identity(n={_size(t)}, dtype={t.scalar.warp_name})"
    s = f"wp.trace(((wp.transpose({e}) * ({e})) + {eye}))"
    return f"({eye} + (({e}) / {s}))"


def nonzero_elements_source(t: ValueType, e: str) -> str:
    """Vectors: ``max(abs(e), 1)`` component-wise (Warp's ``max`` ignores a NaN operand, so NaN becomes 1);
    matrices (no element-wise ``max`` in Warp): ``cw_mul(e, e) + outer(1, 1)``, >= 1 except where ``e`` is NaN."""
    ones = _ones(t)
    if t.kind in ("vector", "spatial_vector"):
        return f"wp.max(wp.abs({e}), {ones})"
    return f"(wp.cw_mul(({e}), ({e})) + wp.outer({ones}, {ones}))"


def symmetric_source(t: ValueType, e: str) -> str:
    """``e + transpose(e)``: entries (i, j) and (j, i) are both ``e[i][j] + e[j][i]`` (float addition commutes)."""
    return f"(({e}) + wp.transpose({e}))"


GUARDS = {
    "invertible": invertible_source,
    "nonzero_elements": nonzero_elements_source,
    "symmetric": symmetric_source,
}
