"""Generation state: the variables in scope with their types and integer intervals.

This is what makes kernels UB-free by construction:

* every int expression carries an interval ``[lo, hi]``; operators whose result interval would leave
  ``+-policy.int_limit`` get an operand wrapped (``(e % 1024)``), so signed overflow cannot happen;
* an int local has a *core* interval (its declaration's) and a *slack* for augmented assignments:
  later plain assignments are clamped into the core (``wp.clamp(e, lo, hi)``), and ``v += e`` is only
  emitted while ``max|e| * trip_count`` fits into the slack not yet spent, so every value the variable
  can ever hold lies in ``[lo - slack, hi + slack]`` - the interval its readers see;
* ``trip`` is the product of the maximum trip counts of the enclosing loops, so work done in a loop is
  counted once per possible iteration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grammar.policy import Policy
from grammar.types import INT32, ValueType

from . import _cst as B
from .registry import P


@dataclass
class Var:
    name: str
    type: ValueType
    kind: str  # "local" | "loop" | "param" | "tid"
    lo: int = 0  # int core interval
    hi: int = 0
    slack: int = 0  # ints: total growth augmented assignments may add
    slack_used: int = 0
    #: a kernel-body local that holds one value in every thread (declared from parameters and constants only,
    #: never assigned since); False when unknown (see strategies.expressions.lane_uniform)
    uniform: bool = False
    #: a local whose current value nothing has read yet (set by a declaration or a plain assignment, cleared by
    #: a read): a plain assignment then sinks the value first, or it would reach no output (strategies.sinks)
    unread: bool = False

    @property
    def assignable(self) -> bool:
        return self.kind == "local"

    @property
    def interval(self) -> tuple[int, int]:
        return (self.lo - self.slack, self.hi + self.slack)


@dataclass(frozen=True)
class ArrayParam:
    name: str
    dtype: ValueType
    role: str  # "input" | "output" (own slot: out[tid]) | "atomic" (only touched by atomics)


@dataclass
class Scope:
    policy: Policy
    inputs: list[ArrayParam]
    outputs: list[ArrayParam]
    atomics: list[ArrayParam]
    vars: list[Var] = field(default_factory=list)
    trip: int = 1  # product of enclosing loop trip counts
    loop_depth: int = 0
    block_depth: int = 0
    if_depth: int = 0  # enclosing `if` bodies (policy.max_if_nesting)
    n_atomic_stmts: int = 0
    atomic_class: dict = field(default_factory=dict)  # accumulator name -> the commuting atomics it admits
    palette: frozenset = frozenset()  # value types this kernel may use (empty: every type with literals)
    funcs: list = field(default_factory=list)  # user @wp.func helpers callable here (strategies.functions.FuncSig)
    in_func: bool = False  # generating a @wp.func body: no stores, atomics or bare returns
    shape: tuple[int, ...] = ()  # launch shape == shape of every array parameter; () means (policy.dim,)
    focus: frozenset = frozenset()  # names of table rows this kernel favours (swarm testing over rows)
    structs: list = field(default_factory=list)  # the kernel's @wp.struct types (grammar.types.Struct)
    directed: bool = False  # a gradient-directed kernel (Policy.directed_weights): no dynamic loops etc.
    #: bool locals that an enclosing `if`/`elif` tests as a bare name (`if c7:`), while its body is drawn: a loop
    #: in that body does not assign them (Warp 1.19 lowers the `else` as `if (!c7)` after the body, and a loop
    #: that Warp does not unroll updates c7 in place: both branches ran;
    #: known_bugs/if_else_both_run_when_loop_changes_condition/)
    pinned: set = field(default_factory=set)
    # liveness (strategies.sinks): value type -> [sink array name, slots used]; while ``live`` > 0 leaves and
    # guards prefer variables and loads over literals (an operand that must carry the kernel's data)
    sinks: dict = field(default_factory=dict)
    # liveness in @wp.func helpers (strategies.sinks): value type -> [carry local name, lo, hi]; a nested block's
    # locals are folded into the carry of their type, which the helper returns
    carries: dict = field(default_factory=dict)
    live: int = 0
    dynamic_loops: int = 0  # enclosing loops Warp does not unroll (while, for over a parameter)
    loop_marks: list = field(default_factory=list)  # len(vars) where each enclosing loop's body began
    #: own-slot outputs some statement has stored to: a later plain store would overwrite what it stored, so
    #: it accumulates instead where the type allows (strategies.statements.store)
    written: set = field(default_factory=set)
    converting: int = 0  # nesting of expressions.converted_leaf (bounded)
    #: (row, signature) of each library-function row (``Op.definition``, grammar.ops_nn) drawn so far, in order:
    #: the kernel carries their ``@wp.func`` definitions; shared with the scopes of its helpers
    fragments: dict = field(default_factory=dict)
    _counter: int = 0
    _marks: list[tuple[int, bool]] = field(default_factory=list)

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def declare(self, var: Var) -> Var:
        self.vars.append(var)
        var.unread = var.kind == "local"
        return var

    def of_type(self, t: ValueType, *, assignable: bool = False) -> list[Var]:
        return [v for v in self.vars if v.type == t and (v.assignable or not assignable)]

    def push(self, *, nests: bool = True) -> None:
        """Open a variable scope; ``nests=False`` for scopes that are not a block (a loop variable's)."""
        self._marks.append((len(self.vars), nests))
        self.block_depth += nests

    def pop(self) -> None:
        mark, nests = self._marks.pop()
        del self.vars[mark:]
        self.block_depth -= nests

    def block_locals(self) -> list[Var]:
        """The locals declared since the innermost open scope (what goes out of scope at its ``pop``)."""
        mark = self._marks[-1][0] if self._marks else 0
        return [v for v in self.vars[mark:] if v.kind == "local"]

    def sink_slot(self, t: ValueType) -> tuple[str, int]:
        """A fresh slot of this thread in the sink array of type ``t``: (array name, slot number)."""
        entry = self.sinks.setdefault(t, [f"sink{len(self.sinks)}", 0])
        entry[1] += 1
        return entry[0], entry[1] - 1

    def carry(self, t: ValueType, lo: int = 0, hi: int = 0) -> tuple[str, bool]:
        """The helper's carry local of type ``t`` (widening its interval to ``[lo, hi]``): (name, is new)."""
        entry = self.carries.get(t)
        if entry is None:
            self.carries[t] = [self.fresh("k"), lo, hi]
            return self.carries[t][0], True
        entry[1], entry[2] = min(entry[1], lo), max(entry[2], hi)
        return entry[0], False

    def tid(self, k: int = 0) -> Var:
        """The thread index variable of launch dimension ``k``."""
        return [v for v in self.vars if v.kind == "tid"][k]

    @property
    def dims(self) -> tuple[int, ...]:
        return self.shape or (self.policy.dim,)

    def allowed(self, t) -> bool:
        from grammar.types import BOOL, INT32

        return not self.palette or t in self.palette or t in (BOOL, INT32)

    def ops_for(self, t):
        """(row, signature) pairs producing ``t`` over types this kernel uses."""
        return [(op, s) for op, s in P.usable_ops(t) if all(self.allowed(a) for a in s.args)]

    def own_slot(self) -> list:
        """The index of this thread's own element: ``[tid]`` or ``[i, j]``."""
        return [B.name(self.tid(k).name) for k in range(len(self.dims))]

    def int_vars(self) -> list[Var]:
        return self.of_type(INT32)
