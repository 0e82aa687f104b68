"""The one place that talks to NVIDIA Warp.

Every other module in the project goes through these functions; this is the only file that imports
``warp`` or reaches into ``warp._src``. The project pins ``warp-lang>=1.19,<1.20``; the internals used
here (``ModuleHasher``, ``ModuleBuilder``, ``Module.resolve_options``) were checked against 1.19.0.

Costs, measured with warp-lang 1.19.0 (CUDA toolkit 13.4 NVRTC) on a 2-core CPU without a GPU, for one
module of 50 small float kernels (about ten statements each, one branch), backward enabled unless noted.
Medians of 2-3 runs; other work shared the machine, so read them as +-25 %::

    step                                                       seconds   ms per kernel
    compile_cpu, optimization_level 0 (first build in process)   4.6     -   (Clang builds its PCH)
    compile_cpu, optimization_level 0 (later modules)            2.1     42
    compile_cpu, optimization_level 0, enable_backward=False     0.7     13
    compile_cpu, optimization_level 2 (Warp's CPU default)       8.7    174
    compile_cpu on a module that is already loaded               0.0003
    generate_source("cpu")                                       0.12     2.4
    generate_source("cuda")                                      0.16     3.2
    NVRTC via compile_aot_module, PTX, level 0 (runs at 1)       2.4     49
    NVRTC via compile_aot_module, PTX, optimization_level 3      3.2     63
    NVRTC via compile_aot_module, PTX, enable_backward=False     0.7     14
    NVRTC via compile_aot_module, cubin                          5.0    100

(Warp's public ``compile_aot_module`` regenerates the module's code and writes a ``.cu`` byte-identical to
``generate_source(module, "cuda")``.) :func:`compile_nvrtc_source` compiles the text :func:`generate_sources`
already made for the extraction instead, at a configuration of its own. On a 54-kernel module of generated
kernels (1.5 MB of CUDA), NVRTC took 8.5 s at level 1 (what module level 0 becomes), 7.0 s at level 3 (Warp's CUDA default: the
optimiser inlines, the PTX is 1.2 MB instead of 5.5 MB) and 4.4 s with ``-G`` (debug: no optimiser). A
one-kernel module costs 0.08 s, so the per-module overhead is negligible at 64 kernels per module.

Warp 1.19 behaviour this module relies on or works around:

* ``wp.config.quiet`` is gone; ``wp.config.log_level`` hides the start-up banner. The "Could not find or
  load the NVIDIA CUDA driver" line is written by native code straight to file descriptor 2, so
  :func:`init` filters that descriptor while ``wp.init()`` runs.
* Clang and NVRTC print their diagnostics to file descriptor 2, while the Python exception only says
  "CPU kernel build failed with error code -1" / "CUDA kernel build failed with error code 6". Builds
  therefore capture descriptor 2 and put the log into :class:`BuildError` (Clang's errors appear twice:
  Warp retries without precompiled headers). Capturing a descriptor is process-wide: build from one
  thread per process.
* Errors found during code generation (types, names) are Python exceptions (``WarpCodegenError``,
  ``RuntimeError``) of the form ``Error while parsing function "k" at <file>:<line>: ...;<reason>``.
* ``wp.compile_aot_module(module, arch=...)`` without ``device`` builds only the CUDA target; it does no
  CPU work. It regenerates the source, writes ``<module id>.cu``, ``.meta`` and ``.sm<arch>.ptx`` (or
  ``.cubin``) into ``module_dir``, and skips the compile when those files already exist there.
* With CUDA toolkit 13.1 or newer, Warp refuses NVRTC optimisation level 0 (an NVRTC bug) and uses 1,
  warning once per process.
* A kernel's hash (the ``_<8 hex>`` in generated names) covers its name, kernel options, Python source text
  (comments included) and argument types, not the module's name; the module id adds the module name.
  Every :func:`import_kernel_module` call gets a new name, hence its own kernel-cache entry.
* A module whose build failed remembers the failure and re-raises it on later loads until it changes
  (:func:`set_module_options` counts as a change).
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import itertools
import os
import re
import sys
import tempfile
import time
import types
import weakref
from pathlib import Path

import numpy as np
import warp as wp
import warp._src.build as _wp_build
import warp._src.context as _wp_context

__all__ = [
    "BuildError",
    "NVRTC_MODES",
    "builtin_groups",
    "clear_kernel_cache",
    "release_module",
    "compile_cpu",
    "compile_nvrtc_source",
    "cuda_available",
    "diagnostics",
    "generate_source",
    "generate_sources",
    "import_kernel_module",
    "init",
    "compile_on",
    "launch",
    "launch_cpu",
    "launch_cpu_backward",
    "non_differentiable_builtins",
    "nvrtc_architectures",
    "nvrtc_level",
    "set_module_options",
    "struct_array",
    "struct_instance",
    "to_numpy",
    "to_warp",
    "warp_version",
]

_DRIVER_WARNING = re.compile(rb"^Warp CUDA warning: Could not find or load the NVIDIA CUDA driver.*\n?", re.M)
_module_counter = itertools.count()
_cache_dir: str | None = None


class BuildError(Exception):
    """Warp could not generate or compile a module; the message holds Warp's own error text."""


