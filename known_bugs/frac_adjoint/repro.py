# Warp 1.19: wp.frac has no adjoint although its derivative is 1 between integers.
#
# warp/native/builtin.h: `adj_frac(x, adj_x, adj_ret) { /* MISSINGADJOINT: gradient is 1 between integers */ }`.
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def fractional_part(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    out[tid] = wp.frac(x[tid])


def main():
    x = wp.array(np.array([0.25, 1.5, -2.75], dtype=np.float32), dtype=wp.float32, requires_grad=True)
    out = wp.zeros(3, dtype=wp.float32, requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(fractional_part, dim=3, inputs=[x, out], device="cpu")
    tape.backward(grads={out: wp.ones_like(out)})
    print("x.grad", x.grad.numpy(), "expected", np.ones(3))
    if not np.allclose(x.grad.numpy(), 1.0):
        raise SystemExit("bug reproduced: wp.frac has no gradient")
    print("not reproduced")


if __name__ == "__main__":
    main()
