"""The Warp adapter against the installed Warp: build, launch, generate, NVRTC, errors (CPU only, < 30 s)."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from harness.warp_side import warp_adapter as wa

KERNELS = textwrap.dedent(
    """\
    import warp as wp


    @wp.kernel
    def k_scale(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
        i = wp.tid()
        out[i] = a[i] * 2.0 + 1.0


    @wp.kernel
    def k_norm(v: wp.array(dtype=wp.vec3), n: wp.array(dtype=wp.int32), out: wp.array(dtype=wp.float32)):
        i = wp.tid()
        out[i] = wp.length(v[i]) + float(n[i] / 2)
    """
)

TYPE_ERROR_KERNEL = textwrap.dedent(
    """\
    import warp as wp


    @wp.kernel
    def k_mixed(a: wp.array(dtype=wp.float32), n: wp.array(dtype=wp.int32)):
        i = wp.tid()
        a[i] = a[i] + n[i]
    """
)

NAMES = ("k_scale", "k_norm")


@pytest.fixture(scope="module", autouse=True)
def warp_cache(tmp_path_factory):
    wa.init(str(tmp_path_factory.mktemp("warp-cache")))


@pytest.fixture(scope="module")
def kernel_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("kernels") / "tiny.py"
    path.write_text(KERNELS)
    return path


@pytest.fixture(scope="module")
def compiled(kernel_file):
    module = wa.import_kernel_module(kernel_file)
    wa.set_module_options(module, optimization_level=0, enable_backward=True)
    seconds = wa.compile_cpu(module)
    return module, seconds


def test_environment_queries():
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", wa.warp_version())
    assert isinstance(wa.cuda_available(), bool)
    assert "Warp" in wa.diagnostics()


def test_import_gives_separate_modules_for_the_same_file(kernel_file):
    first = wa.import_kernel_module(kernel_file)
    second = wa.import_kernel_module(kernel_file)
    assert first.__name__ != second.__name__
    assert kernel_file.stem in first.__name__
    assert first.k_scale is not second.k_scale


def test_compile_and_launch_float_kernel(compiled):
    module, seconds = compiled
    assert seconds >= 0.0
    a = np.array([0.0, 1.5, -2.0, 3.25], dtype=np.float32)
    out = wa.to_warp(np.zeros_like(a), "float32")
    wa.launch_cpu(module.k_scale, len(a), [wa.to_warp(a, "float32"), out])
    np.testing.assert_array_equal(wa.to_numpy(out), a * 2.0 + 1.0)


def test_compile_and_launch_vec3_and_int32_kernel(compiled):
    module, _ = compiled
    v = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 2.0]], dtype=np.float32)
    n = np.array([-7, 4, 5], dtype=np.int32)
    out = wa.to_warp(np.zeros(3, dtype=np.float32), "float32")
    wa.launch_cpu(module.k_norm, 3, [wa.to_warp(v, "vec3"), wa.to_warp(n, "int32"), out])
    # int32 division truncates toward zero: -7 / 2 == -3
    np.testing.assert_allclose(wa.to_numpy(out), [5.0 - 3.0, 2.0, 3.0 + 2.0], rtol=1e-6)


def test_array_conversion_round_trip_and_checks():
    v = np.arange(6, dtype=np.float32).reshape(2, 3)
    back = wa.to_numpy(wa.to_warp(v, "vec3"))
    assert back.shape == (2, 3) and back.dtype == np.float32
    np.testing.assert_array_equal(back, v)
    with pytest.raises(ValueError, match="shape"):
        wa.to_warp(np.zeros(3, dtype=np.float32), "vec3")
    with pytest.raises(ValueError, match="unsupported dtype"):
        wa.to_warp(np.zeros(3), "float128")


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_generate_source_has_every_forward_and_backward(kernel_file, target):
    module = wa.import_kernel_module(kernel_file)
    wa.set_module_options(module, enable_backward=True)
    source = wa.generate_source(module, target)
    for name in NAMES:
        for kind in ("forward", "backward"):
            assert re.search(rf"\b{name}_[0-9a-f]{{8}}_{target}_kernel_{kind}\(", source), (name, kind)
    if target == "cuda":
        assert "__global__" in source


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_generate_source_follows_enable_backward(kernel_file, target):
    module = wa.import_kernel_module(kernel_file)
    wa.set_module_options(module, enable_backward=False)
    source = wa.generate_source(module, target)
    assert f"_{target}_kernel_forward(" in source
    assert f"_{target}_kernel_backward(" not in source


@pytest.mark.parametrize("mode", wa.NVRTC_MODES)
def test_compile_nvrtc_source_compiles_generated_text(kernel_file, tmp_path, mode):
    if not wa.nvrtc_architectures():
        pytest.skip("this Warp build has no NVRTC, so CUDA code cannot be compiled here")
    module = wa.import_kernel_module(kernel_file)
    wa.set_module_options(module, optimization_level=0, enable_backward=True)
    cpu, cuda = wa.generate_sources(module, ("cpu", "cuda"))
    ptx = wa.compile_nvrtc_source(cuda, tmp_path / mode, arch=90, mode=mode)
    text = ptx.read_text()
    for name in NAMES:
        assert re.search(rf"\.entry\s+{name}_[0-9a-f]{{8}}_cuda_kernel_forward\b", text), name
        assert re.search(rf"\.entry\s+{name}_[0-9a-f]{{8}}_cuda_kernel_backward\b", text), name
    # a broken text is an NVRTC error with NVRTC's log, not a silent success
    broken = cuda.replace("_cuda_kernel_forward(", "_cuda_kernel_forward(undeclared_type x, ", 1)
    with pytest.raises(wa.BuildError, match="undeclared_type"):
        wa.compile_nvrtc_source(broken, tmp_path / f"{mode}-broken", arch=90, mode=mode)
    with pytest.raises(ValueError, match="mode"):
        wa.compile_nvrtc_source(cuda, tmp_path / "x", mode="fast")


def test_type_error_raises_build_error_naming_the_problem(tmp_path):
    path = tmp_path / "mixed.py"
    path.write_text(TYPE_ERROR_KERNEL)
    module = wa.import_kernel_module(path)
    with pytest.raises(wa.BuildError, match="k_mixed") as caught:
        wa.compile_cpu(module)
    assert "float32" in str(caught.value) and "int32" in str(caught.value)
    with pytest.raises(wa.BuildError, match="Input types must be the same"):
        wa.generate_source(module, "cuda")


def test_generate_source_rejects_unknown_target(kernel_file):
    module = wa.import_kernel_module(kernel_file)
    with pytest.raises(ValueError, match="target"):
        wa.generate_source(module, "metal")


@pytest.mark.parametrize("seed", [0, 1])
def test_generate_sources_equals_one_generate_source_per_target(tmp_path, seed):
    # generate_sources builds the kernels once for both targets; the texts must not change for what we generate
    from harness.generate import draw_kernels
    from harness.pipeline import module_source, name_kernels

    kernels = [k for _, k in name_kernels(draw_kernels(seed, 16))]
    path = tmp_path / f"generated_{seed}.py"
    path.write_text(module_source(kernels))
    module = wa.import_kernel_module(path)
    assert wa.generate_sources(module, ("cpu", "cuda")) == (wa.generate_source(module, "cpu"),
                                                            wa.generate_source(module, "cuda"))
    wa.release_module(module)


def test_generate_sources_after_a_cpu_build_reuses_its_builder_and_gives_the_same_texts(tmp_path, monkeypatch):
    """After compile_cpu, generate_sources emits from the build's own builder (no kernel is built again); the
    texts are those a fresh builder gives (up to the process-wide instance numbers of user functions, which
    every new builder advances and the records renumber: extract.normalise), and an option changed since the
    build is not served stale."""
    import re

    from harness.warp_side.extract import normalise
    from harness.generate import draw_kernels
    from harness.pipeline import module_source, name_kernels

    kernels = [k for _, k in name_kernels(draw_kernels(5, 8))]
    functions = {n for k in kernels for n in re.findall(r"^def (\w+)\(", k.kernel_source, re.M)} - \
        {k.name for k in kernels}
    assert functions  # helpers and library functions: the instance numbers are exercised
    path = tmp_path / "generated_reuse.py"
    path.write_text(module_source(kernels))
    module = wa.import_kernel_module(path)
    wa.set_module_options(module, optimization_level=0, enable_backward=True)
    wa.compile_cpu(module)
    warp_module = wa._warp_module(module)
    assert warp_module in wa._Builders.kept  # the build's builder was recorded
    made = []
    original = wa._wp_context.ModuleBuilder

    class Counting(original):
        def __init__(self, *args, **kwargs):
            made.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(wa._wp_context, "ModuleBuilder", Counting)
    reused = wa.generate_sources(module, ("cpu", "cuda"))
    assert made == []  # nothing built again
    wa._Builders.kept.clear()
    fresh = wa.generate_sources(module, ("cpu", "cuda"))
    assert len(made) == 1
    monkeypatch.undo()
    assert [normalise(t, functions) for t in reused] == [normalise(t, functions) for t in fresh]
    assert "_cpu_kernel_backward(" in reused[0]
    wa.compile_cpu(module)  # recorded again; then the options change: the old builder must not serve
    wa.set_module_options(module, optimization_level=0, enable_backward=False)
    cpu = wa.generate_source(module, "cpu")
    assert "_cpu_kernel_forward(" in cpu and "_cpu_kernel_backward(" not in cpu
    wa.release_module(module)


def test_rows_a_release_lacks_are_left_out_of_the_generator_table(monkeypatch):
    """On the release the table follows, every ``wp.<name>`` row exists (none is dropped); a row whose builtin the
    release lacks is found and :func:`grammar.ops.restrict` leaves it out of ``OPS`` but not of ``BY_NAME``."""
    from dataclasses import replace

    from grammar import ops

    assert wa.missing_rows(ops.OPS) == set()
    ghost = replace(ops.BY_NAME["sin"], name="ghost_row", spelling="wp.no_such_builtin_in_any_release")
    assert wa.missing_rows(ops.OPS + (ghost,)) == {"ghost_row"}
    monkeypatch.setattr(ops, "OPS", ops.OPS)  # restored after the test
    monkeypatch.setattr(ops, "UNAVAILABLE", ops.UNAVAILABLE)
    n = len(ops.OPS)
    ops.restrict({"copysign", "transform_twist"})
    assert len(ops.OPS) == n - 2 and not {"copysign", "transform_twist"} & {op.name for op in ops.OPS}
    assert ops.UNAVAILABLE == {"copysign", "transform_twist"} and "copysign" in ops.BY_NAME
    from grammar.types import FLOAT32

    assert all(op.name != "copysign" for op, _ in ops.ops_returning(FLOAT32))
    assert any(op.name == "copysign" for op in ops.CORE_OPS + ops.GROUP_MODULES[0].ROWS)  # the table still has it


def test_diagnostics_name_the_warp_version():
    assert wa.warp_version() in wa.diagnostics()
