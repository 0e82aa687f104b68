"""The gradient oracle catches wrong adjoints, leaves out exactly the documented limits, and raises no false alarm.

(a) Hand-written kernels in one module (one build): smooth kernels of every statement kind the check covers are
``checked`` and agree with Warp; each limit of :data:`harness.oracle.gradient_limits.LIMITS` is met by a kernel that
is excluded with that key, and a close variant that the limit does not cover is checked.

(b) Sensitivity: Warp's gradients with one element perturbed, or with their sign flipped, become a
``gradient-mismatch`` (the adjoint fault is caught); with the float-mod exclusion switched off, the pipeline
reports Warp's real ``%`` adjoint bug and its reproducer fails in a fresh process.

(c) The reproducers under ``known_bugs/`` still reproduce: when one stops, Warp fixed it and its exclusion goes.
"""

from __future__ import annotations

import pickle
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libcst as cst
import numpy as np
import pytest

from harness.oracle import gradient as G
from harness import pipeline
from harness.warp_side import warp_adapter as W
from harness.oracle.gradient_limits import LIMITS, static_exclusions
from harness.oracle.inputs import make_inputs
from harness.report import render_markdown, render_reproducer
from strategies import GeneratedKernel, ParamSpec

DIM = 8
ROOT = Path(__file__).resolve().parents[1]


def array(name, dtype="float32", role="input", low=-2.0, high=2.0):
    return ParamSpec(name, "array", dtype, role, low, high, (DIM,))


def scalar(name, dtype="int32", low=2, high=5):
    return ParamSpec(name, "scalar", dtype, "param", low, high)


A, B, V, OUT, ACC = array("a"), array("b"), array("v", "vec3"), array("out", role="output"), array("acc", role="atomic")
N = scalar("n")
H = array("h", "float16")
FLOAT_IN = (A, B, OUT)


def _kernel(name: str, body: str, params=FLOAT_IN) -> GeneratedKernel:
    annotations = {"float32": "wp.array(dtype=wp.float32)", "vec3": "wp.array(dtype=wp.vec3)",
                   "int32": "wp.array(dtype=wp.int32)", "float16": "wp.array(dtype=wp.float16)"}
    sig = ", ".join(f"{p.name}: {annotations[p.dtype] if p.kind == 'array' else 'int'}" for p in params)
    source = f"@wp.kernel\ndef {name}({sig}):\n    tid = wp.tid()\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return GeneratedKernel(name, cst.parse_statement(source), tuple(params), (), DIM)


# name -> (kernel, expected status)
def _with_struct(k: GeneratedKernel) -> GeneratedKernel:
    """``k`` with the struct type ``S`` (a vec3 field ``m1``) declared."""
    return GeneratedKernel(k.name, k.func, k.params, k.categories, k.dim,
                           structs=(cst.parse_statement("@wp.struct\nclass S:\n    m1: wp.vec3\n"),))


