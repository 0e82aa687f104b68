"""The numpy reference: runs a generated kernel's AST without Warp.

The kernel's libcst ``FunctionDef`` is transpiled into a plain Python function in which every operator,
builtin, load, store and literal is routed through a :class:`Runtime` whose methods are the rows of the
operator table (:mod:`grammar.ops`) - so the reference reads the same table as the generator, and a new
builtin needs no change here. The function is then called once per thread id, in launch order, over
numpy copies of the inputs (Warp's CPU backend also runs threads in order, so atomics accumulate in the
same order).

A :class:`Runtime` evaluates in one float precision (``np.float32`` like Warp, or ``np.float64``), and
optionally *perturbs* every float result by up to one float32 ulp: comparing perturbed runs with the
plain one estimates how much last-bit differences (libm vs numpy, fused vs unfused ops) can move each
output, which is the tolerance the comparison uses. Operations that would be undefined behaviour in
C++ raise :class:`grammar.semantics.UndefinedBehaviour`; out-of-bounds indices raise it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import libcst as cst
import numpy as np

from grammar import ops as OPS
from grammar.semantics import EvalContext, UndefinedBehaviour


class RefArray:
    """A kernel array parameter inside the reference: numpy data plus bounds-checked access."""

    __slots__ = ("data", "name")

    def __init__(self, data: np.ndarray, name: str):
        self.data = data
        self.name = name

    def check(self, i) -> int:
        if type(i) is not int or not 0 <= i < self.data.shape[0]:
            raise UndefinedBehaviour(f"index {i!r} out of bounds for {self.name} of length {self.data.shape[0]}")
        return i


class Runtime:
    """The reference's evaluation of every table row, in one precision, optionally perturbed."""

    def __init__(self, float_t: type = np.float32, perturb_seed: int | None = None):
        self.ctx = EvalContext(float_t)
        self.float_t = float_t
        self._rng = np.random.default_rng(perturb_seed) if perturb_seed is not None else None
        eps = float(np.finfo(np.float32).eps)
        self._scales = (1.0 - eps, 1.0, 1.0 + eps)
        for op in OPS.OPS + OPS.ATOMICS:
            setattr(self, op.name, self._bind(op))

    def _bind(self, op):
        fn, ctx = op.semantics, self.ctx
        if op in OPS.ATOMICS:
            return lambda arr, i, v: fn(ctx, arr.data, arr.check(i), v)
        if self._rng is None or op.exact:
            return lambda *args: fn(ctx, *args)
        return lambda *args: self._perturb(fn(ctx, *args))

    def _perturb(self, value):
        if isinstance(value, (np.floating, np.ndarray)) and math.isfinite(float(np.sum(value))):
            s = self._scales[int(self._rng.integers(0, 3))]
            return (value * self.float_t(s)).astype(self.float_t) if isinstance(value, np.ndarray) else self.float_t(value * s)
        return value

    def F(self, literal: float):
        return self.float_t(literal)

    def load(self, container, i):
        if isinstance(container, RefArray):
            v = container.data[container.check(i)]
            if isinstance(v, np.ndarray):
                return v.copy()
            return int(v) if container.data.dtype.kind == "i" else v
        if type(i) is not int or not 0 <= i < container.shape[0]:
            raise UndefinedBehaviour(f"vector component index {i!r} out of range")
        return container[i]

    def store(self, arr: RefArray, i, value) -> None:
        arr.data[arr.check(i)] = value


# ---- transpiler -----------------------------------------------------------------------------------------------


def _r(attr: str) -> cst.Attribute:
    return cst.Attribute(value=cst.Name("R"), attr=cst.Name(attr))


def _rcall(attr: str, *args: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=_r(attr), args=tuple(cst.Arg(a) for a in args))


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=()).code_for_node(node)