# --------------------------------------------------------------------------- set-up and environment


@contextlib.contextmanager
def _native_stderr(log: io.StringIO, *, keep: bool = True):
    """Collect what native code writes to file descriptor 2 (Clang and NVRTC print their logs there).

    The text goes to ``log``; with ``keep`` it is also written back to stderr afterwards, minus the
    "no CUDA driver" line. Redirecting a descriptor is process-wide: do not build from several threads.
    """
    fd = 2
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            captured.seek(0)
            text = _DRIVER_WARNING.sub(b"", captured.read())
            log.write(text.decode("utf-8", "replace"))
            if keep and text:
                os.write(fd, text)


def init(cache_dir: str | None = None) -> None:
    """Initialise Warp once per process, quietly; later calls only switch the kernel cache.

    ``cache_dir`` becomes the kernel cache (``WARP_CACHE_PATH``; Warp adds a ``<version>/`` level
    below it). Give every worker process its own. Without ``cache_dir`` the current cache is kept.
    """
    global _cache_dir
    if cache_dir is not None:
        cache_dir = os.fspath(cache_dir)
        os.environ["WARP_CACHE_PATH"] = cache_dir
    if _wp_context.runtime is None:
        if cache_dir is not None:
            wp.config.kernel_cache_dir = cache_dir  # read by wp.init()
        wp.config.quiet = True  # read by releases before 1.19 only
        if hasattr(wp, "LOG_WARNING"):  # 1.19: this is what hides the start-up banner
            wp.config.log_level = wp.LOG_WARNING
        with _native_stderr(io.StringIO()):
            wp.init()
    elif cache_dir is not None and cache_dir != _cache_dir:
        _wp_build.init_kernel_cache(cache_dir)
    if cache_dir is not None:
        _cache_dir = cache_dir


def warp_version() -> str:
    """The installed Warp version, e.g. ``"1.19.0"``."""
    return wp.config.version


def diagnostics() -> str:
    """The text of ``warp.print_diagnostics()``, for bug reports (releases before it existed: the Warp, Python,
    platform and NumPy versions, :func:`harness.releases.diagnostics`)."""
    from ..releases import diagnostics as child_diagnostics

    init()
    if not hasattr(wp, "print_diagnostics"):
        return child_diagnostics(sys.executable)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        wp.print_diagnostics()
    text = out.getvalue()
    if text.strip():
        return text
    # Nothing reached Python's streams: the text came from native code; run it in a child process.
    return child_diagnostics(sys.executable)


