"""Complete ``@wp.kernel`` functions as libcst ASTs, with their parameter specs and categories.

What is generated: :class:`GeneratedKernel` - a ``FunctionDef`` decorated with ``@wp.kernel`` whose
parameters are 1-D input arrays, own-slot output arrays, atomic-accumulator arrays and scalar parameters,
and whose body is ``tid = wp.tid()``, a block of statements, and a final store to every own-slot output.
The parameter specs say how to make valid inputs for it (value ranges from the policy); the categories
say which of the ten corpus categories it exercises, computed from the AST.

Guarantees: see :mod:`strategies.statements`; in short well typed, no UB, no races, terminating.

Shrinking: toward one input, one output, no scalar parameters, no atomics, one statement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import hypothesis.strategies as st
import libcst as cst

from grammar import ops as OPS
from grammar.policy import DEFAULT_POLICY, Policy
from grammar.types import ARRAY_ELEMENT_TYPES, BOOL, FLOAT32, INT32, VEC3, Array, Scalar, ValueType

from . import _cst as B
from .categories import categories_of
from .expressions import choose, expression, literal_types, spread_choice, usable_ops
from .functions import helper_function
from .scope import ArrayParam, Scope, Var
from .statements import block, call_statement


@dataclass(frozen=True)
class ParamSpec:
    """One kernel parameter: how it is annotated and which values a launch may pass."""

    name: str
    kind: str  # "array" | "scalar"
    dtype: str  # "float32" | "int32" | "vec3"
    role: str  # "input" | "output" | "atomic" | "param"
    low: float
    high: float
    shape: tuple[int, ...] = ()  # arrays: the array shape (== the launch shape)

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

    @cached_property  # rendering is costly and the harness reads it many times; nodes are immutable
    def source(self) -> str:
        """A complete, importable module holding this kernel and its helper functions."""
        return B.render(B.module([*self.helpers, self.func]))

    @cached_property
    def kernel_source(self) -> str:
        """The definitions (helper functions, then the kernel) without the import line."""
        return "\n\n".join(B.render(d) for d in (*self.helpers, self.func))

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        return f"GeneratedKernel(<<<\n{self.kernel_source}>>>)"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis pretty-prints through this hook
        p.text(repr(self))

    def renamed(self, name: str) -> "GeneratedKernel":
        """The same kernel named ``name``; helper functions become ``<name>_f0``... (unique per module)."""
        mapping = {h.name.value: f"{name}_{h.name.value}" for h in self.helpers}
        renamer = _Rename(mapping)
        helpers = tuple(h.visit(renamer) for h in self.helpers)
        func = self.func.visit(renamer).with_changes(name=B.name(name))
        return replace(self, name=name, func=func, helpers=helpers)


class _Rename(cst.CSTTransformer):
    def __init__(self, mapping: dict[str, str]):
        super().__init__()
        self.mapping = mapping

    def leave_Name(self, original, updated):
        new = self.mapping.get(updated.value)
        return updated.with_changes(value=new) if new else updated


def _annotation(p: ParamSpec) -> str:
    from grammar.types import BY_NAME

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


def focus_rows(draw, policy: Policy) -> list:
    """0..max_focus_rows (row, signature) pairs the kernel favours (shrinks toward none, then early rows)."""
    pools = ([r for r in focusable_rows() if not (r[0].outputs or r[0].inplace)],
             [r for r in focusable_rows() if r[0].outputs or r[0].inplace])
    picked = []
    for _ in range(draw(st.integers(0, policy.max_focus_rows))):
        # the 8 statement rows (svd3, transform_decompose...) get a sixth of the picks
        op, sigs = spread_choice(draw, choose(draw, pools, [5, 1]))
        picked.append((op, spread_choice(draw, list(sigs))))
    return picked


@st.composite
def kernels(draw: st.DrawFn, policy: Policy = DEFAULT_POLICY, name: str = "kernel") -> GeneratedKernel:
    """Generate one verified-by-construction Warp kernel (see the module docstring).

    Swarm testing: each kernel draws a *palette* of extra types (beyond float32/int32/bool/vec3) and a
    launch rank; shrinking removes the extra types and goes back to 1-D launches.
    """
    pool = sorted((t for t in literal_types() if t not in CORE_TYPES and t != BOOL), key=lambda t: t.name)
    n_extra = draw(st.integers(0, min(policy.max_extra_types, len(pool)))) if pool else 0
    extras = [choose(draw, pool) for _ in range(n_extra)]
    focus = focus_rows(draw, policy)
    extras += [t for _, sig in focus for t in (*sig.args, sig.result) if t is not None and t not in CORE_TYPES
               and t != BOOL and t not in extras]
    palette = frozenset(CORE_TYPES + (BOOL,) + tuple(extras))
    rank = choose(draw, [1, 2, 3], [6, 2, 1])
    shape = SHAPES[rank] if rank > 1 else (policy.dim,)
    element_types = list(ARRAY_ELEMENT_TYPES) + [t for t in dict.fromkeys(extras)]
    n_in = draw(st.integers(1, policy.max_inputs))
    n_out = draw(st.integers(1, policy.max_outputs))
    n_atomic = draw(st.integers(0, 1))
    n_scalar = draw(st.integers(0, policy.max_scalar_params))
    inputs = [ArrayParam(f"a{i}", choose(draw, element_types), "input") for i in range(n_in)]
    outputs = [ArrayParam(f"out{i}", choose(draw, element_types), "output") for i in range(n_out)]
    atomics = [ArrayParam(f"acc{i}", choose(draw, [FLOAT32, INT32]), "atomic") for i in range(n_atomic)]
    scalar_types = [INT32, FLOAT32] + [t for t in dict.fromkeys(extras) if isinstance(t, Scalar) and t != BOOL]
    scalars = [(f"s{i}", choose(draw, scalar_types)) for i in range(n_scalar)]

    specs: list[ParamSpec] = []
    for a in inputs + outputs + atomics:
        lo, hi = _value_range(policy, a.dtype, a.role)
        specs.append(ParamSpec(a.name, "array", a.dtype.name, a.role, lo, hi, shape))
    sc = Scope(policy, inputs, outputs, atomics, palette=palette, shape=shape,
               focus=frozenset(op.name for op, _ in focus))
    for pname, t in scalars:
        lo, hi = _value_range(policy, t, "param")
        specs.append(ParamSpec(pname, "scalar", t.name, "param", lo, hi))
        tracked = t.is_int and not t.wraps
        sc.declare(Var(pname, t, "param", int(lo), int(hi)) if tracked else Var(pname, t, "param"))
    helpers = []
    local = [t for t in [FLOAT32, INT32, BOOL, VEC3] + sorted(set(extras), key=lambda t: t.name)]
    for i in range(draw(st.integers(0, policy.max_funcs))):
        fdef, fsig = helper_function(draw, sc, i, local)
        helpers.append(fdef)
        sc.funcs.append(fsig)
    tid_names = ["tid"] if rank == 1 else ["ti", "tj", "tk"][:rank]
    for k, tname in enumerate(tid_names):
        sc.declare(Var(tname, INT32, "tid", 0, shape[k] - 1))

    target = B.name("tid") if rank == 1 else B.names_tuple(tid_names)
    body = [B.assign(target, B.call("wp.tid"))]
    for op, sig in focus:  # each favoured row is used at least once
        body += call_statement(draw, sc, op, sig)
    body += block(draw, sc, min_stmts=0)
    for out in outputs:
        e = expression(draw, sc, out.dtype, draw(st.integers(0, policy.max_expr_depth)))
        body.append(B.assign(B.subscript(B.name(out.name), *sc.own_slot()), e.node))

    params = [B.param(p.name, _annotation(p)) for p in specs]
    func = B.kernel_def(name, params, body)
    dim = shape[0] if rank == 1 else shape
    return GeneratedKernel(name, func, tuple(specs), categories_of(func), dim, tuple(helpers))
