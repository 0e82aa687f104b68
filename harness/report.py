"""Bug reports for Warp: a standalone reproducer script and a Markdown issue body per failure.

A :class:`Failure` is what the pipeline knows about one shrunk failing kernel. From it this module
renders

* :func:`render_reproducer` -- a Python script that needs only ``numpy`` and ``warp``. The script *is*
  the kernel's module (Warp reads kernel source through ``inspect``), holds every input as an exact
  literal, launches on ``"cpu"`` and exits with status 1 while the bug is present, printing
  ``not reproduced`` and exiting 0 otherwise;
* :func:`render_markdown` -- an issue body under the headings of Warp's bug-report form
  (``.github/ISSUE_TEMPLATE/1-bug-report.yml`` in NVIDIA/warp: "Bug Description" and
  "System Information"; the form prefills the title with ``[BUG] ``);
* :class:`ReportWriter` -- stores both, plus ``failure.json``, under ``<reports_dir>/<signature>/``
  and skips failures whose :func:`failure_signature` is already there.

Conventions the pipeline follows when it builds a :class:`Failure`:

* ``expected``/``actual`` keys are output argument names; for ``"gradient-mismatch"`` a key
  ``"<arg>.grad"`` holds the gradient of array ``<arg>``. The reproducer records the launch on a
  ``wp.Tape`` and seeds the backward pass with ones on every differentiable output array, so the
  gradients are those of the sum of all outputs.
* Literals round-trip bit for bit: every array literal is evaluated back and compared byte-wise
  while rendering; a float array whose bits cannot be spelled in decimal (a NaN payload) is
  written as its integer bit patterns.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import keyword
import math
import re
import shutil
import struct
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.store.canonical import canonical_source

__all__ = [
    "DTYPES",
    "KINDS",
    "Dtype",
    "Failure",
    "KernelArg",
    "ReportWriter",
    "array_literal",
    "failure_signature",
    "render_markdown",
    "render_reproducer",
]

# how an NVRTC error met compiling with -G (the pipeline's nvrtc_mode "debug" or "hybrid") begins
NVRTC_DEBUG = "NVRTC -G:"
KINDS = ("mismatch", "gradient-mismatch", "compile-error", "nvrtc-error", "crash",
         # harness.fuzz --against (harness.warp_side.against): the other release fails the reference comparison the main
         # one passes; or the two releases differ where the reference cannot decide (expected: the main one's)
         "release-mismatch", "release-difference")
#: kinds whose reproducer launches the kernel and compares its outputs with literal expected values
_COMPARED = ("mismatch", "gradient-mismatch", "release-mismatch", "release-difference")
DIFFERENTIAL = "differential-"  # + a harness.warp_side.differential variant name: two Warp builds disagree


def known_kind(kind: str) -> bool:
    """A kind of :data:`KINDS`, or ``differential-<variant>``."""
    return kind in KINDS or (kind.startswith(DIFFERENTIAL) and len(kind) > len(DIFFERENTIAL))
MAX_SCRIPT_ROWS = 20  # differing elements the reproducer prints
MAX_REPORT_ROWS = 5  # differing elements the Markdown table shows
NVRTC_ARCH = 90  # used when the failure's text names no architecture
LINE_WIDTH = 99


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Dtype:
    """How one kernel dtype is written in a reproducer."""

    warp: str  # the Warp type, e.g. "wp.vec3"
    numpy: str  # numpy dtype name of one component, e.g. "float32"
    shape: tuple[int, ...]  # shape of one element: () for scalars, (3,) for vec3
    differentiable: bool  # arrays of it get ``requires_grad`` in gradient reproducers


DTYPES: dict[str, Dtype] = {
    "float32": Dtype("wp.float32", "float32", (), True),
    "int32": Dtype("wp.int32", "int32", (), False),
    "bool": Dtype("wp.bool", "bool", (), False),
    "vec3": Dtype("wp.vec3", "float32", (3,), True),
}


@dataclass
class KernelArg:
    name: str
    kind: str  # "array" | "scalar"
    dtype: str  # a key of DTYPES or a type name of grammar.types; vec3 arrays are numpy (N, 3) float32;
    # for a user @wp.struct: the class name (defined in the module source), with ``fields`` set
    value: Any  # np.ndarray for arrays (initial contents), python int/float/bool (or 3 floats) for scalars;
    # structs: a dict field -> value (an array field is a 1-D np.ndarray); arrays of structs: a numpy
    # structured array with the same field names
    is_output: bool = False
    fields: tuple[tuple[str, str, bool], ...] = ()  # structs: (field, dtype name, is a 1-D array field)


@dataclass
class Failure:
    kind: str  # one of KINDS
    kernel_name: str
    module_source: str  # complete module text: "import warp as wp\n\n@wp.kernel\ndef ..."
    dim: int  # launch dimension
    args: list[KernelArg]  # kernel parameter order
    expected: dict[str, np.ndarray]  # output name (or "<arg>.grad") -> reference result
    actual: dict[str, np.ndarray]  # output name (or "<arg>.grad") -> what Warp produced
    # {"rtol": float, "atol": float}, optionally "allowed": {output name: per-element allowed |deviation|} (the
    # harness's own tolerance, element by element; where given it replaces atol); ints and bools compare exactly
    tolerance: dict
    message: str  # one-paragraph summary
    warp_version: str
    detail: str = ""  # how the expected value was derived, compiler log, traceback...
    seed: int | None = None
    module_options: dict = field(default_factory=dict)  # wp.set_module_options() the failure needs
    # "gradient-mismatch": output name -> the adjoint seeded into it (default: ones on every float output)
    output_grads: dict = field(default_factory=dict)
    # "differential-*": the second configuration (module options and device); ``module_options`` is the first,
    # ``expected`` holds the first build's outputs and ``actual`` the second's
    variant_options: dict = field(default_factory=dict)
    variant_device: str = "cpu"


# --------------------------------------------------------------------------- signature


def failure_signature(f: Failure) -> str:
    """A 16-hex-digit id that is equal for failures a maintainer would call the same bug.

    It hashes the kind, the canonical kernel source (identifiers renamed, comments and formatting
    dropped) and, for build failures, the first line of the message with paths, hex, numbers and
    the module's own identifiers masked.
    """
    parts = [f.kind, canonical_source(f.module_source)]
    if f.kind in ("compile-error", "nvrtc-error"):
        parts.append(_error_key(f.message, f.module_source))
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:16]


def _error_key(message: str, module_source: str) -> str:
    line = next((line.strip() for line in message.splitlines() if line.strip()), "")
    line = re.sub(r"(?:[A-Za-z]:[\\/]|\.{0,2}/|~/)[^\s:'\",()]+", "<path>", line)
    line = re.sub(r"_[0-9a-f]{7,}\b", "", line)  # Warp's hash suffix on generated names
    names = sorted(_local_identifiers(module_source), key=len, reverse=True)
    if names:
        line = re.sub(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b", "<id>", line)
    line = re.sub(r"\b0[xX][0-9a-fA-F]+\b|\b(?=[a-f]*\d)[0-9a-f]{7,}\b", "<hex>", line)
    line = re.sub(r"\d+", "<n>", line)
    return re.sub(r"\s+", " ", line)


def _local_identifiers(module_source: str) -> set[str]:
    """Names the canonical form renames: kernel names, parameters and assigned variables."""
    try:
        tree = ast.parse(module_source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef) and any(_is_kernel_decorator(d) for d in node.decorator_list):
            names.add(node.name)
    return names - set(dir(builtins)) - {"wp", "warp"}


def _is_kernel_decorator(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):
        node = node.func
    return (isinstance(node, ast.Attribute) and node.attr == "kernel") or (
        isinstance(node, ast.Name) and node.id == "kernel"
    )


# --------------------------------------------------------------------------- literals


def array_literal(value: np.ndarray, indent: int = 0, start: int | None = None) -> str:
    """Python source for ``value`` that evaluates (with ``np`` bound) to an identical array.

    Floats use the shortest decimal that reads back to the same bits, and ``np.nan``/``np.inf``;
    a float array with any other NaN is spelled as its bit patterns. ``indent`` (of the line the
    literal is on) and ``start`` (the column it starts at, default ``indent``) only affect line
    wrapping. The text is evaluated back and compared byte-wise; ``ValueError`` if it differs.
    """
    value = np.asarray(value)
    dtype = f"np.{value.dtype.name}" if value.dtype.kind != "b" else "np.bool_"
    if value.size == 0:
        text = f"np.zeros({value.shape!r}, dtype={dtype})"
    else:
        elements = [_element_text(x) for x in value.reshape(-1)]
        view = ""
        if None in elements:  # NaN payloads: spell the bits
            bits = value.view(f"u{value.dtype.itemsize}")
            elements = [hex(int(x)) for x in bits.reshape(-1)]
            dtype, view = f"np.{bits.dtype.name}", f".view({dtype})"
        args = [_nested(elements, value.shape, indent + 4), f"dtype={dtype}"]
        text = _call("np.array", args, indent, start) + view
    back = eval(text, {"np": np, "__builtins__": {}})  # our own text, checked before it is used
    if back.dtype != value.dtype or back.shape != value.shape or back.tobytes() != value.tobytes():
        raise ValueError(f"literal does not round-trip: {text[:200]}")
    return text


def _element_text(x: np.generic) -> str | None:
    """Shortest source text that converts back to exactly ``x`` in its dtype, or None."""
    if x.dtype.kind == "b":
        return repr(bool(x))
    if x.dtype.kind in "iu":
        return repr(int(x))
    if np.isnan(x):
        candidates = ["np.nan", "-np.nan"]
    elif np.isinf(x):
        candidates = ["np.inf" if x > 0 else "-np.inf"]
    else:
        candidates = [str(x), repr(float(x))]  # numpy's shortest repr for the dtype, then the exact double
    for text in candidates:
        back = np.array([eval(text, {"np": np, "__builtins__": {}})], dtype=x.dtype)[0]
        if back.tobytes() == x.tobytes():
            return text
    return None


def _scalar_text(value: Any, dtype: Dtype) -> str:
    """A kernel scalar argument as Python source; Warp converts it exactly as it converted ``value``."""
    if dtype.shape:
        components = ", ".join(_python_number(v) for v in np.asarray(value).reshape(-1))
        return f"{dtype.warp}({components})"
    return _python_number(value)


def _python_number(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, np.integer)):
        return repr(int(value))
    value = float(value)
    if math.isnan(value):
        return "-np.nan" if math.copysign(1.0, value) < 0 else "np.nan"
    if math.isinf(value):
        return "np.inf" if value > 0 else "-np.inf"
    text = repr(value)
    if struct.pack("<d", float(text)) != struct.pack("<d", value):
        raise ValueError(f"{value!r} does not round-trip through its repr")
    return text


def _nested(elements: list[str], shape: tuple[int, ...], indent: int) -> str:
    """A nested list of ``elements`` (row-major) with the given shape, wrapped to the line width."""
    if len(shape) == 1:
        return _wrap("[" + ", ".join(elements) + "]", indent)
    step = len(elements) // shape[0]
    rows = [_nested(elements[i * step : (i + 1) * step], shape[1:], indent + 1) for i in range(shape[0])]
    flat = "[" + ", ".join(rows) + "]"
    if "\n" not in flat and indent + len(flat) <= LINE_WIDTH:
        return flat
    return "[" + (",\n" + " " * (indent + 1)).join(rows) + "]"


def _wrap(text: str, indent: int) -> str:
    lines = textwrap.wrap(
        text,
        width=max(LINE_WIDTH - indent, 40),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return ("\n" + " " * (indent + 1)).join(lines)


def _call(func: str, args: list[str], indent: int, start: int | None = None) -> str:
    """``func(arg, ...)`` on one line if it fits, else one argument per line (Black style).

    ``indent`` is the indentation of the line the call is on, ``start`` the column it starts at.
    """
    one_line = f"{func}({', '.join(args)})"
    if "\n" not in one_line and (indent if start is None else start) + len(one_line) <= LINE_WIDTH:
        return one_line
    inner = " " * (indent + 4)
    return f"{func}(\n" + "".join(f"{inner}{arg},\n" for arg in args) + " " * indent + ")"


# --------------------------------------------------------------------------- reproducer

_DIFFERENCES = '''\
def differences(name, actual, expected, rtol, atol):
    """(element, expected, actual) for every element of `actual` that differs from `expected`."""
    if actual.shape != expected.shape:
        return [(name, f"shape {expected.shape}", f"shape {actual.shape}")]
    if expected.dtype.kind in "biu":  # integers and booleans must match exactly
        bad = actual != expected
    else:
        bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if bad.ndim > 1:  # a vector element differs if any component does
        bad = bad.any(axis=tuple(range(1, bad.ndim)))
    return [(f"{name}[{i}]", expected[i], actual[i]) for i in np.flatnonzero(bad)]
'''

_SUMMARY = {
    "mismatch": "a Warp kernel gives a wrong result on the CPU.",
    "gradient-mismatch": "the backward pass of a Warp kernel gives wrong gradients on the CPU.",
    "compile-error": "Warp fails to build a valid kernel for the CPU.",
    "nvrtc-error": "NVRTC fails to compile the CUDA code Warp generates for a valid kernel.",
    "crash": "launching a Warp kernel on the CPU crashes the process.",
    "release-mismatch": "a Warp kernel gives a wrong result on the CPU (one that another release gets right).",
    "release-difference": "two Warp releases compute different outputs for the same kernel on the CPU.",
}


def render_reproducer(f: Failure) -> str:
    """A standalone script that exits with status 1 while the bug of ``f`` is present.

    The kernel source is copied verbatim and defined at the top level, because Warp reads kernel
    source from the defining file. Only ``numpy`` and ``warp`` are imported; nothing is written
    except Warp's own kernel cache.
    """
    if not known_kind(f.kind):
        raise ValueError(f"unknown failure kind {f.kind!r}; expected one of {KINDS} or {DIFFERENTIAL}<variant>")
    if f.kind.startswith(DIFFERENTIAL):
        return _differential_reproducer(f)
    taken = _top_level_names(f.module_source) | {"np", "wp"}
    main = _fresh("main", taken)
    helper = _fresh("differences", taken) if f.kind in _COMPARED else None
    taken |= {main} | ({helper} if helper else set())

    lines = [f"# Reproducer: {_SUMMARY[f.kind]}", "#"]
    lines += _comment(f.message)
    lines += [
        "#",
        '# Run it with `python <this file>`: it exits with status 1 while the bug is present and',
        '# prints "not reproduced" otherwise.',
        "",
        "import numpy as np",
    ]
    source = f.module_source.strip("\n")
    if not re.search(r"^import warp as wp\s*$", source, re.M):
        lines.append("import warp as wp")
        lines.append("")
    lines += source.splitlines()
    if f.module_options:
        lines += ["", f"wp.set_module_options({_dict_literal(f.module_options)})"]
    if helper:
        lines += ["", ""] + _DIFFERENCES.replace("def differences(", f"def {helper}(").splitlines()
    lines += ["", "", f"def {main}():"]
    if f.kind == "compile-error":
        lines += _build_body('wp.load_module(device="cpu")', "building the kernels in this file for the CPU")
    elif f.kind == "nvrtc-error":
        arch, use_ptx = _nvrtc_target(f)
        call = f"wp.compile_aot_module(__name__, arch={arch}, use_ptx={use_ptx})"
        what = f"NVRTC only, no GPU needed: compiling this file for sm_{arch}"
        if f.message.startswith(NVRTC_DEBUG):  # met compiling with -G, as Warp's debug build compiles
            lines += ['    wp.config.mode = "debug"  # the failure was met with NVRTC -G']
            what += " in Warp's debug mode (NVRTC -G)"
        lines += _build_body(call, what)
    else:
        lines += _launch_body(f, helper, taken)
    lines += ["", "", 'if __name__ == "__main__":', f"    {main}()", ""]
    return "\n".join(lines)


_BITWISE = '''\
def differences(name, a, b):
    """(element, a, b) for every element whose bits differ (NaN == NaN with the same bits, -0.0 != 0.0)."""
    if a.shape != b.shape:
        return [(name, f"shape {a.shape}", f"shape {b.shape}")]
    bad = a.view(np.uint8).reshape(a.shape[:1] + (-1,)) != b.view(np.uint8).reshape(b.shape[:1] + (-1,))
    return [(f"{name}[{i}]", a[i], b[i]) for i in np.flatnonzero(bad.any(axis=1))]
'''


def _differential_reproducer(f: Failure) -> str:
    """Build and launch the kernel twice (``module_options`` on the CPU, then ``variant_options`` on
    ``variant_device``) on the same inputs; exit 1 while the two outputs differ bit for bit."""
    base = Failure(**{**f.__dict__, "kind": "mismatch", "module_options": {}})
    script = render_reproducer(base).splitlines()
    start = next(i for i, line in enumerate(script) if line.startswith("def differences("))
    main_at = max(i for i, line in enumerate(script) if line.startswith("def main"))
    header = script[:start]
    body, skip = [], False
    for line in script[main_at + 1:]:
        if line.startswith("if __name__"):
            break
        if line == "    expected = {":
            skip = True
            continue
        if skip:
            skip = line != "    }"
            continue
        body.append(line.replace('device="cpu"', "device=device"))
        if line.startswith("    actual = {"):
            break
    body.append("    return actual")
    rtol, atol = float(f.tolerance.get("rtol", 0.0)), float(f.tolerance.get("atol", 0.0))
    check = "differences(name, first[name], second[name])"
    helper = _BITWISE
    if rtol or atol:  # a configuration that may round differently: beyond the tolerance only
        helper = _DIFFERENCES
        check = f"differences(name, second[name], first[name], rtol={rtol!r}, atol={atol!r})"
    lines = [f"# Reproducer: two builds of the same Warp kernel disagree ({f.kind}).", "#"]
    lines += _comment(f.message) + header[header.index("") if "" in header else 0:]
    lines += helper.splitlines() + ["", "", "def run(device):"] + body
    lines += ["", "", "def main():",
              f"    wp.set_module_options({_dict_literal(f.module_options)})",
              '    first = run("cpu")',
              f"    wp.set_module_options({_dict_literal(f.variant_options)})",
              f"    second = run({f.variant_device!r})",
              "    rows = []",
              "    for name in first:",
              f"        rows += {check}",
              "    if not rows:",
              '        print("not reproduced")',
              "        return",
              f'    print(f"{{\'element\':<16}} {{\'first build\':>28}} {{\'second build\':>28}}")',
              f"    for element, a, b in rows[:{MAX_SCRIPT_ROWS}]:",
              '        print(f"{element:<16} {str(a):>28} {str(b):>28}")',
              '    raise SystemExit(f"bug reproduced: {len(rows)} element(s) differ between the two builds")',
              "", "", 'if __name__ == "__main__":', "    main()", ""]
    return "\n".join(lines)


def _build_body(call: str, what: str) -> list[str]:
    return [
        f"    # {what[0].upper()}{what[1:]}; the output goes to Warp's kernel cache.",
        "    try:",
        f"        {call}",
        "    except Exception as error:",
        '        raise SystemExit(f"bug reproduced: {type(error).__name__}: {error}") from error',
        '    print("not reproduced")',
    ]


def _launch_body(f: Failure, helper: str | None, taken: set[str]) -> list[str]:
    keys = list(f.expected) if helper else []
    backward = f.kind == "gradient-mismatch" or any(key.endswith(".grad") for key in keys)
    local_names = {"expected", "actual", "rows", "name", "element", "want", "got", "tape"}
    reserved = taken | local_names | set(dir(builtins))
    variables: dict[str, str] = {}
    body: list[str] = []
    inputs: list[str] = []
    for arg in f.args:
        if arg.fields:
            if arg.kind not in ("array", "scalar"):
                raise ValueError(f"argument {arg.name!r}: kind must be 'array' or 'scalar', not {arg.kind!r}")
            variable = variables[arg.name] = _fresh(arg.name, reserved)
            reserved.add(variable)
            inputs.append(variable)
            body += _struct_lines(arg, variable)
            continue
        dtype = _dtype(arg.dtype)
        if arg.kind == "scalar":
            inputs.append(_scalar_text(arg.value, dtype))
            continue
        if arg.kind != "array":
            raise ValueError(f"argument {arg.name!r}: kind must be 'array' or 'scalar', not {arg.kind!r}")
        variable = variables[arg.name] = _fresh(arg.name, reserved)
        reserved.add(variable)
        inputs.append(variable)
        data = np.asarray(arg.value, dtype=dtype.numpy)
        prefix = f"    {variable} = "
        literal = array_literal(data, 8, len(prefix) + len("wp.array("))
        call_args = [literal, f"dtype={dtype.warp}", 'device="cpu"']
        if backward and dtype.differentiable:
            call_args.append("requires_grad=True")
        body += (prefix + _call("wp.array", call_args, 4, len(prefix))).splitlines()

    launch_args = [f.kernel_name, f"dim={f.dim}", f"inputs=[{', '.join(inputs)}]", 'device="cpu"']
    launch = _call("wp.launch", launch_args, 8 if backward else 4)
    if backward:
        seeds, seeded = [], []
        for a in f.args:
            if not (a.kind == "array" and a.is_output and not a.fields and _dtype(a.dtype).differentiable):
                continue
            variable = variables[a.name]
            if a.name in f.output_grads:
                dtype = _dtype(a.dtype)
                name = _fresh(f"{variable}_seed", reserved)
                reserved.add(name)
                prefix = f"    {name} = "
                data = np.asarray(f.output_grads[a.name], dtype=dtype.numpy)
                literal = array_literal(data, 8, len(prefix) + len("wp.array("))
                seeded += (prefix + _call("wp.array", [literal, f"dtype={dtype.warp}", 'device="cpu"'], 4,
                                          len(prefix))).splitlines()
                seeds.append(f"{variable}: {name}")
            else:
                seeds.append(f"{variable}: wp.ones_like({variable})")
        what = "v·y" if f.output_grads else "sum of outputs"
        body += seeded + ["    tape = wp.Tape()", "    with tape:", f"        {launch}"]
        body.append(f"    tape.backward(grads={{{', '.join(seeds)}}})  # d({what}) / d(inputs)")
    else:
        body.append(f"    {launch}")
    body.append('    wp.synchronize_device("cpu")')
    if not keys:
        return body + ['    print("not reproduced")']

    body += ["", "    expected = {"]
    for key in keys:
        prefix = f"        {json.dumps(key)}: "
        body += (prefix + array_literal(np.asarray(f.expected[key]), 8, len(prefix)) + ",").splitlines()
    body.append("    }")
    actual = []
    struct_fields = {a.name: {f for f, _, _ in a.fields} for a in f.args if a.fields}
    for key in keys:
        name, _, grad = key.partition(".")
        if name in struct_fields and grad in struct_fields[name]:  # a field of an array of structs
            actual.append(f"{json.dumps(key)}: {variables[name]}.numpy()[{json.dumps(grad)}]")
            continue
        if name not in variables or grad not in ("", "grad"):
            raise ValueError(f"expected key {key!r} names no array argument (or its .grad)")
        actual.append(f"{json.dumps(key)}: {variables[name]}{'.grad' if grad else ''}.numpy()")
    body.append("    actual = {" + ", ".join(actual) + "}")
    rtol, atol = float(f.tolerance["rtol"]), float(f.tolerance["atol"])
    allowed = {k: v for k, v in (f.tolerance.get("allowed") or {}).items() if k in keys}
    tol = repr(atol)
    if allowed:  # the harness's allowed deviation, element by element
        body += ["    # the allowed deviation of each element (its measured sensitivity x 8 + 4 ulp)", "    allowed = {"]
        for key, value in allowed.items():
            prefix = f"        {json.dumps(key)}: "
            body += (prefix + array_literal(np.asarray(value, dtype=np.float64), 8, len(prefix)) + ",").splitlines()
        body.append("    }")
        tol = f"allowed.get(name, {atol!r})"
    body += [
        "    rows = []",
        "    for name in expected:",
        f"        rows += {helper}(name, actual[name], expected[name], rtol={rtol!r}, atol={tol})",
        "    if not rows:",
        '        print("not reproduced")',
        "        return",
        "    print(f\"{'element':<16} {'expected':>28} {'actual':>28}\")",
        f"    for element, want, got in rows[:{MAX_SCRIPT_ROWS}]:",
        '        print(f"{element:<16} {str(want):>28} {str(got):>28}")',
        f"    if len(rows) > {MAX_SCRIPT_ROWS}:",
        f'        print(f"... and {{len(rows) - {MAX_SCRIPT_ROWS}}} more")',
        '    raise SystemExit(f"bug reproduced: {len(rows)} element(s) differ from the expected values")',
    ]
    return body


def _dtype(name: str) -> Dtype:
    if name in DTYPES:
        return DTYPES[name]
    from grammar.types import BY_NAME, Composite

    t = BY_NAME.get(name)
    if t is None:
        raise ValueError(f"unsupported dtype {name!r}; expected one of {sorted(DTYPES)} or a grammar type")
    scalar = t.scalar if isinstance(t, Composite) else t
    warp = "wp.bool" if name == "bool" else t.warp_name
    return Dtype(warp, np.dtype(scalar.numpy_dtype).name, tuple(getattr(t, "shape", ())), scalar.is_float)


def _struct_lines(arg: KernelArg, variable: str) -> list[str]:
    """Statements building the struct (or array of structs) argument ``arg`` into ``variable``."""
    cls = arg.dtype
    lines = []
    if arg.kind == "scalar":
        lines.append(f"    {variable} = {cls}()")
        for field, dtype_name, is_array in arg.fields:
            dtype = _dtype(dtype_name)
            prefix = f"    {variable}.{field} = "
            if is_array:
                data = np.asarray(arg.value[field], dtype=dtype.numpy)
                literal = array_literal(data, 8, len(prefix) + len("wp.array("))
                text = _call("wp.array", [literal, f"dtype={dtype.warp}", 'device="cpu"'], 4, len(prefix))
            else:
                text = _scalar_text(arg.value[field], dtype)
            lines += (prefix + text).splitlines()
        return lines
    value = np.asarray(arg.value)
    lines.append(f"    {variable} = np.zeros({value.shape!r}, dtype={cls}.numpy_dtype())")
    if not arg.is_output:
        for field, dtype_name, _ in arg.fields:
            prefix = f"    {variable}[{json.dumps(field)}] = "
            data = np.ascontiguousarray(value[field], dtype=_dtype(dtype_name).numpy)
            lines += (prefix + array_literal(data, 4, len(prefix))).splitlines()
    lines.append(f'    {variable} = wp.array({variable}, dtype={cls}, device="cpu")')
    return lines


def _top_level_names(module_source: str) -> set[str]:
    names = set()
    for node in ast.parse(module_source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            stores = (n for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
            names.update(n.id for n in stores)
    return names


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken or keyword.iskeyword(name):
        name += "_"
    return name


def _comment(text: str) -> list[str]:
    lines = []
    for paragraph in text.strip().splitlines() or [""]:
        wrapped = textwrap.wrap(paragraph, width=LINE_WIDTH - 2, break_long_words=False) or [""]
        lines += [f"# {line}".rstrip() for line in wrapped]
    return lines


def _dict_literal(options: dict) -> str:
    text = "{" + ", ".join(f"{json.dumps(str(k))}: {v!r}" for k, v in options.items()) + "}"
    if ast.literal_eval(text) != options:
        raise ValueError(f"module options are not plain literals: {options!r}")
    return text


def _nvrtc_target(f: Failure) -> tuple[int, bool]:
    """The architecture and PTX/cubin choice named in the failure's text, else sm_90 PTX."""
    text = f"{f.message}\n{f.detail}"
    match = re.search(r"\b(?:sm|compute)_(\d{2,3})[a-z]?\b|\barch\s*[=:]\s*(\d{2,3})\b", text)
    arch = int(next(g for g in match.groups() if g)) if match else NVRTC_ARCH
    return arch, "cubin" not in text.lower()


