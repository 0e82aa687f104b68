"""JAX as a second oracle: the JAX program of a kernel (harness.jax_backend.render) run on the kernel's inputs.

:func:`run_program` executes a :class:`~harness.jax_backend.render.JaxProgram` on CPU (``jax.jit``) and returns its
outputs as numpy arrays named like the kernel's output arrays; :func:`check_against_reference` compares them with the
numpy reference through the same conditioned comparison Warp's outputs get (:mod:`harness.oracle.compare`). A
disagreement is a bug of ours (the renderer, a spelling, the reference) or of JAX, never a Warp report.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no accelerator probing (and no warning) on machines without one

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from grammar.types import Array, Composite, Struct  # noqa: E402

from ..frames import read_frame, stop_child, write_frame  # noqa: E402
from ..oracle.reference import typed_ir  # noqa: E402
from ..store.corpus import JAX_SECTION_FIELDS  # noqa: E402
from .render import JaxProgram  # noqa: E402


def _kernel_function(source: str):
    """The ``kernel`` function a program's source defines (not jitted)."""
    namespace: dict = {}
    exec(compile(source, "<jax-program>", "exec"), namespace)
    return namespace["kernel"]


@lru_cache(maxsize=256)
def _compiled(source: str):
    return jax.jit(_kernel_function(source))


def _over_float_inputs(kernel_fn, args, positions: list[int], float_outputs: list[str]):
    """``kernel_fn`` as a function of the arguments at ``positions`` alone (the others fixed to ``args``), returning
    the tuple of the ``float_outputs``: what ``jax.vjp``/``jax.jvp`` differentiate."""
    def differentiable(*float_args):
        full = list(args)
        for i, a in zip(positions, float_args):
            full[i] = a
        result = kernel_fn(*full)
        return tuple(result[name] for name in float_outputs)

    return differentiable


def _param_types(kernel) -> dict:
    _, envs, _ = typed_ir(kernel.kernel_source)
    return envs[list(envs)[-1]]


def jax_arguments(program: JaxProgram, kernel, values: dict) -> list:
    """The program's arguments for the kernel's input ``values`` (name -> numpy array / Python scalar)."""
    import jax.numpy as jnp

    def convert(value, t):
        if isinstance(t, Struct):  # a dict of fields (a numpy structured value or a mapping in ``values``)
            return {f: convert(value[f], ft) for f, ft in t.fields}
        if isinstance(t, Array):  # a struct's array field: the whole array
            t = t.dtype
        scalar = t.scalar if isinstance(t, Composite) else t
        return jnp.asarray(np.asarray(value), dtype=np.dtype(scalar.numpy_dtype))

    types = _param_types(kernel)
    return [convert(values[name], types[name].dtype if isinstance(types[name], Array) else types[name])
            for name in program.params]


def run_program(program: JaxProgram, kernel, values: dict) -> dict[str, np.ndarray]:
    """The program's outputs on ``values``, as numpy arrays by output name."""
    out = _compiled(program.source)(*jax_arguments(program, kernel, values))
    return {name: np.asarray(v) for name, v in out.items()}


def check_against_reference(program: JaxProgram, kernel, values: dict, seed: int):
    """The conditioned comparison (harness.oracle.compare.Comparison) of the program's outputs with the reference."""
    from ..oracle.conditioning import reference_comparison

    actual = run_program(program, kernel, values)
    return reference_comparison(kernel, values, actual, seed)[0], actual



# ---- isolation: XLA's CPU compiler can exhaust memory on a rare program (a std::bad_alloc abort, measured on one
# generated kernel in about a hundred): checks run in a child process (``python -m harness.jax_backend.oracle``, frames
# of harness.frames over its stdin/stdout; a plain subprocess, so that collect's daemonic workers may start
# one) with an address-space cap, and a child that dies takes only its kernel with it.

MEMORY_CAP_BYTES = 6 * 2**30


