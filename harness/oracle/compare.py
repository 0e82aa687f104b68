"""Compare Warp's outputs with the references: ulp-aware, sensitivity-scaled, screening ill-conditioned inputs.

For every output element we have Warp's value ``w``, the float32 reference ``r32`` (same precision as Warp),
the float64 reference ``r64``, and float32 references whose every float operation was perturbed by up to
one ulp (``perturbed``). Then:

* ``cond = |r32 - r64|`` measures how much float32 rounding moves the result at all;
* ``spread = max |p - r32|`` over the perturbed runs measures how much *last-bit differences* (another
  libm, another operation order) move it - exactly the freedom Warp has relative to numpy.

An element is **ill-conditioned** (screened, never reported) when ``cond`` or ``spread`` exceeds
``ILL_REL`` of its magnitude, when the references disagree about NaN/inf, when an int output differs
between references, or when the run touched a discontinuity within rounding distance (``fragile``).
Otherwise Warp must satisfy ``|w - r32| <= SENSITIVITY * (cond + spread) + ULPS * ulp(r32)``, where a
vector, matrix or quaternion component takes its composite's largest ``cond + spread`` and the ulp of its
largest component (a normwise bound: rounding moves a composite as a whole), and a float64
element whose ``cond`` shows float32 arithmetic reached it (above ``F32_REACH`` of its magnitude) takes the
float32 ulp on top; if it does
not, that is a **mismatch** - a Warp bug candidate. Ints and bools compare exactly. Screening is per element:
a mismatch in a well-conditioned element is reported even when another element (another output, e.g. a sink
holding an intermediate value) is ill-conditioned; without one, any ill-conditioned element screens the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ILL_REL = 1e-3  # relative sensitivity above which an element is screened as ill-conditioned (float32/64)
ILL_EPS = 30.0  # ... or above this many machine epsilons of the output type (float16: 0.03)
SENSITIVITY = 8.0  # how many times the measured sensitivity Warp may deviate
ULPS = 4.0  # plus this many ulps of the result's type
F32_REACH = 1e-12  # relative departure of a float64 element from the exact one that only float32 rounding explains


@dataclass
class Comparison:
    status: str  # "match" | "mismatch" | "ill-conditioned"
    outputs_checked: int = 0
    max_error_ulp: float = 0.0
    tolerance: dict[str, np.ndarray] = field(default_factory=dict)  # per output: allowed |w - r32|
    mismatches: list[tuple[str, int, float, float, float]] = field(default_factory=list)  # name, idx, expected, actual, tol
    reason: str = ""


def ulp(x: np.ndarray, dtype=np.float32) -> np.ndarray:
    """The ulp of ``dtype`` at |x| (0 for non-finite x)."""
    a = np.abs(np.asarray(x, dtype=np.float64))
    a = np.where(np.isfinite(a), np.minimum(a, float(np.finfo(dtype).max)), 0.0).astype(dtype)
    return np.spacing(a).astype(np.float64)



def exact_match(warp: dict[str, np.ndarray], r32: dict[str, np.ndarray]) -> Comparison | None:
    """A ``match`` when every Warp output equals the float32 reference exactly (NaN where it is NaN, the same
    infinities; ``-0.0 == 0.0`` as in :func:`compare_outputs`), else ``None``.

    Conditioning only decides how far Warp may *deviate* from the float32 reference before that counts as a
    mismatch rather than rounding; an output with no deviation cannot be a false alarm however
    ill-conditioned it is. So the float64 and perturbed references, which only measure conditioning, are
    not needed for such a kernel (:func:`harness.pipeline._check_kernel` runs them only when this says no).
    """
    checked = 0
    for name, w in warp.items():
        w, e = np.asarray(w), np.asarray(r32[name])
        if w.shape != e.shape:
            return None
        if w.dtype.kind == "f" or e.dtype.kind == "f":
            if not np.array_equal(w.astype(np.float64), e.astype(np.float64), equal_nan=True):
                return None
        elif [int(v) for v in w.reshape(-1)] != [int(v) for v in e.reshape(-1)]:
            return None
        checked += int(w.size)
    return Comparison("match", outputs_checked=checked, max_error_ulp=0.0)


def compare_outputs(
    warp: dict[str, np.ndarray],
    r32: dict[str, np.ndarray],
    r64: dict[str, np.ndarray],
    perturbed: list[dict[str, np.ndarray]],
    *,
    fragile: bool = False,
    element_ndim: dict[str, int] | None = None,
) -> Comparison:
    """``element_ndim``: output name -> how many trailing axes are one element's components (1 for a vector
    array, 2 for a matrix array; default 0): a component's conditioning is judged against its element's
    largest component, as Warp's rounding of it is (see ``harness.oracle.reference.Runtime._perturb``)."""
    if fragile:
        return Comparison("ill-conditioned", reason="a discontinuity was evaluated within rounding distance")
    result = Comparison("match")
    ill_reason = ""  # the first ill-conditioned output element (screened unless a well-conditioned one mismatches)
    for name, w in warp.items():
        w = np.asarray(w)
        e32, e64 = np.asarray(r32[name]), np.asarray(r64[name])
        ps = [np.asarray(p[name]) for p in perturbed]
        if w.dtype.kind in "iub":
            exact = [int(v) for v in e32.reshape(-1)]
            if exact != [int(v) for v in e64.reshape(-1)] or any(
                [int(v) for v in p.reshape(-1)] != exact for p in ps
            ):
                ill_reason = ill_reason or f"{name}: int result depends on float rounding"
                continue  # not compared; the other outputs still are
            got = [int(v) for v in w.reshape(-1)]
            bad = np.array([i for i, (g, x) in enumerate(zip(got, exact)) if g != x], dtype=np.int64)
            tol = np.zeros(w.shape)
            expected, actual = np.array(exact, dtype=object), np.array(got, dtype=object)
        else:
            tol, ill = float_tolerance(e32, e64, ps, w.dtype.type, (element_ndim or {}).get(name, 0))
            if ill.any():  # those elements are not compared; the well-conditioned ones still are
                i = int(np.flatnonzero(ill.reshape(-1))[0])
                ill_reason = ill_reason or f"{name}[{i}] is ill-conditioned"
            w64, x32 = w.astype(np.float64), e32.astype(np.float64)
            both_nan = np.isnan(w64) & np.isnan(x32)
            same_inf = np.isinf(x32) & (w64 == x32)
            with np.errstate(invalid="ignore"):  # inf - inf is NaN: masked by same_inf, or an error below
                err = np.where(both_nan | same_inf, 0.0, np.abs(w64 - x32))
            err = np.where(np.isnan(err), np.inf, err)
            bad = np.flatnonzero(((err > tol) & ~ill).reshape(-1))
            err = np.where(ill, 0.0, err)
            with np.errstate(over="ignore"):  # a huge error over a subnormal ulp: inf ulps, as meant
                ulps = err / np.maximum(ulp(x32, w.dtype.type), np.finfo(np.float64).tiny)
            result.max_error_ulp = max(result.max_error_ulp, float(np.max(ulps, initial=0.0)))
            expected, actual = x32.reshape(-1), w64.reshape(-1)
        result.tolerance[name] = tol
        result.outputs_checked += int(w.size)
        flat_tol = np.broadcast_to(tol, w.shape).reshape(-1)
        for i in bad[:8]:
            exp, act = expected[i], actual[i]
            exp, act = (exp, act) if isinstance(exp, int) else (float(exp), float(act))
            result.mismatches.append((name, int(i), exp, act, float(flat_tol[i])))
    if result.mismatches:
        name, i, exp, act, tol = result.mismatches[0]
        result.status = "mismatch"
        result.reason = f"{name} element {i}: expected {exp!r}, Warp gave {act!r} (allowed deviation {tol:.3g})"
    elif ill_reason:
        return Comparison("ill-conditioned", reason=ill_reason)
    return result


