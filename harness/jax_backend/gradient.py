"""The exact gradient oracle: Warp's backward pass against JAX's automatic derivative of the same kernel.

The finite-difference check (:mod:`harness.oracle.gradient`) compares one number per kernel, ``v·(J u)`` from central
differences of the reference against ``u·(Jᵀv)`` from Warp, within a tolerance that must also absorb the
differencing error. For a kernel that check *checked* (its decisions stay put within the step along ``u``, its
forward pass is well conditioned, the limits of :mod:`harness.oracle.gradient_limits` are left out by the same zero
seeds and directions) and that :mod:`harness.jax_backend.render` expresses, :func:`check` asks JAX for the derivative
of the kernel's JAX program at the same inputs, in the program's own dtypes (the same as Warp's):

* **reverse mode** (``jax.vjp`` with the seeds ``v`` Warp's backward got): JAX's ``Jᵀv`` for every float input
  element, compared **element by element** with Warp's ``.grad``: the largest difference over the inputs the
  check covers (those ``u`` does not leave out), each relative to ``|JAX| + FLOOR × max |JAX|`` (the element's own
  size, floored at a tenth of the largest: an element that cancels to almost nothing keeps the rounding of its
  terms), must stay within :data:`RTOLS` of the derivative path's precision. A fault confined to some elements, or below the
  dot-product test's tolerance, shows here;
* **forward mode** (``jax.jvp`` along ``u``) for a program with a ``lax.while_loop``, through which JAX has no
  reverse mode: ``v·(J u)`` exact, against Warp's ``u·(Jᵀv)``, the dot-product test without differencing error.

Before the derivative is trusted the program's outputs at these inputs must pass the reference comparison the
Warp outputs pass (``harness.oracle.compare``): a JAX program that computes something else is never evidence against
Warp. JAX's derivative that is not finite (a masked branch JAX evaluates and Warp skips, e.g. ``sqrt`` of a
negative value in the branch not taken: its zero cotangent times an infinite derivative) leaves the kernel
unchecked by this oracle. Statuses: ``checked``, ``mismatch`` (a ``gradient-mismatch`` report whose expected
gradients are JAX's), ``unchecked`` (the finite-difference check did not check it), ``excluded:<why>``.

The tolerances (:data:`RTOLS`) are measured, not assumed: ``benchmarks/jax_gradient.py`` prints the distribution
of the deviation on unpatched Warp; see benchmarks/RESULTS.md, *The exact gradient oracle*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: the deviation allowed per float width of the derivative path (the width harness.oracle.gradient chose its tolerance
#: by): the largest |Warp - JAX| over the elements, each relative to |JAX| + FLOOR × (the largest exact element)
#: (measured on unpatched Warp, benchmarks/jax_gradient.py seeds 100/200/300, 82 float32 kernels: max 1.5e-6 at this
#: floor, 3.3e-6 at a floor of 0.01; 31 float16 kernels: max 1.2e-3. JAX and Warp round differently: XLA's own
#: transcendental functions, and its CPU backend contracts a*b - c*d into a fused multiply-add)
RTOLS = {16: 1e-2, 32: 2e-5, 64: 1e-10}
FLOOR = 0.1
#: floors the deviation is also measured with (ExactGradient.profile, benchmarks/jax_gradient.py)
PROFILE_FLOORS = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 0.0)

CHECKED = "checked"
MISMATCH = "mismatch"
UNCHECKED = "unchecked"


@dataclass
class ExactGradient:
    status: str  # checked | mismatch | unchecked | excluded:<why>
    mode: str = ""  # vjp | jvp
    deviation: float = 0.0  # the measured deviation (relative, see the module doc)
    tolerance: float = 0.0
    note: str = ""
    expected: dict = field(default_factory=dict)  # vjp: input name -> JAX's Jᵀv (float64)
    precision: int = 0
    # vjp: the deviation measured with each element floor of PROFILE_FLOORS (how the tolerance was chosen)
    profile: dict = field(default_factory=dict)

    @property
    def checked(self) -> bool:
        return self.status in (CHECKED, MISMATCH)


def covered_inputs(result) -> list[str]:
    """The float inputs the finite-difference check's direction covers (a limit zeroes an input's whole ``u``)."""
    return [n for n, d in result.u.items() if np.any(np.asarray(d))]


def compare(result, exact: dict) -> ExactGradient:
    """Compare Warp's gradient in ``result`` (a checked :class:`harness.oracle.gradient.GradientResult`) with ``exact``
    (:func:`harness.jax_backend.oracle.exact_gradient`'s answer)."""
    mode, precision = exact.get("mode", ""), result.precision
    rtol = RTOLS.get(precision)
    if mode not in ("vjp", "jvp"):
        return ExactGradient(f"excluded:{mode or 'jax-error'}", note=exact.get("reason", ""))
    if rtol is None:
        return ExactGradient("excluded:precision", mode, note=f"no tolerance for a float{precision} path")
    if mode == "jvp":
        ju = {n: np.asarray(d, dtype=np.float64) for n, d in exact["ju"].items()}
        if not all(np.all(np.isfinite(d)) for d in ju.values()):
            return ExactGradient("excluded:jax-non-finite", mode, note="JAX's J u is not finite")
        lhs = float(sum(np.sum(np.asarray(result.v[n], dtype=np.float64) * d) for n, d in ju.items()))
        scale = float(sum(np.sum(np.abs(np.asarray(result.v[n]) * d)) for n, d in ju.items())) + float(
            sum(np.sum(np.abs(np.asarray(result.u[n]) * np.asarray(g, dtype=np.float64)))
                for n, g in result.warp_grads.items() if n in result.u))
        rhs = result.rhs
        deviation = abs(lhs - rhs) / scale if scale > 0 else (0.0 if lhs == rhs else float("inf"))
        what = f"v·(J u) = {lhs!r} from jax.jvp, u·(Jᵀv) = {rhs!r} from Warp's backward pass"
        expected: dict = {}
        profile: dict = {}
    else:
        names = covered_inputs(result)
        g_jax = {n: np.asarray(exact["grads"][n], dtype=np.float64) for n in names}
        g_warp = {n: np.asarray(result.warp_grads[n], dtype=np.float64) for n in names}
        for n in names:
            if g_jax[n].shape != g_warp[n].shape:
                return ExactGradient("excluded:shape", mode, note=f"{n}: JAX {g_jax[n].shape}, Warp {g_warp[n].shape}")
        if not all(np.all(np.isfinite(g)) for g in g_jax.values()):
            return ExactGradient("excluded:jax-non-finite", mode, note="JAX's Jᵀv is not finite")
        scale = max((float(np.max(np.abs(g), initial=0.0)) for g in g_jax.values()), default=0.0)
        if scale == 0.0:
            scale = max((float(np.max(np.abs(g), initial=0.0)) for g in g_warp.values()), default=0.0)
        profile = {f: _element_deviation(g_warp, g_jax, scale, f)[0] for f in PROFILE_FLOORS}
        deviation, worst = _element_deviation(g_warp, g_jax, scale, FLOOR)
        if worst is not None:
            n, i = worst
            where = "".join(f"[{int(j)}]" for j in i)
            what = (f"largest element difference at {n}.grad{where}: Warp {float(g_warp[n][i])!r}, "
                    f"jax.vjp {float(g_jax[n][i])!r}")
        else:
            what = "every gradient element is zero"
        expected = g_jax
    status = MISMATCH if deviation > rtol else CHECKED
    relation = ">" if status == MISMATCH else "<="
    note = f"{what}; deviation {deviation:.3g} {relation} rtol {rtol:g} (float{precision} path, {mode})"
    return ExactGradient(status, mode, deviation, rtol, note, expected, precision, profile)


def arbitrate(verdict: ExactGradient, warp_grads: dict, truth: dict) -> ExactGradient:
    """Decide a reverse-mode mismatch with a third, independent derivative: ``truth`` (input name -> the reference's
    per-element central differences in high precision, :func:`harness.oracle.gradient.expected_gradients`; NaN where it
    has none). JAX computes in the kernel's own float width too, and along a long chain of transcendental functions its
    rounding can move an element as far as a fault would (a 5-minute fuzz: 1.6e-4 on a float64 input reaching float32
    ``log``/``sinh``/``quat_to_rpy``/``quat_to_axis_angle``). The mismatch stands only when JAX agrees with the truth
    within the tolerance and Warp does not; otherwise the float32 derivative is ill-conditioned here and the kernel is
    ``excluded:jax-rounding``."""
    names = [n for n in verdict.expected if n in truth]
    known = {n: np.isfinite(np.asarray(truth[n], dtype=np.float64)) for n in names}
    t = {n: np.where(known[n], np.asarray(truth[n], dtype=np.float64), 0.0) for n in names}
    j = {n: np.where(known[n], np.asarray(verdict.expected[n], dtype=np.float64), 0.0) for n in names}
    w = {n: np.where(known[n], np.asarray(warp_grads[n], dtype=np.float64), 0.0) for n in names}
    scale = max((float(np.max(np.abs(g), initial=0.0)) for g in t.values()), default=0.0)
    if not names or not any(np.any(k) for k in known.values()) or scale == 0.0:
        verdict.status, verdict.note = "excluded:jax-rounding", verdict.note + "; no reference derivative to decide"
        return verdict
    jax_off, _ = _element_deviation(j, t, scale, FLOOR)
    warp_off, _ = _element_deviation(w, t, scale, FLOOR)
    decided = (f"; against the reference's central differences: Warp {warp_off:.3g}, JAX {jax_off:.3g} (rtol "
               f"{verdict.tolerance:g})")
    if not (jax_off <= verdict.tolerance < warp_off):
        verdict.status = "excluded:jax-rounding"
    verdict.note += decided
    return verdict


def _element_deviation(g_warp: dict, g_jax: dict, scale: float, floor: float) -> tuple[float, tuple | None]:
    """max over elements of |Warp - JAX| / (|JAX| + floor × scale), and where (input name, index)."""
    deviation, worst = 0.0, None
    for n, exact in g_jax.items():
        diff = np.abs(g_warp[n] - exact)
        if not diff.size:
            continue
        denominator = np.abs(exact) + floor * scale
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(diff == 0, 0.0, diff / denominator)
        i = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        if worst is None or ratio[i] > deviation:
            deviation, worst = float(ratio[i]), (n, i)
    return deviation, worst
