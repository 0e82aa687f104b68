"""Liveness: generated computations reach an output, and harness.liveness measures it (reference only)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from harness import liveness as L
from harness.generate import draw_kernels
from strategies.kernels import ParamSpec

IN = ParamSpec("a", "array", "float32", "input", -4, 4, (16,))
OUT = ParamSpec("out", "array", "float32", "output", 0, 0, (16,))


def _kernel(body: str):
    src = ("@wp.kernel\ndef k(a: wp.array(dtype=float), out: wp.array(dtype=float)):\n    tid = wp.tid()\n"
           + "".join(f"    {line}\n" for line in body.splitlines()))
    return SimpleNamespace(kernel_source=src, params=(IN, OUT), dim=16)


def test_a_dead_builtin_is_reported_dead_and_a_live_one_live():
    dead = L.kernel_liveness(_kernel("x = wp.sin(a[tid])\nout[tid] = a[tid]"))
    assert dead.rows["sin"] == (True, False, True)  # executed, not live, varying
    live = L.kernel_liveness(_kernel("x = wp.sin(a[tid])\nout[tid] = x"))
    assert live.rows["sin"][:2] == (True, True)
    # the store of x is dead in the first kernel, live in the second
    assert [s[3] for s in dead.statements] == [True, False, True]  # tid = wp.tid(), x = ..., out[tid] = ...
    assert all(s[3] for s in live.statements)


def test_an_overwritten_store_is_dead_and_constant_outputs_are_input_independent():
    k = _kernel("out[tid] = wp.exp(a[tid])\nout[tid] = 2.0")
    kl = L.kernel_liveness(k)
    assert kl.rows["exp"][1] is False and not kl.input_dependent
    assert L.is_input_dependent(_kernel("out[tid] = a[tid] * 2.0"), 0) is True


def test_nudge_changes_every_kind_of_value():
    import numpy as np

    assert L.nudge(True) is False and L.nudge(3) == 4
    assert L.nudge(np.float32(2.0)) != np.float32(2.0) and L.nudge(np.float32(0.0)) != 0
    v = np.zeros(3, dtype=np.float16)
    assert not np.array_equal(L.nudge(v), v)


def test_generated_kernels_sink_their_locals_and_depend_on_their_inputs():
    kernels = draw_kernels(7, 30)
    with_sinks = [k for k in kernels if any(p.name.startswith("sink") for p in k.params)]
    assert len(with_sinks) >= len(kernels) // 2
    for k in with_sinks:
        for p in k.params:
            if p.name.startswith("sink"):
                assert p.role == "output" and p.shape[-1] % (k.dim if isinstance(k.dim, int) else k.dim[-1]) == 0
    dependent = [L.is_input_dependent(k, 0) for k in kernels]
    assert sum(bool(d) for d in dependent) >= 0.6 * len(kernels), dependent


def test_the_census_counts_uses_and_the_table_names_rows():
    c = L.census([_kernel("x = wp.sin(a[tid])\nout[tid] = x"), _kernel("x = wp.sin(a[tid])\nout[tid] = a[tid]")])
    s = c.summary()
    assert s["rows"]["sin"]["uses"] == 2 and s["rows"]["sin"]["live"] == 1
    assert "sin" in L.format_table(s)


def test_the_pipeline_drops_input_independent_kernels_before_warp(tmp_path, monkeypatch):
    import libcst as cst

    from harness import pipeline
    from strategies import GeneratedKernel

    def kernel(name, body):
        src = (f"@wp.kernel\ndef {name}(a: wp.array(dtype=float), out: wp.array(dtype=float)):\n"
               f"    tid = wp.tid()\n    {body}\n")
        return GeneratedKernel(name, cst.parse_statement(src), (IN, OUT), (), 16)

    def no_warp(*args, **kwargs):
        raise AssertionError("Warp was called")

    monkeypatch.setattr(pipeline.W, "import_kernel_module", no_warp)
    constant = kernel("kc", "out[tid] = wp.sin(wp.float32(tid))")
    result = pipeline.verify_batch([constant], tmp_path, pipeline.Options(skip_input_independent=True))
    assert [r.verdict for r in result.results] == ["input-independent"] and "input_dependence" in result.timings
    assert pipeline._first_run(kernel("kd", "out[tid] = a[tid] * 2.0"), "0" * 12)[1] is True


def test_a_negative_float_literal_is_a_literal_and_a_zero_struct_is_perturbed():
    from harness.oracle.reference import rows_used

    # Warp folds `-c` into the constant (codegen emit_UnaryOp): no wp::neg, so no use of the neg row
    assert "neg" not in rows_used(_kernel("out[tid] = a[tid] * (-2.0)").kernel_source)
    assert "neg" in rows_used(_kernel("out[tid] = (-a[tid])").kernel_source)
    src = ("@wp.struct\nclass S0:\n    m0: float\n\n\n"
           "@wp.kernel\ndef k(a: wp.array(dtype=float), out: wp.array(dtype=float)):\n    tid = wp.tid()\n"
           "    s = S0()\n    out[tid] = a[tid] + s.m0\n")
    read = L.kernel_liveness(SimpleNamespace(kernel_source=src, params=(IN, OUT), dim=16))
    assert read.rows["struct"][:2] == (True, True)  # the zero fields are read: a wrong zero-init is seen
    overwritten = L.kernel_liveness(SimpleNamespace(
        kernel_source=src.replace("    out[tid] = a[tid] + s.m0\n", "    s.m0 = a[tid]\n    out[tid] = s.m0\n"),
        params=(IN, OUT), dim=16))
    assert overwritten.rows["struct"][:2] == (True, False)


def test_the_first_attempt_inputs_are_chosen_to_execute_more_of_the_kernel():
    from harness.oracle.input_choice import executed, first_inputs
    from harness.oracle.inputs import make_inputs

    # the branch runs only when the one element a[3] is above 2.5: a single draw often misses it
    k = _kernel("if a[3] > 2.5:\n    out[tid] = wp.sin(a[tid])")
    single = chosen = 0
    for base in range(40):
        once = executed(k, make_inputs(k.params, k.dim, base, "corner"))
        seed, values = first_inputs(k, base, "corner")
        best = executed(k, values)
        assert len(best) >= len(once)  # never worse than the base draw (a candidate itself)
        assert values.keys() == make_inputs(k.params, k.dim, seed, "corner").keys()
        assert all((values[n] == v).all() for n, v in make_inputs(k.params, k.dim, seed, "corner").items())
        single += "sin" in once
        chosen += "sin" in best
    assert chosen > 2 * single and chosen >= 15, (single, chosen)  # measured: 5 and 19 of 40
    # one candidate: the base draw, as before the choice
    assert first_inputs(k, 7, "corner", candidates=1)[0] == 7


def test_the_choice_keeps_its_runs_and_they_are_the_plain_reference_runs():
    """The pipeline takes the chosen candidate's run as its float32 run of the first attempt, and another
    candidate's outputs for the input-dependence test: both must be what the plain reference gives."""
    from harness.oracle.input_choice import choose_first
    from harness.oracle.reference import run_reference

    k = _kernel("if a[3] > 2.5:\n    out[tid] = wp.sin(a[tid])\nelse:\n    out[tid] = a[tid] * 0.5")
    others = 0
    for base in range(12):
        choice = choose_first(k, base, "corner")
        plain = run_reference(k.kernel_source, k.params, choice.values, k.dim)
        assert choice.run is not None and L.same_outputs(choice.run.outputs, plain.outputs)
        assert choice.run.trace == plain.trace
        if choice.other is not None:
            others += 1
            assert not L.same_outputs(choice.other, plain.outputs)  # other inputs, so other outputs here
    assert others >= 3, others
    assert choose_first(k, 7, "corner", candidates=1).run is None  # one candidate: no run made


