# Warp 1.19: after a component of a local vector (or the rotation of a local transform) is overwritten, the
# adjoint of the output still flows to the component's previous value.
#
#     v = a[tid]                  # v holds the input's components
#     v[1] = b[tid][0]            # component 1 now comes from b
#     out[tid] = v                # d out[1] / d a[1] is 0, Warp gives 1
#
# Expected: out = (a.x, b.x, a.z), so with adj_out = (1, 1, 1) a.grad = (1, 0, 1) (the overwritten a.y no longer
# reaches the output). Actual: a.grad = (1, 1, 1): adj_assign_inplace adds adj_v[1] to the new value's adjoint
# but does not clear adj_v[1], so the adjoint also flows on to the old a.y.
# The same with wp.transform_set_rotation(t, q) on t = a[tid]: out = rotation of t = q, so a.grad must be 0 in all
# 7 components; Warp gives 1 in the 4 rotation components (adj_transform_set_rotation leaves adj_t.q in place).
# A vector built from constants and then assigned component by component differentiates correctly (the leaked
# adjoint lands on a constant). Found by warpsmith's gradient oracle (a gradient-mismatch report).
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import numpy as np
import warp as wp


@wp.kernel
def overwrite_component(a: wp.array(dtype=wp.vec3), b: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.vec3)):
    tid = wp.tid()
    v = a[tid]
    v[1] = b[tid][0]
    out[tid] = v


@wp.kernel
def overwrite_rotation(a: wp.array(dtype=wp.transform), q: wp.array(dtype=wp.quat), out: wp.array(dtype=wp.quat)):
    tid = wp.tid()
    t = a[tid]
    wp.transform_set_rotation(t, q[tid])
    out[tid] = wp.transform_get_rotation(t)


def _grad(kernel, first, first_dtype, second, second_dtype, out_dtype, n_out):
    a = wp.array(first, dtype=first_dtype, device="cpu", requires_grad=True)
    b = wp.array(second, dtype=second_dtype, device="cpu", requires_grad=True)
    out = wp.zeros(1, dtype=out_dtype, device="cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=1, inputs=[a, b, out], device="cpu")
    tape.backward(grads={out: wp.array(np.ones((1, n_out), dtype=np.float32), dtype=out_dtype, device="cpu")})
    return a.grad.numpy()[0]


def main():
    g = _grad(overwrite_component, np.array([[1.0, 2.0, 3.0]], np.float32), wp.vec3,
              np.array([[4.0, 5.0, 6.0]], np.float32), wp.vec3, wp.vec3, 3)
    print("vector: a.grad", g, "expected", [1.0, 0.0, 1.0])
    h = _grad(overwrite_rotation, np.array([[1, 2, 3, 0.1, 0.2, 0.3, 0.9]], np.float32), wp.transform,
              np.array([[0.5, 0.5, 0.5, 0.5]], np.float32), wp.quat, wp.quat, 4)
    print("transform: a.grad", h, "expected", [0.0] * 7)
    if not (np.allclose(g, [1.0, 0.0, 1.0]) and np.allclose(h, 0.0)):
        raise SystemExit("bug reproduced: an overwritten component still receives the adjoint")
    print("not reproduced")


if __name__ == "__main__":
    main()
