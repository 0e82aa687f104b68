"""The one place that builds libcst nodes. Every compound expression is parenthesised.

libcst never inserts precedence parentheses (``BinaryOperation(x + y, Multiply(), z)`` renders as
``x + y * z``), so every binary/unary/comparison/boolean node built here wraps itself in parentheses.
The result renders to unambiguous source; ``tests/test_cst_roundtrip.py`` checks render -> parse -> deep_equals.

It also holds :func:`look`, the cheap traversal for visitors that only read a tree.
"""

from __future__ import annotations

import dataclasses

import libcst as cst

from grammar.types import COMPONENT_INDEX

_PARENS = {"lpar": (cst.LeftParen(),), "rpar": (cst.RightParen(),)}

# The spelling <-> libcst node class of every operator a kernel may hold: the builder below writes them, and the
# reference (harness.oracle.reference) reads them back through the inverse maps (SPELLING_OF).
BINARY_OPERATORS = {
    "+": cst.Add, "-": cst.Subtract, "*": cst.Multiply, "/": cst.Divide,
    "//": cst.FloorDivide, "%": cst.Modulo, "&": cst.BitAnd, "|": cst.BitOr, "^": cst.BitXor,
    "<<": cst.LeftShift, ">>": cst.RightShift, "**": cst.Power, "@": cst.MatrixMultiply,
}
AUGMENTED_OPERATORS = {"+": cst.AddAssign, "-": cst.SubtractAssign, "*": cst.MultiplyAssign, "/": cst.DivideAssign,
                       "&": cst.BitAndAssign, "|": cst.BitOrAssign, "^": cst.BitXorAssign}
COMPARISON_OPERATORS = {
    "<": cst.LessThan, "<=": cst.LessThanEqual, ">": cst.GreaterThan,
    ">=": cst.GreaterThanEqual, "==": cst.Equal, "!=": cst.NotEqual,
}
UNARY_OPERATORS = {"-": cst.Minus, "not": cst.Not, "+": cst.Plus, "~": cst.BitInvert}
#: node class -> spelling, over all four tables (no class is in two)
SPELLING_OF = {cls: spelling for table in (BINARY_OPERATORS, AUGMENTED_OPERATORS, COMPARISON_OPERATORS,
                                           UNARY_OPERATORS) for spelling, cls in table.items()}


def look(visitor: cst.CSTVisitor, node: cst.CSTNode) -> None:
    """``node.visit(visitor)`` for a visitor that only reads: the same ``visit_<Node>`` / ``leave_<Node>`` calls,
    a ``False`` from ``visit_<Node>`` skipping the children, but without the rebuilding of every node that
    libcst's ``visit`` (and its ``children`` property) does even for a read-only visitor (several times
    cheaper). Children are visited in field order, which is source order except where Python's syntax puts
    a later field first (``x if c else y`` visits ``c`` first); attribute hooks (``visit_<Node>_<field>``)
    are not called, nor are the hooks of whitespace, punctuation and operator-token nodes (read
    ``node.operator`` from the parent instead)."""
    vc = type(visitor)
    hooks = vc.__dict__.get("_look_hooks")
    if hooks is None:  # per visitor class (kept on the class, so classes made per call do not pile up)
        hooks = {}
        setattr(vc, "_look_hooks", hooks)  # node type -> (visit hook, leave hook), unbound, None if absent
    _look(visitor, node, hooks)


def _look(visitor, node, hooks) -> None:
    kind = type(node)
    pair = hooks.get(kind)
    if pair is None:
        vc = type(visitor)
        pair = hooks[kind] = (getattr(vc, "visit_" + kind.__name__, None), getattr(vc, "leave_" + kind.__name__, None))
    visit, leave = pair
    if visit is None or visit(visitor, node) is not False:
        for child in _children(node):
            _look(visitor, child, hooks)
    if leave is not None:
        leave(visitor, node)


def data_paths(*nodes: cst.CSTNode) -> set[tuple[str, ...]]:
    """The data the trees read, as access paths from a variable: ``a0[tid][1]`` -> ``("a0", "[tid]", "[1]")``,
    ``v.y`` -> ``("v", "[1]")`` (a component attribute is its index), ``sp0.m1`` -> ``("sp0", ".m1")``, ``x1``
    -> ``("x1",)``. Called functions (``wp.sin``, ``f0``) and ``wp.`` type names are not data; an index
    expression is one step of its path (``a0[i2]`` does not read ``i2`` as a path of its own)."""
    found: set[tuple[str, ...]] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        path = _path(node)
        if path is not None:
            if path[0] != "wp":
                found.add(path)
            continue
        if isinstance(node, cst.Call):
            stack.extend(a.value for a in node.args)
        else:
            stack.extend(_children(node))
    return found


