# Warp 1.19: a `continue` in a dynamic loop loses adjoints. In a `while` loop, a thread whose iteration took
# the `continue` gets no gradient at all from the loop, even from statements that ran before the continue:
#
#     x = wp.cos(a[t])
#     while w < 3:
#         w = w + 1
#         wp.atomic_add(acc, 0, wp.atan2(x, 0.75))
#         if a[0] < x:
#             continue
#
# d acc / d a[t] = 3 * d atan2(x, 0.75)/dx * (-sin a[t]) in every thread; Warp gives 0 in the threads where
# a[0] < x. The same loop without the `if ...: continue` is right. Related upstream report: the adjoint of
# `continue` in dynamic for loops (NVIDIA/warp#1552). Found by warpsmith's gradient oracle (a gradient-mismatch
# report of a 10-minute fuzz). Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def while_continue(a: wp.array(dtype=float), acc: wp.array(dtype=float)):
    t = wp.tid()
    x = wp.cos(a[t])
    w = int(0)
    while w < 3:
        w = w + 1
        wp.atomic_add(acc, 0, wp.atan2(x, 0.75))
        if a[0] < x:
            continue


def main():
    values = np.array([0.3, -1.2, 2.0, 0.7], np.float32)
    a = wp.array(values, dtype=float, device="cpu", requires_grad=True)
    acc = wp.zeros(1, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(while_continue, dim=4, inputs=[a, acc], device="cpu")
    tape.backward(grads={acc: wp.ones(1, dtype=float, device="cpu")})
    x = np.cos(values.astype(np.float64))
    expected = 3 * (0.75 / (x * x + 0.75**2)) * -np.sin(values.astype(np.float64))
    print("a.grad", a.grad.numpy(), "expected", expected)
    if not np.allclose(a.grad.numpy(), expected, rtol=1e-4, atol=1e-5):
        raise SystemExit("bug reproduced: a continue in a while loop loses the adjoint of its thread")
    print("not reproduced")


if __name__ == "__main__":
    main()
