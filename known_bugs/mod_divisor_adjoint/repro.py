# Warp 1.19.0 bug: the adjoint of scalar float `a % b` (wp.mod) has no term for the divisor b.
#
# wp.mod uses truncated division: a % b = a - trunc(a / b) * b, so d/da = 1 and d/db = -trunc(a / b)
# wherever a / b is not an integer. warp/native/builtin.h defines
#     adj_mod(a, b, adj_a, adj_b, adj_ret) { adj_a += adj_ret; }
# so b.grad stays 0 although the scalar overload is documented as differentiable.
# Inputs a = [7.5, -7.5, 2.25], b = [2.0, 2.0, 0.5]:
#     expected a.grad = [1, 1, 1], b.grad = -trunc(a / b) = [-3, 3, -4]
#     actual   a.grad = [1, 1, 1], b.grad = [0, 0, 0]
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def float_mod(a: wp.array(dtype=wp.float32), b: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    out[tid] = a[tid] % b[tid]


def main():
    a = wp.array(np.array([7.5, -7.5, 2.25], dtype=np.float32), dtype=wp.float32, requires_grad=True, device="cpu")
    b = wp.array(np.array([2.0, 2.0, 0.5], dtype=np.float32), dtype=wp.float32, requires_grad=True, device="cpu")
    out = wp.zeros(3, dtype=wp.float32, requires_grad=True, device="cpu")
    tape = wp.Tape()
    with tape:
        wp.launch(float_mod, dim=3, inputs=[a, b, out], device="cpu")
    tape.backward(grads={out: wp.ones_like(out)})
    expected_a, expected_b = np.ones(3), -np.trunc(a.numpy() / b.numpy())  # [-3, 3, -4]
    print("out", out.numpy(), "expected", np.fmod(a.numpy(), b.numpy()))
    print("a.grad", a.grad.numpy(), "expected", expected_a)
    print("b.grad", b.grad.numpy(), "expected", expected_b)
    if not (np.allclose(a.grad.numpy(), expected_a) and np.allclose(b.grad.numpy(), expected_b)):
        raise SystemExit("bug reproduced: the adjoint of float a % b leaves b.grad at 0")
    print("not reproduced")


if __name__ == "__main__":
    main()
