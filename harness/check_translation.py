"""Executable tests per record, and a judge of candidate translations by execution.

Every verified record (corpus schema 5) carries ``tests``: the inputs its kernel was verified on and the outputs
Warp produced on them (which matched the numpy reference), stored compactly (:func:`encode`: dtype, shape and the
zlib-compressed bytes in base64), with the parameter list needed to launch the kernel again.

``python -m harness.check_translation (--corpus DIR --id ID | --record FILE) --candidate FILE
--kind python|cpu_forward|cuda_forward`` judges a candidate source — what a code model wrote for the record —
by running it on the record's inputs:

* ``python``: a module defining the kernel (same name as the record's ``kernel_name``, or the only
  ``@wp.kernel`` of the module), built by Warp for the CPU and launched;
* ``cpu_forward``: a C++ forward function in the record's normalised form (names as in ``cpu_forward``); it
  replaces the function Warp generates for the record's own kernel, the module is built by Warp's CPU toolchain
  with it, and launched (``harness.warp_side.warp_adapter.compile_substituted``);
* ``cuda_forward``: the same for the CUDA function; compiled with NVRTC always, launched only when a GPU is
  present (otherwise the verdict says it was compiled, not run).

Outputs are compared with the record's: integers and booleans exactly, floats within :data:`ULPS` units in
the last place of their type (a translation compiled by the same compiler reproduces Warp's outputs bit for bit;
the margin is for contraction choices), NaN equal to NaN. Exit status 0: every output matches; 1: a candidate
that does not build or whose outputs differ (the first differing elements are printed); 2: bad arguments.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cli import OneLineParser

__all__ = ["ULPS", "Verdict", "check", "compare", "decode", "encode", "record_tests"]

#: float outputs may differ from the record's by this many units in the last place of their type
ULPS = 4
KINDS = ("python", "cpu_forward", "cuda_forward")


# --------------------------------------------------------------------------- compact arrays


def encode(value: Any) -> dict:
    """A JSON-able form of one launch value: an array or scalar as dtype, shape and zlib+base64 bytes; a
    structured array (an array of structs) field by field; a dict (a struct value) member by member."""
    if isinstance(value, dict):
        return {"struct": {k: encode(v) for k, v in value.items()}}
    if isinstance(value, np.ndarray) and value.dtype.names:
        return {"fields": {f: encode(np.ascontiguousarray(value[f])) for f in value.dtype.names},
                "shape": list(value.shape)}
    python = not isinstance(value, (np.ndarray, np.generic))
    a = np.ascontiguousarray(np.asarray(value))
    out = {"dtype": a.dtype.name, "shape": list(a.shape),
           "data": base64.b64encode(zlib.compress(a.tobytes(), 9)).decode("ascii")}
    if python:
        out["python"] = True
    return out


def decode(enc: dict) -> Any:
    """The value :func:`encode` stored."""
    if "struct" in enc:
        return {k: decode(v) for k, v in enc["struct"].items()}
    if "fields" in enc:
        shape = tuple(enc["shape"])
        fields = {f: decode(v) for f, v in enc["fields"].items()}
        dtype = np.dtype([(f, a.dtype, a.shape[len(shape):]) for f, a in fields.items()])
        out = np.zeros(shape, dtype=dtype)
        for f, a in fields.items():
            out[f] = a
        return out
    a = np.frombuffer(zlib.decompress(base64.b64decode(enc["data"])), dtype=np.dtype(enc["dtype"]))
    a = a.reshape(enc["shape"]).copy()
    if enc.get("python"):
        return a.item()
    return a[()] if a.ndim == 0 else a


def record_tests(k, seed: int, values: dict, outputs: dict) -> dict:
    """The ``tests`` section of a record: kernel ``k``'s launch (parameters, dimension), the inputs it was
    verified on (every parameter's value; output arrays with their initial contents) and Warp's outputs."""
    params = []
    for p in k.params:
        params.append({"name": p.name, "kind": p.kind, "dtype": p.dtype, "role": p.role,
                       "shape": list(getattr(p, "shape", ()) or ()), "struct": getattr(p, "struct", None) is not None})
    dim = list(k.dim) if isinstance(k.dim, tuple) else k.dim
    return {"dim": dim, "input_seed": int(seed) % 2**63, "params": params,
            "inputs": {p.name: encode(values[p.name]) for p in k.params},
            "outputs": {name: encode(v) for name, v in outputs.items()}}


# --------------------------------------------------------------------------- comparison


def compare(expected: dict, actual: dict, ulps: int = ULPS) -> list[str]:
    """The differences between two output dicts (empty: they match); at most three elements per output."""
    problems = []
    for name, e in expected.items():
        if name not in actual:
            problems.append(f"{name}: missing from the candidate's outputs")
            continue
        e, a = np.asarray(e), np.asarray(actual[name])
        if e.shape != a.shape:
            problems.append(f"{name}: shape {a.shape}, expected {e.shape}")
            continue
        if np.issubdtype(e.dtype, np.floating):
            wide = np.float64 if e.dtype != np.float64 else np.longdouble
            ew, aw = e.astype(wide), a.astype(wide)
            spacing = np.spacing(np.maximum(np.abs(e), np.abs(a.astype(e.dtype))).astype(e.dtype)).astype(wide)
            same = (ew == aw) | (np.isnan(ew) & np.isnan(aw)) | (np.abs(ew - aw) <= ulps * spacing)
        else:
            same = e == a
        bad = np.argwhere(~np.asarray(same).reshape(e.shape)) if e.ndim else ([()] if not bool(same) else [])
        for index in list(bad)[:3]:
            index = tuple(int(i) for i in index)
            problems.append(f"{name}{list(index)}: {_text(a[index])}, expected {_text(e[index])}")
        if len(bad) > 3:
            problems.append(f"{name}: {len(bad) - 3} more elements differ")
    return problems


def _text(x) -> str:
    return repr(x.item() if isinstance(x, np.generic) else x.tolist() if isinstance(x, np.ndarray) else x)


# --------------------------------------------------------------------------- running a candidate


@dataclass
class Verdict:
    passed: bool
    ran: bool  # the candidate was launched (False: build failure, or CUDA without a GPU)
    problems: list[str]
    note: str = ""


_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")


def _helper_functions(python_source: str, kernel_name: str) -> set[str]:
    return {n.name for n in ast.parse(python_source).body if isinstance(n, ast.FunctionDef) and n.name != kernel_name}


def denormalise(candidate: str, real: str, functions) -> str:
    """``candidate``, written with the names of a record's normalised function, with the names of the
    generated function ``real`` it replaces (hash suffixes, helper-function instance numbers): the identifier
    sequences of ``real`` (comment lines and ``#line`` directives dropped) and of its normalised form align
    one to one, which gives the mapping."""
    from .warp_side.extract import _LINE_DIRECTIVE, _SOURCE_COMMENT, normalise

    kept = "\n".join(line for line in real.splitlines()
                     if not (_LINE_DIRECTIVE.match(line) or _SOURCE_COMMENT.match(line)))
    names_real = _IDENT.findall(kept)
    names_norm = _IDENT.findall(normalise(kept, functions))
    mapping = {}
    if len(names_real) == len(names_norm):
        for n, r in zip(names_norm, names_real):
            if n != r:
                mapping.setdefault(n, r)
    return _IDENT.sub(lambda m: mapping.get(m.group(0), m.group(0)), candidate)


def _launch_args(W, module, tests: dict, inputs: dict, device: str = "cpu"):
    args, outs = [], {}
    for p in tests["params"]:
        v = inputs[p["name"]]
        if p["kind"] == "array":
            if p["struct"]:
                arr = W.struct_array(module, p["dtype"], v, device=device)
            else:
                arr = W.to_warp(v, p["dtype"], shape=tuple(p["shape"]) or None, device=device)
            args.append(arr)
            if p["role"] != "input":
                outs[p["name"]] = arr
        else:
            args.append(W.struct_instance(module, p["dtype"], v) if p["struct"] else v)
    return args, outs


def check(record: dict, candidate: str, kind: str, workdir: str | Path | None = None) -> Verdict:
    """Run ``candidate`` (of ``kind``, :data:`KINDS`) on the record's test inputs and compare its outputs with
    the record's."""
    from .warp_side import warp_adapter as W
    from .warp_side.extract import extract_all
    from .warp_side.launch import output_arrays

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    tests = record.get("tests")
    if not tests:
        raise ValueError(f"record {record.get('id', '?')} has no tests section (corpus schema 5 records have one)")
    expected = {k: decode(v) for k, v in tests["outputs"].items()}
    inputs = {k: decode(v) for k, v in tests["inputs"].items()}
    dim = tuple(tests["dim"]) if isinstance(tests["dim"], list) else tests["dim"]
    name = record["kernel_name"]
    level = record.get("verification", {}).get("optimization_level", 0)
    tmp = tempfile.TemporaryDirectory(prefix="warpsmith-check-") if workdir is None else None
    root = Path(workdir if workdir is not None else tmp.name)
    root.mkdir(parents=True, exist_ok=True)
    token = hashlib.sha256(f"{kind}\n{candidate}".encode()).hexdigest()[:16]
    try:
        path = root / f"{name}_{token}.py"
        path.write_text(candidate if kind == "python" else record["python_source"])
        try:
            module = W.import_kernel_module(path)
        except Exception as e:
            return Verdict(False, False, [f"the candidate module does not import: {type(e).__name__}: {e}"])
        W.set_module_options(module, optimization_level=level, enable_backward=False)
        functions = _helper_functions(record["python_source"], name)
        target = "cuda" if kind == "cuda_forward" else "cpu"

        def substitute(text: str) -> str:
            real = extract_all(text, [name], target)[name]["forward"]
            return text.replace(real, denormalise(candidate, real, functions), 1)

        if kind == "python":
            kernels = [n for n in dir(module) if type(getattr(module, n)).__name__ == "Kernel"]
            kname = name if name in kernels else (kernels[0] if len(kernels) == 1 else None)
            if kname is None:
                return Verdict(False, False, [f"the candidate defines no kernel named {name} (kernels: {kernels})"])
            try:
                W.compile_cpu(module)
            except W.BuildError as e:
                return Verdict(False, False, [f"the candidate does not build: {str(e).splitlines()[0][:300]}"])
        elif kind == "cpu_forward":
            kname = name
            try:
                W.compile_substituted(module, substitute, token)
            except W.BuildError as e:
                return Verdict(False, False, [f"the candidate does not build: {str(e).splitlines()[0][:300]}"])
        else:
            kname = name
            source = substitute(W.generate_source(module, "cuda"))
            arch = record.get("verification", {}).get("nvrtc_arch", "") or "sm_90"
            try:
                W.compile_nvrtc_source(source, root / "nvrtc", arch=int(arch[3:]))
            except Exception as e:
                return Verdict(False, False, [f"the candidate does not compile with NVRTC: {str(e).splitlines()[0][:300]}"])
            if not W.cuda_available():
                return Verdict(True, False, [], "compiled with NVRTC; not run (no GPU)")
            device = "cuda:0"
            try:
                W.compile_substituted(module, substitute, token, device=device)
            except W.BuildError as e:
                return Verdict(False, False, [f"the candidate does not build for the GPU: {str(e).splitlines()[0][:300]}"])
        device = "cuda:0" if kind == "cuda_forward" else "cpu"
        args, outs = _launch_args(W, module, tests, inputs, device)
        W.launch(getattr(module, kname), dim, args, device)
        problems = compare(expected, {n: v for n, v in output_arrays(outs).items() if n in expected})
        return Verdict(not problems, True, problems)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _load_record(args, p) -> dict:
    if args.record:
        try:
            text = Path(args.record).read_text()
        except OSError as e:
            p.error(f"cannot read {args.record}: {e.strerror}")
        try:
            return json.loads(text)
        except ValueError as e:
            p.error(f"{args.record}: not a JSON record ({e})")
    from .store.corpus import CorpusError, read_records

    try:
        for r in read_records(args.corpus):
            if r["id"] == args.id or r["kernel_name"] == args.id:
                return r
    except CorpusError as e:
        p.error(str(e))
    p.error(f"no record {args.id} in {args.corpus}")


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m harness.check_translation",
                      description="Run a candidate translation of a record on the record's test inputs.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", help="corpus directory (with --id)")
    src.add_argument("--record", help="a JSON file holding one record")
    p.add_argument("--id", help="record id or kernel name (with --corpus)")
    p.add_argument("--candidate", required=True, help="file holding the candidate source ('-': standard input)")
    p.add_argument("--kind", choices=KINDS, required=True, help="what the candidate is")
    args = p.parse_args(argv)
    if args.corpus and not args.id:
        p.error("--corpus needs --id")
    record = _load_record(args, p)
    if not record.get("tests"):
        p.error(f"record {record['id']} has no tests section (made before corpus schema 5)")
    try:
        candidate = sys.stdin.read() if args.candidate == "-" else Path(args.candidate).read_text()
    except OSError as e:
        p.error(f"cannot read {args.candidate}: {e.strerror}")
    v = check(record, candidate, args.kind)
    if v.passed:
        print(f"PASS {record['id']} {args.kind}: " + (v.note or f"{len(record['tests']['outputs'])} outputs match"))
        return 0
    print(f"FAIL {record['id']} {args.kind}" + (f" ({v.note})" if v.note else ""))
    for line in v.problems:
        print(f"  {line}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