def cuda_available() -> bool:
    """True when a real CUDA device is present (NVRTC alone does not count)."""
    init()
    return wp.is_cuda_available() and wp.get_cuda_device_count() > 0


def nvrtc_architectures() -> tuple[int, ...]:
    """The ``arch`` values :func:`compile_nvrtc_source` accepts; empty when Warp has no NVRTC."""
    init()
    runtime = _wp_context.runtime
    if runtime.toolkit_version is None:
        return ()
    return tuple(sorted(getattr(runtime, "nvrtc_supported_archs", None) or ()))


# --------------------------------------------------------------------------- modules and options


def import_kernel_module(path: Path) -> types.ModuleType:
    """Import a generated kernel file as a fresh Python module.

    The module name is the file stem plus a process-wide counter, so two files with the same stem (or
    the same file imported twice) become two separate Warp modules. The file must stay on disk while
    the module is used: Warp reads kernel source through ``inspect``. Errors raised while the file runs
    (syntax errors, bad kernel annotations) propagate unchanged.
    """
    init()
    path = Path(path)
    stem = re.sub(r"\W", "_", path.stem)
    name = f"warpsmith_gen_{stem}_{next(_module_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def set_module_options(pymodule, *, optimization_level: int = 0, enable_backward: bool = True,
                       max_unroll: int | None = None, mode: str | None = None) -> None:
    """Set the compile options of the Warp module behind ``pymodule`` (marks it for rebuild).

    ``max_unroll`` (None: ``wp.config.max_unroll``) and ``mode`` (``"release"``/``"debug"``; None:
    ``wp.config.mode``) are Warp 1.19 module options: ``Module.resolve_options`` takes ``mode`` from the
    module before the config, and the CPU build gets ``debug = (mode == "debug")``.
    """
    options = {"optimization_level": optimization_level, "enable_backward": enable_backward}
    if max_unroll is not None:
        options["max_unroll"] = max_unroll
    if mode is not None:
        options["mode"] = mode
    wp.set_module_options(options, module=pymodule)


def _warp_module(pymodule) -> _wp_context.Module:
    return wp.get_module(pymodule.__name__)


@contextlib.contextmanager
def _build_errors():
    """Turn any exception into :class:`BuildError` carrying Warp's message and the compiler's log.

    Warnings printed by a successful build are dropped unless ``WARPSMITH_VERBOSE`` is set.
    """
    log = io.StringIO()
    try:
        with _native_stderr(log, keep=False), contextlib.redirect_stderr(log):
            yield
    except Exception as error:
        message = f"{type(error).__name__}: {error}"
        if log.getvalue().strip():
            message += "\n" + log.getvalue().rstrip()
        raise BuildError(message) from error
    if log.getvalue() and os.environ.get("WARPSMITH_VERBOSE"):
        sys.stderr.write(log.getvalue())  # compiler warnings of a successful build, on request only


# --------------------------------------------------------------------------- code generation and builds


class _Builders:
    """The ``ModuleBuilder`` Warp makes while it builds a module for the CPU, kept for :func:`generate_sources`.

    Making a builder builds every kernel's forward and adjoint (Warp's Python code generation: on our kernels
    about as much time as Clang's whole build, 0.3 s a kernel), and the text of each target is then only
    emitted. While :func:`compile_cpu` runs, ``ModuleBuilder`` in Warp's context module is a subclass that
    records each instance it makes; the last one made for a module is kept with the options it was made with
    (a weak reference to the module: a released module takes its builder along). :func:`generate_sources`
    uses it when the module's resolved options are still those, ``block_dim`` aside: Warp builds for the CPU
    with ``block_dim`` 1 and :func:`generate_sources` emits at the module's (256 by default), which only
    the emitted launch wrappers and tile header read (our kernels have no tile operations; a test checks the
    texts equal a fresh builder's). Otherwise (options changed since the build, a build loaded from the
    kernel cache) it makes a builder as before.
    """

    kept: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    @classmethod
    @contextlib.contextmanager
    def recording(cls, module):
        original = _wp_context.ModuleBuilder
        made: list = []

        class Recording(original):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                made.append(self)

        _wp_context.ModuleBuilder = Recording
        try:
            yield
        finally:
            _wp_context.ModuleBuilder = original
        if made and getattr(made[-1], "module", None) is module:
            cls.kept[module] = (dict(getattr(made[-1], "options", {}) or {}), made[-1])

    @classmethod
    def emit(cls, module, options: dict, targets: tuple[str, ...]) -> tuple[str, ...] | None:
        """The texts of ``targets`` emitted at ``options`` by the builder of the module's last CPU build, or
        None when there is none made with ``options`` (``block_dim`` aside)."""
        kept = cls.kept.get(module)
        if kept is None or {**kept[0], "block_dim": None} != {**options, "block_dim": None}:
            return None
        builder = kept[1]
        built_with = builder.options
        builder.options = options
        try:
            return tuple(builder.codegen(target) for target in targets)
        finally:
            builder.options = built_with