# --------------------------------------------------------------------------- Markdown


def render_markdown(f: Failure, diagnostics: str) -> str:
    """The issue body for Warp's bug-report form, preceded by a suggested title.

    Sections follow the form's fields ("Bug Description", "System Information"); ``diagnostics``
    is the output of ``warp.print_diagnostics()``.
    """
    rows = _differences(f)
    reproducer = render_reproducer(f)
    parts = [
        f"**Suggested title:** {_title(f, rows)}",
        "",
        "---",
        "",
        "### Bug Description",
        "",
        _description(f),
        "",
        f.message.strip(),
        "",
    ]
    if rows:
        parts += [_table(rows), ""]
    parts += [
        "Self-contained reproducer (exits with status 1 while the bug is present, prints "
        '"not reproduced" otherwise):',
        "",
        _fenced(reproducer, "python"),
        "",
    ]
    if f.detail.strip():
        heading = {
            "mismatch": "How the expected values were derived:",
            "release-mismatch": "How the expected values were derived:",
            "release-difference": "Which output is right:",
            "gradient-mismatch": "How the expected gradients were derived:",
            "compile-error": "Build output:",
            "nvrtc-error": "NVRTC output:",
            "crash": "What happened:",
        }.get(f.kind, "How the two outputs were obtained:")
        parts += [heading, "", _fenced(f.detail.strip("\n"), "text"), ""]
    parts += [
        "_Found by a grammar-based fuzzer that checks Warp kernels against a NumPy reference._",
        "",
        "### System Information",
        "",
        f"Warp {f.warp_version}; reproduced on the CPU device.",
        "",
        'Output of `python -c "import warp; warp.print_diagnostics()"`:',
        "",
        _fenced(diagnostics.strip("\n"), "text"),
        "",
    ]
    return "\n".join(parts)


