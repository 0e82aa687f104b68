"""User ``@wp.func`` helpers: generated before the kernel, called from its expressions and statements.

What is generated: functions ``f0``, ``f1``... with 1..``Policy.max_func_params`` annotated parameters of the
kernel's types, a short body of statements (no stores, atomics or bare returns) and a final ``return x`` or
``return x1, x2, ...`` (at most ``MAX_RESULTS``) of the body's *carries* and of its top-level locals that nothing
in the body reads, so what the body computes reaches the caller; the return types follow from the body. A local
of a nested block (an ``if``/``for``/``while`` body) is folded into the carry of its type at the end of its block
(:func:`strategies.sinks.carry_statements`); each carry is declared with a literal at the top of the body.
A body without locals returns expressions over the parameters. A single-result function is an operator of
its return type for the kernel's expressions; a several-result function is used by the
``a, b = f(...)`` statement.

Guarantees: int parameters of interval-tracked types are declared in ``+-policy.int_var_bound`` and every
call site clamps its argument into that range, so the body's intervals hold for every call; the return
interval is the body's, so callers keep tracking. Shrinking: toward no helper functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import hypothesis.strategies as st
import libcst as cst

from . import _cst as B
from .core import Expr, choose, clamp_into, dynamic, name_prefix, tracks_interval
from .expressions import expression, lane_leaf, lane_uniform, literal, live, var_expr
from .registry import P
from .scope import Scope, Var
from .sinks import xor_closure, xor_folds

#: the most values a helper returns (its carries first, then its unread top-level locals, latest first)
MAX_RESULTS = 4


@dataclass(frozen=True)
class FuncSig:
    name: str
    params: tuple  # types
    returns: tuple  # types (1 or 2)
    intervals: tuple  # (lo, hi) per return value (ints of tracked types; (0, 0) otherwise)


def call_args(draw, sc: Scope, f: FuncSig, depth: int) -> list[cst.BaseExpression]:
    """The arguments of a call of ``f``. A helper's branches test its parameters, so arguments that are the
    same in every thread (:func:`~strategies.expressions.lane_uniform`: literals, scalar parameters) would
    take one branch in the whole launch: in a kernel body every such argument that can be this thread's data
    (:func:`~strategies.expressions.lane_leaf`) then is."""
    bound = sc.policy.int_var_bound
    exprs = [expression(draw, sc, t, max(depth - 1, 0)) for t in f.params]
    for i, t in enumerate(f.params):
        if lane_uniform(sc, exprs[i]):
            exprs[i] = lane_leaf(draw, sc, t) or exprs[i]
    args = []
    for t, e in zip(f.params, exprs):
        if tracks_interval(t):
            e = clamp_into(e, -bound, bound)
        args.append(e.node)
    return args


@P.register
def call_expr(draw, sc: Scope, t, depth: int) -> Expr | None:
    """A call of a single-result helper returning ``t``, or None."""
    funcs = [f for f in sc.funcs if f.returns == (t,)]
    if not funcs:
        return None
    f = choose(draw, funcs)
    lo, hi = f.intervals[0]
    return Expr(B.call(f.name, *call_args(draw, sc, f, depth)), t, lo, hi)


def call_statement(draw, sc: Scope, f: FuncSig) -> cst.BaseStatement:
    """``x = f(...)`` or ``a, b = f(...)``: a call of ``f`` whose results are new locals of ``sc`` (used for a
    helper nothing else calls, so that its body is executed and reaches an output through the sinks)."""
    with live(sc):
        args = call_args(draw, sc, f, 1)
    names = []
    for t, (lo, hi) in zip(f.returns, f.intervals):
        name = sc.fresh(name_prefix(t))
        sc.declare(Var(name, t, "local", lo, hi) if tracks_interval(t) else Var(name, t, "local"))
        names.append(name)
    target = B.name(names[0]) if len(names) == 1 else B.names_tuple(names)
    return B.assign(target, B.call(f.name, *args))


def helper_function(draw, sc: Scope, index: int, types: list) -> tuple[cst.FunctionDef, FuncSig]:
    """One ``@wp.func``; ``sc`` is the kernel's scope (its palette, policy and earlier helpers).

    The body is drawn first; the results are then the body's locals that nothing in it reads (at most two,
    the latest first), so every value the body computes at its top level reaches the caller. A body without
    locals returns expressions over the parameters (their types drawn from ``types``)."""
    p = sc.policy
    n_params = draw(st.integers(1, p.max_func_params))
    params = [choose(draw, types) for _ in range(n_params)]
    fs = Scope(p, [], [], [], palette=sc.palette, funcs=list(sc.funcs), in_func=True, focus=sc.focus,
               structs=[s for s in sc.structs if not s.has_array], directed=sc.directed, fragments=sc.fragments)
    names = []
    for k, t in enumerate(params):
        name = f"p{k}"
        bound = p.int_var_bound
        fs.declare(Var(name, t, "param", -bound, bound) if tracks_interval(t) else Var(name, t, "param"))
        names.append(name)
    body = _body(draw, fs, types)
    declarations = _carry_declarations(draw, fs)
    results = _results(draw, fs, body, types)
    fs.pop()
    body[:0] = declarations
    value = results[0].node if len(results) == 1 else cst.Tuple(tuple(
        cst.Element(r.node, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if i == 0
                    else cst.MaybeSentinel.DEFAULT) for i, r in enumerate(results)), lpar=(), rpar=())
    body.append(cst.SimpleStatementLine((cst.Return(value),)))
    name = f"f{index}"
    func = cst.FunctionDef(
        name=B.name(name),
        params=cst.Parameters(params=tuple(B.param(n, t.warp_name if t.name not in ("float32", "int32")
                                                   else {"float32": "float", "int32": "int"}[t.name])
                                           for n, t in zip(names, params))),
        body=B.block(body),
        decorators=(cst.Decorator(B.dotted("wp.func")),),
    )
    intervals = tuple((r.lo, r.hi) if tracks_interval(r.type) else (0, 0) for r in results)
    return func, FuncSig(name, tuple(params), tuple(r.type for r in results), intervals)


def _body(draw, fs: Scope, types: list) -> list[cst.BaseStatement]:
    """0..policy.max_func_statements statements in a scope left open (its locals are the candidate results);
    shrinks toward none."""
    fs.push()
    out: list[cst.BaseStatement] = []
    for _ in range(draw(st.integers(0, fs.policy.max_func_statements))):
        s = P.statement(draw, fs)
        out.extend(s if isinstance(s, list) else [s])
    return out


def _carry_declarations(draw, fs: Scope) -> list[cst.BaseStatement]:
    """``k3 = wp.float32(<literal>)`` for each carry the body folded a nested local into (declared before any
    use)."""
    out = []
    for t, (name, _, _) in fs.carries.items():
        init = literal(draw, fs, t)
        if tracks_interval(t):
            entry = fs.carries[t]
            entry[1], entry[2] = min(entry[1], init.lo), max(entry[2], init.hi)
            if xor_folds(t):
                entry[1], entry[2] = xor_closure(entry[1], entry[2])
        out.append(B.assign(B.name(name), dynamic(init).node))  # a variable, not a constant: loops fold into it
    return out


def _results(draw, fs: Scope, body: list, types: list) -> list[Expr]:
    """The returned values: the carries, then the top-level locals nothing reads (latest first; at most
    ``MAX_RESULTS`` in all), else the latest local, else live expressions over the parameters (one or two, of
    types drawn from ``types``)."""
    carries = [Expr(B.name(name), t, lo, hi) for t, (name, lo, hi) in fs.carries.items()]
    candidates = [v for v in fs.block_locals() if v.type in types]
    if carries or candidates:
        source = B.render(B.module(body)) if body else ""
        unread = [v for v in candidates if _reads(source, v.name) == 0]
        chosen = carries + [var_expr(v) for v in reversed(unread or ([] if carries else candidates[-1:]))]
        return chosen[:MAX_RESULTS]
    returns = [choose(draw, types) for _ in range(choose(draw, [1, 2], list(fs.policy.func_return_weights)))]
    with live(fs):  # the result carries the parameters, not only literals
        return [expression(draw, fs, t, draw(st.integers(0, fs.policy.max_expr_depth))) for t in returns]


def _reads(source: str, name: str) -> int:
    """How often ``name`` is read in ``source`` (occurrences not on the left of ``=``/``+=``...)."""
    uses = len(re.findall(rf"\b{name}\b", source))
    writes = len(re.findall(rf"^\s*{name}\s*[-+*/%&|^]?=(?!=)", source, re.M))
    return uses - writes
