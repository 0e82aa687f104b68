# Warp 1.19: wp.float64(j), with j an unrolled loop's counter (or any local holding a compile-time constant),
# retypes j itself to float64 for the rest of the function; later integer uses of j fail to build.
#
# Found by a fuzz run (seed 91, batch 56: a build failure), then reduced; the variant with a local computed
# from the loop variable (`i = -j`, then wp.float64(i)) came from a 10-minute fuzz, seed 12.
# Expected: wp.float64(j) is a conversion that leaves j an int32, so `j & j` and `a[j]` stay valid:
# out[0] = float64(2) + float64(2 & 2) = 4.0 and float64(2) + a[2] = 2.0 + 20.0 = 22.0 (Python semantics,
# and what Warp gives for wp.float64(+j)).
# Actual: WarpCodegenError "Couldn't find function overload for 'bit_and' that matched inputs with types:
# [float64, float64]"; `a[j]` fails with "Expected to call `address()` instead of `view()`".
# Cause: the "constant precision preservation" path of codegen's add_call (a 64-bit scalar constructor called
# with one constant argument) repurposes the argument's Var: it sets arg.type = float64, so every later use
# of the name sees a float64.
# Exits with status 1 while the bug is present, prints "not reproduced" otherwise.

import warp as wp


@wp.kernel(module="unique")
def loop_variable_bit_and(out: wp.array(dtype=wp.float64)):
    for j in range(2, 3):  # unrolled: j is the constant 2
        out[0] = wp.float64(j) + wp.float64(j & j)


@wp.kernel(module="unique")
def loop_variable_index(a: wp.array(dtype=wp.float64), out: wp.array(dtype=wp.float64)):
    for j in range(2, 3):
        out[0] = wp.float64(j) + a[j]


@wp.kernel(module="unique")
def local_from_loop_variable(out: wp.array(dtype=wp.float64)):
    for j in range(2, 3):
        i = -j
        out[0] = wp.float64(i) + wp.float64(i & i)


@wp.kernel(module="unique")
def constant_local(out: wp.array(dtype=wp.float64)):
    j = 2
    out[0] = wp.float64(j) + wp.float64(j & j)


CASES = [  # kernel, takes `a`, expected out[0], distinctive parts of the known error (any of them)
    (loop_variable_bit_and, False, 4.0, "Couldn't find function overload for 'bit_and'"),
    # 1.19: the address()/view() message; 1.12.1-1.13: the float64 index reaches the slice overloads
    (loop_variable_index, True, 22.0, ("instead of `view()`", "overload for 'slice' that matched inputs with types: [float64")),
    (local_from_loop_variable, False, -4.0, "Couldn't find function overload for 'bit_and'"),
    (constant_local, False, 4.0, "Couldn't find function overload for 'bit_and'"),
]


def main():
    wp.init()
    a = wp.array([0.0, 10.0, 20.0], dtype=wp.float64, device="cpu")
    failed, unexpected = [], []
    for kernel, takes_a, expected, known in CASES:
        out = wp.zeros(1, dtype=wp.float64, device="cpu")
        try:
            wp.launch(kernel, dim=1, inputs=[a, out] if takes_a else [out], device="cpu")
            actual = float(out.numpy()[0])
            print(f"{kernel.key}: actual {actual}, expected {expected}")
            if actual != expected:
                unexpected.append(kernel.key)
        except Exception as error:
            message = str(error).strip().splitlines()[-1].lstrip(";")
            print(f"{kernel.key}: actual {type(error).__name__}: {message}; expected {expected}")
            known = (known,) if isinstance(known, str) else known
            (failed if any(k in str(error) for k in known) else unexpected).append(kernel.key)
    if unexpected:
        print("inconclusive:", f"unexpected outcome (not the known bug) in: {', '.join(unexpected)}")  # not this bug: exit 2, not 1
        raise SystemExit(2)
    if failed:
        raise SystemExit(f"bug reproduced: wp.float64(<constant variable>) retyped the variable in: {', '.join(failed)}")
    print("not reproduced")


if __name__ == "__main__":
    main()
