# Warp 1.19.0: when several wp.atomic_min / wp.atomic_max calls store the same (winning) value, the backward
# pass gives the full output adjoint to every tied call.
#
# Two threads call wp.atomic_min(out, 0, x[tid]) with x = [-1.5, -1.5] on out = [0.0], so out[0] = min(x0, x1).
# min is not differentiable at x0 == x1, but every element of its superdifferential {(t, 1 - t), 0 <= t <= 1}
# sums to 1, and the directional derivative along (1, 1) is exactly 1: moving both tied inputs by h moves
# out[0] by h. Warp's own scalar wp.min(a, b) adjoint follows this (it routes the adjoint to one operand).
# adj_atomic_minmax (warp/native/builtin.h) adds the adjoint to every call whose value equals the stored
# result, so x.grad = [1, 1]: a sum of 2, i.e. twice the true derivative along (1, 1).
#     expected: x.grad sums to 1 (e.g. [1, 0], [0, 1] or [0.5, 0.5]); actual: x.grad = [1, 1]
# Whether a tie should be handled at all is arguable (it is a non-differentiable point); the sum is not.
# Exits with status 1 while Warp behaves this way, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def tied_min(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    wp.atomic_min(out, 0, x[tid])


def main():
    x = wp.array(np.array([-1.5, -1.5], dtype=np.float32), dtype=wp.float32, requires_grad=True, device="cpu")
    out = wp.zeros(1, dtype=wp.float32, requires_grad=True, device="cpu")
    tape = wp.Tape()
    with tape:
        wp.launch(tied_min, dim=2, inputs=[x, out], device="cpu")
    tape.backward(grads={out: wp.ones_like(out)})
    print("out", out.numpy(), "expected", [min(0.0, -1.5, -1.5)])
    print("x.grad", x.grad.numpy(), "sum", x.grad.numpy().sum(), "expected sum 1 (d out / dh at x + h*(1, 1))")
    if not np.isclose(x.grad.numpy().sum(), 1.0):
        raise SystemExit(f"bug reproduced: the tied atomic_min calls' gradients sum to {x.grad.numpy().sum()}")
    print("not reproduced")


if __name__ == "__main__":
    main()
