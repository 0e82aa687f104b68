"""Cutting kernels out of generated modules and normalising them: synthetic text, then real Warp output."""

from __future__ import annotations

import re
import textwrap

import pytest

from harness.warp_side import warp_adapter as wa
from harness.warp_side.extract import (
    ExtractionError,
    extract_all,
    extract_kernel_functions,
    kernel_spans,
    normalise,
    without_kernels,
)

# --------------------------------------------------------------------------- synthetic sources

CPU_SOURCE = textwrap.dedent(
    """\
    struct wp_args_k_a_0a1b2c3d {
        wp::array_t<wp::float32> x;
    };

    template <bool wp_linear_contiguous>
    static void k_a_0a1b2c3d_cpu_kernel_forward(
        wp::launch_bounds_t<1> dim,
        wp_args_k_a_0a1b2c3d *_wp_args)
    {
        const wp::str var_0 = "}{ \\" }";   // a string with braces and an escaped quote
        // x = y  # python comment with a brace {                                <L 7>
        /* a block comment } */
        if (true) { var_12345678 = 1; }
    }



    template <bool wp_linear_contiguous>
    static void k_a_0a1b2c3d_cpu_kernel_backward(
        wp::launch_bounds_t<1> dim,
        wp_args_k_a_0a1b2c3d *_wp_args,
        wp_args_k_a_0a1b2c3d *_wp_adj_args)
    {
    #line 7 "kernels{.py"
        { char c = '}'; }
    }

    WP_API void k_a_0a1b2c3d_cpu_forward(wp::launch_bounds_t<1> dim, wp_args_k_a_0a1b2c3d *_wp_args)
    {
        k_a_0a1b2c3d_cpu_kernel_forward<false>(dim, 0, _wp_args);
    }

    template <bool wp_linear_contiguous>
    static void k_ab_99999999_cpu_kernel_forward(
        wp::launch_bounds_t<1> dim)
    {
    }
    """
)

CUDA_SOURCE = textwrap.dedent(
    """\
    extern "C" __global__ void k_a_0a1b2c3d_cuda_kernel_forward(
        wp::launch_bounds_t<1> dim,
        S_deadbeef var_s)
    {
        for (size_t _idx = 0; _idx < dim.size; ++_idx)
        {
            // out[i] = a[i]                                                       <L 3>
            wp::adj_S_deadbeef(var_s);
        }
    }
    """
)


def test_synthetic_cpu_functions_are_cut_whole():
    functions = extract_kernel_functions(CPU_SOURCE, "k_a", "cpu")
    forward, backward = functions["forward"], functions["backward"]
    assert forward.startswith("template <bool wp_linear_contiguous>\nstatic void k_a_0a1b2c3d_cpu_kernel_forward(")
    assert forward.endswith("if (true) { var_12345678 = 1; }\n}")
    assert backward.startswith("template <bool wp_linear_contiguous>\nstatic void k_a_0a1b2c3d_cpu_kernel_backward(")
    assert backward.endswith("{ char c = '}'; }\n}")
    assert "cpu_forward(wp::launch" not in forward + backward  # the host wrapper is not part of it


def test_call_sites_are_not_taken_for_definitions():
    # The host wrapper calls k_a_..._cpu_kernel_forward<false>(...); only the definition counts, and a
    # kernel whose name extends another's (k_ab) is a different kernel.
    both = extract_all(CPU_SOURCE, ["k_a", "k_ab"], "cpu")
    assert "k_ab_99999999_cpu_kernel_forward" in both["k_ab"]["forward"]
    assert "k_ab" not in both["k_a"]["forward"]
    assert both["k_ab"]["backward"] == ""


def test_synthetic_cuda_function_and_target_check():
    functions = extract_kernel_functions(CUDA_SOURCE, "k_a", "cuda")
    assert functions["forward"] == CUDA_SOURCE.rstrip("\n")
    assert functions["backward"] == ""
    with pytest.raises(ExtractionError, match="k_a"):
        extract_kernel_functions(CUDA_SOURCE, "k_a", "cpu")
    with pytest.raises(ValueError):
        extract_all(CUDA_SOURCE, ["k_a"], "metal")


def test_missing_kernel_raises():
    with pytest.raises(ExtractionError, match="k_missing"):
        extract_kernel_functions(CPU_SOURCE, "k_missing", "cpu")


def test_unbalanced_function_raises():
    broken = 'extern "C" __global__ void k_x_cuda_kernel_forward(int dim)\n{\n    if (dim) {\n'
    with pytest.raises(ExtractionError, match="unbalanced"):
        extract_kernel_functions(broken, "k_x", "cuda")


