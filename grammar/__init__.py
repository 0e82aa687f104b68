"""The typed Warp-kernel grammar, as data: types, the operator table with numpy semantics, and the policy."""

from .ops import ATOMICS, BY_NAME, OPS, Op, Signature, ops_returning
from .policy import DEFAULT_POLICY, Policy
from .semantics import EvalContext, UndefinedBehaviour
from .types import BOOL, FLOAT32, INT32, VEC3, Array, Scalar, Vector

__all__ = [
    "ATOMICS", "BY_NAME", "OPS", "Op", "Signature", "ops_returning",
    "DEFAULT_POLICY", "Policy", "EvalContext", "UndefinedBehaviour",
    "BOOL", "FLOAT32", "INT32", "VEC3", "Array", "Scalar", "Vector",
]
