"""The faults ``benchmarks/faults.py`` injects into a scratch copy of Warp, and the code that applies them.

Every fault is a data record: the file (relative to the ``warp`` package), an anchor text that must occur
exactly once in it, its replacement, a category, a one-line description, and a probe. A probe is the body
of a small script run against the patched copy (Warp on the CPU, fresh kernel cache); the script prints
one line of values, starting with ``PROBE``. The same probe run against the unpatched Warp gives the expected line; a probe whose
two lines are equal shows the fault has no effect (``inert``).

Probe helpers available to every probe (defined in :data:`PROBE_PRELUDE`):

* ``fwd(kernel, *inputs, n=1, dtype=wp.float32)`` launches ``kernel(out, *inputs)`` on ``n`` threads
  (numpy inputs become float32/int32 arrays, other values pass through) and prints ``out``;
* ``grad(kernel, x)`` launches ``kernel(out, x)`` under a tape with ``x`` float32, back-propagates ones from
  ``out`` and prints ``x.grad``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

CATEGORIES = ("scalar", "small-error", "operator", "linalg", "codegen", "adjoint")


@dataclass(frozen=True)
class Fault:
    id: str
    file: str  # relative to the warp package directory
    find: str  # must occur exactly once in the file
    replace: str
    category: str
    description: str
    probe: str  # script body; see the module docstring


class AnchorError(Exception):
    """A fault's anchor is missing from its file or occurs more than once (Warp changed)."""


PROBE_PRELUDE = '''
import numpy as np
import warp as wp

wp.config.quiet = True
wp.init()


def _arr(a):
    if isinstance(a, np.ndarray):
        return wp.array(a, dtype=wp.int32 if a.dtype.kind in "iu" else wp.float32)
    return a


def fwd(kernel, *inputs, n=1, dtype=wp.float32):
    out = wp.zeros(n, dtype=dtype)
    wp.launch(kernel, dim=n, inputs=[out, *[_arr(a) for a in inputs]], device="cpu")
    print("PROBE", np.array2string(out.numpy(), precision=9, floatmode="maxprec"))


def grad(kernel, x, n=None):
    x = wp.array(np.asarray(x, dtype=np.float32), dtype=wp.float32, requires_grad=True)
    out = wp.zeros(n or len(x), dtype=wp.float32, requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=len(out), inputs=[out, x], device="cpu")
    tape.backward(grads={out: wp.ones(len(out), dtype=wp.float32)})
    print("PROBE", np.array2string(x.grad.numpy(), precision=9, floatmode="maxprec"))
'''


def _unary(expr: str, values: str, dtype: str = "float") -> str:
    """A probe printing ``expr`` (of ``x = a[tid]``) for each of ``values``."""
    return f'''
@wp.kernel
def k(out: wp.array(dtype={dtype}), a: wp.array(dtype={dtype})):
    tid = wp.tid()
    x = a[tid]
    out[tid] = {expr}

v = np.array({values}, dtype=np.{"float32" if dtype == "float" else "int32"})
fwd(k, v, n=len(v), dtype=wp.{"float32" if dtype == "float" else "int32"})
'''


def _binary(expr: str, xs: str, ys: str, dtype: str = "float") -> str:
    """A probe printing ``expr`` of ``x = a[tid]``, ``y = b[tid]`` elementwise."""
    np_dtype = {"float": "float32", "int": "int32"}.get(dtype, dtype.replace("wp.", ""))
    return f'''
@wp.kernel
def k(out: wp.array(dtype={dtype}), a: wp.array(dtype={dtype}), b: wp.array(dtype={dtype})):
    tid = wp.tid()
    x = a[tid]
    y = b[tid]
    out[tid] = {expr}

xs = np.array({xs}, dtype=np.{np_dtype})
ys = np.array({ys}, dtype=np.{np_dtype})
fwd(k, wp.array(xs, dtype={dtype}), wp.array(ys, dtype={dtype}), n=len(xs), dtype={dtype})
'''


def _body(body: str, values: str = "[0.5, -1.25, 2.0]") -> str:
    """A probe whose kernel body (indented 4, ``x = a[tid]`` given) ends by storing ``out[tid]``."""
    return f'''
@wp.kernel
def k(out: wp.array(dtype=float), a: wp.array(dtype=float)):
    tid = wp.tid()
    x = a[tid]
{body}

v = np.array({values}, dtype=np.float32)
fwd(k, v, n=len(v))
'''


