# Warp 1.19.0: the value an atomic returns is not available in the backward pass. Every atomic builtin is
# registered with skip_replay=True, so the adjoint kernel's replay of the forward code comments the call out
# (`// var_2 = wp::atomic_exch(...)`) while the variable it assigned stays declared and uninitialised; every
# later use of the result in the adjoint kernel reads that uninitialised variable.
#
# Kernel 1 (found by fuzzing): branch on the result.
#     x = wp.atomic_exch(out, i, 0.0)   # out starts at 0: x = 0 in every thread, so s[i] = b[i]
#     if x < 4.0: s[i] = b[i]
#     else:       s[i] = a[i] * 3.0
#   ds/db = 1, ds/da = 0. Expected a.grad = 0, b.grad = 1; the default CPU build gives a.grad = 3, b.grad = 0
#   (the backward pass takes the other branch).
# Kernel 2: use the result of a differentiable wp.atomic_add as a factor.
#     x = wp.atomic_add(acc, 0, 1.0)    # old value: 0, 1, 2, 3 in launch order; recorded in xs[i]
#     out[i] = a[i] * x
#   d out[i] / d a[i] = x, so with out.grad = 1 the expected a.grad is xs (whatever order the threads ran in);
#   the default CPU build gives NaN.
# The values read depend on what the uninitialised variables hold. Exits with status 1 while the bug is present,
# prints "not reproduced" otherwise.

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


@wp.kernel
def atomic_factor(a: wp.array(dtype=float), acc: wp.array(dtype=float), xs: wp.array(dtype=float),
                  out: wp.array(dtype=float)):
    i = wp.tid()
    x = wp.atomic_add(acc, 0, 1.0)
    xs[i] = x
    out[i] = a[i] * x


def run_branch():
    a = wp.array(np.ones(4, np.float32), dtype=float, device="cpu", requires_grad=True)
    b = wp.array(np.ones(4, np.float32), dtype=float, device="cpu", requires_grad=True)
    out = wp.zeros(4, dtype=float, device="cpu", requires_grad=True)
    s = wp.zeros(4, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(atomic_branch, dim=4, inputs=[a, b, out, s], device="cpu")
    tape.backward(grads={s: wp.ones(4, dtype=float, device="cpu")})
    print("branch: s", s.numpy(), "a.grad", a.grad.numpy(), "b.grad", b.grad.numpy(), "expected a.grad 0, b.grad 1")
    return np.allclose(a.grad.numpy(), 0.0) and np.allclose(b.grad.numpy(), 1.0)


def run_factor():
    a = wp.array(np.ones(4, np.float32), dtype=float, device="cpu", requires_grad=True)
    acc = wp.zeros(1, dtype=float, device="cpu", requires_grad=True)
    xs = wp.zeros(4, dtype=float, device="cpu")
    out = wp.zeros(4, dtype=float, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(atomic_factor, dim=4, inputs=[a, acc, xs, out], device="cpu")
    tape.backward(grads={out: wp.ones(4, dtype=float, device="cpu")})
    print("factor: out", out.numpy(), "a.grad", a.grad.numpy(), "expected", xs.numpy())
    return np.allclose(a.grad.numpy(), xs.numpy())


def main():
    branch_ok = run_branch()
    factor_ok = run_factor()
    if not (branch_ok and factor_ok):
        raise SystemExit("bug reproduced: the backward pass reads an atomic's result uninitialised")
    print("not reproduced")


if __name__ == "__main__":
    main()