def _title(f: Failure, rows: list[tuple[str, str, str, str]]) -> str:
    first = f" ({rows[0][0]} is {rows[0][2]}, expected {rows[0][1]})" if rows else ""
    error = next((line.strip() for line in f.message.splitlines() if line.strip()), "")
    if len(error) > 80:
        error = error[:77] + "..."
    return "[BUG] " + {
        "mismatch": f"Wrong result from a CPU kernel{first}",
        "release-mismatch": f"Wrong result from a CPU kernel in Warp {f.warp_version}{first}",
        "release-difference": f"CPU kernel output changed between Warp releases{first}",
        "gradient-mismatch": f"Wrong gradient from a CPU kernel's backward pass{first}",
        "compile-error": f"Valid kernel fails to build for the CPU: {error}",
        "nvrtc-error": f"NVRTC rejects generated CUDA code: {error}",
        "crash": "Kernel launch crashes the process on the CPU",
    }.get(f.kind, f"Two builds of the same kernel disagree ({f.kind}){first}")


def _description(f: Failure) -> str:
    launch = f"`wp.launch({f.kernel_name}, dim={f.dim}, ...)` on `\"cpu\"`"
    return {
        "mismatch": f"{launch} produces values that differ from the expected result.",
        "release-mismatch": f"With Warp {f.warp_version}, {launch} produces values that differ from the expected "
        "result; another release computes them correctly (see the message).",
        "release-difference": f"{launch} produces different values with Warp {f.warp_version} (column *actual*) "
        "and with another release (column *expected*).",
        "gradient-mismatch": f"The backward pass of {launch} (recorded on a `wp.Tape`, seeded with "
        + ("the adjoints in the reproducer" if f.output_grads else "ones on every float output array")
        + ") produces input gradients that differ from the expected ones.",
        "compile-error": f"Building kernel `{f.kernel_name}` for the CPU fails, although it is valid Warp.",
        "nvrtc-error": f"Compiling the CUDA code generated for kernel `{f.kernel_name}` with NVRTC fails "
        "(no GPU is needed to reproduce: `wp.compile_aot_module`).",
        "crash": f"{launch} crashes the Python process.",
    }.get(f.kind, f"`{f.kernel_name}` built with `{f.module_options}` (column *expected*) and with "
                  f"`{f.variant_options}` on `\"{f.variant_device}\"` (column *actual*) gives different outputs on the "
                  "same inputs.")