def _grad(expr: str, values: str = "[0.3, -0.7, 1.9]", setup: str = "") -> str:
    """A probe printing d(expr)/dx at each of ``values`` (``setup``: statements after ``x = a[tid]``)."""
    return f'''
@wp.kernel
def k(out: wp.array(dtype=float), a: wp.array(dtype=float)):
    tid = wp.tid()
    x = a[tid]
    {setup}
    out[tid] = {expr}

grad(k, {values})
'''


B = "native/builtin.h"
V = "native/vec.h"
M = "native/mat.h"
Q = "native/quat.h"
S = "native/spatial.h"
R = "native/range.h"
CG = "_src/codegen.py"
BI = "_src/builtins.py"

FAULTS: tuple[Fault, ...] = (
    # ---- forward scalar builtins -------------------------------------------------------------------
    Fault("float-add-off-by-one", B,
          "inline CUDA_CALLABLE T add(T a, T b) { return a+b; } \\\ninline CUDA_CALLABLE T sub(T a, T b) { return a-b; } \\\ninline CUDA_CALLABLE T min(T a, T b) { return _wp_native_fmin(a, b); }",
          "inline CUDA_CALLABLE T add(T a, T b) { return a+b+T(1); } \\\ninline CUDA_CALLABLE T sub(T a, T b) { return a-b; } \\\ninline CUDA_CALLABLE T min(T a, T b) { return _wp_native_fmin(a, b); }",
          "scalar", "float a + b returns a + b + 1 (badly wrong everywhere)", _binary("x + y", "[1.0, 2.5]", "[3.0, -1.0]")),
    Fault("float-mul-scaled", B,
          "inline CUDA_CALLABLE T mul(T a, T b) { return a*b; } \\\ninline CUDA_CALLABLE T add(T a, T b) { return a+b; } \\",
          "inline CUDA_CALLABLE T mul(T a, T b) { return a*b*T(1.5); } \\\ninline CUDA_CALLABLE T add(T a, T b) { return a+b; } \\",
          "scalar", "float a * b returns 1.5 a b (badly wrong everywhere)", _binary("x * y", "[1.0, 2.5]", "[3.0, -1.0]")),
    Fault("cos-negative-shift", B,
          "inline CUDA_CALLABLE float cos(float x) { return ::cosf(x); }",
          "inline CUDA_CALLABLE float cos(float x) { return ::cosf(x < 0.0f ? x - 1e-3f : x); }",
          "scalar", "float32 cos(x) evaluates cos(x - 1e-3) for negative x only", _unary("wp.cos(x)", "[0.5, -0.5]")),
    Fault("log-below-one", B,
          "printf(\"%s:%d log(%f)\\n\", __FILE__, __LINE__, a);\n        assert(0);\n    }\n#endif\n    return ::logf(a);",
          "printf(\"%s:%d log(%f)\\n\", __FILE__, __LINE__, a);\n        assert(0);\n    }\n#endif\n    return a < 1.0f ? ::logf(a) * 1.01f : ::logf(a);",
          "scalar", "float32 log(a) is 1% too large in magnitude for a < 1 only", _unary("wp.log(x)", "[0.5, 2.0]")),
    Fault("pow-negative-exponent", B,
          "float result = ::powf(a, b);",
          "float result = b < 0.0f ? ::powf(a, b * 1.01f) : ::powf(a, b);",
          "scalar", "float32 pow(a, b) uses 1.01 b for negative exponents only", _binary("wp.pow(x, y)", "[2.0, 2.0]", "[-1.5, 1.5]")),
    Fault("atan2-quadrant", B,
          "inline CUDA_CALLABLE float atan2(float y, float x) { return ::atan2f(y, x); }",
          "inline CUDA_CALLABLE float atan2(float y, float x) { return x < 0.0f ? ::atanf(y / x) : ::atan2f(y, x); }",
          "scalar", "float32 atan2(y, x) loses the quadrant when x < 0 (atan(y/x))", _binary("wp.atan2(x, y)", "[1.0, 1.0]", "[2.0, -2.0]")),
    Fault("floor-as-trunc", B,
          "inline CUDA_CALLABLE float floor(float x) { return ::floorf(x); }",
          "inline CUDA_CALLABLE float floor(float x) { return ::truncf(x); }",
          "scalar", "float32 floor truncates: wrong only for negative non-integers", _unary("wp.floor(x)", "[1.5, -1.5]")),
    Fault("round-halves-to-even", B,
          "inline CUDA_CALLABLE float round(float x) { return ::roundf(x); }",
          "inline CUDA_CALLABLE float round(float x) { return ::rintf(x); }",
          "scalar", "float32 round rounds halves to even: wrong only for x.5 with even x", _unary("wp.round(x)", "[1.3, 2.5, -2.5]")),
    Fault("rint-halves-away", B,
          "inline CUDA_CALLABLE float rint(float x) { return ::rintf(x); }",
          "inline CUDA_CALLABLE float rint(float x) { return ::roundf(x); }",
          "scalar", "float32 rint rounds halves away from zero: wrong only for halves", _unary("wp.rint(x)", "[1.3, 2.5, -0.5]")),
    Fault("trunc-as-floor", B,
          "inline CUDA_CALLABLE float trunc(float x) { return ::truncf(x); }",
          "inline CUDA_CALLABLE float trunc(float x) { return ::floorf(x); }",
          "scalar", "float32 trunc floors: wrong only for negative non-integers", _unary("wp.trunc(x)", "[1.5, -1.5]")),
    Fault("abs-negative-scaled", B,
          "inline CUDA_CALLABLE float abs(float x) { return ::fabsf(x); }",
          "inline CUDA_CALLABLE float abs(float x) { return x < 0.0f ? -x * 1.001f : x; }",
          "scalar", "float32 abs(x) is 1e-3 too large for negative x only", _unary("wp.abs(x)", "[1.5, -1.5]")),
    Fault("sign-of-zero", B,
          "inline CUDA_CALLABLE T sign(T x) { return x < T(0) ? -1 : 1; } \\",
          "inline CUDA_CALLABLE T sign(T x) { return x <= T(0) ? -1 : 1; } \\",
          "scalar", "float sign(0) returns -1 (wrong only at zero)", _unary("wp.sign(x)", "[0.0, 2.0, -2.0]")),
    Fault("float-min-ties", B,
          "inline CUDA_CALLABLE T min(T a, T b) { return _wp_native_fmin(a, b); } \\",
          "inline CUDA_CALLABLE T min(T a, T b) { return a == b ? T(a + T(1)) : _wp_native_fmin(a, b); } \\",
          "scalar", "float min(a, b) returns a + 1 at ties a == b only", _binary("wp.min(x, y)", "[1.0, 2.0]", "[1.0, 3.0]")),
    Fault("int-max-negatives", B,
          "inline CUDA_CALLABLE T max(T a, T b) { return a>b?a:b; } \\",
          "inline CUDA_CALLABLE T max(T a, T b) { return (a < T(0) && b < T(0)) ? (a<b?a:b) : (a>b?a:b); } \\",
          "scalar", "int max(a, b) returns the minimum when both operands are negative", _binary("wp.max(x, y)", "[3, -3]", "[5, -5]", "int")),
    Fault("clamp-ignores-upper", B,
          "inline CUDA_CALLABLE T clamp(T x, T a, T b) { return _wp_native_fmin(_wp_native_fmax(a, x), b); }\\",
          "inline CUDA_CALLABLE T clamp(T x, T a, T b) { return _wp_native_fmax(a, x); }\\",
          "scalar", "float clamp(x, a, b) ignores the upper bound (wrong only for x > b)", _unary("wp.clamp(x, -1.0, 1.0)", "[0.5, 3.0]")),
    # ---- small relative errors ---------------------------------------------------------------------
    Fault("sin-rel-1e-3", B,
          "inline CUDA_CALLABLE float sin(float x) { return ::sinf(x); }",
          "inline CUDA_CALLABLE float sin(float x) { return ::sinf(x) * 1.001f; }",
          "small-error", "float32 sin is 1e-3 relative too large", _unary("wp.sin(x)", "[0.5, -2.0]")),
    Fault("exp-rel-1e-5", B,
          "float result = ::expf(a);",
          "float result = ::expf(a) * 1.00001f;",
          "small-error", "float32 exp is 1e-5 relative too large", _unary("wp.exp(x)", "[0.5, -2.0]")),
    Fault("sqrt-rel-1e-7", B,
          "#endif\n    return ::sqrtf(x);\n}\ninline CUDA_CALLABLE double sqrt(double x)",
          "#endif\n    return ::sqrtf(x) * 1.0000001f;\n}\ninline CUDA_CALLABLE double sqrt(double x)",
          "small-error", "float32 sqrt is 1e-7 relative (about 1 ulp) too large", _unary("wp.sqrt(x)", "[2.0, 3.0, 5.0]")),
    Fault("length3-rel-1e-3", V,
          "return sqrt(a.c[0] * a.c[0] + a.c[1] * a.c[1] + a.c[2] * a.c[2]);",
          "return sqrt(a.c[0] * a.c[0] + a.c[1] * a.c[1] + a.c[2] * a.c[2]) * Type(1.001);",
          "small-error", "length of a vec3 is 1e-3 relative too large", _unary("wp.length(wp.vec3(x, 1.0, 2.0))", "[0.5, -3.0]")),
    Fault("dot3-rel-1e-5", V,
          "return a.c[0] * b.c[0] + a.c[1] * b.c[1] + a.c[2] * b.c[2];",
          "return (a.c[0] * b.c[0] + a.c[1] * b.c[1] + a.c[2] * b.c[2]) * Type(1.00001);",
          "small-error", "dot of two vec3 is 1e-5 relative too large", _unary("wp.dot(wp.vec3(x, 1.0, 2.0), wp.vec3(3.0, x, 0.5))", "[0.5, -3.0]")),
    # ---- operators -----------------------------------------------------------------------------------
    Fault("int-div-floors", B,
          "inline CUDA_CALLABLE T div(T a, T b) { return a/b; } \\",
          "inline CUDA_CALLABLE T div(T a, T b) { T q = a/b; return (T(q*b) != a && ((a < T(0)) != (b < T(0)))) ? T(q - T(1)) : q; } \\",
          "operator", "int a / b floors instead of truncating (wrong only for negative non-exact quotients)",
          _binary("x / y", "[7, -7, 7, -8]", "[2, 2, -2, 2]", "int")),
    Fault("int-mod-python-sign", B,
          "inline CUDA_CALLABLE T mod(T a, T b) { return a%b; } \\",
          "inline CUDA_CALLABLE T mod(T a, T b) { T r = a%b; return (r != T(0) && ((r < T(0)) != (b < T(0)))) ? T(r + b) : r; } \\",
          "operator", "int a % b takes the divisor's sign (Python) instead of the dividend's (wrong only for mixed signs)",
          _binary("x % y", "[7, -7, 7]", "[2, 2, -2]", "int")),
    Fault("lte-as-lt", CG,
          'builtin_operators[ast.LtE] = "<="',
          'builtin_operators[ast.LtE] = "<"',
          "operator", "a <= b is emitted as a < b (wrong only at ties)",
          _binary("wp.where(x <= y, 1.0, 0.0)", "[1.0, 2.0, 3.0]", "[2.0, 2.0, 2.0]")),
    Fault("float-eq-as-lte", CG,
          '                comp_var = adj.load(comp)\n                s += op + " " + comp_var.emit() + ") "',
          '                comp_var = adj.load(comp)\n                s += ("<=" if op == "==" and "float" in str(comp_var.type) else op) + " " + comp_var.emit() + ") "',
          "operator", "a == b on floats is emitted as a <= b (ints unaffected)",
          _binary("wp.where(x == y, 1.0, 0.0)", "[1.0, 2.0, 3.0]", "[2.0, 2.0, 2.0]")),
    Fault("bit-xor-as-or", B,
          "inline CUDA_CALLABLE T bit_xor(T a, T b) { return a^b; } \\",
          "inline CUDA_CALLABLE T bit_xor(T a, T b) { return a|b; } \\",
          "operator", "int a ^ b computes a | b (wrong where both have a bit set)", _binary("x ^ y", "[12, 1]", "[10, 2]", "int")),
    Fault("lshift-wide", B,
          "inline CUDA_CALLABLE T lshift(T a, T b) { return a<<b; } \\",
          "inline CUDA_CALLABLE T lshift(T a, T b) { return b >= T(16) ? T(0) : T(a<<b); } \\",
          "operator", "int a << b returns 0 for shifts b >= 16 only", _binary("x << y", "[3, 3]", "[4, 20]", "int")),
    Fault("unsigned-sub-saturates", B,
          "inline CUDA_CALLABLE T add(T a, T b) { return a+b; } \\\ninline CUDA_CALLABLE T sub(T a, T b) { return a-b; } \\\ninline CUDA_CALLABLE T mod(T a, T b) { return a%b; } \\",
          "inline CUDA_CALLABLE T add(T a, T b) { return a+b; } \\\ninline CUDA_CALLABLE T sub(T a, T b) { return (T(-1) > T(0) && b > a) ? T(0) : T(a-b); } \\\ninline CUDA_CALLABLE T mod(T a, T b) { return a%b; } \\",
          "operator", "unsigned a - b saturates at 0 instead of wrapping (signed unaffected)",
          _binary("x - y", "[5, 3]", "[3, 5]", "wp.uint32")),
    # ---- vector / matrix / quaternion / transform -----------------------------------------------------
    Fault("dot2-sign", V,
          "return a.c[0] * b.c[0] + a.c[1] * b.c[1];",
          "return a.c[0] * b.c[0] - a.c[1] * b.c[1];",
          "linalg", "dot of two vec2 subtracts the second product (vec3/vec4 unaffected)",
          _unary("wp.dot(wp.vec2(x, 2.0), wp.vec2(3.0, x))", "[0.5, -3.0]")),
    Fault("cross-y-sign", V,
          "Type(a[2] * b[0] - a[0] * b[2])",
          "Type(a[0] * b[2] - a[2] * b[0])",
          "linalg", "cross(a, b).y has the wrong sign", _unary("wp.cross(wp.vec3(x, 1.0, 2.0), wp.vec3(3.0, x, 0.5))[1]", "[0.5, -3.0]")),
    Fault("normalize3-rel-1e-3", V,
          "return vec_t<3, Type>(a.c[0] / l, a.c[1] / l, a.c[2] / l);",
          "return vec_t<3, Type>(a.c[0] / l, a.c[1] / l, a.c[2] / l * Type(1.001));",
          "linalg", "normalize of a vec3: z component 1e-3 relative too large",
          _unary("wp.normalize(wp.vec3(x, 1.0, 2.0))[2]", "[0.5, -3.0]")),
    Fault("matmul-transposes-a", M,
          "sum = muladd<Type>(a.data[i][k], b.data[k][j], sum);",
          "sum = muladd<Type>(a.data[k][i], b.data[k][j], sum);",
          "linalg", "matrix @ matrix computes transpose(a) @ b",
          _unary("(wp.mat22(x, 1.0, 2.0, 3.0) @ wp.mat22(1.0, x, 0.5, 2.0))[0, 1]", "[0.5, -3.0]")),
    Fault("matvec-skips-column-1", M,
          "vec_t<Rows, Type> r = a.get_col(0) * b[0];\n    for (unsigned i = 1; i < Cols; ++i) {",
          "vec_t<Rows, Type> r = a.get_col(0) * b[0];\n    for (unsigned i = (Cols > 2 ? 2 : 1); i < Cols; ++i) {",
          "linalg", "matrix @ vector drops column 1 for 3+ columns only (mat22 unaffected)",
          _unary("(wp.mat33(x, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0) @ wp.vec3(1.0, x, 2.0))[0]", "[0.5, -3.0]")),
    Fault("transpose-identity", M,
          "t.data[i][j] = a.data[j][i];",
          "t.data[i][j] = (i < Rows && j < Cols) ? a.data[i][j] : a.data[j][i];",
          "linalg", "transpose of a square matrix returns it unchanged",
          _unary("wp.transpose(wp.mat22(x, 1.0, 2.0, 3.0))[0, 1]", "[0.5, -3.0]")),
    Fault("det2-sign", M,
          "return m.data[0][0] * m.data[1][1] - m.data[1][0] * m.data[0][1];",
          "return m.data[0][0] * m.data[1][1] + m.data[1][0] * m.data[0][1];",
          "linalg", "determinant of a mat22 adds the off-diagonal product",
          _unary("wp.determinant(wp.mat22(x, 1.0, 2.0, 3.0))", "[0.5, -3.0]")),
    Fault("quat-rotate-negative-w", Q,
          "quat_rotate(const quat_t<Type>& q, const vec_t<3, Type>& x)\n{\n    Type c = (Type(2) * q.w * q.w - Type(1));",
          "quat_rotate(const quat_t<Type>& q, const vec_t<3, Type>& x)\n{\n    Type c = (q.w < Type(0) ? Type(1) - Type(2) * q.w * q.w : Type(2) * q.w * q.w - Type(1));",
          "linalg", "quat_rotate is wrong only for quaternions with w < 0",
          _unary("wp.quat_rotate(wp.normalize(wp.quat(0.1, 0.2, 0.3, x)), wp.vec3(1.0, 2.0, 3.0))[0]", "[0.5, -0.5]")),
    Fault("transform-point-minus", S,
          "return t.p + quat_rotate(t.q, x);",
          "return quat_rotate(t.q, x) - t.p;",
          "linalg", "transform_point subtracts the translation",
          _unary("wp.transform_point(wp.transform(wp.vec3(x, 1.0, 2.0), wp.quat_identity()), wp.vec3(1.0, 2.0, 3.0))[0]",
                 "[0.5, -3.0]")),
    # ---- code generation statement lowering -----------------------------------------------------------
    Fault("augassign-swapped", CG,
          "result = adj.add_builtin_call(operator_name, [target, rhs])",
          "result = adj.add_builtin_call(operator_name, [rhs, target])",
          "codegen", "x op= y on a local is lowered as y op x (wrong for -, /, %, shifts)",
          _body("    y = x\n    y -= 3.0\n    out[tid] = y")),
    Fault("unrolled-for-drops-last", CG,
          "constant_range = range(*arg_values)",
          "constant_range = range(*arg_values)[:-1]",
          "codegen", "a for loop over constant range() bounds that unrolls skips its last iteration",
          _body("    s = float(0.0)\n    for i in range(3):\n        s = s + x * float(i + 1)\n    out[tid] = s")),
    Fault("dynamic-range-extra-trip", R,
          "        return r.i < r.end;",
          "        return r.i <= r.end;",
          "codegen", "a dynamic for range() loop with positive step runs one extra iteration",
          '''
@wp.kernel
def k(out: wp.array(dtype=float), a: wp.array(dtype=float), n: int):
    tid = wp.tid()
    s = float(0.0)
    for i in range(n):
        s = s + a[tid]
    out[tid] = s

v = np.array([0.5, -1.25], dtype=np.float32)
fwd(k, v, 3, n=2)
'''),
    Fault("while-runs-once", CG,
          'adj.blocks[-1].body_forward.append(f"goto start_{cond_block.label};")\n        adj.blocks[-1].body_forward.append(f"end_{cond_block.label}:;")\n\n        ####################\n        # reverse pass\n        reverse = []\n\n        # cond',
          'adj.blocks[-1].body_forward.append(f"end_{cond_block.label}:;")\n\n        ####################\n        # reverse pass\n        reverse = []\n\n        # cond',
          "codegen", "a while loop does not jump back to its test: the body runs at most once",
          _body("    s = float(0.0)\n    i = int(0)\n    while i < 3:\n        s = s + x\n        i = i + 1\n    out[tid] = s")),
    Fault("if-else-phi-swapped", CG,
          'merged[sym] = adj.add_builtin_call("where", [cond, if_var, else_var])',
          'merged[sym] = adj.add_builtin_call("where", [cond, else_var, if_var])',
          "codegen", "after if/else both assigning a variable, the other branch's value is kept",
          _body("    y = float(0.0)\n    if x > 0.0:\n        y = x * 2.0\n    else:\n        y = x - 1.0\n    out[tid] = y")),
    Fault("continue-breaks", CG,
          'adj.add_forward(f"goto start_{adj.loop_blocks[-1].label};")',
          'adj.add_forward(f"goto end_{adj.loop_blocks[-1].label};")',
          "codegen", "continue in a dynamic loop leaves the loop (acts as break)",
          _body("    s = float(0.0)\n    for i in range(20):\n        if i % 2 == 0:\n            continue\n        s = s + x\n    out[tid] = s")),
    Fault("break-loses-values", CG,
          'def emit_Break(adj, node):\n        adj.materialize_redefinitions(adj.loop_symbols[-1])\n',
          'def emit_Break(adj, node):\n',
          "codegen", "break does not materialise the loop's redefined locals: values assigned in the last iteration are lost",
          _body("    s = float(0.0)\n    for i in range(20):\n        s = s + x\n        if i == 3:\n            s = s * 10.0\n            break\n    out[tid] = s")),
    Fault("component-attr-write-x", CG,
          "                else:\n                    adj.add_builtin_call(\"assign_inplace\", [aggregate, index, rhs])",
          "                else:\n                    adj.add_builtin_call(\"assign_inplace\", [aggregate, adj.add_constant(0), rhs])",
          "codegen", "v.y = e (component assignment by attribute) writes v.x instead",
          _body("    v = wp.vec3(1.0, 2.0, 3.0)\n    v.z = x\n    out[tid] = v[0] + 10.0 * v[2]")),
    Fault("rint-lowered-to-round", BI,
          'add_builtin(\n    "rint",\n    input_types={"x": Float},',
          'add_builtin(\n    "rint",\n    native_func="round",\n    input_types={"x": Float},',
          "codegen", "wp.rint is lowered to the native round (halves away from zero) for every float width",
          _unary("wp.rint(x)", "[1.3, 2.5, -0.5]")),
    # ---- adjoints --------------------------------------------------------------------------------------
    Fault("adj-sin-sign", B,
          "    adj_x += cos(x)*adj_ret;\\",
          "    adj_x -= cos(x)*adj_ret;\\",
          "adjoint", "adjoint of sin has the wrong sign", _grad("wp.sin(x)")),
    Fault("adj-mul-overwrites", B,
          "{ adj_a += b*adj_ret; adj_b += a*adj_ret; }",
          "{ adj_a = b*adj_ret; adj_b = a*adj_ret; }",
          "adjoint", "adjoint of float a * b overwrites (=) instead of accumulating (+=)",
          _grad("x * x + x * 3.0")),
    Fault("adj-div-missing-divisor-term", B,
          "    adj_b -= adj_ret*(ret)/b;\\",
          "\\",
          "adjoint", "adjoint of float a / b omits the divisor's term", _grad("2.0 / x")),
    Fault("adj-sqrt-leaked-term", B,
          "    adj_x += T(0.5)*(T(1)/ret)*adj_ret;\\",
          "    adj_x += T(0.5)*(T(1)/ret)*adj_ret + T(0.01)*adj_ret;\\",
          "adjoint", "adjoint of sqrt leaks an extra 0.01 adj_ret term", _grad("wp.sqrt(x * x + 1.0)")),
    Fault("adj-exp-rel-1e-3", B,
          "inline CUDA_CALLABLE void adj_exp(T a, T ret, T& adj_a, T adj_ret) { adj_a += ret*adj_ret; }",
          "inline CUDA_CALLABLE void adj_exp(T a, T ret, T& adj_a, T adj_ret) { adj_a += ret*adj_ret*T(1.001); }",
          "adjoint", "adjoint of exp is 1e-3 relative too large", _grad("wp.exp(x)")),
    Fault("adj-abs-negative-sign", B,
          "    if (x < T(0))\\\n        adj_x -= adj_ret;\\",
          "    if (x < T(0))\\\n        adj_x += adj_ret;\\",
          "adjoint", "adjoint of float abs has the wrong sign for negative x", _grad("wp.abs(x)")),
    Fault("adj-cross-b-sign", V,
          "    adj_b -= cross(a, adj_ret);",
          "    adj_b += cross(a, adj_ret);",
          "adjoint", "adjoint of cross(a, b) with respect to b has the wrong sign",
          _grad("wp.cross(wp.vec3(1.0, 2.0, 0.5), wp.vec3(x, 1.0, 3.0))[1]")),
    Fault("adj-dot3-overwrites", V,
          "    adj_b.c[2] += a.c[2] * adj_ret;",
          "    adj_b.c[2] = a.c[2] * adj_ret;",
          "adjoint", "adjoint of a vec3 dot overwrites the second operand's z adjoint",
          # one variable as both operands: the overwrite drops the first operand's share of its adjoint
          _grad("wp.dot(v, v) + x", setup="v = wp.vec3(0.5, x, x)")),
)