CASES = {
    "smooth": (_kernel("smooth", "out[tid] = wp.sin(a[tid]) * b[tid] + wp.dot(v[tid], v[tid]) / (b[tid] * b[tid] + 1.0)\n",
                       (A, B, V, OUT)), "checked"),
    "branch": (_kernel("branch", "if a[tid] > 0.0:\n    out[tid] = a[tid] * b[tid]\nelse:\n    out[tid] = -wp.exp(a[tid])\n"),
               "checked"),
    "atomic": (_kernel("atomic", "wp.atomic_add(acc, tid % 3, a[tid] * a[tid])\nwp.atomic_max(acc, 7, b[tid])\n",
                       (A, B, ACC)), "checked"),
    "helper_selection": (_kernel("helper_selection", "x = wp.clamp(a[tid], -1.0, 1.0)\ny = wp.max(x, b[tid])\n"
                                 "out[tid] = wp.abs(y) + wp.floor(a[tid])\n"), "checked"),
    "inplace_add": (_kernel("inplace_add", "out[tid] = a[tid]\nout[tid] += b[tid] * a[tid]\n"), "checked"),
    "component_once": (_kernel("component_once", "w = wp.vec3(0.0, 0.0, 0.0)\nw[0] = a[tid]\nw[1] = b[tid]\nw[0] += a[tid]\n"
                               "out[tid] = wp.length(w)\n"), "checked"),
    "loop_sum": (_kernel("loop_sum", "s = float(0.0)\nfor i in range(n):\n    s += a[tid] * b[tid]\nout[tid] = s\n",
                         (A, B, OUT, N)), "checked"),
    "unrolled_product": (_kernel("unrolled_product", "p = float(1.0)\nfor i in range(3):\n    p = p * a[tid]\n"
                                 "out[tid] = p\n"), "checked"),
    "constant_product": (_kernel("constant_product", "x = float(2.0)\nx *= 3.0\nout[tid] = x * a[tid]\n"), "checked"),
    "inplace_mul": (_kernel("inplace_mul", "x = a[tid]\nx *= b[tid]\nout[tid] = x\n"), "excluded:inplace-mul-div"),
    "component_overwrite": (_kernel("component_overwrite", "w = v[tid]\nw[1] = a[tid]\nout[tid] = wp.length(w)\n",
                                    (A, B, V, OUT)), "excluded:component-overwrite"),
    # the local holds the input's values through an augmented assignment (or a builtin's output argument)
    "component_after_augassign": (_kernel("component_after_augassign", "w = wp.vec3(0.0, 0.0, 0.0)\nw -= v[tid]\n"
                                          "w[0] = a[tid]\nout[tid] = wp.dot(w, w)\n", (A, B, V, OUT)),
                                  "excluded:component-overwrite"),
    "component_twice": (_kernel("component_twice", "w = wp.vec3(0.0, 0.0, 0.0)\nw[0] = a[tid]\nw[0] = a[tid] * b[tid]\n"
                                "out[tid] = w[0]\n"), "excluded:component-reassignment"),
    "loop_product": (_kernel("loop_product", "p = float(1.0)\nfor i in range(n):\n    p = p * a[tid]\nout[tid] = p\n",
                             (A, B, OUT, N)), "excluded:dynamic-loop"),
    "overwrite": (_kernel("overwrite", "out[tid] = a[tid]\nout[tid] = out[tid] * b[tid]\n"), "excluded:array-overwrite"),
    "exch": (_kernel("exch", "out[tid] = a[1]\nx = wp.atomic_exch(out, tid, a[tid] * b[tid])\n"),
             "excluded:non-differentiable-atomic"),
    "exch_constant_slot": (_kernel("exch_constant_slot", "x = wp.atomic_exch(out, tid, 2.0)\nout[tid] += a[tid]\n"),
                           "excluded:non-differentiable-atomic"),  # the earlier value would keep the adjoint
    "cas_int_slot": (_kernel("cas_int_slot", "x = wp.atomic_cas(c, tid, 0, 7)\nout[tid] = a[tid] * b[tid]\n",
                             (A, B, OUT, array("c", "int32", "output"))), "checked"),  # cas on ints: no derivative
    # its result used: the backward replay reads it uninitialised (known_bugs/atomic_result_replay/)
    "cas_int_result": (_kernel("cas_int_result", "x = wp.atomic_cas(c, tid, 0, 7)\nout[tid] = a[tid] * float(x)\n",
                               (A, B, OUT, array("c", "int32", "output"))), "excluded:atomic-result"),
    "float_mod": (_kernel("float_mod", "out[tid] = a[tid] % (wp.abs(b[tid]) + 0.5)\n"), "excluded:float-mod"),
    "mod_constant_divisor": (_kernel("mod_constant_divisor", "out[tid] = (a[tid] % 1.3) * b[tid] + wp.frac(1.25)\n"),
                             "checked"),
    "mod_small_dividend": (_kernel("mod_small_dividend", "out[tid] = (0.1 * a[tid]) % (wp.abs(b[tid]) + 0.5)\n"),
                           "checked"),  # |a| < |b|: the divisor's missing term is zero, Warp is right
    "while_return": (_kernel("while_return", "w = int(0)\nwhile w < 3:\n    w = w + 1\n    if a[tid] > 100.0:\n"
                             "        return\nout[tid] = a[tid] * b[tid]\n"), "excluded:return-in-dynamic-loop"),
    "frac": (_kernel("frac", "out[tid] = wp.frac(a[tid]) * b[tid]\n"), "excluded:missing-adjoint"),
    "tie": (_kernel("tie", "wp.atomic_min(acc, 0, a[0])\n", (A, B, ACC)), "excluded:atomic-minmax-tie"),
    "kink": (_kernel("kink", "out[tid] = wp.max(a[tid], b[tid])\n"), "excluded:non-smooth"),
    # an output below float32's range (a 30-minute fuzz: erfc(cosh(x)) = 1e-92): Warp computes 0.0 and its
    # float32 backward 0.0 where the exact derivative is 2.7e-88 (a mismatch while a unit's departure was measured
    # against max |exact| + 1e-30: 1e-92 / 1e-30 passed for no departure); the same row in range is checked
    "underflow": (_kernel("underflow", "out[tid] = wp.erfc(14.0 + 0.01 * a[tid]) * b[tid]\n"), "excluded:ill-conditioned"),
    "erfc_in_range": (_kernel("erfc_in_range", "out[tid] = wp.erfc(1.0 + 0.01 * a[tid]) * b[tid]\n"), "checked"),
    # |x| inside norm_l1 at x = 0 (a signed-zero corner input): Warp's adjoint takes sign(0) = 1, the
    # symmetric difference 0; away from 0 the row is checked
    "norm_l1_kink": (_kernel("norm_l1_kink", "out[tid] = wp.norm_l1(wp.vec2(a[tid], 0.0)) * b[tid]\n"),
                     "excluded:non-smooth"),
    # a decision that holds at x alone: a[3] == 0 makes `a and b` false, so thread 3 goes on where every
    # x ± h·u returns (Warp's adjoint is that of the path x takes; the differences see the other one)
    "point_branch": (_kernel("point_branch", "if a[tid] and b[tid]:\n    return\nout[tid] = a[tid] * b[tid] + b[tid]\n"),
                     "excluded:non-smooth"),
    # the max of a vector with two tied components: Warp's adjoint goes to the first, the differences split it
    "vector_max_tie": (_kernel("vector_max_tie", "out[tid] = wp.max(v[tid]) * b[tid]\n", (A, B, V, OUT)),
                       "excluded:non-smooth"),
    "vector_max": (_kernel("vector_max", "out[tid] = wp.max(v[tid]) * b[tid]\n", (A, B, V, OUT)), "checked"),
    # svd3 of a matrix with repeated singular values (a multiple of the identity): the derivative is undefined
    "svd_repeated": (_kernel("svd_repeated", "U = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                             "s = wp.vector(length=3, dtype=wp.float32)\nV = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                             "wp.svd3(wp.identity(n=3, dtype=wp.float32) * a[tid], U, s, V)\nout[tid] = s[0] * b[tid]\n"),
                     "excluded:non-smooth"),
    # svd3 where Warp's 4-sweep Jacobi has not converged (the matrix of a 30-minute fuzz report: rebuilt with an
    # error of 4e-4 of its largest entry): Warp's adjoint is the exact SVD's derivative formula, not the derivative
    # of its own forward there (without the exclusion: a mismatch); the same statements on a matrix the sweeps
    # decompose exactly are checked
    "svd_unconverged": (_kernel("svd_unconverged", "U = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                                "s = wp.vector(length=3, dtype=wp.float32)\nV = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                                "wp.svd3(wp.mat33(1.0604674 + 0.01 * a[tid], 0.125, 0.0, -1.7614145, 0.5, 1.2585353, "
                                "-3.5, 1.2585353, 2.0), U, s, V)\n"
                                "out[tid] = (U[0, 2] + U[1, 2] + U[2, 2] + V[0, 2] + V[1, 2] + V[2, 2]) * b[tid]\n"),
                        "excluded:non-smooth"),
    "svd_converged": (_kernel("svd_converged", "U = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                              "s = wp.vector(length=3, dtype=wp.float32)\nV = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                              "wp.svd3(wp.mat33(4.0 + 0.01 * a[tid], 0.5, 0.0, 0.5, 2.0, 0.25, 0.0, 0.25, 1.0), U, s, V)\n"
                              "out[tid] = (U[0, 2] + U[1, 2] + U[2, 2] + V[0, 2] + V[1, 2] + V[2, 2]) * b[tid]\n"),
                      "checked"),
    # qr3 of a rank-deficient matrix: Q and R are not unique there (a 30-minute fuzz report)
    "qr_singular": (_kernel("qr_singular", "Q = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                            "M = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
                            "wp.qr3(wp.mat33(a[tid], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), Q, M)\n"
                            "out[tid] = Q[1, 1] + M[0, 0] * b[tid]\n"), "excluded:non-smooth"),
    # a component of one output argument overwritten after the call: Warp writes it in place, and the call's
    # adjoint then reads the new value (eig3's eigenvector adjoint uses the eigenvalues): the outputs the
    # other output arguments reach are left out too (a fuzz report), the unrelated output is still checked
    "overwritten_output_argument": (_kernel(
        "overwritten_output_argument",
        "Q = wp.matrix(shape=(3, 3), dtype=wp.float32)\ne = wp.vector(length=3, dtype=wp.float32)\n"
        "wp.eig3(wp.mat33(a[tid] + 6.0, 0.5 * b[tid], 0.25, 0.5 * b[tid], 0.5, 0.75, 0.25, 0.75, b[tid] - 6.0), Q, e)\n"
        "e.z = 0.25\nout[tid] = Q[0, 0] + Q[1, 2] * 2.0 + Q[2, 1]\nout2[tid] = wp.sin(a[tid]) * b[tid]\n",
        (A, B, OUT, array("out2", role="output"))), "checked"),
    # a constant local written after it was read: the reader's adjoint reads the new value (d dot(w, v) / d v
    # = w); out is left out, out2 (unrelated) is checked
    "write_after_use_constant": (_kernel(
        "write_after_use_constant",
        "w = wp.vec3(1.0, 2.0, 3.0)\ny = wp.dot(w, v[tid])\nw.z = 0.25\nout[tid] = y * a[tid]\n"
        "out2[tid] = wp.sin(a[tid]) * b[tid]\n", (A, B, V, OUT, array("out2", role="output"))), "checked"),
    # a float local overwritten with a constant inside a while loop: Warp's backward does not replay the loop
    # and its value before the loop still gets the adjoint (a 30-minute fuzz report)
    "loop_overwrite_constant": (_kernel(
        "loop_overwrite_constant",
        "x = wp.sin(a[tid])\nw = wp.int32(0)\nwhile w < 2:\n    w = w + 1\n    x = wp.float32(-2.0)\n"
        "out[tid] = x * b[tid]\n"), "excluded:dynamic-loop"),
    # a local computed before a dynamic loop and accumulated in it: Warp updates it in place, so the adjoint of
    # sqrt reads the value after the loop (a fuzz report); the same accumulator from a constant is checked
    "loop_accumulate_computed": (_kernel("loop_accumulate_computed", "x = wp.sqrt(wp.abs(a[tid]) + 0.25)\n"
                                         "for i in range(n):\n    x += a[tid] * b[tid]\nout[tid] = x\n",
                                         (A, B, OUT, N)), "excluded:dynamic-loop"),
    # the same with the local written by a builtin's output argument (a gradient-share run: norm_huber's adjoint
    # read the angle from before the loop)
    "loop_accumulate_output_argument": (_kernel(
        "loop_accumulate_output_argument", "d = wp.vector(length=3, dtype=wp.float32)\nx = wp.float32(0.0)\n"
        "wp.quat_to_axis_angle(wp.normalize(wp.quat(0.3 + 0.05 * b[tid], -0.2, 0.5, 0.7)), d, x)\nw = wp.int32(0)\n"
        "while w < 3:\n    w = w + 1\n    x -= 0.125\nout[tid] = wp.norm_huber(wp.vec3(2.0, 1.0, a[tid]), wp.abs(x) + 0.25)\n"),
        "excluded:dynamic-loop"),
    # an int a while loop changed, read after it as an index: the backward pass's replay does not run the loop
    # again, so the adjoint goes to the element of the index before the loop (a gradient-share run); as a test,
    # the replay may take the other branch
    "loop_stale_index": (_kernel("loop_stale_index", "i = tid\nw = wp.int32(0)\nwhile w < 3:\n    w = w + 1\n"
                                 "    i += 3\nout[tid] = wp.atan(a[wp.abs(i) % 8]) * b[tid]\n"), "excluded:dynamic-loop"),
    "loop_stale_test": (_kernel("loop_stale_test", "i = tid\nw = wp.int32(0)\nwhile w < 3:\n    w = w + 1\n"
                                "    i += 3\nif i > 10:\n    out[tid] = a[tid] * 2.0\nelse:\n    out[tid] = a[tid] * 5.0\n"),
                        "excluded:dynamic-loop"),
    # a constant vector changed in a loop with a break, then read by the adjoint of an operation on the derivative
    # path (d dot(w, x) / dx = w): the replay reads w from before the loop (a 30-minute fuzz, via quat_twist_angle)
    "loop_stale_constant": (_kernel("loop_stale_constant", "w = wp.vec3(1.0, 2.0, 3.0)\nfor j in range(1, 2):\n"
                                    "    if b[tid] > 100.0:\n        break\n    w += w\n"
                                    "out[tid] = wp.dot(w, wp.vec3(a[tid], b[tid], 1.0))\n"), "excluded:dynamic-loop"),
    # a local from variables, a constant whole value in one branch only, then a component write: on the paths that
    # skip the branch the overwritten component still leaks its adjoint (a 10-minute fuzz report)
    "component_after_branch": (_kernel("component_after_branch", "v = wp.vec3(a[tid], b[tid], 1.0)\n"
                                       "if b[tid] > 0.0:\n    v = wp.vec3(1.0, 2.0, 3.0)\n"
                                       "v[0] = b[tid] * 2.0\nout[tid] = v[0] + v[1] * v[2]\n"),
                               "excluded:component-overwrite"),
    # the value an atomic returns steers a branch: Warp's backward replay does not recompute it and reads it
    # uninitialised (known_bugs/atomic_result_replay/; what it holds depends on the build, so this harness
    # build happens to match: the exclusion is static)
    "atomic_result_branch": (_kernel("atomic_result_branch", "x = wp.atomic_exch(out, tid, 0.0)\n"
                                     "if x < 4.0:\n    s[tid] = 1.0\nelse:\n    s[tid] = a[tid] * 3.0\n"
                                     "out[tid] = a[tid] * 10.0\n", (A, B, OUT, array("s", role="output"))),
                             "excluded:atomic-result"),
    # a value the replay gets stale (an update in a loop with a break) steering a branch: the branch may go the
    # other way in the backward pass, so what it guards is left out too (a 20-minute fuzz report)
    "stale_branch": (_kernel("stale_branch", "x = wp.sqrt(wp.abs(a[tid]) + 0.25)\nfor j in range(3):\n"
                             "    x -= a[tid]\n    if b[tid] > 1.5:\n        break\n"
                             "if x <= b[tid]:\n    out[tid] = wp.sin(b[tid]) * a[tid]\n"), "excluded:dynamic-loop"),
    # the same through a bool: `c = (x <= a[tid])` decides a return; the replay's stale x (the value before the
    # loop) sends threads that returned on to the store, and Warp gave `a` a gradient of 1 there (a fault-benchmark
    # control run on unmutated Warp)
    "stale_bool_branch": (_kernel("stale_bool_branch", "x = wp.floor(b[0])\nfor j in range(3):\n    x *= -4.0\n"
                                  "    if b[tid] > 100.0:\n        break\nc = (x <= a[tid])\nif c:\n    return\n"
                                  "out[tid] = a[tid]\n"), "excluded:dynamic-loop"),
    # a bool a while loop changes after a branch read it: Warp updates it in place and the branch's adjoint sees
    # the final value (a.grad = 3 where c held; a 30-minute fuzz report)
    "bool_changed_after_its_branch": (_kernel("bool_changed_after_its_branch",
                                              "c = a[tid] > 0.0\nif c:\n    out[tid] = a[tid] * 2.0\nelse:\n"
                                              "    out[tid] = a[tid] * 3.0\nw = wp.int32(0)\nwhile w < 2:\n"
                                              "    w = w + 1\n    c = a[0] > 100.0\n"), "excluded:dynamic-loop"),
    # a continue in a while loop: a thread that continued gets no gradient from the loop (a 10-minute fuzz report)
    "continue_in_while": (_kernel("continue_in_while", "x = wp.cos(a[tid])\nw = wp.int32(0)\nwhile w < 3:\n"
                                  "    w = w + 1\n    out[tid] += wp.atan2(x, 0.75) * b[tid]\n"
                                  "    if b[tid] < x:\n        continue\n"), "excluded:dynamic-loop"),
    # a return in a loop over range(wp.static(...)): Python evaluates the bound, Warp unrolls the loop like
    # range(3), and the gradient is checked (not return-in-dynamic-loop)
    "return_in_static_loop": (_kernel("return_in_static_loop", "for j in range(wp.static((1 + 2))):\n"
                                      "    out[tid] += a[tid] * b[tid]\n    if b[tid] > 0.5:\n        return\n"),
                              "checked"),
    # a break in a loop: Warp drops the adjoint of the iteration that broke (of every iteration in a for loop)
    "break_in_loop": (_kernel("break_in_loop", "for j in range(4):\n    out[tid] += a[tid] * b[tid]\n"
                              "    if b[tid] > 0.0:\n        break\n"), "excluded:dynamic-loop"),
    # float16 products on the derivative path: a quaternion product is left out, a vector's dot product checked
    "half_quat": (_kernel("half_quat", "q = wp.quath(h[tid], h[tid], wp.float16(3.0), wp.float16(4.0))\n"
                          "out[tid] = wp.float32((q * q)[0]) * b[tid]\n", (H, B, OUT)), "excluded:float16-composite"),
    # the same product beside an output it does not reach: only out is left out, out2 is checked
    "half_quat_beside": (_kernel("half_quat_beside", "q = wp.quath(h[tid], h[tid], wp.float16(3.0), wp.float16(4.0))\n"
                                 "out[tid] = wp.float32((q * q)[0]) * b[tid]\nout2[tid] = wp.sin(b[tid]) * b[tid]\n",
                                 (H, B, OUT, array("out2", role="output"))), "checked"),
    # ... an unnamed one: a float16 scalar computed through a mat33h that no local holds (the determinant of an outer
    # product; a fuzz report: det(inverse(I + lerp(mat44h...))), Warp's half-precision adjoint 60 % off)
    "half_unnamed_matrix": (_kernel("half_unnamed_matrix", "w = wp.vec3h(h[tid], h[tid], wp.float16(3.0))\n"
                                    "x = wp.trace(wp.outer(w, w))\nout[tid] = wp.float32(x) * b[tid]\n", (H, B, OUT)),
                            "excluded:float16-composite"),
    "half_vector": (_kernel("half_vector", "w = wp.vec3h(h[tid], h[tid], wp.float16(3.0))\n"
                            "out[tid] = wp.float32(wp.dot(w, w)) * b[tid]\n", (H, B, OUT)), "checked"),
    # the exact ratio of smoothstep is 1 (a zero derivative); float16 rounding of lerp moves Warp's off it
    # three normalisations of a vector with equal components (layer_norm of vec2(x, x), written out): their
    # derivative along the vector is exactly zero, but float32 reverse mode forms adjoints of ~1e7 there that
    # cancel to their rounding (a gradient-share run; harness.oracle.gradient._warp_rescaled)
    "adjoint_rounding": (_kernel("adjoint_rounding", "x = a[tid] * b[tid]\nw = wp.vec2(x, x)\n" + 3 * (
        "m = (w[0] + w[1]) / 2.0\nd = w - wp.vec2(m, m)\nw = d / wp.sqrt(wp.dot(d, d) / 2.0 + 1e-05)\n")
        + "out[tid] = x * x + w[0] - 0.5 * w[1]\n"), "excluded:adjoint-rounding"),
    "half_stationary": (_kernel("half_stationary", "e = wp.lerp(h[tid], h[tid], c[tid])\n"
                                "out[tid] = wp.float32(wp.smoothstep(c[tid] - wp.float16(4.0), h[tid], e))\n",
                                (H, array("c", "float16"), OUT)), "excluded:float16-stationary"),
    # float32 cancellation: Warp's (a + 1e8) - 1e8 is a multiple of 8, the exact one is a
    "cancellation": (_kernel("cancellation", "out[tid] = ((a[tid] + 1.0e8) - 1.0e8) * b[tid]\n"),
                     "excluded:ill-conditioned"),
    # ... beside an output computed well: still the whole kernel (leaving out only the departing output let a
    # false alarm through in a 30-minute fuzz: the conditioning reached a unit below the bound)
    "cancellation_beside": (_kernel("cancellation_beside", "out[tid] = ((a[tid] + 1.0e8) - 1.0e8) * b[tid]\n"
                                    "out2[tid] = wp.sin(a[tid]) * b[tid]\n", (A, B, OUT, array("out2", role="output"))),
                            "excluded:ill-conditioned"),
    # float16 underflow: |x| * |x| is 0 in half precision, so Warp normalizes a zero vector (a fuzz report)
    "half_underflow": (_kernel("half_underflow", "w = wp.vec2h(h[tid] * wp.float16(0.00006103515625), wp.float16(0.0))\n"
                               "out[tid] = wp.float32(wp.normalize(w)[0]) * b[tid]\n", (H, B, OUT)),
                       "excluded:ill-conditioned"),
    # float16 overflow: |w|^2 is past 65504 in half precision, so Warp's norm is inf and its adjoint through it zero,
    # while the exact derivative is finite (a 30-minute fuzz report of generator 0.5.4: a mismatch without the
    # infinite departure)
    "half_overflow": (_kernel("half_overflow", "w = wp.vec2h(h[tid] * h[tid] * wp.float16(100.0) + wp.float16(300.0), "
                              "wp.float16(1.0))\nout[tid] = wp.float32(wp.norm_l2(w))\n", (H, B, OUT)),
                      "excluded:ill-conditioned"),
    # a derivative below what central differences of the outputs resolve: 1 + 1e-35 is 1.0 in the reference's float64,
    # so its differences are exactly 0, while Warp's analytic adjoint gives the true 1e-35 (a saturated attention
    # softmax in a 30-minute fuzz of generator 0.5.4: a mismatch before the resolution term)
    "unresolved_derivative": (_kernel("unresolved_derivative", "out[tid] = 1.0 + wp.exp(a[tid] - 80.0) * b[tid]\n"),
                              "checked"),
    "norm_l1": (_kernel("norm_l1", "out[tid] = wp.norm_l1(wp.vec2(a[tid], 0.0)) * b[tid]\n"), "checked"),
    "infinite": (_kernel("infinite", "out[tid] = wp.sqrt(a[tid] * a[tid]) * b[tid]\n"), "excluded:non-finite"),
    # a sink array (strategies.sinks) holds one slot per sink statement: the dynamic-loop product spoils the
    # slot it is stored in, sink0[0]; the other slot, sink0[8], is still checked
    "sink_slots": (_kernel("sink_slots", "p = float(1.0)\nfor i in range(n):\n    p = p * a[tid]\nsink0[tid] = p\n"
                           "sink0[(tid + 8)] = wp.sin(a[tid]) * b[tid]\n",
                           (A, B, ParamSpec("sink0", "array", "float32", "output", 0, 0, (2 * DIM,)), N)), "checked"),
    # ... and when the slot left is constant, nothing is checked: the kernel is left out (not "checked" with 0 <= 0)
    "sink_slots_constant_rest": (_kernel("sink_slots_constant_rest", "p = float(1.0)\nfor i in range(n):\n"
                                         "    p = p * a[tid]\nsink0[tid] = p\nsink0[(tid + 8)] = 2.0\n",
                                         (A, B, ParamSpec("sink0", "array", "float32", "output", 0, 0, (2 * DIM,)), N)),
                                 "excluded:dynamic-loop"),
    # Warp 1.19 gives a component written into a struct's vector field no adjoint
    # (known_bugs/struct_field_component_write_adjoint/): the outputs the struct reaches are left out; an
    # output it does not reach is still checked
    "struct_field_component": (_with_struct(_kernel(
        "struct_field_component", "r = S()\nr.m1[0] = a[tid] * b[tid]\nout[tid] = r.m1[0] + a[tid]\n")),
        "excluded:struct-field-component"),
    "struct_field_component_other_output": (_with_struct(_kernel(
        "struct_field_component_other_output", "r = S()\nr.m1.y = a[tid] * b[tid]\nsink0[tid] = r.m1[1]\n"
        "sink0[(tid + 8)] = wp.sin(a[tid]) * b[tid]\n",
        (A, B, ParamSpec("sink0", "array", "float32", "output", 0, 0, (2 * DIM,))))), "checked"),
    # a constant written there spoils the field's other components too (measured: Warp's u·Jᵀv -3.32 where the
    # reference's v·Ju is 7.30), so the limit does not look at the value written
    "struct_field_constant_component": (_with_struct(_kernel(
        "struct_field_constant_component", "r = S()\nr.m1 = wp.vec3(a[tid] * b[tid], 0.0, 0.0)\nr.m1[1] = 2.0\n"
        "out[tid] = r.m1[0] + r.m1[1] * a[tid]\n")), "excluded:struct-field-component"),
    # a bool a while loop changes, tested at the top of the next iteration of the unrolled loop around it (a
    # 15-minute fuzz): stale in the backward pass's replay
    "stale_in_next_iteration": (_kernel(
        "stale_in_next_iteration", "c = a[tid] > 0.0\nfor j in range(3):\n    if c:\n        out[tid] += a[tid] * b[tid]\n"
        "    else:\n        out[tid] += wp.sin(a[tid])\n    w = int(0)\n    while w < 2:\n        w = w + 1\n"
        "        c = j != 1\n"), "excluded:dynamic-loop"),
    "constant": (_kernel("constant", "out[tid] = 2.0\n"), "not-differentiable"),
    "int_output": (_kernel("int_output", "out[tid] = wp.int32(a[tid])\n", (A, array("out", "int32", "output"))),
                   "not-differentiable"),
}


