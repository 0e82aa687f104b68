"""The numpy reference: runs a generated kernel's AST without Warp.

The kernel's source is parsed with libcst and transpiled into a plain Python function. Along the way a
small type checker infers the Warp type of every expression from the parameter annotations, the first
assignment of each local, and the operator table (:mod:`grammar.ops`): each operator, builtin and
constructor is resolved to one ``(row, signature)`` pair exactly as Warp resolves overloads, and the
transpiled code calls that pair's numpy semantics through a :class:`Runtime`. So the reference reads the
same table as the generator, and a new builtin needs no change here. The function is then called once
per thread id, in launch order, over numpy copies of the inputs (Warp's CPU backend also runs threads in
order, so atomics accumulate in the same order).

A :class:`Runtime` evaluates in native precision (every float in its own dtype, like Warp) or in high
precision (float16/32 as float64, float64 as long double), and optionally *perturbs* every non-exact
float result by one ulp of its type: comparing perturbed runs with the plain one estimates how much
last-bit differences (libm vs numpy, fused multiply-add) can move each output, which is the tolerance
the comparison uses. Undefined behaviour (signed int32/int64 overflow, division by zero, out-of-bounds
index, out-of-range float->int conversion) raises :class:`grammar.semantics.UndefinedBehaviour`.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from functools import lru_cache

import libcst as cst
import numpy as np

from grammar import ops as OPS
from grammar.semantics import EvalContext, UndefinedBehaviour
from grammar.types import (
    BOOL,
    BY_WARP_NAME,
    COMPONENT_INDEX,
    FLOAT32,
    INT32,
    Array,
    Composite,
    Struct,
    half_product,
)
from strategies._cst import SPELLING_OF

#: the full table (grammar.ops.BY_NAME without the atomics): the reference reads kernels using rows or overloads
#: that the generator leaves out for an older release (grammar.ops.restrict), whenever this module is imported
_ROWS = tuple(op for name, op in OPS.BY_NAME.items() if name not in {a.name for a in OPS.ATOMICS})
#: every (row, signature) the transpiler may call, by position: ``R.f[i](...)``
CALLS: list[tuple[OPS.Op, OPS.Signature]] = [(op, s) for op in _ROWS for s in op.signatures]
_CALL_INDEX = {(op.name, s): i for i, (op, s) in enumerate(CALLS)}


class ReferenceTypeError(TypeError):
    """The kernel uses a construct or an overload the grammar does not define (a generator bug)."""


class RefArray:
    """A kernel array parameter inside the reference: numpy data plus bounds-checked access."""

    __slots__ = ("data", "name", "type")

    def __init__(self, data: np.ndarray, name: str, type: Array | None = None):
        self.data = data
        self.name = name
        self.type = type

    def check(self, i):
        idx = i if isinstance(i, tuple) else (i,)
        ndim = self.type.ndim if self.type is not None else 1
        if len(idx) != ndim or any(type(k) is not int or not 0 <= k < n for k, n in zip(idx, self.data.shape)):
            raise UndefinedBehaviour(f"index {i!r} out of bounds for {self.name} of shape {self.data.shape[:ndim]}")
        return idx if len(idx) > 1 else idx[0]


class StructValue:
    """A value of a user ``@wp.struct`` type: field name -> value. Never changed in place (Warp structs are
    values: ``t = s`` copies), so a field write builds a new value (:meth:`Runtime.fset`)."""

    __slots__ = ("type", "values")

    def __init__(self, type: Struct, values: dict):
        self.type = type
        self.values = values

    def __repr__(self) -> str:
        return f"{self.type.name}({self.values!r})"


class _BoundCalls:
    """``R.f[i]``: the callable of ``CALLS[i]`` bound to one runtime, made on first use.

    A kernel calls a few dozen of the table's ~1900 signatures; binding them all for every reference
    run was a fifth of the reference's time."""

    __slots__ = ("_runtime", "_bound")

    def __init__(self, runtime: "Runtime"):
        self._runtime = runtime
        self._bound: dict[int, object] = {}

    def __getitem__(self, i: int):
        fn = self._bound.get(i)
        if fn is None:
            fn = self._bound[i] = self._runtime._bind(*CALLS[i])
        return fn

    def __len__(self) -> int:
        return len(CALLS)


