"""Canonical form of a kernel module's Python source, used as the corpus dedup key.

Two sources that differ only in identifier choice, formatting, comments or docstrings map to
the same canonical text; any change to an operator, constant, type, call or statement changes it.

What is renamed (to ``n0, n1, ...`` in order of first appearance in a depth-first walk):

* the name of every top-level function decorated with ``kernel`` (``@wp.kernel``,
  ``@wp.kernel(...)``), together with every module-level reference to it;
* every parameter, local variable and loop variable of every function, and keyword
  arguments that name a renamed parameter of a top-level function (``f(x=1)``).

What is kept: attribute names (``wp.sin``, ``v.x``), module-level names other than kernels
(imports such as ``wp``, ``@wp.func`` helpers, ``@wp.struct`` classes, constants), builtins
(``range``, ``int``, ``float``, ``abs``, ...) even where a local shadows them, and decorators.
Names bound by ``import`` inside a function are kept too.

If a kept name already looks like ``n<digits>``, the prefix grows (``n_``, ``n__``, ...) until
the new names cannot collide with it, so the renaming never changes what a name refers to.

The text comes from ``ast.unparse``, so ids are stable for one Python minor version and one
:data:`CANONICAL_VERSION`; bump that constant whenever a change here changes any canonical text.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["CANONICAL_VERSION", "canonical_id", "canonical_source"]

CANONICAL_VERSION = 1

_KEPT_NAMES = frozenset(dir(builtins)) | {"wp", "warp"}
_BODY_FIELDS = ("body", "orelse", "finalbody")
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def canonical_source(python_source: str) -> str:
    """Return the canonical text of a module holding one or more Warp kernels.

    Raises ``SyntaxError`` when ``python_source`` does not parse.
    """
    tree = ast.parse(python_source)
    _strip_docstrings(tree)
    _Renamer(tree).apply()
    return ast.unparse(tree) + "\n"


@lru_cache(maxsize=4096)  # a pure function of the text; a batch's kernels are named by the hunt and the pipeline
def canonical_id(python_source: str) -> str:
    """First 32 hex digits of the SHA-256 of :func:`canonical_source`."""
    digest = hashlib.sha256(canonical_source(python_source).encode("utf-8"))
    return digest.hexdigest()[:32]


def _strip_docstrings(tree: ast.Module) -> None:
    """Drop bare string statements (docstrings and string 'comments'), keeping bodies valid."""
    for node in ast.walk(tree):
        for name in _BODY_FIELDS:
            body = getattr(node, name, None)
            if not isinstance(body, list):
                continue
            kept = [stmt for stmt in body if not _is_bare_string(stmt)]
            if not kept and body and name == "body" and not isinstance(node, ast.Module):
                kept = [ast.Pass()]
            setattr(node, name, kept)


def _is_bare_string(stmt: ast.AST) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_kernel(node: ast.AST) -> bool:
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            decorator = decorator.func
        if isinstance(decorator, ast.Attribute) and decorator.attr == "kernel":
            return True
        if isinstance(decorator, ast.Name) and decorator.id == "kernel":
            return True
    return False


@dataclass(eq=False)
class _Scope:
    kind: str  # "module", "class", "function" (also lambdas) or "comprehension"
    parent: _Scope | None
    bound: set[str] = field(default_factory=set)
    fixed: set[str] = field(default_factory=set)  # bound, but never renamed
    declared_global: set[str] = field(default_factory=set)
    declared_nonlocal: set[str] = field(default_factory=set)
    renamable: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _Occurrence:
    """One identifier in the tree: ``owner.<slot>`` holds ``name``, seen from ``scope``."""

    owner: ast.AST | None  # None when the identifier cannot be rewritten (imports)
    slot: str | tuple[str, int]
    name: str
    scope: _Scope
    binds: bool
    resolved: _Scope | None = None  # set when the occurrence names a known scope directly


class _Renamer:
    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.scopes: dict[int, _Scope] = {}
        self.module = _Scope("module", None)
        self.top_level_defs: dict[str, ast.AST] = {}
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.top_level_defs[stmt.name] = stmt

    def apply(self) -> None:
        # Pass 1: collect every scope's bindings.
        for occ in self._walk(self.tree, self.module):
            if occ.binds and occ.resolved is None:
                occ.scope.bound.add(occ.name)
                if occ.owner is None:
                    occ.scope.fixed.add(occ.name)
        self._decide_renamable()
        # Pass 2: resolve every occurrence and number renamed symbols by first appearance.
        numbers: dict[tuple[int, str], int] = {}
        edits: list[tuple[_Occurrence, int]] = []
        kept: set[str] = set()
        for occ in self._walk(self.tree, self.module):
            home = occ.resolved or self._resolve(occ.scope, occ.name)
            if home is None or occ.owner is None or occ.name not in home.renamable:
                kept.add(occ.name)
                continue
            key = (id(home), occ.name)
            number = numbers.setdefault(key, len(numbers))
            edits.append((occ, number))
        prefix = "n"
        while any(re.fullmatch(re.escape(prefix) + r"\d+", name) for name in kept):
            prefix += "_"
        for occ, number in edits:
            _set_slot(occ.owner, occ.slot, f"{prefix}{number}")

    def _decide_renamable(self) -> None:
        for stmt in self.tree.body:
            if _is_kernel(stmt):
                self.module.renamable.add(stmt.name)
        self.module.renamable -= _KEPT_NAMES | self.module.fixed
        for scope in self.scopes.values():
            if scope.kind in ("function", "comprehension"):
                scope.renamable = (
                    scope.bound
                    - scope.fixed
                    - scope.declared_global
                    - scope.declared_nonlocal
                    - _KEPT_NAMES
                )

    def _resolve(self, scope: _Scope, name: str) -> _Scope | None:
        """The scope whose binding ``name`` refers to when used in ``scope``."""
        current: _Scope | None = scope
        first = True
        while current is not None:
            if current.kind == "module":
                return current
            if name in current.declared_global:
                return self.module
            if current.kind == "class":
                if first and name in current.bound:
                    return current
            elif name in current.bound and name not in current.declared_nonlocal:
                return current
            first = False
            current = current.parent
        return self.module

    def _scope_for(self, node: ast.AST, kind: str, parent: _Scope) -> _Scope:
        scope = self.scopes.get(id(node))
        if scope is None:
            scope = self.scopes[id(node)] = _Scope(kind, parent)
        return scope

    def _walk(self, node: ast.AST, scope: _Scope) -> Iterator[_Occurrence]:
        """Yield identifier occurrences depth-first, in a fixed structural order."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from self._walk_function(node, scope)
        elif isinstance(node, ast.ClassDef):
            for child in (*node.decorator_list, *node.bases, *node.keywords):
                yield from self._walk(child, scope)
            yield _Occurrence(node, "name", node.name, scope, binds=True)
            inner = self._scope_for(node, "class", scope)
            for stmt in node.body:
                yield from self._walk(stmt, inner)
        elif isinstance(node, _COMPREHENSIONS):
            yield from self._walk_comprehension(node, scope)
        elif isinstance(node, ast.Name):
            binds = isinstance(node.ctx, (ast.Store, ast.Del))
            yield _Occurrence(node, "id", node.id, scope, binds=binds)
        elif isinstance(node, ast.NamedExpr):
            yield from self._walk(node.value, scope)
            target_scope = scope
            while target_scope.kind == "comprehension" and target_scope.parent is not None:
                target_scope = target_scope.parent
            yield _Occurrence(node.target, "id", node.target.id, target_scope, binds=True)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared = scope.declared_global if isinstance(node, ast.Global) else scope.declared_nonlocal
            declared.update(node.names)
            for i, name in enumerate(node.names):
                yield _Occurrence(node, ("names", i), name, scope, binds=False)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if bound != "*":
                    yield _Occurrence(None, "name", bound, scope, binds=True)
        elif isinstance(node, ast.ExceptHandler):
            if node.type is not None:
                yield from self._walk(node.type, scope)
            if node.name is not None:
                yield _Occurrence(node, "name", node.name, scope, binds=True)
            for stmt in node.body:
                yield from self._walk(stmt, scope)
        elif isinstance(node, ast.Call):
            yield from self._walk_call(node, scope)
        else:
            if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name is not None:
                yield _Occurrence(node, "name", node.name, scope, binds=True)
            if isinstance(node, ast.MatchMapping) and node.rest is not None:
                yield _Occurrence(node, "rest", node.rest, scope, binds=True)
            for child in _children(node):
                yield from self._walk(child, scope)

    def _walk_function(self, node: ast.AST, scope: _Scope) -> Iterator[_Occurrence]:
        inner = self._scope_for(node, "function", scope)
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                yield from self._walk(decorator, scope)
            yield _Occurrence(node, "name", node.name, scope, binds=True)
        args = node.args
        params = [*args.posonlyargs, *args.args]
        if args.vararg is not None:
            params.append(args.vararg)
        params.extend(args.kwonlyargs)
        if args.kwarg is not None:
            params.append(args.kwarg)
        for param in params:
            yield _Occurrence(param, "arg", param.arg, inner, binds=True)
            if param.annotation is not None:
                yield from self._walk(param.annotation, scope)
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                yield from self._walk(default, scope)
        if isinstance(node, ast.Lambda):
            yield from self._walk(node.body, inner)
            return
        if node.returns is not None:
            yield from self._walk(node.returns, scope)
        for stmt in node.body:
            yield from self._walk(stmt, inner)

    def _walk_comprehension(self, node: ast.AST, scope: _Scope) -> Iterator[_Occurrence]:
        inner = self._scope_for(node, "comprehension", scope)
        for i, generator in enumerate(node.generators):
            yield from self._walk(generator.iter, scope if i == 0 else inner)
            yield from self._walk(generator.target, inner)
            for condition in generator.ifs:
                yield from self._walk(condition, inner)
        results = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
        for result in results:
            yield from self._walk(result, inner)

    def _walk_call(self, node: ast.Call, scope: _Scope) -> Iterator[_Occurrence]:
        yield from self._walk(node.func, scope)
        for arg in node.args:
            yield from self._walk(arg, scope)
        callee = None
        if isinstance(node.func, ast.Name) and node.func.id in self.top_level_defs:
            if self._resolve(scope, node.func.id) is self.module:
                callee = self.top_level_defs[node.func.id]
        for keyword in node.keywords:
            if keyword.arg is not None and callee is not None:
                params = self._scope_for(callee, "function", self.module)
                yield _Occurrence(keyword, "arg", keyword.arg, scope, binds=False, resolved=params)
            yield from self._walk(keyword.value, scope)


def _children(node: ast.AST) -> Iterator[ast.AST]:
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, ast.AST))


def _set_slot(owner: ast.AST, slot: str | tuple[str, int], value: str) -> None:
    if isinstance(slot, tuple):
        name, index = slot
        getattr(owner, name)[index] = value
    else:
        setattr(owner, slot, value)
