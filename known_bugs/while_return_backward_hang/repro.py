# Warp 1.19: the backward pass of a kernel whose `while` loop returns early never ends.
#
# The forward pass returns from the loop in its first iteration; tape.backward() then spins forever in the
# kernel's adjoint (100 % CPU). The same loop with `break` instead of `return`, or a `for` loop over a
# literal range (unrolled), is fine. The backward pass runs in a daemon thread here so that the script can
# report the hang. Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

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
    a = wp.array(np.ones(2, dtype=np.float32), dtype=wp.float32, requires_grad=True)
    out = wp.zeros(2, dtype=wp.float32, requires_grad=True)
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
        print("bug reproduced: the backward pass did not finish within 10 s", flush=True)
        os._exit(1)  # the adjoint kernel is still spinning in native code
    print("a.grad", a.grad.numpy(), "(expected [0. 0.])")
    print("not reproduced")


if __name__ == "__main__":
    main()