class Runtime:
    """Evaluates resolved table rows in one precision, optionally perturbed; coerces every result."""

    def __init__(self, float_t: type = np.float32, perturb_seed: int | None = None, structs: dict | None = None):
        self.ctx = EvalContext(float_t)
        self._rng = np.random.default_rng(perturb_seed) if perturb_seed is not None else None
        self.f = _BoundCalls(self)
        self.structs = structs or {}  # struct name -> grammar.types.Struct

    # ---- values ---------------------------------------------------------------------------------------------

    def coerce(self, value, t):
        """``value`` as the representation of Warp type ``t`` (ints checked or wrapped per type)."""
        if isinstance(t, Struct):
            if not isinstance(value, StructValue) or value.type.fields != t.fields:
                raise ReferenceTypeError(f"{value!r} is not a {t.name}")
            return value
        if isinstance(t, Composite):
            return np.asarray(value, dtype=self.ctx.ftype(t.scalar)).reshape(t.shape)
        if t.kind == "bool":
            return bool(value)
        if t.is_float:
            return self.ctx.ftype(t)(value)
        v = int(value)
        if t.min <= v <= t.max:
            return v
        if t.wraps:
            return t.wrap(v)
        raise UndefinedBehaviour(f"{t.name} overflow: {v}")

    def coercer(self, t):
        """:meth:`coerce` specialised to type ``t`` (the type tests done once, not per value): what the
        bound table calls use, a third of the reference's calls."""
        if isinstance(t, Struct) or t is None:
            return lambda value: self.coerce(value, t)
        if isinstance(t, Composite):
            dtype, shape, asarray = self.ctx.ftype(t.scalar), t.shape, np.asarray
            return lambda value: asarray(value, dtype=dtype).reshape(shape)
        if t.kind == "bool":
            return bool
        if t.is_float:
            return self.ctx.ftype(t)
        lo, hi, wraps, wrap, name = t.min, t.max, t.wraps, t.wrap, t.name

        def integer(value):
            v = int(value)
            if lo <= v <= hi:
                return v
            if wraps:
                return wrap(v)
            raise UndefinedBehaviour(f"{name} overflow: {v}")

        return integer

    def lit(self, value, t=FLOAT32):
        return self.coerce(value, t)

    def tap(self, k: int, value):
        """An assigned value in a tapped reference (:func:`tapped`); unchanged here (see harness.liveness)."""
        return value

    def result(self, row: str, value):
        """The value of a use of a pseudo-row that is not a table row (``"wp.func"``: a helper call's
        result(s), ``"wp.static"``: the embedded constant); unchanged here (harness.liveness perturbs it)."""
        return value

    # ---- calls ----------------------------------------------------------------------------------------------

    def _bind(self, op, sig):
        # no np.errstate per call (a tenth of the reference's time): run_reference runs the threads under
        # errstate(all="ignore"), and the direct entry point, call(), enters it itself
        fn, ctx, result = sig.semantics or op.semantics, self.ctx, sig.result
        perturb = self._rng is not None and not op.exact and (
            isinstance(result, Composite) or getattr(result, "is_float", False)
        )
        eps = float(np.finfo((result.scalar if isinstance(result, Composite) else result).numpy_dtype).eps) if perturb else 0.0
        floor = op.perturb_floor

        if op.inplace:  # returns its first argument's new value
            coerce_first = self.coercer(sig.args[0])

            def call_inplace(*args):
                ctx.sig = sig
                return coerce_first(fn(ctx, *args))

            return call_inplace

        if op.outputs:  # returns the tuple of its output arguments' new values
            out_types = sig.args[-op.outputs:]
            out_coercers = [self.coercer(t) for t in out_types]
            # perturbed like any other result (svd3/qr3/eig3 outputs: a component that cancels to an exact 0.0,
            # R[2][2] of a singular matrix, is a rounding residue in Warp; a 25-minute fuzz false alarm)
            out_eps = [float(np.finfo((t.scalar if isinstance(t, Composite) else t).numpy_dtype).eps)
                       if self._rng is not None and not op.exact and (
                           isinstance(t, Composite) or getattr(t, "is_float", False)) else 0.0 for t in out_types]

            def call_outputs(*args):
                ctx.sig = sig
                values = fn(ctx, *args)
                values = values if isinstance(values, tuple) else (values,)
                coerced = tuple(c(v) for v, c in zip(values, out_coercers))
                coerced = tuple(self._perturb(v, e, t) if e else v for v, e, t in zip(coerced, out_eps, out_types))
                return coerced if len(coerced) > 1 else coerced[0]

            return call_outputs

        coerce_result = self.coercer(result)

        def call(*args):
            ctx.sig = sig
            value = coerce_result(fn(ctx, *args))
            if perturb:
                value = self._perturb(value, eps, result, floor)
            return value

        return call

    def __getattr__(self, name: str):
        """``R.<row name>(*args)``: resolve the overload from the argument values (legacy core types only:
        float32, int32, bool, vec3). Prefer :meth:`call` with an explicit signature."""
        op = OPS.BY_NAME.get(name)
        if op is None or name.startswith("_"):
            raise AttributeError(name)
        if op in OPS.ATOMICS:
            return lambda arr, i, *v: self.atomic(name, arr, i, *v)

        def dispatch(*args):
            types = tuple(_legacy_type(a) for a in args)
            for s in op.signatures:
                if s.args == types or (op.syntax == "index" and s.args[0] == types[0]):
                    return self.call(op, s, *args)
            raise ReferenceTypeError(f"no overload of {name} for {types}")

        return dispatch

    def call(self, op, sig, *args):
        """Evaluate one (row, signature) directly (tests, conformance checks)."""
        with np.errstate(all="ignore"):
            return self.f[_CALL_INDEX[(op.name, sig)]](*args)

    def _perturb(self, value, eps, t, floor: float = 0.0):
        """A scalar moves by one relative ulp up or down; each component of a composite by one ulp of the composite's
        largest component, or of ``floor`` when that is larger (Op.perturb_floor). Warp computes a component as sums
        of products of the operands, so its rounding error follows their magnitude, not the component's: a
        component that cancels to an exact 0.0 in the reference comes out as +-1e-9 from Warp's fused multiply-adds."""
        # always one ulp, never none: with "none" among the choices, a call left unperturbed by both runs (1 in 9)
        # measured no sensitivity to it (a float64 layer_norm of a float32 sinh, one ulp from numpy's in Warp's
        # libm: allowed 4.4e-14, off by 5e-13; a 30-minute fuzz false alarm of generator 0.5.4)
        scale = (1.0 - eps, 1.0 + eps)[int(self._rng.integers(0, 2))]
        if isinstance(value, np.ndarray):
            if not np.isfinite(value).all() or value.dtype.kind != "f":
                return value
            step = eps * max(float(np.max(np.abs(value), initial=0.0)), floor)
            signs = 2 * self._rng.integers(0, 2, size=value.shape) - 1
            return (value * value.dtype.type(scale) + signs * step).astype(value.dtype)
        return value if not math.isfinite(float(value)) else type(value)(value * type(value)(scale))

    # ---- memory -----------------------------------------------------------------------------------------------

    def aload(self, arr: RefArray, index):
        v = arr.data[arr.check(index)]
        t = arr.type.dtype if arr.type is not None else None
        if isinstance(v, np.ndarray):
            return v.copy()
        if t is None:
            return int(v) if arr.data.dtype.kind in "iu" else v
        return self.coerce(v, t)

    def astore(self, arr: RefArray, index, value) -> None:
        arr.data[arr.check(index)] = value

    def atomic(self, name: str, arr: RefArray, index, *operands):
        """``wp.atomic_<op>(arr, index, operands...)``: updates the element, returns its old value."""
        op = OPS.BY_NAME[name]
        elem = arr.type.dtype if arr.type is not None else (INT32 if arr.data.dtype.kind in "iu" else FLOAT32)
        self.ctx.sig = OPS.Signature((elem,) * (1 + len(operands)), elem)
        idx = arr.check(index)
        old = arr.data[idx]
        with np.errstate(all="ignore"):
            arr.data[idx] = self.coerce(op.semantics(self.ctx, old, *operands), elem)
        return old

    def cget(self, v: np.ndarray, *index):
        """Component read: ``v[i]`` (vector-like) or ``m[i, j]``/``m[i]`` (matrices)."""
        for k, n in zip(index, v.shape):
            if type(k) is not int or not 0 <= k < n:
                raise UndefinedBehaviour(f"component index {index!r} out of range for shape {v.shape}")
        r = v[index]
        return r.copy() if isinstance(r, np.ndarray) else r

    # ---- structs ----------------------------------------------------------------------------------------------

    def snew(self, name: str) -> StructValue:
        """``S()``: every value field zero (Warp zero-initialises), array fields null."""
        t = self.structs[name]
        return StructValue(t, {f: None if isinstance(ft, Array) else self.coerce(np.zeros(getattr(ft, "shape", ())), ft)
                               for f, ft in t.fields})

    def struct_value(self, t: Struct, values: dict, name: str) -> StructValue:
        """A struct input from ``values`` (field -> numpy value / python scalar; arrays become RefArrays)."""
        out = {}
        for f, ft in t.fields:
            if isinstance(ft, Array):
                out[f] = _ref_array(self, values[f], f"{name}.{f}", ft)
            else:
                v = values[f]
                out[f] = self.coerce(v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v, ft)
        return StructValue(t, out)

    def fget(self, v: StructValue, field: str):
        value = v.values[field]
        if value is None:
            raise UndefinedBehaviour(f"read of the null array field {field} of {v.type.name}")
        return value.copy() if isinstance(value, np.ndarray) else value

    def fset(self, v: StructValue, field: str, value) -> StructValue:
        """``v.field = value``: returns the updated copy."""
        values = dict(v.values)
        values[field] = self.coerce(value, v.type.field(field))
        return StructValue(v.type, values)

    def cset(self, v: np.ndarray, value, *index) -> np.ndarray:
        """``v[i] = value`` on a local composite: returns the updated copy."""
        self.cget(v, *index)
        out = v.copy()
        out[index] = value
        return out


