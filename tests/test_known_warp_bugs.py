"""Warp 1.19 bugs the grammar steers around, each checked to still be there.

The operator table leaves these overloads out (see the docstrings of grammar/ops_scalar.py, ops_linalg.py and
ops_quat.py), so the fuzzer does not rediscover them on every run. Each test builds the smallest kernel that
shows the bug and asserts the build still fails. When one of them starts passing, Warp has fixed the bug:
put the overload back into the table (the comment next to the test says where) and delete the test.
"""

from __future__ import annotations

import textwrap

import pytest

from harness import warp_adapter as W

KNOWN = {
    # grammar/ops_scalar.py: the "bool" row has no float16 source
    "bool_of_float16": ("wp.float16", "out[tid] = wp.where(bool(a[tid]), 1.0, 0.0)", False),
    # grammar/ops_scalar.py: the "float16" row has no bool source (adj_float16<bool>)
    "float16_of_bool_backward": ("wp.float32", "out[tid] = float(wp.float16(a[tid] > 0.0))", True),
    # grammar/ops_linalg.py: no matrix conversion into float16 (ambiguous float += half in the adjoint)
    "mat22h_of_mat22_backward": (
        "wp.float32", "m = wp.mat22h(wp.mat22(a[tid], 1.0, 2.0, 3.0))\n    out[tid] = float(m[0, 0])", True),
    # grammar/ops_scalar.py: the float64/int64/uint64 rows have no bool source (a literal True is folded into
    # the C++ as `True` / `Truell`)
    "float64_of_true": ("wp.float32", "out[tid] = float(wp.float64(True))", False),
    "int64_of_true": ("wp.float32", "out[tid] = float(wp.int64(True))", False),
    # strategies/expressions.py _unpin_constant_arguments: an unrolled loop's variable passed alone to
    # wp.float64 is retyped float64 for the rest of the function ("constant precision preservation")
    "float64_of_loop_variable": (
        "wp.float32", "for j in range(2, 3):\n        out[tid] = float(wp.float64(j)) + float(j & j)", False),
    # ... and so is a local computed from it (a 10-minute fuzz, seed 12: `i27 = (-j18)` then `wp.float64(i27)`)
    "float64_of_local_from_loop_variable": (
        "wp.float32", "for j in range(2, 3):\n        i = -j\n        out[tid] = float(wp.float64(i)) + float(i & i)",
        False),
    # grammar/ops_linalg.py: no != on vectors (codegen accepts it, the C++ does not compile)
    "vector_not_equal": (
        "wp.float32", "out[tid] = wp.where(wp.vec2(a[tid], 1.0) != wp.vec2(1.0, 1.0), 1.0, 0.0)", False),
}


def _source(name: str, dtype: str, body: str) -> str:
    return textwrap.dedent(f"""\
        import warp as wp


        @wp.kernel
        def k_{name}(a: wp.array(dtype={dtype}), out: wp.array(dtype=wp.float32)):
            tid = wp.tid()
        """) + "    " + body + "\n"


@pytest.fixture(scope="module", autouse=True)
def warp_cache(tmp_path_factory):
    W.init(str(tmp_path_factory.mktemp("warp-cache")))


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_warp_still_fails_to_build(name, tmp_path):
    dtype, body, backward = KNOWN[name]
    path = tmp_path / f"known_{name}.py"
    path.write_text(_source(name, dtype, body))
    module = W.import_kernel_module(path)
    W.set_module_options(module, optimization_level=0, enable_backward=backward)
    # the C++ compiler rejects Warp's own output, or Warp's type check its own retyped variable
    with pytest.raises(Exception, match="build failed|Couldn't find function overload"):
        W.compile_cpu(module)


def test_the_same_kernels_build_without_the_culprit(tmp_path):
    """The kernels above are otherwise valid: with the culprit overload replaced they build."""
    fixed = {
        "bool_of_float16": ("wp.float16", "out[tid] = wp.where(a[tid] != wp.float16(0.0), 1.0, 0.0)", False),
        "float16_of_bool_backward": ("wp.float32", "out[tid] = float(wp.float16(wp.where(a[tid] > 0.0, 1.0, 0.0)))",
                                     True),
        "mat22h_of_mat22_backward": (
            "wp.float32", "m = wp.mat22(a[tid], 1.0, 2.0, 3.0)\n    out[tid] = float(m[0, 0])", True),
        "vector_not_equal": (
            "wp.float32", "out[tid] = wp.where(wp.vec2(a[tid], 1.0) == wp.vec2(1.0, 1.0), 0.0, 1.0)", False),
        "float64_of_true": ("wp.float32", "out[tid] = float(wp.float64(1.0))", False),
        "int64_of_true": ("wp.float32", "out[tid] = float(wp.int64(1))", False),
        "float64_of_loop_variable": (
            "wp.float32", "for j in range(2, 3):\n        out[tid] = float(wp.float64(+j)) + float(j & j)", False),
        "float64_of_local_from_loop_variable": (
            "wp.float32", "for j in range(2, 3):\n        i = -j\n        out[tid] = float(wp.float64(+i)) + float(i & i)",
            False),
    }
    assert set(fixed) == set(KNOWN)
    path = tmp_path / "known_fixed.py"
    path.write_text("import warp as wp\n\n" + "\n".join(_source(n, *fixed[n][:2]).split("\n", 2)[2]
                                                     for n in sorted(fixed)))
    module = W.import_kernel_module(path)
    W.set_module_options(module, optimization_level=0, enable_backward=True)
    W.compile_cpu(module)