def test_normalise_synthetic_text():
    forward = normalise(extract_kernel_functions(CPU_SOURCE, "k_a", "cpu")["forward"])
    assert "static void k_a_cpu_kernel_forward(" in forward
    assert "wp_args_k_a *_wp_args" in forward
    assert "var_12345678" in forward  # Warp's numbered temporaries are not hashes
    assert "<L 7>" not in forward and "python comment" not in forward
    assert "/* a block comment } */" in forward  # other comments stay

    backward = normalise(extract_kernel_functions(CPU_SOURCE, "k_a", "cpu")["backward"])
    assert "#line" not in backward

    cuda = normalise(CUDA_SOURCE)
    assert "S var_s" in cuda and "wp::adj_S(var_s)" in cuda
    assert "deadbeef" not in cuda


def test_normalise_whitespace_rules():
    text = "a();   \n\n\n\n  // b  <L 3>\n\tc();\t\n\n\n"
    assert normalise(text) == "a();\n\n\tc();\n"
    assert normalise("") == ""
    assert normalise(normalise(CPU_SOURCE)) == normalise(CPU_SOURCE)


def test_normalise_keeps_names_that_only_look_hashed():
    text = "foo_deadbeef_bar(); var_0123abcd; x_12345678901; k_cafe_babe_cpu_kernel_forward"
    assert normalise(text) == text + "\n"


# --------------------------------------------------------------------------- real Warp output

MODULE_A = textwrap.dedent(
    """\
    import warp as wp


    @wp.kernel
    def k_scale(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
        i = wp.tid()
        out[i] = a[i] * 2.0 + 1.0


    @wp.kernel
    def k_len(v: wp.array(dtype=wp.vec3), out: wp.array(dtype=wp.float32)):
        i = wp.tid()
        out[i] = wp.length(v[i])
    """
)

# k_scale again, at other lines and with other comments: its hash and line numbers differ.
MODULE_B = textwrap.dedent(
    """\
    import warp as wp


    @wp.kernel
    def k_zero(a: wp.array(dtype=wp.float32)):
        i = wp.tid()
        a[i] = 0.0


    @wp.kernel
    def k_scale(a: wp.array(dtype=wp.float32), out: wp.array(dtype=wp.float32)):
        # the same statements as in module A
        i = wp.tid()
        out[i] = a[i] * 2.0 + 1.0  # {a trailing "comment"}
    """
)

HASHED = re.compile(r"_[0-9a-f]{8}_(?:cpu|cuda)_kernel_|wp_args_\w+_[0-9a-f]{8}\b")


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    wa.init(str(tmp_path_factory.mktemp("warp-cache")))
    directory = tmp_path_factory.mktemp("kernels")
    loaded = {}
    for label, text in (("a", MODULE_A), ("b", MODULE_B)):
        path = directory / f"module_{label}.py"
        path.write_text(text)
        loaded[label] = wa.import_kernel_module(path)
        wa.set_module_options(loaded[label], enable_backward=True)
    return loaded


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_real_module_gives_forward_and_backward_per_kernel(modules, target):
    source = wa.generate_source(modules["a"], target)
    functions = extract_all(source, ["k_scale", "k_len"], target)
    for name, pair in functions.items():
        assert re.search(rf"\b{name}_[0-9a-f]{{8}}_{target}_kernel_forward\(", pair["forward"])
        assert re.search(rf"\b{name}_[0-9a-f]{{8}}_{target}_kernel_backward\(", pair["backward"])
        for text in pair.values():
            assert text.rstrip().endswith("}")
            assert text.count("{") == text.count("}")  # no braces in these kernels' strings/comments
            normalised = normalise(text)
            assert not HASHED.search(normalised)
            assert "<L " not in normalised and "#line" not in normalised
            assert f"{name}_{target}_kernel_" in normalised


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_same_kernel_in_two_modules_normalises_identically(modules, target):
    first = extract_kernel_functions(wa.generate_source(modules["a"], target), "k_scale", target)
    second = extract_kernel_functions(wa.generate_source(modules["b"], target), "k_scale", target)
    for kind in ("forward", "backward"):
        assert first[kind] != second[kind]  # different hash and source comments
        assert normalise(first[kind]) == normalise(second[kind])