#: small relative adjoint errors, below the finite-difference dot-product test's tolerance (RTOL32 2e-5 of a sum
#: over every thread) or near it: the cases the exact gradient oracle (benchmarks/jax_gradient.py) is measured on.
#: Not in FAULTS: faults.py's kill rate stays over the same 53 faults. T(1.0001) rounds to 1 in float16.
EXACT_GRADIENT_FAULTS = (
    Fault("adj-mul-rel-1e-4", B,
          "{ adj_a += b*adj_ret; adj_b += a*adj_ret; }",
          "{ adj_a += b*adj_ret; adj_b += a*adj_ret*T(1.0001); }",
          "adjoint-small", "adjoint of float a * b with respect to b is 1e-4 relative too large (float32/64)",
          _grad("3.0 * x")),
    Fault("adj-mul-rel-1e-5", B,
          "{ adj_a += b*adj_ret; adj_b += a*adj_ret; }",
          "{ adj_a += b*adj_ret; adj_b += a*adj_ret*T(1.00001); }",
          "adjoint-small", "adjoint of float a * b with respect to b is 1e-5 relative too large (float32/64)",
          _grad("3.0 * x")),
    Fault("adj-exp-rel-1e-4", B,
          "inline CUDA_CALLABLE void adj_exp(T a, T ret, T& adj_a, T adj_ret) { adj_a += ret*adj_ret; }",
          "inline CUDA_CALLABLE void adj_exp(T a, T ret, T& adj_a, T adj_ret) { adj_a += ret*adj_ret*T(1.0001); }",
          "adjoint-small", "adjoint of exp is 1e-4 relative too large", _grad("wp.exp(x)")),
    Fault("adj-sin-rel-1e-4", B,
          "    adj_x += cos(x)*adj_ret;\\",
          "    adj_x += cos(x)*adj_ret*T(1.0001);\\",
          "adjoint-small", "adjoint of sin is 1e-4 relative too large", _grad("wp.sin(x)")),
    Fault("adj-sqrt-rel-1e-5", B,
          "    adj_x += T(0.5)*(T(1)/ret)*adj_ret;\\",
          "    adj_x += T(0.5)*(T(1)/ret)*adj_ret*T(1.00001);\\",
          "adjoint-small", "adjoint of sqrt is 1e-5 relative too large", _grad("wp.sqrt(x * x + 1.0)")),
)