def _ref_array(R: "Runtime", v, name: str, t: Array) -> RefArray:
    """A RefArray over a copy of ``v`` in the runtime's precision (ints as Python ints)."""
    elem = t.dtype
    if isinstance(elem, Struct):
        flat = [R.struct_value(elem, {f: v[f][i] for f, _ in elem.fields}, f"{name}[{i}]")
                for i in np.ndindex(*v.shape)]
        data = np.empty(v.shape, dtype=object)
        for i, value in zip(np.ndindex(*v.shape), flat):
            data[i] = value
        return RefArray(data, name, t)
    scalar = elem.scalar if isinstance(elem, Composite) else elem
    dtype = R.ctx.ftype(scalar) if scalar.is_float else (object if scalar.is_int else np.bool_)
    data = np.array(v, copy=True).astype(dtype)
    if scalar.is_int:
        data = np.vectorize(int, otypes=[object])(data) if data.size else data
    return RefArray(data, name, t)


def struct_fields_out(name: str, t: Struct, data: np.ndarray) -> dict[str, np.ndarray]:
    """A struct array's contents as one array per value field, keyed ``"<name>.<field>"``."""
    out = {}
    for f, ft in t.fields:
        if isinstance(ft, Array):
            continue
        values = [v.values[f] for v in data.reshape(-1)]
        if isinstance(ft, Composite):
            arr = np.array(values).reshape(data.shape + ft.shape)
        else:
            arr = np.array(values, dtype=object) if ft.is_int else np.array(values)
            arr = arr.reshape(data.shape)
        out[f"{name}.{f}"] = arr
    return out


def _legacy_type(v):
    from grammar.types import VEC3

    if isinstance(v, bool):
        return BOOL
    if type(v) is int:
        return INT32
    if isinstance(v, np.ndarray):
        return VEC3
    return FLOAT32


# ---- type inference + transpiler ------------------------------------------------------------------------------


def _code(node: cst.CSTNode) -> str:
    """The source text of ``node``; dotted names and numbers (most calls) without a libcst render."""
    if isinstance(node, (cst.Name, cst.Integer, cst.Float)) and not node.lpar:
        return node.value
    if isinstance(node, cst.Attribute) and not node.lpar and isinstance(node.value, (cst.Name, cst.Attribute)):
        return f"{_code(node.value)}.{node.attr.value}"
    return cst.Module(body=()).code_for_node(node)


def _r(attr: str) -> cst.BaseExpression:
    return cst.Attribute(value=cst.Name("R"), attr=cst.Name(attr))


def _rcall(attr: str, *args: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=_r(attr), args=tuple(cst.Arg(a) for a in args))


def _fcall(index: int, args) -> cst.Call:
    func = cst.Subscript(value=_r("f"), slice=(cst.SubscriptElement(cst.Index(cst.Integer(str(index)))),))
    return cst.Call(func=func, args=tuple(cst.Arg(a) for a in args))


