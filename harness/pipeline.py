"""One batch of generated kernels through every stage of the harness.

``verify_batch`` takes generated kernels and returns one :class:`KernelResult` per kernel:

1. **render** all kernels into one Python module file (one Warp module per batch: the fixed cost of a
   module build is ~1 s, so batching is what makes verification affordable);
2. with a code-size budget (``Options.max_code_kb``, which collect sets), **measure** each kernel's generated
   functions from one code generation of the module and screen those over the budget (verdict ``screened``,
   ``code-size``) before anything is compiled: they could never be recorded;
   **compile for the CPU**; if the module fails to build, bisect it down to the kernels that fail alone
   (verdict ``warp-bug``/``compile-error``) and rebuild the rest;
3. **run** every kernel on seeded inputs and compare with the numpy references
   (:mod:`harness.oracle.reference`, :mod:`harness.oracle.compare`); ill-conditioned inputs are retried with new seeds
   and the kernel is ``screened`` if no well-conditioned input is found; a kernel that matches then has
   its backward pass checked (:mod:`harness.oracle.gradient`): a wrong gradient is a ``warp-bug`` with a
   ``gradient-mismatch`` failure, anything else is recorded in the record's ``gradient_*`` fields;
4. **generate** the CPU and CUDA sources and **compile the CUDA module with NVRTC** (bisecting on failure,
   verdict ``nvrtc-error``): the text of the CPU build, without the kernels that did not pass; with
   ``nvrtc_mode="hybrid"`` kernels up to ``nvrtc_debug_max_kb`` of CUDA are compiled with ``-G`` and larger
   ones at level 3, each part of the text on its own;
5. **extract** each kernel's forward/backward functions for both targets, normalised.

With ``Options(verify="none")`` only steps 1 and 5 run (code generation of both targets and extraction;
nothing is compiled or executed, code generation failures get the verdict ``codegen-error``): raw volume
for users who do not need verified kernels.

Verdicts: ``accepted`` (everything passed; a corpus record is attached), ``warp-bug`` (compile error,
NVRTC error, mismatch; a :class:`harness.report.Failure` is attached), ``screened`` (ill-conditioned),
``generator-error`` (the reference found undefined behaviour or could not evaluate the kernel: a bug of
ours, never reported against Warp), ``input-independent`` (with ``Options(skip_input_independent=True)``,
which the fuzz hunt sets: the reference outputs are identical for two input draws, so the kernel tests
nothing; checked in the reference before Warp is called, never a failure).
"""

from __future__ import annotations

import itertools
import os
import re
import time
import traceback
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from grammar.semantics import UndefinedBehaviour, traces_fragile
from strategies import GeneratedKernel

from . import GENERATOR_VERSION
from .check_translation import record_tests
from .oracle.compare import Comparison, compare_outputs, exact_match
from .oracle.conditioning import conditioning, element_ndim, fails_reference, reference_comparison
from .oracle.gradient import CHECKED, GradientResult, LazyGradients, check_gradient, needs_backward
from .oracle.input_choice import choose_first, first_inputs
from .oracle.inputs import INPUT_ATTEMPTS, make_inputs, profile_for_attempt
from .oracle.reference import run_reference
from .report import NVRTC_DEBUG, Failure, KernelArg
from .store.canonical import canonical_id
from .store.corpus import Record, code_bytes, utc_timestamp
from .warp_side import differential as D
from .warp_side import warp_adapter as W
from .warp_side.extract import ExtractionError, cut_spans, extract_all, kernel_spans, normalise
from .warp_side.launch import run_warp

NVRTC_ARCH = 90
VERIFY_MODES = ("full", "none")
# "hybrid": NVRTC -G for every kernel whose CUDA functions (forward + backward) are at most
# Options.nvrtc_debug_max_kb, level 3 for larger ones (benchmarks/RESULTS.md, "Cheaper builds")
NVRTC_MODES = (*W.NVRTC_MODES, "hybrid")
_batch_counter = itertools.count()
# the differential variants a bug hunt should rotate through (every CPU variant: ~+60 % verification time,
# benchmarks/differential.py); collect keeps Options.differential empty (records do not depend on it)
FUZZ_DIFFERENTIAL = ("nobackward", "unroll0", "debug", "opt2", "cuda")


@dataclass
class Options:
    optimization_level: int = 0
    enable_backward: bool = True
    nvrtc: bool = True
    nvrtc_arch: int = NVRTC_ARCH
    # NVRTC configuration (warp_adapter.compile_nvrtc_source): Warp's release build at its CUDA default
    # level 3, or "debug" (-G: the whole front end, no optimiser; cheaper on typical kernels, far slower on huge)
    nvrtc_mode: str = "optimized"
    nvrtc_optimization_level: int = 3
    # nvrtc_mode "hybrid": the largest kernel (CUDA forward + backward, kB) still compiled with -G; -G took 1.3-4.7 s
    # against 1.3-11 s at level 3 for single kernels of 100-355 kB, and over 6 minutes for one of 841 kB
    nvrtc_debug_max_kb: int = 256
    seed: int = 0  # recorded in each record (the generation seed of the batch)
    verify: str = "full"  # one of VERIFY_MODES
    # accept an output identical to the float32 reference without the conditioning runs (compare.exact_match)
    exact_fast_path: bool = True
    policy: str = "default"  # the grammar.policy.POLICIES entry the kernels were drawn with (recorded)
    # differential oracles (harness.warp_side.differential.VARIANTS): batch i builds variant differential[i % n];
    # () = off
    differential: tuple[str, ...] = ()
    # a variant build compiles the backward code too (False: forward only; a variant is only ever launched forward,
    # and its backward code doubled what the build compiles)
    variant_backward: bool = False
    # build the kernels that are not gradient candidates (gradient.needs_backward) in a second, forward-only CPU
    # module; records are unchanged (the code generation for the extraction keeps enable_backward on)
    backward_split: bool = False
    # drop, before Warp is called, kernels whose reference outputs are identical for two input draws (verdict
    # input-independent: nothing they compute depends on the data, harness.liveness); costs one reference run
    # per kernel (the first draw's run is the one the comparison uses)
    skip_input_independent: bool = False
    # a second warp-lang release (harness.warp_side.against): every kernel the main build launched is also built and
    # launched by that release, in a companion process, and the outputs compared; None = off
    against: str | None = None
    # which code the records carry (harness.collect --backend): "warp" (C++/CUDA only), "both" (plus the JAX
    # program and its HLO, harness.jax_backend.oracle.jax_section), "jax" (no Warp at all: the JAX program is verified
    # against the reference instead, and only the kernels it expresses are kept)
    backend: str = "warp"
    # the exact gradient oracle (harness.jax_backend.gradient): Warp's gradient of every kernel the finite-difference
    # check checked is compared with JAX's derivative of the kernel's JAX program, where JAX expresses it (always on
    # with backend "both")
    jax_gradient: bool = False
    # records whose four generated functions exceed this many kB are screened (reason code-size); None: no budget
    # (harness.collect sets it from the policy's max_code_kb)
    max_code_kb: int | None = None