def test_the_choice_prefers_inputs_that_meet_a_rows_corner():
    """A faulty ``rint`` that rounds halves away from zero is right everywhere but at halves: among draws that
    execute the same statements, the first attempt takes one where ``rint`` meets a half."""
    from harness.oracle.input_choice import executed, first_inputs
    from harness.oracle.inputs import make_inputs

    k = _kernel("out[tid] = wp.rint(a[5]) + a[tid]")  # one element: a single draw is rarely a half there
    single = chosen = 0
    for base in range(40):
        single += ("corner", "rint") in executed(k, make_inputs(k.params, k.dim, base, "corner"))
        seed, values = first_inputs(k, base, "corner")
        chosen += ("corner", "rint") in executed(k, values)
    assert chosen > 2 * single and chosen >= 12, (single, chosen)


def test_corner_predicates():
    from grammar import ops as OPS
    from grammar import semantics as S
    from grammar.types import FLOAT32, INT32, UINT32

    assert S.half_corner(None, np.float32(2.5)) and S.half_corner(None, np.float32(-0.5))
    assert not S.half_corner(None, np.float32(2.25)) and not S.half_corner(None, np.float32(3.0))
    assert S.tie_corner(None, np.float32(1.5), np.float32(1.5)) and not S.tie_corner(None, 1, 2)
    assert S.tie_corner(None, np.array([1.0, 2.0]), np.array([0.0, 2.0]))  # a vector tie in one component
    usub = OPS.Signature((UINT32, UINT32), UINT32)
    assert S.unsigned_wrap_corner(usub, np.uint32(3), np.uint32(5))
    assert not S.unsigned_wrap_corner(usub, np.uint32(5), np.uint32(3))
    assert not S.unsigned_wrap_corner(OPS.Signature((INT32, INT32), INT32), 3, 5)  # signed: no wrap
    assert not S.unsigned_wrap_corner(OPS.Signature((FLOAT32, FLOAT32), FLOAT32), 3.0, 5.0)
    assert {op.name for op in OPS.OPS if op.corner} >= {"rint", "round", "lt", "le", "min", "max", "sub"}