def parse_annotation(node: cst.BaseExpression, structs: dict | None = None):
    """The Warp type of a parameter annotation (``float``, ``wp.vec3``, ``wp.array(dtype=..., ndim=2)``,
    the name of a ``@wp.struct`` in ``structs``)."""
    text = _code(node)
    types = BY_WARP_NAME | (structs or {})
    if text in types:
        return types[text]
    if isinstance(node, cst.Call) and _code(node.func) == "wp.array":
        kw = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
        dtype = types.get(_code(kw["dtype"])) if "dtype" in kw else None
        ndim = int(_code(kw["ndim"])) if "ndim" in kw else 1
        if dtype is not None:
            return Array(dtype, ndim)
    raise ReferenceTypeError(f"unsupported annotation {text}")


def _resolve_into(used: set, *args, **kw):
    i, t = resolve(*args, **kw)
    used.add(CALLS[i][0].name)
    return i, t


def resolve(spelling_table: dict[str, list[str]], spelling: str, arg_types: tuple,
            keywords: tuple = ()) -> tuple[int, object]:
    """(call index, result type) of the overload of ``spelling`` taking ``arg_types`` (and ``keywords``)."""
    for name in spelling_table.get(spelling, ()):
        op = OPS.BY_NAME[name]
        for s in op.signatures:
            if op.returns_tuple:  # called with its inputs only; returns the tuple of the remaining types
                if s.args[: -op.outputs] == arg_types and s.keywords == keywords:
                    return _CALL_INDEX[(name, s)], s.args[-op.outputs:]
            elif s.args == arg_types and s.keywords == keywords:
                return _CALL_INDEX[(name, s)], s.result
    shown = ", ".join(str(t) for t in arg_types)
    raise ReferenceTypeError(f"no overload of {spelling} for ({shown})")


