"""The exact gradient oracle (harness.jax_backend.gradient): Warp's gradient against JAX's derivative of the kernel.

The comparison itself (element by element in reverse mode, the dot product in forward mode, the refusals) is tested
on hand-made gradients; end to end, a kernel's Warp gradient must agree with JAX's, and a wrong gradient that the
finite-difference dot-product test lets through (one element 1e-4 off among 16) must be reported by the exact check
as a ``gradient-mismatch`` whose expected gradients are JAX's. Skipped without the ``[jax]`` extra.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

from harness import pipeline  # noqa: E402
from harness.warp_side import warp_adapter as W  # noqa: E402
from harness.oracle.gradient import CHECKED, GradientResult  # noqa: E402
from harness.jax_backend.gradient import FLOOR, MISMATCH, RTOLS, arbitrate, compare  # noqa: E402
from test_jax import A, B, OUT, _kernel, run_without_jax  # noqa: E402


def _result(grads: dict, precision: int = 32, rhs: float = 0.0) -> GradientResult:
    u = {n: np.full(np.shape(g), 0.5) for n, g in grads.items()}
    return GradientResult(CHECKED, u=u, v={"out": np.ones(4)}, warp_grads=grads, precision=precision, rhs=rhs)


def test_equal_gradients_are_checked_and_one_wrong_element_is_a_mismatch():
    exact = {"mode": "vjp", "grads": {"a": np.array([1.0, -2.0, 3.0, 0.5])}}
    ok = compare(_result({"a": np.array([1.0, -2.0, 3.0, 0.5], dtype=np.float32)}), exact)
    assert ok.status == CHECKED and ok.deviation == 0.0 and ok.mode == "vjp"
    # 1e-4 relative in one element: 3e-4 / (3 + FLOOR × 3) > the float32 tolerance
    wrong = compare(_result({"a": np.array([1.0, -2.0, 3.0003, 0.5])}), exact)
    assert wrong.status == MISMATCH and wrong.deviation == pytest.approx(1e-4 / (1 + FLOOR), rel=1e-3)
    # ... and in a small element: relative to the element, with FLOOR of the largest as its floor
    small = compare(_result({"a": np.array([1.0, -2.0, 3.0, 0.5 * (1 + 1e-4)])}), exact)
    assert small.status == MISMATCH and small.deviation == pytest.approx(5e-5 / (0.5 + FLOOR * 3), rel=1e-3)
    # ... an element far below the largest is judged against FLOOR of the largest
    tiny = compare(_result({"a": np.array([1.0, -2.0, 3.0, 1e-3 * (1 + 1e-3)])}), {"mode": "vjp", "grads": {
        "a": np.array([1.0, -2.0, 3.0, 1e-3])}})
    assert tiny.status == CHECKED and tiny.deviation == pytest.approx(1e-6 / (1e-3 + FLOOR * 3), rel=1e-3)
    assert "a.grad[3]" in small.note
    assert "a.grad[2]" in wrong.note and wrong.expected["a"][2] == 3.0
    # within float32 rounding of the scale: checked
    close = compare(_result({"a": np.array([1.0, -2.0, 3.0 + 3e-7, 0.5])}), exact)
    assert close.status == CHECKED and close.deviation <= RTOLS[32]
    # the float16 path has its own, wider tolerance
    assert compare(_result({"a": np.array([1.0, -2.0, 3.003, 0.5])}, precision=16), exact).status == CHECKED


def test_a_mismatch_stands_only_when_jax_agrees_with_the_reference_s_derivative_and_warp_does_not():
    exact = {"mode": "vjp", "grads": {"a": np.array([1.0, -2.0, 3.0, 0.5])}}
    warp = {"a": np.array([1.0, -2.0, 3.003, 0.5])}
    truth = {"a": np.array([1.0, -2.0, 3.0 + 1e-7, np.nan])}  # NaN: no central difference for that element
    assert arbitrate(compare(_result(warp), exact), warp, truth).status == MISMATCH
    # JAX's own float32 rounding as far from the truth as Warp: not evidence against Warp
    off = {"a": np.array([1.0, -2.0, 3.0015, 0.5])}
    verdict = arbitrate(compare(_result(warp), exact), warp, off)
    assert verdict.status == "excluded:jax-rounding" and "central differences" in verdict.note
    # no reference derivative at all: excluded
    none = {"a": np.full(4, np.nan)}
    assert arbitrate(compare(_result(warp), exact), warp, none).status == "excluded:jax-rounding"


def test_a_leaked_gradient_where_the_exact_one_is_zero_is_a_mismatch():
    exact = {"mode": "vjp", "grads": {"a": np.zeros(4)}}
    assert compare(_result({"a": np.zeros(4)}), exact).status == CHECKED
    assert compare(_result({"a": np.array([0.0, 0.0, 1e-3, 0.0])}), exact).status == MISMATCH


def test_inputs_a_limit_left_out_of_u_are_not_compared():
    exact = {"mode": "vjp", "grads": {"a": np.ones(4), "b": np.ones(4)}}
    r = _result({"a": np.ones(4), "b": np.full(4, 7.0)})
    r.u["b"] = np.zeros(4)  # harness.oracle.gradient zeroes the direction of an input a limit leaves out
    assert compare(r, exact).status == CHECKED


def test_forward_mode_compares_the_exact_directional_derivative():
    v = np.ones(4)
    ju = np.array([0.5, 1.0, -1.0, 2.0])  # v·(J u) = 2.5
    r = _result({"a": np.ones(4)}, rhs=2.5)
    r.v = {"out": v}
    assert compare(r, {"mode": "jvp", "ju": {"out": ju}}).status == CHECKED
    r.rhs = 2.5 * (1 + 1e-4)
    assert compare(r, {"mode": "jvp", "ju": {"out": ju}}).status == MISMATCH


def test_what_jax_could_not_differentiate_is_excluded_with_its_reason():
    r = _result({"a": np.ones(4)})
    assert compare(r, {"mode": "jax-crash", "reason": "died"}).status == "excluded:jax-crash"
    assert compare(r, {"mode": "inexpressible", "reason": "svd3"}).note == "svd3"
    bad = compare(r, {"mode": "vjp", "grads": {"a": np.array([1.0, np.inf, 0.0, 0.0])}})
    assert bad.status == "excluded:jax-non-finite"


SMOOTH = _kernel("""
    tid = wp.tid()
    x = a[tid]
    y = wp.exp(x * 0.5) * b[tid] + wp.sin(x)
    out[tid] = y * y
    """, (A, B, OUT))

# a while loop (the JAX program's lax.while_loop: forward mode); nothing it assigns lies on the derivative path
# (Warp's backward pass does not replay dynamic loops: j would read 0 there, harness.oracle.gradient_limits
# "dynamic-loop")
LOOP = _kernel("""
    tid = wp.tid()
    x = a[tid]
    j = int(0)
    while j < 3:
        j = j + 1
    out[tid] = wp.sin(x * b[tid]) + float(j)
    """, (A, B, OUT))


# gradient elements of one size (3 + cos x and 2): a 1e-4 error in one of 16 stays below the dot-product test's
# tolerance (2e-5 of a sum over all of them) and above the element-wise one
UNIFORM = _kernel("""
    tid = wp.tid()
    out[tid] = a[tid] * 3.0 + b[tid] * 2.0 + wp.sin(a[tid])
    """, (A, B, OUT))


def _verify(tmp_path, kernel):
    result = pipeline.verify_batch([kernel], tmp_path, pipeline.Options(nvrtc=False, jax_gradient=True))
    (r,) = result.results
    return r


@pytest.mark.parametrize("kernel, mode", [(SMOOTH, "vjp"), (LOOP, "jvp")], ids=["reverse", "forward"])
def test_warp_s_gradient_agrees_with_jax_s(tmp_path, kernel, mode):
    r = _verify(tmp_path, kernel)
    assert r.verdict == "accepted", r.reason
    assert r.record["verification"]["gradient_status"] == CHECKED
    assert r.exact.status == CHECKED, r.exact.note
    assert r.exact.mode == mode and r.exact.deviation <= RTOLS[32]


def test_a_wrong_gradient_element_the_dot_product_test_lets_through_is_reported(tmp_path, monkeypatch):
    real = W.launch_cpu_backward

    def one_element_off(kernel, dim, args, output_grads):
        forward, grads = real(kernel, dim, args, output_grads)
        first = min(grads)
        grads[first].reshape(-1)[3] *= 1 + 1e-4
        return forward, grads

    monkeypatch.setattr(W, "launch_cpu_backward", one_element_off)
    r = _verify(tmp_path, UNIFORM)
    assert r.verdict == "warp-bug", r.reason
    # the finite-difference check passed it (else its own gradient-mismatch would come first) ...
    assert r.reason.startswith("jax-gradient-mismatch:"), r.reason
    assert "a.grad[3]" in r.reason
    # ... and the report carries JAX's gradients as the expected ones
    f = r.failure
    assert f.kind == "gradient-mismatch" and set(f.expected) == {"a.grad", "b.grad"}
    assert "jax.vjp" in f.detail
    assert f.tolerance["rtol"] == RTOLS[32] and 0 < f.tolerance["atol"] < 1e-4
    # the reproducer judges by the check's own tolerance: on the real (unpatched) Warp it does not reproduce
    import subprocess
    import sys

    from harness.report import render_reproducer

    script = tmp_path / "repro.py"
    script.write_text(render_reproducer(f))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "not reproduced" in proc.stdout, (proc.stdout, proc.stderr)
    np.testing.assert_allclose(f.expected["a.grad"], f.actual["a.grad"], rtol=2e-4)
    a = next(arg.value for arg in f.args if arg.name == "a")
    np.testing.assert_allclose(f.expected["a.grad"], f.output_grads["out"] * (3 + np.cos(a)), rtol=1e-6)
    assert not np.array_equal(f.expected["a.grad"], f.actual["a.grad"])


def test_fuzz_jax_gradient_without_the_extra_exits_2_naming_it(tmp_path):
    proc = run_without_jax("fuzz", ["--budget-s", "5", "--jax-gradient", "--reports", str(tmp_path / "r")])
    assert proc.returncode == 2
    assert '.[jax]' in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_branch_quat_from_matrix_does_not_take_leaves_the_gradient_finite():
    """``_w_from_matrix`` computes all four branches of quat.h and selects one with ``jnp.where``: a branch not taken
    with a zero or negative argument under its square root gave an infinite/NaN derivative that ``where``'s
    gradient multiplied by zero (NaN), and 7 of 37 finite-difference-checked kernels of a 20 MB ``--backend both``
    run lost their exact check (``excluded:jax-non-finite``). The gradient is the taken branch's alone."""
    import jax
    import jax.numpy as jnp

    from grammar import semantics_jax as SJ

    def trace_branch(m):  # quat.h's branch for a non-negative trace, written out alone
        h = jnp.sqrt(m[0, 0] + m[1, 1] + m[2, 2] + 1.0)
        g = 0.5 / h
        q = jnp.stack([(m[2, 1] - m[1, 2]) * g, (m[0, 2] - m[2, 0]) * g, (m[1, 0] - m[0, 1]) * g, 0.5 * h])
        return q / jnp.sqrt(jnp.sum(q * q))

    weights = jnp.asarray([0.3, -1.1, 0.7, 2.0])
    for m in (jnp.eye(3), jnp.asarray([[1.0, 0.2, 0.0], [-0.2, 1.0, 0.1], [0.0, -0.1, 1.0]])):  # h0..h2 args <= 0
        got = jax.grad(lambda m: jnp.dot(weights, SJ._w_from_matrix(m)))(m)
        want = jax.grad(lambda m: jnp.dot(weights, trace_branch(m)))(m)
        assert np.all(np.isfinite(np.asarray(got)))
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-12, atol=1e-12)
