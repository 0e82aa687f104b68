"""``python -m harness.coverage``: which of Warp's core builtins, statement kinds and types the generator reaches.

Draws ``--samples`` kernels (seeded, the same way ``collect`` does), resolves every operator and call in
each through the reference's type checker (so ``a + b`` on two vec3h counts as the builtin ``add``, and
``wp.vec3h(...)`` as ``vector``), and prints for every builtin of Warp's groups Scalar Math, Vector Math,
Quaternion Math, Transformations, Spatial Math and Operators how many kernels used it, then the covered
total, and the statement kinds and types reached. ``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import libcst as cst

from grammar.ops import FRAGMENT_NAMES
from grammar.policy import POLICIES
from grammar.types import COMPONENT_NAMES, Composite
from strategies._cst import look

from .cli import OneLineParser

GROUPS = ("Scalar Math", "Vector Math", "Quaternion Math", "Transformations", "Spatial Math", "Operators")
#: table rows whose name is not the Warp builtin they exercise
ROW_TO_BUILTIN = {"neg": "neg", "not_": "unot", "and_": None, "or_": None}
CONSTRUCTORS = {"vector": "vector", "matrix": "matrix", "quat": "quaternion", "transform": "transformation",
                "spatial_vector": "spatial_vector", "spatial_matrix": "matrix"}
STATEMENT_KINDS = (
    "if", "elif", "else", "for range(literal)", "for range(a, b)", "for range(scalar param)", "nested for",
    "while", "break", "continue", "return", "augassign", "component write", "in-place array update",
    "atomic", "tuple unpacking", "2-D arrays", "3-D arrays", "@wp.func call", "output arguments",
    "tuple-returning builtin", "in-place builtin", "for range(wp.static)", "if wp.static", "wp.static value",
    "component by name", "array element component write",
    "struct parameter", "struct array input", "struct array output", "struct local", "struct field read",
    "struct field write", "@wp.func struct value",
)
#: the struct constructs :func:`struct_census` tells apart (tests/test_structs.py shows each is reachable);
#: the census of ``STATEMENT_KINDS`` groups the rarer ones under the kind they refine
STRUCT_CONSTRUCTS = {
    "struct parameter": "struct parameter", "struct array input": "struct array input",
    "struct array output": "struct array output", "struct local": "struct local",
    "struct field read": "struct field read", "struct array field read": "struct field read",
    "struct field write": "struct field write", "struct component write": "struct field write",
    "struct output field write": "struct field write",
    "@wp.func struct argument": "@wp.func struct value", "@wp.func struct result": "@wp.func struct value",
}


def builtin_of(row_name: str) -> str | None:
    """The Warp builtin a table row exercises (constructor rows map to vector/matrix/quaternion/...)."""
    from grammar.ops import BY_NAME
    from grammar.types import BY_NAME as TYPES

    if row_name in ROW_TO_BUILTIN:
        return ROW_TO_BUILTIN[row_name]
    op = BY_NAME.get(row_name)
    if op is not None and op.syntax == "construct":
        t = op.signatures[0].result
        if isinstance(t, Composite):
            return CONSTRUCTORS[t.kind]
    if row_name in TYPES and isinstance(TYPES[row_name], Composite):
        return CONSTRUCTORS[TYPES[row_name].kind]
    return row_name


def _component_name(node: cst.BaseExpression) -> bool:
    """``v.x`` .. ``v.w`` (struct fields are named ``m0``, ``m1``...)."""
    return isinstance(node, cst.Attribute) and node.attr.value in COMPONENT_NAMES


def _element_component(target: cst.BaseExpression) -> bool:
    """``out[i].y`` or ``out[i][k]``: a component of an array element."""
    return (isinstance(target, cst.Subscript) or _component_name(target)) and isinstance(target.value, cst.Subscript) \
        and isinstance(target.value.value, cst.Name) and target.value.value.value.startswith("out")


def _is_static(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and cst.Module(body=()).code_for_node(node.func) == "wp.static"


class StatementCensus(cst.CSTVisitor):
    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.loop_depth = 0
        self.structural: set[int] = set()  # wp.static calls that are loop bounds or if tests

    def visit_If(self, node: cst.If) -> None:
        if _is_static(node.test):
            self.kinds.add("if wp.static")
            self.structural.add(id(node.test))
        else:
            self.kinds.add("if")
        if isinstance(node.orelse, cst.If):
            self.kinds.add("elif")
        elif isinstance(node.orelse, cst.Else):
            self.kinds.add("else")

    def visit_For(self, node: cst.For) -> None:
        self.loop_depth += 1
        if self.loop_depth >= 2:
            self.kinds.add("nested for")
        args = node.iter.args if isinstance(node.iter, cst.Call) else ()
        if len(args) == 1 and _is_static(args[0].value):
            self.kinds.add("for range(wp.static)")
            self.structural.add(id(args[0].value))
        elif len(args) == 2:
            self.kinds.add("for range(a, b)")
        elif args and isinstance(args[0].value, cst.Integer):
            self.kinds.add("for range(literal)")
        elif args:
            self.kinds.add("for range(scalar param)")

    def leave_For(self, node) -> None:
        self.loop_depth -= 1

    def visit_While(self, node) -> None:
        self.kinds.add("while")

    def visit_Break(self, node) -> None:
        self.kinds.add("break")

    def visit_Continue(self, node) -> None:
        self.kinds.add("continue")

    def visit_Return(self, node) -> None:
        self.kinds.add("return")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if _element_component(node.target):
            self.kinds.add("array element component write")
        self.kinds.add("in-place array update" if isinstance(node.target, cst.Subscript) else "augassign")

    def visit_Assign(self, node: cst.Assign) -> None:
        t = node.targets[0].target
        if isinstance(t, cst.Tuple):
            self.kinds.add("tuple unpacking")
        elif _element_component(t):
            self.kinds.add("array element component write")
        elif (isinstance(t, cst.Subscript) or _component_name(t)) and isinstance(t.value, cst.Name) and \
                not t.value.value.startswith(("out", "acc")):
            self.kinds.add("component write")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if _component_name(node) and not (isinstance(node.value, cst.Name) and node.value.value == "wp"):
            self.kinds.add("component by name")

    def visit_Call(self, node: cst.Call) -> None:
        from grammar.ops import OPS

        code = cst.Module(body=()).code_for_node(node.func)
        if code == "wp.static":
            if id(node) not in self.structural:
                self.kinds.add("wp.static value")
        elif code.startswith("wp.atomic_"):
            self.kinds.add("atomic")
        elif not code.startswith("wp.") and code not in ("range", "float", "int", "bool") and (
                code not in FRAGMENT_NAMES):  # (a library-function row, grammar.ops_nn, is a row use)
            self.kinds.add("@wp.func call")
        for op in OPS:
            if op.spelling == code and (op.outputs or op.inplace):
                self.kinds.add("in-place builtin" if op.inplace else
                               "tuple-returning builtin" if op.returns_tuple else "output arguments")
                break

    def visit_Annotation(self, node: cst.Annotation) -> None:
        code = cst.Module(body=()).code_for_node(node.annotation)
        if "ndim=2" in code:
            self.kinds.add("2-D arrays")
        if "ndim=3" in code:
            self.kinds.add("3-D arrays")


def struct_census(k) -> set[str]:
    """The struct constructs (keys of :data:`STRUCT_CONSTRUCTS`) kernel ``k`` uses."""
    from grammar.types import Array, Struct
    from harness.oracle.reference import _tapped_transpile

    if not k.structs:
        return set()
    kinds = set()
    array_fields = set()
    for p in k.params:
        if p.struct is None:
            continue
        if p.kind == "scalar":
            kinds.add("struct parameter")
            array_fields |= {(p.name, f) for f, t in p.struct.fields if isinstance(t, Array)}
        else:
            kinds.add("struct array output" if p.is_output else "struct array input")
    names = {c.name.value for c in k.structs}
    helper_text = " ".join(cst.Module(body=()).code_for_node(h) for h in k.helpers)
    funcs = _tapped_transpile(k.kernel_source)[1].funcs.values() if any(n in helper_text for n in names) else ()
    if any(isinstance(t, Struct) for params, _ in funcs for t in params):
        kinds.add("@wp.func struct argument")
    if any(isinstance(result, Struct) for _, result in funcs):
        kinds.add("@wp.func struct result")
    census = _StructCensus(names, array_fields)
    for d in (*k.helpers, k.func):
        look(census, d)
    return kinds | census.kinds


class _StructCensus(cst.CSTVisitor):
    def __init__(self, struct_names: set[str], array_fields: set[tuple[str, str]]) -> None:
        self.struct_names = struct_names
        self.array_fields = array_fields
        self.kinds: set[str] = set()
        self.targets: set[int] = set()  # ids of the attribute nodes being written

    def visit_Assign(self, node: cst.Assign) -> None:
        t = node.targets[0].target
        v = node.value
        if isinstance(v, cst.Call) and isinstance(v.func, cst.Name) and v.func.value in self.struct_names:
            self.kinds.add("struct local")
        if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Attribute) and not _component_name(t.value):
            self.kinds.add("struct component write")
            self.targets.add(id(t.value))
        elif isinstance(t, cst.Attribute) and not _component_name(t):
            self.kinds.add("struct output field write" if isinstance(t.value, cst.Subscript) else "struct field write")
            self.targets.add(id(t))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if id(node) in self.targets or _component_name(node) or (isinstance(node.value, cst.Name)
                                                                   and node.value.value == "wp"):
            return
        self.kinds.add("struct field read")
        if isinstance(node.value, cst.Name) and (node.value.value, node.attr.value) in self.array_fields:
            self.kinds.add("struct array field read")


#: kernels per Hypothesis run in the sample (50 until generator 0.2.0: the covered count of 400 kernels then moved
#: by up to 9 builtins between policies that differ in one weight; runs of 10 move it far less)
BATCH = 10


def measure(samples: int, seed: int = 0, policy: str = "default") -> dict:
    from harness.generate import draw_kernels
    from harness.oracle.reference import ReferenceTypeError, _param_types, rows_used
    from harness.warp_side.warp_adapter import builtin_groups

    groups = builtin_groups()
    targets = {name: g for g in GROUPS for name in groups.get(g, [])}
    used: Counter = Counter()
    kinds: Counter = Counter()
    types: Counter = Counter()
    errors = 0
    kernels = []
    batch = 0
    while len(kernels) < samples:
        # one Hypothesis run draws correlated kernels, so more, smaller batches give a steadier sample
        kernels += draw_kernels(seed * 100_003 + batch, min(BATCH, samples - len(kernels)), POLICIES[policy])
        batch += 1
    for k in kernels:
        try:
            rows = rows_used(k.kernel_source)
        except ReferenceTypeError:
            errors += 1
            continue
        used.update({b for b in (builtin_of(r) for r in rows) if b})
        census = StatementCensus()
        look(census, k.func)
        kinds.update(census.kinds | {STRUCT_CONSTRUCTS[c] for c in struct_census(k)})
        for t in _param_types(k.kernel_source).values():
            types[str(getattr(t, "dtype", t))] += 1
    per_group = {g: {name: used.get(name, 0) for name in groups.get(g, [])} for g in GROUPS}
    covered = sorted(n for n in targets if used.get(n))
    return {
        "samples": len(kernels),
        "untypeable_kernels": errors,
        "builtins": per_group,
        "covered": len(covered),
        "total": len(targets),
        "missing": sorted(n for n in targets if not used.get(n)),
        "statement_kinds": {k: kinds.get(k, 0) for k in STATEMENT_KINDS},
        "types": dict(sorted(types.items())),
    }


def baseline(report: dict, seed: int) -> dict:
    """The ratchet record: sample, covered count and per-builtin use counts (see tests/test_coverage.py)."""
    uses = {n: c for g in report["builtins"].values() for n, c in g.items() if c}
    return {"samples": report["samples"], "seed": seed, "covered": report["covered"], "total": report["total"],
            "builtin_uses": dict(sorted(uses.items())), "statement_kinds": report["statement_kinds"]}


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m harness.coverage", name="coverage", description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=1000, help="kernels to draw (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--policy", default="default", choices=sorted(POLICIES),
                   help="generator policy to sample (grammar.policy.POLICIES; default: default)")
    p.add_argument("--baseline", action="store_true",
                   help="print the ratchet file tests/coverage_baseline.json expects")
    args = p.parse_args(argv)
    if args.samples < 1:
        p.error("--samples must be >= 1")
    report = measure(args.samples, args.seed, args.policy)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    if args.baseline:
        print(json.dumps(baseline(report, args.seed), indent=1))
        return 0
    for g, names in report["builtins"].items():
        print(f"\n{g} ({sum(1 for n in names.values() if n)}/{len(names)})")
        for name, n in names.items():
            print(f"  {'x' if n else ' '} {name:<28} {n:>6}")
    print(f"\nstatement kinds (kernels using each, of {report['samples']}):")
    for k, n in report["statement_kinds"].items():
        print(f"  {'x' if n else ' '} {k:<28} {n:>6}")
    print("\nparameter types:", ", ".join(f"{t} {n}" for t, n in report["types"].items()))
    pct = 100.0 * report["covered"] / max(report["total"], 1)
    print(f"\nbuiltins covered: {report['covered']}/{report['total']} ({pct:.1f} %)")
    if report["missing"]:
        print("missing:", ", ".join(report["missing"]))
    if report["untypeable_kernels"]:
        print(f"warning: {report['untypeable_kernels']} kernels could not be typed (generator bug)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