def test_a_module_text_without_some_kernels_keeps_the_others_whole(modules):
    """What NVRTC compiles when some kernels of a build did not pass (pipeline step 4): their forward and backward
    functions cut out, every other character left as it was."""
    source = wa.generate_source(modules["a"], "cuda")
    spans = kernel_spans(source, ["k_scale", "k_len"], "cuda")
    assert set(spans["k_len"]) == {"forward", "backward"}
    rest = without_kernels(source, ["k_len"], "cuda")
    assert len(source) - len(rest) == sum(end - start for start, end in spans["k_len"].values())
    assert "k_len" not in rest
    assert extract_all(rest, ["k_scale"], "cuda") == extract_all(source, ["k_scale"], "cuda")
    with pytest.raises(ExtractionError, match="k_len"):
        extract_all(rest, ["k_len"], "cuda")
    assert without_kernels(source, [], "cuda") == source


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_without_backward_the_backward_text_is_empty(tmp_path, target):
    path = tmp_path / "forward_only.py"
    path.write_text(MODULE_A)
    module = wa.import_kernel_module(path)
    wa.set_module_options(module, enable_backward=False)
    functions = extract_all(wa.generate_source(module, target), ["k_scale", "k_len"], target)
    for pair in functions.values():
        assert pair["forward"] and pair["backward"] == ""



