"""Warp types as frozen data: scalars of every width, vectors, matrices, quaternions, transforms,
spatial vectors/matrices, and arrays of 1-3 dimensions.

Every generated expression carries one of these types; strategies ask for an expression *of a type*,
the reference infers the same types from the AST and holds values as numpy scalars (floats), Python
ints (integers, range-checked or wrapped per :attr:`Scalar.wraps`), bools, or numpy arrays of shape
:attr:`Composite.shape` (composites). ``warp_name`` is the spelling in kernel source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scalar:
    """A Warp scalar type."""

    name: str  # short name, also the key used in kernel-argument specs
    warp_name: str  # spelling in kernel source, e.g. ``wp.float32``
    numpy_dtype: type
    kind: str  # "float" | "int" (signed) | "uint" | "bool"
    bits: int = 32

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_int(self) -> bool:
        """Any integer type, signed or unsigned."""
        return self.kind in ("int", "uint")

    @property
    def is_signed(self) -> bool:
        return self.kind == "int"

    @property
    def min(self) -> int:
        return -(2 ** (self.bits - 1)) if self.kind == "int" else 0

    @property
    def max(self) -> int:
        return 2 ** (self.bits - 1) - 1 if self.kind == "int" else 2**self.bits - 1

    @property
    def wraps(self) -> bool:
        """Out-of-range results wrap modulo 2**bits instead of being undefined behaviour.

        Unsigned arithmetic wraps by definition. int8/int16 arithmetic is done in ``int`` by C++ and
        converted back, which wraps (modular conversion). int32/int64 overflow is undefined behaviour.
        """
        return self.kind == "uint" or (self.kind == "int" and self.bits < 32)

    def wrap(self, value: int) -> int:
        span = 2**self.bits
        value %= span
        return value - span if self.kind == "int" and value > self.max else value

    def __str__(self) -> str:
        return self.name


#: the attribute names of a vector's first four components (``v.x`` is ``v[0]``), in index order
COMPONENT_NAMES = ("x", "y", "z", "w")
#: attribute name -> component index
COMPONENT_INDEX = {name: k for k, name in enumerate(COMPONENT_NAMES)}


@dataclass(frozen=True)
class Composite:
    """A fixed-shape Warp value type built from a float scalar: vector, matrix, quat, transform, spatial."""

    kind: str  # "vector" | "matrix" | "quat" | "transform" | "spatial_vector" | "spatial_matrix"
    shape: tuple[int, ...]  # numpy shape of a value in the reference
    scalar: Scalar
    name: str
    warp_name: str

    is_float = False
    is_int = False

    @property
    def length(self) -> int:
        return self.shape[0]

    @property
    def numpy_dtype(self) -> type:
        return self.scalar.numpy_dtype

    @property
    def is_vector_like(self) -> bool:
        """Indexed by one int and combined component-wise (vector, quat, transform, spatial vector)."""
        return len(self.shape) == 1

    def __str__(self) -> str:
        return self.name


Vector = Composite  # historical name


@dataclass(frozen=True)
class Array:
    """A Warp array of scalars or composites with 1-3 dimensions."""

    dtype: Scalar | Composite
    ndim: int = 1

    @property
    def warp_name(self) -> str:
        nd = "" if self.ndim == 1 else f", ndim={self.ndim}"
        return f"wp.array(dtype={self.dtype.warp_name}{nd})"

    def __str__(self) -> str:
        return f"array{self.ndim}d({self.dtype})"


@dataclass(frozen=True)
class Struct:
    """A user ``@wp.struct`` type: named fields of scalar, composite or 1-D array type.

    Values in the reference are :class:`harness.oracle.reference.StructValue` objects; ``warp_name`` is the class
    name, which is unique per generated module (kernels rename their structs with themselves).
    """

    name: str
    fields: tuple[tuple[str, "Scalar | Composite | Array"], ...]

    kind = "struct"
    is_float = False
    is_int = False

    @property
    def warp_name(self) -> str:
        return self.name

    def field(self, name: str):
        return dict(self.fields)[name]

    @property
    def has_array(self) -> bool:
        """Holds an array field: such a struct is only ever a kernel parameter (a local's array is null)."""
        return any(isinstance(t, Array) for _, t in self.fields)

    def renamed(self, name: str) -> "Struct":
        return Struct(name, self.fields)

    def __str__(self) -> str:
        return "struct"


FLOAT16 = Scalar("float16", "wp.float16", np.float16, "float", 16)
FLOAT32 = Scalar("float32", "wp.float32", np.float32, "float", 32)
FLOAT64 = Scalar("float64", "wp.float64", np.float64, "float", 64)
INT8 = Scalar("int8", "wp.int8", np.int8, "int", 8)
INT16 = Scalar("int16", "wp.int16", np.int16, "int", 16)
INT32 = Scalar("int32", "wp.int32", np.int32, "int", 32)
INT64 = Scalar("int64", "wp.int64", np.int64, "int", 64)
UINT8 = Scalar("uint8", "wp.uint8", np.uint8, "uint", 8)
UINT16 = Scalar("uint16", "wp.uint16", np.uint16, "uint", 16)
UINT32 = Scalar("uint32", "wp.uint32", np.uint32, "uint", 32)
UINT64 = Scalar("uint64", "wp.uint64", np.uint64, "uint", 64)
BOOL = Scalar("bool", "bool", np.bool_, "bool", 8)

FLOATS: tuple[Scalar, ...] = (FLOAT32, FLOAT64, FLOAT16)
SIGNED_INTS: tuple[Scalar, ...] = (INT32, INT64, INT8, INT16)
UNSIGNED_INTS: tuple[Scalar, ...] = (UINT32, UINT64, UINT8, UINT16)
INTS: tuple[Scalar, ...] = SIGNED_INTS + UNSIGNED_INTS
SCALARS: tuple[Scalar, ...] = FLOATS + INTS + (BOOL,)

_SUFFIX = {FLOAT32: "", FLOAT16: "h", FLOAT64: "d"}


def _composites() -> dict[str, Composite]:
    out: dict[str, Composite] = {}
    for f, sfx in _SUFFIX.items():
        for n in (2, 3, 4):
            out[f"vec{n}{sfx}"] = Composite("vector", (n,), f, f"vec{n}{sfx}", f"wp.vec{n}{sfx}")
            out[f"mat{n}{n}{sfx}"] = Composite("matrix", (n, n), f, f"mat{n}{n}{sfx}", f"wp.mat{n}{n}{sfx}")
        out[f"quat{sfx}"] = Composite("quat", (4,), f, f"quat{sfx}", f"wp.quat{sfx}")
        out[f"transform{sfx}"] = Composite("transform", (7,), f, f"transform{sfx}", f"wp.transform{sfx}")
        out[f"spatial_vector{sfx}"] = Composite("spatial_vector", (6,), f, f"spatial_vector{sfx}", f"wp.spatial_vector{sfx}")
        out[f"spatial_matrix{sfx}"] = Composite("spatial_matrix", (6, 6), f, f"spatial_matrix{sfx}", f"wp.spatial_matrix{sfx}")
    return out


COMPOSITES: dict[str, Composite] = _composites()
VEC2, VEC3, VEC4 = COMPOSITES["vec2"], COMPOSITES["vec3"], COMPOSITES["vec4"]
MAT22, MAT33, MAT44 = COMPOSITES["mat22"], COMPOSITES["mat33"], COMPOSITES["mat44"]
QUAT, TRANSFORM = COMPOSITES["quat"], COMPOSITES["transform"]
SPATIAL_VECTOR, SPATIAL_MATRIX = COMPOSITES["spatial_vector"], COMPOSITES["spatial_matrix"]

ValueType = Scalar | Composite


def float_valued(t) -> bool:
    """A float scalar or a composite of floats (a struct or an array is not): what a derivative flows through."""
    scalar = t.scalar if isinstance(t, Composite) else t
    return isinstance(scalar, Scalar) and scalar.is_float


def half_product(t) -> bool:
    """A float16 matrix, quaternion, transform or spatial matrix: Warp accumulates their adjoints in half precision
    over sums of 4-16 products, so the gradient check leaves a derivative path through one out."""
    return isinstance(t, Composite) and t.scalar.is_float and t.scalar.bits == 16 and t.kind in (
        "matrix", "quat", "transform", "spatial_matrix")


def composite(kind: str, scalar: Scalar, n: int = 0) -> Composite:
    """The composite of ``kind`` over ``scalar`` (``n`` = vector length / matrix size where relevant)."""
    sfx = _SUFFIX[scalar]
    key = {"vector": f"vec{n}", "matrix": f"mat{n}{n}"}.get(kind, kind) + sfx
    return COMPOSITES[key]


#: Types a local variable or expression may have in the first grammar (P1); kept for the core strategies.
VALUE_TYPES: tuple[ValueType, ...] = (FLOAT32, INT32, BOOL, VEC3)
#: Element types of kernel array parameters in the core strategies.
ARRAY_ELEMENT_TYPES: tuple[ValueType, ...] = (FLOAT32, INT32, VEC3)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

BY_NAME: dict[str, ValueType] = {t.name: t for t in SCALARS} | dict(COMPOSITES)
BY_WARP_NAME: dict[str, ValueType] = {t.warp_name: t for t in BY_NAME.values()} | {
    "float": FLOAT32, "int": INT32, "bool": BOOL, "wp.bool": BOOL,
}