def _differences(f: Failure) -> list[tuple[str, str, str, str]]:
    """(element, expected, actual, |difference|) rows, the same check the reproducer applies."""
    rows = []
    rtol, atol = (float(f.tolerance.get(k, 0.0)) for k in ("rtol", "atol"))
    allowed = f.tolerance.get("allowed") or {}
    for key, expected in f.expected.items():
        expected = np.asarray(expected)
        if key not in f.actual:
            continue
        actual = np.asarray(f.actual[key])
        tol = np.asarray(allowed[key]) if key in allowed else atol
        if actual.shape != expected.shape:
            rows.append((f"`{key}`", f"shape {expected.shape}", f"shape {actual.shape}", ""))
            continue
        if expected.dtype.kind in "biu" and actual.dtype.kind in "biu":
            bad = actual != expected
        else:
            bad = ~np.isclose(actual, expected, rtol=rtol, atol=tol, equal_nan=True)
        if bad.ndim > 1:
            bad = bad.any(axis=tuple(range(1, bad.ndim)))
        for i in np.flatnonzero(bad)[: MAX_REPORT_ROWS - len(rows)]:
            gap = ""
            if expected.dtype.kind == "f" and expected.ndim == 1:
                gap = _number(np.abs(np.float64(actual[i]) - np.float64(expected[i])))
            rows.append((f"`{key}[{i}]`", _number(expected[i]), _number(actual[i]), gap))
        if len(rows) >= MAX_REPORT_ROWS:
            break
    return rows


