# Warp 1.19: the adjoint of component-wise vector `a % b` (wp.mod on vectors) adds nothing.
#
# Component-wise fmod has d/da = 1 and d/db = -trunc(a / b); Warp leaves both gradients at 0.
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def vector_mod(a: wp.array(dtype=wp.vec3), b: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.vec3)):
    tid = wp.tid()
    out[tid] = a[tid] % b[tid]


def main():
    a = wp.array(np.array([[7.5, -7.5, 2.25]], dtype=np.float32), dtype=wp.vec3, requires_grad=True)
    b = wp.array(np.array([[2.0, 2.0, 0.5]], dtype=np.float32), dtype=wp.vec3, requires_grad=True)
    out = wp.zeros(1, dtype=wp.vec3, requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(vector_mod, dim=1, inputs=[a, b, out], device="cpu")
    tape.backward(grads={out: wp.ones_like(out)})
    expected_a, expected_b = np.ones((1, 3)), -np.trunc(a.numpy() / b.numpy())
    print("a.grad", a.grad.numpy(), "expected", expected_a)
    print("b.grad", b.grad.numpy(), "expected", expected_b)
    if not (np.allclose(a.grad.numpy(), expected_a) and np.allclose(b.grad.numpy(), expected_b)):
        raise SystemExit("bug reproduced: wrong gradient of vector a % b")
    print("not reproduced")


if __name__ == "__main__":
    main()
