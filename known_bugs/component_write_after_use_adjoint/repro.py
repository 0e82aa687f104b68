# Warp 1.19: a component written into a local vector *after* the vector was used changes the gradient of that
# earlier use: the write is done in place, and the backward pass evaluates the earlier adjoint with the new value.
#
#     v = a[tid] * 1.0
#     y = wp.dot(v, b[tid])       # d y / d b = v = a
#     v.z = 0.25                  # v is not read again
#     out[tid] = y                # Warp's b.grad is (a.x, a.y, 0.25) instead of a
#
# The same with the output argument of a decomposition: after wp.eig3(m, Q, d), writing d.z changes the
# gradient that flows through Q (eig3's adjoint reads the eigenvalues). Found by warpsmith's gradient oracle
# (a gradient-mismatch report of a 15-minute fuzz). Exits with status 1 while the bug is present, prints
# "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def write_after_use(a: wp.array(dtype=wp.vec3), b: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    tid = wp.tid()
    v = a[tid] * 1.0
    y = wp.dot(v, b[tid])
    v.z = 0.25
    out[tid] = y


def main():
    a = wp.array(np.array([[1.0, 2.0, 3.0]], np.float32), dtype=wp.vec3, device="cpu", requires_grad=True)
    b = wp.array(np.array([[0.5, -1.0, 2.0]], np.float32), dtype=wp.vec3, device="cpu", requires_grad=True)
    out = wp.zeros(1, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(write_after_use, dim=1, inputs=[a, b, out], device="cpu")
    tape.backward(grads={out: wp.ones(1, dtype=float, device="cpu")})
    g = b.grad.numpy()[0]
    print("b.grad", g, "expected", [1.0, 2.0, 3.0], "(d dot(a, b) / d b = a)")
    if not np.allclose(g, [1.0, 2.0, 3.0]):
        raise SystemExit("bug reproduced: the earlier adjoint used the component written after it")
    print("not reproduced")


if __name__ == "__main__":
    main()
