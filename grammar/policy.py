"""One policy object for every weight and limit of the generator (YARPGen's ``gen_policy``).

Strategies read limits from here; nothing else hard-codes a depth, a size or a range. The value ranges are
also what the UB-freedom argument rests on: integer intervals (see :mod:`strategies.scope`) start from
``int_input_range`` etc., and every integer expression is kept inside ``int_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Policy:
    # launch / arrays
    dim: int = 16  # threads per launch == length of every array parameter
    # kernel shape
    max_inputs: int = 3  # input array parameters
    max_outputs: int = 2  # own-slot output arrays (each thread writes out[tid])
    max_scalar_params: int = 2
    max_funcs: int = 2  # user @wp.func helpers per kernel
    max_atomic_arrays: int = 1  # shared accumulator arrays (atomics' targets)
    max_struct_params: int = 2  # struct-valued kernel parameters (when the kernel declares structs)
    array_rank_weights: tuple[int, int, int] = (6, 2, 1)  # weights of 1-, 2- and 3-dimensional launches
    # user @wp.func helpers: 1..max_func_params parameters, 0..max_func_statements statements before the return,
    # returning one value or two with weights func_return_weights
    max_func_params: int = 3
    max_func_statements: int = 3
    func_return_weights: tuple[int, int] = (3, 1)
    # gradient reach: a kernel whose input arrays are all ints, bools or structs has no derivative to check;
    # with odds float_input_odds : 1 its first input is then redrawn among the float element types
    float_input_odds: int = 3
    # gradient reach: (ordinary, gradient-directed) kernel weights ((1, 0): never directed, (0, 1): always). A
    # gradient-directed kernel has a float input and a float first output, favours differentiable rows over
    # floats, and keeps clear of what Warp 1.19 cannot differentiate (harness.oracle.gradient_limits): no while loops,
    # breaks, continues or for loops over a parameter (dynamic loops), no float `*=`, constant float `%`
    # divisors, additive atomics
    # (1, 1) and 5 focus rows since 0.4.0, for adjoint reach (harness.fuzz's feedback steers the focus rows; with
    # (2, 1) and 3 a 10-minute fuzz exercised 53 of 140 rows' adjoints on a live path >= 20 times: too few picks)
    directed_weights: tuple[int, int] = (1, 1)
    # a gradient-directed kernel favours directed_focus_rows - 2 (at least 1) to directed_focus_rows differentiable
    # rows (every row's adjoint gets its share of the checked kernels: 135 rows); 6 since 0.4.1 (with 5 a 10-minute
    # fuzz left 34 of 134 rows at 18-19 live checked uses, with 6 all 134 reached 20)
    directed_focus_rows: int = 6
    # names of the differentiable rows a gradient-directed kernel draws its favoured rows from (empty: all of
    # them). ``harness.fuzz`` sets it per batch to the rows whose adjoint its checked kernels exercised least so
    # far (coverage feedback); the default keeps every draw as it was
    directed_focus_pool: tuple[str, ...] = ()
    # statements of a gradient-directed kernel's main block after its focus-row calls (None: max_statements). A
    # directed kernel's adjoint reach comes from its focus-row calls (a row counts once per checked kernel), its
    # cost from everything: with 2 (since 0.5.3) directed-only batches verified in 133 s instead of 197 s with
    # 1,209 live checked row uses instead of 1,298 (benchmarks/gradient_share.py --kernels 144 --batch-size 12
    # --seed 4 --adjoint-reach --set directed_weights=0,1), +38 % per second
    directed_max_statements: int | None = 2
    # liveness of branch tests: a test's computed operand reaches an output only through the branch it picks
    # (a fault in it is seen when it flips the test); with odds hoist_test_odds : 1 an `if`/guarded jump's
    # non-leaf operand is first held in a local (`x4 = wp.length(v); if x4 < s0:`), which is sunk like any (elif
    # tests too; not in loops Warp does not unroll); 0 turns it off. See max_if_nesting for the measurement.
    hoist_test_odds: int = 1
    max_extra_types: int = 3  # types beyond float32/int32/bool/vec3 a kernel may use (swarm testing)
    # user @wp.struct types: a kernel declares 0..max_structs of them with odds struct_odds (per count 0, 1,
    # 2...; shrinks to none), each with 1..max_struct_fields fields (an optional 1-D array field with odds
    # 1 : struct_array_field_odds); struct values are kernel parameters, array elements, locals, helper
    # arguments and results
    max_structs: int = 2
    struct_odds: tuple[int, ...] = (8, 2, 1)
    max_struct_fields: int = 3
    struct_array_field_odds: int = 3
    max_statements: int = 6  # per block
    # records: a kernel whose four generated functions (CPU/CUDA forward/backward, normalised) exceed this many kB is
    # verified but not recorded (verdict screened, reason code-size), so that records fit code models' context
    # windows (a 200 MB corpus of generator 0.5.x: p99 225 kB, max 1.4 MB). None: no budget. Read by
    # harness.collect only (the fuzz hunt keeps every kernel); each record states its size (verification.code_bytes)
    max_code_kb: int | None = 64
    max_block_depth: int = 3  # nesting of if/for blocks
    # an `if` is drawn inside at most this many `if` bodies (ifs still nest through loops and elif chains): a
    # body runs only when every enclosing test holds, and bodies three ifs deep ran in 46 % (if), 27 % (elif)
    # of their uses on the chosen inputs. Live row uses (python -m harness.liveness --samples 600 --batch 10
    # --seed 5): 76.4 % with 3 (no limit), 76.0 % with 2, 78.8 % with 1; with 1, edge_leaf_odds 3 and
    # hoist_test_odds 1, 80.7 % and one row used >= 10 times below 50 % live (13 before)
    max_if_nesting: int = 1
    # a `return` drawn in a loop Warp does not unroll stays one with odds 1 : dynamic_return_odds (else the
    # statement is a declaration): Warp 1.19's backward of such a kernel hangs (while) or applies adjoints of
    # code that never ran (for), so the gradient check leaves it out (return-in-dynamic-loop: 42 of 870
    # accepted kernels, benchmarks/gradient_share.py --kernels 1000 --batch-size 10 --seed 2)
    dynamic_return_odds: int = 3
    # float `%` takes a constant divisor with odds float_mod_constant_odds : 1: Warp 1.19's adjoint of a % b
    # lacks the divisor's term, so with a varying divisor (and |a| >= |b|) the gradient check leaves the kernel
    # out (float-mod: 46 of 870 accepted kernels, benchmarks/gradient_share.py --kernels 1000 --seed 2)
    float_mod_constant_odds: int = 3
    max_expr_depth: int = 3
    max_loop_nesting: int = 2
    max_const_trip: int = 6  # constant loop bounds are 1..max_const_trip
    max_trip_product: int = 64  # product of enclosing trip counts never exceeds this
    # weights (relative; the first alternative is also where shrinking goes)
    statement_weights: tuple[tuple[str, int], ...] = (
        ("declare", 4), ("store", 2), ("assign", 2), ("augassign", 2), ("component", 1), ("atomic", 2),
        ("if", 3), ("for", 3), ("while", 1), ("break", 1), ("continue", 1), ("return", 1), ("builtin", 1),
        ("struct", 1), ("field", 2),
    )
    # a store to an output: out[i] = e, out[i] += e, wp.atomic_exch(out, i, e), out[i][k] = e
    store_form_weights: tuple[int, int, int, int] = (8, 3, 2, 2)
    static_if_weights: tuple[int, int] = (7, 1)  # an `if` tests a runtime value : a wp.static(...) constant
    max_elifs: int = 2
    # a `for` loop's bound: each of range(k), range(start, start + k) and range(int param) : range(wp.static(...))
    loop_kind_weights: tuple[int, int] = (3, 1)
    max_range_start: int = 3  # range(start, start + k) starts at 0..max_range_start
    # swarm testing over table rows: each kernel favours up to max_focus_rows rows (their types join the
    # kernel's palette); a favoured row is focus_weight times as likely as another at each choice
    max_focus_rows: int = 3
    focus_weight: int = 8
    focus_pool_weights: tuple[int, int] = (4, 1)  # a favoured row is an expression row : a statement row
    leaf_weight: int = 2  # an expression below max depth is a leaf with odds leaf_weight : operator_weight
    # liveness of quantized arguments: a row whose result jumps at particular argument values (floor, sign,
    # nonzero, comparisons...) passes a computed argument's change on only near a jump, so with odds
    # edge_leaf_odds : 1 its arguments are data leaves (the corner inputs reach them unchanged); arguments
    # whose truth value alone is read (`x and y` of floats, bool(x)) and those of predicates with one result on
    # finite data (isnan...) are always leaves
    edge_leaf_odds: int = 3
    operator_weight: int = 3
    # values
    float_input_range: tuple[float, float] = (-4.0, 4.0)
    vec_input_range: tuple[float, float] = (-2.0, 2.0)
    int_input_range: tuple[int, int] = (-100, 100)
    int_param_range: tuple[int, int] = (0, 8)  # int scalar params double as loop bounds
    float_param_range: tuple[float, float] = (-2.0, 2.0)
    int_const_max: int = 9
    # integer safety (no signed overflow, ever)
    int_limit: int = 2**30  # every int expression's interval stays within +-int_limit
    int_var_bound: int = 2**15  # an int local's declaration is wrapped into +-int_var_bound
    int_wrap_modulus: int = 1024  # `(e % 1024)` is how an over-large operand is brought back
    int_aug_slack: int = 2**14  # growth budget of an int local that augmented assignments may spend
    max_atomic_stmts: int = 4  # atomic statements per kernel
    atomic_int_bound: int = 2**15  # |value| of one int atomic; with dim * max_trip_product * max_atomic_stmts
    # executions the accumulated total stays below 2**15 * 16 * 64 * 4 = 2**27
    float_cast_bound: float = 1000.0  # float->int casts clamp their argument to +-this
    exp_arg_bound: float = 15.0  # exp() arguments are clamped to +-this (no float32 overflow)
    pow_exp_bound: float = 3.0


DEFAULT_POLICY = Policy()

#: Kernels like those of the seed datasets (and of the per-kernel costs the throughput goal was set from): a
#: few statements, shallow, over float32/int32/bool/vec3 only, no helpers, structs or favoured table rows.
#: About 5x cheaper to verify than the default mix, and 2.5x less code per kernel, but it reaches only the
#: builtins of those four types (`python -m harness.coverage` shows which).
SMALL_POLICY = Policy(max_inputs=2, max_outputs=1, max_scalar_params=1, max_funcs=0, max_extra_types=0,
                      max_structs=0, max_statements=4, max_block_depth=2, max_expr_depth=2, max_loop_nesting=1,
                      max_focus_rows=0, directed_focus_rows=0)

#: The default mix with two gradient-directed kernels to one ordinary one (``--policy hunt``): in a 10-minute fuzz
#: (seed 31, slow 2-core machine) 59 of 134 rows' adjoints reached 20 live checks against 49 for the default mix,
#: but benchmarks/faults.py killed 43 of 53 faults against 49 (the forward int and rounding faults need ordinary
#: kernels), so it is an option, not the fuzz default.
HUNT_POLICY = replace(DEFAULT_POLICY, directed_weights=(1, 2))

#: ``--policy`` names of ``harness.collect``, ``harness.fuzz`` (and ``harness.coverage``)
POLICIES: dict[str, Policy] = {"default": DEFAULT_POLICY, "small": SMALL_POLICY, "hunt": HUNT_POLICY}