def compile_cpu(pymodule) -> float:
    """Build (or load from the kernel cache) the module for the CPU; return the seconds it took.

    The builder of the build is kept for :func:`generate_sources` (:class:`_Builders`).
    Raises :class:`BuildError` when code generation or the Clang build fails.
    """
    init()
    start = time.perf_counter()
    module = _warp_module(pymodule)
    _Builders.kept.pop(module, None)
    with _build_errors(), _Builders.recording(module):
        wp.load_module(pymodule, device="cpu")
    return time.perf_counter() - start


def compile_substituted(pymodule, transform, token: str, device: str = "cpu") -> float:
    """Build the module for ``device`` (``"cpu"`` or ``"cuda:0"``) from Warp's generated code for it passed
    through ``transform(text) -> text`` (a candidate translation put in place of a generated function:
    ``harness.check_translation``); return the seconds it took. ``token`` (for example a hash of the candidate)
    becomes a module option, so the build has its own kernel-cache entry: Warp keys its cache on the Python source
    and the options, never on the generated text. Raises :class:`BuildError` when code generation or the build
    fails (a candidate that does not compile)."""
    init()
    start = time.perf_counter()
    wp.set_module_options({"warpsmith_substitution": token}, module=pymodule)
    target = "cpu" if device == "cpu" else "cuda"
    original = _wp_context.ModuleBuilder

    class Substituting(original):
        def codegen(self, device, *args, **kwargs):
            text = super().codegen(device, *args, **kwargs)
            return transform(text) if device == target else text

    _wp_context.ModuleBuilder = Substituting
    try:
        with _build_errors():
            wp.load_module(pymodule, device=device)
    finally:
        _wp_context.ModuleBuilder = original
    return time.perf_counter() - start


def generate_source(pymodule, target: str) -> str:
    """The generated C++ (``target="cpu"``) or CUDA (``"cuda"``) source of the whole module.

    Nothing is compiled or written. The module's current options (``enable_backward`` ...) apply; a new
    hasher and builder are made on every call, so nothing is reused from an earlier call or module.
    Raises :class:`BuildError` when code generation fails.
    """
    return generate_sources(pymodule, (target,))[0]