def test_an_output_argument_placeholder_is_not_a_use_of_its_row():
    """``U = wp.matrix(shape=(3, 3), ...)`` before ``wp.svd3(A, U, s, V)`` is overwritten whatever it holds: when
    every call of a row is such a placeholder the row is not counted; one other call and it is."""
    body = ("U = wp.matrix(shape=(3, 3), dtype=wp.float32)\ns = wp.vector(length=3, dtype=wp.float32)\n"
            "V = wp.matrix(shape=(3, 3), dtype=wp.float32)\n"
            "wp.svd3(wp.mat33(a[tid], 1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0), U, s, V)\n"
            "w = wp.vector(length=3, dtype=wp.float32)\nout[tid] = s[0] + U[0, 0] + V[1, 1] + w[0]")
    k = _kernel(body)
    assert L.placeholder_rows(k.kernel_source) == {"matrix"}
    kl = L.kernel_liveness(k)
    assert "matrix" not in kl.rows and "vector" in kl.rows and kl.rows["svd3"][1]


def test_row_result_digests_compare_across_kinds_without_raising():
    """A row's results are compared between two input draws; one draw may give a numpy scalar where the other
    gives an array (a census crashed on ``np.float64(x) == b"\\xc1..."``, which makes numpy decode the bytes)."""
    import numpy as np

    from harness.liveness import _digest

    a = [_digest(np.float64(1.5)), _digest(np.array([1.0], np.float32)), _digest(np.float32("nan"))]
    b = [_digest(np.array([0xC1, 0x80], np.uint8)), _digest(np.float64(1.5)), _digest(np.float64("nan"))]
    assert a != b and a[2] == b[2] and a[0] == b[1]
    assert _digest(np.array([1.0], np.float32)) != _digest(np.array([1.0], np.float64))


def test_adjoint_reach_tells_live_from_dead_and_constant_adjoints():
    """``adjoint_reach`` (the fuzz's adjoint coverage feedback): ``sin`` of the data reaching the output is live;
    ``cos`` of a literal is live but constant (not counted); ``exp`` whose result nothing reads is dead."""
    k = _kernel("x = wp.sin(a[tid])\ny = wp.cos(0.5)\nz = wp.exp(a[tid])\nout[tid] = x + y")
    reach = L.adjoint_reach(k, "0123abcd" + "0" * 24)
    assert reach == {"add": True, "sin": True, "cos": False, "exp": False}
    # rows the fuzz has at its goal are not measured (None), the others as before
    assert L.adjoint_reach(k, "0123abcd" + "0" * 24, frozenset({"sin", "exp"})) == {
        "add": True, "sin": None, "cos": False, "exp": None}
    assert L.adjoint_reach(k, "0123abcd" + "0" * 24, frozenset(L.DIFFERENTIABLE)) == dict.fromkeys(reach)


def test_adjoint_reach_perturbs_only_the_float_results_of_a_row():
    """An adjoint flows through float results only: the int ``tid + 0`` of an index is left alone (nudged, it
    indexes past the end and the run raises, which read as a dead ``add``), the float ``a[tid] + 1.0`` is live;
    a row whose every use is an int is dead."""
    cid = "0123abcd" + "0" * 24
    assert L.adjoint_reach(_kernel("x = a[tid] + 1.0\nout[tid + 0] = x"), cid) == {"add": True}
    assert L.adjoint_reach(_kernel("out[tid + 0] = wp.sin(a[tid])"), cid) == {"add": False, "sin": True}
    import numpy as np
    assert L.nudge_floats((np.int32(3), np.float32(2.0), True)) == (3, np.float32(2.0 * (1 + L.REL)), True)


def test_the_plain_reference_is_the_tapped_one_with_its_taps_stripped():
    """The plain reference function is compiled from the tapped source with every ``R.tap(k, v)`` replaced by ``v``
    (one libcst pass per kernel): it must be the very code the plain transpilation gives, on kernels of every
    construct (helpers, structs, loops, branches, in-place updates, multi-value returns)."""
    import ast

    from harness.oracle.reference import _StripTaps, _tapped_transpile, transpile

    stripped = 0
    for k in draw_kernels(5, 40):
        code, _, taps = _tapped_transpile(k.kernel_source)
        plain = ast.dump(_StripTaps().visit(ast.parse(code)))
        assert plain == ast.dump(ast.parse(transpile(k.kernel_source))), k.kernel_source
        stripped += len(taps)
        assert code.count("R.tap(") == len(taps)
    assert stripped > 100
