"""The gradient oracle: Warp's reverse mode against a derivative of the numpy reference.

For a kernel that passed the forward check, :func:`check_gradient`

1. picks the **candidates**: float input arrays ``x`` (scalars, vectors, matrices, quaternions... of any
   float width) and float output arrays ``y`` (own-slot and atomic). By-value scalar parameters are held
   fixed: Warp computes no ``.grad`` for them. Without a float input and a float output the kernel is not a
   gradient candidate;
2. leaves out what :mod:`harness.oracle.gradient_limits` lists (documented Warp limitations, found statically),
   where it can by a zero seed on the output *units* the offending value reaches (an array, or one slot of a
   sink array: ``sink0[16]``) or a zero direction on the inputs it depends on; likewise the units a float16
   matrix/quaternion/transform reaches ("float16-composite"); the kernel is left out only when nothing
   would be left;
3. draws random directions ``u`` (over every float input element) and ``v`` (over every float output
   element), runs the kernel under ``wp.Tape`` with ``v`` seeded into the outputs' adjoints and reads
   ``Jᵀv`` from the inputs' ``.grad``;
4. computes ``J u`` from the reference in high precision (float16/32 as float64, float64 as long double):
   central differences along ``u`` at steps ``h, h/2, h/4``, Richardson-extrapolated (error O(h⁶)), with
   the difference of the last two extrapolations as the error estimate. Central differences are sound only
   where the function is smooth over the step, so every evaluation records its **decisions** -- the value of
   every bool and int result (comparisons, casts, ``floor``...), which operand every exact selection
   (``min``/``max``/``clamp``/``abs``/``where``...) returned, each atomic ``min``/``max`` replacement, the
   path length of the discontinuity trace -- and the unperturbed and the six perturbed evaluations must agree on all
   of them;
   otherwise the kernel is excluded as ``non-smooth`` (a branch boundary or tie lies within the step; a
   second attempt uses a 100x smaller step);
5. compares, by the dot-product test, ``v·(J u)`` (reference) with ``u·(Jᵀv)`` (Warp): they must agree
   within ``10 × Richardson error + RTOL × (Σ|v_j (J u)_j| + Σ|u_i (Jᵀv)_i|)`` where ``RTOL`` follows the
   least precise float type the kernel uses (``RTOL32`` for float32/64, ``RTOL16`` with any float16).

A disagreement is a ``gradient-mismatch`` failure, unless Warp's backward is neither linear nor affine in its
seeds there: when ``r(c) = u·Jᵀ(cv)/c`` for c = 1, 3, 5, 7 is not ``A + B/c`` within a tenth of the
disagreement, the disagreement is the rounding of large intermediate adjoints that cancel (reverse mode is
linear in the seeds; a wrong adjoint is linear or, when a term forgets the incoming adjoint, affine), and the
kernel is excluded (``adjoint-rounding``; float32 and float16 paths). The
per-element expected gradient ``Jᵀv`` of a failure is derived from the same reference by central differences
along each input element (for the report).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from grammar import ops as OPS
from grammar.semantics import UndefinedBehaviour
from grammar.types import BY_NAME, Composite, float_valued

from ..warp_side import warp_adapter as W
from .gradient_limits import LIMITS, Analysis, analyse, unit_base, unit_slot
from .reference import Runtime, run_reference

STEP = 1e-5  # central-difference step along u (|u| ~ 1 per element), first attempt
SMALL_STEP = 1e-7  # second attempt when a decision changes within the first step
RTOL32 = 2e-5  # relative tolerance of the dot-product test when the derivative path computes in float32
#: (measured: |v·Ju - u·Jᵀv| / scale over 111 checked float32-path kernels, max 5.5e-8, p99 2.7e-8; 2e-4 let a
#: 1e-3 relative adjoint fault through unless its term was a fifth of the scale)
RTOL16 = 3e-2  # ... when float16 lies on it
RTOL64 = 1e-7  # ... when it is float64 throughout (the reference holds float64 values as long double)
RTOLS = {16: RTOL16, 32: RTOL32, 64: RTOL64}
#: the largest departure of Warp-precision outputs from the exact ones (relative to the output's largest value)
#: at which the gradient is still checked: float16 about 4 units in the last place (a 2 % departure of
#: normalize(vec2h(9e-4, 0)) came with a gradient 19x off: the adjoint divides by the rounded length); float32
#: and float64 their dot-product tolerance
DEPARTURES = {16: 4e-3, 32: RTOL32, 64: RTOL64}
CONVERGENCE = 1e-6  # Richardson error estimate above this (relative to the derivative's scale): non-smooth
#: direction components are multiples of 1/8 in [-2, 2]: exact in float16, so Warp's seeds are exactly v
DIRECTION_GRID = 8.0

#: a derivative path through a float16 matrix, quaternion, transform or spatial matrix is not checked (the
#: "float16-composite" limit of harness.oracle.gradient_limits)
HALF_COMPOSITE_KEY = "float16-composite"
#: ... and a float16 path whose exact derivative along u is exactly zero while Warp's is not ("float16-stationary")
HALF_STATIONARY_KEY = "float16-stationary"
#: ... and a kernel whose forward result in Warp's precision departs from the exact one by more than
#: DEPARTURES of that precision ("ill-conditioned")
ILL_CONDITIONED_KEY = "ill-conditioned"
#: ... and a mismatch where Warp's r(c) = u·Jᵀ(cv)/c over the factors c of NOISE_FACTORS is not A + B/c within
#: NOISE_SHARE of the mismatch (:func:`_warp_rescaled`): the rounding of Warp's adjoint, not a wrong one
ADJOINT_ROUNDING_KEY = "adjoint-rounding"
NOISE_SHARE = 0.1
NOISE_FACTORS = (3.0, 5.0, 7.0)


#: differentiable rows with a kink inside (their derivative jumps where these decisions change): the sign
#: pattern of ``norm_l1``'s components (``|x|`` at ``x = 0``), recorded like the selections' decisions
KINKS = {"norm_l1": lambda v: np.sign(np.asarray(v, dtype=np.float64))}

#: rows whose derivative is undefined where the argument's singular values coincide (Warp's adjoint divides by
#: their differences: a zero matrix gave adjoints of 4e5 in a collect run); the gradient check treats such an
#: argument as non-smooth
DEGENERATE_AT_TIES = ("svd3", "svd2", "eig3", "qr3")
#: ... and eig3 where the (symmetric) argument's eigenvalues coincide: its eigenvectors are undefined there and
#: its sorted eigenvalues have a kink (a 30-minute fuzz: eig3(V + Vᵀ) of an orthogonal V, whose eigenvalue
#: 2·cos θ is double, gave a false gradient mismatch); and qr3 of a rank-deficient argument (a smallest singular
#: value of zero), whose Q and R are not unique there (a 30-minute fuzz: qr3 of mat33(a, 0, ..., 0))

#: rows whose forward is Warp's fixed-sweep Jacobi (4 sweeps in float32 and float16, 8 in float64) and whose adjoint is
#: the exact decomposition's derivative formula: where the sweeps have not converged (the reconstruction departs
#: from the argument by more than UNCONVERGED_REL of its largest entry in the high-precision run) Warp's adjoint is
#: not the derivative of its forward, and the check treats the argument as non-smooth. A 30-minute fuzz: svd3 of a
#: matrix with singular values (4.84, 0.66, 0.23) rebuilt with an error of 2e-3, and Warp's adjoint was 3.5 % off
#: the derivative of its own forward (Warp's forward equals the port's; its inaccuracy is upstream issue #281,
#: closed). 19 % of svd3 and 14 % of eig3 calls on [-4, 4] grid matrices depart by more than 1e-9.
UNCONVERGED = ("svd3", "eig3")
UNCONVERGED_REL = 1e-9

#: what the reference's evaluation flags and the check then leaves out (limits of harness.oracle.gradient_limits)
EXCLUDED_FLAGS = ("float-mod", "missing-adjoint", "atomic-minmax-tie")

# ---- statuses ----
CHECKED = "checked"
NOT_DIFFERENTIABLE = "not-differentiable"


@dataclass
class GradientResult:
    status: str  # "checked" | "not-differentiable" | "excluded:<limit key>" | "mismatch"
    note: str = ""
    lhs: float = 0.0  # v·(J u), reference
    rhs: float = 0.0  # u·(Jᵀv), Warp
    tolerance: float = 0.0
    u: dict[str, np.ndarray] = field(default_factory=dict)  # input name -> direction
    v: dict[str, np.ndarray] = field(default_factory=dict)  # output name -> adjoint seed
    warp_grads: dict[str, np.ndarray] = field(default_factory=dict)  # input name -> Warp's Jᵀv
    step: float = STEP
    precision: int = 0  # float width of the derivative path (16/32/64) that chose the rtol; 0 before the test
    narrowed: str = ""  # what the limits left out of u / v (empty: nothing)

    @property
    def checked(self) -> bool:
        return self.status in (CHECKED, "mismatch")


def is_float(dtype: str) -> bool:
    """A float scalar or composite of floats (a struct type is not: see :func:`candidates`)."""
    return dtype in BY_NAME and float_valued(BY_NAME[dtype])


def candidates(params) -> tuple[list, list]:
    """(float input arrays, float output arrays) of a kernel's parameter specs. Arrays of structs are
    neither: like scalar parameters, struct inputs are held fixed and struct outputs are not seeded, so the
    dot-product test covers the Jacobian between the float arrays only."""
    inputs = [p for p in params if p.kind == "array" and p.role == "input" and is_float(p.dtype)]
    outputs = [p for p in params if p.kind == "array" and p.role in ("output", "atomic") and is_float(p.dtype)]
    return inputs, outputs


def narrow(analysis: Analysis, inputs, outputs) -> tuple[set[str], set[str], str | None]:
    """(inputs to leave out of ``u``, output units to leave out of ``v``, the limit key when nothing is left).
    An output unit is an array or one slot of a sink array (:meth:`~harness.oracle.gradient_limits.Analysis.units`).

    Every :class:`~harness.oracle.gradient_limits.Offence` is left out by zeroing the seeds of the outputs it
    reaches; when that would leave no output, the offences that allow it are left out by zeroing the
    directions of the inputs they depend on instead. Kernel-wide limits leave nothing."""
    names_in, names_out = {p.name for p in inputs}, analysis.units(p.name for p in outputs)
    if analysis.kernel_wide:
        return names_in, names_out, next(iter(analysis.kernel_wide))
    if not analysis.offences:
        return set(), set(), None
    first = analysis.offences[0].key
    drop_out = set().union(*(o.outputs for o in analysis.offences)) & names_out
    if drop_out != names_out:
        return set(), drop_out, None
    drop_out = set().union(*(o.outputs for o in analysis.offences if o.inputs is None)) & names_out
    drop_in = set().union(*(o.inputs for o in analysis.offences if o.inputs is not None)) & names_in
    if drop_out != names_out and drop_in != names_in:
        return drop_in, drop_out, None
    return names_in, names_out, first


def _leave_out(v: dict, unit: str, dim) -> None:
    """Zero the seed of one output unit in ``v``: a whole array, or the slot ``sink0[16]`` (this launch's
    last-dimension extent of elements from offset 16 along the last axis, :mod:`strategies.sinks`)."""
    name, index = unit_base(unit), _unit_index(unit, dim)
    if index is None:
        v[name] = np.zeros_like(v[name])
        return
    v[name] = np.array(v[name], copy=True)
    v[name][index] = 0


def _unit_index(unit: str, dim) -> tuple | None:
    """The index of a sink slot's elements in its array (launch axes first, then an element's components):
    the launch's last-dimension extent from the slot's offset along the last launch axis; None for a whole
    array."""
    offset = unit_slot(unit)
    if offset is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    return (slice(None),) * (len(dims) - 1) + (slice(offset, offset + dims[-1]),)


def needs_backward(k) -> bool:
    """Whether :func:`check_gradient` may launch ``k``'s backward pass: it has float input and output arrays
    (:func:`candidates`) and no static exclusion; for any other kernel the check decides before launching."""
    inputs, outputs = candidates(k.params)
    return bool(inputs and outputs) and not analyse(k.kernel_source, k.params).kernel_wide


# ---- the reference side -----------------------------------------------------------------------------------------


class DecisionRuntime(Runtime):
    """A high-precision reference runtime that records every decision an evaluation takes (see module doc)."""

    def __init__(self, float_t: type = np.float64):
        self.decisions: list = []
        # limit key -> the operands that matter, per evaluation of a construct with a known adjoint fault; the
        # check leaves the kernel out only when they vary along u (a derivative flows through the fault)
        self.watched: dict[str, list] = {}
        super().__init__(float_t)

    def _bind(self, op, sig):
        inner = super()._bind(op, sig)
        result = sig.result
        scalar = result.scalar if isinstance(result, Composite) else result
        float_result = scalar is not None and getattr(scalar, "is_float", False)
        known = ("float-mod" if op.name == "mod" and float_result
                 else "missing-adjoint" if op.name in OPS.MISSING_ADJOINTS else None)
        if result is None or op.outputs or op.inplace:
            mode = "pattern" if op.exact else None  # tuple results: equality pattern of each part
        elif not float_result:
            mode = "value"  # bool/int results: comparisons, casts, argmin...
        elif not op.differentiable:
            mode = "value"  # piecewise constant: floor, round, sign...
        elif op.exact:
            mode = "pattern"  # selections: min, max, clamp, abs, where, neg...
        elif op.name in KINKS:
            mode = "kink"
        else:
            mode = None
        if op.name in DEGENERATE_AT_TIES:
            def singular(*args):  # the derivative of an SVD is undefined where singular values coincide
                m = np.asarray(args[0], dtype=np.float64)
                if not np.all(np.isfinite(m)):  # no SVD of NaN/inf (numpy raises): the check excludes it later
                    return inner(*args)
                sv = (np.linalg.eigvalsh((m + m.T) / 2) if op.name == "eig3"
                      else np.linalg.svd(m, compute_uv=False))
                if op.name == "qr3":  # not unique where the matrix is singular: the gap to zero counts
                    sv = np.append(sv, 0.0)
                gaps = np.abs(np.subtract.outer(sv, sv))[np.triu_indices(len(sv), 1)]
                if np.any(gaps <= 1e-3 * max(float(np.abs(sv).max()), 1e-30)):
                    raise UndefinedBehaviour(f"{op.name} of a matrix with repeated singular values or eigenvalues "
                                             f"{sv.tolist()}: "
                                             "its derivative is not defined there")
                out = inner(*args)
                if op.name in UNCONVERGED:
                    departure = _unconverged(op.name, m, out)
                    if departure > UNCONVERGED_REL:
                        raise UndefinedBehaviour(
                            f"{op.name}'s fixed-sweep Jacobi has not converged on this argument (its decomposition "
                            f"rebuilds it with an error of {departure:.2g} of its largest entry): Warp's adjoint, the "
                            "exact decomposition's derivative, is not the derivative of its forward there")
                return out

            return singular
        if mode is None and known is None:
            return inner
        decisions, watched = self.decisions, self.watched
        # float a % b: Warp's adjoint of a is right, the divisor's term is missing (vectors: both missing)
        vector_mod = known == "float-mod" and isinstance(result, Composite)

        def call(*args):
            r = inner(*args)
            if known == "float-mod":  # the missing term -trunc(a / b) * db vanishes where |a| < |b|
                a, b = (float(x) for x in args) if not vector_mod else (None, None)
                watched.setdefault(known, []).append(
                    _frozen(args) if vector_mod else (_frozen(b) if _quotient_truncates(a, b) else None))
            elif known is not None:
                watched.setdefault(known, []).append(_frozen(args))
            if mode == "value":
                decisions.append(_frozen(r))
            elif mode == "pattern":
                decisions.append(_pattern(r, args))
            elif mode == "kink":
                decisions.append(_frozen(KINKS[op.name](*args)))
            return r

        return call

    def atomic(self, name, arr, index, *operands):
        old = super().atomic(name, arr, index, *operands)
        value = operands[-1]
        if name == "atomic_cas":  # whether the swap happens is a decision
            self.decisions.append(_frozen(np.asarray(old) == np.asarray(operands[0])))
        if name in ("atomic_min", "atomic_max") and np.asarray(old).dtype.kind == "f":
            o, v = np.asarray(old, dtype=np.float64), np.asarray(value, dtype=np.float64)
            if np.any(o == v):
                self.watched.setdefault("atomic-minmax-tie", []).append(_frozen(v))
            self.decisions.append(_frozen(v < o if name == "atomic_min" else v > o))
        return old


def _frozen(value):
    if isinstance(value, tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, np.ndarray):
        return (value.shape, tuple(value.reshape(-1).tolist()))
    if isinstance(value, tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    return value


def _pattern(result, args):
    parts = result if isinstance(result, tuple) else (result,)
    out = []
    for r in parts:
        ra = np.asarray(r)
        for a in args:
            aa = np.asarray(a) if isinstance(a, (np.ndarray, np.floating, float)) else None
            # elementwise selections (shapes agree, or a scalar operand) and reductions to a scalar (the max of
            # a vector: which components equal it; tied components are where its adjoint picks one)
            if aa is not None and aa.dtype.kind == "f" and (aa.shape == ra.shape or aa.shape == () or ra.shape == ()):
                out.append(tuple(np.equal(ra, aa).reshape(-1).tolist()))
    return tuple(out)


@dataclass
class _Evaluation:
    outputs: dict[str, np.ndarray]
    decisions: list
    trace_len: int
    watched: dict[str, list]


def _evaluate(k, values: dict, inputs, u: dict, t: float, outputs) -> _Evaluation:
    shifted = dict(values)
    for p in inputs:
        shifted[p.name] = np.asarray(values[p.name], dtype=np.float64) + t * u[p.name]
    R = DecisionRuntime()
    run = run_reference(k.kernel_source, k.params, shifted, k.dim, runtime=R)
    outs = {p.name: np.asarray(run.outputs[p.name], dtype=np.longdouble) for p in outputs}
    return _Evaluation(outs, R.decisions, len(run.trace), R.watched)


def _unit_values(array, unit: str, dim) -> np.ndarray:
    """The elements of one output unit (:func:`_leave_out`): the whole array, or one sink slot."""
    index = _unit_index(unit, dim)
    return array if index is None else array[index]


_TINY64 = float(np.finfo(np.float64).tiny)


def rounding_departures(k, values: dict, units, exact: dict) -> dict[str, float] | None:
    """Per output unit (:meth:`~harness.oracle.gradient_limits.Analysis.units`), how far its values in Warp's precision
    (the native reference, which rounds like Warp) depart from the ``exact`` ones (the high-precision
    reference's outputs): ``max |native - exact|`` over ``max |exact|`` (over float64's smallest normal for a
    unit that is exactly zero: no departure when native is zero too; a unit whose exact values lie below
    float32's range, 1e-92 computed as 0.0, departs by 1; a unit finite exactly but not in Warp's precision, an
    overflow, departs by infinity). None when the native run fails; units of struct arrays and units whose exact
    values are not finite are left out (the check's own non-finite exclusion decides)."""
    try:
        native = run_reference(k.kernel_source, k.params, values, k.dim).outputs
    except Exception:
        return None
    out = {}
    for unit in units:
        name = unit_base(unit)
        try:
            e = _unit_values(np.asarray(exact[name], dtype=np.float64), unit, k.dim)
            n = _unit_values(np.asarray(native[name], dtype=np.float64), unit, k.dim)
        except (TypeError, ValueError, KeyError):  # struct elements: not compared
            continue
        if e.shape != n.shape or not np.all(np.isfinite(e)):
            continue
        if not np.all(np.isfinite(n)):
            # finite exactly, not in Warp's precision: an intermediate overflowed (a float16 `norm_l2` of a vector
            # longer than 256 squares its components past 65504; a 30-minute fuzz of generator 0.5.4): Warp's
            # adjoint through an infinite value is not a derivative of anything, the unit departs entirely
            out[unit] = math.inf
            continue
        out[unit] = float(np.max(np.abs(n - e), initial=0.0)) / (float(np.max(np.abs(e), initial=0.0)) + _TINY64)
    return out


def _quotient_truncates(a: float, b: float) -> bool:
    """Whether ``trunc(a / b)`` is not zero (float ``%``'s missing adjoint term); a NaN, infinite or zero-divisor
    quotient counts as not zero (a 30-minute fuzz: a NaN dividend crashed the check)."""
    q = a / b if b != 0.0 else math.inf
    return not math.isfinite(q) or math.trunc(q) != 0


class _Excluded(Exception):
    def __init__(self, key: str, note: str):
        super().__init__(note)
        self.key, self.note = key, note


def directional_derivative(k, values, inputs, outputs, u, step, base: _Evaluation | None = None) -> tuple[dict, float]:
    """({output name: J u per element}, error estimate per element max) by Richardson-extrapolated central
    differences of the high-precision reference; raises _Excluded when that is not sound. ``base`` is the
    evaluation at x when the caller has it."""
    steps = (step, step / 2, step / 4)
    evals = {}
    try:
        # the unperturbed point too: a decision that holds only at x itself (`if a and b` with a == 0 exactly,
        # a removable point where the kernel takes another path) leaves Warp's adjoint that of another branch
        for t in (0.0, *[sign * h for h in steps for sign in (1, -1)]):
            evals[t] = base if t == 0.0 and base is not None else _evaluate(k, values, inputs, u, t, outputs)
    except UndefinedBehaviour as error:
        raise _Excluded("non-smooth", f"the reference is undefined within the step: {error}") from None
    first = evals[0.0]
    for key in EXCLUDED_FLAGS:
        seen = [e.watched.get(key, []) for e in evals.values()]
        if any(w != seen[0] for w in seen):
            raise _Excluded(key, LIMITS[key].summary)
    for t, e in evals.items():
        if e.trace_len != first.trace_len or e.decisions != first.decisions:
            which = _first_difference(first.decisions, e.decisions)
            raise _Excluded("non-smooth", f"decision {which} changes between x and x{t:+g}u")
    ju, err = {}, {}
    for p in outputs:
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: caught as non-finite just below
            d = [(evals[h].outputs[p.name] - evals[-h].outputs[p.name]) / np.longdouble(2 * h) for h in steps]
            r1 = (4 * d[1] - d[0]) / 3
            r2 = (4 * d[2] - d[1]) / 3
            ju[p.name] = (16 * r2 - r1) / 15
            err[p.name] = np.abs(r2 - r1)
        if not (np.all(np.isfinite(ju[p.name])) and np.all(np.isfinite(err[p.name]))):
            raise _Excluded("non-finite", f"the reference's derivative of {p.name} is not finite")
    return ju, err


def _unconverged(name: str, m: np.ndarray, out: tuple) -> float:
    """How far the decomposition ``out`` of ``m`` (svd3: U, sigma, V; eig3: Q, d) rebuilds it: the largest error
    over the largest entry of ``m``."""
    parts = [np.asarray(x, dtype=np.float64) for x in out]
    rebuilt = (parts[0] @ np.diag(parts[1]) @ parts[2].T if name == "svd3"
               else parts[0] @ np.diag(parts[1]) @ parts[0].T)
    return float(np.max(np.abs(rebuilt - m))) / max(float(np.max(np.abs(m))), 1e-30)


def _first_difference(a: list, b: list) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"#{i}"
    return f"#{min(len(a), len(b))} (path length)"


# ---- the Warp side -----------------------------------------------------------------------------------------------


def warp_gradients(kernel, k, values: dict, outputs, v: dict, module=None) -> dict[str, np.ndarray]:
    """Warp's Jᵀv: the kernel launched under a tape, ``v`` seeded into the float outputs' adjoints.
    ``module`` (the built Python module) holds the struct classes of struct arguments."""
    args, seeds, position = [], {}, {}
    floats = {p.name for p in k.params if p.kind == "array" and is_float(p.dtype)}
    for i, p in enumerate(k.params):
        position[p.name] = i
        if getattr(p, "struct", None) is not None:  # built as Warp struct values, never differentiated
            build = W.struct_array if p.kind == "array" else W.struct_instance
            args.append((build(module, p.dtype, values[p.name]), p.dtype, None, False))
        elif p.kind == "array":
            t = BY_NAME[p.dtype]
            data = np.asarray(values[p.name])
            shape = tuple(getattr(p, "shape", ()) or ()) or data.shape[: data.ndim - len(getattr(t, "shape", ()))]
            args.append((data, p.dtype, shape, p.name in floats))
        else:
            args.append((values[p.name], p.dtype, None, False))
    for p in outputs:
        seeds[position[p.name]] = v[p.name]
    _, grads = W.launch_cpu_backward(kernel, k.dim, args, seeds)
    return {p.name: grads[position[p.name]] for p in k.params if position[p.name] in grads and p.role == "input"}


# ---- the check -----------------------------------------------------------------------------------------------------


def _direction(rng, shape) -> np.ndarray:
    d = np.round(rng.uniform(-2.0, 2.0, size=shape) * DIRECTION_GRID) / DIRECTION_GRID
    d[d == 0] = 1.0 / DIRECTION_GRID
    return d


def check_gradient(k, kernel, values: dict, seed: int, module=None) -> GradientResult:
    """Check Warp's backward pass of compiled ``kernel`` (a :class:`GeneratedKernel` ``k``) at ``values``."""
    inputs, outputs = candidates(k.params)
    if not outputs:
        return GradientResult(NOT_DIFFERENTIABLE, "no float output array")
    if not inputs:
        return GradientResult(NOT_DIFFERENTIABLE, "no float input array")
    analysis = analyse(k.kernel_source, k.params)
    drop_in, drop_out, excluded_key = narrow(analysis, inputs, outputs)
    if excluded_key is not None:
        statement = analysis.kernel_wide.get(excluded_key) or next(
            o.statement for o in analysis.offences if o.key == excluded_key)
        return GradientResult(f"excluded:{excluded_key}", f"{LIMITS[excluded_key].summary}: `{statement}`")
    checked_in, checked_out = {p.name for p in inputs} - drop_in, analysis.units(p.name for p in outputs) - drop_out
    precision = analysis.precision(checked_in, checked_out)
    half = set()
    if precision == 16 and analysis.half_composite(checked_in, checked_out):
        # only the outputs a float16 product reaches: a zero seed there makes its adjoint exactly zero
        half = {u for u in checked_out if analysis.half_composite(checked_in, {u})}
        if half == checked_out:
            return GradientResult(f"excluded:{HALF_COMPOSITE_KEY}", LIMITS[HALF_COMPOSITE_KEY].summary)
        drop_out, checked_out = drop_out | half, checked_out - half
        precision = analysis.precision(checked_in, checked_out)
    try:  # the exact evaluation at x (no direction needed): reused by the derivative below
        base = _evaluate(k, values, inputs, {p.name: 0.0 for p in inputs}, 0.0, outputs)
    except Exception:
        base = None  # the derivative below meets the same failure and says what it is
    departures = None if base is None else rounding_departures(k, values, checked_out, base.outputs)
    over = {u for u in checked_out if (departures or {}).get(u, 0.0) > DEPARTURES[precision]}
    if over:
        # the whole kernel: a 30-minute fuzz found a unit below the bound whose gradient the departing units'
        # conditioning still moved (5.5e-5 of the scale against the float32 rtol 2e-5)
        name = max(sorted(over), key=departures.get)  # sorted: equal departures name the same unit every run
        return GradientResult(f"excluded:{ILL_CONDITIONED_KEY}", f"{LIMITS[ILL_CONDITIONED_KEY].summary} ({name}: "
                              f"{departures[name]:.3g} of its scale, float{precision} bound "
                              f"{DEPARTURES[precision]:g})")
    rng = np.random.default_rng(seed)
    u = {p.name: _direction(rng, np.shape(values[p.name])) for p in inputs}
    v = {p.name: _direction(rng, np.shape(values[p.name])) for p in outputs}
    for name in drop_in:
        u[name] = np.zeros_like(u[name])
    for unit in drop_out:
        _leave_out(v, unit, k.dim)
    narrowed = "" if not (drop_in or drop_out) else "; left out by " + ", ".join(sorted(
        {o.key for o in analysis.offences} | ({HALF_COMPOSITE_KEY} if half else set()))) + ": " + ", ".join(
        [f"{n} (input)" for n in sorted(drop_in)] + [f"{n} (output)" for n in sorted(drop_out)])
    result = GradientResult(CHECKED, u=u, v=v)
    result.narrowed = narrowed
    try:
        try:
            ju, err = directional_derivative(k, values, inputs, outputs, u, STEP, base)
        except _Excluded as first:
            if first.key != "non-smooth":
                raise
            result.step = SMALL_STEP
            ju, err = directional_derivative(k, values, inputs, outputs, u, SMALL_STEP, base)
    except _Excluded as excluded:
        result.status, result.note = f"excluded:{excluded.key}", excluded.note
        return result
    # zero where seeded: an output unit left out (a zero seed) may have any derivative
    reference_zero = all(not np.any(np.asarray(v[p.name]) * ju[p.name]) and not np.any(np.asarray(v[p.name]) * err[p.name])
                         for p in outputs)
    grads = warp_gradients(kernel, k, values, outputs, v, module)
    result.warp_grads = grads
    g = {p.name: np.asarray(grads[p.name], dtype=np.float64) for p in inputs}
    if not all(np.all(np.isfinite(g[n])) for n in g):
        result.status, result.note = "excluded:non-finite", "Warp's gradient is not finite"
        return result
    lhs = float(sum(np.sum(np.asarray(v[p.name], dtype=np.longdouble) * ju[p.name]) for p in outputs))
    rhs = _u_dot(u, g, inputs)
    scale = float(sum(np.sum(np.abs(v[p.name] * ju[p.name])) for p in outputs)) + float(
        sum(np.sum(np.abs(u[p.name] * g[p.name])) for p in inputs))
    error = float(sum(np.sum(np.abs(v[p.name]) * err[p.name]) for p in outputs))
    if reference_zero and rhs == 0.0 and scale == 0.0:
        if narrowed:  # what is left is constant; the derivative lies in what the limit left out
            key = analysis.offences[0].key if analysis.offences else HALF_COMPOSITE_KEY
            result.status, result.note = f"excluded:{key}", f"{LIMITS[key].summary}{narrowed}"
        else:
            result.status, result.note = NOT_DIFFERENTIABLE, "the float outputs do not depend on the float inputs"
        return result
    if error > CONVERGENCE * max(scale, 1e-300) and error > 1e-12:
        result.status, result.note = "excluded:non-smooth", f"central differences do not converge (error {error:.3g})"
        return result
    result.precision = precision
    # float16 with an exact derivative that is zero up to the reference's own float64 rounding (length(normalize(x))
    # of a vec2h: 4e-11, where Warp's half-precision adjoint terms cancel to 1e-3; a 30-minute fuzz)
    stationary = reference_zero or abs(lhs) <= 1e-9 * float(sum(np.sum(np.abs(v[p.name])) for p in outputs)) * float(
        sum(np.sum(np.abs(u[p.name])) for p in inputs))
    if result.precision == 16 and stationary and rhs != 0.0:
        result.status = f"excluded:{HALF_STATIONARY_KEY}"
        result.note = f"{LIMITS[HALF_STATIONARY_KEY].summary} (Warp: u·(Jᵀv) = {rhs!r}){narrowed}"
        return result
    rtol = RTOLS[result.precision]
    # the central differences resolve no derivative below the reference's own rounding of the outputs over the step
    # (an attention's softmax saturated at 1 - 1e-31 moves its float64 outputs by 1e-34 along u: the long-double
    # differences are exactly 0.0 with a Richardson error of 0, while Warp's analytic adjoint gives the true -9e-32;
    # a 30-minute fuzz false alarm of generator 0.5.4): 8 rounding units of each output in the reference's precision
    # (float64 for float16/32 outputs, long double for float64 ones) over the step bound what the Richardson
    # combination of the three steps can lose (6.6 of them)
    resolution = 0.0 if base is None else sum(_resolution(v[p.name], base.outputs[p.name], p.dtype) for p in outputs) / result.step
    tolerance = 10 * error + rtol * scale + resolution
    result.lhs, result.rhs, result.tolerance = lhs, rhs, tolerance
    if not (math.isfinite(lhs) and math.isfinite(rhs)):
        result.status, result.note = "excluded:non-finite", "the dot products are not finite"
        return result
    if abs(lhs - rhs) > tolerance:
        rescaled = [] if result.precision == 64 else _warp_rescaled(kernel, k, values, inputs, outputs, u, v, module)
        if len(rescaled) == len(NOISE_FACTORS) and not _affine_in_seeds(rhs, rescaled, NOISE_SHARE * abs(lhs - rhs)):
            result.status = f"excluded:{ADJOINT_ROUNDING_KEY}"
            result.note = (f"{LIMITS[ADJOINT_ROUNDING_KEY].summary} (reference v·Ju = {lhs:.6g}; Warp's u·Jᵀv = "
                           f"{rhs:.6g}, u·Jᵀ(cv)/c = {', '.join(f'{e:.6g}' for e in rescaled)} for c = "
                           f"{', '.join(f'{c:g}' for c in NOISE_FACTORS)}; allowed deviation {tolerance:.3g}){narrowed}")
            return result
        result.status = "mismatch"
        result.note = (f"v·(J u) = {lhs!r} from the reference, u·(Jᵀv) = {rhs!r} from Warp's backward pass "
                       f"(allowed deviation {tolerance:.3g})")
    else:
        result.note = f"|v·Ju - u·Jᵀv| = {abs(lhs - rhs):.3g} <= {tolerance:.3g}"
    result.note += (f" (float{result.precision} path, rtol {rtol:g}, deviation {abs(lhs - rhs) / max(scale, 1e-300):.3g}"
                    f" of the scale){narrowed}")
    return result


def _resolution(v, values, dtype: str) -> float:
    """``8 eps Σ |v| |F|`` over the finite elements of one output (``eps`` of the precision the reference
    evaluates it in)."""
    eps = float(np.finfo(np.longdouble if BY_NAME[dtype].numpy_dtype == np.float64 else np.float64).eps)
    f = np.abs(np.asarray(values, dtype=np.float64))
    return 8 * eps * float(np.sum(np.abs(np.asarray(v, dtype=np.float64)) * np.where(np.isfinite(f), f, 0.0)))


def _u_dot(u: dict, grads: dict, inputs) -> float:
    """``u·(Jᵀv)``: the direction dotted with Warp's input gradients."""
    return float(sum(np.sum(u[p.name] * np.asarray(grads[p.name], dtype=np.float64)) for p in inputs))


def _affine_in_seeds(rhs: float, rescaled: list[float], slack: float) -> bool:
    """Whether Warp's ``r(c) = u·Jᵀ(c v) / c`` (``rhs`` at c = 1, ``rescaled`` at :data:`NOISE_FACTORS`) is
    ``A + B / c`` within ``slack``: fitted at c = 1 and the first factor, checked at the others."""
    c1 = NOISE_FACTORS[0]
    b = (rhs - rescaled[0]) / (1.0 - 1.0 / c1)
    a = rhs - b
    return all(abs(r - (a + b / c)) <= slack for c, r in zip(NOISE_FACTORS[1:], rescaled[1:]))


def _warp_rescaled(kernel, k, values: dict, inputs, outputs, u: dict, v: dict, module) -> list[float]:
    """Warp's ``u·Jᵀ(c v) / c`` for each factor ``c`` of :data:`NOISE_FACTORS` (the seeds stay exact: ``v`` lies
    on a 1/8 grid in [-2, 2]). Reverse mode is linear in the seeds, and a wrong adjoint stays linear (a wrong
    sign, an overwrite instead of an accumulation, a scaled term) or becomes affine (a term that forgets to
    multiply by the incoming adjoint, a leaked constant): ``r(c) = A + B / c`` up to the rounding of the terms
    (1e-7 of them in float32). The rounding of large intermediate adjoints that cancel follows no such law:
    it moves by whole units of their last place from one factor to the next."""
    found = []
    for c in NOISE_FACTORS:
        grads = warp_gradients(kernel, k, values, outputs, {name: c * np.asarray(s) for name, s in v.items()}, module)
        rhs = _u_dot(u, grads, inputs) / c
        if math.isfinite(rhs):
            found.append(rhs)
    return found


def expected_gradients(k, values: dict, result: GradientResult, max_elements: int = 512) -> dict[str, np.ndarray]:
    """The reference's Jᵀv per input element (for a report): central differences along each input element,
    Richardson-extrapolated once, with ``v`` of ``result``. Elements beyond ``max_elements``, and inputs a
    limit left out of ``u``, are NaN."""
    inputs, outputs = candidates(k.params)
    h = result.step
    expected, budget = {}, max_elements
    for p in inputs:
        base = np.asarray(values[p.name])
        grad = np.full(base.shape, np.nan)
        if not np.any(result.u.get(p.name, 1.0)):  # left out of u by a limit: not compared (NaN)
            expected[p.name] = grad
            continue
        for idx in np.ndindex(*base.shape):
            if budget <= 0:
                break
            budget -= 1
            e = {q.name: np.zeros(np.shape(values[q.name])) for q in inputs}
            e[p.name][idx] = 1.0
            try:
                s = []
                for step in (h, h / 2):
                    plus = _evaluate(k, values, inputs, e, step, outputs)
                    minus = _evaluate(k, values, inputs, e, -step, outputs)
                    s.append(sum(np.sum(np.asarray(result.v[q.name], dtype=np.longdouble)
                                        * (plus.outputs[q.name] - minus.outputs[q.name])) for q in outputs)
                             / np.longdouble(2 * step))
                grad[idx] = float((4 * s[1] - s[0]) / 3)
            except UndefinedBehaviour:
                pass
        expected[p.name] = grad
    return expected


class LazyGradients(Mapping):
    """``{"<input>.grad": expected gradient}`` computed on first use by :func:`expected_gradients`.

    Deriving each element costs four reference evaluations, so a failure's expected gradients are derived
    only when a report is written, not on every shrinking step. Pickling (a failure sent from a worker
    process) computes them and sends a plain dict.
    """

    def __init__(self, k, values: dict, result: GradientResult, dtypes: dict):
        self._args = (k, values, result)
        self._dtypes = dtypes  # input name -> numpy dtype of Warp's gradient
        self._value: dict | None = None

    def _get(self) -> dict:
        if self._value is None:
            expected = expected_gradients(*self._args)
            self._value = {f"{n}.grad": np.asarray(e).astype(self._dtypes[n]) for n, e in expected.items()}
        return self._value

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __reduce__(self):
        return (dict, (dict(self._get()),))
