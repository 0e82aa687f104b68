"""What the gradient oracle leaves out, as data: each limit with the Warp documentation (or source) behind it.

The gradient check (:mod:`harness.oracle.gradient`) compares Warp's reverse mode with a derivative of the numpy
reference. It leaves a kernel out only for one of the :data:`LIMITS` below, and records which one in the
corpus record (``gradient_status = "excluded:<key>"``, ``gradient_note``). Four kinds:

* **documented** -- constructs Warp's user guide says its backward pass does not support (section
  *Differentiability*, *Limitations and Workarounds* / *Array Overwrites* of the 1.19 user guide). They are
  found statically by :func:`static_exclusions` from the kernel's source and the reference's types;
* **declared** -- builtins Warp registers with ``is_differentiable=False`` whose values the reference does
  differentiate (``atomic_exch``, ``atomic_cas``); found statically, like the documented ones;
* **mathematical** -- a float16 matrix/quaternion/transform on the derivative path (too ill-conditioned in
  half precision for the test's tolerance), or the kernel sits at (or within the finite-difference step of) a point where it is not
  differentiable: a branch boundary, a ``min``/``max``/``clamp``/``abs`` tie, a step of ``floor``/casts, an
  ``atomic_min``/``atomic_max`` tie; or the derivative is not finite. Found dynamically by the check;
* **known Warp bugs** -- rows whose adjoint is wrong in Warp 1.19, each with a standalone reproducer under
  ``known_bugs/``. Leaving them out keeps the fuzzer from rediscovering them; the reproducers keep them
  reportable (``tests/test_gradient.py`` checks they still fail).

Nothing else is excluded: kernels without a float input array or a float output array are simply not
gradient candidates (``gradient_status = "not-differentiable"``), and neither are kernels whose outputs do
not depend on their float inputs (the reference's directional derivative is exactly zero everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from grammar import ops as OPS
from grammar.types import COMPONENT_INDEX, Array, Composite, Scalar, Struct, half_product
from strategies._cst import look

_GUIDE = "https://nvidia.github.io/warp/user_guide/differentiability.html"


@dataclass(frozen=True)
class Limit:
    key: str
    kind: str  # documented | declared (by Warp's builtin registration) | mathematical | known-bug
    summary: str
    citation: str


LIMITS: dict[str, Limit] = {
    limit.key: limit
    for limit in (
        Limit(
            "inplace-mul-div", "documented",
            "a float target updated with *= or /=",
            f"{_GUIDE}#in-place-math-operations: 'In-place multiplication and division are not supported and "
            "incorrect results will be obtained in the backward pass.'",
        ),
        Limit(
            "component-reassignment", "documented",
            "a component of a local vector/matrix/quaternion/transform assigned more than once (a second "
            "statement, a loop, or an in-place builtin such as wp.transform_set_translation)",
            f"{_GUIDE}#vector-matrix-and-quaternion-component-assignment: 'each component may only be assigned "
            "a value once ... direct re-assignment (=) will invalidate gradient computations'",
        ),
        Limit(
            "dynamic-loop", "documented",
            "a float value or a float array element assigned inside a dynamic loop (a while loop, or a for "
            "loop Warp does not unroll: non-literal bounds, more than max_unroll=16 trips, or a break) from a "
            "value the loop changes, a float local that existed before the loop overwritten in it (or, computed from "
            "variables, updated in place by +=/-=), or any float "
            "assignment in a loop holding a break or a continue (Warp 1.19 drops the adjoint of the iteration that "
            "broke, of every iteration in a for loop: known_bugs/break_in_dynamic_loop_adjoint/; a thread that "
            "continued gets none: known_bugs/continue_in_while_adjoint/)",
            f"{_GUIDE}#dynamic-loops: 'dynamic loops are not replayed or unrolled in the backward pass, meaning "
            "intermediate values that are meant to be computed in the loop ... are not updated'",
        ),
        Limit(
            "array-overwrite", "documented",
            "a float output array read back inside the kernel after it was written",
            f"{_GUIDE}#array-overwrite-tracking: 'writing to an array after reading from it ... might also "
            "happen within a single kernel (B)'",
        ),
        Limit(
            "non-smooth", "mathematical",
            "a branch decision, comparison, min/max/clamp/abs selection, floor/cast step or discontinuity "
            "changes within the finite-difference step, or the differences do not converge",
            "not differentiable there; warp/native/builtin.h marks such adjoints 'gradient is zero almost "
            "everywhere (subgradient at ...)'",
        ),
        Limit(
            "atomic-minmax-tie", "mathematical",
            "wp.atomic_min/atomic_max called with a value equal to the one stored (a tie), the value varying "
            "with the inputs",
            "a tie is a non-differentiable point; Warp's adj_atomic_minmax (warp/native/array.h) gives the "
            "adjoint to every tied call (known_bugs/atomic_minmax_tie/)",
        ),
        Limit(
            "non-finite", "mathematical",
            "the reference's derivative or Warp's gradient is NaN or infinite (e.g. 0 * inf in an adjoint "
            "of a branch not taken)",
            "IEEE arithmetic in the adjoint; no finite derivative to compare with",
        ),
        Limit(
            "return-in-dynamic-loop", "known-bug",
            "a return inside a dynamic loop: Warp's backward pass of a while loop whose body returned never "
            "ends, and in a dynamic for loop it applies the adjoint of the code after the loop",
            "Warp 1.19, found by this oracle (known_bugs/while_return_backward_hang/, "
            "known_bugs/for_return_backward_gradient/); a while loop: the kernel is left out (its backward "
            "must not run); a dynamic for loop: the outputs stored from the loop on are left out of the seed v "
            "(the adjoint of a store before the loop is right: measured)",
        ),
        Limit(
            "component-overwrite", "known-bug",
            "a component of a local vector/matrix/quaternion/transform written (v[k] = x, v.y = x, "
            "wp.transform_set_rotation...) after the local was assigned a whole value computed from variables, "
            "or after the local was read (an output argument counts as read)",
            "Warp 1.19, found by this oracle: the overwritten component keeps receiving the adjoint, so its "
            "previous value gets a gradient it does not have (known_bugs/component_overwrite_adjoint/); and "
            "the write is done in place, so the adjoint of an earlier use reads the new value "
            "(known_bugs/component_write_after_use_adjoint/; with the outputs of a multi-output call such as "
            "eig3 this spoils what the other outputs reach too); a local built from constants and then assigned "
            "component by component before any read is right, and is checked",
        ),
        Limit(
            "struct-field-component", "known-bug",
            "a component written into a vector/matrix field of a struct (r.m1[0] = x, r.m1.y = x, r.m1[0] += x)",
            "Warp 1.19, found by this oracle: the written value gets no adjoint at all (a.grad 0 where a local "
            "vector or a whole-field assignment gives the derivative; known_bugs/struct_field_component_write_"
            "adjoint/, a gradient-mismatch report of an 8-minute fuzz); the outputs the struct reaches are "
            "left out",
        ),
        Limit(
            "missing-adjoint", "known-bug",
            "wp.frac evaluated on a value that varies with the inputs: its derivative is 1 between integers, "
            "Warp's adjoint adds nothing",
            "warp/native/builtin.h (1.19) adj_frac: 'MISSINGADJOINT: gradient is 1 between integers' "
            "(known_bugs/frac_adjoint/)",
        ),
        Limit(
            "atomic-result", "known-bug",
            "the value an atomic returns used in the kernel (assigned, compared, computed with): the backward "
            "pass does not recompute it",
            "warp/_src/builtins.py (1.19) registers every atomic with skip_replay=True: the adjoint's replay "
            "comments the call out and reads the result uninitialised (known_bugs/atomic_result_replay/)",
        ),
        Limit(
            "non-differentiable-atomic", "declared",
            "wp.atomic_exch or wp.atomic_cas on a float array whose values carry a derivative from the inputs",
            "warp/_src/builtins.py (1.19) registers atomic_exch and atomic_cas with is_differentiable=False: no "
            "adjoint reaches the exchanged value, and the slot's adjoint is left for whatever was stored there "
            "before (measured: out[i] = a[1]; atomic_exch(out, i, a[i]) gives a.grad[1] = n, a.grad[i] = 0)",
        ),
        Limit(
            "float-mod", "known-bug",
            "float a % b (wp.mod) evaluated with |a| >= |b| and a divisor b that varies with the inputs, or "
            "vector % with any operand that does",
            "Warp 1.19 adj_mod (warp/native/builtin.h) adds the adjoint to the dividend only: "
            "d(a % b)/db = -trunc(a / b) is missing, and vector % has no adjoint at all "
            "(known_bugs/mod_divisor_adjoint/, known_bugs/vector_mod_adjoint/)",
        ),
        Limit(
            "float16-composite", "mathematical",
            "a float16 matrix, quaternion, transform or spatial matrix on the derivative path, in a local or only "
            "inside an expression (harness.oracle.reference.half_product_statements): Warp sums its "
            "adjoint in half precision (4-16 products per component), whose rounding the dot-product test's "
            "scale does not bound; found statically, the outputs it reaches left out (forward results are "
            "still checked)",
            "measured: three such kernels of a 1500 s fuzz deviated by 0.11, 0.20 and 1.0 of the scale (float16 "
            "rtol 0.03), the float32 twins agreeing; float16 arithmetic has 11 significant bits; two more in a "
            "300 s fuzz through unnamed mat44h values (det(inverse(...)) of a lerp, 0.03 and 0.61 of the scale)",
        ),
        Limit(
            "ill-conditioned", "mathematical",
            "the kernel's checked outputs computed in Warp's precision (the native reference, rounding like Warp) "
            "depart from the exact ones by more than a bound of that precision (relative to each output's "
            "largest value; float16 4e-3, float32 2e-5, float64 1e-7): cancellation, underflow or overflow changed "
            "the function, so the exact derivative is not that of Warp's computation",
            "fuzz reports: normalize(vec2h(x, 0)) with x*x underflowing in float16 (Warp's vector is 0, the exact "
            "one (+-1, 0)); a float32 quotient by a cancelled vector component (deviation 0.009 of the scale)",
        ),
        Limit(
            "adjoint-rounding", "mathematical",
            "Warp's dot-product error is its adjoint's rounding, not a wrong derivative: Warp's backward is "
            "neither linear nor affine in its seeds there (r(c) = u·Jᵀ(cv)/c for c = 1, 3, 5, 7 is not A + B/c "
            "within a tenth of the error; reverse mode is linear in the seeds up to 1e-7 of its terms, and a wrong "
            "adjoint linear or affine). Reverse mode in float32 forms intermediate adjoints the "
            "derivative never shows; where they are large and cancel (a normalisation of a vector with equal "
            "components, whose derivative along them is exactly zero, nested three deep: adjoints of 1e7 "
            "that cancel to their rounding), Warp's gradient is that rounding",
            "a gradient-share run: layer_norm(layer_norm(layer_norm(vec2(x, x)))) beside x * x: Warp's "
            "gradient 0.5, 2.0, 2.2, 0.0 for 2x = 0.6, 1.4, 2.2, -0.8 (one layer_norm: 1.5e-6 off)",
        ),
        Limit(
            "float16-stationary", "mathematical",
            "a float16 derivative path whose exact derivative along the test direction is exactly zero (a "
            "stationary point such as smoothstep(e0, x, lerp(x, x, t)) at ratio 1) while Warp's is not: "
            "Warp's half-precision rounding moves the point off it, and no relative tolerance admits any "
            "non-zero value there",
            "a 30-minute fuzz report: Warp's u·(Jᵀv) was 1.2e-6..1.9e-5 for three directions, the "
            "rounding of lerp(x, x, t) in float16; a leaked gradient is still caught on float32/64 paths",
        ),
    )
}


def _floaty(t) -> bool:
    """True for float scalars, composites of floats, structs with a float-carrying field, arrays of those."""
    if isinstance(t, Array):
        t = t.dtype
    if isinstance(t, Composite):
        return t.scalar.is_float
    if isinstance(t, Struct):
        return any(_floaty(f) for _, f in t.fields)
    return isinstance(t, Scalar) and t.is_float


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=()).code_for_node(node)


_INPLACE_CALLS = {op.spelling for op in OPS.OPS if op.inplace}
_OUTPUT_CALLS = {op.spelling: op.outputs for op in OPS.OPS if op.outputs}
_ATOMIC_CALLS = {op.spelling for op in OPS.ATOMICS}
# the rows Warp 1.19 registers with is_differentiable=False (their `differentiable` flag; and/or/xor only ever see ints:
# the float test below excludes them)
_NON_DIFFERENTIABLE_ATOMICS = {op.spelling for op in OPS.ATOMICS if not op.differentiable}
MAX_UNROLL = 16  # Warp's default module option "max_unroll"


_STATIC_INT_OPS = {cst.Add: lambda a, b: a + b, cst.Subtract: lambda a, b: a - b, cst.Multiply: lambda a, b: a * b,
                   cst.FloorDivide: lambda a, b: a // b if b else None, cst.Modulo: lambda a, b: a % b if b else None}


def _literal_int(node: cst.BaseExpression, static: bool = False) -> int | None:
    """The value of an int literal (``3``, ``-3``), or of ``wp.static(<int literal arithmetic>)``, which Python
    evaluates before code generation (Warp 1.19 unrolls ``range(wp.static(((-9) + 2) + 10))`` like ``range(3)``)."""
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = _literal_int(node.expression, static)
        return None if inner is None else -inner
    if isinstance(node, cst.Call) and _code(node.func) == "wp.static" and len(node.args) == 1:
        return _literal_int(node.args[0].value, True)
    if static and isinstance(node, cst.BinaryOperation) and type(node.operator) in _STATIC_INT_OPS:
        a, b = _literal_int(node.left, True), _literal_int(node.right, True)
        return None if a is None or b is None else _STATIC_INT_OPS[type(node.operator)](a, b)
    return None


def _contains(body: cst.CSTNode, *kinds: type) -> bool:
    """Whether ``body`` holds a node of one of ``kinds`` (``cst.Break``, ``cst.Continue``), nested loops included."""
    found = []

    class _Find(cst.CSTVisitor):
        def visit_Break(self, node) -> None:
            if cst.Break in kinds:
                found.append(node)

        def visit_Continue(self, node) -> None:
            if cst.Continue in kinds:
                found.append(node)

    look(_Find(), body)
    return bool(found)


def _has_break(body: cst.CSTNode) -> bool:
    return _contains(body, cst.Break)


def loop_is_dynamic(node: cst.CSTNode) -> bool:
    """Whether Warp 1.19 keeps a loop dynamic (codegen ``get_unroll_range``): every ``while``; a ``for`` over
    ``range`` with a non-literal bound, more than ``max_unroll`` trips, or a ``break`` in its body."""
    if isinstance(node, cst.While):
        return True
    it = node.iter
    if not (isinstance(it, cst.Call) and _code(it.func) == "range" and 1 <= len(it.args) <= 3):
        return True
    bounds = [_literal_int(a.value) for a in it.args]
    if any(b is None for b in bounds):
        return True
    if len(range(*bounds)) > MAX_UNROLL:
        return True
    return _has_break(node.body)


def _target_name(target) -> str | None:
    """The variable a target writes: ``x``, ``v[k]``, ``v.y``, ``out[i].y``, ``s.m0[k]`` -> its base name."""
    while isinstance(target, (cst.Subscript, cst.Attribute)):
        target = target.value
    return target.value if isinstance(target, cst.Name) else None


def _field_component_root(target) -> str | None:
    """``r.m1[k]`` / ``r.m1.y`` / ``out[i].m1[k]`` (a component of a struct's field) -> the root name (``r``,
    ``out``); anything else -> None."""
    if isinstance(target, cst.Attribute) and target.attr.value in COMPONENT_INDEX:
        base = target.value
    elif isinstance(target, cst.Subscript):
        base = target.value
    else:
        return None
    if not (isinstance(base, cst.Attribute) and base.attr.value not in COMPONENT_INDEX):
        return None
    while isinstance(base, (cst.Attribute, cst.Subscript)):
        base = base.value
    return base.value if isinstance(base, cst.Name) else None


def _component_of(target) -> tuple[str, str, bool] | None:
    """``v[k]`` / ``v.y`` on a local -> (v, index text, False); ``out[i][k]`` / ``out[i].y`` on an array
    element -> (out, index text, True); anything else (a struct field, a whole element) -> None."""
    if isinstance(target, cst.Attribute) and target.attr.value in COMPONENT_INDEX:
        base, index = target.value, str(COMPONENT_INDEX[target.attr.value])
    elif isinstance(target, cst.Subscript):
        base, index = target.value, ",".join(_code(s.slice.value) for s in target.slice)
    else:
        return None
    if isinstance(base, cst.Name):
        return base.value, index, False
    if isinstance(base, cst.Subscript) and isinstance(base.value, cst.Name):
        return base.value.value, index, True
    return None


#: arrays whose elements are told apart slot by slot (strategies.sinks: every sink statement owns one slot
#: per thread, ``sink0[(tid + 16)]``): a write to a slot is a write to the *unit* ``sink0[16]``
SLOTTED_PREFIX = "sink"


def _slot_offset(index: cst.BaseExpression) -> int | None:
    """The literal offset of a slot index ``tid`` (0) or ``(tid + 16)`` (16), else None."""
    if isinstance(index, cst.Name):
        return 0
    if isinstance(index, cst.BinaryOperation) and isinstance(index.operator, cst.Add) and isinstance(
            index.left, cst.Name) and isinstance(index.right, cst.Integer):
        return int(index.right.value)
    return None


def unit_of(target) -> str | None:
    """The output *unit* a store target writes: ``sink0[16]`` for a sink slot (see :data:`SLOTTED_PREFIX`),
    else the written variable (:func:`_target_name`)."""
    name = _target_name(target)
    while isinstance(target, cst.Attribute) or isinstance(target, cst.Subscript) and not isinstance(
            target.value, cst.Name):
        target = target.value
    if name and name.startswith(SLOTTED_PREFIX) and isinstance(target, cst.Subscript):
        offset = _slot_offset(target.slice[-1].slice.value)
        if offset is not None:
            return f"{name}[{offset}]"
    return name


def unit_base(unit: str) -> str:
    """The array a unit belongs to: ``sink0[16]`` -> ``sink0``."""
    return unit.split("[", 1)[0]


def unit_slot(unit: str) -> int | None:
    """The slot offset of a unit (``sink0[16]`` -> 16), None for a whole array."""
    return int(unit[unit.index("[") + 1:-1]) if "[" in unit else None


def _element_of(target) -> cst.Subscript:
    """The array element ``out[i]`` of a component target ``out[i][k]`` / ``out[i].y``."""
    return target.value


def _names(node) -> set[str]:
    found: set[str] = set()

    class _Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            found.add(n.value)

    if node is not None:
        look(_Collect(), node)
    return found


def _assigned_names(body) -> set[str]:
    """Names a loop body assigns: plain, tuple, augmented and component targets, in-place builtin arguments."""
    found: set[str] = set()

    class _Collect(cst.CSTVisitor):
        def visit_AssignTarget(self, n: cst.AssignTarget) -> None:
            t = n.target
            for e in ([x.value for x in t.elements] if isinstance(t, cst.Tuple) else [t]):
                name = _target_name(e)
                if name is not None:
                    found.add(name)

        def visit_AugAssign(self, n: cst.AugAssign) -> None:
            name = _target_name(n.target)
            if name is not None:
                found.add(name)

        def visit_Call(self, n: cst.Call) -> None:
            func = _code(n.func)
            args = [a.value for a in n.args if a.keyword is None]
            if func in _INPLACE_CALLS and args and isinstance(args[0], cst.Name):
                found.add(args[0].value)
            elif func in _OUTPUT_CALLS:
                found.update(a.value for a in args[-_OUTPUT_CALLS[func]:] if isinstance(a, cst.Name))

    look(_Collect(), body)
    return found


class _Scan(cst.CSTVisitor):
    """Finds the documented unsupported constructs in one function, given its local types."""

    def __init__(self, env: dict, outputs: set[str]) -> None:
        self.env = env
        self.outputs = outputs
        self.loops: list[bool] = []  # enclosing loops: dynamic?
        self.whiles = 0  # enclosing while loops
        self.stores: list[str] = []  # output arrays written, one entry per store (source order)
        self.loop_starts: list[int] = []  # per enclosing loop: len(stores) where it began
        self.returns: list[tuple[str, bool, int]] = []  # return in a dynamic loop: (statement, in a while, start)
        self.variant: list[set[str]] = []  # per enclosing dynamic loop: float locals it assigns (cumulative)
        self.offences: list[tuple[str, str | None, str]] = []  # (limit key, written name, statement)
        self.component_writes: dict[str, list[str]] = {}  # variable -> index texts ("*" for every component)
        self.whole_from_variables: set[str] = set()  # composite locals last assigned a whole non-constant value
        self.written: set[str] = set()  # output arrays stored so far (in source order)
        self.conditional = 0  # depth of enclosing if/elif/else bodies
        self.tested: set[str] = set()  # names read by if/elif/while tests and loop bounds (branch decisions)
        self.bare_calls: set[int] = set()  # ids of calls that are whole expression statements (result unused)
        self.atomic_targets: dict[int, str] = {}  # id of an atomic call assigned whole to a name -> the name
        self.atomic_results: dict[str, cst.Call] = {}  # names holding an atomic's result -> the call
        self.read: set[str] = set()  # names read so far (in source order; output arguments count as read)
        self.defined: set[str] = set()  # locals assigned so far (in source order)
        self.carried: list[set[str]] = []  # per enclosing dynamic loop: the names that existed before it
        self.computed: set[str] = set()  # locals whose latest assignment read a variable (not a constant)
        self.breaking: list[bool] = []  # per enclosing loop: its body holds a break or a continue
        # int and bool locals a dynamic loop changed, read after it: stale in the backward pass's replay, which
        # does not run the loop again (an index picks the wrong element for the adjoint, a test the wrong branch)
        self.stale: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.read.add(node.value)
        call = self.atomic_results.pop(node.value, None)
        if call is not None:  # read after the atomic assigned it
            self._note("atomic-result", call)

    def _type(self, target):
        if isinstance(target, cst.Name):
            return self.env.get(target.value)
        if isinstance(target, (cst.Subscript, cst.Attribute)):
            t = self._type(target.value)
            if isinstance(t, Array):
                return t.dtype
            if isinstance(t, Composite):
                return t.scalar
            if isinstance(t, Struct) and isinstance(target, cst.Attribute):
                return dict(t.fields).get(target.attr.value)
        return None

    def _note(self, key: str, node, target: str | None = None) -> None:
        """Record an offending statement; ``target`` is the name it writes (None: the whole kernel)."""
        self.offences.append((key, target, _code(node).strip().splitlines()[0][:120]))

    def _assigned(self, target, node, value=None) -> None:
        """The dynamic-loop limit: inside a dynamic loop, a float value computed from a float local that the
        loop itself changes (its adjoint needs the per-iteration values Warp does not keep). Assignments of
        constants, inputs and loop-invariant values (the user guide's ``sum += x[i]`` example) are fine."""
        if not self.variant or not _floaty(self._type(target)):
            return
        reads = _names(value if value is not None else node)
        if reads & self.variant[-1] or any(self.breaking):
            # a loop with a break: Warp 1.19 drops the adjoint of the iteration that broke (a for loop: of every
            # iteration; known_bugs/break_in_dynamic_loop_adjoint/)
            self._note("dynamic-loop", node, unit_of(target))

    def _component(self, var: str, index: str, node, element: bool = False, slot: str = "",
                   unit: str | None = None) -> None:
        """A write of component ``index`` of local ``var`` (``element``: of the element ``slot`` of array
        ``var``, tracked as ``var[slot]``; a whole-element store counts as every component). Elements are told
        apart by the text of their index: kernels store only to this thread's own element (``out[tid]``) and
        to its sink slots (``sink0[(tid + 16)]``), so distinct texts are distinct elements."""
        if not _floaty(self.env.get(var)):
            return
        if not element and (var in self.whole_from_variables or var in self.read):
            # read before: Warp writes the component in place and the earlier use's adjoint reads the new value
            # (known_bugs/component_write_after_use_adjoint/)
            self._note("component-overwrite", node, unit or var)
        previous = self.component_writes.setdefault(f"{var}[{slot}]" if element else var, [])
        if self.loops or "*" in previous or index in previous or (index == "*" and previous):
            self._note("component-reassignment", node, unit or var)
        previous.append(index)

    # loops
    def _enter(self, node, dynamic: bool) -> None:
        self.loop_starts.append(len(self.stores))  # an unrolled outer loop repeats what its body stored first
        self.loops.append(dynamic)
        # a continue loses adjoints in a dynamic loop too: a thread whose iteration continued gets no gradient
        # from the loop (known_bugs/continue_in_while_adjoint/, a 10-minute fuzz; upstream NVIDIA/warp#1552)
        self.breaking.append(_contains(node.body, cst.Break, cst.Continue))
        self.whiles += isinstance(node, cst.While)
        if dynamic:
            outer = self.variant[-1] if self.variant else set()
            self.variant.append(outer | {n for n in _assigned_names(node.body) if _floaty(self.env.get(n))})
            self.carried.append(self.defined | self.read)

    def _leave(self, node) -> None:
        self.whiles -= isinstance(node, cst.While)
        self.loop_starts.pop()
        self.breaking.pop()
        if self.loops[-1]:
            self.stale |= _changed_ints_and_bools(node.body, self.env)
        if self.loops.pop():
            self.variant.pop()
            self.carried.pop()

    def visit_For(self, node) -> None:
        self._enter(node, loop_is_dynamic(node))

    def leave_For(self, node) -> None:
        self._leave(node)

    def visit_While(self, node) -> None:
        self._enter(node, True)

    def leave_While(self, node) -> None:
        self._leave(node)

    # statements
    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            target = t.target
            elements = [e.value for e in target.elements] if isinstance(target, cst.Tuple) else [target]
            for e in elements:
                self._assigned(e, node, node.value)
                if isinstance(e, cst.Name) and self.carried and e.value in self.carried[-1] and _floaty(
                        self.env.get(e.value)):
                    # a float local that existed before the dynamic loop overwritten inside it (even with a
                    # constant): the backward pass does not replay the loop, and the value it had before the
                    # loop still receives the adjoint (a 30-minute fuzz report: `x = f(a[tid])` then
                    # `x = -2.0` in a while loop gave `a` a gradient)
                    self._note("dynamic-loop", node, e.value)
                self._write(e, node)
                self._store(e)
                self._defines(e, node.value)

    def _defines(self, target, value) -> None:
        """Local ``target`` now holds ``value``: computed from variables, or a constant (see ``computed``). An
        output argument counts too (``wp.quat_to_axis_angle(q, v, x)``: x computed from q; then ``x -= 0.125``
        in a while loop left norm_huber's adjoint reading the value before the loop, a gradient-share run)."""
        if isinstance(target, cst.Name):
            self.defined.add(target.value)
            if _names(value) & set(self.env):
                self.computed.add(target.value)
            else:
                self.computed.discard(target.value)

    def stale_reads(self, small, targets: list) -> None:
        """The dynamic-loop limit for ints and bools: a float array element read at an index computed from a
        value a dynamic loop changed (:attr:`stale`), after that loop, spoils what ``small`` writes
        (``targets``; none known: the whole kernel); an int/bool local assigned from a stale value is stale."""
        if not self.stale:
            return
        scan = self

        class _Loads(cst.CSTVisitor):
            found = False

            def visit_Subscript(self, n: cst.Subscript) -> None:
                t = scan._type(n.value)
                if isinstance(t, Array) and _floaty(t.dtype) and set().union(
                        *(_names(e.slice.value) for e in n.slice)) & scan.stale:
                    self.found = True

        v = _Loads()
        look(v, small)
        if v.found:
            for target in targets or [None]:
                self._note("dynamic-loop", small, target)
        if isinstance(small, (cst.Assign, cst.AugAssign)):
            names = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            for t in names:
                if isinstance(t, cst.Name) and t.value in self.env and not _floaty(self.env[t.value]):
                    if _names(small.value) & self.stale or isinstance(small, cst.AugAssign) and t.value in self.stale:
                        self.stale.add(t.value)
                    elif not any(self.loops):  # recomputed by the replay
                        self.stale.discard(t.value)

    def stale_test(self, test) -> None:
        """A branch on a stale value (see :meth:`stale_reads`) may go the other way in the replay: whatever it
        guards is spoiled, so the whole kernel is left out."""
        if _names(test) & self.stale:
            self._note("dynamic-loop", test)

    def _store(self, target) -> None:
        name = _target_name(target)
        if name in self.outputs and not isinstance(target, cst.Name):
            self.stores.append(unit_of(target))

    def _write(self, e, node) -> None:
        if isinstance(e, cst.Name) and isinstance(self.env.get(e.value), Composite) and _floaty(self.env[e.value]):
            value = node.value if isinstance(node, cst.Assign) else node
            if any(_floaty(self.env.get(n)) for n in _names(value)):
                self.whole_from_variables.add(e.value)  # its components may leak adjoint to that value
            elif not self.conditional and not self.loops:
                # a constant whole value replaces the old one on every path; inside a branch or a loop the old
                # value may survive (a 10-minute fuzz: `v1 = quat_to_matrix(f(a0))`, `v1 = wp.mat33d(<consts>)`
                # in one elif, then `v1[0, 1] = x` after the chain was wrongly checked)
                self.whole_from_variables.discard(e.value)
            return
        if self._field_component(e, node):
            return
        component = _component_of(e)
        if component is None:
            return
        name, index, element = component
        if isinstance(self.env.get(name), Array) and not element:  # a whole element: out[i] = v
            if name in self.outputs:
                self.written.add(name)
                if isinstance(self.env[name].dtype, Composite):
                    self._component(name, "*", node, element=True, slot=index, unit=unit_of(e))
            return
        slot = ""
        if element:  # out[i].y = x, out[i][k] += x: a component of an array element
            if name in self.outputs:
                self.written.add(name)
            slot = ",".join(_code(s.slice.value) for s in _element_of(e).slice)
        self._component(name, index, node, element, slot, unit_of(e) if element else None)

    def _field_component(self, target, node) -> bool:
        """A component write into a struct's field (``r.m1[0] = x``): Warp 1.19 gives the written value no
        adjoint (known_bugs/struct_field_component_write_adjoint/). The outputs the struct local reaches are
        left out; a field of an array's element, the whole kernel. True when ``target`` is one."""
        root = _field_component_root(target)
        if root is None:
            return False
        if _floaty(self.env.get(root)):
            self._note("struct-field-component", node, None if isinstance(self.env.get(root), Array) else root)
        return True

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        t = node.target
        self._field_component(t, node)
        self._assigned(t, node, node.value)
        if isinstance(t, cst.Name) and self.carried and t.value in self.carried[-1] and t.value in self.computed and (
                _floaty(self.env.get(t.value))):
            # `x = wp.sqrt(a[tid])` then `x += e` in a dynamic loop: Warp updates x in place, and the adjoint of
            # sqrt reads its result x after the loop (a 300 s fuzz report: the gradient 4.09 instead of 4.33).
            # An accumulator that starts from a constant (the user guide's `sum += x[i]`) is fine.
            self._note("dynamic-loop", node, t.value)
        self._store(t)
        if isinstance(t, cst.Name) and isinstance(self.env.get(t.value), Composite) and _floaty(self.env[t.value]):
            if any(_floaty(self.env.get(n)) for n in _names(node.value)):  # `w -= v`: w now holds v's values
                self.whole_from_variables.add(t.value)
        if _component_of(node.target) is not None and _component_of(node.target)[2]:
            self._write(node.target, node)  # out[i].y += x: a component write of the element
        if isinstance(node.operator, (cst.MultiplyAssign, cst.DivideAssign)) and _floaty(self._type(node.target)):
            self._note("inplace-mul-div", node, unit_of(node.target))

    def visit_Call(self, node: cst.Call) -> None:
        func = _code(node.func)
        args = [a.value for a in node.args if a.keyword is None]
        if func in _INPLACE_CALLS and args and isinstance(args[0], cst.Name):
            self._assigned(args[0], node, cst.Tuple([cst.Element(a) for a in args[1:]]) if args[1:] else None)
            self._component(args[0].value, "*", node)
        elif func in _OUTPUT_CALLS:
            n = _OUTPUT_CALLS[func]
            inputs = cst.Tuple([cst.Element(x) for x in args[:-n]])
            for a in args[-n:]:
                self._assigned(a, node, inputs)
                self._write(a, inputs)  # wp.svd3(A, U, s, V): U, s, V hold values computed from A
                self._defines(a, inputs)
        elif func in _ATOMIC_CALLS and len(args) >= 2 and isinstance(args[0], cst.Name):
            if args[0].value in self.outputs:
                self.stores.append(args[0].value)
            if self.variant and _floaty(self.env.get(args[0].value)) and (
                    _names(args[-1]) & self.variant[-1] or any(self.breaking)):
                self._note("dynamic-loop", node, args[0].value)
            if func in _NON_DIFFERENTIABLE_ATOMICS and _floaty(self.env.get(args[0].value)):
                self._note("non-differentiable-atomic", node, args[0].value)
            # the value an atomic returns is not recomputed by the backward pass's replay (skip_replay): it is
            # read uninitialised there; kernel-wide when it is used, since it may steer any branch
            # (known_bugs/atomic_result_replay/: a fuzz report). `x = wp.atomic_...(...)` with x never read
            # again is fine.
            if id(node) in self.atomic_targets:
                self.atomic_results[self.atomic_targets[id(node)]] = node
            elif id(node) not in self.bare_calls:
                self._note("atomic-result", node)

    def visit_Expr(self, node: cst.Expr) -> None:
        if isinstance(node.value, cst.Call):
            self.bare_calls.add(id(node.value))

    def visit_Return(self, node: cst.Return) -> None:
        if any(self.loops):
            text = _code(node).strip().splitlines()[0][:120]
            self.returns.append((text, self.whiles > 0, self.loop_starts[0]))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Name) and node.value.value in self.written:
            self._note("array-overwrite", node)  # kernel-wide: the read value may go anywhere