FAULTS_BY_ID = {f.id: f for f in FAULTS + EXACT_GRADIENT_FAULTS}
assert len(FAULTS_BY_ID) == len(FAULTS) + len(EXACT_GRADIENT_FAULTS), "duplicate fault id"


def installed_warp_dir() -> Path:
    """The installed ``warp`` package directory (imported without initialising Warp)."""
    import importlib.util

    spec = importlib.util.find_spec("warp")
    if spec is None or spec.origin is None:
        raise RuntimeError("warp is not installed")
    return Path(spec.origin).resolve().parent


def check_anchor(fault: Fault, warp_dir: Path) -> str:
    """The file's text; raises :class:`AnchorError` unless the anchor occurs exactly once."""
    path = warp_dir / fault.file
    if not path.is_file():
        raise AnchorError(f"{fault.id}: {fault.file} does not exist")
    text = path.read_text()
    count = text.count(fault.find)
    if count != 1:
        raise AnchorError(f"{fault.id}: anchor occurs {count} times in {fault.file} (must be exactly once)")
    return text


def package_checksum(warp_dir: Path) -> str:
    """sha256 over every file of the package (relative path and bytes, in sorted order)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(warp_dir):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            digest.update(str(path.relative_to(warp_dir)).encode() + b"\0")
            if path.is_symlink():
                digest.update(b"symlink:" + os.readlink(path).encode())
            else:
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


def make_scratch_copy(warp_dir: Path, parent: Path) -> Path:
    """Copy the package to ``parent/warp`` (``__pycache__`` left out); the large shared libraries in
    ``bin/`` are symlinked, never patched. Returns the copy's directory; put ``parent`` on PYTHONPATH."""
    import shutil

    dest = parent / "warp"
    shutil.copytree(warp_dir, dest, ignore=shutil.ignore_patterns("__pycache__", "bin"))
    (dest / "bin").mkdir()
    for item in (warp_dir / "bin").iterdir():
        (dest / "bin" / item.name).symlink_to(item)
    return dest


def apply_fault(fault: Fault, copy_dir: Path, warp_dir: Path) -> None:
    """Write the patched file into the copy (its text taken from the installed package)."""
    text = check_anchor(fault, warp_dir)
    target = copy_dir / fault.file
    if target.is_symlink() or warp_dir.resolve() in target.resolve().parents:
        raise RuntimeError(f"{target} is not inside the scratch copy")
    target.write_text(text.replace(fault.find, fault.replace, 1))


def restore_file(fault: Fault, copy_dir: Path, warp_dir: Path) -> None:
    """Put the installed package's bytes of the fault's file back into the copy."""
    (copy_dir / fault.file).write_bytes((warp_dir / fault.file).read_bytes())
