# Warp 1.19: `wp.float64(True)` in a kernel emits the C++ identifier `True`; the CPU build fails.
#
# Found by the 20-minute fuzz run of the gradient branch (a forward/codegen bug, not an adjoint bug).
# clang: "use of undeclared identifier 'True'; did you mean 'true'?". wp.float32(True) and wp.int32(True)
# build. Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import warp as wp


@wp.kernel
def float64_of_true(out: wp.array(dtype=wp.float64)):
    tid = wp.tid()
    out[tid] = wp.float64(True)


def main():
    try:
        wp.load_module(device="cpu")
    except Exception as error:
        raise SystemExit(f"bug reproduced: {type(error).__name__}: {error}") from error
    print("not reproduced")


if __name__ == "__main__":
    main()
