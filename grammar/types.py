"""Warp types as frozen data: scalars, vectors and arrays.

Every generated expression carries one of these types; strategies ask for an expression *of a type*, the
reference uses ``numpy_dtype`` to hold values, and the harness uses ``warp_name`` in annotations.
Adding a dtype is one constant here plus its rows in :mod:`grammar.ops`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scalar:
    """A Warp scalar type (``float32``, ``int32``, ``bool``)."""

    name: str  # short name, also the key used in kernel-argument specs
    warp_name: str  # spelling in kernel source, e.g. ``wp.float32``
    numpy_dtype: type
    kind: str  # "float" | "int" | "bool"

    @property
    def is_float(self) -> bool:
        return self.kind == "float"

    @property
    def is_int(self) -> bool:
        return self.kind == "int"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Vector:
    """A fixed-length Warp vector of a float scalar (``wp.vec3`` is ``Vector(3, FLOAT32)``)."""

    length: int
    scalar: Scalar
    name: str
    warp_name: str

    kind = "vector"
    is_float = False
    is_int = False

    @property
    def numpy_dtype(self) -> type:
        return self.scalar.numpy_dtype

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Array:
    """A 1-D Warp array of scalars or vectors."""

    dtype: Scalar | Vector
    ndim: int = 1

    @property
    def warp_name(self) -> str:
        return f"wp.array(dtype={self.dtype.warp_name})"

    def __str__(self) -> str:
        return f"array({self.dtype})"


FLOAT32 = Scalar("float32", "wp.float32", np.float32, "float")
INT32 = Scalar("int32", "wp.int32", np.int32, "int")
BOOL = Scalar("bool", "bool", np.bool_, "bool")
VEC3 = Vector(3, FLOAT32, "vec3", "wp.vec3")

ValueType = Scalar | Vector

#: Types a local variable or expression may have.
VALUE_TYPES: tuple[ValueType, ...] = (FLOAT32, INT32, BOOL, VEC3)
#: Element types of kernel array parameters.
ARRAY_ELEMENT_TYPES: tuple[ValueType, ...] = (FLOAT32, INT32, VEC3)

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

BY_NAME: dict[str, ValueType] = {t.name: t for t in VALUE_TYPES}
