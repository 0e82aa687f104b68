# Warp 1.19: a component written into a vector field of a local struct loses its adjoint.
#
#     r = S()                     # S has a field m1: wp.vec3d
#     r.m1[0] = a[tid] * a[tid]   # component 0 of the field (r.m1.x = ... behaves the same)
#     out[tid] = r.m1             # d out[0] / d a = 2 a, Warp gives 0
#
# Expected: out[0] = a^2 = 2.25 for a = 1.5, and with adj_out = (1, 0, 0): a.grad = 2a = 3.0 (calculus).
# Actual: the forward value 2.25 is right, a.grad = 0.0.
# The same computation through a local vector (`v = wp.vec3d(); v[0] = ...`) or a whole-field assignment
# (`r.m1 = wp.vec3d(a * a, 0.0, 0.0)`) differentiates correctly. Found by warpsmith's gradient oracle (a
# gradient-mismatch report of an 8-minute fuzz, seed 92: `r4.m1[0] = wp.trace(wp.diag(v1))` in an unrolled loop).
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import sys

import numpy as np
import warp as wp


@wp.struct
class S:
    m1: wp.vec3d


@wp.kernel
def field_component(a: wp.array(dtype=wp.float64), out: wp.array(dtype=wp.vec3d)):
    tid = wp.tid()
    r = S()
    r.m1[0] = a[tid] * a[tid]
    out[tid] = r.m1


@wp.kernel
def field_attribute(a: wp.array(dtype=wp.float64), out: wp.array(dtype=wp.vec3d)):
    tid = wp.tid()
    r = S()
    r.m1.x = a[tid] * a[tid]
    out[tid] = r.m1


@wp.kernel
def local_component(a: wp.array(dtype=wp.float64), out: wp.array(dtype=wp.vec3d)):
    tid = wp.tid()
    v = wp.vec3d()
    v[0] = a[tid] * a[tid]
    out[tid] = v


def _grad(kernel):
    a = wp.array(np.array([1.5]), dtype=wp.float64, device="cpu", requires_grad=True)
    out = wp.zeros(1, dtype=wp.vec3d, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=1, inputs=[a, out], device="cpu")
    tape.backward(grads={out: wp.array(np.array([[1.0, 0.0, 0.0]]), dtype=wp.vec3d, device="cpu")})
    return out.numpy()[0][0], a.grad.numpy()[0]


def main():
    value, g = _grad(field_component)
    value_attr, g_attr = _grad(field_attribute)
    _, h = _grad(local_component)
    print(f"r.m1[0] = a * a: out[0] {value} a.grad {g}; r.m1.x = a * a: out[0] {value_attr} a.grad {g_attr}; "
          f"expected out[0] 2.25, a.grad 3.0; local vector v[0] = a * a: a.grad {h}")
    if not (np.isclose(value, 2.25) and np.isclose(value_attr, 2.25) and np.isclose(h, 3.0)):
        print("inconclusive: the forward value or the local-vector sibling changed, re-examine")
        sys.exit(2)
    if not (np.isclose(g, 3.0) and np.isclose(g_attr, 3.0)):
        raise SystemExit("bug reproduced: a component written into a struct's vector field has no adjoint")
    print("not reproduced")


if __name__ == "__main__":
    main()
