"""Generated kernels render to source that parses back to the very tree that was built.

libcst never adds precedence parentheses, so a builder that forgot one would render source that *parses*
but means something else; comparing the parsed tree with the built one catches that. The source must also
be plain Python (``ast.parse``) with every operator expression wrapped in its own parentheses.

Why not plain ``deep_equals``: nodes built without explicit formatting hold ``MaybeSentinel.DEFAULT`` in
their comma and whitespace slots (``Param.comma``, ``Annotation.whitespace_before_indicator``, ...), which
the renderer fills in; a parsed tree holds the concrete tokens. :func:`equal_modulo_defaults` is
``deep_equals`` that accepts whatever the renderer put in a defaulted slot and compares everything else
- node types, names, operators, literals, parentheses, nesting - exactly.
"""

from __future__ import annotations

import ast
import dataclasses

import libcst as cst
from hypothesis import given, settings
from hypothesis import strategies as st

from grammar.policy import Policy

from strategies import _cst as B
from strategies import kernels

_OPERATOR_NODES = (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp)


def equal_modulo_defaults(parsed, built) -> bool:
    """``parsed.deep_equals(built)``, except that a ``MaybeSentinel`` in ``built`` matches anything."""
    if isinstance(built, cst.MaybeSentinel):
        return True
    if type(parsed) is not type(built):
        return False
    if isinstance(built, cst.CSTNode):
        return all(
            equal_modulo_defaults(getattr(parsed, f.name), getattr(built, f.name)) for f in dataclasses.fields(built)
        )
    if isinstance(built, (list, tuple)):
        return len(parsed) == len(built) and all(map(equal_modulo_defaults, parsed, built))
    return parsed == built


def test_equal_modulo_defaults_is_strict_about_structure():
    built = B.binop(B.binop(B.name("x"), "+", B.name("y")), "*", B.name("z"))
    assert equal_modulo_defaults(cst.parse_expression("((x + y) * z)"), built)
    assert not equal_modulo_defaults(cst.parse_expression("(x + y * z)"), built)  # precedence
    assert not equal_modulo_defaults(cst.parse_expression("(((x + y)) * z)"), built)  # extra parentheses
    assert not equal_modulo_defaults(cst.parse_expression("((x - y) * z)"), built)
    assert not equal_modulo_defaults(cst.parse_expression("((x + y) * w)"), built)
    call = B.call("wp.min", B.name("a"), B.float_lit(-1.0))
    assert equal_modulo_defaults(cst.parse_expression("wp.min(a, (-1.0))"), call)
    assert not equal_modulo_defaults(cst.parse_expression("wp.min(a, -1.0)"), call)
    assert not equal_modulo_defaults(cst.parse_expression("wp.max(a, (-1.0))"), call)


def test_plain_deep_equals_differs_only_in_defaulted_slots():
    param = B.param("a0", "wp.array(dtype=wp.float32)")
    func = B.kernel_def("kernel", [param], [B.assign(B.name("tid"), B.call("wp.tid"))])
    built = B.module([func])
    parsed = cst.parse_module(built.code)
    assert not parsed.deep_equals(built)
    assert isinstance(param.annotation.whitespace_before_indicator, cst.MaybeSentinel)
    assert equal_modulo_defaults(parsed, built)


def _offsets(source: str) -> list[int]:
    """Character offset of the start of every line (ast positions are line/column based)."""
    starts, total = [0], 0
    for line in source.splitlines(keepends=True):
        total += len(line)
        starts.append(total)
    return starts


def unparenthesised(source: str) -> list[str]:
    """Operator expressions in ``source`` that are not immediately wrapped in a pair of parentheses."""
    starts = _offsets(source)
    missing = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, _OPERATOR_NODES):
            continue
        begin = starts[node.lineno - 1] + node.col_offset  # ast positions exclude the parentheses
        end = starts[node.end_lineno - 1] + node.end_col_offset
        if source[begin - 1 : begin] != "(" or source[end : end + 1] != ")":
            missing.append(ast.get_source_segment(source, node))
    return missing


def test_the_parenthesis_check_sees_missing_parentheses():
    assert unparenthesised("x = (a + (b * c))\n") == []
    assert unparenthesised("x = a + (b * c)\n") == ["a + (b * c)"]
    assert unparenthesised("x = f((a < b), (-c))\n") == []
    assert unparenthesised("x = (a + b * c)\n") == ["b * c"]
    assert unparenthesised("x = ((not a) and b)\n") == []
    assert unparenthesised("x = (not a and b)\n") == ["not a"]


def test_libcst_adds_no_precedence_parentheses_by_itself():
    # why the builder must parenthesise: without it x + y * z is not (x + y) * z
    bare = cst.BinaryOperation(
        cst.BinaryOperation(cst.Name("x"), cst.Add(), cst.Name("y")), cst.Multiply(), cst.Name("z")
    )
    assert B.render(bare) == "x + y * z"
    built = B.binop(B.binop(B.name("x"), "+", B.name("y")), "*", B.name("z"))
    assert B.render(built) == "((x + y) * z)"


@settings(deadline=None)
@given(st.one_of(kernels(), kernels(Policy(struct_odds=(1, 2, 2)))))
def test_rendered_kernel_parses_back_to_the_built_tree(k):
    source = k.source
    for definition in k.fragments:  # the table's library functions (grammar.ops_nn): text, not built trees
        assert definition + "\n\n" in source
        source = source.replace(definition + "\n\n", "", 1)
    built = B.module([*k.structs, *k.helpers, k.func])
    parsed = cst.parse_module(source)
    assert equal_modulo_defaults(parsed, built), source
    assert parsed.code == source  # libcst round-trips the text byte for byte
    assert cst.parse_module(built.code).code == source

    tree = ast.parse(source)  # plain Python as well: @wp.struct classes, @wp.func helpers, the kernel last
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    assert [ast.unparse(c.decorator_list[0]) for c in classes] == ["wp.struct"] * len(k.structs)
    *helpers, func = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [ast.unparse(h.decorator_list[0]) for h in helpers] == ["wp.func"] * len(k.helpers)
    assert func.name == k.name
    assert [ast.unparse(d) for d in func.decorator_list] == ["wp.kernel"]
    assert unparenthesised(source) == [], source
    assert k.own_source in source and k.kernel_source == "\n\n".join((*k.fragments, k.own_source))