def _number(x: Any) -> str:
    x = np.asarray(x)
    if x.ndim:
        return "(" + ", ".join(_number(v) for v in x) + ")"
    return str(x[()])


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| element | expected | actual | abs. difference |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines)


def _fenced(text: str, language: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


# --------------------------------------------------------------------------- writer

_SIGNATURE = re.compile(r"[0-9a-f]{16}")


class ReportWriter:
    """Stores one directory per distinct failure under ``reports_dir``.

    Each ``<signature>/`` holds ``repro.py``, ``report.md`` and ``failure.json``. Signatures already
    present as subdirectories (from earlier runs or other processes) are skipped, so dedup persists.
    ``diagnostics`` is called at most once, when the first report is written; ``release_diagnostics(version)``
    (once per version) gives the System Information of a ``release-*`` failure, which belongs to another release.
    """

    def __init__(self, reports_dir: Path, diagnostics: Callable[[], str],
                 release_diagnostics: Callable[[str], str] | None = None) -> None:
        self.reports_dir = Path(reports_dir)
        self._diagnostics = diagnostics
        self._diagnostics_text: str | None = None
        # a failure of another release (Failure.warp_version not this process's Warp): its diagnostics
        self._release_diagnostics = release_diagnostics
        self._release_texts: dict[str, str] = {}
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        self.seen = {
            p.name for p in self.reports_dir.iterdir() if p.is_dir() and _SIGNATURE.fullmatch(p.name)
        }

    def write(self, f: Failure) -> Path | None:
        """Write the report of ``f``; return its directory, or None if that signature exists."""
        signature = failure_signature(f)
        final = self.reports_dir / signature
        if signature in self.seen or final.exists():
            self.seen.add(signature)
            return None
        if f.kind.startswith("release-") and self._release_diagnostics is not None:
            if f.warp_version not in self._release_texts:
                self._release_texts[f.warp_version] = self._release_diagnostics(f.warp_version)
            diagnostics = self._release_texts[f.warp_version]
        else:
            if self._diagnostics_text is None:
                self._diagnostics_text = self._diagnostics()
            diagnostics = self._diagnostics_text
        files = {
            "repro.py": render_reproducer(f),
            "report.md": render_markdown(f, diagnostics),
            "failure.json": json.dumps(
                {
                    "signature": signature,
                    "kind": f.kind,
                    "kernel_name": f.kernel_name,
                    "message": f.message,
                    "seed": f.seed,
                    "warp_version": f.warp_version,
                },
                indent=2,
            )
            + "\n",
        }
        # Write into a hidden directory, then rename: readers never see a partial report, and of two
        # processes writing the same signature only one rename succeeds.
        staging = Path(tempfile.mkdtemp(prefix=f".{signature}-", dir=self.reports_dir))
        try:
            for name, text in files.items():
                (staging / name).write_text(text, encoding="utf-8")
            try:
                staging.rename(final)
            except OSError:
                if final.exists():
                    self.seen.add(signature)
                    return None
                raise
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        self.seen.add(signature)
        return final