class _ToReference(cst.CSTTransformer):
    """Rewrites a Warp kernel into Python over a ``Runtime`` named ``R``."""

    _BIN = {cst.Add: "+", cst.Subtract: "-", cst.Multiply: "*", cst.Divide: "/", cst.FloorDivide: "//", cst.Modulo: "%"}
    _CMP = {cst.LessThan: "<", cst.LessThanEqual: "<=", cst.GreaterThan: ">", cst.GreaterThanEqual: ">=",
            cst.Equal: "==", cst.NotEqual: "!="}
    _AUG = {cst.AddAssign: "+", cst.SubtractAssign: "-", cst.MultiplyAssign: "*"}

    def visit_Annotation(self, node) -> bool:
        return False  # annotations are dropped, not evaluated

    def visit_Decorator(self, node) -> bool:
        return False

    def leave_FunctionDef(self, original, updated):
        params = [cst.Param(cst.Name("_tid"))] + [p.with_changes(annotation=None) for p in updated.params.params]
        return updated.with_changes(
            name=cst.Name("reference_kernel"), decorators=(), params=updated.params.with_changes(params=params)
        )

    def leave_Float(self, original, updated):
        return _rcall("F", updated)

    def leave_BinaryOperation(self, original, updated):
        return _rcall(OPS.BINOPS[self._BIN[type(updated.operator)]], updated.left, updated.right)

    def leave_UnaryOperation(self, original, updated):
        spelling = "not" if isinstance(updated.operator, cst.Not) else "-"
        if spelling == "-" and isinstance(updated.expression, cst.Integer):
            return updated  # a negative int literal stays an exact Python int
        return _rcall(OPS.UNOPS[spelling], updated.expression)

    def leave_Comparison(self, original, updated):
        if len(updated.comparisons) != 1:
            raise NotImplementedError("chained comparisons are not in the grammar")
        target = updated.comparisons[0]
        return _rcall(OPS.COMPARES[self._CMP[type(target.operator)]], updated.left, target.comparator)

    def leave_BooleanOperation(self, original, updated):
        op = "and" if isinstance(updated.operator, cst.And) else "or"
        return _rcall(OPS.BOOLOPS[op], updated.left, updated.right)  # both sides evaluated, like Warp

    def leave_Call(self, original, updated):
        func = _code(updated.func)
        if func == "wp.tid":
            return cst.Name("_tid")
        if func == "range":
            return updated
        if func not in OPS.CALLS:
            raise NotImplementedError(f"no reference semantics for {func}")
        return updated.with_changes(func=_r(OPS.CALLS[func]))

    def leave_Subscript(self, original, updated):
        (element,) = updated.slice
        return _rcall("load", updated.value, element.slice.value)

    def leave_Assign(self, original, updated):
        (target,) = updated.targets
        t = target.target
        if isinstance(t, cst.Call) and _code(t.func) == "R.load":  # a store: out[i] = v
            arr, idx = (a.value for a in t.args)
            return cst.Expr(_rcall("store", arr, idx, updated.value))
        return updated

    def leave_AugAssign(self, original, updated):
        op = OPS.BINOPS[self._AUG[type(updated.operator)]]
        return cst.Assign(targets=(cst.AssignTarget(updated.target),), value=_rcall(op, updated.target, updated.value))


@lru_cache(maxsize=4096)
def transpile(kernel_source: str) -> str:
    """Python source of the reference function for a kernel's source (a single ``@wp.kernel`` def)."""
    func = cst.parse_statement(kernel_source)
    return cst.Module(body=(func.visit(_ToReference()),)).code


@lru_cache(maxsize=4096)
def _compiled(kernel_source: str):
    namespace: dict = {}
    exec(compile(transpile(kernel_source), "<reference>", "exec"), namespace)
    return namespace["reference_kernel"]


@dataclass
class ReferenceRun:
    outputs: dict[str, np.ndarray]
    trace: list[float]  # relative distances to discontinuities, in evaluation order (see traces_fragile)


def run_reference(
    kernel_source: str,
    params: list,  # ParamSpec-like: .name, .kind, .dtype
    values: dict,
    dim: int,
    *,
    float_t: type = np.float32,
    perturb_seed: int | None = None,
) -> ReferenceRun:
    """Run the kernel on ``values`` (name -> numpy array / python scalar) for thread ids ``0..dim-1``."""
    fn = _compiled(kernel_source)
    R = Runtime(float_t, perturb_seed)
    fn.__globals__["R"] = R
    args, arrays = [], {}
    for p in params:
        v = values[p.name]
        if p.kind == "array":
            data = np.array(v, dtype=np.int64 if p.dtype == "int32" else float_t, copy=True)
            arrays[p.name] = RefArray(data, p.name)
            args.append(arrays[p.name])
        elif p.dtype == "int32":
            args.append(int(v))
        else:
            args.append(float_t(v))
    with np.errstate(all="ignore"):
        for tid in range(dim):
            fn(tid, *args)
    outputs = {p.name: arrays[p.name].data for p in params if p.kind == "array" and p.role in ("output", "atomic")}
    return ReferenceRun(outputs, R.ctx.trace)