RETURN = "<return>"


#: pseudo-width in the ``bits`` sets: a float16 matrix, quaternion, transform or spatial matrix (see
#: :meth:`Analysis.half_composite`)
HALF_COMPOSITE = 15


def _type_bits(t) -> set[int]:
    """Widths of the float scalars a value of type ``t`` holds (structs: every float field; arrays: dtype),
    plus :data:`HALF_COMPOSITE` for a float16 matrix, quaternion, transform or spatial matrix."""
    if isinstance(t, Array):
        t = t.dtype
    if isinstance(t, Composite):
        if half_product(t):
            return {16, HALF_COMPOSITE}
        return {t.scalar.bits} if t.scalar.is_float else set()
    if isinstance(t, Struct):
        return set().union(*(_type_bits(f) for _, f in t.fields)) if t.fields else set()
    return {t.bits} if isinstance(t, Scalar) and t.is_float else set()


def _spelled_bits() -> dict[str, int]:
    from grammar.types import BY_NAME

    spelled = {t.warp_name: min(_type_bits(t) - {HALF_COMPOSITE}) for t in BY_NAME.values() if _type_bits(t)}
    spelled["float"] = 32  # float(x) in a kernel is float32
    return spelled


_SPELLED_BITS = _spelled_bits()


class _DefUse(cst.CSTVisitor):
    """Flow-insensitive data dependences of one function: written name -> names (and helper calls) read.

    Only float-carrying values carry derivatives, so int and bool names are left out (a float->int cast
    ends a dependence). Control dependences are ignored: derivatives do not flow through conditions.
    ``bits`` holds, per written name, the float widths its statements compute with: the types of the
    target and of every float name read, every float type spelled (``wp.float16(...)``, ``float(...)``) and
    those of the helpers called (``helper_bits``: every width a helper uses anywhere).
    """

    def __init__(self, env: dict, helpers: set[str], helper_bits: dict[str, set[int]] | None = None,
                 half_statements: set[str] = frozenset()) -> None:
        self.env = env
        self.helpers = helpers
        self.helper_bits = helper_bits or {}
        # the code of the statements computing a float16 matrix/quaternion/transform/spatial matrix anywhere inside
        # (harness.oracle.reference.half_product_statements): their targets carry HALF_COMPOSITE, named or not
        self.half_statements = half_statements
        self.edges: dict[str, set[str]] = {}
        self.bits: dict[str, set[int]] = {}
        # every local's dependences, ints and bools included (a bool computed from a float steers a branch)
        self.deps: dict[str, set[str]] = {}

    def _dep(self, target, value) -> None:
        name = _target_name(target) if target is not None else None
        if name is not None:
            self.deps.setdefault(name, set()).update(n for n in _names(value) if n in self.env)

    def _reads(self, node) -> set[str]:
        if node is None:
            return set()
        found: set[str] = set()
        env, helpers = self.env, self.helpers

        class _Collect(cst.CSTVisitor):
            def visit_Name(self, n: cst.Name) -> None:
                if _floaty(env.get(n.value)):
                    found.add(n.value)

            def visit_Call(self, n: cst.Call) -> None:
                func = _code(n.func)
                if func in helpers:
                    found.add(f"<call:{func}>")

        look(_Collect(), node)
        return found

    def _bits(self, node) -> set[int]:
        found: set[int] = set()
        env, helper_bits = self.env, self.helper_bits

        class _Collect(cst.CSTVisitor):
            def visit_Name(self, n: cst.Name) -> None:
                found.update(_type_bits(env.get(n.value)))
                if n.value in _SPELLED_BITS:
                    found.add(_SPELLED_BITS[n.value])

            def visit_Attribute(self, n: cst.Attribute) -> None:
                spelled = _code(n)
                if spelled in _SPELLED_BITS:
                    found.add(_SPELLED_BITS[spelled])

            def visit_Call(self, n: cst.Call) -> None:
                found.update(helper_bits.get(_code(n.func), ()))

        look(_Collect(), node)
        return found

    def _edge(self, target: str | None, reads: set[str], node=None) -> None:
        if target is not None and (target == RETURN or _floaty(self.env.get(unit_base(target)))):
            self.edges.setdefault(target, set()).update(reads)
            if node is not None:
                self.bits.setdefault(target, set()).update(self._bits(node))
                if self.half_statements and _code(node) in self.half_statements:
                    self.bits[target] |= {16, HALF_COMPOSITE}

    def visit_Assign(self, node: cst.Assign) -> None:
        reads = self._reads(node.value)
        for t in node.targets:
            elements = [e.value for e in t.target.elements] if isinstance(t.target, cst.Tuple) else [t.target]
            for e in elements:
                name = unit_of(e)
                self._edge(name, reads | ({name} if isinstance(e, cst.Subscript) and name else set()), node)
                self._dep(e, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        name = unit_of(node.target)
        self._edge(name, self._reads(node.value) | ({name} if name else set()), node)
        self._dep(node.target, node.value)

    def visit_Return(self, node: cst.Return) -> None:
        self._edge(RETURN, self._reads(node.value), node)

    def visit_Call(self, node: cst.Call) -> None:
        func = _code(node.func)
        args = [a.value for a in node.args if a.keyword is None]
        if func in _INPLACE_CALLS and args and isinstance(args[0], cst.Name):
            self._edge(args[0].value, set().union(*(self._reads(a) for a in args)), node)
            self._dep(args[0], node)
        elif func in _OUTPUT_CALLS:
            n = _OUTPUT_CALLS[func]
            for a in args[-n:]:
                self._dep(a, cst.Tuple([cst.Element(x) for x in args[:-n]]) if args[:-n] else None)
            reads = set().union(*(self._reads(a) for a in args[:-n])) if args[:-n] else set()
            outs = {_target_name(a) for a in args[-n:]} - {None}
            for a in args[-n:]:
                # each output also "reads" its siblings: the call's adjoint reads every output's primal value
                # (eig3's eigenvector adjoint divides by eigenvalue gaps), so a later component write on one
                # output (`d.z = 0.25`, done in place) spoils the gradient through the others too
                self._edge(_target_name(a), reads | (outs - {_target_name(a)}), node)
        elif func in _ATOMIC_CALLS and len(args) >= 2:
            name = _target_name(args[0])
            self._edge(name, self._reads(args[-1]) | ({name} if name else set()), node)


def _steers(reached: set[str], tested: set[str], env: dict) -> bool:
    """Whether values ``reached`` from a stale one decide a branch (``tested``) or include an int or bool local
    (which may decide a branch, index an array or scale a derivative)."""
    return bool(reached & tested) or any(
        n in env and not _floaty(env[n]) and not isinstance(env[n], (Array, Struct)) for n in reached)


def _closure(edges: dict[str, set[str]], start: set[str], forward: bool) -> set[str]:
    """Names reachable from ``start``: forward = names whose value depends on them, else names they read."""
    if forward:
        users: dict[str, set[str]] = {}
        for target, reads in edges.items():
            for r in reads:
                users.setdefault(r, set()).add(target)
        step = users
    else:
        step = edges
    seen, todo = set(start), list(start)
    while todo:
        for n in step.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


@dataclass(frozen=True)
class Offence:
    """A construct that spoils Warp's gradient only along the data flow through it: the derivatives of
    ``outputs`` (those the written value reaches) with respect to ``inputs`` (those it depends on). Leaving
    either set out of the dot-product test (a zero seed in ``v`` or a zero direction in ``u``) leaves the
    fault out: Warp's adjoint is linear in the seeds, and the faulty adjoint flows only into what the
    written value depends on. ``inputs`` is None when only the outputs can be left out."""

    key: str
    statement: str
    outputs: frozenset
    inputs: frozenset | None


@dataclass
class Analysis:
    """What :func:`analyse` finds in a kernel: ``kernel_wide`` limits (key -> statement) leave the whole
    kernel out, ``offences`` only their data flow; :meth:`precision` gives the float width of the
    derivative path."""

    kernel_wide: dict[str, str]
    offences: list[Offence]
    edges: dict[str, set[str]]
    bits: dict[str, set[int]]
    sources: set[str]
    sinks: set[str]

    def units(self, outputs) -> set[str]:
        """The output units of the arrays named ``outputs``: a sink array's slots (``sink0[16]``, see
        :func:`unit_of`), any other array itself."""
        out = set()
        for name in outputs:
            out |= {u for u in self.sinks if unit_base(u) == name} or {name}
        return out

    def precision(self, inputs=None, outputs=None) -> int:
        """The narrowest float width (16, 32 or 64) that the derivatives of ``outputs`` with respect to
        ``inputs`` (names; default: every float input/output array) are computed with: the widths of every
        value on a derivative path from those inputs to those outputs and of every value such a path value
        is computed from (a float16 constant multiplying the path changes the derivative by its rounding).
        Values that only feed conditions, int casts or other outputs do not count."""
        bits = self._path_bits(inputs, outputs) - {HALF_COMPOSITE}
        return min(bits) if bits else 32

    def half_composite(self, inputs=None, outputs=None) -> bool:
        """Whether a float16 matrix, quaternion, transform or spatial matrix lies on the derivative path (as
        for :meth:`precision`): Warp accumulates their adjoints in half precision over sums of 4-16 products,
        whose rounding is not bounded by the dot-product test's scale (see ``harness.oracle.gradient``)."""
        return HALF_COMPOSITE in self._path_bits(inputs, outputs)

    def _path_bits(self, inputs, outputs) -> set[int]:
        inputs = self.sources if inputs is None else set(inputs)
        outputs = self.sinks if outputs is None else set(outputs)
        path = _closure(self.edges, inputs, forward=True) & _closure(self.edges, outputs, forward=False)
        relevant = _closure(self.edges, path, forward=False)
        return set().union(*(self.bits.get(n, set()) for n in relevant)) if relevant else set()


def _function_bits(definition, env: dict, half: bool = False) -> set[int]:
    found = {b for t in env.values() for b in _type_bits(t)} | ({16, HALF_COMPOSITE} if half else set())

    class _Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            if n.value in _SPELLED_BITS:
                found.add(_SPELLED_BITS[n.value])

        def visit_Attribute(self, n: cst.Attribute) -> None:
            if _code(n) in _SPELLED_BITS:
                found.add(_SPELLED_BITS[_code(n)])

    look(_Collect(), definition)
    return found


def analyse(kernel_source: str, params) -> Analysis:
    """The gradient limits a kernel's source hits, and the data flow they affect.

    ``params`` are the kernel's parameter specs (``.name``, ``.role``, ``.kind``, ``.dtype``). Types come from
    the reference's type checker, so ``x *= 2`` on an int local is not an exclusion while the same on a
    float local is. A statement counts only when the value it writes can carry a derivative from a float
    input array to a float output (flow-insensitive data dependences, :class:`_DefUse`): a ``*=`` on a
    local that never reaches an output, or that holds only constants, leaves Warp's gradients correct; it
    then spoils only the derivatives of the outputs its value reaches with respect to the inputs it depends
    on (an :class:`Offence`). In a helper function, a statement counts when its value depends on the
    helper's float parameters and reaches its return; then every use of the helper counts as that
    statement. A ``return`` inside a ``while`` loop (kernel or helper) and an array read back after it was
    written leave the whole kernel out; a ``return`` in a dynamic ``for`` loop of the kernel spoils the
    outputs stored from the (outermost enclosing) loop on.
    """
    from .reference import half_product_statements, local_types, parsed  # it imports nothing from here

    envs = local_types(kernel_source)
    halves = half_product_statements(kernel_source)
    outputs = {p.name for p in params if p.role in ("output", "atomic")}
    module = parsed(kernel_source)
    definitions = [d for d in module.body if isinstance(d, cst.FunctionDef)
                   and d.name.value not in OPS.FRAGMENT_NAMES]  # (a library-function row is a row: grammar.ops_nn)
    unsafe: dict[str, tuple[str, str]] = {}  # helper name -> (limit key, statement)
    helper_bits: dict[str, set[int]] = {}
    kernel_wide: dict[str, str] = {}
    offences: list[Offence] = []
    analysis = None
    key_return = "return-in-dynamic-loop"
    for definition in definitions:
        name = definition.name.value
        env = envs.get(name, {})
        is_kernel = definition is definitions[-1]
        scan = _Scan(env, outputs if is_kernel else set())
        for statement in definition.body.body:
            _scan_statement(statement, scan)
        defuse = _DefUse(env, set(unsafe) | {d.name.value for d in definitions[:-1]}, helper_bits,
                         halves.get(name, set()))
        look(defuse, definition)
        if not is_kernel:
            helper_bits[name] = _function_bits(definition, env, bool(halves.get(name))).union(
                *(b for h, b in helper_bits.items() if f"<call:{h}>" in set().union(*defuse.edges.values(), set())))
        if is_kernel:
            sources = {p.name for p in params if p.kind == "array" and p.role == "input" and _floaty(env.get(p.name))}
            sinks = set()
            for p in params:
                if p.name in outputs and _floaty(env.get(p.name)):  # a sink array: its slots, one unit each
                    slots = {u for u in defuse.edges if unit_base(u) == p.name and u != p.name}
                    sinks |= slots or {p.name}
        else:
            sources = {p.name.value for p in definition.params.params if _floaty(env.get(p.name.value))}
            sinks = {RETURN}
        real_sources = set(sources)
        for helper, (key, text) in unsafe.items():  # a call of an unsafe helper offends where its value goes
            for target, reads in defuse.edges.items():
                if f"<call:{helper}>" in reads:
                    scan.offences.append((key, target, f"{text} (in {helper})"))
            sources = sources | {f"<call:{helper}>"}  # what an unsafe helper returns may depend on inputs
        tainted = _closure(defuse.edges, sources, forward=True)
        live = _closure(defuse.edges, sinks, forward=False)
        for text, in_while, start in scan.returns:
            where = text if is_kernel else f"{text} (in {name})"
            if in_while:  # the backward pass would never end: it must not run at all
                kernel_wide.setdefault(key_return, where)
            elif is_kernel:
                offences.append(Offence(key_return, where, frozenset(scan.stores[start:]), None))
            else:  # the helper's adjoint applies the adjoint of the return after the loop too
                unsafe.setdefault(name, (key_return, where))
        expanded = []
        for key, target, text in scan.offences:  # an offence on a whole sink array spoils each of its slots
            units = [u for u in defuse.edges if target and u != target and unit_base(u) == target]
            expanded += [(key, u, text) for u in units] if target not in defuse.edges and units else [(key, target, text)]
        for key, target, text in expanded:
            if target is None:
                if is_kernel:
                    kernel_wide.setdefault(key, text)
                else:
                    unsafe.setdefault(name, (key, text))
            elif is_kernel and key == "dynamic-loop" and _steers(_closure(defuse.deps, {target}, forward=True),
                                                                   scan.tested, env):
                # the value is stale in the backward pass's replay: a branch on it (or on what it feeds) may go the
                # other way there, so whatever the branch guards is spoiled too, derivative or not (a 20-minute
                # fuzz: `if x1 <= x4:` after `x1 -= a0[tid]` in a loop with a break). What it feeds includes ints
                # and bools: `c7 = (x2 <= a1[tid])`, `if c7: return` after `x2 *= ...` in a loop with a break (a
                # fault-benchmark control run); an int computed from it may index an array or scale a derivative,
                # so any int or bool it reaches counts as steering.
                kernel_wide.setdefault(key, text)
            elif target in tainted and target in live:
                if is_kernel:
                    reached = _closure(defuse.edges, {target}, forward=True) & sinks
                    feeding = _closure(defuse.edges, {target}, forward=False) & real_sources
                    # a dynamic loop's value is wrong in the backward pass's replay (the loop is not replayed),
                    # so every adjoint downstream reads it: d(x * b)/db too; only the outputs can be left out
                    offences.append(Offence(key, text, frozenset(reached),
                                            None if key == "dynamic-loop" else frozenset(feeding)))
                else:
                    unsafe.setdefault(name, (key, text))
            elif key in ("component-overwrite", "dynamic-loop") and _closure(
                    defuse.edges, {target}, forward=True) & tainted & live:
                # (dynamic-loop: a value that does not depend on the inputs, stale after the loop in the replay, read
                # by the adjoint of an operation on a derivative path: `w += w` in a loop with a break, then
                # quat_twist_angle(w, q) of an input q; a 30-minute fuzz)
                # a constant local written after a read: the reader's adjoint (d dot(w, v) / d v = w) reads the
                # new value, so what the readers reach is spoiled whatever the local holds; only the outputs
                # can be left out (the inputs it spoils are the readers' other operands)
                if is_kernel:
                    reached = _closure(defuse.edges, {target}, forward=True) & sinks
                    offences.append(Offence(key, text, frozenset(reached), None))
                else:
                    unsafe.setdefault(name, (key, text))
        if is_kernel:
            analysis = Analysis(kernel_wide, offences, defuse.edges, defuse.bits, real_sources, sinks)
    return analysis


def static_exclusions(kernel_source: str, params) -> dict[str, str]:
    """{limit key: the first offending statement} for every limit :func:`analyse` finds, kernel-wide or not."""
    a = analyse(kernel_source, params)
    found = dict(a.kernel_wide)
    for o in a.offences:
        found.setdefault(o.key, o.statement)
    return found


def _written_units(small) -> list[str]:
    """The units a small statement writes (:func:`unit_of`): assignment targets, a builtin's output arguments,
    an atomic's array; [] when unknown."""
    if isinstance(small, cst.Assign):
        return [u for t in small.targets for e in (
            [x.value for x in t.target.elements] if isinstance(t.target, cst.Tuple) else [t.target])
                for u in [unit_of(e)] if u]
    if isinstance(small, cst.AugAssign):
        return [u for u in [unit_of(small.target)] if u]
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        func = _code(small.value.func)
        args = [a.value for a in small.value.args if a.keyword is None]
        if func in _OUTPUT_CALLS:
            return [u for a in args[-_OUTPUT_CALLS[func]:] for u in [unit_of(a)] if u]
        if (func in _ATOMIC_CALLS or func in _INPLACE_CALLS) and args and isinstance(args[0], cst.Name):
            return [args[0].value]
    return []


def _changed_ints_and_bools(body, env: dict) -> set[str]:
    """The int and bool locals (not arrays, structs or floats) assigned in ``body``."""
    return {n for n in _assigned_names(body) if n in env and not _floaty(env[n])
            and not isinstance(env[n], (Array, Struct))}


def _nested_dynamic_changes(body, env: dict) -> set[str]:
    """The int and bool locals assigned inside a dynamic loop (a while loop, a for loop Warp does not unroll)
    nested anywhere in ``body``."""
    found: set[str] = set()
    stack = list(body.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.For, cst.While)) and (isinstance(node, cst.While) or loop_is_dynamic(node)):
            found |= _changed_ints_and_bools(node.body, env)
        if isinstance(node, (cst.For, cst.While, cst.If, cst.Else)):
            stack.extend(node.body.body)
        if isinstance(node, (cst.For, cst.While, cst.If)) and node.orelse is not None:
            stack.append(node.orelse)
    return found


