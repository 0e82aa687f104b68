# Warp 1.19: the backward pass of a kernel whose `while` loop returns early never ends.
#
# The forward pass returns from the loop in its first iteration (a[tid] = 1 > 0), so `out` stays 0 and
# tape.backward() should finish with a.grad = [0, 0] (d out / d a = 0: the store after the loop never ran).
# Actual: tape.backward() never returns; the kernel's adjoint spins at 100 % CPU. In the adjoint, the replayed
# `return` becomes `goto` past the loop-counter update `w = w + 1`, so `while w < 3` never ends.
# The same loop with `break` instead of `return`, or a `for` loop over a literal range (unrolled), is fine.
# The backward pass runs in a daemon thread here so that the script can report the hang after 10 s.
# Found by warpsmith's gradient oracle (a collect run that hung). Exits with status 1 while the bug is present,
# prints "not reproduced" otherwise.

import os
import threading

import numpy as np
import warp as wp


@wp.kernel
def while_return(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    tid = wp.tid()
    w = int(0)
    while w < 3:
        w = w + 1
        if a[tid] > 0.0:
            return
    out[tid] = a[tid]


def main():
    a = wp.array(np.ones(2, dtype=np.float32), dtype=wp.float32, device="cpu", requires_grad=True)
    out = wp.zeros(2, dtype=wp.float32, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(while_return, dim=2, inputs=[a, out], device="cpu")
    wp.synchronize_device("cpu")
    print("forward pass done:", out.numpy())
    done = threading.Event()

    def backward():
        tape.backward(grads={out: wp.ones_like(out)})
        done.set()

    threading.Thread(target=backward, daemon=True).start()
    if not done.wait(10.0):
        print("actual: tape.backward() still running after 10 s; expected: it finishes with a.grad = [0. 0.]")
        print("bug reproduced: the backward pass of a while loop that returned early does not finish", flush=True)
        os._exit(1)  # the adjoint kernel is still spinning in native code
    print("a.grad", a.grad.numpy(), "(expected [0. 0.])")
    print("not reproduced")


if __name__ == "__main__":
    main()
