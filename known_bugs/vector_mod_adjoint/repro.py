# Warp 1.19.0: the component-wise vector `a % b` (wp.mod on vectors) has no adjoint at all.
#
# Per component, a % b = a - trunc(a / b) * b (truncated division, like the scalar overload), so d/da = 1 and
# d/db = -trunc(a / b) wherever a / b is not an integer. The vector overload is registered with
# is_differentiable=False (documented as "Differentiable: false") and warp/native/vec.h leaves adj_mod empty
# ("MISSINGADJOINT"), so both gradients stay 0 without any warning, while the scalar overload is differentiable.
# Inputs a = (7.5, -7.5, 2.25), b = (2.0, 2.0, 0.5):
#     expected a.grad = (1, 1, 1), b.grad = -trunc(a / b) = (-3, 3, -4)
#     actual   a.grad = (0, 0, 0), b.grad = (0, 0, 0)
# Exits with status 1 while Warp behaves this way, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def vector_mod(a: wp.array(dtype=wp.vec3), b: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.vec3)):
    tid = wp.tid()
    out[tid] = a[tid] % b[tid]


def main():
    a = wp.array(np.array([[7.5, -7.5, 2.25]], dtype=np.float32), dtype=wp.vec3, requires_grad=True, device="cpu")
    b = wp.array(np.array([[2.0, 2.0, 0.5]], dtype=np.float32), dtype=wp.vec3, requires_grad=True, device="cpu")
    out = wp.zeros(1, dtype=wp.vec3, requires_grad=True, device="cpu")
    tape = wp.Tape()
    with tape:
        wp.launch(vector_mod, dim=1, inputs=[a, b, out], device="cpu")
    tape.backward(grads={out: wp.ones_like(out)})
    expected_a, expected_b = np.ones((1, 3)), -np.trunc(a.numpy() / b.numpy())
    print("out", out.numpy(), "expected", np.fmod(a.numpy(), b.numpy()))
    print("a.grad", a.grad.numpy(), "expected", expected_a)
    print("b.grad", b.grad.numpy(), "expected", expected_b)
    if not (np.allclose(a.grad.numpy(), expected_a) and np.allclose(b.grad.numpy(), expected_b)):
        raise SystemExit("bug reproduced: vector a % b gives no gradient to either operand")
    print("not reproduced")


if __name__ == "__main__":
    main()
