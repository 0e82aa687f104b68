# Warp 1.19.0, CPU: wp.erfinv / wp.erfcinv lose all accuracy for small arguments.
#
# On the CPU, Warp evaluates both functions with its own double-precision port of Cephes ndtri
# (warp/native/crt.h): erfinv(z) = ndtri((z + 1) / 2) / sqrt(2) and erfcinv(x) = erfinv(1 - x),
# float32 going through double. Forming z + 1 and 1 - x in double discards the small argument:
#   * erfinv(z) returns 0 for |z| < ~1.1e-16 (true value ~0.8862 * z), and has large relative
#     errors well above that (float64 erfinv(1e-10): relative error ~8e-8, i.e. ~6e8 ulp);
#   * erfcinv(x) returns inf for 0 < x < ~1.1e-16 (true value is finite: erfcinv(1e-20) = 6.6016).
# Expected values: solved from erf(t) = z and erfc(t) = x with Python's math.erf / math.erfc and
# Newton steps in float64 (they agree with mpmath's erfinv at 60 digits to the last digit or two).
import math

import numpy as np
import warp as wp


@wp.kernel
def inv32(x: wp.array(dtype=wp.float32), a: wp.array(dtype=wp.float32), b: wp.array(dtype=wp.float32)):
    i = wp.tid()
    a[i] = wp.erfinv(x[i])
    b[i] = wp.erfcinv(x[i])


@wp.kernel
def inv64(x: wp.array(dtype=wp.float64), a: wp.array(dtype=wp.float64), b: wp.array(dtype=wp.float64)):
    i = wp.tid()
    a[i] = wp.erfinv(x[i])
    b[i] = wp.erfcinv(x[i])


def erfinv_ref(z):
    t = z * math.sqrt(math.pi) / 2.0
    for _ in range(4):
        t -= (math.erf(t) - z) / (2.0 / math.sqrt(math.pi) * math.exp(-t * t))
    return t


def erfcinv_ref(x):
    t = math.sqrt(-math.log(x))
    for _ in range(6):  # Newton on log(erfc(t)) - log(x)
        t -= (math.log(math.erfc(t)) - math.log(x)) / (-2.0 / math.sqrt(math.pi) * math.exp(-t * t) / math.erfc(t))
    return t


INPUTS = [1e-30, 1e-20, 1e-10, 0.5]
bad = []
for kernel, dtype, rtol in ((inv32, wp.float32, 1e-6), (inv64, wp.float64, 1e-13)):
    x = wp.array(INPUTS, dtype=dtype, device="cpu")
    a = wp.zeros_like(x)
    b = wp.zeros_like(x)
    wp.launch(kernel, dim=len(INPUTS), inputs=[x, a, b], device="cpu")
    for xi, ai, bi in zip(x.numpy(), a.numpy(), b.numpy()):
        for name, got, want in (("erfinv", ai, erfinv_ref(float(xi))), ("erfcinv", bi, erfcinv_ref(float(xi)))):
            ok = math.isfinite(float(got)) and abs(float(got) - want) <= rtol * abs(want)
            print(f"{dtype.__name__:8s} {name}({float(xi):.17g}) = {float(got)!r}  expected {want!r}  {'ok' if ok else 'WRONG'}")
            if not ok:
                bad.append(f"{dtype.__name__} {name}({float(xi):.3g}) = {float(got)!r}, expected {want:.6g}")

if bad:
    raise SystemExit(f"bug reproduced: {len(bad)} wrong values, e.g. " + "; ".join(bad[:2]))
print("not reproduced")
