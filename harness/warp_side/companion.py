"""A companion process running another warp-lang release: builds modules and launches kernels for a caller.

``harness.fuzz --against X.Y.Z`` (:mod:`harness.warp_side.against`) starts ``python -m harness.warp_side.companion``
with the Python of release X.Y.Z's cached environment (:func:`harness.releases.interpreter`, ``harness=True``) and this
checkout on its path. The companion initialises that Warp once, with a kernel cache of its own, then answers
requests on stdin with replies on stdout until stdin closes:

* request: ``{"options": set_module_options keywords, "kernels": [(name, dim, params, inputs, source), ...]}``
  (``params``: :class:`strategies.kernels.ParamSpec` tuples; ``inputs``: name -> value, as
  :func:`harness.oracle.inputs.make_inputs` draws them; ``source``: the kernel's definitions, helpers and structs
  first);
  a kernel the build error names is left out and the others rebuilt (Warp's code generation stops at the first
  kernel it cannot parse, before Clang: a retry costs little), an error naming none builds one module per kernel;
* first, unasked: ``{"version": ..., "ready": True, "missing_rows": [...]}`` (the table rows whose builtin the
  release lacks, :func:`harness.warp_side.warp_adapter.missing_rows`, then the ``row:index`` keys of the overloads it
  lacks within the others, :func:`harness.warp_side.overloads.release_missing`);
* reply: ``{"version": its warp-lang version, "results": {name: ("ok", outputs) | ("build-error", text) |
  ("launch-error", text)}}``: one kernel the release cannot build does not hide the others.

Requests and replies are frames of :mod:`harness.frames`.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from ..frames import read_frame, write_frame
from .build_errors import build_without_named


class _Kernel:
    """What :func:`harness.warp_side.launch.run_warp` reads of a kernel: its name, launch dimension and parameters."""

    def __init__(self, name: str, dim, params):
        self.name, self.dim, self.params = name, dim, params


_HEADER = "import warp as wp\n\n\n"


def _build(W, sources: list[str], options: dict, workdir: Path, tag: int):
    """Import the kernels' ``sources`` as one module and build it for the CPU: (module, None) or (None, error)."""
    path = workdir / f"m_{tag}.py"
    # top-level definitions (two blank lines apart) once each: kernels that call the same library function
    # (grammar.ops_nn) each carry its definition
    blocks = dict.fromkeys(b.rstrip("\n") for source in sources for b in source.split("\n\n\n"))
    path.write_text(_HEADER + "\n\n\n".join(blocks) + "\n")
    module = W.import_kernel_module(path)
    W.set_module_options(module, **options)
    try:
        W.compile_cpu(module)
    except W.BuildError as error:
        W.release_module(module)
        return None, str(error)
    return module, None


def handle(request: dict, workdir: Path, counter) -> dict:
    """Build the request's kernels in one module (without the kernels its build errors name) and launch each on
    its inputs."""
    from . import warp_adapter as W
    from .launch import run_warp

    kernels = request["kernels"]  # (name, dim, params, inputs, kernel source)
    built, failed = build_without_named(
        kernels, lambda k: k[0],
        lambda group: _build(W, [k[4] for k in group], request["options"], workdir, next(counter)))
    modules = {k[0]: module for group, module in built for k in group}
    results: dict = {name: ("build-error", error) for name, error in failed.items()}
    for name, dim, params, inputs, _ in kernels:
        if name in results:
            continue
        try:
            results[name] = ("ok", _HOOK[0](name, run_warp(modules[name], _Kernel(name, dim, params), inputs)))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, which decides
            results[name] = ("launch-error", f"{type(exc).__name__}: {exc}")
    for _, m in built:
        W.release_module(m)
    W.clear_kernel_cache()
    return {"version": W.warp_version(), "results": results}


#: ``WARPSMITH_COMPANION_HOOK=package.module:function``: ``function(kernel name, outputs) -> outputs`` is applied to
#: every launch's outputs (the tests inject a release that computes something else through it)
_HOOK = [lambda name, outputs: outputs]


def serve() -> int:
    from grammar import ops as OPS

    from . import warp_adapter as W

    spec = os.environ.get("WARPSMITH_COMPANION_HOOK")
    if spec:
        import importlib

        module, _, function = spec.partition(":")
        _HOOK[0] = getattr(importlib.import_module(module), function)

    root = Path(tempfile.mkdtemp(prefix="warpsmith-companion-"))
    try:
        W.init(cache_dir=str(root / "kernel-cache"))
        stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
        sys.stdout = sys.stderr  # Warp's own prints must not corrupt the frames
        # the table rows whose builtin this release lacks, and the overloads it lacks within the others (probed once
        # per release, cached: harness.warp_side.overloads): the caller can leave them out of what it draws
        from .overloads import release_missing

        missing = sorted(W.missing_rows(OPS.BY_NAME.values())) + sorted(release_missing())
        write_frame(stdout, {"version": W.warp_version(), "ready": True, "missing_rows": missing})
        counter = itertools.count()
        while True:
            request = read_frame(stdin)
            if request is None:
                return 0
            try:
                reply = handle(request, root, counter)
            except Exception as exc:  # noqa: BLE001 - the caller reports it; the companion keeps serving
                reply = {"version": W.warp_version(), "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"}
            write_frame(stdout, reply)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(serve())