def generate_sources(pymodule, targets: tuple[str, ...] = ("cpu", "cuda")) -> tuple[str, ...]:
    """:func:`generate_source` for several targets from one hasher and one builder: the same texts (a test
    checks it) for about half the cost, since building the kernels' adjoints is most of the work and
    does not depend on the target for the kernels we generate (no tiles, no target-specific builtins).
    After :func:`compile_cpu` built the module with its current options, the build's own builder is used
    (:class:`_Builders`): nothing is built again (a test checks the texts are those of a fresh builder).
    """
    for target in targets:
        if target not in ("cpu", "cuda"):
            raise ValueError(f"target must be 'cpu' or 'cuda', not {target!r}")
    init()
    module = _warp_module(pymodule)
    with _build_errors(), getattr(_wp_context, "_codegen_lock", contextlib.nullcontext()):
        # looked up on the class: 1.12's Module.__getattr__ (a deprecation shim) recurses without end on a
        # missing attribute, and hasattr() only catches AttributeError
        if hasattr(type(module), "resolve_options"):
            options = module.resolve_options(wp.config) | {"output_arch": None}
            texts = _Builders.emit(module, options, targets)  # the CPU build's builder: nothing built again
            if texts is not None:
                return texts
            hasher = _wp_context.ModuleHasher(module._get_live_kernels(), options)
            if "target" in inspect.signature(_wp_context.ModuleBuilder.__init__).parameters:
                builder = _wp_context.ModuleBuilder(module, options, hasher, target=targets[0])
            else:  # 1.18 and older: the builder is not made per target
                builder = _wp_context.ModuleBuilder(module, options, hasher)
        else:  # releases before 1.1x (checked on 1.10): options live on the module, one hasher per module
            options = {**module.options, "output_arch": None}
            builder = _wp_context.ModuleBuilder(module, options, _wp_context.ModuleHasher(module))
        return tuple(builder.codegen(target) for target in targets)


NVRTC_MODES = ("optimized", "debug")


def nvrtc_level(optimization_level: int) -> int:
    """The level NVRTC really compiles at for a requested one: Warp refuses 0 with CUDA 13.1+ and uses 1."""
    return max(1, optimization_level)


def compile_nvrtc_source(cuda_source: str, out_dir: Path, arch: int = 90, *, mode: str = "optimized",
                         optimization_level: int = 3) -> Path:
    """Compile CUDA source text (from :func:`generate_sources`) with NVRTC into ``out_dir``; return the PTX.

    The cheap way to compile what was already generated: Warp's ``compile_aot_module`` regenerates the
    module's code, this compiles the given text (so one code generation serves the extraction of both
    targets and NVRTC). ``mode="optimized"`` is Warp's release build at ``optimization_level`` (Warp's CUDA
    default is 3; 0 is raised to 1, as Warp does for CUDA 13.1+); ``mode="debug"`` is NVRTC's ``-G``: the
    whole front end (parsing, overload resolution, template instantiation of every builtin and adjoint) and code
    generation without the optimiser, about 35 % cheaper than level 3 on typical kernels of ours but far
    slower on huge functions (one kernel with 18 unrolled copies of a long expression: 13 s at level 3,
    over 6 minutes with ``-G``). Warp's own debug mode also changes the generated text (``#line``
    directives); this compiles the release text as it is.
    Needs no GPU or driver. Raises :class:`BuildError` with NVRTC's log when the compile fails.
    """
    if mode not in NVRTC_MODES:
        raise ValueError(f"mode must be one of {NVRTC_MODES}, not {mode!r}")
    init()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cu_path = out_dir / "module.cu"
    cu_path.write_text(cuda_source)
    ptx_path = out_dir / f"module.sm{arch}.ptx"
    options = {"config": "debug" if mode == "debug" else "release"}
    accepted = inspect.signature(_wp_build.build_cuda).parameters
    if "optimization_level" in accepted:  # releases before 1.1x take neither (their NVRTC level is fixed)
        options["optimization_level"] = nvrtc_level(optimization_level)
    if "pch_dir" in accepted:
        options["pch_dir"] = _wp_context.runtime.get_nvrtc_pch_dir()
    with _build_errors():
        _wp_build.build_cuda(str(cu_path), arch, str(ptx_path), **options)
    return ptx_path


# --------------------------------------------------------------------------- launching on the CPU

def _warp_dtype(dtype_name: str):
    from grammar.types import BY_NAME

    t = BY_NAME.get(dtype_name)
    if t is None:
        raise ValueError(f"unsupported dtype {dtype_name!r}; expected a name from grammar.types.BY_NAME")
    return t, (wp.bool if dtype_name == "bool" else getattr(wp, dtype_name))