BACKENDS = ("warp", "both", "jax")


@dataclass
class KernelResult:
    kernel: GeneratedKernel
    verdict: str  # accepted | warp-bug | screened | generator-error
    reason: str = ""
    record: dict | None = None
    failure: Failure | None = None
    # Options.jax_gradient: the exact gradient oracle's verdict (harness.jax_backend.gradient), None when it did not run
    exact: object = None


@dataclass
class BatchResult:
    results: list[KernelResult]
    timings: dict[str, float] = field(default_factory=dict)
    skipped: int = 0  # kernels left out because their record id was in skip_ids
    # Options.against: failures of the other release (its kernel's own result is unchanged) and the outcome
    # counts of the comparison (harness.warp_side.against), with the first lines of its build errors under "examples"
    extra_failures: list = field(default_factory=list)
    against: dict = field(default_factory=dict)

    def counts(self) -> Counter:
        return Counter(r.verdict for r in self.results)


def name_kernels(kernels: list[GeneratedKernel]) -> list[tuple[str, GeneratedKernel]]:
    """Give each kernel a name derived from its canonical id; drop duplicates within the batch."""
    named, seen = [], set()
    for k in kernels:
        cid = canonical_id(k.source)
        if cid in seen:
            continue
        seen.add(cid)
        renamed = k.renamed(f"k_{cid[:12]}")
        # the canonical form renames the kernel but keeps helper and struct names, which follow the kernel's
        named.append((canonical_id(renamed.source) if k.helpers or k.structs else cid, renamed))
    return named


def module_source(kernels: list[GeneratedKernel]) -> str:
    """One importable module of ``kernels``: the library functions they call (grammar.ops_nn), each once, then
    each kernel's own definitions."""
    fragments = dict.fromkeys(f for k in kernels for f in k.fragments)
    return "import warp as wp\n\n\n" + "\n\n".join((*fragments, *(k.own_source for k in kernels)))


class _Build:
    """A Warp module built from some kernels: the file, the imported module, and its options."""

    made: list["_Build"] = []  # released at the end of the batch

    def __init__(self, kernels: list[GeneratedKernel], workdir: Path, opts: Options):
        _Build.made.append(self)
        self.kernels = kernels
        self.path = workdir / f"batch_{os.getpid()}_{next(_batch_counter)}.py"
        self.path.write_text(module_source(kernels))
        self.module = W.import_kernel_module(self.path)
        self.enable_backward = opts.enable_backward
        W.set_module_options(
            self.module, optimization_level=opts.optimization_level, enable_backward=opts.enable_backward
        )


def _isolate(kernels, workdir, opts, step, build=None, make=None) -> tuple[_Build | None, dict[str, str]]:
    """Build ``kernels`` (or take ``build``, already made of them) and run ``step`` on it; on BuildError
    bisect down to failing kernels.

    Returns (a build of all kernels that pass, {kernel name: error message} for those that fail alone).
    """
    make = make or _Build  # the build class (a variant's sets its module options)
    failures: dict[str, str] = {}

    def bisect(ks):
        try:
            step(make(ks, workdir, opts))
            return
        except W.BuildError as error:
            if len(ks) == 1:
                failures[ks[0].name] = str(error)
                return
        half = len(ks) // 2
        bisect(ks[:half])
        bisect(ks[half:])

    try:
        build = build or make(kernels, workdir, opts)
        step(build)
        return build, failures
    except W.BuildError:
        if len(kernels) == 1:
            raise
    bisect(kernels)
    good = [k for k in kernels if k.name not in failures]
    if not good:
        return None, failures
    build = make(good, workdir, opts)
    step(build)
    return build, failures


def _input_dependence_stage(ks: list[GeneratedKernel], ids: dict, results: dict, first_runs: dict) -> list:
    """The kernels whose reference outputs change with their inputs (the others get verdict ``input-independent``);
    the first reference run of each goes to ``first_runs``, for the launch to reuse."""
    kept = []
    for k in ks:
        first = _first_run(k, ids[k.name])
        if first is not None and first[1] is False:
            results[k.name] = KernelResult(k, "input-independent", "reference outputs identical for two input "
                                           "draws (nothing reaches an output from the data)")
            continue
        if first is not None:
            first_runs[k.name] = first[0]
        kept.append(k)
    return kept


def _budget_stage(ks: list[GeneratedKernel], workdir: Path, opts: Options, results: dict) -> tuple[list, "_Build | None"]:
    """The code-size budget (``opts.max_code_kb``) applied before anything is compiled: one code generation of the
    kernels' module gives each kernel's four functions, measured as its record would be (a kernel's normalised
    functions do not depend on the module's other kernels, tests/test_extract.py); kernels over the budget get
    verdict ``screened`` (``code-size``) and are neither compiled, run nor compiled by NVRTC: collect could never
    record them. Returns the kernels kept and, when none was screened, the module made for the measurement (the
    CPU build compiles it instead of importing the same text again).

    A code generation that fails leaves every kernel in: the CPU build bisects the failure down to its kernels
    (``warp-bug``), and the budget is then applied to each record as before (:func:`_sized`)."""
    if opts.max_code_kb is None or not ks:
        return ks, None
    measured = _code_sizes(ks, workdir, opts)
    if measured is None:
        return ks, None
    build, sizes = measured
    kept = []
    for k in ks:
        if sizes[k.name] > opts.max_code_kb * 1000:
            results[k.name] = KernelResult(k, "screened", "code-size")
        else:
            kept.append(k)
    return kept, build if len(kept) == len(ks) else None