def _path(node: cst.CSTNode) -> tuple[str, ...] | None:
    steps: list[str] = []
    while True:
        if type(node) is cst.Name:
            return (node.value, *reversed(steps))
        if isinstance(node, cst.Attribute):
            steps.append(f"[{COMPONENT_INDEX[node.attr.value]}]" if node.attr.value in COMPONENT_INDEX
                         else "." + node.attr.value)
            node = node.value
        elif isinstance(node, cst.Subscript):  # parenthesised or not: `(a0[tid])` reads a0[tid], not all of a0
            steps.append("[" + ", ".join(render(e.slice.value) for e in node.slice) + "]")
            node = node.value
        else:
            return None


def shares_data(a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """Whether ``a`` and ``b`` read a common piece of data (one access path a prefix of the other: ``v`` and
    ``v.y``, ``p2[1]`` and ``p2.y``): a comparison of two such expressions is a fixed relation of one value
    (``x / (abs(x) + 0.5) >= x``, ``tid > +tid``), which mostly holds always or never."""
    pa, pb = data_paths(a), data_paths(b)
    return any(p[:len(q)] == q or q[:len(p)] == p for p in pa for q in pb)


def names_in(*nodes: cst.CSTNode) -> set[str]:
    """Every identifier (``Name``) in the trees, attribute names included: what a tree refers to, without
    rendering it."""
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if type(node) is cst.Name:
            found.add(node.value)
        else:
            stack.extend(_children(node))
    return found


def called_names(*nodes: cst.CSTNode) -> set[str]:
    """The plain names called in the trees (``f0(x)``; not ``wp.sin(x)``)."""
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if type(node) is cst.Call and type(node.func) is cst.Name:
            found.add(node.func.value)
        stack.extend(_children(node))
    return found


def called_spellings(*nodes: cst.CSTNode) -> set[str]:
    """The functions called in the trees, as spelled (``wp.sin``, ``f0``)."""
    found: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if type(node) is cst.Call:
            found.add(dotted_text(node.func))
        stack.extend(_children(node))
    return found


def dotted_text(node: cst.CSTNode) -> str:
    """The source of a ``Name`` or dotted ``Attribute`` chain (``wp.sin``) without rendering; other nodes are
    rendered."""
    parts = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)
        node = node.value
    if type(node) is not cst.Name:
        return render(node)
    parts.append(node.value)
    return ".".join(reversed(parts))


_FIELDS: dict[type, tuple[str, ...]] = {}

#: fields that hold only whitespace, punctuation or operator tokens: the walks above never descend into them
#: (no reader of the tree visits those nodes; skipping them makes a walk several times cheaper)
_TOKEN_FIELDS = frozenset({
    "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header", "footer",
    "trailing_whitespace", "equal", "star", "colon", "operator", "asynchronous", "dot", "newline",
    "lbracket", "rbracket", "lbrace", "rbrace", "walrus", "arrow", "indent",
})


def _children(node: cst.CSTNode) -> list:
    fields = _FIELDS.get(type(node))
    if fields is None:
        fields = _FIELDS[type(node)] = tuple(
            f.name for f in dataclasses.fields(node)
            if f.name not in _TOKEN_FIELDS and not f.name.startswith("whitespace"))
    out = []
    for f in fields:
        value = getattr(node, f)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif type(value) in (tuple, list):
            out.extend(item for item in value if isinstance(item, cst.CSTNode))
    return out


def name(ident: str) -> cst.Name:
    return cst.Name(ident)


def dotted(path: str) -> cst.BaseExpression:
    """``"wp.sin"`` -> Attribute(Name("wp"), Name("sin"))."""
    parts = path.split(".")
    node: cst.BaseExpression = cst.Name(parts[0])
    for p in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(p))
    return node


def int_lit(v: int) -> cst.BaseExpression:
    if v < 0:
        return cst.UnaryOperation(cst.Minus(), cst.Integer(str(-v)), **_PARENS)
    return cst.Integer(str(v))


def float_lit(v: float) -> cst.BaseExpression:
    text = repr(float(abs(v)))
    if "e" in text or "inf" in text or "nan" in text:
        raise ValueError(f"float literal {v!r} has no plain decimal spelling")
    node = cst.Float(text)
    if v < 0 or (v == 0 and str(v).startswith("-")):
        return cst.UnaryOperation(cst.Minus(), node, **_PARENS)
    return node


def bool_lit(v: bool) -> cst.Name:
    return cst.Name("True" if v else "False")


def binop(left: cst.BaseExpression, op: str, right: cst.BaseExpression) -> cst.BinaryOperation:
    return cst.BinaryOperation(left=left, operator=BINARY_OPERATORS[op](), right=right, **_PARENS)


