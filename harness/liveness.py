"""``python -m harness.liveness``: does each computation of a generated kernel reach an output?

A kernel whose computation cannot reach an output tests nothing: a fault in Warp there is invisible. This
measures it in the numpy reference alone (Warp is not called), per *use*:

* **rows** - for every table row (builtin, operator, constructor, atomic) a kernel uses, and the pseudo-rows
  ``wp.func`` (every result of a call of a helper) and ``wp.static`` (the embedded constant), the kernel is run
  again with every result of that row perturbed: floats by a relative ``1e-3`` (an exact zero by ``+1e-3``),
  ints by ``+1``, bools negated. The use is *live* when some output changes. It is *varying* when the
  row's results also differ between two input draws (a row fed only literals is live but constant-folded
  by any compiler: a fault in it is seen only for that one argument). A row whose every call is an
  output-argument placeholder (:func:`placeholder_rows`: overwritten by the builtin it is passed to,
  whatever it holds) is not counted.
* **statement kinds** - every assignment, store, augmented assignment and component write is perturbed the
  same way (the reference's ``R.tap`` hook), and counted under its kind and under each enclosing block kind
  (``in if``, ``in for``, ``in while``).
* **kernels** - a kernel is *input-independent* when its outputs are identical for two input draws.

The inputs are those of the pipeline's first attempt: its profile (:func:`harness.oracle.inputs.profile_for_attempt`)
and its coverage-guided choice among several draws (:func:`harness.oracle.input_choice.first_inputs`), so the figures
are those of the hunt; ``--profile`` and ``--candidates`` measure other choices.

The same test (:func:`is_input_dependent`) is what :mod:`harness.pipeline` uses to drop dead kernels
before Warp is called.

A perturbation that makes the reference hit undefined behaviour (an index or a divisor that moves) counts
as live: the value decides what the kernel does.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from grammar import ops as OPS
from grammar.semantics import UndefinedBehaviour
from grammar.types import float_valued

from .cli import OneLineParser
from .oracle.input_choice import CANDIDATES, first_inputs
from .oracle.inputs import INPUT_ATTEMPTS, PROFILES, make_inputs, profile_for_attempt
from .oracle.reference import RefArray, Runtime, StructValue, rows_used, run_reference, tapped

REL = 1e-3


def nudge(value):
    """``value`` perturbed: floats by a relative 1e-3 (zero by +1e-3), ints +1, bools negated."""
    if isinstance(value, tuple):  # the results of a helper with several return values
        return tuple(nudge(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return not value
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return np.where(value == 0, value + value.dtype.type(REL), value * value.dtype.type(1 + REL)).astype(value.dtype)
        if value.dtype.kind in "iu":
            return (value + 1).astype(value.dtype)
        if value.dtype.kind == "b":
            return ~value
        return value
    if isinstance(value, (int, np.integer)):
        return type(value)(value + 1) if not isinstance(value, np.integer) else value + type(value)(1)
    if isinstance(value, (float, np.floating)):
        t = type(value)
        return t(REL) if value == 0 else t(value * t(1 + REL))
    if isinstance(value, StructValue):  # every value field (a zero-initialised S(): 0 -> 1e-3, 0 -> 1, False -> True)
        return StructValue(value.type, {f: v if v is None or isinstance(v, RefArray) else nudge(v)
                                        for f, v in value.values.items()})
    return value  # arrays: not perturbed


def nudge_floats(value):
    """``value`` with its float parts perturbed as :func:`nudge` does, and everything else (ints, bools,
    integer vectors, arrays) unchanged: the part of a result an adjoint can flow through."""
    if isinstance(value, tuple):
        return tuple(nudge_floats(v) for v in value)
    if isinstance(value, (bool, np.bool_)):
        return value
    if isinstance(value, np.ndarray):
        return nudge(value) if value.dtype.kind == "f" else value
    if isinstance(value, (float, np.floating)):
        return nudge(value)
    if isinstance(value, StructValue):
        return StructValue(value.type, {f: nudge_floats(v) if v is not None and not isinstance(v, RefArray) else v
                                        for f, v in value.values.items()})
    return value


def _has_float(value) -> bool:
    """Whether a row result has a float part (see :func:`nudge_floats`)."""
    if isinstance(value, tuple):
        return any(_has_float(v) for v in value)
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    if isinstance(value, StructValue):
        return any(v is not None and not isinstance(v, RefArray) and _has_float(v) for v in value.values.values())
    return isinstance(value, (float, np.floating)) and not isinstance(value, (bool, np.bool_))


class _PerturbRow(Runtime):
    """A float32 runtime that perturbs every result of one table row (``floats_only``: only the float parts
    of its results, :func:`nudge_floats`)."""

    def __init__(self, row: str, structs=None, floats_only: bool = False):
        super().__init__(np.float32, None, structs)
        self.row = row
        self.hits = 0
        self.nudge = nudge_floats if floats_only else nudge

    def _bind(self, op, sig):
        fn = super()._bind(op, sig)
        if op.name != self.row:
            return fn

        def perturbed(*args):
            self.hits += 1
            value = fn(*args)
            if isinstance(value, tuple):
                return tuple(self.nudge(v) for v in value)
            return self.nudge(value)

        return perturbed

    def result(self, row, value):
        if row != self.row:
            return value
        self.hits += 1
        return self.nudge(value)

    def atomic(self, name, arr, index, *operands):
        old = super().atomic(name, arr, index, *operands)
        if name == self.row:
            self.hits += 1
            idx = arr.check(index)
            arr.data[idx] = self.nudge(arr.data[idx])
        return old


class _PerturbTap(Runtime):
    """A float32 runtime that perturbs the value of one tapped statement."""

    def __init__(self, k: int, structs=None):
        super().__init__(np.float32, None, structs)
        self.k = k
        self.hits = 0

    def tap(self, k, value):
        if k != self.k:
            return value
        self.hits += 1
        return nudge(value)


class _RecordRows(Runtime):
    """A float32 runtime that records a digest of every row's results, in order (``floats_only``: of the
    results with a float part, :func:`nudge_floats`)."""

    def __init__(self, structs=None, floats_only: bool = False):
        super().__init__(np.float32, None, structs)
        self.results: dict[str, list] = defaultdict(list)
        self.keep = _has_float if floats_only else (lambda value: True)

    def _bind(self, op, sig):
        fn = super()._bind(op, sig)
        name = op.name

        def recorded(*args):
            value = fn(*args)
            if self.keep(value):
                self.results[name].append(_digest(value))
            return value

        return recorded

    def result(self, row, value):
        if self.keep(value):
            self.results[row].append(_digest(value))
        return value

    def atomic(self, name, arr, index, *operands):
        old = super().atomic(name, arr, index, *operands)
        value = arr.data[arr.check(index)]
        if self.keep(value):
            self.results[name].append(_digest(value))
        return old


def _digest(value):
    """A comparable digest of one row result: Python scalars, strings, bytes or tuples of them, never a numpy
    scalar (``np.float64(x) == b"..."`` makes numpy decode the bytes as ASCII and raise)."""
    if isinstance(value, tuple):
        return tuple(_digest(v) for v in value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (float, np.floating)) and math.isnan(float(value)):
        return "nan"
    return value if isinstance(value, (bool, int, float, str)) else repr(value)


def same_outputs(a: dict, b: dict) -> bool:
    """Outputs identical element by element (NaN equal to NaN, -0.0 equal to 0.0)."""
    for name, x in a.items():
        y = b[name]
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


def is_input_dependent(k, seed: int, base: dict | None = None) -> bool | None:
    """True when the kernel's reference outputs differ between the input draws ``seed`` and ``seed + 1``
    (None when the reference cannot evaluate it: the pipeline then reports it as it always has)."""
    try:
        if base is None:
            base = run_reference(k.kernel_source, k.params, make_inputs(k.params, k.dim, seed), k.dim).outputs
        other = run_reference(k.kernel_source, k.params, make_inputs(k.params, k.dim, seed + 1), k.dim).outputs
    except Exception:
        return None
    return not same_outputs(base, other)


def placeholder_rows(source: str) -> set[str]:
    """Rows every call of which in ``source`` is an output-argument placeholder: the value assigned to a
    local just before a builtin that writes its results into its last arguments (``v4 =
    wp.matrix(shape=(3, 3), dtype=wp.float32)`` before ``wp.svd3(A, v4, v5, v6)``). The builtin overwrites
    it whatever it holds, so no perturbation of it can reach an output: such a row is not counted as used."""
    import libcst as cst

    outputs = {op.spelling: op.outputs for op in OPS.OPS if op.outputs}
    names = {}  # spelling -> row names
    for op in OPS.OPS:
        names.setdefault(op.spelling, set()).add(op.name)
    code = cst.Module(body=()).code_for_node
    calls, held = Counter(), Counter()

    class _Visit(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            calls[code(node.func)] += 1

        def _block(self, body) -> None:
            for i, line in enumerate(body):
                if not (isinstance(line, cst.SimpleStatementLine) and isinstance(line.body[0], cst.Expr)
                        and isinstance(line.body[0].value, cst.Call)):
                    continue
                call = line.body[0].value
                n = outputs.get(code(call.func), 0)
                out_args = {a.value.value for a in call.args[len(call.args) - n:] if isinstance(a.value, cst.Name)}
                for prev in reversed(body[:i]):
                    stmt = prev.body[0] if isinstance(prev, cst.SimpleStatementLine) else None
                    if not (isinstance(stmt, cst.Assign) and isinstance(stmt.targets[0].target, cst.Name)
                            and stmt.targets[0].target.value in out_args and isinstance(stmt.value, cst.Call)):
                        break
                    held[code(stmt.value.func)] += 1

        def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
            self._block(node.body)

    parsed_module = cst.parse_module(source)
    parsed_module.visit(_Visit())
    return {row for spelling, n in held.items() if n == calls[spelling] for row in names.get(spelling, ())}


@dataclass
class KernelLiveness:
    input_dependent: bool
    rows: dict[str, tuple[bool, bool, bool]] = field(default_factory=dict)  # row -> (executed, live, varying)
    statements: list[tuple[str, tuple, bool, bool]] = field(default_factory=list)  # (kind, blocks, executed, live)


def kernel_liveness(k, seed: int = 0, profile: str = "attempt", candidates: int = CANDIDATES) -> KernelLiveness | None:
    """The liveness of every row use and assigned value of one kernel (None: the reference fails on it), on
    the inputs the pipeline's first attempt takes for base seed ``seed``: ``profile`` ``"attempt"`` (the
    first attempt's profile, :func:`harness.oracle.inputs.profile_for_attempt`) or a named one, the best of
    ``candidates`` draws (:func:`harness.oracle.input_choice.first_inputs`; 1: a single draw)."""
    source = k.kernel_source
    if profile == "attempt":
        profile = profile_for_attempt(0, seed, INPUT_ATTEMPTS)
    seed, values = first_inputs(k, seed, profile, candidates)
    try:
        base = run_reference(source, k.params, values, k.dim).outputs
        rec_a, rec_b = _RecordRows(), _RecordRows()
        run_reference(source, k.params, values, k.dim, runtime=rec_a)
        run_reference(source, k.params, make_inputs(k.params, k.dim, seed + 1, profile), k.dim, runtime=rec_b)
        _, taps = tapped(source)
    except Exception:
        return None
    out = KernelLiveness(is_input_dependent(k, seed, base) or False)
    for row in sorted(rows_used(source) - placeholder_rows(source)):
        runtime = _PerturbRow(row)
        live = _changes(source, k, values, runtime, base)
        varying = rec_a.results.get(row) != rec_b.results.get(row)
        out.rows[row] = (runtime.hits > 0, live, varying)
    for i, (kind, blocks) in enumerate(taps):
        runtime = _PerturbTap(i)
        live = _changes(source, k, values, runtime, base, taps=True)
        out.statements.append((kind, blocks, runtime.hits > 0, live))
    return out


#: the table rows with a derivative: differentiable, with a float (or float vector, matrix...) result or output
#: argument; not the component row (``v[k]``), which the reference reads as indexing, not as a row use
DIFFERENTIABLE = frozenset(op.name for op in OPS.OPS if op.differentiable and op.syntax != "index" and any(
    float_valued(s.result) or (op.outputs and any(float_valued(a) for a in s.args[-op.outputs:]))
    for s in op.signatures))


def adjoint_reach(k, cid: str, skip: frozenset = frozenset()) -> dict[str, bool | None]:
    """Differentiable row (:data:`DIFFERENTIABLE`) used by ``k`` -> whether its adjoint lies on a live path
    when the pipeline checks ``k``'s gradient: on the inputs that check draws (``make_inputs(..., base_seed,
    "smooth")``, base seed from the canonical id ``cid``), perturbing the float part of every result of the
    row (:func:`nudge_floats`: an int or bool result carries no adjoint, and nudging an int index could only
    raise) changes a float output, and the row's float results differ between those inputs and a second draw
    (they depend on the data).
    An upper bound in one respect: an output the check left out (a limit's narrowing) still counts. Rows in
    ``skip`` are not measured (None: one reference run each saved, and the three shared runs when every row is
    skipped; ``harness.fuzz`` skips the rows already at its goal). Empty when the reference fails on the
    kernel."""
    source = k.kernel_source  # rendered from the tree on each access: once here
    used = sorted((rows_used(source) - placeholder_rows(source)) & DIFFERENTIABLE)
    out: dict[str, bool | None] = {row: None for row in used if row in skip}
    measure = [row for row in used if row not in skip]
    if not measure:
        return out
    base_seed = int(cid[:8], 16)
    values = make_inputs(k.params, k.dim, base_seed, "smooth")
    other = make_inputs(k.params, k.dim, base_seed + 1, "smooth")
    floats = {p.name for p in k.params if p.role != "input" and p.kind == "array"
              and np.asarray(values[p.name]).dtype.kind == "f"}
    try:  # (recording changes no value: the recorded run is the base run)
        rec_a, rec_b = _RecordRows(floats_only=True), _RecordRows(floats_only=True)
        base = run_reference(source, k.params, values, k.dim, runtime=rec_a).outputs
        run_reference(source, k.params, other, k.dim, runtime=rec_b)
    except Exception:
        return {}
    base = {n: base[n] for n in floats}
    for row in measure:
        try:
            perturbed = run_reference(source, k.params, values, k.dim,
                                      runtime=_PerturbRow(row, floats_only=True)).outputs
        except Exception:
            out[row] = False
            continue
        changed = not same_outputs(base, {n: perturbed[n] for n in floats})
        out[row] = changed and rec_a.results.get(row) != rec_b.results.get(row)
    return out


def _changes(source, k, values, runtime, base, taps: bool = False) -> bool:
    try:
        outputs = run_reference(source, k.params, values, k.dim, runtime=runtime, taps=taps).outputs
    except UndefinedBehaviour:
        return True
    except Exception:
        return False
    return not same_outputs(base, outputs)


@dataclass
class Census:
    kernels: int = 0
    failed: int = 0
    input_independent: int = 0
    rows: dict = field(default_factory=lambda: defaultdict(Counter))  # row -> uses/executed/live/varying
    statements: dict = field(default_factory=lambda: defaultdict(Counter))

    def add(self, kl: KernelLiveness | None) -> None:
        if kl is None:
            self.failed += 1
            return
        self.kernels += 1
        self.input_independent += not kl.input_dependent
        for row, (executed, live, varying) in kl.rows.items():
            c = self.rows[row]
            c["uses"] += 1
            c["executed"] += executed
            c["live"] += live
            c["live_varying"] += live and varying
        for kind, blocks, executed, live in kl.statements:
            for name in (kind, *(f"in {b}" for b in set(blocks))):
                c = self.statements[name]
                c["uses"] += 1
                c["executed"] += executed
                c["live"] += live

    @staticmethod
    def _share(counters: dict, key: str = "live") -> float:
        uses = sum(c["uses"] for c in counters.values())
        return sum(c[key] for c in counters.values()) / uses if uses else 0.0

    def summary(self) -> dict:
        rows_below = sorted(r for r, c in self.rows.items() if c["uses"] >= 10 and c["live"] / c["uses"] < 0.5)
        return {
            "kernels": self.kernels,
            "reference_failed": self.failed,
            "input_independent_share": round(self.input_independent / max(self.kernels, 1), 4),
            "row_uses": sum(c["uses"] for c in self.rows.values()),
            "row_live_share": round(self._share(self.rows), 4),
            "row_live_varying_share": round(self._share(self.rows, "live_varying"), 4),
            "statement_uses": sum(c["uses"] for k, c in self.statements.items() if not k.startswith("in ")),
            "statement_live_share": round(_share_kinds(self.statements), 4),
            "rows_used_10_times_below_50_percent": rows_below,
            "rows": {r: dict(c) for r, c in sorted(self.rows.items())},
            "statements": {s: dict(c) for s, c in sorted(self.statements.items())},
        }


def _share_kinds(statements: dict) -> float:
    own = {k: c for k, c in statements.items() if not k.startswith("in ")}
    uses = sum(c["uses"] for c in own.values())
    return sum(c["live"] for c in own.values()) / uses if uses else 0.0


def census(kernels, seed: int = 0, progress=None, profile: str = "attempt", candidates: int = CANDIDATES) -> Census:
    c = Census()
    for i, k in enumerate(kernels):
        c.add(kernel_liveness(k, seed + i, profile, candidates))
        if progress:
            progress(i + 1)
    return c


def format_table(s: dict) -> str:
    lines = [
        f"kernels: {s['kernels']} (reference failed on {s['reference_failed']}); "
        f"input-independent: {100 * s['input_independent_share']:.1f} %",
        f"row uses: {s['row_uses']}, live {100 * s['row_live_share']:.1f} %, "
        f"live with varying results {100 * s['row_live_varying_share']:.1f} %",
        f"assigned values: {s['statement_uses']}, live {100 * s['statement_live_share']:.1f} %",
        "rows used >= 10 times with < 50 % live: " + (", ".join(s["rows_used_10_times_below_50_percent"]) or "none"),
        "",
        f"{'row':<34}{'uses':>6}{'exec%':>7}{'live%':>7}{'vary%':>7}",
    ]
    for row, c in sorted(s["rows"].items(), key=lambda kv: (-kv[1]["uses"], kv[0])):
        u = c["uses"]
        lines.append(f"{row:<34}{u:>6}{100 * c.get('executed', 0) / u:>7.0f}{100 * c.get('live', 0) / u:>7.0f}"
                     f"{100 * c.get('live_varying', 0) / u:>7.0f}")
    lines += ["", f"{'statement kind':<34}{'uses':>6}{'exec%':>7}{'live%':>7}"]
    for kind, c in sorted(s["statements"].items(), key=lambda kv: (-kv[1]["uses"], kv[0])):
        u = c["uses"]
        lines.append(f"{kind:<34}{u:>6}{100 * c.get('executed', 0) / u:>7.0f}{100 * c.get('live', 0) / u:>7.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from grammar.policy import POLICIES

    from .generate import draw_kernels

    p = OneLineParser(prog="python -m harness.liveness",
                description="Share of generated computations whose perturbation changes an output (reference only).")
    p.add_argument("--samples", type=int, default=300, help="kernels to draw (default 300)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--policy", choices=sorted(POLICIES), default="default")
    p.add_argument("--batch", type=int, default=50,
                   help="kernels per Hypothesis run (default 50, as collect draws them; the fuzz hunt draws 12): "
                        "kernels of one run are correlated, so smaller batches give steadier figures")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--profile", choices=("attempt", *PROFILES), default="attempt",
                   help="input profile (default: the pipeline's first attempt's)")
    p.add_argument("--candidates", type=int, default=CANDIDATES,
                   help=f"input draws per kernel, the most covering one measured, as the pipeline does "
                        f"(default {CANDIDATES}; 1: a single draw)")
    args = p.parse_args(argv)
    if args.samples < 1:
        p.error("--samples must be >= 1")
    if args.candidates < 1:
        p.error("--candidates must be >= 1")
    if args.batch < 1:
        p.error("--batch must be >= 1")
    t0 = time.monotonic()
    kernels = []
    while len(kernels) < args.samples:
        kernels += draw_kernels(args.seed * 1000 + len(kernels), min(args.batch, args.samples - len(kernels)),
                                POLICIES[args.policy])
    kernels = kernels[: args.samples]

    def progress(n):
        if not args.json and (n % 25 == 0 or n == len(kernels)):
            print(f"\r[liveness] {n}/{len(kernels)} kernels, {time.monotonic() - t0:.0f} s", end="", file=sys.stderr,
                  flush=True)

    s = census(kernels, args.seed, progress, args.profile, args.candidates).summary()
    if not args.json:
        print(file=sys.stderr)
    print(json.dumps(s, indent=1) if args.json else format_table(s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