def _scan_statement(statement, scan: _Scan) -> None:
    """Visit statements in source order; an augmented store ``out[i] += x`` reads ``out`` legitimately."""
    if isinstance(statement, cst.SimpleStatementLine):
        for small in statement.body:
            scan.stale_reads(small, _written_units(small))
            if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Subscript):
                scan.visit_AugAssign(small)
                look(scan, small.value)
                for s in small.target.slice:
                    look(scan, s)
            elif isinstance(small, cst.Assign):
                if (isinstance(small.value, cst.Call) and _code(small.value.func) in _ATOMIC_CALLS
                        and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
                    scan.atomic_targets[id(small.value)] = small.targets[0].target.value  # x = wp.atomic_...()
                look(scan, small.value)
                for t in small.targets:  # index expressions of the targets are reads
                    if isinstance(t.target, cst.Subscript):
                        for s in t.target.slice:
                            look(scan, s)
                scan.visit_Assign(small)
            else:
                look(scan, small)
        return
    if isinstance(statement, (cst.For, cst.While)):
        if isinstance(statement, cst.While) or loop_is_dynamic(statement):
            # an int/bool read before a dynamic loop that changes it: Warp updates the variable in place, and the
            # adjoint of the earlier read (a branch on it, an index, a selection) sees the loop's final value (a
            # 30-minute fuzz: `if c: out = 2a else: out = 3a`, then `c = a[0] > 100.0` in a while loop, gave
            # a.grad = 3 where c held; known_bugs/loop_changed_after_branch_adjoint/)
            if _changed_ints_and_bools(statement.body, scan.env) & scan.read:
                scan._note("dynamic-loop", statement.test if isinstance(statement, cst.While) else statement.iter)
        # an int/bool a dynamic loop nested in this loop changes is read by the next iteration's statements
        # before that nested loop too (a 15-minute fuzz: `if c3:` at the top of an unrolled for body, `c3 = ...`
        # in a while loop further down): stale for the whole body
        scan.stale |= _nested_dynamic_changes(statement.body, scan.env)
        scan.stale_test(statement.iter if isinstance(statement, cst.For) else statement.test)
        look(scan, statement.iter if isinstance(statement, cst.For) else statement.test)
        scan.tested |= _names(statement.iter if isinstance(statement, cst.For) else statement.test)
        if isinstance(statement, cst.For):
            scan.visit_For(statement)
        else:
            scan.visit_While(statement)
        for s in statement.body.body:
            _scan_statement(s, scan)
        if isinstance(statement, cst.For):
            scan.leave_For(statement)
        else:
            scan.leave_While(statement)
        if statement.orelse is not None:
            for s in statement.orelse.body.body:
                _scan_statement(s, scan)
        return
    if isinstance(statement, cst.If):
        scan.stale_test(statement.test)
        look(scan, statement.test)
        scan.tested |= _names(statement.test)
        scan.conditional += 1
        try:
            for s in statement.body.body:
                _scan_statement(s, scan)
            orelse = statement.orelse
            if isinstance(orelse, cst.If):
                _scan_statement(orelse, scan)
            elif orelse is not None:
                for s in orelse.body.body:
                    _scan_statement(s, scan)
        finally:
            scan.conditional -= 1
        return
    look(scan, statement)