def _by_spelling(syntax: tuple[str, ...]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for op in _ROWS:
        if op.syntax in syntax:
            table.setdefault(op.spelling, []).append(op.name)
    return table


_BINOP_TABLE = _by_spelling(("binop",))
_UNOP_TABLE = _by_spelling(("unop",))
_COMPARE_TABLE = _by_spelling(("compare",))
_BOOLOP_TABLE = _by_spelling(("boolop",))
_CALL_TABLE = _by_spelling(("call", "construct"))
_ATOMICS = {op.spelling: op.name for op in OPS.ATOMICS}


class _ToReference(cst.CSTTransformer):
    """Rewrites one Warp kernel into Python over a ``Runtime`` named ``R``, inferring types as it goes."""

    def __init__(self, structs: dict | None = None, taps: list | None = None) -> None:
        super().__init__()
        self.structs: dict[str, Struct] = structs or {}  # @wp.struct types by name
        # liveness measurement only (harness.liveness): when a list, the value of every assignment, store and
        # augmented assignment is routed through ``R.tap(k, value)``; taps[k] = (statement kind, enclosing blocks)
        self.taps = taps
        self._blocks: list[str] = []
        self.env: dict[str, object] = {}
        self.types: dict[int, object] = {}  # id(transformed node) -> Warp type
        self._alive: list = []  # every typed node (their ids are the keys above)
        self.pending_outputs: dict[int, list] = {}  # id(call node) -> output-argument names
        self.used: set[str] = set()  # names of the table rows the kernel uses (for coverage)
        self.funcs: dict[str, tuple] = {}  # user @wp.func name -> (parameter types, return type or tuple)
        self.returns: list = []
        self.envs: dict[str, dict] = {}  # function name -> its parameter and local types (after transpiling)
        # function name -> the code of its statements that compute a float16 matrix, quaternion, transform or
        # spatial matrix anywhere inside, named or not (the gradient oracle leaves such derivative paths out)
        self.half_statements: dict[str, set[str]] = {}
        self._half = False
        self._func = ""

    def typed(self, node, t):
        if half_product(t) or (isinstance(t, tuple) and any(half_product(e) for e in t)):
            self._half = True
        self.types[id(node)] = t
        self._alive.append(node)  # keeps id(node) from being reused by a later node while we transform
        return node

    def type_of(self, node):
        try:
            return self.types[id(node)]
        except KeyError:
            raise ReferenceTypeError(f"cannot type {_code(node)}") from None

    # ---- definitions ----

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._func = node.name.value
        self.env = {}
        self.returns = []
        self._blocks = ["func"] if node.decorators and _code(node.decorators[0].decorator) == "wp.func" else []
        for p in node.params.params:
            if p.annotation is None:
                raise ReferenceTypeError(f"parameter {p.name.value} has no annotation")
            self.env[p.name.value] = parse_annotation(p.annotation.annotation, self.structs)
        return True

    def leave_Return(self, original, updated):
        self._note_half(original)
        if updated.value is not None:
            v = updated.value
            if isinstance(v, cst.Tuple):
                self.returns.append(tuple(self.type_of(e.value) for e in v.elements))
            else:
                self.returns.append(self.type_of(v))
        return updated

    def visit_Annotation(self, node) -> bool:
        return False

    def visit_Decorator(self, node) -> bool:
        return False

    def leave_FunctionDef(self, original, updated):
        self.envs[original.name.value] = dict(self.env)
        decorator = _code(original.decorators[0].decorator) if original.decorators else ""
        plain = [p.with_changes(annotation=None) for p in updated.params.params]
        if decorator == "wp.func":
            kinds = set(self.returns)
            if len(kinds) != 1:
                raise ReferenceTypeError(f"{original.name.value} must return one type, got {kinds or 'none'}")
            types = tuple(parse_annotation(p.annotation.annotation, self.structs) for p in original.params.params)
            self.funcs[original.name.value] = (types, kinds.pop())
            return updated.with_changes(decorators=(), params=updated.params.with_changes(params=plain))
        params = [cst.Param(cst.Name("_tid"))] + plain
        return updated.with_changes(
            name=cst.Name("reference_kernel"), decorators=(), params=updated.params.with_changes(params=params)
        )

    # ---- leaves ----

    def leave_Name(self, original, updated):
        if updated.value in ("True", "False"):
            return self.typed(updated, BOOL)
        if updated.value in self.env:
            return self.typed(updated, self.env[updated.value])
        return updated

    def leave_Integer(self, original, updated):
        return self.typed(updated, INT32)

    def leave_Float(self, original, updated):
        return self.typed(_rcall("lit", updated), FLOAT32)

    # ---- operators ----

    def leave_BinaryOperation(self, original, updated):
        spelling = SPELLING_OF[type(updated.operator)]
        i, t = _resolve_into(self.used, _BINOP_TABLE, spelling, (self.type_of(updated.left), self.type_of(updated.right)))
        return self.typed(_fcall(i, [updated.left, updated.right]), t)

    def leave_UnaryOperation(self, original, updated):
        spelling = SPELLING_OF[type(updated.operator)]
        operand = updated.expression
        if spelling == "-" and isinstance(operand, cst.Integer):
            return self.typed(updated, INT32)  # a negative int literal stays an exact Python int
        if spelling == "-" and isinstance(original.expression, cst.Float):
            # a negative float literal: Warp's codegen folds `-c` into the constant (no wp::neg call), so it
            # is a literal here too, not a use of the `neg` row
            return self.typed(_rcall("lit", updated.with_changes(expression=original.expression)), FLOAT32)
        i, t = _resolve_into(self.used, _UNOP_TABLE, spelling, (self.type_of(operand),))
        return self.typed(_fcall(i, [operand]), t)

    def leave_Comparison(self, original, updated):
        if len(updated.comparisons) != 1:
            raise ReferenceTypeError("chained comparisons are not in the grammar")
        target = updated.comparisons[0]
        spelling = SPELLING_OF[type(target.operator)]
        i, t = _resolve_into(self.used, _COMPARE_TABLE, spelling, (self.type_of(updated.left), self.type_of(target.comparator)))
        return self.typed(_fcall(i, [updated.left, target.comparator]), t)

    def leave_BooleanOperation(self, original, updated):
        op = "and" if isinstance(updated.operator, cst.And) else "or"
        i, t = _resolve_into(self.used, _BOOLOP_TABLE, op, (self.type_of(updated.left), self.type_of(updated.right)))
        return self.typed(_fcall(i, [updated.left, updated.right]), t)  # both sides evaluated, like Warp

    def visit_Call(self, node) -> bool:
        return _code(node.func) != "wp.static"  # its argument is Python, evaluated whole in leave_Call

    def leave_Call(self, original, updated):
        func = _code(updated.func)
        args = [a.value for a in updated.args]
        if func == "wp.static":
            return self._static(original)
        if func == "wp.tid":
            return self.typed(cst.Name("_tid"), INT32)
        if func == "range":
            return updated
        if func in self.structs and not args:  # S0(): a zero-initialised struct value
            self.used.add("struct")
            return self.typed(_rcall("result", cst.SimpleString('"struct"'), _rcall("snew", cst.SimpleString(repr(func)))),
                              self.structs[func])
        if func in self.funcs:  # a user @wp.func: Python call of its transpiled twin
            params, result = self.funcs[func]
            got = tuple(self.type_of(a.value) for a in updated.args)
            if got != params:
                raise ReferenceTypeError(f"{func} takes {params}, called with {got}")
            self.used.add("wp.func")
            return self.typed(_rcall("result", cst.SimpleString('"wp.func"'), updated), result)
        if func in _ATOMICS:
            self.used.add(_ATOMICS[func])
            n_operands = len(OPS.BY_NAME[_ATOMICS[func]].signatures[0].args)
            arr, index, operands = args[0], args[1:-n_operands], args[-n_operands:]
            idx = index[0] if len(index) == 1 else cst.Tuple([cst.Element(e) for e in index])
            return self.typed(_rcall("atomic", cst.SimpleString(repr(_ATOMICS[func])), arr, idx, *operands),
                              self.type_of(arr).dtype)
        positional = [a.value for a in updated.args if a.keyword is None]
        keywords = tuple((a.keyword.value, _code(a.value)) for a in original.args if a.keyword is not None)
        i, t = _resolve_into(self.used, _CALL_TABLE, func, tuple(self.type_of(a) for a in positional), keywords)
        op = CALLS[i][0]
        if op.returns_tuple:  # p, q, s = wp.transform_decompose(m): typed as the tuple of its results
            return self.typed(_fcall(i, positional), t)
        if op.inplace:  # wp.transform_set_translation(t, p): becomes `t = R.f[i](t, p)` in leave_Expr
            node = _fcall(i, positional)
            self.pending_outputs[id(node)] = positional[:1]
            return node
        if op.outputs:  # wp.svd3(A, U, s, V): becomes `U, s, V = R.f[i](A)` in leave_Expr
            inputs, outs = positional[: -op.outputs], positional[-op.outputs:]
            node = _fcall(i, inputs)
            self.pending_outputs[id(node)] = outs
            return node
        return self.typed(_fcall(i, positional), t)

    def _static(self, call: cst.Call):
        """``wp.static(e)``: Warp evaluates ``e`` as Python at code generation and embeds the value as a
        constant (int -> int32, float -> float32 rounded to nearest, bool -> bool); so does the reference."""
        if len(call.args) != 1:
            raise ReferenceTypeError("wp.static takes one expression")
        text = _code(call.args[0].value)
        try:
            value = eval(compile(text, "<wp.static>", "eval"), {"__builtins__": {}}, {})
        except Exception as e:
            raise ReferenceTypeError(f"wp.static({text}) is not a constant expression over literals: {e}") from None
        self.used.add("wp.static")

        def static(node):
            return _rcall("result", cst.SimpleString('"wp.static"'), node)

        if isinstance(value, bool):
            return self.typed(static(cst.Name(str(value))), BOOL)
        if isinstance(value, int):
            if not -(2**31) <= value < 2**31:
                raise ReferenceTypeError(f"wp.static({text}) = {value} does not fit int32")
            node = cst.Integer(str(value)) if value >= 0 else cst.UnaryOperation(cst.Minus(), cst.Integer(str(-value)))
            return self.typed(static(node), INT32)
        if isinstance(value, float):
            node = cst.Float(repr(abs(value)))
            if math.copysign(1.0, value) < 0:
                node = cst.UnaryOperation(cst.Minus(), node)
            return self.typed(static(_rcall("lit", node)), FLOAT32)
        raise ReferenceTypeError(f"wp.static({text}) has type {type(value).__name__}")

    def leave_Expr(self, original, updated):
        self._note_half(original)
        outs = self.pending_outputs.pop(id(updated.value), None)
        if outs is None:
            return updated
        for o in outs:
            if not isinstance(o, cst.Name):
                raise ReferenceTypeError("output arguments must be local variables")
        target = outs[0] if len(outs) == 1 else cst.Tuple([cst.Element(o) for o in outs])
        return cst.Assign(targets=(cst.AssignTarget(target),), value=updated.value)

    def leave_Attribute(self, original, updated):
        """``s.m0``: a struct field; ``v.x`` .. ``v.w``: a component of a vector (length <= 4) or quaternion."""
        bt = self.types.get(id(updated.value))
        if isinstance(bt, Struct):
            field = updated.attr.value
            ft = dict(bt.fields).get(field)
            if ft is None:
                raise ReferenceTypeError(f"{bt.name} has no field {field}")
            return self.typed(_rcall("fget", updated.value, cst.SimpleString(repr(field))), ft)
        k = COMPONENT_INDEX.get(updated.attr.value)
        if k is None or bt is None:  # a dotted name such as wp.sin: resolved by the enclosing call
            return updated
        if not (isinstance(bt, Composite) and bt.kind in ("vector", "quaternion") and k < bt.shape[0]):
            raise ReferenceTypeError(f"no component {_code(updated)} of {bt}")
        return self.typed(_rcall("cget", updated.value, cst.Integer(str(k))), bt.scalar)

    def leave_Subscript(self, original, updated):
        base = updated.value
        index = [e.slice.value for e in updated.slice]
        bt = self.type_of(base)
        if isinstance(bt, Array):
            idx = index[0] if len(index) == 1 else cst.Tuple([cst.Element(e) for e in index])
            return self.typed(_rcall("aload", base, idx), bt.dtype)
        if isinstance(bt, Composite):
            if len(bt.shape) == 2 and len(index) == 1:
                from grammar.types import composite

                row = (composite("vector", bt.scalar, bt.shape[1]) if bt.kind == "matrix"
                       else composite("spatial_vector", bt.scalar))
                return self.typed(_rcall("cget", base, *index), row)
            return self.typed(_rcall("cget", base, *index), bt.scalar)
        raise ReferenceTypeError(f"cannot index {_code(updated)}")

    # ---- statements ----

    def _tap(self, kind: str, value: cst.BaseExpression) -> cst.BaseExpression:
        if self.taps is None:
            return value
        self.taps.append((kind, tuple(self._blocks)))
        return _rcall("tap", cst.Integer(str(len(self.taps) - 1)), value)

    def visit_If(self, node) -> bool:
        self._blocks.append("if")
        return True

    def leave_If(self, original, updated):
        self._blocks.pop()
        return updated

    def visit_While(self, node) -> bool:
        self._blocks.append("while")
        return True

    def leave_While(self, original, updated):
        self._blocks.pop()
        return updated

    def leave_For(self, original, updated):
        self._blocks.pop()
        return updated

    def visit_SimpleStatementLine(self, node) -> bool:
        self._half = False  # noted by the assignment, expression or return it holds (_note_half)
        return True

    def _note_half(self, original) -> None:
        if self._half:
            self.half_statements.setdefault(self._func, set()).add(_code(original))

    def leave_Assign(self, original, updated):
        self._note_half(original)
        (target,) = updated.targets
        t = target.target
        if isinstance(t, cst.Call):  # out[i] = v, v[i] = x, s.m0 = x, s.m1[2] = x, out[i].m0 = x
            self._check_store(t, updated.value)
            func = _code(t.func)
            kind = {"R.aload": "store", "R.cget": "component write", "R.fget": "field write"}.get(func, "store")
            return _store(t, self._tap(kind, updated.value))
        if isinstance(t, cst.Tuple) and _code(updated.value) == "_tid":  # i, j = wp.tid()
            for e in t.elements:
                self.env[e.value.value] = INT32
            return updated
        if isinstance(t, cst.Tuple):  # a, b = f(x): a @wp.func with several return values
            vt = self.type_of(updated.value)
            if not isinstance(vt, tuple) or len(vt) != len(t.elements):
                raise ReferenceTypeError(f"cannot unpack {_code(updated.value)} into {len(t.elements)} names")
            for e, et in zip(t.elements, vt):
                declared = self.env.setdefault(e.value.value, et)
                if declared != et:
                    raise ReferenceTypeError(f"{e.value.value} changes type from {declared} to {et}")
            return updated
        if isinstance(t, cst.Name):
            vt = self.type_of(updated.value)
            kind = "assign" if t.value in self.env else "declare"
            declared = self.env.setdefault(t.value, vt)
            if declared != vt:
                raise ReferenceTypeError(f"{t.value} changes type from {declared} to {vt}")
            if self.taps is not None and not isinstance(vt, Struct):
                return updated.with_changes(value=self._tap(kind, updated.value))
            return updated
        raise ReferenceTypeError(f"unsupported assignment target {_code(t)}")

    def leave_AugAssign(self, original, updated):
        self._note_half(original)
        spelling = SPELLING_OF[type(updated.operator)]
        tt = self.type_of(updated.target)
        i, t = _resolve_into(self.used, _BINOP_TABLE, spelling, (tt, self.type_of(updated.value)))
        if t != tt:
            raise ReferenceTypeError(f"{_code(updated.target)} {spelling}= changes its type")
        value = _fcall(i, [updated.target, updated.value])
        target = updated.target
        func = _code(target.func) if isinstance(target, cst.Call) else ""
        kind = {"R.aload": "in-place array update", "R.cget": "component write"}.get(func, "augassign")
        return _store(updated.target, self._tap(kind, value))  # out[i] += v, v[k] += x, x += e

    def _check_store(self, target, value) -> None:
        """A struct field (or a whole struct) is written with a value of exactly its type."""
        tt = self.type_of(target)
        if (_code(target.func) == "R.fget" or isinstance(tt, Struct)) and self.type_of(value) != tt:
            raise ReferenceTypeError(f"cannot store a {self.type_of(value)} into {_code(target)} of type {tt}")

    def visit_For(self, node: cst.For) -> bool:
        if isinstance(node.target, cst.Name):
            self.env[node.target.value] = INT32
        self._blocks.append("for")
        return True


def _store(target: cst.BaseExpression, value: cst.BaseExpression):
    """The statement writing ``value`` into the transpiled place ``target``, copying on the way out:
    ``R.aload(a, i)`` -> ``R.astore(a, i, value)``; ``R.cget(v, k)`` -> store ``R.cset(v, value, k)`` into ``v``;
    ``R.fget(s, "m")`` -> store ``R.fset(s, "m", value)`` into ``s``; a name -> ``name = value``."""
    if isinstance(target, cst.Name):
        return cst.Assign(targets=(cst.AssignTarget(target),), value=value)
    func = _code(target.func) if isinstance(target, cst.Call) else ""
    if func == "R.aload":
        arr, idx = (a.value for a in target.args)
        return cst.Expr(_rcall("astore", arr, idx, value))
    if func == "R.cget":
        v, *index = (a.value for a in target.args)
        return _store(v, _rcall("cset", v, value, *index))
    if func == "R.fget":
        s, field = (a.value for a in target.args)
        return _store(s, _rcall("fset", s, field, value))
    raise ReferenceTypeError(f"unsupported assignment target {_code(target)}")


@lru_cache(maxsize=256)
def parsed(source: str) -> cst.Module:
    """The libcst tree of a kernel's source, parsed once: the transpiler, the parameter types and the
    gradient oracle's static analysis all read it (libcst trees are immutable, so sharing is safe)."""
    return cst.parse_module(source)


def struct_types(source: str) -> dict[str, Struct]:
    """The ``@wp.struct`` classes of a kernel's source, by name (fields typed like parameter annotations)."""
    structs: dict[str, Struct] = {}
    for s in parsed(source).body:
        if not isinstance(s, cst.ClassDef):
            continue
        if not s.decorators or _code(s.decorators[0].decorator) != "wp.struct":
            raise ReferenceTypeError(f"class {s.name.value} is not a @wp.struct")
        fields = []
        for line in s.body.body:
            (stmt,) = line.body
            if not isinstance(stmt, cst.AnnAssign) or stmt.value is not None:
                raise ReferenceTypeError(f"{s.name.value}: only annotated fields are supported")
            fields.append((stmt.target.value, parse_annotation(stmt.annotation.annotation, structs)))
        structs[s.name.value] = Struct(s.name.value, tuple(fields))
    return structs


def _definitions(source: str) -> list[cst.FunctionDef]:
    """The function definitions of a kernel's source: ``@wp.func`` helpers first, the ``@wp.kernel`` last."""
    defs = [s for s in parsed(source).body if isinstance(s, cst.FunctionDef)
            and s.name.value not in OPS.FRAGMENT_NAMES]  # (library-function rows: their semantics is the table's)
    if not defs or _code(defs[-1].decorators[0].decorator) != "wp.kernel":
        raise ReferenceTypeError("the source must end with a @wp.kernel function")
    return defs


def _reference_pass(source: str, taps: list | None = None) -> tuple[str, "_ToReference"]:
    """One libcst pass over a kernel's definitions: the reference source and its visitor (``taps``: see
    :func:`_tapped_transpile`)."""
    t = _ToReference(struct_types(source), taps)
    body = tuple(d.visit(t) for d in _definitions(source))
    return cst.Module(body=body).code, t


@lru_cache(maxsize=1024)
def _transpile(source: str) -> tuple[str, "_ToReference"]:
    """The reference source without taps (what :func:`transpile` and the JAX backend read) and its visitor."""
    return _reference_pass(source)


@lru_cache(maxsize=1024)
def _tapped_transpile(source: str) -> tuple[str, "_ToReference", list]:
    """The reference source with every assigned value routed through ``R.tap(k, value)``, its visitor (types,
    rows used: the same as :func:`_transpile`'s, since a tap only wraps a value) and the taps' kinds.

    The one libcst pass of the hot path: the plain function (:func:`_compiled`) is this source with the taps
    stripped by :class:`_StripTaps` on Python's own (C) parser, so a kernel is transformed by libcst once, not once
    per form (the second pass was about half the cost of choosing a kernel's first inputs)."""
    taps: list = []
    code, t = _reference_pass(source, taps)
    return code, t, taps


class _StripTaps(ast.NodeTransformer):
    """``R.tap(k, value)`` -> ``value``: the tapped reference source back to the plain one (a tap only wraps)."""

    def visit_Call(self, node: ast.Call):
        f = node.func
        if (isinstance(f, ast.Attribute) and f.attr == "tap" and isinstance(f.value, ast.Name) and f.value.id == "R"
                and len(node.args) == 2 and not node.keywords):
            return self.visit(node.args[1])
        return self.generic_visit(node)


@lru_cache(maxsize=256)
def tapped(kernel_source: str):
    """The reference function with every assigned value routed through ``R.tap(k, value)`` (liveness
    measurement), and the statement kinds of the taps: ``(function, [(kind, enclosing blocks), ...])``."""
    code, _, taps = _tapped_transpile(kernel_source)
    namespace: dict = {}
    exec(compile(code, "<reference-tapped>", "exec"), namespace)
    return namespace["reference_kernel"], taps


def typed_ir(kernel_source: str) -> tuple[str, dict[str, dict], dict[str, tuple]]:
    """The transpiled reference source (every row use resolved to ``R.f[i]``, i.e. ``CALLS[i]``), the local types
    per function, and each ``@wp.func`` helper's (parameter types, result type): what the JAX backend
    (harness.jax_backend.render) translates. Read-only: shared with the reference's own cache."""
    code, t = _transpile(kernel_source)
    return code, t.envs, t.funcs


def local_types(kernel_source: str) -> dict[str, dict]:
    """Function name -> {parameter or local name -> Warp type}, for each definition of a kernel's source."""
    return _tapped_transpile(kernel_source)[1].envs


def half_product_statements(kernel_source: str) -> dict[str, set[str]]:
    """Function name -> the code of its assignments and expression statements that compute a float16 matrix,
    quaternion, transform or spatial matrix anywhere inside (``x = wp.determinant(wp.inverse(m))`` of a
    ``mat44h`` ``m``): its local types are fixed, so the same code in one function always computes the same."""
    return _tapped_transpile(kernel_source)[1].half_statements


def rows_used(kernel_source: str) -> set[str]:
    """Names of the table rows (operators, builtins, atomics) a kernel's source uses, as resolved by type."""
    return set(_tapped_transpile(kernel_source)[1].used)


@lru_cache(maxsize=4096)
def transpile(kernel_source: str) -> str:
    """Python source of the reference function for a kernel's source (``@wp.func`` helpers + the kernel)."""
    return _transpile(kernel_source)[0]


@lru_cache(maxsize=4096)
def _compiled(kernel_source: str):
    """The plain reference function: :func:`_tapped_transpile`'s source with its taps stripped (the same code as
    :func:`transpile`'s; ``tests/test_liveness.py`` checks it on generated kernels)."""
    tree = ast.fix_missing_locations(_StripTaps().visit(ast.parse(_tapped_transpile(kernel_source)[0])))
    namespace: dict = {}
    exec(compile(tree, "<reference>", "exec"), namespace)
    return namespace["reference_kernel"]


@dataclass
class ReferenceRun:
    outputs: dict[str, np.ndarray]
    trace: list[float]  # relative distances to discontinuities, in evaluation order (see traces_fragile)


@lru_cache(maxsize=4096)
def _param_types(kernel_source: str) -> dict:
    """Parameter name -> Warp type of the kernel (the last definition) of a kernel's source."""
    structs = _struct_types_cached(kernel_source)
    func = _definitions(kernel_source)[-1]
    return {p.name.value: parse_annotation(p.annotation.annotation, structs) for p in func.params.params}


def run_reference(
    kernel_source: str,
    params: list,  # ParamSpec-like: .name, .kind, .role
    values: dict,
    dim: int,
    *,
    float_t: type = np.float32,
    perturb_seed: int | None = None,
    runtime: Runtime | None = None,
    taps: bool = False,
) -> ReferenceRun:
    """Run the kernel on ``values`` (name -> numpy array / python scalar) for thread ids ``0..dim-1``.

    ``float_t=np.float32`` is the native-precision run, ``np.float64`` the high-precision one. A
    ``runtime`` given explicitly (e.g. one that records every call, for the gradient check) replaces
    the one ``float_t`` and ``perturb_seed`` would make.
    """
    fn = tapped(kernel_source)[0] if taps else _compiled(kernel_source)
    structs = _struct_types_cached(kernel_source)
    if runtime is not None:
        R = runtime
        R.structs = R.structs or structs
    else:
        R = Runtime(float_t, perturb_seed, structs)
    fn.__globals__["R"] = R
    types = _param_types(kernel_source)
    args, arrays = [], {}
    for p in params:
        t, v = types[p.name], values[p.name]
        if isinstance(t, Array):
            arrays[p.name] = _ref_array(R, v, p.name, t)
            args.append(arrays[p.name])
        elif isinstance(t, Struct):
            args.append(R.struct_value(t, v, p.name))
        else:
            args.append(R.coerce(v, t))
    threads = range(dim) if isinstance(dim, int) else np.ndindex(*dim)  # row-major, as Warp's CPU launch
    with np.errstate(all="ignore"):
        for tid in threads:
            fn(tid if isinstance(tid, int) else tuple(int(k) for k in tid), *args)
    outputs = {}
    for p in params:
        if p.name in arrays and p.role in ("output", "atomic"):
            elem = arrays[p.name].type.dtype
            if isinstance(elem, Struct):
                outputs |= struct_fields_out(p.name, elem, arrays[p.name].data)
            else:
                outputs[p.name] = arrays[p.name].data
    return ReferenceRun(outputs, R.ctx.trace)


@lru_cache(maxsize=4096)
def _struct_types_cached(kernel_source: str) -> dict:
    return struct_types(kernel_source)