def float_tolerance(e32: np.ndarray, e64: np.ndarray, perturbed: list[np.ndarray],
                    dtype=np.float32, element_ndim: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(allowed |w - r32| per element, ill-conditioned mask), for outputs of float type ``dtype``; with
    ``element_ndim`` > 0 the last axes are one composite's components, and a component is ill-conditioned
    relative to the composite's largest component."""
    x32, x64 = e32.astype(np.float64), e64.astype(np.longdouble)
    finite = np.isfinite(x32) & np.isfinite(x64)
    special_agree = (np.isnan(x32) & np.isnan(x64)) | (np.isinf(x32) & (x32 == x64))
    ill = ~finite & ~special_agree
    with np.errstate(invalid="ignore", over="ignore"):
        cond = np.where(finite, np.abs(x32 - x64).astype(np.float64), 0.0)
        spread = np.zeros_like(x32)
        for p in perturbed:
            p64 = p.astype(np.float64)
            differs = ~((np.isnan(p64) & np.isnan(x32)) | (p64 == x32))
            ill |= differs & ~(np.isfinite(p64) & np.isfinite(x32))
            spread = np.maximum(spread, np.where(np.isfinite(p64) & np.isfinite(x32), np.abs(p64 - x32), 0.0))
        scale = np.abs(np.where(finite, x64, 0.0)).astype(np.float64)
        if 0 < element_ndim < scale.ndim:
            axes = tuple(range(scale.ndim - element_ndim, scale.ndim))
            scale = np.broadcast_to(np.max(scale, axis=axes, keepdims=True), scale.shape)
        scale = np.maximum(scale, 1e-30)
        rel = max(ILL_REL, ILL_EPS * float(np.finfo(dtype).eps))
        ill |= finite & ((cond > rel * scale) | (spread > rel * scale))
        # the ulp floor of a component is that of its composite's largest component, like its perturbation step
        # (harness.oracle.reference.Runtime._perturb): the 2 perturbed runs sample the deviation, and when one run's
        # output perturbation cancels what it propagated (an svd3 U component fed by eig3 results moved
        # 2e-7 = 1.7 such ulps in Warp while both runs stayed within 1e-8: a 15-minute fuzz false alarm),
        # only the floor is left
        at = scale if 0 < element_ndim < scale.ndim else x32
        # ... and so is the sensitivity: a composite's measured movement (cond + spread) bounds each of its
        # components (a normwise bound). Rounding moves a composite as a whole (an eigenvector basis rotates by a
        # few ulps); which component the 2 sampled runs happen to move is chance (eig3's Q of a matrix built from
        # Warp's float32 atan2, one ulp from ours: Warp's eig3 equals the port bit for bit on Warp's own matrix, Q
        # moved by up to 1e-6, but both runs left Q[1, 0] exactly in place and it was allowed 4.5e-7 against a
        # deviation of 6e-7: a 10-minute fuzz false alarm)
        sens = cond + spread
        if 0 < element_ndim < scale.ndim:
            sens = np.broadcast_to(np.max(sens, axis=axes, keepdims=True), sens.shape)
        tol = SENSITIVITY * sens + ULPS * ulp(at, dtype)
        if np.dtype(dtype) == np.float64:
            # a float64 element that float32 arithmetic reached (its float64 run departs from the exact one by more
            # than float64 rounding could: F32_REACH of its magnitude) keeps the float32 ulp floor; cond alone can
            # be far below the last-bit freedom of that float32 value (x4 = cbrt(tanh(s1)) * (frac(s1) * tan(s0))
            # stored in a mat44d: cond 0.1 float32 ulp, Warp one ulp away, allowed 0.76: a 10-minute fuzz false alarm)
            tol = tol + np.where(cond > F32_REACH * scale, ULPS * ulp(at, np.float32), 0.0)
    return tol, ill
