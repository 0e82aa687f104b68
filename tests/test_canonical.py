import builtins
import keyword
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.store.canonical import canonical_id, canonical_source

TEMPLATE = '''
import warp as wp


@wp.func
def helper(x: float, y: float):
    return wp.sin(x) * y


@wp.kernel
def {kernel}({src}: wp.array(dtype=float), {dst}: wp.array(dtype=wp.vec3), {count}: int):
    {tid} = wp.tid()
    {acc} = float(0.0)
    for {i} in range({count}):
        {acc} += helper({src}[{tid}], float({i}))
    {v} = {dst}[{tid}]
    {dst}[{tid}] = wp.vec3({v}.x + {acc}, abs({v}.y), max({v}.z, 1.0))
'''
SLOTS = ("kernel", "src", "dst", "count", "tid", "acc", "i", "v")
ORIGINAL = dict(zip(SLOTS, ("add_kernel", "a", "b", "n", "tid", "acc", "i", "v")))


def kernel_source(**names: str) -> str:
    return TEMPLATE.format(**{**ORIGINAL, **names})


RESERVED = set(dir(builtins)) | set(keyword.kwlist) | {"wp", "warp", "helper"}
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in RESERVED)


@settings(max_examples=60, deadline=None)
@given(st.lists(identifiers, min_size=len(SLOTS), max_size=len(SLOTS), unique=True))
def test_renaming_does_not_change_canonical_form(names):
    renamed = kernel_source(**dict(zip(SLOTS, names)))
    assert canonical_source(renamed) == canonical_source(kernel_source())
    assert canonical_id(renamed) == canonical_id(kernel_source())


def test_formatting_comments_and_docstrings_do_not_change_canonical_form():
    reformatted = '''
import warp as wp
@wp.func
def helper(p: float, q: float):
    """Helper docstring."""
    return (wp.sin(p)) * (q)   # a comment
@wp.kernel
def other_name(a: wp.array(dtype=float),
               b: wp.array(dtype=wp.vec3),
               n: int):
    """Kernel docstring."""
    # comment line

    t = wp.tid()
    s = float(0.0)
    for k in range(n):
        s += helper(a[t], float(k))
    w = b[t]
    b[t] = wp.vec3((w.x + s), abs(w.y), max(w.z, 1.0),)
'''
    assert canonical_source(reformatted) == canonical_source(kernel_source())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("wp.sin(x) * y", "wp.sin(x) + y"),  # operator
        ("max(v.z, 1.0)", "max(v.z, 2.0)"),  # constant
        ("max(v.z, 1.0)", "max(v.z, 1)"),  # constant type
        ("wp.sin(x)", "wp.cos(x)"),  # builtin attribute
        ("abs(v.y)", "abs(v.x)"),  # component attribute
        ("float(0.0)", "int(0.0)"),  # builtin name
        ("helper(a[tid], float(i))", "helper(float(i), a[tid])"),  # argument order
        ("wp.sin(x) * y", "wp.sin(y) * x"),  # which variable is used where
    ],
)
def test_semantic_changes_change_canonical_form(old, new):
    source = kernel_source()
    assert old in source
    assert canonical_id(source.replace(old, new, 1)) != canonical_id(source)


def test_attribute_module_builtin_and_helper_names_are_kept():
    text = canonical_source(kernel_source())
    for kept in ("import warp as wp", "@wp.kernel", "@wp.func", "def helper(", "helper(", "wp.sin(",
                 "wp.vec3(", "wp.array(dtype=float)", "wp.tid()", "range(", "float(", "abs(", "max(",
                 ".x", ".y", ".z"):
        assert kept in text
    for renamed in ("add_kernel", "acc", "tid ", "(a:", " b:"):
        assert renamed not in text
    assert re.search(r"def n\d+\(n\d+: wp\.array\(dtype=float\)", text)


def test_names_are_numbered_in_order_of_first_appearance():
    source = """
@wp.kernel
def k(a: int, b: float):
    c = a + b
    for d in range(a):
        c = c * d
"""
    assert canonical_source(source) == (
        "@wp.kernel\n"
        "def n0(n1: int, n2: float):\n"
        "    n3 = n1 + n2\n"
        "    for n4 in range(n1):\n"
        "        n3 = n3 * n4\n"
    )


def test_struct_and_global_constant_names_are_kept():
    source = '''
import warp as wp

SCALE = wp.constant(2.0)


@wp.struct
class Particle:
    pos: wp.vec3
    mass: float


@wp.kernel
def step(ps: wp.array(dtype=Particle)):
    p = ps[wp.tid()]
    p.mass = p.mass * SCALE
'''
    text = canonical_source(source)
    assert "class Particle:" in text and "pos: wp.vec3" in text and "dtype=Particle" in text
    assert "* SCALE" in text and ".mass" in text


def test_keyword_arguments_follow_renamed_helper_parameters():
    source = '''
@wp.func
def f(x: float, y: float):
    return x - y


@wp.kernel
def k(a: float):
    b = f(y=a, x=1.0)
'''
    text = canonical_source(source)
    assert "def f(n0: float, n1: float)" in text
    assert "f(n1=n3, n0=1.0)" in text


def test_new_names_never_collide_with_kept_names():
    source = "n0 = 3\nn1 = 4\n\n@wp.kernel\ndef k(a: int):\n    b = a + n0 + n1\n"
    text = canonical_source(source)
    assert "n0 = 3" in text and "+ n0 + n1" in text
    assert "def n_0(n_1: int):" in text
    assert canonical_source(source.replace("(a: int)", "(z: int)").replace("a +", "z +")) == text


def test_canonical_form_is_idempotent_and_compiles():
    text = canonical_source(kernel_source())
    assert canonical_source(text) == text
    compile(text, "<canonical>", "exec")


def test_kernel_decorated_with_options_is_renamed():
    text = canonical_source("@wp.kernel(enable_backward=False)\ndef k(a: int):\n    pass\n")
    assert "def n0(n1: int):" in text and "enable_backward=False" in text


def test_canonical_id_is_32_hex_digits():
    assert re.fullmatch(r"[0-9a-f]{32}", canonical_id(kernel_source()))


def test_syntax_error_is_raised():
    with pytest.raises(SyntaxError):
        canonical_source("def broken(:\n")