def unop(op: str, operand: cst.BaseExpression) -> cst.UnaryOperation:
    node = UNARY_OPERATORS[op]()
    return cst.UnaryOperation(operator=node, expression=operand, **_PARENS)


def compare(left: cst.BaseExpression, op: str, right: cst.BaseExpression) -> cst.Comparison:
    return cst.Comparison(left=left, comparisons=(cst.ComparisonTarget(COMPARISON_OPERATORS[op](), right),), **_PARENS)


def boolop(left: cst.BaseExpression, op: str, right: cst.BaseExpression) -> cst.BooleanOperation:
    node = {"and": cst.And, "or": cst.Or}[op]()
    return cst.BooleanOperation(left=left, operator=node, right=right, **_PARENS)


def call(func: str, *args: cst.BaseExpression, keywords: tuple[tuple[str, str], ...] = ()) -> cst.Call:
    """``func(args..., k=v...)``; keyword values are source text (compile-time constants like ``wp.float32``)."""
    kw = tuple(
        cst.Arg(cst.parse_expression(v), keyword=cst.Name(k), equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
        for k, v in keywords
    )
    return cst.Call(func=dotted(func), args=tuple(cst.Arg(a) for a in args) + kw)


def attribute(value: cst.BaseExpression, attr: str) -> cst.Attribute:
    """``value.attr`` (a component by name: ``v.y``); ``value`` is a name, call or parenthesised node."""
    return cst.Attribute(value=value, attr=cst.Name(attr))


def subscript(value: cst.BaseExpression, *index: cst.BaseExpression) -> cst.Subscript:
    """``value[i]`` or ``value[i, j, ...]``."""
    return cst.Subscript(value=value, slice=tuple(cst.SubscriptElement(cst.Index(i)) for i in index))


def attribute(value: cst.BaseExpression, field: str) -> cst.Attribute:
    """``value.field`` (a struct field; ``value`` is a name, a load or another field: never needs parentheses)."""
    return cst.Attribute(value=value, attr=name(field))


def names_tuple(idents: list[str]) -> cst.Tuple:
    """``a, b, c`` as an assignment target (no parentheses, explicit commas: renders as it parses)."""
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    elements = [cst.Element(name(n), comma=comma if i < len(idents) - 1 else cst.MaybeSentinel.DEFAULT)
                for i, n in enumerate(idents)]
    return cst.Tuple(tuple(elements), lpar=(), rpar=())


def assign(target: cst.BaseAssignTargetExpression, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine((cst.Assign(targets=(cst.AssignTarget(target),), value=value),))


def aug_assign(target: cst.Name, op: str, value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine((cst.AugAssign(target=target, operator=AUGMENTED_OPERATORS[op](), value=value),))


def expr_stmt(value: cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine((cst.Expr(value),))


def block(stmts: list[cst.BaseStatement]) -> cst.IndentedBlock:
    return cst.IndentedBlock(body=tuple(stmts) or (cst.SimpleStatementLine((cst.Pass(),)),))


def if_(test: cst.BaseExpression, body: list, orelse: cst.If | cst.Else | None = None) -> cst.If:
    return cst.If(test=test, body=block(body), orelse=orelse)


def else_(body: list) -> cst.Else:
    return cst.Else(body=block(body))


def for_range(var: str, bounds: list[cst.BaseExpression], body: list) -> cst.For:
    return cst.For(target=name(var), iter=call("range", *bounds), body=block(body))


def param(ident: str, annotation: str) -> cst.Param:
    return cst.Param(name=name(ident), annotation=cst.Annotation(cst.parse_expression(annotation)))


def kernel_def(ident: str, params: list[cst.Param], body: list[cst.BaseStatement]) -> cst.FunctionDef:
    return cst.FunctionDef(
        name=name(ident),
        params=cst.Parameters(params=tuple(params)),
        body=block(body),
        decorators=(cst.Decorator(dotted("wp.kernel")),),
    )


def struct_def(ident: str, fields: list[tuple[str, str]]) -> cst.ClassDef:
    """``@wp.struct class <ident>:`` with one annotated field per ``(name, annotation source)``."""
    body = [cst.SimpleStatementLine((cst.AnnAssign(target=name(f), annotation=cst.Annotation(
        cst.parse_expression(a)), value=None),)) for f, a in fields]
    return cst.ClassDef(name=name(ident), body=block(body), decorators=(cst.Decorator(dotted("wp.struct")),))


def module(defs: list[cst.BaseStatement]) -> cst.Module:
    header = cst.parse_statement("import warp as wp\n")
    spaced = [d.with_changes(leading_lines=(cst.EmptyLine(), cst.EmptyLine())) for d in defs]
    return cst.Module(body=(header, *spaced))


def render(node: cst.CSTNode) -> str:
    if isinstance(node, cst.Module):
        return node.code
    return cst.Module(body=()).code_for_node(node)