def test_a_reused_build_with_a_failed_kernel_records_the_passing_kernels_as_a_fresh_builder_would(tmp_path,
                                                                                                   monkeypatch):
    """Without NVRTC the pipeline extracts from the CPU build (and Warp's builder of it) even when one of its
    kernels did not pass (pipeline steps 4-5): the passing kernels get the records a fresh builder of that
    module gives, the other none (the instance numbers of user functions, ``layer_norm_0``, which every new
    builder advances, are renumbered by extract.normalise)."""
    from harness import pipeline
    from harness.generate import draw_kernels

    kernels = [k for _, k in pipeline.name_kernels(draw_kernels(5, 5))]
    dropped = kernels[0].name
    check = pipeline._check_kernel

    def screen_one(k, *args, **kwargs):
        if k.name == dropped:
            return pipeline.KernelResult(k, "screened", "screened by the test")
        return check(k, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_check_kernel", screen_one)
    opts = pipeline.Options(nvrtc=False)
    fields = ("cpu_forward", "cpu_backward", "cuda_forward", "cuda_backward", "python_source", "id")
    emitted = []
    emit = wa._Builders.emit

    def counting_emit(*args):
        texts = emit(*args)
        emitted.append(texts is not None)
        return texts

    monkeypatch.setattr(wa._Builders, "emit", counting_emit)
    reused = pipeline.verify_batch(kernels, tmp_path / "reused", opts)
    assert emitted == [True]  # one build, its builder emitted both targets
    monkeypatch.setattr(wa._Builders, "emit", lambda *args: None)  # a fresh builder every time
    fresh = pipeline.verify_batch(kernels, tmp_path / "fresh", opts)
    got = {r.kernel.name: [r.record[f] for f in fields] for r in reused.results if r.record is not None}
    want = {r.kernel.name: [r.record[f] for f in fields] for r in fresh.results if r.record is not None}
    assert reused.results[0].verdict == "screened" and dropped not in got
    assert len(want) >= 3 and got == want
    # and the records are those of a module without the kernel that did not pass
    alone = pipeline.verify_batch(kernels[1:], tmp_path / "alone", opts)
    assert got == {r.kernel.name: [r.record[f] for f in fields] for r in alone.results if r.record is not None}


def test_nvrtc_compiles_the_build_text_without_the_kernels_that_did_not_pass_and_hybrid_splits_it_by_size(
        tmp_path, monkeypatch):
    """Pipeline step 4 with NVRTC (its compile replaced by a recorder): the CPU build's text is compiled without the
    kernel that did not pass (no second import); in ``hybrid`` mode the kernels up to ``nvrtc_debug_max_kb`` of CUDA
    go to a ``-G`` compile and the others to a level-3 one, each text holding only its kernels, and every record
    says the mode its kernel was compiled in. The records are those of a module of the passing kernels alone."""
    from harness import pipeline
    from harness.generate import draw_kernels

    kernels = [k for _, k in pipeline.name_kernels(draw_kernels(5, 6))]
    dropped = kernels[0].name
    check = pipeline._check_kernel
    monkeypatch.setattr(pipeline, "_check_kernel", lambda k, *a, **kw: pipeline.KernelResult(k, "screened", "test")
                        if k.name == dropped else check(k, *a, **kw))
    compiled: list[tuple[str, str]] = []
    monkeypatch.setattr(pipeline.W, "compile_nvrtc_source", lambda text, out_dir, arch=90, *, mode, **kw:
                        compiled.append((mode, text)))
    imports = []
    real_import = pipeline.W.import_kernel_module
    monkeypatch.setattr(pipeline.W, "import_kernel_module", lambda path: imports.append(path) or real_import(path))
    plain = pipeline.verify_batch(kernels, tmp_path / "plain", pipeline.Options(nvrtc_mode="debug"))
    records = {r.kernel.name: r.record for r in plain.results if r.record is not None}
    assert len(imports) == 1 and dropped not in records and len(records) >= 3
    def entries(text):  # the kernels whose CUDA entry points a text holds (a kernel's helper functions may stay)
        return set(re.findall(r"\b(k_\w+?)_[0-9a-f]{8}_cuda_kernel_forward\(", text))

    assert [mode for mode, _ in compiled] == ["debug"] and entries(compiled[0][1]) == set(records)
    sizes = {name: sum(e - s for s, e in spans.values())
             for name, spans in kernel_spans(compiled[0][1], list(records), "cuda").items()}
    threshold = sorted(sizes.values())[len(sizes) // 2 - 1]  # about half the kernels on each side
    assert threshold < max(sizes.values())
    compiled.clear()
    hybrid = pipeline.verify_batch(kernels, tmp_path / "hybrid", pipeline.Options(
        nvrtc_mode="hybrid", nvrtc_debug_max_kb=threshold / 1000))
    assert sorted(mode for mode, _ in compiled) == ["debug", "optimized"]
    for mode, text in compiled:
        assert entries(text) == {name for name, size in sizes.items() if (size <= threshold) == (mode == "debug")}
    fields = ("cpu_forward", "cpu_backward", "cuda_forward", "cuda_backward", "id")
    for r in hybrid.results:
        if r.record is not None:
            assert r.record["verification"]["nvrtc_mode"] == ("debug" if sizes[r.kernel.name] <= threshold else "optimized")
            assert [r.record[f] for f in fields] == [records[r.kernel.name][f] for f in fields]
    alone = pipeline.verify_batch([k for k in kernels if k.name != dropped], tmp_path / "alone",
                                  pipeline.Options(nvrtc_mode="debug"))
    assert {r.kernel.name: [r.record[f] for f in fields] for r in alone.results if r.record is not None} == {
        name: [record[f] for f in fields] for name, record in records.items()}


def test_an_nvrtc_failure_of_the_minus_g_part_is_bisected_to_its_kernel_and_says_it_was_minus_g(tmp_path,
                                                                                                 monkeypatch):
    """A kernel NVRTC rejects in a hybrid compile (the rejection injected) is bisected out as ``nvrtc-error``; its
    failure says the compile was ``-G`` (so the reproducer compiles in Warp's debug mode); the others are recorded."""
    from harness import pipeline
    from harness.generate import draw_kernels
    from harness.report import NVRTC_DEBUG

    named = pipeline.name_kernels(draw_kernels(5, 4))
    bad = named[-1][1].name
    real = pipeline.W.compile_nvrtc_source

    def rejecting(text, out_dir, arch=90, *, mode, **kw):
        if mode == "debug" and re.search(rf"\b{bad}_[0-9a-f]{{8}}_cuda_kernel_forward\(", text):
            raise pipeline.W.BuildError("error: injected by the test")
        return real(text, out_dir, arch, mode=mode, **kw)

    monkeypatch.setattr(pipeline.W, "compile_nvrtc_source", rejecting)
    result = pipeline.verify_batch([k for _, k in named], tmp_path / "b", pipeline.Options(nvrtc_mode="hybrid"),
                                   named=named)
    verdicts = {r.kernel.name: (r.verdict, r.reason) for r in result.results}
    assert verdicts[bad] == ("warp-bug", "nvrtc-error")
    failure = next(r.failure for r in result.results if r.kernel.name == bad)
    assert failure.message.startswith(NVRTC_DEBUG) and "injected by the test" in failure.message
    others = [r for r in result.results if r.kernel.name != bad and r.record is not None]
    assert others and all(r.record["verification"]["nvrtc_mode"] == "debug" for r in others)


def test_normalise_numbers_user_functions_from_zero_whatever_the_process_made_before():
    """Warp names a user function's instances <name>_<n> from a process-wide counter; normalise renumbers them
    by first appearance, distinct stays distinct, other names ending in digits are left alone."""
    code = ("var_3 = layer_norm_137(var_1);\nvar_4 = layer_norm_140(var_2);\nk_f0_12(var_4);\n"
            "adj_layer_norm_140(var_2, adj_2, adj_4);\nadj_layer_norm_137(var_1, adj_1, adj_3);\n"
            "my_layer_norm_3(var_1);\nlayer_norm_x_5(var_1);\n")
    assert normalise(code, {"layer_norm", "k_f0", "k"}) == (
        "var_3 = layer_norm_0(var_1);\nvar_4 = layer_norm_1(var_2);\nk_f0_0(var_4);\n"
        "adj_layer_norm_1(var_2, adj_2, adj_4);\nadj_layer_norm_0(var_1, adj_1, adj_3);\n"
        "my_layer_norm_3(var_1);\nlayer_norm_x_5(var_1);\n")
    assert normalise(code) == code  # no functions named: nothing renumbered