def _code_sizes(ks: list[GeneratedKernel], workdir: Path, opts: Options) -> "tuple[_Build, dict[str, int]] | None":
    """(a module of ``ks``, each kernel's ``code_bytes`` as its record would state it) from one code generation of
    the module, nothing compiled; None when the code generation or the extraction fails."""
    try:
        build = _Build(ks, workdir, opts)
        cpu_text, cuda_text = W.generate_sources(build.module, ("cpu", "cuda"))
        names = [k.name for k in ks]
        cpu, cuda = extract_all(cpu_text, names, "cpu"), extract_all(cuda_text, names, "cuda")
    except (W.BuildError, ExtractionError):
        return None
    return build, {k.name: code_bytes(_functions(k, cpu, cuda)) for k in ks}


def _cpu_build_stage(ks: list[GeneratedKernel], workdir: Path, opts: Options, results: dict,
                     build: "_Build | None" = None) -> list:
    """Render and compile ``ks`` for the CPU (with ``opts.backward_split``: the kernels that need no backward pass in
    a forward-only module of their own), bisecting compile failures into ``warp-bug`` results; the builds.
    ``build``: a module of exactly ``ks`` made already (:func:`_budget_stage`), compiled instead of a new one."""
    groups = [(ks, opts)]
    if opts.backward_split and opts.enable_backward:
        backward = [k for k in ks if needs_backward(k)]
        forward = [k for k in ks if not needs_backward(k)]
        groups = [(g, o) for g, o in ((backward, opts), (forward, replace(opts, enable_backward=False))) if g]
    builds, failed = [], {}
    for group, gopts in groups:
        try:
            b, f = _isolate(group, workdir, gopts, lambda b: W.compile_cpu(b.module),
                            build if group is ks else None)
        except W.BuildError as error:
            b, f = None, {group[0].name: str(error)}
        failed |= f
        if b is not None:
            builds.append(b)
    for k in ks:
        if k.name in failed:
            results[k.name] = KernelResult(k, "warp-bug", "compile-error",
                                           failure=_build_failure(k, "compile-error", failed[k.name]))
    return builds


def verify_batch(kernels: list[GeneratedKernel], workdir: Path, opts: Options | None = None,
                 skip_ids: Container[str] = frozenset(), batch_index: int | None = None,
                 named: list[tuple[str, GeneratedKernel]] | None = None) -> BatchResult:
    """Verify ``kernels`` (see the module docstring); kernels whose record id is in ``skip_ids`` (already
    collected) are left out like duplicates within the batch. ``batch_index`` picks the differential
    variant (``opts.differential``); without it the variant is a function of the batch's kernels.
    ``named``: ``name_kernels(kernels)`` when the caller made it already (renaming re-renders a kernel with
    helpers or structs: about 0.1 s a kernel, not to be paid twice)."""
    opts = opts or Options()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    timings: Counter = Counter()
    named = name_kernels(kernels) if named is None else named
    skipped = sum(1 for cid, _ in named if cid in skip_ids)
    named = [(cid, k) for cid, k in named if cid not in skip_ids]
    ids = {k.name: cid for cid, k in named}
    ks = [k for _, k in named]
    results: dict[str, KernelResult] = {}
    if opts.verify == "none":
        _unverified_stage(ks, workdir, opts, ids, results, timings)
        return _finish(named, results, timings, skipped)
    if opts.backend == "jax":
        _jax_only_stage(ks, opts, ids, results, timings)
        return _finish(named, results, timings, skipped)

    # 0. kernels whose outputs do not depend on their inputs test nothing: dropped before Warp is called
    first_runs: dict[str, tuple] = {}
    if opts.skip_input_independent:
        t = time.perf_counter()
        ks = _input_dependence_stage(ks, ids, results, first_runs)
        timings["input_dependence"] += time.perf_counter() - t
        if not ks:
            return _finish(named, results, timings, skipped)

    # 1-2. render, the code-size budget, CPU compile (bisecting compile failures)
    t = time.perf_counter()
    ks, measured = _budget_stage(ks, workdir, opts, results)
    timings["code_size"] += time.perf_counter() - t
    if not ks:
        return _finish(named, results, timings, skipped)
    t = time.perf_counter()
    builds = _cpu_build_stage(ks, workdir, opts, results, measured)
    timings["cpu_compile"] += time.perf_counter() - t

    # 3. run + reference + compare
    checked: dict[str, tuple[Comparison, int, int, GradientResult, dict]] = {}
    launched: dict[str, tuple] = {}  # kernel name -> (seed, inputs, outputs, forward status) of its last launch
    if builds:
        t = time.perf_counter()
        for k, module in [(k, b.module) for b in builds for k in b.kernels]:
            outcome = _check_kernel(k, module, ids[k.name], opts, first_runs.get(k.name), launched)
            if isinstance(outcome, KernelResult):
                results[k.name] = outcome
            else:
                checked[k.name] = outcome
        timings["run_and_reference"] += time.perf_counter() - t

    # 3b. differential oracle: one variant build of the kernels that matched, compared with the main build
    variant = D.choose(opts.differential, batch_index, "".join(sorted(ids.values())))
    if variant is not None and checked and D.available(variant):
        t = time.perf_counter()
        _differential_stage([k for k in ks if k.name in checked], workdir, opts, variant, checked, results)
        timings["differential"] += time.perf_counter() - t

    # 3c. cross-release differential: the kernels launched here, launched by another release on the same inputs
    extra: list = []
    against: dict = {}
    if opts.against and launched:
        t = time.perf_counter()
        against = _against_stage([k for k in ks if k.name in launched], opts, launched, results, extra)
        timings["against"] += time.perf_counter() - t

    # 4-5. sources, NVRTC, extraction for the kernels that matched
    # the CPU build is reused (no second import, and Warp's builder of the build emits the texts: nothing is
    # built again, warp_adapter._Builders); NVRTC compiles its CUDA text without the kernels that did not pass
    # (extract.kernel_spans, cut_spans) and bisects its failures over the passing kernels only (a kernel's extracted
    # functions do not depend on the module's other kernels once normalised, tests/test_extract.py). A
    # forward-only build gets enable_backward back first: the records carry the backward code
    for b in builds or [None]:
        group = ks if b is None else b.kernels
        passing = [k for k in group if k.name in checked]
        if not passing:
            continue
        if b is not None and not b.enable_backward:
            W.set_module_options(b.module, optimization_level=opts.optimization_level, enable_backward=True)
            b.enable_backward = True
        _codegen_stage(passing, workdir, opts, checked, ids, results, timings, b, launched)
    if opts.backend == "both" or opts.jax_gradient:
        t = time.perf_counter()
        _jax_gradient_stage(ks, ids, checked, results)
        timings["jax_gradient"] += time.perf_counter() - t
    if opts.backend == "both":
        t = time.perf_counter()
        _jax_sections(ks, launched, results)
        timings["jax"] += time.perf_counter() - t

    return _finish(named, results, timings, skipped, extra, against)


