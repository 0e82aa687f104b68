# Warp 1.19: an int or bool local that a branch read, changed afterwards in a dynamic loop, steers the branch's
# adjoint with the loop's final value:
#
#     c = a[t] > 0.0
#     if c:
#         out[t] = a[t] * 2.0
#     else:
#         out[t] = a[t] * 3.0
#     while w < 2:
#         w = w + 1
#         c = a[0] > 100.0
#
# d out[t] / d a[t] is 2 where a[t] > 0 and 3 elsewhere; Warp gives 3 everywhere (the loop updates c in place and
# the backward pass's `if c` reads False). The forward values are right, at optimization level 0 and 2 alike.
# The user guide's "Dynamic Loops" section says intermediate values of such loops are not kept; this is a read
# *before* the loop. Found by warpsmith's gradient oracle (a gradient-mismatch report of a 30-minute fuzz).
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def branch_then_loop(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    t = wp.tid()
    c = a[t] > 0.0
    if c:
        out[t] = a[t] * 2.0
    else:
        out[t] = a[t] * 3.0
    w = int(0)
    while w < 2:
        w = w + 1
        c = a[0] > 100.0


def main():
    values = np.array([1.0, -1.0, 2.0, -2.0], np.float32)
    a = wp.array(values, dtype=float, device="cpu", requires_grad=True)
    out = wp.zeros(4, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(branch_then_loop, dim=4, inputs=[a, out], device="cpu")
    tape.backward(grads={out: wp.ones(4, dtype=float, device="cpu")})
    expected = np.where(values > 0.0, 2.0, 3.0)
    print("a.grad", a.grad.numpy(), "expected", expected)
    if not np.allclose(a.grad.numpy(), expected):
        raise SystemExit("bug reproduced: the branch's adjoint reads the value the later loop left")
    print("not reproduced")


if __name__ == "__main__":
    main()