def _values(name: str) -> dict:
    k = CASES[name][0]
    values = make_inputs(k.params, k.dim, 7)
    if name == "kink":  # a tie of max in the first thread
        values["b"][0] = values["a"][0]
    if name in ("infinite", "norm_l1_kink", "point_branch"):
        values["a"][3] = 0.0
    if name == "vector_max_tie":
        values["v"][2][2] = values["v"][2][0] = np.max(values["v"][2]) + 0.5
    if name == "norm_l1":
        values["a"][np.abs(values["a"]) < 0.1] = 0.5
    if name == "tie":  # every thread stores a[0] < 0 (the initial minimum)
        values["a"][0] = -1.0
    if name == "half_stationary":  # the values of the fuzz report: float16 lerp(x, x, t) is not x for all
        values["h"][:] = np.array([0.4336, -0.1937, 1.264, -0.4922, 3.926, -0.5464, -1.037, 0.04578], np.float16)
        values["c"][:] = np.float16(-1.143)
    if name == "stale_bool_branch":  # x = -64 after the loop (every thread returns), 1 in the replay
        values["b"][0] = 1.5
    if name == "branch":
        values["a"][np.abs(values["a"]) < 0.1] = 0.5
    return values


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    W.init(str(tmp_path_factory.mktemp("warp-cache")))
    kernels = [k for k, _ in CASES.values()]
    build = pipeline._Build(kernels, tmp_path_factory.mktemp("gradient"), pipeline.Options())
    W.compile_cpu(build.module)
    yield build.module
    W.release_module(build.module)


