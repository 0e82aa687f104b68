# Warp 1.19: `if c: A else: B` runs B too when a dynamic loop inside A assigns `c` (forward pass, CPU).
#
#     c = a[tid] > -100.0          # True for every input below
#     if c:
#         w = int(0)
#         while w < 2:             # a dynamic loop (every while loop is)
#             w = w + 1
#             c = a[tid] > 100.0   # False for every input below
#         out[tid] = 2.0
#     else:
#         out[tid] = 3.0
#
# Python semantics: the `else` branch runs only when the `if` branch did not, so out = [2, 2, 2] (c is True on
# entry for every a[tid] > -100). Actual: out = [3, 3, 3]. Warp lowers `if c: A else: B` to
# `if (c) {A} if (!c) {B}`, and the loop updates c's variable in place (`wp::assign`), so `!c` is re-read after A
# and B runs as well, overwriting A's store. A `for` loop over a literal range (unrolled) gives [2, 2, 2].
# Found by warpsmith as a forward-result mismatch (a 30-minute fuzz). Exits with status 1 while the bug is
# present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def if_else_loop(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    c = a[tid] > -100.0
    if c:
        w = int(0)
        while w < 2:
            w = w + 1
            c = a[tid] > 100.0
        out[tid] = 2.0
    else:
        out[tid] = 3.0


def main():
    values = np.array([1.0, -1.0, 2.0], np.float32)
    a = wp.array(values, dtype=wp.float32, device="cpu")
    out = wp.zeros(3, dtype=wp.float32, device="cpu")
    wp.launch(if_else_loop, dim=3, inputs=[a, out], device="cpu")
    expected = np.where(values > -100.0, 2.0, 3.0)  # the branch taken on entry; the else branch must not run
    print("out", out.numpy(), "expected", expected)
    if not np.array_equal(out.numpy(), expected):
        raise SystemExit("bug reproduced: the else branch ran after the if branch's loop changed the condition")
    print("not reproduced")


if __name__ == "__main__":
    main()