def _finish(named, results, timings, skipped: int = 0, extra=(), against=None) -> BatchResult:
    for b in _Build.made:
        W.release_module(b.module)
    _Build.made.clear()
    ordered = [results[k.name] for _, k in named]
    return BatchResult(ordered, dict(timings), skipped, list(extra), dict(against or {}))


def _first_run(k: GeneratedKernel, cid: str):
    """((inputs, float32 reference run) of the first input attempt, whether the outputs depend on the inputs),
    or None when the reference cannot evaluate the kernel (then :func:`_check_kernel` reports it as always)."""
    from .liveness import is_input_dependent, same_outputs

    base_seed = int(cid[:8], 16)
    choice = choose_first(k, base_seed, profile_for_attempt(0, base_seed, INPUT_ATTEMPTS))
    try:  # the choice's own run when it made one (the same run: input_choice._executed_run)
        r32 = choice.run or run_reference(k.kernel_source, k.params, choice.values, k.dim)
    except Exception:
        return None
    # two candidates of the choice whose outputs differ already show the dependence; otherwise a draw of seed + 1
    dependent = (choice.other is not None and not same_outputs(r32.outputs, choice.other)) or \
        is_input_dependent(k, choice.seed, r32.outputs)
    return None if dependent is None else ((choice.seed, choice.values, r32), dependent)


def _check_kernel(k: GeneratedKernel, module, cid: str, opts: Options, first: tuple | None = None,
                  launched: dict | None = None):
    """Run one compiled kernel against the references; a KernelResult, or (comparison, seed, attempts).
    ``first``: the seed, inputs and float32 reference run of the first attempt, when already made. The first
    attempt's inputs are chosen for coverage (:func:`harness.oracle.input_choice.first_inputs`). ``launched`` receives
    ``k.name -> (seed, inputs, outputs, forward status)`` of the last launch (status match, mismatch or
    screened), for the cross-release differential."""
    last: Comparison | None = None
    base_seed = int(cid[:8], 16)
    for attempt in range(INPUT_ATTEMPTS):
        seed = base_seed + attempt
        r32 = None
        if attempt == 0 and first is not None:
            seed, values, r32 = first
        elif attempt == 0:
            choice = choose_first(k, base_seed, profile_for_attempt(0, base_seed, INPUT_ATTEMPTS))
            seed, values, r32 = choice.seed, choice.values, choice.run
        else:
            values = make_inputs(k.params, k.dim, seed, profile_for_attempt(attempt, seed, INPUT_ATTEMPTS))
        try:
            if r32 is None:
                r32 = run_reference(k.kernel_source, k.params, values, k.dim)
        except UndefinedBehaviour as error:
            return KernelResult(k, "generator-error", f"reference found undefined behaviour: {error}")
        except Exception as error:  # the reference cannot evaluate what we generated: our bug
            return KernelResult(k, "generator-error", f"reference failed: {type(error).__name__}: {error}")
        try:
            actual = run_warp(module, k, values)
        except Exception as error:
            return KernelResult(k, "generator-error", f"launch failed: {type(error).__name__}: {error}\n{traceback.format_exc()}")

        def conditioned():
            """The comparison judged against the measured conditioning (float64 and perturbed runs)."""
            try:
                c = conditioning(k, values, r32, seed)
            except UndefinedBehaviour as error:
                return KernelResult(k, "generator-error", f"reference found undefined behaviour: {error}")
            except Exception as error:
                return KernelResult(k, "generator-error", f"reference failed: {type(error).__name__}: {error}")
            return compare_outputs(actual, r32.outputs, c.r64, c.perturbed, fragile=c.fragile,
                                   element_ndim=element_ndim(k))

        # Shortcut: output identical to the float32 reference, and no discontinuity within rounding distance in
        # its run -> a match whatever the conditioning, so the conditioning runs are skipped (compare.exact_match).
        exact = None
        if opts.exact_fast_path and not traces_fragile(r32.trace, []):
            exact = exact_match(actual, r32.outputs)
        last = exact or conditioned()
        if isinstance(last, KernelResult):
            return last
        if launched is not None:
            launched[k.name] = (seed, values, actual, last.status)
        if last.status == "match":
            # the gradient on inputs of its own: the corner values that the forward check aims at (ties, zeros,
            # halves, wide magnitudes) sit on kinks, where a derivative is not defined; the same inputs
            # whichever attempt and path the forward comparison took
            gradient = _check_gradient(k, module, make_inputs(k.params, k.dim, base_seed, "smooth"), base_seed)
            if isinstance(gradient, KernelResult):
                if gradient.failure is not None:  # the reproducer builds as the harness did
                    gradient.failure.module_options = {"optimization_level": opts.optimization_level}
                return gradient
            return last, seed, attempt + 1, gradient, actual
        if last.status == "mismatch":
            failure = _mismatch_failure(k, values, r32.outputs, actual, last, seed)
            failure.module_options = {"optimization_level": opts.optimization_level}  # built as the harness did
            return KernelResult(k, "warp-bug", "mismatch: " + last.reason, failure=failure)
    return KernelResult(k, "screened", last.reason if last else "")


def _check_gradient(k: GeneratedKernel, module, values: dict, seed: int):
    """The gradient oracle (:mod:`harness.oracle.gradient`) on a kernel whose forward pass matched."""
    try:
        result = check_gradient(k, getattr(module, k.name), values, seed, module)
    except Exception as error:
        return KernelResult(k, "generator-error", f"gradient check failed: {type(error).__name__}: {error}\n"
                            f"{traceback.format_exc()}")
    if result.status == "mismatch":
        failure = _gradient_failure(k, values, result, seed)
        return KernelResult(k, "warp-bug", "gradient-mismatch: " + result.note, failure=failure)
    return result