def to_warp(value: np.ndarray, dtype_name: str, shape: tuple[int, ...] | None = None,
            device: str = "cpu") -> wp.array:
    """A CPU ``wp.array`` copy of ``value``; ``dtype_name`` is a type name of :mod:`grammar.types`
    (``"float32"``, ``"uint8"``, ``"vec3h"``, ``"mat33d"``, ``"quat"``, ...).

    Composite arrays are numpy arrays of shape ``(*array_shape, *element_shape)``, e.g. ``(N, 3)`` for
    ``N`` vec3s; ``shape`` is the array shape (default: the leading dimension only).
    """
    t, dtype = _warp_dtype(dtype_name)
    init()
    element_shape = getattr(t, "shape", ())
    data = np.ascontiguousarray(value, dtype=t.numpy_dtype)
    if data.ndim <= len(element_shape) or tuple(data.shape[data.ndim - len(element_shape):]) != tuple(element_shape):
        raise ValueError(f"{dtype_name} arrays must end in shape {element_shape}, got {data.shape}")
    if shape is None:
        shape = data.shape[: data.ndim - len(element_shape)] if element_shape else data.shape
    return wp.array(data, dtype=dtype, shape=shape, device=device)


def struct_instance(pymodule, name: str, values: dict):
    """An instance of the ``@wp.struct`` class ``name`` of ``pymodule`` with ``values`` (field -> python
    scalar, numpy composite, or numpy array for an array field, which becomes a CPU ``wp.array``)."""
    init()
    cls = getattr(pymodule, name)
    inst = cls()
    for field, value in values.items():
        t = cls.vars[field].type
        if isinstance(t, wp.array):
            value = wp.array(np.ascontiguousarray(value), dtype=t.dtype, device="cpu")
        elif isinstance(value, np.ndarray):
            value = t(*value.reshape(-1).tolist())
        setattr(inst, field, value)
    return inst


def struct_array(pymodule, name: str, value: np.ndarray, device: str = "cpu") -> wp.array:
    """A ``wp.array`` (on ``device``, the CPU by default) of the ``@wp.struct`` class ``name`` from a numpy
    structured array with the same field names (any layout: copied field by field into Warp's own)."""
    init()
    cls = getattr(pymodule, name)
    data = np.zeros(value.shape, dtype=cls.numpy_dtype())
    for field in value.dtype.names:
        data[field] = value[field]
    return wp.array(data, dtype=cls, shape=value.shape, device=device)


def to_numpy(warp_array) -> np.ndarray:
    """A numpy copy of a ``wp.array`` (``vec3`` arrays come back with shape ``(N, 3)``)."""
    return warp_array.numpy().copy()


def launch(kernel, dim: int, inputs: list, device: str = "cpu") -> None:
    """Launch ``kernel`` over ``dim`` threads on ``device`` (``"cpu"`` or ``"cuda:0"``) and wait."""
    init()
    wp.launch(kernel, dim=dim, inputs=inputs, device=device)
    wp.synchronize_device(device)


def compile_on(pymodule, device: str) -> float:
    """:func:`compile_cpu` for any device (``"cuda:0"`` needs a GPU: see :func:`cuda_available`)."""
    init()
    start = time.perf_counter()
    with _build_errors():
        wp.load_module(pymodule, device=device)
    return time.perf_counter() - start


def launch_cpu(kernel, dim: int, inputs: list) -> None:
    """Launch ``kernel`` over ``dim`` threads on the CPU and wait for it to finish.

    Call :func:`compile_cpu` first: a launch builds a module that is not loaded yet, and build errors
    raised from here are Warp's own exceptions, not :class:`BuildError`.
    """
    init()
    wp.launch(kernel, dim=dim, inputs=inputs, device="cpu")
    wp.synchronize_device("cpu")


