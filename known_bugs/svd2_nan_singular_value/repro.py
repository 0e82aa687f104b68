# Warp 1.19.0, CPU: wp.svd2 returns NaN as the second singular value of some rank-1 2x2 matrices.
#
# svd.h `_svd_2` computes the eigenvalues of A^T A in closed form,
#     lambda2 = (trace - sqrt(discriminant)) * 0.5,  sigma2 = sqrt(lambda2),
# without clamping lambda2 at 0. For a rank-1 matrix lambda2 is 0 in exact arithmetic; rounding can
# make it a tiny negative number, and sqrt() of it is NaN.
# A = [[7, 0.1], [7, 0.1]] (rank 1): Warp gives sigma = (9.900505, nan) in float32 and float64.
# Expected: numpy.linalg.svd gives (9.90050504, ~0); singular values are never NaN for a finite
# matrix, and 0 is the right second value here (the two rows are equal).
import math

import numpy as np
import warp as wp


@wp.kernel
def svd2_f32(a: wp.array(dtype=wp.mat22), s: wp.array(dtype=wp.vec2)):
    U = wp.mat22()
    sigma = wp.vec2()
    V = wp.mat22()
    wp.svd2(a[0], U, sigma, V)
    s[0] = sigma


@wp.kernel
def svd2_f64(a: wp.array(dtype=wp.mat22d), s: wp.array(dtype=wp.vec2d)):
    U = wp.mat22d()
    sigma = wp.vec2d()
    V = wp.mat22d()
    wp.svd2(a[0], U, sigma, V)
    s[0] = sigma


A = [[7.0, 0.1], [7.0, 0.1]]
expected = np.linalg.svd(np.array(A, dtype=np.float64), compute_uv=False)
print("numpy singular values:", expected)

bad = []
for kernel, mat, vec, np_dtype, tol in (
    (svd2_f32, wp.mat22, wp.vec2, np.float32, 1e-5),
    (svd2_f64, wp.mat22d, wp.vec2d, np.float64, 1e-12),
):
    a = wp.array(np.array([A], dtype=np_dtype), dtype=mat, device="cpu")
    s = wp.zeros(1, dtype=vec, device="cpu")
    wp.launch(kernel, dim=1, inputs=[a, s], device="cpu")
    got = s.numpy()[0]
    print(f"wp.svd2 {np_dtype.__name__}: sigma = {got}")
    # sigma2 may be any tiny non-negative value (rounding), but must not be NaN
    ok = all(math.isfinite(float(g)) for g in got) and abs(float(got[0]) - expected[0]) <= tol * expected[0] \
        and 0.0 <= float(got[1]) <= tol * expected[0]
    if not ok:
        bad.append(f"{np_dtype.__name__} sigma = {got.tolist()}")

if bad:
    raise SystemExit("bug reproduced: wp.svd2([[7, 0.1], [7, 0.1]]) gives " + "; ".join(bad))
print("not reproduced")
