"""Which of the ten corpus categories a kernel exercises, read off its AST.

The categories are those of the seed datasets: arithmetic, atomic, combined, conditional, loop, math,
multi_conditional, nested_loop, scalar_param, vector. ``combined`` means at least four of the others.
"""

from __future__ import annotations

import libcst as cst

from grammar.ops import OPS

from . import _cst as B

CATEGORIES = (
    "arithmetic", "atomic", "combined", "conditional", "loop", "math",
    "multi_conditional", "nested_loop", "scalar_param", "vector",
)
_MATH_CALLS = {op.spelling for op in OPS if op.family in ("math", "nn")}  # (nn: grammar.ops_nn, softmax...)
_ARITH = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo)


class _Census(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: set[str] = set()
        self.ifs = 0
        self.loop_depth = 0

    def visit_BinaryOperation(self, node) -> None:
        if isinstance(node.operator, _ARITH):
            self.found.add("arithmetic")

    def visit_AugAssign(self, node) -> None:
        self.found.add("arithmetic")

    def visit_Call(self, node) -> None:
        func = B.dotted_text(node.func)
        if func.startswith("wp.atomic_"):
            self.found.add("atomic")
        elif func in _MATH_CALLS:
            self.found.add("math")
        elif func in ("wp.vec3", "wp.dot", "wp.cross", "wp.length", "wp.normalize"):
            self.found.add("vector")

    def visit_Annotation(self, node) -> None:
        ann = node.annotation
        names = B.names_in(ann)
        if any("vec3" in n for n in names):
            self.found.add("vector")
        elif not (type(ann) is cst.Call and B.dotted_text(ann.func) == "wp.array"):
            self.found.add("scalar_param")

    def visit_If(self, node: cst.If) -> None:
        self.ifs += 1
        self.found.add("conditional")
        if isinstance(node.orelse, cst.If):
            self.found.add("multi_conditional")

    def visit_For(self, node) -> None:
        self.loop_depth += 1
        self.found.add("loop")
        if self.loop_depth >= 2:
            self.found.add("nested_loop")

    def leave_For(self, node) -> None:
        self.loop_depth -= 1


def categories_of(func: cst.FunctionDef) -> tuple[str, ...]:
    """The kernel categories (:data:`CATEGORIES`) a generated function belongs to, read off its tree. Draws nothing."""
    census = _Census()
    B.look(census, func)
    found = census.found
    if census.ifs >= 2:
        found.add("multi_conditional")
    if len(found) >= 4:
        found.add("combined")
    return tuple(c for c in CATEGORIES if c in found)
