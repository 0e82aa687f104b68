# Warp 1.19: a component written into a local vector *after* the vector was used changes the gradient of that
# earlier use. The write is done in place (assign_inplace), and the backward pass evaluates the earlier use's
# adjoint with the vector's final value instead of the value the use saw.
#
#     v = wp.vec3()               # default initialization
#     v.x = a[tid]                # each component assigned at most once, as the user guide requires
#     y = wp.dot(v, b[tid])       # d y / d b = v = (a, 0, 0) at this point
#     v.z = 0.25                  # v is not read again
#     out[tid] = y
#
# Expected: y = a * b.x, so with adj_out = 1: b.grad = (a, 0, 0) = (2, 0, 0) and a.grad = b.x = 0.5.
# Actual: b.grad = (2, 0, 0.25): adj_dot reads v after v.z = 0.25.
# The same happens when v was first assigned a whole value (v = a[tid] * 1.0; y = wp.dot(v, b[tid]); v.z = 0.25:
# b.grad = (a.x, a.y, 0.25) instead of a), and with the output argument of a decomposition: after
# wp.eig3(m, Q, d), writing d.z changes the gradient that flows through Q (eig3's adjoint reads the eigenvalues).
# Found by warpsmith's gradient oracle (a gradient-mismatch report of a 15-minute fuzz).
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def write_after_use(a: wp.array(dtype=float), b: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    tid = wp.tid()
    v = wp.vec3()
    v.x = a[tid]
    y = wp.dot(v, b[tid])
    v.z = 0.25
    out[tid] = y


@wp.kernel
def write_after_use_whole(a: wp.array(dtype=wp.vec3), b: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    tid = wp.tid()
    v = a[tid] * 1.0
    y = wp.dot(v, b[tid])
    v.z = 0.25
    out[tid] = y


def _b_grad(kernel, a_values, a_dtype):
    a = wp.array(a_values, dtype=a_dtype, device="cpu", requires_grad=True)
    b = wp.array(np.array([[0.5, -1.0, 2.0]], np.float32), dtype=wp.vec3, device="cpu", requires_grad=True)
    out = wp.zeros(1, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=1, inputs=[a, b, out], device="cpu")
    tape.backward(grads={out: wp.ones(1, dtype=float, device="cpu")})
    return b.grad.numpy()[0]


def main():
    g = _b_grad(write_after_use, np.array([2.0], np.float32), float)
    print("v = vec3(); v.x = a: b.grad", g, "expected", [2.0, 0.0, 0.0], "(d dot(v, b) / d b = v = (a, 0, 0))")
    h = _b_grad(write_after_use_whole, np.array([[1.0, 2.0, 3.0]], np.float32), wp.vec3)
    print("v = a * 1.0:         b.grad", h, "expected", [1.0, 2.0, 3.0], "(d dot(a, b) / d b = a)")
    if not (np.allclose(g, [2.0, 0.0, 0.0]) and np.allclose(h, [1.0, 2.0, 3.0])):
        raise SystemExit("bug reproduced: the earlier adjoint used the component written after it")
    print("not reproduced")


if __name__ == "__main__":
    main()