def _check(built, name: str) -> G.GradientResult:
    k = CASES[name][0]
    return G.check_gradient(k, getattr(built, k.name), _values(name), 3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_status(built, name):
    result = _check(built, name)
    assert result.status == CASES[name][1], result.note
    if result.status == "checked":
        assert abs(result.lhs - result.rhs) <= result.tolerance


def test_every_limit_is_cited_and_exercised():
    exercised = {status.split(":", 1)[1] for _, status in CASES.values() if status.startswith("excluded:")}
    assert exercised == set(LIMITS)
    for limit in LIMITS.values():
        assert limit.citation and limit.summary
        if limit.kind == "documented":
            assert limit.citation.startswith("https://nvidia.github.io/warp/user_guide/differentiability.html#")
        if limit.kind == "declared":
            assert limit.citation.startswith("warp/_src/builtins.py") and "is_differentiable=False" in limit.citation
        if limit.kind == "known-bug":
            bug = limit.citation.split("known_bugs/")[1].split("/")[0]
            assert (ROOT / "known_bugs" / bug / "repro.py").is_file(), limit.citation


def test_the_atomics_excluded_as_non_differentiable_are_those_warp_declares():
    from harness.oracle.gradient_limits import _NON_DIFFERENTIABLE_ATOMICS

    declared = {name for name in W.non_differentiable_builtins() if name.startswith("atomic_")}
    assert {f"wp.{name}" for name in declared} == _NON_DIFFERENTIABLE_ATOMICS


def test_an_offence_leaves_out_only_the_sink_slots_it_reaches():
    from harness.oracle.gradient_limits import analyse

    k = CASES["sink_slots"][0]
    inputs, outputs = G.candidates(k.params)
    drop_in, drop_out, key = G.narrow(analyse(k.kernel_source, k.params), inputs, outputs)
    assert (drop_in, drop_out, key) == (set(), {"sink0[0]"}, None)
    v = {"sink0": np.ones(2 * DIM)}
    G._leave_out(v, "sink0[0]", DIM)
    assert v["sink0"].tolist() == [0.0] * DIM + [1.0] * DIM


def test_exclusions_follow_the_data_flow():
    """A documented construct counts only where its value can carry a derivative from an input to an output."""
    body = "x = a[tid]\nx *= b[tid]\ny = float(1.0)\ny *= 2.0\nout[tid] = {}\n"
    assert "inplace-mul-div" in static_exclusions(_kernel("f", body.format("x")).kernel_source, FLOAT_IN)
    assert static_exclusions(_kernel("f", body.format("y * a[tid]")).kernel_source, FLOAT_IN) == {}
    assert static_exclusions(_kernel("f", body.format("a[tid] + y")).kernel_source, FLOAT_IN) == {}


# ---- sensitivity ---------------------------------------------------------------------------------------------------


def _faulty(monkeypatch, fault):
    real = W.launch_cpu_backward

    def launch(kernel, dim, args, output_grads):
        forward, grads = real(kernel, dim, args, output_grads)
        return forward, {i: fault(g.copy()) if i not in output_grads else g for i, g in grads.items()}

    monkeypatch.setattr(G.W, "launch_cpu_backward", launch)


def _one_element(g):
    g.reshape(-1)[1] += 0.01 * max(1.0, float(np.max(np.abs(g))))
    return g


@pytest.mark.parametrize("fault", [_one_element, np.negative], ids=["one-element", "sign"])
@pytest.mark.parametrize("name", ["smooth", "branch", "atomic", "loop_sum", "component_once", "sink_slots",
                                  "half_quat_beside"])
def test_an_injected_adjoint_fault_is_caught(built, monkeypatch, name, fault):
    assert _check(built, name).status == "checked"
    _faulty(monkeypatch, fault)
    result = _check(built, name)
    assert result.status == "mismatch", result.note


def test_warps_mod_adjoint_bug_is_reported_when_not_excluded(tmp_path, monkeypatch):
    """The pipeline turns a real adjoint bug into a shrinkable report whose reproducer fails on its own."""
    monkeypatch.setattr(G, "EXCLUDED_FLAGS", tuple(f for f in G.EXCLUDED_FLAGS if f != "float-mod"))
    k = _kernel("mod_bug", "out[tid] = a[tid] % (wp.abs(b[tid]) + 0.5)\n")
    result = pipeline.verify_batch([k], tmp_path, pipeline.Options(nvrtc=False)).results[0]
    assert result.verdict == "warp-bug" and result.failure.kind == "gradient-mismatch", result.reason
    f = result.failure
    assert set(f.expected) == set(f.actual) == {"a.grad", "b.grad"}  # derived now, on first use
    assert set(pickle.loads(pickle.dumps(f)).expected) == {"a.grad", "b.grad"}  # workers send failures
    np.testing.assert_allclose(f.actual["a.grad"], f.expected["a.grad"], rtol=1e-4)  # d/da is right
    assert not np.allclose(f.actual["b.grad"], f.expected["b.grad"])  # d/db is missing
    markdown = render_markdown(f, "warp.print_diagnostics() output")
    assert "central differences" in markdown and "b.grad" in markdown
    script = tmp_path / "repro.py"
    script.write_text(render_reproducer(f))
    from harness.releases import run_repro

    run = run_repro(script)  # a fresh process, an empty kernel cache, as harness.known_bugs runs reproducers
    assert run.returncode == 1 and "bug reproduced" in run.stderr + run.stdout, run.stdout + run.stderr


def test_known_warp_bugs_still_reproduce():
    """Every reproducer under known_bugs/ still exits with status 1 on the installed Warp (each in a fresh process
    with an empty kernel cache, through ``python -m harness.known_bugs``'s runner). When one stops reproducing, Warp
    fixed the bug: lift the matching limit or grammar restriction and mark the bug fixed in its meta.json."""
    from harness import known_bugs as K
    from harness.releases import run_repro

    bugs = K.bug_dirs()
    assert len(bugs) >= 20
    with ThreadPoolExecutor(2) as pool:
        runs = dict(zip(bugs, pool.map(lambda bug: run_repro(bug / "repro.py", timeout=300), bugs)))
    wrong = {bug.name: (run.outcome, run.detail) for bug, run in runs.items() if run.outcome != "present"}
    assert not wrong, wrong


def test_the_float_mod_watch_survives_a_nan_or_zero_divisor():
    """float ``%``'s missing adjoint term is ``-trunc(a / b) * db``: a NaN dividend crashed the check (a fuzz run)."""
    assert G._quotient_truncates(float("nan"), 1.0) and G._quotient_truncates(1.0, 0.0)
    assert G._quotient_truncates(1.5, 1.0) and not G._quotient_truncates(-0.5, 2.0)