def launch_cpu_backward(kernel, dim, args: list[tuple], output_grads: dict[int, np.ndarray]) -> tuple[dict, dict]:
    """Launch ``kernel`` on the CPU under a ``wp.Tape`` and run its backward pass.

    ``args`` holds one ``(value, dtype_name, shape, differentiable)`` per kernel parameter: arrays are
    numpy arrays as :func:`to_warp` takes them (``shape`` is the array shape, ``differentiable`` gives
    them ``requires_grad``), scalars are passed as they are. ``output_grads`` maps parameter positions
    to the adjoint seeded into that array (``tape.backward(grads=...)``). Returns ``({position: array
    after the forward pass}, {position: .grad after the backward pass})`` for every differentiable
    array, as numpy copies. The module must have been built with ``enable_backward=True``.
    """
    init()
    inputs, arrays = [], {}
    for i, (value, dtype_name, shape, differentiable) in enumerate(args):
        if shape is None:
            inputs.append(value)
            continue
        t, dtype = _warp_dtype(dtype_name)
        data = np.ascontiguousarray(value, dtype=t.numpy_dtype)
        arr = wp.array(data, dtype=dtype, shape=shape, device="cpu", requires_grad=bool(differentiable))
        inputs.append(arr)
        if differentiable:
            arrays[i] = arr
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=dim, inputs=inputs, device="cpu")
    wp.synchronize_device("cpu")
    forward = {i: a.numpy().copy() for i, a in arrays.items()}
    seeds = {}
    for i, g in output_grads.items():
        t, dtype = _warp_dtype(args[i][1])
        seeds[arrays[i]] = wp.array(np.ascontiguousarray(g, dtype=t.numpy_dtype), dtype=dtype, shape=args[i][2],
                                    device="cpu")
    tape.backward(grads=seeds)
    wp.synchronize_device("cpu")
    grads = {i: a.grad.numpy().copy() for i, a in arrays.items()}
    tape.reset()
    return forward, grads


# --------------------------------------------------------------------------- builtin inventory


def builtin_groups() -> dict[str, list[str]]:
    """Warp's builtin functions by documentation group (``"Scalar Math"``, ``"Vector Math"``...)."""
    init()
    groups: dict[str, list[str]] = {}
    for name, fn in _wp_context.builtin_functions.items():
        groups.setdefault(getattr(fn, "group", "Other"), []).append(name)
    return {g: sorted(names) for g, names in groups.items()}


def non_differentiable_builtins() -> set[str]:
    """Names of the builtins Warp registers with ``is_differentiable=False`` (in any overload)."""
    init()
    return {name for name, fn in _wp_context.builtin_functions.items()
            if any(not getattr(o, "is_differentiable", True) for o in (getattr(fn, "overloads", None) or [fn]))}


def missing_rows(ops) -> set[str]:
    """Names of the table rows (``grammar.ops.Op``) spelled ``wp.<name>(...)`` that this Warp release has
    neither as a builtin (its builtin registry) nor as a type: the rows an older release lacks (1.10 lacks
    ``wp.transform_twist``, ``wp.quat_from_euler``, ``wp.copysign``... : 13 rows); none on 1.19."""
    return {op.name for op in ops if op.syntax in ("call", "construct") and op.spelling.startswith("wp.")
            and op.spelling[3:] not in _wp_context.builtin_functions and not hasattr(wp, op.spelling[3:])}


# --------------------------------------------------------------------------- clean-up between batches


def release_module(pymodule) -> None:
    """Unload a generated module from Warp and forget the Python module (long runs load thousands)."""
    with contextlib.suppress(Exception):
        _warp_module(pymodule).unload()
    sys.modules.pop(pymodule.__name__, None)


def clear_kernel_cache() -> None:
    """Delete the compiled modules in the kernel cache (generated modules are never reused)."""
    init()
    with _native_stderr(io.StringIO(), keep=False):
        wp.clear_kernel_cache()
