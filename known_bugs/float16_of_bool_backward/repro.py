# Warp 1.19: wp.float16(b) of a bool fails to build when the backward pass is generated (the default): the adjoint
# instantiates adj_float16<bool>, whose `adj_x += T(adj_ret)` (T = bool) converts half to bool ambiguously.
#
# Found when the fuzzer's scalar operator table was checked against Warp (grammar/ops_scalar.py leaves it out).
# Expected: the kernel builds and out = float(float16(a > 0)) = [1.0, 0.0] for a = [0.5, -0.5]; a bool input has no
# gradient, so the adjoint of the conversion should contribute nothing (the forward pass alone builds and gives
# these values).
# Actual: clang "ambiguous conversion for functional-style cast from 'float16' (aka 'half') to 'bool'" in
# adj_float16 (native/builtin.h), instantiated from the kernel's backward function; the CPU build fails.
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import os
import sys
import tempfile

import warp as wp


@wp.kernel(enable_backward=True)
def float16_of_bool(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
    i = wp.tid()
    out[i] = float(wp.float16(a[i] > 0.0))


def launch_capturing_stderr(a, out):
    """Launch with the process's stderr captured (the C++ compiler's messages go there)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 2)
        try:
            wp.launch(float16_of_bool, dim=2, inputs=[a, out], device="cpu")
            error = None
        except Exception as e:
            error = e
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        return error, log.read()


def main():
    wp.init()
    a = wp.array([0.5, -0.5], dtype=wp.float32, device="cpu")
    out = wp.zeros(2, dtype=wp.float32, device="cpu")
    expected = [1.0, 0.0]
    error, log = launch_capturing_stderr(a, out)
    if error is None:
        print("actual:", out.numpy().tolist(), "expected:", expected)
        if out.numpy().tolist() == expected:
            print("not reproduced")
            return
        print("inconclusive:", "built, but gave wrong values (not the known build failure)")  # not this bug: exit 2, not 1
        raise SystemExit(2)
    print(f"actual: {type(error).__name__}: {error}; expected: {expected}")
    messages = list(dict.fromkeys(line.split("error:", 1)[1].strip() for line in log.splitlines() if "error:" in line))
    for message in messages:
        print("  compiler: error:", message)
    if "adj_float16" not in log or not any("bool" in m for m in messages):
        print(log[-3000:])
        print("inconclusive: the build failed, but not with the known error")  # not this bug: exit 2, not 1
        raise SystemExit(2) from error
    raise SystemExit("bug reproduced: the adjoint of wp.float16(bool) (adj_float16<bool>) does not compile")


if __name__ == "__main__":
    main()
