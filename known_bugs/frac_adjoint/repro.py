# Warp 1.19.0: wp.frac(x) has no adjoint although its derivative is 1 between integers.
#
# wp.frac(x) = x - trunc(x) (Warp's docstring), so d frac(x)/dx = 1 for every non-integer x. The builtin is
# registered with is_differentiable=False (documented as "Differentiable: false") and warp/native/builtin.h has
#     adj_frac(x, adj_x, adj_ret) { /* MISSINGADJOINT: gradient is 1 between integers ... */ }
# so the gradient is silently 0 (no warning), while the equivalent `x - wp.trunc(x)` differentiates correctly.
# Inputs x = [0.25, 1.5, -2.75]: expected x.grad = [1, 1, 1]; actual x.grad = [0, 0, 0].
# Exits with status 1 while Warp behaves this way, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def fractional_part(x: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    out[tid] = wp.frac(x[tid])


def main():
    x = wp.array(np.array([0.25, 1.5, -2.75], dtype=np.float32), dtype=wp.float32, requires_grad=True, device="cpu")
    out = wp.zeros(3, dtype=wp.float32, requires_grad=True, device="cpu")
    tape = wp.Tape()
    with tape:
        wp.launch(fractional_part, dim=3, inputs=[x, out], device="cpu")
    tape.backward(grads={out: wp.ones_like(out)})
    print("out", out.numpy(), "expected", x.numpy() - np.trunc(x.numpy()))
    print("x.grad", x.grad.numpy(), "expected", np.ones(3))
    if not np.allclose(x.grad.numpy(), 1.0):
        raise SystemExit("bug reproduced: wp.frac gives no gradient")
    print("not reproduced")


if __name__ == "__main__":
    main()
