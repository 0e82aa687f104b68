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

import hypothesis.strategies as st
import libcst as cst

from grammar.policy import DEFAULT_POLICY, Policy
from grammar.types import ARRAY_ELEMENT_TYPES, FLOAT32, INT32, Array, ValueType

from . import _cst as B
from .categories import categories_of
from .expressions import choose, expression
from .scope import ArrayParam, Scope, Var
from .statements import block


@dataclass(frozen=True)
class ParamSpec:
    """One kernel parameter: how it is annotated and which values a launch may pass."""

    name: str
    kind: str  # "array" | "scalar"
    dtype: str  # "float32" | "int32" | "vec3"
    role: str  # "input" | "output" | "atomic" | "param"
    low: float
    high: float

    @property
    def is_output(self) -> bool:
        return self.role in ("output", "atomic")


@dataclass(frozen=True)
class GeneratedKernel:
    name: str
    func: cst.FunctionDef
    params: tuple[ParamSpec, ...]
    categories: tuple[str, ...]
    dim: int

    @property
    def source(self) -> str:
        """A complete, importable module holding just this kernel."""
        return B.render(B.module([self.func]))

    @property
    def kernel_source(self) -> str:
        return B.render(self.func)

    def __repr__(self) -> str:  # what Hypothesis prints for a falsifying example
        return f"GeneratedKernel(<<<\n{self.kernel_source}>>>)"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis pretty-prints through this hook
        p.text(repr(self))

    def renamed(self, name: str) -> "GeneratedKernel":
        return replace(self, name=name, func=self.func.with_changes(name=B.name(name)))


def _annotation(p: ParamSpec) -> str:
    from grammar.types import BY_NAME

    t = BY_NAME[p.dtype]
    if p.kind == "array":
        return Array(t).warp_name
    return {"float32": "float", "int32": "int"}[p.dtype]


def _value_range(policy: Policy, t: ValueType, role: str) -> tuple[float, float]:
    if role in ("output", "atomic"):
        return (0, 0)
    if role == "param":
        return policy.int_param_range if t == INT32 else policy.float_param_range
    if t == INT32:
        return policy.int_input_range
    return policy.float_input_range if t == FLOAT32 else policy.vec_input_range


@st.composite
def kernels(draw: st.DrawFn, policy: Policy = DEFAULT_POLICY, name: str = "kernel") -> GeneratedKernel:
    """Generate one verified-by-construction Warp kernel (see the module docstring)."""
    n_in = draw(st.integers(1, policy.max_inputs))
    n_out = draw(st.integers(1, policy.max_outputs))
    n_atomic = draw(st.integers(0, 1))
    n_scalar = draw(st.integers(0, policy.max_scalar_params))
    inputs = [ArrayParam(f"a{i}", choose(draw, list(ARRAY_ELEMENT_TYPES)), "input") for i in range(n_in)]
    outputs = [ArrayParam(f"out{i}", choose(draw, list(ARRAY_ELEMENT_TYPES)), "output") for i in range(n_out)]
    atomics = [ArrayParam(f"acc{i}", choose(draw, [FLOAT32, INT32]), "atomic") for i in range(n_atomic)]
    scalars = [(f"s{i}", choose(draw, [INT32, FLOAT32])) for i in range(n_scalar)]

    specs: list[ParamSpec] = []
    for a in inputs + outputs + atomics:
        lo, hi = _value_range(policy, a.dtype, a.role)
        specs.append(ParamSpec(a.name, "array", a.dtype.name, a.role, lo, hi))
    sc = Scope(policy, inputs, outputs, atomics)
    for pname, t in scalars:
        lo, hi = _value_range(policy, t, "param")
        specs.append(ParamSpec(pname, "scalar", t.name, "param", lo, hi))
        sc.declare(Var(pname, t, "param", int(lo), int(hi)) if t == INT32 else Var(pname, t, "param"))
    tid = sc.declare(Var("tid", INT32, "tid", 0, policy.dim - 1))

    body = [B.assign(B.name(tid.name), B.call("wp.tid"))]
    body += block(draw, sc, min_stmts=0)
    for out in outputs:
        e = expression(draw, sc, out.dtype, draw(st.integers(0, policy.max_expr_depth)))
        body.append(B.assign(B.subscript(B.name(out.name), B.name(tid.name)), e.node))

    params = [B.param(p.name, _annotation(p)) for p in specs]
    func = B.kernel_def(name, params, body)
    return GeneratedKernel(name, func, tuple(specs), categories_of(func), policy.dim)