def _child_setup() -> None:
    """The child's own limits, set first thing: the address-space cap, and death with its parent."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the parent
    except Exception:  # noqa: BLE001 - not Linux: the child still exits when its stdin closes
        pass


def _check_in_child(program: JaxProgram, kernel, values: dict, seed: int):
    comparison, _ = check_against_reference(program, kernel, values, seed)
    return comparison.status, comparison.mismatches[:3]


def exact_gradient(program: JaxProgram, kernel, values: dict, v: dict, u: dict) -> dict:
    """JAX's derivative of the program at ``values``, for the gradient check of :mod:`harness.jax_backend.gradient`.

    ``v``: float output name -> cotangent (the seeds Warp's backward got); ``u``: float input name -> direction.
    Returns ``{"mode": "vjp", "grads": {input: Jᵀv}}`` (reverse mode, every float input element), or, for a program
    with a ``lax.while_loop`` (JAX has no reverse mode through it), ``{"mode": "jvp", "ju": {output: J u}}``; with
    ``"outputs"``, the program's forward outputs at ``values`` (the caller checks them against the reference
    before it trusts the derivative). Computed in the program's own dtypes, like Warp's."""
    args = jax_arguments(program, kernel, values)
    float_inputs, float_outputs = _float_params(program, kernel)
    positions = [program.params.index(n) for n in float_inputs]
    differentiable = _over_float_inputs(_kernel_function(program.source), args, positions, float_outputs)
    primals = [args[i] for i in positions]
    outputs = {name: np.asarray(o) for name, o in _compiled(program.source)(*args).items()}
    if "lax.while_loop" in program.source:
        tangents = [jax.numpy.asarray(np.asarray(u[n]), dtype=p.dtype) for n, p in zip(float_inputs, primals)]
        _, ju = jax.jit(lambda p, t: jax.jvp(differentiable, p, t))(tuple(primals), tuple(tangents))
        return {"mode": "jvp", "ju": {n: np.asarray(d) for n, d in zip(float_outputs, ju)}, "outputs": outputs}

    def pull(p, cotangents):
        _, back = jax.vjp(differentiable, *p)
        return back(cotangents)

    cotangents = tuple(jax.numpy.asarray(np.asarray(v[n]), dtype=outputs[n].dtype) for n in float_outputs)
    grads = jax.jit(pull)(tuple(primals), cotangents)
    return {"mode": "vjp", "grads": {n: np.asarray(g) for n, g in zip(float_inputs, grads)}, "outputs": outputs}


def _gradient_in_child(kernel, values: dict, v: dict, u: dict) -> dict:
    from .render import Inexpressible, render

    try:
        program = render(kernel)
    except Inexpressible as error:
        return {"mode": "inexpressible", "reason": str(error)[:300]}
    return exact_gradient(program, kernel, values, v, u)


class _ChildDied(Exception):
    pass


class IsolatedChecker:
    """Runs JAX work in a memory-capped child process. :meth:`check` returns (the comparison status, the first
    mismatches); the status is ``jax-crash`` when the child died, ``jax-timeout`` or ``jax-error: <kind>: <message>``
    when JAX raised."""

    def __init__(self):
        self.proc = None

    def _call(self, request: dict, timeout: float):
        import select
        import subprocess
        import sys

        if self.proc is None or self.proc.poll() is not None:
            root = str(Path(__file__).resolve().parents[2])  # the checkout (harness/jax_backend/oracle.py)
            env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
            self.proc = subprocess.Popen([sys.executable, "-m", "harness.jax_backend.oracle"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        try:
            write_frame(self.proc.stdin, request)
        except (BrokenPipeError, OSError):
            self.close(kill=True)
            raise _ChildDied() from None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close(kill=True)
            raise TimeoutError
        reply = read_frame(self.proc.stdout)
        if reply is None:
            self.close(kill=True)
            raise _ChildDied()
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def check(self, program: JaxProgram, kernel, values: dict, seed: int, timeout: float = 300.0):
        try:
            return tuple(self._call({"op": "check", "args": (program, kernel, values, seed)}, timeout))
        except _ChildDied:
            return "jax-crash", []
        except TimeoutError:
            return "jax-timeout", []
        except Exception as error:  # noqa: BLE001 - JAX's own errors, reported by kind
            return f"jax-error: {str(error)[:200]}", []

    def gradient(self, kernel, values: dict, v: dict, u: dict, timeout: float = 300.0) -> dict:
        """:func:`exact_gradient` in the child; ``{"mode": "jax-crash" | "jax-timeout" | "jax-error", "reason"}``
        when JAX failed."""
        try:
            return self._call({"op": "gradient", "args": (kernel, values, v, u)}, timeout)
        except _ChildDied:
            return {"mode": "jax-crash", "reason": "the child died (XLA's compiler over the memory cap)"}
        except TimeoutError:
            return {"mode": "jax-timeout", "reason": f"over {timeout:g} s"}
        except Exception as error:  # noqa: BLE001 - JAX's own errors, reported by kind
            return {"mode": "jax-error", "reason": str(error)[:200]}

    def close(self, kill: bool = False) -> None:
        if self.proc is not None:
            stop_child(self.proc, kill=kill)
            self.proc = None


def _serve() -> int:
    """The child's loop: one request frame in, one reply frame out, until stdin closes."""
    import sys
    import traceback

    _child_setup()
    handlers = {"check": _check_in_child, "section": _section_in_child, "gradient": _gradient_in_child}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        request = read_frame(stdin)
        if request is None:
            return 0
        try:
            reply = {"result": handlers[request["op"]](*request["args"])}
        except Exception as error:  # noqa: BLE001 - sent back to the parent, which records it
            reply = {"error": f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"}
        write_frame(stdout, reply)


# ---- lowered programs (the corpus's jax section) ----------------------------------------------------------------

_LOC = re.compile(r"\s*loc\((?:[^()]|\([^()]*\))*\)")
_METADATA = re.compile(r",?\s*metadata=\{[^{}]*\}")


_STACK_TABLES = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")


def normalise_hlo(text: str) -> str:
    """HLO / StableHLO text without source locations and metadata (file names, line numbers, op-name paths, the
    optimized module's stack-frame tables): what stays is a function of the program alone."""
    lines = []
    skipping = False
    for line in text.splitlines():
        if line.strip() in _STACK_TABLES:
            skipping = True
            continue
        if skipping:
            if line.strip():
                continue
            skipping = False
        if line.startswith("#loc"):
            continue
        line = _METADATA.sub("", _LOC.sub("", line)).rstrip()
        lines.append(line)
    return "\n".join(lines).strip() + "\n"


def _float_params(program: JaxProgram, kernel) -> tuple[list[str], list[str]]:
    """(names of the program's float input arrays, names of its float outputs): what the backward pass maps."""
    from ..oracle.gradient import candidates

    inputs, outputs = candidates(kernel.params)
    names_in = {p.name for p in inputs}
    return [n for n in program.params if n in names_in], [p.name for p in outputs if p.name in program.outputs]


def argument_specs(program: JaxProgram, kernel, values: dict) -> list:
    """The program's arguments as (name, dtype, shape) triples, a struct as (name, [(field, dtype, shape)...]):
    all lowering needs (a record keeps them, so its HLO can be lowered again from its source alone)."""
    def spec(name, a):
        if isinstance(a, dict):
            return [name, [spec(f, v) for f, v in a.items()]]
        return [name, str(a.dtype), list(a.shape)]

    return [spec(n, a) for n, a in zip(program.params, jax_arguments(program, kernel, values))]


def _abstract(spec):
    name, rest = spec[0], spec[1:]
    if len(rest) == 1:  # a struct: its fields
        return {f[0]: _abstract(f) for f in rest[0]}
    return jax.ShapeDtypeStruct(tuple(rest[1]), np.dtype(rest[0]))


def lower(source: str, arguments: list, float_inputs: list[str], float_outputs: list[str]) -> dict[str, str | None]:
    """``forward``: StableHLO of the program's ``kernel`` (``jax.jit(kernel).lower``) for ``arguments``
    (:func:`argument_specs`); ``backward``: StableHLO of its vector-Jacobian product (``float_outputs``' cotangents
    in, ``float_inputs``' cotangents out), None when it has none or JAX cannot reverse-differentiate the program
    (a ``lax.while_loop``); ``optimized``: the forward HLO after XLA's CPU passes. All normalised
    (:func:`normalise_hlo`)."""
    kernel_fn = _kernel_function(source)
    args = [_abstract(a) for a in arguments]
    names = [a[0] for a in arguments]
    lowered = jax.jit(kernel_fn).lower(*args)
    texts = {"forward": normalise_hlo(lowered.as_text()), "backward": None,
             "optimized": normalise_hlo(lowered.compile().as_text())}
    positions = [names.index(n) for n in float_inputs]
    if not positions or not float_outputs or "lax.while_loop" in source:
        return texts

    def backward(all_args, cotangents):
        differentiable = _over_float_inputs(kernel_fn, all_args, positions, float_outputs)
        _, pull = jax.vjp(differentiable, *[all_args[i] for i in positions])
        return pull(tuple(cotangents))

    shapes = jax.eval_shape(kernel_fn, *args)
    cotangents = tuple(jax.ShapeDtypeStruct(shapes[n].shape, shapes[n].dtype) for n in float_outputs)
    texts["backward"] = normalise_hlo(jax.jit(backward).lower(tuple(args), cotangents).as_text())
    return texts


def relower(section: dict) -> dict[str, str | None]:
    """The HLO texts lowered again from a record's ``jax`` section alone (its ``source`` and ``arguments``): an
    independent check that the stored texts are what the stored program lowers to."""
    return lower(section["source"], section["arguments"], section["float_inputs"], section["float_outputs"])


# ---- the corpus's jax section ----------------------------------------------------------------------------------

#: the fields of a record's ``jax`` section (corpus/README.md); ``source`` and the HLO texts are empty strings when
#: the kernel is not expressible or JAX disagreed with the reference (no unverified program enters a corpus)
SECTION_FIELDS = tuple(JAX_SECTION_FIELDS)


def _empty_section() -> dict:
    section = dict.fromkeys(SECTION_FIELDS, "")
    section.update(expressible=False, outputs_checked=0, arguments=[], float_inputs=[], float_outputs=[],
                   jax_version=jax.__version__, gradient_status="unchecked")
    return section


def _section_in_child(kernel, values: dict, seed: int) -> dict:
    from .render import Inexpressible, render

    section = _empty_section()
    try:
        program = render(kernel)
    except Inexpressible as error:
        section["reason"] = str(error)[:300]
        return section
    comparison, _ = check_against_reference(program, kernel, values, seed)
    section["reference_status"] = comparison.status
    section["outputs_checked"] = comparison.outputs_checked
    if comparison.status == "mismatch":
        section["reason"] = "jax-mismatch: " + comparison.reason[:300]
        return section
    float_inputs, float_outputs = _float_params(program, kernel)
    arguments = argument_specs(program, kernel, values)
    texts = lower(program.source, arguments, float_inputs, float_outputs)
    section.update(expressible=True, source=program.source, arguments=arguments, float_inputs=float_inputs,
                   float_outputs=float_outputs, forward_hlo=texts["forward"], backward_hlo=texts["backward"] or "",
                   optimized_hlo=texts["optimized"])
    return section


class SectionMaker(IsolatedChecker):
    """Makes records' ``jax`` sections in the memory-capped child (see :class:`IsolatedChecker`)."""

    def section(self, kernel, values: dict, seed: int, timeout: float = 300.0) -> dict:
        failed = _empty_section()
        try:
            return self._call({"op": "section", "args": (kernel, values, seed)}, timeout)
        except _ChildDied:
            failed.update(reason="jax-crash: the child died (XLA's compiler over the memory cap)",
                          reference_status="jax-crash")
        except TimeoutError:
            failed.update(reason=f"jax-timeout: over {timeout:g} s", reference_status="jax-timeout")
        except Exception as error:  # noqa: BLE001 - JAX's own errors, recorded by kind
            failed.update(reason=f"jax-error: {str(error)[:200]}", reference_status="jax-error")
        return failed


_MAKER: SectionMaker | None = None


def jax_section(kernel, values: dict, seed: int) -> dict:
    """The ``jax`` section of a record for ``kernel`` verified on ``values`` (one child process per process)."""
    global _MAKER
    if _MAKER is None:
        _MAKER = SectionMaker()
    return _MAKER.section(kernel, values, seed)


def jax_gradient(kernel, values: dict, v: dict, u: dict) -> dict:
    """:func:`exact_gradient` of ``kernel``'s program at ``values``, made in the memory-capped child."""
    global _MAKER
    if _MAKER is None:
        _MAKER = SectionMaker()
    return _MAKER.gradient(kernel, values, v, u)


if __name__ == "__main__":
    raise SystemExit(_serve())
