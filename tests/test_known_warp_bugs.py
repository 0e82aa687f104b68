"""Warp 1.19 bugs the grammar steers around, each checked to still be there.

The operator table leaves these overloads out (see the docstrings of grammar/ops_scalar.py, ops_linalg.py and
ops_quat.py), so the fuzzer does not rediscover them on every run. Each test builds the smallest kernel that
shows the bug and asserts the build still fails. When one of them starts passing, Warp has fixed the bug:
put the overload back into the table (the comment next to the test says where) and delete the test.
"""

from __future__ import annotations

import textwrap

import pytest

from harness.warp_side import warp_adapter as W

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
    """The steering around ``known_bugs/if_else_both_run_when_loop_changes_condition/`` (Warp lowers ``if c: A else:
    B`` as ``if (c) {A} if (!c) {B}``, and a dynamic loop in A that assigns ``c`` makes B run too; its reproducer is
    run by ``tests/test_gradient.py``): in a loop, ``assign`` leaves a pinned name alone; outside loops, or when
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