def _differential_stage(passing, workdir, opts, variant: str, checked, results) -> None:
    """Build ``passing`` with ``variant``'s options, launch each kernel on the inputs its main-build check used,
    and turn a disagreement (:mod:`harness.warp_side.differential`) into a ``differential-<variant>`` warp-bug."""
    v = D.VARIANTS[variant]
    vopts = {"optimization_level": opts.optimization_level,
             "enable_backward": opts.enable_backward and opts.variant_backward} | v.options
    main_options = {"optimization_level": opts.optimization_level, "enable_backward": opts.enable_backward}

    class _VariantBuild(_Build):
        def __init__(self, kernels, workdir, _opts):
            super().__init__(kernels, workdir, _opts)
            W.set_module_options(self.module, **vopts)

    try:
        build, failed = _isolate(passing, workdir, opts, lambda b: W.compile_on(b.module, v.device),
                                 make=_VariantBuild)
    except W.BuildError as error:
        build, failed = None, {passing[0].name: str(error)}
    for k in passing:
        if k.name in failed:
            f = _build_failure(k, "compile-error", failed[k.name])
            f.module_options = dict(vopts)
            results[k.name] = KernelResult(k, "warp-bug", f"compile-error (variant {variant})", failure=f)
            checked.pop(k.name, None)
    if build is None:
        return
    for k in build.kernels:
        comparison, seed, attempts, gradient, main_out = checked[k.name]
        values = make_inputs(k.params, k.dim, seed, profile_for_attempt(attempts - 1, seed, INPUT_ATTEMPTS))
        other = run_warp(build.module, k, values, device=v.device)
        names = D.differing(main_out, other)
        if not names:
            continue
        if not v.exact and not fails_reference(k, values, other, seed):
            continue  # a legitimate rounding difference: the variant passes the reference comparison too
        message = (f"{k.name}: outputs {', '.join(names)} differ between the main build {main_options} and the "
                   f"{variant} build ({vopts} on {v.device})")
        failure = Failure(
            kind=f"differential-{variant}", kernel_name=k.name, module_source=k.source, dim=k.dim,
            args=_args(k, values), expected=main_out, actual=other, tolerance={"rtol": 0.0, "atol": 0.0},
            message=message, warp_version=W.warp_version(), seed=seed, module_options=main_options,
            variant_options=dict(vopts), variant_device=v.device,
            detail=("Both outputs come from Warp: the kernel launched on the same inputs twice, built with the "
                    "two configurations; they must agree bit for bit."
                    if v.exact else "The variant's output also fails the reference comparison that the main "
                    "build passed."),
        )
        checked.pop(k.name)
        results[k.name] = KernelResult(k, "warp-bug", message, failure=failure)


def _against_stage(kernels, opts: Options, launched: dict, results: dict, extra: list) -> dict:
    """Launch ``kernels`` with release ``opts.against`` (:mod:`harness.warp_side.against`) on the inputs of their last
    launch here and decide each difference; returns the outcome counts. Failures of the other release go to ``extra``
    (the kernel's own result is unchanged); a main-release mismatch gets the other release's behaviour in its
    detail."""
    from grammar.ops import TABLE_RELEASE

    from .warp_side import against as A

    counts: Counter = Counter()
    examples: list[str] = []
    request = [(k.name, k.dim, tuple(k.params), launched[k.name][1], k.kernel_source) for k in kernels]
    # forward only: the outputs are compared, not the gradients (half the build time)
    options = {"optimization_level": opts.optimization_level, "enable_backward": False}
    try:
        replies = A.companion(opts.against).run(request, options)
    except Exception as error:  # noqa: BLE001 - CompanionError or any other: the hunt goes on without this check
        return {"unavailable": len(kernels), "examples": [str(error).splitlines()[0][:300]]}
    other_version = opts.against
    for k in kernels:
        seed, values, main_out, status = launched[k.name]
        kind, payload = replies.get(k.name, ("launch-error", "no answer"))
        if kind != "ok":
            counts[kind] += 1
            first = next((ln.strip() for ln in str(payload).splitlines() if ln.strip()), "")
            if len(examples) < 5:
                examples.append(f"{k.name}: {first[:300]}")
            continue
        other = payload
        names = D.differing(main_out, other)
        main_failure = results[k.name].failure if k.name in results else None
        if not names:
            counts["identical"] += 1
            if status == "mismatch" and main_failure is not None:
                main_failure.detail += (f"\n\nwarp-lang {other_version} computes the same outputs bit for bit on "
                                        "these inputs (the bug is older).")
            continue
        if status == "match":
            comparison, r32 = reference_comparison(k, values, other, seed)
            if comparison.status != "mismatch":
                counts["tolerated"] += 1  # a legitimate rounding difference: it passes the comparison too
                continue
            conventions = A.nan_conventions(k, values)
            if conventions:  # the reference copies one release's choice there: it cannot decide between two
                status = "convention:" + ", ".join(sorted(conventions))
        if status == "match":
            counts["release-mismatch"] += 1
            f = _mismatch_failure(k, values, r32.outputs, other, comparison, seed)
            f.kind = "release-mismatch"
            f.warp_version = other_version
            f.module_options = {"optimization_level": opts.optimization_level}
            f.message = (f"warp-lang {other_version}: {comparison.reason} (warp-lang {W.warp_version()} passes the "
                         "same comparison on the same inputs)")
            extra.append(f)
        elif status == "mismatch":
            comparison, _ = reference_comparison(k, values, other, seed)
            regression = comparison.status != "mismatch"
            counts["regression" if regression else "both-wrong"] += 1
            if main_failure is not None:
                main_failure.detail += (
                    f"\n\nwarp-lang {other_version} on the same inputs: "
                    + ("passes the comparison (a regression since that release)." if regression
                       else "also fails the comparison, with different outputs."))
        else:
            counts["release-difference"] += 1
            if status.startswith("convention:"):
                why = (f"a NaN reaches {status.removeprefix('convention:')} (or smoothstep has equal edges), whose "
                       f"result there is each release's implementation choice; the reference copies warp-lang "
                       f"{TABLE_RELEASE}'s")
            else:  # screened: _check_kernel's verdict holds the reason
                why = f"the kernel was screened: {results[k.name].reason if k.name in results else status}"
            f = Failure(
                kind="release-difference", kernel_name=k.name, module_source=k.source, dim=k.dim,
                args=_args(k, values), expected=main_out, actual=other, tolerance={"rtol": 0.0, "atol": 0.0},
                message=(f"{k.name}: outputs {', '.join(names)} differ between warp-lang {W.warp_version()} "
                         f"(expected) and warp-lang {other_version} (actual) on the same inputs"),
                warp_version=other_version, seed=seed, module_options={"optimization_level": opts.optimization_level},
                detail=(f"Undecided: the reference cannot tell which release is right on these inputs ({why}). "
                        f"*expected* holds warp-lang {W.warp_version()}'s outputs; the reproducer exits 1 on a release "
                        "that computes anything else."),
            )
            extra.append(f)
    out: dict = dict(counts)
    if examples:
        out["examples"] = examples
    return out