def test_an_if_whose_bool_a_loop_in_its_body_changes_still_runs_its_else(tmp_path):
    """Warp 1.19 lowers ``if c: A else: B`` as ``if (c) {A} if (!c) {B}``; a loop Warp does not unroll inside A
    that assigns ``c`` updates it in place, so B runs too (``out`` is 3 instead of 2; found as a forward mismatch
    by a 30-minute fuzz). The generator steers around it: a loop drawn in the body of an ``if``/``elif`` whose test
    is a bare name does not assign that name (``strategies.scope.Scope.pinned``). When this test fails, Warp fixed
    the bug: drop ``Scope.pinned`` and this test."""
    import numpy as np

    path = tmp_path / "known_if_else_loop.py"
    path.write_text(textwrap.dedent("""\
        import warp as wp


        @wp.kernel
        def k_if_else_loop(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
            tid = wp.tid()
            c = a[0] > -100.0
            if c:
                w = int(0)
                while w < 2:
                    w = w + 1
                    c = a[tid] > 100.0
                out[tid] = 2.0
            else:
                out[tid] = 3.0
        """))
    module = W.import_kernel_module(path)
    W.set_module_options(module, optimization_level=0, enable_backward=False)
    W.compile_cpu(module)
    import warp as wp

    a = wp.array(np.array([1.0, -1.0, 2.0], np.float32), dtype=wp.float32, device="cpu")
    out = wp.zeros(3, dtype=wp.float32, device="cpu")
    wp.launch(module.k_if_else_loop, dim=3, inputs=[a, out], device="cpu")
    assert out.numpy().tolist() == [3.0, 3.0, 3.0]  # correct: [2.0, 2.0, 2.0]


def _assignments(pinned: bool, loop_depth: int):
    """A strategy of rendered ``assign`` statements in a scope holding a bool local ``c`` (pinned or not) and a
    float local ``x``, ``loop_depth`` loops deep."""
    import hypothesis.strategies as st

    from grammar.policy import DEFAULT_POLICY
    from grammar.types import BOOL, FLOAT32, INT32
    from strategies import _cst as B
    from strategies.scope import ArrayParam, Scope, Var
    from strategies.statements import assign

    @st.composite
    def draw_one(draw):
        sc = Scope(DEFAULT_POLICY, [ArrayParam("a0", FLOAT32, "input")], [], [])
        sc.declare(Var("tid", INT32, "tid", 0, 15))
        sc.declare(Var("c", BOOL, "local"))
        sc.declare(Var("x", FLOAT32, "local"))
        if pinned:
            sc.pinned.add("c")
        sc.loop_depth = loop_depth
        return "\n".join(B.render(n) for n in assign(draw, sc))

    return draw_one()


def test_a_loop_in_an_if_body_never_assigns_the_bare_name_the_if_tests():
    """The steering of the test above: in a loop, ``assign`` leaves a pinned name alone; outside loops, or when
    not pinned, it assigns it."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample

    search = settings(max_examples=300, database=None, phases=[Phase.generate], deadline=None,
                      suppress_health_check=list(HealthCheck))
    assigns_c = lambda s: s.splitlines()[-1].startswith("c = ")  # noqa: E731
    with pytest.raises(NoSuchExample):
        find(_assignments(True, 1), assigns_c, settings=search)
    assert find(_assignments(False, 1), assigns_c, settings=search)
    assert find(_assignments(True, 0), assigns_c, settings=search)


def test_the_adjoint_of_a_self_cross_product_loses_what_the_operand_s_adjoint_held():
    """Not a bug but a float32 limit the generator steers around (strategies/expressions.py apply_op draws the
    second operand of a two-operand call again when it equals the first): Warp's adjoint of
    ``wp.spatial_cross(v, v)`` adds ``cross(v, r)`` into v's adjoint and subtracts the same ``cross(v, r)``; when
    a later use of v already put a small contribution there, ``(s + H) - H`` keeps s only to H's rounding (a
    10-minute fuzz: a gradient 1.7 % off in one thread). The exact derivative is right; the loss grows with |v|.
    When this stops losing precision, Warp reordered the adjoint and the steering may go."""
    import numpy as np
    import warp as wp

    W.init()

    @wp.kernel
    def self_cross(a: wp.array(dtype=wp.spatial_vector), out: wp.array(dtype=wp.spatial_vector),
                   out2: wp.array(dtype=wp.spatial_vector), scale: float):
        tid = wp.tid()
        v = a[tid] * scale
        out[tid] = wp.spatial_cross(v, v) * 1000.0
        out2[tid] = v

    rng = np.random.default_rng(0)
    a_np = rng.uniform(-2, 2, (4, 6)).astype(np.float32)
    s1, s2 = (rng.uniform(-1, 1, (4, 6)).astype(np.float32) for _ in range(2))
    errors = []
    for scale in (1.0, 1000.0):
        a = wp.array(a_np, dtype=wp.spatial_vector, requires_grad=True, device="cpu")
        out, out2 = (wp.zeros(4, dtype=wp.spatial_vector, requires_grad=True, device="cpu") for _ in range(2))
        tape = wp.Tape()
        with tape:
            wp.launch(self_cross, 4, [a, out, out2, scale], device="cpu")
        tape.backward(grads={out: wp.array(s1, dtype=wp.spatial_vector, device="cpu"),
                             out2: wp.array(s2, dtype=wp.spatial_vector, device="cpu")})
        expected = s2 * scale  # d(out2)/da; spatial_cross(v, v) is zero whatever v is
        errors.append(float(np.abs(a.grad.numpy() - expected).max() / np.abs(expected).max()))
    assert errors[0] < 1e-3 and errors[1] > 1e-2, errors  # measured 6.7e-5 and 9.5e-2
