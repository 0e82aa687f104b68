# Warp 1.19: the value an atomic returns is not recomputed in the backward pass. Every atomic builtin is
# registered with skip_replay=True, so the adjoint kernel's replay of the forward code comments the call out
# (`// var_x = wp::atomic_exch(...)`) and later statements read the variable uninitialised. A branch on it
# can go the other way in the backward pass than it went in the forward pass:
#
#     x = wp.atomic_exch(out, i, 0.0)   # out starts at 0: x = 0 in every thread, so s[i] = b[i]
#     if x < 4.0:
#         s[i] = b[i]
#     else:
#         s[i] = a[i] * 3.0
#
# d s / d b = 1 and d s / d a = 0; Warp's default CPU build gives b.grad = 0, a.grad = 3 (the value it reads
# depends on the build: what an uninitialised variable holds). Found by warpsmith's gradient oracle (a
# gradient-mismatch report of a 10-minute fuzz). Exits with status 1 while the bug is present, prints
# "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def atomic_branch(a: wp.array(dtype=float), b: wp.array(dtype=float), out: wp.array(dtype=float),
                  s: wp.array(dtype=float)):
    i = wp.tid()
    x = wp.atomic_exch(out, i, 0.0)
    if x < 4.0:
        s[i] = b[i]
    else:
        s[i] = a[i] * 3.0
    out[i] = a[i] * 10.0


def main():
    a = wp.array(np.ones(4, np.float32), dtype=float, device="cpu", requires_grad=True)
    b = wp.array(np.ones(4, np.float32), dtype=float, device="cpu", requires_grad=True)
    out = wp.zeros(4, dtype=float, device="cpu", requires_grad=True)
    s = wp.zeros(4, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(atomic_branch, dim=4, inputs=[a, b, out, s], device="cpu")
    tape.backward(grads={s: wp.ones(4, dtype=float, device="cpu")})
    print("s", s.numpy(), "a.grad", a.grad.numpy(), "b.grad", b.grad.numpy(), "expected a.grad 0, b.grad 1")
    if not (np.allclose(a.grad.numpy(), 0.0) and np.allclose(b.grad.numpy(), 1.0)):
        raise SystemExit("bug reproduced: the backward pass reads the atomic's result uninitialised")
    print("not reproduced")


if __name__ == "__main__":
    main()
