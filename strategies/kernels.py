"""Complete ``@wp.kernel`` functions as libcst ASTs, with their parameter specs and categories.

What is generated: :class:`GeneratedKernel` - a ``FunctionDef`` decorated with ``@wp.kernel`` whose
parameters are 1-D input arrays, own-slot output arrays, atomic-accumulator arrays, scalar parameters and
struct parameters (arrays may hold user ``@wp.struct`` values too, see :mod:`strategies.structs`), and whose
body is ``tid = wp.tid()``, a block of statements, and a final store to every own-slot output.
The parameter specs say how to make valid inputs for it (value ranges from the policy); the categories
say which of the ten corpus categories it exercises, computed from the AST.

Guarantees: see :mod:`strategies.statements`; in short well typed, no UB, no races, terminating.

Half of the kernels (``Policy.directed_weights``) are *gradient-directed*: built for the gradient check
(see :func:`kernels`), with a short main block after their favoured rows' calls
(``Policy.directed_max_statements``).

Shrinking: toward an ordinary (not gradient-directed) kernel, one input, one output, no scalar parameters, no
struct types, no atomics, one statement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import hypothesis.strategies as st
import libcst as cst

from grammar import ops as OPS
from grammar.policy import DEFAULT_POLICY, Policy
from grammar.types import (ARRAY_ELEMENT_TYPES, BOOL, FLOAT32, INT32, VEC3, Array, Scalar, Struct, ValueType,
                           float_valued, half_product)

from . import _cst as B
from .categories import categories_of
from .core import accumulates, choose, spread_choice
from .expressions import expression, literal_types, live, usable_ops
from .functions import call_statement as helper_call, helper_function
from .scope import ArrayParam, Scope, Var
from .sinks import sink_shapes, sink_statements, sink_target
from .statements import block, call_statement
from .structs import field_interval, field_store, struct_def, struct_types, value_fields


@dataclass(frozen=True)
class ParamSpec:
    """One kernel parameter: how it is annotated and which values a launch may pass."""

    name: str
    kind: str  # "array" | "scalar"
    dtype: str  # "float32" | "int32" | "vec3"
    role: str  # "input" | "output" | "atomic" | "param"
    low: float
    high: float
    shape: tuple[int, ...] = ()  # arrays: the array shape (== the launch shape); structs: array-field shape
    struct: Struct | None = None  # the element/parameter type when it is a user @wp.struct (dtype is its name)
    field_ranges: tuple[tuple[float, float], ...] = ()  # structs: value range per field (array fields: elements)

    @property
    def is_output(self) -> bool:
        return self.role in ("output", "atomic")


@dataclass(frozen=True)
class GeneratedKernel:
    name: str
    func: cst.FunctionDef
    params: tuple[ParamSpec, ...]
    categories: tuple[str, ...]
    dim: int | tuple[int, ...]  # launch dimension(s)
    helpers: tuple[cst.FunctionDef, ...] = ()  # user @wp.func definitions the kernel calls
    structs: tuple[cst.ClassDef, ...] = ()  # user @wp.struct definitions the kernel uses
    directed: bool = False  # drawn gradient-directed (Policy.directed_weights)
    #: sources of the ``@wp.func`` definitions of the library-function rows the kernel calls (grammar.ops_nn:
    #: ``softmax``...), each an overload named like its row's spelling; not renamed with the kernel (every
    #: kernel of a module shares them: :func:`harness.pipeline.module_source` writes each once)
    fragments: tuple[str, ...] = ()

    @cached_property  # rendering is costly and the harness reads it many times; nodes are immutable
    def source(self) -> str:
        """A complete, importable module holding this kernel, its library functions, struct types and helper
        functions."""
        own = B.render(B.module([*self.structs, *self.helpers, self.func]))
        if not self.fragments:
            return own
        head, _, rest = own.partition("\n\n\n")  # after the import line
        return f"{head}\n\n\n" + "\n\n".join(self.fragments) + "\n\n" + rest

    @cached_property
    def kernel_source(self) -> str:
        """The definitions (library functions, struct types, helper functions, then the kernel) without the
        import line."""
        return "\n\n".join((*self.fragments, self.own_source)) if self.fragments else self.own_source

    @cached_property
    def own_source(self) -> str:
        """:attr:`kernel_source` without the library functions (a module of several kernels holds each once)."""
        return "\n\n".join(B.render(d) for d in (*self.structs, *self.helpers, self.func))

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        return f"GeneratedKernel(<<<\n{self.kernel_source}>>>)"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis pretty-prints through this hook
        p.text(repr(self))

    def renamed(self, name: str) -> "GeneratedKernel":
        """The same kernel named ``name``; helper functions and struct types become ``<name>_f0``,
        ``<name>_S0``... (unique per module)."""
        mapping = {d.name.value: f"{name}_{d.name.value}" for d in (*self.helpers, *self.structs)}
        if not mapping:  # nothing inside to rename (most kernels): no walk over the whole tree
            return replace(self, name=name, func=self.func.with_changes(name=B.name(name)))
        renamer = _Rename(mapping)
        helpers = tuple(h.visit(renamer) for h in self.helpers)
        structs = tuple(s.visit(renamer) for s in self.structs)
        func = self.func.visit(renamer).with_changes(name=B.name(name))
        params = tuple(replace(p, dtype=mapping[p.dtype], struct=p.struct.renamed(mapping[p.dtype]))
                       if p.struct is not None else p for p in self.params)
        return replace(self, name=name, func=func, helpers=helpers, structs=structs, params=params)


class _Rename(cst.CSTTransformer):
    def __init__(self, mapping: dict[str, str]):
        super().__init__()
        self.mapping = mapping

    def leave_Name(self, original, updated):
        new = self.mapping.get(updated.value)
        return updated.with_changes(value=new) if new else updated

    def leave_Attribute(self, original, updated):  # field names (r3.m0) are never renamed
        return updated.with_changes(attr=original.attr)


def _annotation(p: ParamSpec) -> str:
    from grammar.types import BY_NAME

    if p.struct is not None:
        return Array(p.struct, len(p.shape) or 1).warp_name if p.kind == "array" else p.struct.name
    t = BY_NAME[p.dtype]
    if p.kind == "array":
        return Array(t, len(p.shape) or 1).warp_name
    return {"float32": "float", "int32": "int"}.get(p.dtype, t.warp_name)


def _value_range(policy: Policy, t: ValueType, role: str) -> tuple[float, float]:
    if role in ("output", "atomic"):
        return (0, 0)
    scalar = getattr(t, "scalar", t)
    if role == "param":
        return policy.int_param_range if scalar.is_int else policy.float_param_range
    if scalar.kind == "bool":
        return (0, 1)
    if scalar.is_int:
        lo, hi = policy.int_input_range
        return max(lo, scalar.min), min(hi, scalar.max)
    return policy.float_input_range if t == scalar else policy.vec_input_range


def _struct_spec(policy: Policy, name: str, kind: str, s: Struct, role: str, shape: tuple, field_shape: tuple,
                 sc: Scope) -> ParamSpec:
    """The spec of a struct parameter or struct array: per-field value ranges (int fields: the interval
    their reads assume, :func:`strategies.structs.field_interval`)."""
    ranges = []
    for _, t in s.fields:
        t = t.dtype if isinstance(t, Array) else t
        if role != "input" and role != "param":
            ranges.append((0, 0))
        elif isinstance(t, Scalar) and t.is_int:
            ranges.append(field_interval(sc, t))
        else:
            ranges.append(_value_range(policy, t, "input"))
    shape = shape if kind == "array" else (field_shape if s.has_array else ())
    return ParamSpec(name, kind, s.name, role, 0, 0, shape, s, tuple(ranges))


#: launch shapes by rank; every array parameter has the launch shape
SHAPES = {1: (16,), 2: (4, 4), 3: (4, 2, 2)}
CORE_TYPES = (FLOAT32, INT32, VEC3)


@lru_cache(maxsize=1)
def focusable_rows() -> tuple:
    """Rows a kernel may favour (table order), each with its signatures over types that have literals."""
    lits = literal_types()
    rows = []
    for op in OPS.OPS:
        if op.outputs or op.inplace:  # statement rows
            sigs = tuple(s for s in op.signatures if all(a in lits for a in s.args))
        else:  # what expressions may use (int rows need an interval rule)
            sigs = tuple(s for s in op.signatures if s.result in lits and (op, s) in usable_ops(s.result))
        if sigs:
            rows.append((op, sigs))
    return tuple(rows)


@st.composite
def focus_row(draw: st.DrawFn, weights: tuple[int, int] = DEFAULT_POLICY.focus_pool_weights) -> tuple:
    """One (row, signature) pair a kernel favours: an expression row or, with weights ``(expression rows,
    statement rows)`` (``Policy.focus_pool_weights``: a fifth of the picks), one of the 8 statement rows (svd3,
    transform_decompose...). Shrinks toward the first expression row."""
    pools = ([r for r in focusable_rows() if not (r[0].outputs or r[0].inplace)],
             [r for r in focusable_rows() if r[0].outputs or r[0].inplace])
    op, sigs = spread_choice(draw, choose(draw, pools, list(weights)))
    return op, spread_choice(draw, list(sigs))


@lru_cache(maxsize=1)
def differentiable_rows() -> tuple:
    """The focusable rows (:func:`focusable_rows`) with an adjoint, each with its signatures whose arguments
    include a float value and whose result (or an output argument) is one: where a derivative flows. Left out:
    overloads over float16 products (their adjoint is not checked, see ``grammar.types.half_product``), those
    Warp has no adjoint for (``grammar.ops.adjoint_missing``) and in-place rows (component writes: Warp's
    gradient through them is spoiled once the local was read)."""
    rows = []
    for op, sigs in focusable_rows():
        if not op.differentiable or op.family == "atomic" or op.inplace:  # (in-place: component writes)
            continue
        kept = tuple(s for s in sigs if any(float_valued(a) for a in s.args) and (
            float_valued(s.result) if s.result is not None else op.outputs)
            and not any(half_product(t) for t in (*s.args, s.result)) and not OPS.adjoint_missing(op, s))
        if kept:
            rows.append((op, kept))
    return tuple(rows)


@st.composite
def differentiable_focus_row(draw: st.DrawFn, pool: tuple[str, ...] = ()) -> tuple:
    """One (row, signature) pair a gradient-directed kernel favours, nearly uniform over
    :func:`differentiable_rows` (every row's adjoint gets its share of the checked kernels), or over those
    of them named in ``pool`` (``Policy.directed_focus_pool``; names of no such row are ignored, and a pool
    naming none of them counts as empty)."""
    rows = [r for r in differentiable_rows() if r[0].name in pool] if pool else []
    op, sigs = spread_choice(draw, rows or list(differentiable_rows()))
    return op, spread_choice(draw, list(sigs))


def focus_rows(draw, policy: Policy, directed: bool = False) -> list:
    """0..max_focus_rows (row, signature) pairs the kernel favours (a gradient-directed kernel:
    directed_focus_rows - 2 (at least 1) to directed_focus_rows, all differentiable: 4-6 by default, for adjoint reach;
    1-5 gave 2.9 on average, 3-5 gave 4.0), distinct rows: with harness.fuzz's pool of 8 rows, a third of the
    picks repeated a row of the same kernel (no extra use of its adjoint) until 0.4.3. Drawn as a list so the
    shrinker deletes whole picks (shrinks toward the fewest, then early rows)."""
    if directed and policy.directed_focus_rows:
        pool = policy.directed_focus_pool
        available = sum(1 for op, _ in differentiable_rows() if op.name in pool) if pool else 0
        available = available or len(differentiable_rows())  # (a pool naming no row counts as empty)
        high = min(policy.directed_focus_rows, available)
        return draw(st.lists(differentiable_focus_row(pool), min_size=min(max(1, policy.directed_focus_rows - 2), high),
                             max_size=high, unique_by=lambda pick: pick[0].name))
    return draw(st.lists(focus_row(policy.focus_pool_weights), max_size=policy.max_focus_rows))


@st.composite
def _helper(draw: st.DrawFn, sc: Scope, index: int, local: list):
    """One helper function drawn as its own span, which the shrinker can delete as a whole."""
    return helper_function(draw, sc, index, local)


@st.composite
def kernels(draw: st.DrawFn, policy: Policy = DEFAULT_POLICY, name: str = "kernel") -> GeneratedKernel:
    """Generate one verified-by-construction Warp kernel (see the module docstring).

    Swarm testing: each kernel draws a *palette* of extra types (beyond float32/int32/bool/vec3) and a
    launch rank; shrinking removes the extra types and goes back to 1-D launches.

    Gradient-directed kernels (``policy.directed_weights``; shrinks to an ordinary one) favour
    differentiable rows, take a float first input and a float first output, and draw no statement that
    makes Warp's adjoint unusable (see :attr:`Scope.directed`): most of them get their gradient checked.
    Their main block holds at most ``policy.directed_max_statements`` statements after the favoured rows'
    calls (a row's adjoint counts once per checked kernel; the rest of a long block costs build time).
    """
    w_ordinary, w_directed = policy.directed_weights  # no draw when one weight is 0 (stable draws)
    directed = choose(draw, [False, True], [w_ordinary, w_directed]) if w_ordinary and w_directed else bool(w_directed)
    pool = sorted((t for t in literal_types() if t not in CORE_TYPES and t != BOOL and not (
        directed and half_product(t))), key=lambda t: t.name)  # (a half product's adjoint is not checked)
    n_extra = draw(st.integers(0, min(policy.max_extra_types, len(pool)))) if pool else 0
    extras = [choose(draw, pool) for _ in range(n_extra)]
    focus = focus_rows(draw, policy, directed)
    extras += [t for _, sig in focus for t in (*sig.args, sig.result) if t is not None and t not in CORE_TYPES
               and t != BOOL and t not in extras]
    palette = frozenset(CORE_TYPES + (BOOL,) + tuple(extras))
    local = [t for t in [FLOAT32, INT32, BOOL, VEC3] + sorted(set(extras), key=lambda t: t.name)]
    structs = struct_types(draw, policy, local)
    plain_structs = [s for s in structs if not s.has_array]  # may be locals, array elements, helper values
    rank = choose(draw, [1, 2, 3], list(policy.array_rank_weights))
    shape = SHAPES[rank] if rank > 1 else (policy.dim,)
    element_types = list(ARRAY_ELEMENT_TYPES) + [t for t in dict.fromkeys(extras)] + plain_structs
    n_in = draw(st.integers(1, policy.max_inputs))
    n_out = draw(st.integers(1, policy.max_outputs))
    n_atomic = draw(st.integers(0, policy.max_atomic_arrays))
    n_scalar = draw(st.integers(0, policy.max_scalar_params))
    inputs = [ArrayParam(f"a{i}", choose(draw, element_types), "input") for i in range(n_in)]
    floats = [t for t in element_types if float_valued(t)]
    if not any(float_valued(a.dtype) for a in inputs) and floats and (directed or choose(
            draw, [False, True], [1, policy.float_input_odds])):
        inputs[0] = ArrayParam("a0", choose(draw, floats), "input")  # a derivative for the gradient check
    outputs = [ArrayParam(f"out{i}", choose(draw, element_types), "output") for i in range(n_out)]
    if directed and floats and not float_valued(outputs[0].dtype):
        outputs[0] = ArrayParam("out0", choose(draw, floats), "output")
    atomics = [ArrayParam(f"acc{i}", choose(draw, [FLOAT32, INT32]), "atomic") for i in range(n_atomic)]
    scalar_types = [INT32, FLOAT32] + [t for t in dict.fromkeys(extras) if isinstance(t, Scalar) and t != BOOL]
    scalars = [(f"s{i}", choose(draw, scalar_types)) for i in range(n_scalar)]
    n_struct = draw(st.integers(0, policy.max_struct_params)) if structs else 0
    struct_params = [(f"sp{i}", choose(draw, structs)) for i in range(n_struct)]

    sc = Scope(policy, inputs, outputs, atomics, palette=palette, shape=shape,
               focus=frozenset(op.name for op, _ in focus), structs=structs, directed=directed)
    specs: list[ParamSpec] = []
    for a in inputs + outputs + atomics:
        if isinstance(a.dtype, Struct):
            specs.append(_struct_spec(policy, a.name, "array", a.dtype, a.role, shape, (), sc))
            continue
        lo, hi = _value_range(policy, a.dtype, a.role)
        specs.append(ParamSpec(a.name, "array", a.dtype.name, a.role, lo, hi, shape))
    for pname, t in scalars:
        lo, hi = _value_range(policy, t, "param")
        specs.append(ParamSpec(pname, "scalar", t.name, "param", lo, hi))
        tracked = t.is_int and not t.wraps
        sc.declare(Var(pname, t, "param", int(lo), int(hi)) if tracked else Var(pname, t, "param"))
    for pname, s in struct_params:
        specs.append(_struct_spec(policy, pname, "scalar", s, "param", (), (sc.dims[0],), sc))
        sc.declare(Var(pname, s, "param"))
    helpers = []
    for i in range(draw(st.integers(0, policy.max_funcs))):
        fdef, fsig = draw(_helper(sc, i, local + plain_structs))
        helpers.append(fdef)
        sc.funcs.append(fsig)
    tid_names = ["tid"] if rank == 1 else ["ti", "tj", "tk"][:rank]
    for k, tname in enumerate(tid_names):
        sc.declare(Var(tname, INT32, "tid", 0, shape[k] - 1))

    target = B.name("tid") if rank == 1 else B.names_tuple(tid_names)
    body = [B.assign(target, B.call("wp.tid"))]
    for op, sig in focus:  # each favoured row is used at least once
        body += call_statement(draw, sc, op, sig)
    lean = policy.directed_max_statements if directed else None
    if lean != 0:
        body += block(draw, sc, max_stmts=lean, min_stmts=0)
    for out in outputs:
        with live(sc):  # the final value of an output carries data
            e = expression(draw, sc, out.dtype, draw(st.integers(0, policy.max_expr_depth)))
        slot = B.subscript(B.name(out.name), *sc.own_slot())
        if out.name in sc.written and accumulates(out.dtype):  # what the body stored stays in the output
            body.append(B.aug_assign(slot, "+", e.node))
        elif out.name in sc.written and not isinstance(out.dtype, Struct):
            # an int or bool output the body stored to keeps that value, and this one goes to a sink slot (a
            # plain store here overwrote it: `atomic_exch` into an int output was 3 of 14 live census uses)
            body.append(B.assign(sink_target(sc, out.dtype), e.node))
        else:
            body.append(B.assign(slot, e.node))
        if isinstance(out.dtype, Struct):  # then some of its fields: out0[tid].m0 = e
            for _ in range(draw(st.integers(0, len(value_fields(out.dtype))))):
                body.append(field_store(draw, sc, slot, out.dtype, draw(st.integers(0, policy.max_expr_depth))))

    called = B.called_names(*helpers, *body)
    for fsig in sc.funcs:  # a helper nothing calls would be dead code: call it once
        if fsig.name not in called:
            body.append(helper_call(draw, sc, fsig))
    body += sink_statements(sc, [v for v in sc.vars if v.kind == "local"])  # locals outside the main block
    for sname, t, sshape in sink_shapes(sc):
        specs.append(ParamSpec(sname, "array", t.name, "output", 0, 0, sshape))
    params = [B.param(p.name, _annotation(p)) for p in specs]
    func = B.kernel_def(name, params, body)
    dim = shape[0] if rank == 1 else shape
    used = B.names_in(*helpers, func)  # a struct type nothing uses is not rendered
    called = B.called_names(*helpers, func)  # (an expression drawn and then redrawn left no call behind)
    fragments = tuple(OPS.fragment_source(OPS.BY_NAME[row], s) for row, s in sc.fragments
                      if OPS.BY_NAME[row].spelling in called)
    return GeneratedKernel(name, func, tuple(specs), categories_of(func), dim, tuple(helpers),
                           tuple(struct_def(s) for s in structs if s.name in used), directed, fragments)