def _codegen_stage(passing, workdir, opts, checked, ids, results, timings, reuse=None, launched=None) -> None:
    """Generate both targets' code once per module (one Warp builder), compile the CUDA text of the kernels that
    passed with NVRTC, extract; NVRTC failures are bisected down to the kernels responsible. Each record carries
    the inputs of its kernel's matching launch and Warp's outputs there (``launched``; harness.check_translation)."""
    nvrtc_dir = workdir / "nvrtc"
    counter = itertools.count()
    sources: dict[int, tuple[str, str]] = {}
    modes: dict[str, str] = {}  # kernel name -> the NVRTC mode it was compiled in

    def compile_text(text: str, mode: str) -> None:
        try:
            W.compile_nvrtc_source(text, nvrtc_dir / f"{os.getpid()}_{next(counter)}", arch=opts.nvrtc_arch,
                                   mode=mode, optimization_level=opts.nvrtc_optimization_level)
        except W.BuildError as error:
            if mode == "debug":  # the report's reproducer compiles in Warp's debug mode then (report.NVRTC_DEBUG)
                raise W.BuildError(f"{NVRTC_DEBUG} {error}") from error
            raise

    def nvrtc_step(b: _Build) -> None:
        t = time.perf_counter()
        sources[id(b)] = W.generate_sources(b.module, ("cpu", "cuda"))
        timings["codegen_extract"] += time.perf_counter() - t
        if opts.nvrtc:
            t = time.perf_counter()
            try:
                # one scan of the text; each part is the text without every other kernel of the build (those
                # that did not pass included)
                text = sources[id(b)][1]
                spans = kernel_spans(text, [k.name for k in b.kernels], "cuda")
                for mode, group in _nvrtc_parts(spans, [k.name for k in b.kernels if k.name in checked], opts):
                    compile_text(cut_spans(text, [span for name, kinds in spans.items() if name not in group
                                                  for span in kinds.values()]), mode)
                    modes.update(dict.fromkeys(group, mode))
            finally:
                timings["nvrtc"] += time.perf_counter() - t

    try:
        build, nv_failed = _isolate(passing, workdir, opts, nvrtc_step, reuse)
    except W.BuildError as error:
        build, nv_failed = None, {passing[0].name: str(error)}
    for k in passing:
        if k.name in nv_failed:
            results[k.name] = KernelResult(k, "warp-bug", "nvrtc-error", failure=_build_failure(k, "nvrtc-error", nv_failed[k.name]))
    if build is None:
        return
    t = time.perf_counter()
    cpu, cuda = _extracted(build, sources, checked)
    timings["codegen_extract"] += time.perf_counter() - t
    now = utc_timestamp()
    for k in build.kernels:
        if k.name not in checked:  # a reused build's kernel that did not pass
            continue
        comparison, seed, attempts, gradient, outputs = checked[k.name]
        verification = {
            "cpu_executed": True,
            "reference_match": True,
            "nvrtc_compiled": bool(opts.nvrtc),
            "nvrtc_arch": f"sm_{opts.nvrtc_arch}" if opts.nvrtc else "",
            "nvrtc_mode": modes.get(k.name, opts.nvrtc_mode) if opts.nvrtc else "",
            "nvrtc_optimization_level": W.nvrtc_level(opts.nvrtc_optimization_level) if opts.nvrtc else 0,
            "outputs_checked": comparison.outputs_checked,
            "max_error_ulp": round(comparison.max_error_ulp, 3),
            "input_seed": seed,
            "input_attempts": attempts,
            "gradient_checked": gradient.checked,
            "gradient_status": gradient.status,
            "gradient_note": gradient.note,
            "optimization_level": opts.optimization_level,
            "policy": opts.policy,
        }
        record = _record(k, ids[k.name], cpu, cuda, verification, opts, now)
        if launched is not None and k.name in launched:
            record["tests"] = record_tests(k, seed, launched[k.name][1], outputs)
        results[k.name] = _sized(k, record, opts)


def _nvrtc_parts(spans: dict, names: list[str], opts: Options) -> list[tuple[str, list[str]]]:
    """``[(NVRTC mode, kernel names)]``: how the kernels ``names`` are compiled, given where their CUDA functions
    lie (``extract.kernel_spans``). One part in ``opts.nvrtc_mode``; with ``"hybrid"``, ``-G`` (``"debug"``) for
    the kernels whose forward and backward functions take at most ``opts.nvrtc_debug_max_kb`` kB and level 3
    (``"optimized"``) for the others (NVRTC -G is ~2.7x cheaper on our modules but blows up on huge functions)."""
    if opts.nvrtc_mode != "hybrid":
        return [(opts.nvrtc_mode, names)]
    small = [n for n in names if sum(e - s for s, e in spans[n].values()) <= opts.nvrtc_debug_max_kb * 1000]
    large = [n for n in names if n not in small]
    return [(mode, group) for mode, group in (("debug", small), ("optimized", large)) if group]


def _functions(k: GeneratedKernel, cpu: dict, cuda: dict) -> dict[str, str]:
    """A kernel's four record fields of generated code, normalised, from ``extract_all`` of each target's text."""
    functions = {name for name in _DEF.findall(k.kernel_source) if name != k.name}  # its @wp.func functions
    return {f"{target}_{kind}": normalise(fns[k.name][kind], functions)
            for target, fns in (("cpu", cpu), ("cuda", cuda)) for kind in ("forward", "backward")}


def _sized(k: GeneratedKernel, record: dict, opts: Options) -> KernelResult:
    """The record with its ``verification.code_bytes``, accepted, or screened (``code-size``) above the budget."""
    size = code_bytes(record)
    record["verification"]["code_bytes"] = size
    if opts.max_code_kb is not None and size > opts.max_code_kb * 1000:
        return KernelResult(k, "screened", "code-size")
    return KernelResult(k, "accepted", record=record)


def _extracted(build: _Build, sources: dict[int, tuple[str, str]], keep) -> tuple[dict, dict]:
    """Each kernel's forward/backward functions for the CPU and CUDA, from the texts generated for ``build``
    (the kernels named in ``keep``)."""
    names = [k.name for k in build.kernels if k.name in keep]
    cpu_source, cuda_source = sources[id(build)]
    return extract_all(cpu_source, names, "cpu"), extract_all(cuda_source, names, "cuda")


