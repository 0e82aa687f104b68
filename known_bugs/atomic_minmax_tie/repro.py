# Warp 1.19: with a tie, wp.atomic_min / wp.atomic_max give the adjoint to every tied call.
#
# Two threads store the same value with wp.atomic_min into one element. min(x0, x1) at x0 == x1 is not
# differentiable; any one-sided derivative sends 1 to one of the two inputs (gradients summing to 1).
# warp/native/array.h adj_atomic_minmax adds the output adjoint to every call whose value equals the stored
# result, so both inputs get 1 (the sum is 2). The gradient oracle excludes ties as non-differentiable points.
# Exits with status 1 while Warp behaves this way, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def tied_min(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    wp.atomic_min(out, 0, x[tid])


def main():
    x = wp.array(np.array([-1.5, -1.5], dtype=np.float32), dtype=wp.float32, requires_grad=True)
    out = wp.zeros(1, dtype=wp.float32, requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(tied_min, dim=2, inputs=[x, out], device="cpu")
    tape.backward(grads={out: wp.ones_like(out)})
    print("out", out.numpy(), "x.grad", x.grad.numpy(), "(a one-sided derivative sums to 1)")
    if not np.isclose(x.grad.numpy().sum(), 1.0):
        raise SystemExit(f"bug reproduced: the tied calls' gradients sum to {x.grad.numpy().sum()}")
    print("not reproduced")


if __name__ == "__main__":
    main()
