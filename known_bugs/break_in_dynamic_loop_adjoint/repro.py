# Warp 1.19: a `break` in a dynamic loop loses adjoints. In a `for` loop (kept dynamic by the break) a thread
# whose loop broke gets no gradient at all from the loop; in a `while` loop it loses the adjoint of the
# iteration that broke. Only threads that never break get the right gradient.
#
#     for j in range(4):
#         acc[t] += a[t]
#         if j >= n[t]:
#             break               # d acc / d a = number of iterations run: 1, 2, 3, 4 for n = 0, 1, 2, 5
#
# Warp gives 0, 0, 0, 4 (for) and 0, 1, 2, 4 (while). Related upstream reports: the adjoint of `continue`
# in dynamic for loops (NVIDIA/warp#1552). Found by warpsmith's gradient oracle (a gradient-mismatch report
# of a 30-minute fuzz). Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def for_break(a: wp.array(dtype=float), n: wp.array(dtype=int), acc: wp.array(dtype=float)):
    t = wp.tid()
    for j in range(4):
        acc[t] += a[t]
        if j >= n[t]:
            break


@wp.kernel
def while_break(a: wp.array(dtype=float), n: wp.array(dtype=int), acc: wp.array(dtype=float)):
    t = wp.tid()
    j = int(0)
    while j < 4:
        acc[t] += a[t]
        if j >= n[t]:
            break
        j = j + 1


def _grad(kernel):
    a = wp.array(np.array([0.5, 1.0, -1.0, 2.0], np.float32), dtype=float, device="cpu", requires_grad=True)
    n = wp.array(np.array([0, 1, 2, 5], np.int32), dtype=int, device="cpu")
    acc = wp.zeros(4, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=4, inputs=[a, n, acc], device="cpu")
    tape.backward(grads={acc: wp.ones(4, dtype=float, device="cpu")})
    return a.grad.numpy()


def main():
    expected = [1.0, 2.0, 3.0, 4.0]  # iterations run per thread
    g_for, g_while = _grad(for_break), _grad(while_break)
    print("for: a.grad", g_for, "while: a.grad", g_while, "expected", expected)
    if not (np.allclose(g_for, expected) and np.allclose(g_while, expected)):
        raise SystemExit("bug reproduced: a break in a dynamic loop loses adjoints")
    print("not reproduced")


if __name__ == "__main__":
    main()