_DEF = re.compile(r"^def (\w+)\(", re.M)


def _record(k: GeneratedKernel, cid: str, cpu: dict, cuda: dict, verification: dict, opts: Options,
            now: str) -> dict:
    """One corpus record: the kernel, its extracted functions for both targets, and how it was verified."""
    return Record(
        id=cid,
        kernel_name=k.name,
        categories=list(k.categories),
        python_source=k.source,
        **_functions(k, cpu, cuda),
        verification=verification,
        warp_version=W.warp_version(),
        generator_version=GENERATOR_VERSION,
        seed=opts.seed % 2**63,
        created_at=now,
    ).as_dict()


def _jax_sections(ks, launched: dict, results: dict) -> None:
    """``--backend both``: each accepted record gains its ``jax`` section, made on the inputs of the kernel's last
    launch (the ones its Warp outputs matched the reference on), with the exact gradient oracle's verdict."""
    from .jax_backend.oracle import jax_section

    for k in ks:
        r = results.get(k.name)
        if r is None or r.verdict != "accepted" or r.record is None or k.name not in launched:
            continue
        seed, values, _, _ = launched[k.name]
        section = jax_section(k, values, seed)
        exact = r.exact
        section["gradient_status"] = exact.status if exact is not None else "unchecked"
        section["gradient_note"] = exact.note if exact is not None else ""
        r.record["jax"] = section


def _jax_gradient_stage(ks, ids: dict, checked: dict, results: dict) -> None:
    """The exact gradient oracle (:mod:`harness.jax_backend.gradient`) on every accepted kernel: its verdict goes to the
    kernel's result (``exact``); a mismatch turns the kernel into a ``gradient-mismatch`` Warp report whose
    expected gradients are JAX's."""
    from .jax_backend.gradient import MISMATCH, UNCHECKED, ExactGradient, arbitrate, compare
    from .jax_backend.oracle import jax_gradient
    from .oracle.gradient import expected_gradients

    for k in ks:
        r = results.get(k.name)
        if r is None or r.verdict != "accepted" or k.name not in checked:
            continue
        gradient = checked[k.name][3]
        if gradient.status != CHECKED:
            r.exact = ExactGradient(UNCHECKED, note=f"the finite-difference check: {gradient.status}")
            continue
        seed = int(ids[k.name][:8], 16)  # the inputs and seed _check_kernel gave the gradient check
        values = make_inputs(k.params, k.dim, seed, "smooth")
        exact = jax_gradient(k, values, gradient.v, gradient.u)
        if exact.get("mode") in ("vjp", "jvp"):
            try:
                comparison = reference_comparison(k, values, exact["outputs"], seed)[0]
                status, why = comparison.status, comparison.reason
            except Exception as error:  # noqa: BLE001 - JAX's outputs the reference cannot compare
                status, why = "error", f"{type(error).__name__}: {error}"
            if status != "match":
                why = why.replace("Warp gave", "JAX gave")  # the comparison's wording is Warp's
                exact = {"mode": f"jax-forward-{status}", "reason": f"JAX's outputs at these inputs: {why}"[:300]}
        verdict = compare(gradient, exact)
        if verdict.status == MISMATCH and verdict.mode == "vjp":
            truth = expected_gradients(k, values, gradient)
            verdict = arbitrate(verdict, gradient.warp_grads, truth)
        r.exact = verdict
        if verdict.status == MISMATCH:
            failure = _jax_gradient_failure(k, values, gradient, verdict, seed)
            results[k.name] = KernelResult(k, "warp-bug", "jax-gradient-mismatch: " + verdict.note, failure=failure,
                                           exact=verdict)
        verdict.expected = {}  # the report holds them; results cross process boundaries


def _jax_only_stage(ks, opts, ids, results, timings) -> None:
    """``--backend jax``: no Warp. Each kernel JAX expresses is run by JAX on its first coverage-chosen inputs and
    compared with the reference; a match gives a record whose Warp fields are empty and whose ``jax`` section holds
    the program and its HLO (a screened input or a JAX failure gives none)."""
    from .jax_backend.oracle import jax_section

    now = utc_timestamp()
    for k in ks:
        t = time.perf_counter()
        base_seed = int(ids[k.name][:8], 16)
        seed, values = first_inputs(k, base_seed, profile_for_attempt(0, base_seed, INPUT_ATTEMPTS))
        section = jax_section(k, values, seed)
        timings["jax"] += time.perf_counter() - t
        if not section["expressible"]:
            reason = section["reason"]
            results[k.name] = KernelResult(k, "screened" if reason.startswith("jax-") else "inexpressible", reason)
            continue
        if section["reference_status"] != "match":
            results[k.name] = KernelResult(k, "screened", f"JAX outputs {section['reference_status']}")
            continue
        verification = {
            "backend": "jax",
            "cpu_executed": False,
            "reference_match": True,
            "nvrtc_compiled": False,
            "nvrtc_arch": "",
            "outputs_checked": section["outputs_checked"],
            "max_error_ulp": 0.0,
            "input_seed": seed,
            "gradient_checked": False,
            "gradient_status": "unchecked",
            "gradient_note": "--backend jax: Warp's adjoint is not run",
            "optimization_level": opts.optimization_level,
            "policy": opts.policy,
        }
        record = _record(k, ids[k.name], {k.name: {"forward": "", "backward": ""}},
                         {k.name: {"forward": "", "backward": ""}}, verification, opts, now)
        record.update(cpu_forward="", cpu_backward="", cuda_forward="", cuda_backward="", jax=section)
        results[k.name] = KernelResult(k, "accepted", record=record)


def _unverified_stage(ks, workdir, opts, ids, results, timings) -> None:
    """``verify="none"``: code generation for both targets and extraction; nothing compiled or run."""
    sources: dict[int, tuple[str, str]] = {}

    def codegen_step(b: _Build) -> None:
        sources[id(b)] = W.generate_sources(b.module, ("cpu", "cuda"))

    t = time.perf_counter()
    try:
        build, failed = _isolate(ks, workdir, opts, codegen_step)
    except W.BuildError as error:
        build, failed = None, {ks[0].name: str(error)}
    for k in ks:
        if k.name in failed:
            results[k.name] = KernelResult(k, "codegen-error", failed[k.name].splitlines()[0][:500])
    if build is None:
        timings["codegen_extract"] += time.perf_counter() - t
        return
    cpu, cuda = _extracted(build, sources, ids)
    timings["codegen_extract"] += time.perf_counter() - t
    now = utc_timestamp()
    for k in build.kernels:
        verification = {
            "verify": "none",
            "cpu_executed": False,
            "reference_match": False,
            "nvrtc_compiled": False,
            "nvrtc_arch": "",
            "outputs_checked": 0,
            "max_error_ulp": 0.0,
            "input_seed": 0,
            "gradient_checked": False,
            "gradient_status": "unchecked",
            "gradient_note": "--verify none: nothing was run",
            "optimization_level": opts.optimization_level,
            "policy": opts.policy,
        }
        record = _record(k, ids[k.name], cpu, cuda, verification, opts, now)
        results[k.name] = _sized(k, record, opts)


