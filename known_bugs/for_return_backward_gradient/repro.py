# Warp 1.19: an early `return` inside a dynamic `for` loop gives a wrong gradient.
#
# Every thread returns inside the loop, so `out[tid] = a[tid]` after the loop never runs: out stays 0 and
# d out / d a = 0. The backward pass still applies the adjoint of that store: a.grad = 1. With a literal
# range (the loop is unrolled) a.grad is 0, as expected. Found by warpsmith's gradient oracle.
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def for_return(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32), n: int):
    tid = wp.tid()
    for i in range(n):
        if a[tid] > 0.0:
            return
    out[tid] = a[tid]


def main():
    a = wp.array(np.ones(2, dtype=np.float32), dtype=wp.float32, device="cpu", requires_grad=True)
    out = wp.zeros(2, dtype=wp.float32, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(for_return, dim=2, inputs=[a, out, 3], device="cpu")
    tape.backward(grads={out: wp.ones(2, dtype=wp.float32, device="cpu")})
    print("out", out.numpy(), "a.grad", a.grad.numpy(), "expected", np.zeros(2))
    if not np.allclose(a.grad.numpy(), 0.0):
        raise SystemExit("bug reproduced: the adjoint of a statement that never ran was applied")
    print("not reproduced")


if __name__ == "__main__":
    main()
