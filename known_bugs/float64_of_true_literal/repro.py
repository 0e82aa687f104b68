# Warp 1.19: wp.float64(True), wp.int64(True) and wp.uint64(True) in a kernel emit the C++ identifiers
# `True`, `Truell` and `Trueull`; the CPU build fails.
#
# Found by the 20-minute fuzz run of the gradient branch (a forward/codegen bug, not an adjoint bug).
# Expected: the kernel builds and out == [1.0, 1.0, 1.0] (Python: float(True) == int(True) == 1, the same as
# wp.float32(True) and wp.int32(True) give in a kernel, and as wp.float64(1) gives).
# Actual: clang "use of undeclared identifier 'True'; did you mean 'true'?", "... 'Truell'", "... 'Trueull'".
# Cause: the "constant precision preservation" path of codegen's add_call formats the constant with
# constant_str(float64(True)); constant_str checks isinstance(raw, int), which a bool passes, and
# emits str(True) plus the "ll"/"ull" suffix.
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import os
import sys
import tempfile

import warp as wp


@wp.kernel
def float64_of_true(out: wp.array(dtype=wp.float64)):
    out[0] = wp.float64(True)
    out[1] = wp.float64(wp.int64(True))
    out[2] = wp.float64(wp.uint64(True))


def build_and_run():
    """Launch the kernel with the process's stderr captured (the C++ compiler's messages go there)."""
    out = wp.zeros(3, dtype=wp.float64, device="cpu")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 2)
        try:
            wp.launch(float64_of_true, dim=1, inputs=[out], device="cpu")
            error = None
        except Exception as e:  # the build failure
            error = e
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        return out, error, log.read()


def main():
    wp.init()
    out, error, log = build_and_run()
    if error is None:
        print("actual:", out.numpy().tolist(), "expected: [1.0, 1.0, 1.0]")
        if out.numpy().tolist() == [1.0, 1.0, 1.0]:
            print("not reproduced")
            return
        print("inconclusive:", "unexpected values (not the known build failure)")  # not this bug: exit 2, not 1
        raise SystemExit(2)
    print(f"actual: {type(error).__name__}: {error}")
    print("expected: the kernel builds and out == [1.0, 1.0, 1.0]")
    emitted = [name for name in ("'True'", "'Truell'", "'Trueull'") if f"undeclared identifier {name}" in log]
    for message in dict.fromkeys(line.split("error:", 1)[1].strip() for line in log.splitlines() if "error:" in line):
        print("  compiler: error:", message)
    if not emitted:
        print(log[-2000:])
        print("inconclusive: the build failed, but not with the known error")  # not this bug: exit 2, not 1
        raise SystemExit(2) from error
    raise SystemExit(f"bug reproduced: undeclared identifiers {', '.join(emitted)} in the generated C++")


if __name__ == "__main__":
    main()