# ---- failures for reports -------------------------------------------------------------------------------------


def _args(k: GeneratedKernel, values: dict) -> list[KernelArg]:
    return [KernelArg(p.name, p.kind, p.dtype, values[p.name], p.is_output, _struct_fields(p)) for p in k.params]


def _struct_fields(p) -> tuple[tuple[str, str, bool], ...]:
    from grammar.types import Array

    s = getattr(p, "struct", None)
    if s is None:
        return ()
    return tuple((f, t.dtype.name if isinstance(t, Array) else t.name, isinstance(t, Array)) for f, t in s.fields)


def _build_failure(k: GeneratedKernel, kind: str, message: str) -> Failure:
    values = make_inputs(k.params, k.dim, 0)
    return Failure(
        kind=kind, kernel_name=k.name, module_source=k.source, dim=k.dim, args=_args(k, values),
        expected={}, actual={}, tolerance={"rtol": 0.0, "atol": 0.0}, message=message.splitlines()[0][:500],
        warp_version=W.warp_version(), detail=message,
    )


def _mismatch_failure(k, values, expected, actual, comparison: Comparison, seed: int) -> Failure:
    atol = max((float(np.max(t, initial=0.0)) for t in comparison.tolerance.values()), default=0.0)
    detail = (
        "Expected values come from a numpy evaluation of the same kernel AST in float32 (the same precision "
        "as Warp), cross-checked against a float64 evaluation and against float32 evaluations with every "
        "operation perturbed by one ulp; the allowed deviation per element is 8x that measured sensitivity "
        "plus 4 ulp. Integer semantics follow Warp's documented C rules (truncating /, C-style %)."
    )
    return Failure(
        kind="mismatch", kernel_name=k.name, module_source=k.source, dim=k.dim, args=_args(k, values),
        expected={n: np.asarray(v).astype(actual[n].dtype) for n, v in expected.items()}, actual=actual,
        tolerance={"rtol": 0.0, "atol": atol, "allowed": {
            n: np.broadcast_to(t, np.shape(actual[n])).astype(np.float64) for n, t in comparison.tolerance.items()
            if n in actual and np.shape(t) and np.size(t) == np.size(actual[n])}},
        message=comparison.reason, warp_version=W.warp_version(), detail=detail, seed=seed,
    )


def _jax_gradient_failure(k, values, result: GradientResult, exact, seed: int) -> Failure:
    """A ``gradient-mismatch`` report of the exact gradient oracle: Warp's gradients against JAX's (``vjp``), or,
    when JAX gave only a directional derivative (``jvp``), against the reference's per-element central differences
    as for the finite-difference check."""
    failure = _gradient_failure(k, values, result, seed)
    failure.message = "jax-gradient-mismatch: " + exact.note
    if exact.mode == "vjp":
        failure.expected = {f"{n}.grad": np.asarray(g).astype(np.asarray(result.warp_grads[n]).dtype)
                            for n, g in exact.expected.items()}
        from .jax_backend.gradient import FLOOR

        scale = max((float(np.max(np.abs(g), initial=0.0)) for g in exact.expected.values()), default=0.0)
        failure.tolerance = {"rtol": exact.tolerance, "atol": exact.tolerance * FLOOR * scale}  # the check's own
        how = ("The expected ones are JAX's: the kernel's JAX program (the same computation over whole arrays, "
               "in the same dtypes) differentiated by jax.vjp with the same seeds; that program's outputs at these "
               "inputs pass the reference comparison Warp's outputs pass. ")
    else:
        how = ("The directional derivative v·(J u) came from jax.jvp of the kernel's JAX program (it loops with "
               "lax.while_loop, which JAX cannot reverse); the per-element expected gradients below come from "
               "central differences of the numpy reference. ")
    failure.detail = (
        "Warp's input gradients come from the kernel launched under wp.Tape with the seeds below in the output "
        "adjoints (tape.backward(grads=...)). " + how + "The finite-difference dot-product test alone passed "
        f"({result.note}); the exact comparison did not: {exact.note}."
    )
    return failure


def _gradient_failure(k, values, result: GradientResult, seed: int) -> Failure:
    actual = {f"{n}.grad": np.asarray(g) for n, g in result.warp_grads.items()}
    expected = LazyGradients(k, values, result, {n: np.asarray(g).dtype for n, g in result.warp_grads.items()})
    detail = (
        "Warp's input gradients come from the kernel launched under wp.Tape with the seeds below in the output "
        "adjoints (tape.backward(grads=...)). The expected ones come from a numpy evaluation of the same kernel "
        "AST in float64 (float64 kernels in long double), independent of Warp: central differences along each "
        f"input element with steps {result.step:g} and {result.step / 2:g}, Richardson-extrapolated. The check that "
        "failed is the dot-product test: for random directions u (inputs) and v (output seeds), v·(J u) from "
        "Richardson-extrapolated central differences of the reference along u must equal u·(Jᵀv) from Warp's "
        f"backward pass; here v·(J u) = {result.lhs!r}, u·(Jᵀv) = {result.rhs!r}, allowed deviation "
        f"{result.tolerance:.3g}. No branch, comparison, selection or rounding step of the reference changed "
        "within the differencing step."
    )
    scale = max((float(np.max(np.abs(g), initial=0.0)) for g in actual.values()), default=0.0)
    return Failure(
        kind="gradient-mismatch", kernel_name=k.name, module_source=k.source, dim=k.dim, args=_args(k, values),
        expected=expected, actual=actual, tolerance={"rtol": 1e-2, "atol": 1e-3 * max(scale, 1.0)},
        message=result.note, warp_version=W.warp_version(), detail=detail, seed=seed,
        output_grads={n: np.asarray(g) for n, g in result.v.items()},
    )
